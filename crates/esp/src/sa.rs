//! One direction of an ESP security association in tunnel mode (RFC 4303): the
//! encapsulation and decapsulation transforms.
//!
//! An ESP packet here starts at the SPI. The daemon adds the outer IP header, and the
//! UDP header for ESP-in-UDP (RFC 3948), itself.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rampart_crypto::alg::{Encr, Integ};
use rampart_crypto::cipher::SaCipher;
use rampart_crypto::random::{Random, SystemRandom};
use rampart_crypto::{CryptoError, Zeroizing};
use rampart_wire::esp::{self, TrailerRepr};
use rampart_wire::ipv4::IpProtocol;

use crate::replay::{DEFAULT_WINDOW, ReplayWindow};
use crate::selector::{Flow, Selector};
use crate::stats::SaCounters;
use crate::DropReason;

/// Sequence numbers left when [`OutboundSa::seq_near_wrap`] starts returning true:
/// 2^26 packets last about 7 seconds at 10 million packets per second, enough for a
/// CREATE_CHILD_SA exchange to install a new SA before the counter runs out.
pub const SEQ_REKEY_MARGIN: u64 = 1 << 26;

/// Highest sequence number a 32-bit counter may send (RFC 4303 section 3.3.3: the
/// counter must not cycle).
const SEQ_MAX: u64 = u32::MAX as u64;

/// Soft and hard lifetimes of an SA. Time limits count from installation; byte limits
/// count inner octets. `None` means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lifetime {
    pub soft_time: Option<Duration>,
    pub hard_time: Option<Duration>,
    pub soft_bytes: Option<u64>,
    pub hard_bytes: Option<u64>,
}

impl Lifetime {
    /// Lifetime from `set security-association lifetime seconds S kilobytes K`
    /// (0 kilobytes means unlimited). The soft limits are at 90 % of the hard ones, so
    /// a rekey has time to finish before the SA expires.
    pub fn from_config(seconds: Duration, kilobytes: u64) -> Lifetime {
        let hard_bytes = (kilobytes != 0).then(|| kilobytes.saturating_mul(1024));
        let hard_time = (!seconds.is_zero()).then_some(seconds);
        Lifetime {
            soft_time: hard_time.map(|t| t.mul_f64(0.9)),
            hard_time,
            soft_bytes: hard_bytes.map(|b| b / 10 * 9),
            hard_bytes,
        }
    }
}

/// State of an SA against its lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LifetimeState {
    Valid,
    /// Past a soft limit: time to rekey.
    Soft,
    /// Past a hard limit: the SA must not be used.
    Hard,
}

/// Everything needed to install one direction of a Child SA, from the IKE engine's
/// negotiated keys and parameters.
pub struct SaParams {
    pub spi: u32,
    pub encr: Encr,
    pub integ: Option<Integ>,
    /// KEYMAT for encryption, including the 4-octet salt for AES-GCM.
    pub encr_key: Zeroizing<Vec<u8>>,
    /// KEYMAT for integrity; empty for AES-GCM.
    pub integ_key: Zeroizing<Vec<u8>>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// ESP in UDP (RFC 3948), after NAT detection.
    pub udp_encap: bool,
    pub local_ts: Vec<Selector>,
    pub remote_ts: Vec<Selector>,
    /// Anti-replay window in packets (inbound only); 0 disables replay detection.
    pub replay_window: u32,
    pub lifetime: Lifetime,
}

impl SaParams {
    /// Parameters with the default replay window and no lifetime limits.
    pub fn new(spi: u32, encr: Encr, integ: Option<Integ>, encr_key: &[u8], integ_key: &[u8], local: SocketAddr, remote: SocketAddr) -> SaParams {
        SaParams {
            spi,
            encr,
            integ,
            encr_key: Zeroizing::new(encr_key.to_vec()),
            integ_key: Zeroizing::new(integ_key.to_vec()),
            local,
            remote,
            udp_encap: false,
            local_ts: Vec::new(),
            remote_ts: Vec::new(),
            replay_window: DEFAULT_WINDOW,
            lifetime: Lifetime::default(),
        }
    }
}

