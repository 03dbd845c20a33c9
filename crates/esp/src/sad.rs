//! The security association database: inbound SAs by SPI, outbound SAs by Child SA,
//! with make-before-break rekeying (RFC 7296 section 2.8).
//!
//! A Child SA is named by a [`ChildKey`] chosen by the daemon and addressed on the
//! packet path by a [`ChildHandle`], an index into a slab that stays valid across
//! rekeys, so the outbound path needs no hash lookup.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use rampart_crypto::CryptoError;
use rampart_crypto::alg::Encr;

use crate::sa::{Decapsulated, InboundSa, LifetimeState, OutboundSa, SaParams};
use crate::stats::{Direction, IpsecStats, SaCounters};
use crate::DropReason;

/// Names one Child SA: the peer and a number the daemon assigns (for example the
/// crypto map ACE the SA protects).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildKey {
    pub peer: IpAddr,
    pub child: u32,
}

/// Packet-path reference to a Child SA. A handle of a removed child is detected by its
/// generation and yields [`DropReason::MissingSa`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChildHandle {
    index: u32,
    generation: u32,
}

/// Failure of a SAD update.
#[derive(Debug, thiserror::Error)]
pub enum SadError {
    #[error("Child SA {0:?} is already installed; rekey it instead")]
    ChildExists(ChildKey),
    #[error("Child SA {0:?} is not installed")]
    ChildNotFound(ChildKey),
    #[error("inbound SPI {0:#010x} is already in use; allocate another SPI")]
    SpiInUse(u32),
    #[error("cannot install SA {spi:#010x}: {source}")]
    Crypto {
        spi: u32,
        #[source]
        source: CryptoError,
    },
}

/// Hashes SPIs by multiplication. SPIs of inbound SAs are chosen at random by us, so a
/// peer cannot pick values that collide in the table, and a keyed hash would only cost
/// time on every inbound packet.
#[derive(Default)]
pub struct SpiHasher(u64);

impl Hasher for SpiHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, v: u32) {
        self.0 = u64::from(v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type SpiMap<V> = HashMap<u32, V, BuildHasherDefault<SpiHasher>>;

struct ChildEntry {
    key: ChildKey,
    generation: u32,
    outbound: Option<Arc<OutboundSa>>,
    /// Inbound SPIs of this child, oldest first.
    inbound: Vec<u32>,
    /// Counters of the child that are not tied to one SA. They survive rekeys.
    child_counters: ChildCounters,
    /// Path MTU of the outer path, 0 when unknown.
    path_mtu: u16,
    /// Highest lifetime state already reported for the current SAs.
    reported: LifetimeState,
}

/// The child-level counters: fragmentation before encryption and PMTU messages. Only
/// these five, not a whole `SaCounters` (152 octets), because every Child SA carries
/// them; `Sad::counters` merges them with the SAs' counters.
#[derive(Clone, Copy, Debug, Default)]
struct ChildCounters {
    pre_frag_successes: u64,
    pre_frag_failures: u64,
    fragments_created: u64,
    pmtus_sent: u64,
    pmtus_rcvd: u64,
}

struct InboundEntry {
    sa: Arc<InboundSa>,
    child: u32,
}

/// A Child SA that reached a lifetime limit or the end of its sequence space, reported
/// once per SA and state by [`Sad::poll_lifetime`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LifetimeEvent {
    pub key: ChildKey,
    pub handle: ChildHandle,
    pub state: LifetimeState,
    /// SPI of the SA that triggered the event.
    pub spi: u32,
    /// True when the outbound sequence counter is near its end, not a configured limit.
    pub seq_near_wrap: bool,
}

/// Result of [`Sad::decapsulate`]: the Child SA the packet arrived on and the packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub handle: ChildHandle,
    pub key: ChildKey,
    pub packet: Decapsulated,
}

/// The SA database of one data-plane worker.
#[derive(Default)]
pub struct Sad {
    children: Vec<Option<ChildEntry>>,
    free: Vec<u32>,
    next_generation: u32,
    by_key: HashMap<ChildKey, u32>,
    inbound: SpiMap<InboundEntry>,
    stats: IpsecStats,
    /// Tunnels removed since start, for `Previous tunnels`.
    previous_tunnels: u64,
}

impl Sad {
    pub fn new() -> Sad {
        Sad::default()
    }

