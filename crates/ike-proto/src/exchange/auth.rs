//! IKE_AUTH (RFC 7296 section 1.2) with pre-shared keys (section 2.15) and the first
//! Child SA. A child refused inside an otherwise good IKE_AUTH keeps the IKE SA.

use std::time::Instant;

use rampart_crypto::auth::{psk_auth, verify_psk_auth};
use rampart_wire::ike::{AuthMethod, AuthRepr, ExchangeType, IdRepr, NotifyType, Payload};
use tracing::{info, warn};

use super::child::{ChildParams, find_sa, find_ts};
use super::init::{error_notify, find_notify};
use crate::config::Identity;
use crate::engine::{Engine, KEEPALIVE_INTERVAL};
use crate::event::Event;
use crate::identity;
use crate::proposal;
use crate::sa::{ChildRequest, IkeSa, Pending, State, Task};

impl Engine {
    /// Verifies the peer's AUTH payload with the remote pre-shared key and checks its
    /// identity against peer-id-validate (RFC 7296 section 2.15). The peer signs its
    /// own IKE_SA_INIT message, our nonce and prf(SK_p, ID'): the initiator signs the
    /// request, Nr and SK_pi, the responder the response, Ni and SK_pr. Returns the
    /// peer's identity, the reason for refusing it, or None when the SA has no keys or
    /// tunnel-group.
    fn verify_peer_auth(
        &self,
        sa: &IkeSa,
        id: &IdRepr,
        auth: &AuthRepr,
    ) -> Option<Result<Option<Identity>, String>> {
        let remote = self.remote_config(sa)?;
        let keys = sa.keys.as_ref()?;
        // The peer is the original initiator exactly when we are not.
        let (label, message, nonce, sk_p) = if sa.initiator {
            ("IDr", &sa.init.response, &sa.init.nonce_i, &sa.init.sk_pr)
        } else {
            ("IDi", &sa.init.request, &sa.init.nonce_r, &sa.init.sk_pi)
        };
        let authentic = auth.method == AuthMethod::SHARED_KEY_MESSAGE_INTEGRITY_CODE
            && verify_psk_auth(
                keys.prf,
                remote.remote_psk.as_bytes(),
                message,
                nonce,
                sk_p,
                &id.to_body(),
                &auth.data,
            );
        let peer_identity = identity::from_wire(id);
        if !authentic {
            return Some(Err(format!(
                "AUTH from {} ({label} {}) does not verify with the remote pre-shared key of tunnel-group {}",
                sa.remote,
                identity::describe(id),
                remote.tunnel_group
            )));
        }
        if !identity::validate(remote, peer_identity.as_ref()) {
            return Some(Err(format!(
                "{label} {} from {} fails peer-id-validate of tunnel-group {}",
                identity::describe(id),
                sa.remote,
                remote.tunnel_group
            )));
        }
        Some(Ok(peer_identity))
    }
}

fn find_id_i(payloads: &[Payload]) -> Option<&IdRepr> {
    payloads.iter().find_map(|p| {
        if let Payload::IdI(i) = p {
            Some(i)
        } else {
            None
        }
    })
}

fn find_id_r(payloads: &[Payload]) -> Option<&IdRepr> {
    payloads.iter().find_map(|p| {
        if let Payload::IdR(i) = p {
            Some(i)
        } else {
            None
        }
    })
}

fn find_auth(payloads: &[Payload]) -> Option<&AuthRepr> {
    payloads.iter().find_map(|p| {
        if let Payload::Auth(a) = p {
            Some(a)
        } else {
            None
        }
    })
}

