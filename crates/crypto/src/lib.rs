//! Cryptographic algorithms for rampart's IKEv2 and ESP, backed by aws-lc-rs.
//!
//! Nothing here implements a primitive: AEAD, AES-CBC, HMAC, ECDH, X25519 and random
//! numbers come from aws-lc-rs, and MODP Diffie-Hellman from AWS-LC's `DH_*` functions.
//! Every secret this crate returns or stores is wiped when it is dropped.

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

/// Helpers shared by the unit tests of every module.
#[cfg(test)]
pub(crate) mod test_util {
    /// Decodes a hex string, ignoring spaces. Test vectors only, so bad input panics.
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        assert!(
            digits.len().is_multiple_of(2),
            "odd number of hex digits in test vector"
        );
        digits
            .chunks(2)
            .map(|pair| {
                let text = std::str::from_utf8(pair).expect("hex digits are ASCII");
                u8::from_str_radix(text, 16).expect("test vector is valid hex")
            })
            .collect()
    }

    /// SHA-256 of `data`, to compare long values against short known answers.
    pub(crate) fn sha256(data: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
            .as_ref()
            .to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ESP data plane shares SAs between worker threads.
    #[test]
    fn sa_state_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<cipher::SaCipher>();
        assert_send_sync::<dh::KeyExchange>();
        assert_send_sync::<keys::IkeKeys>();
        assert_send_sync::<keys::ChildKeys>();
    }

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
