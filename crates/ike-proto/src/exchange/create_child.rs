//! CREATE_CHILD_SA (RFC 7296 section 1.3): more Child SAs, Child SA rekeys with the
//! simultaneous-rekey rule of section 2.8.1, and IKE SA rekeys (section 2.18) with
//! the simultaneous-rekey rule of section 2.8.2.

use std::time::{Duration, Instant};

use rampart_crypto::alg::DhGroup;
use rampart_crypto::dh::KeyExchange;
use rampart_crypto::keys::{derive_ike_keys, rekey_skeyseed};
use rampart_wire::ike::{ExchangeType, KeRepr, NotifyRepr, NotifyType, Payload, ProtocolId};
use tracing::{info, warn};

use super::child::{ChildParams, find_ke, find_nonce, find_sa, find_ts};
use super::init::{NONCE_LEN, error_notify, find_notify, valid_nonce};
use crate::engine::{Engine, KEEPALIVE_INTERVAL};
use crate::event::Event;
use crate::proposal::{self, Reject};
use crate::sa::{ChildRequest, ChildSa, IkeRekeyRequest, IkeSa, Pending, SaKeys, State, Task};

/// Child SAs per IKE SA, as the ASA and Zscaler allow: one per crypto-ACL entry, at
/// most 8. Rekeys do not count because they replace an SA.
pub(crate) const MAX_CHILDREN: usize = 8;

/// Delays before trying a refused or colliding rekey again, see `rekey_retry`.
const REKEY_RETRY: Duration = Duration::from_secs(10);
const REKEY_RETRY_INITIATOR: Duration = Duration::from_secs(2);
/// How long the winner of a simultaneous IKE SA rekey waits for the peer to delete
/// its redundant new SA before deleting that SA and the old one itself. The peer's
/// Delete goes out as soon as its own exchange completes, so this covers several
/// retransmissions.
pub(crate) const REDUNDANT_DELETE_WAIT: Duration = Duration::from_secs(30);

fn lowest<'a>(a: &'a [u8], b: &'a [u8]) -> Vec<u8> {
    if a <= b { a.to_vec() } else { b.to_vec() }
}

impl Engine {
    /// Requests a new Child SA, or the rekey of the one with inbound SPI `rekeys`.
    pub(crate) fn create_child_build_i(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        child: usize,
        rekeys: Option<u32>,
    ) {
        let old = rekeys
            .and_then(|spi| sa.children.iter().find(|c| c.spi_in == spi))
            .map(|c| (c.spi_in, c.local_ts.clone(), c.remote_ts.clone()));
        let Some(req) = self.child_request(sa.peer, child, old, true) else {
            return;
        };
        self.create_child_send(sa, now, req);
    }

    fn create_child_send(&mut self, sa: &mut IkeSa, now: Instant, req: ChildRequest) {
        let mut payloads = Vec::with_capacity(6);
        if let Some(spi) = req.rekeys {
            payloads.push(Payload::Notify(NotifyRepr {
                protocol_id: ProtocolId::ESP,
                notify_type: NotifyType::REKEY_SA,
                spi: spi.to_be_bytes().to_vec(),
                data: Vec::new(),
            }));
        }
        payloads.extend(self.child_payloads(sa.peer, &req, true));
        self.send_request(
            sa,
            now,
            ExchangeType::CREATE_CHILD_SA,
            payloads,
            Pending::CreateChild(req),
        );
    }

    /// Delay before retrying a rekey. The original initiator of the IKE SA retries
    /// after 2 to 4 s and the original responder after 10 to 20 s, so two peers
    /// whose rekeys collided do not collide again.
    fn rekey_retry(&mut self, sa: &IkeSa) -> Duration {
        let mut j = [0u8; 1];
        self.random.fill(&mut j);
        let jitter = u64::from(j[0]);
        if sa.initiator {
            REKEY_RETRY_INITIATOR + Duration::from_millis(jitter * 8)
        } else {
            REKEY_RETRY + Duration::from_millis(jitter * 40)
        }
    }

    /// Schedules another try of a failed rekey; the old SA keeps running meanwhile.
    fn rekey_later(&mut self, sa: &mut IkeSa, spi_in: u32, now: Instant) {
        let delay = self.rekey_retry(sa);
        self.with_child(sa, spi_in, |c| {
            c.rekeying = false;
            c.rekey_at = now + delay;
        });
    }

