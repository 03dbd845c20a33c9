//! Golden tests: the rendered diagnostics of each `tests/golden/*.cfg` file, with the
//! Zscaler profile, must equal the `.txt` file beside it. Set `UPDATE_GOLDEN=1` to
//! rewrite the expected files after an intended change, and review the diff.

use std::path::PathBuf;

use rampart_asa::{CheckOptions, Profile, check, load_str};

fn render(name: &str, text: &str) -> String {
    let loaded = load_str(name, text);
    let mut diags = loaded.diagnostics.clone();
    diags.extend(check(&loaded, &CheckOptions { profile: Profile::Zscaler, expected_mbps: None, strict: false }));
    loaded.render(&diags, false)
}

#[test]
fn golden_diagnostics() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("golden directory exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cfg"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "golden cases missing");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failed = Vec::new();
    for cfg in cases {
        let name = cfg.file_name().and_then(|n| n.to_str()).unwrap_or("case.cfg").to_string();
        let text = std::fs::read_to_string(&cfg).expect("golden input readable");
        let got = render(&name, &text);
        let expected_path = cfg.with_extension("txt");
        if update {
            std::fs::write(&expected_path, &got).expect("golden output writable");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failed.push(format!("{name}:\n--- expected\n{expected}\n--- got\n{got}"));
        }
    }
    assert!(failed.is_empty(), "golden mismatch (UPDATE_GOLDEN=1 rewrites):\n{}", failed.join("\n"));
}
