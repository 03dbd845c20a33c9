//! One outbound batch's ESP work: the plan of what each packet becomes, the sequence
//! numbers reserved for it, and the encrypted packets waiting to be sent.
//!
//! An outbound worker classifies its whole batch first ([`Reservations::add`]). It then
//! reserves every SA's sequence numbers with one atomic add per SA and, when several
//! workers share the SAs, takes a send ticket in the same critical section
//! ([`Reservations::reserve`]). Encryption runs without locks on the reserved numbers,
//! and the batch is sent when every earlier ticket has been sent. Each SA's packets thus
//! leave in sequence number order (RFC 4303 section 3.3.3), which receivers with a
//! small anti-replay window (32 or 64 packets on some implementations) need.

use std::net::SocketAddr;
use std::sync::Arc;

use rampart_crypto::alg::Encr;
use rampart_esp::mtu::Ipv4Fragmenter;
use rampart_esp::sa::OutboundSa;
use rampart_esp::stats::Direction;
use rampart_esp::DropReason;

use crate::order::{Ticket, TicketOrder};
use crate::sa_table::{ChildId, Egress};
use crate::shared::{Shared, StatsDelta};

/// The ESP work planned for one inner packet of a batch.
#[derive(Clone, Copy, Debug)]
pub struct Planned {
    /// Index of the packet in the worker's TUN batch.
    pub index: usize,
    /// Length of the inner IP packet.
    pub len: usize,
    pub egress: Egress,
    /// The SA's entry in [`Reservations`].
    pub slot: usize,
    /// `Some(max_len)` when the packet is fragmented before encryption into
    /// `count` fragments of at most `max_len` octets.
    pub fragment_len: Option<usize>,
    /// ESP packets this inner packet becomes, and so the sequence numbers it needs.
    pub count: u64,
}

/// One SA's sequence numbers for a batch.
struct Reservation {
    id: ChildId,
    sa: Arc<OutboundSa>,
    /// Numbers the batch needs on this SA.
    count: u64,
    /// Next reserved number to use, valid after [`Reservations::reserve`].
    next: u64,
}

/// The sequence numbers one batch needs on each SA it sends on.
#[derive(Default)]
pub struct Reservations {
    entries: Vec<Reservation>,
}

impl Reservations {
    pub fn with_capacity(capacity: usize) -> Reservations {
        Reservations { entries: Vec::with_capacity(capacity) }
    }

    /// Forgets the last batch, and with it the SA references it held.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Counts `count` more packets on the child's SA and returns its slot.
    pub fn add(&mut self, id: ChildId, sa: &Arc<OutboundSa>, count: u64) -> usize {
        // Consecutive packets usually share an SA, so search from the newest entry.
        // An SA replaced by a rekey within the batch gets an entry of its own.
        let found = self.entries.iter().rposition(|r| r.id == id && Arc::ptr_eq(&r.sa, sa));
        let slot = match found {
            Some(slot) => slot,
            None => {
                self.entries.push(Reservation { id, sa: Arc::clone(sa), count: 0, next: 0 });
                self.entries.len() - 1
            }
        };
        self.entries[slot].count += count;
        slot
    }

    /// Reserves the counted numbers on every SA. With `order` (several workers) this
    /// happens in the order's critical section, and the returned ticket sends the batch
    /// after every batch that reserved earlier. Returns `None` without `order` or
    /// without any ESP packet to send.
    pub fn reserve<'a>(&mut self, order: Option<&'a TicketOrder>) -> Option<Ticket<'a>> {
        if self.entries.is_empty() {
            return None;
        }
        let Some(order) = order else {
            self.reserve_each();
            return None;
        };
        let lock = order.lock();
        self.reserve_each();
        Some(lock.issue())
    }

    fn reserve_each(&mut self) {
        for entry in &mut self.entries {
            entry.next = entry.sa.reserve(entry.count);
        }
    }

    /// Takes the next `count` reserved numbers of `slot` and returns the SA with the
    /// first of them.
    pub fn take(&mut self, slot: usize, count: u64) -> (&OutboundSa, u64) {
        let entry = &mut self.entries[slot];
        let first = entry.next;
        entry.next += count;
        (&entry.sa, first)
    }
}

pub struct PendingSend {
    pub start: usize,
    pub len: usize,
    pub remote: SocketAddr,
    pub udp_encap: bool,
}