    /// Applies `f` to the Child SA with inbound SPI `spi_in`, on `sa` or on its
    /// successor when an IKE SA rekey moved the Child SA there while one of its own
    /// exchanges was running on `sa`.
    fn with_child(&mut self, sa: &mut IkeSa, spi_in: u32, f: impl FnOnce(&mut ChildSa)) {
        if let Some(c) = sa.child_by_spi_in(spi_in) {
            f(c);
        } else if let Some(c) = sa
            .successor
            .and_then(|s| self.sas.get_mut(&s))
            .and_then(|n| n.child_by_spi_in(spi_in))
        {
            f(c);
        }
    }

    pub(crate) fn create_child_process_i(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        payloads: Vec<Payload>,
        mut req: ChildRequest,
    ) {
        let tag = self.tag(sa);
        let Some(cc) = self.child_config(sa.peer, req.child).cloned() else {
            return;
        };
        if let Some(n) = error_notify(&payloads) {
            let t = n.notify_type;
            if t == NotifyType::INVALID_KE_PAYLOAD && !req.ke_retried {
                let group = <[u8; 2]>::try_from(n.data.as_slice())
                    .ok()
                    .map(u16::from_be_bytes)
                    .and_then(DhGroup::from_transform);
                if let Some(g) = group.filter(|g| g.is_supported())
                    && let Ok(ke) = KeyExchange::generate(g, self.random.as_mut())
                {
                    info!(target: "chd", "{tag} peer requested DH group {} for the Child SA, retrying", g.name());
                    req.ke = Some(ke);
                    req.ke_retried = true;
                    self.create_child_send(sa, now, req);
                    return;
                }
            }
            let mut reason = format!(
                "CREATE_CHILD_SA for {} {} refused by {} with {t}",
                cc.crypto_map, cc.sequence, sa.remote
            );
            match (t, req.rekeys) {
                (NotifyType::NO_PROPOSAL_CHOSEN, Some(_)) if cc.pfs.is_some() => {
                    reason.push_str("; PFS/DH mismatch suspected, building a fresh IKE SA");
                    warn!(target: "chd", "{tag} {reason}");
                    self.failure(sa, &reason);
                    self.send_delete_now(sa);
                    let peer = sa.peer;
                    self.ike_sa_down(sa, &reason);
                    self.peers[peer].retry_at = Some(now);
                    return;
                }
                (NotifyType::CHILD_SA_NOT_FOUND, Some(old)) => {
                    warn!(target: "chd", "{tag} {reason}; creating a new Child SA instead");
                    self.remove_child(sa, old, "peer lost the Child SA");
                    sa.queue(Task::CreateChild(req.child));
                    return;
                }
                (_, Some(old)) => self.rekey_later(sa, old, now),
                (_, None) => self.child_failed(sa.peer, req.child, now),
            }
            warn!(target: "chd", "{tag} {reason}");
            self.failure(sa, &reason);
            return;
        }
        let dh = req.ke.as_ref().map(KeyExchange::group);
        let chosen = find_sa(&payloads).and_then(|r| proposal::accept_esp(&cc.proposals, r, dh));
        let ts = find_ts(&payloads).filter(|(i, r)| Self::child_ts_accepted(&req, i, r));
        let nonce_r = find_nonce(&payloads).filter(|n| valid_nonce(n)).cloned();
        let shared = match (&req.ke, find_ke(&payloads)) {
            (None, _) => Ok(None),
            (Some(ours), Some(theirs)) if theirs.dh_group == ours.group().transform_id() => ours
                .compute_shared(&theirs.data)
                .map(Some)
                .map_err(|e| e.to_string()),
            (Some(_), _) => Err("missing or mismatched KE".to_string()),
        };
        let (Some(chosen), Some((tsi, tsr)), Some(nonce_r), Ok(shared)) =
            (chosen, ts, nonce_r, shared)
        else {
            let reason = format!(
                "invalid CREATE_CHILD_SA response from {} for {} {}",
                sa.remote, cc.crypto_map, cc.sequence
            );
            warn!(target: "chd", "{tag} {reason}");
            self.failure(sa, &reason);
            match req.rekeys {
                Some(old) => self.rekey_later(sa, old, now),
                None => self.child_failed(sa.peer, req.child, now),
            }
            return;
        };
        let replaces = req
            .rekeys
            .and_then(|spi| sa.children.iter().find(|c| c.spi_in == spi))
            .map(|c| (c.spi_in, c.spi_out));
        let rekey_of = req
            .rekeys
            .map(|spi| (spi, true, lowest(&req.nonce, &nonce_r)));
        let params = ChildParams {
            child: req.child,
            chosen,
            spi_in: req.spi_in,
            local_ts: tsi,
            remote_ts: tsr,
            nonce_i: &req.nonce,
            nonce_r: &nonce_r,
            shared: shared.as_ref().map(|s| s.as_slice()),
            exchange_initiator: true,
            replaces,
            rekey_of,
        };
        if !self.install_child(sa, now, params) {
            return;
        }
        self.child_succeeded(sa.peer, req.child);
        if let Some(old) = req.rekeys {
            self.resolve_rekey(sa, old, req.spi_in);
        }
    }

