//! The generic payload header and payload chains (RFC 7296 section 3.2).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Next Payload  |C|  RESERVED   |         Payload Length        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::constants::{NotifyType, PayloadType, ProtocolId};
use super::cp::CpRepr;
use super::delete::DeleteRepr;
use super::id::IdRepr;
use super::notify::NotifyRepr;
use super::reader::{slice, u8_at, u16_at};
use super::sa::SaRepr;
use super::simple::{AuthRepr, KeRepr};
use super::sk::{SkRepr, SkfRepr};
use super::ts::TsRepr;
use crate::{Error, Result};

pub const GENERIC_HEADER_LEN: usize = 4;

const CRITICAL: u8 = 0x80;

/// One parsed payload. Payload types this crate does not decode (CERT, CERTREQ, EAP and
/// unassigned numbers) are kept as [`Payload::Unknown`] with their critical bit, so the
/// engine can reply with UNSUPPORTED_CRITICAL_PAYLOAD (RFC 7296 section 2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Sa(SaRepr),
    Ke(KeRepr),
    IdI(IdRepr),
    IdR(IdRepr),
    Auth(AuthRepr),
    Nonce(Vec<u8>),
    Notify(NotifyRepr),
    Delete(DeleteRepr),
    VendorId(Vec<u8>),
    TsI(TsRepr),
    TsR(TsRepr),
    Sk(SkRepr),
    Skf(SkfRepr),
    Cp(CpRepr),
    Unknown {
        payload_type: PayloadType,
        critical: bool,
        body: Vec<u8>,
    },
}

impl Payload {
    pub fn payload_type(&self) -> PayloadType {
        match self {
            Payload::Sa(_) => PayloadType::SA,
            Payload::Ke(_) => PayloadType::KE,
            Payload::IdI(_) => PayloadType::IDI,
            Payload::IdR(_) => PayloadType::IDR,
            Payload::Auth(_) => PayloadType::AUTH,
            Payload::Nonce(_) => PayloadType::NONCE,
            Payload::Notify(_) => PayloadType::NOTIFY,
            Payload::Delete(_) => PayloadType::DELETE,
            Payload::VendorId(_) => PayloadType::VENDOR_ID,
            Payload::TsI(_) => PayloadType::TSI,
            Payload::TsR(_) => PayloadType::TSR,
            Payload::Sk(_) => PayloadType::SK,
            Payload::Skf(_) => PayloadType::SKF,
            Payload::Cp(_) => PayloadType::CP,
            Payload::Unknown { payload_type, .. } => *payload_type,
        }
    }

    /// Builds a status or error notify without SPI, the common case.
    pub fn notify(notify_type: NotifyType, data: Vec<u8>) -> Payload {
        Payload::Notify(NotifyRepr {
            protocol_id: ProtocolId::NONE,
            notify_type,
            spi: Vec::new(),
            data,
        })
    }

    /// Length of the payload body, without the generic header.
    pub fn body_len(&self) -> usize {
        match self {
            Payload::Sa(p) => p.buffer_len(),
            Payload::Ke(p) => p.buffer_len(),
            Payload::IdI(p) | Payload::IdR(p) => p.buffer_len(),
            Payload::Auth(p) => p.buffer_len(),
            Payload::Nonce(b) | Payload::VendorId(b) => b.len(),
            Payload::Notify(p) => p.buffer_len(),
            Payload::Delete(p) => p.buffer_len(),
            Payload::TsI(p) | Payload::TsR(p) => p.buffer_len(),
            Payload::Sk(p) => p.body.len(),
            Payload::Skf(p) => p.buffer_len(),
            Payload::Cp(p) => p.buffer_len(),
            Payload::Unknown { body, .. } => body.len(),
        }
    }

    pub fn buffer_len(&self) -> usize {
        GENERIC_HEADER_LEN + self.body_len()
    }

