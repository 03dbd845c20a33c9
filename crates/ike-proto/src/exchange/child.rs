//! Child SA negotiation shared by IKE_AUTH and CREATE_CHILD_SA: offers, responder
//! selection with narrowing (RFC 7296 section 2.9), key derivation (section 2.17) and
//! installation.

use std::time::{Duration, Instant};

use rampart_crypto::alg::DhGroup;
use rampart_crypto::dh::KeyExchange;
use rampart_crypto::keys::derive_child_keys;
use rampart_wire::ike::{KeRepr, NotifyType, Payload};
use tracing::{info, warn};
use zeroize::Zeroizing;

use crate::config::{ChildConfig, TrafficSelector};
use crate::engine::Engine;
use crate::event::{ChildSaKeys, Event};
use crate::proposal::{self, EspChosen, Reject};
use crate::sa::{ChildRequest, ChildSa, IkeSa};
use crate::selector;

/// Result of the responder's child selection.
pub(crate) struct ChildAccepted {
    pub child: usize,
    pub chosen: EspChosen,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
}

/// Inputs from which a Child SA's keys and selectors are derived.
pub(crate) struct ChildParams<'a> {
    pub child: usize,
    pub chosen: EspChosen,
    pub spi_in: u32,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    pub nonce_i: &'a [u8],
    pub nonce_r: &'a [u8],
    pub shared: Option<&'a [u8]>,
    /// We sent the request of this exchange (keys "_i" are then our outbound ones).
    pub exchange_initiator: bool,
    pub replaces: Option<(u32, u32)>,
    pub rekey_of: Option<(u32, bool, Vec<u8>)>,
}

pub(crate) fn find_sa(payloads: &[Payload]) -> Option<&rampart_wire::ike::SaRepr> {
    payloads.iter().find_map(|p| {
        if let Payload::Sa(s) = p {
            Some(s)
        } else {
            None
        }
    })
}

pub(crate) fn find_ts(
    payloads: &[Payload],
) -> Option<(Vec<TrafficSelector>, Vec<TrafficSelector>)> {
    let tsi = payloads.iter().find_map(|p| {
        if let Payload::TsI(t) = p {
            Some(t)
        } else {
            None
        }
    })?;
    let tsr = payloads.iter().find_map(|p| {
        if let Payload::TsR(t) = p {
            Some(t)
        } else {
            None
        }
    })?;
    Some((selector::from_wire(tsi), selector::from_wire(tsr)))
}

pub(crate) fn find_ke(payloads: &[Payload]) -> Option<&KeRepr> {
    payloads.iter().find_map(|p| {
        if let Payload::Ke(k) = p {
            Some(k)
        } else {
            None
        }
    })
}

pub(crate) fn find_nonce(payloads: &[Payload]) -> Option<&Vec<u8>> {
    payloads.iter().find_map(|p| {
        if let Payload::Nonce(n) = p {
            Some(n)
        } else {
            None
        }
    })
}

fn describe_ts(ts: &[TrafficSelector]) -> String {
    let parts: Vec<String> = ts
        .iter()
        .map(|t| {
            let ports = if t.start_port == 0 && t.end_port == 65535 {
                String::new()
            } else {
                format!(":{}-{}", t.start_port, t.end_port)
            };
            format!(
                "{}-{} proto {}{ports}",
                t.start_addr, t.end_addr, t.protocol
            )
        })
        .collect();
    parts.join(", ")
}

/// Jittered soft lifetime: rekey between 80 % and 90 % of the hard lifetime, so both
/// ends rarely start a rekey at the same moment.
pub(crate) fn rekey_delay(lifetime: Duration, random_octet: u8) -> Duration {
    let base = lifetime.mul_f64(0.8);
    base + lifetime.mul_f64(0.1 * f64::from(random_octet) / 255.0)
}

impl Engine {
    /// Prepares our side of a Child SA request: SPI, nonce, the KE when `set pfs` is
    /// configured and this is CREATE_CHILD_SA, and the selectors.
    pub(crate) fn child_request(
        &mut self,
        peer: usize,
        child: usize,
        rekeys: Option<(u32, Vec<TrafficSelector>, Vec<TrafficSelector>)>,
        create_child: bool,
    ) -> Option<ChildRequest> {
        let cc = self.config.peers.get(peer)?.children.get(child)?.clone();
        let ke = match (create_child, cc.pfs) {
            (true, Some(g)) => Some(
                KeyExchange::generate(g, self.random.as_mut())
                    .map_err(|e| warn!(target: "chd", "generating a {} key failed: {e}", g.name()))
                    .ok()?,
            ),
            _ => None,
        };
        let (rekeys, local_ts, remote_ts) = match rekeys {
            Some((spi, l, r)) => (Some(spi), l, r),
            None => (None, vec![cc.local_ts], vec![cc.remote_ts]),
        };
        Some(ChildRequest {
            child,
            spi_in: self.new_esp_spi(),
            nonce: if create_child {
                self.random_bytes(super::init::NONCE_LEN)
            } else {
                Vec::new()
            },
            ke,
            rekeys,
            local_ts,
            remote_ts,
            ke_retried: false,
        })
    }