    /// Finishes a Child SA rekey. When both ends rekeyed the same SA at once, the new
    /// SA from the exchange with the lowest nonce is redundant, and the side that
    /// initiated that exchange deletes it. The winner's initiator deletes the old SA
    /// (RFC 7296 section 2.8.1).
    fn resolve_rekey(&mut self, sa: &mut IkeSa, old: u32, new_spi: u32) {
        let tag = self.tag(sa);
        self.with_child(sa, old, |c| c.replaced = true);
        let mine = sa
            .children
            .iter()
            .find(|c| c.spi_in == new_spi)
            .and_then(|c| c.rekey_of.clone());
        let sibling = sa
            .children
            .iter()
            .find(|c| {
                c.spi_in != new_spi
                    && !c.replaced
                    && c.rekey_of.as_ref().is_some_and(|r| r.0 == old)
            })
            .map(|c| (c.spi_in, c.rekey_of.clone()));
        let (Some(mine), Some((other_spi, Some(other)))) = (mine, sibling) else {
            if mine_initiated(sa, new_spi) {
                sa.queue(Task::DeleteChild(old));
            }
            return;
        };
        // Our exchange's SA is the new one when `mine.1`; the loser is the one whose
        // exchange had the lower nonce.
        let (ours_spi, theirs_spi, ours_nonce, theirs_nonce) = if mine.1 {
            (new_spi, other_spi, mine.2, other.2)
        } else {
            (other_spi, new_spi, other.2, mine.2)
        };
        if ours_nonce < theirs_nonce {
            info!(target: "chd", "{tag} simultaneous rekey of {old:08x}: ours lost, deleting redundant {ours_spi:08x}");
            if let Some(c) = sa.child_by_spi_in(ours_spi) {
                c.replaced = true;
            }
            sa.queue(Task::DeleteChild(ours_spi));
        } else {
            info!(target: "chd", "{tag} simultaneous rekey of {old:08x}: ours won over {theirs_spi:08x}, deleting the old SA");
            if let Some(c) = sa.child_by_spi_in(theirs_spi) {
                c.replaced = true;
            }
            sa.queue(Task::DeleteChild(old));
        }
    }

