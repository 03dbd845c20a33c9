//! `rampart run`: the gateway.

use std::path::PathBuf;
use std::process::ExitCode;

use rampart_daemon::{Error, Options};
use tracing_subscriber::EnvFilter;

#[derive(clap::Args)]
pub struct Args {
    /// ASA configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Bring up each crypto map entry's IKE SA and Child SAs at start, with the entry's
    /// first peer, instead of on the first matching packet.
    #[arg(long)]
    initiate: bool,
    /// Log filter: error, warn, info, debug or trace, or a tracing directive such as
    /// "ike=debug,info" [default: $RUST_LOG, else info].
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Anti-replay window of inbound SAs, in packets.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(32..=1_048_576))]
    replay_window: u32,
    /// Inbound data-plane workers on each outside socket. They decrypt batches in
    /// parallel and deliver them in arrival order [default: half the CPUs, from 1 to
    /// 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: Option<u16>,
    /// Outbound data-plane workers, one per TUN queue; the kernel spreads flows over
    /// the queues. Workers encrypt in parallel and send each SA's packets in sequence
    /// number order.
    // The default stays 1. In the interop lab on a shared 2-CPU machine, two rampart
    // gateways (ESP in UDP, four iperf3 TCP streams for 5 s) carried 3.5 to 4.2 Gbit/s
    // with one worker and with four alike. More workers only add hand-overs there.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    outbound_workers: u16,
    /// Encapsulate ESP in UDP 4500 even when no NAT is detected, by sending NAT
    /// detection data that matches no address, as strongSwan's `encap = yes` does.
    /// For paths that pass UDP but drop IP protocol 50, and for UDP GSO/GRO.
    #[arg(long)]
    force_udp_encap: bool,
    /// Control socket path [default: /run/rampart/<config file stem>.sock].
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
    /// Do not open a control socket.
    #[arg(long, conflicts_with = "control")]
    no_control: bool,
    /// Name of the TUN device.
    #[arg(long, value_name = "NAME", default_value = "rampart0")]
    tun: String,
    /// Disable the TUN offloads (virtio-net header, TSO/USO split and GRO).
    #[arg(long)]
    no_offload: bool,
}

/// Half the CPUs, from 1 to 4. The kernel forwards the tunnel's traffic on the other
/// CPUs, and on a 2-CPU machine a second inbound worker halved the small-packet rate
/// (benches/throughput.sh). Beyond 4, the outside socket and the TUN device, not the
/// cipher, limit a single tunnel.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).clamp(1, 4))
}

pub fn main(args: Args) -> ExitCode {
    let directive = args
        .log_level
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "info".to_string());
    let filter = match EnvFilter::try_new(&directive) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("rampart: invalid log filter {directive:?} (from --log-level or RUST_LOG): {e}");
            return ExitCode::from(2);
        }
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();

    let control = if args.no_control {
        None
    } else {
        Some(args.control.clone().unwrap_or_else(|| Options::default_control_path(&args.config)))
    };
    let options = Options {
        config: args.config,
        initiate: args.initiate,
        replay_window: args.replay_window,
        workers: args.workers.map_or_else(default_workers, usize::from),
        outbound_workers: usize::from(args.outbound_workers),
        force_udp_encap: args.force_udp_encap,
        control,
        tun_name: args.tun,
        tun_offload: !args.no_offload,
    };
    match rampart_daemon::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Config { diagnostics }) => {
            eprintln!("{}", diagnostics.trim_end());
            eprintln!("rampart: the configuration has errors; the gateway did not start");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("rampart: {e}");
            ExitCode::from(1)
        }
    }
}
