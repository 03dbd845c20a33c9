//! The outbound worker: TUN device -> policy -> ESP -> outside socket.
//!
//! Each batch is one or more TUN reads (packets, or the segments of TSO/USO
//! super-packets). A flow cache in front of the policy engine classifies the packets,
//! they are encapsulated on cached SAs without the SA tables' lock, and consecutive ESP
//! packets to one peer with one size leave in one UDP GSO send. With several TUN
//! queues the kernel spreads flows over the queues, one worker thread each.
//!
//! NOTE: workers on different queues take sequence numbers of one SA in parallel and
//! send their batches independently, so the SA's packets can leave out of sequence
//! order. That is why one queue is the default.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_esp::stats::Direction;
use rampart_esp::mtu::{self, Ipv4Fragmenter, MtuAction};
use rampart_crypto::alg::Encr;
use rampart_esp::sa::OutboundSa;
use rampart_esp::DropReason;
use rampart_policy::{Flow, Translation, TranslationKind};
use tun_rs::SyncDevice;

use crate::clear_path::{self, Admission};
use crate::control_plane::ControlMsg;
use crate::packet::ipv4_summary;
use crate::raw_esp::{IcmpSender, RawEsp, SendBatch};
use crate::sa_table::{ChildId, Egress, EpochCache};
use crate::shared::{PolicyState, Shared, StatsDelta};
use crate::tun::{self, TunReader, TunWriter, BATCH};
use crate::udp::OutsideUdp;

/// How long a worker blocks before it checks for shutdown.
const POLL: Duration = Duration::from_millis(200);

/// Flows remembered before the cache starts over.
const FLOW_CACHE: usize = 65_536;

/// Minimum time between two acquires for one child while it has no SA; the engine
/// backs off on its own, this only spares the control channel.
const ACQUIRE_INTERVAL: Duration = Duration::from_millis(500);

/// Extra room at the end of a batch's ESP buffer for the fragments of one 64 KiB inner
/// packet and their ESP overhead.
const ESP_SLOT: usize = 80 * 1024;

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

struct PendingSend {
    start: usize,
    len: usize,
    remote: SocketAddr,
    udp_encap: bool,
}

pub struct Outbound {
    shared: Arc<Shared>,
    tun: Arc<SyncDevice>,
    udp: Arc<OutsideUdp>,
    raw: Option<Arc<RawEsp>>,
    reader: TunReader,
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
    batch: EspBatch,
    raw_batch: SendBatch,
}

/// The ESP packets of one batch, back to back in `out` so that runs to one peer can
/// leave in one GSO send.
struct EspBatch {
    out: Vec<u8>,
    sends: Vec<PendingSend>,
    cursor: usize,
    /// Scratch space for one fragment or one ICMP error.
    fragment: Vec<u8>,
}

impl Outbound {
    pub fn new(
        shared: Arc<Shared>,
        tun: Arc<SyncDevice>,
        udp: Arc<OutsideUdp>,
        raw: Option<Arc<RawEsp>>,
        icmp: Option<Arc<IcmpSender>>,
        mtu: u16,
    ) -> Outbound {
        Outbound {
            egress: EgressCache::new(shared.sa_epoch()),
            shared,
            tun,
            udp,
            raw,
            reader: TunReader::new(mtu),
            icmp,
            reinject: TunWriter::new(mtu),
            flows: HashMap::with_capacity_and_hasher(1024, ahash::RandomState::new()),
            generation: u64::MAX,
            unsupported_nat: Vec::new(),
            acquired: HashMap::new(),
            raw_batch: SendBatch::new(RAW_SEND_BATCH),
            batch: EspBatch {
                // One slot per packet of a batch, plus the fragments of the largest packet.
                out: vec![0; BATCH * 4096 + ESP_SLOT],
                sends: Vec::with_capacity(BATCH * 2),
                cursor: 0,
                fragment: vec![0; 65_536],
            },
        }
    }

