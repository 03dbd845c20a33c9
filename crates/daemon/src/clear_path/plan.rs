//! The NAT rules of a configuration lowered to kernel NAT statements toward the
//! outside device.
//!
//! The daemon decides which rule applies to a flow, because the policy engine evaluates
//! NAT in the ASA's order. It passes its choice on through the device it writes the
//! packet into: the PAT device for dynamic rules, the main TUN device for the rest. The kernel
//! rules repeat the ASA's order within each device, so that the first matching kernel
//! rule is the rule the engine chose.

use std::net::{IpAddr, Ipv4Addr};

use rampart_policy::flow::{PROTO_TCP, PROTO_UDP};
use rampart_policy::model::{AddrRange, NatKind, NatMapped, NatRule, NatService, Origin, PolicyConfig, PortRange};
use rampart_policy::nat::NatTable;

use crate::route_plan::{range_to_prefixes, Prefix};

use super::ClearRoute;

/// Conntrack zone of every packet on the outside side of the daemon ("RA" in ASCII).
///
/// A clear-text packet passes the kernel twice: from the inside interface into the
/// TUN device, then from the TUN device to the outside. Both passes carry the same
/// 5-tuple, and the kernel runs the NAT chains only for the first packet of a conntrack
/// entry. In one zone the second pass would find the entry of the first pass, whose NAT
/// was settled without translation, so no rule of this table would apply. The zone gives
/// the second pass an entry of its own.
pub const CONNTRACK_ZONE: u16 = 0x5241;

/// The longest Linux interface name (IFNAMSIZ minus the terminating NUL).
pub const MAX_DEVICE_NAME: usize = 15;

/// Name of the PAT device that goes with TUN device `tun_dev`: the name with `p`
/// appended, shortened when the result would pass the kernel's limit.
pub fn pat_device_name(tun_dev: &str) -> String {
    let mut base: String = tun_dev.to_string();
    while base.len() + 1 > MAX_DEVICE_NAME {
        base.pop();
    }
    base.push('p');
    base
}

/// A port match of a rule's `service` clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceMatch {
    /// `tcp` or `udp`.
    pub protocol: u8,
    /// Match the source port instead of the destination port.
    pub source_port: bool,
    pub ports: PortRange,
}

/// The packets a kernel rule applies to. Empty address lists match every address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PacketMatch {
    pub sources: Vec<AddrRange>,
    pub destinations: Vec<AddrRange>,
    pub service: Option<ServiceMatch>,
}

/// The source translation of a rule, applied in postrouting toward the outside device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceAction {
    /// Identity NAT: the addresses stay, and no later rule of the chain applies.
    Keep,
    /// PAT to the outside device's address, ports 1024-65535 as on the ASA.
    Masquerade,
    /// PAT to one address (a dynamic rule with a single mapped address).
    Pat { address: Ipv4Addr },
    /// Dynamic NAT from a pool. Each inside host keeps one pool address for all its
    /// connections, as the ASA's per-host xlate does.
    Pool { start: Ipv4Addr, end: Ipv4Addr },
    /// Static NAT of one host. With a `service` clause the source port is mapped too.
    Host { address: Ipv4Addr, port: Option<u16> },
    /// Static NAT of a subnet onto a subnet of equal size; the host part stays.
    Prefix { real: Prefix, mapped: Prefix },
}

/// One source NAT statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceNat {
    pub origin: Origin,
    /// The device whose packets the statement matches.
    pub route: ClearRoute,
    pub packet: PacketMatch,
    pub action: SourceAction,
}

/// The reverse of a static rule for connections opened from the outside to a mapped
/// address, applied in prerouting on the outside device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DestinationAction {
    Host { address: Ipv4Addr, port: Option<u16> },
    Prefix { mapped: Prefix, real: Prefix },
}

/// One destination NAT statement; `packet` matches the mapped side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationNat {
    pub origin: Origin,
    pub packet: PacketMatch,
    pub action: DestinationAction,
}

/// A NAT rule with no kernel equivalent, and why. The daemon drops the flows that the
/// engine assigns to it, because the kernel would send them untranslated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// Index of the rule in `PolicyConfig::nat_rules`, as `Translation::rule` names it.
    pub rule: usize,
    pub origin: Origin,
    pub reason: String,
}