impl std::fmt::Debug for SaParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaParams")
            .field("spi", &format_args!("{:#010x}", self.spi))
            .field("encr", &self.encr)
            .field("integ", &self.integ)
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("udp_encap", &self.udp_encap)
            .field("local_ts", &self.local_ts)
            .field("remote_ts", &self.remote_ts)
            .field("replay_window", &self.replay_window)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// The key-free description of an installed SA, for `show` output and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaInfo {
    pub spi: u32,
    pub encr: Encr,
    pub integ: Option<Integ>,
    pub local: SocketAddr,
    /// Peer address at installation; [`OutboundSa::remote`] follows NAT rebinding.
    pub remote: SocketAddr,
    pub udp_encap: bool,
    /// Shared between the inbound and the outbound SA of a Child SA when equal, so that
    /// each SA pair stores them once.
    pub local_ts: Arc<[Selector]>,
    pub remote_ts: Arc<[Selector]>,
    pub lifetime: Lifetime,
    pub installed_at: Instant,
}

impl SaInfo {
    fn from_params(p: &SaParams, now: Instant) -> SaInfo {
        SaInfo {
            spi: p.spi,
            encr: p.encr,
            integ: p.integ,
            local: p.local,
            remote: p.remote,
            udp_encap: p.udp_encap,
            local_ts: Arc::from(p.local_ts.as_slice()),
            remote_ts: Arc::from(p.remote_ts.as_slice()),
            lifetime: p.lifetime,
            installed_at: now,
        }
    }

    fn lifetime_state(&self, bytes: u64, now: Instant) -> LifetimeState {
        let age = now.saturating_duration_since(self.installed_at);
        let l = &self.lifetime;
        if l.hard_time.is_some_and(|t| age >= t) || l.hard_bytes.is_some_and(|b| bytes >= b) {
            LifetimeState::Hard
        } else if l.soft_time.is_some_and(|t| age >= t) || l.soft_bytes.is_some_and(|b| bytes >= b) {
            LifetimeState::Soft
        } else {
            LifetimeState::Valid
        }
    }

    /// Remaining (kilobytes, seconds) of the hard lifetime, as `sa timing: remaining key
    /// lifetime (kB/sec)` prints it; `None` for an unlimited dimension.
    pub fn remaining(&self, bytes: u64, now: Instant) -> (Option<u64>, Option<u64>) {
        let age = now.saturating_duration_since(self.installed_at);
        let kb = self.lifetime.hard_bytes.map(|b| b.saturating_sub(bytes) / 1024);
        let secs = self.lifetime.hard_time.map(|t| t.saturating_sub(age).as_secs());
        (kb, secs)
    }
}

fn cipher_for(p: &SaParams) -> Result<SaCipher, CryptoError> {
    SaCipher::new(p.encr, p.integ, &p.encr_key, &p.integ_key)
}

/// ESP next header for a tunnel-mode inner packet, from its IP version.
#[inline]
fn inner_next_header(inner: &[u8]) -> Result<IpProtocol, DropReason> {
    match inner.first().map(|b| b >> 4) {
        Some(4) => Ok(IpProtocol::IPV4),
        Some(6) => Ok(IpProtocol::IPV6),
        _ => Err(DropReason::BadInnerPacket),
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked: the replay
/// window and the remote address are updated in single steps.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The sending direction of an SA.
///
/// Every method takes `&self`, so worker threads can share one SA behind an `Arc` and
/// encrypt in parallel: the sequence number is an atomic counter, so each packet gets
/// its own number and GCM nonce.
pub struct OutboundSa {
    info: SaInfo,
    cipher: SaCipher,
    /// Next sequence number to send; starts at 1 (RFC 4303 section 3.3.3).
    next_seq: AtomicU64,
    /// Current outer address of the peer; it moves when a NAT rebinds.
    remote: Mutex<SocketAddr>,
    /// CBC IV source; `None` uses the system CSPRNG without locking.
    iv_source: Option<Mutex<Box<dyn Random>>>,
    packets: AtomicU64,
    bytes: AtomicU64,
}

impl std::fmt::Debug for OutboundSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundSa").field("info", &self.info).field("next_seq", &self.next_sequence()).finish_non_exhaustive()
    }
}

impl OutboundSa {
    /// Expands the keys; CBC IVs come from the system CSPRNG.
    pub fn new(params: SaParams, now: Instant) -> Result<OutboundSa, CryptoError> {
        OutboundSa::build(params, now, None)
    }

