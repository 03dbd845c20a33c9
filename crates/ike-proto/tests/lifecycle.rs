//! Rekeys, liveness checks, deletes, failover and restarts over the simulated network.

mod common;

use std::time::Duration;

use common::*;
use rampart_crypto::alg::DhGroup;
use rampart_crypto::random::TestRandom;
use rampart_ike::config::{PeerConfig, TrafficSelector};
use rampart_ike::{Engine, Event};
use rampart_testkit::Sim;

fn sim_with(seed: u64, branch: PeerConfig, edge: PeerConfig) -> Sim {
    let mut sim = Sim::new(seed);
    sim.add_node(ike_config(vec![branch]), vec![BRANCH], seed + 1);
    sim.add_node(ike_config(vec![edge]), vec![EDGE1], seed + 2);
    sim
}

fn up(sim: &mut Sim) {
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(3));
    assert_eq!(child_ups(sim, 0), 1);
}

/// Both nodes hold one IKE SA with `n` Child SAs, each child paired with the peer's.
fn assert_pairs(sim: &Sim, n: usize) {
    let a = sim.nodes[0].engine.ike_sas(sim.now);
    let b = sim.nodes[1].engine.ike_sas(sim.now);
    assert_eq!(a.len(), 1, "branch SAs {a:#?}");
    assert_eq!(b.len(), 1, "edge SAs {b:#?}");
    assert_eq!(
        a[0].children.len(),
        n,
        "branch children {:#?}",
        a[0].children
    );
    assert_eq!(b[0].children.len(), n, "edge children {:#?}", b[0].children);
    for c in &a[0].children {
        let peer = b[0].children.iter().find(|d| d.spi_in == c.spi_out);
        assert!(
            peer.is_some_and(|d| d.spi_out == c.spi_in),
            "branch child {c:#?} has no peer in {:#?}",
            b[0].children
        );
    }
}

/// True when both nodes have exactly one IKE SA with exactly one child.
fn settled(sim: &Sim) -> bool {
    (0..2).all(|n| {
        let sas = sim.nodes[n].engine.ike_sas(sim.now);
        sas.len() == 1 && sas[0].children.len() == 1
    })
}

#[test]
fn rekey_child_by_lifetime() {
    init_tracing();
    let mut branch = branch_peer();
    branch.children[0].lifetime = Duration::from_secs(60);
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.children[0].lifetime = Duration::from_secs(60);
    let mut sim = sim_with(100, branch, edge);
    up(&mut sim);
    sim.run_for(Duration::from_secs(600));
    assert!(child_ups(&sim, 0) >= 10, "{} child SAs", child_ups(&sim, 0));
    let rekeys = sim.nodes[0]
        .events
        .iter()
        .filter(|e| matches!(e, Event::ChildSaUp(k) if k.replaces.is_some()))
        .count();
    assert!(rekeys >= 9, "{rekeys} rekeys");
    assert_pairs(&sim, 1);
}

#[test]
fn rekey_child_with_pfs() {
    let mut branch = branch_peer();
    branch.children[0].lifetime = Duration::from_secs(60);
    branch.children[0].pfs = Some(DhGroup::Ecp256);
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.children[0].lifetime = Duration::from_secs(60);
    edge.children[0].pfs = Some(DhGroup::Ecp256);
    let mut sim = sim_with(101, branch, edge);
    up(&mut sim);
    let first = sim.nodes[0].events.iter().find_map(|e| {
        if let Event::ChildSaUp(k) = e {
            Some(k.pfs_group)
        } else {
            None
        }
    });
    assert_eq!(first, Some(None));
    sim.run_for(Duration::from_secs(60));
    let rekeyed = sim.nodes[0].events.iter().rev().find_map(|e| {
        if let Event::ChildSaUp(k) = e {
            Some(k.pfs_group)
        } else {
            None
        }
    });
    assert_eq!(rekeyed, Some(Some(DhGroup::Ecp256)));
    assert_pairs(&sim, 1);
}

