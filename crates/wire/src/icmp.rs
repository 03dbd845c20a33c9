//! ICMPv4 (RFC 792, RFC 1191) echo, destination unreachable and time exceeded, and
//! ICMPv6 (RFC 4443) echo and packet too big.
//!
//! Both versions share the layout type, code, checksum, 4 octets of message-specific
//! fields, then data; [`Packet`] covers both, and the checksum differs: ICMPv6 adds the
//! IPv6 pseudo-header (RFC 4443 section 2.3).

use std::net::Ipv6Addr;

use crate::ipv4::IpProtocol;
use crate::{Error, Result, checksum};

pub const HEADER_LEN: usize = 8;

/// ICMPv4 message types.
pub mod v4_type {
    pub const ECHO_REPLY: u8 = 0;
    pub const DST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    /// Destination-unreachable code "fragmentation needed and DF set" (RFC 792, RFC 1191).
    pub const CODE_FRAG_NEEDED: u8 = 4;
}

/// ICMPv6 message types.
pub mod v6_type {
    pub const DST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
}

/// True for ICMPv4 error messages, which must never trigger another ICMP error
/// (RFC 1122 section 3.2.2).
pub const fn is_v4_error(msg_type: u8) -> bool {
    matches!(msg_type, 3 | 4 | 5 | 11 | 12)
}

/// True for ICMPv6 error messages (types 0-127, RFC 4443 section 2.1).
pub const fn is_v6_error(msg_type: u8) -> bool {
    msg_type < 128
}