/// Everything `ClearPath::install` sets up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClearPlan {
    /// The main TUN device, which receives clear-text packets without dynamic NAT.
    pub tun_dev: String,
    /// The PAT device, which receives clear-text packets with dynamic NAT.
    pub pat_dev: String,
    /// The Linux device of the outside interface.
    pub outside_dev: String,
    /// MTU of the PAT device: the outside interface's MTU, as the main TUN device has.
    pub mtu: u16,
    /// Open the PAT device with the virtio-net header, as the main TUN device is opened,
    /// so that the daemon's batched TUN writer serves both devices.
    pub offload: bool,
    pub zone: u16,
    /// Source NAT in the ASA's rule order.
    pub source_nat: Vec<SourceNat>,
    /// Destination NAT in the ASA's rule order.
    pub destination_nat: Vec<DestinationNat>,
    pub unsupported: Vec<Unsupported>,
}

/// The two statements a NAT rule can become.
#[derive(Default)]
struct Lowered {
    source: Option<SourceNat>,
    destination: Option<DestinationNat>,
}

impl ClearPlan {
    /// Derives the kernel NAT statements from the NAT rules of `config`, in the order the
    /// policy engine evaluates them. Rules with no kernel equivalent land in
    /// `unsupported` with the reason.
    pub fn from_policy(config: &PolicyConfig, outside_dev: &str, tun_dev: &str) -> ClearPlan {
        let outside = outside_nameif(config);
        let outside_interface = config.interfaces.iter().find(|i| Some(&i.name) == outside.as_ref());
        let outside_addr = outside_interface.and_then(|i| i.address).map(|(a, _)| a);
        let mut plan = ClearPlan {
            tun_dev: tun_dev.to_string(),
            pat_dev: pat_device_name(tun_dev),
            outside_dev: outside_dev.to_string(),
            mtu: outside_interface.map(|i| i.mtu).unwrap_or(1500),
            offload: false,
            zone: CONNTRACK_ZONE,
            source_nat: Vec::new(),
            destination_nat: Vec::new(),
            unsupported: Vec::new(),
        };
        // The engine's order; a configuration it rejects keeps the configured order.
        let order: Vec<usize> = match NatTable::new(config) {
            Ok(table) => table.order().collect(),
            Err(_) => (0..config.nat_rules.len()).collect(),
        };
        for index in order {
            let Some(rule) = config.nat_rules.get(index) else { continue };
            let lowered = match outside.as_deref() {
                Some(outside) => lower(rule, outside, outside_addr),
                None => Err("no interface carries a crypto map or has security level 0, so the outside is unknown".into()),
            };
            match lowered {
                Ok(lowered) => {
                    plan.source_nat.extend(lowered.source);
                    plan.destination_nat.extend(lowered.destination);
                }
                Err(reason) => plan.unsupported.push(Unsupported { rule: index, origin: rule.origin.clone(), reason }),
            }
        }
        plan
    }
}

/// Indices in `config.nat_rules` of the rules that the kernel cannot execute. The
/// result depends on the rules and interfaces only, not on device names.
pub fn unsupported_rules(config: &PolicyConfig) -> Vec<usize> {
    ClearPlan::from_policy(config, "", "").unsupported.iter().map(|u| u.rule).collect()
}

/// Returns the `nameif` of the interface that carries the crypto map, else of the
/// interface with the lowest security level.
pub fn outside_nameif(config: &PolicyConfig) -> Option<String> {
    config
        .crypto_maps
        .iter()
        .find_map(|m| m.interface.clone())
        .or_else(|| config.interfaces.iter().min_by_key(|i| i.security_level).map(|i| i.name.clone()))
}

