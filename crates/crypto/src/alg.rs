//! Algorithm identifiers shared by IKE, ESP and the configuration front end.
//!
//! Each enum names one IKEv2 transform type (RFC 7296 section 3.3.2) and maps to the
//! IANA "IKEv2 Transform Attribute Types" registry numbers. Key sizes are in bits.

use serde::Serialize;

/// Transform type 1, encryption algorithm. AES variants carry their key length in bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Encr {
    /// ENCR_AES_CBC (12), RFC 3602.
    AesCbc { key_bits: u16 },
    /// ENCR_AES_GCM_16 (20), RFC 4106 / RFC 5282: AEAD with a 16-octet ICV.
    AesGcm16 { key_bits: u16 },
    /// ENCR_NULL (11), RFC 2410. ESP only: IKE must never use it.
    Null,
}

impl Encr {
    /// IANA transform ID.
    pub const fn transform_id(self) -> u16 {
        match self {
            Encr::AesCbc { .. } => 12,
            Encr::AesGcm16 { .. } => 20,
            Encr::Null => 11,
        }
    }

    /// Key length attribute (bits), present for variable-length ciphers only.
    pub const fn key_length_attribute(self) -> Option<u16> {
        match self {
            Encr::AesCbc { key_bits } | Encr::AesGcm16 { key_bits } => Some(key_bits),
            Encr::Null => None,
        }
    }

    /// Builds the algorithm from a transform ID and its key length attribute.
    pub fn from_transform(id: u16, key_bits: Option<u16>) -> Option<Encr> {
        match (id, key_bits) {
            (12, Some(k @ (128 | 192 | 256))) => Some(Encr::AesCbc { key_bits: k }),
            (20, Some(k @ (128 | 192 | 256))) => Some(Encr::AesGcm16 { key_bits: k }),
            (11, None) => Some(Encr::Null),
            _ => None,
        }
    }

    pub const fn is_aead(self) -> bool {
        matches!(self, Encr::AesGcm16 { .. })
    }

    /// Octets of keying material taken from KEYMAT / SK_e. For AES-GCM this includes the
    /// 4-octet salt (RFC 4106 section 8.1, RFC 5282 section 7).
    pub const fn keymat_len(self) -> usize {
        match self {
            Encr::AesCbc { key_bits } => key_bits as usize / 8,
            Encr::AesGcm16 { key_bits } => key_bits as usize / 8 + 4,
            Encr::Null => 0,
        }
    }

    /// Octets of explicit IV carried in each ESP packet or SK payload.
    pub const fn iv_len(self) -> usize {
        match self {
            Encr::AesCbc { .. } => 16,
            Encr::AesGcm16 { .. } => 8,
            Encr::Null => 0,
        }
    }

    /// Block size used for padding (RFC 4303 section 2.4): 16 for CBC, 4 otherwise.
    pub const fn block_len(self) -> usize {
        match self {
            Encr::AesCbc { .. } => 16,
            _ => 4,
        }
    }

    /// Length of the AEAD integrity check value; 0 for non-AEAD ciphers.
    pub const fn aead_icv_len(self) -> usize {
        match self {
            Encr::AesGcm16 { .. } => 16,
            _ => 0,
        }
    }

    /// Strength used to sort proposals strongest first, as the ASA does.
    pub const fn strength(self) -> u16 {
        match self {
            Encr::AesGcm16 { key_bits } => key_bits + 1,
            Encr::AesCbc { key_bits } => key_bits,
            Encr::Null => 0,
        }
    }

    /// Name as strongSwan and Wireshark print it, used in logs.
    pub fn name(self) -> &'static str {
        match self {
            Encr::AesCbc { key_bits: 128 } => "AES_CBC-128",
            Encr::AesCbc { key_bits: 192 } => "AES_CBC-192",
            Encr::AesCbc { .. } => "AES_CBC-256",
            Encr::AesGcm16 { key_bits: 128 } => "AES_GCM_16-128",
            Encr::AesGcm16 { key_bits: 192 } => "AES_GCM_16-192",
            Encr::AesGcm16 { .. } => "AES_GCM_16-256",
            Encr::Null => "NULL",
        }
    }
}

/// Transform type 3, integrity algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Integ {
    /// AUTH_HMAC_MD5_96 (1), RFC 2403. Offered only when configured explicitly.
    HmacMd5_96,
    /// AUTH_HMAC_SHA1_96 (2), RFC 2404.
    HmacSha1_96,
    /// AUTH_HMAC_SHA2_256_128 (12), RFC 4868.
    HmacSha2_256_128,
    /// AUTH_HMAC_SHA2_384_192 (13), RFC 4868.
    HmacSha2_384_192,
    /// AUTH_HMAC_SHA2_512_256 (14), RFC 4868.
    HmacSha2_512_256,
}

