//! The outbound worker: TUN device -> policy -> ESP -> outside socket.
//!
//! A batch is up to `READS_PER_BATCH` reads from the TUN device (packets, or TSO/USO
//! super-packets), kept where they were read. The worker plans the batch first: a flow
//! cache in front of the policy engine classifies each read once, clear traffic goes
//! back into the kernel, and each ESP packet to come is counted on its SA. It then
//! reserves every SA's sequence numbers in one step (see `esp_batch`) and encrypts on
//! cached SAs without the SA tables' lock. The segments of a super-packet are cut
//! straight into their ESP slots. Consecutive ESP packets to one peer with one size
//! leave in one UDP GSO send. With several TUN queues the kernel spreads flows over
//! the queues, one worker each, and the workers share a [`TicketOrder`]. A batch
//! reserves its numbers and takes its ticket in one step, and it sends after every
//! earlier ticket, so each SA's packets leave in sequence number order.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_esp::mtu::{self, Ipv4Fragmenter, MtuAction};
use rampart_esp::sa::OutboundSa;
use rampart_esp::stats::Direction;
use rampart_esp::DropReason;
use rampart_policy::{Flow, Translation, TranslationKind};
use tun_rs::SyncDevice;

use crate::clear_path::{self, Admission};
use crate::control_plane::ControlMsg;
use crate::esp_batch::{EspBatch, Reservations};
use crate::gso::Segments;
use crate::order::TicketOrder;
use crate::packet::ipv4_summary;
use crate::raw_esp::{IcmpSender, RawEsp, SendBatch};
use crate::sa_table::{ChildId, Egress, EpochCache};
use crate::shared::{PolicyState, Shared, StatsDelta};
use crate::tun::{self, Read, Stored, TunWriter, BATCH, SUPER_PACKET};
use crate::udp::OutsideUdp;

/// How long a worker blocks before it checks for shutdown.
const POLL: Duration = Duration::from_millis(200);

/// Flows remembered before the cache starts over.
const FLOW_CACHE: usize = 65_536;

/// Minimum time between two acquires for one child while it has no SA; the engine
/// backs off on its own, this only spares the control channel.
const ACQUIRE_INTERVAL: Duration = Duration::from_millis(500);

/// Reads from the TUN device per batch, so that small packets share a send.
const READS_PER_BATCH: usize = BATCH;

/// Room for the reads of one batch: a few super-packets, small enough that a read is
/// still in the CPU cache when it is encrypted.
const READ_AREA: usize = 256 * 1024;

/// Room for the ESP packets of one batch: twice the reads covers the ESP overhead of
/// the smallest packets and of fragmentation, and the last super-packet read.
const ESP_BATCH: usize = 2 * (READ_AREA + SUPER_PACKET);

/// Plain ESP packets per sendmmsg call.
const RAW_SEND_BATCH: usize = 64;

/// What the policy decided for a flow read from the TUN device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Protect with this child's SA.
    Tunnel(ChildId),
    /// Allowed in the clear (a crypto ACL deny or no crypto map match), untranslated or
    /// with a NAT rule that the kernel executes: written back into the TUN device for
    /// the kernel to translate and forward.
    Clear,
    /// `Clear` with the dynamic NAT pool of rule `.0`: written back once the source host
    /// has a pool address (`NatPools::admit`).
    ClearPool(usize),
    /// Dropped: denied by the policy, or a NAT rule the kernel rules cannot express.
    NotTunneled,
}

/// The treatment that turns one read into ESP packets.
#[derive(Clone, Copy, Debug)]
enum Protect {
    /// The `len` octets of the packet as they are, or fragmented first to at most
    /// `fragment` octets.
    Packet { len: usize, fragment: Option<usize> },
    /// Each segment of a super-packet in its own ESP packet.
    Segments,
    /// Each segment fragmented first to at most `max_len` octets, because the segments
    /// are larger than the path allows and carry no DF.
    FragmentedSegments { max_len: usize },
}

/// The ESP work planned for one read of the batch.
#[derive(Clone, Copy, Debug)]
struct Planned {
    /// Index of the read in the batch.
    read: usize,
    egress: Egress,
    /// The SA's entry in [`Reservations`].
    slot: usize,
    /// ESP packets the read becomes, and so the sequence numbers it needs.
    count: u64,
    protect: Protect,
}

