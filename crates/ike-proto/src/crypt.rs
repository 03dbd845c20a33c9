//! Protection of IKE messages after IKE_SA_INIT: the Encrypted payload (RFC 7296
//! section 3.14) and Encrypted Fragment payloads with reassembly (RFC 7383).

use std::collections::BTreeMap;

use rampart_crypto::CryptoError;
use rampart_crypto::alg::{Encr, Integ};
use rampart_crypto::cipher::SaCipher;
use rampart_crypto::random::Random;
use rampart_wire::ike::{
    GENERIC_HEADER_LEN, HEADER_LEN, Header, HeaderRepr, Payload, PayloadType, SKF_FIXED_LEN,
    chain_to_vec,
};
use zeroize::Zeroizing;

/// The SK keys of an IKE SA (SK_e and SK_a of both directions) and the IV counter for
/// AES-GCM, whose IVs must never repeat under one key (RFC 5282 section 3.1).
///
/// The keys stay raw, and every message expands them into a [`SaCipher`] that is
/// dropped after use. Expanded contexts cost about 2.2 KiB per direction for AES-CBC
/// with HMAC (key schedules and HMAC_CTX), kept for the whole life of the SA, while an
/// expansion costs microseconds and IKE messages are rare.
pub(crate) struct SkCipher {
    encr: Encr,
    integ: Option<Integ>,
    /// SK_e and SK_a of what we send, then SK_e and SK_a of what we receive, in one
    /// allocation of exactly their length. Wiped on drop.
    keys: Zeroizing<Vec<u8>>,
    iv_counter: u64,
}

/// Most fragments accepted for one message; more is treated as an attack.
const MAX_FRAGMENTS: u16 = 64;

impl SkCipher {
    /// Keeps the keys of both directions after checking that they expand, so that a
    /// bad key length fails here and not on the first message.
    pub fn new(
        encr: Encr,
        integ: Option<Integ>,
        outbound: (&[u8], &[u8]),
        inbound: (&[u8], &[u8]),
    ) -> Result<SkCipher, CryptoError> {
        SaCipher::new(encr, integ, outbound.0, outbound.1)?;
        SaCipher::new(encr, integ, inbound.0, inbound.1)?;
        let mut keys = Vec::with_capacity(2 * (outbound.0.len() + outbound.1.len()));
        for part in [outbound.0, outbound.1, inbound.0, inbound.1] {
            keys.extend_from_slice(part);
        }
        Ok(SkCipher {
            encr,
            integ,
            keys: Zeroizing::new(keys),
            iv_counter: 0,
        })
    }

    /// Octets of key material held.
    pub fn key_bytes(&self) -> usize {
        self.keys.capacity()
    }

    /// Expands the keys of one direction into a cipher for one message.
    fn cipher(&self, inbound: bool) -> Result<SaCipher, CryptoError> {
        let encr_len = self.encr.keymat_len();
        let half = self.keys.len() / 2;
        let direction = if inbound {
            &self.keys[half..]
        } else {
            &self.keys[..half]
        };
        let (encr_key, integ_key) = direction.split_at(encr_len.min(direction.len()));
        SaCipher::new(self.encr, self.integ, encr_key, integ_key)
    }

    fn write_iv(&mut self, random: &mut dyn Random, iv: &mut [u8]) {
        if self.encr.is_aead() {
            self.iv_counter += 1;
            let c = self.iv_counter.to_be_bytes();
            let n = iv.len().min(8);
            iv[..n].copy_from_slice(&c[8 - n..]);
        } else {
            random.fill(iv);
        }
    }

    /// Builds one protected datagram: header, SK or SKF payload header, IV,
    /// `plaintext` with padding, ICV. `fragment` is (number, total) for SKF.
    fn seal_one(
        &mut self,
        cipher: &SaCipher,
        random: &mut dyn Random,
        header: &HeaderRepr,
        first: PayloadType,
        plaintext: &[u8],
        fragment: Option<(u16, u16)>,
    ) -> Result<Vec<u8>, CryptoError> {
        let iv_len = cipher.iv_len();
        let icv_len = cipher.icv_len();
        let block = cipher.block_len().max(1);
        let pad = (block - (plaintext.len() + 1) % block) % block;
        let fixed = if fragment.is_some() { SKF_FIXED_LEN } else { 0 };
        let aad_len = HEADER_LEN + GENERIC_HEADER_LEN + fixed;
        let total = aad_len + iv_len + plaintext.len() + pad + 1 + icv_len;
        let mut buf = vec![0u8; total];

        let (payload_type, next) = match fragment {
            Some(_) => (PayloadType::SKF, first),
            None => (PayloadType::SK, first),
        };
        let h = HeaderRepr {
            next_payload: payload_type,
            length: total as u32,
            ..*header
        };
        h.emit(&mut Header::new_unchecked(&mut buf[..HEADER_LEN]));
        buf[HEADER_LEN] = next.0;
        buf[HEADER_LEN + 2..HEADER_LEN + 4]
            .copy_from_slice(&((total - HEADER_LEN) as u16).to_be_bytes());
        if let Some((number, count)) = fragment {
            buf[HEADER_LEN + 4..HEADER_LEN + 6].copy_from_slice(&number.to_be_bytes());
            buf[HEADER_LEN + 6..HEADER_LEN + 8].copy_from_slice(&count.to_be_bytes());
        }
        self.write_iv(random, &mut buf[aad_len..aad_len + iv_len]);
        let body = aad_len + iv_len;
        buf[body..body + plaintext.len()].copy_from_slice(plaintext);
        // Padding octets are zero; the Pad Length octet follows them.
        buf[body + plaintext.len() + pad] = pad as u8;
        cipher.seal(&mut buf, aad_len)?;
        Ok(buf)
    }

