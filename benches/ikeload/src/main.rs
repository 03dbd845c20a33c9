//! `rampart-ikeload`: many concurrent IKEv2 initiators (rampart-ike engines) over one UDP
//! socket, against one responder. Each handshake is IKE_SA_INIT + IKE_AUTH with a PSK
//! and one Child SA, and it counts when the engine reports the Child SA up. Every
//! handshake uses a fresh engine with its own FQDN identity (`load-N.lab.example`). A
//! responder that applies INITIAL_CONTACT per identity (RFC 7296 section 2.4) therefore
//! keeps every IKE SA, and one that applies it per address keeps only the newest.
//!
//! The socket is bound to the initiators' address on port 500 (and 4500), so no NAT is
//! present; strongSwan with userspace ESP still fakes one and moves to port 4500.
//! Replies are matched to engines by the initiator's SPI.
//! A summary is printed as one JSON line on stdout.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use rampart_crypto::random::SystemRandom;
use rampart_ike::config::{
    ChildConfig, DpdConfig, EspProposal, IkeConfig, IkeProposal, LocalIdentity, PeerConfig, PeerIdValidate, Psk,
    RemotePeer, RetransmitConfig, TrafficSelector,
};
use rampart_ike::{Engine, Event};

const USAGE: &str = "usage: rampart-ikeload --local ADDR --target ADDR --group 14|19 --seconds N \
[--concurrency N] [--max N] [--psk KEY] [--timeout-secs N] [--id-offset N]

Starts IKEv2 handshakes from ADDR:500 to the responder at --target:500 for N seconds
(or until --max Child SAs are up), keeping --concurrency (default 8) in flight.
IKE proposal: AES-CBC-256, HMAC-SHA2-256-128, PRF-HMAC-SHA2-256 and the given DH group
(14 = MODP-2048, 19 = ECP-256); ESP AES-GCM-256; the PSK defaults to the lab key.
A handshake not finished after --timeout-secs (default 10) counts as failed.
Handshake N uses the identity load-(N + --id-offset).lab.example (offset default 0).";

struct Args {
    local: IpAddr,
    target: IpAddr,
    group: DhGroup,
    seconds: u64,
    concurrency: usize,
    max: u64,
    psk: String,
    timeout: Duration,
    id_offset: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut local = None;
    let mut target = None;
    let mut group = None;
    let mut seconds = None;
    let mut concurrency = 8usize;
    let mut max = u64::MAX;
    let mut psk = String::from("lab-psk-not-a-secret-0123456789");
    let mut timeout = Duration::from_secs(10);
    let mut id_offset = 0u64;

    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--local" => local = Some(value()?.parse().map_err(|e| format!("invalid --local: {e}"))?),
            "--target" => target = Some(value()?.parse().map_err(|e| format!("invalid --target: {e}"))?),
            "--group" => {
                group = Some(match value()?.as_str() {
                    "14" => DhGroup::Modp2048,
                    "19" => DhGroup::Ecp256,
                    other => return Err(format!("invalid --group {other}: expected 14 or 19")),
                })
            }
            "--seconds" => seconds = Some(value()?.parse().map_err(|e| format!("invalid --seconds: {e}"))?),
            "--concurrency" => concurrency = value()?.parse().map_err(|e| format!("invalid --concurrency: {e}"))?,
            "--max" => max = value()?.parse().map_err(|e| format!("invalid --max: {e}"))?,
            "--psk" => psk = value()?,
            "--timeout-secs" => {
                timeout = Duration::from_secs(value()?.parse().map_err(|e| format!("invalid --timeout-secs: {e}"))?)
            }
            "--id-offset" => id_offset = value()?.parse().map_err(|e| format!("invalid --id-offset: {e}"))?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }

    let missing = |name: &str| format!("missing {name}");
    Ok(Args {
        local: local.ok_or_else(|| missing("--local"))?,
        target: target.ok_or_else(|| missing("--target"))?,
        group: group.ok_or_else(|| missing("--group"))?,
        seconds: seconds.ok_or_else(|| missing("--seconds"))?,
        concurrency: concurrency.max(1),
        max,
        psk,
        timeout,
        id_offset,
    })
}