fn lower(rule: &NatRule, outside: &str, outside_addr: Option<Ipv4Addr>) -> Result<Lowered, String> {
    if let Some(mapped) = rule.mapped_interface.as_deref().filter(|m| *m != outside) {
        return Err(format!("the rule maps to interface {mapped}; rampart translates only toward the outside interface {outside}"));
    }
    if rule.real_interface.as_deref() == Some(outside) {
        return Err("the rule translates traffic arriving on the outside interface".into());
    }
    if !all_v4(rule) {
        return Err("the rule has IPv6 addresses; the kernel rules cover IPv4 only".into());
    }

    let destinations = match &rule.destination {
        None => Vec::new(),
        Some((mapped, real)) if mapped == real => any_to_empty(mapped),
        Some(_) => return Err("translating the destination (twice NAT with different mapped and real destinations)".into()),
    };
    let service = rule.service.as_ref().map(service_match).transpose()?;
    let port_translated = rule.service.as_ref().is_some_and(|s| s.real != s.mapped);
    let packet = PacketMatch { sources: any_to_empty(&rule.real_source), destinations, service };

    match (&rule.mapped_source, rule.kind) {
        (NatMapped::Identity, _) => {
            if port_translated {
                return Err("identity NAT with a port translation".into());
            }
            Ok(source_only(rule, ClearRoute::Plain, packet, SourceAction::Keep))
        }
        (mapped, NatKind::Dynamic) => {
            if port_translated {
                return Err("dynamic NAT with a port translation".into());
            }
            let action = dynamic_action(mapped)?;
            Ok(source_only(rule, ClearRoute::Pat, packet, action))
        }
        (NatMapped::Interface, NatKind::Static) => {
            let address = outside_addr.ok_or("the outside interface has no address")?;
            let real = single_host(&rule.real_source).ok_or("static NAT of several real addresses to the interface address")?;
            // Without a service clause every connection to the interface address would
            // go to the inside host, IKE and ESP included.
            static_host(rule, packet, real, address, rule.service.is_some())
        }
        (NatMapped::Addresses(mapped), NatKind::Static) => {
            if let (Some(real), Some(address)) = (single_host(&rule.real_source), single_host(mapped)) {
                return static_host(rule, packet, real, address, true);
            }
            match (single_prefix(&rule.real_source), single_prefix(mapped)) {
                (Some(real), Some(mapped)) if real.len == mapped.len && rule.service.is_none() => {
                    let source = SourceNat {
                        origin: rule.origin.clone(),
                        route: ClearRoute::Plain,
                        packet: packet.clone(),
                        action: SourceAction::Prefix { real, mapped },
                    };
                    let inbound = PacketMatch {
                        sources: packet.destinations,
                        destinations: vec![prefix_range(mapped)],
                        service: None,
                    };
                    let destination = DestinationNat {
                        origin: rule.origin.clone(),
                        packet: inbound,
                        action: DestinationAction::Prefix { mapped, real },
                    };
                    Ok(Lowered { source: Some(source), destination: Some(destination) })
                }
                _ => Err("static NAT between ranges that are not one host or one prefix of equal length each (with no service)".into()),
            }
        }
    }
}

fn dynamic_action(mapped: &NatMapped) -> Result<SourceAction, String> {
    match mapped {
        NatMapped::Interface => Ok(SourceAction::Masquerade),
        NatMapped::Addresses(pool) => {
            if let Some(address) = single_host(pool) {
                return Ok(SourceAction::Pat { address });
            }
            match pool.as_slice() {
                [AddrRange { start: IpAddr::V4(start), end: IpAddr::V4(end) }] => Ok(SourceAction::Pool { start: *start, end: *end }),
                _ => Err("dynamic NAT to a pool of several ranges".into()),
            }
        }
        // The caller handles identity before dynamic kinds.
        NatMapped::Identity => Ok(SourceAction::Keep),
    }
}

/// Static NAT of one real host to one mapped address, in both directions. `inbound`
/// adds the destination NAT for connections opened from the outside.
fn static_host(rule: &NatRule, packet: PacketMatch, real: Ipv4Addr, address: Ipv4Addr, inbound: bool) -> Result<Lowered, String> {
    let (source_port, real_port, mapped_port) = match &rule.service {
        None => (false, None, None),
        Some(s) => {
            let (Some(real_port), Some(mapped_port)) = (single_port(&s.real), single_port(&s.mapped)) else {
                if s.real != s.mapped {
                    return Err("static NAT that maps a port range".into());
                }
                return Ok(source_only(rule, ClearRoute::Plain, packet, SourceAction::Host { address, port: None }));
            };
            if !s.source_port && real_port != mapped_port {
                return Err("static NAT that translates the destination port".into());
            }
            (s.source_port, Some(real_port), Some(mapped_port))
        }
    };
    let port = if source_port && real_port != mapped_port { mapped_port } else { None };
    let mut lowered = source_only(rule, ClearRoute::Plain, packet.clone(), SourceAction::Host { address, port });

    // The reverse direction of a destination-port service only carries replies, which
    // conntrack translates.
    if inbound && (rule.service.is_none() || source_port) {
        let service = packet.service.map(|s| ServiceMatch {
            protocol: s.protocol,
            source_port: false,
            ports: PortRange::single(mapped_port.unwrap_or(s.ports.start)),
        });
        let port = if real_port != mapped_port { real_port } else { None };
        lowered.destination = Some(DestinationNat {
            origin: rule.origin.clone(),
            packet: PacketMatch {
                sources: packet.destinations,
                destinations: vec![AddrRange::host(IpAddr::V4(address))],
                service,
            },
            action: DestinationAction::Host { address: real, port },
        });
    }
    Ok(lowered)
}

