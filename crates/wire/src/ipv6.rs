//! IPv6 fixed header (RFC 8200 section 3) and a walk over extension headers to the
//! upper-layer header.

use std::net::Ipv6Addr;

use crate::ipv4::IpProtocol;
use crate::{Error, Result};

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;
/// Smallest link MTU IPv6 allows (RFC 8200 section 5).
pub const MIN_MTU: usize = 1280;

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// A read/write view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// Position and protocol of the upper-layer header after the extension headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpperLayer {
    pub protocol: IpProtocol,
    /// Offset of the upper-layer header from the start of the packet.
    pub offset: usize,
    /// False when a Fragment header with a non-zero offset was crossed, so the upper-layer
    /// header (and its ports) is not in this packet.
    pub first_fragment: bool,
    /// True when a Fragment header was crossed.
    pub fragmented: bool,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking the version and that the payload length fits.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::truncated("IPv6 header", 0, HEADER_LEN, len));
        }
        if self.version() != 6 {
            return Err(Error::bad_value("IPv6 header: version", 0, u64::from(self.version())));
        }
        let total = HEADER_LEN + usize::from(self.payload_len());
        if len < total {
            return Err(Error::truncated("IPv6 packet", 0, total, len));
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn word0(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn version(&self) -> u8 {
        (self.word0() >> 28) as u8
    }

    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }

    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }

    pub fn payload_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::LENGTH];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn total_len(&self) -> usize {
        HEADER_LEN + usize::from(self.payload_len())
    }

    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[field::NXT_HDR])
    }

    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC_ADDR]);
        Ipv6Addr::from(a)
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST_ADDR]);
        Ipv6Addr::from(a)
    }

    /// Payload up to the payload length, extension headers included.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.total_len()]
    }

    /// Skips Hop-by-Hop, Routing, Destination Options and Fragment headers (RFC 8200
    /// section 4) to the upper-layer header. Other next-header values, including ESP and
    /// AH, count as the upper layer.
    pub fn upper_layer(&self) -> Result<UpperLayer> {
        let buf = &self.buffer.as_ref()[..self.total_len()];
        let mut protocol = self.next_header();
        let mut offset = HEADER_LEN;
        let mut first_fragment = true;
        let mut fragmented = false;
        loop {
            match protocol {
                IpProtocol::HOP_BY_HOP | IpProtocol::IPV6_ROUTING | IpProtocol::IPV6_DEST_OPTIONS => {
                    let hdr = buf
                        .get(offset..offset + 2)
                        .ok_or_else(|| Error::truncated("IPv6 extension header", offset, 2, buf.len().saturating_sub(offset)))?;
                    let len = (usize::from(hdr[1]) + 1) * 8;
                    if buf.len() < offset + len {
                        return Err(Error::truncated("IPv6 extension header", offset, len, buf.len() - offset));
                    }
                    protocol = IpProtocol(hdr[0]);
                    offset += len;
                }
                IpProtocol::IPV6_FRAGMENT => {
                    let hdr = buf
                        .get(offset..offset + 8)
                        .ok_or_else(|| Error::truncated("IPv6 fragment header", offset, 8, buf.len().saturating_sub(offset)))?;
                    let frag_offset = u16::from_be_bytes([hdr[2], hdr[3]]) & 0xfff8;
                    fragmented = true;
                    first_fragment = frag_offset == 0;
                    protocol = IpProtocol(hdr[0]);
                    offset += 8;
                    if !first_fragment {
                        return Ok(UpperLayer { protocol, offset, first_fragment, fragmented });
                    }
                }
                _ => return Ok(UpperLayer { protocol, offset, first_fragment, fragmented }),
            }
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Writes version 6, the traffic class and the flow label.
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let w = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&w.to_be_bytes());
    }

    pub fn set_payload_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_next_header(&mut self, v: IpProtocol) {
        self.buffer.as_mut()[field::NXT_HDR] = v.0;
    }

    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// The validated fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub src_addr: Ipv6Addr,
    pub dst_addr: Ipv6Addr,
    pub next_header: IpProtocol,
    pub payload_len: usize,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header; the buffer must hold `HEADER_LEN` octets at least.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_version_tc_flow(self.traffic_class, self.flow_label);
        packet.set_payload_len(self.payload_len as u16);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Repr {
        Repr {
            src_addr: "2001:db8::1".parse().expect("literal"),
            dst_addr: "2001:db8::2".parse().expect("literal"),
            next_header: IpProtocol::UDP,
            payload_len: 8,
            hop_limit: 64,
            traffic_class: 0xb8,
            flow_label: 0x12345,
        }
    }

    #[test]
    fn repr_round_trip_junk_buffer() {
        let repr = sample();
        let mut buf = [0x5au8; HEADER_LEN + 8];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let packet = Packet::new_checked(&buf[..]).expect("emitted header is valid");
        assert_eq!(Repr::parse(&packet), Ok(repr));
    }

    #[test]
    fn checked_truncated_payload() {
        let mut buf = [0u8; HEADER_LEN + 4];
        sample().emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert!(Packet::new_checked(&buf[..]).is_err());
    }

    #[test]
    fn upper_layer_skips_extensions() {
        let mut buf = [0u8; HEADER_LEN + 8 + 8 + 8];
        let mut repr = sample();
        repr.next_header = IpProtocol::HOP_BY_HOP;
        repr.payload_len = 24;
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf[40] = IpProtocol::IPV6_FRAGMENT.0;
        buf[41] = 0;
        buf[48] = IpProtocol::TCP.0;
        let ul = Packet::new_checked(&buf[..]).and_then(|p| p.upper_layer());
        assert_eq!(ul, Ok(UpperLayer { protocol: IpProtocol::TCP, offset: 56, first_fragment: true, fragmented: true }));
    }

    #[test]
    fn upper_layer_truncated_extension() {
        let mut buf = [0u8; HEADER_LEN + 8];
        let mut repr = sample();
        repr.next_header = IpProtocol::IPV6_DEST_OPTIONS;
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf[41] = 3;
        assert!(Packet::new_checked(&buf[..]).and_then(|p| p.upper_layer()).is_err());
    }
}
