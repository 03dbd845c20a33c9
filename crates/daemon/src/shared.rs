//! State shared between the control plane and the data-plane workers.
//!
//! Workers encrypt and decrypt on `Arc`s of the SAs, cached until the SA tables'
//! epoch moves. They lock the tables only on a cache miss, on a rare event
//! (fragmentation, PMTU, a NAT rebinding) and once per batch to add their counters.
//! The policy is an `Arc` snapshot, so that a reload never stalls a batch in flight.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use rampart_ike::config::IkeConfig;
use rampart_policy::model::AddrRange;
use rampart_policy::model::PolicyConfig;
use rampart_policy::PolicyEngine;

use crate::control_plane::ControlMsg;
use crate::clear_path::NatPools;
use rampart_esp::stats::{Direction, IpsecStats};
use rampart_esp::DropReason;

use crate::sa_table::{Epoch, SaTables};

/// IKE datagrams that may wait for the control plane. The receivers drop the others, so
/// that a flood of IKE messages from the outside bounds memory and cannot delay
/// SIGTERM or control commands, which share the queue. IKE is request and response,
/// so a peer has only a few datagrams in flight and 1024 leave room for hundreds.
pub const MAX_IKE_QUEUED: usize = 1024;

/// The policy as the data plane needs it, rebuilt on every reload.
pub struct PolicyState {
    pub engine: PolicyEngine,
    /// Crypto map entry ("MAP SEQ", as in `PeerConfig::name`) to IKE engine peer index.
    pub peer_by_entry: HashMap<String, usize>,
    /// For each peer and child: the crypto map name, sequence and permit index that
    /// `PolicyEngine::check_inbound_vpn` expects.
    pub child_entries: Vec<Vec<(String, u32, usize)>>,
    /// Inside interfaces (`nameif`) and their subnets, to name the ingress interface of
    /// a packet read from the TUN device by its source address.
    pub inside: Vec<(String, AddrRange)>,
    /// `sysopt connection tcpmss`, applied to SYNs in both directions; `None` when 0.
    pub tcp_mss: Option<u16>,
    /// Outside interface MTU (the ASA's `mtu outside`), the path MTU for ESP packets.
    pub outside_mtu: u16,
    /// How long a learned path MTU applies (`crypto ipsec security-association
    /// pmtu-aging`); `None` when it never ages.
    pub pmtu_aging: Option<Duration>,
    /// The gateway's inside address, the source of ICMP errors sent back into the TUN.
    pub inside_addr: Option<IpAddr>,
    /// The outside interface's address, the target of the kernel's PAT.
    pub outside_addr: Option<IpAddr>,
    /// Incremented on every reload so that workers drop their flow caches.
    pub generation: u64,
}

impl PolicyState {
    pub fn new(policy: PolicyConfig, ike: &IkeConfig, generation: u64) -> Result<PolicyState, rampart_policy::PolicyError> {
        let outside = policy.crypto_maps.iter().find_map(|m| m.interface.clone());
        let outside_mtu = policy
            .interfaces
            .iter()
            .find(|i| Some(&i.name) == outside.as_ref())
            .map(|i| i.mtu)
            .unwrap_or(1500);
        let inside: Vec<(String, AddrRange)> = policy
            .interfaces
            .iter()
            .filter(|i| Some(&i.name) != outside.as_ref())
            .filter_map(|i| i.address.map(|(a, len)| (i.name.clone(), AddrRange::v4_prefix(a, len))))
            .collect();
        let inside_addr = policy
            .interfaces
            .iter()
            .filter(|i| Some(&i.name) != outside.as_ref())
            .find_map(|i| i.address.map(|(a, _)| IpAddr::V4(a)));
        let peer_by_entry = ike.peers.iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect();
        let child_entries = ike
            .peers
            .iter()
            .map(|p| {
                p.children
                    .iter()
                    .enumerate()
                    .map(|(index, c)| (c.crypto_map.clone(), c.sequence, index))
                    .collect()
            })
            .collect();
        // Without `sysopt connection tcpmss` the ASA clamps to its default; 0 disables.
        let outside_addr = policy
            .interfaces
            .iter()
            .find(|i| Some(&i.name) == outside.as_ref())
            .and_then(|i| i.address.map(|(a, _)| IpAddr::V4(a)));
        let tcp_mss = Some(policy.tcp_mss.unwrap_or(rampart_esp::mtu::DEFAULT_TCP_MSS)).filter(|&mss| mss > 0);
        let pmtu_aging = policy.pmtu_aging.interval();
        Ok(PolicyState {
            engine: PolicyEngine::new(policy)?,
            peer_by_entry,
            child_entries,
            inside,
            tcp_mss,
            pmtu_aging,
            outside_mtu,
            inside_addr,
            outside_addr,
            generation,
        })
    }

