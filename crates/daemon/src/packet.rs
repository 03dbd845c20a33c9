//! The few inner-packet fields the data plane reads before handing a packet on: the
//! flow key for the policy, and the DF bit and length for the MTU checks.

use std::net::{IpAddr, Ipv4Addr};

use rampart_policy::Flow;
use rampart_policy::flow::{PROTO_ICMP, PROTO_TCP, PROTO_UDP};

/// An IPv4 packet's flow and the header fields the MTU checks need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Summary {
    pub flow: Flow,
    pub dont_fragment: bool,
    pub total_len: usize,
}

/// Parses the IPv4 header and the first octets of TCP, UDP or ICMP. Returns `None` for
/// anything that is not a well-formed IPv4 packet. A non-initial fragment carries no
/// ports, so its flow has ports 0.
pub fn ipv4_summary(packet: &[u8]) -> Option<Ipv4Summary> {
    let first = *packet.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(first & 0x0F) * 4;
    if header_len < 20 || packet.len() < header_len {
        return None;
    }
    let total_len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if total_len < header_len || total_len > packet.len() {
        return None;
    }
    let flags_offset = u16::from_be_bytes([packet[6], packet[7]]);
    let dont_fragment = flags_offset & 0x4000 != 0;
    let initial = flags_offset & 0x1FFF == 0;
    let protocol = packet[9];
    let src = IpAddr::V4(Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]));
    let l4 = &packet[header_len..total_len];
    let (src_port, dst_port) = match protocol {
        PROTO_TCP | PROTO_UDP if initial && l4.len() >= 4 => {
            (u16::from_be_bytes([l4[0], l4[1]]), u16::from_be_bytes([l4[2], l4[3]]))
        }
        // ICMP type and code travel in the port fields, as ASA access lists match them.
        PROTO_ICMP if initial && l4.len() >= 2 => (u16::from(l4[0]), u16::from(l4[1])),
        _ => (0, 0),
    };
    Some(Ipv4Summary { flow: Flow { protocol, src, dst, src_port, dst_port }, dont_fragment, total_len })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(protocol: u8, flags_offset: u16, l4: &[u8]) -> Vec<u8> {
        let total = 20 + l4.len();
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1];
        p.extend_from_slice(&flags_offset.to_be_bytes());
        p.extend_from_slice(&[64, protocol, 0, 0, 198, 18, 1, 10, 203, 0, 113, 10]);
        p.extend_from_slice(l4);
        p
    }

    #[test]
    fn summary_tcp_ports() {
        let p = header(PROTO_TCP, 0x4000, &[0x30, 0x39, 0, 80, 0, 0, 0, 0]);
        let s = ipv4_summary(&p).unwrap();
        assert_eq!((s.flow.src_port, s.flow.dst_port), (12345, 80));
        assert!(s.dont_fragment);
        assert_eq!(s.total_len, 28);
    }

    #[test]
    fn summary_icmp_type_code() {
        let p = header(PROTO_ICMP, 0, &[8, 0, 0, 0]);
        let s = ipv4_summary(&p).unwrap();
        assert_eq!((s.flow.src_port, s.flow.dst_port), (8, 0));
    }

    #[test]
    fn summary_fragment_without_ports() {
        let p = header(PROTO_UDP, 0x0010, &[0x30, 0x39, 0, 53]);
        let s = ipv4_summary(&p).unwrap();
        assert_eq!((s.flow.src_port, s.flow.dst_port), (0, 0));
    }

    #[test]
    fn summary_rejects_ipv6() {
        let mut p = header(PROTO_UDP, 0, &[0; 8]);
        p[0] = 0x60;
        assert!(ipv4_summary(&p).is_none());
    }

    #[test]
    fn summary_rejects_truncated() {
        let p = header(PROTO_UDP, 0, &[0; 8]);
        assert!(ipv4_summary(&p[..24]).is_none());
    }

    #[test]
    fn summary_rejects_short_header_len() {
        let mut p = header(PROTO_UDP, 0, &[0; 8]);
        p[0] = 0x44;
        assert!(ipv4_summary(&p).is_none());
    }
}
