//! IKE SA and Child SA state.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use rampart_crypto::CryptoError;
use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use rampart_crypto::dh::KeyExchange;
use rampart_crypto::keys::IkeKeys;
use rampart_wire::ike::ExchangeType;
use zeroize::{Zeroize, Zeroizing};

use crate::config::{Identity, TrafficSelector};
use crate::crypt::{Reassembly, SkCipher};
use crate::event::{ChildSaInfo, IkeSaInfo};
use crate::proposal::IkeChosen;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// IKE_SA_INIT or IKE_AUTH in progress.
    Connecting,
    Established,
    /// A Delete for the IKE SA was sent; waiting for the reply.
    Deleting,
}

/// Key material of an IKE SA: SK_d for Child SAs and rekeys, and the SK keys.
/// SK_pi/SK_pr, needed only for the AUTH payloads, live in [`InitMessages`].
pub(crate) struct SaKeys {
    pub prf: Prf,
    pub sk_d: Zeroizing<Vec<u8>>,
    pub sk: SkCipher,
}

impl SaKeys {
    /// Builds the SK ciphers for our direction from derived IKE keys: SK_ei/SK_ai
    /// protect what the initiator of the SA sends (RFC 7296 section 2.14).
    pub fn new(chosen: &IkeChosen, k: &IkeKeys, initiator: bool) -> Result<SaKeys, CryptoError> {
        let (out_e, out_a, in_e, in_a) = if initiator {
            (&k.sk_ei, &k.sk_ai, &k.sk_er, &k.sk_ar)
        } else {
            (&k.sk_er, &k.sk_ar, &k.sk_ei, &k.sk_ai)
        };
        let sk = SkCipher::new(
            chosen.suite.encr,
            chosen.suite.integ,
            (out_e, out_a),
            (in_e, in_a),
        )?;
        Ok(SaKeys {
            prf: chosen.suite.prf,
            sk_d: k.sk_d.clone(),
            sk,
        })
    }
}

/// Data from IKE_SA_INIT that IKE_AUTH signs (RFC 7296 section 2.15), and the keys
/// SK_pi/SK_pr of the AUTH payloads. The keys are wiped on drop.
#[derive(Default)]
pub(crate) struct InitMessages {
    pub nonce_i: Vec<u8>,
    pub nonce_r: Vec<u8>,
    pub request: Vec<u8>,
    pub response: Vec<u8>,
    pub sk_pi: Vec<u8>,
    pub sk_pr: Vec<u8>,
}

impl Drop for InitMessages {
    fn drop(&mut self) {
        self.sk_pi.zeroize();
        self.sk_pr.zeroize();
    }
}

/// The empty [`InitMessages`] that an SA without handshake data reads.
static NO_INIT_MESSAGES: InitMessages = InitMessages {
    nonce_i: Vec::new(),
    nonce_r: Vec::new(),
    request: Vec::new(),
    response: Vec::new(),
    sk_pi: Vec::new(),
    sk_pr: Vec::new(),
};

/// The IKE_SA_INIT data of an SA, kept on the heap only while the SA needs it, so that
/// an established SA carries one pointer instead of four empty vectors. Reads of an SA
/// without it see empty fields; the first write allocates it.
#[derive(Default)]
pub(crate) struct Handshake(Option<Box<InitMessages>>);

impl Deref for Handshake {
    type Target = InitMessages;

    fn deref(&self) -> &InitMessages {
        self.0.as_deref().unwrap_or(&NO_INIT_MESSAGES)
    }
}

impl DerefMut for Handshake {
    fn deref_mut(&mut self) -> &mut InitMessages {
        self.0.get_or_insert_with(Box::default)
    }
}

/// A Child SA to create in a request we sent: what we offered, kept until the reply.
pub(crate) struct ChildRequest {
    pub child: usize,
    pub spi_in: u32,
    pub nonce: Vec<u8>,
    pub ke: Option<KeyExchange>,
    /// Inbound SPI of the Child SA this request rekeys.
    pub rekeys: Option<u32>,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    /// One retry after INVALID_KE_PAYLOAD.
    pub ke_retried: bool,
}

/// An IKE SA rekey we initiated (RFC 7296 section 2.18).
pub(crate) struct IkeRekeyRequest {
    pub new_spi: u64,
    pub nonce: Vec<u8>,
    pub ke: KeyExchange,
    /// One retry after INVALID_KE_PAYLOAD.
    pub ke_retried: bool,
}

