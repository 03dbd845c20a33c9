//! Why the data plane dropped a packet. Each reason has a stable name for logs and
//! metrics and maps onto the counters of the ASA's `show crypto ipsec stats`.

use std::fmt;

/// A packet the data plane did not deliver, with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The ESP packet is shorter than header, IV, trailer and ICV.
    Truncated,
    /// The ciphertext is not a multiple of the cipher's block size (RFC 4303 section 2.4).
    BadLength,
    /// No inbound SA has this SPI, or the outbound handle no longer names an SA.
    MissingSa,
    /// The sequence number was already received (RFC 4303 section 3.4.3).
    ReplayDuplicate,
    /// The sequence number is left of the anti-replay window, or zero.
    ReplayTooOld,
    /// The ICV did not verify.
    AuthenticationFailed,
    /// The cipher failed after the ICV verified.
    DecryptionFailed,
    /// Pad length longer than the payload, or padding other than 1, 2, 3, ...
    BadPadding,
    /// Next header is neither IPv4 (4) nor IPv6 (41), as tunnel mode requires.
    BadNextHeader,
    /// The inner packet is not a well-formed IP packet of the announced family.
    BadInnerPacket,
    /// The inner packet's addresses, protocol or ports are outside the SA's selectors
    /// (RFC 4301 section 5.2, step 4).
    SelectorMismatch,
    /// A dummy packet (next header 59) for traffic flow confidentiality
    /// (RFC 4303 section 2.6): discarded by design, counted as TFC.
    DummyPacket,
    /// The SA reached its hard lifetime in kilobytes or seconds.
    LifetimeExpired,
    /// Sending would reuse a 32-bit sequence number (RFC 4303 section 3.3.3): the SA
    /// must be rekeyed.
    SeqExhausted,
    /// The output buffer cannot hold the result.
    BufferTooSmall,
    /// The cipher failed to encrypt.
    EncryptionFailed,
    /// DF is set and the packet does not fit the path MTU: an ICMP "fragmentation
    /// needed" or "packet too big" was returned to the sender instead.
    FragmentationNeeded,
    /// The packet needed fragmentation and could not be fragmented.
    FragmentationFailed,
}

impl DropReason {
    /// Every reason, in the order of [`DropReason::index`].
    pub const ALL: [DropReason; 18] = [
        DropReason::Truncated,
        DropReason::BadLength,
        DropReason::MissingSa,
        DropReason::ReplayDuplicate,
        DropReason::ReplayTooOld,
        DropReason::AuthenticationFailed,
        DropReason::DecryptionFailed,
        DropReason::BadPadding,
        DropReason::BadNextHeader,
        DropReason::BadInnerPacket,
        DropReason::SelectorMismatch,
        DropReason::DummyPacket,
        DropReason::LifetimeExpired,
        DropReason::SeqExhausted,
        DropReason::BufferTooSmall,
        DropReason::EncryptionFailed,
        DropReason::FragmentationNeeded,
        DropReason::FragmentationFailed,
    ];

    pub const COUNT: usize = DropReason::ALL.len();

    /// Position in [`DropReason::ALL`], for per-reason counter arrays.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Stable name for logs and metrics labels.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::BadLength => "bad-length",
            DropReason::MissingSa => "missing-sa",
            DropReason::ReplayDuplicate => "replay-duplicate",
            DropReason::ReplayTooOld => "replay-too-old",
            DropReason::AuthenticationFailed => "authentication-failed",
            DropReason::DecryptionFailed => "decryption-failed",
            DropReason::BadPadding => "bad-padding",
            DropReason::BadNextHeader => "bad-next-header",
            DropReason::BadInnerPacket => "bad-inner-packet",
            DropReason::SelectorMismatch => "selector-mismatch",
            DropReason::DummyPacket => "dummy-packet",
            DropReason::LifetimeExpired => "lifetime-expired",
            DropReason::SeqExhausted => "sequence-exhausted",
            DropReason::BufferTooSmall => "buffer-too-small",
            DropReason::EncryptionFailed => "encryption-failed",
            DropReason::FragmentationNeeded => "fragmentation-needed",
            DropReason::FragmentationFailed => "fragmentation-failed",
        }
    }

    /// True for drops of the replay check, counted as "Replay failures".
    pub const fn is_replay(self) -> bool {
        matches!(self, DropReason::ReplayDuplicate | DropReason::ReplayTooOld)
    }

    /// True for malformed or unexpected packets, counted as "Protocol failures".
    pub const fn is_protocol_failure(self) -> bool {
        matches!(
            self,
            DropReason::Truncated
                | DropReason::BadLength
                | DropReason::BadPadding
                | DropReason::BadNextHeader
                | DropReason::BadInnerPacket
                | DropReason::SelectorMismatch
        )
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_all_order() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i, "{r}");
        }
    }

    #[test]
    fn names_unique() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
    }
}
