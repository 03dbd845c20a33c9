use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn main(_args: Args) -> ExitCode {
    eprintln!("rampart: this subcommand is not implemented yet");
    ExitCode::from(2)
}
