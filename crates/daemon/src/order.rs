//! Receive order across the inbound workers that share one socket.
//!
//! Several workers may receive from one outside socket so that decryption uses more
//! than one core even when all traffic arrives on one SA. Each batch gets a ticket when
//! it is received, and a worker writes into the TUN device only when every batch with
//! an earlier ticket has been written. Packets thus leave in the order they arrived,
//! which TCP needs to avoid spurious retransmissions, while receiving, decryption and
//! the policy check of different batches overlap.
//!
//! The first worker always receives. The others join only while the socket is backlogged
//! (the last batch was large), because splitting a light load into smaller batches
//! costs more system calls and hand-overs than it saves.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Packets in one batch from which the socket counts as backlogged.
pub const BACKLOG_PACKETS: usize = 32;

/// Tickets of one socket's batches.
#[derive(Debug, Default)]
pub struct ReceiveOrder {
    /// The next ticket. The mutex also makes receiving and numbering one step.
    next: Mutex<u64>,
    /// The ticket whose batch may write now.
    turn: AtomicU64,
    /// True while batches are large enough for more than one worker.
    backlog: AtomicBool,
    /// Wakes the additional workers when a backlog starts.
    backlog_mutex: Mutex<()>,
    backlog_start: Condvar,
}

/// The right to write one batch, in order. Dropping it passes the turn on, so a
/// worker that fails or has nothing to write does not hold up later batches.
#[derive(Debug)]
pub struct Ticket<'a> {
    order: &'a ReceiveOrder,
    number: u64,
    waited: bool,
}

impl ReceiveOrder {
    pub fn new() -> ReceiveOrder {
        ReceiveOrder::default()
    }

    /// Runs `receive` (a batched read returning the number of datagrams) and numbers the
    /// batch when it is not empty.
    pub fn receive(&self, receive: impl FnOnce() -> io::Result<usize>) -> io::Result<(usize, Option<Ticket<'_>>)> {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let count = receive()?;
        if count == 0 {
            return Ok((0, None));
        }
        let number = *next;
        *next += 1;
        Ok((count, Some(Ticket { order: self, number, waited: false })))
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

impl Ticket<'_> {
    /// Waits until every earlier batch has been written. Returns at once on later
    /// calls for the same batch.
    pub fn wait(&mut self) {
        if self.waited {
            return;
        }
        let mut spins = 0u32;
        while self.order.turn.load(Ordering::Acquire) != self.number {
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
        // Earlier batches must be done before the turn can move past this one.
        self.wait();
        self.order.turn.store(self.number + 1, Ordering::Release);
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
}
