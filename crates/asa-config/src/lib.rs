//! Cisco ASA CLI front end: parser, diagnostics, checks and lowering.
//!
//! [`load_file`] and [`load_str`] parse ASA text into a typed [`Config`] with spans,
//! resolve every reference and run the generic checks. [`Config::policy`] and
//! [`Config::ike`] lower it into the policy engine's and the IKE engine's models, and
//! [`check`] adds profile checks such as Zscaler's.

pub mod ast;
pub mod checks;
pub mod diag;
mod display;
pub mod keywords;
mod lexer;
pub mod lower;
mod parse;
mod print;
pub mod resolve;
pub mod span;

use std::path::{Path, PathBuf};

use serde_json::json;

pub use ast::Config;
pub use checks::{CheckOptions, Profile, check};
pub use diag::{Diagnostic, Severity};

/// A parsed, resolved and checked configuration with its source text.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// File name used in diagnostics.
    pub name: String,
    pub source: String,
    pub config: Config,
    /// Parse errors, reference errors and generic check results, in that order.
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a text configuration file: {reason}")]
    NotText { path: PathBuf, reason: &'static str },
}

/// Reads, parses, resolves and checks (generic checks only) a configuration file.
pub fn load_file(path: &Path) -> Result<Loaded, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
    if let Some(reason) = binary_reason(&bytes) {
        return Err(LoadError::NotText { path: path.to_path_buf(), reason });
    }
    // ASA configurations are ASCII. A stray non-UTF-8 byte (a Latin-1 description) is
    // replaced rather than rejected so that the diagnostics can point at it.
    let text = String::from_utf8_lossy(&bytes);
    Ok(load_str(&path.display().to_string(), &text))
}

/// Returns why `bytes` cannot be configuration text: a NUL byte, or more than one
/// character in ten that is a control character or not UTF-8.
fn binary_reason(bytes: &[u8]) -> Option<&'static str> {
    if bytes.contains(&0) {
        return Some("it contains NUL bytes");
    }
    let text = String::from_utf8_lossy(bytes);
    let mut total = 0usize;
    let mut odd = 0usize;
    for ch in text.chars() {
        total += 1;
        if ch == char::REPLACEMENT_CHARACTER || (ch.is_control() && !matches!(ch, '\t' | '\n' | '\r' | '\x0c')) {
            odd += 1;
        }
    }
    (odd * 10 > total).then_some("more than 10% of its characters are control characters or invalid UTF-8")
}

/// Removes a UTF-8 byte order mark and turns CRLF and lone CR line ends into LF, so
/// that files saved by any editor or TFTP server split into the same lines.
fn normalize_text(text: &str) -> std::borrow::Cow<'_, str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !text.contains('\r') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Parses, resolves and checks (generic checks only) configuration text.
///
/// `Loaded::source` holds the text with a byte order mark removed and every line
/// ending turned into LF, and every span points into that text.
pub fn load_str(name: &str, text: &str) -> Loaded {
    let text = normalize_text(text);
    let (config, mut diagnostics) = parse::parse(&text);
    if !has_commands(&text) {
        diagnostics.push(
            Diagnostic::warning("empty-config", "the configuration contains no commands")
                .with_help("check the file name; `show running-config` output or typed CLI lines are expected"),
        );
    }
    diagnostics.extend(resolve::check_references(&config));
    diagnostics.extend(checks::generic(&config));
    Loaded { name: name.to_string(), source: text.into_owned(), config, diagnostics }
}