    pub(crate) fn create_child_process_r(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        mid: u32,
        payloads: Vec<Payload>,
    ) {
        let tag = self.tag(sa);
        let reply_error = |n: NotifyType, data: Vec<u8>| vec![Payload::notify(n, data)];
        if find_sa(&payloads).is_some_and(|s| {
            s.proposals
                .first()
                .is_some_and(|p| p.protocol_id == ProtocolId::IKE)
        }) {
            self.rekey_ike_process_r(sa, now, mid, payloads);
            return;
        }
        // No Child SA is created or rekeyed on an IKE SA that is being rekeyed or
        // deleted. The peer retries on the new IKE SA (RFC 7296 section 2.25).
        if sa.rekeying_ike() || sa.retiring() {
            info!(target: "chd", "{tag} CREATE_CHILD_SA from {} rejected with TEMPORARY_FAILURE: the IKE SA is being rekeyed or deleted", sa.remote);
            self.send_response(
                sa,
                ExchangeType::CREATE_CHILD_SA,
                mid,
                reply_error(NotifyType::TEMPORARY_FAILURE, Vec::new()),
            );
            return;
        }
        let Some(nonce_i) = find_nonce(&payloads).filter(|n| valid_nonce(n)).cloned() else {
            warn!(target: "chd", "{tag} CREATE_CHILD_SA from {} without a valid nonce", sa.remote);
            self.send_response(
                sa,
                ExchangeType::CREATE_CHILD_SA,
                mid,
                reply_error(NotifyType::INVALID_SYNTAX, Vec::new()),
            );
            return;
        };
        let rekey = find_notify(&payloads, NotifyType::REKEY_SA)
            .map(|n| <[u8; 4]>::try_from(n.spi.as_slice()).map(u32::from_be_bytes));
        let old = match rekey {
            None => None,
            Some(Ok(spi_out)) => match sa.children.iter().find(|c| c.spi_out == spi_out) {
                Some(c) => Some((c.child, c.spi_in, c.spi_out)),
                None => {
                    warn!(target: "chd", "{tag} rekey of unknown Child SA {spi_out:08x} requested by {}", sa.remote);
                    self.send_response(
                        sa,
                        ExchangeType::CREATE_CHILD_SA,
                        mid,
                        vec![Payload::Notify(NotifyRepr {
                            protocol_id: ProtocolId::ESP,
                            notify_type: NotifyType::CHILD_SA_NOT_FOUND,
                            spi: spi_out.to_be_bytes().to_vec(),
                            data: Vec::new(),
                        })],
                    );
                    return;
                }
            },
            Some(Err(_)) => {
                self.send_response(
                    sa,
                    ExchangeType::CREATE_CHILD_SA,
                    mid,
                    reply_error(NotifyType::INVALID_SYNTAX, Vec::new()),
                );
                return;
            }
        };
        let active = sa.children.iter().filter(|c| !c.replaced).count();
        if old.is_none() && active >= MAX_CHILDREN {
            warn!(target: "chd", "{tag} {} asked for Child SA number {} but at most {MAX_CHILDREN} are allowed", sa.remote, active + 1);
            self.send_response(
                sa,
                ExchangeType::CREATE_CHILD_SA,
                mid,
                reply_error(NotifyType::NO_ADDITIONAL_SAS, Vec::new()),
            );
            return;
        }
        let their_ke = find_ke(&payloads).cloned();
        let acc = match self.child_select_r(
            sa,
            &payloads,
            Some(their_ke.as_ref().map(|k| k.dh_group)),
            old.map(|o| o.0),
        ) {
            Ok(a) => a,
            Err((n, data)) => {
                if n != NotifyType::INVALID_KE_PAYLOAD {
                    let reason = format!("CREATE_CHILD_SA from {} refused with {n}", sa.remote);
                    self.failure(sa, &reason);
                }
                self.send_response(sa, ExchangeType::CREATE_CHILD_SA, mid, reply_error(n, data));
                return;
            }
        };
        let (ke_payload, shared) = match (acc.chosen.dh, &their_ke) {
            (Some(g), Some(k)) => match KeyExchange::generate(g, self.random.as_mut())
                .and_then(|ours| ours.compute_shared(&k.data).map(|s| (ours, s)))
            {
                Ok((ours, s)) => (
                    Some(KeRepr {
                        dh_group: g.transform_id(),
                        data: ours.public_value().to_vec(),
                    }),
                    Some(s),
                ),
                Err(e) => {
                    warn!(target: "chd", "{tag} invalid KE in CREATE_CHILD_SA from {}: {e}", sa.remote);
                    self.send_response(
                        sa,
                        ExchangeType::CREATE_CHILD_SA,
                        mid,
                        reply_error(NotifyType::INVALID_SYNTAX, Vec::new()),
                    );
                    return;
                }
            },
            _ => (None, None),
        };
        let nonce_r = self.random_bytes(NONCE_LEN);
        let spi_in = self.new_esp_spi();
        let params = ChildParams {
            child: acc.child,
            chosen: acc.chosen,
            spi_in,
            local_ts: acc.local_ts.clone(),
            remote_ts: acc.remote_ts.clone(),
            nonce_i: &nonce_i,
            nonce_r: &nonce_r,
            shared: shared.as_ref().map(|s| s.as_slice()),
            exchange_initiator: false,
            replaces: old.map(|o| (o.1, o.2)),
            rekey_of: old.map(|o| (o.1, false, lowest(&nonce_i, &nonce_r))),
        };
        if !self.install_child(sa, now, params) {
            self.send_response(
                sa,
                ExchangeType::CREATE_CHILD_SA,
                mid,
                reply_error(NotifyType::NO_PROPOSAL_CHOSEN, Vec::new()),
            );
            return;
        }
        let mut reply = vec![
            Payload::Sa(proposal::esp_reply(&acc.chosen, spi_in)),
            Payload::Nonce(nonce_r),
        ];
        reply.extend(ke_payload.map(Payload::Ke));
        reply.push(Payload::TsI(crate::selector::to_wire(&acc.remote_ts)));
        reply.push(Payload::TsR(crate::selector::to_wire(&acc.local_ts)));
        self.send_response(sa, ExchangeType::CREATE_CHILD_SA, mid, reply);
        if let Some((_, old_in, _)) = old {
            // The peer deletes the old SA; only a collision with our own finished
            // rekey needs resolving here.
            if let Some(c) = sa.child_by_spi_in(old_in) {
                if c.replaced {
                    self.resolve_rekey(sa, old_in, spi_in);
                } else {
                    c.replaced = true;
                    c.rekeying = true;
                }
            }
        }
    }

