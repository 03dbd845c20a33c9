//! HMAC integrity check values for AES-CBC and NULL SAs (RFC 2403, RFC 2404,
//! RFC 4868).

use aws_lc_rs::hmac;
use aws_lc_sys as ffi;
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::alg::Integ;

/// Longest HMAC output among the supported integrity algorithms (SHA-512).
pub(super) const MAX_HMAC_LEN: usize = 64;

/// A keyed HMAC for one SA direction.
pub(super) enum IcvKey {
    /// SHA-1 and SHA-2 through aws-lc-rs. Boxed because aws-lc-rs keeps the whole
    /// HMAC_CTX (about 1.2 KiB) inline.
    Hmac(Box<hmac::Key>),
    /// HMAC-MD5 through AWS-LC's one-shot `HMAC()`, because aws-lc-rs offers no MD5.
    /// Used only when an ASA configuration names `md5` explicitly.
    HmacMd5(Zeroizing<Vec<u8>>),
}

impl IcvKey {
    /// Keys the HMAC of `integ`. The caller has checked the key length.
    pub(super) fn new(integ: Integ, key: &[u8]) -> IcvKey {
        let algorithm = match integ {
            Integ::HmacMd5_96 => return IcvKey::HmacMd5(Zeroizing::new(key.to_vec())),
            Integ::HmacSha1_96 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Integ::HmacSha2_256_128 => hmac::HMAC_SHA256,
            Integ::HmacSha2_384_192 => hmac::HMAC_SHA384,
            Integ::HmacSha2_512_256 => hmac::HMAC_SHA512,
        };
        IcvKey::Hmac(Box::new(hmac::Key::new(algorithm, key)))
    }

    /// Computes the untruncated HMAC of `data` into `out` and returns its length.
    pub(super) fn compute(
        &self,
        data: &[u8],
        out: &mut [u8; MAX_HMAC_LEN],
    ) -> Result<usize, CryptoError> {
        match self {
            IcvKey::Hmac(key) => hmac::sign_to_buffer(key, data, out)
                .map(|tag| tag.len())
                .map_err(|_| CryptoError::Backend("aws-lc-rs HMAC computation failed".into())),
            IcvKey::HmacMd5(key) => {
                let mut out_len: std::os::raw::c_uint = 0;
                // SAFETY: key and data are valid slices for their lengths, and `out` has
                // room for the 16-octet MD5 output. EVP_md5 returns a static descriptor.
                let result = unsafe {
                    ffi::HMAC(
                        ffi::EVP_md5(),
                        key.as_ptr().cast(),
                        key.len(),
                        data.as_ptr(),
                        data.len(),
                        out.as_mut_ptr(),
                        &mut out_len,
                    )
                };
                if result.is_null() {
                    return Err(CryptoError::Backend(
                        "AWS-LC HMAC-MD5 computation failed".into(),
                    ));
                }
                Ok(out_len as usize)
            }
        }
    }
}