#[test]
fn rekey_pfs_mismatch_rebuilds() {
    let mut branch = branch_peer();
    branch.children[0].lifetime = Duration::from_secs(60);
    branch.children[0].pfs = Some(DhGroup::Modp2048);
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.children[0].lifetime = Duration::from_secs(3600);
    edge.children[0].pfs = Some(DhGroup::Modp1024);
    let mut sim = sim_with(102, branch, edge);
    up(&mut sim);
    sim.run_for(Duration::from_secs(60));
    assert!(
        failures(&sim, 0)
            .iter()
            .any(|f| f.contains("PFS/DH mismatch suspected")),
        "{:?}",
        failures(&sim, 0)
    );
    assert!(ike_ups(&sim, 0) >= 2);
}

#[test]
fn rekey_ike_sa_keeps_children() {
    let mut branch = branch_peer();
    branch.ike_proposals[0].lifetime = Duration::from_secs(120);
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.ike_proposals[0].lifetime = Duration::from_secs(120);
    let mut sim = sim_with(103, branch, edge);
    up(&mut sim);
    sim.run_for(Duration::from_secs(1200));
    assert!(ike_ups(&sim, 0) >= 10, "{} IKE SAs", ike_ups(&sim, 0));
    assert_eq!(child_ups(&sim, 0), 1);
    assert_pairs(&sim, 1);
}

#[test]
fn rekey_simultaneous_child() {
    init_tracing();
    for seed in 110..120 {
        let mut sim = sim_with(
            seed,
            branch_peer(),
            edge_peer(EDGE1, "edge-key", "branch-key"),
        );
        up(&mut sim);
        let a = sim.nodes[0].engine.ike_sas(sim.now)[0].children[0].spi_out;
        let b = sim.nodes[1].engine.ike_sas(sim.now)[0].children[0].spi_out;
        sim.call(0, |e, now| e.child_seq_near_wrap(now, a));
        sim.call(1, |e, now| e.child_seq_near_wrap(now, b));
        sim.run_for(Duration::from_secs(30));
        assert_pairs(&sim, 1);
    }
}

#[test]
fn rekey_simultaneous_ike() {
    init_tracing();
    for seed in 120..126 {
        let mut branch = branch_peer();
        branch.ike_proposals[0].lifetime = Duration::from_secs(100);
        let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
        edge.ike_proposals[0].lifetime = Duration::from_secs(100);
        let mut sim = sim_with(seed, branch, edge);
        sim.net.latency = Duration::from_millis(200);
        up(&mut sim);
        sim.run_for(Duration::from_secs(400));
        assert_pairs(&sim, 1);
    }
}

#[test]
fn rekey_by_kilobytes() {
    let mut branch = branch_peer();
    branch.children[0].lifetime_kilobytes = 1000;
    let mut sim = sim_with(104, branch, edge_peer(EDGE1, "edge-key", "branch-key"));
    up(&mut sim);
    let spi_in = sim.nodes[0].engine.ike_sas(sim.now)[0].children[0].spi_in;
    sim.call(0, |e, now| e.child_bytes(now, spi_in, 950 * 1024));
    sim.run_for(Duration::from_secs(5));
    assert_eq!(child_ups(&sim, 0), 2);
    assert_pairs(&sim, 1);
}

#[test]
fn dpd_detects_dead_peer_and_fails_over() {
    let mut sim = sim_with(
        105,
        branch_peer(),
        edge_peer(EDGE1, "edge-key", "branch-key"),
    );
    sim.add_node(
        ike_config(vec![edge_peer(EDGE2, "edge-key2", "branch-key2")]),
        vec![EDGE2],
        300,
    );
    up(&mut sim);
    sim.nodes[1].down = true;
    sim.run_for(Duration::from_secs(60));
    let switched = sim.nodes[0]
        .events
        .iter()
        .any(|e| matches!(e, Event::PeerSwitched { to, .. } if *to == EDGE2));
    assert!(switched);
    let sas = sim.nodes[0].engine.ike_sas(sim.now);
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].remote.ip(), EDGE2);
    assert_eq!(sas[0].children.len(), 1);
}

