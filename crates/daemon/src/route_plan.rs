//! Which destinations reach the TUN device: the remote side of every active permit
//! entry of the crypto ACLs, as the ASA would encrypt them.
//!
//! The routes live in a table of their own that only traffic arriving on an inside
//! interface looks up. A crypto ACL that permits `any` (the Zscaler tunnel's
//! 0.0.0.0/0) becomes that table's default route; in the main table it would send the
//! gateway's own IKE and ESP packets into the tunnel.

use std::net::{IpAddr, Ipv4Addr};

use rampart_policy::model::{Action, AddrRange, PolicyConfig};

/// An IPv4 prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Routes and rules derived from a configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoutePlan {
    /// `nameif` of the interface that carries the crypto map (the outside).
    pub outside: Option<String>,
    /// Prefixes routed to the TUN device in the tunnel table.
    pub tunnel_routes: Vec<Prefix>,
    /// Set when a permit entry protects every destination: the tunnel table gets a
    /// default route to the TUN device.
    pub default_via_policy: bool,
    /// The inside subnets, and the destinations of crypto ACL deny entries when the
    /// configuration has no NAT rule. They keep using the main table, so that inside
    /// traffic stays inside and denied traffic leaves in the clear as the ASA sends it.
    /// With NAT rules denied traffic goes through the TUN device like other clear
    /// traffic, because the NAT rules of `table ip rampart` apply only to packets that
    /// the gateway writes back from it, and the ASA translates denied traffic too.
    pub bypass: Vec<Prefix>,
    /// `nameif` of every other interface with an address: the inside.
    pub inside: Vec<String>,
}

impl RoutePlan {
    pub fn from_config(config: &PolicyConfig) -> RoutePlan {
        let mut plan = RoutePlan::default();
        for map in &config.crypto_maps {
            let Some(interface) = &map.interface else { continue };
            plan.outside.get_or_insert_with(|| interface.clone());
            for entry in map.entries.iter().filter(|e| e.is_complete() && e.dynamic.is_none()) {
                let Some(acl) = entry.acl.as_ref().and_then(|name| config.acls.iter().find(|a| &a.name == name)) else {
                    continue;
                };
                for ace in acl.entries.iter().filter(|e| !e.inactive) {
                    let prefixes = range_to_prefixes(&ace.dst);
                    match ace.action {
                        Action::Permit => {
                            if prefixes.iter().any(|p| p.len == 0) {
                                plan.default_via_policy = true;
                            } else {
                                plan.tunnel_routes.extend(prefixes);
                            }
                        }
                        Action::Deny if config.nat_rules.is_empty() => {
                            plan.bypass.extend(prefixes.into_iter().filter(|p| p.len > 0));
                        }
                        Action::Deny => {}
                    }
                }
            }
        }
        // Traffic between inside subnets stays on the main table's connected routes.
        for interface in &config.interfaces {
            if let (Some((addr, len)), true) = (interface.address, Some(&interface.name) != plan.outside.as_ref()) {
                plan.bypass.extend(range_to_prefixes(&AddrRange::v4_prefix(addr, len)));
            }
        }
        plan.tunnel_routes.sort();
        plan.tunnel_routes.dedup();
        plan.bypass.sort();
        plan.bypass.dedup();
        plan.inside = config
            .interfaces
            .iter()
            .filter(|i| i.address.is_some() && Some(&i.name) != plan.outside.as_ref())
            .map(|i| i.name.clone())
            .collect();
        plan
    }
}