pub struct Outbound {
    shared: Arc<Shared>,
    tun: Arc<SyncDevice>,
    udp: Arc<OutsideUdp>,
    raw: Option<Arc<RawEsp>>,
    /// Clear traffic going back to the kernel.
    reinject: TunWriter,
    /// Sends the ICMP errors the gateway originates.
    icmp: Option<Arc<IcmpSender>>,
    flows: HashMap<Flow, Verdict, ahash::RandomState>,
    generation: u64,
    /// NAT rules of the current policy that the clear path's kernel rules leave out.
    unsupported_nat: Vec<usize>,
    acquired: HashMap<ChildId, Instant>,
    egress: EgressCache,
    /// Whether reads from the device start with a virtio-net header.
    vnet: bool,
    /// The reads of the batch, each at the place its `stored` entry gives.
    reads: Vec<u8>,
    stored: Vec<Stored>,
    /// The ESP packets of the batch, in the order they are encrypted and sent.
    plan: Vec<Planned>,
    reservations: Reservations,
    /// Send order shared with the other outbound workers; `None` for a single worker,
    /// whose batches leave in order anyway.
    order: Option<Arc<TicketOrder>>,
    batch: EspBatch,
    raw_batch: SendBatch,
    read_errors: u64,
}

impl Outbound {
    /// Creates the worker of one TUN queue. Workers of one device share `order`, so
    /// that each SA's packets leave in sequence number order; a single worker needs none.
    pub fn new(
        shared: Arc<Shared>,
        tun: Arc<SyncDevice>,
        udp: Arc<OutsideUdp>,
        raw: Option<Arc<RawEsp>>,
        icmp: Option<Arc<IcmpSender>>,
        order: Option<Arc<TicketOrder>>,
    ) -> Outbound {
        Outbound {
            egress: EgressCache::new(shared.sa_epoch()),
            reinject: TunWriter::for_device(&tun),
            vnet: tun.tcp_gso(),
            shared,
            tun,
            udp,
            raw,
            icmp,
            flows: HashMap::with_capacity_and_hasher(1024, ahash::RandomState::new()),
            generation: u64::MAX,
            unsupported_nat: Vec::new(),
            acquired: HashMap::new(),
            reads: vec![0; READ_AREA + SUPER_PACKET],
            stored: Vec::with_capacity(READS_PER_BATCH),
            plan: Vec::with_capacity(READS_PER_BATCH),
            reservations: Reservations::with_capacity(8),
            order,
            batch: EspBatch::new(ESP_BATCH),
            raw_batch: SendBatch::new(RAW_SEND_BATCH),
            read_errors: 0,
        }
    }

