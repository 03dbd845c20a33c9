//! Configuration payload (RFC 7296 section 3.15). Site-to-site tunnels do not use it;
//! it is parsed so that a peer's CP is recognised and skipped, not rejected.

use super::constants::CfgType;
use super::reader::{slice, u8_at, u16_at};
use crate::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpAttribute {
    pub attribute_type: u16,
    pub value: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpRepr {
    pub cfg_type: CfgType,
    pub attributes: Vec<CpAttribute>,
}

impl CpRepr {
    pub fn parse(data: &[u8], _base: usize) -> Result<CpRepr> {
        let cfg_type = CfgType(u8_at(data, 0, "IKE CP payload: type")?);
        slice(data, 1, 3, "IKE CP payload: reserved")?;
        let mut attributes = Vec::new();
        let mut offset = 4;
        while offset < data.len() {
            let attribute_type = u16_at(data, offset, "IKE CP attribute: type")? & 0x7fff;
            let len = u16_at(data, offset + 2, "IKE CP attribute: length")? as usize;
            let value = slice(data, offset + 4, len, "IKE CP attribute: value")?.to_vec();
            attributes.push(CpAttribute {
                attribute_type,
                value,
            });
            offset += 4 + len;
        }
        Ok(CpRepr {
            cfg_type,
            attributes,
        })
    }

    pub fn buffer_len(&self) -> usize {
        4 + self
            .attributes
            .iter()
            .map(|a| 4 + a.value.len())
            .sum::<usize>()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.cfg_type.0;
        buf[1..4].fill(0);
        let mut offset = 4;
        for a in &self.attributes {
            buf[offset..offset + 2].copy_from_slice(&(a.attribute_type & 0x7fff).to_be_bytes());
            buf[offset + 2..offset + 4].copy_from_slice(&(a.value.len() as u16).to_be_bytes());
            buf[offset + 4..offset + 4 + a.value.len()].copy_from_slice(&a.value);
            offset += 4 + a.value.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_round_trip() {
        let cp = CpRepr {
            cfg_type: CfgType::CFG_REQUEST,
            attributes: vec![
                CpAttribute {
                    attribute_type: 1,
                    value: vec![],
                },
                CpAttribute {
                    attribute_type: 3,
                    value: vec![198, 51, 100, 1],
                },
            ],
        };
        let mut buf = vec![0xa5; cp.buffer_len()];
        cp.emit(&mut buf);
        assert_eq!(CpRepr::parse(&buf, 0).unwrap(), cp);
    }

    #[test]
    fn cp_attribute_overrun() {
        assert!(CpRepr::parse(&[1, 0, 0, 0, 0, 1, 0, 4, 0], 0).is_err());
    }
}
