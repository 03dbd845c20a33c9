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

/// The known answer was computed with CPython's hmac module by testdata/kat.py from the
/// same inputs (SK_pi of its PRF-SHA1 IKE SA).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::hex;

    const PSK: &[u8] = b"branch-to-edge secret";

    fn message() -> Vec<u8> {
        (0..200u32).map(|i| ((i * 5) & 0xff) as u8).collect()
    }

    fn nr() -> Vec<u8> {
        (0x40..0x60).collect()
    }

    fn id_body() -> Vec<u8> {
        [&[2u8, 0, 0, 0][..], b"branch.example.com"].concat()
    }

    fn sk_pi() -> Vec<u8> {
        hex("f59642619bcd3e73f9a9631ea14aa9a57a6e051a")
    }

    const EXPECTED: &str = "260643b716227be63d2f69b6505c2fb7c0c8b049";

    #[test]
    fn psk_auth_known_answer() {
        let auth = psk_auth(Prf::HmacSha1, PSK, &message(), &nr(), &sk_pi(), &id_body()).unwrap();
        assert_eq!(*auth, hex(EXPECTED));
    }

    #[test]
    fn verify_psk_auth_accepts_match() {
        let ok = verify_psk_auth(
            Prf::HmacSha1,
            PSK,
            &message(),
            &nr(),
            &sk_pi(),
            &id_body(),
            &hex(EXPECTED),
        );
        assert!(ok);
    }

    #[test]
    fn verify_psk_auth_rejects_wrong_psk() {
        let ok = verify_psk_auth(
            Prf::HmacSha1,
            b"wrong secret",
            &message(),
            &nr(),
            &sk_pi(),
            &id_body(),
            &hex(EXPECTED),
        );
        assert!(!ok);
    }

    #[test]
    fn verify_psk_auth_rejects_truncated_value() {
        let received = hex(EXPECTED);
        let ok = verify_psk_auth(
            Prf::HmacSha1,
            PSK,
            &message(),
            &nr(),
            &sk_pi(),
            &id_body(),
            &received[..received.len() - 1],
        );
        assert!(!ok);
    }

    #[test]
    fn verify_psk_auth_rejects_md5() {
        let ok = verify_psk_auth(
            Prf::HmacMd5,
            PSK,
            &message(),
            &nr(),
            &sk_pi(),
            &id_body(),
            &[0; 16],
        );
        assert!(!ok);
    }
}
