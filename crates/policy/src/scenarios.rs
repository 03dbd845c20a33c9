//! The Zscaler guide's scenarios, evaluated end to end on hand-built policies.

use crate::engine::{DROP_ACL, DROP_NO_ROUTE, PolicyEngine};
use crate::model::*;
use crate::nat::TranslationKind;
use crate::testutil::*;

fn engine(config: PolicyConfig) -> PolicyEngine {
    PolicyEngine::new(config).expect("valid policy")
}

/// Object NAT publishing the server 10.10.1.100 as 203.0.113.100.
fn published_server_nat() -> NatRule {
    NatRule {
        section: NatSection::Object,
        real_interface: Some("inside".to_string()),
        mapped_interface: Some("outside".to_string()),
        kind: NatKind::Static,
        real_source: vec![net("10.10.1.100/32")],
        mapped_source: NatMapped::Addresses(vec![net("203.0.113.100/32")]),
        destination: None,
        service: None,
        no_proxy_arp: false,
        route_lookup: false,
        pat_fallback: false,
        origin: origin(70, " nat (inside,outside) static 203.0.113.100"),
    }
}

#[test]
fn guide_flow_subnet_enters_tunnel() {
    let d = engine(guide_config()).evaluate(&tcp("10.10.1.5", 40000, "198.18.5.5", 22), "inside", false);
    assert!(d.allowed);
    let vpn = d.vpn.expect("tunnelled");
    assert_eq!(vpn.map, "outside_map");
    assert_eq!(vpn.sequence, 65000);
    assert_eq!(vpn.permit_index, 0);
    assert_eq!(vpn.peers, vec![ip(PRIMARY_PEER), ip(BACKUP_PEER)]);
}

#[test]
fn guide_routes_pick_egress_and_next_hop() {
    let d = engine(guide_config()).evaluate(&tcp("10.10.1.5", 40000, "198.18.5.5", 22), "inside", false);
    assert_eq!(d.egress_interface.as_deref(), Some("outside"));
    assert_eq!(d.next_hop, Some(ip("203.0.113.1")));
}

#[test]
fn guide_deny_traffic_stays_clear() {
    let d = engine(guide_config()).evaluate(&tcp("10.10.1.100", 40000, "198.18.5.5", 443), "inside", false);
    assert!(d.allowed);
    assert_eq!(d.vpn, None);
    assert_eq!(d.egress_interface.as_deref(), Some("outside"));
}

#[test]
fn guide_other_subnet_stays_clear() {
    let mut config = guide_config();
    config.interfaces[0].address = Some(([10, 0, 0, 1].into(), 8));
    let d = engine(config).evaluate(&tcp("10.20.0.5", 40000, "198.18.5.5", 443), "inside", false);
    assert!(d.allowed);
    assert_eq!(d.vpn, None);
}

#[test]
fn port_filter_http_keeps_source_and_tunnels() {
    let e = engine(guide_config_port_filter());
    for port in [80, 443] {
        let flow = tcp("10.10.1.5", 40000, "198.18.5.5", port);
        let d = e.evaluate(&flow, "inside", false);
        let t = d.translated.expect("identity NAT");
        assert_eq!(t.kind, TranslationKind::StaticIdentity, "port {port}");
        assert_eq!(t.flow, flow, "port {port}");
        assert_eq!(t.rule, if port == 80 { 0 } else { 1 }, "port {port}");
        assert_eq!(d.vpn.map(|v| v.permit_index), Some(0), "port {port}");
    }
}

#[test]
fn port_filter_ssh_is_pat_and_clear() {
    let d = engine(guide_config_port_filter()).evaluate(&tcp("10.10.1.5", 40000, "198.18.5.5", 22), "inside", false);
    let t = d.translated.expect("PAT");
    assert_eq!(t.kind, TranslationKind::DynamicPat { address: ip(OUTSIDE_ADDR) });
    assert_eq!(t.flow.src, ip(OUTSIDE_ADDR));
    assert_eq!(t.rule, 2);
    assert_eq!(d.vpn, None);
    assert!(d.allowed);
}

