//! Each diagnostic code fires on a minimal input and names the offending line.

use rampart_asa::{CheckOptions, Profile, Severity, check, load_str};

fn diagnose(text: &str, zscaler: bool) -> Vec<(&'static str, Severity, Option<u32>)> {
    let loaded = load_str("t.cfg", text);
    let mut all = loaded.diagnostics.clone();
    let profile = if zscaler { Profile::Zscaler } else { Profile::Generic };
    all.extend(check(&loaded, &CheckOptions { profile, expected_mbps: Some(1000), strict: false }));
    let json = loaded.json_with(&all);
    let lines: Vec<Option<u32>> =
        json["diagnostics"].as_array().map(|a| a.iter().map(|d| d["line"].as_u64().map(|l| l as u32)).collect()).unwrap_or_default();
    all.iter().zip(lines).map(|(d, l)| (d.code, d.severity, l)).collect()
}

fn has(text: &str, zscaler: bool, code: &str, line: u32) {
    let got = diagnose(text, zscaler);
    assert!(got.iter().any(|(c, _, l)| *c == code && *l == Some(line)), "expected {code} on line {line}, got {got:?}");
}

const VPN: &str = "interface G0
 nameif outside
 ip address 198.51.100.2 255.255.255.0
crypto ikev2 enable outside
crypto ikev2 policy 1
 encryption aes-256
 integrity sha256
 group 14
crypto ipsec ikev2 ipsec-proposal P
 protocol esp encryption aes-gcm-256
access-list A extended permit ip 192.0.2.0 255.255.255.0 any
crypto map M 65000 match address A
crypto map M 65000 set peer 203.0.113.10
crypto map M 65000 set ikev2 ipsec-proposal P
crypto map M interface outside
tunnel-group 203.0.113.10 type ipsec-l2l
tunnel-group 203.0.113.10 ipsec-attributes
 ikev2 remote-authentication pre-shared-key k-0123456789
 ikev2 local-authentication pre-shared-key k-0123456789
";

#[test]
fn base_vpn_clean() {
    let got = diagnose(VPN, true);
    assert!(got.iter().all(|(_, s, _)| *s != Severity::Error), "{got:?}");
}

#[test]
fn placeholder_psk() {
    has("tunnel-group 203.0.113.1 ipsec-attributes\n ikev2 local-authentication pre-shared-key <PSK>\n", false, "placeholder", 2);
}

#[test]
fn syntax_missing_value() {
    has("crypto map M 10 set peer\n", false, "syntax", 1);
}

#[test]
fn pmtu_aging_bad_values() {
    for value in ["599", "86401", "0", "-5", "forever", "600 seconds"] {
        let text = format!("hostname branch\ncrypto ipsec security-association pmtu-aging {value}\n");
        let got = diagnose(&text, false);
        let errors: Vec<_> = got.iter().filter(|(_, s, _)| *s == Severity::Error).collect();
        assert_eq!(errors.len(), 1, "pmtu-aging {value}: {got:?}");
        assert_eq!(errors[0].2, Some(2), "pmtu-aging {value}: {got:?}");
    }
}

#[test]
fn pmtu_aging_missing_value() {
    has("crypto ipsec security-association pmtu-aging\n", false, "syntax", 1);
}

#[test]
fn non_contiguous_mask() {
    has("object network A\n subnet 192.0.2.0 255.0.255.0\n", false, "non-contiguous-mask", 2);
}

#[test]
fn invalid_address() {
    has("object network A\n host 192.0.2.256\n", false, "invalid-address", 2);
}

#[test]
fn duplicate_definition() {
    has("object network A\n host 192.0.2.1\nobject-group network A\n", false, "duplicate-definition", 3);
}

#[test]
fn undefined_object() {
    has("access-list X extended permit ip object NOPE any\n", false, "undefined-object", 1);
}

#[test]
fn undefined_acl() {
    has(&VPN.replace("match address A", "match address B"), false, "undefined-acl", 12);
}

#[test]
fn undefined_proposal() {
    has(&VPN.replace("set ikev2 ipsec-proposal P", "set ikev2 ipsec-proposal Q"), false, "undefined-proposal", 14);
}

#[test]
fn undefined_tunnel_group() {
    has(&VPN.replace("set peer 203.0.113.10", "set peer 203.0.113.11"), false, "undefined-tunnel-group", 13);
}

#[test]
fn undefined_interface() {
    has(&VPN.replace("M interface outside", "M interface wan"), false, "undefined-interface", 15);
}

#[test]
fn missing_psk() {
    has(&VPN.replace(" ikev2 local-authentication pre-shared-key k-0123456789\n", ""), false, "missing-psk", 16);
}

#[test]
fn ikev2_not_enabled() {
    has(&VPN.replace("crypto ikev2 enable outside\n", ""), false, "ikev2-not-enabled", 14);
}

#[test]
fn incomplete_crypto_map() {
    has(&VPN.replace("crypto map M 65000 set peer 203.0.113.10\n", ""), false, "incomplete-crypto-map", 12);
}

#[test]
fn missing_policy_line() {
    has(&VPN.replace(" group 14\n", ""), false, "missing-line", 5);
}

