//! `show running-config` output parses back to the same model.

mod common;

use common::{EXAMPLES, load_example};

#[test]
fn examples_round_trip() {
    for e in EXAMPLES {
        let cfg = load_example(e).config;
        let printed = cfg.running_config_with_keys();
        let again = rampart_asa::load_str("printed", &printed);
        assert!(!again.has_errors(), "{e}: printed config has errors:\n{}", again.render_diagnostics(false));
        assert_eq!(again.config, cfg, "{e}: model changed after print and parse:\n{printed}");
        assert_eq!(again.config.running_config_with_keys(), printed, "{e}: printing is not stable");
    }
}

#[test]
fn running_config_masks_keys() {
    for e in EXAMPLES {
        let cfg = load_example(e).config;
        let masked = cfg.running_config();
        assert!(!masked.contains("psk-"), "{e}: key printed in clear");
        assert!(masked.contains("pre-shared-key *****"), "{e}: no masked key");
    }
}

#[test]
fn exit_mode_equals_indented() {
    let typed = "object network A\nhost 198.51.100.7\nexit\ncrypto ikev2 policy 1\nencryption aes-256\nintegrity sha256\ngroup 14\nexit\n";
    let shown = "object network A\n host 198.51.100.7\ncrypto ikev2 policy 1\n encryption aes-256\n integrity sha256\n group 14\n";
    assert_eq!(rampart_asa::load_str("a", typed).config, rampart_asa::load_str("b", shown).config);
}

#[test]
fn keywords_case_insensitive() {
    let upper = "OBJECT NETWORK Web\n HOST 198.51.100.7\nACCESS-LIST Acl EXTENDED PERMIT TCP ANY OBJECT Web EQ WWW\n";
    let lower = "object network Web\n host 198.51.100.7\naccess-list Acl extended permit tcp any object Web eq www\n";
    let a = rampart_asa::load_str("a", upper);
    assert!(!a.has_errors(), "{}", a.render_diagnostics(false));
    assert_eq!(a.config, rampart_asa::load_str("b", lower).config);
    assert!(a.config.network_object("Web").is_some());
    assert!(a.config.network_object("web").is_none());
}

mod mutated {
    use proptest::prelude::*;

    use super::common;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

        /// A mutated example that still loads without errors must also round-trip.
        #[test]
        fn mutated_examples_round_trip(which in 0usize..4, cuts in proptest::collection::vec((any::<usize>(), 0u8..4), 1..6)) {
            let text = std::fs::read_to_string(common::example(common::EXAMPLES[which])).expect("example readable");
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            for (pos, op) in cuts {
                if lines.is_empty() { break; }
                let i = pos % lines.len();
                match op {
                    0 => { lines.remove(i); }
                    1 => { let l = lines[i].clone(); lines.insert(i, l); }
                    2 => lines[i] = lines[i].trim_start().to_string(),
                    _ => { let l = lines.remove(i); let j = (pos / 7) % (lines.len() + 1); lines.insert(j, l); }
                }
            }
            let loaded = rampart_asa::load_str("m.cfg", &lines.join("\n"));
            if !loaded.diagnostics.iter().any(|d| d.severity == rampart_asa::Severity::Error) {
                let printed = loaded.config.running_config_with_keys();
                let again = rampart_asa::load_str("p.cfg", &printed);
                prop_assert_eq!(&again.config, &loaded.config, "printed:\n{}", printed);
            }
        }
    }
}
