//! Object-group expansion stays linear in the configuration size and stops at the
//! expansion limit.

use std::fmt::Write;
use std::time::{Duration, Instant};

use rampart_asa::{CheckOptions, Profile, check, load_str};

/// Builds a chain of `levels` groups in which each group names the previous one twice.
fn doubling_chain(levels: usize, both_sides: bool) -> String {
    let mut text = String::from("object-group network L0\n network-object host 10.0.0.1\n network-object host 10.0.0.2\n");
    for i in 1..levels {
        let _ = write!(text, "object-group network L{i}\n group-object L{}\n network-object host 10.{i}.0.1\n group-object L{}\n", i - 1, i - 1);
    }
    let last = levels - 1;
    let dst = if both_sides { format!("object-group L{last}") } else { "any".to_string() };
    let _ = writeln!(text, "access-list A extended permit ip object-group L{last} {dst}");
    text
}

fn check_all(text: &str) -> (Vec<&'static str>, Duration) {
    let started = Instant::now();
    let loaded = load_str("t.cfg", text);
    let mut codes: Vec<&'static str> = loaded.diagnostics.iter().map(|d| d.code).collect();
    codes.extend(check(&loaded, &CheckOptions { profile: Profile::Zscaler, expected_mbps: None, strict: false }).iter().map(|d| d.code));
    let _ = loaded.config.policy();
    (codes, started.elapsed())
}

#[test]
fn expansion_doubling_chain_fast() {
    let (codes, elapsed) = check_all(&doubling_chain(26, false));
    assert!(elapsed < Duration::from_secs(1), "26-level chain took {elapsed:?}");
    assert!(!codes.contains(&"ace-expansion"), "{codes:?}");
}

#[test]
fn expansion_doubling_chain_counts_distinct() {
    let loaded = load_str("t.cfg", &doubling_chain(18, false));
    let policy = loaded.config.policy();
    let entries: usize = policy.acls.iter().map(|a| a.entries.len()).sum();
    // L0 holds two hosts and each later level adds one.
    assert_eq!(entries, 19);
}

#[test]
fn expansion_both_sides_fast() {
    let (codes, elapsed) = check_all(&doubling_chain(40, true));
    assert!(elapsed < Duration::from_secs(1), "40-level chain on both sides took {elapsed:?}");
    assert!(!codes.contains(&"ace-expansion"), "{codes:?}");
}

#[test]
fn expansion_limit_reported() {
    let mut text = String::new();
    for side in ["S", "D"] {
        let _ = writeln!(text, "object-group network {side}");
        for i in 0..400 {
            let _ = writeln!(text, " network-object host 10.{}.{}.1", i / 200, i % 200);
        }
    }
    text.push_str("access-list A extended permit ip object-group S object-group D\n");
    let (codes, elapsed) = check_all(&text);
    assert!(codes.contains(&"ace-expansion"), "{codes:?}");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}