    pub fn run(mut self) {
        let mut read_errors: u64 = 0;
        while self.shared.is_running() {
            match tun::wait_readable(&self.tun, POLL) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "waiting for the TUN device failed; retrying");
                    std::thread::sleep(POLL);
                    continue;
                }
            }
            // Drain what is queued, a bounded number of batches between shutdown checks.
            // Several reads fill one batch, so that small packets share a sendmmsg or GSO
            // send instead of costing a system call each.
            for _ in 0..64 {
                self.reader.clear();
                while self.reader.has_room() {
                    match self.reader.read(&self.tun) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => {
                            // A malformed packet fails one read, so the next read
                            // continues; the count keeps a persistent error from flooding
                            // the log.
                            read_errors += 1;
                            if read_errors.is_power_of_two() {
                                tracing::warn!(error = %e, total = read_errors, "reading from the TUN device failed; retrying");
                            }
                            break;
                        }
                    }
                }
                if self.reader.is_empty() {
                    break;
                }
                self.process(self.reader.len());
            }
        }
    }

    fn process(&mut self, count: usize) {
        let policy = self.shared.policy();
        if policy.generation != self.generation {
            self.flows.clear();
            self.generation = policy.generation;
            self.unsupported_nat = clear_path::unsupported_rules(policy.engine.config());
        }
        self.egress.refresh();
        self.batch.sends.clear();
        self.batch.cursor = 0;
        let mut stats = StatsDelta::default();
        for index in 0..count {
            let packet = self.reader.packet_mut(index);
            let Some(summary) = ipv4_summary(packet) else {
                stats.drop(Direction::Outbound, DropReason::BadInnerPacket);
                continue;
            };
            let verdict = match self.flows.get(&summary.flow) {
                Some(v) => *v,
                None => {
                    let v = classify(&policy, &self.unsupported_nat, &summary.flow);
                    if self.flows.len() >= FLOW_CACHE {
                        self.flows.clear();
                    }
                    self.flows.insert(summary.flow, v);
                    v
                }
            };
            let id = match verdict {
                Verdict::Tunnel(id) => id,
                Verdict::ClearPool(rule) if !admitted(&self.shared, rule, &summary.flow) => {
                    self.shared.not_tunneled.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Verdict::Clear | Verdict::ClearPool(_) => {
                    self.shared.clear_forwarded.fetch_add(1, Ordering::Relaxed);
                    if self.reinject.is_full() {
                        flush_reinjected(&self.shared, &self.tun, &mut self.reinject);
                    }
                    self.reinject.push(&packet[..summary.total_len]);
                    continue;
                }
                Verdict::NotTunneled => {
                    self.shared.not_tunneled.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            let Some((egress, sa)) = self.egress.lookup(&self.shared, id, policy.outside_mtu) else {
                stats.drop(Direction::Outbound, DropReason::MissingSa);
                request_sa(&self.shared, &mut self.acquired, id);
                continue;
            };
            if let Some(mss) = policy.tcp_mss {
                mtu::clamp_tcp_mss(packet, mss);
            }
            let packet = &packet[..summary.total_len];
            // Fragment before encryption unless DF is set, as the ASA's default
            // `crypto ipsec fragmentation before-encryption` does.
            match mtu::check(packet, egress.max_inner, true) {
                MtuAction::Send => {
                    self.batch.encapsulate(&mut stats, egress, sa, packet);
                }
                MtuAction::TooBig { mtu: next_hop_mtu } => {
                    stats.drop(Direction::Outbound, DropReason::FragmentationNeeded);
                    self.shared.sa().sad.record_pmtu_sent(egress.handle);
                    send_frag_needed(self.icmp.as_deref(), &mut self.batch.fragment, &policy, packet, next_hop_mtu);
                }
                MtuAction::Fragment { max_len } => {
                    self.batch.fragment_and_encapsulate(&self.shared, &mut stats, egress, sa, packet, max_len);
                }
            }
        }
        stats.flush(&self.shared);
        flush_reinjected(&self.shared, &self.tun, &mut self.reinject);
        self.send_all();
    }

    /// Sends the batch: runs of ESP-in-UDP packets to one peer with one size become a
    /// single GSO send.
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

impl EspBatch {
    /// Encapsulates `inner` on the egress SA at the end of `out`.
    fn encapsulate(&mut self, stats: &mut StatsDelta, egress: Egress, sa: &OutboundSa, inner: &[u8]) {
        let Some(slot) = self.out.get_mut(self.cursor..) else {
            stats.drop(Direction::Outbound, DropReason::BufferTooSmall);
            return;
        };
        match sa.encapsulate(inner, slot) {
            Ok(len) => {
                stats.encapsulated(inner.len(), sa.info().encr != Encr::Null);
                self.sends.push(PendingSend { start: self.cursor, len, remote: egress.remote, udp_encap: egress.udp_encap });
                self.cursor += len;
            }
            Err(reason) => stats.drop(Direction::Outbound, reason),
        }
    }

    /// Encapsulates each fragment of `packet`.
    fn fragment_and_encapsulate(
        &mut self,
        shared: &Shared,
        stats: &mut StatsDelta,
        egress: Egress,
        sa: &OutboundSa,
        packet: &[u8],
        max_len: usize,
    ) {
        let mut fragmenter = match Ipv4Fragmenter::new(packet, max_len) {
            Ok(f) => f,
            Err(reason) => {
                shared.sa().sad.record_pre_fragmentation_failure(egress.handle);
                stats.drop(Direction::Outbound, reason);
                return;
            }
        };
        let count = fragmenter.fragment_count();
        let mut fragment = std::mem::take(&mut self.fragment);
        while let Some(result) = fragmenter.next_into(&mut fragment) {
            match result {
                Ok(len) => self.encapsulate(stats, egress, sa, &fragment[..len]),
                Err(reason) => {
                    shared.sa().sad.record_pre_fragmentation_failure(egress.handle);
                    stats.drop(Direction::Outbound, reason);
                    break;
                }
            }
        }
        self.fragment = fragment;
        shared.sa().sad.record_pre_fragmentation(egress.handle, count as u64);
    }
}

/// A worker's copy of the egress of each child it sends on.
type EgressCache = EpochCache<ChildId, Option<(Egress, Arc<OutboundSa>)>>;

impl EgressCache {
    /// Returns the child's egress, taking the lock only on a miss. A child without an SA
    /// is remembered too, until the epoch moves with its install.
    fn lookup(&mut self, shared: &Shared, id: ChildId, interface_mtu: u16) -> Option<(Egress, &OutboundSa)> {
        let entry = self.entries.entry(id).or_insert_with(|| shared.sa().egress_sa(id, interface_mtu));
        entry.as_ref().map(|(egress, sa)| (*egress, &**sa))
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
