//! The inbound workers: outside socket -> ESP -> policy check -> TUN device.
//!
//! Several workers may share each socket: they decrypt different batches on different
//! cores and write them into the TUN device in the order they arrived (see `order`).
//!
//! The UDP 4500 worker receives batches (recvmmsg, with GRO segments split by their
//! stride) and sorts each datagram by the non-ESP marker: IKE goes to the control
//! plane, NAT-keepalives are dropped, ESP is decapsulated here. The raw ESP worker does
//! the same for IP protocol 50.

use std::collections::HashMap;
use std::io::IoSliceMut;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use quinn_udp::RecvMeta;
use rampart_crypto::alg::Encr;
use rampart_esp::stats::Direction;
use rampart_esp::mtu;
use rampart_esp::DropReason;
use rampart_policy::Flow;
use tun_rs::SyncDevice;

use crate::nat_t::{self, Udp4500};
use crate::order::{ReceiveOrder, Ticket};
use crate::packet::ipv4_summary;
use crate::raw_esp::{RawEsp, RecvBatch};
use crate::sa_table::{child_id, EpochCache, Ingress};
use crate::shared::{PolicyState, Shared, StatsDelta};
use crate::tun::TunWriter;
use crate::udp::OutsideSocket;

/// Datagrams per recvmmsg call (quinn-udp's batch size on Linux).
const RECV_BATCH: usize = 32;

/// Receive buffer per datagram: a GRO batch of segments can reach 64 KiB.
const RECV_SLOT: usize = 65_536;

/// Inner flows remembered by the policy check before the cache starts over.
const CHECK_CACHE: usize = 65_536;

/// How long an additional worker waits for a backlog before it checks for shutdown.
const BACKLOG_WAIT: Duration = Duration::from_millis(200);

/// SPIs, known or not, that a worker remembers before its cache starts over.
const UNKNOWN_SPI_CACHE: usize = 4096;

/// Decapsulation and delivery shared by the UDP and raw ESP workers.
struct Delivery {
    shared: Arc<Shared>,
    tun: Arc<SyncDevice>,
    writer: TunWriter,
    ingress: IngressCache,
    /// `check_inbound_vpn` results by packed child number and inner flow.
    checks: HashMap<(u32, Flow), bool, ahash::RandomState>,
    /// The newest entry of `checks`: the packets of a bulk transfer arrive back to back,
    /// so most lookups end here without hashing the flow.
    last_check: Option<((u32, Flow), bool)>,
    generation: u64,
    stats: StatsDelta,
}

impl Delivery {
    fn new(shared: Arc<Shared>, tun: Arc<SyncDevice>) -> Delivery {
        Delivery {
            ingress: IngressCache::new(shared.sa_epoch()),
            writer: TunWriter::for_device(&tun),
            shared,
            tun,
            checks: HashMap::with_capacity_and_hasher(1024, ahash::RandomState::new()),
            last_check: None,
            generation: u64::MAX,
            stats: StatsDelta::default(),
        }
    }

    /// Starts a batch: takes the current policy and drops cached SAs if the SA tables
    /// changed.
    fn refresh(&mut self) -> Arc<PolicyState> {
        let policy = self.shared.policy();
        if policy.generation != self.generation {
            self.checks.clear();
            self.last_check = None;
            self.generation = policy.generation;
        }
        self.ingress.refresh();
        policy
    }