#[test]
fn dpd_liveness_when_idle() {
    let mut sim = sim_with(
        106,
        branch_peer(),
        edge_peer(EDGE1, "edge-key", "branch-key"),
    );
    up(&mut sim);
    let before = sim.nodes[0].sent.len();
    sim.run_for(Duration::from_secs(35));
    // One liveness check per 10 s of idleness, from each side.
    let informational = sim.nodes[0].sent[before..]
        .iter()
        .filter(|t| t.payload[18] == 37)
        .count();
    assert!((2..=8).contains(&informational), "{informational}");
    assert_pairs(&sim, 1);
}

#[test]
fn failover_on_unreachable_primary() {
    let mut sim = sim_with(
        107,
        branch_peer(),
        edge_peer(EDGE1, "edge-key", "branch-key"),
    );
    sim.add_node(
        ike_config(vec![edge_peer(EDGE2, "edge-key2", "branch-key2")]),
        vec![EDGE2],
        301,
    );
    sim.nodes[1].down = true;
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(60));
    let sas = sim.nodes[0].engine.ike_sas(sim.now);
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].remote.ip(), EDGE2);
}

#[test]
fn failover_clear_peer_resets_to_primary() {
    let mut sim = sim_with(
        108,
        branch_peer(),
        edge_peer(EDGE1, "edge-key", "branch-key"),
    );
    sim.add_node(
        ike_config(vec![edge_peer(EDGE2, "edge-key2", "branch-key2")]),
        vec![EDGE2],
        302,
    );
    sim.nodes[1].down = true;
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(60));
    sim.nodes[1].down = false;
    sim.call(0, |e, now| e.clear_peer(now, EDGE2));
    sim.run_for(Duration::from_secs(10));
    let sas = sim.nodes[0].engine.ike_sas(sim.now);
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].remote.ip(), EDGE1);
}

#[test]
fn responder_rejects_backup_while_primary_active() {
    // The edge lists the branch as its backup; the branch's attempt is refused.
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    let mut primary = edge.remotes[0].clone();
    primary.addr = EDGE2;
    edge.remotes.insert(0, primary);
    let mut sim = sim_with(109, branch_peer(), edge);
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(2));
    assert_eq!(ike_ups(&sim, 1), 0);
}

#[test]
fn delete_on_shutdown_reaches_peer() {
    let mut sim = sim_with(
        130,
        branch_peer(),
        edge_peer(EDGE1, "edge-key", "branch-key"),
    );
    up(&mut sim);
    sim.call(0, |e, now| e.shutdown(now));
    sim.run_for(Duration::from_secs(2));
    assert!(
        sim.nodes[0]
            .events
            .iter()
            .any(|e| matches!(e, Event::IkeSaDown { .. }))
    );
    assert!(
        sim.nodes[1]
            .events
            .iter()
            .any(|e| matches!(e, Event::ChildSaDown { .. }))
    );
    assert!(sim.nodes[1].engine.ike_sas(sim.now).is_empty());
}

#[test]
fn delete_restart_initial_contact_replaces_old_sa() {
    let mut sim = sim_with(
        131,
        branch_peer(),
        edge_peer(EDGE1, "edge-key", "branch-key"),
    );
    up(&mut sim);
    sim.restart_node(0, ike_config(vec![branch_peer()]), 999);
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(3));
    assert_pairs(&sim, 1);
}

#[test]
fn initial_contact_only_first_sa() {
    let mut sim = sim_with(
        132,
        branch_peer(),
        edge_peer(EDGE1, "edge-key", "branch-key"),
    );
    up(&mut sim);
    let spi = sim.nodes[0].engine.ike_sas(sim.now)[0].spi_i;
    sim.call(0, |e, now| e.clear_peer(now, EDGE1));
    sim.run_for(Duration::from_secs(10));
    let sas = sim.nodes[0].engine.ike_sas(sim.now);
    assert_eq!(sas.len(), 1);
    assert_ne!(sas[0].spi_i, spi);
    // The edge kept no stale SA: the Delete removed it, INITIAL_CONTACT was not needed.
    assert_pairs(&sim, 1);
}

