//! Process memory as `show memory` reports it, and glibc malloc tuning.
//!
//! The heap figures come from glibc's `mallinfo2()`, which sums every malloc arena and
//! so counts Rust allocations (the system allocator) and AWS-LC's C allocations alike.
//! The resident set comes from `/proc/self/statm`.

use serde::Serialize;

/// A snapshot of the process's memory, in octets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryUsage {
    /// Octets in allocated chunks (`uordblks + hblkhd`): the live heap, with malloc's
    /// per-chunk header.
    pub heap_used: u64,
    /// Octets malloc keeps free in its arenas (`fordblks`): freed memory not yet given
    /// back to the kernel.
    pub heap_free: u64,
    /// Octets of the heap arenas plus mmapped chunks (`arena + hblkhd`).
    pub heap_total: u64,
    /// Resident set size.
    pub rss: u64,
}

impl MemoryUsage {
    /// Reads the current figures. On a libc without `mallinfo2` the heap fields are 0.
    pub fn now() -> MemoryUsage {
        let (heap_used, heap_free, heap_total) = heap();
        MemoryUsage { heap_used, heap_free, heap_total, rss: resident_set() }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap() -> (u64, u64, u64) {
    // SAFETY: mallinfo2 takes no arguments, only reads malloc's statistics under the
    // arena locks, and returns a plain struct by value.
    let info = unsafe { libc::mallinfo2() };
    let used = (info.uordblks + info.hblkhd) as u64;
    (used, info.fordblks as u64, (info.arena + info.hblkhd) as u64)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap() -> (u64, u64, u64) {
    (0, 0, 0)
}

/// Resident set from `/proc/self/statm` (second field, in pages), or 0 when unreadable.
fn resident_set() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else { return 0 };
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page_size).unwrap_or(4096)
}

/// Limits glibc to two malloc arenas. Without a limit every thread that allocates gets
/// its own arena (up to 8 per core on 64-bit), and each arena keeps its freed memory
/// resident. Call once at start, before the worker threads exist.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes malloc parameters; M_ARENA_MAX takes a count.
        let ok = unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
        if ok != 1 {
            tracing::debug!("mallopt(M_ARENA_MAX) failed; glibc keeps its default arena limit");
        }
    }
}

/// Gives freed heap memory back to the kernel (`malloc_trim(0)`). Returns whether any
/// was released. The call walks every arena under its lock, so callers use it at a low
/// rate and never on the packet path.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes a byte count to keep and only releases free pages.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_allocation() {
        let before = MemoryUsage::now();
        // 4 MiB, far above what tests running in parallel allocate and free meanwhile.
        // black_box keeps an optimized build from removing the unused allocation.
        let block = std::hint::black_box(vec![1u8; 4 << 20]);
        let after = MemoryUsage::now();
        assert!(after.heap_used >= before.heap_used + (2 << 20), "{before:?} -> {after:?}");
        drop(block);
    }

    #[test]
    fn usage_has_resident_set() {
        assert!(MemoryUsage::now().rss > 0);
    }

    #[test]
    fn usage_total_covers_used() {
        let usage = MemoryUsage::now();
        assert!(usage.heap_total >= usage.heap_used);
    }
}
