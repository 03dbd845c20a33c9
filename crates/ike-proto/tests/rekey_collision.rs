//! Simultaneous IKE SA rekeys (RFC 7296 section 2.8.2) between two engines over the
//! simulated network: who wins, delayed and lost messages, and Child SA work that
//! meets an IKE SA rekey (section 2.25).

mod common;

use std::time::Duration;

use common::*;
use rampart_ike::config::TrafficSelector;
use rampart_ike::{Event, IkeSaInfo};
use rampart_testkit::{Packet, Sim};

const CREATE_CHILD_SA: u8 = 36;
const INFORMATIONAL: u8 = 37;

/// Nonce first octets: the lowest one makes its exchange's new SA redundant. Every
/// other nonce (the responders' ones) starts with `MIDDLE`.
const LOW: u8 = 0x01;
const HIGH: u8 = 0x40;
const MIDDLE: u8 = 0x80;

/// Branch (node 0) and edge (node 1) with two Child SAs up and a perfect network.
fn two_children(seed: u64) -> Sim {
    two_children_dpd(seed, true)
}

/// As `two_children`, with liveness checks on or off.
fn two_children_dpd(seed: u64, dpd: bool) -> Sim {
    init_tracing();
    let second = net([198, 18, 2, 0], [198, 18, 2, 255]);
    let mut branch = branch_peer();
    branch
        .children
        .push(child(second.clone(), TrafficSelector::any_v4()));
    let mut edge = edge_peer(EDGE1, "edge-key", "branch-key");
    edge.children.push(child(TrafficSelector::any_v4(), second));
    if !dpd {
        for r in branch.remotes.iter_mut().chain(edge.remotes.iter_mut()) {
            r.dpd.interval = None;
        }
    }
    let mut sim = Sim::new(seed);
    sim.add_node(ike_config(vec![branch]), vec![BRANCH], seed + 1);
    sim.add_node(ike_config(vec![edge]), vec![EDGE1], seed + 2);
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(5));
    assert_eq!(child_ups(&sim, 0), 2, "branch Child SAs before the rekey");
    sim
}

/// Both nodes start an IKE SA rekey at the same instant. `branch_wins` gives the edge's
/// request the lowest nonce, so the edge's new SA is the redundant one.
fn rekey_both(sim: &mut Sim, branch_wins: bool) {
    let (branch_lead, edge_lead) = if branch_wins {
        (HIGH, LOW)
    } else {
        (LOW, HIGH)
    };
    sim.nodes[0].nonce_lead.set(Some(branch_lead));
    sim.call(0, |e, now| e.rekey_ike(now, 0));
    sim.nodes[1].nonce_lead.set(Some(edge_lead));
    sim.call(1, |e, now| e.rekey_ike(now, 0));
    for n in 0..2 {
        sim.nodes[n].nonce_lead.set(Some(MIDDLE));
    }
}

fn only_sa(sim: &Sim, node: usize) -> IkeSaInfo {
    let sas = sim.nodes[node].engine.ike_sas(sim.now);
    assert_eq!(sas.len(), 1, "node {node} IKE SAs {sas:#?}");
    sas.into_iter().next().unwrap_or_else(|| unreachable!())
}

/// Both nodes hold one IKE SA with each other, with the same SPIs, carrying both
/// Child SAs paired with the peer's; the rekey installed and removed no Child SA.
fn assert_one_sa(sim: &Sim) {
    let a = only_sa(sim, 0);
    let b = only_sa(sim, 1);
    assert_eq!((a.spi_i, a.spi_r), (b.spi_i, b.spi_r), "IKE SPIs differ");
    assert_ne!(
        a.initiator, b.initiator,
        "both sides claim the initiator role"
    );
    assert_eq!(a.children.len(), 2, "branch children {:#?}", a.children);
    assert_eq!(b.children.len(), 2, "edge children {:#?}", b.children);
    let mut configs: Vec<usize> = a.children.iter().map(|c| c.child).collect();
    configs.sort_unstable();
    assert_eq!(configs, vec![0, 1], "duplicate Child SAs on the branch");
    for c in &a.children {
        let peer = b.children.iter().find(|d| d.spi_in == c.spi_out);
        assert!(
            peer.is_some_and(|d| d.spi_out == c.spi_in),
            "branch child {c:#?} has no peer in {:#?}",
            b.children
        );
    }
    for n in 0..2 {
        assert_eq!(child_ups(sim, n), 2, "node {n} installed a Child SA");
        assert_eq!(child_downs(sim, n), 0, "node {n} removed a Child SA");
        assert_events_balanced(sim, n);
    }
}

fn child_downs(sim: &Sim, node: usize) -> usize {
    sim.nodes[node]
        .events
        .iter()
        .filter(|e| matches!(e, Event::ChildSaDown { .. }))
        .count()
}

