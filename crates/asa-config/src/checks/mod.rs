//! Checks on a parsed configuration: generic ones that every load runs, and profile
//! checks (Zscaler) that `rampart check --profile` adds.

mod generic;
mod zscaler;

pub(crate) use generic::generic;

use crate::Loaded;
use crate::diag::Diagnostic;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Profile {
    #[default]
    Generic,
    /// Zscaler ZIA IPsec: the constraints of Zscaler's ASA guide and tunnel limits.
    Zscaler,
}

#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    pub profile: Profile,
    /// Expected traffic through the tunnels, in Mbit/s, to size the number of tunnels.
    pub expected_mbps: Option<u32>,
    /// Reject every command that rampart does not model.
    pub strict: bool,
}

/// Runs the checks that `load_*` does not: the profile's checks and, under `strict`,
/// one error per unmodelled command. The result excludes `loaded.diagnostics`.
pub fn check(loaded: &Loaded, opts: &CheckOptions) -> Vec<Diagnostic> {
    let cfg = &loaded.config;
    let mut out = Vec::new();
    if opts.strict {
        for u in &cfg.unmodelled {
            let mode = u.parent.as_deref().map_or(String::new(), |p| format!(" (under `{p}`)"));
            out.push(
                Diagnostic::error("unmodelled-command", format!("command not supported by rampart{mode}"))
                    .at(u.text.span, "rejected under --strict")
                    .with_help("remove the command, or run without --strict to keep it as an ignored line"),
            );
        }
    }
    if opts.profile == Profile::Zscaler {
        out.extend(zscaler::check(cfg, opts));
    } else if let Some(mbps) = opts.expected_mbps {
        out.extend(zscaler::throughput(cfg, mbps));
    }
    out
}
