//! The data plane's Child SAs: the ESP SAD plus the mapping between the IKE engine's
//! (peer, child) indices and SAD entries.
//!
//! A SAD child is keyed by the remote gateway's address and a number that packs the
//! engine's peer and child indices, so that after a failover the same crypto map entry
//! gets a fresh entry for its new remote while `active` still names it by index.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rampart_esp::mtu::Overhead;
use rampart_esp::sa::{InboundSa, Lifetime, OutboundSa, SaParams};
use rampart_esp::sad::{ChildHandle, ChildKey, Sad, SadError};
use rampart_esp::selector::Selector;
use rampart_esp::DropReason;
use rampart_ike::config::TrafficSelector;
use rampart_ike::ChildSaKeys;
use rampart_show::model::{self as show, IpsecChild, IpsecSas, IpsecStats};

/// Engine indices of a Child SA: the crypto map entry (peer) and its permit entry.
pub type ChildId = (usize, usize);

/// How a worker sends on a child's current outbound SA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Egress {
    pub handle: ChildHandle,
    pub remote: SocketAddr,
    pub udp_encap: bool,
    /// Largest inner packet whose ESP packet fits the path MTU.
    pub max_inner: usize,
}

/// An inbound SA with what a worker needs to deliver its packets.
#[derive(Clone)]
pub struct Ingress {
    pub sa: Arc<InboundSa>,
    pub key: ChildKey,
    /// The address the child sends ESP in UDP to now, `None` for plain ESP. An
    /// authenticated packet from elsewhere means a NAT rebinding (`note_source`).
    pub source: Option<SocketAddr>,
}

/// Entries a worker copied out of the SA tables, so that it can encrypt or decrypt
/// without their lock. All entries go when the tables' epoch moves.
pub struct EpochCache<K, V> {
    epoch: Epoch,
    seen: u64,
    pub entries: HashMap<K, V, ahash::RandomState>,
}

impl<K, V> EpochCache<K, V> {
    pub fn new(epoch: Epoch) -> EpochCache<K, V> {
        EpochCache { epoch, seen: u64::MAX, entries: HashMap::default() }
    }

    /// Drops every entry if the SA tables changed since the last call.
    pub fn refresh(&mut self) {
        let now = self.epoch.get();
        if now != self.seen {
            self.entries.clear();
            self.seen = now;
        }
    }
}

#[derive(Default)]
pub struct SaTables {
    pub sad: Sad,
    /// The SAD entry that currently carries each engine child.
    active: HashMap<ChildId, ChildKey>,
    /// Peer address learned from authenticated ESP-in-UDP packets when it differs from
    /// the negotiated one: a NAT in front of the peer changed its mapping.
    floated: HashMap<ChildKey, SocketAddr>,
    /// Bumped on every change that workers' cached SAs depend on (install, rekey,
    /// removal, a NAT rebinding). Workers read it without the lock, see `Epoch`.
    epoch: Epoch,
}

/// A change counter of the SA tables, readable without their lock. A worker caches
/// `Arc`s of SAs and drops its cache when the value moves. Until it looks again, it may
/// send on an SA just replaced, which the peer still accepts, because the old inbound
/// SA stays until the IKE engine deletes it.
#[derive(Clone, Debug, Default)]
pub struct Epoch(Arc<AtomicU64>);

impl Epoch {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

fn child_number(id: ChildId) -> u32 {
    // NOTE: indices above 65,535 would collide. The engine negotiates at most 8 Child
    // SAs per IKE SA, but a crypto ACL may expand to more permit entries than that.
    ((id.0 as u32 & 0xFFFF) << 16) | (id.1 as u32 & 0xFFFF)
}

/// The engine indices packed into a SAD key by `child_number`.
pub fn child_id(key: &ChildKey) -> ChildId {
    ((key.child >> 16) as usize, (key.child & 0xFFFF) as usize)
}

/// Converts the IKE engine's traffic selectors into the SAD's.
pub(crate) fn selectors(ts: &[TrafficSelector]) -> Vec<Selector> {
    ts.iter()
        .map(|t| Selector {
            protocol: t.protocol,
            start_addr: t.start_addr,
            end_addr: t.end_addr,
            start_port: t.start_port,
            end_port: t.end_port,
        })
        .collect()
}

fn params(keys: &ChildSaKeys, inbound: bool, replay_window: u32) -> SaParams {
    let (spi, encr_key, integ_key) = if inbound {
        (keys.spi_in, &keys.encr_key_in, &keys.integ_key_in)
    } else {
        (keys.spi_out, &keys.encr_key_out, &keys.integ_key_out)
    };
    let mut params = SaParams::new(spi, keys.encr, keys.integ, encr_key, integ_key, keys.local, keys.remote);
    params.udp_encap = keys.udp_encap;
    params.local_ts = selectors(&keys.local_ts);
    params.remote_ts = selectors(&keys.remote_ts);
    params.replay_window = replay_window;
    // The IKE engine rekeys on its own timers and on reported traffic; the data plane
    // enforces no lifetime of its own, so a late rekey never cuts traffic.
    params.lifetime = Lifetime::default();
    params
}

impl SaTables {
    pub fn new() -> SaTables {
        SaTables::default()
    }