/// State of IKE_SA_INIT as initiator.
pub(crate) struct InitRequest {
    pub ke: KeyExchange,
    pub cookie: Option<Vec<u8>>,
    pub ke_retried: bool,
    /// Children to create: the first in IKE_AUTH, the rest with CREATE_CHILD_SA.
    pub children: Vec<usize>,
}

/// The purpose of an outstanding request of ours.
pub(crate) enum Pending {
    Init(InitRequest),
    Auth {
        children: Vec<usize>,
        first: Option<ChildRequest>,
    },
    CreateChild(ChildRequest),
    RekeyIke(IkeRekeyRequest),
    Dpd,
    DeleteChild(Vec<u32>),
    DeleteIke,
}

/// Our request waiting for its response, with what is needed to retransmit it.
pub(crate) struct Request {
    pub message_id: u32,
    pub exchange: ExchangeType,
    pub datagrams: Vec<Vec<u8>>,
    pub tries: u32,
    pub next_at: Instant,
    pub pending: Pending,
}

/// Work queued until no request of ours is outstanding (window size 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Task {
    CreateChild(usize),
    RekeyChild(u32),
    RekeyIke,
    Dpd,
    DeleteChild(u32),
    DeleteIke,
}

pub(crate) struct ChildSa {
    pub child: usize,
    pub spi_in: u32,
    pub spi_out: u32,
    pub encr: Encr,
    pub integ: Option<Integ>,
    pub pfs: Option<DhGroup>,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    pub established: Instant,
    pub lifetime: Duration,
    pub rekey_at: Instant,
    /// Inbound kilobytes after which a rekey starts (90 % of the configured limit).
    pub kilobytes_rekey: u64,
    pub bytes: u64,
    /// A rekey of this SA is queued or running.
    pub rekeying: bool,
    /// Replaced by a rekey; deleted once the Delete exchange completes.
    pub replaced: bool,
    /// For an SA created by a rekey: the old SA's inbound SPI, whether we initiated
    /// that exchange, and the lowest of its two nonces (RFC 7296 section 2.8.1).
    pub rekey_of: Option<(u32, bool, Vec<u8>)>,
}

impl ChildSa {
    pub fn info(&self, now: Instant) -> ChildSaInfo {
        ChildSaInfo {
            child: self.child,
            spi_in: self.spi_in,
            spi_out: self.spi_out,
            local_ts: self.local_ts.clone(),
            remote_ts: self.remote_ts.clone(),
            encr: self.encr,
            integ: self.integ,
            pfs_group: self.pfs,
            lifetime_secs: self.lifetime.as_secs(),
            established_secs: now.saturating_duration_since(self.established).as_secs(),
        }
    }
}

pub(crate) struct IkeSa {
    pub unique_id: u64,
    pub peer: usize,
    pub remote_index: usize,
    /// We are the original initiator (RFC 7296 section 2.2).
    pub initiator: bool,
    pub spi_i: u64,
    pub spi_r: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: State,
    pub chosen: Option<IkeChosen>,
    pub keys: Option<SaKeys>,
    pub init: Handshake,
    pub local_id: Option<Identity>,
    pub remote_id: Option<Identity>,
    /// Message ID of our next request.
    pub next_mid: u32,
    /// Message ID expected in the peer's next request.
    pub peer_mid: u32,
    /// Boxed: a `Request` is 232 octets, and an established SA is idle almost always.
    pub outstanding: Option<Box<Request>>,
    /// Our last response and its message ID, re-sent for a retransmitted request.
    pub last_response: Option<(u32, Vec<Vec<u8>>)>,
    pub tasks: VecDeque<Task>,
    pub children: Vec<ChildSa>,
    pub nat_local: bool,
    pub nat_remote: bool,
    pub frag_supported: bool,
    pub created: Instant,
    pub established: Option<Instant>,
    pub last_recv: Instant,
    pub rekey_at: Option<Instant>,
    pub keepalive_at: Option<Instant>,
    /// Boxed, as `outstanding`: fragments arrive rarely.
    pub reassembly: Option<Box<Reassembly>>,
    /// Set when the SA is to be removed after the current step.
    pub dead: bool,
    /// Local SPI of the IKE SA that replaced this one in a rekey. Child SAs that an
    /// exchange still running on this SA creates move there (RFC 7296 section 2.18:
    /// children belong to the new IKE SA).
    pub successor: Option<u64>,
    /// Local SPI of the IKE SA that the peer's rekey of this SA created while our own
    /// rekey of it was in flight, and the lowest nonce of the peer's exchange. Which
    /// of the two new SAs survives is decided when our exchange ends (RFC 7296
    /// section 2.8.2); until then the Child SAs stay here.
    pub rekey_collision: Option<(u64, Vec<u8>)>,
    /// After a simultaneous rekey that our exchange won: the local SPI of the peer's
    /// redundant new IKE SA, and the deadline for the peer to delete it. This old SA
    /// is deleted once the redundant one is gone, as strongSwan does.
    pub await_redundant: Option<(u64, Instant)>,
}

