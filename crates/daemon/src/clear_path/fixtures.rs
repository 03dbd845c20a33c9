//! Policy configurations for the unit tests: the branch ASA of the Zscaler guide,
//! inside 10.10.0.0/16 and outside 203.0.113.2/24, and NAT rules to combine with it.

use std::net::{IpAddr, Ipv4Addr};

use rampart_policy::flow::PROTO_TCP;
use rampart_policy::model::*;

pub const OUTSIDE_ADDR: &str = "203.0.113.2";

pub fn v4(text: &str) -> Ipv4Addr {
    text.parse().expect("IPv4 address")
}

/// Parses `A/len` notation.
pub fn net(text: &str) -> AddrRange {
    let (addr, len) = text.split_once('/').expect("A/len");
    AddrRange::v4_prefix(v4(addr), len.parse().expect("prefix length"))
}

fn origin(line: u32, text: &str) -> Origin {
    Origin { line, text: text.to_string() }
}

fn interface(name: &str, level: u8, addr: &str, prefix_len: u8) -> Interface {
    Interface {
        hardware: format!("GigabitEthernet0/{level}"),
        name: name.to_string(),
        security_level: level,
        address: Some((v4(addr), prefix_len)),
        mtu: 1500,
    }
}

/// Linux devices of the fixture interfaces: eth0 inside, eth1 outside, eth2 dmz.
pub fn fixture_devices(nameif: &str) -> Option<String> {
    let device = match nameif {
        "inside" => "eth0",
        "outside" => "eth1",
        "dmz" => "eth2",
        _ => return None,
    };
    Some(device.to_string())
}

/// Interfaces (inside, outside, and a dmz without NAT rules) and the crypto map on
/// the outside; no NAT rules.
pub fn guide_config() -> PolicyConfig {
    PolicyConfig {
        interfaces: vec![
            interface("inside", 100, "10.10.0.1", 16),
            interface("outside", 0, OUTSIDE_ADDR, 24),
            interface("dmz", 50, "172.16.5.1", 24),
        ],
        crypto_maps: vec![CryptoMap {
            name: "outside_map".to_string(),
            interface: Some("outside".to_string()),
            entries: vec![CryptoMapEntry {
                map: "outside_map".to_string(),
                sequence: 65000,
                acl: Some("Zscaler_MAP".to_string()),
                peers: vec![IpAddr::V4(v4("198.51.100.10"))],
                proposals: vec!["ZS-PROPOSAL".to_string()],
                dynamic: None,
                origin: origin(60, "crypto map outside_map 65000 match address Zscaler_MAP"),
            }],
        }],
        ..PolicyConfig::default()
    }
}

fn nat(section: NatSection, kind: NatKind, real: Vec<AddrRange>, mapped: NatMapped, line: u32, text: &str) -> NatRule {
    NatRule {
        section,
        real_interface: Some("inside".to_string()),
        mapped_interface: Some("outside".to_string()),
        kind,
        real_source: real,
        mapped_source: mapped,
        destination: None,
        service: None,
        no_proxy_arp: false,
        route_lookup: false,
        pat_fallback: false,
        origin: origin(line, text),
    }
}

/// `nat (inside,outside) source static flow_traffic flow_traffic service S S`.
pub fn identity_service_nat(port: u16, line: u32, name: &str) -> NatRule {
    let text = format!("nat (inside,outside) source static flow_traffic flow_traffic service {name} {name}");
    let mut rule = nat(NatSection::Manual, NatKind::Static, vec![net("10.10.0.0/16")], NatMapped::Identity, line, &text);
    rule.service = Some(NatService { protocol: PROTO_TCP, source_port: false, real: PortRange::single(port), mapped: PortRange::single(port) });
    rule
}

/// `nat (inside,outside) after-auto source dynamic any interface`.
pub fn after_auto_pat(line: u32) -> NatRule {
    let text = "nat (inside,outside) after-auto source dynamic any interface";
    nat(NatSection::AfterAuto, NatKind::Dynamic, vec![AddrRange::ANY_V4], NatMapped::Interface, line, text)
}

/// The guide's port filter: identity NAT for http and https, PAT for the rest.
pub fn port_filter_rules() -> Vec<NatRule> {
    vec![identity_service_nat(80, 50, "http"), identity_service_nat(443, 51, "https"), after_auto_pat(52)]
}

/// Object NAT `nat (inside,outside) dynamic MAPPED` for the real subnet.
pub fn dynamic_rule(real: &str, mapped: NatMapped) -> NatRule {
    nat(NatSection::Object, NatKind::Dynamic, vec![net(real)], mapped, 20, "nat (inside,outside) dynamic pool")
}

/// Object NAT `nat (inside,outside) static MAPPED` for the real host or subnet.
pub fn static_rule(real: &str, mapped: &str) -> NatRule {
    let text = format!("nat (inside,outside) static {mapped}");
    nat(NatSection::Object, NatKind::Static, vec![net(real)], NatMapped::Addresses(vec![net(mapped)]), 10, &text)
}