    pub fn run(mut self) {
        let tun = Arc::clone(&self.tun);
        while self.shared.is_running() {
            match tun::wait_readable(&*tun, POLL) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "waiting for the TUN device failed; retrying");
                    std::thread::sleep(POLL);
                    continue;
                }
            }
            // Drain what is queued, a bounded number of batches between shutdown checks.
            for _ in 0..64 {
                let mut stats = StatsDelta::default();
                if self.fill(&tun, &mut stats) == 0 {
                    stats.flush(&self.shared);
                    break;
                }
                self.process(&mut stats);
            }
        }
    }

    /// Reads what the device has queued into the batch, up to `READS_PER_BATCH` reads or
    /// a full read area. Returns the number of reads kept.
    fn fill(&mut self, tun: &SyncDevice, stats: &mut StatsDelta) -> usize {
        self.stored.clear();
        let mut cursor = 0;
        while self.stored.len() < READS_PER_BATCH && cursor <= READ_AREA {
            match tun::read_stored(tun, self.vnet, &mut self.reads[cursor..cursor + SUPER_PACKET]) {
                Ok(None) => break,
                Ok(Some(Ok(stored))) => {
                    self.stored.push(Stored { offset: cursor + stored.offset, ..stored });
                    cursor += stored.offset + stored.len;
                }
                Ok(Some(Err(e))) => {
                    stats.drop(Direction::Outbound, DropReason::BadInnerPacket);
                    tracing::trace!(error = %e, "unusable read from the TUN device dropped");
                }
                Err(e) => {
                    // The count keeps a persistent error from flooding the log.
                    self.read_errors += 1;
                    if self.read_errors.is_power_of_two() {
                        tracing::warn!(error = %e, total = self.read_errors, "reading from the TUN device failed; retrying");
                    }
                    break;
                }
            }
        }
        self.stored.len()
    }

    /// Plans, reserves, encrypts and sends the batch that `fill` read.
    fn process(&mut self, stats: &mut StatsDelta) {
        let policy = self.begin_batch();
        let mut reads = std::mem::take(&mut self.reads);
        for index in 0..self.stored.len() {
            let stored = self.stored[index];
            match stored.read(&mut reads) {
                Read::Packet(packet) => self.plan_packet(&policy, stats, index, packet),
                Read::Segments(segments) => self.plan_segments(&policy, stats, index, &segments),
                Read::Invalid(_) => stats.drop(Direction::Outbound, DropReason::BadInnerPacket),
            }
        }
        flush_reinjected(&self.shared, &self.tun, &mut self.reinject);

        // One step for the whole batch: one atomic add per SA, and with several workers
        // the send ticket, so batches that reserve later also send later.
        let order = self.order.clone();
        let mut ticket = self.reservations.reserve(order.as_deref());
        for plan in &self.plan {
            let stored = self.stored[plan.read];
            let (sa, first) = self.reservations.take(plan.slot, plan.count);
            protect(&self.shared, stats, &mut self.batch, plan, sa, first, stored.read(&mut reads));
        }
        self.reads = reads;
        stats.flush(&self.shared);
        if let Some(ticket) = &mut ticket {
            ticket.wait();
        }
        self.send_all();
        // Dropping the ticket passes the turn to the next batch.
        drop(ticket);
    }

    /// Starts a batch: takes the current policy, and drops cached flows and SAs that
    /// changed since the last batch.
    fn begin_batch(&mut self) -> Arc<PolicyState> {
        let policy = self.shared.policy();
        if policy.generation != self.generation {
            self.flows.clear();
            self.generation = policy.generation;
            self.unsupported_nat = clear_path::unsupported_rules(policy.engine.config());
        }
        self.egress.refresh();
        self.batch.clear();
        self.plan.clear();
        self.reservations.clear();
        policy
    }

    /// Returns the policy's verdict on a flow, from the cache when the flow was seen before.
    fn verdict(&mut self, policy: &PolicyState, flow: &Flow) -> Verdict {
        if let Some(v) = self.flows.get(flow) {
            return *v;
        }
        let v = classify(policy, &self.unsupported_nat, flow);
        if self.flows.len() >= FLOW_CACHE {
            self.flows.clear();
        }
        self.flows.insert(*flow, v);
        v
    }

    /// Plans one packet: its ESP packet, its fragments, or ICMP fragmentation needed,
    /// as the path MTU and the DF bit decide.
    fn plan_packet(&mut self, policy: &PolicyState, stats: &mut StatsDelta, read: usize, packet: &mut [u8]) {
        let Some(summary) = ipv4_summary(packet) else {
            stats.drop(Direction::Outbound, DropReason::BadInnerPacket);
            return;
        };
        let Some((id, egress, sa)) = self.tunnel_egress(policy, stats, &summary.flow, &packet[..summary.total_len], 1) else {
            return;
        };
        if let Some(mss) = policy.tcp_mss {
            mtu::clamp_tcp_mss(packet, mss);
        }
        let packet = &packet[..summary.total_len];
        // Fragment before encryption unless DF is set, as the ASA's default
        // `crypto ipsec fragmentation before-encryption` does.
        let (fragment, count) = match mtu::check(packet, egress.max_inner, true) {
            MtuAction::Send => (None, 1),
            MtuAction::TooBig { mtu: next_hop_mtu } => {
                stats.drop(Direction::Outbound, DropReason::FragmentationNeeded);
                self.shared.sa().sad.record_pmtu_sent(egress.handle);
                send_frag_needed(self.icmp.as_deref(), &mut self.batch.fragment, policy, packet, next_hop_mtu);
                return;
            }
            MtuAction::Fragment { max_len } => match Ipv4Fragmenter::new(packet, max_len) {
                Ok(fragmenter) => (Some(max_len), fragmenter.fragment_count() as u64),
                Err(reason) => {
                    self.shared.sa().sad.record_pre_fragmentation_failure(egress.handle);
                    stats.drop(Direction::Outbound, reason);
                    return;
                }
            },
        };
        let slot = self.reservations.add(id, &sa, count);
        self.plan.push(Planned { read, egress, slot, count, protect: Protect::Packet { len: packet.len(), fragment } });
    }

    /// Plans the segments of a TSO/USO super-packet, whose flow is classified once.
    fn plan_segments(&mut self, policy: &PolicyState, stats: &mut StatsDelta, read: usize, segments: &Segments<'_>) {
        let count = segments.count();
        let Some(summary) = ipv4_summary(segments.packet()) else {
            for _ in 0..count {
                stats.drop(Direction::Outbound, DropReason::BadInnerPacket);
            }
            return;
        };
        match self.verdict(policy, &summary.flow) {
            Verdict::ClearPool(rule) if !admitted(&self.shared, rule, &summary.flow) => {
                self.shared.not_tunneled.fetch_add(count as u64, Ordering::Relaxed);
                return;
            }
            Verdict::Clear | Verdict::ClearPool(_) => {
                self.reinject_segments(segments);
                return;
            }
            Verdict::Tunnel(_) | Verdict::NotTunneled => {}
        }
        let Some((id, egress, sa)) = self.tunnel_egress(policy, stats, &summary.flow, &[], count) else {
            return;
        };
        if segments.segment_len(0) <= egress.max_inner {
            let slot = self.reservations.add(id, &sa, count as u64);
            self.plan.push(Planned { read, egress, slot, count: count as u64, protect: Protect::Segments });
            return;
        }

        // The segments are too big for the path: the first one decides for all, because
        // they share DF and none is longer.
        let mut segment = std::mem::take(&mut self.batch.segment);
        let first = segments.write(0, &mut segment);
        let mut planned = None;
        match mtu::check(&segment[..first], egress.max_inner, true) {
            MtuAction::Send => {}
            MtuAction::TooBig { mtu: next_hop_mtu } => {
                for _ in 0..count {
                    stats.drop(Direction::Outbound, DropReason::FragmentationNeeded);
                }
                self.shared.sa().sad.record_pmtu_sent(egress.handle);
                send_frag_needed(self.icmp.as_deref(), &mut self.batch.fragment, policy, &segment[..first], next_hop_mtu);
            }
            MtuAction::Fragment { max_len } => {
                let mut fragments = 0;
                for index in 0..count {
                    let len = segments.write(index, &mut segment);
                    match Ipv4Fragmenter::new(&segment[..len], max_len) {
                        Ok(fragmenter) => fragments += fragmenter.fragment_count() as u64,
                        Err(reason) => {
                            self.shared.sa().sad.record_pre_fragmentation_failure(egress.handle);
                            stats.drop(Direction::Outbound, reason);
                            fragments = 0;
                            break;
                        }
                    }
                }
                if fragments > 0 {
                    planned = Some((fragments, max_len));
                }
            }
        }
        self.batch.segment = segment;
        if let Some((fragments, max_len)) = planned {
            let slot = self.reservations.add(id, &sa, fragments);
            self.plan.push(Planned { read, egress, slot, count: fragments, protect: Protect::FragmentedSegments { max_len } });
        }
    }

    /// Writes the segments of a clear super-packet back into the TUN device, where the
    /// coalescing writer joins them again.
    fn reinject_segments(&mut self, segments: &Segments<'_>) {
        let mut segment = std::mem::take(&mut self.batch.segment);
        for index in 0..segments.count() {
            self.shared.clear_forwarded.fetch_add(1, Ordering::Relaxed);
            if self.reinject.is_full() {
                flush_reinjected(&self.shared, &self.tun, &mut self.reinject);
            }
            let len = segments.write(index, &mut segment);
            self.reinject.push(&segment[..len]);
        }
        self.batch.segment = segment;
    }

    /// Applies the policy to a flow of `packets` packets. Returns the child and the SA
    /// that protect it; clear packets go back into the TUN device (`packet`, unless
    /// empty), and everything else is counted.
    fn tunnel_egress(
        &mut self,
        policy: &PolicyState,
        stats: &mut StatsDelta,
        flow: &Flow,
        packet: &[u8],
        packets: usize,
    ) -> Option<(ChildId, Egress, Arc<OutboundSa>)> {
        let id = match self.verdict(policy, flow) {
            Verdict::Tunnel(id) => id,
            Verdict::ClearPool(rule) if !admitted(&self.shared, rule, flow) => {
                self.shared.not_tunneled.fetch_add(packets as u64, Ordering::Relaxed);
                return None;
            }
            Verdict::Clear | Verdict::ClearPool(_) => {
                self.shared.clear_forwarded.fetch_add(1, Ordering::Relaxed);
                if self.reinject.is_full() {
                    flush_reinjected(&self.shared, &self.tun, &mut self.reinject);
                }
                self.reinject.push(packet);
                return None;
            }
            Verdict::NotTunneled => {
                self.shared.not_tunneled.fetch_add(packets as u64, Ordering::Relaxed);
                return None;
            }
        };
        match self.egress.lookup(&self.shared, id, policy.outside_mtu) {
            Some((egress, sa)) => Some((id, egress, sa)),
            None => {
                for _ in 0..packets {
                    stats.drop(Direction::Outbound, DropReason::MissingSa);
                }
                request_sa(&self.shared, &mut self.acquired, id);
                None
            }
        }
    }

    /// Sends the batch and empties it: runs of ESP-in-UDP packets to one peer with one
    /// size become a single GSO send.
    fn send_all(&mut self) {
        let max_segments = self.udp.nat_t.max_gso_segments().max(1);
        let mut i = 0;
        while i < self.batch.sends.len() {
            let first = &self.batch.sends[i];
            if !first.udp_encap {
                // A run of plain ESP packets leaves with one sendmmsg.
                let end = i + self.batch.sends[i..].iter().take_while(|s| !s.udp_encap).count();
                if let Some(raw) = &self.raw {
                    let out = &self.batch.out;
                    let mut packets =
                        self.batch.sends[i..end].iter().map(|s| (&out[s.start..s.start + s.len], s.remote.ip())).peekable();
                    // Each call consumes up to RAW_SEND_BATCH packets, sent or not.
                    while packets.peek().is_some() {
                        if let Err(e) = raw.send_many(&mut self.raw_batch, packets.by_ref().take(RAW_SEND_BATCH)) {
                            self.count_send_error(first.remote, &e);
                        }
                    }
                }
                i = end;
                continue;
            }
            // Packets of a run are contiguous in `out`, equal in size except the last,
            // and stay under 64 KiB together, as UDP GSO requires.
            let mut end = i + 1;
            let mut total = first.len;
            while end < self.batch.sends.len()
                && end - i < max_segments
                && self.batch.sends[end].udp_encap
                && self.batch.sends[end].remote == first.remote
                && self.batch.sends[end].start == self.batch.sends[end - 1].start + self.batch.sends[end - 1].len
                && self.batch.sends[end - 1].len == first.len
                && self.batch.sends[end].len <= first.len
                && total + self.batch.sends[end].len <= 65_000
            {
                total += self.batch.sends[end].len;
                end += 1;
            }
            let contents = &self.batch.out[first.start..first.start + total];
            let segment = if end - i > 1 { Some(first.len) } else { None };
            if let Err(e) = self.udp.nat_t.send(first.remote, contents, segment) {
                self.count_send_error(first.remote, &e);
            }
            i = end;
        }
        self.batch.clear();
    }

    fn count_send_error(&self, remote: SocketAddr, e: &std::io::Error) {
        let errors = self.shared.send_errors.fetch_add(1, Ordering::Relaxed);
        // Log the first error and then one in a thousand, so a dead link cannot flood
        // the log.
        if errors.is_multiple_of(1000) {
            tracing::warn!(%remote, error = %e, total = errors + 1, "sending ESP failed");
        }
    }
}

