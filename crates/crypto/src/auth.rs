//! The AUTH payload value for pre-shared key authentication (RFC 7296 section 2.15).

use zeroize::Zeroizing;

use crate::alg::Prf;
use crate::prf::prf;
use crate::{CryptoError, constant_time_eq};

/// The fixed pad string of RFC 7296 section 2.15, without a terminating NUL.
const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// Computes `AUTH = prf(prf(psk, "Key Pad for IKEv2"), <SignedOctets>)` where
/// `SignedOctets = message | nonce | prf(SK_p, IDx')` (RFC 7296 2.15).
///
/// `signed_octets_prefix` is the sender's whole first message (IKE_SA_INIT request for
/// the initiator, response for the responder), `nonce` the peer's nonce data, `sk_p`
/// the sender's SK_pi or SK_pr and `id_payload_body` the sender's ID payload without
/// its generic header.
pub fn psk_auth(
    prf_alg: Prf,
    psk: &[u8],
    signed_octets_prefix: &[u8],
    nonce: &[u8],
    sk_p: &[u8],
    id_payload_body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let maced_id = prf(prf_alg, sk_p, &[id_payload_body])?;
    let psk_key = prf(prf_alg, psk, &[KEY_PAD])?;
    prf(prf_alg, &psk_key, &[signed_octets_prefix, nonce, &maced_id])
}

/// Recomputes the AUTH value with [`psk_auth`] and compares it with `received` in
/// constant time. Returns false when the values differ or the PRF is unsupported.
pub fn verify_psk_auth(
    prf_alg: Prf,
    psk: &[u8],
    signed_octets_prefix: &[u8],
    nonce: &[u8],
    sk_p: &[u8],
    id_payload_body: &[u8],
    received: &[u8],
) -> bool {
    match psk_auth(
        prf_alg,
        psk,
        signed_octets_prefix,
        nonce,
        sk_p,
        id_payload_body,
    ) {
        Ok(expected) => constant_time_eq(&expected, received),
        Err(_) => false,
    }
}
