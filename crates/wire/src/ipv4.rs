//! IPv4 header (RFC 791): options, fragmentation fields and header checksum.

use std::net::Ipv4Addr;

use crate::{Error, Result, checksum};

/// IP protocol number (IANA "Assigned Internet Protocol Numbers"), shared by the IPv4
/// protocol field and the IPv6 next-header field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    pub const HOP_BY_HOP: IpProtocol = IpProtocol(0);
    pub const ICMP: IpProtocol = IpProtocol(1);
    /// IPv4 encapsulated in IP (RFC 2003): ESP next header for an inner IPv4 packet.
    pub const IPV4: IpProtocol = IpProtocol(4);
    pub const TCP: IpProtocol = IpProtocol(6);
    pub const UDP: IpProtocol = IpProtocol(17);
    /// IPv6 encapsulated in IP (RFC 2473): ESP next header for an inner IPv6 packet.
    pub const IPV6: IpProtocol = IpProtocol(41);
    pub const IPV6_ROUTING: IpProtocol = IpProtocol(43);
    pub const IPV6_FRAGMENT: IpProtocol = IpProtocol(44);
    pub const ESP: IpProtocol = IpProtocol(50);
    pub const AH: IpProtocol = IpProtocol(51);
    pub const ICMPV6: IpProtocol = IpProtocol(58);
    /// "No next header" (RFC 8200 section 4.7), used by ESP dummy packets (RFC 4303 section 2.6).
    pub const IPV6_NO_NEXT_HEADER: IpProtocol = IpProtocol(59);
    pub const IPV6_DEST_OPTIONS: IpProtocol = IpProtocol(60);
    pub const SCTP: IpProtocol = IpProtocol(132);

    /// True when the first four octets of the payload carry source and destination ports.
    pub const fn has_ports(self) -> bool {
        matches!(self.0, 6 | 17 | 132 | 136)
    }
}

/// Length of the header without options.
pub const HEADER_LEN: usize = 20;
/// Largest header: a 4-bit IHL counts 32-bit words.
pub const MAX_HEADER_LEN: usize = 60;

/// Flag bits in the flags/fragment-offset word.
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
}

/// A read/write view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without validation; accessors may panic on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking that the version is 4, that the header length is at
    /// least 20 and fits in the total length, and that the total length fits the buffer.
    /// Octets after the total length (link padding) are allowed and ignored.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::truncated("IPv4 header", 0, HEADER_LEN, len));
        }
        if self.version() != 4 {
            return Err(Error::bad_value("IPv4 header: version", 0, u64::from(self.version())));
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(Error::bad_length("IPv4 header: IHL", 0, header_len));
        }
        if len < header_len {
            return Err(Error::truncated("IPv4 header: options", HEADER_LEN, header_len, len));
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len {
            return Err(Error::bad_length("IPv4 header: total length", 2, total_len));
        }
        if len < total_len {
            return Err(Error::truncated("IPv4 packet", 0, total_len, len));
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in octets, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    pub fn dscp_ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    pub fn total_len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }

    pub fn ident(&self) -> u16 {
        self.u16_at(field::IDENT)
    }

    pub fn dont_frag(&self) -> bool {
        self.u16_at(field::FLG_OFF) & FLAG_DF != 0
    }

    pub fn more_frags(&self) -> bool {
        self.u16_at(field::FLG_OFF) & FLAG_MF != 0
    }

    /// Fragment offset in octets (the field counts 8-octet units).
    pub fn frag_offset(&self) -> u16 {
        (self.u16_at(field::FLG_OFF) & FRAG_OFFSET_MASK) << 3
    }

    /// True for any fragment: MF set or a non-zero offset.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[field::PROTOCOL])
    }

    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SRC_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::DST_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// Header sum verifies to `0xffff` (RFC 791, RFC 1071).
    pub fn verify_checksum(&self) -> bool {
        checksum::data(&self.buffer.as_ref()[..self.header_len()]) == 0xffff
    }

    /// Payload up to the total length, so link padding is excluded.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_u16_at(&mut self, r: core::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets version 4 and the header length in octets (a multiple of 4, 20 to 60).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }

    pub fn set_dscp_ecn(&mut self, v: u8) {
        self.buffer.as_mut()[field::DSCP_ECN] = v;
    }

    pub fn set_total_len(&mut self, v: u16) {
        self.set_u16_at(field::LENGTH, v);
    }

    pub fn set_ident(&mut self, v: u16) {
        self.set_u16_at(field::IDENT, v);
    }

    /// Sets DF, MF and the offset in octets; the offset must be a multiple of 8.
    pub fn set_flags_and_offset(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let mut v = (offset >> 3) & FRAG_OFFSET_MASK;
        if dont_frag {
            v |= FLAG_DF;
        }
        if more_frags {
            v |= FLAG_MF;
        }
        self.set_u16_at(field::FLG_OFF, v);
    }

    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    pub fn set_protocol(&mut self, v: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = v.0;
    }

    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16_at(field::CHECKSUM, v);
    }

    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }

    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(&self.buffer.as_ref()[..self.header_len()]);
        self.set_checksum(!sum);
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let end = usize::from(self.total_len());
        &mut self.buffer.as_mut()[start..end]
    }
}

