//! The IKEv2 pseudorandom function and prf+ (RFC 7296 section 2.13).

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::alg::Prf;

/// prf+ stops after 255 iterations because its counter is one octet (RFC 7296 2.13).
const PRF_PLUS_MAX_ITERATIONS: usize = 255;

/// Maps a PRF transform to its aws-lc-rs HMAC algorithm.
pub(crate) fn hmac_algorithm(alg: Prf) -> Result<hmac::Algorithm, CryptoError> {
    match alg {
        Prf::HmacSha1 => Ok(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
        Prf::HmacSha2_256 => Ok(hmac::HMAC_SHA256),
        Prf::HmacSha2_384 => Ok(hmac::HMAC_SHA384),
        Prf::HmacSha2_512 => Ok(hmac::HMAC_SHA512),
        Prf::HmacMd5 => Err(CryptoError::UnsupportedAlgorithm(
            "PRF_HMAC_MD5 is not provided by aws-lc-rs; configure PRF SHA-1 or SHA-2".into(),
        )),
    }
}

/// Computes `prf(key, data[0] | data[1] | ...)`.
///
/// HMAC accepts keys of any length, so variable-length keys such as the nonces of
/// SKEYSEED need no padding (RFC 7296 2.14).
pub fn prf(alg: Prf, key: &[u8], data: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let key = hmac::Key::new(hmac_algorithm(alg)?, key);
    let mut ctx = hmac::Context::with_key(&key);
    for part in data {
        ctx.update(part);
    }
    let tag = ctx.sign();
    Ok(Zeroizing::new(tag.as_ref().to_vec()))
}

/// Computes the first `len` octets of `prf+(key, S)` where `S` is the concatenation
/// of `seed` (RFC 7296 section 2.13):
/// `T1 = prf(K, S | 0x01)`, `Tn = prf(K, Tn-1 | S | n)`.
///
/// Fails with `InvalidLength` when `len` exceeds 255 PRF outputs.
pub fn prf_plus(
    alg: Prf,
    key: &[u8],
    seed: &[&[u8]],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let hmac_alg = hmac_algorithm(alg)?;
    let max_len = PRF_PLUS_MAX_ITERATIONS * alg.output_len();
    if len > max_len {
        return Err(CryptoError::InvalidLength(format!(
            "prf+ output of {len} octets requested, {} allows at most {max_len}",
            alg.name()
        )));
    }

    let key = hmac::Key::new(hmac_alg, key);
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    let mut previous: Option<hmac::Tag> = None;
    let mut counter: u8 = 1;
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        if let Some(t) = &previous {
            ctx.update(t.as_ref());
        }
        for part in seed {
            ctx.update(part);
        }
        ctx.update(&[counter]);
        let t = ctx.sign();
        let take = (len - out.len()).min(t.as_ref().len());
        out.extend_from_slice(&t.as_ref()[..take]);
        previous = Some(t);
        // The length check above bounds the loop to 255 iterations, so the counter
        // never wraps while output is still needed.
        counter = counter.wrapping_add(1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::hex;
    use aws_lc_rs::hkdf;

    const JEFE_DATA: &[u8] = b"what do ya want for nothing?";

    /// HMAC test case 2 of RFC 2202 (SHA-1) and RFC 4231 (SHA-2): key "Jefe".
    #[test]
    fn prf_hmac_reference_vectors() {
        let cases = [
            (Prf::HmacSha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            (
                Prf::HmacSha2_256,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                Prf::HmacSha2_384,
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                 8e2240ca5e69e2c78b3239ecfab21649",
            ),
            (
                Prf::HmacSha2_512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (alg, expected) in cases {
            let out = prf(alg, b"Jefe", &[JEFE_DATA]).unwrap();
            assert_eq!(*out, hex(expected), "{}", alg.name());
        }
    }

    #[test]
    fn prf_concatenates_data_parts() {
        let split = prf(Prf::HmacSha2_256, b"key", &[b"what do ya ", b"want", b""]).unwrap();
        let whole = prf(Prf::HmacSha2_256, b"key", &[b"what do ya want"]).unwrap();
        assert_eq!(*split, *whole);
    }

    #[test]
    fn prf_output_lengths() {
        for alg in [
            Prf::HmacSha1,
            Prf::HmacSha2_256,
            Prf::HmacSha2_384,
            Prf::HmacSha2_512,
        ] {
            assert_eq!(
                prf(alg, b"k", &[b"d"]).unwrap().len(),
                alg.output_len(),
                "{}",
                alg.name()
            );
        }
    }

    #[test]
    fn prf_md5_unsupported() {
        let result = prf(Prf::HmacMd5, b"k", &[b"d"]);
        assert!(matches!(result, Err(CryptoError::UnsupportedAlgorithm(_))));
    }

    /// With an HMAC PRF, prf+ is HKDF-Expand (RFC 5869 section 2.3) with S as info.
    #[test]
    fn prf_plus_matches_hkdf_expand() {
        struct Len(usize);
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        let cases = [
            (Prf::HmacSha1, hkdf::HKDF_SHA1_FOR_LEGACY_USE_ONLY),
            (Prf::HmacSha2_256, hkdf::HKDF_SHA256),
            (Prf::HmacSha2_384, hkdf::HKDF_SHA384),
            (Prf::HmacSha2_512, hkdf::HKDF_SHA512),
        ];
        let key = [0x5au8; 48];
        let seed: [&[u8]; 3] = [b"nonce-i", b"nonce-r", &[1, 2, 3, 4, 5, 6, 7, 8]];
        let info = seed.concat();
        for (alg, hkdf_alg) in cases {
            for len in [1, 20, 64, 168, 500] {
                let ours = prf_plus(alg, &key, &seed, len).unwrap();
                let mut theirs = vec![0u8; len];
                hkdf::Prk::new_less_safe(hkdf_alg, &key)
                    .expand(&[&info], Len(len))
                    .unwrap()
                    .fill(&mut theirs)
                    .unwrap();
                assert_eq!(*ours, theirs, "{} len {len}", alg.name());
            }
        }
    }

    /// Value from testdata/kat.py (CPython hmac).
    #[test]
    fn prf_plus_known_answer() {
        let out = prf_plus(Prf::HmacSha2_256, &[0x0b; 32], &[b"rampart prf+"], 100).unwrap();
        let expected = hex(
            "6236261ad6b644682557af16e18b812399ad157d65f2fb1762bbf7ae87cd96f3\
             acf05a3b81cf59b31d4373d0ef0b075347c4507aedb707a1306b00533069fdb3\
             1bb825133bb4065dea449da44bc573843d9969ddf3b7f29cbb9a8d1a03518c79\
             494fcaa1",
        );
        assert_eq!(*out, expected);
    }

    #[test]
    fn prf_plus_maximum_length() {
        let max = 255 * Prf::HmacSha1.output_len();
        assert_eq!(
            prf_plus(Prf::HmacSha1, b"k", &[b"s"], max).unwrap().len(),
            max
        );
    }

    #[test]
    fn prf_plus_rejects_overlong_output() {
        let too_long = 255 * Prf::HmacSha1.output_len() + 1;
        let result = prf_plus(Prf::HmacSha1, b"k", &[b"s"], too_long);
        assert!(matches!(result, Err(CryptoError::InvalidLength(_))));
    }

    #[test]
    fn prf_plus_zero_length() {
        assert!(
            prf_plus(Prf::HmacSha2_256, b"k", &[b"s"], 0)
                .unwrap()
                .is_empty()
        );
    }
}