    /// Like [`OutboundSa::new`] with another source of CBC IVs (a test RNG).
    pub fn with_iv_source(params: SaParams, now: Instant, iv_source: Box<dyn Random>) -> Result<OutboundSa, CryptoError> {
        OutboundSa::build(params, now, Some(Mutex::new(iv_source)))
    }

    fn build(params: SaParams, now: Instant, iv_source: Option<Mutex<Box<dyn Random>>>) -> Result<OutboundSa, CryptoError> {
        let cipher = cipher_for(&params)?;
        Ok(OutboundSa {
            info: SaInfo::from_params(&params, now),
            cipher,
            next_seq: AtomicU64::new(1),
            remote: Mutex::new(params.remote),
            iv_source,
            packets: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        })
    }

    pub fn info(&self) -> &SaInfo {
        &self.info
    }

    /// Takes the selectors of `inbound` (the other direction of the same Child SA) when
    /// they equal this SA's, so that the pair stores them once.
    pub(crate) fn share_selectors(&mut self, inbound: &SaInfo) {
        if self.info.local_ts == inbound.local_ts {
            self.info.local_ts = Arc::clone(&inbound.local_ts);
        }
        if self.info.remote_ts == inbound.remote_ts {
            self.info.remote_ts = Arc::clone(&inbound.remote_ts);
        }
    }

    pub fn spi(&self) -> u32 {
        self.info.spi
    }

    /// Returns a snapshot of the encapsulation counters.
    pub fn counters(&self) -> SaCounters {
        let packets = self.packets.load(Ordering::Relaxed);
        SaCounters {
            pkts_encaps: packets,
            pkts_encrypt: if self.info.encr == Encr::Null { 0 } else { packets },
            pkts_digest: packets,
            bytes_out: self.bytes.load(Ordering::Relaxed),
            ..SaCounters::default()
        }
    }

    /// Returns the peer's current outer address. [`SaInfo::remote`] keeps the address
    /// the SA was installed with.
    pub fn remote(&self) -> SocketAddr {
        *lock(&self.remote)
    }

    /// Changes the peer's outer address, after a NAT rebinding was seen on an
    /// authenticated inbound packet (RFC 7296 section 2.23).
    pub fn set_remote(&self, remote: SocketAddr) {
        *lock(&self.remote) = remote;
    }

    /// Octets before the inner packet: SPI, sequence number and IV.
    #[inline]
    pub fn headroom(&self) -> usize {
        esp::HEADER_LEN + self.cipher.iv_len()
    }

    /// Largest number of octets after the inner packet: padding, trailer and ICV.
    #[inline]
    pub fn max_tailroom(&self) -> usize {
        self.cipher.block_len() - 1 + esp::TRAILER_LEN + self.cipher.icv_len()
    }

    /// Length of the ESP packet that carries an inner packet of `inner_len` octets.
    #[inline]
    pub fn esp_len(&self, inner_len: usize) -> usize {
        let block = self.cipher.block_len();
        self.headroom() + inner_len + esp::pad_len(inner_len, block) + esp::TRAILER_LEN + self.cipher.icv_len()
    }