/// The validated header fields of an IPv4 packet without options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    pub protocol: IpProtocol,
    pub payload_len: usize,
    pub ttl: u8,
    pub dscp_ecn: u8,
    pub ident: u16,
    pub dont_frag: bool,
}

impl Repr {
    /// Parses a header, rejecting a bad checksum and fragments (a fragment is not a whole
    /// upper-layer packet, so it has no single `Repr`).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error { what: "IPv4 header: checksum", offset: 10, reason: crate::error::ErrorReason::BadChecksum });
        }
        if packet.is_fragment() {
            return Err(Error::bad_value("IPv4 header: fragment offset", 6, u64::from(packet.frag_offset())));
        }
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: packet.payload().len(),
            ttl: packet.ttl(),
            dscp_ecn: packet.dscp_ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 20-octet header with its checksum. The buffer must hold
    /// `HEADER_LEN + payload_len` octets; the payload is left as it is.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_version_and_header_len(HEADER_LEN);
        packet.set_dscp_ecn(self.dscp_ecn);
        packet.set_total_len((HEADER_LEN + self.payload_len) as u16);
        packet.set_ident(self.ident);
        packet.set_flags_and_offset(self.dont_frag, false, 0);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }
}

/// True when an option type must be copied into every fragment (RFC 791: the copied flag
/// is the high bit of the option type).
pub const fn option_copied(option_type: u8) -> bool {
    option_type & 0x80 != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Repr {
        Repr {
            src_addr: Ipv4Addr::new(198, 51, 100, 1),
            dst_addr: Ipv4Addr::new(203, 0, 113, 9),
            protocol: IpProtocol::UDP,
            payload_len: 12,
            ttl: 64,
            dscp_ecn: 0x10,
            ident: 0xbeef,
            dont_frag: true,
        }
    }

    #[test]
    fn repr_round_trip_junk_buffer() {
        let repr = sample();
        let mut buf = vec![0xa5u8; repr.buffer_len() + repr.payload_len];
        let mut packet = Packet::new_unchecked(&mut buf[..]);
        repr.emit(&mut packet);
        let packet = Packet::new_checked(&buf[..]).expect("emitted header is valid");
        assert_eq!(Repr::parse(&packet), Ok(repr));
    }

    #[test]
    fn checked_truncated() {
        assert!(Packet::new_checked(&[0x45u8; 19][..]).is_err());
    }

    #[test]
    fn checked_short_total_len() {
        let mut buf = [0u8; 40];
        sample().emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf[2..4].copy_from_slice(&60u16.to_be_bytes());
        assert!(Packet::new_checked(&buf[..]).is_err());
    }

    #[test]
    fn checked_bad_ihl() {
        let mut buf = [0u8; 40];
        sample().emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf[0] = 0x44;
        assert!(Packet::new_checked(&buf[..]).is_err());
    }

    #[test]
    fn parse_bad_checksum() {
        let mut buf = [0u8; 32];
        sample().emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf[8] = 1;
        assert!(Repr::parse(&Packet::new_unchecked(&buf[..])).is_err());
    }

    #[test]
    fn fragment_fields() {
        let mut buf = [0u8; 32];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        sample().emit(&mut p);
        p.set_flags_and_offset(false, true, 1480);
        assert_eq!((p.dont_frag(), p.more_frags(), p.frag_offset()), (false, true, 1480));
    }

    #[test]
    fn payload_excludes_link_padding() {
        let mut buf = [0u8; 64];
        sample().emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(Packet::new_checked(&buf[..]).map(|p| p.payload().len()), Ok(12));
    }
}
