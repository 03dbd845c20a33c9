//! A whole IKE message: header and payload chain.

use super::header::{HEADER_LEN, Header, HeaderRepr};
use super::payload::{Payload, chain_len, emit_chain, parse_chain};
use crate::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRepr {
    /// `next_payload` and `length` are recomputed by [`MessageRepr::emit`].
    pub header: HeaderRepr,
    pub payloads: Vec<Payload>,
}

impl MessageRepr {
    /// Parses a datagram as one IKE message; the header length must match `data`.
    pub fn parse(data: &[u8]) -> Result<MessageRepr> {
        let header = HeaderRepr::parse(&Header::new_checked(data)?)?;
        let payloads = parse_chain(header.next_payload, &data[HEADER_LEN..], HEADER_LEN)?;
        Ok(MessageRepr { header, payloads })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + chain_len(&self.payloads)
    }

    /// Writes the message into `buf`, which must be [`MessageRepr::buffer_len`] long.
    pub fn emit(&self, buf: &mut [u8]) {
        let first = emit_chain(&self.payloads, &mut buf[HEADER_LEN..]);
        let header = HeaderRepr {
            next_payload: first,
            length: buf.len() as u32,
            ..self.header
        };
        header.emit(&mut Header::new_unchecked(&mut buf[..HEADER_LEN]));
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = vec![0; self.buffer_len()];
        self.emit(&mut buf);
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::super::constants::*;
    use super::super::sa::{ProposalRepr, SaRepr, TransformRepr};
    use super::super::simple::KeRepr;
    use super::*;

    /// A hand-assembled IKE_SA_INIT request offering `aes256-sha1-modp1024`, in the
    /// transform order strongSwan uses; the KE value and nonce are shortened.
    const INIT_REQUEST: &[u8] = &[
        // Header: SPIi, SPIr = 0, next SA, version 2.0, IKE_SA_INIT, Initiator, MID 0, length 104.
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 0, 0, 0, 0, //
        33, 0x20, 34, 0x08, 0, 0, 0, 0, 0, 0, 0, 104, //
        // SA payload, next KE, length 48: one IKE proposal with four transforms.
        34, 0, 0, 48, //
        0, 0, 0, 44, 1, 1, 0, 4, //
        3, 0, 0, 12, 1, 0, 0, 12, 0x80, 14, 1, 0, // ENCR AES-CBC 256
        3, 0, 0, 8, 3, 0, 0, 2, // INTEG HMAC-SHA1-96
        3, 0, 0, 8, 2, 0, 0, 2, // PRF HMAC-SHA1
        0, 0, 0, 8, 4, 0, 0, 2, // DH MODP-1024
        // KE payload, next Nonce, length 12: group 2, 4 octets of public value.
        40, 0, 0, 12, 0, 2, 0, 0, 0xa1, 0xa2, 0xa3, 0xa4, //
        // Nonce payload, next Notify, length 8.
        41, 0, 0, 8, 0xb1, 0xb2, 0xb3, 0xb4, //
        // Notify IKEV2_FRAGMENTATION_SUPPORTED, last payload, length 8.
        0, 0, 0, 8, 0, 0, 0x40, 0x2e,
    ];

    #[test]
    fn message_parse_fixture() {
        let m = MessageRepr::parse(INIT_REQUEST).unwrap();
        assert_eq!(m.header.exchange_type, ExchangeType::IKE_SA_INIT);
        assert_eq!(m.payloads.len(), 4);
        let Payload::Sa(sa) = &m.payloads[0] else {
            panic!("first payload is {:?}", m.payloads[0])
        };
        assert_eq!(sa.proposals[0].transforms[0].key_length(), Some(256));
        assert_eq!(
            m.payloads[1],
            Payload::Ke(KeRepr {
                dh_group: 2,
                data: vec![0xa1, 0xa2, 0xa3, 0xa4]
            })
        );
        assert_eq!(
            m.payloads[3],
            Payload::notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![])
        );
    }

    #[test]
    fn message_emit_fixture() {
        let m = MessageRepr {
            header: HeaderRepr {
                spi_i: 0x1122_3344_5566_7788,
                spi_r: 0,
                next_payload: PayloadType::NONE,
                exchange_type: ExchangeType::IKE_SA_INIT,
                initiator: true,
                response: false,
                message_id: 0,
                length: 0,
            },
            payloads: vec![
                Payload::Sa(SaRepr {
                    proposals: vec![ProposalRepr {
                        number: 1,
                        protocol_id: ProtocolId::IKE,
                        spi: vec![],
                        transforms: vec![
                            TransformRepr::new(TransformType::ENCR, 12, Some(256)),
                            TransformRepr::new(TransformType::INTEG, 2, None),
                            TransformRepr::new(TransformType::PRF, 2, None),
                            TransformRepr::new(TransformType::DH, 2, None),
                        ],
                    }],
                }),
                Payload::Ke(KeRepr {
                    dh_group: 2,
                    data: vec![0xa1, 0xa2, 0xa3, 0xa4],
                }),
                Payload::Nonce(vec![0xb1, 0xb2, 0xb3, 0xb4]),
                Payload::notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![]),
            ],
        };
        assert_eq!(m.to_vec(), INIT_REQUEST);
    }

    #[test]
    fn message_truncated_every_length() {
        for len in 0..INIT_REQUEST.len() {
            assert!(
                MessageRepr::parse(&INIT_REQUEST[..len]).is_err(),
                "length {len}"
            );
        }
    }

    #[test]
    fn message_round_trip_junk_buffer() {
        let m = MessageRepr::parse(INIT_REQUEST).unwrap();
        let mut buf = vec![0x5a; m.buffer_len()];
        m.emit(&mut buf);
        assert_eq!(buf, INIT_REQUEST);
    }

    fn from_hex(s: &str) -> Vec<u8> {
        let s = s.trim();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// An IKE_SA_INIT response captured from strongSwan 5.9.8 (Debian 12) in the lab,
    /// in reply to an `aes256-sha1-prfsha1-modp1536` offer.
    const STRONGSWAN_INIT_RESPONSE: &str =
        include_str!("testdata/strongswan-ike-sa-init-response.hex");

    #[test]
    fn message_strongswan_response_payloads() {
        let m = MessageRepr::parse(&from_hex(STRONGSWAN_INIT_RESPONSE)).unwrap();
        let types: Vec<PayloadType> = m.payloads.iter().map(Payload::payload_type).collect();
        let n = PayloadType::NOTIFY;
        assert_eq!(
            types,
            vec![
                PayloadType::SA,
                PayloadType::KE,
                PayloadType::NONCE,
                n,
                n,
                n,
                n,
                n
            ]
        );
        let Payload::Ke(ke) = &m.payloads[1] else {
            panic!("second payload is {:?}", m.payloads[1])
        };
        assert_eq!((ke.dh_group, ke.data.len()), (5, 192));
        assert_eq!(m.payloads[6], Payload::notify(NotifyType(16418), vec![]));
    }

    #[test]
    fn message_strongswan_response_round_trip() {
        let bytes = from_hex(STRONGSWAN_INIT_RESPONSE);
        assert_eq!(MessageRepr::parse(&bytes).unwrap().to_vec(), bytes);
    }
}