/// A branch behind the NAT at 198.51.100.77 with its own identity and LAN.
fn natted_branch(private: std::net::IpAddr, fqdn: &str, lan: u8) -> PeerConfig {
    let mut p = branch_peer();
    p.local_addr = private;
    p.local_identity = rampart_ike::config::LocalIdentity::Hostname(fqdn.into());
    p.remotes.truncate(1);
    p.children = vec![child(
        net([198, 18, lan, 0], [198, 18, lan, 255]),
        TrafficSelector::any_v4(),
    )];
    p
}

#[test]
fn initial_contact_spares_other_identity() {
    // Two branches with different identities sit behind one NAT address and use the
    // edge's single crypto map entry for that address. A restart of one sends
    // INITIAL_CONTACT, which removes only that identity's old IKE SA (RFC 7296
    // section 2.4).
    init_tracing();
    let public: std::net::IpAddr = "198.51.100.77".parse().unwrap_or_else(|_| unreachable!());
    let site1: std::net::IpAddr = "198.18.0.1".parse().unwrap_or_else(|_| unreachable!());
    let site2: std::net::IpAddr = "198.18.0.2".parse().unwrap_or_else(|_| unreachable!());
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.remotes[0].addr = public;
    edge.remotes[0].peer_id_validate = rampart_ike::config::PeerIdValidate::NoCheck;
    edge.children = (1..=2)
        .map(|lan| {
            child(
                TrafficSelector::any_v4(),
                net([198, 18, lan, 0], [198, 18, lan, 255]),
            )
        })
        .collect();
    let one = natted_branch(site1, "site1.example.com", 1);
    let two = natted_branch(site2, "site2.example.com", 2);
    let mut sim = Sim::new(230);
    sim.add_node(ike_config(vec![edge]), vec![EDGE1], 231);
    sim.add_node(ike_config(vec![one.clone()]), vec![site1], 232);
    sim.add_node(ike_config(vec![two]), vec![site2], 233);
    for (node, private, port_offset) in [(1, site1, 10000), (2, site2, 20000)] {
        sim.more_nats.push(rampart_testkit::Nat {
            node,
            private,
            public,
            port_offset,
        });
    }
    sim.call(1, |e, now| e.initiate_all(now));
    sim.call(2, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    let sas = sim.nodes[0].engine.ike_sas(sim.now);
    assert_eq!(sas.len(), 2, "edge SAs before the restart {sas:#?}");
    let kept = sas
        .iter()
        .find(|s| s.remote_id == "site2.example.com")
        .map(|s| (s.spi_i, s.spi_r, s.children[0].spi_in));
    let old = sas
        .iter()
        .find(|s| s.remote_id == "site1.example.com")
        .map(|s| (s.spi_i, s.spi_r));
    assert!(kept.is_some(), "no SA of site2 {sas:#?}");
    assert!(old.is_some(), "no SA of site1 {sas:#?}");

    sim.restart_node(1, ike_config(vec![one]), 234);
    sim.call(1, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));

    let sas = sim.nodes[0].engine.ike_sas(sim.now);
    assert_eq!(sas.len(), 2, "edge SAs after the restart {sas:#?}");
    let now_site2 = sas
        .iter()
        .find(|s| s.remote_id == "site2.example.com")
        .map(|s| (s.spi_i, s.spi_r, s.children[0].spi_in));
    assert_eq!(now_site2, kept, "site2's SA changed");
    let now_site1 = sas
        .iter()
        .find(|s| s.remote_id == "site1.example.com")
        .map(|s| (s.spi_i, s.spi_r));
    assert!(now_site1.is_some(), "site1 did not reconnect");
    assert_ne!(now_site1, old, "site1's old SA survived INITIAL_CONTACT");
    let site2_child = kept.map(|k| k.2);
    let site2_removed = sim.nodes[0]
        .events
        .iter()
        .any(|e| matches!(e, Event::ChildSaDown { spi_in, .. } if Some(*spi_in) == site2_child));
    assert!(!site2_removed, "site2's Child SA was removed");
    assert_eq!(sim.nodes[2].engine.ike_sas(sim.now).len(), 1);
}

