//! The NAT rules of a configuration lowered to kernel NAT statements toward the
//! mapped devices.
//!
//! The daemon decides which rule applies to a flow, because the policy engine evaluates
//! NAT in the ASA's order. It passes its choice on through the device it writes the
//! packet into: the PAT device for dynamic rules, the main TUN device for the rest. The kernel
//! rules repeat the ASA's order within each device and match the packet as the inside
//! host sent it, so that the first matching kernel rule is the rule the engine chose.

use std::net::{IpAddr, Ipv4Addr};

use rampart_policy::flow::{PROTO_TCP, PROTO_UDP};
use rampart_policy::model::{AddrRange, NatKind, NatMapped, NatRule, NatService, Origin, PolicyConfig, PortRange};
use rampart_policy::nat::NatTable;

use crate::route_plan::{range_to_prefixes, Prefix};
use crate::routing::device_of;

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

/// The source translation of a rule, applied in postrouting toward the mapped device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceAction {
    /// Identity NAT: the addresses stay, and no later rule of the chain applies.
    Keep,
    /// Identity NAT of the address with a source port translation (`service` clause).
    Port { port: u16 },
    /// PAT to the mapped device's address, ports 1024-65535 as on the ASA.
    Masquerade,
    /// PAT to one address (a dynamic rule with a single mapped address).
    Pat { address: Ipv4Addr },
    /// Dynamic NAT from a pool of addresses, in the engine's order. The daemon gives
    /// each inside host an address of its own and adds it to nftables map `map`
    /// (`NatPools`); `rule` is the index in `PolicyConfig::nat_rules`. With
    /// `pat_fallback` a host without an address gets PAT to the device's address.
    Pool { rule: usize, map: String, addresses: Vec<Ipv4Addr>, pat_fallback: bool },
    /// Static NAT of one host. With a `service` clause the source port is mapped too.
    Host { address: Ipv4Addr, port: Option<u16> },
    /// Static NAT of a subnet onto a subnet of equal size; the host part stays.
    Prefix { real: Prefix, mapped: Prefix },
    /// Static NAT between address lists of any size, one `real : mapped` pair per real
    /// address, as the engine maps them.
    AddressMap { pairs: Vec<(Ipv4Addr, Ipv4Addr)> },
    /// A source port range mapped onto another range, one `real : mapped` pair per
    /// port. With `address` the source address becomes that address too.
    PortMap { protocol: u8, address: Option<Ipv4Addr>, pairs: Vec<(u16, u16)> },
}

/// One source NAT statement, with the destination rewrite of the same rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceNat {
    pub origin: Origin,
    /// The device whose packets the statement matches.
    pub route: ClearRoute,
    /// The Linux device of the rule's mapped interface, where the packet leaves.
    pub out_device: String,
    /// The packet as the inside host sent it.
    pub packet: PacketMatch,
    /// The destination rewrite of a twice NAT rule (`destination static MAPPED REAL`)
    /// or of a destination-port service, applied before the route lookup.
    pub destination: Option<DestinationAction>,
    pub action: SourceAction,
}

/// A destination rewrite: the reverse of a static rule for connections opened from
/// the mapped side, or the forward destination part of a twice NAT rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DestinationAction {
    Host { address: Ipv4Addr, port: Option<u16> },
    Prefix { mapped: Prefix, real: Prefix },
    /// The address stays and the port changes.
    Port { port: u16 },
    /// A destination port range mapped onto another range, one `mapped : real` pair per
    /// port. With `address` the destination address becomes that address too.
    PortMap { protocol: u8, address: Option<Ipv4Addr>, pairs: Vec<(u16, u16)> },
    /// One `mapped : real` address pair per mapped address, with an optional new
    /// destination port (`protocol`, `port`).
    AddressMap { pairs: Vec<(Ipv4Addr, Ipv4Addr)>, port: Option<(u8, u16)> },
}

impl DestinationAction {
    /// True when the rewrite changes the destination address, so that the engine sends
    /// the packet to the rule's mapped interface ("NAT divert").
    pub fn translates_address(&self) -> bool {
        match self {
            DestinationAction::Host { .. } | DestinationAction::Prefix { .. } | DestinationAction::AddressMap { .. } => true,
            DestinationAction::PortMap { address, .. } => address.is_some(),
            DestinationAction::Port { .. } => false,
        }
    }
}

/// Maximum number of elements in the map of one `AddressMap` or `PortMap` statement,
/// which the kernel rule lists one by one.
pub const MAX_MAP_ELEMENTS: usize = 4096;

/// One statement for connections opened from the mapped side of a static rule;
/// `packet` matches the mapped side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationNat {
    pub origin: Origin,
    /// The Linux device of the rule's mapped interface, where such connections arrive.
    pub in_device: String,
    pub packet: PacketMatch,
    /// The rewrite of the mapped source back to the real host; `None` for identity NAT.
    pub action: Option<DestinationAction>,
    /// The rewrite of the peer's address to the mapped destination that the inside host
    /// uses, for a twice NAT rule whose destination is translated.
    pub source: Option<SourceAction>,
}

/// The reverse direction of a rule: the peers it admits and how their address appears
/// on the inside.
struct Reverse {
    /// The rule's real destinations, empty for `any`.
    peers: Vec<AddrRange>,
    source: Option<SourceAction>,
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

/// Mapped addresses of one NAT rule that the gateway replies to ARP requests for on the
/// rule's mapped device, as the ASA's proxy ARP does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyArp {
    pub origin: Origin,
    pub device: String,
    pub addresses: Vec<Ipv4Addr>,
    /// Identity NAT: the addresses are the real hosts' own, which the main table
    /// routes to the real interface already, so they need no route of their own.
    pub identity: bool,
}