fn source_only(rule: &NatRule, route: ClearRoute, packet: PacketMatch, action: SourceAction) -> Lowered {
    Lowered { source: Some(SourceNat { origin: rule.origin.clone(), route, packet, action }), destination: None }
}

fn service_match(service: &NatService) -> Result<ServiceMatch, String> {
    if service.protocol != PROTO_TCP && service.protocol != PROTO_UDP {
        return Err(format!("a service of IP protocol {}, which has no ports", service.protocol));
    }
    Ok(ServiceMatch { protocol: service.protocol, source_port: service.source_port, ports: service.real })
}

fn all_v4(rule: &NatRule) -> bool {
    let v4 = |ranges: &[AddrRange]| ranges.iter().all(|r| r.start.is_ipv4() && r.end.is_ipv4());
    let mapped = match &rule.mapped_source {
        NatMapped::Addresses(a) => v4(a),
        _ => true,
    };
    let destination = rule.destination.as_ref().is_none_or(|(m, r)| v4(m) && v4(r));
    v4(&rule.real_source) && mapped && destination
}

/// Drops the list when it contains `any`, because no match at all matches every address.
fn any_to_empty(ranges: &[AddrRange]) -> Vec<AddrRange> {
    if ranges.contains(&AddrRange::ANY_V4) { Vec::new() } else { ranges.to_vec() }
}

fn single_host(ranges: &[AddrRange]) -> Option<Ipv4Addr> {
    match ranges {
        [AddrRange { start: IpAddr::V4(start), end: IpAddr::V4(end) }] if start == end => Some(*start),
        _ => None,
    }
}

fn single_prefix(ranges: &[AddrRange]) -> Option<Prefix> {
    match ranges {
        [range] => match range_to_prefixes(range).as_slice() {
            [prefix] => Some(*prefix),
            _ => None,
        },
        _ => None,
    }
}

fn single_port(ports: &PortRange) -> Option<u16> {
    (ports.start == ports.end).then_some(ports.start)
}