    /// The inside interface whose subnet contains `src`, else the first inside interface.
    pub fn ingress_for(&self, src: IpAddr) -> &str {
        self.inside
            .iter()
            .find(|(_, subnet)| subnet.contains(src))
            .or(self.inside.first())
            .map(|(name, _)| name.as_str())
            .unwrap_or("inside")
    }
}

pub struct Shared {
    sa: Mutex<SaTables>,
    sa_epoch: Epoch,
    policy: RwLock<Arc<PolicyState>>,
    running: AtomicBool,
    pub control: Sender<ControlMsg>,
    /// Packets read from the TUN device that the policy does not send into a tunnel.
    pub not_tunneled: AtomicU64,
    /// Clear packets written back into the TUN device for the kernel to forward.
    pub clear_forwarded: AtomicU64,
    /// Failed sends on the outside sockets.
    pub send_errors: AtomicU64,
    /// Packets written into the TUN device that the kernel did not take.
    pub tun_write_errors: AtomicU64,
    /// IKE datagrams queued for the control plane and not yet taken.
    ike_queued: AtomicUsize,
    /// IKE datagrams dropped because `MAX_IKE_QUEUED` were waiting.
    pub ike_queue_drops: AtomicU64,
    /// The dynamic NAT pools of the installed clear-text NAT rules.
    nat_pools: Arc<NatPools>,
}

impl Shared {
    pub fn new(sa: SaTables, policy: PolicyState, control: Sender<ControlMsg>) -> Shared {
        Shared {
            sa_epoch: sa.epoch(),
            sa: Mutex::new(sa),
            policy: RwLock::new(Arc::new(policy)),
            running: AtomicBool::new(true),
            control,
            not_tunneled: AtomicU64::new(0),
            clear_forwarded: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            tun_write_errors: AtomicU64::new(0),
            ike_queued: AtomicUsize::new(0),
            ike_queue_drops: AtomicU64::new(0),
            nat_pools: Arc::new(NatPools::default()),
        }
    }

    /// Shares `pools`, which the owner of the clear-text NAT rules reloads, with the
    /// outbound workers.
    pub fn with_nat_pools(mut self, pools: Arc<NatPools>) -> Shared {
        self.nat_pools = pools;
        self
    }

    pub fn nat_pools(&self) -> &NatPools {
        &self.nat_pools
    }

