//! One test per ASA command family: the parsed model contains what the line says.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use rampart_asa::ast::*;
use rampart_asa::{Config, load_str};

fn parse(text: &str) -> Config {
    let loaded = load_str("t.cfg", text);
    assert!(!loaded.has_errors(), "{}", loaded.render_diagnostics(false));
    loaded.config
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

#[test]
fn hostname_domain_version() {
    let c = parse("ASA Version 9.8(4)\nhostname branch\ndomain-name lab.example\n");
    assert_eq!(c.version.map(|v| v.value), Some("9.8(4)".to_string()));
    assert_eq!(c.hostname.map(|v| v.value), Some("branch".to_string()));
    assert_eq!(c.domain_name.map(|v| v.value), Some("lab.example".to_string()));
}

#[test]
fn interface_block() {
    let c = parse("interface GigabitEthernet0/0\n nameif outside\n security-level 0\n ip address 198.51.100.2 255.255.255.0 standby 198.51.100.3\n");
    let f = &c.interfaces[0];
    assert_eq!(f.hardware.value, "GigabitEthernet0/0");
    assert_eq!(f.nameif.as_ref().map(|n| n.value.as_str()), Some("outside"));
    assert_eq!(f.security_level.as_ref().map(|l| l.value), Some(0));
    assert_eq!(f.address.as_ref().map(|a| a.value), Some((Ipv4Addr::new(198, 51, 100, 2), 24)));
    assert_eq!(f.standby, Some(Ipv4Addr::new(198, 51, 100, 3)));
}

#[test]
fn route_with_distance() {
    let c = parse("interface G0\n nameif outside\nroute outside 0.0.0.0 0.0.0.0 198.51.100.1 5\n");
    assert_eq!(c.routes[0].prefix_len, 0);
    assert_eq!(c.routes[0].gateway, Ipv4Addr::new(198, 51, 100, 1));
    assert_eq!(c.routes[0].distance, 5);
}

#[test]
fn names_resolve_in_host() {
    let c = parse("names\nname 192.0.2.10 fileserver\naccess-list A extended permit ip host fileserver any\n");
    let AclLine::Extended(ace) = &c.acls[0].lines[0].value else { panic!("expected an ACE") };
    assert_eq!(ace.src, AddrSpec::Host(ip("192.0.2.10")));
}

#[test]
fn network_object_forms() {
    let c = parse(
        "object network H\n host 192.0.2.1\nobject network S\n subnet 192.0.2.0 255.255.255.0\nobject network R\n range 192.0.2.1 192.0.2.9\nobject network F\n fqdn www.example.com\nobject network V6\n subnet 2001:db8::/32\n",
    );
    let bodies: Vec<_> = c.network_objects.iter().map(|o| o.body.as_ref().map(|b| b.value.clone())).collect();
    assert_eq!(bodies[0], Some(NetObjectBody::Host(ip("192.0.2.1"))));
    assert_eq!(bodies[1], Some(NetObjectBody::Subnet(ip("192.0.2.0"), 24)));
    assert_eq!(bodies[2], Some(NetObjectBody::Range(ip("192.0.2.1"), ip("192.0.2.9"))));
    assert_eq!(bodies[3], Some(NetObjectBody::Fqdn("www.example.com".into())));
    assert_eq!(bodies[4], Some(NetObjectBody::Subnet(ip("2001:db8::"), 32)));
}

#[test]
fn service_object_named_ports() {
    let c = parse("object service https\n service tcp destination eq https\nobject service dns\n service udp source range 1024 65535 destination eq domain\n");
    let s0 = c.service_objects[0].body.as_ref().map(|b| b.value.clone());
    assert_eq!(s0.as_ref().and_then(|s| s.destination), Some(PortMatch::Eq(443)));
    let s1 = c.service_objects[1].body.as_ref().map(|b| b.value.clone());
    assert_eq!(s1.as_ref().and_then(|s| s.source), Some(PortMatch::Range(1024, 65535)));
    assert_eq!(s1.as_ref().and_then(|s| s.destination), Some(PortMatch::Eq(53)));
    assert_eq!(s1.and_then(|s| s.protocol), Some(17));
}

#[test]
fn nested_groups_expand() {
    let c = parse(
        "object network WEB\n host 10.1.3.10\nobject-group network INNER\n network-object host 10.1.1.254\n network-object 10.1.2.0 255.255.255.0\nobject-group network OUTER\n group-object INNER\n network-object object WEB\n",
    );
    let x = rampart_asa::resolve::Expander::new(&c);
    assert_eq!(x.net("OUTER").len(), 3);
}

#[test]
fn acl_forms() {
    let c = parse(
        "object-group service WEB tcp\n port-object eq www\naccess-list A remark first\naccess-list A extended permit tcp 192.0.2.0 255.255.255.0 any object-group WEB log 6 interval 300\naccess-list A extended deny icmp any any4 echo inactive\n",
    );
    let lines = &c.acls[0].lines;
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].value, AclLine::Remark("first".into()));
    let AclLine::Extended(a) = &lines[1].value else { panic!("expected an ACE") };
    assert!(matches!(a.dst_port, Some(PortSpec::Group(_))));
    assert_eq!(a.log.as_deref(), Some("log 6 interval 300"));
    let AclLine::Extended(b) = &lines[2].value else { panic!("expected an ACE") };
    assert_eq!(b.icmp_type, Some(8));
    assert!(b.inactive);
    assert_eq!(b.dst, AddrSpec::Any4);
}

