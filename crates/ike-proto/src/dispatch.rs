//! Inbound message handling: window checks, cached responses, decryption and
//! fragment reassembly, then hand-off to the exchange that owns the message.

use std::net::SocketAddr;
use std::time::Instant;

use rampart_wire::ike::{
    ExchangeType, Header, HeaderRepr, MessageRepr, NotifyType, Payload, PayloadType,
};
use tracing::{debug, warn};

use crate::engine::{Engine, critical_unknown};
use crate::sa::{IkeSa, Pending, Request, State};

impl Engine {
    /// Handles a datagram whose IKE header is unusable. A new IKE_SA_INIT request
    /// whose length field disagrees with the datagram gets INVALID_SYNTAX. Anything
    /// else is dropped because no SA can authenticate a reply (RFC 7296 2.21.1).
    pub(crate) fn malformed_header(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
        e: &rampart_wire::Error,
    ) {
        let Ok(h) = Header::new_checked(data) else {
            debug!(target: "ike", "dropping {} octets from {remote}: {e}", data.len());
            return;
        };
        let new_request = h.exchange_type() == ExchangeType::IKE_SA_INIT
            && !h.is_response()
            && h.is_initiator()
            && h.spi_r() == 0;
        warn!(target: "ike", "malformed IKE message from {remote} (SPIs {:016x}_i {:016x}_r): {e}", h.spi_i(), h.spi_r());
        if new_request && h.version() >> 4 == 2 && !self.shutting_down {
            let header = HeaderRepr {
                spi_i: h.spi_i(),
                spi_r: 0,
                next_payload: PayloadType::NONE,
                exchange_type: ExchangeType::IKE_SA_INIT,
                initiator: true,
                response: false,
                message_id: h.message_id(),
                length: 0,
            };
            self.send_init_error(
                local,
                remote,
                &header,
                NotifyType::INVALID_SYNTAX,
                Vec::new(),
            );
        }
    }

    /// Handles a request from the peer: in-window check, cached response for a
    /// retransmission, decryption, then the exchange.
    pub(crate) fn handle_request(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
        header: &HeaderRepr,
    ) {
        if header.message_id.wrapping_add(1) == sa.peer_mid {
            if let Some((mid, datagrams)) = sa.last_response.clone()
                && mid == header.message_id
            {
                debug!(target: "ike", "{} retransmitted request mid {mid}, re-sending the response", self.tag(sa));
                self.push_datagrams(sa, &datagrams);
            }
            return;
        }
        if header.message_id != sa.peer_mid {
            debug!(target: "ike", "{} request mid {} outside the window (expected {}), dropped", self.tag(sa), header.message_id, sa.peer_mid);
            return;
        }
        let Some(payloads) = self.decrypt(sa, data, header) else {
            return;
        };
        self.update_path(sa, local, remote);
        sa.last_recv = now;
        if let Some(t) = critical_unknown(&payloads) {
            warn!(target: "ike", "{} unsupported critical payload {t} from {remote}", self.tag(sa));
            self.send_response(
                sa,
                header.exchange_type,
                header.message_id,
                vec![Payload::notify(
                    NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD,
                    vec![t.0],
                )],
            );
            return;
        }
        match header.exchange_type {
            ExchangeType::IKE_AUTH if sa.state == State::Connecting && !sa.initiator => {
                self.auth_process_r(sa, now, header.message_id, payloads)
            }
            // A Deleting SA still responds, with TEMPORARY_FAILURE (RFC 7296 2.25).
            ExchangeType::CREATE_CHILD_SA if sa.is_established() || sa.state == State::Deleting => {
                self.create_child_process_r(sa, now, header.message_id, payloads)
            }
            ExchangeType::INFORMATIONAL if sa.keys.is_some() => {
                self.informational_process_r(sa, now, header.message_id, payloads)
            }
            other => {
                warn!(target: "ike", "{} unexpected {other} request in state {}, rejected", self.tag(sa), sa.state_name());
                self.send_error_response(sa, other, header.message_id, NotifyType::INVALID_SYNTAX);
            }
        }
    }