/// Maximum number of addresses that one rule gets proxy ARP entries for. A rule with
/// more (identity NAT of `any`, say) would make the gateway reply for whole networks.
pub const MAX_PROXY_ARP_ADDRESSES: usize = 4096;

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
    /// Proxy ARP entries in rule order.
    pub proxy_arp: Vec<ProxyArp>,
    /// Rules whose mapped addresses get no proxy ARP entries, and why.
    pub proxy_arp_skipped: Vec<Unsupported>,
}

/// The two statements a NAT rule can become.
#[derive(Default)]
struct Lowered {
    source: Option<SourceNat>,
    destination: Option<DestinationNat>,
}

impl ClearPlan {
    /// Derives the kernel NAT statements from the NAT rules of `config`, in the order the
    /// policy engine evaluates them. The mapped interfaces other than the outside one
    /// are found among the Linux devices by their address. Rules with no kernel
    /// equivalent land in `unsupported` with the reason.
    pub fn from_policy(config: &PolicyConfig, outside_dev: &str, tun_dev: &str) -> ClearPlan {
        ClearPlan::from_policy_with(config, outside_dev, tun_dev, &|nameif| device_of(config, nameif))
    }

    /// `from_policy` with `device` naming the Linux device of an interface (`nameif`).
    pub fn from_policy_with(config: &PolicyConfig, outside_dev: &str, tun_dev: &str, device: &dyn Fn(&str) -> Option<String>) -> ClearPlan {
        let outside = outside_nameif(config);
        let outside_interface = config.interfaces.iter().find(|i| Some(&i.name) == outside.as_ref());
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
            proxy_arp: Vec::new(),
            proxy_arp_skipped: Vec::new(),
        };
        // The engine's order; a configuration it rejects keeps the configured order.
        let order: Vec<usize> = match NatTable::new(config) {
            Ok(table) => table.order().collect(),
            Err(_) => (0..config.nat_rules.len()).collect(),
        };
        for index in order {
            let Some(rule) = config.nat_rules.get(index) else { continue };
            let lowered = match outside.as_deref() {
                Some(outside) => {
                    let context = Context { config, rule: index, outside, outside_dev, device };
                    lower(rule, &context)
                }
                None => Err("no interface carries a crypto map or has security level 0, so the outside is unknown".into()),
            };
            match lowered {
                Ok(lowered) => {
                    match lowered
                        .source
                        .as_ref()
                        .map(|s| proxy_arp_of(rule, &s.out_device))
                    {
                        Some(Ok(Some(entry))) => plan.proxy_arp.push(entry),
                        Some(Err(reason)) => plan.proxy_arp_skipped.push(Unsupported {
                            rule: index,
                            origin: rule.origin.clone(),
                            reason,
                        }),
                        _ => {}
                    }
                    plan.source_nat.extend(lowered.source);
                    plan.destination_nat.extend(lowered.destination);
                }
                Err(reason) => plan.unsupported.push(Unsupported { rule: index, origin: rule.origin.clone(), reason }),
            }
        }
        plan
    }

    /// Lists the devices whose connections the plan's NAT rules translate: the outside
    /// device first, then the other mapped devices in rule order.
    pub fn mapped_devices(&self) -> Vec<&str> {
        let mut devices = vec![self.outside_dev.as_str()];
        let used = self.source_nat.iter().map(|s| s.out_device.as_str()).chain(self.destination_nat.iter().map(|d| d.in_device.as_str()));
        for device in used {
            if !devices.contains(&device) {
                devices.push(device);
            }
        }
        devices
    }
}

/// Indices in `config.nat_rules` of the rules that the kernel cannot execute. The
/// result depends on the rules and interfaces only, not on device names: a mapped
/// interface with an address counts as having a device.
pub fn unsupported_rules(config: &PolicyConfig) -> Vec<usize> {
    let device = |nameif: &str| config.interfaces.iter().find(|i| i.name == nameif && i.address.is_some()).map(|_| String::new());
    ClearPlan::from_policy_with(config, "", "", &device).unsupported.iter().map(|u| u.rule).collect()
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

/// Configuration, outside interface and device lookup for `lower`.
struct Context<'a> {
    config: &'a PolicyConfig,
    /// Index of the rule being lowered in `config.nat_rules`.
    rule: usize,
    outside: &'a str,
    outside_dev: &'a str,
    device: &'a dyn Fn(&str) -> Option<String>,
}

impl Context<'_> {
    fn interface_address(&self, nameif: &str) -> Option<Ipv4Addr> {
        self.config.interfaces.iter().find(|i| i.name == nameif).and_then(|i| i.address).map(|(a, _)| a)
    }
}

/// The port translation of a `service` clause.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PortChange {
    /// Every port becomes this port.
    One(u16),
    /// A range onto a range: `(real, mapped)` per real port.
    Map { protocol: u8, pairs: Vec<(u16, u16)> },
}

/// The rule's port translation, split by the side of the packet it rewrites.
#[derive(Clone, Default)]
struct PortRewrite {
    source: Option<PortChange>,
    destination: Option<PortChange>,
}

/// The source action of static NAT of one host to `address`, with the source port
/// change of the rule's service.
fn host_action(address: Ipv4Addr, change: Option<&PortChange>) -> SourceAction {
    match change {
        None => SourceAction::Host { address, port: None },
        Some(PortChange::One(port)) => SourceAction::Host { address, port: Some(*port) },
        Some(PortChange::Map { protocol, pairs }) => SourceAction::PortMap { protocol: *protocol, address: Some(address), pairs: pairs.clone() },
    }
}

