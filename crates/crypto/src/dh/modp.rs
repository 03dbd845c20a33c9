//! Finite-field Diffie-Hellman over the MODP groups of RFC 2409, RFC 3526 and
//! RFC 5114, as a small safe wrapper around AWS-LC's constant-time `DH_*` functions.

use std::ptr::{self, NonNull};

use aws_lc_sys as ffi;
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::alg::DhGroup;

/// Private exponent length for the safe-prime groups 2, 5, 14 and 15: 256 bits is at
/// least twice the security strength of each group (NIST SP 800-56A rev. 3, 5.6.1.1.4),
/// and costs a fraction of a full-length exponent.
pub(super) const SAFE_PRIME_EXPONENT_LEN: usize = 32;
/// Private exponent length for group 24, whose generator has a 256-bit prime order q;
/// the exponent is drawn from [1, q-1] (RFC 5114 section 2.3).
pub(super) const SUBGROUP_EXPONENT_LEN: usize = 32;

/// The 1024-bit MODP prime of Oakley group 2 (RFC 2409 section 6.2), generator 2.
/// AWS-LC has no constructor for it.
const MODP_1024_PRIME: [u8; 128] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc9, 0x0f, 0xda, 0xa2, 0x21, 0x68, 0xc2, 0x34,
    0xc4, 0xc6, 0x62, 0x8b, 0x80, 0xdc, 0x1c, 0xd1, 0x29, 0x02, 0x4e, 0x08, 0x8a, 0x67, 0xcc, 0x74,
    0x02, 0x0b, 0xbe, 0xa6, 0x3b, 0x13, 0x9b, 0x22, 0x51, 0x4a, 0x08, 0x79, 0x8e, 0x34, 0x04, 0xdd,
    0xef, 0x95, 0x19, 0xb3, 0xcd, 0x3a, 0x43, 0x1b, 0x30, 0x2b, 0x0a, 0x6d, 0xf2, 0x5f, 0x14, 0x37,
    0x4f, 0xe1, 0x35, 0x6d, 0x6d, 0x51, 0xc2, 0x45, 0xe4, 0x85, 0xb5, 0x76, 0x62, 0x5e, 0x7e, 0xc6,
    0xf4, 0x4c, 0x42, 0xe9, 0xa6, 0x37, 0xed, 0x6b, 0x0b, 0xff, 0x5c, 0xb6, 0xf4, 0x06, 0xb7, 0xed,
    0xee, 0x38, 0x6b, 0xfb, 0x5a, 0x89, 0x9f, 0xa5, 0xae, 0x9f, 0x24, 0x11, 0x7c, 0x4b, 0x1f, 0xe6,
    0x49, 0x28, 0x66, 0x51, 0xec, 0xe6, 0x53, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
];

fn backend(what: &str) -> CryptoError {
    CryptoError::Backend(format!("AWS-LC {what} failed"))
}

/// An owned `BIGNUM`, cleared and freed on drop.
struct BigNum(NonNull<ffi::BIGNUM>);

impl BigNum {
    /// Parses a big-endian unsigned integer.
    fn from_be_bytes(bytes: &[u8]) -> Result<BigNum, CryptoError> {
        // SAFETY: `bytes` is a valid slice for its length; with a null `ret` AWS-LC
        // allocates a new BIGNUM, which we own from here on.
        let raw = unsafe { ffi::BN_bin2bn(bytes.as_ptr(), bytes.len(), ptr::null_mut()) };
        NonNull::new(raw)
            .map(BigNum)
            .ok_or_else(|| backend("BN_bin2bn"))
    }

    fn from_word(word: u64) -> Result<BigNum, CryptoError> {
        // SAFETY: BN_new returns a fresh BIGNUM or null; BN_set_word only writes to it.
        let raw = NonNull::new(unsafe { ffi::BN_new() }).ok_or_else(|| backend("BN_new"))?;
        let bn = BigNum(raw);
        // SAFETY: `bn` is a valid BIGNUM owned by us.
        if unsafe { ffi::BN_set_word(bn.as_ptr(), word as ffi::BN_ULONG) } != 1 {
            return Err(backend("BN_set_word"));
        }
        Ok(bn)
    }

    fn as_ptr(&self) -> *mut ffi::BIGNUM {
        self.0.as_ptr()
    }