    /// Starts an IKE SA rekey with the current DH group.
    pub(crate) fn rekey_ike_build_i(&mut self, sa: &mut IkeSa, now: Instant) {
        let Some(chosen) = sa.chosen else { return };
        self.rekey_ike_send(sa, now, chosen.dh, false);
    }

    /// Sends the IKE SA rekey request with a KE payload for `group`.
    fn rekey_ike_send(&mut self, sa: &mut IkeSa, now: Instant, group: DhGroup, ke_retried: bool) {
        let Some(pc) = self.config.peers.get(sa.peer) else {
            return;
        };
        let proposals = pc.ike_proposals.clone();
        let ke = match KeyExchange::generate(group, self.random.as_mut()) {
            Ok(k) => k,
            Err(e) => {
                warn!(target: "ike", "{} generating a {} key failed: {e}", self.tag(sa), group.name());
                return;
            }
        };
        let new_spi = self.new_ike_spi();
        let nonce = self.random_bytes(NONCE_LEN);
        let payloads = vec![
            Payload::Sa(proposal::ike_offer(&proposals, Some(new_spi))),
            Payload::Nonce(nonce.clone()),
            Payload::Ke(KeRepr {
                dh_group: ke.group().transform_id(),
                data: ke.public_value().to_vec(),
            }),
        ];
        info!(target: "ike", "{} rekeying IKE SA", self.tag(sa));
        self.send_request(
            sa,
            now,
            ExchangeType::CREATE_CHILD_SA,
            payloads,
            Pending::RekeyIke(IkeRekeyRequest {
                new_spi,
                nonce,
                ke,
                ke_retried,
            }),
        );
    }

