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
        sim.nodes[n].events.iter().find_map(|e| if let Event::ChildSaUp(k) = e { Some((k.spi_in, k.spi_out, k.encr_key_in.to_vec(), k.encr_key_out.to_vec())) } else { None }).unwrap()
    };
    let (i_in, i_out, i_kin, i_kout) = key(0);
    let (r_in, r_out, r_kin, r_kout) = key(1);
    assert_eq!(i_in, r_out);
    assert_eq!(i_out, r_in);
    assert_eq!(i_kin, r_kout);
    assert_eq!(i_kout, r_kin);
}