#[test]
fn port_filter_dns_is_pat_and_clear() {
    let d = engine(guide_config_port_filter()).evaluate(&udp("10.10.1.5", 5353, "198.18.5.5", 53), "inside", false);
    let t = d.translated.expect("PAT");
    assert_eq!(t.kind, TranslationKind::DynamicPat { address: ip(OUTSIDE_ADDR) });
    assert_eq!(d.vpn, None);
}

#[test]
fn port_filter_udp_80_is_pat() {
    // The service object is TCP, so UDP 80 falls through to the after-auto PAT.
    let d = engine(guide_config_port_filter()).evaluate(&udp("10.10.1.5", 5353, "198.18.5.5", 80), "inside", false);
    assert_eq!(d.translated.map(|t| t.rule), Some(2));
    assert_eq!(d.vpn, None);
}

#[test]
fn unknown_ingress_drops() {
    let d = engine(guide_config()).evaluate(&tcp("10.10.1.5", 1, "198.18.5.5", 2), "dmz", false);
    assert!(!d.allowed);
    assert!(d.drop_reason.is_some());
}

#[test]
fn no_route_drops() {
    let mut config = guide_config();
    config.routes.clear();
    let d = engine(config).evaluate(&tcp("10.10.1.5", 1, "198.18.5.5", 2), "inside", false);
    assert_eq!(d.drop_reason.as_deref(), Some(DROP_NO_ROUTE));
}

#[test]
fn lower_to_higher_needs_acl() {
    let d = engine(guide_config()).evaluate(&tcp("198.18.5.5", 1, "10.10.1.5", 22), "outside", false);
    assert_eq!(d.drop_reason.as_deref(), Some(DROP_ACL));
    assert_eq!(d.egress_interface.as_deref(), Some("inside"));
}

#[test]
fn lower_to_higher_with_permit_acl() {
    let mut config = guide_config();
    let mut permit = ace(Action::Permit, Some(crate::flow::PROTO_TCP), AddrRange::ANY_V4, net("10.10.1.5/32"));
    permit.dst_ports = PortRange::single(22);
    config.acls.push(Acl { name: "outside_in".to_string(), entries: vec![permit] });
    config.access_groups.push(AccessGroup { acl: "outside_in".to_string(), inbound: true, interface: "outside".to_string() });
    let e = engine(config);
    assert!(e.evaluate(&tcp("198.18.5.5", 1, "10.10.1.5", 22), "outside", false).allowed);
    let denied = e.evaluate(&tcp("198.18.5.5", 1, "10.10.1.5", 23), "outside", false);
    assert_eq!(denied.drop_reason.as_deref(), Some(DROP_ACL));
}

#[test]
fn inbound_acl_denies_higher_to_lower() {
    let mut config = guide_config();
    let deny = ace(Action::Deny, None, AddrRange::ANY_V4, net("198.18.0.0/15"));
    let permit = ace(Action::Permit, None, AddrRange::ANY_V4, AddrRange::ANY_V4);
    config.acls.push(Acl { name: "inside_in".to_string(), entries: vec![deny, permit] });
    config.access_groups.push(AccessGroup { acl: "inside_in".to_string(), inbound: true, interface: "inside".to_string() });
    let e = engine(config);
    assert!(!e.evaluate(&tcp("10.10.1.5", 1, "198.18.5.5", 80), "inside", false).allowed);
    assert!(e.evaluate(&tcp("10.10.1.5", 1, "8.8.8.8", 80), "inside", false).allowed);
}

#[test]
fn outbound_acl_on_egress() {
    let mut config = guide_config();
    let mut deny_ssh = ace(Action::Deny, Some(crate::flow::PROTO_TCP), AddrRange::ANY_V4, AddrRange::ANY_V4);
    deny_ssh.dst_ports = PortRange::single(22);
    let permit = ace(Action::Permit, None, AddrRange::ANY_V4, AddrRange::ANY_V4);
    config.acls.push(Acl { name: "outside_out".to_string(), entries: vec![deny_ssh, permit] });
    config.access_groups.push(AccessGroup { acl: "outside_out".to_string(), inbound: false, interface: "outside".to_string() });
    let e = engine(config);
    let ssh = e.evaluate(&tcp("10.10.1.5", 1, "198.18.5.5", 22), "inside", true);
    assert_eq!(ssh.drop_reason.as_deref(), Some(DROP_ACL));
    assert_eq!(ssh.phases.last().map(|p| p.config[0].as_str()), Some("access-group outside_out out interface outside"));
    assert!(e.evaluate(&tcp("10.10.1.5", 1, "198.18.5.5", 443), "inside", false).allowed);
}