    /// Builds the IKE SA that replaces `old`: keys from the old SK_d (RFC 7296 2.18),
    /// timers started, and, when `adopt` is set, the Child SAs and queued Child SA work
    /// moved over. A simultaneous rekey leaves them on `old` until the surviving SA is
    /// known.
    #[allow(clippy::too_many_arguments)]
    fn rekeyed_sa(
        &mut self,
        old: &mut IkeSa,
        now: Instant,
        chosen: proposal::IkeChosen,
        initiator: bool,
        spi_i: u64,
        spi_r: u64,
        nonce_i: &[u8],
        nonce_r: &[u8],
        shared: &[u8],
        adopt: bool,
    ) -> Option<IkeSa> {
        let keys = old.keys.as_ref()?;
        let result = rekey_skeyseed(keys.prf, &keys.sk_d, shared, nonce_i, nonce_r)
            .and_then(|seed| derive_ike_keys(chosen.suite, &seed, nonce_i, nonce_r, spi_i, spi_r))
            .and_then(|k| SaKeys::new(&chosen, &k, initiator));
        let keys = match result {
            Ok(k) => k,
            Err(e) => {
                warn!(target: "ike", "{} IKE SA rekey key derivation failed: {e}", self.tag(old));
                return None;
            }
        };
        let unique_id = self.next_unique_id();
        let mut sa = IkeSa::new(
            unique_id,
            old.peer,
            old.remote_index,
            initiator,
            spi_i,
            spi_r,
            old.local,
            old.remote,
            now,
        );
        sa.keys = Some(keys);
        sa.chosen = Some(chosen);
        sa.state = State::Established;
        sa.established = Some(now);
        sa.local_id = old.local_id.clone();
        sa.remote_id = old.remote_id.clone();
        sa.nat_local = old.nat_local;
        sa.nat_remote = old.nat_remote;
        sa.frag_supported = old.frag_supported;
        let mut j = [0u8; 1];
        self.random.fill(&mut j);
        sa.rekey_at = Some(now + super::child::rekey_delay(chosen.lifetime, j[0]));
        if sa.nat_local {
            sa.keepalive_at = Some(now + KEEPALIVE_INTERVAL);
        }
        if adopt {
            // Queued child work moves along; IKE-level tasks of the old SA end with it.
            sa.children = std::mem::take(&mut old.children);
            sa.tasks = old
                .tasks
                .drain(..)
                .filter(|t| !matches!(t, Task::RekeyIke | Task::Dpd | Task::DeleteIke))
                .collect();
        }
        info!(target: "ike", "{} IKE SA rekeyed, replacing {:016x}_i {:016x}_r", self.tag(&sa), old.spi_i, old.spi_r);
        let name = self
            .config
            .peers
            .get(sa.peer)
            .map_or("", |p| p.name.as_str())
            .to_string();
        self.events.push_back(Event::IkeSaUp {
            peer: sa.peer,
            info: sa.info(&name, now),
        });
        Some(sa)
    }