fn lower(rule: &NatRule, context: &Context<'_>) -> Result<Lowered, String> {
    let outside = context.outside;
    if rule.real_interface.as_deref() == Some(outside) {
        return Err("the rule translates traffic arriving on the outside interface".into());
    }
    // `any` as the mapped interface keeps the outside, where the clear path leads.
    // NOTE: with rules for several mapped devices, such a rule translates only flows
    // routed to the outside, while the engine applies it toward every interface.
    let mapped_interface = rule.mapped_interface.as_deref().unwrap_or(outside);
    let out_device = if mapped_interface == outside {
        context.outside_dev.to_string()
    } else {
        (context.device)(mapped_interface).ok_or_else(|| {
            format!("no Linux device has the address of interface {mapped_interface}, the rule's mapped interface, so the kernel cannot tell where translated packets leave")
        })?
    };
    if !all_v4(rule) {
        return Err("the rule has IPv6 addresses; the kernel rules cover IPv4 only".into());
    }

    let service = rule.service.as_ref().map(service_match).transpose()?;
    let ports = match &rule.service {
        None => PortRewrite::default(),
        Some(s) => {
            let port = port_translation(s)?;
            if s.source_port { PortRewrite { source: port, destination: None } } else { PortRewrite { source: None, destination: port } }
        }
    };
    let destination = forward_destination(rule, ports.destination.clone())?;
    let destinations = match &rule.destination {
        None => Vec::new(),
        Some((mapped, _)) => any_to_empty(mapped),
    };
    let packet = PacketMatch { sources: any_to_empty(&rule.real_source), destinations, service };
    let statement = |route: ClearRoute, packet: PacketMatch, action: SourceAction| SourceNat {
        origin: rule.origin.clone(),
        route,
        out_device: out_device.clone(),
        packet,
        destination: destination.clone(),
        action,
    };
    // Connections opened from the mapped side reach the real host only through a
    // static rule.
    let reverse = reverse_of(rule);

    match (&rule.mapped_source, rule.kind) {
        (NatMapped::Identity, _) => {
            let action = match ports.source {
                Some(PortChange::One(port)) => SourceAction::Port { port },
                Some(PortChange::Map { protocol, pairs }) => SourceAction::PortMap { protocol, address: None, pairs },
                None => SourceAction::Keep,
            };
            // Identity NAT changes a connection from the peer only through a translated
            // destination, and a destination-port service carries replies only.
            let inbound = match reverse {
                Some(Reverse { peers, source: Some(source) }) if rule.kind == NatKind::Static && !ports_of_replies(rule) => Some(DestinationNat {
                    origin: rule.origin.clone(),
                    in_device: out_device.clone(),
                    packet: PacketMatch { sources: peers, destinations: packet.sources.clone(), service: inbound_service(rule) },
                    action: None,
                    source: Some(source),
                }),
                _ => None,
            };
            Ok(Lowered { source: Some(statement(ClearRoute::Plain, packet, action)), destination: inbound })
        }
        (mapped, NatKind::Dynamic) => {
            if ports.source.is_some() {
                return Err("dynamic NAT with a source port translation; PAT allocates the source ports".into());
            }
            let action = dynamic_action(mapped, context.rule, rule.pat_fallback)?;
            Ok(Lowered { source: Some(statement(ClearRoute::Pat, packet, action)), destination: None })
        }
        (NatMapped::Interface, NatKind::Static) => {
            let address = context.interface_address(mapped_interface).ok_or_else(|| format!("interface {mapped_interface} has no address"))?;
            let real = single_host(&rule.real_source).ok_or("static NAT of several real addresses to the interface address")?;
            // Without a service clause every connection to the interface address would
            // go to the inside host, IKE and ESP included.
            let reverse = reverse.filter(|_| rule.service.is_some());
            let source = statement(ClearRoute::Plain, packet, host_action(address, ports.source.as_ref()));
            Ok(Lowered { source: Some(source), destination: static_host_inbound(rule, &out_device, reverse, real, address) })
        }
        (NatMapped::Addresses(mapped), NatKind::Static) => {
            if let (Some(real), Some(address)) = (single_host(&rule.real_source), single_host(mapped)) {
                let source = statement(ClearRoute::Plain, packet, host_action(address, ports.source.as_ref()));
                let inbound = static_host_inbound(rule, &out_device, reverse, real, address);
                return Ok(Lowered { source: Some(source), destination: inbound });
            }
            match (single_prefix(&rule.real_source), single_prefix(mapped)) {
                (Some(real), Some(mapped)) if real.len == mapped.len && ports.source.is_none() => {
                    let source = statement(ClearRoute::Plain, packet, SourceAction::Prefix { real, mapped });
                    // With a service clause the reverse direction carries replies only,
                    // which conntrack translates.
                    let inbound = reverse.filter(|_| rule.service.is_none()).map(|reverse| DestinationNat {
                        origin: rule.origin.clone(),
                        in_device: out_device.clone(),
                        packet: PacketMatch { sources: reverse.peers, destinations: vec![prefix_range(mapped)], service: None },
                        action: Some(DestinationAction::Prefix { mapped, real }),
                        source: reverse.source,
                    });
                    Ok(Lowered { source: Some(source), destination: inbound })
                }
                // Ranges of other sizes: the engine pairs the addresses by position and
                // wraps around the shorter list. The Cisco ASA configuration guide
                // ("Static NAT", other mapping scenarios) gives the same mapping: from the
                // real side each real address uses its own mapped address, and a
                // connection to a mapped address reaches the real address at its
                // position, so the lowest real addresses are reachable from the mapped
                // side when there are fewer mapped addresses.
                _ if ports.source.is_none() => {
                    let forward = address_pairs(&rule.real_source, mapped)?;
                    let source = statement(ClearRoute::Plain, packet, SourceAction::AddressMap { pairs: forward });
                    let backward = address_pairs(mapped, &rule.real_source)?;
                    let inbound = reverse.filter(|_| rule.service.is_none()).map(|reverse| DestinationNat {
                        origin: rule.origin.clone(),
                        in_device: out_device.clone(),
                        packet: PacketMatch { sources: reverse.peers, destinations: mapped.clone(), service: None },
                        action: Some(DestinationAction::AddressMap { pairs: backward, port: None }),
                        source: reverse.source,
                    });
                    Ok(Lowered { source: Some(source), destination: inbound })
                }
                _ => Err("static NAT of several addresses with a source port translation".into()),
            }
        }
    }
}

