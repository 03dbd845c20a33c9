//! A misspelled keyword or an out-of-range value inside a command family that rampart
//! models is an error at that token, never a kept "unmodelled" line.

use rampart_asa::{Severity, load_str};

/// Error codes with their 1-based line and column. `missing-line` errors are left
/// out, because the short inputs here lack required lines on purpose.
fn errors(text: &str) -> Vec<(&'static str, u32, u32)> {
    let loaded = load_str("t.cfg", text);
    let json = loaded.to_json();
    let positions: Vec<(u32, u32)> = json["diagnostics"]
        .as_array()
        .map(|a| a.iter().map(|d| (d["line"].as_u64().unwrap_or(0) as u32, d["column"].as_u64().unwrap_or(0) as u32)).collect())
        .unwrap_or_default();
    loaded
        .diagnostics
        .iter()
        .zip(positions)
        .filter(|(d, _)| d.severity == Severity::Error && d.code != "missing-line")
        .map(|(d, (l, c))| (d.code, l, c))
        .collect()
}

fn unmodelled(text: &str) -> usize {
    load_str("t.cfg", text).config.unmodelled.len()
}

#[test]
fn typo_object_network_sub() {
    let text = "object network A\n subnt 10.0.0.0 255.0.0.0\naccess-list X extended permit ip object A any\n";
    assert_eq!(errors(text), vec![("syntax", 2, 2)]);
    assert_eq!(unmodelled(text), 0);
}

#[test]
fn typo_object_network_suggests() {
    let loaded = load_str("t.cfg", "object network A\n subnt 10.0.0.0 255.0.0.0\n");
    assert_eq!(loaded.diagnostics[0].help.as_deref(), Some("did you mean `subnet`?"));
}

#[test]
fn typo_crypto_map_set_peer() {
    assert_eq!(errors("crypto map M 65000 set peeer 203.0.113.10\n"), vec![("syntax", 1, 24)]);
}

#[test]
fn typo_crypto_map_interface() {
    assert_eq!(errors("crypto map M interfce outside\n"), vec![("syntax", 1, 14)]);
}

#[test]
fn typo_crypto_ikev2_policy() {
    assert_eq!(errors("crypto ikev2 polciy 1\n"), vec![("syntax", 1, 14)]);
}

#[test]
fn typo_crypto_ikev2_enable() {
    assert_eq!(errors("crypto ikev2 enabel outside\n"), vec![("syntax", 1, 14)]);
}

#[test]
fn typo_ikev2_policy_sub() {
    assert_eq!(errors("crypto ikev2 policy 1\n encrypton aes-256\n"), vec![("syntax", 2, 2)]);
}

#[test]
fn crypto_map_sequence_out_of_range() {
    assert_eq!(errors("crypto map M 70000 match address A\n"), vec![("invalid-value", 1, 14)]);
}

#[test]
fn crypto_map_set_esn_rejected() {
    assert_eq!(errors("crypto map M 65000 set esn\n"), vec![("syntax", 1, 24)]);
}

#[test]
fn unmodelled_commands_still_kept() {
    let text = "logging enable\nssh 198.51.100.0 255.255.255.0 inside\ncrypto ikev2 remote-access trustpoint TP\ncrypto map M 10 set reverse-route\n";
    assert!(errors(text).is_empty(), "{:?}", errors(text));
    assert_eq!(unmodelled(text), 4);
}

#[test]
fn failed_mode_children_skipped() {
    let text = "crypto ikev2 policy 0\n encryption aes-256\n";
    assert_eq!(errors(text), vec![("invalid-value", 1, 21)]);
    assert_eq!(unmodelled(text), 0);
}

/// Every error code, `missing-line` and `missing-psk` included.
fn all_errors(text: &str) -> Vec<&'static str> {
    load_str("t.cfg", text).diagnostics.iter().filter(|d| d.severity == Severity::Error).map(|d| d.code).collect()
}

#[test]
fn bad_dh_group_one_error() {
    let text = "crypto ikev2 policy 1\n encryption aes-256\n integrity sha256\n group 3\n prf sha256\n";
    assert_eq!(all_errors(text), vec!["invalid-value"]);
}

#[test]
fn psk_placeholder_one_error() {
    let text = "crypto map M 10 match address A\ncrypto map M 10 set peer 203.0.113.10\ntunnel-group 203.0.113.10 type ipsec-l2l\ntunnel-group 203.0.113.10 ipsec-attributes\n ikev2 remote-authentication pre-shared-key <PSK>\n ikev2 local-authentication pre-shared-key k-0123456789\n";
    assert!(!all_errors(text).contains(&"missing-psk"), "{:?}", all_errors(text));
}

#[test]
fn tunnel_protocol_typo_marked() {
    let text = "group-policy G attributes\n vpn-tunnel-protocol ikev3\n";
    assert_eq!(errors(text), vec![("syntax", 2, 22)]);
}

#[test]
fn empty_object_reference_error() {
    let text = "object network A\n description no address\naccess-list X extended permit ip object A any\n";
    assert_eq!(errors(text), vec![("empty-object", 3, 41)]);
}

#[test]
fn typo_cascades_suppressed() {
    let base = "interface G0\n nameif outside\n ip address 198.51.100.2 255.255.255.0\ncrypto ikev2 enable outside\ncrypto ikev2 policy 1\n encryption aes-256\n integrity sha256\n group 14\ncrypto map M 10 match address A\ncrypto map M 10 set peer 203.0.113.10\ncrypto map M interface outside\n";
    let cases = [
        ("crypto map M 10 set peer 203.0.113.10\n", "crypto map M 10 set peeer 203.0.113.10\n", "incomplete-crypto-map"),
        ("crypto map M interface outside\n", "crypto map M interfce outside\n", "unbound-crypto-map"),
        ("crypto ikev2 enable outside\n", "crypto ikev2 enabel outside\n", "ikev2-not-enabled"),
        ("crypto ikev2 policy 1\n", "crypto ikev2 policy 0\n", "missing-line"),
    ];
    for (good, bad, cascade) in cases {
        let loaded = load_str("t.cfg", &base.replace(good, bad));
        let codes: Vec<&str> = loaded.diagnostics.iter().filter(|d| d.severity >= Severity::Warning).map(|d| d.code).collect();
        let typo_codes = codes.iter().filter(|c| **c == "syntax" || **c == "invalid-value").count();
        assert_eq!(typo_codes, 1, "{bad:?}: {codes:?}");
        assert!(!codes.contains(&cascade), "{bad:?}: {codes:?}");
    }
}
