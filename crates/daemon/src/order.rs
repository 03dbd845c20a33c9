//! Ordered hand-over between data-plane workers.
//!
//! [`TicketOrder`] numbers units of work in one critical section and lets them finish
//! in that order: a worker takes a ticket, works without locks, and waits for its turn
//! only to write its results.
//!
//! Inbound, several workers may receive from one outside socket so that decryption uses
//! more than one core even when all traffic arrives on one SA ([`ReceiveOrder`]). Each
//! batch gets a ticket when it is received, and a worker writes into the TUN device only
//! when every batch with an earlier ticket has been written. Packets thus leave in the
//! order they arrived, which TCP needs to avoid spurious retransmissions, while
//! receiving, decryption and the policy check of different batches overlap.
//!
//! The first inbound worker always receives. The others join only while the socket is
//! backlogged (the last batch was large), because splitting a light load into smaller
//! batches costs more system calls and hand-overs than it saves.
//!
//! Outbound, the workers of the TUN queues reserve the sequence numbers of a batch and
//! take a ticket in one critical section, so that each SA's packets leave in sequence
//! number order (RFC 4303 section 3.3.3) even though batches are encrypted in parallel.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Packets in one batch from which the socket counts as backlogged.
pub const BACKLOG_PACKETS: usize = 32;

/// Tickets that finish in the order they were issued.
#[derive(Debug, Default)]
pub struct TicketOrder {
    /// The next ticket. Work done while holding this lock is numbered in lock order.
    next: Mutex<u64>,
    /// The ticket whose holder may write now.
    turn: AtomicU64,
    /// Set at shutdown: every wait returns at once, so no worker waits for a holder
    /// that stopped without passing its turn on.
    closed: AtomicBool,
}

/// The critical section in which a ticket is issued.
#[derive(Debug)]
pub struct TicketLock<'a> {
    order: &'a TicketOrder,
    next: MutexGuard<'a, u64>,
}

/// The right to write one batch, in order. Dropping it passes the turn on, so a
/// worker that fails, panics or has nothing to write does not hold up later batches.
#[derive(Debug)]
pub struct Ticket<'a> {
    order: &'a TicketOrder,
    number: u64,
    waited: bool,
}

impl TicketOrder {
    pub fn new() -> TicketOrder {
        TicketOrder::default()
    }

    /// Enters the critical section. Tickets issued from it are numbered in the order
    /// in which workers enter.
    pub fn lock(&self) -> TicketLock<'_> {
        TicketLock { order: self, next: self.next.lock().unwrap_or_else(PoisonError::into_inner) }
    }

    /// Releases every current and future wait, for shutdown.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

impl<'a> TicketLock<'a> {
    /// Issues the next ticket and leaves the critical section.
    pub fn issue(mut self) -> Ticket<'a> {
        let number = *self.next;
        *self.next += 1;
        Ticket { order: self.order, number, waited: false }
    }
}

impl Ticket<'_> {
    /// Waits until every earlier ticket has finished, or the order is closed. Returns
    /// at once on later calls for the same ticket.
    pub fn wait(&mut self) {
        if self.waited {
            return;
        }
        let mut spins = 0u32;
        while self.order.turn.load(Ordering::Acquire) != self.number {
            if self.order.closed.load(Ordering::Acquire) {
                break;
            }
            // The worker ahead is usually in the middle of its write, so spin briefly.
            // Then give the core away, because the machine may have fewer cores than
            // workers.
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else if spins < 10_000 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        self.waited = true;
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        // Earlier tickets must be done before the turn can move past this one.
        self.wait();
        self.order.turn.store(self.number + 1, Ordering::Release);
    }
}

/// Tickets of one socket's batches, and the backlog signal for additional workers.
#[derive(Debug, Default)]
pub struct ReceiveOrder {
    /// Receiving and numbering are one step under the ticket lock.
    tickets: TicketOrder,
    /// True while batches are large enough for more than one worker.
    backlog: AtomicBool,
    /// Wakes the additional workers when a backlog starts.
    backlog_mutex: Mutex<()>,
    backlog_start: Condvar,
}

impl ReceiveOrder {
    pub fn new() -> ReceiveOrder {
        ReceiveOrder::default()
    }

    /// Runs `receive` (a batched read returning the number of datagrams) and numbers the
    /// batch when it is not empty.
    pub fn receive(&self, receive: impl FnOnce() -> io::Result<usize>) -> io::Result<(usize, Option<Ticket<'_>>)> {
        let lock = self.tickets.lock();
        let count = receive()?;
        if count == 0 {
            return Ok((0, None));
        }
        Ok((count, Some(lock.issue())))
    }