/// The ESP packets of one batch, back to back in `out` so that runs to one peer can
/// leave in one GSO send.
pub struct EspBatch {
    pub out: Vec<u8>,
    pub sends: Vec<PendingSend>,
    pub cursor: usize,
    /// Scratch space for one fragment or one ICMP error.
    pub fragment: Vec<u8>,
}

impl EspBatch {
    /// Empties the batch for the next one.
    pub fn clear(&mut self) {
        self.sends.clear();
        self.cursor = 0;
    }

    /// Encapsulates the planned packet `inner` (an inner packet or its fragments) on
    /// the numbers reserved for it.
    pub fn encapsulate_planned(
        &mut self,
        shared: &Shared,
        stats: &mut StatsDelta,
        reservations: &mut Reservations,
        plan: &Planned,
        inner: &[u8],
    ) {
        let (sa, seq) = reservations.take(plan.slot, plan.count);
        match plan.fragment_len {
            None => self.encapsulate(stats, plan.egress, sa, inner, seq),
            Some(max_len) => self.fragment_and_encapsulate(shared, stats, plan, sa, inner, max_len, seq),
        }
    }

    /// Encapsulates `inner` with sequence number `seq` at the end of `out`.
    fn encapsulate(&mut self, stats: &mut StatsDelta, egress: Egress, sa: &OutboundSa, inner: &[u8], seq: u64) {
        let Some(slot) = self.out.get_mut(self.cursor..) else {
            stats.drop(Direction::Outbound, DropReason::BufferTooSmall);
            return;
        };
        match sa.encapsulate_with_sequence(inner, slot, seq) {
            Ok(len) => {
                stats.encapsulated(inner.len(), sa.info().encr != Encr::Null);
                self.sends.push(PendingSend { start: self.cursor, len, remote: egress.remote, udp_encap: egress.udp_encap });
                self.cursor += len;
            }
            Err(reason) => stats.drop(Direction::Outbound, reason),
        }
    }