impl Engine {
    /// Sends IKE_AUTH: IDi, AUTH, INITIAL_CONTACT on the first IKE SA to this remote,
    /// and the first child's SA and selectors.
    pub(crate) fn auth_build_i(&mut self, sa: &mut IkeSa, now: Instant, mut children: Vec<usize>) {
        let Some(pc) = self.config.peers.get(sa.peer) else {
            return;
        };
        let Some(remote) = pc.remotes.get(sa.remote_index) else {
            return;
        };
        let local_psk = remote.local_psk.clone();
        let local_id = identity::local_identity(&pc.local_identity, pc.local_addr);
        let id = identity::to_wire(&local_id);
        let Some(keys) = sa.keys.as_ref() else { return };
        let auth = match psk_auth(
            keys.prf,
            local_psk.as_bytes(),
            &sa.init.request,
            &sa.init.nonce_r,
            &sa.init.sk_pi,
            &id.to_body(),
        ) {
            Ok(a) => a,
            Err(e) => {
                warn!(target: "ike", "{} computing AUTH failed: {e}", self.tag(sa));
                self.ike_sa_failed(sa, now, "AUTH computation failed", false);
                return;
            }
        };
        let mut payloads = vec![
            Payload::IdI(id),
            Payload::Auth(AuthRepr {
                method: AuthMethod::SHARED_KEY_MESSAGE_INTEGRITY_CODE,
                data: auth.to_vec(),
            }),
        ];
        let first_contact = !self.peers[sa.peer]
            .contacted
            .get(sa.remote_index)
            .copied()
            .unwrap_or(true);
        if first_contact {
            payloads.push(Payload::notify(NotifyType::INITIAL_CONTACT, Vec::new()));
        }
        let first = if children.is_empty() {
            None
        } else {
            Some(children.remove(0))
        };
        let request = first.and_then(|c| self.child_request(sa.peer, c, None, false));
        if let Some(r) = &request {
            payloads.extend(self.child_payloads(sa.peer, r, false));
        }
        sa.local_id = Some(local_id);
        self.send_request(
            sa,
            now,
            ExchangeType::IKE_AUTH,
            payloads,
            Pending::Auth {
                children,
                first: request,
            },
        );
    }

    /// Handles the IKE_AUTH request as responder.
    pub(crate) fn auth_process_r(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        mid: u32,
        payloads: Vec<Payload>,
    ) {
        let tag = self.tag(sa);
        let (Some(id_i), Some(auth)) = (find_id_i(&payloads), find_auth(&payloads)) else {
            warn!(target: "ike", "{tag} IKE_AUTH from {} lacks IDi or AUTH", sa.remote);
            self.send_error_response(sa, ExchangeType::IKE_AUTH, mid, NotifyType::INVALID_SYNTAX);
            sa.dead = true;
            return;
        };
        let verdict = if self.select_peer_by_identity(sa, id_i) {
            self.verify_peer_auth(sa, id_i, auth)
        } else {
            Some(Err(format!(
                "IDi {} from {} matches no crypto map entry",
                identity::describe(id_i),
                sa.remote
            )))
        };
        let peer_identity = match verdict {
            Some(Ok(id)) => id,
            Some(Err(reason)) => {
                warn!(target: "ike", "{tag} authentication failed: {reason}");
                self.failure(sa, &reason);
                self.send_error_response(sa, ExchangeType::IKE_AUTH, mid, NotifyType::AUTHENTICATION_FAILED);
                sa.dead = true;
                return;
            }
            None => return,
        };
        let Some(remote) = self.remote_config(sa).cloned() else {
            return;
        };
        let Some(keys) = sa.keys.as_ref() else { return };
        let Some(pc) = self.config.peers.get(sa.peer) else {
            return;
        };
        let local_id = identity::local_identity(&pc.local_identity, pc.local_addr);
        let id_r = identity::to_wire(&local_id);
        let our_auth = match psk_auth(
            keys.prf,
            remote.local_psk.as_bytes(),
            &sa.init.response,
            &sa.init.nonce_i,
            &sa.init.sk_pr,
            &id_r.to_body(),
        ) {
            Ok(a) => a,
            Err(e) => {
                warn!(target: "ike", "{tag} computing AUTH failed: {e}");
                return;
            }
        };
        sa.local_id = Some(local_id);
        sa.remote_id = peer_identity;
        let mut reply = vec![
            Payload::IdR(id_r),
            Payload::Auth(AuthRepr {
                method: AuthMethod::SHARED_KEY_MESSAGE_INTEGRITY_CODE,
                data: our_auth.to_vec(),
            }),
        ];
        if find_notify(&payloads, NotifyType::INITIAL_CONTACT).is_some() {
            self.initial_contact(sa);
        }
        self.ike_established(sa, now);
        if find_sa(&payloads).is_some() {
            match self.child_select_r(sa, &payloads, None, None) {
                Ok(acc) => {
                    let spi_in = self.new_esp_spi();
                    let nonce_i = sa.init.nonce_i.clone();
                    let nonce_r = sa.init.nonce_r.clone();
                    let params = ChildParams {
                        child: acc.child,
                        chosen: acc.chosen,
                        spi_in,
                        local_ts: acc.local_ts.clone(),
                        remote_ts: acc.remote_ts.clone(),
                        nonce_i: &nonce_i,
                        nonce_r: &nonce_r,
                        shared: None,
                        exchange_initiator: false,
                        replaces: None,
                        rekey_of: None,
                    };
                    if self.install_child(sa, now, params) {
                        reply.push(Payload::Sa(proposal::esp_reply(&acc.chosen, spi_in)));
                        reply.push(Payload::TsI(crate::selector::to_wire(&acc.remote_ts)));
                        reply.push(Payload::TsR(crate::selector::to_wire(&acc.local_ts)));
                    } else {
                        reply.push(Payload::notify(NotifyType::NO_PROPOSAL_CHOSEN, Vec::new()));
                    }
                }
                Err((n, data)) => {
                    let reason =
                        format!("Child SA in IKE_AUTH from {} refused with {n}", sa.remote);
                    self.failure(sa, &reason);
                    // INVALID_KE_PAYLOAD cannot apply to IKE_AUTH, which has no KE.
                    let n = if n == NotifyType::INVALID_KE_PAYLOAD {
                        NotifyType::NO_PROPOSAL_CHOSEN
                    } else {
                        n
                    };
                    let data = if n == NotifyType::NO_PROPOSAL_CHOSEN {
                        Vec::new()
                    } else {
                        data
                    };
                    reply.push(Payload::notify(n, data));
                }
            }
        }
        self.send_response(sa, ExchangeType::IKE_AUTH, mid, reply);
        sa.release_handshake_state();
    }

