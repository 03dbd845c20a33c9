//! IKE_SA_INIT (RFC 7296 section 1.2): proposals, KE, nonces, NAT detection, COOKIE
//! (section 2.6), INVALID_KE_PAYLOAD (section 1.3) and the move to port 4500.

use std::net::SocketAddr;
use std::time::Instant;

use rampart_crypto::alg::DhGroup;
use rampart_crypto::alg::Prf;
use rampart_crypto::dh::KeyExchange;
use rampart_crypto::keys::{derive_ike_keys, skeyseed};
use rampart_crypto::prf::prf;
use rampart_wire::ike::{
    ExchangeType, HeaderRepr, KeRepr, MessageRepr, NotifyRepr, NotifyType, Payload,
};
use tracing::{debug, info, warn};

use super::child::{find_ke, find_nonce, find_sa};
use crate::engine::{Engine, critical_unknown};
use crate::event::{Event, Transmit};
use crate::nat::detection_hash;
use crate::proposal::{self, IkeChosen, Reject};
use crate::sa::{IkeSa, InitMessages, InitRequest, Pending, SaKeys, State};

/// The parts of a received IKE_SA_INIT request the response is built from.
struct InitRequestData<'a> {
    local: SocketAddr,
    remote: SocketAddr,
    data: &'a [u8],
    header: &'a HeaderRepr,
    nonce_i: &'a [u8],
    ke: &'a KeRepr,
    payloads: &'a [Payload],
}

/// Nonce length: 32 octets, at least half of the largest PRF key (RFC 7296 2.10).
pub(crate) const NONCE_LEN: usize = 32;
const NAT_T_PORT: u16 = 4500;

/// Finds the notify of a type in a payload list.
pub(crate) fn find_notify(payloads: &[Payload], t: NotifyType) -> Option<&NotifyRepr> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.notify_type == t => Some(n),
        _ => None,
    })
}

/// Returns the first error notify.
pub(crate) fn error_notify(payloads: &[Payload]) -> Option<&NotifyRepr> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.notify_type.is_error() => Some(n),
        _ => None,
    })
}

/// The nonce's length must be 16 to 256 octets (RFC 7296 section 3.9).
pub(crate) fn valid_nonce(n: &[u8]) -> bool {
    (16..=256).contains(&n.len())
}

impl Engine {
    /// Starts a new IKE SA with the active remote of `peer`.
    pub(crate) fn start_ike_sa(&mut self, now: Instant, peer: usize, children: Vec<usize>) {
        let Some(pc) = self.config.peers.get(peer) else {
            return;
        };
        let remote_index = self.peers[peer]
            .active
            .min(pc.remotes.len().saturating_sub(1));
        let Some(remote) = pc.remotes.get(remote_index) else {
            warn!(target: "ike", "{}: no remote peer configured", pc.name);
            return;
        };
        let Some(group) = proposal::first_dh(&pc.ike_proposals) else {
            warn!(target: "ike", "{}: no usable IKE proposal configured", pc.name);
            return;
        };
        let local = SocketAddr::new(pc.local_addr, 500);
        let remote = SocketAddr::new(remote.addr, 500);
        let ke = match KeyExchange::generate(group, self.random.as_mut()) {
            Ok(k) => k,
            Err(e) => {
                warn!(target: "ike", "{}: generating a {} key failed: {e}", pc.name, group.name());
                return;
            }
        };
        let spi_i = self.new_ike_spi();
        let unique_id = self.next_unique_id();
        let mut sa = IkeSa::new(
            unique_id,
            peer,
            remote_index,
            true,
            spi_i,
            0,
            local,
            remote,
            now,
        );
        sa.init.nonce_i = self.random_bytes(NONCE_LEN);
        info!(target: "ike", "{} initiating IKE SA to {remote}", self.tag(&sa));
        self.init_build_i(
            &mut sa,
            now,
            InitRequest {
                ke,
                cookie: None,
                ke_retried: false,
                children,
            },
        );
        self.finish(sa);
    }

