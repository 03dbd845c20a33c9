//! The IKE header (RFC 7296 section 3.1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IKE SA Initiator's SPI                  |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IKE SA Responder's SPI                  |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          Message ID                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            Length                             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::constants::{ExchangeType, IKE_VERSION, PayloadType};
use crate::{Error, Result};

pub const HEADER_LEN: usize = 28;

const FLAG_INITIATOR: u8 = 0x08;
const FLAG_RESPONSE: u8 = 0x20;

/// A view of an IKE message's header. `new_checked` guarantees 28 octets are present.
#[derive(Debug, Clone)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    pub fn new_unchecked(buffer: T) -> Header<T> {
        Header { buffer }
    }

    /// Wraps `buffer`, checking that it contains at least the fixed header.
    pub fn new_checked(buffer: T) -> Result<Header<T>> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::truncated("IKE header", 0, HEADER_LEN, len));
        }
        Ok(Header { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn spi_i(&self) -> u64 {
        u64::from_be_bytes(self.b()[0..8].try_into().unwrap_or([0; 8]))
    }

    pub fn spi_r(&self) -> u64 {
        u64::from_be_bytes(self.b()[8..16].try_into().unwrap_or([0; 8]))
    }

    pub fn next_payload(&self) -> PayloadType {
        PayloadType(self.b()[16])
    }

    pub fn version(&self) -> u8 {
        self.b()[17]
    }

    pub fn exchange_type(&self) -> ExchangeType {
        ExchangeType(self.b()[18])
    }

    pub fn flags(&self) -> u8 {
        self.b()[19]
    }

    /// Returns the Initiator flag, set by the original initiator of the IKE SA.
    pub fn is_initiator(&self) -> bool {
        self.flags() & FLAG_INITIATOR != 0
    }

    pub fn is_response(&self) -> bool {
        self.flags() & FLAG_RESPONSE != 0
    }

    pub fn message_id(&self) -> u32 {
        u32::from_be_bytes([self.b()[20], self.b()[21], self.b()[22], self.b()[23]])
    }

    pub fn length(&self) -> u32 {
        u32::from_be_bytes([self.b()[24], self.b()[25], self.b()[26], self.b()[27]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    fn m(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    pub fn set_spi_i(&mut self, v: u64) {
        self.m()[0..8].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_spi_r(&mut self, v: u64) {
        self.m()[8..16].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_next_payload(&mut self, v: PayloadType) {
        self.m()[16] = v.0;
    }

    pub fn set_version(&mut self, v: u8) {
        self.m()[17] = v;
    }

    pub fn set_exchange_type(&mut self, v: ExchangeType) {
        self.m()[18] = v.0;
    }

    pub fn set_flags(&mut self, v: u8) {
        self.m()[19] = v;
    }

    pub fn set_message_id(&mut self, v: u32) {
        self.m()[20..24].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_length(&mut self, v: u32) {
        self.m()[24..28].copy_from_slice(&v.to_be_bytes());
    }
}

/// The validated header of an IKE message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderRepr {
    pub spi_i: u64,
    pub spi_r: u64,
    pub next_payload: PayloadType,
    pub exchange_type: ExchangeType,
    /// Set when the sender is the original initiator of the IKE SA.
    pub initiator: bool,
    pub response: bool,
    pub message_id: u32,
    /// Total message length, header included.
    pub length: u32,
}

impl HeaderRepr {
    /// Parses the header and checks the version (major 2) and that `length` matches
    /// the datagram, so trailing or missing octets are rejected here.
    pub fn parse<T: AsRef<[u8]>>(header: &Header<T>) -> Result<HeaderRepr> {
        if header.version() >> 4 != 2 {
            return Err(Error::bad_value(
                "IKE header: major version",
                17,
                u64::from(header.version()),
            ));
        }
        let length = header.length();
        let available = header.b().len();
        if length as usize != available {
            return Err(Error::bad_length("IKE header: length", 24, length as usize));
        }
        Ok(HeaderRepr {
            spi_i: header.spi_i(),
            spi_r: header.spi_r(),
            next_payload: header.next_payload(),
            exchange_type: header.exchange_type(),
            initiator: header.is_initiator(),
            response: header.is_response(),
            message_id: header.message_id(),
            length,
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header; the version is always 2.0 and the Version flag is never set.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut Header<T>) {
        header.set_spi_i(self.spi_i);
        header.set_spi_r(self.spi_r);
        header.set_next_payload(self.next_payload);
        header.set_version(IKE_VERSION);
        header.set_exchange_type(self.exchange_type);
        let mut flags = 0;
        if self.initiator {
            flags |= FLAG_INITIATOR;
        }
        if self.response {
            flags |= FLAG_RESPONSE;
        }
        header.set_flags(flags);
        header.set_message_id(self.message_id);
        header.set_length(self.length);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HeaderRepr {
        HeaderRepr {
            spi_i: 0x0102_0304_0506_0708,
            spi_r: 0,
            next_payload: PayloadType::SA,
            exchange_type: ExchangeType::IKE_SA_INIT,
            initiator: true,
            response: false,
            message_id: 0,
            length: 28,
        }
    }

    #[test]
    fn header_round_trip() {
        let mut buf = [0xa5u8; 28];
        sample().emit(&mut Header::new_unchecked(&mut buf[..]));
        let parsed = HeaderRepr::parse(&Header::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(parsed, sample());
    }

    #[test]
    fn header_flags_octet() {
        let mut buf = [0u8; 28];
        sample().emit(&mut Header::new_unchecked(&mut buf[..]));
        assert_eq!(buf[19], 0x08);
        assert_eq!(buf[17], 0x20);
    }

    #[test]
    fn header_truncated() {
        assert!(Header::new_checked(&[0u8; 27][..]).is_err());
    }

    #[test]
    fn header_length_mismatch() {
        let mut buf = [0u8; 32];
        sample().emit(&mut Header::new_unchecked(&mut buf[..]));
        assert!(HeaderRepr::parse(&Header::new_checked(&buf[..]).unwrap()).is_err());
    }

    #[test]
    fn header_major_version() {
        let mut buf = [0u8; 28];
        sample().emit(&mut Header::new_unchecked(&mut buf[..]));
        buf[17] = 0x10;
        assert!(HeaderRepr::parse(&Header::new_checked(&buf[..]).unwrap()).is_err());
    }
}
