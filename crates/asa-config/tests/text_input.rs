//! Line endings, byte order marks, empty files, binary files and control characters.

use std::io::Write;

use rampart_asa::{LoadError, Severity, load_file, load_str};

const POLICY: &str = "crypto ikev2 policy 1\n encryption aes-256\n integrity sha256\n group 14\n";

#[test]
fn cr_only_line_ends() {
    let loaded = load_str("t.cfg", &POLICY.replace('\n', "\r"));
    assert_eq!(loaded.config.ikev2_policies.len(), 1);
    assert!(loaded.config.ikev2_policies[0].groups.is_some());
}

#[test]
fn crlf_line_ends() {
    let loaded = load_str("t.cfg", &POLICY.replace('\n', "\r\n"));
    assert!(loaded.config.ikev2_policies[0].groups.is_some());
}

#[test]
fn bom_stripped() {
    let loaded = load_str("t.cfg", "\u{feff}crypto ikev2 enable outside\n");
    assert_eq!(loaded.config.ikev2_enable.len(), 1);
    assert!(loaded.config.unmodelled.is_empty());
}

#[test]
fn empty_config_warns() {
    for text in ["", "\n\n", "! comment only\n: Saved\n"] {
        let loaded = load_str("t.cfg", text);
        let codes: Vec<_> = loaded.diagnostics.iter().filter(|d| d.severity == Severity::Warning).map(|d| d.code).collect();
        assert_eq!(codes, vec!["empty-config"], "input {text:?}");
    }
}

fn write_temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("rampart-asa-{}-{name}", std::process::id()));
    let mut f = std::fs::File::create(&path).expect("temp file");
    f.write_all(bytes).expect("temp write");
    path
}

#[test]
fn nul_bytes_rejected() {
    let path = write_temp("nul.cfg", &[0, 0xff, 0, 0xff, b'\n']);
    let result = load_file(&path);
    let _ = std::fs::remove_file(&path);
    assert!(matches!(result, Err(LoadError::NotText { .. })));
}

#[test]
fn binary_garbage_rejected() {
    let bytes: Vec<u8> = (0u32..4000).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 1).collect();
    let path = write_temp("garbage.bin", &bytes);
    let result = load_file(&path);
    let _ = std::fs::remove_file(&path);
    assert!(matches!(result, Err(LoadError::NotText { .. })));
}

#[test]
fn control_chars_escaped() {
    let loaded = load_str("t.cfg", "foo \x1b[2J\x1b[31mred <\x1b[5mPSK>\n");
    let text = loaded.render_diagnostics(false);
    assert!(!text.contains('\x1b'), "{text}");
    assert!(text.contains("\\x1b[2J"), "{text}");
}