    /// Encrypts `payloads` under `header` into one datagram, or into SKF fragments of
    /// at most `fragment_mtu` octets when `fragment_mtu` is set and the message is
    /// larger (RFC 7383 section 2.5).
    pub fn protect(
        &mut self,
        random: &mut dyn Random,
        header: &HeaderRepr,
        payloads: &[Payload],
        fragment_mtu: Option<usize>,
    ) -> Result<Vec<Vec<u8>>, CryptoError> {
        let cipher = self.cipher(false)?;
        let (first, plaintext) = chain_to_vec(payloads);
        let overhead = HEADER_LEN
            + GENERIC_HEADER_LEN
            + cipher.iv_len()
            + cipher.icv_len()
            + cipher.block_len()
            + 1;
        match fragment_mtu {
            Some(mtu) if overhead + plaintext.len() > mtu => {
                // Room for plaintext in each fragment; the floor keeps tiny MTUs from
                // producing thousands of fragments.
                let room = mtu.saturating_sub(overhead + SKF_FIXED_LEN).max(64);
                let chunks: Vec<&[u8]> = plaintext.chunks(room).collect();
                let count = chunks.len().min(usize::from(u16::MAX)) as u16;
                chunks
                    .iter()
                    .enumerate()
                    .map(|(i, chunk)| {
                        let next = if i == 0 { first } else { PayloadType::NONE };
                        self.seal_one(
                            &cipher,
                            random,
                            header,
                            next,
                            chunk,
                            Some((i as u16 + 1, count)),
                        )
                    })
                    .collect()
            }
            _ => {
                Ok(vec![self.seal_one(
                    &cipher, random, header, first, &plaintext, None,
                )?])
            }
        }
    }

    /// Verifies and decrypts a datagram whose last payload is SK or SKF, of which
    /// `body_len` octets follow the SKF fixed fields or the SK header. Returns the
    /// plaintext without padding.
    pub fn unprotect(&self, data: &[u8], body_len: usize) -> Result<Vec<u8>, CryptoError> {
        let aad_len = data
            .len()
            .checked_sub(body_len)
            .ok_or_else(|| CryptoError::InvalidLength("SK payload".into()))?;
        let mut buf = data.to_vec();
        let range = self.cipher(true)?.open(&mut buf, aad_len)?;
        let plain = &buf[range];
        let pad = *plain
            .last()
            .ok_or_else(|| CryptoError::InvalidLength("empty SK plaintext".into()))?
            as usize;
        let end = plain
            .len()
            .checked_sub(pad + 1)
            .ok_or_else(|| CryptoError::InvalidLength("SK pad length".into()))?;
        Ok(plain[..end].to_vec())
    }
}

/// Fragments of one message collected in any order (RFC 7383 section 2.6).
#[derive(Debug)]
pub(crate) struct Reassembly {
    pub message_id: u32,
    pub response: bool,
    total: u16,
    first: Option<PayloadType>,
    parts: BTreeMap<u16, Vec<u8>>,
}

impl Reassembly {
    pub fn new(message_id: u32, response: bool, total: u16) -> Option<Reassembly> {
        (total > 0 && total <= MAX_FRAGMENTS).then(|| Reassembly {
            message_id,
            response,
            total,
            first: None,
            parts: BTreeMap::new(),
        })
    }