/// Derives the proxy ARP entry of a rule whose source statement leaves through
/// `device`. The ASA replies to ARP requests on the mapped interface for the mapped source
/// addresses of static and dynamic rules, identity NAT included, unless the rule has
/// `no-proxy-arp`; it decides on the source addresses only, even for twice NAT. The
/// interface address needs no entry, because the kernel replies for its own addresses.
fn proxy_arp_of(rule: &NatRule, device: &str) -> Result<Option<ProxyArp>, String> {
    if rule.no_proxy_arp {
        return Ok(None);
    }
    let (ranges, identity) = match &rule.mapped_source {
        NatMapped::Interface => return Ok(None),
        NatMapped::Identity => (&rule.real_source, true),
        NatMapped::Addresses(mapped) => (mapped, false),
    };
    let addresses = list_addresses(ranges, MAX_PROXY_ARP_ADDRESSES)
        .map_err(|()| format!("more than {MAX_PROXY_ARP_ADDRESSES} mapped addresses; add `no-proxy-arp` and route them to the gateway"))?;
    Ok(Some(ProxyArp {
        origin: rule.origin.clone(),
        device: device.to_string(),
        addresses,
        identity,
    }))
}

/// Maximum number of addresses in a dynamic pool (a /16), because the daemon lists
/// each of them for its allocator.
pub const MAX_POOL_ADDRESSES: usize = 65_536;

/// Name of the nftables map of the pool of rule `index`.
pub fn pool_map_name(index: usize) -> String {
    format!("pool_{index}")
}

fn dynamic_action(mapped: &NatMapped, index: usize, pat_fallback: bool) -> Result<SourceAction, String> {
    match mapped {
        NatMapped::Interface => Ok(SourceAction::Masquerade),
        NatMapped::Addresses(pool) => {
            if let Some(address) = single_host(pool) {
                return Ok(SourceAction::Pat { address });
            }
            pool_addresses(pool).map(|addresses| SourceAction::Pool { rule: index, map: pool_map_name(index), addresses, pat_fallback })
        }
        // The caller handles identity before dynamic kinds.
        NatMapped::Identity => Ok(SourceAction::Keep),
    }
}

/// Lists every address of an IPv4 pool in the engine's order, up to `MAX_POOL_ADDRESSES`.
fn pool_addresses(pool: &[AddrRange]) -> Result<Vec<Ipv4Addr>, String> {
    list_addresses(pool, MAX_POOL_ADDRESSES).map_err(|()| {
        format!("a dynamic pool with more than {MAX_POOL_ADDRESSES} addresses")
    })
}

/// Lists every address of IPv4 ranges in order; fails when there are more than `limit`
/// or a range is IPv6, which `lower` rejects before.
fn list_addresses(ranges: &[AddrRange], limit: usize) -> Result<Vec<Ipv4Addr>, ()> {
    let mut addresses = Vec::new();
    for range in ranges {
        let (IpAddr::V4(start), IpAddr::V4(end)) = (range.start, range.end) else {
            return Err(());
        };
        let (start, end) = (u32::from(start), u32::from(end));
        let count = end.saturating_sub(start) as usize + 1;
        if addresses.len() + count > limit {
            return Err(());
        }
        addresses.extend((start..=end).map(Ipv4Addr::from));
    }
    Ok(addresses)
}

/// Returns the port translation of a service, `None` when the ports stay. The engine
/// maps a port at its offset within the real range onto the mapped range, wrapping
/// around, so a single real or mapped port always yields the first mapped port, and
/// a range onto a range becomes one pair per real port.
fn port_translation(service: &NatService) -> Result<Option<PortChange>, String> {
    if service.real == service.mapped {
        return Ok(None);
    }
    if single_port(&service.real).is_some() || single_port(&service.mapped).is_some() {
        return Ok(Some(PortChange::One(service.mapped.start)));
    }
    let pairs = port_pairs(&service.real, &service.mapped)?;
    Ok(Some(PortChange::Map { protocol: service.protocol, pairs }))
}

