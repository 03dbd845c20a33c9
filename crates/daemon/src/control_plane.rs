//! The control plane: one thread that owns the IKE engine, feeds it datagrams and timer
//! expiries, sends what it returns, installs and removes Child SAs in the data plane,
//! and serves signals and control-socket commands.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_ike::config::IkeConfig;
use rampart_ike::{Engine, Event};

use crate::config::{self, LoadedConfig};
use crate::memory::{self, MemoryUsage};
use crate::routing::Routing;
use crate::shared::{PolicyState, Shared};
use crate::udp::OutsideUdp;

/// Interval of the housekeeping tick: lifetime accounting and sequence-number checks.
const TICK: Duration = Duration::from_secs(1);

/// Interval between checks for freed heap to give back to the kernel.
const TRIM_INTERVAL: Duration = Duration::from_secs(5);

/// Growth of the free heap since the last trim above which the control plane calls
/// `malloc_trim`. A burst of handshakes leaves freed messages, DH values and expanded
/// keys scattered through the heap, and glibc only returns free memory at the top of
/// the heap by itself. Free memory in pages that still hold live chunks stays, so the
/// free heap after a trim is the baseline for the next one.
const TRIM_MIN_FREE: u64 = 256 * 1024;

/// How long SIGTERM waits for the peers' DELETE responses before tearing down.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// Input of the control plane.
pub enum ControlMsg {
    /// An IKE datagram (non-ESP marker already removed).
    Ike { local: SocketAddr, remote: SocketAddr, data: Vec<u8> },
    /// The data plane has a packet for this child and no SA (KEY_ACQUIRE).
    Acquire { peer: usize, child: usize },
    Reload,
    Terminate,
    /// A control-socket command line. The reply goes back on `reply`.
    Command { line: String, reply: Sender<String> },
}

pub struct ControlPlane {
    engine: Engine,
    ike_config: IkeConfig,
    shared: Arc<Shared>,
    udp: Arc<OutsideUdp>,
    rx: Receiver<ControlMsg>,
    routing: Routing,
    options: crate::Options,
    /// Inbound bytes already reported to the engine, per inbound SPI.
    reported_bytes: HashMap<u32, u64>,
    generation: u64,
    next_trim: Instant,
    /// Free heap left after the last trim.
    free_after_trim: u64,
}

impl ControlPlane {
    pub fn new(
        engine: Engine,
        ike_config: IkeConfig,
        shared: Arc<Shared>,
        udp: Arc<OutsideUdp>,
        rx: Receiver<ControlMsg>,
        routing: Routing,
        options: crate::Options,
    ) -> ControlPlane {
        ControlPlane { engine, ike_config, shared, udp, rx, routing, options, reported_bytes: HashMap::new(), generation: 0, next_trim: Instant::now() + TRIM_INTERVAL, free_after_trim: 0 }
    }

    /// Gives back the routes and rules for removal after the workers stopped.
    pub fn into_routing(self) -> Routing {
        self.routing
    }

