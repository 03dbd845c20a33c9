//! IKE SA and Child SA key derivation (RFC 7296 sections 2.14, 2.17 and 2.18).

use std::fmt;

use zeroize::Zeroizing;

use crate::CryptoError;
use crate::alg::{Encr, Integ, Prf};
use crate::prf::{prf, prf_plus};

/// The transforms of an IKE SA that decide the lengths of its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IkeSuite {
    pub encr: Encr,
    /// `None` for AEAD ciphers, which carry no INTEG transform (RFC 5282 section 8).
    pub integ: Option<Integ>,
    pub prf: Prf,
}

/// The seven secrets of an IKE SA, in the order prf+ produces them (RFC 7296 2.14).
/// `sk_ei`/`sk_er` include the 4-octet salt for AES-GCM; `sk_ai`/`sk_ar` are empty
/// for AEAD ciphers.
pub struct IkeKeys {
    pub sk_d: Zeroizing<Vec<u8>>,
    pub sk_ai: Zeroizing<Vec<u8>>,
    pub sk_ar: Zeroizing<Vec<u8>>,
    pub sk_ei: Zeroizing<Vec<u8>>,
    pub sk_er: Zeroizing<Vec<u8>>,
    pub sk_pi: Zeroizing<Vec<u8>>,
    pub sk_pr: Zeroizing<Vec<u8>>,
}

/// Shows only key lengths, so that Debug output contains no key material.
impl fmt::Debug for IkeKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IkeKeys")
            .field("sk_d_len", &self.sk_d.len())
            .field("sk_a_len", &self.sk_ai.len())
            .field("sk_e_len", &self.sk_ei.len())
            .field("sk_p_len", &self.sk_pi.len())
            .finish_non_exhaustive()
    }
}

/// Keying material of one Child SA pair. `encr_i`/`integ_i` protect traffic from the
/// initiator to the responder, `encr_r`/`integ_r` the reverse direction
/// (RFC 7296 2.17). The integrity keys are empty for AEAD ciphers.
pub struct ChildKeys {
    pub encr_i: Zeroizing<Vec<u8>>,
    pub integ_i: Zeroizing<Vec<u8>>,
    pub encr_r: Zeroizing<Vec<u8>>,
    pub integ_r: Zeroizing<Vec<u8>>,
}

/// Shows only key lengths, so that Debug output contains no key material.
impl fmt::Debug for ChildKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildKeys")
            .field("encr_len", &self.encr_i.len())
            .field("integ_len", &self.integ_i.len())
            .finish_non_exhaustive()
    }
}

/// Computes `SKEYSEED = prf(Ni | Nr, g^ir)` for a new IKE SA (RFC 7296 2.14).
pub fn skeyseed(
    prf_alg: Prf,
    ni: &[u8],
    nr: &[u8],
    shared: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut nonces = Zeroizing::new(Vec::with_capacity(ni.len() + nr.len()));
    nonces.extend_from_slice(ni);
    nonces.extend_from_slice(nr);
    prf(prf_alg, &nonces, &[shared])
}

/// Computes `SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)` for an IKE SA rekey,
/// with the PRF of the old IKE SA (RFC 7296 2.18).
pub fn rekey_skeyseed(
    old_prf: Prf,
    old_sk_d: &[u8],
    shared: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    prf(old_prf, old_sk_d, &[shared, ni, nr])
}

/// Integrity key length, checking that AEAD ciphers come without INTEG and the others
/// with it.
fn integ_key_len(encr: Encr, integ: Option<Integ>) -> Result<usize, CryptoError> {
    match (encr.is_aead(), integ) {
        (true, None) => Ok(0),
        (false, Some(i)) => Ok(i.key_len()),
        (true, Some(i)) => Err(CryptoError::UnsupportedAlgorithm(format!(
            "{} is an AEAD cipher and takes no integrity algorithm, got {}",
            encr.name(),
            i.name()
        ))),
        (false, None) => Err(CryptoError::UnsupportedAlgorithm(format!(
            "{} needs an integrity algorithm",
            encr.name()
        ))),
    }
}

