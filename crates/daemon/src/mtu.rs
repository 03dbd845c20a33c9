//! MTU handling of inner IPv4 packets before encryption: TCP MSS clamping, ICMP
//! "fragmentation needed" for DF packets that do not fit, and fragmentation before
//! encryption for the others (the ASA's default `crypto ipsec fragmentation
//! before-encryption`).

use std::net::IpAddr;

use rampart_wire::checksum;

const PROTO_TCP: u8 = 6;
const PROTO_ICMP: u8 = 1;
const TCP_SYN: u8 = 0x02;
const TCP_OPTION_END: u8 = 0;
const TCP_OPTION_NOP: u8 = 1;
const TCP_OPTION_MSS: u8 = 2;

/// Lowers the MSS option of a TCP SYN or SYN-ACK to `mss` (`sysopt connection tcpmss`)
/// and fixes the TCP checksum incrementally (RFC 1624). Returns whether it changed.
pub fn clamp_mss(packet: &mut [u8], mss: u16) -> bool {
    let Some(&first) = packet.first() else { return false };
    let header_len = usize::from(first & 0x0F) * 4;
    if first >> 4 != 4 || header_len < 20 || packet.len() < header_len + 20 || packet[9] != PROTO_TCP {
        return false;
    }
    // Only the first fragment carries the TCP header.
    if u16::from_be_bytes([packet[6], packet[7]]) & 0x1FFF != 0 {
        return false;
    }
    let tcp = &mut packet[header_len..];
    if tcp[13] & TCP_SYN == 0 {
        return false;
    }
    let data_offset = usize::from(tcp[12] >> 4) * 4;
    if data_offset < 20 || data_offset > tcp.len() {
        return false;
    }
    let mut i = 20;
    while i < data_offset {
        match tcp[i] {
            TCP_OPTION_END => return false,
            TCP_OPTION_NOP => i += 1,
            kind => {
                let Some(&len) = tcp.get(i + 1) else { return false };
                let len = usize::from(len);
                if len < 2 || i + len > data_offset {
                    return false;
                }
                if kind == TCP_OPTION_MSS && len == 4 {
                    let old = u16::from_be_bytes([tcp[i + 2], tcp[i + 3]]);
                    if old <= mss {
                        return false;
                    }
                    tcp[i + 2..i + 4].copy_from_slice(&mss.to_be_bytes());
                    let sum = u16::from_be_bytes([tcp[16], tcp[17]]);
                    tcp[16..18].copy_from_slice(&checksum::update_u16(sum, old, mss).to_be_bytes());
                    return true;
                }
                i += len;
            }
        }
    }
    false
}

/// Largest ICMP error: IPv4 header, ICMP header, the offending IPv4 header (with
/// options) and 8 octets of its payload (RFC 792).
const ICMP_ERROR_MAX: usize = 20 + 8 + 60 + 8;

