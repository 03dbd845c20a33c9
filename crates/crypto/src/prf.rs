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
