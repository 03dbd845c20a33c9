//! TCP header (RFC 9293 section 3.1) with option access for MSS clamping.

use std::net::IpAddr;

use crate::ipv4::IpProtocol;
use crate::{Error, Result, checksum};

/// Header length without options.
pub const HEADER_LEN: usize = 20;

/// Control bits (low 9 bits of octets 12-13; the high 3 of those are reserved).
pub mod flags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
}

/// Option kinds (IANA "TCP Option Kind Numbers").
const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;
const OPT_MSS_LEN: usize = 4;

/// A read/write view of a TCP segment; the payload runs to the end of the buffer, so the
/// caller passes exactly the IP payload.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// One TCP option: kind and data (without the kind and length octets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpOption<'a> {
    pub kind: u8,
    /// Offset of the option's kind octet from the start of the segment.
    pub offset: usize,
    pub data: &'a [u8],
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after checking that the data offset is at least 5 words and fits.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::truncated("TCP header", 0, HEADER_LEN, len));
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(Error::bad_length("TCP header: data offset", 12, header_len));
        }
        if header_len > len {
            return Err(Error::truncated("TCP header: options", HEADER_LEN, header_len, len));
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

    fn u32_at(&self, i: usize) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
    }

    pub fn src_port(&self) -> u16 {
        self.u16_at(0)
    }

    pub fn dst_port(&self) -> u16 {
        self.u16_at(2)
    }

    pub fn seq_number(&self) -> u32 {
        self.u32_at(4)
    }

    pub fn ack_number(&self) -> u32 {
        self.u32_at(8)
    }

    /// Header length in octets, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[12] >> 4) * 4
    }

    /// Control bits, see [`flags`].
    pub fn flags(&self) -> u16 {
        self.u16_at(12) & 0x01ff
    }

    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }

    pub fn ack(&self) -> bool {
        self.flags() & flags::ACK != 0
    }

    pub fn window_len(&self) -> u16 {
        self.u16_at(14)
    }

    pub fn checksum(&self) -> u16 {
        self.u16_at(16)
    }

    pub fn urgent_at(&self) -> u16 {
        self.u16_at(18)
    }

    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Iterates the options; stops at End of Option List or at a malformed option.
    pub fn option_iter(&self) -> impl Iterator<Item = TcpOption<'_>> {
        OptionIter { options: self.options(), pos: 0 }
    }

    /// Returns the MSS option's value and the offset of that value in the segment.
    pub fn mss_option(&self) -> Option<(u16, usize)> {
        self.option_iter()
            .find(|o| o.kind == OPT_MSS && o.data.len() == OPT_MSS_LEN - 2)
            .map(|o| (u16::from_be_bytes([o.data[0], o.data[1]]), o.offset + 2))
    }

    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        checksum::upper_layer(src, dst, IpProtocol::TCP.0, self.buffer.as_ref()) == 0xffff
    }
}

struct OptionIter<'a> {
    options: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = TcpOption<'a>;

    fn next(&mut self) -> Option<TcpOption<'a>> {
        loop {
            let kind = *self.options.get(self.pos)?;
            match kind {
                OPT_END => return None,
                OPT_NOP => self.pos += 1,
                _ => {
                    let len = usize::from(*self.options.get(self.pos + 1)?);
                    if len < 2 || self.pos + len > self.options.len() {
                        return None;
                    }
                    let opt = TcpOption { kind, offset: HEADER_LEN + self.pos, data: &self.options[self.pos + 2..self.pos + len] };
                    self.pos += len;
                    return Some(opt);
                }
            }
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_u16_at(&mut self, i: usize, v: u16) {
        self.buffer.as_mut()[i..i + 2].copy_from_slice(&v.to_be_bytes());
    }

    fn set_u32_at(&mut self, i: usize, v: u32) {
        self.buffer.as_mut()[i..i + 4].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_src_port(&mut self, v: u16) {
        self.set_u16_at(0, v);
    }

    pub fn set_dst_port(&mut self, v: u16) {
        self.set_u16_at(2, v);
    }

    pub fn set_seq_number(&mut self, v: u32) {
        self.set_u32_at(4, v);
    }

    pub fn set_ack_number(&mut self, v: u32) {
        self.set_u32_at(8, v);
    }

    /// Sets the data offset (header length in octets, a multiple of 4) and the flags.
    pub fn set_header_len_and_flags(&mut self, header_len: usize, flags: u16) {
        let v = ((header_len as u16 / 4) << 12) | (flags & 0x01ff);
        self.set_u16_at(12, v);
    }

    pub fn set_window_len(&mut self, v: u16) {
        self.set_u16_at(14, v);
    }

    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16_at(16, v);
    }

    pub fn set_urgent_at(&mut self, v: u16) {
        self.set_u16_at(18, v);
    }

    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let sum = checksum::upper_layer(src, dst, IpProtocol::TCP.0, self.buffer.as_ref());
        self.set_checksum(!sum);
    }

    /// Lowers the MSS option to `max_mss` when it is larger, updating the checksum
    /// incrementally (RFC 1624). Returns the old and new values when it changed.
    pub fn clamp_mss(&mut self, max_mss: u16) -> Option<(u16, u16)> {
        let (mss, at) = self.mss_option()?;
        if mss <= max_mss {
            return None;
        }
        self.set_u16_at(at, max_mss);
        // A value at an odd offset straddles two 16-bit checksum words, so both words
        // are updated. A missing last octet counts as zero padding (RFC 1071).
        let c = if at % 2 == 0 {
            checksum::update_u16(self.checksum(), mss, max_mss)
        } else {
            let b = self.buffer.as_ref();
            let before = b[at - 1];
            let after = b.get(at + 2).copied().unwrap_or(0);
            let [old_hi, old_lo] = mss.to_be_bytes();
            let [new_hi, new_lo] = max_mss.to_be_bytes();
            let c = checksum::update_u16(self.checksum(), u16::from_be_bytes([before, old_hi]), u16::from_be_bytes([before, new_hi]));
            checksum::update_u16(c, u16::from_be_bytes([old_lo, after]), u16::from_be_bytes([new_lo, after]))
        };
        self.set_checksum(c);
        Some((mss, max_mss))
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }
}

