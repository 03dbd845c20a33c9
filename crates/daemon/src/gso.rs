//! The virtio-net header of a TUN device with offloads, and the segmentation of the
//! TCP and UDP super-packets that such a device hands over.
//!
//! With `IFF_VNET_HDR` and TSO/USO enabled, each read from the device returns one packet
//! of up to 64 KiB behind a virtio-net header (virtio 1.2 section 5.1.6) that gives the
//! segment size. ESP protects IP packets one at a time, so the data plane cuts the
//! super-packet here, writing each segment straight into the buffer where it will be
//! encrypted: one copy and one checksum pass per segment, as the kernel's own GSO does.

use std::fmt;

/// Length of the legacy virtio-net header that TUN uses (no `num_buffers` field).
pub const VNET_HDR_LEN: usize = 10;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum at `csum_start + csum_offset` holds only
/// the pseudo-header sum, and the rest is left to the receiver of the buffer.
pub const F_NEEDS_CSUM: u8 = 1;

/// `VIRTIO_NET_HDR_GSO_*` values.
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_TCPV6: u8 = 4;
pub const GSO_UDP_L4: u8 = 5;
/// Set with `GSO_TCPV4` when the first segment carries CWR (RFC 3168 section 6.1.2).
pub const GSO_ECN: u8 = 0x80;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// Maximum number of segments one super-packet may yield: 64 KiB at the smallest segment size
/// that the checks below accept.
pub const MAX_SEGMENTS: usize = 65_535 / MIN_SEGMENT_SIZE + 1;

/// Smallest segment size accepted from the kernel. TCP's minimum MSS for IPv4 is 536
/// octets (RFC 9293 section 3.7.1), but a path MTU of 576 with options can push it lower;
/// 64 bounds the work per read without rejecting any real MSS.
const MIN_SEGMENT_SIZE: usize = 64;

/// The virtio-net header in front of every packet read from or written to a TUN device
/// with `IFF_VNET_HDR`. Legacy virtio headers use the host's byte order, which is what
/// TUN assumes unless `TUNSETVNETBE`/`TUNSETVNETLE` changes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHdr {
    pub flags: u8,
    pub gso_type: u8,
    /// Length of the headers that each segment repeats.
    pub hdr_len: u16,
    /// Payload octets per segment.
    pub gso_size: u16,
    /// Offset where checksumming starts, for `F_NEEDS_CSUM`.
    pub csum_start: u16,
    /// Offset of the checksum field from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHdr {
    /// Parses the header at the start of `buf`, or returns `None` when it is shorter.
    pub fn parse(buf: &[u8]) -> Option<VnetHdr> {
        let b = buf.get(..VNET_HDR_LEN)?;
        let word = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: word(2),
            gso_size: word(4),
            csum_start: word(6),
            csum_offset: word(8),
        })
    }

    /// Writes the header into the first `VNET_HDR_LEN` octets of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.flags;
        buf[1] = self.gso_type;
        buf[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        buf[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        buf[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        buf[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
    }
}

/// Reason a read from the TUN device could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffloadError {
    /// A super-packet of a kind the data plane does not forward (IPv6, UFO).
    Unsupported(u8),
    /// The IP or transport headers disagree with the virtio-net header.
    Malformed(&'static str),
}

impl fmt::Display for OffloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffloadError::Unsupported(kind) => write!(f, "unsupported GSO type {kind:#04x}"),
            OffloadError::Malformed(what) => write!(f, "malformed super-packet: {what}"),
        }
    }
}

impl std::error::Error for OffloadError {}

/// Adds the 16-bit words of `data` to a one's complement sum (RFC 1071), wide enough
/// that no carry is lost before `fold`.
#[inline]
pub fn sum_words(data: &[u8], initial: u64) -> u64 {
    tun_rs::checksum_no_fold(data, initial)
}

/// Folds a wide one's complement sum into 16 bits.
#[inline]
pub fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

/// Returns the sum of the IPv4 pseudo-header (RFC 9293 section 3.1, RFC 768) of an IPv4
/// packet whose transport part is `l4_len` octets long.
#[inline]
pub fn pseudo_header_sum(ipv4: &[u8], protocol: u8, l4_len: usize) -> u64 {
    let word = |i: usize| u64::from(u16::from_be_bytes([ipv4[i], ipv4[i + 1]]));
    word(12) + word(14) + word(16) + word(18) + u64::from(protocol) + l4_len as u64
}

