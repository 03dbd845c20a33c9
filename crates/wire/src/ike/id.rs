//! Identification payloads IDi and IDr (RFC 7296 section 3.5).

use super::constants::IdType;
use super::reader::{slice, u8_at};
use crate::Result;

/// An IDi or IDr body. The whole body (type, reserved octets and data) is what the AUTH
/// computation hashes (RFC 7296 section 2.15), so [`IdRepr::to_body`] rebuilds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdRepr {
    pub id_type: IdType,
    pub data: Vec<u8>,
}

impl IdRepr {
    pub fn parse(data: &[u8], _base: usize) -> Result<IdRepr> {
        let id_type = IdType(u8_at(data, 0, "IKE ID payload: type")?);
        slice(data, 1, 3, "IKE ID payload: reserved")?;
        Ok(IdRepr {
            id_type,
            data: data[4..].to_vec(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.id_type.0;
        buf[1..4].fill(0);
        buf[4..].copy_from_slice(&self.data);
    }

    /// Returns the payload body as sent, for the AUTH computation.
    pub fn to_body(&self) -> Vec<u8> {
        let mut buf = vec![0; self.buffer_len()];
        self.emit(&mut buf);
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trip() {
        let id = IdRepr {
            id_type: IdType::ID_FQDN,
            data: b"gw.example.com".to_vec(),
        };
        let mut buf = vec![0xa5; id.buffer_len()];
        id.emit(&mut buf);
        assert_eq!(IdRepr::parse(&buf, 0).unwrap(), id);
    }

    #[test]
    fn id_truncated() {
        assert!(IdRepr::parse(&[1, 0, 0], 0).is_err());
    }
}