    /// Returns the configuration of child `child` of crypto map entry `peer`.
    pub(crate) fn child_config(&self, peer: usize, child: usize) -> Option<&ChildConfig> {
        self.config.peers.get(peer).and_then(|p| p.children.get(child))
    }

    /// SA, KE and selector payloads of a child request. IKE_AUTH carries no DH
    /// transform and no nonce of its own (RFC 7296 section 1.2).
    pub(crate) fn child_payloads(
        &self,
        peer: usize,
        req: &ChildRequest,
        create_child: bool,
    ) -> Vec<Payload> {
        let Some(cc) = self.child_config(peer, req.child) else {
            return Vec::new();
        };
        let dh = if create_child {
            req.ke.as_ref().map(KeyExchange::group)
        } else {
            None
        };
        let mut v = vec![Payload::Sa(proposal::esp_offer(
            &cc.proposals,
            req.spi_in,
            dh,
        ))];
        if create_child {
            v.push(Payload::Nonce(req.nonce.clone()));
            if let Some(ke) = &req.ke {
                v.push(Payload::Ke(KeRepr {
                    dh_group: ke.group().transform_id(),
                    data: ke.public_value().to_vec(),
                }));
            }
        }
        v.push(Payload::TsI(selector::to_wire(&req.local_ts)));
        v.push(Payload::TsR(selector::to_wire(&req.remote_ts)));
        v
    }

    /// Picks the child configuration for a peer's request and narrows its selectors.
    /// `rekey` restricts the choice to the child being rekeyed. `ke` is `None` in
    /// IKE_AUTH and the received KE group (if any) in CREATE_CHILD_SA.
    pub(crate) fn child_select_r(
        &self,
        sa: &IkeSa,
        payloads: &[Payload],
        ke: Option<Option<u16>>,
        rekey: Option<usize>,
    ) -> Result<ChildAccepted, (NotifyType, Vec<u8>)> {
        let tag = self.tag(sa);
        let Some(pc) = self.config.peers.get(sa.peer) else {
            return Err((NotifyType::NO_PROPOSAL_CHOSEN, Vec::new()));
        };
        let (Some(offer), Some((tsi, tsr))) = (find_sa(payloads), find_ts(payloads)) else {
            return Err((NotifyType::INVALID_SYNTAX, Vec::new()));
        };
        let mut ts_match = false;
        let mut invalid_ke = None;
        for (i, cc) in pc.children.iter().enumerate() {
            if rekey.is_some_and(|r| r != i) {
                continue;
            }
            let remote_ts = selector::narrow(&cc.remote_ts, &tsi);
            let local_ts = selector::narrow(&cc.local_ts, &tsr);
            if remote_ts.is_empty() || local_ts.is_empty() {
                continue;
            }
            ts_match = true;
            // Without `set pfs` a peer's KE is honoured; with it, CREATE_CHILD_SA
            // must use that group.
            match proposal::select_esp(&cc.proposals, cc.pfs, offer, ke) {
                Ok(chosen) => {
                    return Ok(ChildAccepted {
                        child: i,
                        chosen,
                        local_ts,
                        remote_ts,
                    });
                }
                Err(Reject::InvalidKe(g)) => invalid_ke = invalid_ke.or(Some(g)),
                Err(Reject::NoProposalChosen) => {
                    let ours = proposal::describe(&proposal::esp_offer(
                        &cc.proposals,
                        0,
                        if ke.is_some() { cc.pfs } else { None },
                    ));
                    warn!(target: "chd", "{tag} {} {}: no ESP proposal in common: peer offered {}, we accept {ours}", cc.crypto_map, cc.sequence, proposal::describe(offer));
                }
            }
        }
        if let Some(g) = invalid_ke {
            return Err((
                NotifyType::INVALID_KE_PAYLOAD,
                g.transform_id().to_be_bytes().to_vec(),
            ));
        }
        if !ts_match {
            let ours: Vec<String> = pc
                .children
                .iter()
                .map(|c| {
                    format!(
                        "{} {} [{}] local {} remote {}",
                        c.crypto_map,
                        c.sequence,
                        c.ace,
                        describe_ts(&[c.local_ts]),
                        describe_ts(&[c.remote_ts])
                    )
                })
                .collect();
            warn!(target: "chd", "{tag} TS_UNACCEPTABLE for {}: peer proposed TSi {} TSr {}; configured: {}", sa.remote, describe_ts(&tsi), describe_ts(&tsr), ours.join("; "));
            return Err((NotifyType::TS_UNACCEPTABLE, Vec::new()));
        }
        Err((NotifyType::NO_PROPOSAL_CHOSEN, Vec::new()))
    }