fn prefix_range(prefix: Prefix) -> AddrRange {
    AddrRange::v4_prefix(prefix.addr, prefix.len)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn plan(rules: Vec<NatRule>) -> ClearPlan {
        let mut config = guide_config();
        config.nat_rules = rules;
        ClearPlan::from_policy(&config, "eth1", "rampart0")
    }

    #[test]
    fn pat_name_appends_p() {
        assert_eq!(pat_device_name("rampart0"), "rampart0p");
    }

    #[test]
    fn pat_name_respects_ifnamsiz() {
        assert_eq!(pat_device_name("abcdefghijklmno"), "abcdefghijklmnp");
    }

    #[test]
    fn plan_takes_outside_mtu() {
        let mut config = guide_config();
        config.interfaces[1].mtu = 1400;
        assert_eq!(ClearPlan::from_policy(&config, "eth1", "rampart0").mtu, 1400);
    }

    #[test]
    fn port_filter_order() {
        let p = plan(port_filter_rules());
        let actions: Vec<(&SourceAction, ClearRoute)> = p.source_nat.iter().map(|s| (&s.action, s.route)).collect();
        assert_eq!(
            actions,
            vec![
                (&SourceAction::Keep, ClearRoute::Plain),
                (&SourceAction::Keep, ClearRoute::Plain),
                (&SourceAction::Masquerade, ClearRoute::Pat)
            ]
        );
    }

    #[test]
    fn port_filter_any_source_unmatched() {
        let p = plan(port_filter_rules());
        assert!(p.source_nat[2].packet.sources.is_empty());
    }

    #[test]
    fn port_filter_identity_service() {
        let p = plan(port_filter_rules());
        let service = ServiceMatch { protocol: PROTO_TCP, source_port: false, ports: PortRange::single(80) };
        assert_eq!(p.source_nat[0].packet.service, Some(service));
    }

    #[test]
    fn port_filter_all_supported() {
        assert!(plan(port_filter_rules()).unsupported.is_empty());
    }

    #[test]
    fn dynamic_host_is_pat() {
        let p = plan(vec![dynamic_rule("10.10.0.0/16", NatMapped::Addresses(vec![net("203.0.113.60/32")]))]);
        assert_eq!(p.source_nat[0].action, SourceAction::Pat { address: v4("203.0.113.60") });
    }

    #[test]
    fn dynamic_pool() {
        let p = plan(vec![dynamic_rule("10.10.0.0/16", NatMapped::Addresses(vec![net("203.0.113.64/28")]))]);
        assert_eq!(p.source_nat[0].action, SourceAction::Pool { start: v4("203.0.113.64"), end: v4("203.0.113.79") });
    }

    #[test]
    fn dynamic_split_pool_unsupported() {
        let pool = NatMapped::Addresses(vec![net("203.0.113.64/30"), net("203.0.113.80/30")]);
        let p = plan(vec![dynamic_rule("10.10.0.0/16", pool)]);
        assert_eq!(p.unsupported.len(), 1);
    }

    #[test]
    fn static_host_both_directions() {
        let p = plan(vec![static_rule("10.10.1.100/32", "203.0.113.100/32")]);
        assert_eq!(p.source_nat[0].action, SourceAction::Host { address: v4("203.0.113.100"), port: None });
        assert_eq!(p.destination_nat[0].action, DestinationAction::Host { address: v4("10.10.1.100"), port: None });
    }

    #[test]
    fn static_subnet_prefix() {
        let p = plan(vec![static_rule("10.10.1.0/24", "203.0.113.0/24")]);
        let real = Prefix { addr: v4("10.10.1.0"), len: 24 };
        let mapped = Prefix { addr: v4("203.0.113.0"), len: 24 };
        assert_eq!(p.source_nat[0].action, SourceAction::Prefix { real, mapped });
        assert_eq!(p.destination_nat[0].action, DestinationAction::Prefix { mapped, real });
    }

    #[test]
    fn static_unequal_subnets_unsupported() {
        let p = plan(vec![static_rule("10.10.1.0/24", "203.0.113.0/25")]);
        assert!(p.source_nat.is_empty());
        assert_eq!(p.unsupported.len(), 1);
    }

    #[test]
    fn static_pat_maps_ports() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.service = Some(NatService { protocol: PROTO_TCP, source_port: true, real: PortRange::single(80), mapped: PortRange::single(8080) });
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].action, SourceAction::Host { address: v4("203.0.113.100"), port: Some(8080) });
        assert_eq!(p.destination_nat[0].action, DestinationAction::Host { address: v4("10.10.1.100"), port: Some(80) });
        assert_eq!(p.destination_nat[0].packet.service.as_ref().map(|s| s.ports), Some(PortRange::single(8080)));
    }

    #[test]
    fn static_interface_needs_service_inbound() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.mapped_source = NatMapped::Interface;
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].action, SourceAction::Host { address: v4(OUTSIDE_ADDR), port: None });
        assert!(p.destination_nat.is_empty());
    }

    #[test]
    fn twice_nat_destination_unsupported() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.destination = Some((vec![net("192.168.50.0/24")], vec![net("198.18.50.0/24")]));
        assert_eq!(plan(vec![rule]).unsupported.len(), 1);
    }

    #[test]
    fn twice_nat_identity_destination_matches() {
        let mut rule = identity_service_nat(80, 1, "http");
        rule.destination = Some((vec![net("198.18.0.0/15")], vec![net("198.18.0.0/15")]));
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].packet.destinations, vec![net("198.18.0.0/15")]);
    }

    #[test]
    fn other_mapped_interface_unsupported() {
        let mut rule = after_auto_pat(7);
        rule.mapped_interface = Some("dmz".to_string());
        let p = plan(vec![rule]);
        assert_eq!(p.unsupported.first().map(|u| u.origin.line), Some(7));
    }

    #[test]
    fn unsupported_rules_indices() {
        let mut config = guide_config();
        config.nat_rules = vec![static_rule("10.10.1.100/32", "203.0.113.100/32"), static_rule("10.10.1.0/24", "203.0.113.0/25"), after_auto_pat(52)];
        assert_eq!(unsupported_rules(&config), vec![1]);
    }
}