#[test]
fn acl_protocol_group_keeps_ports() {
    let c = parse(
        "object-group protocol TCPUDP\n protocol-object tcp\n protocol-object udp\naccess-list ZS extended permit object-group TCPUDP any host 198.51.100.53 eq domain\n",
    );
    let acl = &c.policy().acls[0];
    assert_eq!(acl.entries.len(), 2);
    assert!(acl.entries.iter().all(|e| e.dst_ports.start == 53));
}

#[test]
fn manual_nat_full() {
    let c = parse(
        "interface G0\n nameif inside\ninterface G1\n nameif outside\nobject network a\n subnet 192.0.2.0 255.255.255.0\nobject network b\n subnet 203.0.113.0 255.255.255.0\nnat (inside,outside) source static a a destination static b b no-proxy-arp route-lookup\n",
    );
    let n = &c.manual_nat[0];
    assert_eq!(n.kind, NatType::Static);
    assert!(n.destination.is_some());
    assert!(n.no_proxy_arp);
    assert!(n.route_lookup);
    assert_eq!(c.policy().nat_rules[0].mapped_source, rampart_policy::model::NatMapped::Identity);
}

#[test]
fn manual_nat_pat_fallback() {
    let c = parse(
        "interface G0\n nameif inside\ninterface G1\n nameif outside\nobject network a\n subnet 198.18.10.0 255.255.255.0\nobject network pool\n range 203.0.113.130 203.0.113.131\nnat (inside,outside) source dynamic a pool interface\n",
    );
    assert!(c.manual_nat[0].pat_fallback);
    assert!(c.policy().nat_rules[0].pat_fallback);
}

#[test]
fn object_nat_pat_fallback() {
    let c = parse(
        "interface G0\n nameif inside\ninterface G1\n nameif outside\nobject network pool\n range 203.0.113.130 203.0.113.131\nobject network a\n subnet 198.18.10.0 255.255.255.0\n nat (inside,outside) dynamic pool interface\n",
    );
    let nat = c.network_objects.iter().find_map(|o| o.nat.as_ref()).expect("object NAT parsed");
    assert!(nat.pat_fallback);
    assert!(c.policy().nat_rules[0].pat_fallback);
}

#[test]
fn object_nat_interface_pat_no_fallback() {
    let c = parse("interface G0\n nameif inside\ninterface G1\n nameif outside\nobject network obj_any\n subnet 0.0.0.0 0.0.0.0\n nat (inside,outside) dynamic interface\n");
    assert!(!c.policy().nat_rules[0].pat_fallback);
}

#[test]
fn object_nat_inside_object() {
    let c = parse("interface G0\n nameif inside\ninterface G1\n nameif outside\nobject network obj_any\n subnet 0.0.0.0 0.0.0.0\n nat (inside,outside) dynamic interface\n");
    let nat = c.network_objects[0].nat.as_ref().expect("object NAT parsed");
    assert_eq!(nat.kind, NatType::Dynamic);
    assert_eq!(nat.mapped, NatAddr::Interface);
}

#[test]
fn ikev2_policy_lists() {
    let c = parse("crypto ikev2 policy 1\n encryption aes-256 aes\n integrity sha256 sha\n group 5 2\n prf sha\n lifetime seconds 86400\n");
    let p = &c.ikev2_policies[0];
    assert_eq!(p.encryption.as_ref().map(|e| e.value.clone()), Some(vec![EncrKw::Aes256, EncrKw::Aes128]));
    assert_eq!(p.integrity.as_ref().map(|e| e.value.clone()), Some(vec![HashKw::Sha256, HashKw::Sha1]));
    assert_eq!(p.groups.as_ref().map(|g| g.value.clone()), Some(vec![5, 2]));
    assert_eq!(p.lifetime_seconds.as_ref().map(|l| l.value), Some(86400));
}

