//! INFORMATIONAL (RFC 7296 section 1.4): liveness checks, Delete of Child and IKE SAs.

use std::time::Instant;

use rampart_wire::ike::{DeleteRepr, ExchangeType, NotifyType, Payload, ProtocolId};
use tracing::{debug, info, warn};

use crate::engine::Engine;
use crate::sa::{IkeSa, Pending, State};

impl Engine {
    pub(crate) fn informational_build_i(&mut self, sa: &mut IkeSa, now: Instant, pending: Pending) {
        let payloads = match &pending {
            Pending::Dpd => {
                debug!(target: "ike", "{} sending liveness check", self.tag(sa));
                Vec::new()
            }
            Pending::DeleteChild(spis) => {
                info!(target: "chd", "{} deleting Child SA {:08x?}", self.tag(sa), spis);
                vec![Payload::Delete(DeleteRepr::esp(spis))]
            }
            Pending::DeleteIke => {
                info!(target: "ike", "{} deleting IKE SA", self.tag(sa));
                sa.state = State::Deleting;
                vec![Payload::Delete(DeleteRepr::ike())]
            }
            _ => return,
        };
        self.send_request(sa, now, ExchangeType::INFORMATIONAL, payloads, pending);
    }

    pub(crate) fn informational_process_r(
        &mut self,
        sa: &mut IkeSa,
        _now: Instant,
        mid: u32,
        payloads: Vec<Payload>,
    ) {
        let mut reply_spis = Vec::new();
        let mut delete_ike = false;
        for p in &payloads {
            let Payload::Delete(d) = p else { continue };
            match d.protocol_id {
                ProtocolId::IKE => delete_ike = true,
                ProtocolId::ESP | ProtocolId::AH => {
                    for spi in &d.spis {
                        let Ok(b) = <[u8; 4]>::try_from(spi.as_slice()) else {
                            continue;
                        };
                        let spi_out = u32::from_be_bytes(b);
                        if let Some(spi_in) = self.delete_child_by_peer(sa, spi_out) {
                            reply_spis.push(spi_in);
                        }
                    }
                }
                _ => {}
            }
        }
        // The initiator rejected our AUTH after we considered the SA up
        // (RFC 7296 section 2.21.2).
        let auth_failed = payloads.iter().any(|p| matches!(p, Payload::Notify(n) if n.notify_type == NotifyType::AUTHENTICATION_FAILED));
        if auth_failed {
            let reason = format!(
                "peer {} rejected our AUTH (AUTHENTICATION_FAILED)",
                sa.remote
            );
            warn!(target: "ike", "{} {reason}", self.tag(sa));
            self.failure(sa, &reason);
            self.send_response(sa, ExchangeType::INFORMATIONAL, mid, Vec::new());
            self.ike_sa_down(sa, &reason);
            return;
        }
        if delete_ike {
            info!(target: "ike", "{} IKE SA deleted by peer {}", self.tag(sa), sa.remote);
            // A Delete of the old SA while our rekey of it is in flight means the
            // peer's rekey completed without noticing ours: its new SA inherits the
            // Child SAs and our rekey is forgotten (RFC 7296 section 2.8.2).
            if sa.successor.is_none() && self.adopt_collision(sa) {
                info!(target: "ike", "{} the peer's simultaneous rekey replaces the SA", self.tag(sa));
            }
            // Child SAs created on a rekeyed SA after the rekey belong to its successor.
            self.hand_over_children(sa);
            self.send_response(sa, ExchangeType::INFORMATIONAL, mid, Vec::new());
            self.ike_sa_down(sa, "deleted by peer");
            return;
        }
        let reply = if reply_spis.is_empty() {
            Vec::new()
        } else {
            vec![Payload::Delete(DeleteRepr::esp(&reply_spis))]
        };
        self.send_response(sa, ExchangeType::INFORMATIONAL, mid, reply);
    }

    /// Removes the Child SA the peer deleted, named by its inbound SPI (our outbound
    /// one), from this SA or from its successor after an IKE SA rekey. Returns our
    /// inbound SPI for the Delete in the response.
    fn delete_child_by_peer(&mut self, sa: &mut IkeSa, spi_out: u32) -> Option<u32> {
        if let Some(spi_in) = sa
            .children
            .iter()
            .find(|c| c.spi_out == spi_out)
            .map(|c| c.spi_in)
        {
            self.remove_child(sa, spi_in, "deleted by peer");
            return Some(spi_in);
        }
        let mut next = sa.successor.and_then(|s| self.sas.remove(&s))?;
        let spi_in = next
            .children
            .iter()
            .find(|c| c.spi_out == spi_out)
            .map(|c| c.spi_in);
        if let Some(spi_in) = spi_in {
            self.remove_child(&mut next, spi_in, "deleted by peer");
        }
        self.sas.insert(next.local_spi(), next);
        spi_in
    }

    pub(crate) fn informational_process_i(
        &mut self,
        sa: &mut IkeSa,
        _now: Instant,
        _payloads: Vec<Payload>,
        pending: Pending,
    ) {
        match pending {
            Pending::DeleteChild(spis) => {
                for spi in spis {
                    self.remove_child(sa, spi, "deleted");
                    // The SA may have moved to the successor of a rekeyed IKE SA.
                    if let Some(mut next) = sa.successor.and_then(|s| self.sas.remove(&s)) {
                        self.remove_child(&mut next, spi, "deleted");
                        self.sas.insert(next.local_spi(), next);
                    }
                }
            }
            Pending::DeleteIke => self.ike_sa_down(sa, "deleted"),
            _ => {}
        }
    }
}