impl IkeSa {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        unique_id: u64,
        peer: usize,
        remote_index: usize,
        initiator: bool,
        spi_i: u64,
        spi_r: u64,
        local: SocketAddr,
        remote: SocketAddr,
        now: Instant,
    ) -> IkeSa {
        IkeSa {
            unique_id,
            peer,
            remote_index,
            initiator,
            spi_i,
            spi_r,
            local,
            remote,
            state: State::Connecting,
            chosen: None,
            keys: None,
            init: Handshake::default(),
            local_id: None,
            remote_id: None,
            next_mid: 0,
            peer_mid: 0,
            outstanding: None,
            last_response: None,
            tasks: VecDeque::new(),
            children: Vec::new(),
            nat_local: false,
            nat_remote: false,
            frag_supported: false,
            created: now,
            established: None,
            last_recv: now,
            rekey_at: None,
            keepalive_at: None,
            reassembly: None,
            dead: false,
            successor: None,
            rekey_collision: None,
            await_redundant: None,
        }
    }

    /// Drops what only IKE_SA_INIT and IKE_AUTH need, once IKE_AUTH is done: the
    /// nonces, the IKE_SA_INIT messages the AUTH payloads sign and SK_pi/SK_pr
    /// (RFC 7296 section 2.15), which are wiped. Child SAs and rekeys use SK_d and
    /// fresh nonces.
    pub fn release_handshake_state(&mut self) {
        self.init = Handshake::default();
    }

    pub fn local_spi(&self) -> u64 {
        if self.initiator {
            self.spi_i
        } else {
            self.spi_r
        }
    }

    pub fn udp_encap(&self) -> bool {
        self.nat_local || self.nat_remote
    }

    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// True while an IKE SA rekey of ours on this SA awaits its response.
    pub fn rekeying_ike(&self) -> bool {
        matches!(
            self.outstanding.as_ref().map(|r| &r.pending),
            Some(Pending::RekeyIke(_))
        )
    }

    /// True once this SA was replaced by a rekey, is being replaced by a simultaneous
    /// one, or is being deleted: no new work starts on it (RFC 7296 section 2.25).
    pub fn retiring(&self) -> bool {
        self.successor.is_some() || self.rekey_collision.is_some() || self.state == State::Deleting
    }

    /// Queues a task unless an equal one is already waiting.
    pub fn queue(&mut self, task: Task) {
        if !self.tasks.contains(&task) {
            self.tasks.push_back(task);
        }
    }

    pub fn child_by_spi_in(&mut self, spi: u32) -> Option<&mut ChildSa> {
        self.children.iter_mut().find(|c| c.spi_in == spi)
    }

    pub fn state_name(&self) -> &'static str {
        match self.state {
            State::Connecting => "CONNECTING",
            State::Established if self.rekeying_ike() => "REKEYING",
            State::Established => "READY",
            State::Deleting => "DELETING",
        }
    }

    pub fn info(&self, peer_name: &str, now: Instant) -> IkeSaInfo {
        let chosen = self.chosen;
        IkeSaInfo {
            peer: self.peer,
            peer_name: peer_name.to_string(),
            unique_id: self.unique_id,
            local: self.local,
            remote: self.remote,
            initiator: self.initiator,
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            state: self.state_name().to_string(),
            negotiated: chosen.is_some(),
            encr: chosen.map_or(Encr::Null, |c| c.suite.encr),
            integ: chosen.and_then(|c| c.suite.integ),
            prf: chosen.map_or(Prf::HmacSha1, |c| c.suite.prf),
            dh_group: chosen.map_or(DhGroup::Modp768, |c| c.dh),
            local_id: self
                .local_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            remote_id: self
                .remote_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            lifetime_secs: chosen.map_or(0, |c| c.lifetime.as_secs()),
            established_secs: self
                .established
                .map_or(0, |t| now.saturating_duration_since(t).as_secs()),
            nat_detected_local: self.nat_local,
            nat_detected_remote: self.nat_remote,
            next_message_id: self.next_mid,
            peer_message_id: self.peer_mid,
            children: self
                .children
                .iter()
                .filter(|c| !c.replaced)
                .map(|c| c.info(now))
                .collect(),
        }
    }
}