    /// Sends (or re-sends, after COOKIE or INVALID_KE_PAYLOAD) the IKE_SA_INIT request.
    fn init_build_i(&mut self, sa: &mut IkeSa, now: Instant, init: InitRequest) {
        let Some(pc) = self.config.peers.get(sa.peer) else {
            return;
        };
        let mut payloads = Vec::with_capacity(7);
        if let Some(c) = &init.cookie {
            payloads.push(Payload::notify(NotifyType::COOKIE, c.clone()));
        }
        payloads.push(Payload::Sa(proposal::ike_offer(&pc.ike_proposals, None)));
        payloads.push(Payload::Ke(KeRepr {
            dh_group: init.ke.group().transform_id(),
            data: init.ke.public_value().to_vec(),
        }));
        payloads.push(Payload::Nonce(sa.init.nonce_i.clone()));
        let source = self.nat_source_hash(sa.spi_i, 0, sa.local);
        payloads.push(Payload::notify(NotifyType::NAT_DETECTION_SOURCE_IP, source));
        payloads.push(Payload::notify(
            NotifyType::NAT_DETECTION_DESTINATION_IP,
            detection_hash(sa.spi_i, 0, sa.remote),
        ));
        if self.config.fragmentation {
            payloads.push(Payload::notify(
                NotifyType::IKEV2_FRAGMENTATION_SUPPORTED,
                Vec::new(),
            ));
        }
        sa.next_mid = 0;
        self.send_request(
            sa,
            now,
            ExchangeType::IKE_SA_INIT,
            payloads,
            Pending::Init(init),
        );
        if let Some(req) = &sa.outstanding {
            sa.init.request = req.datagrams.first().cloned().unwrap_or_default();
        }
    }

