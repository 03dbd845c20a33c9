//! Settings of `rampart run` that do not come from the ASA configuration.

use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Options {
    /// The ASA configuration file.
    pub config: PathBuf,
    /// Bring up every crypto map entry's IKE SA and Child SAs at start instead of on
    /// the first matching packet.
    pub initiate: bool,
    /// Anti-replay window of inbound SAs, in packets.
    pub replay_window: u32,
    /// Inbound data-plane workers on each outside socket.
    pub workers: usize,
    /// Outbound data-plane workers, one per TUN queue.
    pub outbound_workers: usize,
    /// Unix socket for `show` and `clear` commands; `None` disables it.
    pub control: Option<PathBuf>,
    /// Name of the TUN device.
    pub tun_name: String,
    /// Use the TUN device's virtio-net header offloads (TSO/USO split, GRO).
    pub tun_offload: bool,
    /// Encapsulate ESP in UDP even without a NAT on the path (fake NAT detection data).
    pub force_udp_encap: bool,
}

impl Options {
    /// The control socket path for a configuration file: /run/rampart/<file stem>.sock.
    pub fn default_control_path(config: &std::path::Path) -> PathBuf {
        let stem = config.file_stem().and_then(|s| s.to_str()).unwrap_or("rampart");
        PathBuf::from(format!("/run/rampart/{stem}.sock"))
    }
}
