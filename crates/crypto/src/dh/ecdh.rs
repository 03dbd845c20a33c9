//! Elliptic-curve Diffie-Hellman over the NIST curves (RFC 5903) and Curve25519
//! (RFC 8031), using aws-lc-rs `agreement`.

use aws_lc_rs::agreement::{self, UnparsedPublicKey};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::alg::DhGroup;

/// SEC1 tag of an uncompressed point, which aws-lc-rs expects and produces but the KE
/// payload omits (RFC 5903 section 7).
const SEC1_UNCOMPRESSED: u8 = 0x04;
/// 1 + 2 * 66 octets, the longest SEC1 point (P-521).
const MAX_SEC1_LEN: usize = 133;

/// A reusable aws-lc-rs private key; aws-lc-rs wipes it when dropped.
pub(super) struct EcKey {
    key: agreement::PrivateKey,
    group: DhGroup,
}

fn algorithm(group: DhGroup) -> Result<&'static agreement::Algorithm, CryptoError> {
    match group {
        DhGroup::Ecp256 => Ok(&agreement::ECDH_P256),
        DhGroup::Ecp384 => Ok(&agreement::ECDH_P384),
        DhGroup::Ecp521 => Ok(&agreement::ECDH_P521),
        DhGroup::Curve25519 => Ok(&agreement::X25519),
        _ => Err(CryptoError::UnsupportedAlgorithm(format!(
            "{} is not an elliptic-curve group",
            group.name()
        ))),
    }
}

fn is_nist_curve(group: DhGroup) -> bool {
    matches!(group, DhGroup::Ecp256 | DhGroup::Ecp384 | DhGroup::Ecp521)
}

impl EcKey {
    /// Builds the key from a big-endian scalar (NIST curves) or an RFC 7748 scalar
    /// (X25519, clamped by AWS-LC). Returns `Ok(None)` for a NIST scalar of 0 or not
    /// below the group order.
    pub(super) fn from_private_key(
        group: DhGroup,
        private: &[u8],
    ) -> Result<Option<(EcKey, Vec<u8>)>, CryptoError> {
        let alg = algorithm(group)?;
        let key = match agreement::PrivateKey::from_private_key(alg, private) {
            Ok(key) => key,
            Err(_) if is_nist_curve(group) => return Ok(None),
            Err(_) => {
                return Err(CryptoError::Backend(
                    "aws-lc-rs rejected an X25519 private key".into(),
                ));
            }
        };
        let public = key.compute_public_key().map_err(|_| {
            CryptoError::Backend(format!("{} public key computation failed", group.name()))
        })?;
        let encoded = public.as_ref();
        let ke_value = if is_nist_curve(group) {
            // KE payload carries x | y only (RFC 5903 section 7).
            match encoded.split_first() {
                Some((&SEC1_UNCOMPRESSED, xy)) => xy.to_vec(),
                _ => {
                    return Err(CryptoError::Backend(
                        "aws-lc-rs returned a compressed point".into(),
                    ));
                }
            }
        } else {
            encoded.to_vec()
        };
        Ok(Some((EcKey { key, group }, ke_value)))
    }

    /// Validates the peer value and computes the shared secret. The caller has checked
    /// the length of `peer_public` against the group.
    pub(super) fn compute_shared(
        &self,
        peer_public: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let alg = self.key.algorithm();
        let mut sec1 = [0u8; MAX_SEC1_LEN];
        let peer_bytes: &[u8] = if is_nist_curve(self.group) {
            let len = peer_public.len() + 1;
            if len > MAX_SEC1_LEN {
                return Err(CryptoError::InvalidPublicValue("point too long".into()));
            }
            sec1[0] = SEC1_UNCOMPRESSED;
            sec1[1..len].copy_from_slice(peer_public);
            &sec1[..len]
        } else {
            peer_public
        };

        let group = self.group;
        // aws-lc-rs rejects points not on the curve, and AWS-LC's X25519 rejects a
        // result of all zeros (a small-order peer value, RFC 7748 section 6.1).
        let shared = agreement::agree(
            &self.key,
            UnparsedPublicKey::new(alg, peer_bytes),
            CryptoError::InvalidPublicValue(format!("{} peer value rejected", group.name())),
            |secret| Ok(Zeroizing::new(secret.to_vec())),
        )?;
        if group == DhGroup::Curve25519 && shared.iter().all(|&b| b == 0) {
            return Err(CryptoError::InvalidPublicValue(
                "X25519 shared secret is all zero".into(),
            ));
        }
        Ok(shared)
    }
}
