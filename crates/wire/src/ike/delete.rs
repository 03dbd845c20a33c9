//! Delete payload (RFC 7296 section 3.11).

use super::constants::ProtocolId;
use super::reader::{slice, u8_at, u16_at};
use crate::{Error, Result};

/// A Delete body. For IKE the SPI size is 0 and there are no SPIs, because the IKE SA
/// named by the header is deleted. For ESP each SPI is 4 octets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteRepr {
    pub protocol_id: ProtocolId,
    pub spi_size: u8,
    pub spis: Vec<Vec<u8>>,
}

impl DeleteRepr {
    pub fn parse(data: &[u8], base: usize) -> Result<DeleteRepr> {
        let protocol_id = ProtocolId(u8_at(data, 0, "IKE Delete payload: protocol ID")?);
        let spi_size = u8_at(data, 1, "IKE Delete payload: SPI size")?;
        let count = u16_at(data, 2, "IKE Delete payload: number of SPIs")? as usize;
        let total = count * spi_size as usize;
        let spis_data = slice(data, 4, total, "IKE Delete payload: SPIs")?;
        if 4 + total != data.len() {
            return Err(Error::bad_length(
                "IKE Delete payload: length",
                base,
                data.len(),
            ));
        }
        let spis = if spi_size == 0 {
            Vec::new()
        } else {
            spis_data
                .chunks(spi_size as usize)
                .map(<[u8]>::to_vec)
                .collect()
        };
        Ok(DeleteRepr {
            protocol_id,
            spi_size,
            spis,
        })
    }

    /// Delete of ESP SAs by their inbound (from the sender's view) SPIs.
    pub fn esp(spis: &[u32]) -> DeleteRepr {
        DeleteRepr {
            protocol_id: ProtocolId::ESP,
            spi_size: 4,
            spis: spis.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
        }
    }

    pub fn ike() -> DeleteRepr {
        DeleteRepr {
            protocol_id: ProtocolId::IKE,
            spi_size: 0,
            spis: Vec::new(),
        }
    }

    pub fn buffer_len(&self) -> usize {
        4 + self.spis.len() * self.spi_size as usize
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.protocol_id.0;
        buf[1] = self.spi_size;
        buf[2..4].copy_from_slice(&(self.spis.len() as u16).to_be_bytes());
        let mut offset = 4;
        for spi in &self.spis {
            let n = self.spi_size as usize;
            let out = &mut buf[offset..offset + n];
            out.fill(0);
            let k = n.min(spi.len());
            out[..k].copy_from_slice(&spi[..k]);
            offset += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_esp_round_trip() {
        let d = DeleteRepr::esp(&[1, 0xdead_beef]);
        let mut buf = vec![0xa5; d.buffer_len()];
        d.emit(&mut buf);
        assert_eq!(DeleteRepr::parse(&buf, 0).unwrap(), d);
    }

    #[test]
    fn delete_ike_round_trip() {
        let d = DeleteRepr::ike();
        let mut buf = vec![0xa5; d.buffer_len()];
        d.emit(&mut buf);
        assert_eq!(DeleteRepr::parse(&buf, 0).unwrap(), d);
    }

    #[test]
    fn delete_count_overrun() {
        assert!(DeleteRepr::parse(&[3, 4, 0, 2, 0, 0, 0, 1], 0).is_err());
    }
}
