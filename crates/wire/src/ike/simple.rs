//! Key Exchange (RFC 7296 section 3.4) and Authentication (section 3.8) payloads.

use super::constants::AuthMethod;
use super::reader::{slice, u8_at, u16_at};
use crate::Result;

/// A KE body: the DH group number and the public value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeRepr {
    pub dh_group: u16,
    pub data: Vec<u8>,
}

impl KeRepr {
    pub fn parse(data: &[u8], _base: usize) -> Result<KeRepr> {
        let dh_group = u16_at(data, 0, "IKE KE payload: DH group")?;
        slice(data, 2, 2, "IKE KE payload: reserved")?;
        Ok(KeRepr {
            dh_group,
            data: data[4..].to_vec(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0..2].copy_from_slice(&self.dh_group.to_be_bytes());
        buf[2..4].fill(0);
        buf[4..].copy_from_slice(&self.data);
    }
}

/// An AUTH body: the method and the authentication data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRepr {
    pub method: AuthMethod,
    pub data: Vec<u8>,
}

impl AuthRepr {
    pub fn parse(data: &[u8], _base: usize) -> Result<AuthRepr> {
        let method = AuthMethod(u8_at(data, 0, "IKE AUTH payload: method")?);
        slice(data, 1, 3, "IKE AUTH payload: reserved")?;
        Ok(AuthRepr {
            method,
            data: data[4..].to_vec(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        4 + self.data.len()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.method.0;
        buf[1..4].fill(0);
        buf[4..].copy_from_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ke_round_trip() {
        let ke = KeRepr {
            dh_group: 19,
            data: vec![3; 64],
        };
        let mut buf = vec![0xa5; ke.buffer_len()];
        ke.emit(&mut buf);
        assert_eq!(KeRepr::parse(&buf, 0).unwrap(), ke);
    }

    #[test]
    fn auth_round_trip() {
        let auth = AuthRepr {
            method: AuthMethod::SHARED_KEY_MESSAGE_INTEGRITY_CODE,
            data: vec![1; 20],
        };
        let mut buf = vec![0xa5; auth.buffer_len()];
        auth.emit(&mut buf);
        assert_eq!(AuthRepr::parse(&buf, 0).unwrap(), auth);
    }

    #[test]
    fn ke_truncated() {
        assert!(KeRepr::parse(&[0, 19, 0], 0).is_err());
    }
}