    /// Installs a new Child SA with its inbound and outbound SAs.
    pub fn install(&mut self, key: ChildKey, inbound: SaParams, outbound: SaParams, now: Instant) -> Result<ChildHandle, SadError> {
        if self.by_key.contains_key(&key) {
            return Err(SadError::ChildExists(key));
        }
        if self.inbound.contains_key(&inbound.spi) {
            return Err(SadError::SpiInUse(inbound.spi));
        }
        let in_spi = inbound.spi;
        let in_sa = InboundSa::new(inbound, now).map_err(|source| SadError::Crypto { spi: in_spi, source })?;
        let out_spi = outbound.spi;
        let mut out_sa = OutboundSa::new(outbound, now).map_err(|source| SadError::Crypto { spi: out_spi, source })?;
        out_sa.share_selectors(in_sa.info());

        self.next_generation = self.next_generation.wrapping_add(1);
        let entry = ChildEntry {
            key,
            generation: self.next_generation,
            outbound: Some(Arc::new(out_sa)),
            inbound: vec![in_spi],
            child_counters: ChildCounters::default(),
            path_mtu: 0,
            reported: LifetimeState::Valid,
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.children[i as usize] = Some(entry);
                i
            }
            None => {
                self.children.push(Some(entry));
                (self.children.len() - 1) as u32
            }
        };
        self.by_key.insert(key, index);
        self.inbound.insert(in_spi, InboundEntry { sa: Arc::new(in_sa), child: index });
        tracing::info!(peer = %key.peer, child = key.child, spi_in = format_args!("{in_spi:#010x}"), spi_out = format_args!("{out_spi:#010x}"), "Child SA installed");
        Ok(ChildHandle { index, generation: self.next_generation })
    }

    /// Adds a new inbound SA next to the current ones, the first step of a
    /// make-before-break rekey: the peer may start using it before we switch.
    pub fn add_inbound(&mut self, key: &ChildKey, params: SaParams, now: Instant) -> Result<(), SadError> {
        let index = *self.by_key.get(key).ok_or(SadError::ChildNotFound(*key))?;
        if self.inbound.contains_key(&params.spi) {
            return Err(SadError::SpiInUse(params.spi));
        }
        let spi = params.spi;
        let sa = InboundSa::new(params, now).map_err(|source| SadError::Crypto { spi, source })?;
        self.inbound.insert(spi, InboundEntry { sa: Arc::new(sa), child: index });
        if let Some(entry) = self.children[index as usize].as_mut() {
            entry.inbound.push(spi);
            entry.reported = LifetimeState::Valid;
        }
        tracing::info!(peer = %key.peer, child = key.child, spi_in = format_args!("{spi:#010x}"), "inbound SA added");
        Ok(())
    }

    /// Replaces the outbound SA; packets sent after this call use the new SA.
    pub fn switch_outbound(&mut self, key: &ChildKey, params: SaParams, now: Instant) -> Result<(), SadError> {
        let index = *self.by_key.get(key).ok_or(SadError::ChildNotFound(*key))?;
        let spi = params.spi;
        let mut sa = OutboundSa::new(params, now).map_err(|source| SadError::Crypto { spi, source })?;
        let newest_inbound = self.children[index as usize].as_ref().and_then(|e| e.inbound.last()).and_then(|spi| self.inbound.get(spi));
        if let Some(inbound) = newest_inbound {
            sa.share_selectors(inbound.sa.info());
        }
        if let Some(entry) = self.children[index as usize].as_mut() {
            let old = entry.outbound.replace(Arc::new(sa)).map(|o| o.spi());
            entry.reported = LifetimeState::Valid;
            tracing::info!(peer = %key.peer, child = key.child, old_spi_out = ?old.map(|s| format!("{s:#010x}")), spi_out = format_args!("{spi:#010x}"), "outbound SA switched");
        }
        Ok(())
    }

    /// Rekeys a Child SA: installs the new inbound SA, then switches the outbound SA.
    /// The old inbound SA stays until [`Sad::remove_inbound`], so packets in flight on it
    /// are still accepted.
    pub fn rekey(&mut self, key: &ChildKey, inbound: SaParams, outbound: SaParams, now: Instant) -> Result<(), SadError> {
        self.add_inbound(key, inbound, now)?;
        self.switch_outbound(key, outbound, now)
    }

    /// Removes one inbound SA (the old one after a rekey). Returns false when the SPI is
    /// not installed.
    pub fn remove_inbound(&mut self, spi: u32) -> bool {
        let Some(entry) = self.inbound.remove(&spi) else { return false };
        if let Some(child) = self.children.get_mut(entry.child as usize).and_then(Option::as_mut) {
            child.inbound.retain(|&s| s != spi);
        }
        tracing::info!(spi_in = format_args!("{spi:#010x}"), "inbound SA removed");
        true
    }

    /// Removes a Child SA with all its SAs. Returns the removed inbound SPIs.
    pub fn remove_child(&mut self, key: &ChildKey) -> Option<Vec<u32>> {
        let index = self.by_key.remove(key)?;
        let entry = self.children.get_mut(index as usize)?.take()?;
        for spi in &entry.inbound {
            self.inbound.remove(spi);
        }
        self.free.push(index);
        self.previous_tunnels += 1;
        tracing::info!(peer = %key.peer, child = key.child, "Child SA removed");
        Some(entry.inbound)
    }

    pub fn handle(&self, key: &ChildKey) -> Option<ChildHandle> {
        let index = *self.by_key.get(key)?;
        let entry = self.children.get(index as usize)?.as_ref()?;
        Some(ChildHandle { index, generation: entry.generation })
    }

    #[inline]
    fn entry_mut(&mut self, handle: ChildHandle) -> Option<&mut ChildEntry> {
        self.children.get_mut(handle.index as usize)?.as_mut().filter(|e| e.generation == handle.generation)
    }

    #[inline]
    fn entry(&self, handle: ChildHandle) -> Option<&ChildEntry> {
        self.children.get(handle.index as usize)?.as_ref().filter(|e| e.generation == handle.generation)
    }

    pub fn key(&self, handle: ChildHandle) -> Option<ChildKey> {
        self.entry(handle).map(|e| e.key)
    }

    pub fn outbound(&self, handle: ChildHandle) -> Option<&OutboundSa> {
        self.entry(handle)?.outbound.as_deref()
    }

    /// Returns a shared reference to a child's current outbound SA, so that worker
    /// threads can encapsulate in parallel without holding the SAD. After a rekey the
    /// child's handle yields the new SA. A worker that keeps the old `Arc` keeps sending
    /// on the old SA, so it should refresh its copy when the SAD changes.
    pub fn outbound_shared(&self, handle: ChildHandle) -> Option<Arc<OutboundSa>> {
        self.entry(handle)?.outbound.clone()
    }

    /// Returns a shared reference to an inbound SA and its child, for decapsulation by
    /// worker threads without holding the SAD.
    pub fn inbound_shared(&self, spi: u32) -> Option<(Arc<InboundSa>, ChildHandle)> {
        let entry = self.inbound.get(&spi)?;
        let child = self.children.get(entry.child as usize)?.as_ref()?;
        Some((entry.sa.clone(), ChildHandle { index: entry.child, generation: child.generation }))
    }

    /// Returns the inbound SAs of a child, oldest first.
    pub fn inbound_sas(&self, handle: ChildHandle) -> impl Iterator<Item = &InboundSa> {
        let spis = self.entry(handle).map(|e| e.inbound.as_slice()).unwrap_or(&[]);
        spis.iter().filter_map(|spi| self.inbound.get(spi).map(|e| &*e.sa))
    }

    pub fn inbound_by_spi(&self, spi: u32) -> Option<&InboundSa> {
        self.inbound.get(&spi).map(|e| &*e.sa)
    }

    /// Encapsulates an inner packet on a child's current outbound SA, counting the
    /// result. See [`OutboundSa::encapsulate`].
    #[inline]
    pub fn encapsulate(&mut self, handle: ChildHandle, inner: &[u8], out: &mut [u8]) -> Result<usize, DropReason> {
        let result = match self.outbound(handle) {
            Some(sa) => sa.encapsulate(inner, out),
            None => Err(DropReason::MissingSa),
        };
        self.count_outbound(handle, inner.len(), &result);
        result
    }

    /// In-place variant of [`Sad::encapsulate`]; see [`OutboundSa::encapsulate_in_place`].
    #[inline]
    pub fn encapsulate_in_place(&mut self, handle: ChildHandle, buf: &mut [u8], inner_len: usize) -> Result<usize, DropReason> {
        let result = match self.outbound(handle) {
            Some(sa) => sa.encapsulate_in_place(buf, inner_len),
            None => Err(DropReason::MissingSa),
        };
        self.count_outbound(handle, inner_len, &result);
        result
    }

    #[inline]
    fn count_outbound(&mut self, handle: ChildHandle, inner_len: usize, result: &Result<usize, DropReason>) {
        match result {
            Ok(_) => {
                let encrypted = self.outbound(handle).is_some_and(|sa| sa.info().encr != Encr::Null);
                self.stats.record_encapsulated(inner_len, encrypted);
            }
            Err(reason) => {
                tracing::trace!(%reason, "outbound packet dropped before encapsulation");
                self.record_drop(Direction::Outbound, *reason);
            }
        }
    }

    /// Looks up the inbound SA by SPI and decapsulates the packet in place.
    #[inline]
    pub fn decapsulate(&mut self, esp: &mut [u8]) -> Result<Received, DropReason> {
        match self.decapsulate_inner(esp) {
            Ok((received, decrypted)) => {
                let p = &received.packet;
                self.stats.record_decapsulated(p.inner.len(), decrypted, p.fragment);
                Ok(received)
            }
            Err(reason) => {
                // Drops are counted by reason; a per-packet line is for tracing only.
                let spi = esp.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                tracing::trace!(spi = ?spi.map(|s| format!("{s:#010x}")), %reason, "inbound ESP packet dropped");
                self.record_drop(Direction::Inbound, reason);
                Err(reason)
            }
        }
    }

    /// Returns the packet and whether the SA encrypts (false for ESP-NULL).
    #[inline]
    fn decapsulate_inner(&mut self, esp: &mut [u8]) -> Result<(Received, bool), DropReason> {
        if esp.len() < rampart_wire::esp::HEADER_LEN {
            return Err(DropReason::Truncated);
        }
        let spi = u32::from_be_bytes([esp[0], esp[1], esp[2], esp[3]]);
        let entry = self.inbound.get(&spi).ok_or(DropReason::MissingSa)?;
        let index = entry.child;
        let decrypted = entry.sa.info().encr != Encr::Null;
        let packet = entry.sa.decapsulate(esp)?;
        let child = self.children.get(index as usize).and_then(Option::as_ref).ok_or(DropReason::MissingSa)?;
        let handle = ChildHandle { index, generation: child.generation };
        Ok((Received { handle, key: child.key, packet }, decrypted))
    }

    /// Adds the counters a worker gathered while it used shared SAs without the SAD
    /// (see [`Sad::outbound_shared`] and [`Sad::inbound_shared`]).
    pub fn merge_stats(&mut self, delta: &IpsecStats) {
        self.stats += delta;
    }

    /// Counts a drop that happened outside the SAD (in the daemon or the MTU checks).
    pub fn record_drop(&mut self, direction: Direction, reason: DropReason) {
        self.stats.record_drop(direction, reason);
    }

    fn child_counters_mut(&mut self, handle: ChildHandle) -> Option<&mut ChildCounters> {
        self.entry_mut(handle).map(|e| &mut e.child_counters)
    }

    /// Counts a packet fragmented before encryption into `fragments` pieces.
    pub fn record_pre_fragmentation(&mut self, handle: ChildHandle, fragments: u64) {
        self.stats.record_pre_fragmentation(fragments);
        if let Some(c) = self.child_counters_mut(handle) {
            c.pre_frag_successes += 1;
            c.fragments_created += fragments;
        }
    }

    /// Counts a packet that needed fragmentation and failed it. The drop itself is
    /// counted separately with [`Sad::record_drop`] and its reason.
    pub fn record_pre_fragmentation_failure(&mut self, handle: ChildHandle) {
        self.stats.outbound.fragmentation_failures += 1;
        self.stats.outbound.pre_fragmentation_failures += 1;
        if let Some(c) = self.child_counters_mut(handle) {
            c.pre_frag_failures += 1;
        }
    }

    /// Counts an ICMP "fragmentation needed" or "packet too big" sent to an inside host.
    /// The dropped packet is counted separately with [`Sad::record_drop`] and
    /// [`DropReason::FragmentationNeeded`].
    pub fn record_pmtu_sent(&mut self, handle: ChildHandle) {
        self.stats.outbound.pmtus_sent += 1;
        if let Some(c) = self.child_counters_mut(handle) {
            c.pmtus_sent += 1;
        }
    }

    /// Records a path MTU learned from an ICMP error about our ESP packets.
    pub fn record_pmtu_received(&mut self, handle: ChildHandle, path_mtu: u16) {
        self.stats.outbound.pmtus_rcvd += 1;
        if let Some(e) = self.entry_mut(handle) {
            e.child_counters.pmtus_rcvd += 1;
            e.path_mtu = path_mtu;
        }
    }

    /// Forgets a child's learned path MTU, so that the interface MTU applies again: the
    /// ASA's `pmtu-aging` when no new ICMP error arrived within its interval.
    pub fn reset_path_mtu(&mut self, handle: ChildHandle) {
        if let Some(e) = self.entry_mut(handle) {
            e.path_mtu = 0;
        }
    }

    /// Moves a child's outbound traffic to the peer's new outer address, such as a new
    /// NAT-T source port. Call it only with the source of a packet that decapsulated
    /// cleanly, so that a forged packet cannot redirect the tunnel. Returns true when
    /// the address changed.
    pub fn update_remote(&mut self, handle: ChildHandle, remote: std::net::SocketAddr) -> bool {
        let Some(entry) = self.entry(handle) else { return false };
        let key = entry.key;
        let Some(out) = entry.outbound.as_ref() else { return false };
        let old = out.remote();
        if old == remote {
            return false;
        }
        out.set_remote(remote);
        tracing::info!(peer = %key.peer, child = key.child, %old, new = %remote, "peer outer address changed");
        true
    }

    /// Path MTU learned for a child, `None` until one was recorded.
    pub fn path_mtu(&self, handle: ChildHandle) -> Option<u16> {
        self.entry(handle).map(|e| e.path_mtu).filter(|&m| m != 0)
    }

    /// Counters of a child for `show crypto ipsec sa`: its outbound SA, its newest
    /// inbound SA and the child-level counters.
    pub fn counters(&self, handle: ChildHandle) -> Option<SaCounters> {
        let entry = self.entry(handle)?;
        let child = entry.child_counters;
        let mut c = SaCounters {
            pre_frag_successes: child.pre_frag_successes,
            pre_frag_failures: child.pre_frag_failures,
            fragments_created: child.fragments_created,
            pmtus_sent: child.pmtus_sent,
            pmtus_rcvd: child.pmtus_rcvd,
            ..SaCounters::default()
        };
        if let Some(out) = &entry.outbound {
            c += out.counters();
        }
        if let Some(sa) = entry.inbound.last().and_then(|spi| self.inbound.get(spi)) {
            c += sa.sa.counters();
        }
        Some(c)
    }

    /// Lists every installed child, ordered by key.
    pub fn children(&self) -> Vec<(ChildKey, ChildHandle)> {
        let mut v: Vec<_> = self
            .children
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (e.key, ChildHandle { index: i as u32, generation: e.generation })))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    pub fn stats(&self) -> &IpsecStats {
        &self.stats
    }

    /// `Active tunnels` of `show crypto ipsec stats`.
    pub fn active_tunnels(&self) -> usize {
        self.by_key.len()
    }

    /// `Previous tunnels` of `show crypto ipsec stats`.
    pub fn previous_tunnels(&self) -> u64 {
        self.previous_tunnels
    }

    /// Reports children whose current SAs passed a soft or hard lifetime, or whose
    /// outbound sequence counter is near its end, once per SA set and state. The IKE
    /// engine rekeys on `Soft` and deletes on `Hard`.
    pub fn poll_lifetime(&mut self, now: Instant) -> Vec<LifetimeEvent> {
        let mut events = Vec::new();
        for (index, slot) in self.children.iter_mut().enumerate() {
            let Some(entry) = slot.as_mut() else { continue };
            let handle = ChildHandle { index: index as u32, generation: entry.generation };
            let mut worst = (LifetimeState::Valid, 0u32, false);
            if let Some(out) = &entry.outbound {
                let mut state = out.lifetime_state(now);
                let near_wrap = out.seq_near_wrap();
                if near_wrap && state == LifetimeState::Valid {
                    state = LifetimeState::Soft;
                }
                if state > worst.0 {
                    worst = (state, out.spi(), near_wrap && state == LifetimeState::Soft);
                }
            }
            if let Some(sa) = entry.inbound.last().and_then(|spi| self.inbound.get(spi)) {
                let state = sa.sa.lifetime_state(now);
                if state > worst.0 {
                    worst = (state, sa.sa.spi(), false);
                }
            }
            if worst.0 > entry.reported {
                entry.reported = worst.0;
                events.push(LifetimeEvent { key: entry.key, handle, state: worst.0, spi: worst.1, seq_near_wrap: worst.2 });
            }
        }
        events
    }
}