/// Splits `material` into consecutive pieces of the given lengths. The callers request
/// exactly the sum of `lens` from prf+, so every slice is in bounds.
fn split_keys<const N: usize>(material: &[u8], lens: [usize; N]) -> [Zeroizing<Vec<u8>>; N] {
    let mut offset = 0;
    lens.map(|len| {
        let key = Zeroizing::new(material[offset..offset + len].to_vec());
        offset += len;
        key
    })
}

/// Derives the IKE SA keys `{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} =
/// prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)` (RFC 7296 2.14). SK_d, SK_pi and SK_pr are
/// as long as the PRF output, SK_a as the integrity key, SK_e as the cipher's keying
/// material including the GCM salt.
pub fn derive_ike_keys(
    suite: IkeSuite,
    skeyseed: &[u8],
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> Result<IkeKeys, CryptoError> {
    let prf_len = suite.prf.output_len();
    let integ_len = integ_key_len(suite.encr, suite.integ)?;
    let encr_len = suite.encr.keymat_len();
    let lens = [
        prf_len, integ_len, integ_len, encr_len, encr_len, prf_len, prf_len,
    ];
    let total = lens.iter().sum();

    let spi_i = spi_i.to_be_bytes();
    let spi_r = spi_r.to_be_bytes();
    let material = prf_plus(suite.prf, skeyseed, &[ni, nr, &spi_i, &spi_r], total)?;

    let [sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr] = split_keys(&material, lens);
    Ok(IkeKeys {
        sk_d,
        sk_ai,
        sk_ar,
        sk_ei,
        sk_er,
        sk_pi,
        sk_pr,
    })
}

/// Derives Child SA keying material `KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr)`,
/// taken in the order encryption then integrity key for the initiator-to-responder
/// direction, then the same for the reverse direction (RFC 7296 2.17). `shared` is the
/// Diffie-Hellman secret of a CREATE_CHILD_SA exchange with a KE payload.
pub fn derive_child_keys(
    prf_alg: Prf,
    sk_d: &[u8],
    shared: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    encr: Encr,
    integ: Option<Integ>,
) -> Result<ChildKeys, CryptoError> {
    let integ_len = integ_key_len(encr, integ)?;
    let encr_len = encr.keymat_len();
    let lens = [encr_len, integ_len, encr_len, integ_len];
    let total = lens.iter().sum();

    let material = match shared {
        Some(g_ir) => prf_plus(prf_alg, sk_d, &[g_ir, ni, nr], total)?,
        None => prf_plus(prf_alg, sk_d, &[ni, nr], total)?,
    };

    let [encr_i, integ_i, encr_r, integ_r] = split_keys(&material, lens);
    Ok(ChildKeys {
        encr_i,
        integ_i,
        encr_r,
        integ_r,
    })
}

/// Known answers computed with CPython's hmac module by testdata/kat.py, which shares
/// the fixed inputs below.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::hex;

    const SPI_I: u64 = 0x0102_0304_0506_0708;
    const SPI_R: u64 = 0x1112_1314_1516_1718;

    fn ni() -> Vec<u8> {
        (0x10..0x30).collect()
    }

    fn nr() -> Vec<u8> {
        (0x40..0x60).collect()
    }

    fn shared() -> Vec<u8> {
        (0..128u32).map(|i| ((i * 7 + 3) & 0xff) as u8).collect()
    }

    fn ni2() -> Vec<u8> {
        (0x80..0xa0).collect()
    }

    fn nr2() -> Vec<u8> {
        (0xa0..0xc0).collect()
    }

    fn shared2() -> Vec<u8> {
        (0..128u32).map(|i| ((i * 13 + 1) & 0xff) as u8).collect()
    }

    const CBC_SUITE: IkeSuite = IkeSuite {
        encr: Encr::AesCbc { key_bits: 256 },
        integ: Some(Integ::HmacSha1_96),
        prf: Prf::HmacSha1,
    };

    const GCM_SUITE: IkeSuite = IkeSuite {
        encr: Encr::AesGcm16 { key_bits: 256 },
        integ: None,
        prf: Prf::HmacSha2_384,
    };

    fn cbc_keys() -> IkeKeys {
        let seed = skeyseed(CBC_SUITE.prf, &ni(), &nr(), &shared()).unwrap();
        derive_ike_keys(CBC_SUITE, &seed, &ni(), &nr(), SPI_I, SPI_R).unwrap()
    }

    #[test]
    fn skeyseed_sha1_known_answer() {
        let seed = skeyseed(Prf::HmacSha1, &ni(), &nr(), &shared()).unwrap();
        assert_eq!(*seed, hex("8dee37ce5f9465f7208b37523919b356f2953ac9"));
    }

    #[test]
    fn skeyseed_sha384_known_answer() {
        let seed = skeyseed(Prf::HmacSha2_384, &ni(), &nr(), &shared()).unwrap();
        let expected = hex(
            "32fac40463bfde92dfde30aa48404be7508aa1d8378255dabc89f5e3bc48bd02\
             fb51d7c62245541997c0426699164fa9",
        );
        assert_eq!(*seed, expected);
    }

    #[test]
    fn ike_keys_cbc_sha1_known_answer() {
        let keys = cbc_keys();
        assert_eq!(*keys.sk_d, hex("41a166ea67b9129a0777f070fb1d614317e70bf8"));
        assert_eq!(*keys.sk_ai, hex("ec57e77f69044a665acc521e3f1dd13922e8cc1b"));
        assert_eq!(*keys.sk_ar, hex("38b16d86ae81bbb9491651ab8061004640bbf558"));
        assert_eq!(
            *keys.sk_ei,
            hex("042ff6993e6bce4dcef097a9ed7ba63a072e8e1fc579c133a1c787664076d704")
        );
        assert_eq!(
            *keys.sk_er,
            hex("d7fedb8ed7c7e7d2f477b3ca887901df8e5f3ac8b3047109bb955b9f1f90eecc")
        );
        assert_eq!(*keys.sk_pi, hex("f59642619bcd3e73f9a9631ea14aa9a57a6e051a"));
        assert_eq!(*keys.sk_pr, hex("e918e948b904549dd26721fc396f2c702d649364"));
    }

    #[test]
    fn ike_keys_gcm_sha384_known_answer() {
        let seed = skeyseed(GCM_SUITE.prf, &ni(), &nr(), &shared()).unwrap();
        let keys = derive_ike_keys(GCM_SUITE, &seed, &ni(), &nr(), SPI_I, SPI_R).unwrap();
        assert_eq!(
            *keys.sk_d,
            hex(
                "927702d95dbe696daee6729b84fcd8533854e52c93a76acde9ee58180c28f0d2\
                 f5e017d83134b40a7fddbf4cd9cf3abd"
            )
        );
        assert!(keys.sk_ai.is_empty());
        assert!(keys.sk_ar.is_empty());
        assert_eq!(
            *keys.sk_ei,
            hex("4a6834d89e9ddc02630cffb2cdacff1a7b123fe8f933d862ed18d7346443a765a0dd8eef")
        );
        assert_eq!(
            *keys.sk_er,
            hex("a730c9c7523b5287e8520caf62ea9e2a26871eecf3f51441a660ac5db72fc8826707025b")
        );
        assert_eq!(
            *keys.sk_pi,
            hex(
                "69140402929b05ef28aa6b248014e4cc419dd17cd7fc624fb2d687a6c2b75059\
                 0ee31920ac892e781860e0962405fc3c"
            )
        );
        assert_eq!(
            *keys.sk_pr,
            hex(
                "7e98ecb9f5efa42949be450badbce5819665c1b524713a6be50b8f741ae27908\
                 9aebdefc0f5a5c01e1436d693e1488e2"
            )
        );
    }

    #[test]
    fn rekey_skeyseed_known_answer() {
        let keys = cbc_keys();
        let seed = rekey_skeyseed(Prf::HmacSha1, &keys.sk_d, &shared2(), &ni2(), &nr2()).unwrap();
        assert_eq!(*seed, hex("f6d7fd07c5a962e15c6b7d6240fe83065940e850"));
    }

    #[test]
    fn child_keys_gcm_without_pfs() {
        let keys = cbc_keys();
        let encr = Encr::AesGcm16 { key_bits: 256 };
        let child =
            derive_child_keys(Prf::HmacSha1, &keys.sk_d, None, &ni2(), &nr2(), encr, None).unwrap();
        assert_eq!(
            *child.encr_i,
            hex("ada276419e046e8e04c39a4f9472ec9bedb096495ddf30b47b6d80d7a1c129f28e3e8064")
        );
        assert_eq!(
            *child.encr_r,
            hex("908ea06bb3513218d2cdf8061545d40b53040e19779e3ebacee9c2cb9c59d5bcd5599c5f")
        );
        assert!(child.integ_i.is_empty());
        assert!(child.integ_r.is_empty());
    }

    #[test]
    fn child_keys_null_sha256_with_pfs() {
        let keys = cbc_keys();
        let shared = shared2();
        let child = derive_child_keys(
            Prf::HmacSha1,
            &keys.sk_d,
            Some(&shared),
            &ni2(),
            &nr2(),
            Encr::Null,
            Some(Integ::HmacSha2_256_128),
        )
        .unwrap();
        assert!(child.encr_i.is_empty());
        assert!(child.encr_r.is_empty());
        assert_eq!(
            *child.integ_i,
            hex("482011004362c974a8fce3cc34b99162536cd732cf18a41f25e02dce884c79a8")
        );
        assert_eq!(
            *child.integ_r,
            hex("20a0212f09f2eb8640442869762a04f9bc56403fa4bcd56ebde2ee64e6b85916")
        );
    }

    #[test]
    fn child_keys_cbc_lengths() {
        let child = derive_child_keys(
            Prf::HmacSha2_256,
            &[7; 32],
            None,
            &ni(),
            &nr(),
            Encr::AesCbc { key_bits: 192 },
            Some(Integ::HmacSha2_512_256),
        )
        .unwrap();
        assert_eq!(child.encr_i.len(), 24);
        assert_eq!(child.integ_i.len(), 64);
        assert_eq!(child.encr_r.len(), 24);
        assert_eq!(child.integ_r.len(), 64);
        assert_ne!(*child.encr_i, *child.encr_r);
    }

    #[test]
    fn ike_keys_reject_aead_with_integ() {
        let suite = IkeSuite {
            integ: Some(Integ::HmacSha1_96),
            ..GCM_SUITE
        };
        let result = derive_ike_keys(suite, &[1; 48], &ni(), &nr(), SPI_I, SPI_R);
        assert!(matches!(result, Err(CryptoError::UnsupportedAlgorithm(_))));
    }

    #[test]
    fn ike_keys_reject_cbc_without_integ() {
        let suite = IkeSuite {
            integ: None,
            ..CBC_SUITE
        };
        let result = derive_ike_keys(suite, &[1; 20], &ni(), &nr(), SPI_I, SPI_R);
        assert!(matches!(result, Err(CryptoError::UnsupportedAlgorithm(_))));
    }

    #[test]
    fn ike_keys_debug_hides_keys() {
        let text = format!("{:?}", cbc_keys());
        assert!(
            !text.contains("41"),
            "Debug output must not contain key octets: {text}"
        );
    }
}
