//! Diffie-Hellman key exchange for IKE SAs and PFS Child SAs (RFC 7296 section 2.10).
//!
//! MODP groups use AWS-LC's constant-time `DH_*` functions through aws-lc-sys (see
//! [`modp`]), the elliptic-curve groups aws-lc-rs `agreement` (see [`ecdh`]).

mod ecdh;
mod modp;

use std::fmt;

use zeroize::Zeroizing;

use crate::CryptoError;
use crate::alg::DhGroup;
use crate::random::Random;

/// Attempts at drawing a private key before giving up. A candidate is rejected only
/// when it falls outside the valid range, which happens with probability below 1/2 for
/// every group, so 64 failures in a row mean a broken random source.
const MAX_KEYGEN_ATTEMPTS: usize = 64;

enum PrivateKey {
    Modp(modp::ModpKey),
    Ec(ecdh::EcKey),
}

/// One side of a key exchange: an ephemeral private key and its public value.
/// The private key is wiped when the value is dropped (AWS-LC clears it on free).
/// [`compute_shared`](KeyExchange::compute_shared) takes `&self`, so the same key can
/// answer a retransmitted or duplicated exchange.
pub struct KeyExchange {
    group: DhGroup,
    public: Vec<u8>,
    private: PrivateKey,
}

impl fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyExchange")
            .field("group", &self.group)
            .field("public_len", &self.public.len())
            .finish_non_exhaustive()
    }
}

impl KeyExchange {
    /// Generates a private key for `group` from `rng` and computes its public value.
    ///
    /// Fails with `UnsupportedAlgorithm` for MODP group 1.
    pub fn generate(group: DhGroup, rng: &mut dyn Random) -> Result<KeyExchange, CryptoError> {
        let private_len = private_key_len(group)?;
        let mut candidate = Zeroizing::new(vec![0u8; private_len]);
        for _ in 0..MAX_KEYGEN_ATTEMPTS {
            rng.fill(&mut candidate);
            if group == DhGroup::Ecp521 {
                // A P-521 scalar has 521 bits: keep one bit of the first octet so that
                // almost every candidate is below the group order.
                candidate[0] &= 0x01;
            }
            if let Some(kx) = Self::from_private_key(group, &candidate)? {
                return Ok(kx);
            }
        }
        Err(CryptoError::Backend(format!(
            "no valid {} private key in {MAX_KEYGEN_ATTEMPTS} draws from the random source",
            group.name()
        )))
    }

    /// Builds a key exchange from a private key given as a big-endian integer of
    /// `private_key_len(group)` octets (for X25519, the 32-octet scalar of RFC 7748).
    /// Returns `Ok(None)` when the integer is out of range for the group.
    pub(crate) fn from_private_key(
        group: DhGroup,
        private: &[u8],
    ) -> Result<Option<KeyExchange>, CryptoError> {
        let built = match group {
            DhGroup::Modp768 => None,
            DhGroup::Modp1024
            | DhGroup::Modp1536
            | DhGroup::Modp2048
            | DhGroup::Modp3072
            | DhGroup::Modp2048s256 => modp::ModpKey::from_private_key(group, private)?
                .map(|(key, public)| (PrivateKey::Modp(key), public)),
            DhGroup::Ecp256 | DhGroup::Ecp384 | DhGroup::Ecp521 | DhGroup::Curve25519 => {
                ecdh::EcKey::from_private_key(group, private)?
                    .map(|(key, public)| (PrivateKey::Ec(key), public))
            }
        };
        Ok(built.map(|(private, public)| KeyExchange {
            group,
            public,
            private,
        }))
    }

    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// The public value as carried in a KE payload: MODP values left-padded to the
    /// length of p, ECP `x | y` without the SEC1 0x04 prefix (RFC 5903 section 7),
    /// X25519 the 32-octet u-coordinate (RFC 8031 section 2).
    pub fn public_value(&self) -> &[u8] {
        &self.public
    }

    /// Validates the peer's public value and computes the shared secret `g^ir`.
    ///
    /// Rejects a value of the wrong length, a MODP value outside `1 < y < p-1` (or, for
    /// group 24, outside the prime-order subgroup), an ECP point not on the curve and
    /// an X25519 value that yields the all-zero secret. The MODP secret is padded to
    /// the length of p, the ECP secret is the x coordinate (RFC 5903 section 7).
    pub fn compute_shared(&self, peer_public: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let expected = self.group.public_len();
        if peer_public.len() != expected {
            return Err(CryptoError::InvalidPublicValue(format!(
                "{} public value is {} octets, expected {expected}",
                self.group.name(),
                peer_public.len()
            )));
        }
        match &self.private {
            PrivateKey::Modp(key) => key.compute_shared(peer_public),
            PrivateKey::Ec(key) => key.compute_shared(peer_public),
        }
    }
}

/// Length in octets of the private key drawn from the random source.
fn private_key_len(group: DhGroup) -> Result<usize, CryptoError> {
    match group {
        DhGroup::Modp768 => Err(CryptoError::UnsupportedAlgorithm(
            "MODP group 1 (768-bit) is too weak and never negotiated; use group 14 or higher"
                .into(),
        )),
        DhGroup::Modp1024 | DhGroup::Modp1536 | DhGroup::Modp2048 | DhGroup::Modp3072 => {
            Ok(modp::SAFE_PRIME_EXPONENT_LEN)
        }
        DhGroup::Modp2048s256 => Ok(modp::SUBGROUP_EXPONENT_LEN),
        DhGroup::Ecp256 => Ok(32),
        DhGroup::Ecp384 => Ok(48),
        DhGroup::Ecp521 => Ok(66),
        DhGroup::Curve25519 => Ok(32),
    }
}
