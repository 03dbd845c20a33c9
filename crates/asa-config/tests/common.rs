//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

use rampart_asa::{Loaded, Severity};

pub fn example(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(rel)
}

pub fn load_example(rel: &str) -> Loaded {
    let loaded = rampart_asa::load_file(&example(rel)).expect("example file is readable");
    assert!(!loaded.has_errors(), "{rel} has errors:\n{}", loaded.render_diagnostics(false));
    loaded
}

pub fn codes(loaded: &Loaded) -> Vec<&'static str> {
    loaded.diagnostics.iter().map(|d| d.code).collect()
}

pub fn errors(loaded: &Loaded) -> Vec<&'static str> {
    loaded.diagnostics.iter().filter(|d| d.severity == Severity::Error).map(|d| d.code).collect()
}

pub const EXAMPLES: &[&str] =
    &["zscaler-asa-9.6.cfg", "zscaler-asa-9.0.cfg", "branch-running-config.cfg", "lab/zscaler-lab.cfg"];