    /// Runs until SIGTERM (or the channel closes), then deletes the SAs, waits briefly
    /// for the DELETE exchanges and returns.
    pub fn run(&mut self) {
        if self.options.initiate {
            tracing::info!("initiating every crypto map entry's IKE SA and Child SAs");
            self.engine.initiate_all(Instant::now());
        }
        let mut next_tick = Instant::now() + TICK;
        loop {
            self.drain_engine();
            let now = Instant::now();
            let deadline = self.engine.poll_timeout().map_or(next_tick, |t| t.min(next_tick));
            let message = self.rx.recv_timeout(deadline.saturating_duration_since(now));
            let now = Instant::now();
            match message {
                Ok(ControlMsg::Terminate) => break,
                Ok(message) => self.handle(now, message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.engine.poll_timeout().is_some_and(|t| t <= now) {
                self.engine.handle_timeout(now);
            }
            if now >= next_tick {
                self.tick(now);
                next_tick = now + TICK;
            }
        }
        self.shutdown();
    }

    fn handle(&mut self, now: Instant, message: ControlMsg) {
        match message {
            ControlMsg::Ike { local, remote, data } => {
                self.shared.ike_taken();
                self.engine.handle_datagram(now, local, remote, &data);
            }
            ControlMsg::Acquire { peer, child } => {
                tracing::debug!(peer, child, "acquire: traffic for a child without an SA");
                self.engine.acquire(now, peer, child);
            }
            ControlMsg::Reload => self.reload(now),
            ControlMsg::Command { line, reply } => {
                let answer = crate::control::execute(&line, now, &mut self.engine, &self.shared);
                // The client may have gone away; nothing to do then.
                let _ = reply.send(answer);
            }
            ControlMsg::Terminate => {}
        }
    }

    /// Applies every pending event, then sends every pending datagram. Events go first
    /// so that a responder's Child SA is installed before the IKE_AUTH response leaves:
    /// the initiator may send ESP as soon as it has the response.
    fn drain_engine(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            self.apply(event);
        }
        while let Some(transmit) = self.engine.poll_transmit() {
            if let Err(e) =
                self.udp.send_ike(transmit.local.port(), transmit.remote, &transmit.payload, transmit.keepalive)
            {
                tracing::warn!(remote = %transmit.remote, local = %transmit.local, error = %e, "sending an IKE datagram failed");
            }
        }
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::IkeSaUp { peer, info } => tracing::info!(
                peer = %info.peer_name,
                index = peer,
                remote = %info.remote,
                spi_i = format_args!("{:016x}", info.spi_i),
                spi_r = format_args!("{:016x}", info.spi_r),
                encr = info.encr.name(),
                integ = info.integ.map(|i| i.name()),
                prf = info.prf.name(),
                dh = info.dh_group.name(),
                nat_local = info.nat_detected_local,
                nat_remote = info.nat_detected_remote,
                "IKE SA up"
            ),
            Event::IkeSaDown { peer, spi_i, spi_r, reason } => tracing::info!(
                peer = %self.peer_name(peer),
                spi_i = format_args!("{spi_i:016x}"),
                spi_r = format_args!("{spi_r:016x}"),
                %reason,
                "IKE SA down"
            ),
            Event::ChildSaUp(keys) => {
                let now = Instant::now();
                let result = self.shared.sa().install(&keys, self.options.replay_window, now);
                match result {
                    Ok(()) => tracing::info!(
                        peer = %self.peer_name(keys.peer),
                        child = keys.child,
                        remote = %keys.remote,
                        spi_in = format_args!("{:08x}", keys.spi_in),
                        spi_out = format_args!("{:08x}", keys.spi_out),
                        encr = keys.encr.name(),
                        integ = keys.integ.map(|i| i.name()),
                        udp_encap = keys.udp_encap,
                        rekey_of = ?keys.replaces.map(|(i, o)| format!("{i:08x}/{o:08x}")),
                        "Child SA up"
                    ),
                    Err(e) => tracing::error!(
                        peer = %self.peer_name(keys.peer),
                        spi_in = format_args!("{:08x}", keys.spi_in),
                        spi_out = format_args!("{:08x}", keys.spi_out),
                        error = %e,
                        "installing a Child SA in the data plane failed"
                    ),
                }
            }
            Event::ChildSaDown { peer, child, spi_in, spi_out, reason } => {
                self.shared.sa().remove(spi_in, spi_out);
                self.reported_bytes.remove(&spi_in);
                tracing::info!(
                    peer = %self.peer_name(peer),
                    child,
                    spi_in = format_args!("{spi_in:08x}"),
                    spi_out = format_args!("{spi_out:08x}"),
                    %reason,
                    "Child SA down"
                );
            }
            Event::PeerSwitched { peer, from, to, reason } => {
                tracing::warn!(peer = %self.peer_name(peer), %from, %to, %reason, "crypto map peer switched")
            }
            Event::Failure { peer, remote, reason } => tracing::warn!(
                peer = peer.map(|p| self.peer_name(p)).unwrap_or_default(),
                %remote,
                %reason,
                "IKE negotiation failed"
            ),
        }
    }

