//! Cryptographic algorithms for rampart's IKEv2 and ESP, backed by aws-lc-rs.
//!
//! Nothing here implements a primitive: AEAD, AES-CBC, HMAC, ECDH, X25519 and random
//! numbers come from aws-lc-rs, and MODP Diffie-Hellman from AWS-LC's `DH_*` functions.
//! Every secret this crate returns or holds is wiped when it is dropped.

pub mod alg;
pub mod auth;
pub mod cipher;
pub mod dh;
mod error;
pub mod keys;
pub mod prf;
pub mod random;

pub use error::CryptoError;
pub use zeroize::Zeroizing;

/// Compares two byte strings in time that depends only on their lengths.
///
/// Slices of different lengths compare unequal. Use it for every ICV, AUTH value and
/// other authenticator received from a peer.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_equal() {
        assert!(constant_time_eq(b"abc", b"abc"));
    }

    #[test]
    fn constant_time_eq_different() {
        assert!(!constant_time_eq(b"abc", b"abd"));
    }

    #[test]
    fn constant_time_eq_length_mismatch() {
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