/// Encrypts the planned read on the sequence numbers from `first` on.
fn protect(shared: &Shared, stats: &mut StatsDelta, batch: &mut EspBatch, plan: &Planned, sa: &OutboundSa, first: u64, read: Read<'_>) {
    match (plan.protect, read) {
        (Protect::Packet { len, fragment: None }, Read::Packet(packet)) => {
            batch.encapsulate(stats, plan.egress, sa, &packet[..len], first);
        }
        (Protect::Packet { len, fragment: Some(max_len) }, Read::Packet(packet)) => {
            batch.fragment_and_encapsulate(shared, stats, plan.egress, sa, &packet[..len], max_len, first, plan.count);
        }
        (Protect::Segments, Read::Segments(segments)) => {
            for index in 0..segments.count() {
                batch.encapsulate_segment(stats, plan.egress, sa, &segments, index, first + index as u64);
            }
        }
        (Protect::FragmentedSegments { max_len }, Read::Segments(segments)) => {
            let mut segment = std::mem::take(&mut batch.segment);
            let mut seq = first;
            for index in 0..segments.count() {
                let len = segments.write(index, &mut segment);
                let Ok(fragmenter) = Ipv4Fragmenter::new(&segment[..len], max_len) else { break };
                let count = (fragmenter.fragment_count() as u64).min(first + plan.count - seq);
                batch.fragment_and_encapsulate(shared, stats, plan.egress, sa, &segment[..len], max_len, seq, count);
                seq += count;
            }
            batch.segment = segment;
        }
        // The plan was made from this same read, so the kinds always match.
        _ => stats.drop(Direction::Outbound, DropReason::BadInnerPacket),
    }
}