impl Integ {
    pub const fn transform_id(self) -> u16 {
        match self {
            Integ::HmacMd5_96 => 1,
            Integ::HmacSha1_96 => 2,
            Integ::HmacSha2_256_128 => 12,
            Integ::HmacSha2_384_192 => 13,
            Integ::HmacSha2_512_256 => 14,
        }
    }

    pub fn from_transform(id: u16) -> Option<Integ> {
        Some(match id {
            1 => Integ::HmacMd5_96,
            2 => Integ::HmacSha1_96,
            12 => Integ::HmacSha2_256_128,
            13 => Integ::HmacSha2_384_192,
            14 => Integ::HmacSha2_512_256,
            _ => return None,
        })
    }

    /// HMAC key length in octets (the hash output length, RFC 4868 section 2.1.1).
    pub const fn key_len(self) -> usize {
        match self {
            Integ::HmacMd5_96 => 16,
            Integ::HmacSha1_96 => 20,
            Integ::HmacSha2_256_128 => 32,
            Integ::HmacSha2_384_192 => 48,
            Integ::HmacSha2_512_256 => 64,
        }
    }

    /// Truncated ICV length in octets.
    pub const fn icv_len(self) -> usize {
        match self {
            Integ::HmacMd5_96 | Integ::HmacSha1_96 => 12,
            Integ::HmacSha2_256_128 => 16,
            Integ::HmacSha2_384_192 => 24,
            Integ::HmacSha2_512_256 => 32,
        }
    }

    pub const fn strength(self) -> u16 {
        match self {
            Integ::HmacMd5_96 => 0,
            Integ::HmacSha1_96 => 1,
            Integ::HmacSha2_256_128 => 2,
            Integ::HmacSha2_384_192 => 3,
            Integ::HmacSha2_512_256 => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Integ::HmacMd5_96 => "HMAC_MD5_96",
            Integ::HmacSha1_96 => "HMAC_SHA1_96",
            Integ::HmacSha2_256_128 => "HMAC_SHA2_256_128",
            Integ::HmacSha2_384_192 => "HMAC_SHA2_384_192",
            Integ::HmacSha2_512_256 => "HMAC_SHA2_512_256",
        }
    }
}

/// Transform type 2, pseudorandom function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Prf {
    /// PRF_HMAC_MD5 (1). Parsed from ASA configs; rejected at negotiation time because
    /// the crypto backend does not provide it.
    HmacMd5,
    /// PRF_HMAC_SHA1 (2).
    HmacSha1,
    /// PRF_HMAC_SHA2_256 (5), RFC 4868.
    HmacSha2_256,
    /// PRF_HMAC_SHA2_384 (6).
    HmacSha2_384,
    /// PRF_HMAC_SHA2_512 (7).
    HmacSha2_512,
}

impl Prf {
    pub const fn transform_id(self) -> u16 {
        match self {
            Prf::HmacMd5 => 1,
            Prf::HmacSha1 => 2,
            Prf::HmacSha2_256 => 5,
            Prf::HmacSha2_384 => 6,
            Prf::HmacSha2_512 => 7,
        }
    }

    pub fn from_transform(id: u16) -> Option<Prf> {
        Some(match id {
            1 => Prf::HmacMd5,
            2 => Prf::HmacSha1,
            5 => Prf::HmacSha2_256,
            6 => Prf::HmacSha2_384,
            7 => Prf::HmacSha2_512,
            _ => return None,
        })
    }

    /// Output length of the PRF in octets, which is also the preferred key length
    /// (RFC 7296 section 2.13).
    pub const fn output_len(self) -> usize {
        match self {
            Prf::HmacMd5 => 16,
            Prf::HmacSha1 => 20,
            Prf::HmacSha2_256 => 32,
            Prf::HmacSha2_384 => 48,
            Prf::HmacSha2_512 => 64,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Prf::HmacMd5 => "PRF_HMAC_MD5",
            Prf::HmacSha1 => "PRF_HMAC_SHA1",
            Prf::HmacSha2_256 => "PRF_HMAC_SHA2_256",
            Prf::HmacSha2_384 => "PRF_HMAC_SHA2_384",
            Prf::HmacSha2_512 => "PRF_HMAC_SHA2_512",
        }
    }
}

