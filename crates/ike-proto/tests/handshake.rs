//! IKE_SA_INIT + IKE_AUTH between two engines over the simulated network.

mod common;

use std::time::Duration;

use common::*;
use rampart_ike::Event;

#[test]
fn handshake_establishes_ike_and_child() {
    init_tracing();
    let mut sim = pair(1);
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    assert_eq!(ike_ups(&sim, 0), 1);
    assert_eq!(ike_ups(&sim, 1), 1);
    assert_eq!(child_ups(&sim, 0), 1);
    assert_eq!(child_ups(&sim, 1), 1);
}

#[test]
fn handshake_child_keys_mirror() {
    let mut sim = pair(2);
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    let key = |n: usize| {
        sim.nodes[n]
            .events
            .iter()
            .find_map(|e| {
                if let Event::ChildSaUp(k) = e {
                    Some((
                        k.spi_in,
                        k.spi_out,
                        k.encr_key_in.to_vec(),
                        k.encr_key_out.to_vec(),
                    ))
                } else {
                    None
                }
            })
            .unwrap()
    };
    let (i_in, i_out, i_kin, i_kout) = key(0);
    let (r_in, r_out, r_kin, r_kout) = key(1);
    assert_eq!(i_in, r_out);
    assert_eq!(i_out, r_in);
    assert_eq!(i_kin, r_kout);
    assert_eq!(i_kout, r_kin);
}

#[test]
fn handshake_behind_nat_moves_to_4500() {
    let mut sim = pair(3);
    // The branch sits behind a NAT: its private address appears as 198.51.100.77.
    let private = std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 1));
    let public = std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 77));
    let mut branch = branch_peer();
    branch.local_addr = private;
    sim.nodes[0].engine = rampart_ike::Engine::new(
        ike_config(vec![branch]),
        Box::new(rampart_crypto::random::TestRandom::new(9)),
        sim.now,
    );
    sim.nodes[0].addrs = vec![private];
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.remotes[0].addr = public;
    edge.remotes[0].peer_id_validate = rampart_ike::config::PeerIdValidate::NoCheck;
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.nat = Some(rampart_testkit::Nat {
        node: 0,
        private,
        public,
        port_offset: 10000,
    });
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    let up = |n: usize| {
        sim.nodes[n].events.iter().find_map(|e| {
            if let Event::ChildSaUp(k) = e {
                Some((k.udp_encap, k.local, k.remote))
            } else {
                None
            }
        })
    };
    let (encap, local, remote) = up(0).expect("branch child up");
    assert!(encap);
    assert_eq!(local.port(), 4500);
    assert_eq!(remote.port(), 4500);
    let (encap_r, _, remote_r) = up(1).expect("edge child up");
    assert!(encap_r);
    assert_eq!(remote_r.port(), 14500);
}

#[test]
fn handshake_nat_keepalives() {
    let mut sim = pair(4);
    let private = std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 1));
    let public = std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 77));
    let mut branch = branch_peer();
    branch.local_addr = private;
    sim.nodes[0].engine = rampart_ike::Engine::new(
        ike_config(vec![branch]),
        Box::new(rampart_crypto::random::TestRandom::new(9)),
        sim.now,
    );
    sim.nodes[0].addrs = vec![private];
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.remotes[0].addr = public;
    edge.remotes[0].peer_id_validate = rampart_ike::config::PeerIdValidate::NoCheck;
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.nat = Some(rampart_testkit::Nat {
        node: 0,
        private,
        public,
        port_offset: 10000,
    });
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(65));
    let keepalives = sim.nodes[0].sent.iter().filter(|t| t.keepalive).count();
    assert!(keepalives >= 3, "{keepalives} keepalives");
    assert!(
        sim.nodes[0]
            .sent
            .iter()
            .filter(|t| t.keepalive)
            .all(|t| t.payload == vec![0xff])
    );
}