/// A worker's copy of the egress of each child it sends on.
type EgressCache = EpochCache<ChildId, Option<(Egress, Arc<OutboundSa>)>>;

impl EgressCache {
    /// Returns the child's egress, taking the lock only on a miss. A child without an SA
    /// is remembered too, until the epoch moves with its install.
    fn lookup(&mut self, shared: &Shared, id: ChildId, interface_mtu: u16) -> Option<(Egress, Arc<OutboundSa>)> {
        let entry = self.entries.entry(id).or_insert_with(|| shared.sa().egress_sa(id, interface_mtu));
        entry.as_ref().map(|(egress, sa)| (*egress, Arc::clone(sa)))
    }
}

/// Sends an ICMP fragmentation-needed error for `packet` from the gateway's inside
/// address (RFC 1191).
fn send_frag_needed(icmp: Option<&IcmpSender>, scratch: &mut [u8], policy: &PolicyState, packet: &[u8], next_hop_mtu: u16) {
    let (Some(icmp), Some(IpAddr::V4(gateway))) = (icmp, policy.inside_addr) else { return };
    let Some(len) = mtu::icmp_frag_needed(packet, next_hop_mtu, gateway, scratch) else { return };
    if let Err(e) = icmp.send(&scratch[..len]) {
        tracing::debug!(error = %e, "sending ICMP fragmentation needed failed");
    }
}