/// Recomputes the IPv4 header checksum of `packet`, whose header is `ihl` octets long.
#[inline]
pub fn set_ipv4_checksum(packet: &mut [u8], ihl: usize) {
    packet[10] = 0;
    packet[11] = 0;
    let sum = !fold(sum_words(&packet[..ihl], 0));
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
}

/// Completes a checksum that the kernel left partial (`F_NEEDS_CSUM` without GSO): the
/// field contains the pseudo-header sum, and the sum of everything from `csum_start` to
/// the end goes on top of it.
pub fn complete_checksum(hdr: &VnetHdr, packet: &mut [u8]) -> Result<(), OffloadError> {
    let start = usize::from(hdr.csum_start);
    let at = start + usize::from(hdr.csum_offset);
    if at + 2 > packet.len() {
        return Err(OffloadError::Malformed("checksum offset beyond the packet"));
    }
    let partial = u16::from_be_bytes([packet[at], packet[at + 1]]);
    packet[at] = 0;
    packet[at + 1] = 0;
    let mut sum = !fold(sum_words(&packet[start..], u64::from(partial)));
    // RFC 768: a computed UDP checksum of zero travels as all ones. TCP never has zero
    // here because its header sum is never the negative zero that would produce it.
    if sum == 0 {
        sum = 0xFFFF;
    }
    packet[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    Ok(())
}

/// An IPv4 TCP or UDP super-packet and the segments it splits into.
#[derive(Debug)]
pub struct Segments<'a> {
    packet: &'a [u8],
    ihl: usize,
    /// IP and transport headers, repeated in every segment.
    headers: usize,
    gso_size: usize,
    count: usize,
    tcp: bool,
}

impl<'a> Segments<'a> {
    /// Checks `packet`, which followed `hdr` on a read, and prepares its segmentation.
    /// The headers are taken from the packet, not from `hdr.hdr_len`, which the kernel
    /// only guarantees as a hint.
    pub fn new(hdr: &VnetHdr, packet: &'a [u8]) -> Result<Segments<'a>, OffloadError> {
        let tcp = match hdr.gso_type & !GSO_ECN {
            GSO_TCPV4 => true,
            GSO_UDP_L4 => false,
            other => return Err(OffloadError::Unsupported(other)),
        };

        let first = *packet.first().ok_or(OffloadError::Malformed("empty packet"))?;
        if first >> 4 != 4 {
            // GSO_UDP_L4 covers IPv6 too; the data plane forwards IPv4 only.
            return Err(OffloadError::Unsupported(hdr.gso_type));
        }
        let ihl = usize::from(first & 0x0F) * 4;
        if ihl < 20 || packet.len() < ihl + 8 {
            return Err(OffloadError::Malformed("IPv4 header"));
        }
        if u16::from_be_bytes([packet[6], packet[7]]) & 0x3FFF != 0 {
            return Err(OffloadError::Malformed("fragmented super-packet"));
        }

        let (protocol, l4_header) = if tcp {
            let offset = packet.get(ihl + 12).ok_or(OffloadError::Malformed("TCP header"))?;
            (PROTO_TCP, usize::from(offset >> 4) * 4)
        } else {
            (PROTO_UDP, 8)
        };
        if packet[9] != protocol {
            return Err(OffloadError::Malformed("IP protocol does not match the GSO type"));
        }
        let headers = ihl + l4_header;
        if l4_header < if tcp { 20 } else { 8 } || packet.len() <= headers {
            return Err(OffloadError::Malformed("transport header"));
        }

        let gso_size = usize::from(hdr.gso_size);
        if gso_size < MIN_SEGMENT_SIZE {
            return Err(OffloadError::Malformed("segment size below 64 octets"));
        }
        let payload = packet.len() - headers;
        Ok(Segments { packet, ihl, headers, gso_size, count: payload.div_ceil(gso_size), tcp })
    }

    /// Number of segments.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Returns the super-packet's IP and transport headers, which every segment shares
    /// apart from lengths, identification, sequence numbers and checksums.
    pub fn headers(&self) -> &'a [u8] {
        &self.packet[..self.headers]
    }

