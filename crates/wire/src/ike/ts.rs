//! Traffic Selector payloads TSi and TSr (RFC 7296 section 3.13).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::constants::TsType;
use super::reader::{slice, u8_at, u16_at};
use crate::{Error, Result};

/// One traffic selector. Unknown selector types are kept raw so the responder can
/// skip them while narrowing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrafficSelectorRepr {
    Range {
        ip_protocol: u8,
        start_port: u16,
        end_port: u16,
        start_addr: IpAddr,
        end_addr: IpAddr,
    },
    Unknown {
        ts_type: TsType,
        body: Vec<u8>,
    },
}

impl TrafficSelectorRepr {
    fn buffer_len(&self) -> usize {
        match self {
            TrafficSelectorRepr::Range {
                start_addr: IpAddr::V4(_),
                ..
            } => 16,
            TrafficSelectorRepr::Range { .. } => 40,
            TrafficSelectorRepr::Unknown { body, .. } => 4 + body.len(),
        }
    }

    fn parse(data: &[u8], base: usize) -> Result<(TrafficSelectorRepr, usize)> {
        let ts_type = TsType(u8_at(data, 0, "IKE traffic selector: type")?);
        let length = u16_at(data, 2, "IKE traffic selector: length")? as usize;
        let body = slice(data, 0, length, "IKE traffic selector")?;
        let addr_len = match ts_type {
            TsType::TS_IPV4_ADDR_RANGE => 4,
            TsType::TS_IPV6_ADDR_RANGE => 16,
            _ => {
                if length < 4 {
                    return Err(Error::bad_length(
                        "IKE traffic selector: length",
                        base + 2,
                        length,
                    ));
                }
                return Ok((
                    TrafficSelectorRepr::Unknown {
                        ts_type,
                        body: body[4..].to_vec(),
                    },
                    length,
                ));
            }
        };
        if length != 8 + 2 * addr_len {
            return Err(Error::bad_length(
                "IKE traffic selector: length",
                base + 2,
                length,
            ));
        }
        let addr = |at: usize| -> IpAddr {
            if addr_len == 4 {
                IpAddr::V4(Ipv4Addr::new(
                    body[at],
                    body[at + 1],
                    body[at + 2],
                    body[at + 3],
                ))
            } else {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&body[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
        };
        Ok((
            TrafficSelectorRepr::Range {
                ip_protocol: body[1],
                start_port: u16::from_be_bytes([body[4], body[5]]),
                end_port: u16::from_be_bytes([body[6], body[7]]),
                start_addr: addr(8),
                end_addr: addr(8 + addr_len),
            },
            length,
        ))
    }

    fn emit(&self, buf: &mut [u8]) {
        let len = self.buffer_len();
        buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        match self {
            TrafficSelectorRepr::Range {
                ip_protocol,
                start_port,
                end_port,
                start_addr,
                end_addr,
            } => {
                buf[1] = *ip_protocol;
                buf[4..6].copy_from_slice(&start_port.to_be_bytes());
                buf[6..8].copy_from_slice(&end_port.to_be_bytes());
                match (start_addr, end_addr) {
                    (IpAddr::V4(s), e) => {
                        buf[0] = TsType::TS_IPV4_ADDR_RANGE.0;
                        buf[8..12].copy_from_slice(&s.octets());
                        let e = match e {
                            IpAddr::V4(e) => e.octets(),
                            // A mixed-family range cannot be expressed; the end is
                            // clamped to the start's family maximum.
                            IpAddr::V6(_) => [255; 4],
                        };
                        buf[12..16].copy_from_slice(&e);
                    }
                    (IpAddr::V6(s), e) => {
                        buf[0] = TsType::TS_IPV6_ADDR_RANGE.0;
                        buf[8..24].copy_from_slice(&s.octets());
                        let e = match e {
                            IpAddr::V6(e) => e.octets(),
                            IpAddr::V4(_) => [255; 16],
                        };
                        buf[24..40].copy_from_slice(&e);
                    }
                }
            }
            TrafficSelectorRepr::Unknown { ts_type, body } => {
                buf[0] = ts_type.0;
                buf[1] = 0;
                buf[4..].copy_from_slice(body);
            }
        }
    }
}

/// A TSi or TSr body: a list of selectors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsRepr {
    pub selectors: Vec<TrafficSelectorRepr>,
}

impl TsRepr {
    pub fn parse(data: &[u8], base: usize) -> Result<TsRepr> {
        let count = u8_at(data, 0, "IKE TS payload: number of TSs")? as usize;
        slice(data, 1, 3, "IKE TS payload: reserved")?;
        let mut offset = 4;
        let mut selectors = Vec::with_capacity(count);
        for _ in 0..count {
            let (ts, len) = TrafficSelectorRepr::parse(&data[offset..], base + offset)?;
            selectors.push(ts);
            offset += len;
        }
        if offset != data.len() {
            return Err(Error::bad_length(
                "IKE TS payload: trailing octets",
                base + offset,
                data.len() - offset,
            ));
        }
        Ok(TsRepr { selectors })
    }

    pub fn buffer_len(&self) -> usize {
        4 + self
            .selectors
            .iter()
            .map(TrafficSelectorRepr::buffer_len)
            .sum::<usize>()
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.selectors.len() as u8;
        buf[1..4].fill(0);
        let mut offset = 4;
        for ts in &self.selectors {
            let len = ts.buffer_len();
            ts.emit(&mut buf[offset..offset + len]);
            offset += len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TsRepr {
        TsRepr {
            selectors: vec![
                TrafficSelectorRepr::Range {
                    ip_protocol: 6,
                    start_port: 443,
                    end_port: 443,
                    start_addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 0)),
                    end_addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 255)),
                },
                TrafficSelectorRepr::Range {
                    ip_protocol: 0,
                    start_port: 0,
                    end_port: 65535,
                    start_addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    end_addr: IpAddr::V6(Ipv6Addr::from([0xff; 16])),
                },
                TrafficSelectorRepr::Unknown {
                    ts_type: TsType(13),
                    body: vec![1, 2, 3, 4],
                },
            ],
        }
    }

    #[test]
    fn ts_round_trip() {
        let ts = sample();
        let mut buf = vec![0xa5; ts.buffer_len()];
        ts.emit(&mut buf);
        assert_eq!(TsRepr::parse(&buf, 0).unwrap(), ts);
    }

    #[test]
    fn ts_ipv4_bytes() {
        let ts = TsRepr {
            selectors: vec![sample().selectors[0].clone()],
        };
        let mut buf = vec![0; ts.buffer_len()];
        ts.emit(&mut buf);
        assert_eq!(&buf[..12], &[1, 0, 0, 0, 7, 6, 0, 16, 1, 0xbb, 1, 0xbb]);
    }

    #[test]
    fn ts_bad_length() {
        let data = [1u8, 0, 0, 0, 7, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(TsRepr::parse(&data, 0).is_err());
    }

    #[test]
    fn ts_count_overrun() {
        assert!(TsRepr::parse(&[2, 0, 0, 0], 0).is_err());
    }
}
