//! Diffie-Hellman key exchange for IKE SAs and PFS Child SAs (RFC 7296 section 2.10).
//!
//! MODP groups use AWS-LC's constant-time `DH_*` functions through aws-lc-sys
//! (module `modp`). The elliptic-curve groups use aws-lc-rs `agreement` (module `ecdh`).

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
/// [`compute_shared`](KeyExchange::compute_shared) takes `&self`, so a responder can
/// reuse the key for a retransmitted or duplicated request.
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

    /// Returns the public value as carried in a KE payload: MODP values left-padded to the
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::TestRandom;
    use crate::test_util::{hex, sha256};

    const SUPPORTED: [DhGroup; 9] = [
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp2048s256,
        DhGroup::Ecp256,
        DhGroup::Ecp384,
        DhGroup::Ecp521,
        DhGroup::Curve25519,
    ];

    fn fixed(group: DhGroup, private: &[u8]) -> KeyExchange {
        KeyExchange::from_private_key(group, private)
            .unwrap()
            .expect("test private key is in range")
    }

    #[test]
    fn both_sides_agree_every_group() {
        let mut rng = TestRandom::new(42);
        for group in SUPPORTED {
            let a = KeyExchange::generate(group, &mut rng).unwrap();
            let b = KeyExchange::generate(group, &mut rng).unwrap();
            assert_eq!(a.group(), group);
            assert_eq!(
                a.public_value().len(),
                group.public_len(),
                "{}",
                group.name()
            );
            let ab = a.compute_shared(b.public_value()).unwrap();
            let ba = b.compute_shared(a.public_value()).unwrap();
            assert_eq!(*ab, *ba, "{}", group.name());
        }
    }

    #[test]
    fn shared_secret_lengths() {
        let expected = [128, 192, 256, 384, 256, 32, 48, 66, 32];
        let mut rng = TestRandom::new(5);
        for (group, len) in SUPPORTED.into_iter().zip(expected) {
            let a = KeyExchange::generate(group, &mut rng).unwrap();
            let b = KeyExchange::generate(group, &mut rng).unwrap();
            assert_eq!(
                a.compute_shared(b.public_value()).unwrap().len(),
                len,
                "{}",
                group.name()
            );
        }
    }

    #[test]
    fn generate_is_deterministic_with_test_random() {
        for group in SUPPORTED {
            let a = KeyExchange::generate(group, &mut TestRandom::new(9)).unwrap();
            let b = KeyExchange::generate(group, &mut TestRandom::new(9)).unwrap();
            assert_eq!(a.public_value(), b.public_value(), "{}", group.name());
        }
    }

    #[test]
    fn generate_with_system_random() {
        let mut rng = crate::random::SystemRandom::new();
        let a = KeyExchange::generate(DhGroup::Modp2048, &mut rng).unwrap();
        let b = KeyExchange::generate(DhGroup::Modp2048, &mut rng).unwrap();
        assert_ne!(a.public_value(), b.public_value());
    }

    #[test]
    fn compute_shared_is_repeatable() {
        let mut rng = TestRandom::new(3);
        let a = KeyExchange::generate(DhGroup::Ecp256, &mut rng).unwrap();
        let b = KeyExchange::generate(DhGroup::Ecp256, &mut rng).unwrap();
        let first = a.compute_shared(b.public_value()).unwrap();
        let second = a.compute_shared(b.public_value()).unwrap();
        assert_eq!(*first, *second);
    }

    #[test]
    fn modp768_unsupported() {
        let result = KeyExchange::generate(DhGroup::Modp768, &mut TestRandom::new(1));
        assert!(matches!(result, Err(CryptoError::UnsupportedAlgorithm(_))));
    }

    /// Public value and shared secret for exponents 0x0102..20 and 0x4142..60, checked
    /// against CPython's pow() by testdata/kat.py (as SHA-256 of the padded values).
    #[test]
    fn modp_known_answers() {
        let x_a: Vec<u8> = (1..=32).collect();
        let x_b: Vec<u8> = (0x41..=0x60).collect();
        let cases = [
            (
                DhGroup::Modp1024,
                "3e5e53f04e5eeec9a4732ead2dc7f2ffad5d7f6aab19395b4a8130e8ec660251",
                "3d852b9f11b16d7fba78c252a8eb2312e17f51cc0b0784e12cb2cff992a12a70",
            ),
            (
                DhGroup::Modp1536,
                "9a5ea5c17387a96223486d00a3d3437a4622bc0c790f48f01a1cebca6ce67221",
                "d7047eb144d299052abf210e5e182e03ec0fdde7f43ffa82eacc20eebd7e5192",
            ),
            (
                DhGroup::Modp2048,
                "0b9cb9036d2a594a7e3b43169bdf47ee9c7b64a2292203f1bb137b0b648d7e3c",
                "3c5a95d2c393f93b1dbc850102814e202d01244d8e614c644258cc63c2190d1a",
            ),
            (
                DhGroup::Modp3072,
                "b74e630be90eb9d4b19affaa173864f62b7b5408127da1bbe6614ff3b3d96c4d",
                "282b2783be59edde02a9065661f25619abeacb43ca85ded483b8d52b3914351a",
            ),
            (
                DhGroup::Modp2048s256,
                "32ea73845a54a0a6a80e520bb3980718e84d0105b622e68ad42c0ce8d8e52c53",
                "e8226a1fc836f8f8b2180085eebf38b641cf9a2c2015b5da53e7ec6c47c0eeb1",
            ),
        ];
        for (group, public_a, shared) in cases {
            let a = fixed(group, &x_a);
            let b = fixed(group, &x_b);
            assert_eq!(
                sha256(a.public_value()),
                hex(public_a),
                "{} public value",
                group.name()
            );
            let ab = a.compute_shared(b.public_value()).unwrap();
            assert_eq!(sha256(&ab), hex(shared), "{} shared secret", group.name());
        }
    }

    /// The MODP values 0, 1, p-1, p and 2^n-1 are outside 1 < y < p-1.
    #[test]
    fn modp_rejects_out_of_range_values() {
        let mut rng = TestRandom::new(11);
        for group in [
            DhGroup::Modp1024,
            DhGroup::Modp1536,
            DhGroup::Modp2048,
            DhGroup::Modp3072,
        ] {
            let kx = KeyExchange::generate(group, &mut rng).unwrap();
            let len = group.public_len();
            let zero = vec![0u8; len];
            let mut one = vec![0u8; len];
            one[len - 1] = 1;
            let all_ones = vec![0xffu8; len];
            let p = modp_prime(group);
            // Every RFC 2409 and RFC 3526 prime ends in 64 one bits, so p-1 ends in 0xfe.
            let mut p_minus_1 = p.clone();
            p_minus_1[len - 1] = 0xfe;
            for (what, value) in [
                ("0", zero),
                ("1", one),
                ("p-1", p_minus_1),
                ("p", p),
                ("2^n-1", all_ones),
            ] {
                let result = kx.compute_shared(&value);
                assert!(
                    matches!(result, Err(CryptoError::InvalidPublicValue(_))),
                    "{} accepted {what}",
                    group.name()
                );
            }
        }
    }

    fn modp_prime(group: DhGroup) -> Vec<u8> {
        modp::prime_bytes(group).unwrap()
    }

    /// Group 24 is not a safe-prime group: 2 lies outside the order-q subgroup, and the
    /// check y^q = 1 (RFC 5114 section 2.3, NIST SP 800-56A 5.6.2.3.1) must catch it.
    #[test]
    fn modp24_rejects_value_outside_subgroup() {
        let kx = KeyExchange::generate(DhGroup::Modp2048s256, &mut TestRandom::new(2)).unwrap();
        let mut two = vec![0u8; 256];
        two[255] = 2;
        let result = kx.compute_shared(&two);
        assert!(matches!(result, Err(CryptoError::InvalidPublicValue(_))));
    }

    #[test]
    fn modp24_rejects_exponent_not_below_q() {
        let q = hex("8cf83642a709a097b447997640129da299b1a47d1eb3750ba308b0fe64f5fbd3");
        assert!(
            KeyExchange::from_private_key(DhGroup::Modp2048s256, &q)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn modp_rejects_zero_exponent() {
        assert!(
            KeyExchange::from_private_key(DhGroup::Modp2048, &[0; 32])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn rejects_wrong_length_every_group() {
        let mut rng = TestRandom::new(13);
        for group in SUPPORTED {
            let kx = KeyExchange::generate(group, &mut rng).unwrap();
            let peer = KeyExchange::generate(group, &mut rng).unwrap();
            let mut long = peer.public_value().to_vec();
            long.push(0);
            let short = &peer.public_value()[1..];
            for value in [&long[..], short, &[]] {
                let result = kx.compute_shared(value);
                assert!(
                    matches!(result, Err(CryptoError::InvalidPublicValue(_))),
                    "{} accepted {} octets",
                    group.name(),
                    value.len()
                );
            }
        }
    }

    /// RFC 7748 section 6.1.
    #[test]
    fn x25519_known_answer() {
        let alice = fixed(
            DhGroup::Curve25519,
            &hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
        );
        let bob = fixed(
            DhGroup::Curve25519,
            &hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
        );
        assert_eq!(
            alice.public_value(),
            hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        assert_eq!(
            bob.public_value(),
            hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        );
        let shared = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(*alice.compute_shared(bob.public_value()).unwrap(), shared);
        assert_eq!(*bob.compute_shared(alice.public_value()).unwrap(), shared);
    }

    /// Small-order points give the all-zero secret (RFC 7748 section 6.1) and must fail.
    #[test]
    fn x25519_rejects_small_order_points() {
        let kx = KeyExchange::generate(DhGroup::Curve25519, &mut TestRandom::new(4)).unwrap();
        let mut one = [0u8; 32];
        one[0] = 1;
        for point in [[0u8; 32], one] {
            let result = kx.compute_shared(&point);
            assert!(matches!(result, Err(CryptoError::InvalidPublicValue(_))));
        }
    }

    /// RFC 5903 sections 8.1, 8.2 and 8.3: i, g^i, r, g^r and the x coordinate of g^ir.
    #[test]
    fn ecp_known_answers() {
        let cases = [
            (
                DhGroup::Ecp256,
                "c88f01f510d9ac3f70a292daa2316de544e9aab8afe84049c62a9c57862d1433",
                "dad0b65394221cf9b051e1feca5787d098dfe637fc90b9ef945d0c3772581180\
                 5271a0461cdb8252d61f1c456fa3e59ab1f45b33accf5f58389e0577b8990bb3",
                "c6ef9c5d78ae012a011164acb397ce2088685d8f06bf9be0b283ab46476bee53",
                "d12dfb5289c8d4f81208b70270398c342296970a0bccb74c736fc7554494bf63\
                 56fbf3ca366cc23e8157854c13c58d6aac23f046ada30f8353e74f33039872ab",
                "d6840f6b42f6edafd13116e0e12565202fef8e9ece7dce03812464d04b9442de",
            ),
            (
                DhGroup::Ecp384,
                "099f3c7034d4a2c699884d73a375a67f7624ef7c6b3c0f160647b67414dce655\
                 e35b538041e649ee3faef896783ab194",
                "667842d7d180ac2cde6f74f37551f55755c7645c20ef73e31634fe72b4c55ee6\
                 de3ac808acb4bdb4c88732aee95f41aa9482ed1fc0eeb9cafc4984625ccfc23f\
                 65032149e0e144ada024181535a0f38eeb9fcff3c2c947dae69b4c634573a81c",
                "41cb0779b4bdb85d47846725fbec3c9430fab46cc8dc5060855cc9bda0aa2942\
                 e0308312916b8ed2960e4bd55a7448fc",
                "e558dbef53eecde3d3fccfc1aea08a89a987475d12fd950d83cfa41732bc509d\
                 0d1ac43a0336def96fda41d0774a3571dcfbec7aacf3196472169e838430367f\
                 66eebe3c6e70c416dd5f0c68759dd1fff83fa40142209dff5eaad96db9e6386c",
                "11187331c279962d93d604243fd592cb9d0a926f422e47187521287e7156c5c4\
                 d603135569b9e9d09cf5d4a270f59746",
            ),
            (
                DhGroup::Ecp521,
                "0037ade9319a89f4dabdb3ef411aaccca5123c61acab57b5393dce47608172a0\
                 95aa85a30fe1c2952c6771d937ba9777f5957b2639bab072462f68c27a57382d\
                 4a52",
                "0015417e84dbf28c0ad3c278713349dc7df153c897a1891bd98bab4357c9ecbe\
                 e1e3bf42e00b8e380aeae57c2d107564941885942af5a7f4601723c4195d176c\
                 ed3e017cae20b6641d2eeb695786d8c946146239d099e18e1d5a514c739d7cb4\
                 a10ad8a788015ac405d7799dc75e7b7d5b6cf2261a6a7f1507438bf01beb6ca3\
                 926f9582",
                "0145ba99a847af43793fdd0e872e7cdfa16be30fdc780f97bccc3f078380201e\
                 9c677d600b343757a3bdbf2a3163e4c2f869cca7458aa4a4effc311f5cb15168\
                 5eb9",
                "00d0b3975ac4b799f5bea16d5e13e9af971d5e9b984c9f39728b5e5739735a21\
                 9b97c356436adc6e95bb0352f6be64a6c2912d4ef2d0433ced2b6171640012d9\
                 460f015c68226383956e3bd066e797b623c27ce0eac2f551a10c2c724d985207\
                 7b87220b6536c5c408a1d2aebb8e86d678ae49cb57091f4732296579ab44fcd1\
                 7f0fc56a",
                "01144c7d79ae6956bc8edb8e7c787c4521cb086fa64407f97894e5e6b2d79b04\
                 d1427e73ca4baa240a34786859810c06b3c715a3a8cc3151f2bee417996d19f3\
                 ddea",
            ),
        ];
        for (group, i, gi, r, gr, gir_x) in cases {
            let initiator = fixed(group, &hex(i));
            let responder = fixed(group, &hex(r));
            assert_eq!(initiator.public_value(), hex(gi), "{} g^i", group.name());
            assert_eq!(responder.public_value(), hex(gr), "{} g^r", group.name());
            let shared = initiator.compute_shared(responder.public_value()).unwrap();
            assert_eq!(*shared, hex(gir_x), "{} g^ir", group.name());
        }
    }

    /// Flipping one bit of y moves the point off the curve.
    #[test]
    fn ecp_rejects_point_off_curve() {
        let mut rng = TestRandom::new(8);
        for group in [DhGroup::Ecp256, DhGroup::Ecp384, DhGroup::Ecp521] {
            let kx = KeyExchange::generate(group, &mut rng).unwrap();
            let peer = KeyExchange::generate(group, &mut rng).unwrap();
            let mut value = peer.public_value().to_vec();
            let last = value.len() - 1;
            value[last] ^= 0x01;
            let result = kx.compute_shared(&value);
            assert!(
                matches!(result, Err(CryptoError::InvalidPublicValue(_))),
                "{}",
                group.name()
            );
        }
    }

    #[test]
    fn ecp_rejects_all_zero_point() {
        let kx = KeyExchange::generate(DhGroup::Ecp256, &mut TestRandom::new(6)).unwrap();
        let result = kx.compute_shared(&[0u8; 64]);
        assert!(matches!(result, Err(CryptoError::InvalidPublicValue(_))));
    }

    #[test]
    fn ecp_rejects_scalar_not_below_order() {
        assert!(
            KeyExchange::from_private_key(DhGroup::Ecp256, &[0xff; 32])
                .unwrap()
                .is_none()
        );
        assert!(
            KeyExchange::from_private_key(DhGroup::Ecp256, &[0; 32])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn debug_hides_private_key() {
        let kx = KeyExchange::generate(DhGroup::Curve25519, &mut TestRandom::new(1)).unwrap();
        let text = format!("{kx:?}");
        assert!(
            text.starts_with("KeyExchange { group: Curve25519, public_len: 32"),
            "{text}"
        );
    }
}