/// The IKE SAs by our own SPI. Each SA is boxed, so the table's spare slots (about
/// half of them right after the table grows) cost a pointer each, not a whole `IkeSa`.
/// `remove` hands the SA out by value and `insert` boxes it again, so the exchange
/// code can own an SA while it borrows the engine.
#[derive(Default)]
pub(crate) struct IkeSaTable {
    sas: HashMap<u64, Box<IkeSa>>,
    deadlines: DeadlineIndex,
}

/// The earliest timer of each IKE SA in deadline order, so that the engine finds the
/// next deadline and the due SAs without visiting every SA.
///
/// The index is refreshed lazily. Every mutable access to an SA marks it as changed,
/// and `Engine::refresh_deadlines` recomputes the changed SAs before the index is
/// read. An SA's deadline depends only on its own fields and the configuration, whose
/// replacement reinserts every SA.
#[derive(Debug, Default)]
pub(crate) struct DeadlineIndex {
    ordered: BTreeSet<(Instant, u64)>,
    by_spi: HashMap<u64, Instant>,
    /// SAs marked dead but still in the table; they are due at once.
    dead: HashSet<u64>,
    changed: HashSet<u64>,
}

impl DeadlineIndex {
    /// Records the SA's current deadline and whether it is dead. A `None` deadline
    /// removes the SA from the order.
    pub fn set(&mut self, spi: u64, deadline: Option<Instant>, dead: bool) {
        if let Some(old) = self.by_spi.remove(&spi) {
            self.ordered.remove(&(old, spi));
        }
        if let Some(at) = deadline {
            self.by_spi.insert(spi, at);
            self.ordered.insert((at, spi));
        }
        if dead {
            self.dead.insert(spi);
        } else {
            self.dead.remove(&spi);
        }
    }

    /// Returns the earliest deadline of any SA.
    pub fn next(&self) -> Option<Instant> {
        self.ordered.first().map(|(at, _)| *at)
    }

    /// Returns the SAs that are dead or whose deadline is at or before `now`.
    pub fn due(&self, now: Instant) -> Vec<u64> {
        let mut spis: Vec<u64> = self.dead.iter().copied().collect();
        let timed = self.ordered.range(..=(now, u64::MAX)).map(|(_, spi)| *spi);
        spis.extend(timed.filter(|spi| !self.dead.contains(spi)));
        spis
    }
}

impl IkeSaTable {
    pub fn insert(&mut self, spi: u64, sa: IkeSa) {
        self.sas.insert(spi, Box::new(sa));
        self.deadlines.changed.insert(spi);
    }

    pub fn remove(&mut self, spi: &u64) -> Option<IkeSa> {
        let sa = self.sas.remove(spi)?;
        self.deadlines.set(*spi, None, false);
        self.deadlines.changed.remove(spi);
        Some(*sa)
    }

    pub fn get(&self, spi: &u64) -> Option<&IkeSa> {
        self.sas.get(spi).map(|sa| &**sa)
    }

    /// Returns the SA for changing. Its deadline is recomputed before the next read.
    pub fn get_mut(&mut self, spi: &u64) -> Option<&mut IkeSa> {
        let sa = self.sas.get_mut(spi)?;
        self.deadlines.changed.insert(*spi);
        Some(&mut **sa)
    }

    pub fn contains_key(&self, spi: &u64) -> bool {
        self.sas.contains_key(spi)
    }

    pub fn keys(&self) -> impl Iterator<Item = &u64> {
        self.sas.keys()
    }

    pub fn values(&self) -> impl Iterator<Item = &IkeSa> {
        self.sas.values().map(|sa| &**sa)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u64, &IkeSa)> {
        self.sas.iter().map(|(spi, sa)| (spi, &**sa))
    }

    /// Takes the SAs changed since the last call, for `Engine::refresh_deadlines`.
    pub fn take_changed(&mut self) -> HashSet<u64> {
        std::mem::take(&mut self.deadlines.changed)
    }

