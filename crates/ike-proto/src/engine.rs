//! The engine: public API, datagram dispatch by SPI and message ID, and timers.
//!
//! Exchanges live in `exchange/`, one module each, as `impl Engine` blocks with
//! strongSwan-style `build_i`/`process_r`/`build_r`/`process_i` steps. An IKE SA is
//! taken out of the SA table while one of its messages or timers is handled, so the
//! exchange code can borrow the engine and the SA at the same time.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rampart_crypto::random::Random;
use rampart_wire::ike::{
    ExchangeType, Header, HeaderRepr, MessageRepr, NotifyType, Payload, PayloadType,
};
use tracing::{debug, info, warn};

use crate::config::IkeConfig;
use crate::event::{Event, IkeSaInfo, Transmit};
use crate::sa::{IkeSa, IkeSaTable, Pending, Request, State, Task};

/// NAT-T keepalive interval when we are behind a NAT (RFC 3948 section 4, 20 s as
/// strongSwan and the ASA use).
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
/// Half-open responder SAs are dropped after this long without IKE_AUTH.
pub(crate) const HALF_OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// First delay before initiating again after a failed attempt; doubles up to the max.
pub(crate) const RETRY_BACKOFF_MIN: Duration = Duration::from_secs(2);
pub(crate) const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(64);

/// Failover and retry state of one peer (crypto map entry).
#[derive(Debug, Default)]
pub(crate) struct PeerState {
    /// Index into `PeerConfig::remotes` of the address in use.
    pub active: usize,
    /// Remotes that already received INITIAL_CONTACT from us.
    pub contacted: Vec<bool>,
    /// Children the data plane or `initiate_all` asked for; brought up again after a
    /// failure.
    pub wanted: Vec<usize>,
    pub retry_at: Option<Instant>,
    pub backoff: Duration,
    /// Children refused by the peer: (child, next attempt, back-off). A refused child
    /// is retried on this schedule instead of on every packet the data plane reports.
    pub child_retry: Vec<(usize, Option<Instant>, Duration)>,
}

/// A sans-IO IKEv2 engine for all peers of one configuration.
pub struct Engine {
    pub(crate) config: IkeConfig,
    pub(crate) random: Box<dyn Random>,
    /// IKE SAs by our own SPI.
    pub(crate) sas: IkeSaTable,
    pub(crate) peers: Vec<PeerState>,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) next_unique_id: u64,
    pub(crate) cookie_secret: [u8; 32],
    pub(crate) shutting_down: bool,
}

fn peer_states(config: &IkeConfig) -> Vec<PeerState> {
    config
        .peers
        .iter()
        .map(|p| PeerState {
            contacted: vec![false; p.remotes.len()],
            backoff: RETRY_BACKOFF_MIN,
            ..PeerState::default()
        })
        .collect()
}

impl Engine {
    pub fn new(config: IkeConfig, mut random: Box<dyn Random>, _now: Instant) -> Engine {
        let mut cookie_secret = [0u8; 32];
        random.fill(&mut cookie_secret);
        Engine {
            peers: peer_states(&config),
            config,
            random,
            sas: IkeSaTable::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_unique_id: 1,
            cookie_secret,
            shutting_down: false,
        }
    }

    /// Replaces the configuration. SAs of peers whose configuration is unchanged keep
    /// running; SAs of changed or removed peers are deleted, and failover of a changed
    /// peer restarts at its first remote.
    pub fn reconfigure(&mut self, now: Instant, config: IkeConfig) {
        let old = std::mem::replace(&mut self.config, config);
        let mut peers = peer_states(&self.config);
        let mut keep = vec![None; old.peers.len()];
        for (i, p) in old.peers.iter().enumerate() {
            if let Some(j) = self.config.peers.iter().position(|q| q == p) {
                keep[i] = Some(j);
                peers[j] = std::mem::take(&mut self.peers[i]);
            }
        }
        let spis: Vec<u64> = self.sas.keys().copied().collect();
        for spi in spis {
            let Some(mut sa) = self.sas.remove(&spi) else {
                continue;
            };
            match keep.get(sa.peer).copied().flatten() {
                Some(j) => {
                    sa.peer = j;
                    self.sas.insert(spi, sa);
                }
                None => {
                    info!(target: "ike", "IKE SA {:016x}_i {:016x}_r: peer configuration changed, deleting", sa.spi_i, sa.spi_r);
                    self.send_delete_now(&mut sa);
                    self.ike_sa_down(&mut sa, "configuration changed");
                }
            }
        }
        self.peers = peers;
        let _ = now;
    }

