//! Protection of IKE SK payloads and ESP packets with one transform (RFC 4303,
//! RFC 4106, RFC 5282, RFC 3602, RFC 7296 section 3.14).
//!
//! A [`SaCipher`] works in place on a caller buffer laid out as
//! `[ aad | iv | plaintext including padding | icv ]`. For ESP the AAD is SPI and
//! sequence number; for IKE it is the IKE header and the SK payload header. No call
//! allocates: keys are expanded once in [`SaCipher::new`].

mod icv;

use core::ops::Range;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use zeroize::Zeroizing;

use crate::alg::{Encr, Integ};
use crate::{CryptoError, constant_time_eq};
use icv::{IcvKey, MAX_HMAC_LEN};

/// Octets of salt at the end of AES-GCM keying material (RFC 4106 section 8.1).
const GCM_SALT_LEN: usize = 4;
/// AES block and CBC IV length.
const AES_BLOCK_LEN: usize = 16;

/// The expanded encryption key. The CBC key schedules (about 1 KiB) are boxed so that
/// an AES-GCM SA, whose aws-lc-rs key already lives on the heap, stays small.
enum Encryption {
    Gcm {
        key: LessSafeKey,
        salt: Zeroizing<[u8; GCM_SALT_LEN]>,
    },
    Cbc(Box<CbcKeys>),
    Null,
}

struct CbcKeys {
    encrypt: EncryptingKey,
    decrypt: DecryptingKey,
}

