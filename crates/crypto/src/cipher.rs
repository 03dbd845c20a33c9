//! Protection of IKE SK payloads and ESP packets with one transform (RFC 4303,
//! RFC 4106, RFC 5282, RFC 3602, RFC 7296 section 3.14).
//!
//! A [`SaCipher`] works in place on a caller buffer laid out as
//! `[ aad | iv | plaintext including padding | icv ]`. For ESP the AAD is SPI and
//! sequence number; for IKE it is the IKE header and the SK payload header. No call
//! allocates: keys are expanded once in [`SaCipher::new`].

use core::ops::Range;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use zeroize::Zeroizing;

use crate::alg::{Encr, Integ};
use crate::{CryptoError, constant_time_eq};

/// Octets of salt at the end of AES-GCM keying material (RFC 4106 section 8.1).
const GCM_SALT_LEN: usize = 4;
/// AES block and CBC IV length.
const AES_BLOCK_LEN: usize = 16;
/// Longest HMAC output among the supported integrity algorithms (SHA-512).
const MAX_HMAC_LEN: usize = 64;

/// The expanded encryption key.
enum Encryption {
    Gcm {
        key: LessSafeKey,
        salt: Zeroizing<[u8; GCM_SALT_LEN]>,
    },
    Cbc {
        encrypt: EncryptingKey,
        decrypt: DecryptingKey,
    },
    Null,
}

/// The encryption and integrity state of one direction of an SA.
/// aws-lc-rs wipes the expanded AES and HMAC keys when they are dropped, and the GCM
/// salt is held in a `Zeroizing` buffer.
pub struct SaCipher {
    encr: Encr,
    integ: Option<Integ>,
    encryption: Encryption,
    hmac_key: Option<hmac::Key>,
}

impl core::fmt::Debug for SaCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SaCipher")
            .field("encr", &self.encr)
            .field("integ", &self.integ)
            .finish_non_exhaustive()
    }
}

fn check_key_len(algorithm: &'static str, expected: usize, key: &[u8]) -> Result<(), CryptoError> {
    if key.len() == expected {
        Ok(())
    } else {
        Err(CryptoError::InvalidKeyLength {
            algorithm,
            expected,
            actual: key.len(),
        })
    }
}

fn gcm_algorithm(key_bits: u16) -> Result<&'static aead::Algorithm, CryptoError> {
    match key_bits {
        128 => Ok(&aead::AES_128_GCM),
        192 => Ok(&aead::AES_192_GCM),
        256 => Ok(&aead::AES_256_GCM),
        _ => Err(CryptoError::UnsupportedAlgorithm(format!(
            "AES-GCM with {key_bits}-bit key"
        ))),
    }
}

fn aes_algorithm(key_bits: u16) -> Result<&'static aws_lc_rs::cipher::Algorithm, CryptoError> {
    match key_bits {
        128 => Ok(&aws_lc_rs::cipher::AES_128),
        192 => Ok(&aws_lc_rs::cipher::AES_192),
        256 => Ok(&aws_lc_rs::cipher::AES_256),
        _ => Err(CryptoError::UnsupportedAlgorithm(format!(
            "AES-CBC with {key_bits}-bit key"
        ))),
    }
}