    fn peer_name(&self, peer: usize) -> String {
        self.ike_config.peers.get(peer).map(|p| p.name.clone()).unwrap_or_else(|| format!("#{peer}"))
    }

    /// Reports inbound traffic volume (kilobyte lifetimes) and outbound SAs whose
    /// sequence number is about to wrap, both of which trigger a Child SA rekey.
    fn tick(&mut self, now: Instant) {
        let (bytes, near_wrap) = {
            let sa = self.shared.sa();
            (sa.inbound_bytes(), sa.outbound_near_wrap())
        };
        for (spi, total) in bytes {
            // An SA that carried no traffic gets no entry, so idle tunnels cost nothing.
            if total == 0 {
                continue;
            }
            let reported = self.reported_bytes.entry(spi).or_insert(0);
            if total > *reported {
                self.engine.child_bytes(now, spi, total - *reported);
                *reported = total;
            }
        }
        for spi in near_wrap {
            self.engine.child_seq_near_wrap(now, spi);
        }
        if now >= self.next_trim {
            self.next_trim = now + TRIM_INTERVAL;
            self.trim_heap();
        }
    }

    /// Gives free heap back to the kernel when enough of it accumulated since the last
    /// trim.
    fn trim_heap(&mut self) {
        let before = MemoryUsage::now();
        if before.heap_free < self.free_after_trim.saturating_add(TRIM_MIN_FREE) {
            // The free heap also shrinks as it is reused; follow it down.
            self.free_after_trim = self.free_after_trim.min(before.heap_free);
            return;
        }
        let released = memory::trim();
        let after = MemoryUsage::now();
        self.free_after_trim = after.heap_free;
        tracing::debug!(released, heap_free = before.heap_free, rss_before = before.rss, rss_after = after.rss, "malloc_trim after heap growth");
    }

    /// SIGHUP: reread the configuration. On errors the running configuration stays.
    fn reload(&mut self, now: Instant) {
        tracing::info!(config = %self.options.config.display(), "reloading the configuration");
        let loaded = match config::load(&self.options) {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!(error = %e, "reload failed; the running configuration stays in force");
                return;
            }
        };
        let LoadedConfig { policy, ike } = loaded;
        self.generation += 1;
        let state = match PolicyState::new(policy.clone(), &ike, self.generation) {
            Ok(state) => state,
            Err(e) => {
                tracing::error!(error = %e, "reload failed: the policy does not compile; the running configuration stays in force");
                return;
            }
        };
        self.engine.reconfigure(now, ike.clone());
        self.ike_config = ike;
        self.shared.set_policy(state);
        if let Err(e) = self.routing.update(&policy) {
            tracing::error!(error = %e, "updating routes after reload failed");
        }
        tracing::info!(generation = self.generation, "configuration reloaded");
    }

    /// SIGTERM: DELETE every IKE SA, give the peers a moment to respond, remove the SAs.
    fn shutdown(&mut self) {
        tracing::info!("shutting down: deleting IKE and Child SAs");
        self.engine.shutdown(Instant::now());
        let until = Instant::now() + SHUTDOWN_GRACE;
        loop {
            self.drain_engine();
            let now = Instant::now();
            if now >= until || self.engine.ike_sas(now).is_empty() {
                break;
            }
            let deadline = self.engine.poll_timeout().map_or(until, |t| t.min(until));
            match self.rx.recv_timeout(deadline.saturating_duration_since(now)) {
                Ok(ControlMsg::Ike { local, remote, data }) => {
                    self.shared.ike_taken();
                    self.engine.handle_datagram(Instant::now(), local, remote, &data);
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            if self.engine.poll_timeout().is_some_and(|t| t <= now) {
                self.engine.handle_timeout(now);
            }
        }
        self.drain_engine();
        self.shared.sa().clear();
    }
}