/// The encryption and integrity state of one direction of an SA.
/// aws-lc-rs wipes the expanded AES and HMAC keys when they are dropped, and the GCM
/// salt is held in a `Zeroizing` buffer.
pub struct SaCipher {
    encr: Encr,
    integ: Option<Integ>,
    encryption: Encryption,
    icv_key: Option<IcvKey>,
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
                Encryption::Cbc(Box::new(CbcKeys {
                    encrypt: encrypt_key,
                    decrypt: decrypt_key,
                }))
            }
            Encr::Null => Encryption::Null,
        };

        let icv_key = match (encr.is_aead(), integ) {
            (true, None) => {
                check_key_len("AEAD integrity", 0, integ_key)?;
                None
            }
            (false, Some(i)) => {
                check_key_len(i.name(), i.key_len(), integ_key)?;
                Some(IcvKey::new(i, integ_key))
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
            icv_key,
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
        if matches!(self.encryption, Encryption::Cbc(_)) && !text_len.is_multiple_of(AES_BLOCK_LEN)
        {
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
            Encryption::Cbc(keys) => {
                let (head, rest) = buf.split_at_mut(iv_end);
                let mut iv = [0u8; AES_BLOCK_LEN];
                iv.copy_from_slice(&head[aad_len..]);
                let context = EncryptionContext::Iv128(FixedLength::from(iv));
                keys.encrypt
                    .less_safe_encrypt(&mut rest[..icv_start - iv_end], context)
                    .map_err(|_| backend("AES-CBC encryption"))?;
            }
            Encryption::Null => {}
        }

        let key = self
            .icv_key
            .as_ref()
            .ok_or_else(|| backend("a missing HMAC key"))?;
        let mut mac = [0u8; MAX_HMAC_LEN];
        key.compute(&buf[..icv_start], &mut mac)?;
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
            .icv_key
            .as_ref()
            .ok_or_else(|| backend("a missing HMAC key"))?;
        let mut mac = [0u8; MAX_HMAC_LEN];
        key.compute(&buf[..icv_start], &mut mac)?;
        if !constant_time_eq(&mac[..self.icv_len()], &buf[icv_start..]) {
            return Err(CryptoError::AuthenticationFailed);
        }

        if let Encryption::Cbc(keys) = &self.encryption {
            let (head, rest) = buf.split_at_mut(iv_end);
            let mut iv = [0u8; AES_BLOCK_LEN];
            iv.copy_from_slice(&head[aad_len..]);
            let context = DecryptionContext::Iv128(FixedLength::from(iv));
            keys.decrypt
                .decrypt(&mut rest[..icv_start - iv_end], context)
                .map_err(|_| backend("AES-CBC decryption"))?;
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::{Random, TestRandom};
    use crate::test_util::hex;

    /// Builds `aad | iv | text | icv` with a junk-filled ICV field.
    fn packet(aad: &[u8], iv: &[u8], text: &[u8], icv_len: usize) -> Vec<u8> {
        [aad, iv, text, &vec![0xa5; icv_len]].concat()
    }

    // AES-GCM test cases 4, 10 and 16 of McGrew and Viega, "The Galois/Counter Mode
    // of Operation (GCM)": 60-octet plaintext, 20-octet AAD, 96-bit IV. The first four
    // IV octets are the RFC 4106 salt, the last eight the explicit IV.
    const GCM_KEY_128: &str = "feffe9928665731c6d6a8f9467308308";
    const GCM_SALT: &str = "cafebabe";
    const GCM_IV: &str = "facedbaddecaf888";
    const GCM_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    const GCM_PLAINTEXT: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                                 1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";

    fn gcm_case(key_bits: u16, key: &str, ciphertext: &str, tag: &str) {
        let encr = Encr::AesGcm16 { key_bits };
        let cipher = SaCipher::new(encr, None, &hex(&format!("{key}{GCM_SALT}")), &[]).unwrap();
        let aad = hex(GCM_AAD);
        let mut buf = packet(&aad, &hex(GCM_IV), &hex(GCM_PLAINTEXT), 16);
        cipher.seal(&mut buf, aad.len()).unwrap();

        let text = aad.len() + 8..buf.len() - 16;
        assert_eq!(
            buf[text.clone()],
            hex(ciphertext)[..],
            "AES-{key_bits}-GCM ciphertext"
        );
        assert_eq!(
            buf[buf.len() - 16..],
            hex(tag)[..],
            "AES-{key_bits}-GCM tag"
        );

        let range = cipher.open(&mut buf, aad.len()).unwrap();
        assert_eq!(range, text);
        assert_eq!(
            buf[range],
            hex(GCM_PLAINTEXT)[..],
            "AES-{key_bits}-GCM plaintext"
        );
    }

    #[test]
    fn gcm_128_known_answer() {
        gcm_case(
            128,
            GCM_KEY_128,
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
            "5bc94fbc3221a5db94fae95ae7121a47",
        );
    }

    #[test]
    fn gcm_192_known_answer() {
        gcm_case(
            192,
            "feffe9928665731c6d6a8f9467308308feffe9928665731c",
            "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c\
             7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710",
            "2519498e80f1478f37ba55bd6d27618c",
        );
    }

    #[test]
    fn gcm_256_known_answer() {
        gcm_case(
            256,
            "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b",
        );
    }

    // AES-CBC: RFC 3602 section 4 case 2 (AES-128) and NIST SP 800-38A F.2.3 and F.2.5
    // (AES-192 and AES-256, four blocks).
    const SP800_38A_IV: &str = "000102030405060708090a0b0c0d0e0f";
    const SP800_38A_PLAINTEXT: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                                       30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
    const ESP_HEAD: &str = "0000100100000001";

    fn cbc_case(key_bits: u16, key: &str, iv: &str, plaintext: &str, ciphertext: &str) {
        let encr = Encr::AesCbc { key_bits };
        let integ = Integ::HmacSha2_256_128;
        let cipher = SaCipher::new(encr, Some(integ), &hex(key), &[0x33; 32]).unwrap();
        let head = hex(ESP_HEAD);
        let mut buf = packet(&head, &hex(iv), &hex(plaintext), 16);
        cipher.seal(&mut buf, head.len()).unwrap();

        let text = head.len() + 16..buf.len() - 16;
        assert_eq!(
            buf[text.clone()],
            hex(ciphertext)[..],
            "AES-{key_bits}-CBC ciphertext"
        );

        let range = cipher.open(&mut buf, head.len()).unwrap();
        assert_eq!(range, text);
        assert_eq!(
            buf[range],
            hex(plaintext)[..],
            "AES-{key_bits}-CBC plaintext"
        );
    }

    #[test]
    fn cbc_128_known_answer() {
        cbc_case(
            128,
            "c286696d887c9aa0611bbb3e2025a45a",
            "562e17996d093d28ddb3ba695a2e6f58",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
        );
    }

    #[test]
    fn cbc_192_known_answer() {
        cbc_case(
            192,
            "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
            SP800_38A_IV,
            SP800_38A_PLAINTEXT,
            "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a\
             571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd",
        );
    }

    #[test]
    fn cbc_256_known_answer() {
        cbc_case(
            256,
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            SP800_38A_IV,
            SP800_38A_PLAINTEXT,
            "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d\
             39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
        );
    }

    /// ICV from testdata/kat.py: HMAC-SHA1 over SPI | seq | IV | RFC 3602 ciphertext.
    #[test]
    fn cbc_sha1_icv_known_answer() {
        let key_bytes: Vec<u8> = (0x60..0x74).collect();
        let cipher = SaCipher::new(
            Encr::AesCbc { key_bits: 128 },
            Some(Integ::HmacSha1_96),
            &hex("c286696d887c9aa0611bbb3e2025a45a"),
            &key_bytes,
        )
        .unwrap();
        let head = hex(ESP_HEAD);
        let plaintext = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        let mut buf = packet(
            &head,
            &hex("562e17996d093d28ddb3ba695a2e6f58"),
            &plaintext,
            12,
        );
        cipher.seal(&mut buf, head.len()).unwrap();
        assert_eq!(buf[buf.len() - 12..], hex("155d1698097e8b97aa8d5e72")[..]);
    }

    /// ICV from testdata/kat.py: HMAC-SHA256 over SPI | seq | payload, truncated to 16.
    #[test]
    fn null_sha256_known_answer() {
        let key_bytes: Vec<u8> = (0x20..0x40).collect();
        let cipher =
            SaCipher::new(Encr::Null, Some(Integ::HmacSha2_256_128), &[], &key_bytes).unwrap();
        let head = hex(ESP_HEAD);
        let payload = [&b"rampart null esp payload"[..], &[1, 2, 2, 4]].concat();
        let mut buf = packet(&head, &[], &payload, 16);
        cipher.seal(&mut buf, head.len()).unwrap();

        assert_eq!(
            buf[8..8 + payload.len()],
            payload[..],
            "NULL leaves the payload as is"
        );
        assert_eq!(
            buf[buf.len() - 16..],
            hex("d547b5341e977921c82691f9f7a27f8c")[..]
        );
        assert_eq!(
            cipher.open(&mut buf, head.len()).unwrap(),
            8..8 + payload.len()
        );
    }

    fn all_ciphers() -> Vec<SaCipher> {
        let mut ciphers = Vec::new();
        for key_bits in [128u16, 192, 256] {
            let gcm = Encr::AesGcm16 { key_bits };
            ciphers.push(SaCipher::new(gcm, None, &vec![0x11; gcm.keymat_len()], &[]).unwrap());
        }
        let integs = [
            Integ::HmacMd5_96,
            Integ::HmacSha1_96,
            Integ::HmacSha2_256_128,
            Integ::HmacSha2_384_192,
            Integ::HmacSha2_512_256,
        ];
        for integ in integs {
            let integ_key = vec![0x22; integ.key_len()];
            for key_bits in [128u16, 192, 256] {
                let cbc = Encr::AesCbc { key_bits };
                let encr_key = vec![0x33; cbc.keymat_len()];
                ciphers.push(SaCipher::new(cbc, Some(integ), &encr_key, &integ_key).unwrap());
            }
            ciphers.push(SaCipher::new(Encr::Null, Some(integ), &[], &integ_key).unwrap());
        }
        ciphers
    }

    /// Seals a 64-octet payload behind a 28-octet AAD (an IKE header and SK header).
    fn sealed(cipher: &SaCipher) -> (Vec<u8>, Vec<u8>) {
        let aad = vec![0x44; 28];
        let iv = vec![0x55; cipher.iv_len()];
        let plaintext: Vec<u8> = (0..64).collect();
        let mut buf = packet(&aad, &iv, &plaintext, cipher.icv_len());
        cipher.seal(&mut buf, aad.len()).unwrap();
        (buf, plaintext)
    }

    #[test]
    fn sa_cipher_round_trip_all() {
        for cipher in all_ciphers() {
            let (mut buf, plaintext) = sealed(&cipher);
            let range = cipher.open(&mut buf, 28).unwrap();
            assert_eq!(buf[range], plaintext[..], "{cipher:?}");
        }
    }

    /// Every aligned payload length from 0 to 256 octets behind AADs of 0 to 40 octets.
    #[test]
    fn sa_cipher_round_trip_lengths() {
        let mut rng = TestRandom::new(21);
        for cipher in all_ciphers() {
            for aad_len in [0, 8, 28, 40] {
                for text_len in (0..=256).step_by(cipher.block_len()) {
                    let mut plaintext = vec![0u8; text_len];
                    rng.fill(&mut plaintext);
                    let mut iv = vec![0u8; cipher.iv_len()];
                    rng.fill(&mut iv);
                    let mut buf = packet(&vec![0x77; aad_len], &iv, &plaintext, cipher.icv_len());
                    cipher.seal(&mut buf, aad_len).unwrap();
                    let range = cipher.open(&mut buf, aad_len).unwrap();
                    assert_eq!(
                        buf[range],
                        plaintext[..],
                        "{cipher:?} aad {aad_len} text {text_len}"
                    );
                }
            }
        }
    }

    /// Random buffers and AAD lengths must give an error, never a panic or a success.
    #[test]
    fn open_random_input_fails_cleanly() {
        let mut rng = TestRandom::new(77);
        for cipher in all_ciphers() {
            for _ in 0..200 {
                let mut len_bytes = [0u8; 2];
                rng.fill(&mut len_bytes);
                let mut buf = vec![0u8; usize::from(len_bytes[0])];
                rng.fill(&mut buf);
                let aad_len = usize::from(len_bytes[1] % 64);
                assert!(cipher.open(&mut buf, aad_len).is_err(), "{cipher:?}");
            }
        }
    }

    #[test]
    fn sa_cipher_lengths() {
        let gcm = SaCipher::new(Encr::AesGcm16 { key_bits: 256 }, None, &[0; 36], &[]).unwrap();
        assert_eq!((gcm.iv_len(), gcm.icv_len(), gcm.block_len()), (8, 16, 4));
        let cbc = SaCipher::new(
            Encr::AesCbc { key_bits: 256 },
            Some(Integ::HmacSha2_384_192),
            &[0; 32],
            &[0; 48],
        )
        .unwrap();
        assert_eq!((cbc.iv_len(), cbc.icv_len(), cbc.block_len()), (16, 24, 16));
        let null = SaCipher::new(Encr::Null, Some(Integ::HmacSha1_96), &[], &[0; 20]).unwrap();
        assert_eq!(
            (null.iv_len(), null.icv_len(), null.block_len()),
            (0, 12, 4)
        );
    }

    /// Flipping any single bit of the AAD, IV, ciphertext or ICV must fail the check.
    #[test]
    fn open_rejects_any_flipped_bit() {
        for cipher in all_ciphers() {
            let (buf, _) = sealed(&cipher);
            for index in [
                0,
                27,
                28,
                28 + cipher.iv_len(),
                buf.len() - cipher.icv_len(),
                buf.len() - 1,
            ] {
                let mut tampered = buf.clone();
                tampered[index] ^= 0x01;
                let result = cipher.open(&mut tampered, 28);
                assert!(
                    matches!(result, Err(CryptoError::AuthenticationFailed)),
                    "{cipher:?} accepted a flipped bit at octet {index}"
                );
            }
        }
    }

    /// The ICV is checked before decryption, so a rejected CBC packet stays encrypted.
    #[test]
    fn open_failure_leaves_cbc_ciphertext() {
        let cipher = SaCipher::new(
            Encr::AesCbc { key_bits: 128 },
            Some(Integ::HmacSha1_96),
            &[1; 16],
            &[2; 20],
        )
        .unwrap();
        let (mut buf, _) = sealed(&cipher);
        let last = buf.len() - 1;
        buf[last] ^= 0x80;
        let before = buf.clone();
        assert!(cipher.open(&mut buf, 28).is_err());
        assert_eq!(buf, before);
    }

    #[test]
    fn open_failure_zeroes_gcm_text() {
        let cipher = SaCipher::new(Encr::AesGcm16 { key_bits: 128 }, None, &[1; 20], &[]).unwrap();
        let (mut buf, _) = sealed(&cipher);
        buf[0] ^= 0x01;
        assert!(cipher.open(&mut buf, 28).is_err());
        let text = 28 + 8..buf.len() - 16;
        assert!(buf[text].iter().all(|&b| b == 0));
    }

    #[test]
    fn open_rejects_wrong_key() {
        let encr = Encr::AesGcm16 { key_bits: 256 };
        let sender = SaCipher::new(encr, None, &[1; 36], &[]).unwrap();
        let receiver = SaCipher::new(encr, None, &[2; 36], &[]).unwrap();
        let (mut buf, _) = sealed(&sender);
        assert!(matches!(
            receiver.open(&mut buf, 28),
            Err(CryptoError::AuthenticationFailed)
        ));
    }

    #[test]
    fn seal_rejects_short_buffer() {
        for cipher in all_ciphers() {
            let mut buf = vec![0u8; 28 + cipher.iv_len() + cipher.icv_len() - 1];
            let result = cipher.seal(&mut buf, 28);
            assert!(
                matches!(result, Err(CryptoError::InvalidLength(_))),
                "{cipher:?}"
            );
        }
    }

    #[test]
    fn open_rejects_huge_aad_len() {
        for cipher in all_ciphers() {
            let mut buf = vec![0u8; 100];
            let result = cipher.open(&mut buf, usize::MAX);
            assert!(
                matches!(result, Err(CryptoError::InvalidLength(_))),
                "{cipher:?}"
            );
        }
    }

    #[test]
    fn cbc_rejects_partial_block() {
        let cipher = SaCipher::new(
            Encr::AesCbc { key_bits: 128 },
            Some(Integ::HmacSha1_96),
            &[1; 16],
            &[2; 20],
        )
        .unwrap();
        let mut buf = packet(&[0; 8], &[0; 16], &[0; 20], 12);
        assert!(matches!(
            cipher.seal(&mut buf, 8),
            Err(CryptoError::InvalidLength(_))
        ));
        assert!(matches!(
            cipher.open(&mut buf, 8),
            Err(CryptoError::InvalidLength(_))
        ));
    }

    #[test]
    fn gcm_empty_plaintext_round_trip() {
        let cipher = SaCipher::new(Encr::AesGcm16 { key_bits: 128 }, None, &[9; 20], &[]).unwrap();
        let mut buf = packet(&[1; 8], &[2; 8], &[], 16);
        cipher.seal(&mut buf, 8).unwrap();
        assert_eq!(cipher.open(&mut buf, 8).unwrap(), 16..16);
    }

    #[test]
    fn new_rejects_wrong_encr_key_length() {
        let result = SaCipher::new(Encr::AesGcm16 { key_bits: 256 }, None, &[0; 32], &[]);
        assert!(matches!(
            result,
            Err(CryptoError::InvalidKeyLength {
                expected: 36,
                actual: 32,
                ..
            })
        ));
    }

    #[test]
    fn new_rejects_wrong_integ_key_length() {
        let result = SaCipher::new(Encr::Null, Some(Integ::HmacSha2_256_128), &[], &[0; 20]);
        assert!(matches!(
            result,
            Err(CryptoError::InvalidKeyLength {
                expected: 32,
                actual: 20,
                ..
            })
        ));
    }

    #[test]
    fn new_rejects_aead_with_integ() {
        let result = SaCipher::new(
            Encr::AesGcm16 { key_bits: 128 },
            Some(Integ::HmacSha1_96),
            &[0; 20],
            &[0; 20],
        );
        assert!(matches!(result, Err(CryptoError::UnsupportedAlgorithm(_))));
    }

    #[test]
    fn new_rejects_null_without_integ() {
        let result = SaCipher::new(Encr::Null, None, &[], &[]);
        assert!(matches!(result, Err(CryptoError::UnsupportedAlgorithm(_))));
    }

    /// RFC 2202 test case 1 (HMAC-MD5, key 0x0b * 16, data "Hi There"), truncated to
    /// 96 bits as RFC 2403 does. The data is passed as AAD of an empty NULL payload.
    #[test]
    fn null_md5_known_answer() {
        let cipher = SaCipher::new(Encr::Null, Some(Integ::HmacMd5_96), &[], &[0x0b; 16]).unwrap();
        let mut buf = packet(b"Hi There", &[], &[], 12);
        cipher.seal(&mut buf, 8).unwrap();
        assert_eq!(buf[8..], hex("9294727a3638bb1c13f48ef8")[..]);
    }

    #[test]
    fn new_rejects_short_md5_key() {
        let result = SaCipher::new(Encr::Null, Some(Integ::HmacMd5_96), &[], b"Jefe");
        assert!(matches!(
            result,
            Err(CryptoError::InvalidKeyLength {
                expected: 16,
                actual: 4,
                ..
            })
        ));
    }
}