/// True when a line holds something other than blanks and `!` or `:` comments.
fn has_commands(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('!') && !t.starts_with(':')
    })
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }

    fn renderer(&self) -> diag::Renderer<'_> {
        diag::Renderer { name: &self.name, source: &self.source, lines: &self.config.index.lines }
    }

    /// Renders `self.diagnostics` as text (ANSI colours when `color`).
    pub fn render_diagnostics(&self, color: bool) -> String {
        self.render(&self.diagnostics, color)
    }

    /// Renders any diagnostics about this file, such as the output of [`check`].
    pub fn render(&self, diagnostics: &[Diagnostic], color: bool) -> String {
        self.renderer().render(diagnostics, color)
    }

    /// `self.diagnostics` and a summary of the resolved model, for automation.
    pub fn to_json(&self) -> serde_json::Value {
        self.json_with(&self.diagnostics)
    }

    /// Like [`Loaded::to_json`] with another diagnostic list (such as load plus check).
    pub fn json_with(&self, diagnostics: &[Diagnostic]) -> serde_json::Value {
        let r = self.renderer();
        let count = |s: Severity| diagnostics.iter().filter(|d| d.severity == s).count();
        json!({
            "file": self.name,
            "errors": count(Severity::Error),
            "warnings": count(Severity::Warning),
            "notes": count(Severity::Note),
            "diagnostics": diagnostics.iter().map(|d| r.to_json(d)).collect::<Vec<_>>(),
            "model": self.config.summary_json(),
        })
    }
}

impl Config {
    /// Builds the policy engine's model: interfaces, routes, expanded ACLs, NAT and crypto maps.
    pub fn policy(&self) -> rampart_policy::model::PolicyConfig {
        lower::policy(self)
    }

    /// Builds the IKE engine's model: one peer per crypto map entry with peers.
    pub fn ike(&self) -> rampart_ike::config::IkeConfig {
        lower::ike(self)
    }

    /// `show running-config` output, with keys masked as `*****`.
    pub fn running_config(&self) -> String {
        print::running_config(self, false)
    }

    /// `show running-config` output with keys in clear, for `more system:running-config`
    /// and for saving the configuration. Never log it.
    pub fn running_config_with_keys(&self) -> String {
        print::running_config(self, true)
    }

    /// Summarises the resolved model for `--format json`. Keys are never included.
    pub fn summary_json(&self) -> serde_json::Value {
        let ike = self.ike();
        let peers: Vec<_> = ike
            .peers
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "local_addr": p.local_addr,
                    "remotes": p.remotes.iter().map(|r| json!({
                        "addr": r.addr,
                        "tunnel_group": r.tunnel_group,
                        "peer_id_validate": r.peer_id_validate,
                        "dpd": r.dpd,
                    })).collect::<Vec<_>>(),
                    "local_identity": p.local_identity,
                    "ike_proposals": p.ike_proposals,
                    "children": p.children.iter().map(|c| json!({
                        "ace": c.ace,
                        "local_ts": c.local_ts,
                        "remote_ts": c.remote_ts,
                        "proposals": c.proposals.iter().map(|e| &e.name).collect::<Vec<_>>(),
                        "pfs": c.pfs,
                        "lifetime_seconds": c.lifetime.as_secs(),
                        "lifetime_kilobytes": c.lifetime_kilobytes,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let unmodelled = self.unmodelled.iter().filter(|u| u.parent.is_none()).count();
        json!({
            "version": self.version.as_ref().map(|v| &v.value),
            "hostname": self.hostname.as_ref().map(|v| &v.value),
            "interfaces": self.interfaces.iter().filter_map(|f| f.nameif.as_ref().map(|n| &n.value)).collect::<Vec<_>>(),
            "network_objects": self.network_objects.len(),
            "service_objects": self.service_objects.len(),
            "object_groups": self.object_groups.len(),
            "access_lists": self.acls.len(),
            "nat_rules": self.manual_nat.len() + self.network_objects.iter().filter(|o| o.nat.is_some()).count(),
            "ikev2_policies": self.ikev2_policies.iter().map(|p| p.priority.value).collect::<Vec<_>>(),
            "ipsec_proposals": self.ipsec_proposals.iter().map(|p| &p.name.value).collect::<Vec<_>>(),
            "tunnel_groups": self.tunnel_groups.iter().map(|t| &t.name.value).collect::<Vec<_>>(),
            "peers": peers,
            "unmodelled_commands": unmodelled,
        })
    }
}