    fn emit_body(&self, buf: &mut [u8]) {
        match self {
            Payload::Sa(p) => p.emit(buf),
            Payload::Ke(p) => p.emit(buf),
            Payload::IdI(p) | Payload::IdR(p) => p.emit(buf),
            Payload::Auth(p) => p.emit(buf),
            Payload::Nonce(b) | Payload::VendorId(b) => buf.copy_from_slice(b),
            Payload::Notify(p) => p.emit(buf),
            Payload::Delete(p) => p.emit(buf),
            Payload::TsI(p) | Payload::TsR(p) => p.emit(buf),
            Payload::Sk(p) => buf.copy_from_slice(&p.body),
            Payload::Skf(p) => p.emit(buf),
            Payload::Cp(p) => p.emit(buf),
            Payload::Unknown { body, .. } => buf.copy_from_slice(body),
        }
    }

    fn critical(&self) -> bool {
        matches!(self, Payload::Unknown { critical: true, .. })
    }

    /// For SK and SKF the Next Payload field names the first inner payload (RFC 7296
    /// section 3.14), not the following one.
    fn inner_first(&self) -> Option<PayloadType> {
        match self {
            Payload::Sk(p) => Some(p.first_payload),
            Payload::Skf(p) => Some(p.first_payload),
            _ => None,
        }
    }

    fn parse_body(
        payload_type: PayloadType,
        critical: bool,
        next: PayloadType,
        body: &[u8],
        offset: usize,
    ) -> Result<Payload> {
        Ok(match payload_type {
            PayloadType::SA => Payload::Sa(SaRepr::parse(body, offset)?),
            PayloadType::KE => Payload::Ke(KeRepr::parse(body, offset)?),
            PayloadType::IDI => Payload::IdI(IdRepr::parse(body, offset)?),
            PayloadType::IDR => Payload::IdR(IdRepr::parse(body, offset)?),
            PayloadType::AUTH => Payload::Auth(AuthRepr::parse(body, offset)?),
            PayloadType::NONCE => Payload::Nonce(body.to_vec()),
            PayloadType::NOTIFY => Payload::Notify(NotifyRepr::parse(body, offset)?),
            PayloadType::DELETE => Payload::Delete(DeleteRepr::parse(body, offset)?),
            PayloadType::VENDOR_ID => Payload::VendorId(body.to_vec()),
            PayloadType::TSI => Payload::TsI(TsRepr::parse(body, offset)?),
            PayloadType::TSR => Payload::TsR(TsRepr::parse(body, offset)?),
            PayloadType::SK => Payload::Sk(SkRepr {
                first_payload: next,
                body: body.to_vec(),
            }),
            PayloadType::SKF => Payload::Skf(SkfRepr::parse(next, body, offset)?),
            PayloadType::CP => Payload::Cp(CpRepr::parse(body, offset)?),
            other => Payload::Unknown {
                payload_type: other,
                critical,
                body: body.to_vec(),
            },
        })
    }
}

/// Parses a payload chain that starts with a payload of type `first`. `base` is the
/// offset of `data` within the message, used in error reports. An SK or SKF payload
/// ends the chain and must be the last octets of `data` (RFC 7296 section 3.14).
pub fn parse_chain(first: PayloadType, data: &[u8], base: usize) -> Result<Vec<Payload>> {
    let mut payloads = Vec::new();
    let mut next = first;
    let mut offset = 0;
    while next != PayloadType::NONE {
        let this = next;
        next = PayloadType(u8_at(data, offset, "IKE payload: next payload")?);
        let critical = u8_at(data, offset + 1, "IKE payload: flags")? & CRITICAL != 0;
        let length = u16_at(data, offset + 2, "IKE payload: length")? as usize;
        if length < GENERIC_HEADER_LEN {
            return Err(Error::bad_length(
                "IKE payload: length",
                base + offset + 2,
                length,
            ));
        }
        let body = slice(
            data,
            offset + GENERIC_HEADER_LEN,
            length - GENERIC_HEADER_LEN,
            "IKE payload: body",
        )?;
        let payload = Payload::parse_body(
            this,
            critical,
            next,
            body,
            base + offset + GENERIC_HEADER_LEN,
        )?;
        offset += length;
        let encrypted = payload.inner_first().is_some();
        payloads.push(payload);
        if encrypted {
            if offset != data.len() {
                return Err(Error::bad_length(
                    "IKE payload: data after encrypted payload",
                    base + offset,
                    data.len() - offset,
                ));
            }
            return Ok(payloads);
        }
    }
    if offset != data.len() {
        return Err(Error::bad_length(
            "IKE payload chain: trailing octets",
            base + offset,
            data.len() - offset,
        ));
    }
    Ok(payloads)
}