/// Builds the initiator's configuration for handshake number `n`.
fn initiator_config(args: &Args, n: u64) -> IkeConfig {
    // A distinct /32 inside 198.19.0.0/16 per handshake, so no two Child SAs overlap.
    let inner = Ipv4Addr::new(198, 19, (n >> 8) as u8, n as u8);
    let local_ts = TrafficSelector {
        protocol: 0,
        start_addr: IpAddr::V4(inner),
        end_addr: IpAddr::V4(inner),
        start_port: 0,
        end_port: 65535,
    };
    let remote_ts = TrafficSelector {
        protocol: 0,
        start_addr: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 0)),
        end_addr: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 255)),
        start_port: 0,
        end_port: 65535,
    };
    IkeConfig {
        peers: vec![PeerConfig {
            name: format!("load {n}"),
            local_addr: args.local,
            remotes: vec![RemotePeer {
                addr: args.target,
                tunnel_group: args.target.to_string(),
                remote_identity: None,
                peer_id_validate: PeerIdValidate::NoCheck,
                local_psk: Psk::new(args.psk.as_bytes()),
                remote_psk: Psk::new(args.psk.as_bytes()),
                dpd: DpdConfig { interval: None, retry: Duration::from_secs(2) },
            }],
            local_identity: LocalIdentity::Hostname(format!("load-{}.lab.example", n + args.id_offset)),
            ike_proposals: vec![IkeProposal {
                priority: 1,
                encryption: vec![Encr::AesCbc { key_bits: 256 }],
                integrity: vec![Integ::HmacSha2_256_128],
                prf: vec![Prf::HmacSha2_256],
                dh_groups: vec![args.group],
                lifetime: Duration::from_secs(86400),
            }],
            children: vec![ChildConfig {
                crypto_map: "load".into(),
                sequence: 1,
                ace: "permit ip host 198.19.0.0 203.0.113.0 255.255.255.0".into(),
                local_ts,
                remote_ts,
                proposals: vec![EspProposal {
                    name: "load".into(),
                    encryption: vec![Encr::AesGcm16 { key_bits: 256 }],
                    integrity: vec![],
                }],
                pfs: None,
                lifetime: Duration::from_secs(28800),
                lifetime_kilobytes: 0,
            }],
        }],
        retransmit: RetransmitConfig { initial_timeout: Duration::from_secs(1), max_tries: 3 },
        cookie_threshold: usize::MAX,
        fragmentation: false,
        fragment_mtu: 1280,
        force_udp_encap: false,
    }
}

/// One handshake in flight.
struct Slot {
    engine: Engine,
    started: Instant,
    spi_i: Option<u64>,
}

#[derive(Default)]
struct Totals {
    started: u64,
    established: u64,
    failed: u64,
    latencies_us: Vec<u64>,
}

struct Sockets {
    ike: UdpSocket,
    natt: UdpSocket,
}

impl Sockets {
    /// Sends an engine's datagrams; 4500 gets the 4-octet non-ESP marker (RFC 3948 2.2).
    fn send(&self, t: &rampart_ike::Transmit) {
        let result = if t.remote.port() == 4500 && !t.keepalive {
            let mut buf = Vec::with_capacity(t.payload.len() + 4);
            buf.extend_from_slice(&[0; 4]);
            buf.extend_from_slice(&t.payload);
            self.natt.send_to(&buf, t.remote)
        } else if t.remote.port() == 4500 {
            self.natt.send_to(&t.payload, t.remote)
        } else {
            self.ike.send_to(&t.payload, t.remote)
        };
        if let Err(e) = result {
            eprintln!("rampart-ikeload: sending to {} failed: {e}", t.remote);
        }
    }
}