    fn rekey_ike_process_r(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        mid: u32,
        payloads: Vec<Payload>,
    ) {
        let tag = self.tag(sa);
        // An SA that we already rekeyed or are deleting is not rekeyed again. The
        // same reply goes out when our own rekey completed before the peer's request
        // arrived (RFC 7296 sections 2.8.2 and 2.25.2).
        if sa.retiring() {
            info!(target: "ike", "{tag} IKE SA rekey from {} rejected with TEMPORARY_FAILURE: the SA is already rekeyed or being deleted", sa.remote);
            self.send_error_response(sa, ExchangeType::CREATE_CHILD_SA, mid, NotifyType::TEMPORARY_FAILURE);
            return;
        }
        let proposals = self
            .config
            .peers
            .get(sa.peer)
            .map(|p| p.ike_proposals.clone())
            .unwrap_or_default();
        let (Some(offer), Some(nonce_i), Some(ke)) = (
            find_sa(&payloads),
            find_nonce(&payloads).filter(|n| valid_nonce(n)),
            find_ke(&payloads),
        ) else {
            self.send_error_response(sa, ExchangeType::CREATE_CHILD_SA, mid, NotifyType::INVALID_SYNTAX);
            return;
        };
        let chosen = match proposal::select_ike(&proposals, offer, Some(ke.dh_group)) {
            Ok(c) => c,
            Err(Reject::InvalidKe(g)) => {
                self.send_response(
                    sa,
                    ExchangeType::CREATE_CHILD_SA,
                    mid,
                    vec![Payload::notify(
                        NotifyType::INVALID_KE_PAYLOAD,
                        g.transform_id().to_be_bytes().to_vec(),
                    )],
                );
                return;
            }
            Err(Reject::NoProposalChosen) => {
                warn!(target: "ike", "{tag} IKE SA rekey from {}: no proposal in common, peer offered {}", sa.remote, proposal::describe(offer));
                self.send_error_response(sa, ExchangeType::CREATE_CHILD_SA, mid, NotifyType::NO_PROPOSAL_CHOSEN);
                return;
            }
        };
        let spi_i = offer
            .proposals
            .iter()
            .find(|p| p.number == chosen.number)
            .and_then(|p| <[u8; 8]>::try_from(p.spi.as_slice()).ok())
            .map(u64::from_be_bytes);
        let Some(spi_i) = spi_i.filter(|s| *s != 0) else {
            self.send_error_response(sa, ExchangeType::CREATE_CHILD_SA, mid, NotifyType::INVALID_SYNTAX);
            return;
        };
        // A rekey of ours in flight collides with this one. Both get a normal
        // response, and the lowest nonce decides which new SA survives once ours
        // completes (RFC 7296 section 2.8.2).
        let collision = sa.rekeying_ike();
        let exchange = KeyExchange::generate(chosen.dh, self.random.as_mut())
            .and_then(|ours| ours.compute_shared(&ke.data).map(|s| (ours, s)));
        let Ok((ours, shared)) = exchange else {
            self.send_error_response(sa, ExchangeType::CREATE_CHILD_SA, mid, NotifyType::INVALID_SYNTAX);
            return;
        };
        let nonce_i = nonce_i.clone();
        let nonce_r = self.random_bytes(NONCE_LEN);
        let spi_r = self.new_ike_spi();
        let Some(new_sa) = self.rekeyed_sa(
            sa, now, chosen, false, spi_i, spi_r, &nonce_i, &nonce_r, &shared, !collision,
        ) else {
            return;
        };
        let reply = vec![
            Payload::Sa(proposal::ike_reply(&chosen, Some(spi_r))),
            Payload::Nonce(nonce_r.clone()),
            Payload::Ke(KeRepr {
                dh_group: chosen.dh.transform_id(),
                data: ours.public_value().to_vec(),
            }),
        ];
        self.send_response(sa, ExchangeType::CREATE_CHILD_SA, mid, reply);
        self.sas.insert(spi_r, new_sa);
        if collision {
            info!(target: "ike", "{tag} simultaneous IKE SA rekey: responded to the peer's, the lowest nonce decides when ours completes");
            sa.rekey_collision = Some((spi_r, lowest(&nonce_i, &nonce_r)));
            return;
        }
        // The old SA stays until the peer deletes it.
        sa.rekey_at = None;
        sa.successor = Some(spi_r);
    }

