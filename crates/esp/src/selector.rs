//! Traffic selectors of an SA and the check of inner packets against them
//! (RFC 4301 section 5.2, RFC 7296 section 3.13.1).

use std::net::IpAddr;

use rampart_wire::ipv4::{self, IpProtocol};
use rampart_wire::ipv6;

use crate::DropReason;

/// One traffic selector, with the fields of the IKEv2 TS substructure. The daemon
/// converts the engine's negotiated selectors into this type field by field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Selector {
    /// IP protocol; 0 means any.
    pub protocol: u8,
    pub start_addr: IpAddr,
    pub end_addr: IpAddr,
    /// Port range; for ICMP and ICMPv6 the 16-bit value is type (high octet) and code
    /// (low octet), as RFC 7296 section 3.13.1 defines.
    pub start_port: u16,
    pub end_port: u16,
}

impl Selector {
    /// True when the port range is 0-65535, which matches packets without ports too.
    pub const fn any_port(&self) -> bool {
        self.start_port == 0 && self.end_port == u16::MAX
    }

    /// True when the address, protocol and port lie inside this selector. `port` is
    /// `None` for a packet without ports, such as a non-initial fragment. Such a packet
    /// matches only a selector with the whole port range.
    pub fn matches(&self, addr: IpAddr, protocol: IpProtocol, port: Option<u16>) -> bool {
        if self.protocol != 0 && self.protocol != protocol.0 {
            return false;
        }
        let in_range = match (addr, self.start_addr, self.end_addr) {
            (IpAddr::V4(a), IpAddr::V4(s), IpAddr::V4(e)) => s <= a && a <= e,
            (IpAddr::V6(a), IpAddr::V6(s), IpAddr::V6(e)) => s <= a && a <= e,
            _ => false,
        };
        if !in_range {
            return false;
        }
        if self.any_port() {
            return true;
        }
        match port {
            Some(p) => self.start_port <= p && p <= self.end_port,
            None => false,
        }
    }
}

/// Addresses, protocol and ports of an inner packet, read from its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: IpProtocol,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    /// Length of the IP packet from its header; octets after it are TFC padding.
    pub total_len: usize,
}

impl Flow {
    /// Reads the flow of an IPv4 or IPv6 packet. The IPv4 header checksum is verified;
    /// ports are read from the first fragment only.
    pub fn parse(packet: &[u8]) -> Result<Flow, DropReason> {
        match packet.first().map(|b| b >> 4) {
            Some(4) => Flow::parse_v4(packet),
            Some(6) => Flow::parse_v6(packet),
            _ => Err(DropReason::BadInnerPacket),
        }
    }

    fn parse_v4(packet: &[u8]) -> Result<Flow, DropReason> {
        let p = ipv4::Packet::new_checked(packet).map_err(|_| DropReason::BadInnerPacket)?;
        if !p.verify_checksum() {
            return Err(DropReason::BadInnerPacket);
        }
        let protocol = p.protocol();
        let (src_port, dst_port) =
            if p.frag_offset() == 0 { ports(protocol, p.payload()) } else { (None, None) };
        Ok(Flow {
            src: IpAddr::V4(p.src_addr()),
            dst: IpAddr::V4(p.dst_addr()),
            protocol,
            src_port,
            dst_port,
            total_len: usize::from(p.total_len()),
        })
    }

    fn parse_v6(packet: &[u8]) -> Result<Flow, DropReason> {
        let p = ipv6::Packet::new_checked(packet).map_err(|_| DropReason::BadInnerPacket)?;
        let upper = p.upper_layer().map_err(|_| DropReason::BadInnerPacket)?;
        let total_len = p.total_len();
        let (src_port, dst_port) = if upper.first_fragment {
            ports(upper.protocol, &packet[upper.offset.min(total_len)..total_len])
        } else {
            (None, None)
        };
        Ok(Flow { src: IpAddr::V6(p.src_addr()), dst: IpAddr::V6(p.dst_addr()), protocol: upper.protocol, src_port, dst_port, total_len })
    }