/// Runs one slot's output: datagrams out, events counted. Returns true when the slot is
/// finished (Child SA up or failure).
fn drain(slot: &mut Slot, index: usize, sockets: &Sockets, spis: &mut HashMap<u64, usize>, totals: &mut Totals) -> bool {
    while let Some(t) = slot.engine.poll_transmit() {
        if slot.spi_i.is_none() && t.payload.len() >= 8 {
            let mut spi = [0u8; 8];
            spi.copy_from_slice(&t.payload[..8]);
            let spi = u64::from_be_bytes(spi);
            slot.spi_i = Some(spi);
            spis.insert(spi, index);
        }
        sockets.send(&t);
    }
    let mut done = false;
    while let Some(ev) = slot.engine.poll_event() {
        match ev {
            Event::ChildSaUp(_) => {
                totals.established += 1;
                totals.latencies_us.push(slot.started.elapsed().as_micros() as u64);
                done = true;
            }
            Event::Failure { reason, .. } => {
                eprintln!("rampart-ikeload: handshake failed: {reason}");
                totals.failed += 1;
                done = true;
            }
            Event::IkeSaDown { reason, .. } => {
                eprintln!("rampart-ikeload: IKE SA down before its Child SA: {reason}");
                totals.failed += 1;
                done = true;
            }
            _ => {}
        }
    }
    done
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn run(args: &Args) -> Result<Totals, String> {
    let ike = UdpSocket::bind(SocketAddr::new(args.local, 500)).map_err(|e| format!("binding {}:500 failed: {e}", args.local))?;
    let natt =
        UdpSocket::bind(SocketAddr::new(args.local, 4500)).map_err(|e| format!("binding {}:4500 failed: {e}", args.local))?;
    ike.set_read_timeout(Some(Duration::from_millis(1))).map_err(|e| format!("socket option failed: {e}"))?;
    natt.set_nonblocking(true).map_err(|e| format!("socket option failed: {e}"))?;
    let sockets = Sockets { ike, natt };

    let mut slots: Vec<Option<Slot>> = (0..args.concurrency).map(|_| None).collect();
    let mut spis: HashMap<u64, usize> = HashMap::new();
    let mut totals = Totals::default();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut buf = vec![0u8; 65536];

    loop {
        let now = Instant::now();
        let stopping = now >= deadline || totals.established + totals.failed >= args.max;
        if stopping && slots.iter().all(Option::is_none) {
            break;
        }
        if now >= deadline + args.timeout {
            break;
        }
        // Keep every slot busy until the run ends.
        for (index, slot) in slots.iter_mut().enumerate() {
            if slot.is_none() && !stopping && totals.started < args.max {
                let n = totals.started;
                totals.started += 1;
                let mut engine = Engine::new(initiator_config(args, n), Box::new(SystemRandom::new()), now);
                engine.initiate_all(now);
                let mut s = Slot { engine, started: now, spi_i: None };
                if !drain(&mut s, index, &sockets, &mut spis, &mut totals) {
                    *slot = Some(s);
                }
            }
        }
        // Datagrams from the responder, to the engine whose initiator SPI they carry.
        for natt in [false, true] {
            loop {
                let received = if natt { sockets.natt.recv_from(&mut buf) } else { sockets.ike.recv_from(&mut buf) };
                let (len, from) = match received {
                    Ok(r) => r,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                    Err(e) => return Err(format!("receive failed: {e}")),
                };
                let mut data = &buf[..len];
                if natt {
                    // Non-ESP marker; anything else on 4500 is ESP or a keepalive.
                    if data.len() < 4 || data[..4] != [0; 4] {
                        continue;
                    }
                    data = &data[4..];
                }
                if data.len() < 8 {
                    continue;
                }
                let mut spi = [0u8; 8];
                spi.copy_from_slice(&data[..8]);
                let Some(&index) = spis.get(&u64::from_be_bytes(spi)) else { continue };
                let local = SocketAddr::new(args.local, if natt { 4500 } else { 500 });
                let now = Instant::now();
                if let Some(slot) = slots[index].as_mut() {
                    slot.engine.handle_datagram(now, local, from, data);
                    if drain(slot, index, &sockets, &mut spis, &mut totals) {
                        if let Some(spi) = slot.spi_i {
                            spis.remove(&spi);
                        }
                        slots[index] = None;
                    }
                }
                if !natt {
                    // A short timeout after the first datagram drains a burst without waiting 1 ms.
                    let _ = sockets.ike.set_read_timeout(Some(Duration::from_micros(50)));
                }
            }
        }
        let _ = sockets.ike.set_read_timeout(Some(Duration::from_millis(1)));
        // Timers: retransmissions and give-ups.
        let now = Instant::now();
        for (index, slot_entry) in slots.iter_mut().enumerate() {
            let Some(slot) = slot_entry.as_mut() else { continue };
            if slot.engine.poll_timeout().is_some_and(|t| t <= now) {
                slot.engine.handle_timeout(now);
            }
            let mut finished = drain(slot, index, &sockets, &mut spis, &mut totals);
            if !finished && now.duration_since(slot.started) > args.timeout {
                eprintln!("rampart-ikeload: handshake timed out after {:?}", args.timeout);
                totals.failed += 1;
                finished = true;
            }
            if finished {
                if let Some(spi) = slot.spi_i {
                    spis.remove(&spi);
                }
                *slot_entry = None;
            }
        }
    }
    Ok(totals)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("rampart-ikeload: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let mut totals = match run(&args) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("rampart-ikeload: {e}");
            return ExitCode::from(1);
        }
    };
    let elapsed = start.elapsed().as_secs_f64();
    totals.latencies_us.sort_unstable();
    println!(
        "{{\"started\":{},\"established\":{},\"failed\":{},\"seconds\":{:.3},\"per_second\":{:.1},\"latency_ms_p50\":{:.2},\"latency_ms_p99\":{:.2}}}",
        totals.started,
        totals.established,
        totals.failed,
        elapsed,
        totals.established as f64 / elapsed,
        percentile(&totals.latencies_us, 0.5),
        percentile(&totals.latencies_us, 0.99),
    );
    ExitCode::SUCCESS
}