/// Builds an ICMP destination unreachable, fragmentation needed (type 3 code 4) with
/// next-hop MTU `mtu` (RFC 1191 section 4) for `packet`, from `source` to its sender.
/// Returns `None` when no error may be sent: for a non-initial fragment or for an ICMP
/// error (RFC 1122 section 3.2.2).
pub fn frag_needed(packet: &[u8], source: IpAddr, mtu: u16, out: &mut [u8; ICMP_ERROR_MAX]) -> Option<usize> {
    let IpAddr::V4(source) = source else { return None };
    let first = *packet.first()?;
    let header_len = usize::from(first & 0x0F) * 4;
    if first >> 4 != 4 || header_len < 20 || packet.len() < header_len {
        return None;
    }
    if u16::from_be_bytes([packet[6], packet[7]]) & 0x1FFF != 0 {
        return None;
    }
    if packet[9] == PROTO_ICMP {
        let icmp_type = *packet.get(header_len)?;
        // Errors are types 3, 4, 5, 11 and 12; echo, timestamp and the rest may get one.
        if matches!(icmp_type, 3 | 4 | 5 | 11 | 12) {
            return None;
        }
    }
    let quoted = &packet[..(header_len + 8).min(packet.len())];
    let total = 20 + 8 + quoted.len();
    let reply = &mut out[..total];
    reply.fill(0);
    reply[0] = 0x45;
    reply[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    reply[8] = 64;
    reply[9] = PROTO_ICMP;
    reply[12..16].copy_from_slice(&source.octets());
    reply[16..20].copy_from_slice(&packet[12..16]);
    let ip_sum = !checksum::data(&reply[..20]);
    reply[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    reply[20] = 3;
    reply[21] = 4;
    reply[26..28].copy_from_slice(&mtu.to_be_bytes());
    reply[28..].copy_from_slice(quoted);
    let icmp_sum = !checksum::data(&reply[20..]);
    reply[22..24].copy_from_slice(&icmp_sum.to_be_bytes());
    Some(total)
}

/// A reusable buffer that holds the fragments of one IPv4 packet (RFC 791).
pub struct Fragmenter {
    buf: Vec<u8>,
    /// (start, length) of each fragment in `buf`.
    fragments: Vec<(usize, usize)>,
    reply: [u8; ICMP_ERROR_MAX],
}

impl Default for Fragmenter {
    fn default() -> Self {
        Fragmenter::new()
    }
}

impl Fragmenter {
    pub fn new() -> Fragmenter {
        // A 64 KiB packet in 8-octet-aligned pieces gains at most one header per piece.
        Fragmenter { buf: vec![0; 2 * 65_536], fragments: Vec::with_capacity(64), reply: [0; ICMP_ERROR_MAX] }
    }

    /// Splits `packet` into fragments of at most `room` octets. Returns the number of
    /// fragments, or `None` when the packet cannot be fragmented here: DF set, IPv4
    /// options (which would need per-option copy rules), or `room` too small.
    pub fn split(&mut self, packet: &[u8], room: usize) -> Option<usize> {
        self.fragments.clear();
        let first = *packet.first()?;
        if first != 0x45 || packet.len() < 20 {
            return None;
        }
        let flags_offset = u16::from_be_bytes([packet[6], packet[7]]);
        if flags_offset & 0x4000 != 0 {
            return None;
        }
        let more_after = flags_offset & 0x2000 != 0;
        let base_offset = usize::from(flags_offset & 0x1FFF) * 8;
        let payload = &packet[20..];
        // Every fragment but the last carries a multiple of 8 octets.
        let step = room.checked_sub(20)? / 8 * 8;
        if step == 0 {
            return None;
        }
        let mut cursor = 0;
        let mut position = 0;
        while position < payload.len() {
            let len = step.min(payload.len() - position);
            let last = position + len == payload.len();
            let offset = (base_offset + position) / 8;
            let fragment = self.buf.get_mut(cursor..cursor + 20 + len)?;
            fragment[..20].copy_from_slice(&packet[..20]);
            fragment[20..].copy_from_slice(&payload[position..position + len]);
            fragment[2..4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
            let flags = if !last || more_after { 0x2000 } else { 0 };
            fragment[6..8].copy_from_slice(&(flags | offset as u16).to_be_bytes());
            fragment[10..12].fill(0);
            let sum = !checksum::data(&fragment[..20]);
            fragment[10..12].copy_from_slice(&sum.to_be_bytes());
            self.fragments.push((cursor, 20 + len));
            cursor += 20 + len;
            position += len;
        }
        Some(self.fragments.len())
    }

    /// Fragment `index` of the last `split`.
    pub fn fragment(&self, index: usize) -> &[u8] {
        match self.fragments.get(index) {
            Some(&(start, len)) => &self.buf[start..start + len],
            None => &[],
        }
    }

    /// Builds an ICMP fragmentation-needed error into this fragmenter's reply buffer;
    /// see [`frag_needed`].
    pub fn frag_needed(&mut self, packet: &[u8], source: IpAddr, mtu: u16) -> Option<&[u8]> {
        let len = frag_needed(packet, source, mtu, &mut self.reply)?;
        Some(&self.reply[..len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(protocol: u8, flags_offset: u16, l4: &[u8]) -> Vec<u8> {
        let total = 20 + l4.len();
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0x12, 0x34];
        p.extend_from_slice(&flags_offset.to_be_bytes());
        p.extend_from_slice(&[64, protocol, 0, 0, 198, 18, 1, 10, 203, 0, 113, 10]);
        let sum = !checksum::data(&p[..20]);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p.extend_from_slice(l4);
        p
    }

    fn syn_with_mss(mss: u16) -> Vec<u8> {
        let mut tcp = vec![0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, TCP_SYN, 0xFF, 0xFF, 0, 0, 0, 0];
        tcp.extend_from_slice(&[TCP_OPTION_MSS, 4]);
        tcp.extend_from_slice(&mss.to_be_bytes());
        let mut p = ipv4(PROTO_TCP, 0x4000, &tcp);
        let sum = tcp_checksum(&p);
        p[36..38].copy_from_slice(&sum.to_be_bytes());
        p
    }

    fn tcp_checksum(p: &[u8]) -> u16 {
        let mut tcp = p[20..].to_vec();
        tcp[16..18].fill(0);
        let pseudo = checksum::pseudo_header_v4([198, 18, 1, 10].into(), [203, 0, 113, 10].into(), PROTO_TCP, tcp.len() as u32);
        !checksum::combine(&[pseudo, checksum::data(&tcp)])
    }

    #[test]
    fn clamp_mss_lowers_option() {
        let mut p = syn_with_mss(1460);
        assert!(clamp_mss(&mut p, 1360));
        assert_eq!(u16::from_be_bytes([p[42], p[43]]), 1360);
    }

    #[test]
    fn clamp_mss_fixes_checksum() {
        let mut p = syn_with_mss(1460);
        clamp_mss(&mut p, 1360);
        assert_eq!(u16::from_be_bytes([p[36], p[37]]), tcp_checksum(&p));
    }

    #[test]
    fn clamp_mss_keeps_smaller() {
        let mut p = syn_with_mss(1200);
        assert!(!clamp_mss(&mut p, 1360));
    }

    #[test]
    fn clamp_mss_ignores_truncated_options() {
        let mut p = syn_with_mss(1460);
        p.truncate(41);
        assert!(!clamp_mss(&mut p, 1360));
    }

    #[test]
    fn frag_needed_quotes_header() {
        let p = ipv4(17, 0x4000, &[0; 1400]);
        let mut out = [0; ICMP_ERROR_MAX];
        let len = frag_needed(&p, "198.18.1.1".parse().unwrap(), 1400, &mut out).unwrap();
        assert_eq!(len, 20 + 8 + 28);
        assert_eq!(&out[16..20], &[198, 18, 1, 10]);
        assert_eq!((out[20], out[21]), (3, 4));
        assert_eq!(u16::from_be_bytes([out[26], out[27]]), 1400);
        assert_eq!(checksum::data(&out[20..len]), 0xFFFF);
        assert_eq!(checksum::data(&out[..20]), 0xFFFF);
    }

    #[test]
    fn frag_needed_not_for_icmp_error() {
        let p = ipv4(PROTO_ICMP, 0x4000, &[3, 4, 0, 0, 0, 0, 5, 0xDC]);
        let mut out = [0; ICMP_ERROR_MAX];
        assert!(frag_needed(&p, "198.18.1.1".parse().unwrap(), 1400, &mut out).is_none());
    }

    #[test]
    fn split_covers_payload() {
        let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let p = ipv4(17, 0, &payload);
        let mut f = Fragmenter::new();
        let n = f.split(&p, 1400).unwrap();
        assert_eq!(n, 3);
        let mut joined = Vec::new();
        for i in 0..n {
            let frag = f.fragment(i);
            assert!(frag.len() <= 1400);
            assert_eq!(checksum::data(&frag[..20]), 0xFFFF);
            let offset = usize::from(u16::from_be_bytes([frag[6], frag[7]]) & 0x1FFF) * 8;
            assert_eq!(offset, joined.len());
            joined.extend_from_slice(&frag[20..]);
        }
        assert_eq!(joined, payload);
    }

    #[test]
    fn split_sets_more_fragments() {
        let p = ipv4(17, 0, &[0; 3000]);
        let mut f = Fragmenter::new();
        f.split(&p, 1400).unwrap();
        assert_eq!(f.fragment(0)[6] & 0x20, 0x20);
        assert_eq!(f.fragment(2)[6] & 0x20, 0);
    }

    #[test]
    fn split_refuses_df() {
        let p = ipv4(17, 0x4000, &[0; 3000]);
        assert!(Fragmenter::new().split(&p, 1400).is_none());
    }
}
