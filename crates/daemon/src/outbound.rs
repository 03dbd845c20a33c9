//! The outbound worker: TUN device -> policy -> ESP -> outside socket.
//!
//! Each batch is one TUN read (one packet, or the segments of a TSO/USO super-packet),
//! classified with a flow cache in front of the policy engine, encapsulated under one
//! lock of the SA tables, and sent with UDP GSO when consecutive ESP packets go to the
//! same peer with the same size.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_esp::stats::Direction;
use rampart_esp::DropReason;
use rampart_policy::Flow;
use tun_rs::SyncDevice;

use crate::control_plane::ControlMsg;
use crate::mtu;
use crate::packet::ipv4_summary;
use crate::raw_esp::{IcmpSender, RawEsp};
use crate::sa_table::{ChildId, Egress, SaTables};
use crate::shared::{PolicyState, Shared};
use crate::tun::{self, TunReader, BATCH};
use crate::udp::OutsideUdp;

/// How long a worker blocks before it checks for shutdown.
const POLL: Duration = Duration::from_millis(200);

/// Flows remembered before the cache starts over.
const FLOW_CACHE: usize = 65_536;

/// Minimum time between two acquires for one child while it has no SA; the engine
/// backs off on its own, this only spares the control channel.
const ACQUIRE_INTERVAL: Duration = Duration::from_millis(500);

/// Room for one ESP packet: the TUN MTU plus the largest ESP overhead (header, IV,
/// padding, trailer, ICV).
const ESP_SLOT: usize = 64 * 1024;

