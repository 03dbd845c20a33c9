//! In-memory measurements: IKE_SA_INIT + IKE_AUTH handshakes per second per DH group
//! (both ends computed on the one thread), and heap bytes per established responder
//! IKE SA with one Child SA, counted by a global allocator.
//!
//! `cargo run --release -p rampart-ike --example bench [HANDSHAKES]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use rampart_crypto::random::SystemRandom;
use rampart_ike::config::*;
use rampart_ike::{Engine, Event};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const RESPONDER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));

fn initiator_addr(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, (i / 250) as u8, (i % 250 + 1) as u8))
}

fn peer(local: IpAddr, remote: IpAddr, group: DhGroup) -> PeerConfig {
    PeerConfig {
        name: format!("peer {remote}"),
        local_addr: local,
        remotes: vec![RemotePeer {
            addr: remote,
            tunnel_group: remote.to_string(),
            remote_identity: None,
            peer_id_validate: PeerIdValidate::NoCheck,
            local_psk: Psk::new(b"bench-key".to_vec()),
            remote_psk: Psk::new(b"bench-key".to_vec()),
            dpd: DpdConfig {
                interval: None,
                retry: Duration::from_secs(2),
            },
        }],
        local_identity: LocalIdentity::Auto,
        ike_proposals: vec![IkeProposal {
            priority: 1,
            encryption: vec![Encr::AesGcm16 { key_bits: 256 }],
            integrity: vec![],
            prf: vec![Prf::HmacSha2_256],
            dh_groups: vec![group],
            lifetime: Duration::from_secs(86400),
        }],
        children: vec![ChildConfig {
            crypto_map: "bench".into(),
            sequence: 1,
            ace: "permit ip any any".into(),
            local_ts: TrafficSelector::any_v4(),
            remote_ts: TrafficSelector::any_v4(),
            proposals: vec![EspProposal {
                name: "gcm".into(),
                encryption: vec![Encr::AesGcm16 { key_bits: 256 }],
                integrity: vec![Integ::HmacSha2_256_128],
            }],
            pfs: None,
            lifetime: Duration::from_secs(28800),
            lifetime_kilobytes: 0,
        }],
    }
}

fn config(peers: Vec<PeerConfig>) -> IkeConfig {
    IkeConfig {
        peers,
        retransmit: RetransmitConfig::default(),
        cookie_threshold: usize::MAX,
        fragmentation: false,
        fragment_mtu: 1280,
        force_udp_encap: false,
    }
}

/// Runs one handshake from a fresh initiator at `addr` against `responder`.
fn handshake(responder: &mut Engine, addr: IpAddr, group: DhGroup, now: Instant) -> bool {
    let mut initiator = Engine::new(
        config(vec![peer(addr, RESPONDER, group)]),
        Box::new(SystemRandom::new()),
        now,
    );
    initiator.initiate_all(now);
    let mut up = false;
    for _ in 0..10 {
        let mut moved = false;
        while let Some(t) = initiator.poll_transmit() {
            responder.handle_datagram(now, t.remote, t.local, &t.payload);
            moved = true;
        }
        while let Some(t) = responder.poll_transmit() {
            initiator.handle_datagram(now, t.remote, t.local, &t.payload);
            moved = true;
        }
        if !moved {
            break;
        }
    }
    while let Some(e) = initiator.poll_event() {
        up |= matches!(e, Event::ChildSaUp(_));
    }
    while responder.poll_event().is_some() {}
    up
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let now = Instant::now();
    for group in [DhGroup::Modp2048, DhGroup::Ecp256, DhGroup::Curve25519] {
        let peers = (0..n)
            .map(|i| peer(RESPONDER, initiator_addr(i), group))
            .collect();
        let mut responder = Engine::new(config(peers), Box::new(SystemRandom::new()), now);
        let start = Instant::now();
        let mut ok = 0;
        for i in 0..n {
            ok += usize::from(handshake(&mut responder, initiator_addr(i), group, now));
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{:<12} {ok}/{n} handshakes in {secs:.2} s: {:.0} handshakes/s (both ends on one core)",
            group.name(),
            ok as f64 / secs
        );
    }

    // Memory: live heap growth of one responder engine per established IKE SA with
    // one Child SA, after the initiators are gone.
    let group = DhGroup::Ecp256;
    let peers = (0..n)
        .map(|i| peer(RESPONDER, initiator_addr(i), group))
        .collect();
    let mut responder = Engine::new(config(peers), Box::new(SystemRandom::new()), now);
    let before = LIVE.load(Ordering::Relaxed);
    let mut ok = 0;
    for i in 0..n {
        ok += usize::from(handshake(&mut responder, initiator_addr(i), group, now));
    }
    let after = LIVE.load(Ordering::Relaxed);
    let sas = responder.ike_sas(now).len();
    println!(
        "memory: {} bytes live for {sas} IKE SAs ({ok} handshakes): {} bytes per IKE SA with one Child SA",
        after - before,
        (after - before) / sas.max(1) as isize
    );
}