#[test]
fn handshake_no_nat_uses_esp() {
    let mut sim = pair(5);
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    let k = sim.nodes[0]
        .events
        .iter()
        .find_map(|e| {
            if let Event::ChildSaUp(k) = e {
                Some((k.udp_encap, k.local.port()))
            } else {
                None
            }
        })
        .unwrap();
    assert_eq!(k, (false, 0));
}

/// Branch (node 0) and edge (node 1) with `force_udp_encap` set on one of them only.
fn forced_encap(seed: u64, forced: usize) -> rampart_testkit::Sim {
    let mut sim = rampart_testkit::Sim::new(seed);
    let mut configs = [
        ike_config(vec![branch_peer()]),
        ike_config(vec![edge_peer(EDGE1, "edge-key", "branch-key")]),
    ];
    configs[forced].force_udp_encap = true;
    let [branch, edge] = configs;
    sim.add_node(branch, vec![BRANCH], seed + 1);
    sim.add_node(edge, vec![EDGE1], seed + 2);
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(65));
    sim
}

/// (udp_encap, local port, remote port) of node `n`'s first Child SA.
fn first_child_path(sim: &rampart_testkit::Sim, n: usize) -> Option<(bool, u16, u16)> {
    sim.nodes[n].events.iter().find_map(|e| {
        if let Event::ChildSaUp(k) = e {
            Some((k.udp_encap, k.local.port(), k.remote.port()))
        } else {
            None
        }
    })
}

#[test]
fn force_encap_responder_only() {
    let sim = forced_encap(6, 1);
    assert_eq!(first_child_path(&sim, 0), Some((true, 4500, 4500)));
    assert_eq!(first_child_path(&sim, 1), Some((true, 4500, 4500)));
}

#[test]
fn force_encap_initiator_only() {
    let sim = forced_encap(7, 0);
    assert_eq!(first_child_path(&sim, 0), Some((true, 4500, 4500)));
    assert_eq!(first_child_path(&sim, 1), Some((true, 4500, 4500)));
}

#[test]
fn force_encap_ike_auth_on_4500() {
    let sim = forced_encap(8, 1);
    // IKE_SA_INIT goes to port 500; everything after it uses 4500 on both sides.
    let ports = |n: usize| -> Vec<u16> {
        sim.nodes[n]
            .sent
            .iter()
            .filter(|t| !t.keepalive)
            .map(|t| t.remote.port())
            .collect()
    };
    assert_eq!(ports(0).first(), Some(&500));
    assert!(
        ports(0).iter().skip(1).all(|p| *p == 4500),
        "{:?}",
        ports(0)
    );
    assert!(
        ports(1).iter().skip(1).all(|p| *p == 4500),
        "{:?}",
        ports(1)
    );
}

#[test]
fn force_encap_keepalives_from_forcing_side() {
    let sim = forced_encap(9, 1);
    let keepalives = |n: usize| sim.nodes[n].sent.iter().filter(|t| t.keepalive).count();
    assert!(keepalives(1) >= 3, "{} keepalives", keepalives(1));
    assert_eq!(keepalives(0), 0);
}

#[test]
fn handshake_invalid_ke_retry() {
    let mut sim = pair(6);
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.ike_proposals[0].dh_groups = vec![rampart_crypto::alg::DhGroup::Modp1024];
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    assert_eq!(child_ups(&sim, 0), 1);
    let info = sim.nodes[0].engine.ike_sas(sim.now);
    assert_eq!(info[0].dh_group, rampart_crypto::alg::DhGroup::Modp1024);
}

#[test]
fn handshake_no_proposal_chosen() {
    let mut sim = pair(7);
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.ike_proposals[0].encryption = vec![rampart_crypto::alg::Encr::AesCbc { key_bits: 128 }];
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(ike_ups(&sim, 0), 0);
    assert!(
        failures(&sim, 1)
            .iter()
            .any(|f| f.contains("peer offered") && f.contains("we accept")),
        "{:?}",
        failures(&sim, 1)
    );
    assert!(
        failures(&sim, 0)
            .iter()
            .any(|f| f.contains("NO_PROPOSAL_CHOSEN")),
        "{:?}",
        failures(&sim, 0)
    );
}

