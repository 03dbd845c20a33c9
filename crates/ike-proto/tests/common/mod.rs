//! Configurations and helpers shared by the engine tests.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use rampart_ike::Event;
use rampart_ike::config::*;
use rampart_testkit::Sim;

pub const BRANCH: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
pub const EDGE1: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
pub const EDGE2: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 2));

pub fn net(a: [u8; 4], b: [u8; 4]) -> TrafficSelector {
    TrafficSelector {
        protocol: 0,
        start_addr: IpAddr::V4(a.into()),
        end_addr: IpAddr::V4(b.into()),
        start_port: 0,
        end_port: 65535,
    }
}

pub fn guide_policy() -> IkeProposal {
    IkeProposal {
        priority: 1,
        encryption: vec![Encr::AesCbc { key_bits: 256 }],
        integrity: vec![Integ::HmacSha1_96],
        prf: vec![Prf::HmacSha1],
        dh_groups: vec![DhGroup::Modp1536, DhGroup::Modp1024],
        lifetime: Duration::from_secs(86400),
    }
}

pub fn gcm() -> EspProposal {
    EspProposal {
        name: "AES-GCM-256".into(),
        encryption: vec![Encr::AesGcm16 { key_bits: 256 }],
        integrity: vec![],
    }
}

pub fn null_sha256() -> EspProposal {
    EspProposal {
        name: "NULL-SHA256".into(),
        encryption: vec![Encr::Null],
        integrity: vec![Integ::HmacSha2_256_128],
    }
}

pub fn child(local: TrafficSelector, remote: TrafficSelector) -> ChildConfig {
    ChildConfig {
        crypto_map: "outside_map".into(),
        sequence: 65000,
        ace: "permit ip any any".into(),
        local_ts: local,
        remote_ts: remote,
        proposals: vec![gcm(), null_sha256()],
        pfs: None,
        lifetime: Duration::from_secs(28800),
        lifetime_kilobytes: 0,
    }
}

pub fn remote(addr: IpAddr, local_psk: &str, remote_psk: &str) -> RemotePeer {
    RemotePeer {
        addr,
        tunnel_group: addr.to_string(),
        remote_identity: None,
        peer_id_validate: PeerIdValidate::Required,
        local_psk: Psk::new(local_psk.as_bytes()),
        remote_psk: Psk::new(remote_psk.as_bytes()),
        dpd: DpdConfig {
            interval: Some(Duration::from_secs(10)),
            retry: Duration::from_secs(2),
        },
    }
}

pub fn ike_config(peers: Vec<PeerConfig>) -> IkeConfig {
    IkeConfig {
        peers,
        retransmit: RetransmitConfig::default(),
        cookie_threshold: 100,
        fragmentation: true,
        fragment_mtu: 1280,
        force_udp_encap: false,
    }
}

/// The branch: one crypto map entry with EDGE1 then EDGE2.
pub fn branch_peer() -> PeerConfig {
    PeerConfig {
        name: "outside_map 65000".into(),
        local_addr: BRANCH,
        remotes: vec![
            remote(EDGE1, "branch-key", "edge-key"),
            remote(EDGE2, "branch-key2", "edge-key2"),
        ],
        local_identity: LocalIdentity::Auto,
        ike_proposals: vec![guide_policy()],
        children: vec![child(
            net([198, 18, 1, 0], [198, 18, 1, 255]),
            TrafficSelector::any_v4(),
        )],
    }
}

/// An edge answering the branch.
pub fn edge_peer(local: IpAddr, local_psk: &str, remote_psk: &str) -> PeerConfig {
    PeerConfig {
        name: "edge".into(),
        local_addr: local,
        remotes: vec![remote(BRANCH, local_psk, remote_psk)],
        local_identity: LocalIdentity::Auto,
        ike_proposals: vec![guide_policy()],
        children: vec![child(
            TrafficSelector::any_v4(),
            net([198, 18, 1, 0], [198, 18, 1, 255]),
        )],
    }
}

/// A simulation with the branch (node 0) and EDGE1 (node 1), keys matching.
pub fn pair(seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    sim.add_node(ike_config(vec![branch_peer()]), vec![BRANCH], seed + 1);
    sim.add_node(
        ike_config(vec![edge_peer(EDGE1, "edge-key", "branch-key")]),
        vec![EDGE1],
        seed + 2,
    );
    sim
}

pub fn child_ups(sim: &Sim, node: usize) -> usize {
    sim.nodes[node]
        .events
        .iter()
        .filter(|e| matches!(e, Event::ChildSaUp(_)))
        .count()
}

pub fn ike_ups(sim: &Sim, node: usize) -> usize {
    sim.nodes[node]
        .events
        .iter()
        .filter(|e| matches!(e, Event::IkeSaUp { .. }))
        .count()
}

pub fn failures(sim: &Sim, node: usize) -> Vec<String> {
    sim.nodes[node]
        .events
        .iter()
        .filter_map(|e| {
            if let Event::Failure { reason, .. } = e {
                Some(reason.clone())
            } else {
                None
            }
        })
        .collect()
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .try_init();
}