    /// Cipher parameters: (IV length, ICV length, padding block length).
    pub fn transform_sizes(&self) -> (usize, usize, usize) {
        (self.cipher.iv_len(), self.cipher.icv_len(), self.cipher.block_len())
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u64 {
        self.next_seq.load(Ordering::Relaxed)
    }

    /// Moves the sequence counter, so tests and benchmarks can reach the end of the
    /// 32-bit space. Never lower the counter of an SA in use: that reuses GCM nonces.
    pub fn set_next_sequence(&self, seq: u64) {
        self.next_seq.store(seq, Ordering::Relaxed);
    }

    /// True when fewer than [`SEQ_REKEY_MARGIN`] sequence numbers are left: the daemon
    /// should ask the IKE engine to rekey this Child SA now.
    #[inline]
    pub fn seq_near_wrap(&self) -> bool {
        self.next_sequence() + SEQ_REKEY_MARGIN > SEQ_MAX
    }

    pub fn lifetime_state(&self, now: Instant) -> LifetimeState {
        self.info.lifetime_state(self.bytes.load(Ordering::Relaxed), now)
    }

    /// Encapsulates `inner` (an IPv4 or IPv6 packet) into `out`, which receives the
    /// ESP packet from the SPI to the ICV. Returns the ESP packet length.
    #[inline]
    pub fn encapsulate(&self, inner: &[u8], out: &mut [u8]) -> Result<usize, DropReason> {
        let start = self.headroom();
        let end = start + inner.len();
        let Some(slot) = out.get_mut(start..end) else { return Err(DropReason::BufferTooSmall) };
        slot.copy_from_slice(inner);
        self.encapsulate_in_place(out, inner.len())
    }

    /// Encapsulates an inner packet already placed at `buf[headroom()..headroom() +
    /// inner_len]`, which saves a copy when the daemon reads from the TUN device into
    /// that offset. The buffer needs `esp_len(inner_len)` octets. Returns the ESP length.
    pub fn encapsulate_in_place(&self, buf: &mut [u8], inner_len: usize) -> Result<usize, DropReason> {
        let next_header = self.check_inner(buf, inner_len)?;
        // Each call takes its own number, even when it fails later. Gaps are harmless,
        // but reuse would repeat a GCM nonce.
        let seq = self.reserve(1);
        self.seal_in_place(buf, inner_len, seq, next_header)
    }

    /// Takes `count` consecutive sequence numbers and returns the first. Workers that
    /// send one SA's packets in a fixed order reserve a batch's numbers in one step and
    /// then encrypt in parallel with [`OutboundSa::encapsulate_with_sequence`].
    ///
    /// The counter keeps counting past 2^32 - 1, and the encapsulation rejects every
    /// number above it, so the counter never cycles (RFC 4303 section 3.3.3).
    #[inline]
    pub fn reserve(&self, count: u64) -> u64 {
        self.next_seq.fetch_add(count, Ordering::Relaxed)
    }

    /// Like [`OutboundSa::encapsulate`] with a sequence number from
    /// [`OutboundSa::reserve`]. The caller must use each reserved number at most once,
    /// because a second use repeats the GCM nonce. A reserved number that is never used leaves a
    /// gap, which the receiver's replay window accepts.
    #[inline]
    pub fn encapsulate_with_sequence(&self, inner: &[u8], out: &mut [u8], seq: u64) -> Result<usize, DropReason> {
        let start = self.headroom();
        let Some(slot) = out.get_mut(start..start + inner.len()) else { return Err(DropReason::BufferTooSmall) };
        slot.copy_from_slice(inner);
        let next_header = self.check_inner(out, inner.len())?;
        self.seal_in_place(out, inner.len(), seq, next_header)
    }

    /// Like [`OutboundSa::encapsulate_in_place`] with a sequence number from
    /// [`OutboundSa::reserve`], under the same rule: each reserved number is used at
    /// most once.
    #[inline]
    pub fn encapsulate_in_place_with_sequence(&self, buf: &mut [u8], inner_len: usize, seq: u64) -> Result<usize, DropReason> {
        let next_header = self.check_inner(buf, inner_len)?;
        self.seal_in_place(buf, inner_len, seq, next_header)
    }

    /// Checks the hard byte lifetime and returns the ESP next header for the inner
    /// packet at `buf[headroom()..]`.
    #[inline]
    fn check_inner(&self, buf: &[u8], inner_len: usize) -> Result<IpProtocol, DropReason> {
        let start = self.headroom();
        let inner = buf.get(start..start + inner_len).ok_or(DropReason::BufferTooSmall)?;
        let next_header = inner_next_header(inner)?;
        if self.info.lifetime.hard_bytes.is_some_and(|b| self.bytes.load(Ordering::Relaxed) >= b) {
            return Err(DropReason::LifetimeExpired);
        }
        Ok(next_header)
    }

    /// Encapsulates the checked inner packet at `buf[headroom()..]` with sequence number
    /// `seq`.
    #[inline]
    fn seal_in_place(&self, buf: &mut [u8], inner_len: usize, seq: u64, next_header: IpProtocol) -> Result<usize, DropReason> {
        let start = self.headroom();
        let total = self.esp_len(inner_len);
        let buf = buf.get_mut(..total).ok_or(DropReason::BufferTooSmall)?;
        if seq > SEQ_MAX {
            return Err(DropReason::SeqExhausted);
        }
        buf[0..4].copy_from_slice(&self.info.spi.to_be_bytes());
        buf[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        let iv = &mut buf[esp::HEADER_LEN..start];
        match self.info.encr {
            // RFC 4106 section 3.1: the 64-bit counter is a unique IV per key; without
            // ESN its high 32 bits are zero.
            Encr::AesGcm16 { .. } => iv.copy_from_slice(&seq.to_be_bytes()),
            // RFC 3602 section 2.3: the CBC IV must be unpredictable.
            Encr::AesCbc { .. } => match &self.iv_source {
                Some(source) => lock(source).fill(iv),
                None => SystemRandom::new().fill(iv),
            },
            Encr::Null => {}
        }
        let pad_len = esp::pad_len(inner_len, self.cipher.block_len());
        let trailer = TrailerRepr { pad_len: pad_len as u8, next_header };
        let trailer_start = start + inner_len;
        trailer.emit(&mut buf[trailer_start..trailer_start + trailer.buffer_len()]);

        self.cipher.seal(buf, esp::HEADER_LEN).map_err(|_| DropReason::EncryptionFailed)?;

        self.packets.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(inner_len as u64, Ordering::Relaxed);
        Ok(total)
    }
}

/// A packet that decapsulated cleanly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decapsulated {
    /// The inner IP packet's position in the buffer given to `decapsulate`.
    pub inner: Range<usize>,
    /// IPv4 (4) or IPv6 (41).
    pub next_header: IpProtocol,
    pub seq: u32,
    pub spi: u32,
    /// True when the inner packet is an IP fragment, which the receiving host reassembles.
    pub fragment: bool,
}

/// Decapsulation counters, updated by concurrent workers.
#[derive(Debug, Default)]
struct InboundCounters {
    verified: AtomicU64,
    delivered: AtomicU64,
    bytes: AtomicU64,
    fragments: AtomicU64,
    replay_failures: AtomicU64,
    auth_failures: AtomicU64,
    tfc: AtomicU64,
    errors: AtomicU64,
}

/// The receiving direction of an SA.
///
/// Every method takes `&self`: decryption runs without a lock, and only the replay
/// window is locked, briefly, before and after it.
pub struct InboundSa {
    info: SaInfo,
    cipher: SaCipher,
    replay: Mutex<ReplayWindow>,
    counters: InboundCounters,
}

impl std::fmt::Debug for InboundSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundSa").field("info", &self.info).field("replay_top", &self.replay_top()).finish_non_exhaustive()
    }
}