#[test]
fn handshake_wrong_psk_fails_auth() {
    let mut sim = pair(8);
    let edge = edge_peer(EDGE1, "edge-key", "not-the-branch-key");
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(ike_ups(&sim, 1), 0);
    assert!(
        failures(&sim, 1).iter().any(|f| f.contains("tunnel-group")),
        "{:?}",
        failures(&sim, 1)
    );
    assert!(
        failures(&sim, 0)
            .iter()
            .any(|f| f.contains("AUTHENTICATION_FAILED")),
        "{:?}",
        failures(&sim, 0)
    );
}

#[test]
fn handshake_wrong_responder_psk_detected() {
    let mut sim = pair(9);
    let edge = edge_peer(EDGE1, "not-the-edge-key", "branch-key");
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(ike_ups(&sim, 0), 0);
    assert!(
        failures(&sim, 0)
            .iter()
            .any(|f| f.contains("does not verify")),
        "{:?}",
        failures(&sim, 0)
    );
    // The edge learns of the rejection and drops its SA.
    assert!(
        failures(&sim, 1)
            .iter()
            .any(|f| f.contains("rejected our AUTH")),
        "{:?}",
        failures(&sim, 1)
    );
    assert!(
        sim.nodes[1]
            .engine
            .ike_sas(sim.now)
            .iter()
            .all(|sa| sa.unique_id != 1)
    );
}

#[test]
fn handshake_ts_unacceptable_keeps_ike_sa() {
    let mut sim = pair(10);
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.children[0].remote_ts = net([10, 99, 0, 0], [10, 99, 0, 255]);
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    assert_eq!(ike_ups(&sim, 0), 1);
    assert_eq!(child_ups(&sim, 0), 0);
    let sas = sim.nodes[0].engine.ike_sas(sim.now);
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].state, "READY");
    assert!(sas[0].children.is_empty());
    assert!(
        failures(&sim, 0)
            .iter()
            .any(|f| f.contains("TS_UNACCEPTABLE") && f.contains("outside_map 65000")),
        "{:?}",
        failures(&sim, 0)
    );
}

#[test]
fn handshake_survives_loss_and_duplicates() {
    for seed in 20..30 {
        let mut sim = pair(seed);
        sim.net.drop_rate = 0.3;
        sim.net.duplicate_rate = 0.3;
        sim.net.jitter = Duration::from_millis(50);
        sim.call(0, |e, now| e.initiate_all(now));
        sim.run_for(Duration::from_secs(20));
        for node in 0..2 {
            let sas = sim.nodes[node].engine.ike_sas(sim.now);
            assert_eq!(sas.len(), 1, "seed {seed} node {node}");
            assert_eq!(sas[0].children.len(), 1, "seed {seed} node {node}");
        }
    }
}