    /// Handles a datagram received on UDP 500, or on 4500 with the non-ESP marker
    /// already removed.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) {
        let header = match Header::new_checked(data).and_then(|h| HeaderRepr::parse(&h)) {
            Ok(h) => h,
            Err(e) => {
                self.malformed_header(local, remote, data, &e);
                return;
            }
        };
        debug!(
            target: "ike",
            "received {} {} {:016x}_i {:016x}_r mid {} ({} octets) from {remote}",
            header.exchange_type,
            if header.response { "response" } else { "request" },
            header.spi_i,
            header.spi_r,
            header.message_id,
            data.len()
        );
        if header.exchange_type == ExchangeType::IKE_SA_INIT
            && !header.response
            && header.initiator
            && header.spi_r == 0
        {
            self.init_request(now, local, remote, data, &header);
            return;
        }
        let our_spi = if header.initiator {
            header.spi_r
        } else {
            header.spi_i
        };
        let Some(mut sa) = self.sas.remove(&our_spi) else {
            debug!(target: "ike", "no IKE SA for {:016x}_i {:016x}_r from {remote}, dropped", header.spi_i, header.spi_r);
            return;
        };
        // The Initiator flag must name the original initiator, which is not us when
        // the peer claims it (RFC 7296 section 3.1).
        if header.initiator == sa.initiator
            || (sa.initiator && sa.spi_r != 0 && header.spi_r != sa.spi_r)
        {
            debug!(target: "ike", "{} message with mismatched SPIs or flags from {remote}, dropped", self.tag(&sa));
        } else if header.response {
            self.handle_response(&mut sa, now, local, remote, data, &header);
        } else {
            self.handle_request(&mut sa, now, local, remote, data, &header);
        }
        self.finish(sa);
    }

    /// Puts an SA back in the table unless it died, and starts queued work.
    pub(crate) fn finish(&mut self, mut sa: IkeSa) {
        self.hand_over_children(&mut sa);
        if sa.dead {
            return;
        }
        self.kick(&mut sa, None);
        self.sas.insert(sa.local_spi(), sa);
    }

    /// Moves Child SAs left on a rekeyed IKE SA to its successor, such as one created
    /// by a CREATE_CHILD_SA that completed on the old SA after the IKE SA rekey.
    /// Queued Child SA work moves along with them.
    pub(crate) fn hand_over_children(&mut self, sa: &mut IkeSa) {
        let Some(next) = sa.successor else { return };
        let Some(successor) = self.sas.get_mut(&next) else {
            return;
        };
        successor.children.append(&mut sa.children);
        let child_tasks: Vec<Task> = sa
            .tasks
            .iter()
            .copied()
            .filter(|t| !matches!(t, Task::RekeyIke | Task::Dpd | Task::DeleteIke))
            .collect();
        sa.tasks
            .retain(|t| matches!(t, Task::RekeyIke | Task::Dpd | Task::DeleteIke));
        for t in child_tasks {
            successor.queue(t);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        // Only SAs with a timer due, or already dead, need work: taking every SA out
        // of the table and back would cost an allocation each with thousands of SAs.
        self.refresh_deadlines();
        let spis = self.sas.deadlines().due(now);
        for spi in spis {
            let Some(mut sa) = self.sas.remove(&spi) else {
                continue;
            };
            self.sa_timers(&mut sa, now);
            if !sa.dead {
                self.kick(&mut sa, Some(now));
            }
            if !sa.dead {
                self.sas.insert(spi, sa);
            }
        }
        if self.shutting_down {
            return;
        }
        for peer in 0..self.peers.len() {
            self.child_retries_due(peer, now);
            let due = self.peers[peer].retry_at.is_some_and(|t| t <= now);
            if due {
                self.peers[peer].retry_at = None;
                if !self.peers[peer].wanted.is_empty() && !self.has_ike_sa(peer) {
                    let children = self.peers[peer].wanted.clone();
                    self.start_ike_sa(now, peer, children);
                }
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Returns the earliest timer of any SA or peer. It takes `&mut self` to bring the
    /// deadline index up to date, which costs O(log n) per SA changed since the last
    /// call instead of a scan of every SA. The peers' retry timers are still scanned.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.refresh_deadlines();
        let peer_deadlines = self.peers.iter().flat_map(|p| {
            p.retry_at
                .into_iter()
                .chain(p.child_retry.iter().filter_map(|r| r.1))
        });
        self.sas.deadlines().next().into_iter().chain(peer_deadlines).min()
    }

    /// Recomputes the deadlines of the SAs changed since the last refresh.
    pub(crate) fn refresh_deadlines(&mut self) {
        for spi in self.sas.take_changed() {
            let entry = self.sas.get(&spi).map(|sa| (self.sa_deadline(sa), sa.dead));
            let (deadline, dead) = entry.unwrap_or((None, false));
            self.sas.deadlines_mut().set(spi, deadline, dead);
        }
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Starts an IKE SA for `peer` with child `child`, or a CREATE_CHILD_SA on an
    /// existing one. Idempotent while negotiation is in progress; after a failure the
    /// next attempt waits for the back-off.
    pub fn acquire(&mut self, now: Instant, peer: usize, child: usize) {
        if self.shutting_down
            || peer >= self.config.peers.len()
            || child >= self.config.peers[peer].children.len()
        {
            return;
        }
        if !self.peers[peer].wanted.contains(&child) {
            self.peers[peer].wanted.push(child);
        }
        if self.peers[peer]
            .child_retry
            .iter()
            .any(|(c, at, _)| *c == child && at.is_some_and(|t| t > now))
        {
            return;
        }
        if let Some(spi) = self.ike_sa_of(peer) {
            let Some(mut sa) = self.sas.remove(&spi) else {
                return;
            };
            let up = sa.children.iter().any(|c| c.child == child && !c.replaced);
            let pending =
                sa.tasks.contains(&Task::CreateChild(child)) || self.child_in_flight(&sa, child);
            if sa.is_established() && !up && !pending {
                sa.queue(Task::CreateChild(child));
            }
            self.finish(sa);
            return;
        }
        if self.peers[peer].retry_at.is_some_and(|t| t > now) {
            return;
        }
        let children = self.peers[peer].wanted.clone();
        self.start_ike_sa(now, peer, children);
    }

    /// Starts a rekey of `peer`'s IKE SA now, as reaching its soft lifetime does
    /// (RFC 7296 section 2.18). Does nothing without an established SA or while one
    /// is already being replaced.
    pub fn rekey_ike(&mut self, now: Instant, peer: usize) {
        let Some(spi) = self.ike_sa_of(peer) else {
            return;
        };
        let Some(mut sa) = self.sas.remove(&spi) else {
            return;
        };
        if sa.is_established() && !sa.retiring() && !sa.rekeying_ike() {
            sa.rekey_at = None;
            sa.queue(Task::RekeyIke);
        }
        self.kick(&mut sa, Some(now));
        self.finish(sa);
    }

    /// Brings up every peer's IKE SA and all its children now.
    pub fn initiate_all(&mut self, now: Instant) {
        for peer in 0..self.config.peers.len() {
            for child in 0..self.config.peers[peer].children.len() {
                self.acquire(now, peer, child);
            }
        }
    }

    /// Counts inbound traffic for the kilobyte lifetime; crossing the soft limit
    /// queues a rekey (RFC 7296 section 2.8).
    pub fn child_bytes(&mut self, now: Instant, spi_in: u32, bytes: u64) {
        let Some(spi) = self
            .sas
            .iter()
            .find(|(_, sa)| sa.children.iter().any(|c| c.spi_in == spi_in))
            .map(|(k, _)| *k)
        else {
            return;
        };
        let Some(mut sa) = self.sas.remove(&spi) else {
            return;
        };
        // Inbound ESP shows the peer is alive, so DPD waits (liveness checks are sent
        // only when idle, RFC 7296 section 2.4).
        if bytes > 0 {
            sa.last_recv = sa.last_recv.max(now);
        }
        if let Some(c) = sa.child_by_spi_in(spi_in) {
            c.bytes = c.bytes.saturating_add(bytes);
            if c.kilobytes_rekey > 0
                && c.bytes / 1024 >= c.kilobytes_rekey
                && !c.rekeying
                && !c.replaced
            {
                c.rekeying = true;
                sa.queue(Task::RekeyChild(spi_in));
            }
        }
        self.kick(&mut sa, Some(now));
        self.finish(sa);
    }

    /// Rekeys the SA whose outbound sequence number is about to wrap.
    pub fn child_seq_near_wrap(&mut self, now: Instant, spi_out: u32) {
        let Some(spi) = self
            .sas
            .iter()
            .find(|(_, sa)| sa.children.iter().any(|c| c.spi_out == spi_out))
            .map(|(k, _)| *k)
        else {
            return;
        };
        let Some(mut sa) = self.sas.remove(&spi) else {
            return;
        };
        if let Some(c) = sa
            .children
            .iter_mut()
            .find(|c| c.spi_out == spi_out && !c.rekeying && !c.replaced)
        {
            c.rekeying = true;
            let spi_in = c.spi_in;
            sa.queue(Task::RekeyChild(spi_in));
        }
        self.kick(&mut sa, Some(now));
        self.finish(sa);
    }

    /// Deletes the SAs with `addr` and restarts failover of their peers at the first
    /// remote.
    pub fn clear_peer(&mut self, now: Instant, addr: IpAddr) {
        let spis: Vec<u64> = self
            .sas
            .iter()
            .filter(|(_, sa)| sa.remote.ip() == addr)
            .map(|(k, _)| *k)
            .collect();
        let mut peers = Vec::new();
        for spi in spis {
            let Some(mut sa) = self.sas.remove(&spi) else {
                continue;
            };
            info!(target: "ike", "{} cleared by operator", self.tag(&sa));
            peers.push(sa.peer);
            self.send_delete_now(&mut sa);
            self.ike_sa_down(&mut sa, "cleared by operator");
        }
        for (i, p) in self.config.peers.iter().enumerate() {
            if p.remotes.iter().any(|r| r.addr == addr) && !peers.contains(&i) {
                peers.push(i);
            }
        }
        for peer in peers {
            self.reset_failover(peer, "cleared by operator");
            self.peers[peer].retry_at = Some(now);
            self.peers[peer].backoff = RETRY_BACKOFF_MIN;
        }
    }

    /// Sends a Delete for every IKE SA, reports every SA down and stops initiating.
    pub fn shutdown(&mut self, _now: Instant) {
        self.shutting_down = true;
        let spis: Vec<u64> = self.sas.keys().copied().collect();
        for spi in spis {
            let Some(mut sa) = self.sas.remove(&spi) else {
                continue;
            };
            self.send_delete_now(&mut sa);
            self.ike_sa_down(&mut sa, "shutdown");
        }
        for p in &mut self.peers {
            p.retry_at = None;
            p.wanted.clear();
        }
    }

    /// Heap octets the IKE SAs hold, by component, summed over every SA, with the SA
    /// table's own allocation first. Counted from sizes and capacities, so malloc's
    /// chunk headers and AWS-LC's contexts are missing: a measurement aid for
    /// `examples`, not an exact figure.
    #[doc(hidden)]
    pub fn heap_breakdown(&self) -> Vec<(&'static str, usize)> {
        let mut parts = vec![("IKE SA table", self.sas.table_bytes())];
        for sa in self.sas.values() {
            for (i, (name, bytes)) in crate::sa::heap_parts(sa).into_iter().enumerate() {
                match parts.get_mut(i + 1) {
                    Some(part) => part.1 += bytes,
                    None => parts.push((name, bytes)),
                }
            }
        }
        parts
    }

    /// Returns the configuration in use, the last one given to `new` or `reconfigure`.
    pub fn config(&self) -> &IkeConfig {
        &self.config
    }

    pub fn ike_sas(&self, now: Instant) -> Vec<IkeSaInfo> {
        let mut v: Vec<IkeSaInfo> = self
            .sas
            .values()
            .map(|sa| {
                sa.info(
                    self.config
                        .peers
                        .get(sa.peer)
                        .map_or("", |p| p.name.as_str()),
                    now,
                )
            })
            .collect();
        v.sort_by_key(|i| i.unique_id);
        v
    }
}

// Helpers shared by the exchanges.
impl Engine {
    /// `name[unique-id]`, the SA tag used in every log line.
    pub(crate) fn tag(&self, sa: &IkeSa) -> String {
        let name = self
            .config
            .peers
            .get(sa.peer)
            .map_or("?", |p| p.name.as_str());
        format!(
            "{name}[{}] {:016x}_i {:016x}_r",
            sa.unique_id, sa.spi_i, sa.spi_r
        )
    }

    pub(crate) fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.random.fill(&mut v);
        v
    }

    /// Returns a fresh IKE SPI, never zero and unused locally.
    pub(crate) fn new_ike_spi(&mut self) -> u64 {
        loop {
            let mut b = [0u8; 8];
            self.random.fill(&mut b);
            let spi = u64::from_be_bytes(b);
            if spi != 0 && !self.sas.contains_key(&spi) {
                return spi;
            }
        }
    }

    /// Returns a fresh inbound ESP SPI. Values below 256 are reserved (RFC 4303 2.1).
    pub(crate) fn new_esp_spi(&mut self) -> u32 {
        loop {
            let mut b = [0u8; 4];
            self.random.fill(&mut b);
            let spi = u32::from_be_bytes(b);
            if spi >= 256
                && !self
                    .sas
                    .values()
                    .any(|sa| sa.children.iter().any(|c| c.spi_in == spi))
            {
                return spi;
            }
        }
    }

    pub(crate) fn next_unique_id(&mut self) -> u64 {
        let id = self.next_unique_id;
        self.next_unique_id += 1;
        id
    }

    pub(crate) fn has_ike_sa(&self, peer: usize) -> bool {
        self.ike_sa_of(peer).is_some()
    }

    /// Returns the SA to use for `peer`: the newest established one, else one being
    /// set up.
    pub(crate) fn ike_sa_of(&self, peer: usize) -> Option<u64> {
        // The new SAs of a simultaneous rekey are left out until one of them wins,
        // and so is the peer's redundant one after ours won.
        let undecided = |spi: u64| {
            self.sas.values().any(|o| {
                o.rekey_collision.as_ref().is_some_and(|c| c.0 == spi)
                    || o.await_redundant.is_some_and(|a| a.0 == spi)
            })
        };
        let live = |sa: &&IkeSa| {
            sa.peer == peer && sa.state != State::Deleting && !undecided(sa.local_spi())
        };
        // After an IKE SA rekey the old SA lingers until its Delete completes, so
        // the newest established SA wins.
        self.sas
            .values()
            .filter(live)
            .filter(|sa| sa.is_established())
            .max_by_key(|sa| sa.unique_id)
            .or_else(|| self.sas.values().find(live))
            .map(IkeSa::local_spi)
    }

    fn child_in_flight(&self, sa: &IkeSa, child: usize) -> bool {
        match sa.outstanding.as_ref().map(|r| &r.pending) {
            Some(Pending::CreateChild(c)) => c.child == child,
            Some(Pending::Auth { first, children }) => {
                first.as_ref().is_some_and(|c| c.child == child) || children.contains(&child)
            }
            Some(Pending::Init(i)) => i.children.contains(&child),
            _ => false,
        }
    }

    pub(crate) fn fragment_mtu(&self, sa: &IkeSa) -> Option<usize> {
        (self.config.fragmentation && sa.frag_supported).then_some(self.config.fragment_mtu)
    }

    fn header(sa: &IkeSa, exchange: ExchangeType, message_id: u32, response: bool) -> HeaderRepr {
        HeaderRepr {
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
            next_payload: PayloadType::NONE,
            exchange_type: exchange,
            initiator: sa.initiator,
            response,
            message_id,
            length: 0,
        }
    }

    /// Encodes a message: in clear for IKE_SA_INIT, else inside SK (or SKF fragments).
    fn encode(
        &mut self,
        sa: &mut IkeSa,
        header: &HeaderRepr,
        payloads: Vec<Payload>,
    ) -> Option<Vec<Vec<u8>>> {
        if header.exchange_type == ExchangeType::IKE_SA_INIT {
            return Some(vec![
                MessageRepr {
                    header: *header,
                    payloads,
                }
                .to_vec(),
            ]);
        }
        let mtu = self.fragment_mtu(sa);
        let keys = sa.keys.as_mut()?;
        match keys
            .sk
            .protect(self.random.as_mut(), header, &payloads, mtu)
        {
            Ok(d) => Some(d),
            Err(e) => {
                warn!(target: "ike", "encrypting {} failed: {e}", header.exchange_type);
                None
            }
        }
    }

    pub(crate) fn push_datagrams(&mut self, sa: &IkeSa, datagrams: &[Vec<u8>]) {
        for d in datagrams {
            self.transmits.push_back(Transmit {
                local: sa.local,
                remote: sa.remote,
                payload: d.clone(),
                keepalive: false,
            });
        }
    }

    /// Sends a request with the next message ID and keeps it for retransmission.
    pub(crate) fn send_request(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        exchange: ExchangeType,
        payloads: Vec<Payload>,
        pending: Pending,
    ) {
        let header = Self::header(sa, exchange, sa.next_mid, false);
        let Some(datagrams) = self.encode(sa, &header, payloads) else {
            return;
        };
        debug!(target: "ike", "{} sending {} request mid {}", self.tag(sa), exchange, sa.next_mid);
        self.push_datagrams(sa, &datagrams);
        let timeout = self.request_timeout(sa, &pending, 0);
        sa.outstanding = Some(Box::new(Request {
            message_id: sa.next_mid,
            exchange,
            datagrams,
            tries: 1,
            next_at: now + timeout,
            pending,
        }));
        sa.next_mid = sa.next_mid.wrapping_add(1);
    }

    /// Timeout before retransmission number `tries`: doubling from the configured
    /// initial timeout, except for liveness checks, which use the DPD retry interval.
    pub(crate) fn request_timeout(&self, sa: &IkeSa, pending: &Pending, tries: u32) -> Duration {
        if matches!(pending, Pending::Dpd)
            && let Some(r) = self.remote_config(sa)
        {
            return r.dpd.retry;
        }
        self.config
            .retransmit
            .initial_timeout
            .saturating_mul(1u32 << tries.min(16))
    }

    /// Sends a response and caches it for a retransmitted request.
    pub(crate) fn send_response(
        &mut self,
        sa: &mut IkeSa,
        exchange: ExchangeType,
        message_id: u32,
        payloads: Vec<Payload>,
    ) {
        let header = Self::header(sa, exchange, message_id, true);
        let Some(datagrams) = self.encode(sa, &header, payloads) else {
            return;
        };
        debug!(target: "ike", "{} sending {} response mid {}", self.tag(sa), exchange, message_id);
        self.push_datagrams(sa, &datagrams);
        sa.last_response = Some((message_id, datagrams));
        sa.peer_mid = message_id.wrapping_add(1);
    }

    /// Sends a response that carries only the error notify `notify`, without data.
    pub(crate) fn send_error_response(&mut self, sa: &mut IkeSa, exchange: ExchangeType, message_id: u32, notify: NotifyType) {
        self.send_response(sa, exchange, message_id, vec![Payload::notify(notify, Vec::new())]);
    }

    /// Sends an unprotected error notify in reply to an IKE_SA_INIT request that has no
    /// SA (RFC 7296 section 2.21.1).
    pub(crate) fn send_init_error(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        request: &HeaderRepr,
        notify: NotifyType,
        data: Vec<u8>,
    ) {
        let header = HeaderRepr {
            initiator: false,
            response: true,
            spi_r: 0,
            ..*request
        };
        let m = MessageRepr {
            header,
            payloads: vec![Payload::notify(notify, data)],
        };
        self.transmits.push_back(Transmit {
            local,
            remote,
            payload: m.to_vec(),
            keepalive: false,
        });
    }

    pub(crate) fn remote_config(&self, sa: &IkeSa) -> Option<&crate::config::RemotePeer> {
        self.config.peers.get(sa.peer)?.remotes.get(sa.remote_index)
    }

    /// Sends a Delete for the IKE SA without waiting for the reply, for shutdown and
    /// operator clears where the SA goes away regardless.
    pub(crate) fn send_delete_now(&mut self, sa: &mut IkeSa) {
        if sa.keys.is_none() || !sa.is_established() {
            return;
        }
        self.send_informational_now(
            sa,
            vec![Payload::Delete(rampart_wire::ike::DeleteRepr::ike())],
        );
    }

    /// Sends an INFORMATIONAL request once, without keeping it for retransmission.
    pub(crate) fn send_informational_now(&mut self, sa: &mut IkeSa, payloads: Vec<Payload>) {
        let header = Self::header(sa, ExchangeType::INFORMATIONAL, sa.next_mid, false);
        if let Some(d) = self.encode(sa, &header, payloads) {
            self.push_datagrams(sa, &d);
        }
        sa.next_mid = sa.next_mid.wrapping_add(1);
    }

    /// Reports an IKE SA and its children down and marks it dead.
    pub(crate) fn ike_sa_down(&mut self, sa: &mut IkeSa, reason: &str) {
        for c in sa.children.drain(..) {
            info!(target: "chd", "{} Child SA {:08x}_i {:08x}_o deleted: {reason}", format_args!("{}[{}]", self.config.peers.get(sa.peer).map_or("?", |p| p.name.as_str()), sa.unique_id), c.spi_in, c.spi_out);
            self.events.push_back(Event::ChildSaDown {
                peer: sa.peer,
                child: c.child,
                spi_in: c.spi_in,
                spi_out: c.spi_out,
                reason: reason.to_string(),
            });
        }
        // The winner of a simultaneous rekey deletes the old SA once the peer's
        // redundant SA is gone (RFC 7296 section 2.8.2).
        let spi = sa.local_spi();
        let waiting: Vec<u64> = self
            .sas
            .iter()
            .filter(|(_, old)| old.await_redundant.is_some_and(|(r, _)| r == spi))
            .map(|(old, _)| *old)
            .collect();
        for old in waiting {
            if let Some(old) = self.sas.get_mut(&old) {
                old.await_redundant = None;
                old.queue(Task::DeleteIke);
            }
        }
        if sa.established.is_some() {
            info!(target: "ike", "{} IKE SA deleted: {reason}", self.tag(sa));
            self.events.push_back(Event::IkeSaDown {
                peer: sa.peer,
                spi_i: sa.spi_i,
                spi_r: sa.spi_r,
                reason: reason.to_string(),
            });
        }
        sa.dead = true;
    }

    /// Starts the next queued task when no request of ours is outstanding.
    pub(crate) fn kick(&mut self, sa: &mut IkeSa, now: Option<Instant>) {
        if sa.dead || sa.outstanding.is_some() || !sa.is_established() {
            return;
        }
        let now = match now {
            Some(n) => n,
            None => sa.last_recv,
        };
        while sa.outstanding.is_none() && !sa.dead {
            let Some(task) = sa.tasks.pop_front() else {
                return;
            };
            self.start_task(sa, now, task);
        }
    }

    fn start_task(&mut self, sa: &mut IkeSa, now: Instant, task: Task) {
        match task {
            Task::CreateChild(child) => {
                let active = sa.children.iter().filter(|c| !c.replaced).count();
                if active >= crate::exchange::create_child::MAX_CHILDREN {
                    warn!(target: "chd", "{} not creating child {child}: {active} Child SAs is the maximum", self.tag(sa));
                    self.child_failed(sa.peer, child, now);
                } else if !sa.children.iter().any(|c| c.child == child && !c.replaced) {
                    self.create_child_build_i(sa, now, child, None);
                }
            }
            Task::RekeyChild(spi_in) => {
                let found = sa
                    .children
                    .iter()
                    .find(|c| c.spi_in == spi_in && !c.replaced)
                    .map(|c| c.child);
                if let Some(child) = found {
                    self.create_child_build_i(sa, now, child, Some(spi_in));
                }
            }
            // An SA replaced by the peer's rekey is not rekeyed again.
            Task::RekeyIke if !sa.retiring() => self.rekey_ike_build_i(sa, now),
            Task::RekeyIke => {}
            Task::Dpd => self.informational_build_i(sa, now, Pending::Dpd),
            // Sent even when the SA is already gone locally (expired); a peer that
            // no longer has the SPI replies with an empty response.
            Task::DeleteChild(spi_in) => {
                self.informational_build_i(sa, now, Pending::DeleteChild(vec![spi_in]))
            }
            Task::DeleteIke => self.informational_build_i(sa, now, Pending::DeleteIke),
        }
    }
}

/// Returns the type of the first unknown payload with the critical bit set.
pub(crate) fn critical_unknown(payloads: &[Payload]) -> Option<PayloadType> {
    payloads.iter().find_map(|p| match p {
        Payload::Unknown {
            payload_type,
            critical: true,
            ..
        } => Some(*payload_type),
        _ => None,
    })
}
