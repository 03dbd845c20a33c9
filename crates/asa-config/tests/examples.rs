//! The shipped example configurations load, lower and check as documented.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{EXAMPLES, load_example};
use rampart_asa::{CheckOptions, Profile, Severity, check};
use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use rampart_ike::config::{LocalIdentity, PeerIdValidate};

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

#[test]
fn examples_load_without_errors() {
    for e in EXAMPLES {
        let loaded = load_example(e);
        let z = check(&loaded, &CheckOptions { profile: Profile::Zscaler, ..Default::default() });
        assert!(z.iter().all(|d| d.severity != Severity::Error), "{e}: {}", loaded.render(&z, false));
    }
}

#[test]
fn lab_peer_lowering() {
    let cfg = load_example("lab/zscaler-lab.cfg").config;
    let ike = cfg.ike();
    assert_eq!(ike.peers.len(), 1);
    let peer = &ike.peers[0];
    assert_eq!(peer.name, "outside_map 65000");
    assert_eq!(peer.local_addr, v4(198, 51, 100, 1));
    assert_eq!(peer.local_identity, LocalIdentity::Hostname("branch.lab.example".into()));
    let addrs: Vec<IpAddr> = peer.remotes.iter().map(|r| r.addr).collect();
    assert_eq!(addrs, vec![v4(198, 51, 100, 2), v4(198, 51, 100, 3)]);
    let r = &peer.remotes[0];
    assert_eq!(r.tunnel_group, "198.51.100.2");
    assert_eq!(r.peer_id_validate, PeerIdValidate::NoCheck);
    assert_eq!(r.remote_identity, None);
    assert_eq!(r.local_psk.as_bytes(), b"lab-psk-not-a-secret-0123456789");
    assert_eq!(r.remote_psk.as_bytes(), b"lab-psk-not-a-secret-0123456789");
    assert_eq!(r.dpd.interval, Some(Duration::from_secs(10)));
    assert_eq!(r.dpd.retry, Duration::from_secs(2));
}

#[test]
fn lab_ike_proposal() {
    let cfg = load_example("lab/zscaler-lab.cfg").config;
    let p = &cfg.ike().peers[0].ike_proposals;
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].priority, 1);
    assert_eq!(p[0].encryption, vec![Encr::AesCbc { key_bits: 256 }]);
    assert_eq!(p[0].integrity, vec![Integ::HmacSha1_96]);
    assert_eq!(p[0].prf, vec![Prf::HmacSha1]);
    assert_eq!(p[0].dh_groups, vec![DhGroup::Modp1536, DhGroup::Modp1024]);
    assert_eq!(p[0].lifetime, Duration::from_secs(86400));
}

#[test]
fn lab_child_config() {
    let cfg = load_example("lab/zscaler-lab.cfg").config;
    let children = &cfg.ike().peers[0].children;
    assert_eq!(children.len(), 1);
    let c = &children[0];
    assert_eq!(c.local_ts.start_addr, v4(198, 18, 1, 0));
    assert_eq!(c.local_ts.end_addr, v4(198, 18, 1, 255));
    assert_eq!(c.local_ts.protocol, 0);
    assert_eq!(c.remote_ts, rampart_ike::config::TrafficSelector::any_v4());
    assert_eq!(c.proposals.len(), 1);
    assert_eq!(c.proposals[0].encryption, vec![Encr::AesGcm16 { key_bits: 256 }]);
    assert!(c.proposals[0].integrity.is_empty());
    assert_eq!(c.pfs, None);
    assert_eq!(c.lifetime, Duration::from_secs(28800));
    assert_eq!(c.lifetime_kilobytes, 4_608_000);
    assert_eq!(c.ace, "access-list Zscaler_MAP extended permit ip object flow_traffic any");
}

#[test]
fn guide_deny_entry_excluded_from_children() {
    let cfg = load_example("zscaler-asa-9.6.cfg").config;
    let children = &cfg.ike().peers[0].children;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].local_ts.start_addr, v4(192, 0, 2, 0));
}

#[test]
fn guide_gcm_drops_integrity() {
    let cfg = load_example("zscaler-asa-9.6.cfg").config;
    let esp = &cfg.ike().peers[0].children[0].proposals[0];
    assert_eq!(esp.encryption, vec![Encr::AesGcm16 { key_bits: 256 }]);
    assert!(esp.integrity.is_empty());
}