    /// Returns the change counter, for the workers to share.
    pub fn epoch(&self) -> Epoch {
        self.epoch.clone()
    }

    /// Installs a Child SA from the engine. A rekey (`replaces`) adds the new inbound SA
    /// and moves outbound traffic to the new SA; the old inbound SA stays until its
    /// ChildSaDown.
    pub fn install(&mut self, keys: &ChildSaKeys, replay_window: u32, now: Instant) -> Result<(), SadError> {
        let id = (keys.peer, keys.child);
        let key = ChildKey { peer: keys.remote.ip(), child: child_number(id) };
        self.epoch.bump();
        if keys.replaces.is_some() && self.sad.handle(&key).is_some() {
            return self.sad.rekey(&key, params(keys, true, replay_window), params(keys, false, replay_window), now);
        }
        // A new SA for a child that still has one: a duplicate negotiation or a move to
        // another remote gateway. The new SA wins, as the last one negotiated.
        if let Some(old) = self.active.get(&id).copied() {
            self.sad.remove_child(&old);
            self.floated.remove(&old);
        }
        if self.sad.handle(&key).is_some() {
            self.sad.remove_child(&key);
        }
        self.floated.remove(&key);
        self.sad.install(key, params(keys, true, replay_window), params(keys, false, replay_window), now)?;
        self.active.insert(id, key);
        Ok(())
    }

    /// Removes the SA pair (spi_in, spi_out). When the outbound SPI is no longer the
    /// child's current one (the old half after a rekey), only the inbound SA goes.
    pub fn remove(&mut self, spi_in: u32, spi_out: u32) {
        self.epoch.bump();
        let current = self.sad.children().into_iter().find(|(_, handle)| {
            self.sad.outbound(*handle).is_some_and(|sa| sa.spi() == spi_out)
                && self.sad.inbound_sas(*handle).any(|sa| sa.spi() == spi_in)
        });
        match current {
            Some((key, _)) => {
                self.sad.remove_child(&key);
                self.active.retain(|_, k| *k != key);
                self.floated.remove(&key);
            }
            None => {
                self.sad.remove_inbound(spi_in);
            }
        }
    }

    pub fn clear(&mut self) {
        self.epoch.bump();
        for (key, _) in self.sad.children() {
            self.sad.remove_child(&key);
        }
        self.active.clear();
        self.floated.clear();
    }

    /// Where a child's traffic goes now, or `None` when it has no SA. The path MTU is
    /// the outside interface's, or a smaller one learned for this child.
    pub fn egress(&self, id: ChildId, interface_mtu: u16) -> Option<Egress> {
        let key = self.active.get(&id)?;
        let handle = self.sad.handle(key)?;
        let sa = self.sad.outbound(handle)?;
        let path_mtu = self.sad.path_mtu(handle).map_or(interface_mtu, |learned| learned.min(interface_mtu));
        let max_inner = Overhead::for_sa(sa).max_inner_len(usize::from(path_mtu));
        let info = sa.info();
        let remote = self.floated.get(key).copied().unwrap_or(info.remote);
        Some(Egress { handle, remote, udp_encap: info.udp_encap, max_inner })
    }

    /// Lowers a child's path MTU after an ICMP fragmentation-needed error and counts it.
    /// The epoch moves, so workers size inner packets for the new MTU.
    pub fn record_pmtu_received(&mut self, handle: ChildHandle, mtu: u16) {
        self.sad.record_pmtu_received(handle, mtu);
        self.epoch.bump();
    }

