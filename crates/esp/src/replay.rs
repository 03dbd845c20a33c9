//! Anti-replay window (RFC 4303 section 3.4.3) kept as a ring of 64-bit words
//! (RFC 6479), so sliding the window clears whole words instead of shifting bits.

use crate::DropReason;

/// Default window size in packets. The ASA's default is 64; rampart keeps 1024 because
/// parallel transmit queues reorder packets far more than a 64-packet window tolerates.
pub const DEFAULT_WINDOW: u32 = 1024;

/// Receiver state for 32-bit sequence numbers (no ESN).
#[derive(Clone, Debug)]
pub struct ReplayWindow {
    /// Window size in packets; 0 disables the check.
    size: u32,
    /// Highest sequence number accepted so far; 0 before the first packet.
    top: u32,
    /// Bit `s % 64` of word `(s / 64) % bitmap.len()` records sequence number `s`.
    bitmap: Box<[u64]>,
    /// `ceil(2^64 / bitmap.len())`, for the remainder by multiplication in `word`.
    remainder_magic: u64,
}

impl ReplayWindow {
    /// Creates a window of `size` packets; 0 disables replay detection.
    ///
    /// The ring has one word more than the window spans, so the word of `top` is never
    /// the word being cleared on a slide. It is not rounded up to a power of two: every
    /// inbound SA has one, and rounding would double the 1024-packet default (17 words
    /// to 32).
    pub fn new(size: u32) -> ReplayWindow {
        let words = if size == 0 { 1 } else { size.div_ceil(64) + 1 };
        ReplayWindow {
            size,
            top: 0,
            bitmap: vec![0; words as usize].into_boxed_slice(),
            remainder_magic: (u64::MAX / u64::from(words)).wrapping_add(1),
        }
    }

