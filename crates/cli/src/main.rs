//! `rampart`: an IKEv2/IPsec site-to-site VPN gateway configured in Cisco ASA syntax.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
mod packet_tracer;
mod run;
mod show;
mod show_crypto;

#[derive(Parser)]
#[command(name = "rampart", version, about = "IKEv2/IPsec site-to-site VPN gateway configured in Cisco ASA CLI syntax")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check an ASA configuration.
    Check(check::Args),
    /// Run the gateway.
    Run(run::Args),
    /// Trace a packet through the policy of a configuration, as the ASA's packet-tracer does.
    PacketTracer(packet_tracer::Args),
    /// ASA show commands: the configuration, and the running gateway's SAs and counters.
    Show(show::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::main(args),
        Command::Run(args) => run::main(args),
        Command::PacketTracer(args) => packet_tracer::main(args),
        Command::Show(args) => show::main(args),
    }
}