/// Asks the control plane for an SA, at most once per `ACQUIRE_INTERVAL` per child.
fn request_sa(shared: &Shared, acquired: &mut HashMap<ChildId, Instant>, id: ChildId) {
    let now = Instant::now();
    if acquired.get(&id).is_some_and(|last| now.duration_since(*last) < ACQUIRE_INTERVAL) {
        return;
    }
    acquired.insert(id, now);
    let _ = shared.control.send(ControlMsg::Acquire { peer: id.0, child: id.1 });
}

/// Decides what happens to an allowed flow outside every tunnel. The kernel forwards
/// it untranslated or applies its NAT rule: the clear path's nftables table holds every
/// NAT rule of the policy in the engine's order, for packets from the TUN device, except
/// the rules in `unsupported`, whose flows are dropped rather than sent untranslated.
fn clear_verdict(unsupported: &[usize], flow: &Flow, translation: Option<&Translation>) -> Verdict {
    match translation {
        Some(t) if unsupported.contains(&t.rule) => {
            tracing::debug!(%flow, kind = ?t.kind, rule = t.rule, "clear flow dropped: the kernel cannot execute its NAT rule");
            Verdict::NotTunneled
        }
        Some(t) if matches!(t.kind, TranslationKind::DynamicNat { .. }) => Verdict::ClearPool(t.rule),
        _ => Verdict::Clear,
    }
}

