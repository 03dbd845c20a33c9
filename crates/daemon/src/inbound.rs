//! The inbound workers: outside socket -> ESP -> policy check -> TUN device.
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
use rampart_esp::stats::Direction;
use rampart_esp::mtu;
use rampart_esp::DropReason;
use rampart_policy::Flow;
use tun_rs::SyncDevice;

use crate::control_plane::ControlMsg;
use crate::nat_t::{self, Udp4500};
use crate::packet::ipv4_summary;
use crate::raw_esp::{RawEsp, RecvBatch};
use crate::sa_table::child_id;
use crate::shared::{PolicyState, Shared};
use crate::tun::TunWriter;
use crate::udp::OutsideSocket;

/// Datagrams per recvmmsg call (quinn-udp's batch size on Linux).
const RECV_BATCH: usize = 32;

/// Receive buffer per datagram: a GRO batch of segments can reach 64 KiB.
const RECV_SLOT: usize = 65_536;

/// Inner flows remembered by the policy check before the cache starts over.
const CHECK_CACHE: usize = 65_536;

/// Decapsulation and delivery shared by the UDP and raw ESP workers.
struct Delivery {
    shared: Arc<Shared>,
    tun: Arc<SyncDevice>,
    writer: TunWriter,
    /// `check_inbound_vpn` results by packed child number and inner flow.
    checks: HashMap<(u32, Flow), bool>,
    generation: u64,
}

impl Delivery {
    fn new(shared: Arc<Shared>, tun: Arc<SyncDevice>, mtu: u16) -> Delivery {
        Delivery { shared, tun, writer: TunWriter::new(mtu), checks: HashMap::with_capacity(1024), generation: u64::MAX }
    }

    fn refresh(&mut self) -> Arc<PolicyState> {
        let policy = self.shared.policy();
        if policy.generation != self.generation {
            self.checks.clear();
            self.generation = policy.generation;
        }
        policy
    }

    /// Decapsulates one ESP packet (starting at the SPI) and queues the inner packet for
    /// the TUN device when its SA and the crypto ACL allow it.
    fn deliver(&mut self, sa: &mut crate::sa_table::SaTables, policy: &PolicyState, esp: &mut [u8], source: Option<SocketAddr>) {
        let Ok(received) = sa.sad.decapsulate(esp) else {
            // The SAD counted the drop by reason.
            return;
        };
        let inner = &mut esp[received.packet.inner.clone()];
        let Some(summary) = ipv4_summary(inner) else {
            sa.sad.record_drop(Direction::Inbound, DropReason::BadInnerPacket);
            return;
        };
        // The ASA drops decrypted packets outside the crypto ACL entry of their SA.
        let key = (received.key.child, summary.flow);
        let allowed = match self.checks.get(&key) {
            Some(allowed) => *allowed,
            None => {
                let (peer, child) = child_id(&received.key);
                let allowed = policy
                    .child_entries
                    .get(peer)
                    .and_then(|c| c.get(child))
                    .is_some_and(|(map, sequence, index)| policy.engine.check_inbound_vpn(&summary.flow, map, *sequence, *index));
                if !allowed {
                    tracing::debug!(flow = %summary.flow, spi = format_args!("{:08x}", received.packet.spi), "decrypted packet outside its SA's crypto ACL entry; dropped");
                }
                if self.checks.len() >= CHECK_CACHE {
                    self.checks.clear();
                }
                self.checks.insert(key, allowed);
                allowed
            }
        };
        if !allowed {
            sa.sad.record_drop(Direction::Inbound, DropReason::SelectorMismatch);
            return;
        }
        if let Some(source) = source {
            sa.note_source(&received.key, source);
        }
        if let Some(mss) = policy.tcp_mss {
            mtu::clamp_tcp_mss(inner, mss);
        }
        if self.writer.is_full() {
            self.flush();
        }
        self.writer.push(&inner[..summary.total_len]);
    }

    fn flush(&mut self) {
        if let Err(e) = self.writer.flush(&self.tun) {
            let errors = self.shared.tun_write_errors.fetch_add(1, Ordering::Relaxed);
            if errors.is_multiple_of(1000) {
                tracing::warn!(error = %e, total = errors + 1, "writing into the TUN device failed");
            }
        }
    }
}