/// Splits an inclusive IPv4 range into the fewest prefixes that cover it exactly. An
/// IPv6 or mixed range yields nothing, because the data plane routes IPv4 only.
pub fn range_to_prefixes(range: &AddrRange) -> Vec<Prefix> {
    let (IpAddr::V4(start), IpAddr::V4(end)) = (range.start, range.end) else {
        return Vec::new();
    };
    let (mut start, end) = (u64::from(u32::from(start)), u64::from(u32::from(end)));
    let mut prefixes = Vec::new();
    while start <= end {
        // The largest aligned block at `start` that does not pass `end`.
        let mut size: u64 = if start == 0 { 1 << 32 } else { 1 << start.trailing_zeros().min(32) };
        while start + size - 1 > end {
            size >>= 1;
        }
        let len = 32 - size.trailing_zeros() as u8;
        // `start` is below 2^32 here because it never exceeds `end`, a u32 value.
        prefixes.push(Prefix { addr: Ipv4Addr::from(start as u32), len });
        start += size;
    }
    prefixes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: &str, b: &str) -> AddrRange {
        AddrRange { start: a.parse().unwrap(), end: b.parse().unwrap() }
    }

    fn prefix(s: &str) -> Prefix {
        let (addr, len) = s.split_once('/').unwrap();
        Prefix { addr: addr.parse().unwrap(), len: len.parse().unwrap() }
    }

    #[test]
    fn prefixes_of_subnet() {
        assert_eq!(range_to_prefixes(&v4("203.0.113.0", "203.0.113.255")), vec![prefix("203.0.113.0/24")]);
    }

    #[test]
    fn prefixes_of_any() {
        assert_eq!(range_to_prefixes(&AddrRange::ANY_V4), vec![prefix("0.0.0.0/0")]);
    }

    #[test]
    fn prefixes_of_host() {
        assert_eq!(range_to_prefixes(&v4("203.0.113.7", "203.0.113.7")), vec![prefix("203.0.113.7/32")]);
    }

    #[test]
    fn prefixes_of_unaligned_range() {
        assert_eq!(
            range_to_prefixes(&v4("10.0.0.3", "10.0.0.9")),
            vec![prefix("10.0.0.3/32"), prefix("10.0.0.4/30"), prefix("10.0.0.8/31")]
        );
    }

    #[test]
    fn prefixes_of_top_address() {
        assert_eq!(range_to_prefixes(&v4("255.255.255.254", "255.255.255.255")), vec![prefix("255.255.255.254/31")]);
    }

    fn config(dst: AddrRange, deny: Option<AddrRange>) -> PolicyConfig {
        use rampart_policy::model::*;
        let origin = Origin { line: 1, text: String::new() };
        let entry = |action, dst| AclEntry {
            action,
            protocol: None,
            src: v4("198.18.1.0", "198.18.1.255"),
            src_ports: PortRange::ANY,
            dst,
            dst_ports: PortRange::ANY,
            icmp_type: None,
            log: false,
            inactive: false,
            ace_index: 0,
            origin: origin.clone(),
        };
        let mut entries = Vec::new();
        if let Some(deny) = deny {
            entries.push(entry(Action::Deny, deny));
        }
        entries.push(entry(Action::Permit, dst));
        PolicyConfig {
            interfaces: vec![
                Interface { hardware: "g0/0".into(), name: "outside".into(), security_level: 0, address: Some(("198.51.100.1".parse().unwrap(), 24)), mtu: 1500 },
                Interface { hardware: "g0/1".into(), name: "inside".into(), security_level: 100, address: Some(("198.18.1.1".parse().unwrap(), 24)), mtu: 1500 },
            ],
            acls: vec![Acl { name: "vpn".into(), entries }],
            crypto_maps: vec![CryptoMap {
                name: "outside_map".into(),
                interface: Some("outside".into()),
                entries: vec![CryptoMapEntry {
                    map: "outside_map".into(),
                    sequence: 65000,
                    acl: Some("vpn".into()),
                    peers: vec!["198.51.100.2".parse().unwrap()],
                    proposals: vec!["p".into()],
                    dynamic: None,
                    origin,
                }],
            }],
            ..PolicyConfig::default()
        }
    }

    #[test]
    fn plan_routes_subnet() {
        let plan = RoutePlan::from_config(&config(v4("203.0.113.0", "203.0.113.255"), None));
        assert_eq!(plan.tunnel_routes, vec![prefix("203.0.113.0/24")]);
        assert!(!plan.default_via_policy);
        assert_eq!(plan.outside.as_deref(), Some("outside"));
        assert_eq!(plan.inside, vec!["inside".to_string()]);
    }

    #[test]
    fn plan_any_uses_policy_routing() {
        let plan = RoutePlan::from_config(&config(AddrRange::ANY_V4, Some(v4("203.0.113.99", "203.0.113.99"))));
        assert!(plan.default_via_policy);
        assert!(plan.tunnel_routes.is_empty());
        assert_eq!(plan.bypass, vec![prefix("198.18.1.0/24"), prefix("203.0.113.99/32")]);
    }

    #[test]
    fn plan_deny_with_nat_not_bypassed() {
        let mut config = config(AddrRange::ANY_V4, Some(v4("203.0.113.99", "203.0.113.99")));
        config.nat_rules = vec![rampart_policy::model::NatRule {
            section: rampart_policy::model::NatSection::AfterAuto,
            real_interface: Some("inside".into()),
            mapped_interface: Some("outside".into()),
            kind: rampart_policy::model::NatKind::Dynamic,
            real_source: vec![AddrRange::ANY_V4],
            mapped_source: rampart_policy::model::NatMapped::Interface,
            destination: None,
            service: None,
            no_proxy_arp: false,
            route_lookup: false,
            pat_fallback: false,
            origin: rampart_policy::model::Origin { line: 52, text: String::new() },
        }];
        let plan = RoutePlan::from_config(&config);
        assert_eq!(plan.bypass, vec![prefix("198.18.1.0/24")]);
    }

    #[test]
    fn prefixes_of_ipv6_empty() {
        let range = AddrRange { start: "2001:db8::".parse().unwrap(), end: "2001:db8::ff".parse().unwrap() };
        assert!(range_to_prefixes(&range).is_empty());
    }
}