#[test]
fn ipsec_proposal_lists() {
    let c = parse("crypto ipsec ikev2 ipsec-proposal P\n protocol esp encryption aes-gcm-256 aes-256\n protocol esp integrity sha-256 sha-1\n");
    let p = &c.ipsec_proposals[0];
    assert_eq!(p.encryption.as_ref().map(|e| e.value.clone()), Some(vec![EncrKw::AesGcm256, EncrKw::Aes256]));
    assert_eq!(p.integrity.as_ref().map(|e| e.value.clone()), Some(vec![HashKw::Sha256, HashKw::Sha1]));
}

#[test]
fn crypto_map_lines_merge() {
    // References stay undefined here: only the merging of the lines is under test.
    let c = load_str("t.cfg", 
        "crypto map M 10 match address A\ncrypto map M 10 set peer 198.51.100.1 198.51.100.2\ncrypto map M 10 set ikev2 ipsec-proposal P Q\ncrypto map M 10 set pfs group14\ncrypto map M 10 set security-association lifetime seconds 3600\ncrypto map M 10 set security-association lifetime kilobytes unlimited\ncrypto map M 65535 ipsec-isakmp dynamic D\n",
    )
    .config;
    let e = &c.crypto_map_entries[0];
    assert_eq!(e.peers.as_ref().map(|p| p.value.len()), Some(2));
    assert_eq!(e.proposals.as_ref().map(|p| p.value.len()), Some(2));
    assert_eq!(e.pfs.as_ref().map(|p| p.value), Some(Some(14)));
    assert_eq!(e.lifetime_seconds.as_ref().map(|l| l.value), Some(3600));
    assert_eq!(e.lifetime_kilobytes.as_ref().map(|l| l.value), Some(0));
    assert_eq!(c.crypto_map_entries[1].dynamic.as_ref().map(|d| d.value.as_str()), Some("D"));
}

#[test]
fn global_sa_lifetime_applies() {
    let text = "interface G0\n nameif outside\n ip address 198.51.100.2 255.255.255.0\ncrypto ikev2 enable outside\ncrypto ikev2 policy 1\n encryption aes-256\n integrity sha256\n group 14\ncrypto ipsec ikev2 ipsec-proposal P\n protocol esp encryption aes-gcm-256\ncrypto ipsec security-association lifetime seconds 7200\naccess-list A extended permit tcp 192.0.2.0 255.255.255.0 any eq https\ncrypto map M 1 match address A\ncrypto map M 1 set peer 203.0.113.1\ncrypto map M 1 set ikev2 ipsec-proposal P\ncrypto map M interface outside\ntunnel-group 203.0.113.1 type ipsec-l2l\ntunnel-group 203.0.113.1 ipsec-attributes\n ikev2 remote-authentication pre-shared-key k-0123456789\n ikev2 local-authentication pre-shared-key k-0123456789\n";
    let c = parse(text);
    let child = &c.ike().peers[0].children[0];
    assert_eq!(child.lifetime.as_secs(), 7200);
    assert_eq!(child.remote_ts.protocol, 6);
    assert_eq!(child.remote_ts.start_port, 443);
    assert_eq!(child.remote_ts.end_port, 443);
    assert_eq!(child.local_ts.start_port, 0);
}

#[test]
fn tunnel_group_attributes() {
    let c = parse(
        "tunnel-group 203.0.113.10 type ipsec-l2l\ntunnel-group 203.0.113.10 general-attributes\n default-group-policy G\ntunnel-group 203.0.113.10 ipsec-attributes\n peer-id-validate nocheck\n isakmp keepalive threshold 20 retry 5\n ikev2 remote-authentication pre-shared-key remote-key\n ikev2 local-authentication pre-shared-key local-key\ngroup-policy G internal\ngroup-policy G attributes\n vpn-tunnel-protocol ikev2\n",
    );
    let t = &c.tunnel_groups[0];
    assert_eq!(t.peer_id_validate.as_ref().map(|v| v.value), Some(PeerIdValidateKw::Nocheck));
    assert_eq!(t.keepalive.as_ref().map(|k| k.value), Some(Keepalive::Threshold { threshold: Some(20), retry: 5 }));
    assert_eq!(t.remote_psk.as_ref().map(|k| k.value.expose().to_string()), Some("remote-key".to_string()));
    assert_eq!(t.local_psk.as_ref().map(|k| k.value.expose().to_string()), Some("local-key".to_string()));
    assert_eq!(c.group_policies[0].tunnel_protocols.as_ref().map(|p| p.value.clone()), Some(vec!["ikev2".to_string()]));
}