    /// Releases every wait for a ticket, for shutdown.
    pub fn close(&self) {
        self.tickets.close();
    }

    /// Records the size of a processed batch, in packets, and wakes the additional
    /// workers when the socket becomes backlogged.
    pub fn note_batch(&self, packets: usize) {
        let backlog = packets >= BACKLOG_PACKETS;
        if self.backlog.swap(backlog, Ordering::Relaxed) != backlog && backlog {
            let _guard = self.backlog_mutex.lock().unwrap_or_else(PoisonError::into_inner);
            self.backlog_start.notify_all();
        }
    }

    /// For an additional worker: waits until the socket is backlogged or `timeout`
    /// passes. Returns whether it is backlogged.
    pub fn wait_for_backlog(&self, timeout: Duration) -> bool {
        if self.backlog.load(Ordering::Relaxed) {
            return true;
        }
        let guard = self.backlog_mutex.lock().unwrap_or_else(PoisonError::into_inner);
        let (_guard, _) = self
            .backlog_start
            .wait_timeout_while(guard, timeout, |_| !self.backlog.load(Ordering::Relaxed))
            .unwrap_or_else(PoisonError::into_inner);
        self.backlog.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_in_receive_order() {
        let order = ReceiveOrder::new();
        let (_, first) = order.receive(|| Ok(3)).unwrap();
        let (_, second) = order.receive(|| Ok(1)).unwrap();
        assert_eq!(first.as_ref().map(|t| t.number), Some(0));
        assert_eq!(second.as_ref().map(|t| t.number), Some(1));
        // Locals drop in reverse order, and a later ticket waits for the earlier one.
        drop(first);
        drop(second);
    }

    #[test]
    fn empty_batch_no_ticket() {
        let order = ReceiveOrder::new();
        let (count, ticket) = order.receive(|| Ok(0)).unwrap();
        assert_eq!(count, 0);
        assert!(ticket.is_none());
    }

    #[test]
    fn receive_error_no_ticket() {
        let order = ReceiveOrder::new();
        assert!(order.receive(|| Err(io::Error::other("socket closed"))).is_err());
        let (_, ticket) = order.receive(|| Ok(1)).unwrap();
        assert_eq!(ticket.map(|t| t.number), Some(0));
    }

    #[test]
    fn backlog_from_large_batch() {
        let order = ReceiveOrder::new();
        order.note_batch(BACKLOG_PACKETS);
        assert!(order.wait_for_backlog(Duration::ZERO));
    }

    #[test]
    fn backlog_ends_with_small_batch() {
        let order = ReceiveOrder::new();
        order.note_batch(BACKLOG_PACKETS);
        order.note_batch(1);
        assert!(!order.wait_for_backlog(Duration::from_millis(1)));
    }

    #[test]
    fn writes_follow_tickets() {
        let order = ReceiveOrder::new();
        let written = Mutex::new(Vec::new());
        let tickets: Vec<Ticket<'_>> = (0..8).filter_map(|_| order.receive(|| Ok(1)).unwrap().1).collect();
        // Workers finish in reverse order; the writes still come out in ticket order.
        std::thread::scope(|scope| {
            for mut ticket in tickets.into_iter().rev() {
                let written = &written;
                scope.spawn(move || {
                    ticket.wait();
                    written.lock().unwrap().push(ticket.number);
                });
            }
        });
        assert_eq!(*written.lock().unwrap(), (0..8).collect::<Vec<u64>>());
    }

    #[test]
    fn panicking_holder_passes_turn() {
        let order = TicketOrder::new();
        let first = order.lock().issue();
        let mut second = order.lock().issue();
        let result = std::thread::scope(|scope| scope.spawn(move || {
            let _ticket = first;
            panic!("worker failed while holding its ticket");
        }).join());
        assert!(result.is_err());
        // Unwinding dropped the first ticket, so the second one's wait returns.
        second.wait();
        assert_eq!(order.turn.load(Ordering::Acquire), 1);
    }

    #[test]
    fn close_releases_waiters() {
        let order = TicketOrder::new();
        // The first ticket is never dropped, as if its worker hung.
        let first = order.lock().issue();
        let mut second = order.lock().issue();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(move || second.wait());
            std::thread::sleep(Duration::from_millis(20));
            assert!(!waiter.is_finished());
            order.close();
            waiter.join().unwrap();
        });
        std::mem::forget(first);
    }
}