impl InboundSa {
    pub fn new(params: SaParams, now: Instant) -> Result<InboundSa, CryptoError> {
        let cipher = cipher_for(&params)?;
        let replay = ReplayWindow::new(params.replay_window);
        Ok(InboundSa { info: SaInfo::from_params(&params, now), cipher, replay: Mutex::new(replay), counters: InboundCounters::default() })
    }

    pub fn info(&self) -> &SaInfo {
        &self.info
    }

    pub fn spi(&self) -> u32 {
        self.info.spi
    }

    /// Returns a snapshot of the decapsulation counters.
    pub fn counters(&self) -> SaCounters {
        let c = &self.counters;
        let verified = c.verified.load(Ordering::Relaxed);
        SaCounters {
            pkts_decaps: c.delivered.load(Ordering::Relaxed),
            pkts_decrypt: if self.info.encr == Encr::Null { 0 } else { verified },
            pkts_verify: verified,
            bytes_in: c.bytes.load(Ordering::Relaxed),
            decapsulated_frgs_needing_reassembly: c.fragments.load(Ordering::Relaxed),
            tfc_rcvd: c.tfc.load(Ordering::Relaxed),
            recv_errors: c.errors.load(Ordering::Relaxed),
            replay_failures: c.replay_failures.load(Ordering::Relaxed),
            auth_failures: c.auth_failures.load(Ordering::Relaxed),
            ..SaCounters::default()
        }
    }

    /// Returns the highest sequence number accepted so far.
    pub fn replay_top(&self) -> u32 {
        lock(&self.replay).top()
    }

    /// Returns the "Anti replay bitmap" of `show crypto ipsec sa`, as
    /// [`ReplayWindow::recent_bitmap`] defines it.
    pub fn replay_bitmap(&self) -> u64 {
        lock(&self.replay).recent_bitmap()
    }

    pub fn lifetime_state(&self, now: Instant) -> LifetimeState {
        self.info.lifetime_state(self.counters.bytes.load(Ordering::Relaxed), now)
    }