/// The validated header of a TCP segment; only the MSS option is represented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq_number: u32,
    pub ack_number: u32,
    pub flags: u16,
    pub window_len: u16,
    pub max_seg_size: Option<u16>,
    pub payload_len: usize,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>, src: IpAddr, dst: IpAddr) -> Result<Repr> {
        packet.check_len()?;
        if !packet.verify_checksum(src, dst) {
            return Err(Error { what: "TCP checksum", offset: 16, reason: crate::error::ErrorReason::BadChecksum });
        }
        Ok(Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq_number: packet.seq_number(),
            ack_number: packet.ack_number(),
            flags: packet.flags(),
            window_len: packet.window_len(),
            max_seg_size: packet.mss_option().map(|(v, _)| v),
            payload_len: packet.payload().len(),
        })
    }

    pub const fn header_len(&self) -> usize {
        HEADER_LEN + if self.max_seg_size.is_some() { OPT_MSS_LEN } else { 0 }
    }

    pub const fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Writes the header and options; `emit_payload` fills the payload before the
    /// checksum is computed. The buffer must be exactly `buffer_len()` octets.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>, src: IpAddr, dst: IpAddr, emit_payload: impl FnOnce(&mut [u8])) {
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq_number);
        packet.set_ack_number(self.ack_number);
        packet.set_header_len_and_flags(self.header_len(), self.flags);
        packet.set_window_len(self.window_len);
        packet.set_urgent_at(0);
        if let Some(mss) = self.max_seg_size {
            let b = packet.buffer.as_mut();
            b[HEADER_LEN] = OPT_MSS;
            b[HEADER_LEN + 1] = OPT_MSS_LEN as u8;
            b[HEADER_LEN + 2..HEADER_LEN + 4].copy_from_slice(&mss.to_be_bytes());
        }
        emit_payload(packet.payload_mut());
        packet.fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const DST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, 1));

    fn syn() -> Repr {
        Repr {
            src_port: 40000,
            dst_port: 443,
            seq_number: 0x0102_0304,
            ack_number: 0,
            flags: flags::SYN,
            window_len: 64240,
            max_seg_size: Some(1460),
            payload_len: 0,
        }
    }

    #[test]
    fn repr_round_trip_junk_buffer() {
        let repr = syn();
        let mut buf = [0x77u8; 24];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC, DST, |_| {});
        let packet = Packet::new_checked(&buf[..]).expect("emitted segment is valid");
        assert_eq!(Repr::parse(&packet, SRC, DST), Ok(repr));
    }

    #[test]
    fn clamp_mss_aligned() {
        let mut buf = [0u8; 24];
        syn().emit(&mut Packet::new_unchecked(&mut buf[..]), SRC, DST, |_| {});
        let mut p = Packet::new_unchecked(&mut buf[..]);
        assert_eq!(p.clamp_mss(1360), Some((1460, 1360)));
        assert!(p.verify_checksum(SRC, DST));
        assert_eq!(p.mss_option().map(|(v, _)| v), Some(1360));
    }

    #[test]
    fn clamp_mss_unaligned() {
        // NOP then MSS: the MSS value sits at an odd offset.
        let mut buf = [0u8; 28];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(1);
        p.set_dst_port(2);
        p.set_header_len_and_flags(28, flags::SYN | flags::ACK);
        p.buffer[20..28].copy_from_slice(&[1, 2, 4, 0x05, 0xb4, 1, 1, 0]);
        p.fill_checksum(SRC, DST);
        assert_eq!(p.clamp_mss(1360), Some((1460, 1360)));
        assert!(p.verify_checksum(SRC, DST));
    }

    #[test]
    fn clamp_mss_smaller_untouched() {
        let mut repr = syn();
        repr.max_seg_size = Some(1200);
        let mut buf = [0u8; 24];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC, DST, |_| {});
        assert_eq!(Packet::new_unchecked(&mut buf[..]).clamp_mss(1360), None);
    }

    #[test]
    fn options_malformed_length_stops() {
        let mut buf = [0u8; 24];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_header_len_and_flags(24, flags::SYN);
        buf[20..24].copy_from_slice(&[2, 9, 5, 0xb4]);
        assert_eq!(Packet::new_unchecked(&buf[..]).mss_option(), None);
    }

    #[test]
    fn checked_bad_data_offset() {
        let mut buf = [0u8; 20];
        buf[12] = 0x40;
        assert!(Packet::new_checked(&buf[..]).is_err());
        buf[12] = 0x60;
        assert!(Packet::new_checked(&buf[..]).is_err());
    }
}