    /// Confirms the crypto map entry of a responder SA. An entry chosen by address
    /// stands; one chosen provisionally for an unknown address (see
    /// `responder_peer`) is replaced by the entry whose active remote expects this
    /// exact identity. Returns false when no entry expects it.
    fn select_peer_by_identity(&mut self, sa: &mut IkeSa, id_i: &IdRepr) -> bool {
        let by_address = self
            .remote_config(sa)
            .is_some_and(|r| r.addr == sa.remote.ip());
        if by_address {
            return true;
        }
        let Some(id) = identity::from_wire(id_i) else {
            return false;
        };
        let found = self.config.peers.iter().enumerate().find_map(|(i, p)| {
            let active = self.peers[i].active;
            p.remotes
                .get(active)
                .filter(|r| r.remote_identity.as_ref() == Some(&id))
                .map(|_| (i, active))
        });
        match found {
            Some((peer, remote_index)) => {
                sa.peer = peer;
                sa.remote_index = remote_index;
                true
            }
            None => false,
        }
    }

    /// Handles the IKE_AUTH response as initiator.
    pub(crate) fn auth_process_i(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        payloads: Vec<Payload>,
        children: Vec<usize>,
        first: Option<ChildRequest>,
    ) {
        let tag = self.tag(sa);
        let (Some(id_r), Some(auth)) = (find_id_r(&payloads), find_auth(&payloads)) else {
            let reason = match error_notify(&payloads) {
                Some(n) => format!(
                    "peer {} rejected IKE_AUTH with {}",
                    sa.remote, n.notify_type
                ),
                None => format!("IKE_AUTH response from {} lacks IDr or AUTH", sa.remote),
            };
            let sent = sa
                .local_id
                .as_ref()
                .map(|i| identity::describe(&identity::to_wire(i)))
                .unwrap_or_default();
            warn!(target: "ike", "{tag} {reason} (we sent IDi {sent})");
            self.failure(sa, &reason);
            self.ike_sa_failed(sa, now, &reason, true);
            return;
        };
        let peer_identity = match self.verify_peer_auth(sa, id_r, auth) {
            Some(Ok(id)) => id,
            Some(Err(reason)) => {
                warn!(target: "ike", "{tag} authentication failed: {reason}");
                self.failure(sa, &reason);
                // The responder believes the SA is up; tell it (RFC 7296 section 2.21.2).
                self.send_informational_now(
                    sa,
                    vec![Payload::notify(
                        NotifyType::AUTHENTICATION_FAILED,
                        Vec::new(),
                    )],
                );
                self.ike_sa_failed(sa, now, &reason, true);
                return;
            }
            None => return,
        };
        sa.remote_id = peer_identity;
        if let Some(c) = self.peers[sa.peer].contacted.get_mut(sa.remote_index) {
            *c = true;
        }
        self.ike_established(sa, now);
        let first_child = first.as_ref().map(|r| r.child);
        if let Some(req) = first {
            self.auth_child_i(sa, now, &payloads, req);
        }
        // Children requested while the IKE SA was being set up follow with
        // CREATE_CHILD_SA.
        let mut rest = children;
        rest.extend(
            self.peers[sa.peer]
                .wanted
                .iter()
                .copied()
                .filter(|c| Some(*c) != first_child),
        );
        for c in rest {
            if !sa.children.iter().any(|x| x.child == c) {
                sa.queue(Task::CreateChild(c));
            }
        }
        sa.release_handshake_state();
    }