#[test]
fn guide_9_0_null_esp() {
    let cfg = load_example("zscaler-asa-9.0.cfg").config;
    let esp = &cfg.ike().peers[0].children[0].proposals[0];
    assert_eq!(esp.encryption, vec![Encr::Null]);
    assert_eq!(esp.integrity, vec![Integ::HmacSha2_256_128]);
}

#[test]
fn guide_nat_order() {
    let cfg = load_example("zscaler-asa-9.6.cfg").config;
    let nat = cfg.policy().nat_rules;
    assert_eq!(nat.len(), 3);
    assert_eq!(nat[0].service.as_ref().map(|s| s.real.start), Some(80));
    assert_eq!(nat[1].service.as_ref().map(|s| s.real.start), Some(443));
    assert_eq!(nat[2].section, rampart_policy::model::NatSection::AfterAuto);
    assert_eq!(nat[2].mapped_source, rampart_policy::model::NatMapped::Interface);
}

#[test]
fn guide_port_filter_warns_nat() {
    let loaded = load_example("zscaler-asa-9.6.cfg");
    assert!(common::codes(&loaded).contains(&"nat-before-crypto"));
}

#[test]
fn guide_9_0_identity_nat_clean() {
    let loaded = load_example("zscaler-asa-9.0.cfg");
    assert!(!common::codes(&loaded).contains(&"nat-before-crypto"));
}

#[test]
fn branch_keeps_unmodelled() {
    let loaded = load_example("branch-running-config.cfg");
    let cfg = &loaded.config;
    assert!(cfg.unmodelled.len() > 50);
    assert!(common::codes(&loaded).contains(&"unmodelled"));
    let strict = check(&loaded, &CheckOptions { strict: true, ..Default::default() });
    assert_eq!(strict.len(), cfg.unmodelled.len());
}

#[test]
fn branch_object_nat_and_groups() {
    let cfg = load_example("branch-running-config.cfg").config;
    let policy = cfg.policy();
    let object_nat: Vec<_> =
        policy.nat_rules.iter().filter(|r| r.section == rampart_policy::model::NatSection::Object).collect();
    assert_eq!(object_nat.len(), 2);
    // Static object NAT sorts before dynamic.
    assert_eq!(object_nat[0].kind, rampart_policy::model::NatKind::Static);
    let inside = policy.acls.iter().find(|a| a.name == "inside_access_in").expect("ACL exists");
    // TCPUDP (2 protocols) x grp.v1.lan (1 network) for the first ACE.
    assert_eq!(inside.entries.iter().filter(|e| e.ace_index == 0).count(), 2);
    assert!(inside.entries.iter().any(|e| e.inactive));
}

#[test]
fn branch_two_peers_in_order() {
    let cfg = load_example("branch-running-config.cfg").config;
    let ike = cfg.ike();
    let names: Vec<&str> = ike.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["outside_map 10", "outside_map 65000"]);
    let z = &ike.peers[1];
    assert_eq!(z.remotes[0].dpd.interval, Some(Duration::from_secs(20)));
    assert_eq!(z.remotes[0].dpd.retry, Duration::from_secs(5));
    assert_eq!(z.ike_proposals.len(), 2);
    assert_eq!(z.local_identity, LocalIdentity::Address);
}

#[test]
fn json_summary_has_peers() {
    let loaded = load_example("lab/zscaler-lab.cfg");
    let json = loaded.to_json();
    assert_eq!(json["errors"], 0);
    assert_eq!(json["model"]["peers"][0]["name"], "outside_map 65000");
    assert!(!json.to_string().contains("lab-psk-not-a-secret"));
}

#[test]
fn guide_partial_identity_nat_explained() {
    let loaded = load_example("zscaler-asa-9.6.cfg");
    let d = loaded.diagnostics.iter().find(|d| d.code == "nat-before-crypto").expect("PAT after port-limited identity NAT");
    assert!(d.notes.iter().any(|n| n.contains("exempts only tcp eq 80, tcp eq 443")), "{:?}", d.notes);
    assert!(d.help.as_deref().is_some_and(|h| h.contains("permit tcp object flow_traffic any eq 443")), "{:?}", d.help);
}