    /// Gives ownership to AWS-LC (for example to a DH object).
    fn into_raw(self) -> *mut ffi::BIGNUM {
        let raw = self.0.as_ptr();
        std::mem::forget(self);
        raw
    }
}

impl Drop for BigNum {
    fn drop(&mut self) {
        // SAFETY: we own the BIGNUM; BN_clear_free wipes it before freeing.
        unsafe { ffi::BN_clear_free(self.0.as_ptr()) }
    }
}

/// An owned AWS-LC `DH` holding the group parameters and one key pair.
pub(super) struct ModpKey {
    dh: NonNull<ffi::DH>,
    /// Length of p in octets, the length of public values and of the shared secret.
    prime_len: usize,
}

// SAFETY: the DH object is owned exclusively by this value and AWS-LC keeps no
// thread-local reference to it.
unsafe impl Send for ModpKey {}
// SAFETY: `compute_shared` only reads p, q, g and the private key. The one lazily
// built field, the Montgomery context of p, is set up under the DH's own lock
// (BN_MONT_CTX_set_locked) and already exists after DH_generate_key.
unsafe impl Sync for ModpKey {}

impl Drop for ModpKey {
    fn drop(&mut self) {
        // SAFETY: we own the DH; DH_free clears and frees p, q, g and both keys.
        unsafe { ffi::DH_free(self.dh.as_ptr()) }
    }
}

/// Creates a `DH` with the parameters of `group` and no key.
fn new_group(group: DhGroup) -> Result<NonNull<ffi::DH>, CryptoError> {
    if group == DhGroup::Modp2048s256 {
        // SAFETY: returns a new DH with RFC 5114 section 2.3 p, q and g, or null.
        let raw = unsafe { ffi::DH_get_2048_256() };
        return NonNull::new(raw).ok_or_else(|| backend("DH_get_2048_256"));
    }

    let p = match group {
        DhGroup::Modp1024 => BigNum::from_be_bytes(&MODP_1024_PRIME)?,
        // SAFETY (all three): with a null argument AWS-LC returns a new BIGNUM with the
        // RFC 3526 prime; the result is owned by the BigNum wrapper.
        DhGroup::Modp1536 => {
            rfc3526_prime(unsafe { ffi::BN_get_rfc3526_prime_1536(ptr::null_mut()) })?
        }
        DhGroup::Modp2048 => {
            rfc3526_prime(unsafe { ffi::BN_get_rfc3526_prime_2048(ptr::null_mut()) })?
        }
        DhGroup::Modp3072 => {
            rfc3526_prime(unsafe { ffi::BN_get_rfc3526_prime_3072(ptr::null_mut()) })?
        }
        _ => {
            return Err(CryptoError::UnsupportedAlgorithm(format!(
                "{} is not a MODP group",
                group.name()
            )));
        }
    };
    // Every RFC 2409 and RFC 3526 group uses generator 2.
    let g = BigNum::from_word(2)?;

    // SAFETY: DH_new returns a new empty DH or null.
    let dh = NonNull::new(unsafe { ffi::DH_new() }).ok_or_else(|| backend("DH_new"))?;
    // SAFETY: on success DH_set0_pqg takes ownership of p and g; q stays null because
    // these safe-prime groups have q = (p-1)/2, which AWS-LC assumes when q is absent.
    let ok = unsafe { ffi::DH_set0_pqg(dh.as_ptr(), p.as_ptr(), ptr::null_mut(), g.as_ptr()) };
    if ok != 1 {
        // SAFETY: the DH is ours and p and g were not taken, so their wrappers free them.
        unsafe { ffi::DH_free(dh.as_ptr()) };
        return Err(backend("DH_set0_pqg"));
    }
    p.into_raw();
    g.into_raw();
    Ok(dh)
}

fn rfc3526_prime(raw: *mut ffi::BIGNUM) -> Result<BigNum, CryptoError> {
    NonNull::new(raw)
        .map(BigNum)
        .ok_or_else(|| backend("BN_get_rfc3526_prime"))
}

