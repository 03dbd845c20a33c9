//! `rampart run`: start-up, the threads of the gateway, and the tear-down on exit.

use std::net::IpAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rampart_crypto::random::SystemRandom;
use rampart_ike::Engine;
use tun_rs::SyncDevice;

use crate::config::{self, LoadedConfig};
use crate::control::ControlSocket;
use crate::control_plane::ControlPlane;
use crate::error::Error;
use crate::inbound::{self, RawInbound, UdpInbound};
use crate::order::{ReceiveOrder, TicketOrder};
use crate::outbound::Outbound;
use crate::pmtu::{IcmpErrorSocket, PmtuListener};
use crate::raw_esp::{IcmpSender, RawEsp};
use crate::routing::Routing;
use crate::sa_table::SaTables;
use crate::shared::{PolicyState, Shared};
use crate::udp::OutsideUdp;
use crate::{privilege, signals, tun, Options};

/// How long a blocked socket read waits before a worker checks for shutdown.
const SOCKET_POLL: Duration = Duration::from_millis(200);

/// Runs the gateway until SIGTERM or SIGINT. Everything it set up (TUN device, routes,
/// rules, control socket) is removed before it returns, also on a start-up error.
pub fn run(options: Options) -> Result<(), Error> {
    crate::memory::tune_malloc();
    let missing = privilege::missing_capabilities();
    if !missing.is_empty() {
        return Err(Error::Privilege { missing: missing.join(" and ") });
    }
    let LoadedConfig { policy, ike } = config::load(&options)?;
    let outside = outside_address(&policy, &ike)?;
    let policy_state = PolicyState::new(policy.clone(), &ike, 0)
        .map_err(|e| Error::Setup(format!("the configuration's policy does not compile: {e}")))?;
    let mtu = policy_state.outside_mtu;

    // Every thread started from here on inherits the blocked signal mask, so only the
    // signal thread receives SIGHUP and SIGTERM.
    let signal_set = signals::block()?;
    let (control_tx, control_rx) = mpsc::channel();

    let workers = options.workers.max(1);
    let queues = options.outbound_workers.max(1);
    let devices = tun::create(&options.tun_name, mtu, options.tun_offload, queues)?;
    tracing::info!(device = %options.tun_name, mtu, offload = options.tun_offload, queues, "TUN device created");
    let mut routing = Routing::new(&options.tun_name)?;
    routing.update(&policy)?;

    let udp = Arc::new(OutsideUdp::bind(outside, SOCKET_POLL)?);
    tracing::info!(address = %outside, gso_segments = udp.nat_t.max_gso_segments(), "listening on UDP 500 and 4500");
    let raw = match RawEsp::open(outside, SOCKET_POLL) {
        Ok(raw) => Some(Arc::new(raw)),
        Err(e) => {
            tracing::warn!(error = %e, "plain ESP (IP protocol 50) is unavailable; only ESP in UDP works");
            None
        }
    };

    let icmp = match IcmpSender::open() {
        Ok(icmp) => Some(Arc::new(icmp)),
        Err(e) => {
            tracing::warn!(error = %e, "ICMP fragmentation-needed errors cannot be sent");
            None
        }
    };

    let shared = Arc::new(Shared::new(SaTables::new(), policy_state, control_tx.clone()).with_nat_pools(routing.nat_pools()));
    let engine = Engine::new(ike.clone(), Box::new(SystemRandom::new()), Instant::now());

    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    signals::spawn(signal_set, control_tx.clone())?;
    {
        let (shared, udp) = (Arc::clone(&shared), Arc::clone(&udp));
        threads.push(spawn("ike-500", move || inbound::run_ike_receiver(shared, udp))?);
    }
    // Each socket gets `workers` inbound workers that keep the arrival order (see
    // `order`). They write into the TUN queues in turn, because the kernel takes writes
    // on any queue.
    let devices: Vec<Arc<SyncDevice>> = devices.into_iter().map(Arc::new).collect();
    if devices.is_empty() {
        return Err(Error::Setup("the TUN device has no queue".into()));
    }
    let queue = |index: usize| Arc::clone(&devices[index % devices.len()]);
    let udp_order = Arc::new(ReceiveOrder::new());
    let raw_order = Arc::new(ReceiveOrder::new());
    for index in 0..workers {
        let worker = UdpInbound::new(Arc::clone(&shared), Arc::clone(&udp), Arc::clone(&udp_order), index == 0, queue(index));
        threads.push(spawn(&format!("inbound-udp-{index}"), move || worker.run())?);
        if let Some(raw) = &raw {
            let worker = RawInbound::new(Arc::clone(&shared), Arc::clone(raw), Arc::clone(&raw_order), index == 0, queue(index));
            threads.push(spawn(&format!("inbound-raw-{index}"), move || worker.run())?);
        }
    }
    match IcmpErrorSocket::open(outside, SOCKET_POLL) {
        Ok(socket) => {
            let listener = PmtuListener::new(Arc::clone(&shared), socket);
            threads.push(spawn("pmtu", move || listener.run())?);
        }
        Err(e) => tracing::warn!(error = %e, "ICMP fragmentation-needed errors from the outside path are not received; the path MTU stays the interface MTU"),
    }
    // Several outbound workers send in the order in which their batches reserved
    // sequence numbers; one worker sends in order without the shared ticket.
    let send_order = (devices.len() > 1).then(|| Arc::new(TicketOrder::new()));
    for (index, device) in devices.iter().enumerate() {
        let worker =
            Outbound::new(Arc::clone(&shared), Arc::clone(device), Arc::clone(&udp), raw.clone(), icmp.clone(), send_order.clone());
        threads.push(spawn(&format!("outbound-{index}"), move || worker.run())?);
    }

    let control_path = options.control.clone();
    let _control = match &control_path {
        Some(path) => match ControlSocket::start(path, control_tx.clone()) {
            Ok((socket, _thread)) => {
                tracing::info!(path = %path.display(), "control socket listening");
                Some(socket)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the control socket is unavailable");
                None
            }
        },
        None => None,
    };
    drop(control_tx);

    tracing::info!(config = %options.config.display(), peers = ike.peers.len(), "gateway running");
    let mut control_plane = ControlPlane::new(engine, ike, Arc::clone(&shared), udp, control_rx, routing, options);
    control_plane.run();

    shared.stop();
    // A worker that stopped early must not keep the others waiting for its turn.
    udp_order.close();
    raw_order.close();
    if let Some(order) = &send_order {
        order.close();
    }
    for thread in threads {
        let _ = thread.join();
    }
    control_plane.into_routing().remove_all();
    tracing::info!("gateway stopped; TUN device, routes and rules removed");
    Ok(())
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, Error> {
    thread::Builder::new().name(name.into()).spawn(f).map_err(|e| Error::io(format!("starting thread {name}"), e))
}

/// The address of the interface that carries the crypto map, or else the local address
/// of the first IKE peer.
fn outside_address(policy: &rampart_policy::model::PolicyConfig, ike: &rampart_ike::config::IkeConfig) -> Result<IpAddr, Error> {
    let outside = policy.crypto_maps.iter().find_map(|m| m.interface.as_ref());
    let from_interface = outside
        .and_then(|name| policy.interfaces.iter().find(|i| &i.name == name))
        .and_then(|i| i.address)
        .map(|(a, _)| IpAddr::V4(a));
    from_interface.or_else(|| ike.peers.first().map(|p| p.local_addr)).ok_or_else(|| {
        Error::Setup("no outside address: bind a crypto map to an interface with an `ip address`".into())
    })
}
