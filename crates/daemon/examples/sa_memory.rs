//! Live heap per established responder IKE SA with one Child SA, as the gateway holds
//! it: the IKE engine's state plus the data plane's ESP SAs, counted by glibc's
//! `mallinfo2()` so that AWS-LC's C allocations count too.
//!
//! `cargo run --release -p rampart-daemon --example sa_memory [IKE_SAS]`
//!
//! The responder uses the proposal of benches/handshakes.sh (AES-CBC-256, HMAC-SHA2-256,
//! PRF-HMAC-SHA2-256, ECP-256; ESP AES-GCM-256). Each initiator runs in its own engine,
//! which is dropped after its handshake, so only the responder's state remains.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use rampart_crypto::cipher::SaCipher;
use rampart_crypto::random::SystemRandom;
use rampart_daemon::memory::{self, MemoryUsage};
use rampart_daemon::sa_table::SaTables;
use rampart_ike::config::*;
use rampart_ike::{ChildSaKeys, Engine, Event};

const RESPONDER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
/// The default of `rampart run --replay-window`.
const REPLAY_WINDOW: u32 = 1024;

fn initiator_addr(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, (i / 250) as u8, (i % 250 + 1) as u8))
}

fn peer(local: IpAddr, remote: IpAddr) -> PeerConfig {
    PeerConfig {
        name: format!("peer {remote}"),
        local_addr: local,
        remotes: vec![RemotePeer {
            addr: remote,
            tunnel_group: remote.to_string(),
            remote_identity: None,
            peer_id_validate: PeerIdValidate::NoCheck,
            local_psk: Psk::new(b"memory-key".to_vec()),
            remote_psk: Psk::new(b"memory-key".to_vec()),
            dpd: DpdConfig { interval: None, retry: Duration::from_secs(2) },
        }],
        local_identity: LocalIdentity::Auto,
        ike_proposals: vec![IkeProposal {
            priority: 1,
            encryption: vec![Encr::AesCbc { key_bits: 256 }],
            integrity: vec![Integ::HmacSha2_256_128],
            prf: vec![Prf::HmacSha2_256],
            dh_groups: vec![DhGroup::Ecp256],
            lifetime: Duration::from_secs(86400),
        }],
        children: vec![ChildConfig {
            crypto_map: "memory".into(),
            sequence: 1,
            ace: "permit ip any any".into(),
            local_ts: TrafficSelector::any_v4(),
            remote_ts: TrafficSelector::any_v4(),
            proposals: vec![EspProposal {
                name: "gcm".into(),
                encryption: vec![Encr::AesGcm16 { key_bits: 256 }],
                integrity: vec![],
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
        fragmentation: true,
        fragment_mtu: 1280,
        force_udp_encap: false,
    }
}

/// Runs one handshake from a fresh initiator at `addr`; returns the responder's
/// Child SA keys.
fn handshake(responder: &mut Engine, addr: IpAddr, now: Instant) -> Option<ChildSaKeys> {
    let mut initiator = Engine::new(config(vec![peer(addr, RESPONDER)]), Box::new(SystemRandom::new()), now);
    initiator.initiate_all(now);
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
    let mut keys = None;
    while let Some(event) = responder.poll_event() {
        if let Event::ChildSaUp(k) = event {
            keys = Some(k);
        }
    }
    keys
}

fn per_sa(before: MemoryUsage, after: MemoryUsage, n: usize) -> i64 {
    (after.heap_used as i64 - before.heap_used as i64) / n.max(1) as i64
}

/// Heap of `n` values built by `build`, per value.
fn cost_of<T>(n: usize, build: impl Fn() -> T) -> i64 {
    let before = MemoryUsage::now();
    let kept: Vec<T> = (0..n).map(|_| build()).collect();
    let after = MemoryUsage::now();
    let vec_bytes = (kept.capacity() * std::mem::size_of::<T>()) as i64;
    drop(kept);
    (after.heap_used as i64 - before.heap_used as i64 - vec_bytes) / n as i64
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(500);
    let now = Instant::now();
    let peers = (0..n).map(|i| peer(RESPONDER, initiator_addr(i))).collect();
    let mut responder = Engine::new(config(peers), Box::new(SystemRandom::new()), now);
    let mut tables = SaTables::new();
    // One warm-up SA brings the engine's and the SAD's tables past their first growth.
    let warm = handshake(&mut responder, initiator_addr(n), now);

    // The Child SA keys wait in a vector allocated before the measurement starts, and
    // their own heap (keys, selectors) is subtracted once they are dropped.
    let mut children = Vec::with_capacity(n);
    memory::trim();
    let start = MemoryUsage::now();
    for i in 0..n {
        children.extend(handshake(&mut responder, initiator_addr(i), now));
    }
    let handshakes_done = MemoryUsage::now();
    for keys in &children {
        if let Err(e) = tables.install(keys, REPLAY_WINDOW, now) {
            eprintln!("installing a Child SA failed: {e}");
        }
    }
    let installed = MemoryUsage::now();
    let child_count = children.len();
    children.clear();
    let end = MemoryUsage::now();
    let sas = responder.ike_sas(now).len().saturating_sub(usize::from(warm.is_some()));

    let sad = per_sa(handshakes_done, installed, child_count);
    let total = per_sa(start, end, sas);
    println!("IKE SAs established: {sas}, Child SAs installed: {child_count}");
    println!("IKE engine, per IKE SA:               {:>6} B", total - sad);
    println!("data plane (SAD), per Child SA:       {sad:>6} B");
    println!("total, per IKE SA with one Child SA:  {total:>6} B");
    memory::trim();
    let trimmed = MemoryUsage::now();
    println!("resident set growth, per IKE SA:      {:>6} B", (trimmed.rss as i64 - start.rss as i64) / sas.max(1) as i64);
    println!("IKE engine by component, per IKE SA (sizes and capacities, without malloc headers):");
    for (name, bytes) in responder.heap_breakdown() {
        println!("  {name:<36} {:>6} B", bytes / sas.max(1));
    }
    let cbc = || SaCipher::new(Encr::AesCbc { key_bits: 256 }, Some(Integ::HmacSha2_256_128), &[7; 32], &[9; 32]);
    let gcm = || SaCipher::new(Encr::AesGcm16 { key_bits: 256 }, None, &[7; 36], &[]);
    println!("one AES-CBC-256 + HMAC-SHA2-256 SaCipher: {:>6} B", cost_of(200, cbc));
    println!("one AES-GCM-256 SaCipher:                 {:>6} B", cost_of(200, gcm));
}
