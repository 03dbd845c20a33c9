//! Security Association payload: proposals, transforms and attributes (RFC 7296 3.3).

use super::constants::{ATTRIBUTE_KEY_LENGTH, ProtocolId, TransformType};
use super::reader::{slice, u8_at, u16_at};
use crate::{Error, Result};

const PROPOSAL_HEADER_LEN: usize = 8;
const TRANSFORM_HEADER_LEN: usize = 8;
const MORE_PROPOSALS: u8 = 2;
const MORE_TRANSFORMS: u8 = 3;
const ATTRIBUTE_FORMAT_TV: u16 = 0x8000;

/// A transform attribute. TV-format attributes (AF = 1) carry a 16-bit value, TLV ones
/// a byte string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransformAttribute {
    Tv { attribute_type: u16, value: u16 },
    Tlv { attribute_type: u16, value: Vec<u8> },
}

impl TransformAttribute {
    fn buffer_len(&self) -> usize {
        match self {
            TransformAttribute::Tv { .. } => 4,
            TransformAttribute::Tlv { value, .. } => 4 + value.len(),
        }
    }
}

/// One transform (RFC 7296 section 3.3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransformRepr {
    pub transform_type: TransformType,
    pub transform_id: u16,
    pub attributes: Vec<TransformAttribute>,
}

impl TransformRepr {
    pub fn new(
        transform_type: TransformType,
        transform_id: u16,
        key_bits: Option<u16>,
    ) -> TransformRepr {
        let attributes = key_bits
            .map(|bits| {
                vec![TransformAttribute::Tv {
                    attribute_type: ATTRIBUTE_KEY_LENGTH,
                    value: bits,
                }]
            })
            .unwrap_or_default();
        TransformRepr {
            transform_type,
            transform_id,
            attributes,
        }
    }

    /// Returns the Key Length attribute, in bits.
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a {
            TransformAttribute::Tv {
                attribute_type: ATTRIBUTE_KEY_LENGTH,
                value,
            } => Some(*value),
            _ => None,
        })
    }

    /// Returns true if an attribute other than Key Length is present. RFC 7296
    /// section 3.3.6 requires rejecting such a transform as a whole.
    pub fn has_unknown_attribute(&self) -> bool {
        self.attributes.iter().any(|a| {
            !matches!(
                a,
                TransformAttribute::Tv {
                    attribute_type: ATTRIBUTE_KEY_LENGTH,
                    ..
                }
            )
        })
    }

    fn buffer_len(&self) -> usize {
        TRANSFORM_HEADER_LEN
            + self
                .attributes
                .iter()
                .map(TransformAttribute::buffer_len)
                .sum::<usize>()
    }

    fn parse(data: &[u8], base: usize) -> Result<(TransformRepr, bool, usize)> {
        let more = u8_at(data, 0, "IKE transform: last substruc")?;
        if more != 0 && more != MORE_TRANSFORMS {
            return Err(Error::bad_value(
                "IKE transform: last substruc",
                base,
                u64::from(more),
            ));
        }
        let length = u16_at(data, 2, "IKE transform: length")? as usize;
        if length < TRANSFORM_HEADER_LEN {
            return Err(Error::bad_length("IKE transform: length", base + 2, length));
        }
        let body = slice(data, 0, length, "IKE transform")?;
        let transform_type = TransformType(body[4]);
        let transform_id = u16::from_be_bytes([body[6], body[7]]);
        let mut attributes = Vec::new();
        let mut offset = TRANSFORM_HEADER_LEN;
        while offset < length {
            let word = u16_at(body, offset, "IKE transform attribute: type")?;
            let value = u16_at(body, offset + 2, "IKE transform attribute: value")?;
            if word & ATTRIBUTE_FORMAT_TV != 0 {
                attributes.push(TransformAttribute::Tv {
                    attribute_type: word & !ATTRIBUTE_FORMAT_TV,
                    value,
                });
                offset += 4;
            } else {
                let bytes = slice(
                    body,
                    offset + 4,
                    value as usize,
                    "IKE transform attribute: value",
                )?;
                attributes.push(TransformAttribute::Tlv {
                    attribute_type: word,
                    value: bytes.to_vec(),
                });
                offset += 4 + bytes.len();
            }
        }
        Ok((
            TransformRepr {
                transform_type,
                transform_id,
                attributes,
            },
            more == MORE_TRANSFORMS,
            length,
        ))
    }

    fn emit(&self, buf: &mut [u8], more: bool) {
        let len = self.buffer_len();
        buf[0] = if more { MORE_TRANSFORMS } else { 0 };
        buf[1] = 0;
        buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        buf[4] = self.transform_type.0;
        buf[5] = 0;
        buf[6..8].copy_from_slice(&self.transform_id.to_be_bytes());
        let mut offset = TRANSFORM_HEADER_LEN;
        for attribute in &self.attributes {
            match attribute {
                TransformAttribute::Tv {
                    attribute_type,
                    value,
                } => {
                    buf[offset..offset + 2]
                        .copy_from_slice(&(attribute_type | ATTRIBUTE_FORMAT_TV).to_be_bytes());
                    buf[offset + 2..offset + 4].copy_from_slice(&value.to_be_bytes());
                }
                TransformAttribute::Tlv {
                    attribute_type,
                    value,
                } => {
                    buf[offset..offset + 2]
                        .copy_from_slice(&(attribute_type & !ATTRIBUTE_FORMAT_TV).to_be_bytes());
                    buf[offset + 2..offset + 4]
                        .copy_from_slice(&(value.len() as u16).to_be_bytes());
                    buf[offset + 4..offset + 4 + value.len()].copy_from_slice(value);
                }
            }
            offset += attribute.buffer_len();
        }
    }
}

