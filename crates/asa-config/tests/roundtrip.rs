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
