//! Cryptographic algorithms for rampart's IKEv2 and ESP, backed by aws-lc-rs.
//!
//! Nothing here implements a primitive: AEAD, AES-CBC, HMAC, ECDH, X25519 and random
//! numbers come from aws-lc-rs, and MODP Diffie-Hellman from AWS-LC's `DH_*` functions.

pub mod alg;