/// Pairs each port of `from` with the port the engine maps it to in `to`.
fn port_pairs(from: &PortRange, to: &PortRange) -> Result<Vec<(u16, u16)>, String> {
    let count = usize::from(from.end.saturating_sub(from.start)) + 1;
    if count > MAX_MAP_ELEMENTS {
        return Err(format!("the service maps {count} ports one by one, more than {MAX_MAP_ELEMENTS}"));
    }
    let span = u32::from(to.end.saturating_sub(to.start)) + 1;
    let pairs = (from.start..=from.end)
        .map(|port| {
            let offset = u32::from(port - from.start) % span;
            // The offset is below the span of a u16 range, so the sum fits.
            (port, (u32::from(to.start) + offset) as u16)
        })
        .collect();
    Ok(pairs)
}

/// Pairs each address of `from` with the address at the same position in `to`,
/// wrapping around `to` as the engine does.
fn address_pairs(from: &[AddrRange], to: &[AddrRange]) -> Result<Vec<(Ipv4Addr, Ipv4Addr)>, String> {
    let limit = || format!("more than {MAX_MAP_ELEMENTS} addresses, which the kernel rule would list one by one");
    let from = list_addresses(from, MAX_MAP_ELEMENTS).map_err(|()| limit())?;
    let to = list_addresses(to, MAX_MAP_ELEMENTS).map_err(|()| limit())?;
    if to.is_empty() {
        return Err("an empty address list".into());
    }
    Ok(from.iter().enumerate().map(|(i, a)| (*a, to[i % to.len()])).collect())
}

/// Derives the forward destination rewrite of a rule from its `destination static
/// MAPPED REAL` clause and the destination port of its service.
fn forward_destination(rule: &NatRule, port: Option<PortChange>) -> Result<Option<DestinationAction>, String> {
    let address = match &rule.destination {
        None => None,
        Some((mapped, real)) if mapped == real => None,
        // Every mapped destination lands on the one real address, as the engine wraps.
        Some((_, real)) if single_host(real).is_some() => single_host(real).map(|address| DestinationAction::Host { address, port: None }),
        Some((mapped, real)) => match (single_prefix(mapped), single_prefix(real)) {
            (Some(mapped), Some(real)) if mapped.len == real.len => Some(DestinationAction::Prefix { mapped, real }),
            _ => return Err("twice NAT whose destination maps between ranges that are not one host or one prefix of equal length each".into()),
        },
    };
    match (address, port) {
        (None, None) => Ok(None),
        (None, Some(PortChange::One(port))) => Ok(Some(DestinationAction::Port { port })),
        (None, Some(PortChange::Map { protocol, pairs })) => Ok(Some(DestinationAction::PortMap { protocol, address: None, pairs })),
        (Some(DestinationAction::Host { address, .. }), Some(PortChange::Map { protocol, pairs })) => {
            Ok(Some(DestinationAction::PortMap { protocol, address: Some(address), pairs }))
        }
        (Some(DestinationAction::Host { address, .. }), None) => Ok(Some(DestinationAction::Host { address, port: None })),
        (Some(DestinationAction::Host { address, .. }), Some(PortChange::One(port))) => Ok(Some(DestinationAction::Host { address, port: Some(port) })),
        (Some(prefix), None) => Ok(Some(prefix)),
        // A prefix with a new port becomes one pair per address, each with the port.
        (Some(DestinationAction::Prefix { mapped, real }), Some(PortChange::One(port))) => {
            let protocol = rule.service.as_ref().map_or(PROTO_TCP, |s| s.protocol);
            let pairs = address_pairs(&[prefix_range(mapped)], &[prefix_range(real)])?;
            Ok(Some(DestinationAction::AddressMap { pairs, port: Some((protocol, port)) }))
        }
        (Some(_), Some(_)) => Err("twice NAT that maps a destination prefix and maps a destination port range onto another".into()),
    }
}

/// Derives the reverse direction of a rule from its destination clause, `None` when the
/// kernel cannot map the real destinations back onto the mapped ones.
fn reverse_of(rule: &NatRule) -> Option<Reverse> {
    let Some((mapped, real)) = &rule.destination else {
        return Some(Reverse { peers: Vec::new(), source: None });
    };
    let peers = any_to_empty(real);
    if mapped == real {
        return Some(Reverse { peers, source: None });
    }
    // Every real destination lands on the one mapped address, as the engine wraps, and
    // one real destination lands on the first mapped address.
    let first_mapped = match mapped.first() {
        Some(AddrRange { start: IpAddr::V4(first), .. }) => Some(*first),
        _ => None,
    };
    if let (Some(address), true) = (first_mapped, single_host(mapped).is_some() || single_host(real).is_some()) {
        return Some(Reverse { peers, source: Some(SourceAction::Host { address, port: None }) });
    }
    match (single_prefix(real), single_prefix(mapped)) {
        (Some(real), Some(mapped)) if real.len == mapped.len => Some(Reverse { peers, source: Some(SourceAction::Prefix { real, mapped }) }),
        // `forward_destination` rejects these rules before the reverse matters.
        _ => None,
    }
}

/// True when the rule's service matches the destination port, so that its reverse
/// direction carries replies only, which conntrack translates.
fn ports_of_replies(rule: &NatRule) -> bool {
    rule.service.as_ref().is_some_and(|s| !s.source_port)
}

/// Returns the port match of a reverse statement: a source-port service seen from the
/// peer.
fn inbound_service(rule: &NatRule) -> Option<ServiceMatch> {
    rule.service.as_ref().map(|s| ServiceMatch { protocol: s.protocol, source_port: false, ports: s.mapped })
}