    /// True when the source lies in one of `src_ts` and the destination in one of `dst_ts`.
    pub fn matches(&self, src_ts: &[Selector], dst_ts: &[Selector]) -> bool {
        src_ts.iter().any(|s| s.matches(self.src, self.protocol, self.src_port))
            && dst_ts.iter().any(|s| s.matches(self.dst, self.protocol, self.dst_port))
    }
}

/// Source and destination "ports" of an upper-layer header: real ports for TCP, UDP,
/// SCTP and UDP-Lite, type and code for ICMP and ICMPv6 (the same value on both sides).
fn ports(protocol: IpProtocol, upper: &[u8]) -> (Option<u16>, Option<u16>) {
    if protocol.has_ports() && upper.len() >= 4 {
        let src = u16::from_be_bytes([upper[0], upper[1]]);
        let dst = u16::from_be_bytes([upper[2], upper[3]]);
        return (Some(src), Some(dst));
    }
    if matches!(protocol, IpProtocol::ICMP | IpProtocol::ICMPV6) && upper.len() >= 2 {
        let type_code = u16::from_be_bytes([upper[0], upper[1]]);
        return (Some(type_code), Some(type_code));
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn net(a: [u8; 4], b: [u8; 4]) -> Selector {
        Selector {
            protocol: 0,
            start_addr: IpAddr::V4(Ipv4Addr::from(a)),
            end_addr: IpAddr::V4(Ipv4Addr::from(b)),
            start_port: 0,
            end_port: u16::MAX,
        }
    }

    fn v4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
        let repr = ipv4::Repr {
            src_addr: src.into(),
            dst_addr: dst.into(),
            protocol: IpProtocol(proto),
            payload_len: payload.len(),
            ttl: 64,
            dscp_ecn: 0,
            ident: 1,
            dont_frag: false,
        };
        let mut buf = vec![0u8; 20 + payload.len()];
        repr.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]));
        buf[20..].copy_from_slice(payload);
        buf
    }

    #[test]
    fn flow_tcp_ports() {
        let pkt = v4([10, 0, 0, 1], [10, 1, 0, 1], 6, &[0x30, 0x39, 0x01, 0xbb, 0, 0, 0, 0]);
        let flow = Flow::parse(&pkt).expect("valid packet");
        assert_eq!((flow.src_port, flow.dst_port), (Some(12345), Some(443)));
    }

    #[test]
    fn selector_port_range() {
        let mut sel = net([10, 1, 0, 0], [10, 1, 255, 255]);
        sel.protocol = 6;
        sel.start_port = 443;
        sel.end_port = 443;
        let addr = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
        assert!(sel.matches(addr, IpProtocol::TCP, Some(443)));
        assert!(!sel.matches(addr, IpProtocol::TCP, Some(80)));
        assert!(!sel.matches(addr, IpProtocol::UDP, Some(443)));
        assert!(!sel.matches(addr, IpProtocol::TCP, None));
    }

    #[test]
    fn selector_family_mismatch() {
        let sel = net([0, 0, 0, 0], [255, 255, 255, 255]);
        assert!(!sel.matches("2001:db8::1".parse().expect("literal"), IpProtocol::TCP, None));
    }

    #[test]
    fn flow_matches_both_sides() {
        let pkt = v4([10, 1, 0, 1], [10, 0, 0, 9], 1, &[8, 0, 0, 0]);
        let flow = Flow::parse(&pkt).expect("valid packet");
        let remote = [net([10, 1, 0, 0], [10, 1, 0, 255])];
        let local = [net([10, 0, 0, 0], [10, 0, 0, 255])];
        assert!(flow.matches(&remote, &local));
        assert!(!flow.matches(&local, &remote));
    }

    #[test]
    fn flow_rejects_bad_header_checksum() {
        let mut pkt = v4([10, 1, 0, 1], [10, 0, 0, 9], 17, &[0; 8]);
        pkt[8] ^= 1;
        assert_eq!(Flow::parse(&pkt), Err(DropReason::BadInnerPacket));
    }
}