    /// Encapsulates each fragment of `packet` with the numbers from `first_seq` on.
    #[allow(clippy::too_many_arguments)]
    fn fragment_and_encapsulate(
        &mut self,
        shared: &Shared,
        stats: &mut StatsDelta,
        plan: &Planned,
        sa: &OutboundSa,
        packet: &[u8],
        max_len: usize,
        first_seq: u64,
    ) {
        let egress = plan.egress;
        let mut fragmenter = match Ipv4Fragmenter::new(packet, max_len) {
            Ok(f) => f,
            Err(reason) => {
                shared.sa().sad.record_pre_fragmentation_failure(egress.handle);
                stats.drop(Direction::Outbound, reason);
                return;
            }
        };
        let mut fragment = std::mem::take(&mut self.fragment);
        // Only `plan.count` numbers are reserved: a further fragment would reuse a
        // number of another packet, and with AES-GCM its nonce, so it is dropped.
        for seq in first_seq..first_seq + plan.count {
            match fragmenter.next_into(&mut fragment) {
                Some(Ok(len)) => self.encapsulate(stats, egress, sa, &fragment[..len], seq),
                Some(Err(reason)) => {
                    shared.sa().sad.record_pre_fragmentation_failure(egress.handle);
                    stats.drop(Direction::Outbound, reason);
                    break;
                }
                None => break,
            }
        }
        if fragmenter.next_into(&mut fragment).is_some() {
            shared.sa().sad.record_pre_fragmentation_failure(egress.handle);
            stats.drop(Direction::Outbound, DropReason::FragmentationFailed);
        }
        self.fragment = fragment;
        shared.sa().sad.record_pre_fragmentation(egress.handle, plan.count);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use rampart_esp::sa::SaParams;

    use super::*;

    fn outbound_sa(spi: u32) -> Arc<OutboundSa> {
        let peer = "198.51.100.2:4500".parse().unwrap();
        let local = "198.51.100.1:4500".parse().unwrap();
        let params = SaParams::new(spi, Encr::AesGcm16 { key_bits: 128 }, None, &[7; 20], &[], local, peer);
        Arc::new(OutboundSa::new(params, Instant::now()).unwrap())
    }

    /// Builds an IPv4 UDP packet of 60 octets.
    fn inner_packet() -> Vec<u8> {
        let mut packet = vec![0u8; 60];
        packet[0] = 0x45;
        packet[2..4].copy_from_slice(&60u16.to_be_bytes());
        packet[9] = 17;
        packet
    }

    /// Returns the (SPI, sequence number) of an ESP packet.
    fn header(esp: &[u8]) -> (u32, u32) {
        (u32::from_be_bytes(esp[0..4].try_into().unwrap()), u32::from_be_bytes(esp[4..8].try_into().unwrap()))
    }

    #[test]
    fn add_counts_per_sa() {
        let (a, b) = (outbound_sa(0x100), outbound_sa(0x200));
        let mut reservations = Reservations::with_capacity(4);
        assert_eq!(reservations.add((0, 0), &a, 1), 0);
        assert_eq!(reservations.add((1, 0), &b, 3), 1);
        assert_eq!(reservations.add((0, 0), &a, 2), 0);
        assert!(reservations.reserve(None).is_none());
        assert_eq!(a.next_sequence(), 4);
        assert_eq!(b.next_sequence(), 4);
        assert_eq!(reservations.take(0, 1).1, 1);
        assert_eq!(reservations.take(0, 2).1, 2);
        assert_eq!(reservations.take(1, 3).1, 1);
    }

    #[test]
    fn rekeyed_sa_gets_own_slot() {
        let (old, new) = (outbound_sa(0x100), outbound_sa(0x101));
        let mut reservations = Reservations::with_capacity(4);
        assert_eq!(reservations.add((0, 0), &old, 1), 0);
        assert_eq!(reservations.add((0, 0), &new, 1), 1);
    }

    #[test]
    fn empty_batch_takes_no_ticket() {
        let order = TicketOrder::new();
        let mut reservations = Reservations::with_capacity(4);
        assert!(reservations.reserve(Some(&order)).is_none());
        // The next batch gets the first ticket, so nothing waits for a missing one.
        let sa = outbound_sa(0x100);
        reservations.add((0, 0), &sa, 1);
        let mut ticket = reservations.reserve(Some(&order)).expect("a ticket for an ESP batch");
        ticket.wait();
    }

    /// Four workers share two SAs, encrypt their batches in parallel with random delays
    /// and send in ticket order. One worker drops every fifth batch after reserving.
    /// On the "wire" each SPI's numbers must strictly increase.
    #[test]
    fn parallel_batches_leave_in_sequence_order() {
        let sas = [outbound_sa(0x1000), outbound_sa(0x2000)];
        let order = TicketOrder::new();
        let wire: Mutex<Vec<(u32, u32)>> = Mutex::new(Vec::new());
        let inner = inner_packet();
        std::thread::scope(|scope| {
            for worker in 0..4u64 {
                let (sas, order, wire, inner) = (&sas, &order, &wire, &inner);
                scope.spawn(move || {
                    let mut reservations = Reservations::with_capacity(4);
                    let mut out = vec![0u8; 256];
                    let mut state = worker.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                    for round in 0..200u64 {
                        reservations.clear();
                        // Batches of 1 to 8 packets spread over both SAs.
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        let packets = 1 + state % 8;
                        let mut plan = Vec::new();
                        for p in 0..packets {
                            let sa_index = ((state >> (p + 3)) & 1) as usize;
                            plan.push(reservations.add((sa_index, 0), &sas[sa_index], 1));
                        }
                        let mut ticket = reservations.reserve(Some(order)).expect("ticket");
                        if state % 3 == 0 {
                            std::thread::sleep(Duration::from_micros(state % 200));
                        }
                        if worker == 3 && round % 5 == 0 {
                            // Encryption failed after the reservation: the numbers are
                            // skipped and the ticket passes the turn on when dropped.
                            continue;
                        }
                        let mut sent = Vec::new();
                        for slot in plan {
                            let (sa, seq) = reservations.take(slot, 1);
                            let len = sa.encapsulate_with_sequence(inner, &mut out, seq).expect("encapsulate");
                            sent.push(header(&out[..len]));
                        }
                        ticket.wait();
                        wire.lock().unwrap().extend(sent);
                    }
                });
            }
        });
        let wire = wire.into_inner().unwrap();
        let mut last: HashMap<u32, u32> = HashMap::new();
        for (spi, seq) in &wire {
            if let Some(previous) = last.insert(*spi, *seq) {
                assert!(*seq > previous, "SPI {spi:#x}: sequence number {seq} sent after {previous}");
            }
        }
        assert_eq!(last.len(), 2);
        assert!(wire.len() > 1000, "only {} packets sent", wire.len());
    }
}