pub struct UdpInbound {
    delivery: Delivery,
    socket: Arc<crate::udp::OutsideUdp>,
    storage: Vec<u8>,
    meta: Vec<RecvMeta>,
}

impl UdpInbound {
    pub fn new(shared: Arc<Shared>, socket: Arc<crate::udp::OutsideUdp>, tun: Arc<SyncDevice>, mtu: u16) -> UdpInbound {
        UdpInbound {
            delivery: Delivery::new(shared, tun, mtu),
            socket,
            storage: vec![0; RECV_BATCH * RECV_SLOT],
            meta: vec![RecvMeta::default(); RECV_BATCH],
        }
    }

    pub fn run(mut self) {
        let socket = Arc::clone(&self.socket);
        let nat_t: &OutsideSocket = &socket.nat_t;
        while self.delivery.shared.is_running() {
            let count = {
                let mut chunks = self.storage.chunks_mut(RECV_SLOT);
                let mut slices: [IoSliceMut<'_>; RECV_BATCH] =
                    // `storage` contains exactly RECV_BATCH chunks of RECV_SLOT octets.
                    std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or_default()));
                match nat_t.recv(&mut slices, &mut self.meta) {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, socket = %nat_t.local, "receiving on the outside socket failed; retrying");
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                }
            };
            if count > 0 {
                self.process(count, nat_t.local);
            }
        }
    }

    fn process(&mut self, count: usize, local: SocketAddr) {
        let policy = self.delivery.refresh();
        let shared = Arc::clone(&self.delivery.shared);
        let mut sa = shared.sa();
        for (index, meta) in self.meta.iter().take(count).enumerate() {
            let slot = &mut self.storage[index * RECV_SLOT..(index + 1) * RECV_SLOT];
            let datagrams = &mut slot[..meta.len.min(RECV_SLOT)];
            let stride = if meta.stride == 0 { datagrams.len().max(1) } else { meta.stride };
            for datagram in datagrams.chunks_mut(stride) {
                match nat_t::classify(datagram) {
                    Udp4500::Esp(_) => self.delivery.deliver(&mut sa, &policy, datagram, Some(meta.addr)),
                    Udp4500::Ike(ike) => {
                        let message = ControlMsg::Ike { local, remote: meta.addr, data: ike.to_vec() };
                        let _ = shared.control.send(message);
                    }
                    Udp4500::Keepalive => {}
                    Udp4500::Invalid => sa.sad.record_drop(Direction::Inbound, DropReason::Truncated),
                }
            }
        }
        drop(sa);
        self.delivery.flush();
    }
}

pub struct RawInbound {
    delivery: Delivery,
    raw: Arc<RawEsp>,
    batch: RecvBatch,
}

impl RawInbound {
    pub fn new(shared: Arc<Shared>, raw: Arc<RawEsp>, tun: Arc<SyncDevice>, mtu: u16) -> RawInbound {
        RawInbound { delivery: Delivery::new(shared, tun, mtu), raw, batch: RecvBatch::new(RECV_BATCH, RECV_SLOT / 8) }
    }

    pub fn run(mut self) {
        while self.delivery.shared.is_running() {
            let count = match self.raw.recv_many(&mut self.batch) {
                Ok(0) => continue,
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "receiving on the raw ESP socket failed; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            let policy = self.delivery.refresh();
            let shared = Arc::clone(&self.delivery.shared);
            let mut sa = shared.sa();
            for index in 0..count {
                match self.batch.packet_mut(index) {
                    Some((buffer, range, _from)) => self.delivery.deliver(&mut sa, &policy, &mut buffer[range], None),
                    None => sa.sad.record_drop(Direction::Inbound, DropReason::Truncated),
                }
            }
            drop(sa);
            self.delivery.flush();
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
                let _ = shared.control.send(ControlMsg::Ike { local: ike.local, remote: m.addr, data: datagram.to_vec() });
            }
        }
    }
}