    /// Handles the IKE_SA_INIT response as initiator.
    pub(crate) fn init_process_i(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        data: &[u8],
        msg: MessageRepr,
        mut init: InitRequest,
    ) {
        let tag = self.tag(sa);
        let payloads = msg.payloads;
        if let Some(t) = critical_unknown(&payloads) {
            let reason = format!(
                "IKE_SA_INIT response from {} has unsupported critical payload {t}",
                sa.remote
            );
            warn!(target: "ike", "{tag} {reason}");
            self.failure(sa, &reason);
            self.ike_sa_failed(sa, now, &reason, true);
            return;
        }
        if let Some(c) = find_notify(&payloads, NotifyType::COOKIE) {
            if init.cookie.is_some() && init.cookie.as_deref() == Some(&c.data[..]) {
                warn!(target: "ike", "{tag} responder {} repeated the same COOKIE, giving up", sa.remote);
                self.ike_sa_failed(sa, now, "COOKIE exchange failed", true);
                return;
            }
            debug!(target: "ike", "{tag} responder {} requested a COOKIE, retrying", sa.remote);
            init.cookie = Some(c.data.clone());
            self.init_build_i(sa, now, init);
            return;
        }
        if let Some(n) = find_notify(&payloads, NotifyType::INVALID_KE_PAYLOAD) {
            let requested = <[u8; 2]>::try_from(n.data.as_slice())
                .ok()
                .map(u16::from_be_bytes);
            let group = requested.and_then(DhGroup::from_transform);
            let offered = self.config.peers.get(sa.peer).is_some_and(|p| {
                p.ike_proposals
                    .iter()
                    .any(|ip| group.is_some_and(|g| ip.dh_groups.contains(&g)))
            });
            match group {
                Some(g) if offered && !init.ke_retried && g.is_supported() => {
                    info!(target: "ike", "{tag} responder requested DH group {}, retrying", g.name());
                    match KeyExchange::generate(g, self.random.as_mut()) {
                        Ok(ke) => {
                            init.ke = ke;
                            init.ke_retried = true;
                            self.init_build_i(sa, now, init);
                        }
                        Err(e) => self.ike_sa_failed(
                            sa,
                            now,
                            &format!("DH group {} unavailable: {e}", g.name()),
                            true,
                        ),
                    }
                }
                _ => {
                    let reason = format!(
                        "INVALID_KE_PAYLOAD asking for unoffered or repeated group {requested:?}"
                    );
                    warn!(target: "ike", "{tag} {reason}");
                    self.failure(sa, &reason);
                    self.ike_sa_failed(sa, now, &reason, true);
                }
            }
            return;
        }
        if let Some(n) = error_notify(&payloads) {
            let reason = format!(
                "peer {} rejected IKE_SA_INIT with {}",
                sa.remote, n.notify_type
            );
            let offered = self
                .config
                .peers
                .get(sa.peer)
                .map(|p| proposal::describe(&proposal::ike_offer(&p.ike_proposals, None)))
                .unwrap_or_default();
            warn!(target: "ike", "{tag} {reason}; we offered {offered}");
            self.failure(sa, &reason);
            self.ike_sa_failed(sa, now, &reason, true);
            return;
        }
        let (Some(sa_payload), Some(ke), Some(nonce_r)) = (
            find_sa(&payloads),
            find_ke(&payloads),
            find_nonce(&payloads),
        ) else {
            warn!(target: "ike", "{tag} IKE_SA_INIT response from {} lacks SA, KE or Nonce", sa.remote);
            self.ike_sa_failed(sa, now, "invalid IKE_SA_INIT response", true);
            return;
        };
        if msg.header.spi_r == 0 || !valid_nonce(nonce_r) {
            warn!(target: "ike", "{tag} IKE_SA_INIT response from {} has a zero SPI or a bad nonce", sa.remote);
            self.ike_sa_failed(sa, now, "invalid IKE_SA_INIT response", true);
            return;
        }
        let proposals = self
            .config
            .peers
            .get(sa.peer)
            .map(|p| p.ike_proposals.clone())
            .unwrap_or_default();
        let chosen = match proposal::accept_ike(&proposals, sa_payload) {
            Some(c) if c.dh.transform_id() == ke.dh_group && c.dh == init.ke.group() => c,
            _ => {
                let reason = format!(
                    "peer {} chose a proposal we did not offer: {}",
                    sa.remote,
                    proposal::describe(sa_payload)
                );
                warn!(target: "ike", "{tag} {reason}");
                self.failure(sa, &reason);
                self.ike_sa_failed(sa, now, &reason, true);
                return;
            }
        };
        let shared = match init.ke.compute_shared(&ke.data) {
            Ok(s) => s,
            Err(e) => {
                warn!(target: "ike", "{tag} invalid KE value from {}: {e}", sa.remote);
                self.ike_sa_failed(sa, now, "invalid KE payload", true);
                return;
            }
        };
        sa.spi_r = msg.header.spi_r;
        sa.init.nonce_r = nonce_r.clone();
        sa.init.response = data.to_vec();
        sa.frag_supported =
            find_notify(&payloads, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
        self.detect_nat(sa, &payloads);
        if !self.install_ike_keys(sa, chosen, &shared, true) {
            self.ike_sa_failed(sa, now, "key derivation failed", false);
            return;
        }
        if sa.udp_encap() {
            // With a NAT in the path the initiator moves to port 4500 from IKE_AUTH
            // on (RFC 7296 section 2.23). The driver adds the non-ESP marker.
            sa.local.set_port(NAT_T_PORT);
            sa.remote.set_port(NAT_T_PORT);
            debug!(target: "ike", "{tag} NAT detected (local {}, remote {}), moving to port {NAT_T_PORT}", sa.nat_local, sa.nat_remote);
        }
        self.auth_build_i(sa, now, init.children);
    }

    /// Compares the peer's NAT_DETECTION hashes with the addresses we see
    /// (RFC 7296 section 2.23).
    fn detect_nat(&mut self, sa: &mut IkeSa, payloads: &[Payload]) {
        let spi_r = if sa.initiator { sa.spi_r } else { 0 };
        let src_expected = detection_hash(sa.spi_i, spi_r, sa.remote);
        let dst_expected = detection_hash(sa.spi_i, spi_r, sa.local);
        let sources: Vec<&Payload> = payloads.iter().filter(|p| matches!(p, Payload::Notify(n) if n.notify_type == NotifyType::NAT_DETECTION_SOURCE_IP)).collect();
        if !sources.is_empty() {
            sa.nat_remote = !sources
                .iter()
                .any(|p| matches!(p, Payload::Notify(n) if n.data == src_expected));
        }
        if let Some(d) = find_notify(payloads, NotifyType::NAT_DETECTION_DESTINATION_IP) {
            sa.nat_local = d.data != dst_expected;
        }
        // With forced encapsulation our NAT_DETECTION_SOURCE_IP was random, so the
        // peer detects a NAT on our side. We act as if it were there.
        if self.config.force_udp_encap {
            sa.nat_local = true;
        }
    }

    /// Returns the data of our NAT_DETECTION_SOURCE_IP: the hash of our address, or
    /// random octets of the same length when UDP encapsulation is forced, so that the
    /// peer detects a NAT that is not there (RFC 7296 section 2.23).
    fn nat_source_hash(&mut self, spi_i: u64, spi_r: u64, local: SocketAddr) -> Vec<u8> {
        let hash = detection_hash(spi_i, spi_r, local);
        if self.config.force_udp_encap {
            self.random_bytes(hash.len())
        } else {
            hash
        }
    }

    /// Derives SKEYSEED and the SK keys and builds the SK ciphers.
    pub(crate) fn install_ike_keys(
        &mut self,
        sa: &mut IkeSa,
        chosen: IkeChosen,
        shared: &[u8],
        initiator: bool,
    ) -> bool {
        let tag = self.tag(sa);
        let result = skeyseed(chosen.suite.prf, &sa.init.nonce_i, &sa.init.nonce_r, shared)
            .and_then(|seed| {
                derive_ike_keys(
                    chosen.suite,
                    &seed,
                    &sa.init.nonce_i,
                    &sa.init.nonce_r,
                    sa.spi_i,
                    sa.spi_r,
                )
            })
            .and_then(|k| SaKeys::new(&chosen, &k, initiator).map(|keys| (keys, k)));
        match result {
            Ok((keys, k)) => {
                sa.init.sk_pi = k.sk_pi.to_vec();
                sa.init.sk_pr = k.sk_pr.to_vec();
                sa.keys = Some(keys);
                sa.chosen = Some(chosen);
                true
            }
            Err(e) => {
                warn!(target: "ike", "{tag} IKE key derivation failed: {e}");
                false
            }
        }
    }

    pub(crate) fn failure(&mut self, sa: &IkeSa, reason: &str) {
        self.events.push_back(Event::Failure {
            peer: Some(sa.peer),
            remote: sa.remote,
            reason: reason.to_string(),
        });
    }

    /// COOKIE = prf(secret, Ni | IPi | SPIi) (RFC 7296 section 2.6, without the
    /// secret version: the secret lives as long as the engine).
    fn cookie(&self, nonce: &[u8], remote: SocketAddr, spi_i: u64) -> Vec<u8> {
        let ip = match remote.ip() {
            std::net::IpAddr::V4(a) => a.octets().to_vec(),
            std::net::IpAddr::V6(a) => a.octets().to_vec(),
        };
        prf(
            Prf::HmacSha2_256,
            &self.cookie_secret,
            &[nonce, &ip, &spi_i.to_be_bytes()],
        )
        .map(|c| c.to_vec())
        .unwrap_or_default()
    }

    /// Re-sends our IKE_SA_INIT response when `data` repeats a request we already
    /// replied to. Returns true when the request belongs to an existing SA.
    fn resend_init_response(
        &mut self,
        remote: SocketAddr,
        data: &[u8],
        header: &HeaderRepr,
    ) -> bool {
        let Some(sa) = self
            .sas
            .values()
            .find(|sa| !sa.initiator && sa.spi_i == header.spi_i && sa.remote == remote)
        else {
            return false;
        };
        if sa.init.request == data
            && let Some((_, datagrams)) = &sa.last_response
        {
            debug!(target: "ike", "{} retransmitted IKE_SA_INIT request, re-sending the response", self.tag(sa));
            let (local, remote, datagrams) = (sa.local, sa.remote, datagrams.clone());
            for payload in datagrams {
                self.transmits.push_back(Transmit {
                    local,
                    remote,
                    payload,
                    keepalive: false,
                });
            }
        }
        true
    }

    /// Finds the crypto map entry whose active remote is `remote`. As on an ASA, a
    /// backup peer cannot connect while the primary is the active one.
    fn responder_peer(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        header: &HeaderRepr,
    ) -> Option<usize> {
        let active =
            |i: usize, p: &crate::config::PeerConfig| p.remotes.get(self.peers[i].active).cloned();
        let by_address = self
            .config
            .peers
            .iter()
            .enumerate()
            .position(|(i, p)| active(i, p).is_some_and(|r| r.addr == remote.ip()));
        // A peer behind a NAT may appear from an unexpected address. An entry that
        // expects a specific identity takes it provisionally, and IKE_AUTH then
        // requires exactly that identity (see `auth_process_r`).
        let found = by_address.or_else(|| {
            self.config
                .peers
                .iter()
                .enumerate()
                .position(|(i, p)| active(i, p).is_some_and(|r| r.remote_identity.is_some()))
        });
        if by_address.is_none() && found.is_some() {
            info!(target: "ike", "IKE_SA_INIT from {remote} (SPI {:016x}) matches no peer address; the peer is chosen by identity in IKE_AUTH", header.spi_i);
        }
        if found.is_none() {
            warn!(target: "ike", "IKE_SA_INIT from {remote} (SPI {:016x}): no crypto map entry has it as active peer", header.spi_i);
            self.events.push_back(Event::Failure {
                peer: None,
                remote,
                reason: "no crypto map entry for this peer".into(),
            });
            self.send_init_error(
                local,
                remote,
                header,
                NotifyType::NO_PROPOSAL_CHOSEN,
                Vec::new(),
            );
        }
        found
    }

    /// Above the half-open threshold a request must echo our COOKIE (RFC 7296 2.6).
    /// Returns false after sending the COOKIE the initiator has to echo.
    fn cookie_accepted(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        header: &HeaderRepr,
        payloads: &[Payload],
        nonce_i: &[u8],
    ) -> bool {
        let half_open = self
            .sas
            .values()
            .filter(|sa| !sa.initiator && sa.state == State::Connecting)
            .count();
        if half_open < self.config.cookie_threshold {
            return true;
        }
        let expected = self.cookie(nonce_i, remote, header.spi_i);
        let echoed = match payloads.first() {
            Some(Payload::Notify(n)) if n.notify_type == NotifyType::COOKIE => {
                rampart_crypto::constant_time_eq(&n.data, &expected)
            }
            _ => false,
        };
        if !echoed {
            debug!(target: "ike", "{half_open} half-open IKE SAs, asking {remote} for a COOKIE");
            self.send_init_error(local, remote, header, NotifyType::COOKIE, expected);
        }
        echoed
    }

    /// Handles an IKE_SA_INIT request: a retransmission of one we already replied to,
    /// or a new responder IKE SA.
    pub(crate) fn init_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
        header: &HeaderRepr,
    ) {
        if self.resend_init_response(remote, data, header) {
            return;
        }
        if self.shutting_down {
            return;
        }
        let msg = match MessageRepr::parse(data) {
            Ok(m) => m,
            Err(e) => {
                warn!(target: "ike", "malformed IKE_SA_INIT from {remote} (SPI {:016x}): {e}", header.spi_i);
                self.send_init_error(
                    local,
                    remote,
                    header,
                    NotifyType::INVALID_SYNTAX,
                    Vec::new(),
                );
                return;
            }
        };
        if let Some(t) = critical_unknown(&msg.payloads) {
            warn!(target: "ike", "IKE_SA_INIT from {remote} (SPI {:016x}) has unsupported critical payload {t}", header.spi_i);
            self.send_init_error(
                local,
                remote,
                header,
                NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD,
                vec![t.0],
            );
            return;
        }
        let Some(peer) = self.responder_peer(local, remote, header) else {
            return;
        };
        let payloads = msg.payloads;
        let (Some(sa_payload), Some(ke), Some(nonce_i)) = (
            find_sa(&payloads),
            find_ke(&payloads),
            find_nonce(&payloads),
        ) else {
            warn!(target: "ike", "IKE_SA_INIT from {remote} (SPI {:016x}) lacks SA, KE or Nonce", header.spi_i);
            self.send_init_error(
                local,
                remote,
                header,
                NotifyType::INVALID_SYNTAX,
                Vec::new(),
            );
            return;
        };
        if !valid_nonce(nonce_i) {
            warn!(target: "ike", "IKE_SA_INIT from {remote} (SPI {:016x}): nonce of {} octets", header.spi_i, nonce_i.len());
            self.send_init_error(
                local,
                remote,
                header,
                NotifyType::INVALID_SYNTAX,
                Vec::new(),
            );
            return;
        }
        if !self.cookie_accepted(local, remote, header, &payloads, nonce_i) {
            return;
        }
        let pc = &self.config.peers[peer];
        let chosen = match proposal::select_ike(&pc.ike_proposals, sa_payload, Some(ke.dh_group)) {
            Ok(c) => c,
            Err(Reject::InvalidKe(g)) => {
                info!(target: "ike", "{}: {remote} sent KE for group {}, requesting {}", pc.name, ke.dh_group, g.name());
                self.send_init_error(
                    local,
                    remote,
                    header,
                    NotifyType::INVALID_KE_PAYLOAD,
                    g.transform_id().to_be_bytes().to_vec(),
                );
                return;
            }
            Err(Reject::NoProposalChosen) => {
                let ours = proposal::describe(&proposal::ike_offer(&pc.ike_proposals, None));
                let reason = format!(
                    "no IKE proposal in common: peer offered {}, we accept {ours}",
                    proposal::describe(sa_payload)
                );
                warn!(target: "ike", "{}: IKE_SA_INIT from {remote} (SPI {:016x}): {reason}", pc.name, header.spi_i);
                self.events.push_back(Event::Failure {
                    peer: Some(peer),
                    remote,
                    reason,
                });
                self.send_init_error(
                    local,
                    remote,
                    header,
                    NotifyType::NO_PROPOSAL_CHOSEN,
                    Vec::new(),
                );
                return;
            }
        };
        let request = InitRequestData {
            local,
            remote,
            data,
            header,
            nonce_i,
            ke,
            payloads: &payloads,
        };
        self.init_build_r(now, peer, chosen, request);
    }

