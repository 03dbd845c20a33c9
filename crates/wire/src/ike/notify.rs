//! Notify payload (RFC 7296 section 3.10).

use super::constants::{NotifyType, ProtocolId};
use super::reader::{slice, u8_at, u16_at};
use crate::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyRepr {
    pub protocol_id: ProtocolId,
    pub notify_type: NotifyType,
    /// Empty for notifies about the IKE SA, 4 octets for an ESP SPI (REKEY_SA).
    pub spi: Vec<u8>,
    pub data: Vec<u8>,
}

impl NotifyRepr {
    pub fn parse(data: &[u8], _base: usize) -> Result<NotifyRepr> {
        let protocol_id = ProtocolId(u8_at(data, 0, "IKE Notify payload: protocol ID")?);
        let spi_size = u8_at(data, 1, "IKE Notify payload: SPI size")? as usize;
        let notify_type = NotifyType(u16_at(data, 2, "IKE Notify payload: type")?);
        let spi = slice(data, 4, spi_size, "IKE Notify payload: SPI")?.to_vec();
        Ok(NotifyRepr {
            protocol_id,
            notify_type,
            spi,
            data: data[4 + spi_size..].to_vec(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        4 + self.spi.len() + self.data.len()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.protocol_id.0;
        buf[1] = self.spi.len() as u8;
        buf[2..4].copy_from_slice(&self.notify_type.0.to_be_bytes());
        buf[4..4 + self.spi.len()].copy_from_slice(&self.spi);
        buf[4 + self.spi.len()..].copy_from_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_round_trip() {
        let n = NotifyRepr {
            protocol_id: ProtocolId::ESP,
            notify_type: NotifyType::REKEY_SA,
            spi: vec![0xc0, 0, 0, 1],
            data: vec![],
        };
        let mut buf = vec![0xa5; n.buffer_len()];
        n.emit(&mut buf);
        assert_eq!(NotifyRepr::parse(&buf, 0).unwrap(), n);
    }

    #[test]
    fn notify_spi_overrun() {
        assert!(NotifyRepr::parse(&[3, 4, 0x40, 0x09, 1, 2], 0).is_err());
    }

    #[test]
    fn notify_error_range() {
        assert!(NotifyType::TS_UNACCEPTABLE.is_error());
        assert!(!NotifyType::COOKIE.is_error());
    }
}