/// Transform type 4, Diffie-Hellman group (IANA "Transform Type 4 - Key Exchange
/// Method Transform IDs"). The ASA's `group N` keyword uses the same numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum DhGroup {
    /// Group 1, 768-bit MODP (RFC 2409). Parsed for ASA configs, never negotiated.
    Modp768,
    /// Group 2, 1024-bit MODP (RFC 2409).
    Modp1024,
    /// Group 5, 1536-bit MODP (RFC 3526).
    Modp1536,
    /// Group 14, 2048-bit MODP (RFC 3526).
    Modp2048,
    /// Group 15, 3072-bit MODP (RFC 3526).
    Modp3072,
    /// Group 24, 2048-bit MODP with 256-bit prime order subgroup (RFC 5114).
    Modp2048s256,
    /// Group 19, 256-bit random ECP (RFC 5903).
    Ecp256,
    /// Group 20, 384-bit random ECP (RFC 5903).
    Ecp384,
    /// Group 21, 521-bit random ECP (RFC 5903).
    Ecp521,
    /// Group 31, Curve25519 (RFC 8031).
    Curve25519,
}

impl DhGroup {
    pub const fn transform_id(self) -> u16 {
        match self {
            DhGroup::Modp768 => 1,
            DhGroup::Modp1024 => 2,
            DhGroup::Modp1536 => 5,
            DhGroup::Modp2048 => 14,
            DhGroup::Modp3072 => 15,
            DhGroup::Modp2048s256 => 24,
            DhGroup::Ecp256 => 19,
            DhGroup::Ecp384 => 20,
            DhGroup::Ecp521 => 21,
            DhGroup::Curve25519 => 31,
        }
    }

    pub fn from_transform(id: u16) -> Option<DhGroup> {
        Some(match id {
            1 => DhGroup::Modp768,
            2 => DhGroup::Modp1024,
            5 => DhGroup::Modp1536,
            14 => DhGroup::Modp2048,
            15 => DhGroup::Modp3072,
            24 => DhGroup::Modp2048s256,
            19 => DhGroup::Ecp256,
            20 => DhGroup::Ecp384,
            21 => DhGroup::Ecp521,
            31 => DhGroup::Curve25519,
            _ => return None,
        })
    }

    /// Length in octets of the public value in a KE payload (RFC 7296 section 3.4,
    /// RFC 5903 section 7: x and y without the SEC1 0x04 prefix, RFC 8031 section 2).
    pub const fn public_len(self) -> usize {
        match self {
            DhGroup::Modp768 => 96,
            DhGroup::Modp1024 => 128,
            DhGroup::Modp1536 => 192,
            DhGroup::Modp2048 | DhGroup::Modp2048s256 => 256,
            DhGroup::Modp3072 => 384,
            DhGroup::Ecp256 => 64,
            DhGroup::Ecp384 => 96,
            DhGroup::Ecp521 => 132,
            DhGroup::Curve25519 => 32,
        }
    }

    /// True for groups that rampart can negotiate (group 1 is parsed but never used).
    pub const fn is_supported(self) -> bool {
        !matches!(self, DhGroup::Modp768)
    }

    pub fn name(self) -> &'static str {
        match self {
            DhGroup::Modp768 => "MODP_768",
            DhGroup::Modp1024 => "MODP_1024",
            DhGroup::Modp1536 => "MODP_1536",
            DhGroup::Modp2048 => "MODP_2048",
            DhGroup::Modp3072 => "MODP_3072",
            DhGroup::Modp2048s256 => "MODP_2048_256",
            DhGroup::Ecp256 => "ECP_256",
            DhGroup::Ecp384 => "ECP_384",
            DhGroup::Ecp521 => "ECP_521",
            DhGroup::Curve25519 => "CURVE_25519",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_ids_round_trip() {
        for g in [1u16, 2, 5, 14, 15, 19, 20, 21, 24, 31] {
            assert_eq!(
                DhGroup::from_transform(g).map(|d| d.transform_id()),
                Some(g)
            );
        }
        for i in [1u16, 2, 12, 13, 14] {
            assert_eq!(Integ::from_transform(i).map(|x| x.transform_id()), Some(i));
        }
        for p in [1u16, 2, 5, 6, 7] {
            assert_eq!(Prf::from_transform(p).map(|x| x.transform_id()), Some(p));
        }
        assert_eq!(
            Encr::from_transform(20, Some(256)),
            Some(Encr::AesGcm16 { key_bits: 256 })
        );
        assert_eq!(Encr::from_transform(20, Some(100)), None);
        assert_eq!(Encr::from_transform(11, None), Some(Encr::Null));
    }
}