    /// Installs the first child from the IKE_AUTH response, or records its rejection.
    fn auth_child_i(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        payloads: &[Payload],
        req: ChildRequest,
    ) {
        let tag = self.tag(sa);
        let Some(cc) = self.child_config(sa.peer, req.child).cloned() else {
            return;
        };
        let accepted = match (find_sa(payloads), find_ts(payloads)) {
            (Some(reply), Some((tsi, tsr))) => proposal::accept_esp(&cc.proposals, reply, None)
                .filter(|_| Self::child_ts_accepted(&req, &tsi, &tsr))
                .map(|c| (c, tsi, tsr)),
            _ => None,
        };
        let Some((chosen, tsi, tsr)) = accepted else {
            let why = error_notify(payloads).map_or_else(
                || "an invalid SA or TS reply".to_string(),
                |n| n.notify_type.to_string(),
            );
            let reason = format!(
                "Child SA {} {} ({}) refused by {} with {why}; proposed TSi {:?} TSr {:?}",
                cc.crypto_map, cc.sequence, cc.ace, sa.remote, req.local_ts, req.remote_ts
            );
            warn!(target: "chd", "{tag} {reason}; IKE SA kept");
            self.failure(sa, &reason);
            self.child_failed(sa.peer, req.child, now);
            return;
        };
        let nonce_i = sa.init.nonce_i.clone();
        let nonce_r = sa.init.nonce_r.clone();
        let params = ChildParams {
            child: req.child,
            chosen,
            spi_in: req.spi_in,
            local_ts: tsi,
            remote_ts: tsr,
            nonce_i: &nonce_i,
            nonce_r: &nonce_r,
            shared: None,
            exchange_initiator: true,
            replaces: None,
            rekey_of: None,
        };
        if self.install_child(sa, now, params) {
            self.child_succeeded(sa.peer, req.child);
        }
    }

    /// Marks the IKE SA established: timers and the SA-up event.
    fn ike_established(&mut self, sa: &mut IkeSa, now: Instant) {
        sa.state = State::Established;
        sa.established = Some(now);
        sa.last_recv = now;
        if let Some(c) = sa.chosen {
            let mut j = [0u8; 1];
            self.random.fill(&mut j);
            sa.rekey_at = Some(now + super::child::rekey_delay(c.lifetime, j[0]));
        }
        if sa.nat_local {
            sa.keepalive_at = Some(now + KEEPALIVE_INTERVAL);
        }
        self.peer_succeeded(sa.peer);
        let name = self
            .config
            .peers
            .get(sa.peer)
            .map_or("", |p| p.name.as_str())
            .to_string();
        info!(
            target: "ike",
            "{} IKE SA established between {} and {} ({} {}), {}",
            self.tag(sa),
            sa.local,
            sa.remote,
            sa.local_id.as_ref().map(Identity::to_string).unwrap_or_default(),
            sa.remote_id.as_ref().map(Identity::to_string).unwrap_or_default(),
            sa.chosen.map(|c| proposal::describe(&proposal::ike_reply(&c, None))).unwrap_or_default()
        );
        self.events.push_back(Event::IkeSaUp {
            peer: sa.peer,
            info: sa.info(&name, now),
        });
    }

    /// Removes the other IKE SAs between the same pair of authenticated identities: an
    /// INITIAL_CONTACT notify asserts that the new SA is the only one between them
    /// (RFC 7296 section 2.4). Addresses do not count, so several tunnels from one
    /// address with different identities survive each other's first contact.
    fn initial_contact(&mut self, sa: &IkeSa) {
        let stale: Vec<u64> = self
            .sas
            .iter()
            .filter(|(_, o)| {
                o.peer == sa.peer
                    && o.remote_id == sa.remote_id
                    && o.local_id == sa.local_id
                    && o.is_established()
            })
            .map(|(k, _)| *k)
            .collect();
        for spi in stale {
            if let Some(mut old) = self.sas.remove(&spi) {
                info!(target: "ike", "{} replaced after INITIAL_CONTACT from {}", self.tag(&old), sa.remote);
                self.ike_sa_down(&mut old, "INITIAL_CONTACT from peer");
            }
        }
    }
}
