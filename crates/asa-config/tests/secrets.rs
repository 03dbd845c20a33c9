//! Keys never appear in rendered diagnostics, whatever error their line has.

use rampart_asa::{CheckOptions, Profile, check, load_str};

const KEYS: &[&str] = &["example-psk-replace-me-0123456789", "EncryptedBlobXYZ", "V1SecretKey", "LongKey0123456789"];

fn render_all(text: &str, strict: bool) -> String {
    let loaded = load_str("t.cfg", text);
    let mut diags = loaded.diagnostics.clone();
    diags.extend(check(&loaded, &CheckOptions { profile: Profile::Zscaler, expected_mbps: None, strict }));
    let json = serde_json::to_string(&loaded.json_with(&diags)).unwrap_or_default();
    format!("{}\n{json}", loaded.render(&diags, false))
}

fn assert_no_key(text: &str, strict: bool) {
    let out = render_all(text, strict);
    for key in KEYS {
        assert!(!out.contains(key), "key `{key}` printed:\n{out}");
    }
}

#[test]
fn secrets_typo_line_masked() {
    assert_no_key("tunnel-group 203.0.113.10 ipsec-attributes\n ikev2 remote-authentcation pre-shared-key example-psk-replace-me-0123456789\n", false);
}

#[test]
fn secrets_type8_masked() {
    assert_no_key("tunnel-group 203.0.113.10 ipsec-attributes\n ikev2 local-authentication pre-shared-key 8 EncryptedBlobXYZ\n", false);
}

#[test]
fn secrets_ikev1_strict_masked() {
    assert_no_key("tunnel-group 203.0.113.10 ipsec-attributes\n ikev1 pre-shared-key V1SecretKey\n", true);
}

#[test]
fn secrets_long_key_masked() {
    let key = "LongKey0123456789".repeat(9);
    assert_no_key(&format!("tunnel-group 203.0.113.10 ipsec-attributes\n ikev2 local-authentication pre-shared-key {key}\n"), false);
}

#[test]
fn secrets_trailing_words_masked() {
    assert_no_key("tunnel-group 203.0.113.10 ipsec-attributes\n ikev2 local-authentication pre-shared-key example-psk-replace-me-0123456789 V1SecretKey\n", false);
}

fn error_codes(text: &str) -> Vec<&'static str> {
    load_str("t.cfg", text).diagnostics.iter().filter(|d| d.severity == rampart_asa::Severity::Error).map(|d| d.code).collect()
}

#[test]
fn psk_with_blanks_rejected() {
    let codes = error_codes("tunnel-group 203.0.113.10 ipsec-attributes\n ikev2 remote-authentication pre-shared-key ex ample\n");
    assert_eq!(codes, vec!["invalid-value"]);
}

#[test]
fn psk_hex_rejected() {
    let codes = error_codes("tunnel-group 203.0.113.10 ipsec-attributes\n ikev2 local-authentication pre-shared-key hex 0x41424344\n");
    assert_eq!(codes, vec!["unsupported"]);
}