/// A read/write view of an ICMPv4 or ICMPv6 message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::truncated("ICMP header", 0, HEADER_LEN, len));
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, i: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[i], b[i + 1]])
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    pub fn checksum(&self) -> u16 {
        self.u16_at(2)
    }

    pub fn echo_ident(&self) -> u16 {
        self.u16_at(4)
    }

    pub fn echo_seq_no(&self) -> u16 {
        self.u16_at(6)
    }

    /// Next-hop MTU of an ICMPv4 "fragmentation needed" (RFC 1191 section 4).
    pub fn next_hop_mtu(&self) -> u16 {
        self.u16_at(6)
    }

    /// MTU of an ICMPv6 "packet too big" (RFC 4443 section 3.2).
    pub fn mtu(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }

    /// Data after the 8-octet header: echo data or the invoking packet of an error.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    pub fn verify_checksum_v4(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }

    pub fn verify_checksum_v6(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        checksum::upper_layer(src.into(), dst.into(), IpProtocol::ICMPV6.0, self.buffer.as_ref()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_u16_at(&mut self, i: usize, v: u16) {
        self.buffer.as_mut()[i..i + 2].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[0] = v;
    }

    pub fn set_msg_code(&mut self, v: u8) {
        self.buffer.as_mut()[1] = v;
    }

    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16_at(2, v);
    }

    /// Writes the 4 message-specific octets (ident and sequence, unused and MTU, ...).
    pub fn set_rest_of_header(&mut self, v: u32) {
        self.buffer.as_mut()[4..8].copy_from_slice(&v.to_be_bytes());
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    pub fn fill_checksum_v4(&mut self) {
        self.set_checksum(0);
        let c = !checksum::data(self.buffer.as_ref());
        self.set_checksum(c);
    }

    pub fn fill_checksum_v6(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let sum = checksum::upper_layer(src.into(), dst.into(), IpProtocol::ICMPV6.0, self.buffer.as_ref());
        self.set_checksum(!sum);
    }
}

/// An ICMPv4 message that rampart reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repr<'a> {
    EchoRequest { ident: u16, seq_no: u16, data: &'a [u8] },
    EchoReply { ident: u16, seq_no: u16, data: &'a [u8] },
    /// `next_hop_mtu` is meaningful for code 4 only and 0 otherwise. `data` is the
    /// start of the packet that caused the error.
    DstUnreachable { code: u8, next_hop_mtu: u16, data: &'a [u8] },
    TimeExceeded { code: u8, data: &'a [u8] },
}

impl<'a> Repr<'a> {
    /// Parses an ICMPv4 message, verifying its checksum. Other types are rejected.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &'a Packet<&'a T>) -> Result<Repr<'a>> {
        let len = packet.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::truncated("ICMP header", 0, HEADER_LEN, len));
        }
        if !packet.verify_checksum_v4() {
            return Err(Error { what: "ICMP checksum", offset: 2, reason: crate::error::ErrorReason::BadChecksum });
        }
        let data = &packet.buffer.as_ref()[HEADER_LEN..];
        match (packet.msg_type(), packet.msg_code()) {
            (v4_type::ECHO_REQUEST, 0) => Ok(Repr::EchoRequest { ident: packet.echo_ident(), seq_no: packet.echo_seq_no(), data }),
            (v4_type::ECHO_REPLY, 0) => Ok(Repr::EchoReply { ident: packet.echo_ident(), seq_no: packet.echo_seq_no(), data }),
            (v4_type::DST_UNREACHABLE, code) => {
                let next_hop_mtu = if code == v4_type::CODE_FRAG_NEEDED { packet.next_hop_mtu() } else { 0 };
                Ok(Repr::DstUnreachable { code, next_hop_mtu, data })
            }
            (v4_type::TIME_EXCEEDED, code) => Ok(Repr::TimeExceeded { code, data }),
            (t, _) => Err(Error::bad_value("ICMP header: type", 0, u64::from(t))),
        }
    }

    pub fn buffer_len(&self) -> usize {
        let data = match self {
            Repr::EchoRequest { data, .. } | Repr::EchoReply { data, .. } => data,
            Repr::DstUnreachable { data, .. } | Repr::TimeExceeded { data, .. } => data,
        };
        HEADER_LEN + data.len()
    }

    /// Writes the message with its checksum into a buffer of exactly `buffer_len()` octets.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let (msg_type, code, rest, data) = match *self {
            Repr::EchoRequest { ident, seq_no, data } => (v4_type::ECHO_REQUEST, 0, u32::from(ident) << 16 | u32::from(seq_no), data),
            Repr::EchoReply { ident, seq_no, data } => (v4_type::ECHO_REPLY, 0, u32::from(ident) << 16 | u32::from(seq_no), data),
            Repr::DstUnreachable { code, next_hop_mtu, data } => (v4_type::DST_UNREACHABLE, code, u32::from(next_hop_mtu), data),
            Repr::TimeExceeded { code, data } => (v4_type::TIME_EXCEEDED, code, 0, data),
        };
        packet.set_msg_type(msg_type);
        packet.set_msg_code(code);
        packet.set_rest_of_header(rest);
        packet.data_mut()[..data.len()].copy_from_slice(data);
        packet.fill_checksum_v4();
    }
}