    /// Queues an IKE datagram for the control plane, or drops and counts it when
    /// `MAX_IKE_QUEUED` datagrams are waiting already. The control plane calls
    /// `ike_taken` for each one it receives.
    pub fn queue_ike(&self, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        if self.ike_queued.fetch_add(1, Ordering::Relaxed) >= MAX_IKE_QUEUED {
            self.ike_queued.fetch_sub(1, Ordering::Relaxed);
            let drops = self.ike_queue_drops.fetch_add(1, Ordering::Relaxed);
            if drops.is_multiple_of(1000) {
                tracing::warn!(%remote, total = drops + 1, "IKE datagram dropped: the control plane's queue is full");
            }
            return;
        }
        if self.control.send(ControlMsg::Ike { local, remote, data: data.to_vec() }).is_err() {
            // The control plane has stopped, so nothing takes the datagram.
            self.ike_queued.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Notes that the control plane took one IKE datagram from its queue.
    pub fn ike_taken(&self) {
        self.ike_queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// Locks the SA tables. A worker that panicked while holding the lock left them
    /// consistent enough to keep forwarding, so poisoning is ignored.
    pub fn sa(&self) -> MutexGuard<'_, SaTables> {
        self.sa.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns the SA tables' change counter, which workers read without the lock.
    pub fn sa_epoch(&self) -> Epoch {
        self.sa_epoch.clone()
    }

    pub fn policy(&self) -> Arc<PolicyState> {
        let guard = self.policy.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(&guard)
    }

    pub fn set_policy(&self, policy: PolicyState) {
        let mut guard = self.policy.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = Arc::new(policy);
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    pub fn stop(&self) {
        self.running.store(false, Ordering::Relaxed);
    }
}

/// Counters that a worker gathers over one batch while it uses shared SAs without the
/// SA tables' lock. `flush` adds them to the SAD's statistics under one lock.
#[derive(Default)]
pub struct StatsDelta {
    stats: IpsecStats,
    touched: bool,
}

impl StatsDelta {
    pub fn drop(&mut self, direction: Direction, reason: DropReason) {
        self.stats.record_drop(direction, reason);
        self.touched = true;
    }

    pub fn encapsulated(&mut self, inner_len: usize, encrypted: bool) {
        self.stats.record_encapsulated(inner_len, encrypted);
        self.touched = true;
    }

    pub fn decapsulated(&mut self, inner_len: usize, decrypted: bool, fragment: bool) {
        self.stats.record_decapsulated(inner_len, decrypted, fragment);
        self.touched = true;
    }

    pub fn flush(&mut self, shared: &Shared) {
        if self.touched {
            shared.sa().sad.merge_stats(&self.stats);
            *self = StatsDelta::default();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::mpsc::{self, Receiver};

    use rampart_ike::config::RetransmitConfig;

    use super::*;

    const LOCAL: &str = "198.51.100.1:500";
    const REMOTE: &str = "198.51.100.2:500";

    /// Returns an IKE configuration without peers, for tests of the shared state.
    pub(crate) fn empty_ike_config() -> IkeConfig {
        IkeConfig {
            peers: Vec::new(),
            retransmit: RetransmitConfig::default(),
            cookie_threshold: 10,
            fragmentation: true,
            fragment_mtu: 1280,
            force_udp_encap: false,
        }
    }

    fn shared() -> (Shared, Receiver<ControlMsg>) {
        let ike = empty_ike_config();
        // An empty configuration always builds a policy.
        let policy = PolicyState::new(PolicyConfig::default(), &ike, 0).expect("empty policy");
        let (control, rx) = mpsc::channel();
        (Shared::new(SaTables::new(), policy, control), rx)
    }

    fn queue(shared: &Shared, count: usize) {
        let (local, remote) = (LOCAL.parse().expect("address"), REMOTE.parse().expect("address"));
        for _ in 0..count {
            shared.queue_ike(local, remote, &[0; 28]);
        }
    }

    #[test]
    fn queue_ike_bounded() {
        let (shared, rx) = shared();
        queue(&shared, MAX_IKE_QUEUED + 5);
        assert_eq!(rx.try_iter().count(), MAX_IKE_QUEUED);
    }

    #[test]
    fn queue_ike_counts_drops() {
        let (shared, _rx) = shared();
        queue(&shared, MAX_IKE_QUEUED + 5);
        assert_eq!(shared.ike_queue_drops.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn queue_ike_room_after_taken() {
        let (shared, rx) = shared();
        queue(&shared, MAX_IKE_QUEUED);
        let taken = rx.try_iter().count();
        (0..taken).for_each(|_| shared.ike_taken());
        queue(&shared, 1);
        assert_eq!(rx.try_iter().count(), 1);
    }

    #[test]
    fn queue_ike_stopped_control_plane() {
        let (shared, rx) = shared();
        drop(rx);
        queue(&shared, MAX_IKE_QUEUED + 1);
        assert_eq!(shared.ike_queue_drops.load(Ordering::Relaxed), 0);
    }
}