    /// Verifies, decrypts and checks one ESP packet (from the SPI to the ICV) in place.
    ///
    /// The order follows RFC 4303 section 3.4: the replay check runs before the ICV is
    /// verified, the window moves only after it verified, and the inner packet must lie
    /// inside the SA's selectors (RFC 4301 section 5.2).
    pub fn decapsulate(&self, esp: &mut [u8]) -> Result<Decapsulated, DropReason> {
        let result = self.decapsulate_inner(esp);
        if let Err(reason) = result {
            let c = &self.counters;
            let counter = match reason {
                DropReason::ReplayDuplicate | DropReason::ReplayTooOld => &c.replay_failures,
                DropReason::AuthenticationFailed => &c.auth_failures,
                DropReason::DummyPacket => &c.tfc,
                _ => &c.errors,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    #[inline]
    fn decapsulate_inner(&self, esp: &mut [u8]) -> Result<Decapsulated, DropReason> {
        let iv_len = self.cipher.iv_len();
        let icv_len = self.cipher.icv_len();
        let overhead = esp::HEADER_LEN + iv_len + icv_len;
        if esp.len() < overhead + esp::TRAILER_LEN {
            return Err(DropReason::Truncated);
        }
        if !(esp.len() - overhead).is_multiple_of(self.cipher.block_len()) {
            return Err(DropReason::BadLength);
        }
        let spi = u32::from_be_bytes([esp[0], esp[1], esp[2], esp[3]]);
        if spi != self.info.spi {
            return Err(DropReason::MissingSa);
        }
        let seq = u32::from_be_bytes([esp[4], esp[5], esp[6], esp[7]]);
        lock(&self.replay).check(seq)?;
        if self.info.lifetime.hard_bytes.is_some_and(|b| self.counters.bytes.load(Ordering::Relaxed) >= b) {
            return Err(DropReason::LifetimeExpired);
        }

        let plaintext = self.cipher.open(esp, esp::HEADER_LEN).map_err(|e| match e {
            CryptoError::AuthenticationFailed => DropReason::AuthenticationFailed,
            _ => DropReason::DecryptionFailed,
        })?;
        {
            // Checked again because a copy of this packet may have been accepted by
            // another worker while this one was decrypting.
            let mut window = lock(&self.replay);
            window.check(seq)?;
            window.accept(seq);
        }
        self.counters.verified.fetch_add(1, Ordering::Relaxed);

        let plain = esp.get(plaintext.clone()).ok_or(DropReason::DecryptionFailed)?;
        let (trailer, payload_len) = TrailerRepr::parse(plain).map_err(|_| DropReason::BadPadding)?;
        match trailer.next_header {
            IpProtocol::IPV4 | IpProtocol::IPV6 => {}
            IpProtocol::IPV6_NO_NEXT_HEADER => return Err(DropReason::DummyPacket),
            _ => return Err(DropReason::BadNextHeader),
        }
        let payload = &plain[..payload_len];
        if inner_next_header(payload)? != trailer.next_header {
            return Err(DropReason::BadInnerPacket);
        }
        let flow = Flow::parse(payload)?;
        // RFC 4303 section 2.4: TFC padding may follow the inner packet, so the IP
        // length, not the ESP payload length, bounds it.
        if !flow.matches(&self.info.remote_ts, &self.info.local_ts) {
            return Err(DropReason::SelectorMismatch);
        }
        let fragment = is_fragment(payload);

        let c = &self.counters;
        c.delivered.fetch_add(1, Ordering::Relaxed);
        c.bytes.fetch_add(flow.total_len as u64, Ordering::Relaxed);
        if fragment {
            c.fragments.fetch_add(1, Ordering::Relaxed);
        }
        let start = plaintext.start;
        Ok(Decapsulated { inner: start..start + flow.total_len, next_header: trailer.next_header, seq, spi, fragment })
    }
}

/// True when an IPv4 packet is a fragment; IPv6 fragments are left to the host's own
/// reassembly and are not counted.
fn is_fragment(packet: &[u8]) -> bool {
    packet.first().is_some_and(|b| b >> 4 == 4) && packet.len() >= 8 && u16::from_be_bytes([packet[6], packet[7]]) & 0x3fff != 0
}