#[test]
fn same_security_blocked_unless_permitted() {
    let mut config = guide_config();
    config.interfaces.push(interface("dmz", 100, [198, 51, 100, 1], 24));
    let flow = tcp("10.10.1.5", 1, "198.51.100.7", 80);
    assert!(!engine(config.clone()).evaluate(&flow, "inside", false).allowed);
    config.same_security_inter_interface = true;
    assert!(engine(config).evaluate(&flow, "inside", false).allowed);
}

#[test]
fn crypto_deny_moves_to_next_entry() {
    let mut config = guide_config();
    let permit_all = ace(Action::Permit, None, AddrRange::ANY_V4, AddrRange::ANY_V4);
    config.acls.push(Acl { name: "catch_all".to_string(), entries: vec![permit_all] });
    let mut second = config.crypto_maps[0].entries[0].clone();
    second.sequence = 65010;
    second.acl = Some("catch_all".to_string());
    second.peers = vec![ip("198.51.100.30")];
    config.crypto_maps[0].entries.push(second);
    let d = engine(config).evaluate(&tcp("10.10.1.100", 1, "198.18.5.5", 80), "inside", false);
    let vpn = d.vpn.expect("second entry");
    assert_eq!(vpn.sequence, 65010);
    assert_eq!(vpn.permit_index, 0);
}

#[test]
fn crypto_entries_by_sequence() {
    let mut config = guide_config();
    let mut first = config.crypto_maps[0].entries[0].clone();
    first.sequence = 10;
    first.peers = vec![ip("198.51.100.30")];
    // Configured after 65000, evaluated before it.
    config.crypto_maps[0].entries.push(first);
    let d = engine(config).evaluate(&tcp("10.10.1.5", 1, "198.18.5.5", 80), "inside", false);
    assert_eq!(d.vpn.map(|v| v.sequence), Some(10));
}

#[test]
fn crypto_incomplete_entry_drops() {
    let mut config = guide_config();
    config.crypto_maps[0].entries[0].peers.clear();
    let d = engine(config).evaluate(&tcp("10.10.1.5", 1, "198.18.5.5", 80), "inside", false);
    assert!(!d.allowed);
    assert_eq!(d.vpn, None);
}

#[test]
fn crypto_permit_index_counts_permits() {
    let mut config = guide_config();
    let extra = ace(Action::Permit, None, net("10.30.0.0/16"), AddrRange::ANY_V4);
    config.acls[0].entries.insert(0, extra);
    config.interfaces[0].address = Some(([10, 0, 0, 1].into(), 8));
    let e = engine(config);
    let d = e.evaluate(&tcp("10.10.1.5", 1, "198.18.5.5", 80), "inside", false);
    assert_eq!(d.vpn.map(|v| v.permit_index), Some(1));
    let d = e.evaluate(&tcp("10.30.1.5", 1, "198.18.5.5", 80), "inside", false);
    assert_eq!(d.vpn.map(|v| v.permit_index), Some(0));
}

#[test]
fn crypto_uses_post_nat_source() {
    // The server 10.10.1.100 is published as 203.0.113.100; the crypto ACL denies that
    // public address, so the server's outbound traffic stays clear once translated.
    let mut config = guide_config();
    config.acls[0].entries[0].src = net("203.0.113.100/32");
    config.nat_rules.push(published_server_nat());
    let e = engine(config);
    let d = e.evaluate(&tcp("10.10.1.100", 1, "198.18.5.5", 80), "inside", false);
    assert_eq!(d.translated.map(|t| t.flow.src), Some(ip("203.0.113.100")));
    assert_eq!(d.vpn, None);
}