    pub(crate) fn handle_response(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
        header: &HeaderRepr,
    ) {
        let Some(req) = sa.outstanding.as_ref() else {
            debug!(target: "ike", "{} unsolicited response mid {}, dropped", self.tag(sa), header.message_id);
            return;
        };
        if req.message_id != header.message_id || req.exchange != header.exchange_type {
            debug!(target: "ike", "{} response mid {} does not match request mid {}, dropped", self.tag(sa), header.message_id, req.message_id);
            return;
        }
        if header.exchange_type == ExchangeType::IKE_SA_INIT {
            let msg = match MessageRepr::parse(data) {
                Ok(m) => m,
                Err(e) => {
                    warn!(target: "ike", "{} malformed IKE_SA_INIT response from {remote}: {e}", self.tag(sa));
                    return;
                }
            };
            let Some(Request {
                pending: Pending::Init(init),
                ..
            }) = sa.outstanding.take().map(|r| *r)
            else {
                return;
            };
            sa.last_recv = now;
            self.init_process_i(sa, now, data, msg, init);
            return;
        }
        let Some(payloads) = self.decrypt(sa, data, header) else {
            return;
        };
        self.update_path(sa, local, remote);
        sa.last_recv = now;
        // A response cannot be answered with UNSUPPORTED_CRITICAL_PAYLOAD, so the
        // exchange fails (RFC 7296 section 2.5).
        if let Some(t) = critical_unknown(&payloads) {
            let reason = format!(
                "{} response from {remote} has unsupported critical payload {t}",
                header.exchange_type
            );
            warn!(target: "ike", "{} {reason}", self.tag(sa));
            self.failure(sa, &reason);
            self.ike_sa_failed(sa, now, &reason, false);
            return;
        }
        let Some(req) = sa.outstanding.take() else {
            return;
        };
        match req.pending {
            Pending::Init(_) => {}
            Pending::Auth { children, first } => {
                self.auth_process_i(sa, now, payloads, children, first)
            }
            Pending::CreateChild(c) => self.create_child_process_i(sa, now, payloads, c),
            Pending::RekeyIke(r) => self.rekey_ike_process_i(sa, now, payloads, r),
            p @ (Pending::Dpd | Pending::DeleteChild(_) | Pending::DeleteIke) => {
                self.informational_process_i(sa, now, payloads, p)
            }
        }
    }

    /// After authentication a peer behind a NAT may appear from a new address or port
    /// (RFC 7296 section 2.23); replies then go there.
    pub(crate) fn update_path(&mut self, sa: &mut IkeSa, local: SocketAddr, remote: SocketAddr) {
        if (sa.remote != remote || sa.local != local)
            && sa.keys.is_some()
            && (local.port() == 4500 || sa.udp_encap())
        {
            debug!(target: "ike", "{} path changed to {local} <-> {remote}", self.tag(sa));
            sa.remote = remote;
            sa.local = local;
        }
    }

    /// Verifies and decrypts the SK or SKF payload of a message. Integrity failures
    /// are dropped silently (RFC 7296 section 2.21.2); fragments are held until the
    /// message is complete.
    pub(crate) fn decrypt(
        &mut self,
        sa: &mut IkeSa,
        data: &[u8],
        header: &HeaderRepr,
    ) -> Option<Vec<Payload>> {
        let tag = self.tag(sa);
        let msg = match MessageRepr::parse(data) {
            Ok(m) => m,
            Err(e) => {
                warn!(target: "ike", "{tag} malformed {} from {}: {e}", header.exchange_type, sa.remote);
                return None;
            }
        };
        let keys = sa.keys.as_ref()?;
        let (first, plaintext) = match msg.payloads.last() {
            Some(Payload::Sk(sk)) => {
                let plain = keys
                    .sk
                    .unprotect(data, sk.body.len())
                    .map_err(|e| debug!(target: "ike", "{tag} SK payload rejected: {e}"))
                    .ok()?;
                (sk.first_payload, plain)
            }
            Some(Payload::Skf(f)) => {
                let plain = keys
                    .sk
                    .unprotect(data, f.body.len())
                    .map_err(|e| debug!(target: "ike", "{tag} SKF payload rejected: {e}"))
                    .ok()?;
                let fresh = !matches!(&sa.reassembly, Some(r) if r.message_id == header.message_id && r.response == header.response);
                if fresh {
                    sa.reassembly = crate::crypt::Reassembly::new(
                        header.message_id,
                        header.response,
                        f.total_fragments,
                    )
                    .map(Box::new);
                }
                let r = sa.reassembly.as_mut()?;
                let (first, joined) =
                    r.add(f.fragment_number, f.total_fragments, f.first_payload, plain)?;
                sa.reassembly = None;
                (first, joined)
            }
            _ => {
                warn!(target: "ike", "{tag} {} without an Encrypted payload from {}, dropped", header.exchange_type, sa.remote);
                return None;
            }
        };
        match rampart_wire::ike::parse_chain(first, &plaintext, 0) {
            Ok(p) => Some(p),
            Err(e) => {
                warn!(target: "ike", "{tag} malformed encrypted payloads from {}: {e}", sa.remote);
                if !header.response {
                    self.send_error_response(sa, header.exchange_type, header.message_id, NotifyType::INVALID_SYNTAX);
                }
                None
            }
        }
    }
}
