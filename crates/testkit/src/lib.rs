//! Simulated network and virtual clock for driving IKEv2 engines in tests.
//!
//! [`Sim`] owns several [`Engine`]s, each reachable at its own addresses, and moves
//! their datagrams over a [`Network`] that can drop, duplicate, delay (and so reorder)
//! packets, and rewrite the addresses of one node as a NAT would. Time is virtual: the
//! simulation jumps to the next packet delivery or engine deadline, so an hour of
//! lifetimes runs in milliseconds. Every random choice comes from seeded generators,
//! so a failing run replays exactly.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use rampart_crypto::random::{Random, TestRandom};
use rampart_ike::config::IkeConfig;
use rampart_ike::{Engine, Event, Transmit};

/// A small deterministic generator (SplitMix64) for network impairments.
#[derive(Clone, Debug)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> SimRng {
        SimRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p` (0.0 to 1.0).
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Octets in an IKE nonce as the engine sends it.
const NONCE_LEN: usize = 32;

/// A handle that fixes the first octet of a node's 32-octet random fills while it is
/// set. That is the engine's nonce length, so a test decides which node's nonces sort
/// lowest, as a simultaneous rekey needs (RFC 7296 section 2.8). MODP and ECP-256
/// private keys have the same length and get the octet too, which keeps them valid
/// for the MODP groups, but can push an ECP-256 key past the group order for 0xFF.
#[derive(Clone, Debug, Default)]
pub struct NonceLead(Arc<AtomicU16>);

impl NonceLead {
    /// Sets the first octet of the following 32-octet fills, or stops fixing it.
    pub fn set(&self, lead: Option<u8>) {
        let v = lead.map_or(0, |b| 0x100 | u16::from(b));
        self.0.store(v, Ordering::Relaxed);
    }

    fn get(&self) -> Option<u8> {
        let v = self.0.load(Ordering::Relaxed);
        // Bit 8 marks a set value; the low octet is the value itself.
        (v & 0x100 != 0).then_some((v & 0xff) as u8)
    }
}

/// The seeded test random source with a [`NonceLead`] applied.
struct SteeredRandom {
    inner: TestRandom,
    lead: NonceLead,
}

impl Random for SteeredRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        self.inner.fill(buf);
        if buf.len() == NONCE_LEN
            && let Some(b) = self.lead.get()
        {
            buf[0] = b;
        }
    }
}

/// A datagram on the simulated wire, with addresses as seen on the wire.
#[derive(Clone, Debug)]
pub struct Packet {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub payload: Vec<u8>,
    pub keepalive: bool,
}

impl Packet {
    /// Returns the exchange type and Response flag from the IKE header, or None for a
    /// NAT-T keepalive or a datagram too short for the header (RFC 7296 3.1).
    pub fn ike_exchange(&self) -> Option<(u8, bool)> {
        if self.keepalive {
            return None;
        }
        let exchange = *self.payload.get(18)?;
        let flags = *self.payload.get(19)?;
        Some((exchange, flags & 0x20 != 0))
    }
}

pub type PacketFilter = Box<dyn FnMut(&Packet) -> bool>;
pub type PacketTamper = Box<dyn FnMut(&mut Packet)>;
pub type PacketDelay = Box<dyn FnMut(&Packet) -> Duration>;

/// Network impairments; all default to a perfect network with 1 ms latency.
pub struct Network {
    pub drop_rate: f64,
    pub duplicate_rate: f64,
    pub latency: Duration,
    /// Extra random delay up to this value; non-zero values reorder packets.
    pub jitter: Duration,
    /// Packets for which this returns true are dropped (after NAT rewriting).
    pub filter: Option<PacketFilter>,
    /// Called on every packet before it is queued; may rewrite it in flight.
    pub tamper: Option<PacketTamper>,
    /// Extra delay for single packets, added to latency and jitter; delaying one
    /// packet lets later ones overtake it.
    pub delay: Option<PacketDelay>,
    rng: SimRng,
    in_flight: Vec<(Instant, u64, Packet)>,
    sequence: u64,
}

impl Network {
    pub fn new(seed: u64) -> Network {
        Network {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            latency: Duration::from_millis(1),
            jitter: Duration::ZERO,
            filter: None,
            tamper: None,
            delay: None,
            rng: SimRng::new(seed),
            in_flight: Vec::new(),
            sequence: 0,
        }
    }

    fn send(&mut self, now: Instant, mut packet: Packet) {
        if let Some(t) = self.tamper.as_mut() {
            t(&mut packet);
        }
        if self.filter.as_mut().is_some_and(|f| f(&packet)) || self.rng.chance(self.drop_rate) {
            return;
        }
        let copies = if self.rng.chance(self.duplicate_rate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let jitter = if self.jitter.is_zero() {
                0
            } else {
                self.rng.next_u64() % (self.jitter.as_micros() as u64 + 1)
            };
            let extra = self.delay.as_mut().map_or(Duration::ZERO, |d| d(&packet));
            let at = now + self.latency + Duration::from_micros(jitter) + extra;
            self.sequence += 1;
            self.in_flight.push((at, self.sequence, packet.clone()));
        }
    }

    fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.iter().map(|(t, _, _)| *t).min()
    }

    fn pop_due(&mut self, now: Instant) -> Option<Packet> {
        let i = self
            .in_flight
            .iter()
            .enumerate()
            .filter(|(_, (t, _, _))| *t <= now)
            .min_by_key(|(_, (t, s, _))| (*t, *s))
            .map(|(i, _)| i)?;
        Some(self.in_flight.swap_remove(i).2)
    }
}

/// A source NAT in front of one node: its private address appears as `public`, each
/// private port mapped to `port + port_offset`.
#[derive(Clone, Copy, Debug)]
pub struct Nat {
    pub node: usize,
    pub private: IpAddr,
    pub public: IpAddr,
    pub port_offset: u16,
}

pub struct Node {
    pub engine: Engine,
    pub addrs: Vec<IpAddr>,
    /// Every event the engine emitted, in order.
    pub events: Vec<Event>,
    /// Every datagram the engine sent, as it left the engine.
    pub sent: Vec<Transmit>,
    /// Set to stop delivering to and from this node (a crashed or silent peer).
    pub down: bool,
    /// Fixes the first octet of this node's nonces; kept across restarts.
    pub nonce_lead: NonceLead,
}

fn steered(seed: u64, lead: &NonceLead) -> Box<dyn Random> {
    Box::new(SteeredRandom {
        inner: TestRandom::new(seed),
        lead: lead.clone(),
    })
}

pub struct Sim {
    pub now: Instant,
    pub nodes: Vec<Node>,
    pub net: Network,
    pub nat: Option<Nat>,
    /// More NATs, for several nodes behind one public address; give each a distinct
    /// `port_offset` so replies find their node.
    pub more_nats: Vec<Nat>,
}

impl Sim {
    pub fn new(seed: u64) -> Sim {
        Sim {
            now: Instant::now(),
            nodes: Vec::new(),
            net: Network::new(seed),
            nat: None,
            more_nats: Vec::new(),
        }
    }

    /// Adds an engine with a deterministic random source; returns its index.
    pub fn add_node(&mut self, config: IkeConfig, addrs: Vec<IpAddr>, seed: u64) -> usize {
        let nonce_lead = NonceLead::default();
        let engine = Engine::new(config, steered(seed, &nonce_lead), self.now);
        self.nodes.push(Node {
            engine,
            addrs,
            events: Vec::new(),
            sent: Vec::new(),
            down: false,
            nonce_lead,
        });
        self.nodes.len() - 1
    }

    /// Replaces node `i`'s engine with a fresh one, as after a restart.
    pub fn restart_node(&mut self, i: usize, config: IkeConfig, seed: u64) {
        let random = steered(seed, &self.nodes[i].nonce_lead);
        self.nodes[i].engine = Engine::new(config, random, self.now);
        self.nodes[i].down = false;
    }

    fn collect(&mut self) {
        for i in 0..self.nodes.len() {
            while let Some(ev) = self.nodes[i].engine.poll_event() {
                self.nodes[i].events.push(ev);
            }
            while let Some(t) = self.nodes[i].engine.poll_transmit() {
                self.nodes[i].sent.push(t.clone());
                if self.nodes[i].down {
                    continue;
                }
                let mut packet = Packet {
                    from: t.local,
                    to: t.remote,
                    payload: t.payload,
                    keepalive: t.keepalive,
                };
                let nat = self
                    .nats()
                    .find(|n| n.node == i && packet.from.ip() == n.private);
                if let Some(nat) = nat {
                    packet.from = SocketAddr::new(
                        nat.public,
                        packet.from.port().wrapping_add(nat.port_offset),
                    );
                }
                self.net.send(self.now, packet);
            }
        }
    }

    fn deliver(&mut self, mut packet: Packet) {
        // With several NATs on one public address, the port selects the NAT.
        let to = packet.to;
        let unmapped = |n: &Nat| {
            let port = to.port().wrapping_sub(n.port_offset);
            n.public == to.ip() && (port == 500 || port == 4500)
        };
        let nat = self
            .nats()
            .find(|n| unmapped(n))
            .or_else(|| self.nats().find(|n| n.public == to.ip()));
        if let Some(nat) = nat {
            packet.to =
                SocketAddr::new(nat.private, packet.to.port().wrapping_sub(nat.port_offset));
        }
        if packet.keepalive {
            return;
        }
        let Some(i) = self
            .nodes
            .iter()
            .position(|n| n.addrs.contains(&packet.to.ip()))
        else {
            return;
        };
        if self.nodes[i].down {
            return;
        }
        self.nodes[i]
            .engine
            .handle_datagram(self.now, packet.to, packet.from, &packet.payload);
    }

    fn nats(&self) -> impl Iterator<Item = Nat> + '_ {
        self.nat.iter().chain(self.more_nats.iter()).copied()
    }

    /// Advances to the next packet or timer no later than `deadline`. Returns false
    /// when nothing is scheduled before `deadline`.
    pub fn step(&mut self, deadline: Instant) -> bool {
        self.collect();
        let timers = self
            .nodes
            .iter_mut()
            .filter(|n| !n.down)
            .filter_map(|n| n.engine.poll_timeout())
            .min();
        let next = [self.net.next_delivery(), timers]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next.filter(|t| *t <= deadline) else {
            self.now = self.now.max(deadline);
            return false;
        };
        self.now = self.now.max(next);
        while let Some(p) = self.net.pop_due(self.now) {
            self.deliver(p);
            self.collect();
        }
        for i in 0..self.nodes.len() {
            if !self.nodes[i].down
                && self.nodes[i]
                    .engine
                    .poll_timeout()
                    .is_some_and(|t| t <= self.now)
            {
                self.nodes[i].engine.handle_timeout(self.now);
            }
        }
        self.collect();
        true
    }

    /// Runs the simulation for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let deadline = self.now + d;
        let mut steps = 0u64;
        while self.step(deadline) {
            steps += 1;
            // A runaway loop (an engine asking for a timeout in the past forever)
            // fails the test instead of hanging it.
            assert!(steps < 10_000_000, "simulation did not settle");
        }
    }

    /// Runs until `pred` is true or `limit` of virtual time passed, and returns the
    /// final value of `pred`.
    pub fn run_until(&mut self, limit: Duration, mut pred: impl FnMut(&Sim) -> bool) -> bool {
        let deadline = self.now + limit;
        loop {
            if pred(self) {
                return true;
            }
            if !self.step(deadline) {
                return pred(self);
            }
        }
    }

    pub fn call(&mut self, i: usize, f: impl FnOnce(&mut Engine, Instant)) {
        let now = self.now;
        f(&mut self.nodes[i].engine, now);
        self.collect();
    }
}