/// Asks the pool allocator whether the flow's source host has (or now gets) an
/// address of rule `rule`'s pool.
fn admitted(shared: &Shared, rule: usize, flow: &Flow) -> bool {
    let IpAddr::V4(host) = flow.src else { return false };
    shared.nat_pools().admit(rule, host, Instant::now()) == Admission::Pass
}

/// Writes the queued clear packets into the TUN device.
fn flush_reinjected(shared: &Shared, tun: &SyncDevice, writer: &mut TunWriter) {
    if let Err(e) = writer.flush(tun) {
        let errors = shared.tun_write_errors.fetch_add(1, Ordering::Relaxed);
        if errors.is_multiple_of(1000) {
            tracing::warn!(error = %e, total = errors + 1, "writing clear traffic back into the TUN device failed");
        }
    }
}

/// Runs the policy on a new flow. A crypto map match names the engine's peer by the
/// entry's "MAP SEQ" and the child by the permit entry's index.
fn classify(policy: &PolicyState, unsupported_nat: &[usize], flow: &Flow) -> Verdict {
    let ingress = policy.ingress_for(flow.src);
    let decision = policy.engine.evaluate(flow, ingress, false);
    if !decision.allowed {
        tracing::debug!(%flow, ingress, reason = ?decision.drop_reason, "flow denied by the policy");
        return Verdict::NotTunneled;
    }
    let Some(vpn) = decision.vpn else {
        return clear_verdict(unsupported_nat, flow, decision.translated.as_ref());
    };
    let name = format!("{} {}", vpn.map, vpn.sequence);
    let Some(&peer) = policy.peer_by_entry.get(&name) else {
        tracing::warn!(%flow, entry = %name, "crypto map entry has no IKE peer; flow not tunneled");
        return Verdict::NotTunneled;
    };
    if policy.child_entries.get(peer).is_none_or(|c| vpn.permit_index >= c.len()) {
        tracing::warn!(%flow, entry = %name, permit = vpn.permit_index, "crypto ACL permit entry has no Child SA template; flow not tunneled");
        return Verdict::NotTunneled;
    }
    tracing::debug!(%flow, entry = %name, permit = vpn.permit_index, "flow tunneled");
    Verdict::Tunnel((peer, vpn.permit_index))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow() -> Flow {
        Flow { protocol: 17, src: "10.10.1.5".parse().unwrap(), dst: "203.0.113.9".parse().unwrap(), src_port: 5000, dst_port: 53 }
    }

    fn translation(rule: usize, kind: TranslationKind) -> Translation {
        Translation { flow: flow(), rule, kind, reverse: false }
    }

    fn verdict(unsupported: &[usize], translation: Option<Translation>) -> Verdict {
        clear_verdict(unsupported, &flow(), translation.as_ref())
    }

    #[test]
    fn clear_untranslated() {
        assert_eq!(verdict(&[], None), Verdict::Clear);
    }

    #[test]
    fn clear_static_nat() {
        assert_eq!(verdict(&[], Some(translation(0, TranslationKind::Static))), Verdict::Clear);
    }

    #[test]
    fn clear_pool_nat() {
        assert_eq!(verdict(&[], Some(translation(2, TranslationKind::DynamicNat { pool: Vec::new() }))), Verdict::ClearPool(2));
    }

    #[test]
    fn clear_pat_to_other_address() {
        let kind = TranslationKind::DynamicPat { address: "203.0.113.7".parse().unwrap() };
        assert_eq!(verdict(&[], Some(translation(1, kind))), Verdict::Clear);
    }

    #[test]
    fn clear_unsupported_rule_dropped() {
        assert_eq!(verdict(&[3], Some(translation(3, TranslationKind::Static))), Verdict::NotTunneled);
    }
}