/// One proposal (RFC 7296 section 3.3.1). `spi` is empty for IKE_SA_INIT, 8 octets for
/// an IKE SA rekey and 4 octets for ESP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalRepr {
    pub number: u8,
    pub protocol_id: ProtocolId,
    pub spi: Vec<u8>,
    pub transforms: Vec<TransformRepr>,
}

impl ProposalRepr {
    fn buffer_len(&self) -> usize {
        PROPOSAL_HEADER_LEN
            + self.spi.len()
            + self
                .transforms
                .iter()
                .map(TransformRepr::buffer_len)
                .sum::<usize>()
    }

    /// Transforms of one type, in the order received.
    pub fn transforms_of(
        &self,
        transform_type: TransformType,
    ) -> impl Iterator<Item = &TransformRepr> {
        self.transforms
            .iter()
            .filter(move |t| t.transform_type == transform_type)
    }

    fn parse(data: &[u8], base: usize) -> Result<(ProposalRepr, bool, usize)> {
        let more = u8_at(data, 0, "IKE proposal: last substruc")?;
        if more != 0 && more != MORE_PROPOSALS {
            return Err(Error::bad_value(
                "IKE proposal: last substruc",
                base,
                u64::from(more),
            ));
        }
        let length = u16_at(data, 2, "IKE proposal: length")? as usize;
        if length < PROPOSAL_HEADER_LEN {
            return Err(Error::bad_length("IKE proposal: length", base + 2, length));
        }
        let body = slice(data, 0, length, "IKE proposal")?;
        let number = body[4];
        let protocol_id = ProtocolId(body[5]);
        let spi_size = body[6] as usize;
        let count = body[7] as usize;
        let spi = slice(body, PROPOSAL_HEADER_LEN, spi_size, "IKE proposal: SPI")?.to_vec();
        let mut offset = PROPOSAL_HEADER_LEN + spi_size;
        let mut transforms = Vec::with_capacity(count.min(32));
        let mut more_transforms = count > 0;
        while more_transforms {
            let (t, more, len) = TransformRepr::parse(&body[offset..], base + offset)?;
            transforms.push(t);
            offset += len;
            more_transforms = more;
        }
        if transforms.len() != count {
            return Err(Error::bad_value(
                "IKE proposal: number of transforms",
                base + 7,
                count as u64,
            ));
        }
        if offset != length {
            return Err(Error::bad_length("IKE proposal: length", base + 2, length));
        }
        Ok((
            ProposalRepr {
                number,
                protocol_id,
                spi,
                transforms,
            },
            more == MORE_PROPOSALS,
            length,
        ))
    }

