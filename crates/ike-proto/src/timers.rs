//! Per-SA timers: retransmission with back-off (RFC 7296 section 2.4), liveness
//! checks, rekey deadlines and NAT-T keepalives.

use std::time::Instant;

use tracing::{debug, warn};

use crate::engine::{Engine, HALF_OPEN_TIMEOUT, KEEPALIVE_INTERVAL};
use crate::event::{Event, Transmit};
use crate::sa::{IkeSa, Pending, State, Task};

impl Engine {
    /// Returns the earliest timer of `sa`: every condition `sa_timers` and `kick` act on
    /// has its deadline here, so `handle_timeout` can skip SAs with nothing due. Runs for
    /// every SA on every `poll_timeout`, so it allocates nothing.
    pub(crate) fn sa_deadline(&self, sa: &IkeSa) -> Option<Instant> {
        let mut earliest: Option<Instant> = None;
        let mut consider = |t: Instant| earliest = Some(earliest.map_or(t, |e| e.min(t)));
        if let Some(r) = &sa.outstanding {
            consider(r.next_at);
        }
        if sa.state == State::Connecting && !sa.initiator {
            consider(sa.created + HALF_OPEN_TIMEOUT);
        }
        if sa.is_established() {
            if sa.outstanding.is_none() && !sa.tasks.is_empty() {
                consider(sa.last_recv);
            }
            if let Some(interval) = self.remote_config(sa).and_then(|r| r.dpd.interval)
                && sa.outstanding.is_none()
            {
                consider(sa.last_recv + interval);
            }
            sa.rekey_at.into_iter().for_each(&mut consider);
            sa.keepalive_at.into_iter().for_each(&mut consider);
            sa.await_redundant.map(|a| a.1).into_iter().for_each(&mut consider);
            for child in sa.children.iter().filter(|c| !c.replaced) {
                if !child.rekeying {
                    consider(child.rekey_at);
                }
                consider(child.established + child.lifetime);
            }
            Self::ike_expiry(sa).into_iter().for_each(&mut consider);
        }
        earliest
    }

    /// Returns when the IKE SA's lifetime ends, unless its Delete is already queued.
    fn ike_expiry(sa: &IkeSa) -> Option<Instant> {
        if sa.tasks.contains(&Task::DeleteIke) {
            return None;
        }
        Some(sa.established? + sa.chosen?.lifetime)
    }

    pub(crate) fn sa_timers(&mut self, sa: &mut IkeSa, now: Instant) {
        if sa.state == State::Connecting && !sa.initiator && now >= sa.created + HALF_OPEN_TIMEOUT {
            debug!(target: "ike", "{} half-open IKE SA timed out", self.tag(sa));
            sa.dead = true;
            return;
        }
        self.retransmit(sa, now);
        if sa.dead || !sa.is_established() {
            return;
        }
        if sa.outstanding.is_none()
            && sa.tasks.is_empty()
            && let Some(interval) = self.remote_config(sa).and_then(|r| r.dpd.interval)
            && now >= sa.last_recv + interval
        {
            sa.queue(Task::Dpd);
        }
        if let Some((redundant, at)) = sa.await_redundant
            && now >= at
        {
            warn!(target: "ike", "{} the peer did not delete its redundant IKE SA {redundant:016x} in time, deleting it and the old SA", self.tag(sa));
            sa.await_redundant = None;
            if let Some(r) = self.sas.get_mut(&redundant) {
                r.queue(Task::DeleteIke);
            }
            sa.queue(Task::DeleteIke);
        }
        if sa.rekey_at.is_some_and(|t| now >= t) {
            sa.rekey_at = None;
            sa.queue(Task::RekeyIke);
        }
        let due: Vec<u32> = sa
            .children
            .iter()
            .filter(|c| !c.rekeying && !c.replaced && now >= c.rekey_at)
            .map(|c| c.spi_in)
            .collect();
        for spi in due {
            if let Some(c) = sa.child_by_spi_in(spi) {
                c.rekeying = true;
            }
            sa.queue(Task::RekeyChild(spi));
        }
        // Hard lifetimes: an SA whose rekey never succeeded is deleted when it
        // expires rather than kept past its lifetime.
        let expired: Vec<u32> = sa
            .children
            .iter()
            .filter(|c| !c.replaced && now >= c.established + c.lifetime)
            .map(|c| c.spi_in)
            .collect();
        for spi in expired {
            warn!(target: "chd", "{} Child SA {spi:08x}_i expired without a successful rekey", self.tag(sa));
            self.remove_child(sa, spi, "lifetime expired");
            sa.queue(Task::DeleteChild(spi));
        }
        if Self::ike_expiry(sa).is_some_and(|t| now >= t) {
            warn!(target: "ike", "{} IKE SA expired without a successful rekey", self.tag(sa));
            sa.queue(Task::DeleteIke);
        }
        if sa.keepalive_at.is_some_and(|t| now >= t) {
            sa.keepalive_at = Some(now + KEEPALIVE_INTERVAL);
            self.transmits.push_back(Transmit {
                local: sa.local,
                remote: sa.remote,
                payload: vec![0xff],
                keepalive: true,
            });
        }
    }

    /// Re-sends the outstanding request with exponential back-off, and gives up after
    /// the configured number of tries (RFC 7296 section 2.4).
    pub(crate) fn retransmit(&mut self, sa: &mut IkeSa, now: Instant) {
        let Some(req) = sa.outstanding.as_ref() else {
            return;
        };
        if now < req.next_at {
            return;
        }
        if req.tries >= self.config.retransmit.max_tries {
            let what = req.exchange;
            let dpd = matches!(req.pending, Pending::Dpd);
            warn!(target: "ike", "{} {what} request timed out after {} tries, peer {} unreachable", self.tag(sa), req.tries, sa.remote);
            let reason = if dpd {
                "dead peer detected"
            } else {
                "retransmission limit reached"
            };
            self.events.push_back(Event::Failure {
                peer: Some(sa.peer),
                remote: sa.remote,
                reason: format!("{what} {reason}"),
            });
            // An unanswered Delete of an SA already replaced by a rekey is no sign
            // of a dead peer while its successor is up.
            let superseded = sa.state == State::Deleting
                && self
                    .sas
                    .values()
                    .any(|o| o.peer == sa.peer && o.is_established());
            self.ike_sa_failed(sa, now, reason, !superseded);
            return;
        }
        let datagrams = req.datagrams.clone();
        let tries = req.tries;
        let timeout = self.request_timeout(sa, &req.pending, tries);
        debug!(target: "ike", "{} retransmitting {} mid {} (try {})", self.tag(sa), req.exchange, req.message_id, tries + 1);
        self.push_datagrams(sa, &datagrams);
        if let Some(req) = sa.outstanding.as_mut() {
            req.tries += 1;
            req.next_at = now + timeout;
        }
    }
}
