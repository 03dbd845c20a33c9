//! The capabilities that `rampart run` needs: CAP_NET_ADMIN for the TUN device, routes
//! and rules, CAP_NET_RAW for the raw ESP socket.

use std::fs;

/// Capability numbers from linux/capability.h.
const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;

/// Names of the required capabilities missing from this process's effective set, read
/// from `CapEff` in /proc/self/status. Returns an empty list when everything is present.
pub fn missing_capabilities() -> Vec<&'static str> {
    let effective = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| effective_set(&status))
        .unwrap_or(0);
    missing_from(effective)
}

fn effective_set(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    let hex = line["CapEff:".len()..].trim();
    u64::from_str_radix(hex, 16).ok()
}

fn missing_from(effective: u64) -> Vec<&'static str> {
    let mut missing = Vec::new();
    for (bit, name) in [(CAP_NET_ADMIN, "CAP_NET_ADMIN"), (CAP_NET_RAW, "CAP_NET_RAW")] {
        if effective & (1u64 << bit) == 0 {
            missing.push(name);
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_set_parses_hex() {
        let status = "Name:\trampart\nCapEff:\t000001ffffffffff\n";
        assert_eq!(effective_set(status), Some(0x1ff_ffff_ffff));
    }

    #[test]
    fn missing_from_root_is_empty() {
        assert!(missing_from(0x1ff_ffff_ffff).is_empty());
    }

    #[test]
    fn missing_from_none_lists_both() {
        assert_eq!(missing_from(0), vec!["CAP_NET_ADMIN", "CAP_NET_RAW"]);
    }

    #[test]
    fn missing_from_admin_only() {
        assert_eq!(missing_from(1 << CAP_NET_ADMIN), vec!["CAP_NET_RAW"]);
    }
}
