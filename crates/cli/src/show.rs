//! `rampart show`: ASA show commands, from a configuration file (`running-config`) or
//! from a running gateway (`crypto ...`).

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ShowCommand,
}

#[derive(clap::Subcommand)]
enum ShowCommand {
    /// Print the configuration as `show running-config` does, with pre-shared keys masked.
    RunningConfig {
        /// ASA configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Show the running gateway's IKE and IPsec SAs and counters, as the ASA's
    /// `show crypto ...` commands do.
    Crypto(crate::show_crypto::Args),
}

pub fn main(args: Args) -> ExitCode {
    match args.command {
        ShowCommand::RunningConfig { config } => running_config(&config),
        ShowCommand::Crypto(args) => crate::show_crypto::main(args),
    }
}

fn running_config(path: &std::path::Path) -> ExitCode {
    let loaded = match rampart_asa::load_file(path) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("rampart: {e}");
            return ExitCode::from(2);
        }
    };
    if loaded.has_errors() {
        eprint!("{}", loaded.render_diagnostics(false));
        eprintln!("rampart: {} has errors; fix them before printing the running-config", path.display());
        return ExitCode::from(2);
    }
    print!("{}", loaded.config.running_config());
    ExitCode::SUCCESS
}