    /// Ring index of the word of block `block` (sequence number / 64): `block %
    /// bitmap.len()` computed as the high half of `(magic * block mod 2^64) * len` with
    /// `magic = ceil(2^64 / len)`. That is exact for every 32-bit block and ring length
    /// (checked against `%` in the tests) and keeps a division off the per-packet path.
    #[inline]
    fn word(&self, block: u32) -> usize {
        let low = self.remainder_magic.wrapping_mul(u64::from(block));
        ((u128::from(low) * self.bitmap.len() as u128) >> 64) as usize
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// Highest sequence number accepted so far.
    pub fn top(&self) -> u32 {
        self.top
    }

    #[inline]
    fn slot(&self, seq: u32) -> (usize, u64) {
        (self.word(seq >> 6), 1u64 << (seq & 63))
    }

    /// Checks a sequence number before the ICV is verified, so forged replays cost no
    /// decryption. Changes nothing: call [`ReplayWindow::accept`] after the ICV verified.
    #[inline]
    pub fn check(&self, seq: u32) -> Result<(), DropReason> {
        if self.size == 0 {
            return Ok(());
        }
        if seq == 0 {
            return Err(DropReason::ReplayTooOld);
        }
        if seq > self.top {
            return Ok(());
        }
        if self.top - seq >= self.size {
            return Err(DropReason::ReplayTooOld);
        }
        let (word, bit) = self.slot(seq);
        if self.bitmap[word] & bit != 0 {
            return Err(DropReason::ReplayDuplicate);
        }
        Ok(())
    }

    /// Records an authenticated sequence number, sliding the window when it is new.
    #[inline]
    pub fn accept(&mut self, seq: u32) {
        if self.size == 0 {
            return;
        }
        if seq > self.top {
            let old_block = self.top >> 6;
            let new_block = seq >> 6;
            if (new_block - old_block) as usize >= self.bitmap.len() {
                self.bitmap.fill(0);
            } else {
                for block in old_block + 1..=new_block {
                    let word = self.word(block);
                    self.bitmap[word] = 0;
                }
            }
            self.top = seq;
        }
        let (word, bit) = self.slot(seq);
        self.bitmap[word] |= bit;
    }

    /// Returns the 64 most recent positions, bit `i` set when `top - i` was received:
    /// the "Anti replay bitmap" of `show crypto ipsec sa`.
    pub fn recent_bitmap(&self) -> u64 {
        let mut out = 0u64;
        for i in 0..64u32 {
            let Some(seq) = self.top.checked_sub(i) else { break };
            if seq == 0 || i >= self.size {
                break;
            }
            let (word, bit) = self.slot(seq);
            if self.bitmap[word] & bit != 0 {
                out |= 1 << i;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(w: &mut ReplayWindow, seq: u32) -> Result<(), DropReason> {
        w.check(seq)?;
        w.accept(seq);
        Ok(())
    }

    #[test]
    fn replay_duplicate() {
        let mut w = ReplayWindow::new(1024);
        assert_eq!(receive(&mut w, 5), Ok(()));
        assert_eq!(receive(&mut w, 5), Err(DropReason::ReplayDuplicate));
    }

    #[test]
    fn replay_zero_rejected() {
        let w = ReplayWindow::new(1024);
        assert_eq!(w.check(0), Err(DropReason::ReplayTooOld));
    }

    #[test]
    fn replay_too_old() {
        let mut w = ReplayWindow::new(1024);
        assert_eq!(receive(&mut w, 2000), Ok(()));
        assert_eq!(w.check(976), Err(DropReason::ReplayTooOld));
        assert_eq!(w.check(977), Ok(()));
    }

    #[test]
    fn replay_out_of_order_within_window() {
        let mut w = ReplayWindow::new(1024);
        for seq in [10u32, 8, 9, 1, 1033, 11, 12] {
            assert_eq!(receive(&mut w, seq), Ok(()), "seq {seq}");
        }
        assert_eq!(w.check(11), Err(DropReason::ReplayDuplicate));
        assert_eq!(w.check(9), Err(DropReason::ReplayTooOld));
        assert_eq!(w.check(1033), Err(DropReason::ReplayDuplicate));
        assert_eq!(w.check(500), Ok(()));
    }

    #[test]
    fn replay_slide_clears_stale_bits() {
        let mut w = ReplayWindow::new(1024);
        // 17 words: one ring length is 1088 sequence numbers, so the word that held
        // 100 is reused for 100 + 1088.
        assert_eq!(receive(&mut w, 100), Ok(()));
        assert_eq!(receive(&mut w, 100 + 1088 - 64), Ok(()));
        assert_eq!(w.check(100 + 1088), Ok(()));
        assert_eq!(receive(&mut w, 100 + 1088), Ok(()));
        assert_eq!(w.check(1088 + 99), Ok(()));
    }

    #[test]
    fn replay_word_matches_remainder() {
        for size in [0u32, 32, 64, 100, 1024, 4000, 1_048_576] {
            let w = ReplayWindow::new(size);
            let len = w.bitmap.len() as u32;
            for block in (0..5000u32).chain([u32::MAX >> 6, (u32::MAX >> 6) - 1, 1 << 20]) {
                assert_eq!(w.word(block), (block % len) as usize, "size {size} block {block}");
            }
        }
    }

    #[test]
    fn replay_bitmap_not_rounded() {
        assert_eq!(ReplayWindow::new(1024).bitmap.len(), 17);
    }

    #[test]
    fn replay_large_jump() {
        let mut w = ReplayWindow::new(1024);
        for seq in 1..=64u32 {
            assert_eq!(receive(&mut w, seq), Ok(()));
        }
        assert_eq!(receive(&mut w, 1_000_000), Ok(()));
        assert_eq!(w.check(1_000_000 - 1), Ok(()));
        assert_eq!(w.check(64), Err(DropReason::ReplayTooOld));
    }

    #[test]
    fn replay_every_seq_once_in_window() {
        let mut w = ReplayWindow::new(4096);
        let mut seqs: Vec<u32> = (1..=20_000).collect();
        // Reorder inside blocks of 1000, well within the window.
        for block in seqs.chunks_mut(1000) {
            block.reverse();
        }
        for &seq in &seqs {
            assert_eq!(receive(&mut w, seq), Ok(()), "seq {seq}");
        }
        for seq in 16_000..=20_000 {
            assert_eq!(w.check(seq), Err(DropReason::ReplayDuplicate), "seq {seq}");
        }
    }

    #[test]
    fn replay_disabled() {
        let mut w = ReplayWindow::new(0);
        assert_eq!(receive(&mut w, 7), Ok(()));
        assert_eq!(receive(&mut w, 7), Ok(()));
    }

    #[test]
    fn replay_recent_bitmap() {
        let mut w = ReplayWindow::new(1024);
        for seq in [1u32, 2, 4] {
            assert_eq!(receive(&mut w, seq), Ok(()));
        }
        // Bit 0 is 4, bit 1 is 3 (missing), bits 2 and 3 are 2 and 1.
        assert_eq!(w.recent_bitmap(), 0b1101);
    }
}
