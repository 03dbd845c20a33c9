//! Coalescing of decrypted packets into super-packets before they enter the TUN device
//! (receive offload in userspace).
//!
//! The kernel takes a TCP or UDP super-packet written with a virtio-net header and
//! segments it again only where it must, so the packets of one bulk flow cross into
//! the kernel in one write instead of one write each. A packet joins the newest
//! super-packet of its flow only when the kernel's segmentation would give it back
//! unchanged: the next sequence number, the same acknowledgment, window and options,
//! the same IP header fields, and a valid checksum, as Linux's own TCP GRO demands.

use crate::gso::{self, VnetHdr, F_NEEDS_CSUM, GSO_TCPV4, GSO_UDP_L4, VNET_HDR_LEN};

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;

/// Largest IPv4 packet, and so the largest super-packet.
const MAX_PACKET: usize = 65_535;

/// Maximum segments per super-packet, the same limit as the kernel's own GRO.
const MAX_SEGMENTS: u16 = 64;

/// Number of the newest super-packets that a packet is compared with. A bounded scan
/// keeps the cost per packet flat when a batch contains many flows.
const SCAN: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tcp,
    Udp,
    /// Written as it is: not TCP or UDP over IPv4, or nothing to coalesce.
    Other,
}

/// Addresses, ports and protocol of an IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FlowKey {
    addresses: [u8; 8],
    ports: [u8; 4],
    protocol: u8,
}

/// The headers of an incoming packet that coalescing depends on.
struct Candidate {
    kind: Kind,
    key: FlowKey,
    ihl: usize,
    l4_header: usize,
    payload: usize,
}

/// A packet in the batch, or a super-packet built from several.
#[derive(Clone, Copy, Debug)]
struct Item {
    kind: Kind,
    key: FlowKey,
    ihl: u8,
    l4_header: u8,
    /// Payload octets of the first segment. Later segments may not be longer.
    gso_size: u16,
    segments: u16,
    /// TCP sequence number that the next segment must carry.
    next_seq: u32,
    /// IP identification of the first segment.
    ip_id: u16,
    /// Whether another segment may still join.
    open: bool,
}

/// A batch of packets for one TUN device, coalesced where the device allows it.
pub struct Coalescer {
    /// One buffer per item, each starting with room for the virtio-net header.
    bufs: Vec<Vec<u8>>,
    items: Vec<Item>,
    /// The device takes a virtio-net header (TSO); without it nothing is coalesced.
    vnet: bool,
    /// The device takes UDP super-packets (USO, Linux 6.2 and later).
    udp: bool,
}

impl Coalescer {
    /// Creates a batch of up to `capacity` writes for a device with the given offloads.
    pub fn new(capacity: usize, vnet: bool, udp: bool) -> Coalescer {
        let bufs = (0..capacity.max(1)).map(|_| Vec::with_capacity(VNET_HDR_LEN + MAX_PACKET)).collect();
        Coalescer { bufs, items: Vec::with_capacity(capacity.max(1)), vnet, udp: vnet && udp }
    }

