//! No input makes the parser, the checks, the lowering or the printer panic.

mod common;

use proptest::prelude::*;
use rampart_asa::{CheckOptions, Profile, check, load_str};

fn exercise(text: &str) {
    let loaded = load_str("fuzz.cfg", text);
    let _ = check(&loaded, &CheckOptions { profile: Profile::Zscaler, expected_mbps: Some(900), strict: true });
    let _ = loaded.render_diagnostics(false);
    let _ = loaded.to_json();
    let _ = loaded.config.policy();
    let _ = loaded.config.ike();
    let _ = loaded.config.running_config();
}

fn corpus() -> Vec<String> {
    common::EXAMPLES.iter().map(|e| std::fs::read_to_string(common::example(e)).expect("example readable")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_token_lines(lines in proptest::collection::vec(
        proptest::collection::vec(prop_oneof![
            Just("crypto".to_string()), Just("map".to_string()), Just("object".to_string()),
            Just("network".to_string()), Just("nat".to_string()), Just("(inside,outside)".to_string()),
            Just("access-list".to_string()), Just("extended".to_string()), Just("permit".to_string()),
            Just("object-group".to_string()), Just("host".to_string()), Just("any".to_string()),
            Just("eq".to_string()), Just("range".to_string()), Just("255.255.255.0".to_string()),
            Just("198.51.100.1".to_string()), Just("65000".to_string()), Just(" ".to_string()),
            Just("exit".to_string()), Just("group-object".to_string()), Just("<PSK>".to_string()),
            "[a-z0-9.<>/()-]{0,12}",
        ], 0..10), 0..40)) {
        let text: String = lines.iter().map(|l| l.join(" ")).collect::<Vec<_>>().join("\n");
        exercise(&text);
    }

    #[test]
    fn mutated_examples(which in 0usize..4, cuts in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16)) {
        let mut bytes = corpus()[which].clone().into_bytes();
        for (pos, b) in cuts {
            if bytes.is_empty() { break; }
            let i = pos % bytes.len();
            match b % 3 {
                0 => { bytes.remove(i); }
                1 => bytes[i] = b,
                _ => bytes.insert(i, b' '),
            }
        }
        exercise(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn self_referencing_group() {
    exercise("object-group network A\n group-object A\naccess-list X extended permit ip object-group A any\n");
}

#[test]
fn deep_group_chain() {
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&format!("object-group network G{i}\n group-object G{}\n", i + 1));
    }
    text.push_str("object-group network G5000\n network-object host 198.51.100.1\n");
    text.push_str("access-list X extended permit ip object-group G0 any\n");
    exercise(&text);
}

#[test]
fn huge_group_product_bounded() {
    let mut text = String::from("object-group network A\n");
    for i in 0..1000 {
        text.push_str(&format!(" network-object host 10.0.{}.{}\n", i / 250, i % 250));
    }
    text.push_str("object-group network B\n group-object A\n");
    text.push_str("access-list X extended permit tcp object-group A range 1 65535 object-group B range 1 2\n");
    let loaded = load_str("big.cfg", &text);
    assert!(loaded.diagnostics.iter().any(|d| d.code == "ace-expansion"));
    let acl = &loaded.config.policy().acls[0];
    assert_eq!(acl.entries.len(), rampart_asa::lower::MAX_ACE_EXPANSION);
}