    /// Sends the IKE_SA_INIT response for a chosen proposal and creates the
    /// responder's half-open IKE SA.
    fn init_build_r(
        &mut self,
        now: Instant,
        peer: usize,
        chosen: IkeChosen,
        request: InitRequestData<'_>,
    ) {
        let InitRequestData {
            local,
            remote,
            data,
            header,
            nonce_i,
            ke,
            payloads,
        } = request;
        let pc = &self.config.peers[peer];
        let ours = match KeyExchange::generate(chosen.dh, self.random.as_mut()) {
            Ok(k) => k,
            Err(e) => {
                warn!(target: "ike", "{}: generating a {} key failed: {e}", pc.name, chosen.dh.name());
                return;
            }
        };
        let shared = match ours.compute_shared(&ke.data) {
            Ok(s) => s,
            Err(e) => {
                warn!(target: "ike", "IKE_SA_INIT from {remote} (SPI {:016x}): invalid KE value: {e}", header.spi_i);
                self.send_init_error(
                    local,
                    remote,
                    header,
                    NotifyType::INVALID_SYNTAX,
                    Vec::new(),
                );
                return;
            }
        };
        let spi_r = self.new_ike_spi();
        let unique_id = self.next_unique_id();
        let remote_index = self.peers[peer].active;
        let mut sa = IkeSa::new(
            unique_id,
            peer,
            remote_index,
            false,
            header.spi_i,
            spi_r,
            local,
            remote,
            now,
        );
        *sa.init = InitMessages {
            nonce_i: nonce_i.to_vec(),
            nonce_r: self.random_bytes(NONCE_LEN),
            request: data.to_vec(),
            response: Vec::new(),
            sk_pi: Vec::new(),
            sk_pr: Vec::new(),
        };
        sa.frag_supported = self.config.fragmentation
            && find_notify(payloads, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
        self.detect_nat(&mut sa, payloads);
        let source = self.nat_source_hash(sa.spi_i, sa.spi_r, local);
        let mut reply = vec![
            Payload::Sa(proposal::ike_reply(&chosen, None)),
            Payload::Ke(KeRepr {
                dh_group: chosen.dh.transform_id(),
                data: ours.public_value().to_vec(),
            }),
            Payload::Nonce(sa.init.nonce_r.clone()),
            Payload::notify(NotifyType::NAT_DETECTION_SOURCE_IP, source),
            Payload::notify(
                NotifyType::NAT_DETECTION_DESTINATION_IP,
                detection_hash(sa.spi_i, sa.spi_r, remote),
            ),
        ];
        if self.config.fragmentation {
            reply.push(Payload::notify(
                NotifyType::IKEV2_FRAGMENTATION_SUPPORTED,
                Vec::new(),
            ));
        }
        self.send_response(&mut sa, ExchangeType::IKE_SA_INIT, 0, reply);
        sa.init.response = sa
            .last_response
            .as_ref()
            .and_then(|(_, d)| d.first().cloned())
            .unwrap_or_default();
        if !self.install_ike_keys(&mut sa, chosen, &shared, false) {
            return;
        }
        debug!(target: "ike", "{} IKE_SA_INIT response sent, {} chosen", self.tag(&sa), proposal::describe(&proposal::ike_reply(&chosen, None)));
        self.finish(sa);
    }
}