#[test]
fn reconfigure_unchanged_keeps_sas() {
    let mut sim = sim_with(
        133,
        branch_peer(),
        edge_peer(EDGE1, "edge-key", "branch-key"),
    );
    up(&mut sim);
    sim.call(0, |e, now| {
        e.reconfigure(now, ike_config(vec![branch_peer()]))
    });
    sim.run_for(Duration::from_secs(2));
    assert_eq!(ike_ups(&sim, 0), 1);
    assert_pairs(&sim, 1);
}

#[test]
fn reconfigure_changed_peer_deletes() {
    let mut sim = sim_with(
        134,
        branch_peer(),
        edge_peer(EDGE1, "edge-key", "branch-key"),
    );
    up(&mut sim);
    let mut changed = branch_peer();
    changed.children[0].lifetime = Duration::from_secs(3600);
    sim.call(0, |e, now| e.reconfigure(now, ike_config(vec![changed])));
    sim.run_for(Duration::from_secs(2));
    assert!(
        sim.nodes[1]
            .events
            .iter()
            .any(|e| matches!(e, Event::IkeSaDown { .. }))
    );
}

#[test]
fn retransmission_gives_up() {
    let mut branch = branch_peer();
    branch.remotes.truncate(1);
    let mut sim = sim_with(135, branch, edge_peer(EDGE1, "edge-key", "branch-key"));
    sim.nodes[1].down = true;
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(40));
    let init_sent = sim.nodes[0]
        .sent
        .iter()
        .filter(|t| t.payload[18] == 34)
        .count();
    assert!(init_sent >= 5, "{init_sent}");
    assert!(
        failures(&sim, 0)
            .iter()
            .any(|f| f.contains("retransmission limit"))
    );
}

#[test]
fn engine_restart_of_responder_recovers() {
    let mut sim = sim_with(
        136,
        branch_peer(),
        edge_peer(EDGE1, "edge-key", "branch-key"),
    );
    up(&mut sim);
    sim.nodes[1].engine = Engine::new(
        ike_config(vec![edge_peer(EDGE1, "edge-key", "branch-key")]),
        Box::new(TestRandom::new(77)),
        sim.now,
    );
    sim.run_for(Duration::from_secs(90));
    assert_pairs(&sim, 1);
}

#[test]
fn expiry_deletes_child_without_rekey() {
    let mut branch = branch_peer();
    branch.children[0].lifetime = Duration::from_secs(60);
    let mut sim = sim_with(137, branch, edge_peer(EDGE1, "edge-key", "branch-key"));
    up(&mut sim);
    // Every CREATE_CHILD_SA (exchange type 36) is lost, so no rekey succeeds.
    sim.net.filter = Some(Box::new(|p| p.payload.get(18) == Some(&36)));
    sim.run_for(Duration::from_secs(61));
    assert!(
        sim.nodes[0]
            .events
            .iter()
            .any(|e| matches!(e, Event::ChildSaDown { .. }))
    );
}

#[test]
fn dpd_quiet_while_esp_arrives() {
    let mut sim = sim_with(
        138,
        branch_peer(),
        edge_peer(EDGE1, "edge-key", "branch-key"),
    );
    up(&mut sim);
    let spi_in = sim.nodes[0].engine.ike_sas(sim.now)[0].children[0].spi_in;
    let before = sim.nodes[0].sent.len();
    for _ in 0..30 {
        sim.call(0, |e, now| e.child_bytes(now, spi_in, 1000));
        sim.run_for(Duration::from_secs(1));
    }
    // The branch saw traffic every second, so it sent no liveness check of its own.
    let requests = sim.nodes[0].sent[before..]
        .iter()
        .filter(|t| t.payload[18] == 37 && t.payload[19] & 0x20 == 0)
        .count();
    assert_eq!(requests, 0);
}