    /// Decapsulates one ESP packet (starting at the SPI) and queues the inner packet for
    /// the TUN device when its SA and the crypto ACL allow it.
    fn deliver(&mut self, policy: &PolicyState, esp: &mut [u8], source: Option<SocketAddr>, ticket: &mut Option<Ticket<'_>>) {
        let Some(spi) = esp.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])) else {
            self.stats.drop(Direction::Inbound, DropReason::Truncated);
            return;
        };
        let Some(ingress) = self.ingress.lookup(&self.shared, spi) else {
            tracing::trace!(spi = format_args!("{spi:#010x}"), "inbound ESP packet for an unknown SPI dropped");
            self.stats.drop(Direction::Inbound, DropReason::MissingSa);
            return;
        };
        let (key, expected_source) = (ingress.key, ingress.source);
        let decrypted = ingress.sa.info().encr != Encr::Null;
        let packet = match ingress.sa.decapsulate(esp) {
            Ok(packet) => packet,
            Err(reason) => {
                tracing::trace!(spi = format_args!("{spi:#010x}"), %reason, "inbound ESP packet dropped");
                self.stats.drop(Direction::Inbound, reason);
                return;
            }
        };
        self.stats.decapsulated(packet.inner.len(), decrypted, packet.fragment);
        let inner = &mut esp[packet.inner.clone()];
        let Some(summary) = ipv4_summary(inner) else {
            self.stats.drop(Direction::Inbound, DropReason::BadInnerPacket);
            return;
        };
        // The ASA drops decrypted packets outside the crypto ACL entry of their SA.
        let check = (key.child, summary.flow);
        let allowed = match self.last_check.filter(|(last, _)| *last == check).or_else(|| self.checks.get(&check).map(|a| (check, *a))) {
            Some((_, allowed)) => {
                self.last_check = Some((check, allowed));
                allowed
            }
            None => {
                let (peer, child) = child_id(&key);
                let allowed = policy
                    .child_entries
                    .get(peer)
                    .and_then(|c| c.get(child))
                    .is_some_and(|(map, sequence, index)| policy.engine.check_inbound_vpn(&summary.flow, map, *sequence, *index));
                if !allowed {
                    tracing::debug!(flow = %summary.flow, spi = format_args!("{:08x}", packet.spi), "decrypted packet outside its SA's crypto ACL entry; dropped");
                }
                if self.checks.len() >= CHECK_CACHE {
                    self.checks.clear();
                }
                self.checks.insert(check, allowed);
                self.last_check = Some((check, allowed));
                allowed
            }
        };
        if !allowed {
            self.stats.drop(Direction::Inbound, DropReason::SelectorMismatch);
            return;
        }
        // An authenticated packet from another address than the child sends to: the
        // tables move the child's egress, and the epoch refreshes this cache.
        if let (Some(source), Some(expected)) = (source, expected_source)
            && source != expected
        {
            self.shared.sa().note_source(&key, source);
        }
        if let Some(mss) = policy.tcp_mss {
            mtu::clamp_tcp_mss(inner, mss);
        }
        if self.writer.is_full() {
            self.flush(ticket);
        }
        self.writer.push(&inner[..summary.total_len]);
    }

    /// Writes the queued packets, after every batch received earlier, and adds the
    /// batch's counters to the SAD.
    fn flush(&mut self, ticket: &mut Option<Ticket<'_>>) {
        if !self.writer.is_empty()
            && let Some(ticket) = ticket
        {
            ticket.wait();
        }
        if let Err(e) = self.writer.flush(&self.tun) {
            let errors = self.shared.tun_write_errors.fetch_add(1, Ordering::Relaxed);
            if errors.is_multiple_of(1000) {
                tracing::warn!(error = %e, total = errors + 1, "writing into the TUN device failed");
            }
        }
        self.stats.flush(&self.shared);
    }
}

/// A worker's copy of the inbound SAs it received on, by SPI.
type IngressCache = EpochCache<u32, Option<Ingress>>;

impl IngressCache {
    /// Returns the SA with `spi`, taking the lock only on a miss. Unknown SPIs are
    /// remembered too, up to a bound, so a flood of them cannot take the lock per packet.
    fn lookup(&mut self, shared: &Shared, spi: u32) -> Option<&Ingress> {
        if !self.entries.contains_key(&spi) && self.entries.len() >= UNKNOWN_SPI_CACHE {
            self.entries.clear();
        }
        self.entries.entry(spi).or_insert_with(|| shared.sa().ingress_sa(spi)).as_ref()
    }
}

pub struct UdpInbound {
    delivery: Delivery,
    socket: Arc<crate::udp::OutsideUdp>,
    order: Arc<ReceiveOrder>,
    /// The first worker of the socket; the others receive only during a backlog.
    first: bool,
    storage: Vec<u8>,
    meta: Vec<RecvMeta>,
}

impl UdpInbound {
    /// Creates a worker on the UDP 4500 socket. Workers that share `order` share the
    /// socket and write in the order their batches arrived. All but the `first` join
    /// only while the socket is backlogged.
    pub fn new(
        shared: Arc<Shared>,
        socket: Arc<crate::udp::OutsideUdp>,
        order: Arc<ReceiveOrder>,
        first: bool,
        tun: Arc<SyncDevice>,
    ) -> UdpInbound {
        UdpInbound {
            delivery: Delivery::new(shared, tun),
            socket,
            order,
            first,
            storage: vec![0; RECV_BATCH * RECV_SLOT],
            meta: vec![RecvMeta::default(); RECV_BATCH],
        }
    }