impl ModpKey {
    /// Builds the key pair for private exponent `private` (big-endian). Returns
    /// `Ok(None)` when the exponent is zero or, for group 24, not below q.
    pub(super) fn from_private_key(
        group: DhGroup,
        private: &[u8],
    ) -> Result<Option<(ModpKey, Vec<u8>)>, CryptoError> {
        let key = ModpKey {
            dh: new_group(group)?,
            prime_len: group.public_len(),
        };
        let x = BigNum::from_be_bytes(private)?;

        // SAFETY: `x` is a valid BIGNUM.
        if unsafe { ffi::BN_is_zero(x.as_ptr()) } == 1 {
            return Ok(None);
        }
        // SAFETY: the DH is valid; DH_get0_q returns a borrowed pointer or null.
        let q = unsafe { ffi::DH_get0_q(key.dh.as_ptr()) };
        // SAFETY: both BIGNUMs are valid. Only the range decision leaks, not x.
        if !q.is_null() && unsafe { ffi::BN_cmp(x.as_ptr(), q) } >= 0 {
            return Ok(None);
        }

        // SAFETY: on success DH_set0_key takes ownership of x; with a null public key
        // DH_generate_key computes g^x mod p from the private key already set.
        if unsafe { ffi::DH_set0_key(key.dh.as_ptr(), ptr::null_mut(), x.as_ptr()) } != 1 {
            return Err(backend("DH_set0_key"));
        }
        x.into_raw();
        // SAFETY: the DH has parameters and a private key.
        if unsafe { ffi::DH_generate_key(key.dh.as_ptr()) } != 1 {
            return Err(backend("DH_generate_key"));
        }

        let mut public = vec![0u8; key.prime_len];
        // SAFETY: DH_generate_key succeeded, so the public key is set; `public` has
        // room for len(p) octets and g^x mod p < p always fits.
        let written = unsafe {
            let y = ffi::DH_get0_pub_key(key.dh.as_ptr());
            ffi::BN_bn2bin_padded(public.as_mut_ptr(), public.len(), y)
        };
        if written != 1 {
            return Err(backend("BN_bn2bin_padded"));
        }
        Ok(Some((key, public)))
    }

    /// Checks `1 < y < p-1` (and `y^q = 1` for group 24), then computes `y^x mod p`
    /// padded to the length of p. The caller has checked the length of `peer_public`.
    pub(super) fn compute_shared(
        &self,
        peer_public: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let y = BigNum::from_be_bytes(peer_public)?;

        let mut flags: std::os::raw::c_int = 0;
        // SAFETY: DH and y are valid; `flags` is a valid out pointer.
        if unsafe { ffi::DH_check_pub_key(self.dh.as_ptr(), y.as_ptr(), &mut flags) } != 1 {
            return Err(backend("DH_check_pub_key"));
        }
        if flags != 0 {
            return Err(CryptoError::InvalidPublicValue(
                describe_check_flags(flags).into(),
            ));
        }

        let mut shared = Zeroizing::new(vec![0u8; self.prime_len]);
        // SAFETY: `shared` has DH_size(dh) = len(p) octets of room; DH and y are valid.
        let written = unsafe {
            ffi::DH_compute_key_padded(shared.as_mut_ptr(), y.as_ptr(), self.dh.as_ptr())
        };
        if written < 0 || written as usize != self.prime_len {
            // DH_compute_key_padded also rejects a shared secret of 1 or p-1.
            return Err(CryptoError::InvalidPublicValue(
                "peer value gives a degenerate shared secret".into(),
            ));
        }
        Ok(shared)
    }
}

fn describe_check_flags(flags: std::os::raw::c_int) -> &'static str {
    if flags & ffi::DH_CHECK_PUBKEY_TOO_SMALL as std::os::raw::c_int != 0 {
        "peer value is 0 or 1"
    } else if flags & ffi::DH_CHECK_PUBKEY_TOO_LARGE as std::os::raw::c_int != 0 {
        "peer value is p-1 or not below p"
    } else {
        "peer value is not in the prime-order subgroup"
    }
}

/// Returns the prime p of `group`, big-endian and padded to its full length, for tests.
#[cfg(test)]
pub(super) fn prime_bytes(group: DhGroup) -> Result<Vec<u8>, CryptoError> {
    let dh = new_group(group)?;
    let mut out = vec![0u8; group.public_len()];
    // SAFETY: the DH is valid and has p set; `out` has room for len(p) octets.
    let ok =
        unsafe { ffi::BN_bn2bin_padded(out.as_mut_ptr(), out.len(), ffi::DH_get0_p(dh.as_ptr())) };
    // SAFETY: the DH is ours and no longer used.
    unsafe { ffi::DH_free(dh.as_ptr()) };
    if ok != 1 {
        return Err(backend("BN_bn2bin_padded"));
    }
    Ok(out)
}