#[test]
fn dpd_fails_over_after_peer_rekeyed_ike_sa() {
    // The edge rekeys the IKE SA, so the branch is the responder of the new one; a
    // dead edge must still move the branch to its backup.
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.ike_proposals[0].lifetime = Duration::from_secs(60);
    let mut sim = sim_with(139, branch_peer(), edge);
    sim.add_node(
        ike_config(vec![edge_peer(EDGE2, "edge-key2", "branch-key2")]),
        vec![EDGE2],
        303,
    );
    up(&mut sim);
    sim.run_for(Duration::from_secs(60));
    assert!(!sim.nodes[0].engine.ike_sas(sim.now)[0].initiator);
    sim.nodes[1].down = true;
    sim.run_for(Duration::from_secs(60));
    let sas = sim.nodes[0].engine.ike_sas(sim.now);
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].remote.ip(), EDGE2);
}

#[test]
fn rekey_child_and_ike_interleaved() {
    for seed in 140..160 {
        let mut branch = branch_peer();
        branch.ike_proposals[0].lifetime = Duration::from_secs(70);
        branch.children[0].lifetime = Duration::from_secs(60);
        let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
        edge.ike_proposals[0].lifetime = Duration::from_secs(65);
        edge.children[0].lifetime = Duration::from_secs(55);
        let mut sim = sim_with(seed, branch, edge);
        sim.net.latency = Duration::from_millis(300);
        up(&mut sim);
        sim.run_for(Duration::from_secs(900));
        // A rekey may be in flight at the end; it settles within a few seconds.
        sim.run_until(Duration::from_secs(30), settled);
        assert_pairs(&sim, 1);
    }
}

#[test]
fn rekey_ike_moves_child_created_by_peer() {
    // The edge creates a Child SA of its own (CREATE_CHILD_SA without REKEY_SA) just
    // before it rekeys the IKE SA, as strongSwan does when it re-creates an expired
    // Child SA. Every Child SA moves to the new IKE SA on both sides, and the DELETE
    // of the old IKE SA removes none of them (RFC 7296 section 2.8).
    init_tracing();
    let second = net([198, 18, 2, 0], [198, 18, 2, 255]);
    for seed in 160..170 {
        let mut branch = branch_peer();
        branch
            .children
            .push(child(second.clone(), TrafficSelector::any_v4()));
        let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
        edge.children
            .push(child(TrafficSelector::any_v4(), second.clone()));
        edge.ike_proposals[0].lifetime = Duration::from_secs(60);
        edge.children[0].lifetime = Duration::from_secs(20);
        let mut sim = sim_with(seed, branch, edge);
        sim.net.latency = Duration::from_millis(1 + seed % 7 * 50);
        sim.call(0, |e, now| e.acquire(now, 0, 0));
        sim.run_for(Duration::from_secs(3));
        assert_pairs(&sim, 1);
        // The edge's first IKE SA rekey falls between 48 s and 54 s.
        sim.run_for(Duration::from_secs(43 + seed % 8));
        sim.call(1, |e, now| e.acquire(now, 0, 1));
        sim.run_for(Duration::from_secs(240));
        sim.run_until(Duration::from_secs(30), |s| {
            (0..2).all(|n| {
                let sas = s.nodes[n].engine.ike_sas(s.now);
                sas.len() == 1 && sas[0].children.len() == 2
            })
        });
        let edge_created = sim.nodes[1]
            .events
            .iter()
            .any(|e| matches!(e, Event::ChildSaUp(k) if k.child == 1 && k.initiator && k.replaces.is_none()));
        assert!(
            edge_created,
            "seed {seed}: the edge created no Child SA of its own"
        );
        assert!(ike_ups(&sim, 0) >= 4, "{} IKE SAs", ike_ups(&sim, 0));
        assert!(!sim.nodes[0].engine.ike_sas(sim.now)[0].initiator);
        assert_pairs(&sim, 2);
    }
}