#[test]
fn static_nat_untranslates_inbound() {
    let mut config = guide_config();
    config.nat_rules.push(published_server_nat());
    let permit = ace(Action::Permit, None, AddrRange::ANY_V4, net("10.10.1.100/32"));
    config.acls.push(Acl { name: "outside_in".to_string(), entries: vec![permit] });
    config.access_groups.push(AccessGroup { acl: "outside_in".to_string(), inbound: true, interface: "outside".to_string() });
    let d = engine(config).evaluate(&tcp("198.18.5.5", 5000, "203.0.113.100", 443), "outside", true);
    assert!(d.allowed, "{:?}", d.drop_reason);
    assert_eq!(d.egress_interface.as_deref(), Some("inside"));
    let t = d.translated.expect("untranslated");
    assert!(t.reverse);
    assert_eq!(t.flow.dst, ip("10.10.1.100"));
    assert_eq!(d.phases.iter().filter(|p| p.kind == "UN-NAT").count(), 1);
}

#[test]
fn inbound_vpn_check_uses_reversed_selector() {
    let e = engine(guide_config());
    assert!(e.check_inbound_vpn(&tcp("198.18.5.5", 80, "10.10.1.5", 40000), "outside_map", 65000, 0));
    assert!(!e.check_inbound_vpn(&tcp("198.18.5.5", 80, "10.20.1.5", 40000), "outside_map", 65000, 0));
    assert!(!e.check_inbound_vpn(&tcp("198.18.5.5", 80, "10.10.1.5", 40000), "outside_map", 65000, 1));
    assert!(!e.check_inbound_vpn(&tcp("198.18.5.5", 80, "10.10.1.5", 40000), "outside_map", 10, 0));
}

#[test]
fn to_the_box_on_own_interface() {
    let e = engine(guide_config());
    let d = e.evaluate(&udp("198.51.100.10", 4500, OUTSIDE_ADDR, 4500), "outside", false);
    assert!(d.allowed);
    assert_eq!(d.egress_interface.as_deref(), Some("identity"));
    let other = e.evaluate(&tcp("10.10.1.5", 1, OUTSIDE_ADDR, 22), "inside", false);
    assert!(!other.allowed);
}

#[test]
fn decrypted_traffic_bypasses_acl() {
    let e = engine(guide_config());
    let inner = tcp("198.18.5.5", 80, "10.10.1.5", 40000);
    assert!(!e.evaluate(&inner, "outside", false).allowed);
    let d = e.evaluate_decrypted(&inner, "outside", false);
    assert!(d.allowed);
    assert_eq!(d.egress_interface.as_deref(), Some("inside"));
    assert_eq!(d.vpn, None);
}

/// Time `evaluate` without tracing over 1024 flows, half tunnelled and half PAT'd.
fn time_evaluate(label: &str, e: &PolicyEngine) {
    let flows: Vec<_> = (0..1024u16).map(|i| tcp("10.10.1.5", 20000 + i, "198.18.5.5", if i % 2 == 0 { 443 } else { 22 })).collect();
    let rounds = 200;
    let start = std::time::Instant::now();
    let mut tunnelled = 0usize;
    for _ in 0..rounds {
        for f in &flows {
            tunnelled += usize::from(e.evaluate(f, "inside", false).vpn.is_some());
        }
    }
    let elapsed = start.elapsed();
    let n = rounds * flows.len();
    println!("{label}: {n} evaluations in {elapsed:?}, {:.0} ns each", elapsed.as_nanos() as f64 / n as f64);
    assert_eq!(tunnelled, n / 2);
}

