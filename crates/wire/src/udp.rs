//! UDP header (RFC 768) with the pseudo-header checksum for IPv4 and IPv6.

use std::net::IpAddr;

use crate::ipv4::IpProtocol;
use crate::{Error, Result, checksum};

pub const HEADER_LEN: usize = 8;

/// A read/write view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking that the length field is at least 8 and fits.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::truncated("UDP header", 0, HEADER_LEN, len));
        }
        let field = usize::from(self.len());
        if field < HEADER_LEN {
            return Err(Error::bad_length("UDP header: length", 4, field));
        }
        if field > len {
            return Err(Error::truncated("UDP datagram", 0, field, len));
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, i: usize) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[i], b[i + 1]])
    }

    pub fn src_port(&self) -> u16 {
        self.u16_at(0)
    }

    pub fn dst_port(&self) -> u16 {
        self.u16_at(2)
    }

    /// Length field: header and payload in octets.
    pub fn len(&self) -> u16 {
        self.u16_at(4)
    }

    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    pub fn checksum(&self) -> u16 {
        self.u16_at(6)
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    /// Verifies the checksum. A zero checksum means "none" over IPv4 and is accepted;
    /// over IPv6 it is invalid (RFC 8200 section 8.1).
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        if self.checksum() == 0 {
            return src.is_ipv4();
        }
        let datagram = &self.buffer.as_ref()[..usize::from(self.len())];
        checksum::upper_layer(src, dst, IpProtocol::UDP.0, datagram) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_u16_at(&mut self, i: usize, v: u16) {
        self.buffer.as_mut()[i..i + 2].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_src_port(&mut self, v: u16) {
        self.set_u16_at(0, v);
    }

    pub fn set_dst_port(&mut self, v: u16) {
        self.set_u16_at(2, v);
    }

    pub fn set_len(&mut self, v: u16) {
        self.set_u16_at(4, v);
    }

    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16_at(6, v);
    }

    /// Computes the checksum over pseudo-header, header and payload. A computed 0 is sent
    /// as `0xffff` because 0 means "no checksum" (RFC 768).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let datagram = &self.buffer.as_ref()[..usize::from(self.len())];
        let c = !checksum::upper_layer(src, dst, IpProtocol::UDP.0, datagram);
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// The validated header of a UDP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload_len: usize,
}

impl Repr {
    /// Parses a datagram, verifying the checksum against the IP addresses.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>, src: IpAddr, dst: IpAddr) -> Result<Repr> {
        packet.check_len()?;
        if packet.dst_port() == 0 {
            return Err(Error::bad_value("UDP header: destination port", 2, 0));
        }
        if !packet.verify_checksum(src, dst) {
            return Err(Error { what: "UDP checksum", offset: 6, reason: crate::error::ErrorReason::BadChecksum });
        }
        Ok(Repr { src_port: packet.src_port(), dst_port: packet.dst_port(), payload_len: packet.payload().len() })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the header, lets `emit_payload` fill the payload, then fills the checksum.
    /// With `checksum == false` the checksum is 0, which IPv4 allows and ESP-in-UDP
    /// senders use (RFC 3948 section 2.1).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: IpAddr,
        dst: IpAddr,
        checksum: bool,
        emit_payload: impl FnOnce(&mut [u8]),
    ) {
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len((HEADER_LEN + self.payload_len) as u16);
        packet.set_checksum(0);
        emit_payload(packet.payload_mut());
        if checksum || src.is_ipv6() {
            packet.fill_checksum(src, dst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 1));
    const DST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 5));

    #[test]
    fn repr_round_trip_junk_buffer() {
        let repr = Repr { src_port: 4500, dst_port: 4500, payload_len: 5 };
        let mut buf = [0xcdu8; 13];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC, DST, true, |p| p.copy_from_slice(b"hello"));
        let packet = Packet::new_checked(&buf[..]).expect("emitted datagram is valid");
        assert_eq!(Repr::parse(&packet, SRC, DST), Ok(repr));
        assert_eq!(packet.payload(), b"hello");
    }

    #[test]
    fn checksum_v6() {
        let src: IpAddr = "2001:db8::1".parse().expect("literal");
        let dst: IpAddr = "2001:db8::2".parse().expect("literal");
        let repr = Repr { src_port: 53, dst_port: 5353, payload_len: 3 };
        let mut buf = [0u8; 11];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), src, dst, false, |p| p.copy_from_slice(b"abc"));
        assert!(Packet::new_unchecked(&buf[..]).verify_checksum(src, dst));
    }

    #[test]
    fn zero_checksum_v4_accepted() {
        let repr = Repr { src_port: 4500, dst_port: 4500, payload_len: 0 };
        let mut buf = [0u8; 8];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC, DST, false, |_| {});
        assert_eq!(Packet::new_unchecked(&buf[..]).checksum(), 0);
        assert!(Packet::new_unchecked(&buf[..]).verify_checksum(SRC, DST));
    }

    #[test]
    fn corrupted_payload_rejected() {
        let repr = Repr { src_port: 1, dst_port: 2, payload_len: 4 };
        let mut buf = [0u8; 12];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC, DST, true, |p| p.copy_from_slice(b"abcd"));
        buf[9] ^= 1;
        assert!(Repr::parse(&Packet::new_unchecked(&buf[..]), SRC, DST).is_err());
    }

    #[test]
    fn checked_length_field() {
        let buf = [0u8, 1, 0, 2, 0, 20, 0, 0];
        assert!(Packet::new_checked(&buf[..]).is_err());
    }
}