    pub fn run(mut self) {
        let socket = Arc::clone(&self.socket);
        let order = Arc::clone(&self.order);
        let nat_t: &OutsideSocket = &socket.nat_t;
        while self.delivery.shared.is_running() {
            if !self.first && !order.wait_for_backlog(BACKLOG_WAIT) {
                continue;
            }
            let received = {
                let mut chunks = self.storage.chunks_mut(RECV_SLOT);
                let mut slices: [IoSliceMut<'_>; RECV_BATCH] =
                    // `storage` contains exactly RECV_BATCH chunks of RECV_SLOT octets.
                    std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or_default()));
                order.receive(|| nat_t.recv(&mut slices, &mut self.meta))
            };
            match received {
                Ok((0, _)) => {}
                Ok((count, mut ticket)) => {
                    let packets = self.process(count, nat_t.local, &mut ticket);
                    order.note_batch(packets);
                }
                Err(e) => {
                    tracing::warn!(error = %e, socket = %nat_t.local, "receiving on the outside socket failed; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// Handles one batch and returns the number of datagrams it carried after GRO
    /// splitting.
    fn process(&mut self, count: usize, local: SocketAddr, ticket: &mut Option<Ticket<'_>>) -> usize {
        let policy = self.delivery.refresh();
        let shared = Arc::clone(&self.delivery.shared);
        let mut packets = 0;
        for (index, meta) in self.meta.iter().take(count).enumerate() {
            let slot = &mut self.storage[index * RECV_SLOT..(index + 1) * RECV_SLOT];
            let datagrams = &mut slot[..meta.len.min(RECV_SLOT)];
            let stride = if meta.stride == 0 { datagrams.len().max(1) } else { meta.stride };
            for datagram in datagrams.chunks_mut(stride) {
                packets += 1;
                match nat_t::classify(datagram) {
                    Udp4500::Esp(_) => self.delivery.deliver(&policy, datagram, Some(meta.addr), ticket),
                    Udp4500::Ike(ike) => shared.queue_ike(local, meta.addr, ike),
                    Udp4500::Keepalive => {}
                    Udp4500::Invalid => self.delivery.stats.drop(Direction::Inbound, DropReason::Truncated),
                }
            }
        }
        self.delivery.flush(ticket);
        packets
    }
}

pub struct RawInbound {
    delivery: Delivery,
    raw: Arc<RawEsp>,
    order: Arc<ReceiveOrder>,
    first: bool,
    batch: RecvBatch,
}

impl RawInbound {
    /// Creates a worker on the raw ESP socket, with `order` and `first` as in
    /// [`UdpInbound::new`].
    pub fn new(shared: Arc<Shared>, raw: Arc<RawEsp>, order: Arc<ReceiveOrder>, first: bool, tun: Arc<SyncDevice>) -> RawInbound {
        let batch = RecvBatch::new(RECV_BATCH, RECV_SLOT / 8);
        RawInbound { delivery: Delivery::new(shared, tun), raw, order, first, batch }
    }

    pub fn run(mut self) {
        let order = Arc::clone(&self.order);
        while self.delivery.shared.is_running() {
            if !self.first && !order.wait_for_backlog(BACKLOG_WAIT) {
                continue;
            }
            let (count, mut ticket) = match order.receive(|| self.raw.recv_many(&mut self.batch)) {
                Ok((0, _)) => continue,
                Ok(received) => received,
                Err(e) => {
                    tracing::warn!(error = %e, "receiving on the raw ESP socket failed; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let policy = self.delivery.refresh();
            for index in 0..count {
                match self.batch.packet_mut(index) {
                    Some((buffer, range, _from)) => self.delivery.deliver(&policy, &mut buffer[range], None, &mut ticket),
                    None => self.delivery.stats.drop(Direction::Inbound, DropReason::Truncated),
                }
            }
            self.delivery.flush(&mut ticket);
            drop(ticket);
            order.note_batch(count);
        }
    }
}

/// The UDP 500 receiver: every datagram goes to the control plane.
pub fn run_ike_receiver(shared: Arc<Shared>, socket: Arc<crate::udp::OutsideUdp>) {
    let ike = &socket.ike;
    let mut storage = vec![0u8; RECV_BATCH * RECV_SLOT / 8];
    let slot = RECV_SLOT / 8;
    let mut meta = vec![RecvMeta::default(); RECV_BATCH];
    while shared.is_running() {
        let count = {
            let mut chunks = storage.chunks_mut(slot);
            let mut slices: [IoSliceMut<'_>; RECV_BATCH] =
                std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or_default()));
            match ike.recv(&mut slices, &mut meta) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, socket = %ike.local, "receiving on UDP 500 failed; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
        };
        for (index, m) in meta.iter().take(count).enumerate() {
            let data = &storage[index * slot..index * slot + m.len.min(slot)];
            let stride = if m.stride == 0 { data.len().max(1) } else { m.stride };
            for datagram in data.chunks(stride) {
                shared.queue_ike(ike.local, m.addr, datagram);
            }
        }
    }
}
