//! Counters in the layout of the ASA's `show crypto ipsec sa` (per SA) and
//! `show crypto ipsec stats` (global).

use std::ops::AddAssign;

use crate::DropReason;

/// Per-SA counters. An outbound SA fills the encapsulation side and an inbound SA the
/// decapsulation side; `+=` merges both for one `show crypto ipsec sa` block. With ESP-NULL `pkts_encrypt` and `pkts_decrypt` stay 0 while encaps, digest
/// and verify count, as on the ASA.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaCounters {
    pub pkts_encaps: u64,
    pub pkts_encrypt: u64,
    pub pkts_digest: u64,
    pub pkts_decaps: u64,
    pub pkts_decrypt: u64,
    pub pkts_verify: u64,
    /// Inner octets protected (outbound) or delivered (inbound).
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub pre_frag_successes: u64,
    pub pre_frag_failures: u64,
    pub fragments_created: u64,
    pub pmtus_sent: u64,
    pub pmtus_rcvd: u64,
    /// Inner IP fragments delivered; the receiving host reassembles them.
    pub decapsulated_frgs_needing_reassembly: u64,
    pub tfc_rcvd: u64,
    pub send_errors: u64,
    pub recv_errors: u64,
    pub replay_failures: u64,
    pub auth_failures: u64,
}

impl AddAssign for SaCounters {
    fn add_assign(&mut self, o: SaCounters) {
        self.pkts_encaps += o.pkts_encaps;
        self.pkts_encrypt += o.pkts_encrypt;
        self.pkts_digest += o.pkts_digest;
        self.pkts_decaps += o.pkts_decaps;
        self.pkts_decrypt += o.pkts_decrypt;
        self.pkts_verify += o.pkts_verify;
        self.bytes_out += o.bytes_out;
        self.bytes_in += o.bytes_in;
        self.pre_frag_successes += o.pre_frag_successes;
        self.pre_frag_failures += o.pre_frag_failures;
        self.fragments_created += o.fragments_created;
        self.pmtus_sent += o.pmtus_sent;
        self.pmtus_rcvd += o.pmtus_rcvd;
        self.decapsulated_frgs_needing_reassembly += o.decapsulated_frgs_needing_reassembly;
        self.tfc_rcvd += o.tfc_rcvd;
        self.send_errors += o.send_errors;
        self.recv_errors += o.recv_errors;
        self.replay_failures += o.replay_failures;
        self.auth_failures += o.auth_failures;
    }
}

/// Inbound half of `show crypto ipsec stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InboundStats {
    pub bytes: u64,
    pub decompressed_bytes: u64,
    pub packets: u64,
    pub dropped_packets: u64,
    pub replay_failures: u64,
    pub authentications: u64,
    pub authentication_failures: u64,
    pub decryptions: u64,
    pub decryption_failures: u64,
    pub tfc_packets: u64,
    pub decapsulated_fragments_needing_reassembly: u64,
    pub valid_icmp_errors_rcvd: u64,
    pub invalid_icmp_errors_rcvd: u64,
}

/// Outbound half of `show crypto ipsec stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboundStats {
    pub bytes: u64,
    pub uncompressed_bytes: u64,
    pub packets: u64,
    pub dropped_packets: u64,
    pub authentications: u64,
    pub authentication_failures: u64,
    pub encryptions: u64,
    pub encryption_failures: u64,
    pub tfc_packets: u64,
    pub fragmentation_successes: u64,
    pub pre_fragmentation_successes: u64,
    pub post_fragmentation_successes: u64,
    pub fragmentation_failures: u64,
    pub pre_fragmentation_failures: u64,
    pub post_fragmentation_failures: u64,
    pub fragments_created: u64,
    pub pmtus_sent: u64,
    pub pmtus_rcvd: u64,
}

/// `show crypto ipsec stats`, plus a counter for every [`DropReason`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpsecStats {
    pub inbound: InboundStats,
    pub outbound: OutboundStats,
    pub protocol_failures: u64,
    pub missing_sa_failures: u64,
    pub system_capacity_failures: u64,
    /// Indexed by [`DropReason::index`].
    pub drops: [u64; DropReason::COUNT],
}