    /// Returns a child to the interface MTU when its learned path MTU ages out.
    pub fn reset_path_mtu(&mut self, handle: ChildHandle) {
        self.sad.reset_path_mtu(handle);
        self.epoch.bump();
    }

    /// Returns a child's egress and its outbound SA, which a worker uses without the
    /// lock until the epoch moves.
    pub fn egress_sa(&self, id: ChildId, interface_mtu: u16) -> Option<(Egress, Arc<OutboundSa>)> {
        let egress = self.egress(id, interface_mtu)?;
        let sa = self.sad.outbound_shared(egress.handle)?;
        Some((egress, sa))
    }

    /// Returns the inbound SA with `spi`, which a worker uses without the lock until the
    /// epoch moves.
    pub fn ingress_sa(&self, spi: u32) -> Option<Ingress> {
        let (sa, handle) = self.sad.inbound_shared(spi)?;
        let key = self.sad.key(handle)?;
        let outbound = self.sad.outbound(handle);
        let source = outbound
            .filter(|o| o.info().udp_encap)
            .map(|o| self.floated.get(&key).copied().unwrap_or(o.info().remote));
        Some(Ingress { sa, key, source })
    }

    /// Records the source of an ESP-in-UDP packet on `key` that passed the ICV and
    /// replay checks. When it differs from where the child sends, outbound traffic
    /// follows it: a NAT in front of the peer changed its mapping, and a forged or
    /// replayed packet cannot get this far.
    pub fn note_source(&mut self, key: &ChildKey, source: SocketAddr) {
        let Some(handle) = self.sad.handle(key) else { return };
        let Some(info) = self.sad.outbound(handle).map(|sa| sa.info()) else { return };
        if !info.udp_encap {
            return;
        }
        let current = self.floated.get(key).copied().unwrap_or(info.remote);
        if current == source {
            return;
        }
        tracing::info!(peer = %key.peer, from = %current, to = %source, "ESP-in-UDP peer address changed; outbound traffic follows");
        if source == info.remote {
            self.floated.remove(key);
        } else {
            self.floated.insert(*key, source);
        }
        self.epoch.bump();
    }

    /// Total inbound bytes of every inbound SA, by SPI, for kilobyte lifetimes.
    pub fn inbound_bytes(&self) -> Vec<(u32, u64)> {
        let mut bytes = Vec::new();
        for (_, handle) in self.sad.children() {
            for sa in self.sad.inbound_sas(handle) {
                bytes.push((sa.spi(), sa.counters().bytes_in));
            }
        }
        bytes
    }

    /// Outbound SPIs whose sequence number is about to wrap.
    pub fn outbound_near_wrap(&self) -> Vec<u32> {
        self.sad
            .children()
            .into_iter()
            .filter_map(|(_, handle)| self.sad.outbound(handle))
            .filter(|sa| sa.seq_near_wrap())
            .map(|sa| sa.spi())
            .collect()
    }

