//! IKE SA and Child SA key derivation (RFC 7296 sections 2.14, 2.17 and 2.18).

use std::fmt;

use zeroize::Zeroizing;

use crate::CryptoError;
use crate::alg::{Encr, Integ, Prf};
use crate::prf::{prf, prf_plus};

/// The transforms of an IKE SA that decide the lengths of its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IkeSuite {
    pub encr: Encr,
    /// `None` for AEAD ciphers, which carry no INTEG transform (RFC 5282 section 8).
    pub integ: Option<Integ>,
    pub prf: Prf,
}

/// The seven secrets of an IKE SA, in the order prf+ produces them (RFC 7296 2.14).
/// `sk_ei`/`sk_er` include the 4-octet salt for AES-GCM; `sk_ai`/`sk_ar` are empty
/// for AEAD ciphers.
pub struct IkeKeys {
    pub sk_d: Zeroizing<Vec<u8>>,
    pub sk_ai: Zeroizing<Vec<u8>>,
    pub sk_ar: Zeroizing<Vec<u8>>,
    pub sk_ei: Zeroizing<Vec<u8>>,
    pub sk_er: Zeroizing<Vec<u8>>,
    pub sk_pi: Zeroizing<Vec<u8>>,
    pub sk_pr: Zeroizing<Vec<u8>>,
}

/// Shows only key lengths, so that logging an `IkeKeys` never leaks a key.
impl fmt::Debug for IkeKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IkeKeys")
            .field("sk_d_len", &self.sk_d.len())
            .field("sk_a_len", &self.sk_ai.len())
            .field("sk_e_len", &self.sk_ei.len())
            .field("sk_p_len", &self.sk_pi.len())
            .finish_non_exhaustive()
    }
}

/// Keying material of one Child SA pair. `encr_i`/`integ_i` protect traffic from the
/// initiator to the responder, `encr_r`/`integ_r` the reverse direction
/// (RFC 7296 2.17). The integrity keys are empty for AEAD ciphers.
pub struct ChildKeys {
    pub encr_i: Zeroizing<Vec<u8>>,
    pub integ_i: Zeroizing<Vec<u8>>,
    pub encr_r: Zeroizing<Vec<u8>>,
    pub integ_r: Zeroizing<Vec<u8>>,
}

/// Shows only key lengths, so that logging a `ChildKeys` never leaks a key.
impl fmt::Debug for ChildKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildKeys")
            .field("encr_len", &self.encr_i.len())
            .field("integ_len", &self.integ_i.len())
            .finish_non_exhaustive()
    }
}

/// Computes `SKEYSEED = prf(Ni | Nr, g^ir)` for a new IKE SA (RFC 7296 2.14).
pub fn skeyseed(
    prf_alg: Prf,
    ni: &[u8],
    nr: &[u8],
    shared: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut nonces = Zeroizing::new(Vec::with_capacity(ni.len() + nr.len()));
    nonces.extend_from_slice(ni);
    nonces.extend_from_slice(nr);
    prf(prf_alg, &nonces, &[shared])
}

/// Computes `SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)` for an IKE SA rekey,
/// with the PRF of the old IKE SA (RFC 7296 2.18).
pub fn rekey_skeyseed(
    old_prf: Prf,
    old_sk_d: &[u8],
    shared: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    prf(old_prf, old_sk_d, &[shared, ni, nr])
}

/// Integrity key length, checking that AEAD ciphers come without INTEG and the others
/// with it.
fn integ_key_len(encr: Encr, integ: Option<Integ>) -> Result<usize, CryptoError> {
    match (encr.is_aead(), integ) {
        (true, None) => Ok(0),
        (false, Some(i)) => Ok(i.key_len()),
        (true, Some(i)) => Err(CryptoError::UnsupportedAlgorithm(format!(
            "{} is an AEAD cipher and takes no integrity algorithm, got {}",
            encr.name(),
            i.name()
        ))),
        (false, None) => Err(CryptoError::UnsupportedAlgorithm(format!(
            "{} needs an integrity algorithm",
            encr.name()
        ))),
    }
}

/// Splits `material` into consecutive pieces of the given lengths.
fn split_keys<const N: usize>(material: &[u8], lens: [usize; N]) -> [Zeroizing<Vec<u8>>; N] {
    let mut offset = 0;
    lens.map(|len| {
        let key = Zeroizing::new(material[offset..offset + len].to_vec());
        offset += len;
        key
    })
}

/// Derives the IKE SA keys `{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} =
/// prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)` (RFC 7296 2.14). SK_d, SK_pi and SK_pr are
/// as long as the PRF output, SK_a as the integrity key, SK_e as the cipher's keying
/// material including the GCM salt.
pub fn derive_ike_keys(
    suite: IkeSuite,
    skeyseed: &[u8],
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> Result<IkeKeys, CryptoError> {
    let prf_len = suite.prf.output_len();
    let integ_len = integ_key_len(suite.encr, suite.integ)?;
    let encr_len = suite.encr.keymat_len();
    let lens = [
        prf_len, integ_len, integ_len, encr_len, encr_len, prf_len, prf_len,
    ];
    let total = lens.iter().sum();

    let spi_i = spi_i.to_be_bytes();
    let spi_r = spi_r.to_be_bytes();
    let material = prf_plus(suite.prf, skeyseed, &[ni, nr, &spi_i, &spi_r], total)?;

    let [sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr] = split_keys(&material, lens);
    Ok(IkeKeys {
        sk_d,
        sk_ai,
        sk_ar,
        sk_ei,
        sk_er,
        sk_pi,
        sk_pr,
    })
}

/// Derives Child SA keying material `KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr)`,
/// taken in the order encryption then integrity key for the initiator-to-responder
/// direction, then the same for the reverse direction (RFC 7296 2.17). `shared` is the
/// Diffie-Hellman secret of a CREATE_CHILD_SA exchange with a KE payload.
pub fn derive_child_keys(
    prf_alg: Prf,
    sk_d: &[u8],
    shared: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    encr: Encr,
    integ: Option<Integ>,
) -> Result<ChildKeys, CryptoError> {
    let integ_len = integ_key_len(encr, integ)?;
    let encr_len = encr.keymat_len();
    let lens = [encr_len, integ_len, encr_len, integ_len];
    let total = lens.iter().sum();

    let material = match shared {
        Some(g_ir) => prf_plus(prf_alg, sk_d, &[g_ir, ni, nr], total)?,
        None => prf_plus(prf_alg, sk_d, &[ni, nr], total)?,
    };

    let [encr_i, integ_i, encr_r, integ_r] = split_keys(&material, lens);
    Ok(ChildKeys {
        encr_i,
        integ_i,
        encr_r,
        integ_r,
    })
}