    fn emit(&self, buf: &mut [u8], more: bool) {
        buf[0] = if more { MORE_PROPOSALS } else { 0 };
        buf[1] = 0;
        buf[2..4].copy_from_slice(&(self.buffer_len() as u16).to_be_bytes());
        buf[4] = self.number;
        buf[5] = self.protocol_id.0;
        buf[6] = self.spi.len() as u8;
        buf[7] = self.transforms.len() as u8;
        buf[8..8 + self.spi.len()].copy_from_slice(&self.spi);
        let mut offset = PROPOSAL_HEADER_LEN + self.spi.len();
        for (i, t) in self.transforms.iter().enumerate() {
            let len = t.buffer_len();
            t.emit(
                &mut buf[offset..offset + len],
                i + 1 < self.transforms.len(),
            );
            offset += len;
        }
    }
}

/// The SA payload body: one or more proposals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaRepr {
    pub proposals: Vec<ProposalRepr>,
}

impl SaRepr {
    pub fn parse(data: &[u8], base: usize) -> Result<SaRepr> {
        let mut proposals = Vec::new();
        let mut offset = 0;
        let mut more = true;
        while more {
            let (p, m, len) = ProposalRepr::parse(&data[offset..], base + offset)?;
            proposals.push(p);
            offset += len;
            more = m;
        }
        if offset != data.len() {
            return Err(Error::bad_length(
                "IKE SA payload: trailing octets",
                base + offset,
                data.len() - offset,
            ));
        }
        Ok(SaRepr { proposals })
    }

    pub fn buffer_len(&self) -> usize {
        self.proposals.iter().map(ProposalRepr::buffer_len).sum()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        let mut offset = 0;
        for (i, p) in self.proposals.iter().enumerate() {
            let len = p.buffer_len();
            p.emit(&mut buf[offset..offset + len], i + 1 < self.proposals.len());
            offset += len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SaRepr {
        SaRepr {
            proposals: vec![
                ProposalRepr {
                    number: 1,
                    protocol_id: ProtocolId::IKE,
                    spi: Vec::new(),
                    transforms: vec![
                        TransformRepr::new(TransformType::ENCR, 12, Some(256)),
                        TransformRepr::new(TransformType::PRF, 2, None),
                        TransformRepr::new(TransformType::INTEG, 2, None),
                        TransformRepr::new(TransformType::DH, 5, None),
                        TransformRepr::new(TransformType::DH, 2, None),
                    ],
                },
                ProposalRepr {
                    number: 2,
                    protocol_id: ProtocolId::ESP,
                    spi: vec![1, 2, 3, 4],
                    transforms: vec![
                        TransformRepr {
                            transform_type: TransformType::ENCR,
                            transform_id: 20,
                            attributes: vec![TransformAttribute::Tlv {
                                attribute_type: 99,
                                value: vec![9, 9, 9],
                            }],
                        },
                        TransformRepr::new(TransformType::ESN, 0, None),
                    ],
                },
            ],
        }
    }

    #[test]
    fn sa_round_trip() {
        let sa = sample();
        let mut buf = vec![0xa5; sa.buffer_len()];
        sa.emit(&mut buf);
        assert_eq!(SaRepr::parse(&buf, 0).unwrap(), sa);
    }

    #[test]
    fn sa_key_length_attribute() {
        assert_eq!(sample().proposals[0].transforms[0].key_length(), Some(256));
    }

    #[test]
    fn sa_first_transform_bytes() {
        let sa = sample();
        let mut buf = vec![0; sa.buffer_len()];
        sa.emit(&mut buf);
        // Transform: more(3), reserved, length 12, ENCR, reserved, id 12, AF|14, 256.
        assert_eq!(&buf[8..20], &[3, 0, 0, 12, 1, 0, 0, 12, 0x80, 14, 1, 0]);
    }

    #[test]
    fn sa_transform_count_mismatch() {
        let sa = sample();
        let mut buf = vec![0; sa.buffer_len()];
        sa.emit(&mut buf);
        buf[7] = 4;
        assert!(SaRepr::parse(&buf, 0).is_err());
    }

    #[test]
    fn sa_truncated_every_length() {
        let sa = sample();
        let mut buf = vec![0; sa.buffer_len()];
        sa.emit(&mut buf);
        for len in 0..buf.len() {
            assert!(SaRepr::parse(&buf[..len], 0).is_err(), "length {len}");
        }
    }

    #[test]
    fn sa_unknown_attribute_flagged() {
        assert!(sample().proposals[1].transforms[0].has_unknown_attribute());
    }
}