    pub fn deadlines(&self) -> &DeadlineIndex {
        &self.deadlines
    }

    pub fn deadlines_mut(&mut self) -> &mut DeadlineIndex {
        &mut self.deadlines
    }

    /// Estimated octets of the table's own allocation: a slot and a control octet per
    /// bucket, with buckets about 8/7 of the capacity.
    pub fn table_bytes(&self) -> usize {
        let buckets = self.sas.capacity() * 8 / 7;
        buckets * (std::mem::size_of::<(u64, Box<IkeSa>)>() + 1)
    }
}

/// Octets of heap an IKE SA holds, by component, counted from sizes and capacities
/// (malloc's per-chunk header and AWS-LC's contexts are not included).
pub(crate) fn heap_parts(sa: &IkeSa) -> [(&'static str, usize); 7] {
    let keys = sa
        .keys
        .as_ref()
        .map_or(0, |k| k.sk_d.capacity() + k.sk.key_bytes());
    let init = sa.init.0.as_ref().map_or(0, |i| {
        std::mem::size_of::<InitMessages>()
            + [
                &i.nonce_i,
                &i.nonce_r,
                &i.request,
                &i.response,
                &i.sk_pi,
                &i.sk_pr,
            ]
            .iter()
            .map(|v| v.capacity())
            .sum::<usize>()
    });
    let last_response = sa.last_response.as_ref().map_or(0, |(_, d)| {
        d.capacity() * std::mem::size_of::<Vec<u8>>()
            + d.iter().map(|x| x.capacity()).sum::<usize>()
    });
    let children = sa.children.capacity() * std::mem::size_of::<ChildSa>()
        + sa.children
            .iter()
            .map(|c| {
                (c.local_ts.capacity() + c.remote_ts.capacity())
                    * std::mem::size_of::<TrafficSelector>()
                    + c.rekey_of.as_ref().map_or(0, |r| r.2.capacity())
            })
            .sum::<usize>();
    let identity = |id: &Option<Identity>| match id {
        Some(Identity::Fqdn(s) | Identity::Rfc822(s)) => s.capacity(),
        Some(Identity::KeyId(k)) => k.capacity(),
        _ => 0,
    };
    let ids = identity(&sa.local_id) + identity(&sa.remote_id);
    let requests = sa.tasks.capacity() * std::mem::size_of::<Task>()
        + sa.outstanding
            .as_ref()
            .map_or(0, |r| r.datagrams.iter().map(|d| d.capacity()).sum());
    [
        ("IKE SA struct", std::mem::size_of::<IkeSa>()),
        ("raw keys (SK_d, SK_e, SK_a)", keys),
        ("IKE_SA_INIT data, SK_pi, SK_pr", init),
        ("cached last response", last_response),
        ("Child SAs", children),
        ("identities", ids),
        ("queued tasks, outstanding request", requests),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_index_orders_earliest() {
        let start = Instant::now();
        let mut index = DeadlineIndex::default();
        index.set(1, Some(start + Duration::from_secs(30)), false);
        index.set(2, Some(start + Duration::from_secs(10)), false);
        index.set(3, None, false);
        assert_eq!(index.next(), Some(start + Duration::from_secs(10)));
    }

    #[test]
    fn deadline_index_replaces_entry() {
        let start = Instant::now();
        let mut index = DeadlineIndex::default();
        index.set(1, Some(start + Duration::from_secs(10)), false);
        index.set(1, Some(start + Duration::from_secs(60)), false);
        assert_eq!(index.next(), Some(start + Duration::from_secs(60)));
        assert_eq!(index.ordered.len(), 1);
        index.set(1, None, false);
        assert_eq!(index.next(), None);
        assert!(index.by_spi.is_empty());
    }

    #[test]
    fn deadline_index_due() {
        let start = Instant::now();
        let mut index = DeadlineIndex::default();
        index.set(1, Some(start + Duration::from_secs(10)), false);
        index.set(2, Some(start + Duration::from_secs(20)), false);
        index.set(3, Some(start + Duration::from_secs(30)), true);
        index.set(4, None, true);
        let mut due = index.due(start + Duration::from_secs(20));
        due.sort_unstable();
        // Deadlines at `now` are due, dead SAs are due at once, and each SA once.
        assert_eq!(due, vec![1, 2, 3, 4]);
        index.set(4, None, false);
        let mut due = index.due(start);
        due.sort_unstable();
        assert_eq!(due, vec![3]);
    }
}