/// Measure `evaluate` on the guide's port-filter policy, alone and with a 500-entry
/// inbound ACL on the inside interface whose permit is the last entry. Run with
/// `cargo test --release -p rampart-policy evaluate_speed -- --ignored --nocapture`.
#[test]
#[ignore = "timing measurement, run by hand in release mode"]
fn evaluate_speed() {
    time_evaluate("guide port filter", &engine(guide_config_port_filter()));

    let mut config = guide_config_port_filter();
    let mut entries: Vec<AclEntry> = (0..500u32)
        .map(|i| {
            let dst = net(&format!("198.19.{}.{}/32", i / 250, i % 250));
            let mut e = ace(Action::Deny, Some(crate::flow::PROTO_TCP), AddrRange::ANY_V4, dst);
            e.dst_ports = PortRange::single(3389);
            e
        })
        .collect();
    entries.push(ace(Action::Permit, None, AddrRange::ANY_V4, AddrRange::ANY_V4));
    config.acls.push(Acl { name: "inside_in".to_string(), entries });
    config.access_groups.push(AccessGroup { acl: "inside_in".to_string(), inbound: true, interface: "inside".to_string() });
    time_evaluate("guide port filter, 500-entry ACL", &engine(config));
}

#[test]
fn static_pat_on_interface_address() {
    // nat (inside,outside) static interface service tcp 22 2222 for server 10.10.1.100.
    let mut config = guide_config();
    let mut rule = published_server_nat();
    rule.mapped_source = NatMapped::Interface;
    rule.service = Some(NatService {
        protocol: crate::flow::PROTO_TCP,
        source_port: true,
        real: PortRange::single(22),
        mapped: PortRange::single(2222),
    });
    config.nat_rules.push(rule);
    config.same_security_inter_interface = false;
    let permit = ace(Action::Permit, None, AddrRange::ANY_V4, net("10.10.1.100/32"));
    config.acls.push(Acl { name: "outside_in".to_string(), entries: vec![permit] });
    config.access_groups.push(AccessGroup { acl: "outside_in".to_string(), inbound: true, interface: "outside".to_string() });
    let e = engine(config);
    let d = e.evaluate(&tcp("198.18.5.5", 50000, OUTSIDE_ADDR, 2222), "outside", false);
    assert!(d.allowed, "{:?}", d.drop_reason);
    assert_eq!(d.egress_interface.as_deref(), Some("inside"));
    let t = d.translated.expect("untranslated");
    assert_eq!((t.flow.dst, t.flow.dst_port), (ip("10.10.1.100"), 22));
    let ike = e.evaluate(&udp("198.51.100.10", 500, OUTSIDE_ADDR, 500), "outside", false);
    assert_eq!(ike.egress_interface.as_deref(), Some("identity"));
}

#[test]
fn evaluate_random_flows_without_panic() {
    // Random flows, including IPv6 and unknown interfaces, go through a policy with every
    // NAT section, an interface ACL and a crypto map. A linear congruential generator
    // keeps the cases deterministic.
    let mut config = guide_config_port_filter();
    config.nat_rules.push(published_server_nat());
    let permit = ace(Action::Permit, None, AddrRange::ANY_V4, net("10.10.1.100/32"));
    config.acls.push(Acl { name: "outside_in".to_string(), entries: vec![permit] });
    config.access_groups.push(AccessGroup { acl: "outside_in".to_string(), inbound: true, interface: "outside".to_string() });
    let e = engine(config);

    let mut state = 0x9e37_79b9_u64;
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 32) as u32
    };
    let addresses = ["10.10.1.5", "10.10.1.100", "203.0.113.2", "203.0.113.100", "198.18.5.5", "0.0.0.0", "255.255.255.255", "2001:db8::1"];
    let interfaces = ["inside", "outside", "dmz"];
    for _ in 0..20_000 {
        let flow = crate::flow::Flow {
            protocol: [1, 6, 17, 47, 58][next() as usize % 5],
            src: ip(addresses[next() as usize % addresses.len()]),
            dst: ip(addresses[next() as usize % addresses.len()]),
            src_port: next() as u16,
            dst_port: next() as u16,
        };
        let ingress = interfaces[next() as usize % interfaces.len()];
        let d = e.evaluate(&flow, ingress, true);
        assert_eq!(d.allowed, d.drop_reason.is_none(), "{flow} from {ingress}");
        let d = e.evaluate_decrypted(&flow, ingress, false);
        assert_eq!(d.allowed, d.drop_reason.is_none(), "{flow} from {ingress}, decrypted");
    }
}