/// What the policy decided for a flow read from the TUN device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Protect with this child's SA.
    Tunnel(ChildId),
    /// Not for the tunnel: a crypto ACL deny, no crypto map match, or a policy drop.
    /// Such packets reach the TUN device only through a route that also covers them.
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
    /// Sends the ICMP errors the gateway originates.
    icmp: Option<Arc<IcmpSender>>,
    flows: HashMap<Flow, Verdict>,
    generation: u64,
    acquired: HashMap<ChildId, Instant>,
    out: Vec<u8>,
    sends: Vec<PendingSend>,
    fragments: mtu::Fragmenter,
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
            shared,
            tun,
            udp,
            raw,
            reader: TunReader::new(mtu),
            icmp,
            flows: HashMap::with_capacity(1024),
            generation: u64::MAX,
            acquired: HashMap::new(),
            // One slot per packet of a batch, plus the fragments of the largest packet.
            out: vec![0; BATCH * 4096 + ESP_SLOT],
            sends: Vec::with_capacity(BATCH * 2),
            fragments: mtu::Fragmenter::new(),
        }
    }

    pub fn run(mut self) {
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
            for _ in 0..64 {
                match self.reader.read(&self.tun) {
                    Ok(0) => break,
                    Ok(n) => self.process(n),
                    Err(e) => {
                        tracing::warn!(error = %e, "reading from the TUN device failed; retrying");
                        break;
                    }
                }
            }
        }
    }

    fn process(&mut self, count: usize) {
        let policy = self.shared.policy();
        if policy.generation != self.generation {
            self.flows.clear();
            self.generation = policy.generation;
        }
        self.sends.clear();
        let mut cursor = 0;
        {
            let mut sa = self.shared.sa();
            let mut egress_cache: [Option<(ChildId, Option<Egress>)>; 4] = [None; 4];
            for index in 0..count {
                let packet = self.reader.packet_mut(index);
                let Some(summary) = ipv4_summary(packet) else {
                    sa.sad.record_drop(Direction::Outbound, DropReason::BadInnerPacket);
                    continue;
                };
                let verdict = match self.flows.get(&summary.flow) {
                    Some(v) => *v,
                    None => {
                        let v = classify(&policy, &summary.flow);
                        if self.flows.len() >= FLOW_CACHE {
                            self.flows.clear();
                        }
                        self.flows.insert(summary.flow, v);
                        v
                    }
                };
                let Verdict::Tunnel(id) = verdict else {
                    self.shared.not_tunneled.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let egress = lookup_egress(&sa, &mut egress_cache, id);
                let Some(egress) = egress else {
                    sa.sad.record_drop(Direction::Outbound, DropReason::MissingSa);
                    request_sa(&self.shared, &mut self.acquired, id);
                    continue;
                };
                if let Some(mss) = policy.tcp_mss {
                    mtu::clamp_mss(packet, mss);
                }
                let packet = &packet[..summary.total_len];
                // Outer IPv4 header, plus the UDP header for ESP in UDP (RFC 3948).
                let outer = 20 + if egress.udp_encap { 8 } else { 0 };
                let Some(esp_len) = sa.sad.outbound(egress.handle).map(|o| o.esp_len(packet.len())) else { continue };
                if esp_len + outer <= usize::from(policy.outside_mtu) {
                    cursor = encapsulate(&mut sa, &mut self.out, cursor, &mut self.sends, egress, packet);
                    continue;
                }
                // Too big for the path: fragment before encryption unless DF is set, as
                // the ASA's default `crypto ipsec fragmentation before-encryption` does.
                let overhead = esp_len - packet.len() + outer;
                let room = usize::from(policy.outside_mtu).saturating_sub(overhead);
                if summary.dont_fragment {
                    sa.sad.record_drop(Direction::Outbound, DropReason::FragmentationNeeded);
                    sa.sad.record_pmtu_sent(egress.handle);
                    let next_hop_mtu = u16::try_from(room).unwrap_or(u16::MAX);
                    let reply = policy.inside_addr.and_then(|source| self.fragments.frag_needed(packet, source, next_hop_mtu));
                    if let (Some(reply), Some(icmp)) = (reply, &self.icmp) {
                        if let Err(e) = icmp.send(reply) {
                            tracing::debug!(error = %e, "sending ICMP fragmentation needed failed");
                        }
                    }
                    continue;
                }
                match self.fragments.split(packet, room) {
                    Some(count) => {
                        sa.sad.record_pre_fragmentation(egress.handle, count as u64);
                        for i in 0..count {
                            let fragment = self.fragments.fragment(i);
                            cursor = encapsulate(&mut sa, &mut self.out, cursor, &mut self.sends, egress, fragment);
                        }
                    }
                    None => {
                        sa.sad.record_pre_fragmentation_failure(egress.handle);
                        sa.sad.record_drop(Direction::Outbound, DropReason::FragmentationFailed);
                    }
                }
            }
        }
        self.send_all();
    }

    /// Sends the batch: runs of ESP-in-UDP packets to one peer with one size become a
    /// single GSO send.
    fn send_all(&mut self) {
        let max_segments = self.udp.nat_t.max_gso_segments().max(1);
        let mut i = 0;
        while i < self.sends.len() {
            let first = &self.sends[i];
            if !first.udp_encap {
                if let Some(raw) = &self.raw {
                    let esp = &self.out[first.start..first.start + first.len];
                    if let Err(e) = raw.send(first.remote.ip(), esp) {
                        self.count_send_error(first.remote, &e);
                    }
                }
                i += 1;
                continue;
            }
            // Packets of a run are contiguous in `out`, equal in size except the last,
            // and stay under 64 KiB together, as UDP GSO requires.
            let mut end = i + 1;
            let mut total = first.len;
            while end < self.sends.len()
                && end - i < max_segments
                && self.sends[end].udp_encap
                && self.sends[end].remote == first.remote
                && self.sends[end].start == self.sends[end - 1].start + self.sends[end - 1].len
                && self.sends[end - 1].len == first.len
                && self.sends[end].len <= first.len
                && total + self.sends[end].len <= 65_000
            {
                total += self.sends[end].len;
                end += 1;
            }
            let contents = &self.out[first.start..first.start + total];
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

/// Looks up a child's egress, remembering the last few within one batch.
fn lookup_egress(sa: &SaTables, cache: &mut [Option<(ChildId, Option<Egress>)>; 4], id: ChildId) -> Option<Egress> {
    if let Some((_, egress)) = cache.iter().flatten().find(|(cached, _)| *cached == id) {
        return *egress;
    }
    let egress = sa.egress(id);
    cache.rotate_right(1);
    cache[0] = Some((id, egress));
    egress
}

fn encapsulate(
    sa: &mut SaTables,
    out: &mut [u8],
    cursor: usize,
    sends: &mut Vec<PendingSend>,
    egress: Egress,
    inner: &[u8],
) -> usize {
    let Some(slot) = out.get_mut(cursor..) else {
        sa.sad.record_drop(Direction::Outbound, DropReason::BufferTooSmall);
        return cursor;
    };
    match sa.sad.encapsulate(egress.handle, inner, slot) {
        Ok(len) => {
            sends.push(PendingSend { start: cursor, len, remote: egress.remote, udp_encap: egress.udp_encap });
            cursor + len
        }
        // The SAD counted the drop.
        Err(_) => cursor,
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

/// Runs the policy on a new flow. A crypto map match names the engine's peer by the
/// entry's "MAP SEQ" and the child by the permit entry's index.
fn classify(policy: &PolicyState, flow: &Flow) -> Verdict {
    let ingress = policy.ingress_for(flow.src);
    let decision = policy.engine.evaluate(flow, ingress, false);
    let Some(vpn) = decision.vpn.filter(|_| decision.allowed) else {
        tracing::debug!(%flow, ingress, reason = ?decision.drop_reason, "flow not tunneled");
        return Verdict::NotTunneled;
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