/// Direction of a packet, which decides whether a drop counts as inbound or outbound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl IpsecStats {
    /// Number of drops for one reason.
    pub fn drops_for(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// Counts a dropped packet under its reason and the matching ASA failure counters.
    /// PMTU and fragmentation counters are not drops; `Sad::record_pmtu_sent` and
    /// `Sad::record_pre_fragmentation_failure` count them.
    pub fn record_drop(&mut self, direction: Direction, reason: DropReason) {
        self.drops[reason.index()] += 1;
        if reason.is_protocol_failure() {
            self.protocol_failures += 1;
        }
        match reason {
            DropReason::MissingSa => self.missing_sa_failures += 1,
            DropReason::BufferTooSmall => self.system_capacity_failures += 1,
            _ => {}
        }
        match direction {
            Direction::Inbound => {
                let s = &mut self.inbound;
                match reason {
                    // A dummy packet is expected traffic, not a failure.
                    DropReason::DummyPacket => {
                        s.tfc_packets += 1;
                        return;
                    }
                    DropReason::ReplayDuplicate | DropReason::ReplayTooOld => s.replay_failures += 1,
                    DropReason::AuthenticationFailed => {
                        s.authentications += 1;
                        s.authentication_failures += 1;
                    }
                    DropReason::DecryptionFailed => {
                        s.decryptions += 1;
                        s.decryption_failures += 1;
                    }
                    _ => {}
                }
                s.dropped_packets += 1;
            }
            Direction::Outbound => {
                let s = &mut self.outbound;
                if reason == DropReason::EncryptionFailed {
                    s.encryptions += 1;
                    s.encryption_failures += 1;
                }
                s.dropped_packets += 1;
            }
        }
    }

    /// Counts one packet that was encapsulated.
    #[inline]
    pub fn record_encapsulated(&mut self, inner_len: usize, encrypted: bool) {
        let s = &mut self.outbound;
        s.packets += 1;
        s.bytes += inner_len as u64;
        s.uncompressed_bytes += inner_len as u64;
        s.authentications += 1;
        if encrypted {
            s.encryptions += 1;
        }
    }

    /// Counts one packet that was decapsulated and delivered.
    #[inline]
    pub fn record_decapsulated(&mut self, inner_len: usize, decrypted: bool, fragment: bool) {
        let s = &mut self.inbound;
        s.packets += 1;
        s.bytes += inner_len as u64;
        s.decompressed_bytes += inner_len as u64;
        s.authentications += 1;
        if decrypted {
            s.decryptions += 1;
        }
        if fragment {
            s.decapsulated_fragments_needing_reassembly += 1;
        }
    }

    /// Counts an IPv4 packet fragmented before encryption into `fragments` pieces.
    pub fn record_pre_fragmentation(&mut self, fragments: u64) {
        let s = &mut self.outbound;
        s.fragmentation_successes += 1;
        s.pre_fragmentation_successes += 1;
        s.fragments_created += fragments;
    }
}

impl AddAssign<&IpsecStats> for IpsecStats {
    /// Merges the statistics of another shard, such as another worker thread's SAD.
    fn add_assign(&mut self, o: &IpsecStats) {
        macro_rules! add {
            ($s:expr, $o:expr, $($f:ident),*) => { $( $s.$f += $o.$f; )* };
        }
        add!(self.inbound, o.inbound, bytes, decompressed_bytes, packets, dropped_packets, replay_failures,
            authentications, authentication_failures, decryptions, decryption_failures, tfc_packets,
            decapsulated_fragments_needing_reassembly, valid_icmp_errors_rcvd, invalid_icmp_errors_rcvd);
        add!(self.outbound, o.outbound, bytes, uncompressed_bytes, packets, dropped_packets, authentications,
            authentication_failures, encryptions, encryption_failures, tfc_packets, fragmentation_successes,
            pre_fragmentation_successes, post_fragmentation_successes, fragmentation_failures,
            pre_fragmentation_failures, post_fragmentation_failures, fragments_created, pmtus_sent, pmtus_rcvd);
        add!(self, o, protocol_failures, missing_sa_failures, system_capacity_failures);
        for (d, s) in self.drops.iter_mut().zip(o.drops.iter()) {
            *d += s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_replay_counted() {
        let mut s = IpsecStats::default();
        s.record_drop(Direction::Inbound, DropReason::ReplayDuplicate);
        assert_eq!(s.inbound.replay_failures, 1);
        assert_eq!(s.inbound.dropped_packets, 1);
        assert_eq!(s.drops_for(DropReason::ReplayDuplicate), 1);
    }

    #[test]
    fn drop_dummy_not_dropped() {
        let mut s = IpsecStats::default();
        s.record_drop(Direction::Inbound, DropReason::DummyPacket);
        assert_eq!(s.inbound.dropped_packets, 0);
        assert_eq!(s.inbound.tfc_packets, 1);
    }

    #[test]
    fn drop_missing_sa() {
        let mut s = IpsecStats::default();
        s.record_drop(Direction::Inbound, DropReason::MissingSa);
        assert_eq!(s.missing_sa_failures, 1);
    }

    #[test]
    fn stats_merge() {
        let mut a = IpsecStats::default();
        a.record_drop(Direction::Outbound, DropReason::SeqExhausted);
        let mut b = a;
        b += &a;
        assert_eq!(b.outbound.dropped_packets, 2);
        assert_eq!(b.drops_for(DropReason::SeqExhausted), 2);
    }
}