#[test]
fn handshake_cookie_echoed() {
    let mut sim = pair(11);
    let mut cfg = ike_config(vec![edge_peer(EDGE1, "edge-key", "branch-key")]);
    cfg.cookie_threshold = 0;
    sim.nodes[1].engine = rampart_ike::Engine::new(
        cfg,
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    assert_eq!(child_ups(&sim, 0), 1);
    let cookie_replies = sim.nodes[1]
        .sent
        .iter()
        .filter(|t| t.payload.len() < 80)
        .count();
    assert_eq!(cookie_replies, 1);
}

#[test]
fn handshake_fragmented_ike_auth() {
    let mut sim = pair(12);
    let mut a = ike_config(vec![branch_peer()]);
    a.fragment_mtu = 200;
    let mut b = ike_config(vec![edge_peer(EDGE1, "edge-key", "branch-key")]);
    b.fragment_mtu = 200;
    sim.nodes[0].engine = rampart_ike::Engine::new(
        a,
        Box::new(rampart_crypto::random::TestRandom::new(9)),
        sim.now,
    );
    sim.nodes[1].engine = rampart_ike::Engine::new(
        b,
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.net.jitter = Duration::from_millis(20);
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(10));
    assert_eq!(child_ups(&sim, 0), 1);
    // Exchange type octet 18: IKE_AUTH (35) went out as several SKF fragments.
    let auth: Vec<usize> = sim.nodes[0]
        .sent
        .iter()
        .filter(|t| t.payload[18] == 35)
        .map(|t| t.payload.len())
        .collect();
    assert!(auth.len() >= 2, "{auth:?}");
    assert!(auth.iter().all(|l| *l <= 200), "{auth:?}");
}

#[test]
fn handshake_fqdn_identities() {
    use rampart_ike::config::{Identity, LocalIdentity};
    let mut sim = pair(13);
    let mut branch = branch_peer();
    branch.local_identity = LocalIdentity::Hostname("branch.example.com".into());
    branch.remotes[0].remote_identity = Some(Identity::Fqdn("edge.example.com".into()));
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.local_identity = LocalIdentity::Hostname("edge.example.com".into());
    edge.remotes[0].remote_identity = Some(Identity::Fqdn("branch.example.com".into()));
    sim.nodes[0].engine = rampart_ike::Engine::new(
        ike_config(vec![branch]),
        Box::new(rampart_crypto::random::TestRandom::new(9)),
        sim.now,
    );
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    let sas = sim.nodes[1].engine.ike_sas(sim.now);
    assert_eq!(sas[0].remote_id, "branch.example.com");
    assert_eq!(sas[0].local_id, "edge.example.com");
}

#[test]
fn handshake_wrong_identity_rejected() {
    use rampart_ike::config::Identity;
    let mut sim = pair(14);
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.remotes[0].remote_identity = Some(Identity::Fqdn("someone-else.example.com".into()));
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(ike_ups(&sim, 1), 0);
    assert!(
        failures(&sim, 1)
            .iter()
            .any(|f| f.contains("peer-id-validate")),
        "{:?}",
        failures(&sim, 1)
    );
}

#[test]
fn handshake_second_child_by_create_child_sa() {
    let mut sim = pair(15);
    let mut branch = branch_peer();
    branch.children.push(child(
        net([198, 18, 3, 0], [198, 18, 3, 255]),
        TrafficSelector::any_v4(),
    ));
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.children.push(child(
        TrafficSelector::any_v4(),
        net([198, 18, 3, 0], [198, 18, 3, 255]),
    ));
    sim.nodes[0].engine = rampart_ike::Engine::new(
        ike_config(vec![branch]),
        Box::new(rampart_crypto::random::TestRandom::new(9)),
        sim.now,
    );
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    assert_eq!(child_ups(&sim, 0), 2);
    assert_eq!(child_ups(&sim, 1), 2);
    assert_eq!(sim.nodes[1].engine.ike_sas(sim.now)[0].children.len(), 2);
}

use rampart_ike::config::TrafficSelector;

#[test]
fn handshake_refused_child_retries_with_backoff() {
    let mut sim = pair(16);
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.children[0].remote_ts = net([10, 99, 0, 0], [10, 99, 0, 255]);
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    // The data plane keeps reporting packets; the engine must not send a request
    // for each.
    for _ in 0..100 {
        sim.call(0, |e, now| e.acquire(now, 0, 0));
        sim.run_for(Duration::from_millis(100));
    }
    sim.run_for(Duration::from_secs(50));
    let refusals = failures(&sim, 0).len();
    // Attempts at about 0, 2, 6, 14, 30 and 62 s.
    assert!((4..=7).contains(&refusals), "{refusals} refusals");
    assert_eq!(sim.nodes[0].engine.ike_sas(sim.now).len(), 1);
}

#[test]
fn handshake_ipv6_peers_and_selectors() {
    use rampart_ike::config::TrafficSelector as Ts;
    use std::net::{IpAddr, Ipv6Addr};
    let a: IpAddr = "2001:db8::1".parse().unwrap();
    let b: IpAddr = "2001:db8::2".parse().unwrap();
    let lan = Ts {
        protocol: 0,
        start_addr: "2001:db8:1::".parse().unwrap(),
        end_addr: "2001:db8:1::ffff".parse().unwrap(),
        start_port: 0,
        end_port: 65535,
    };
    let any6 = Ts {
        protocol: 0,
        start_addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        end_addr: IpAddr::V6(Ipv6Addr::from([0xff; 16])),
        start_port: 0,
        end_port: 65535,
    };
    let mut branch = branch_peer();
    branch.local_addr = a;
    branch.remotes.truncate(1);
    branch.remotes[0].addr = b;
    branch.children[0] = child(lan, any6);
    let mut edge = edge_peer(b, "edge-key", "branch-key");
    edge.remotes[0].addr = a;
    edge.children[0] = child(any6, lan);
    let mut sim = rampart_testkit::Sim::new(17);
    sim.add_node(ike_config(vec![branch]), vec![a], 18);
    sim.add_node(ike_config(vec![edge]), vec![b], 19);
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    let sas = sim.nodes[1].engine.ike_sas(sim.now);
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].remote_id, "2001:db8::1");
    assert_eq!(sas[0].children[0].remote_ts, vec![lan]);
}

