//! ESP header and trailer (RFC 4303 section 2).
//!
//! ```text
//!  0                   1                   2                   3
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               Security Parameters Index (SPI)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Sequence Number                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    IV, Payload Data (variable)                |
//! +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               |     Padding (0-255 bytes)                     |
//! +-+-+-+-+-+-+-+-+               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                               |  Pad Length   | Next Header   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Integrity Check Value-ICV   (variable)                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The trailer (padding, pad length, next header) is encrypted, so [`TrailerRepr`]
//! parses it from the decrypted payload, not from the wire packet.

use crate::ipv4::IpProtocol;
use crate::{Error, Result};

/// SPI and sequence number.
pub const HEADER_LEN: usize = 8;
/// Pad Length and Next Header.
pub const TRAILER_LEN: usize = 2;

/// A read/write view of the ESP header; the payload is everything after it (IV,
/// ciphertext and ICV, whose lengths depend on the SA).
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
            return Err(Error::truncated("ESP header", 0, HEADER_LEN, len));
        }
        Ok(Packet { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn spi(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    #[inline]
    pub fn sequence_number(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    #[inline]
    pub fn set_spi(&mut self, spi: u32) {
        self.buffer.as_mut()[0..4].copy_from_slice(&spi.to_be_bytes());
    }

    #[inline]
    pub fn set_sequence_number(&mut self, seq: u32) {
        self.buffer.as_mut()[4..8].copy_from_slice(&seq.to_be_bytes());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// SPI and sequence number of an ESP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    pub spi: u32,
    pub sequence_number: u32,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        let len = packet.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::truncated("ESP header", 0, HEADER_LEN, len));
        }
        // SPI values 1 to 255 are reserved by IANA and 0 is for local use only
        // (RFC 4303 section 2.1), so no SA can carry them.
        if packet.spi() < 256 {
            return Err(Error::bad_value("ESP header: SPI", 0, u64::from(packet.spi())));
        }
        Ok(Repr { spi: packet.spi(), sequence_number: packet.sequence_number() })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_spi(self.spi);
        packet.set_sequence_number(self.sequence_number);
    }
}

/// Octets of padding so that payload, padding and trailer end on a multiple of
/// `block_len`, which is at least 4 (RFC 4303 section 2.4).
#[inline]
pub const fn pad_len(payload_len: usize, block_len: usize) -> usize {
    let unpadded = payload_len + TRAILER_LEN;
    (block_len - unpadded % block_len) % block_len
}

/// The decrypted trailer: pad length and next header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrailerRepr {
    pub pad_len: u8,
    pub next_header: IpProtocol,
}

impl TrailerRepr {
    /// Parses the trailer at the end of a decrypted payload and checks that the padding
    /// holds 1, 2, 3, ... as RFC 4303 section 2.4 requires of the default padding.
    /// Returns the trailer and the payload length without padding and trailer.
    pub fn parse(plaintext: &[u8]) -> Result<(TrailerRepr, usize)> {
        let len = plaintext.len();
        if len < TRAILER_LEN {
            return Err(Error::truncated("ESP trailer", 0, TRAILER_LEN, len));
        }
        let pad_len = plaintext[len - 2];
        let next_header = IpProtocol(plaintext[len - 1]);
        let padded = usize::from(pad_len) + TRAILER_LEN;
        if padded > len {
            return Err(Error::bad_length("ESP trailer: pad length", len - 2, usize::from(pad_len)));
        }
        let payload_len = len - padded;
        let padding = &plaintext[payload_len..len - TRAILER_LEN];
        for (i, &b) in padding.iter().enumerate() {
            if usize::from(b) != i + 1 {
                return Err(Error::bad_value("ESP trailer: padding", payload_len + i, u64::from(b)));
            }
        }
        Ok((TrailerRepr { pad_len, next_header }, payload_len))
    }

    pub const fn buffer_len(&self) -> usize {
        self.pad_len as usize + TRAILER_LEN
    }

    /// Writes padding 1, 2, 3, ... then pad length and next header into `buf`, which must
    /// be exactly `buffer_len()` octets.
    #[inline]
    pub fn emit(&self, buf: &mut [u8]) {
        let n = usize::from(self.pad_len);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = (i + 1) as u8;
        }
        buf[n] = self.pad_len;
        buf[n + 1] = self.next_header.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_junk_buffer() {
        let repr = Repr { spi: 0xc0ff_ee01, sequence_number: 7 };
        let mut buf = [0xeeu8; 20];
        repr.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let packet = Packet::new_checked(&buf[..]).expect("8 octets present");
        assert_eq!(Repr::parse(&packet), Ok(repr));
    }

    #[test]
    fn header_truncated() {
        assert!(Packet::new_checked(&[0u8; 7][..]).is_err());
    }

    #[test]
    fn header_reserved_spi() {
        let packet = Packet::new_unchecked(&[0, 0, 0, 200, 0, 0, 0, 1][..]);
        assert!(Repr::parse(&packet).is_err());
    }

    #[test]
    fn pad_len_alignment() {
        assert_eq!(pad_len(100, 4), 2);
        assert_eq!(pad_len(102, 4), 0);
        assert_eq!(pad_len(100, 16), 10);
        assert_eq!(pad_len(14, 16), 0);
    }

    #[test]
    fn trailer_round_trip_junk_buffer() {
        let trailer = TrailerRepr { pad_len: 5, next_header: IpProtocol::IPV4 };
        let mut buf = [0xffu8; 10];
        trailer.emit(&mut buf[3..]);
        assert_eq!(TrailerRepr::parse(&buf), Ok((trailer, 3)));
    }

    #[test]
    fn trailer_bad_padding() {
        let buf = [9u8, 1, 2, 4, 3, 4];
        assert!(TrailerRepr::parse(&buf).is_err());
    }

    #[test]
    fn trailer_pad_len_too_long() {
        assert!(TrailerRepr::parse(&[1u8, 2, 5, 4]).is_err());
    }
}