    /// Checks the responder's selectors: each must lie inside what we proposed.
    pub(crate) fn child_ts_accepted(
        req: &ChildRequest,
        tsi: &[TrafficSelector],
        tsr: &[TrafficSelector],
    ) -> bool {
        let inside = |got: &[TrafficSelector], ours: &[TrafficSelector]| {
            !got.is_empty()
                && got
                    .iter()
                    .all(|g| ours.iter().any(|o| selector::contains(o, g)))
        };
        inside(tsi, &req.local_ts) && inside(tsr, &req.remote_ts)
    }

    /// Derives a Child SA's keys, records it in the IKE SA and emits ChildSaUp.
    pub(crate) fn install_child(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        p: ChildParams<'_>,
    ) -> bool {
        let tag = self.tag(sa);
        let Some(keys) = sa.keys.as_ref() else {
            return false;
        };
        let Some(cc) = self
            .config
            .peers
            .get(sa.peer)
            .and_then(|pc| pc.children.get(p.child))
            .cloned()
        else {
            return false;
        };
        let derived = match derive_child_keys(
            keys.prf,
            &keys.sk_d,
            p.shared,
            p.nonce_i,
            p.nonce_r,
            p.chosen.encr,
            p.chosen.integ,
        ) {
            Ok(k) => k,
            Err(e) => {
                warn!(target: "chd", "{tag} Child SA key derivation failed: {e}");
                return false;
            }
        };
        let (encr_out, integ_out, encr_in, integ_in) = if p.exchange_initiator {
            (
                derived.encr_i.clone(),
                derived.integ_i.clone(),
                derived.encr_r.clone(),
                derived.integ_r.clone(),
            )
        } else {
            (
                derived.encr_r.clone(),
                derived.integ_r.clone(),
                derived.encr_i.clone(),
                derived.integ_i.clone(),
            )
        };
        let udp_encap = sa.udp_encap();
        let (local, remote) = if udp_encap {
            (sa.local, sa.remote)
        } else {
            (
                std::net::SocketAddr::new(sa.local.ip(), 0),
                std::net::SocketAddr::new(sa.remote.ip(), 0),
            )
        };
        let mut jitter = [0u8; 1];
        self.random.fill(&mut jitter);
        let pfs_group: Option<DhGroup> = if p.shared.is_some() {
            p.chosen.dh
        } else {
            None
        };
        let child = ChildSa {
            child: p.child,
            spi_in: p.spi_in,
            spi_out: p.chosen.peer_spi,
            encr: p.chosen.encr,
            integ: p.chosen.integ,
            pfs: pfs_group,
            local_ts: p.local_ts.clone(),
            remote_ts: p.remote_ts.clone(),
            established: now,
            lifetime: cc.lifetime,
            rekey_at: now + rekey_delay(cc.lifetime, jitter[0]),
            kilobytes_rekey: cc.lifetime_kilobytes.saturating_mul(9) / 10,
            bytes: 0,
            rekeying: false,
            replaced: false,
            rekey_of: p.rekey_of,
        };
        info!(
            target: "chd",
            "{tag} Child SA {} {} established: SPIs {:08x}_i {:08x}_o, {}{}, {} === {}{}",
            cc.crypto_map,
            cc.sequence,
            child.spi_in,
            child.spi_out,
            child.encr.name(),
            child.integ.map(|i| format!("/{}", i.name())).unwrap_or_default(),
            describe_ts(&child.local_ts),
            describe_ts(&child.remote_ts),
            if p.replaces.is_some() { " (rekeyed)" } else { "" }
        );
        self.events.push_back(Event::ChildSaUp(ChildSaKeys {
            peer: sa.peer,
            child: p.child,
            local,
            remote,
            udp_encap,
            spi_in: child.spi_in,
            spi_out: child.spi_out,
            encr: child.encr,
            integ: child.integ,
            encr_key_in: Zeroizing::new(encr_in.to_vec()),
            integ_key_in: Zeroizing::new(integ_in.to_vec()),
            encr_key_out: Zeroizing::new(encr_out.to_vec()),
            integ_key_out: Zeroizing::new(integ_out.to_vec()),
            local_ts: p.local_ts,
            remote_ts: p.remote_ts,
            lifetime: cc.lifetime,
            lifetime_kilobytes: cc.lifetime_kilobytes,
            pfs_group,
            replaces: p.replaces,
            initiator: p.exchange_initiator,
        }));
        // Grow by one: a Vec's first push reserves four entries (672 octets here), and
        // most IKE SAs carry one Child SA, two while a rekey overlaps.
        sa.children.reserve_exact(1);
        sa.children.push(child);
        true
    }

    /// Removes a Child SA and emits ChildSaDown.
    pub(crate) fn remove_child(&mut self, sa: &mut IkeSa, spi_in: u32, reason: &str) {
        let Some(pos) = sa.children.iter().position(|c| c.spi_in == spi_in) else {
            return;
        };
        let c = sa.children.remove(pos);
        info!(target: "chd", "{} Child SA {:08x}_i {:08x}_o deleted: {reason}", self.tag(sa), c.spi_in, c.spi_out);
        self.events.push_back(Event::ChildSaDown {
            peer: sa.peer,
            child: c.child,
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            reason: reason.to_string(),
        });
    }
}