    /// `show crypto ipsec sa`: every child with its SAs and counters. The fields that
    /// come from the configuration and the IKE engine (crypto map, ACE, lifetimes)
    /// are left empty here and filled by `crate::show::ipsec_sas`.
    pub fn snapshot(&self, now: Instant) -> IpsecSas {
        let mut children = Vec::new();
        for (key, handle) in self.sad.children() {
            let (peer, child) = child_id(&key);
            let Some(out) = self.sad.outbound(handle) else { continue };
            let info = out.info();
            let counters = self.sad.counters(handle).unwrap_or_default();
            let inbound: Vec<&InboundSa> = self.sad.inbound_sas(handle).collect();
            // The newest inbound SA is the current one; an older one is the remains
            // of a rekey, kept until the IKE engine deletes it.
            let current_inbound_spi = inbound.iter().max_by_key(|sa| sa.info().installed_at).map(|sa| sa.spi());
            children.push(IpsecChild {
                peer_index: peer,
                child_index: child,
                interface: String::new(),
                crypto_map: String::new(),
                sequence: 0,
                ace: String::new(),
                ike_sa_id: 0,
                local: info.local,
                remote: self.floated.get(&key).copied().unwrap_or(info.remote),
                udp_encap: info.udp_encap,
                encr: info.encr.name().to_string(),
                encr_key_bits: info.encr.key_length_attribute().unwrap_or(0),
                integ: info.integ.map(|i| i.name().to_string()),
                pfs_group: None,
                local_ts: info.local_ts.iter().map(selector_text).collect(),
                remote_ts: info.remote_ts.iter().map(selector_text).collect(),
                local_selectors: info.local_ts.iter().map(show_selector).collect(),
                remote_selectors: info.remote_ts.iter().map(show_selector).collect(),
                outbound_spi: out.spi(),
                inbound: inbound
                    .iter()
                    .map(|sa| show::InboundSa {
                        spi: sa.spi(),
                        bytes: sa.counters().bytes_in,
                        remaining_kb: None,
                        remaining_secs: None,
                        replay_bitmap: sa.replay_bitmap(),
                    })
                    .collect(),
                outbound: Some(show::OutboundSa { spi: out.spi(), bytes: out.counters().bytes_out, remaining_kb: None, remaining_secs: None }),
                current_inbound_spi,
                established_secs: now.saturating_duration_since(info.installed_at).as_secs(),
                path_mtu: self.sad.path_mtu(handle),
                media_mtu: 0,
                ipsec_overhead: Overhead::for_sa(out).worst_case(),
                pkts_encaps: counters.pkts_encaps,
                pkts_encrypt: counters.pkts_encrypt,
                pkts_digest: counters.pkts_digest,
                pkts_decaps: counters.pkts_decaps,
                pkts_decrypt: counters.pkts_decrypt,
                pkts_verify: counters.pkts_verify,
                bytes_out: counters.bytes_out,
                bytes_in: counters.bytes_in,
                pre_frag_successes: counters.pre_frag_successes,
                pre_frag_failures: counters.pre_frag_failures,
                fragments_created: counters.fragments_created,
                pmtus_sent: counters.pmtus_sent,
                pmtus_rcvd: counters.pmtus_rcvd,
                decapsulated_frgs_needing_reassembly: counters.decapsulated_frgs_needing_reassembly,
                tfc_rcvd: counters.tfc_rcvd,
                send_errors: counters.send_errors,
                recv_errors: counters.recv_errors,
                replay_failures: counters.replay_failures,
                auth_failures: counters.auth_failures,
            });
        }
        IpsecSas { children }
    }