#[test]
fn handshake_at_most_eight_children() {
    let mut sim = pair(18);
    let mut branch = branch_peer();
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    branch.children.clear();
    edge.children.clear();
    for i in 0..10u8 {
        let lan = net([198, 18, 10 + i, 0], [198, 18, 10 + i, 255]);
        branch.children.push(child(lan, TrafficSelector::any_v4()));
        edge.children.push(child(TrafficSelector::any_v4(), lan));
    }
    sim.nodes[0].engine = rampart_ike::Engine::new(
        ike_config(vec![branch]),
        Box::new(rampart_crypto::random::TestRandom::new(9)),
        sim.now,
    );
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.nodes[0].engine.ike_sas(sim.now)[0].children.len(), 8);
    assert_eq!(sim.nodes[1].engine.ike_sas(sim.now)[0].children.len(), 8);
}

#[test]
fn responder_selects_peer_by_identity() {
    use rampart_ike::config::{Identity, LocalIdentity};
    // The edge does not know the branch's address (it sits behind a NAT), only the
    // identity it will present.
    let mut sim = pair(19);
    let mut branch = branch_peer();
    branch.local_identity = LocalIdentity::Email("site1@example.com".into());
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.remotes[0].addr = "198.51.100.200".parse().unwrap();
    edge.remotes[0].remote_identity = Some(Identity::Rfc822("site1@example.com".into()));
    sim.nodes[0].engine = rampart_ike::Engine::new(
        ike_config(vec![branch]),
        Box::new(rampart_crypto::random::TestRandom::new(9)),
        sim.now,
    );
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(3));
    assert_eq!(child_ups(&sim, 1), 1);
    assert_eq!(
        sim.nodes[1].engine.ike_sas(sim.now)[0].remote_id,
        "site1@example.com"
    );
}

#[test]
fn responder_identity_mismatch_rejected() {
    use rampart_ike::config::Identity;
    let mut sim = pair(20);
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.remotes[0].addr = "198.51.100.200".parse().unwrap();
    edge.remotes[0].remote_identity = Some(Identity::Fqdn("someone.example.com".into()));
    sim.nodes[1].engine = rampart_ike::Engine::new(
        ike_config(vec![edge]),
        Box::new(rampart_crypto::random::TestRandom::new(10)),
        sim.now,
    );
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(ike_ups(&sim, 1), 0);
    assert!(
        failures(&sim, 1)
            .iter()
            .any(|f| f.contains("matches no crypto map entry")),
        "{:?}",
        failures(&sim, 1)
    );
}