/// Builds the reverse of static NAT of one host for connections opened from the mapped
/// side, when `reverse` admits them.
fn static_host_inbound(rule: &NatRule, in_device: &str, reverse: Option<Reverse>, real: Ipv4Addr, address: Ipv4Addr) -> Option<DestinationNat> {
    let reverse = reverse?;
    if ports_of_replies(rule) {
        return None;
    }
    // A changed port maps onto the first real port, unless both sides are ranges,
    // which map port by port.
    let changed = rule.service.as_ref().filter(|s| s.real != s.mapped);
    let action = match changed {
        Some(s) if single_port(&s.real).is_none() && single_port(&s.mapped).is_none() => {
            let pairs = port_pairs(&s.mapped, &s.real).ok()?;
            DestinationAction::PortMap { protocol: s.protocol, address: Some(real), pairs }
        }
        _ => DestinationAction::Host { address: real, port: changed.map(|s| s.real.start) },
    };
    Some(DestinationNat {
        origin: rule.origin.clone(),
        in_device: in_device.to_string(),
        packet: PacketMatch { sources: reverse.peers, destinations: vec![AddrRange::host(IpAddr::V4(address))], service: inbound_service(rule) },
        action: Some(action),
        source: reverse.source,
    })
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
        ClearPlan::from_policy_with(&config, "eth1", "rampart0", &fixture_devices)
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
        let addresses: Vec<Ipv4Addr> = (64..=79).map(|i| Ipv4Addr::new(203, 0, 113, i)).collect();
        assert_eq!(p.source_nat[0].action, SourceAction::Pool { rule: 0, map: "pool_0".into(), addresses, pat_fallback: false });
    }

    #[test]
    fn dynamic_split_pool_lists_addresses() {
        let pool = NatMapped::Addresses(vec![net("203.0.113.64/31"), net("203.0.113.80/31")]);
        let p = plan(vec![dynamic_rule("10.10.0.0/16", pool)]);
        let addresses = ["203.0.113.64", "203.0.113.65", "203.0.113.80", "203.0.113.81"].map(v4).to_vec();
        assert_eq!(p.source_nat[0].action, SourceAction::Pool { rule: 0, map: "pool_0".into(), addresses, pat_fallback: false });
    }

    #[test]
    fn dynamic_huge_split_pool_unsupported() {
        let pool = NatMapped::Addresses(vec![net("198.18.0.0/16"), net("203.0.113.80/31")]);
        let p = plan(vec![dynamic_rule("10.10.0.0/16", pool)]);
        assert_eq!(p.unsupported.len(), 1);
    }

    #[test]
    fn static_host_both_directions() {
        let p = plan(vec![static_rule("10.10.1.100/32", "203.0.113.100/32")]);
        assert_eq!(p.source_nat[0].action, SourceAction::Host { address: v4("203.0.113.100"), port: None });
        assert_eq!(p.destination_nat[0].action, Some(DestinationAction::Host { address: v4("10.10.1.100"), port: None }));
    }

    #[test]
    fn static_subnet_prefix() {
        let p = plan(vec![static_rule("10.10.1.0/24", "203.0.113.0/24")]);
        let real = Prefix { addr: v4("10.10.1.0"), len: 24 };
        let mapped = Prefix { addr: v4("203.0.113.0"), len: 24 };
        assert_eq!(p.source_nat[0].action, SourceAction::Prefix { real, mapped });
        assert_eq!(p.destination_nat[0].action, Some(DestinationAction::Prefix { mapped, real }));
    }

    #[test]
    fn static_unequal_subnets_wrap() {
        let p = plan(vec![static_rule("10.10.1.0/30", "203.0.113.0/31")]);
        let pairs = [("10.10.1.0", "203.0.113.0"), ("10.10.1.1", "203.0.113.1"), ("10.10.1.2", "203.0.113.0"), ("10.10.1.3", "203.0.113.1")];
        let pairs: Vec<(Ipv4Addr, Ipv4Addr)> = pairs.iter().map(|(r, m)| (v4(r), v4(m))).collect();
        assert_eq!(p.source_nat[0].action, SourceAction::AddressMap { pairs });
    }

    #[test]
    fn static_unequal_reverse_lowest_real() {
        let p = plan(vec![static_rule("10.10.1.0/30", "203.0.113.0/31")]);
        let pairs = vec![(v4("203.0.113.0"), v4("10.10.1.0")), (v4("203.0.113.1"), v4("10.10.1.1"))];
        assert_eq!(p.destination_nat[0].action, Some(DestinationAction::AddressMap { pairs, port: None }));
    }

    #[test]
    fn static_one_to_many_reverse() {
        let p = plan(vec![static_rule("10.10.1.5/32", "203.0.113.0/31")]);
        assert_eq!(p.source_nat[0].action, SourceAction::AddressMap { pairs: vec![(v4("10.10.1.5"), v4("203.0.113.0"))] });
        let pairs = vec![(v4("203.0.113.0"), v4("10.10.1.5")), (v4("203.0.113.1"), v4("10.10.1.5"))];
        assert_eq!(p.destination_nat[0].action, Some(DestinationAction::AddressMap { pairs, port: None }));
    }

    #[test]
    fn static_unequal_too_large_unsupported() {
        let p = plan(vec![static_rule("10.10.0.0/16", "203.0.113.0/25")]);
        assert!(p.source_nat.is_empty());
        assert_eq!(p.unsupported.len(), 1);
    }

    #[test]
    fn static_pat_maps_ports() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.service = Some(NatService { protocol: PROTO_TCP, source_port: true, real: PortRange::single(80), mapped: PortRange::single(8080) });
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].action, SourceAction::Host { address: v4("203.0.113.100"), port: Some(8080) });
        assert_eq!(p.destination_nat[0].action, Some(DestinationAction::Host { address: v4("10.10.1.100"), port: Some(80) }));
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
    fn twice_nat_destination_prefix() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.destination = Some((vec![net("192.168.50.0/24")], vec![net("198.18.50.0/24")]));
        let p = plan(vec![rule]);
        let mapped = Prefix { addr: v4("192.168.50.0"), len: 24 };
        let real = Prefix { addr: v4("198.18.50.0"), len: 24 };
        assert_eq!(p.source_nat[0].destination, Some(DestinationAction::Prefix { mapped, real }));
        assert_eq!(p.source_nat[0].packet.destinations, vec![net("192.168.50.0/24")]);
    }

    #[test]
    fn twice_nat_reverse_maps_peer() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.destination = Some((vec![net("192.168.50.0/24")], vec![net("198.18.50.0/24")]));
        let p = plan(vec![rule]);
        let real = Prefix { addr: v4("198.18.50.0"), len: 24 };
        let mapped = Prefix { addr: v4("192.168.50.0"), len: 24 };
        assert_eq!(p.destination_nat[0].source, Some(SourceAction::Prefix { real, mapped }));
        assert_eq!(p.destination_nat[0].packet.sources, vec![net("198.18.50.0/24")]);
        assert_eq!(p.destination_nat[0].action, Some(DestinationAction::Host { address: v4("10.10.1.100"), port: None }));
    }

    #[test]
    fn twice_nat_identity_reverse_source_only() {
        let mut rule = identity_service_nat(80, 1, "http");
        rule.service = None;
        rule.destination = Some((vec![net("192.168.50.9/32")], vec![net("198.18.50.9/32")]));
        let p = plan(vec![rule]);
        assert_eq!(p.destination_nat[0].action, None);
        assert_eq!(p.destination_nat[0].source, Some(SourceAction::Host { address: v4("192.168.50.9"), port: None }));
        assert_eq!(p.destination_nat[0].packet.destinations, vec![net("10.10.0.0/16")]);
    }

    #[test]
    fn twice_nat_reverse_one_real_peer() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.destination = Some((vec![net("192.168.50.0/24")], vec![net("198.18.50.9/32")]));
        let p = plan(vec![rule]);
        assert_eq!(p.destination_nat[0].source, Some(SourceAction::Host { address: v4("192.168.50.0"), port: None }));
    }

    #[test]
    fn twice_nat_many_to_one_host() {
        let mut rule = after_auto_pat(52);
        rule.destination = Some((vec![net("192.168.50.0/24")], vec![net("198.18.50.5/32")]));
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].destination, Some(DestinationAction::Host { address: v4("198.18.50.5"), port: None }));
    }

    #[test]
    fn twice_nat_unequal_prefixes_unsupported() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.destination = Some((vec![net("192.168.50.0/24")], vec![net("198.18.50.0/25")]));
        assert_eq!(plan(vec![rule]).unsupported.len(), 1);
    }

    #[test]
    fn twice_nat_prefix_with_port() {
        let mut rule = identity_service_nat(80, 1, "http");
        rule.destination = Some((vec![net("192.168.50.0/30")], vec![net("198.18.50.0/30")]));
        if let Some(service) = rule.service.as_mut() {
            service.mapped = PortRange::single(8080);
        }
        let p = plan(vec![rule]);
        let pairs: Vec<(Ipv4Addr, Ipv4Addr)> = (0..4).map(|i| (Ipv4Addr::new(192, 168, 50, i), Ipv4Addr::new(198, 18, 50, i))).collect();
        assert_eq!(p.source_nat[0].destination, Some(DestinationAction::AddressMap { pairs, port: Some((PROTO_TCP, 8080)) }));
    }

    #[test]
    fn twice_nat_prefix_with_port_range_unsupported() {
        let mut rule = identity_service_nat(80, 1, "http");
        rule.destination = Some((vec![net("192.168.50.0/24")], vec![net("198.18.50.0/24")]));
        if let Some(service) = rule.service.as_mut() {
            service.real = PortRange { start: 8000, end: 8009 };
            service.mapped = PortRange { start: 9000, end: 9009 };
        }
        assert_eq!(plan(vec![rule]).unsupported.len(), 1);
    }

    #[test]
    fn twice_nat_host_with_port() {
        let mut rule = identity_service_nat(80, 1, "http");
        rule.destination = Some((vec![net("192.168.50.9/32")], vec![net("198.18.50.9/32")]));
        if let Some(service) = rule.service.as_mut() {
            service.mapped = PortRange::single(8080);
        }
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].destination, Some(DestinationAction::Host { address: v4("198.18.50.9"), port: Some(8080) }));
    }

    #[test]
    fn service_destination_port_range_to_one() {
        let mut rule = identity_service_nat(80, 1, "http");
        if let Some(service) = rule.service.as_mut() {
            service.real = PortRange { start: 8000, end: 8099 };
            service.mapped = PortRange::single(80);
        }
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].destination, Some(DestinationAction::Port { port: 80 }));
        assert_eq!(p.source_nat[0].packet.service.as_ref().map(|s| s.ports), Some(PortRange { start: 8000, end: 8099 }));
    }

    #[test]
    fn service_range_to_range_maps_ports() {
        let mut rule = identity_service_nat(80, 1, "http");
        if let Some(service) = rule.service.as_mut() {
            service.real = PortRange { start: 8000, end: 8002 };
            service.mapped = PortRange { start: 9000, end: 9002 };
        }
        let p = plan(vec![rule]);
        let pairs = vec![(8000, 9000), (8001, 9001), (8002, 9002)];
        assert_eq!(p.source_nat[0].destination, Some(DestinationAction::PortMap { protocol: PROTO_TCP, address: None, pairs }));
    }

    #[test]
    fn static_source_port_range_both_directions() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.service = Some(NatService { protocol: PROTO_TCP, source_port: true, real: PortRange { start: 8000, end: 8001 }, mapped: PortRange { start: 9000, end: 9001 } });
        let p = plan(vec![rule]);
        let forward = vec![(8000, 9000), (8001, 9001)];
        assert_eq!(p.source_nat[0].action, SourceAction::PortMap { protocol: PROTO_TCP, address: Some(v4("203.0.113.100")), pairs: forward });
        let backward = vec![(9000, 8000), (9001, 8001)];
        assert_eq!(p.destination_nat[0].action, Some(DestinationAction::PortMap { protocol: PROTO_TCP, address: Some(v4("10.10.1.100")), pairs: backward }));
    }

    #[test]
    fn service_equal_ranges_match_only() {
        let mut rule = identity_service_nat(80, 1, "http");
        if let Some(service) = rule.service.as_mut() {
            service.real = PortRange { start: 8000, end: 8009 };
            service.mapped = service.real;
        }
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].destination, None);
        assert_eq!(p.source_nat[0].action, SourceAction::Keep);
    }

    #[test]
    fn identity_source_port_translation() {
        let mut rule = identity_service_nat(80, 1, "http");
        if let Some(service) = rule.service.as_mut() {
            service.source_port = true;
            service.mapped = PortRange::single(8080);
        }
        assert_eq!(plan(vec![rule]).source_nat[0].action, SourceAction::Port { port: 8080 });
    }

    #[test]
    fn static_destination_port_forward_only() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.service = Some(NatService { protocol: PROTO_TCP, source_port: false, real: PortRange::single(80), mapped: PortRange::single(8080) });
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].destination, Some(DestinationAction::Port { port: 8080 }));
        assert!(p.destination_nat.is_empty());
    }

    #[test]
    fn twice_nat_identity_destination_matches() {
        let mut rule = identity_service_nat(80, 1, "http");
        rule.destination = Some((vec![net("198.18.0.0/15")], vec![net("198.18.0.0/15")]));
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].packet.destinations, vec![net("198.18.0.0/15")]);
    }

    #[test]
    fn other_mapped_interface_device() {
        let mut rule = after_auto_pat(7);
        rule.mapped_interface = Some("dmz".to_string());
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].out_device, "eth2");
    }

    #[test]
    fn other_mapped_interface_static_address() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.mapped_interface = Some("dmz".to_string());
        rule.mapped_source = NatMapped::Interface;
        rule.service = Some(NatService { protocol: PROTO_TCP, source_port: true, real: PortRange::single(22), mapped: PortRange::single(2222) });
        let p = plan(vec![rule]);
        assert_eq!(p.source_nat[0].action, SourceAction::Host { address: v4("172.16.5.1"), port: Some(2222) });
        assert_eq!(p.destination_nat[0].in_device, "eth2");
    }

    #[test]
    fn mapped_interface_without_device_unsupported() {
        let mut config = guide_config();
        let mut rule = after_auto_pat(7);
        rule.mapped_interface = Some("dmz".to_string());
        config.nat_rules = vec![rule];
        let p = ClearPlan::from_policy_with(&config, "eth1", "rampart0", &|_| None);
        assert_eq!(p.unsupported.first().map(|u| u.origin.line), Some(7));
    }

    #[test]
    fn proxy_arp_static_and_pool() {
        let p = plan(vec![
            static_rule("10.10.1.100/32", "203.0.113.100/32"),
            dynamic_rule(
                "10.10.0.0/16",
                NatMapped::Addresses(vec![net("203.0.113.64/31")]),
            ),
        ]);
        let addresses: Vec<Vec<Ipv4Addr>> =
            p.proxy_arp.iter().map(|e| e.addresses.clone()).collect();
        assert_eq!(
            addresses,
            vec![
                vec![v4("203.0.113.100")],
                vec![v4("203.0.113.64"), v4("203.0.113.65")]
            ]
        );
        assert_eq!(p.proxy_arp[0].device, "eth1");
    }

    #[test]
    fn proxy_arp_respects_no_proxy_arp() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.no_proxy_arp = true;
        assert!(plan(vec![rule]).proxy_arp.is_empty());
    }

    #[test]
    fn proxy_arp_interface_pat_none() {
        assert!(plan(vec![after_auto_pat(52)]).proxy_arp.is_empty());
    }

    #[test]
    fn proxy_arp_identity_unrouted() {
        let p = plan(vec![identity_service_nat(80, 1, "http")]);
        assert!(
            p.proxy_arp.is_empty(),
            "a /16 of real addresses passes the limit"
        );
        assert_eq!(p.proxy_arp_skipped.len(), 1);
        let mut rule = identity_service_nat(80, 1, "http");
        rule.real_source = vec![net("10.10.1.0/30")];
        let p = plan(vec![rule]);
        assert!(p.proxy_arp[0].identity);
        assert_eq!(p.proxy_arp[0].addresses.len(), 4);
    }

    #[test]
    fn unsupported_rules_indices() {
        let mut config = guide_config();
        config.nat_rules = vec![static_rule("10.10.1.100/32", "203.0.113.100/32"), static_rule("10.10.0.0/16", "203.0.113.0/25"), after_auto_pat(52)];
        assert_eq!(unsupported_rules(&config), vec![1]);
    }
}