    /// Adds one decrypted fragment. Returns the first inner payload type and the whole
    /// plaintext once every fragment arrived. Fragments whose total disagrees with the
    /// first one seen are ignored.
    pub fn add(
        &mut self,
        number: u16,
        total: u16,
        first: PayloadType,
        plaintext: Vec<u8>,
    ) -> Option<(PayloadType, Vec<u8>)> {
        if total != self.total || number == 0 || number > total {
            return None;
        }
        if number == 1 {
            self.first = Some(first);
        }
        self.parts.entry(number).or_insert(plaintext);
        if self.parts.len() != usize::from(self.total) {
            return None;
        }
        let first = self.first?;
        let joined = self
            .parts
            .values()
            .flat_map(|p| p.iter().copied())
            .collect();
        Some((first, joined))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_crypto::random::TestRandom;
    use rampart_wire::ike::{ExchangeType, MessageRepr, NotifyType};

    fn pair(encr: Encr, integ: Option<Integ>) -> (SkCipher, SkCipher) {
        let ke = vec![7u8; encr.keymat_len()];
        let ka = integ.map(|i| vec![9u8; i.key_len()]).unwrap_or_default();
        let kb = vec![8u8; encr.keymat_len()];
        let kc = integ.map(|i| vec![6u8; i.key_len()]).unwrap_or_default();
        let a = SkCipher::new(encr, integ, (&ke, &ka), (&kb, &kc)).unwrap();
        let b = SkCipher::new(encr, integ, (&kb, &kc), (&ke, &ka)).unwrap();
        (a, b)
    }

    fn header() -> HeaderRepr {
        HeaderRepr {
            spi_i: 1,
            spi_r: 2,
            next_payload: PayloadType::NONE,
            exchange_type: ExchangeType::INFORMATIONAL,
            initiator: true,
            response: false,
            message_id: 5,
            length: 0,
        }
    }

    fn payloads() -> Vec<Payload> {
        vec![
            Payload::notify(NotifyType::INITIAL_CONTACT, Vec::new()),
            Payload::VendorId(vec![0x5a; 900]),
        ]
    }

    fn open_all(b: &SkCipher, datagrams: &[Vec<u8>]) -> Vec<(u16, u16, PayloadType, Vec<u8>)> {
        datagrams
            .iter()
            .map(|d| {
                let m = MessageRepr::parse(d).unwrap();
                let Some(Payload::Skf(f)) = m.payloads.last() else {
                    panic!("not SKF: {:?}", m.payloads)
                };
                (
                    f.fragment_number,
                    f.total_fragments,
                    f.first_payload,
                    b.unprotect(d, f.body.len()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn sk_round_trip_cbc() {
        let (mut a, b) = pair(
            Encr::AesCbc { key_bits: 256 },
            Some(Integ::HmacSha2_256_128),
        );
        let d = a
            .protect(&mut TestRandom::new(1), &header(), &payloads(), None)
            .unwrap();
        let m = MessageRepr::parse(&d[0]).unwrap();
        let Some(Payload::Sk(sk)) = m.payloads.last() else {
            panic!("not SK")
        };
        let plain = b.unprotect(&d[0], sk.body.len()).unwrap();
        assert_eq!(
            rampart_wire::ike::parse_chain(sk.first_payload, &plain, 0).unwrap(),
            payloads()
        );
    }

    #[test]
    fn sk_tampered_rejected() {
        let (mut a, b) = pair(Encr::AesGcm16 { key_bits: 128 }, None);
        let mut d = a
            .protect(&mut TestRandom::new(1), &header(), &payloads(), None)
            .unwrap()
            .remove(0);
        // Flipping a header octet breaks the AEAD associated data.
        d[20] ^= 1;
        let body = d.len() - 32;
        assert!(b.unprotect(&d, body).is_err());
    }

    #[test]
    fn skf_reassembly_any_order() {
        let (mut a, b) = pair(Encr::AesGcm16 { key_bits: 256 }, None);
        let d = a
            .protect(&mut TestRandom::new(1), &header(), &payloads(), Some(300))
            .unwrap();
        assert!(d.len() >= 3, "{} fragments", d.len());
        assert!(d.iter().all(|f| f.len() <= 300));
        let mut parts = open_all(&b, &d);
        parts.reverse();
        let total = parts[0].1;
        let mut r = Reassembly::new(5, false, total).unwrap();
        let mut done = None;
        for (n, t, first, plain) in parts {
            done = r.add(n, t, first, plain).or(done);
        }
        let (first, plain) = done.expect("all fragments collected");
        assert_eq!(
            rampart_wire::ike::parse_chain(first, &plain, 0).unwrap(),
            payloads()
        );
    }

    #[test]
    fn reassembly_rejects_total_change() {
        let mut r = Reassembly::new(1, false, 2).unwrap();
        assert!(r.add(1, 2, PayloadType::NOTIFY, vec![1]).is_none());
        assert!(r.add(2, 3, PayloadType::NONE, vec![2]).is_none());
    }

    #[test]
    fn reassembly_limits_fragment_count() {
        assert!(Reassembly::new(1, false, MAX_FRAGMENTS + 1).is_none());
    }
}
