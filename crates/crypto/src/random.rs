//! Sources of random octets for SPIs, nonces, IVs and Diffie-Hellman private keys.

/// A source of random octets. Production code uses [`SystemRandom`]; tests pass a
/// [`TestRandom`] to make SPIs, nonces and key exchanges repeatable.
pub trait Random: Send {
    /// Fills `buf` completely with random octets.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The AWS-LC CSPRNG (`RAND_bytes`), seeded from the operating system.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRandom;

impl SystemRandom {
    pub fn new() -> Self {
        SystemRandom
    }
}

impl Random for SystemRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // AWS-LC's RAND_bytes returns 1 unconditionally and aborts the process itself
        // when it cannot get entropy. Aborting here as well keeps that guarantee if a
        // later version reports the failure instead: predictable keys are worse than
        // a crash.
        if aws_lc_rs::rand::fill(buf).is_err() {
            std::process::abort();
        }
    }
}

/// A deterministic SplitMix64 stream. NOT cryptographically secure: its output is
/// predictable from the seed. Use it only in tests and simulations that need repeatable
/// SPIs, nonces and Diffie-Hellman keys, never for a real SA.
#[derive(Clone, Debug)]
pub struct TestRandom {
    state: u64,
}

impl TestRandom {
    pub fn new(seed: u64) -> Self {
        TestRandom { state: seed }
    }

    /// SplitMix64 step (Steele, Lea and Flood, "Fast splittable pseudorandom number
    /// generators", OOPSLA 2014).
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Random for TestRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_be_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_random_repeats_for_same_seed() {
        let mut a = [0u8; 37];
        let mut b = [0u8; 37];
        TestRandom::new(7).fill(&mut a);
        TestRandom::new(7).fill(&mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn test_random_differs_between_seeds() {
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        TestRandom::new(1).fill(&mut a);
        TestRandom::new(2).fill(&mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn test_random_splitmix_reference() {
        // First output of SplitMix64 seeded with 0, as in the reference C code.
        let mut rng = TestRandom::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn system_random_fills_buffer() {
        let mut buf = [0u8; 64];
        SystemRandom::new().fill(&mut buf);
        assert_ne!(buf, [0u8; 64]);
    }
}