    pub(crate) fn rekey_ike_process_i(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        payloads: Vec<Payload>,
        req: IkeRekeyRequest,
    ) {
        let tag = self.tag(sa);
        if let Some(n) = find_notify(&payloads, NotifyType::INVALID_KE_PAYLOAD) {
            let group = <[u8; 2]>::try_from(n.data.as_slice())
                .ok()
                .map(u16::from_be_bytes)
                .and_then(DhGroup::from_transform);
            let offered = self.config.peers.get(sa.peer).is_some_and(|p| {
                p.ike_proposals
                    .iter()
                    .any(|ip| group.is_some_and(|g| ip.dh_groups.contains(&g)))
            });
            if let Some(g) = group.filter(|g| offered && g.is_supported() && !req.ke_retried) {
                info!(target: "ike", "{tag} peer requested DH group {} for the IKE SA rekey, retrying", g.name());
                self.rekey_ike_send(sa, now, g, true);
                return;
            }
        }
        if let Some(n) = error_notify(&payloads) {
            if self.adopt_collision(sa) {
                info!(target: "ike", "{tag} IKE SA rekey rejected by {} with {}; the peer's simultaneous rekey replaces the SA", sa.remote, n.notify_type);
                return;
            }
            warn!(target: "ike", "{tag} IKE SA rekey rejected by {} with {}, retrying later", sa.remote, n.notify_type);
            sa.rekey_at = Some(now + self.rekey_retry(sa));
            return;
        }
        let proposals = self
            .config
            .peers
            .get(sa.peer)
            .map(|p| p.ike_proposals.clone())
            .unwrap_or_default();
        let chosen = find_sa(&payloads).and_then(|r| {
            proposal::accept_ike(&proposals, r)
                .map(|c| (c, r.proposals.first().map(|p| p.spi.clone())))
        });
        let nonce_r = find_nonce(&payloads).filter(|n| valid_nonce(n)).cloned();
        let ke = find_ke(&payloads);
        let valid = match (chosen, nonce_r, ke) {
            (Some((c, Some(spi))), Some(n), Some(k))
                if k.dh_group == req.ke.group().transform_id() && c.dh == req.ke.group() =>
            {
                let spi_r = <[u8; 8]>::try_from(spi.as_slice())
                    .ok()
                    .map(u64::from_be_bytes)
                    .filter(|s| *s != 0);
                spi_r.and_then(|s| req.ke.compute_shared(&k.data).ok().map(|sh| (c, s, n, sh)))
            }
            _ => None,
        };
        let Some((chosen, spi_r, nonce_r, shared)) = valid else {
            if self.adopt_collision(sa) {
                warn!(target: "ike", "{tag} invalid IKE SA rekey response from {}, the peer's simultaneous rekey replaces the SA", sa.remote);
                return;
            }
            warn!(target: "ike", "{tag} invalid IKE SA rekey response from {}, retrying later", sa.remote);
            sa.rekey_at = Some(now + self.rekey_retry(sa));
            return;
        };
        // The peer's new SA counts only while it lives: a peer that lost the
        // collision may have deleted it before our response arrived.
        let collision = sa.rekey_collision.take().filter(|(spi, _)| {
            self.sas
                .get(spi)
                .is_some_and(|o| o.state != State::Deleting)
        });
        let ours = lowest(&req.nonce, &nonce_r);
        let lost = collision.as_ref().is_some_and(|(_, theirs)| ours < *theirs);
        let Some(new_sa) = self.rekeyed_sa(
            sa,
            now,
            chosen,
            true,
            req.new_spi,
            spi_r,
            &req.nonce,
            &nonce_r,
            &shared,
            !lost,
        ) else {
            // Our new SA could not be built; the peer's, if any, replaces the SA.
            sa.rekey_collision = collision;
            self.adopt_collision(sa);
            return;
        };
        self.sas.insert(req.new_spi, new_sa);
        match collision {
            None => {
                sa.successor = Some(req.new_spi);
                sa.queue(Task::DeleteIke);
            }
            // The SA created with the lowest of the four nonces is redundant, and
            // the node that initiated its exchange deletes it. The other new SA
            // inherits the Child SAs, and the initiator of the surviving exchange
            // deletes the old SA (RFC 7296 section 2.8.2).
            Some((theirs, _)) if lost => {
                info!(target: "ike", "{tag} simultaneous IKE SA rekey lost, deleting our redundant {:016x} and keeping the peer's {theirs:016x}", req.new_spi);
                sa.successor = Some(theirs);
                self.hand_over_children(sa);
                // The Delete goes out at once, so that the redundant SA is in the
                // Deleting state before any new work could pick it.
                if let Some(mut redundant) = self.sas.remove(&req.new_spi) {
                    redundant.rekey_at = None;
                    redundant.queue(Task::DeleteIke);
                    self.kick(&mut redundant, Some(now));
                    self.sas.insert(req.new_spi, redundant);
                }
            }
            Some((theirs, _)) => {
                info!(target: "ike", "{tag} simultaneous IKE SA rekey won, waiting for the peer to delete its redundant {theirs:016x}");
                sa.successor = Some(req.new_spi);
                sa.await_redundant = Some((theirs, now + REDUNDANT_DELETE_WAIT));
            }
        }
    }

    /// Hands the SA over to the new IKE SA of the peer's simultaneous rekey when our
    /// own rekey failed or was rejected, so that the peer deletes this SA. Returns
    /// false when there was no such rekey or its SA is gone.
    pub(crate) fn adopt_collision(&mut self, sa: &mut IkeSa) -> bool {
        let Some((spi, _)) = sa.rekey_collision.take() else {
            return false;
        };
        if !self.sas.contains_key(&spi) {
            return false;
        }
        sa.successor = Some(spi);
        sa.rekey_at = None;
        self.hand_over_children(sa);
        true
    }
}

/// True if the Child SA with inbound SPI `spi` came from a rekey we initiated.
fn mine_initiated(sa: &IkeSa, spi: u32) -> bool {
    sa.children
        .iter()
        .find(|c| c.spi_in == spi)
        .and_then(|c| c.rekey_of.as_ref())
        .is_some_and(|r| r.1)
}
