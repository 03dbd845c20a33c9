//! Builders for policy values in tests, including the Zscaler guide's branch ASA.

use std::net::{IpAddr, Ipv4Addr};

use crate::flow::{Flow, PROTO_TCP, PROTO_UDP};
use crate::model::*;

pub fn origin(line: u32, text: &str) -> Origin {
    Origin { line, text: text.to_string() }
}

pub fn interface(name: &str, level: u8, addr: [u8; 4], prefix_len: u8) -> Interface {
    Interface {
        hardware: format!("GigabitEthernet0/{level}"),
        name: name.to_string(),
        security_level: level,
        address: Some((Ipv4Addr::from(addr), prefix_len)),
        mtu: 1500,
    }
}

/// Parse an address range from `A/len` notation.
pub fn net(text: &str) -> AddrRange {
    let (addr, len) = text.split_once('/').expect("A/len");
    AddrRange::v4_prefix(addr.parse().expect("IPv4 address"), len.parse().expect("prefix length"))
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("IP address")
}

pub fn ace(action: Action, protocol: Option<u8>, src: AddrRange, dst: AddrRange) -> AclEntry {
    AclEntry {
        action,
        protocol,
        src,
        src_ports: PortRange::ANY,
        dst,
        dst_ports: PortRange::ANY,
        icmp_type: None,
        log: false,
        inactive: false,
        ace_index: 0,
        origin: origin(1, "access-list"),
    }
}

pub fn tcp(src: &str, sport: u16, dst: &str, dport: u16) -> Flow {
    Flow { protocol: PROTO_TCP, src: ip(src), dst: ip(dst), src_port: sport, dst_port: dport }
}

pub fn udp(src: &str, sport: u16, dst: &str, dport: u16) -> Flow {
    Flow { protocol: PROTO_UDP, src: ip(src), dst: ip(dst), src_port: sport, dst_port: dport }
}

pub const FLOW_TRAFFIC: &str = "10.10.0.0/16";
pub const DENY_TRAFFIC: &str = "10.10.1.100/32";
pub const OUTSIDE_ADDR: &str = "203.0.113.2";
pub const PRIMARY_PEER: &str = "198.51.100.10";
pub const BACKUP_PEER: &str = "198.51.100.20";

/// Build the branch ASA of the Zscaler guide: inside 10.10.0.0/16, outside 203.0.113.2/24 with
/// a default route, crypto ACL `Zscaler_MAP` (deny deny_traffic, permit flow_traffic)
/// on `outside_map 65000` with two peers, and no NAT.
pub fn guide_config() -> PolicyConfig {
    let mut deny = ace(Action::Deny, None, net(DENY_TRAFFIC), AddrRange::ANY_V4);
    deny.origin = origin(40, "access-list Zscaler_MAP extended deny ip object deny_traffic any");
    let mut permit = ace(Action::Permit, None, net(FLOW_TRAFFIC), AddrRange::ANY_V4);
    permit.ace_index = 1;
    permit.origin = origin(41, "access-list Zscaler_MAP extended permit ip object flow_traffic any");

    PolicyConfig {
        interfaces: vec![interface("inside", 100, [10, 10, 0, 1], 16), interface("outside", 0, [203, 0, 113, 2], 24)],
        routes: vec![Route {
            interface: "outside".to_string(),
            network: Ipv4Addr::UNSPECIFIED,
            prefix_len: 0,
            gateway: Ipv4Addr::new(203, 0, 113, 1),
            distance: 1,
            origin: origin(30, "route outside 0.0.0.0 0.0.0.0 203.0.113.1 1"),
        }],
        acls: vec![Acl { name: "Zscaler_MAP".to_string(), entries: vec![deny, permit] }],
        crypto_maps: vec![CryptoMap {
            name: "outside_map".to_string(),
            interface: Some("outside".to_string()),
            entries: vec![CryptoMapEntry {
                map: "outside_map".to_string(),
                sequence: 65000,
                acl: Some("Zscaler_MAP".to_string()),
                peers: vec![ip(PRIMARY_PEER), ip(BACKUP_PEER)],
                proposals: vec!["ZS-PROPOSAL".to_string()],
                dynamic: None,
                origin: origin(60, "crypto map outside_map 65000 match address Zscaler_MAP"),
            }],
        }],
        ..PolicyConfig::default()
    }
}

/// `nat (inside,outside) source static flow_traffic flow_traffic service S S` for a TCP
/// destination port.
pub fn identity_service_nat(port: u16, line: u32, name: &str) -> NatRule {
    NatRule {
        section: NatSection::Manual,
        real_interface: Some("inside".to_string()),
        mapped_interface: Some("outside".to_string()),
        kind: NatKind::Static,
        real_source: vec![net(FLOW_TRAFFIC)],
        mapped_source: NatMapped::Identity,
        destination: None,
        service: Some(NatService {
            protocol: PROTO_TCP,
            source_port: false,
            real: PortRange::single(port),
            mapped: PortRange::single(port),
        }),
        no_proxy_arp: false,
        route_lookup: false,
        pat_fallback: false,
        origin: origin(line, &format!("nat (inside,outside) source static flow_traffic flow_traffic service {name} {name}")),
    }
}

/// `nat (inside,outside) after-auto source dynamic any interface`.
pub fn after_auto_pat(line: u32) -> NatRule {
    NatRule {
        section: NatSection::AfterAuto,
        real_interface: Some("inside".to_string()),
        mapped_interface: Some("outside".to_string()),
        kind: NatKind::Dynamic,
        real_source: vec![AddrRange::ANY_V4],
        mapped_source: NatMapped::Interface,
        destination: None,
        service: None,
        no_proxy_arp: false,
        route_lookup: false,
        pat_fallback: false,
        origin: origin(line, "nat (inside,outside) after-auto source dynamic any interface"),
    }
}

/// Build the guide's configuration with the port filter: identity NAT for http and https, and
/// PAT of everything else to the outside address.
pub fn guide_config_port_filter() -> PolicyConfig {
    let mut config = guide_config();
    config.nat_rules = vec![identity_service_nat(80, 50, "http"), identity_service_nat(443, 51, "https"), after_auto_pat(52)];
    config
}