/// Length of a chain as [`emit_chain`] writes it.
pub fn chain_len(payloads: &[Payload]) -> usize {
    payloads.iter().map(Payload::buffer_len).sum()
}

/// Writes `payloads` with their generic headers linked by Next Payload, and returns
/// the type of the first one (for the IKE header or an enclosing SK payload).
///
/// `buf` must be exactly [`chain_len`] octets long.
pub fn emit_chain(payloads: &[Payload], buf: &mut [u8]) -> PayloadType {
    let mut offset = 0;
    for (i, payload) in payloads.iter().enumerate() {
        let next = match payload.inner_first() {
            Some(inner) => inner,
            None => payloads
                .get(i + 1)
                .map_or(PayloadType::NONE, Payload::payload_type),
        };
        let len = payload.buffer_len();
        let out = &mut buf[offset..offset + len];
        out[0] = next.0;
        out[1] = if payload.critical() { CRITICAL } else { 0 };
        // The engine never builds a payload over 65535 octets. If one did, `as` would
        // keep the low bits and the peer would reject the message.
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        payload.emit_body(&mut out[GENERIC_HEADER_LEN..]);
        offset += len;
    }
    payloads
        .first()
        .map_or(PayloadType::NONE, Payload::payload_type)
}

/// Emits a chain into a new vector.
pub fn chain_to_vec(payloads: &[Payload]) -> (PayloadType, Vec<u8>) {
    let mut buf = vec![0; chain_len(payloads)];
    let first = emit_chain(payloads, &mut buf);
    (first, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_round_trip() {
        let payloads = vec![
            Payload::Nonce(vec![7; 32]),
            Payload::notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, Vec::new()),
            Payload::VendorId(b"rampart".to_vec()),
        ];
        let mut buf = vec![0xa5; chain_len(&payloads)];
        let first = emit_chain(&payloads, &mut buf);
        assert_eq!(first, PayloadType::NONCE);
        assert_eq!(parse_chain(first, &buf, 0).unwrap(), payloads);
    }

    #[test]
    fn chain_unknown_critical_kept() {
        let data = [0u8, 0x80, 0, 6, 0xde, 0xad];
        let parsed = parse_chain(PayloadType(200), &data, 0).unwrap();
        assert_eq!(
            parsed,
            vec![Payload::Unknown {
                payload_type: PayloadType(200),
                critical: true,
                body: vec![0xde, 0xad]
            }]
        );
    }

    #[test]
    fn chain_unknown_round_trip() {
        let payloads = vec![Payload::Unknown {
            payload_type: PayloadType(200),
            critical: true,
            body: vec![1, 2],
        }];
        let (first, buf) = chain_to_vec(&payloads);
        assert_eq!(parse_chain(first, &buf, 0).unwrap(), payloads);
    }

    #[test]
    fn chain_short_length() {
        let data = [0u8, 0, 0, 3];
        assert!(parse_chain(PayloadType::NONCE, &data, 0).is_err());
    }

    #[test]
    fn chain_overlong_length() {
        let data = [0u8, 0, 0, 9, 1, 2];
        assert!(parse_chain(PayloadType::NONCE, &data, 0).is_err());
    }

    #[test]
    fn chain_trailing_octets() {
        let data = [0u8, 0, 0, 4, 9];
        assert!(parse_chain(PayloadType::NONCE, &data, 0).is_err());
    }

    #[test]
    fn chain_sk_must_be_last() {
        let data = [40u8, 0, 0, 4, 0, 0, 0, 4];
        assert!(parse_chain(PayloadType::SK, &data, 0).is_err());
    }
}