    /// `show crypto ipsec stats` of the data plane, with every drop reason. The
    /// daemon-wide counters (`not_tunneled` and the rest) are added by the caller.
    pub fn stats(&self) -> IpsecStats {
        let s = self.sad.stats();
        let i = &s.inbound;
        let o = &s.outbound;
        IpsecStats {
            active_tunnels: self.sad.active_tunnels() as u64,
            previous_tunnels: self.sad.previous_tunnels(),
            inbound: show::InboundStats {
                bytes: i.bytes,
                decompressed_bytes: i.decompressed_bytes,
                packets: i.packets,
                dropped_packets: i.dropped_packets,
                replay_failures: i.replay_failures,
                authentications: i.authentications,
                authentication_failures: i.authentication_failures,
                decryptions: i.decryptions,
                decryption_failures: i.decryption_failures,
                tfc_packets: i.tfc_packets,
                decapsulated_fragments_needing_reassembly: i.decapsulated_fragments_needing_reassembly,
                valid_icmp_errors_rcvd: i.valid_icmp_errors_rcvd,
                invalid_icmp_errors_rcvd: i.invalid_icmp_errors_rcvd,
            },
            outbound: show::OutboundStats {
                bytes: o.bytes,
                uncompressed_bytes: o.uncompressed_bytes,
                packets: o.packets,
                dropped_packets: o.dropped_packets,
                authentications: o.authentications,
                authentication_failures: o.authentication_failures,
                encryptions: o.encryptions,
                encryption_failures: o.encryption_failures,
                tfc_packets: o.tfc_packets,
                fragmentation_successes: o.fragmentation_successes,
                pre_fragmentation_successes: o.pre_fragmentation_successes,
                post_fragmentation_successes: o.post_fragmentation_successes,
                fragmentation_failures: o.fragmentation_failures,
                pre_fragmentation_failures: o.pre_fragmentation_failures,
                post_fragmentation_failures: o.post_fragmentation_failures,
                fragments_created: o.fragments_created,
                pmtus_sent: o.pmtus_sent,
                pmtus_rcvd: o.pmtus_rcvd,
            },
            protocol_failures: s.protocol_failures,
            missing_sa_failures: s.missing_sa_failures,
            system_capacity_failures: s.system_capacity_failures,
            drops: DropReason::ALL.iter().map(|r| (r.name().to_string(), s.drops_for(*r))).collect(),
            ..IpsecStats::default()
        }
    }
}

pub(crate) fn show_selector(s: &Selector) -> show::Selector {
    show::Selector {
        protocol: s.protocol,
        start_addr: s.start_addr,
        end_addr: s.end_addr,
        start_port: s.start_port,
        end_port: s.end_port,
    }
}

fn selector_text(s: &Selector) -> String {
    format!("{}-{} proto {} ports {}-{}", s.start_addr, s.end_addr, s.protocol, s.start_port, s.end_port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_crypto::alg::Encr;
    use zeroize::Zeroizing;

    fn keys(remote: &str, spi_in: u32, spi_out: u32, replaces: Option<(u32, u32)>) -> ChildSaKeys {
        ChildSaKeys {
            peer: 0,
            child: 1,
            local: "198.51.100.1:4500".parse().unwrap(),
            remote: remote.parse().unwrap(),
            udp_encap: true,
            spi_in,
            spi_out,
            encr: Encr::AesGcm16 { key_bits: 256 },
            integ: None,
            encr_key_in: Zeroizing::new(vec![1; 36]),
            integ_key_in: Zeroizing::new(Vec::new()),
            encr_key_out: Zeroizing::new(vec![2; 36]),
            integ_key_out: Zeroizing::new(Vec::new()),
            local_ts: vec![TrafficSelector::any_v4()],
            remote_ts: vec![TrafficSelector::any_v4()],
            lifetime: std::time::Duration::from_secs(28800),
            lifetime_kilobytes: 0,
            pfs_group: None,
            replaces,
            initiator: true,
        }
    }

    fn spi_out(tables: &SaTables) -> Option<u32> {
        let egress = tables.egress((0, 1), 1500)?;
        tables.sad.outbound(egress.handle).map(|sa| sa.spi())
    }

    fn inbound_spis(tables: &SaTables) -> Vec<u32> {
        let mut spis: Vec<u32> = tables.inbound_bytes().into_iter().map(|(spi, _)| spi).collect();
        spis.sort();
        spis
    }

    #[test]
    fn child_number_round_trip() {
        let key = ChildKey { peer: "198.51.100.2".parse().unwrap(), child: child_number((3, 7)) };
        assert_eq!(child_id(&key), (3, 7));
    }

    #[test]
    fn install_sets_egress() {
        let mut tables = SaTables::new();
        tables.install(&keys("198.51.100.2:4500", 0x100, 0x200, None), 1024, Instant::now()).unwrap();
        let egress = tables.egress((0, 1), 1500).unwrap();
        assert_eq!(egress.remote, "198.51.100.2:4500".parse().unwrap());
        assert!(egress.udp_encap);
        assert!(egress.max_inner > 1400);
        assert!(egress.max_inner < 1500);
        assert!(tables.egress((0, 0), 1500).is_none());
    }

    #[test]
    fn rekey_switches_outbound_keeps_old_inbound() {
        let mut tables = SaTables::new();
        let now = Instant::now();
        tables.install(&keys("198.51.100.2:4500", 0x100, 0x200, None), 1024, now).unwrap();
        tables.install(&keys("198.51.100.2:4500", 0x101, 0x201, Some((0x100, 0x200))), 1024, now).unwrap();
        assert_eq!(spi_out(&tables), Some(0x201));
        assert_eq!(inbound_spis(&tables), vec![0x100, 0x101]);
    }

    #[test]
    fn snapshot_names_current_inbound_after_rekey() {
        let mut tables = SaTables::new();
        let now = Instant::now();
        tables.install(&keys("198.51.100.2:4500", 0x100, 0x200, None), 1024, now).unwrap();
        let later = now + std::time::Duration::from_secs(60);
        tables.install(&keys("198.51.100.2:4500", 0x101, 0x201, Some((0x100, 0x200))), 1024, later).unwrap();
        let snapshot = tables.snapshot(later);
        let child = &snapshot.children[0];
        assert_eq!(child.outbound_spi, 0x201);
        assert_eq!(child.current_inbound_spi, Some(0x101));
        assert_eq!(child.inbound.len(), 2);
    }

    #[test]
    fn snapshot_describes_the_sa() {
        let mut tables = SaTables::new();
        let now = Instant::now();
        tables.install(&keys("198.51.100.2:4500", 0x100, 0x200, None), 1024, now).unwrap();
        let snapshot = tables.snapshot(now);
        let child = &snapshot.children[0];
        assert_eq!((child.peer_index, child.child_index), (0, 1));
        assert_eq!(child.encr, "AES_GCM_16-256");
        assert_eq!(child.encr_key_bits, 256);
        assert_eq!(child.integ, None);
        assert_eq!(child.local_selectors[0].end_addr.to_string(), "255.255.255.255");
        assert_eq!(child.outbound.as_ref().map(|o| o.spi), Some(0x200));
        assert_eq!(child.inbound[0].replay_bitmap, 0);
        // Outer IPv4 20 + UDP 8 + ESP header 8 + IV 8 + trailer 2 + ICV 16 + padding 3.
        assert_eq!(child.ipsec_overhead, 65);
    }

    #[test]
    fn snapshot_json_keeps_hex_spis() {
        let mut tables = SaTables::new();
        let now = Instant::now();
        tables.install(&keys("198.51.100.2:4500", 0x100, 0x200, None), 1024, now).unwrap();
        let value = serde_json::to_value(tables.snapshot(now)).unwrap();
        assert_eq!(value["children"][0]["outbound_spi"], "0x00000200");
        assert_eq!(value["children"][0]["inbound"][0]["spi"], "0x00000100");
    }

    #[test]
    fn down_of_old_half_removes_inbound_only() {
        let mut tables = SaTables::new();
        let now = Instant::now();
        tables.install(&keys("198.51.100.2:4500", 0x100, 0x200, None), 1024, now).unwrap();
        tables.install(&keys("198.51.100.2:4500", 0x101, 0x201, Some((0x100, 0x200))), 1024, now).unwrap();
        tables.remove(0x100, 0x200);
        assert_eq!(spi_out(&tables), Some(0x201));
        assert_eq!(inbound_spis(&tables), vec![0x101]);
    }

    #[test]
    fn down_of_current_removes_child() {
        let mut tables = SaTables::new();
        tables.install(&keys("198.51.100.2:4500", 0x100, 0x200, None), 1024, Instant::now()).unwrap();
        tables.remove(0x100, 0x200);
        assert!(tables.egress((0, 1), 1500).is_none());
        assert!(inbound_spis(&tables).is_empty());
    }

    #[test]
    fn failover_replaces_remote() {
        let mut tables = SaTables::new();
        let now = Instant::now();
        tables.install(&keys("198.51.100.2:4500", 0x100, 0x200, None), 1024, now).unwrap();
        tables.install(&keys("198.51.100.3:4500", 0x300, 0x400, None), 1024, now).unwrap();
        assert_eq!(tables.egress((0, 1), 1500).unwrap().remote, "198.51.100.3:4500".parse().unwrap());
        assert_eq!(inbound_spis(&tables), vec![0x300]);
        // The late ChildSaDown of the old SA leaves the new one alone.
        tables.remove(0x100, 0x200);
        assert_eq!(spi_out(&tables), Some(0x400));
    }

    #[test]
    fn authenticated_source_moves_egress() {
        let mut tables = SaTables::new();
        tables.install(&keys("198.51.100.2:4500", 0x100, 0x200, None), 1024, Instant::now()).unwrap();
        let key = ChildKey { peer: "198.51.100.2".parse().unwrap(), child: child_number((0, 1)) };
        tables.note_source(&key, "198.51.100.2:61000".parse().unwrap());
        assert_eq!(tables.egress((0, 1), 1500).unwrap().remote, "198.51.100.2:61000".parse().unwrap());
    }

    #[test]
    fn epoch_moves_on_change() {
        let mut tables = SaTables::new();
        let epoch = tables.epoch();
        let before = epoch.get();
        tables.install(&keys("198.51.100.2:4500", 0x100, 0x200, None), 1024, Instant::now()).unwrap();
        assert!(epoch.get() > before);
    }
}