fn hmac_algorithm(integ: Integ) -> Result<hmac::Algorithm, CryptoError> {
    match integ {
        Integ::HmacSha1_96 => Ok(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
        Integ::HmacSha2_256_128 => Ok(hmac::HMAC_SHA256),
        Integ::HmacSha2_384_192 => Ok(hmac::HMAC_SHA384),
        Integ::HmacSha2_512_256 => Ok(hmac::HMAC_SHA512),
        Integ::HmacMd5_96 => Err(CryptoError::UnsupportedAlgorithm(
            "HMAC_MD5_96 is not provided by aws-lc-rs; configure SHA-1 or SHA-2 integrity".into(),
        )),
    }
}

fn backend(what: &str) -> CryptoError {
    CryptoError::Backend(format!("aws-lc-rs rejected {what}"))
}

impl SaCipher {
    /// Expands the keys of one SA direction.
    ///
    /// For AES-GCM `encr_key` is the keying material including the 4-octet salt at its
    /// end, `integ` must be `None` and `integ_key` empty. AES-CBC and NULL need an
    /// integrity algorithm with a key of its full length.
    pub fn new(
        encr: Encr,
        integ: Option<Integ>,
        encr_key: &[u8],
        integ_key: &[u8],
    ) -> Result<SaCipher, CryptoError> {
        check_key_len(encr.name(), encr.keymat_len(), encr_key)?;
        let encryption = match encr {
            Encr::AesGcm16 { key_bits } => {
                let (key_bytes, salt_bytes) = encr_key.split_at(encr_key.len() - GCM_SALT_LEN);
                let unbound = UnboundKey::new(gcm_algorithm(key_bits)?, key_bytes)
                    .map_err(|_| backend("the AES-GCM key"))?;
                let mut salt = Zeroizing::new([0u8; GCM_SALT_LEN]);
                salt.copy_from_slice(salt_bytes);
                Encryption::Gcm {
                    key: LessSafeKey::new(unbound),
                    salt,
                }
            }
            Encr::AesCbc { key_bits } => {
                let alg = aes_algorithm(key_bits)?;
                let encrypt_key = UnboundCipherKey::new(alg, encr_key)
                    .and_then(EncryptingKey::cbc)
                    .map_err(|_| backend("the AES-CBC key"))?;
                let decrypt_key = UnboundCipherKey::new(alg, encr_key)
                    .and_then(DecryptingKey::cbc)
                    .map_err(|_| backend("the AES-CBC key"))?;
                Encryption::Cbc {
                    encrypt: encrypt_key,
                    decrypt: decrypt_key,
                }
            }
            Encr::Null => Encryption::Null,
        };

        let hmac_key = match (encr.is_aead(), integ) {
            (true, None) => {
                check_key_len("AEAD integrity", 0, integ_key)?;
                None
            }
            (false, Some(i)) => {
                check_key_len(i.name(), i.key_len(), integ_key)?;
                Some(hmac::Key::new(hmac_algorithm(i)?, integ_key))
            }
            (true, Some(i)) => {
                return Err(CryptoError::UnsupportedAlgorithm(format!(
                    "{} is an AEAD cipher and takes no integrity algorithm, got {}",
                    encr.name(),
                    i.name()
                )));
            }
            (false, None) => {
                return Err(CryptoError::UnsupportedAlgorithm(format!(
                    "{} needs an integrity algorithm",
                    encr.name()
                )));
            }
        };

        Ok(SaCipher {
            encr,
            integ,
            encryption,
            hmac_key,
        })
    }

    pub fn encr(&self) -> Encr {
        self.encr
    }

    pub fn integ(&self) -> Option<Integ> {
        self.integ
    }

    /// Explicit IV length: 8 for AES-GCM, 16 for AES-CBC, 0 for NULL.
    pub fn iv_len(&self) -> usize {
        self.encr.iv_len()
    }

    /// ICV length: 16 for AES-GCM, the truncated HMAC length otherwise.
    pub fn icv_len(&self) -> usize {
        match self.integ {
            Some(i) => i.icv_len(),
            None => self.encr.aead_icv_len(),
        }
    }

    /// Alignment of the padded plaintext: 16 for AES-CBC, 4 otherwise (RFC 4303 2.4).
    pub fn block_len(&self) -> usize {
        self.encr.block_len()
    }

    /// Splits `buf` into the AAD end, IV end and ICV start, checking that every part
    /// fits and that CBC ciphertext is whole blocks.
    fn layout(&self, buf_len: usize, aad_len: usize) -> Result<(usize, usize), CryptoError> {
        let min_len = aad_len
            .saturating_add(self.iv_len())
            .saturating_add(self.icv_len());
        if buf_len < min_len {
            return Err(CryptoError::InvalidLength(format!(
                "buffer of {buf_len} octets is shorter than AAD ({aad_len}), IV ({}) and \
                 ICV ({}) together",
                self.iv_len(),
                self.icv_len()
            )));
        }
        let iv_end = aad_len + self.iv_len();
        let icv_start = buf_len - self.icv_len();
        let text_len = icv_start - iv_end;
        if matches!(self.encryption, Encryption::Cbc { .. }) && text_len % AES_BLOCK_LEN != 0 {
            return Err(CryptoError::InvalidLength(format!(
                "AES-CBC ciphertext of {text_len} octets is not a multiple of {AES_BLOCK_LEN}"
            )));
        }
        Ok((iv_end, icv_start))
    }

    /// Builds the RFC 4106 section 4 nonce: salt followed by the explicit IV.
    fn gcm_nonce(salt: &[u8; GCM_SALT_LEN], iv: &[u8]) -> Nonce {
        let mut nonce = [0u8; aead::NONCE_LEN];
        nonce[..GCM_SALT_LEN].copy_from_slice(salt);
        nonce[GCM_SALT_LEN..].copy_from_slice(iv);
        Nonce::assume_unique_for_key(nonce)
    }

    /// Computes the full HMAC of `data` into `out` and returns its length.
    fn hmac_into(
        key: &hmac::Key,
        data: &[u8],
        out: &mut [u8; MAX_HMAC_LEN],
    ) -> Result<usize, CryptoError> {
        hmac::sign_to_buffer(key, data, out)
            .map(|tag| tag.len())
            .map_err(|_| backend("the HMAC computation"))
    }

    /// Encrypts `buf[aad_len + iv_len .. len - icv_len]` in place and writes the ICV
    /// into the last `icv_len` octets. The caller has written the IV.
    ///
    /// AES-GCM uses `salt | iv` as nonce and `buf[..aad_len]` as AAD (RFC 4106
    /// section 5, RFC 5282 section 5). AES-CBC and NULL append
    /// `HMAC(aad | iv | ciphertext)` truncated to the ICV length (RFC 4303 3.3.2).
    pub fn seal(&self, buf: &mut [u8], aad_len: usize) -> Result<(), CryptoError> {
        let (iv_end, icv_start) = self.layout(buf.len(), aad_len)?;
        match &self.encryption {
            Encryption::Gcm { key, salt } => {
                let (head, rest) = buf.split_at_mut(iv_end);
                let (text, icv) = rest.split_at_mut(icv_start - iv_end);
                let nonce = Self::gcm_nonce(salt, &head[aad_len..]);
                let tag = key
                    .seal_in_place_separate_tag(nonce, Aad::from(&head[..aad_len]), text)
                    .map_err(|_| backend("AES-GCM sealing"))?;
                icv.copy_from_slice(tag.as_ref());
                return Ok(());
            }
            Encryption::Cbc { encrypt, .. } => {
                let (head, rest) = buf.split_at_mut(iv_end);
                let mut iv = [0u8; AES_BLOCK_LEN];
                iv.copy_from_slice(&head[aad_len..]);
                let context = EncryptionContext::Iv128(FixedLength::from(iv));
                encrypt
                    .less_safe_encrypt(&mut rest[..icv_start - iv_end], context)
                    .map_err(|_| backend("AES-CBC encryption"))?;
            }
            Encryption::Null => {}
        }

        let key = self
            .hmac_key
            .as_ref()
            .ok_or_else(|| backend("a missing HMAC key"))?;
        let mut mac = [0u8; MAX_HMAC_LEN];
        Self::hmac_into(key, &buf[..icv_start], &mut mac)?;
        let icv_len = self.icv_len();
        buf[icv_start..].copy_from_slice(&mac[..icv_len]);
        Ok(())
    }

    /// Verifies the ICV in constant time, then decrypts in place and returns the range
    /// of the plaintext in `buf` (padding and trailer still included).
    ///
    /// Fails with `AuthenticationFailed` when the ICV does not verify. Nothing is
    /// decrypted in that case; for AES-GCM the text range is zeroed because the
    /// backend may have written unauthenticated plaintext into it.
    pub fn open(&self, buf: &mut [u8], aad_len: usize) -> Result<Range<usize>, CryptoError> {
        let (iv_end, icv_start) = self.layout(buf.len(), aad_len)?;
        let text = iv_end..icv_start;

        if let Encryption::Gcm { key, salt } = &self.encryption {
            let (head, rest) = buf.split_at_mut(iv_end);
            let (ciphertext, icv) = rest.split_at_mut(icv_start - iv_end);
            let nonce = Self::gcm_nonce(salt, &head[aad_len..]);
            let opened =
                key.open_in_place_separate_tag(nonce, Aad::from(&head[..aad_len]), icv, ciphertext);
            if opened.is_err() {
                ciphertext.fill(0);
                return Err(CryptoError::AuthenticationFailed);
            }
            return Ok(text);
        }

        let key = self
            .hmac_key
            .as_ref()
            .ok_or_else(|| backend("a missing HMAC key"))?;
        let mut mac = [0u8; MAX_HMAC_LEN];
        Self::hmac_into(key, &buf[..icv_start], &mut mac)?;
        if !constant_time_eq(&mac[..self.icv_len()], &buf[icv_start..]) {
            return Err(CryptoError::AuthenticationFailed);
        }

        if let Encryption::Cbc { decrypt, .. } = &self.encryption {
            let (head, rest) = buf.split_at_mut(iv_end);
            let mut iv = [0u8; AES_BLOCK_LEN];
            iv.copy_from_slice(&head[aad_len..]);
            let context = DecryptionContext::Iv128(FixedLength::from(iv));
            decrypt
                .decrypt(&mut rest[..icv_start - iv_end], context)
                .map_err(|_| backend("AES-CBC decryption"))?;
        }
        Ok(text)
    }
}