    pub fn is_full(&self) -> bool {
        self.items.len() == self.bufs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of writes in the batch.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Queues a copy of the IPv4 or IPv6 `packet`, merged into the newest super-packet
    /// of its flow when that is safe. The caller flushes first when the batch is full.
    pub fn push(&mut self, packet: &[u8]) {
        let candidate = if self.vnet { candidate(packet, self.udp) } else { None };
        if let Some(c) = &candidate {
            let oldest = self.items.len().saturating_sub(SCAN);
            if let Some(index) = (oldest..self.items.len()).rev().find(|&i| self.items[i].key == c.key)
                && self.merge(index, packet, c)
            {
                return;
            }
        }
        let index = self.items.len();
        let Some(buf) = self.bufs.get_mut(index) else { return };
        buf.clear();
        buf.resize(VNET_HDR_LEN, 0);
        buf.extend_from_slice(packet);
        let item = match candidate {
            Some(c) => {
                // The first segment's checksum is checked here, because the kernel
                // recomputes it when it segments the merged packet again.
                let valid = gso::l4_checksum_valid(packet, c.ihl, c.key.protocol);
                Item {
                    kind: c.kind,
                    key: c.key,
                    ihl: c.ihl as u8,
                    l4_header: c.l4_header as u8,
                    gso_size: c.payload as u16,
                    segments: 1,
                    next_seq: tcp_seq(packet, c.ihl).wrapping_add(c.payload as u32),
                    ip_id: u16::from_be_bytes([packet[4], packet[5]]),
                    open: valid && !(c.kind == Kind::Tcp && packet[c.ihl + 13] & TCP_PSH != 0),
                }
            }
            None => Item {
                kind: Kind::Other,
                key: FlowKey { addresses: [0; 8], ports: [0; 4], protocol: 0 },
                ihl: 0,
                l4_header: 0,
                gso_size: 0,
                segments: 1,
                next_seq: 0,
                ip_id: 0,
                open: false,
            },
        };
        self.items.push(item);
    }

    /// Appends `packet` to item `index` if the kernel would segment the result back into
    /// the same packets.
    fn merge(&mut self, index: usize, packet: &[u8], c: &Candidate) -> bool {
        let item = self.items[index];
        if !item.open || item.kind != c.kind || usize::from(item.ihl) != c.ihl || usize::from(item.l4_header) != c.l4_header {
            return false;
        }
        if c.payload > usize::from(item.gso_size) || item.segments >= MAX_SEGMENTS {
            return false;
        }
        let head = &self.bufs[index][VNET_HDR_LEN..];
        if head.len() + c.payload > MAX_PACKET {
            return false;
        }
        // Type of service, TTL and DF must match, because the kernel copies the first
        // segment's header into every segment. Without DF the identification must count
        // up, as the kernel will number the segments that way.
        if packet[1] != head[1] || packet[8] != head[8] || (packet[6] ^ head[6]) & 0x40 != 0 {
            return false;
        }
        let ip_id = u16::from_be_bytes([packet[4], packet[5]]);
        if packet[6] & 0x40 == 0 && ip_id != item.ip_id.wrapping_add(item.segments) {
            return false;
        }
        let ihl = c.ihl;
        let psh = if c.kind == Kind::Tcp {
            if tcp_seq(packet, ihl) != item.next_seq || packet[ihl + 8..ihl + 12] != head[ihl + 8..ihl + 12] {
                return false;
            }
            // Data offset, flags and window, with PSH allowed on the last segment.
            if packet[ihl + 12] != head[ihl + 12]
                || (packet[ihl + 13] & !TCP_PSH) != (head[ihl + 13] & !TCP_PSH)
                || packet[ihl + 14..ihl + 16] != head[ihl + 14..ihl + 16]
            {
                return false;
            }
            if packet[ihl + 20..ihl + c.l4_header] != head[ihl + 20..ihl + c.l4_header] {
                return false;
            }
            packet[ihl + 13] & TCP_PSH != 0
        } else {
            false
        };
        if !gso::l4_checksum_valid(packet, ihl, c.key.protocol) {
            return false;
        }

        let buf = &mut self.bufs[index];
        buf.extend_from_slice(&packet[ihl + c.l4_header..]);
        if psh {
            buf[VNET_HDR_LEN + ihl + 13] |= TCP_PSH;
        }
        let item = &mut self.items[index];
        item.segments += 1;
        item.next_seq = item.next_seq.wrapping_add(c.payload as u32);
        // A shorter segment or PSH ends the super-packet, as either ends a GSO burst.
        if c.payload < usize::from(item.gso_size) || psh {
            item.open = false;
        }
        true
    }

    /// Writes every queued packet with `write`, which gets the virtio-net header and the
    /// packet when the device takes one, else the packet alone. Every packet is written
    /// even after a failed write, so one bad packet cannot block the others, and the
    /// first error is returned.
    pub fn flush_with(&mut self, mut write: impl FnMut(&[u8]) -> std::io::Result<usize>) -> std::io::Result<()> {
        let mut result = Ok(());
        for (item, buf) in self.items.iter().zip(self.bufs.iter_mut()) {
            let start = if self.vnet {
                finish(item, buf);
                0
            } else {
                VNET_HDR_LEN
            };
            if let Err(e) = write(&buf[start..])
                && result.is_ok()
            {
                result = Err(e);
            }
        }
        self.items.clear();
        result
    }
}

/// Fills in the virtio-net header of an item and, for a super-packet, the lengths and
/// checksums that the kernel expects of one.
fn finish(item: &Item, buf: &mut [u8]) {
    let (hdr, packet) = buf.split_at_mut(VNET_HDR_LEN);
    if item.segments < 2 {
        VnetHdr::default().emit(hdr);
        return;
    }

    let ihl = usize::from(item.ihl);
    let total = packet.len();
    packet[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    gso::set_ipv4_checksum(packet, ihl);

    let l4_len = total - ihl;
    // With F_NEEDS_CSUM the checksum field contains the pseudo-header sum, and the kernel
    // adds the rest per segment.
    let (gso_type, protocol, csum_offset) = match item.kind {
        Kind::Udp => {
            packet[ihl + 4..ihl + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            (GSO_UDP_L4, PROTO_UDP, 6)
        }
        _ => (GSO_TCPV4, PROTO_TCP, 16),
    };
    let partial = gso::fold(gso::pseudo_header_sum(packet, protocol, l4_len));
    packet[ihl + csum_offset..ihl + csum_offset + 2].copy_from_slice(&partial.to_be_bytes());
    VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type,
        hdr_len: u16::from(item.ihl) + u16::from(item.l4_header),
        gso_size: item.gso_size,
        csum_start: u16::from(item.ihl),
        csum_offset: csum_offset as u16,
    }
    .emit(hdr);
}

fn tcp_seq(packet: &[u8], ihl: usize) -> u32 {
    u32::from_be_bytes([packet[ihl + 4], packet[ihl + 5], packet[ihl + 6], packet[ihl + 7]])
}

/// Returns how `packet` may be coalesced, or `None` when it is written as it is. That
/// is the case for anything but IPv4 TCP or UDP, IP options, fragments, packets without
/// payload, and TCP flags other than ACK and PSH, because SYN, FIN, RST, URG, ECE and
/// CWR each change what the segments mean.
fn candidate(packet: &[u8], udp: bool) -> Option<Candidate> {
    if packet.len() < 28 || packet[0] != 0x45 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if total != packet.len() || u16::from_be_bytes([packet[6], packet[7]]) & 0x3FFF != 0 {
        return None;
    }
    let ihl = 20;
    let protocol = packet[9];
    let (kind, l4_header) = match protocol {
        PROTO_TCP if packet.len() >= ihl + 20 => {
            let offset = usize::from(packet[ihl + 12] >> 4) * 4;
            let flags = packet[ihl + 13];
            if offset < 20 || packet.len() < ihl + offset || flags & !(TCP_ACK | TCP_PSH) != 0 || flags & TCP_ACK == 0 {
                return None;
            }
            // The urgent pointer must be zero when URG is clear; anything else is odd
            // enough to pass through unchanged.
            if packet[ihl + 18..ihl + 20] != [0, 0] {
                return None;
            }
            (Kind::Tcp, offset)
        }
        PROTO_UDP if udp => {
            if usize::from(u16::from_be_bytes([packet[ihl + 4], packet[ihl + 5]])) != packet.len() - ihl {
                return None;
            }
            (Kind::Udp, 8)
        }
        _ => return None,
    };
    let payload = packet.len() - ihl - l4_header;
    if payload == 0 {
        return None;
    }
    let mut addresses = [0u8; 8];
    addresses.copy_from_slice(&packet[12..20]);
    let mut ports = [0u8; 4];
    ports.copy_from_slice(&packet[ihl..ihl + 4]);
    Some(Candidate { kind, key: FlowKey { addresses, ports, protocol }, ihl, l4_header, payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gso::{Segments, VnetHdr};

    fn tcp(seq: u32, flags: u8, len: usize) -> Vec<u8> {
        let data: Vec<u8> = (0..len).map(|i| (seq as usize + i) as u8).collect();
        crate::gso::tests::tcp_packet(seq, flags, &data)
    }

    /// Writes the batch and returns what the device would get.
    fn written(c: &mut Coalescer) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        c.flush_with(|b| {
            out.push(b.to_vec());
            Ok(b.len())
        })
        .unwrap();
        out
    }

    /// Returns the packet with identification zero, because with DF set the kernel
    /// numbers the segments of a super-packet on its own.
    fn without_id(packet: &[u8]) -> Vec<u8> {
        let mut p = packet.to_vec();
        p[4] = 0;
        p[5] = 0;
        crate::gso::set_ipv4_checksum(&mut p, 20);
        p
    }

    /// Segments a written super-packet as the kernel would.
    fn resegment(write: &[u8]) -> Vec<Vec<u8>> {
        let hdr = VnetHdr::parse(write).unwrap();
        let packet = &write[VNET_HDR_LEN..];
        if hdr.gso_type == 0 {
            return vec![without_id(packet)];
        }
        // The kernel gets a partial checksum; Segments computes full ones, as GSO does.
        let segments = Segments::new(&hdr, packet).unwrap();
        (0..segments.count())
            .map(|i| {
                let mut out = vec![0u8; segments.segment_len(i)];
                segments.write(i, &mut out);
                if out[6] & 0x40 != 0 { without_id(&out) } else { out }
            })
            .collect()
    }

    #[test]
    fn bulk_flow_becomes_one_write() {
        let mut c = Coalescer::new(16, true, true);
        let packets: Vec<Vec<u8>> = (0..5).map(|i| tcp(1000 + i * 1400, if i == 4 { 0x18 } else { 0x10 }, 1400)).collect();
        for p in &packets {
            c.push(p);
        }
        let writes = written(&mut c);
        assert_eq!(writes.len(), 1);
        let hdr = VnetHdr::parse(&writes[0]).unwrap();
        assert_eq!(hdr.gso_type, GSO_TCPV4);
        assert_eq!(hdr.gso_size, 1400);
        assert_eq!(resegment(&writes[0]), packets.iter().map(|p| without_id(p)).collect::<Vec<_>>());
    }

    #[test]
    fn short_segment_ends_super_packet() {
        let mut c = Coalescer::new(16, true, true);
        let packets = [tcp(0, 0x10, 1000), tcp(1000, 0x10, 600), tcp(1600, 0x10, 1000)];
        for p in &packets {
            c.push(p);
        }
        let writes = written(&mut c);
        assert_eq!(writes.len(), 2);
        assert_eq!(resegment(&writes[0]), packets[..2].iter().map(|p| without_id(p)).collect::<Vec<_>>());
        assert_eq!(resegment(&writes[1]), vec![without_id(&packets[2])]);
    }

    #[test]
    fn gap_in_sequence_not_merged() {
        let mut c = Coalescer::new(16, true, true);
        c.push(&tcp(0, 0x10, 1000));
        c.push(&tcp(2000, 0x10, 1000));
        assert_eq!(written(&mut c).len(), 2);
    }

    #[test]
    fn bad_checksum_passes_through_unmerged() {
        let mut c = Coalescer::new(16, true, true);
        c.push(&tcp(0, 0x10, 1000));
        let mut corrupt = tcp(1000, 0x10, 1000);
        corrupt[100] ^= 0xFF;
        c.push(&corrupt);
        let writes = written(&mut c);
        assert_eq!(writes.len(), 2);
        assert_eq!(&writes[1][VNET_HDR_LEN..], &corrupt[..]);
        assert_eq!(VnetHdr::parse(&writes[1]).unwrap(), VnetHdr::default());
    }

    #[test]
    fn syn_and_pure_ack_not_merged() {
        let mut c = Coalescer::new(16, true, true);
        c.push(&tcp(0, 0x02, 0));
        c.push(&tcp(1, 0x10, 0));
        c.push(&tcp(1, 0x10, 0));
        assert_eq!(written(&mut c).len(), 3);
    }

    #[test]
    fn flows_interleaved_keep_order() {
        let mut c = Coalescer::new(16, true, true);
        let mut other = tcp(0, 0x10, 1000);
        other[23] = 99; // another destination port
        crate::gso::set_ipv4_checksum(&mut other, 20);
        let fix = |p: &mut Vec<u8>| {
            p[36] = 0;
            p[37] = 0;
            let sum = !crate::gso::fold(crate::gso::sum_words(&p[20..], crate::gso::pseudo_header_sum(p, 6, p.len() - 20)));
            p[36..38].copy_from_slice(&sum.to_be_bytes());
        };
        fix(&mut other);
        c.push(&tcp(0, 0x10, 1000));
        c.push(&other);
        c.push(&tcp(1000, 0x10, 1000));
        let writes = written(&mut c);
        assert_eq!(writes.len(), 2);
        assert_eq!(resegment(&writes[0]), vec![without_id(&tcp(0, 0x10, 1000)), without_id(&tcp(1000, 0x10, 1000))]);
        assert_eq!(resegment(&writes[1]), vec![without_id(&other)]);
    }

    #[test]
    fn without_vnet_packets_written_alone() {
        let mut c = Coalescer::new(16, false, false);
        c.push(&tcp(0, 0x10, 1000));
        c.push(&tcp(1000, 0x10, 1000));
        let writes = written(&mut c);
        assert_eq!(writes, vec![tcp(0, 0x10, 1000), tcp(1000, 0x10, 1000)]);
    }

    #[test]
    fn udp_datagrams_coalesced_with_uso() {
        let udp = |id: u16, len: usize| {
            let total = 28 + len;
            let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, (id >> 8) as u8, id as u8, 0, 0, 64, 17, 0, 0];
            p.extend_from_slice(&[198, 18, 1, 10, 203, 0, 113, 10, 0x13, 0x88, 0x14, 0x51]);
            p.extend_from_slice(&((8 + len) as u16).to_be_bytes());
            p.extend_from_slice(&[0, 0]);
            p.extend((0..len).map(|i| i as u8));
            crate::gso::set_ipv4_checksum(&mut p, 20);
            let sum = !crate::gso::fold(crate::gso::sum_words(&p[20..], crate::gso::pseudo_header_sum(&p, 17, 8 + len)));
            p[26..28].copy_from_slice(&sum.to_be_bytes());
            p
        };
        let packets = [udp(1, 64), udp(2, 64), udp(3, 40)];
        let mut c = Coalescer::new(16, true, true);
        for p in &packets {
            c.push(p);
        }
        let writes = written(&mut c);
        assert_eq!(writes.len(), 1);
        assert_eq!(VnetHdr::parse(&writes[0]).unwrap().gso_type, GSO_UDP_L4);
        assert_eq!(resegment(&writes[0]), packets.to_vec());

        let mut without_uso = Coalescer::new(16, true, false);
        for p in &packets {
            without_uso.push(p);
        }
        assert_eq!(written(&mut without_uso).len(), 3);
    }

    #[test]
    fn full_batch_reports_full() {
        let mut c = Coalescer::new(2, true, true);
        c.push(&tcp(0, 0x02, 0));
        assert!(!c.is_full());
        c.push(&tcp(1, 0x02, 0));
        assert!(c.is_full());
        c.push(&tcp(2, 0x02, 0));
        assert_eq!(written(&mut c).len(), 2);
    }
}
