//! Failure handling and failover across a crypto map entry's peers (`set peer A B`):
//! the active remote moves on after a failure, and retries back off.

use std::time::Instant;

use tracing::{info, warn};

use crate::engine::{Engine, RETRY_BACKOFF_MAX, RETRY_BACKOFF_MIN};
use crate::event::Event;
use crate::sa::{IkeSa, Task};

impl Engine {
    /// Tears an IKE SA down after a failure. With `failover` the peer moves to its
    /// next remote (crypto map `set peer A B`); a new attempt follows when the data
    /// plane or `initiate_all` requested children.
    pub(crate) fn ike_sa_failed(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        reason: &str,
        failover: bool,
    ) {
        let peer = sa.peer;
        self.ike_sa_down(sa, reason);
        if self.shutting_down || peer >= self.peers.len() {
            return;
        }
        // The original initiator does not matter here: after the peer rekeyed the
        // IKE SA we are its responder, yet the crypto map entry still fails over.
        if failover {
            self.switch_remote(peer, now, reason);
        } else if !self.peers[peer].wanted.is_empty() {
            let st = &mut self.peers[peer];
            st.retry_at = Some(now + st.backoff);
            st.backoff = (st.backoff * 2).min(RETRY_BACKOFF_MAX);
        }
    }

    /// Moves `peer` to its next remote (wrapping) and schedules a new attempt. The
    /// attempt waits for the back-off once every remote has failed in a row.
    pub(crate) fn switch_remote(&mut self, peer: usize, now: Instant, reason: &str) {
        let remotes = &self.config.peers[peer].remotes;
        if remotes.is_empty() {
            return;
        }
        let st = &mut self.peers[peer];
        let from = st.active.min(remotes.len() - 1);
        let to = (from + 1) % remotes.len();
        st.active = to;
        let wrapped = to == 0;
        if wrapped {
            st.retry_at = Some(now + st.backoff);
            st.backoff = (st.backoff * 2).min(RETRY_BACKOFF_MAX);
        } else {
            st.retry_at = Some(now);
        }
        if from != to {
            let (a, b) = (remotes[from].addr, remotes[to].addr);
            warn!(target: "ike", "{}: peer {a} failed ({reason}), switching to {b}", self.config.peers[peer].name);
            self.events.push_back(Event::PeerSwitched {
                peer,
                from: a,
                to: b,
                reason: reason.to_string(),
            });
        }
    }

    /// Returns `peer` to its first remote.
    pub(crate) fn reset_failover(&mut self, peer: usize, reason: &str) {
        let Some(p) = self.config.peers.get(peer) else {
            return;
        };
        let st = &mut self.peers[peer];
        if st.active != 0 && st.active < p.remotes.len() {
            let (from, to) = (p.remotes[st.active].addr, p.remotes[0].addr);
            st.active = 0;
            info!(target: "ike", "{}: failover reset to first peer {to}", p.name);
            self.events.push_back(Event::PeerSwitched {
                peer,
                from,
                to,
                reason: reason.to_string(),
            });
        }
    }

    /// Records a refused child and schedules its next attempt with exponential
    /// back-off.
    pub(crate) fn child_failed(&mut self, peer: usize, child: usize, now: Instant) {
        let Some(st) = self.peers.get_mut(peer) else {
            return;
        };
        match st.child_retry.iter_mut().find(|r| r.0 == child) {
            Some(r) => {
                r.2 = (r.2 * 2).min(RETRY_BACKOFF_MAX);
                r.1 = Some(now + r.2);
            }
            None => st
                .child_retry
                .push((child, Some(now + RETRY_BACKOFF_MIN), RETRY_BACKOFF_MIN)),
        }
    }

    pub(crate) fn child_succeeded(&mut self, peer: usize, child: usize) {
        if let Some(st) = self.peers.get_mut(peer) {
            st.child_retry.retain(|r| r.0 != child);
        }
    }

    /// Queues CREATE_CHILD_SA for refused children whose back-off expired.
    pub(crate) fn child_retries_due(&mut self, peer: usize, now: Instant) {
        let due: Vec<usize> = self.peers[peer]
            .child_retry
            .iter_mut()
            .filter(|r| r.1.is_some_and(|t| t <= now))
            .map(|r| {
                r.1 = None;
                r.0
            })
            .collect();
        if due.is_empty() {
            return;
        }
        let Some(spi) = self.ike_sa_of(peer) else {
            return;
        };
        let Some(mut sa) = self.sas.remove(&spi) else {
            return;
        };
        if sa.is_established() {
            for child in due {
                if !sa.children.iter().any(|c| c.child == child && !c.replaced) {
                    sa.queue(Task::CreateChild(child));
                }
            }
        }
        self.kick(&mut sa, Some(now));
        self.finish(sa);
    }

    /// Resets the retry back-off after a successful IKE SA.
    pub(crate) fn peer_succeeded(&mut self, peer: usize) {
        if let Some(st) = self.peers.get_mut(peer) {
            st.backoff = RETRY_BACKOFF_MIN;
            st.retry_at = None;
        }
    }
}
