//! Encrypted (SK, RFC 7296 section 3.14) and Encrypted Fragment (SKF, RFC 7383
//! section 2.5) payloads.
//!
//! The body is `IV | ciphertext (inner payloads, padding, pad length) | ICV`; its
//! layout depends on the negotiated cipher, so the engine splits it. The associated
//! data (AEAD) or the integrity-protected range (CBC + HMAC) starts at the IKE header
//! and runs up to the IV (RFC 5282 section 5.1) or to the end of the ciphertext.

use super::constants::PayloadType;
use super::reader::u16_at;
use crate::{Error, Result};

/// Fragment Number and Total Fragments fields before the SKF body.
pub const SKF_FIXED_LEN: usize = 4;

/// An SK payload: the type of the first inner payload and the encrypted body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkRepr {
    pub first_payload: PayloadType,
    pub body: Vec<u8>,
}

/// An SKF payload. Only fragment 1 names the first inner payload; the others carry 0
/// (RFC 7383 section 2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkfRepr {
    pub first_payload: PayloadType,
    pub fragment_number: u16,
    pub total_fragments: u16,
    pub body: Vec<u8>,
}

impl SkfRepr {
    /// Parses the body; fragment numbers start at 1 and never exceed the total.
    pub fn parse(first_payload: PayloadType, data: &[u8], base: usize) -> Result<SkfRepr> {
        let fragment_number = u16_at(data, 0, "IKE SKF payload: fragment number")?;
        let total_fragments = u16_at(data, 2, "IKE SKF payload: total fragments")?;
        if fragment_number == 0 || fragment_number > total_fragments {
            return Err(Error::bad_value(
                "IKE SKF payload: fragment number",
                base,
                u64::from(fragment_number),
            ));
        }
        Ok(SkfRepr {
            first_payload,
            fragment_number,
            total_fragments,
            body: data[SKF_FIXED_LEN..].to_vec(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        SKF_FIXED_LEN + self.body.len()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..2].copy_from_slice(&self.fragment_number.to_be_bytes());
        buf[2..4].copy_from_slice(&self.total_fragments.to_be_bytes());
        buf[SKF_FIXED_LEN..].copy_from_slice(&self.body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skf_round_trip() {
        let f = SkfRepr {
            first_payload: PayloadType::NONE,
            fragment_number: 2,
            total_fragments: 3,
            body: vec![9; 40],
        };
        let mut buf = vec![0xa5; f.buffer_len()];
        f.emit(&mut buf);
        assert_eq!(SkfRepr::parse(PayloadType::NONE, &buf, 0).unwrap(), f);
    }

    #[test]
    fn skf_number_zero() {
        assert!(SkfRepr::parse(PayloadType::NONE, &[0, 0, 0, 2], 0).is_err());
    }

    #[test]
    fn skf_number_above_total() {
        assert!(SkfRepr::parse(PayloadType::NONE, &[0, 3, 0, 2], 0).is_err());
    }
}