/// Every IkeSaDown names an SA reported up before, and one SA is left up.
fn assert_events_balanced(sim: &Sim, node: usize) {
    let mut up = Vec::new();
    for e in &sim.nodes[node].events {
        match e {
            Event::IkeSaUp { info, .. } => up.push((info.spi_i, info.spi_r)),
            Event::IkeSaDown { spi_i, spi_r, .. } => {
                let i = up.iter().position(|s| *s == (*spi_i, *spi_r));
                assert!(i.is_some(), "node {node}: IkeSaDown of an SA never up");
                up.retain(|s| *s != (*spi_i, *spi_r));
            }
            _ => {}
        }
    }
    assert_eq!(up.len(), 1, "node {node} SAs left up {up:x?}");
}

/// Lets the rekey run, then runs until both nodes hold a single IKE SA, at most two
/// more minutes.
fn settle(sim: &mut Sim) {
    sim.run_for(Duration::from_secs(10));
    sim.run_until(Duration::from_secs(120), |s| {
        (0..2).all(|n| s.nodes[n].engine.ike_sas(s.now).len() == 1)
    });
}

type PacketMatch = fn(&Packet) -> bool;

fn edge_rekey_request(p: &Packet) -> bool {
    p.from.ip() == EDGE1 && p.ike_exchange() == Some((CREATE_CHILD_SA, false))
}

fn branch_rekey_request(p: &Packet) -> bool {
    p.from.ip() == BRANCH && p.ike_exchange() == Some((CREATE_CHILD_SA, false))
}

fn edge_rekey_response(p: &Packet) -> bool {
    p.from.ip() == EDGE1 && p.ike_exchange() == Some((CREATE_CHILD_SA, true))
}

fn branch_informational_request(p: &Packet) -> bool {
    p.from.ip() == BRANCH && p.ike_exchange() == Some((INFORMATIONAL, false))
}

fn informational_request(p: &Packet) -> bool {
    p.ike_exchange() == Some((INFORMATIONAL, false))
}

/// Holds back the first packet that each rule matches by the rule's delay.
fn delay_first(sim: &mut Sim, rules: Vec<(PacketMatch, Duration)>) {
    let mut done = vec![false; rules.len()];
    sim.net.delay = Some(Box::new(move |p| {
        for (i, (matches, delay)) in rules.iter().enumerate() {
            if !done[i] && matches(p) {
                done[i] = true;
                return *delay;
            }
        }
        Duration::ZERO
    }));
}

/// Drops the first packet that `matches` selects.
fn drop_first(sim: &mut Sim, matches: PacketMatch) {
    let mut dropped = false;
    sim.net.filter = Some(Box::new(move |p| {
        let hit = !dropped && matches(p);
        dropped |= hit;
        hit
    }));
}

#[test]
fn collision_branch_wins() {
    init_tracing();
    let mut sim = two_children(200);
    rekey_both(&mut sim, true);
    settle(&mut sim);
    assert_one_sa(&sim);
    // The survivor came from the branch's exchange, so the branch initiated it.
    assert!(only_sa(&sim, 0).initiator);
}

#[test]
fn collision_branch_loses() {
    let mut sim = two_children(201);
    rekey_both(&mut sim, false);
    settle(&mut sim);
    assert_one_sa(&sim);
    assert!(only_sa(&sim, 1).initiator);
}

#[test]
fn collision_both_outcomes_with_latency() {
    for (seed, branch_wins) in [(202, true), (203, false)] {
        let mut sim = two_children(seed);
        sim.net.latency = Duration::from_millis(150);
        rekey_both(&mut sim, branch_wins);
        settle(&mut sim);
        assert_one_sa(&sim);
        assert_eq!(only_sa(&sim, 0).initiator, branch_wins, "seed {seed}");
    }
}

#[test]
fn collision_edge_request_delayed() {
    // The edge's rekey request arrives 3 s late: the branch completes its own rekey
    // and deletes the old SA first without noticing the collision. The edge noticed
    // it, so the branch's Delete makes it keep the branch's new SA and drop its own
    // rekey, whatever the nonces say.
    for (seed, branch_wins) in [(204, true), (205, false)] {
        let mut sim = two_children(seed);
        delay_first(&mut sim, vec![(edge_rekey_request, Duration::from_secs(3))]);
        rekey_both(&mut sim, branch_wins);
        settle(&mut sim);
        sim.run_for(Duration::from_secs(10));
        assert_one_sa(&sim);
        assert!(only_sa(&sim, 0).initiator, "seed {seed}");
    }
}

#[test]
fn collision_edge_request_refused_temporarily() {
    // As above, but the branch's Delete of the old SA is held longer than the
    // edge's request: the request meets the old SA in the Deleting state, the
    // branch answers TEMPORARY_FAILURE, and the edge keeps the branch's new SA.
    for (seed, branch_wins) in [(222, true), (223, false)] {
        let mut sim = two_children(seed);
        delay_first(
            &mut sim,
            vec![
                (edge_rekey_request, Duration::from_secs(2)),
                (branch_informational_request, Duration::from_secs(3)),
            ],
        );
        rekey_both(&mut sim, branch_wins);
        settle(&mut sim);
        assert_one_sa(&sim);
        assert!(only_sa(&sim, 0).initiator, "seed {seed}");
        let refused = sim.nodes[1].events.iter().any(
            |e| matches!(e, Event::Failure { reason, .. } if reason.contains("TEMPORARY_FAILURE")),
        );
        assert!(
            !refused,
            "seed {seed}: the refused rekey was reported as a failure"
        );
    }
}

