//! `rampart check`: parse an ASA configuration, resolve it and run the checks.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use rampart_asa::{CheckOptions, Profile, Severity};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileArg {
    /// Zscaler ZIA IPsec tunnels, as in Zscaler's ASA 55xx guide.
    Zscaler,
}

#[derive(clap::Args)]
#[command(after_help = "Exit status:\n  0  no errors and no warnings (notes may be printed)\n  1  warnings, no errors\n  2  errors, or the file cannot be read")]
pub struct Args {
    /// ASA configuration file (`show running-config` output or typed CLI lines).
    file: PathBuf,
    /// Add the checks of a provider profile.
    #[arg(long, value_enum)]
    profile: Option<ProfileArg>,
    /// Expected throughput through the tunnels, in Mbit/s: reports how many tunnels
    /// are needed at 400 Mbit/s per public source address.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    expected_mbps: Option<u32>,
    /// Reject every command that rampart does not model (by default they are kept
    /// and listed in one note).
    #[arg(long)]
    strict: bool,
    /// Output format: text diagnostics, or JSON with diagnostics and a model summary.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn main(args: Args) -> ExitCode {
    let loaded = match rampart_asa::load_file(&args.file) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("rampart: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = CheckOptions {
        profile: if args.profile == Some(ProfileArg::Zscaler) { Profile::Zscaler } else { Profile::Generic },
        expected_mbps: args.expected_mbps,
        strict: args.strict,
    };
    let mut diagnostics = loaded.diagnostics.clone();
    if opts.strict {
        // Under --strict each unmodelled command is an error, so the note that says
        // they are kept would contradict it.
        diagnostics.retain(|d| d.code != "unmodelled");
    }
    diagnostics.extend(rampart_asa::check(&loaded, &opts));
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diagnostics.iter().filter(|d| d.severity == Severity::Warning).count();
    let text = match args.format {
        Format::Json => {
            let json = loaded.json_with(&diagnostics);
            serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
        }
        Format::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let notes = diagnostics.len() - errors - warnings;
            format!(
                "{}{}: {errors} error(s), {warnings} warning(s), {notes} note(s)\n",
                loaded.render(&diagnostics, color),
                loaded.name
            )
        }
    };
    // A closed pipe (`rampart check ... | head`) is not an error of the check.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::from(exit_status(errors, warnings))
}

/// Exit status documented in `--help`: 2 with errors, 1 with warnings only, else 0.
fn exit_status(errors: usize, warnings: usize) -> u8 {
    if errors > 0 {
        2
    } else if warnings > 0 {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::{Args, exit_status};
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn expected_mbps_zero_rejected() {
        assert!(Cli::try_parse_from(["check", "f.cfg", "--expected-mbps", "0"]).is_err());
    }

    #[test]
    fn expected_mbps_positive_accepted() {
        assert!(Cli::try_parse_from(["check", "f.cfg", "--expected-mbps", "400"]).is_ok());
    }

    #[test]
    fn exit_status_by_severity() {
        assert_eq!(exit_status(0, 0), 0);
        assert_eq!(exit_status(0, 3), 1);
        assert_eq!(exit_status(1, 3), 2);
    }
}
