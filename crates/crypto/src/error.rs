//! The error type shared by every module of the crate.

/// Failure of a cryptographic operation. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The algorithm is known but the backend does not provide it (PRF_HMAC_MD5,
    /// MODP group 1) or it cannot be used in this role (an AEAD with an INTEG transform).
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),

    /// A key passed in has the wrong length for its algorithm.
    #[error("invalid key length for {algorithm}: expected {expected} octets, got {actual}")]
    InvalidKeyLength {
        algorithm: &'static str,
        expected: usize,
        actual: usize,
    },

    /// A peer's Diffie-Hellman public value failed validation (length, range, curve
    /// membership, or an all-zero X25519 result).
    #[error("invalid key exchange public value: {0}")]
    InvalidPublicValue(String),

    /// An ICV or AEAD tag did not verify.
    #[error("integrity check failed")]
    AuthenticationFailed,

    /// A buffer, range or requested output length does not fit the operation.
    #[error("invalid length: {0}")]
    InvalidLength(String),

    /// The crypto library returned an unexpected error.
    #[error("crypto backend failure: {0}")]
    Backend(String),
}