#[test]
fn isakmp_identity_and_sysopt() {
    let c = parse("crypto isakmp identity key-id branch-01\nsysopt connection tcpmss 1360\nsame-security-traffic permit inter-interface\n");
    assert_eq!(c.isakmp_identity.as_ref().map(|i| i.value.clone()), Some(IdentityKw::KeyId("branch-01".into())));
    assert_eq!(c.tcp_mss.as_ref().map(|m| m.value), Some(1360));
    assert!(c.same_security_inter_interface);
}

#[test]
fn ipsec_interface_settings() {
    let c = parse("interface G0\n nameif outside\ncrypto ipsec fragmentation before-encryption outside\ncrypto ipsec df-bit clear-df outside\n");
    assert_eq!(c.ipsec_interface_settings.len(), 2);
    assert_eq!(c.ipsec_interface_settings[1].setting, "clear-df");
}

#[test]
fn banners_stay_top_level() {
    let c = parse("banner motd Authorised use only.\nbanner motd     Activity is logged.\nobject network obj_any\n subnet 0.0.0.0 0.0.0.0\n");
    assert_eq!(c.banners.len(), 2);
    assert!(c.network_objects[0].body.is_some());
    assert!(c.unmodelled.is_empty());
}

#[test]
fn unmodelled_children_kept() {
    let c = parse("policy-map global_policy\n class inspection_default\n  inspect dns\nhostname b\n");
    assert_eq!(c.unmodelled.len(), 3);
    assert_eq!(c.unmodelled[1].parent.as_deref(), Some("policy-map global_policy"));
    assert!(c.hostname.is_some());
}

#[test]
fn crlf_and_comments() {
    let c = parse(": Saved\r\n!\r\nhostname b\r\n: end\r\n");
    assert_eq!(c.hostname.map(|h| h.value), Some("b".to_string()));
}

#[test]
fn manual_nat_line_number_inserts() {
    let c = parse(
        "interface G0\n nameif inside\ninterface G1\n nameif outside\nobject network A\n host 192.0.2.1\nobject network B\n host 192.0.2.2\nnat (inside,outside) source static A A\nnat (inside,outside) 1 source static B B no-proxy-arp route-lookup\n",
    );
    assert_eq!(c.manual_nat.len(), 2);
    assert_eq!(c.manual_nat[0].real_source, NatAddr::Named(rampart_asa::span::Spanned::new("B".to_string(), Default::default())));
    assert!(c.manual_nat[0].route_lookup);
}

#[test]
fn kept_nesting_printed() {
    let text = "policy-map global_policy\n class inspection_default\n  inspect dns preset_dns_map\n  inspect ftp\n";
    let printed = parse(text).running_config();
    assert!(printed.contains(text), "{printed}");
}

#[test]
fn kept_nesting_round_trips() {
    let c = parse("policy-map global_policy\n class inspection_default\n  inspect dns preset_dns_map\n");
    assert_eq!(parse(&c.running_config_with_keys()), c);
}

#[test]
fn pmtu_aging_seconds() {
    let c = parse("crypto ipsec security-association pmtu-aging 3600\n");
    assert_eq!(c.pmtu_aging.as_ref().map(|a| a.value), Some(PmtuAgingKw::Seconds(3600)));
    assert_eq!(c.policy().pmtu_aging, rampart_policy::model::PmtuAging(Some(3600)));
}

#[test]
fn pmtu_aging_infinite() {
    let c = parse("crypto ipsec security-association pmtu-aging infinite\n");
    assert_eq!(c.pmtu_aging.as_ref().map(|a| a.value), Some(PmtuAgingKw::Infinite));
    assert_eq!(c.policy().pmtu_aging.interval(), None);
}

#[test]
fn pmtu_aging_default() {
    let c = parse("hostname branch\n");
    assert!(c.pmtu_aging.is_none());
    assert_eq!(c.policy().pmtu_aging.interval(), Some(std::time::Duration::from_secs(600)));
}

#[test]
fn pmtu_aging_printed() {
    for text in ["crypto ipsec security-association pmtu-aging 86400\n", "crypto ipsec security-association pmtu-aging infinite\n"] {
        let c = parse(text);
        let printed = c.running_config_with_keys();
        assert!(printed.contains(text), "{printed}");
        assert_eq!(parse(&printed), c);
    }
}