    /// Returns the super-packet as read, headers first.
    pub fn packet(&self) -> &'a [u8] {
        self.packet
    }

    /// Length of segment `index` as an IP packet.
    pub fn segment_len(&self, index: usize) -> usize {
        let start = self.headers + index * self.gso_size;
        self.headers + (self.packet.len() - start).min(self.gso_size)
    }

    /// Writes segment `index` as a complete IPv4 packet with valid checksums into the
    /// start of `out`, which must hold `segment_len(index)` octets. Returns its length.
    pub fn write(&self, index: usize, out: &mut [u8]) -> usize {
        let len = self.segment_len(index);
        let start = self.headers + index * self.gso_size;
        let payload = &self.packet[start..start + len - self.headers];
        let out = &mut out[..len];
        out[..self.headers].copy_from_slice(&self.packet[..self.headers]);
        out[self.headers..].copy_from_slice(payload);

        // IPv4: length, and an identification that counts up per segment as the
        // kernel's own TSO does.
        let ihl = self.ihl;
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        let id = u16::from_be_bytes([self.packet[4], self.packet[5]]).wrapping_add(index as u16);
        out[4..6].copy_from_slice(&id.to_be_bytes());
        set_ipv4_checksum(out, ihl);

        let l4_len = len - ihl;
        let checksum_at = if self.tcp {
            // RFC 9293 section 3.1: the sequence number counts payload octets. FIN and
            // PSH belong to the last segment only, and CWR to the first only (RFC 3168
            // section 6.1.2).
            let seq = u32::from_be_bytes([out[ihl + 4], out[ihl + 5], out[ihl + 6], out[ihl + 7]])
                .wrapping_add((index * self.gso_size) as u32);
            out[ihl + 4..ihl + 8].copy_from_slice(&seq.to_be_bytes());
            if index + 1 < self.count {
                out[ihl + 13] &= !(TCP_FIN | TCP_PSH);
            }
            if index > 0 {
                out[ihl + 13] &= !TCP_CWR;
            }
            ihl + 16
        } else {
            out[ihl + 4..ihl + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            ihl + 6
        };
        out[checksum_at] = 0;
        out[checksum_at + 1] = 0;
        let protocol = if self.tcp { PROTO_TCP } else { PROTO_UDP };
        let mut sum = !fold(sum_words(&out[ihl..], pseudo_header_sum(out, protocol, l4_len)));
        if !self.tcp && sum == 0 {
            sum = 0xFFFF;
        }
        out[checksum_at..checksum_at + 2].copy_from_slice(&sum.to_be_bytes());
        len
    }
}