/// An ICMPv6 message that rampart reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    EchoRequest { ident: u16, seq_no: u16, data: &'a [u8] },
    EchoReply { ident: u16, seq_no: u16, data: &'a [u8] },
    /// `data` is as much of the invoking packet as fits in the minimum MTU.
    PacketTooBig { mtu: u32, data: &'a [u8] },
}

impl<'a> Icmpv6Repr<'a> {
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &'a Packet<&'a T>, src: Ipv6Addr, dst: Ipv6Addr) -> Result<Icmpv6Repr<'a>> {
        let len = packet.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::truncated("ICMPv6 header", 0, HEADER_LEN, len));
        }
        if !packet.verify_checksum_v6(src, dst) {
            return Err(Error { what: "ICMPv6 checksum", offset: 2, reason: crate::error::ErrorReason::BadChecksum });
        }
        let data = &packet.buffer.as_ref()[HEADER_LEN..];
        match (packet.msg_type(), packet.msg_code()) {
            (v6_type::ECHO_REQUEST, 0) => Ok(Icmpv6Repr::EchoRequest { ident: packet.echo_ident(), seq_no: packet.echo_seq_no(), data }),
            (v6_type::ECHO_REPLY, 0) => Ok(Icmpv6Repr::EchoReply { ident: packet.echo_ident(), seq_no: packet.echo_seq_no(), data }),
            (v6_type::PACKET_TOO_BIG, 0) => Ok(Icmpv6Repr::PacketTooBig { mtu: packet.mtu(), data }),
            (t, _) => Err(Error::bad_value("ICMPv6 header: type", 0, u64::from(t))),
        }
    }

    pub fn buffer_len(&self) -> usize {
        let data = match self {
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } | Icmpv6Repr::PacketTooBig { data, .. } => data,
        };
        HEADER_LEN + data.len()
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>, src: Ipv6Addr, dst: Ipv6Addr) {
        let (msg_type, rest, data) = match *self {
            Icmpv6Repr::EchoRequest { ident, seq_no, data } => (v6_type::ECHO_REQUEST, u32::from(ident) << 16 | u32::from(seq_no), data),
            Icmpv6Repr::EchoReply { ident, seq_no, data } => (v6_type::ECHO_REPLY, u32::from(ident) << 16 | u32::from(seq_no), data),
            Icmpv6Repr::PacketTooBig { mtu, data } => (v6_type::PACKET_TOO_BIG, mtu, data),
        };
        packet.set_msg_type(msg_type);
        packet.set_msg_code(0);
        packet.set_rest_of_header(rest);
        packet.data_mut()[..data.len()].copy_from_slice(data);
        packet.fill_checksum_v6(src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_round_trip_junk_buffer() {
        let repr = Repr::EchoRequest { ident: 0x1234, seq_no: 7, data: b"ping" };
        let mut buf = [0xbbu8; 12];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let packet = Packet::new_checked(&buf[..]).expect("8 octets present");
        assert_eq!(Repr::parse(&packet), Ok(repr));
    }

    #[test]
    fn frag_needed_round_trip() {
        let invoking = [0x45u8; 28];
        let repr = Repr::DstUnreachable { code: v4_type::CODE_FRAG_NEEDED, next_hop_mtu: 1438, data: &invoking };
        let mut buf = [0xbbu8; 36];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let packet = Packet::new_checked(&buf[..]).expect("8 octets present");
        assert_eq!(Repr::parse(&packet), Ok(repr));
        assert_eq!(packet.next_hop_mtu(), 1438);
    }

    #[test]
    fn time_exceeded_round_trip() {
        let repr = Repr::TimeExceeded { code: 0, data: &[1, 2, 3, 4] };
        let mut buf = [0u8; 12];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(Repr::parse(&Packet::new_unchecked(&buf[..])), Ok(repr));
    }

    #[test]
    fn bad_checksum_rejected() {
        let repr = Repr::EchoReply { ident: 1, seq_no: 2, data: b"x" };
        let mut buf = [0u8; 9];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf[8] ^= 0xff;
        assert!(Repr::parse(&Packet::new_unchecked(&buf[..])).is_err());
    }

    #[test]
    fn packet_too_big_round_trip() {
        let src: Ipv6Addr = "2001:db8::1".parse().expect("literal");
        let dst: Ipv6Addr = "2001:db8::2".parse().expect("literal");
        let invoking = [0x60u8; 48];
        let repr = Icmpv6Repr::PacketTooBig { mtu: 1422, data: &invoking };
        let mut buf = [0x11u8; 56];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), src, dst);
        let packet = Packet::new_checked(&buf[..]).expect("8 octets present");
        assert_eq!(Icmpv6Repr::parse(&packet, src, dst), Ok(repr));
        assert!(Icmpv6Repr::parse(&packet, dst, dst).is_err());
    }

    #[test]
    fn error_types() {
        assert!(is_v4_error(v4_type::DST_UNREACHABLE));
        assert!(!is_v4_error(v4_type::ECHO_REQUEST));
        assert!(is_v6_error(v6_type::PACKET_TOO_BIG));
        assert!(!is_v6_error(v6_type::ECHO_REPLY));
    }
}