#[test]
fn gcm_with_integrity() {
    has(&VPN.replace(" protocol esp encryption aes-gcm-256\n", " protocol esp encryption aes-gcm-256\n protocol esp integrity sha-256\n"), false, "gcm-integrity", 11);
}

#[test]
fn weak_group() {
    has(&VPN.replace(" group 14", " group 2"), false, "weak-algorithm", 8);
}

#[test]
fn nat_before_crypto() {
    let text = VPN.to_string() + "interface G1\n nameif inside\nnat (inside,outside) source dynamic any interface\n";
    has(&text, false, "nat-before-crypto", 22);
}

#[test]
fn identity_nat_clears_warning() {
    let text = VPN.to_string()
        + "interface G1\n nameif inside\nobject network lan\n subnet 192.0.2.0 255.255.255.0\nnat (inside,outside) source static lan lan\nnat (inside,outside) after-auto source dynamic any interface\n";
    assert!(!diagnose(&text, false).iter().any(|(c, _, _)| *c == "nat-before-crypto"));
}

#[test]
fn transform_set_rejected() {
    has("crypto ipsec ikev2 transform-set T esp-aes-gcm-256 esp-sha-hmac\n", false, "ikev2-transform-set", 1);
}

#[test]
fn group_cycle() {
    has("object-group network A\n group-object B\nobject-group network B\n group-object A\n", false, "object-group-cycle", 4);
}

#[test]
fn zscaler_pfs() {
    has(&(VPN.to_string() + "crypto map M 65000 set pfs group14\n"), true, "zscaler-pfs", 20);
}

#[test]
fn zscaler_throughput() {
    has(VPN, true, "zscaler-throughput", 12);
}

#[test]
fn zscaler_policy_shadow() {
    let text = VPN.to_string() + "crypto ikev2 policy 0\n";
    // Priority 0 is out of range: the line is an error and the policy is not created.
    has(&text, true, "invalid-value", 20);
}

#[test]
fn zscaler_child_sa_limit() {
    let mut text = VPN.to_string();
    for i in 1..8 {
        text.push_str(&format!("access-list A extended permit ip 192.0.{}.0 255.255.255.0 any\n", 2 + i));
    }
    has(&text, true, "zscaler-child-sa-limit", 12);
}

#[test]
fn zscaler_psk_mismatch() {
    let text = VPN.replace("local-authentication pre-shared-key k-0123456789", "local-authentication pre-shared-key other-0123456789");
    has(&text, true, "zscaler-psk-mismatch", 19);
}

#[test]
fn aes_128_names_asa_keyword() {
    let loaded = load_str("t.cfg", "crypto ikev2 policy 1\n encryption aes-128\n");
    let help = loaded.diagnostics.iter().find(|d| d.code == "invalid-value").and_then(|d| d.help.clone());
    assert_eq!(help.as_deref(), Some("the ASA keyword for 128-bit AES-CBC is `aes`"));
}

#[test]
fn zscaler_policy_names_rejected_group() {
    let text = VPN.replace(" group 14\n", " group 24\n");
    let loaded = load_str("t.cfg", &text);
    let found = check(&loaded, &CheckOptions { profile: Profile::Zscaler, expected_mbps: None, strict: false });
    let notes = found.iter().find(|d| d.code == "zscaler-ike-policy").map(|d| d.notes.clone()).unwrap_or_default();
    assert_eq!(notes, vec!["policy 1 offers no DH group that Zscaler accepts: 2, 5, 14, 19, 20 or 21 (it offers group 24)".to_string()]);
}

fn child_sa_help(acl_lines: &str) -> String {
    let text = VPN.replace("access-list A extended permit ip 192.0.2.0 255.255.255.0 any\n", acl_lines);
    let loaded = load_str("t.cfg", &text);
    let found = check(&loaded, &CheckOptions { profile: Profile::Zscaler, expected_mbps: None, strict: false });
    found.iter().find(|d| d.code == "zscaler-child-sa-limit").and_then(|d| d.help.clone()).unwrap_or_default()
}

#[test]
fn child_sa_ports_only_help() {
    let acl: String = (1..=8).map(|p| format!("access-list A extended permit tcp 192.0.2.0 255.255.255.0 any eq {}\n", 8000 + p)).collect();
    let help = child_sa_help(&acl);
    assert!(help.contains("differ in protocol or ports"), "{help}");
    assert!(help.contains("access-list A extended permit ip 192.0.2.0 255.255.255.0 any"), "{help}");
}

#[test]
fn child_sa_supernet_says_widening() {
    let acl: String = (0..8).map(|n| format!("access-list A extended permit tcp 10.0.{n}.0 255.255.255.0 any eq www\n")).collect();
    let help = child_sa_help(&acl);
    assert!(help.contains("10.0.0.0/21"), "{help}");
    assert!(help.contains("wider than the entries it replaces"), "{help}");
}

#[test]
fn denied_private_source_in_clear() {
    let text = VPN.replace(
        "access-list A extended permit ip 192.0.2.0 255.255.255.0 any\n",
        "object network L\n subnet 10.1.0.0 255.255.0.0\nobject network D\n host 10.1.0.80\naccess-list A extended deny ip object D any\naccess-list A extended permit ip object L any\nnat (inside,outside) source static L L no-proxy-arp route-lookup\n",
    );
    has(&text, false, "private-source-in-clear", 15);
}
