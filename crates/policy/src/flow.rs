//! The 5-tuple the engine classifies.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// A packet's flow key. For ICMP, `src_port` is the ICMP type and `dst_port` the code,
/// as ASA access lists and packet-tracer address ICMP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Flow {
    pub protocol: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
}

impl Flow {
    /// True for protocols whose flows carry ports (TCP and UDP).
    pub fn has_ports(&self) -> bool {
        has_ports(self.protocol)
    }

    /// True for ICMP and ICMPv6, whose "ports" are the type and the code.
    pub fn is_icmp(&self) -> bool {
        self.protocol == PROTO_ICMP || self.protocol == PROTO_ICMPV6
    }

    /// Swap addresses and ports, giving the flow as seen from the other end.
    pub fn reversed(&self) -> Flow {
        Flow { protocol: self.protocol, src: self.dst, dst: self.src, src_port: self.dst_port, dst_port: self.src_port }
    }
}

pub(crate) fn has_ports(protocol: u8) -> bool {
    protocol == PROTO_TCP || protocol == PROTO_UDP
}

/// Protocol keyword as the ASA prints it.
pub fn protocol_name(protocol: u8) -> String {
    match protocol {
        PROTO_ICMP => "icmp".to_string(),
        PROTO_TCP => "tcp".to_string(),
        PROTO_UDP => "udp".to_string(),
        PROTO_ICMPV6 => "icmp6".to_string(),
        other => other.to_string(),
    }
}

impl fmt::Display for Flow {
    /// ASA notation: `tcp 10.10.1.5/40000 -> 198.51.100.80/80`, or
    /// `icmp 10.10.1.5 -> 198.51.100.80 type 8 code 0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = protocol_name(self.protocol);
        if self.is_icmp() {
            write!(f, "{proto} {} -> {} type {} code {}", self.src, self.dst, self.src_port, self.dst_port)
        } else if self.has_ports() {
            write!(f, "{proto} {}/{} -> {}/{}", self.src, self.src_port, self.dst, self.dst_port)
        } else {
            write!(f, "{proto} {} -> {}", self.src, self.dst)
        }
    }
}