/// Returns whether the transport checksum of the IPv4 `packet` (header `ihl` octets, TCP or
/// UDP) is valid. A UDP checksum of zero means the sender computed none (RFC 768).
pub fn l4_checksum_valid(packet: &[u8], ihl: usize, protocol: u8) -> bool {
    let l4 = &packet[ihl..];
    if protocol == PROTO_UDP && l4.get(6..8) == Some(&[0, 0]) {
        return true;
    }
    fold(sum_words(l4, pseudo_header_sum(packet, protocol, l4.len()))) == 0xFFFF
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds an IPv4 TCP packet from 198.18.1.10:40000 to 203.0.113.10:5201 with valid checksums.
    pub(crate) fn tcp_packet(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let total = 20 + 20 + payload.len();
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0];
        p.extend_from_slice(&[198, 18, 1, 10, 203, 0, 113, 10]);
        p.extend_from_slice(&40000u16.to_be_bytes());
        p.extend_from_slice(&5201u16.to_be_bytes());
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&7u32.to_be_bytes());
        p.extend_from_slice(&[0x50, flags, 0x01, 0xF5, 0, 0, 0, 0]);
        p.extend_from_slice(payload);
        set_ipv4_checksum(&mut p, 20);
        let sum = !fold(sum_words(&p[20..], pseudo_header_sum(&p, 6, total - 20)));
        p[36..38].copy_from_slice(&sum.to_be_bytes());
        p
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    /// Builds a TSO super-packet as the kernel hands it over: full IP length, partial checksum.
    fn super_packet(seq: u32, flags: u8, data: &[u8], gso_size: u16) -> (VnetHdr, Vec<u8>) {
        let mut p = tcp_packet(seq, flags, data);
        let partial = fold(pseudo_header_sum(&p, 6, p.len() - 20));
        p[36..38].copy_from_slice(&partial.to_be_bytes());
        let hdr = VnetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4,
            hdr_len: 40,
            gso_size,
            csum_start: 20,
            csum_offset: 16,
        };
        (hdr, p)
    }

    #[test]
    fn vnet_header_round_trip() {
        let hdr = VnetHdr { flags: 1, gso_type: GSO_UDP_L4, hdr_len: 28, gso_size: 1372, csum_start: 20, csum_offset: 6 };
        let mut buf = [0u8; VNET_HDR_LEN];
        hdr.emit(&mut buf);
        assert_eq!(VnetHdr::parse(&buf), Some(hdr));
        assert_eq!(VnetHdr::parse(&buf[..9]), None);
    }

    #[test]
    fn tcp_segments_match_original() {
        let data = payload(4000);
        let (hdr, packet) = super_packet(1000, 0x18, &data, 1400);
        let segments = Segments::new(&hdr, &packet).unwrap();
        assert_eq!(segments.count(), 3);
        let mut out = vec![0u8; 2000];
        let mut offset = 0;
        for index in 0..3 {
            let len = segments.write(index, &mut out);
            let expected_payload = &data[offset..(offset + 1400).min(4000)];
            let flags = if index == 2 { 0x18 } else { 0x10 };
            let expected = tcp_packet(1000 + offset as u32, flags, expected_payload);
            let mut got = out[..len].to_vec();
            // The identification counts up per segment.
            assert_eq!(u16::from_be_bytes([got[4], got[5]]), 0x1234 + index as u16);
            got[4..6].copy_from_slice(&[0x12, 0x34]);
            set_ipv4_checksum(&mut got, 20);
            assert_eq!(got, expected, "segment {index}");
            assert!(l4_checksum_valid(&out[..len], 20, 6));
            offset += 1400;
        }
    }

    #[test]
    fn cwr_stays_on_first_segment() {
        let (mut hdr, packet) = super_packet(1, 0x90, &payload(3000), 1000);
        hdr.gso_type |= GSO_ECN;
        let segments = Segments::new(&hdr, &packet).unwrap();
        let mut out = vec![0u8; 1100];
        segments.write(0, &mut out);
        assert_eq!(out[33], 0x90);
        segments.write(1, &mut out);
        assert_eq!(out[33], 0x10);
    }

    #[test]
    fn udp_segments_get_lengths_and_checksums() {
        let data = payload(2500);
        let total = 28 + data.len();
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 9, 0, 0, 64, 17, 0, 0];
        p.extend_from_slice(&[198, 18, 1, 10, 203, 0, 113, 10, 0x13, 0x88, 0x14, 0x51, 0, 0, 0, 0]);
        p.extend_from_slice(&data);
        let hdr = VnetHdr { flags: F_NEEDS_CSUM, gso_type: GSO_UDP_L4, hdr_len: 28, gso_size: 1000, csum_start: 20, csum_offset: 6 };
        let segments = Segments::new(&hdr, &p).unwrap();
        assert_eq!(segments.count(), 3);
        let mut out = vec![0u8; 1100];
        let len = segments.write(2, &mut out);
        assert_eq!(len, 28 + 500);
        assert_eq!(u16::from_be_bytes([out[24], out[25]]), 508);
        assert_eq!(&out[28..len], &data[2000..]);
        assert!(l4_checksum_valid(&out[..len], 20, 17));
    }

    #[test]
    fn bad_super_packets_rejected() {
        let (hdr, packet) = super_packet(1, 0x10, &payload(3000), 1000);
        let tiny = VnetHdr { gso_size: 10, ..hdr };
        assert!(matches!(Segments::new(&tiny, &packet), Err(OffloadError::Malformed(_))));
        let v6 = VnetHdr { gso_type: GSO_TCPV6, ..hdr };
        assert_eq!(Segments::new(&v6, &packet).unwrap_err(), OffloadError::Unsupported(GSO_TCPV6));
        let udp = VnetHdr { gso_type: GSO_UDP_L4, ..hdr };
        assert!(matches!(Segments::new(&udp, &packet), Err(OffloadError::Malformed(_))));
        assert!(matches!(Segments::new(&hdr, &packet[..30]), Err(OffloadError::Malformed(_))));
        assert!(matches!(Segments::new(&hdr, &packet[..40]), Err(OffloadError::Malformed(_))));
    }

    #[test]
    fn partial_checksum_completed() {
        let mut packet = tcp_packet(5, 0x02, &[]);
        let partial = fold(pseudo_header_sum(&packet, 6, 20));
        packet[36..38].copy_from_slice(&partial.to_be_bytes());
        let hdr = VnetHdr { flags: F_NEEDS_CSUM, csum_start: 20, csum_offset: 16, ..VnetHdr::default() };
        complete_checksum(&hdr, &mut packet).unwrap();
        assert_eq!(packet, tcp_packet(5, 0x02, &[]));
        let beyond = VnetHdr { csum_offset: 100, ..hdr };
        assert!(complete_checksum(&beyond, &mut packet).is_err());
    }
}