#[test]
fn collision_branch_request_delayed_past_delete() {
    // The branch's request is held for 3 s: the edge completes first, and the late
    // request arrives on an SA the edge is deleting or has deleted.
    for (seed, branch_wins) in [(206, true), (207, false)] {
        let mut sim = two_children(seed);
        delay_first(
            &mut sim,
            vec![(branch_rekey_request, Duration::from_secs(3))],
        );
        rekey_both(&mut sim, branch_wins);
        settle(&mut sim);
        sim.run_for(Duration::from_secs(10));
        assert_one_sa(&sim);
        assert!(only_sa(&sim, 1).initiator, "seed {seed}");
    }
}

#[test]
fn collision_response_retransmitted() {
    // The first response to the branch's rekey request is lost; the branch
    // retransmits and the edge answers from its response cache.
    for (seed, branch_wins) in [(208, true), (209, false)] {
        let mut sim = two_children(seed);
        drop_first(&mut sim, edge_rekey_response);
        rekey_both(&mut sim, branch_wins);
        settle(&mut sim);
        assert_one_sa(&sim);
        assert_eq!(only_sa(&sim, 0).initiator, branch_wins, "seed {seed}");
    }
}

#[test]
fn collision_delete_dropped() {
    // The first Delete after the collision is lost: the loser's Delete of its
    // redundant SA. Its retransmission completes the rekey.
    for (seed, branch_wins) in [(210, true), (211, false)] {
        let mut sim = two_children(seed);
        drop_first(&mut sim, informational_request);
        rekey_both(&mut sim, branch_wins);
        settle(&mut sim);
        assert_one_sa(&sim);
        assert_eq!(only_sa(&sim, 0).initiator, branch_wins, "seed {seed}");
    }
}

#[test]
fn collision_redundant_never_deleted() {
    // Every Delete request from the loser is lost (liveness checks are off, so
    // they are the only INFORMATIONAL requests). The winner stops waiting for it,
    // deletes the redundant SA and the old one itself, and the loser's own Delete
    // of the redundant SA crosses with the winner's.
    for (seed, branch_wins) in [(212, true), (213, false)] {
        let mut sim = two_children_dpd(seed, false);
        let loser = if branch_wins { EDGE1 } else { BRANCH };
        sim.net.filter = Some(Box::new(move |p| {
            p.from.ip() == loser && p.ike_exchange() == Some((INFORMATIONAL, false))
        }));
        rekey_both(&mut sim, branch_wins);
        sim.run_for(Duration::from_secs(90));
        sim.net.filter = None;
        settle(&mut sim);
        assert_one_sa(&sim);
        assert_eq!(only_sa(&sim, 0).initiator, branch_wins, "seed {seed}");
        assert!(
            failures(&sim, 0).iter().all(|f| !f.contains("dead peer")),
            "{:?}",
            failures(&sim, 0)
        );
    }
}

#[test]
fn child_rekey_meets_ike_rekey() {
    // The edge rekeys a Child SA while the branch rekeys the IKE SA. The branch
    // refuses the Child SA rekey with TEMPORARY_FAILURE; the edge retries it on
    // the new IKE SA.
    for seed in 214..218 {
        let mut sim = two_children(seed);
        let spi_out = only_sa(&sim, 1).children[0].spi_out;
        sim.call(0, |e, now| e.rekey_ike(now, 0));
        sim.call(1, |e, now| e.child_seq_near_wrap(now, spi_out));
        sim.run_for(Duration::from_secs(60));
        settle(&mut sim);
        let a = only_sa(&sim, 0);
        let b = only_sa(&sim, 1);
        assert_eq!((a.spi_i, a.spi_r), (b.spi_i, b.spi_r), "seed {seed}");
        assert_eq!(a.children.len(), 2, "seed {seed}: {:#?}", a.children);
        assert_eq!(b.children.len(), 2, "seed {seed}: {:#?}", b.children);
        assert!(
            b.children.iter().all(|c| c.spi_out != spi_out),
            "seed {seed}: the Child SA was not rekeyed"
        );
    }
}

#[test]
fn collision_repeated_rekeys() {
    // Several collisions in a row with alternating winners leave one SA each time.
    let mut sim = two_children(220);
    for round in 0..6 {
        rekey_both(&mut sim, round % 2 == 0);
        settle(&mut sim);
        sim.run_for(Duration::from_secs(5));
        assert_one_sa(&sim);
    }
}
