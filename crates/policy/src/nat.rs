//! NAT rule matching in the ASA's order (8.3 and later).
//!
//! One table contains section 1 (manual NAT in config order), section 2 (object NAT: static
//! rules before dynamic ones, then fewest real addresses, then lowest real address) and
//! section 3 (manual `after-auto` NAT in config order). The first rule that matches a
//! flow is the only one applied.
//!
//! A rule matches in two directions. Forward, a packet from the real interface with a
//! real source is translated to the mapped source. Reverse ("untranslate"), a packet
//! arriving on the mapped interface for a mapped address of a static rule is translated
//! back to the real address; dynamic rules translate in reverse only through an existing
//! xlate, which the daemon's `XlateTable` holds.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use crate::error::PolicyError;
use crate::flow::Flow;
use crate::model::{AddrRange, NatKind, NatMapped, NatRule, NatSection, NatService, PolicyConfig, PortRange};

/// The rewrite a NAT rule applies to a flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TranslationKind {
    /// A static rule that keeps the addresses (identity NAT): nothing to rewrite.
    StaticIdentity,
    /// A static one-to-one rule: the engine's translated flow is final.
    Static,
    /// Dynamic PAT to one address (`interface` or a host object). The translated flow
    /// carries the real source port; `XlateTable` allocates the mapped port.
    DynamicPat { address: IpAddr },
    /// Dynamic NAT from an address pool. The translated flow carries the pool's first
    /// address; `XlateTable` allocates one address per real host.
    DynamicNat { pool: Vec<AddrRange> },
}

impl TranslationKind {
    pub fn is_dynamic(&self) -> bool {
        matches!(self, TranslationKind::DynamicPat { .. } | TranslationKind::DynamicNat { .. })
    }
}

/// A NAT rule that matched a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatMatch {
    /// Index into `PolicyConfig::nat_rules`.
    pub rule: usize,
    pub flow: Flow,
    pub kind: TranslationKind,
    /// True when the packet matched the mapped side of a static rule (untranslate).
    pub reverse: bool,
    /// The interface a static rule sends the packet to ("NAT divert"), unless the rule
    /// has `route-lookup` or leaves the interface as `any`.
    pub divert: Option<String>,
}

#[derive(Clone, Debug)]
struct CompiledNat {
    index: usize,
    real_interface: Option<String>,
    mapped_interface: Option<String>,
    kind: NatKind,
    real: Vec<AddrRange>,
    mapped: NatMapped,
    destination: Option<(Vec<AddrRange>, Vec<AddrRange>)>,
    service: Option<NatService>,
    route_lookup: bool,
}

/// NAT rules in evaluation order, with the interface addresses that `interface` maps to.
#[derive(Clone, Debug, Default)]
pub struct NatTable {
    rules: Vec<CompiledNat>,
    addresses: HashMap<String, Ipv4Addr>,
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_u128(like: IpAddr, n: u128) -> IpAddr {
    match like {
        // The value comes from an IPv4 range, so it fits in 32 bits.
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
        IpAddr::V6(_) => IpAddr::V6(n.into()),
    }
}

fn range_len(r: &AddrRange) -> u128 {
    to_u128(r.end).saturating_sub(to_u128(r.start)).saturating_add(1)
}

/// Number of addresses in a set of ranges.
pub(crate) fn address_count(ranges: &[AddrRange]) -> u128 {
    ranges.iter().map(range_len).fold(0u128, u128::saturating_add)
}

/// Position of `a` within the concatenated ranges.
fn offset_of(ranges: &[AddrRange], a: IpAddr) -> Option<u128> {
    let mut base = 0u128;
    for r in ranges {
        if r.contains(a) {
            return Some(base.saturating_add(to_u128(a) - to_u128(r.start)));
        }
        base = base.saturating_add(range_len(r));
    }
    None
}

/// Return the address at position `n` of the concatenated ranges. Positions past the end
/// wrap, which happens when a static rule maps many real addresses onto fewer mapped ones.
fn nth_address(ranges: &[AddrRange], n: u128) -> Option<IpAddr> {
    let total = address_count(ranges);
    if total == 0 {
        return None;
    }
    let mut n = n % total;
    for r in ranges {
        let len = range_len(r);
        if n < len {
            return Some(from_u128(r.start, to_u128(r.start) + n));
        }
        n -= len;
    }
    None
}

fn map_address(from: &[AddrRange], to: &[AddrRange], a: IpAddr) -> Option<IpAddr> {
    nth_address(to, offset_of(from, a)?)
}

fn map_port(from: &PortRange, to: &PortRange, p: u16) -> u16 {
    let span = u32::from(to.end.saturating_sub(to.start)) + 1;
    let offset = u32::from(p.saturating_sub(from.start)) % span;
    // The offset is below the span of a u16 range, so the sum fits.
    (u32::from(to.start) + offset) as u16
}

fn lowest_address(ranges: &[AddrRange]) -> u128 {
    ranges.iter().map(|r| to_u128(r.start)).min().unwrap_or(u128::MAX)
}

fn interface_matches(rule_interface: &Option<String>, interface: &str) -> bool {
    rule_interface.as_deref().is_none_or(|name| name == interface)
}

impl NatTable {
    pub fn new(config: &PolicyConfig) -> Result<NatTable, PolicyError> {
        let addresses: HashMap<String, Ipv4Addr> =
            config.interfaces.iter().filter_map(|i| Some((i.name.clone(), i.address?.0))).collect();
        let known = |name: &Option<String>| name.as_ref().is_none_or(|n| config.interfaces.iter().any(|i| &i.name == n));

        let mut rules = Vec::with_capacity(config.nat_rules.len());
        for (index, rule) in config.nat_rules.iter().enumerate() {
            for ifc in [&rule.real_interface, &rule.mapped_interface] {
                if !known(ifc) {
                    return Err(PolicyError::UnknownNatInterface {
                        interface: ifc.clone().unwrap_or_default(),
                        line: rule.origin.line,
                    });
                }
            }
            validate_mapped(rule, &addresses)?;
            rules.push(CompiledNat {
                index,
                real_interface: rule.real_interface.clone(),
                mapped_interface: rule.mapped_interface.clone(),
                kind: rule.kind,
                real: rule.real_source.clone(),
                mapped: rule.mapped_source.clone(),
                destination: rule.destination.clone(),
                service: rule.service.clone(),
                route_lookup: rule.route_lookup,
            });
        }

        // The front end orders the rules already. Sorting again makes the table correct
        // for a PolicyConfig built by hand, and the stable sort keeps the front end's
        // order for ties, which it breaks by object name.
        rules.sort_by(|a, b| {
            let (ra, rb) = (&config.nat_rules[a.index], &config.nat_rules[b.index]);
            ra.section.cmp(&rb.section).then_with(|| {
                if ra.section != NatSection::Object {
                    return std::cmp::Ordering::Equal;
                }
                let static_first = |k: NatKind| k != NatKind::Static;
                static_first(ra.kind)
                    .cmp(&static_first(rb.kind))
                    .then(address_count(&a.real).cmp(&address_count(&b.real)))
                    .then(lowest_address(&a.real).cmp(&lowest_address(&b.real)))
            })
        });
        Ok(NatTable { rules, addresses })
    }

    /// Indices into `PolicyConfig::nat_rules` in evaluation order.
    pub fn order(&self) -> impl Iterator<Item = usize> + '_ {
        self.rules.iter().map(|r| r.index)
    }

    /// Find the first static rule whose mapped side matches a packet arriving on `ingress`
    /// (reverse), or whose `destination static` clause matches it forward. Both decide the
    /// egress interface before the route lookup, which the ASA calls "NAT divert".
    pub fn untranslate(&self, flow: &Flow, ingress: &str) -> Option<NatMatch> {
        self.rules.iter().find_map(|rule| {
            if let Some(m) = self.match_reverse(rule, flow, ingress) {
                return Some(m);
            }
            if rule.destination.is_some() {
                return self.match_forward(rule, flow, ingress, None);
            }
            None
        })
    }

    /// Find the first rule that translates a packet from `ingress` to `egress` forward.
    pub fn translate(&self, flow: &Flow, ingress: &str, egress: &str) -> Option<NatMatch> {
        self.rules.iter().find_map(|rule| self.match_forward(rule, flow, ingress, Some(egress)))
    }

    /// Apply rule `index` forward to a packet from `ingress` to `egress`.
    pub fn translate_with(&self, index: usize, flow: &Flow, ingress: &str, egress: &str) -> Option<NatMatch> {
        let rule = self.rules.iter().find(|r| r.index == index)?;
        self.match_forward(rule, flow, ingress, Some(egress))
    }

    fn mapped_interface_address(&self, rule: &CompiledNat, egress: Option<&str>) -> Option<IpAddr> {
        let name = rule.mapped_interface.as_deref().or(egress)?;
        self.addresses.get(name).map(|a| IpAddr::V4(*a))
    }

    fn match_forward(&self, rule: &CompiledNat, flow: &Flow, ingress: &str, egress: Option<&str>) -> Option<NatMatch> {
        if !interface_matches(&rule.real_interface, ingress) {
            return None;
        }
        if let Some(egress) = egress
            && !interface_matches(&rule.mapped_interface, egress)
        {
            return None;
        }
        offset_of(&rule.real, flow.src)?;
        let mut out = *flow;
        if let Some((mapped_dst, real_dst)) = &rule.destination {
            out.dst = map_address(mapped_dst, real_dst, flow.dst)?;
        }
        if let Some(service) = &rule.service {
            if service.protocol != flow.protocol {
                return None;
            }
            let port = if service.source_port { &mut out.src_port } else { &mut out.dst_port };
            if !service.real.contains(*port) {
                return None;
            }
            *port = map_port(&service.real, &service.mapped, *port);
        }

        let kind = match (&rule.mapped, rule.kind) {
            (NatMapped::Identity, _) => TranslationKind::StaticIdentity,
            (NatMapped::Interface, NatKind::Static) => {
                out.src = self.mapped_interface_address(rule, egress)?;
                TranslationKind::Static
            }
            (NatMapped::Interface, NatKind::Dynamic) => {
                let address = self.mapped_interface_address(rule, egress)?;
                out.src = address;
                TranslationKind::DynamicPat { address }
            }
            (NatMapped::Addresses(mapped), NatKind::Static) => {
                out.src = map_address(&rule.real, mapped, flow.src)?;
                TranslationKind::Static
            }
            (NatMapped::Addresses(mapped), NatKind::Dynamic) => {
                let first = nth_address(mapped, 0)?;
                out.src = first;
                // A single mapped address makes the rule PAT, as on the ASA.
                if address_count(mapped) == 1 {
                    TranslationKind::DynamicPat { address: first }
                } else {
                    TranslationKind::DynamicNat { pool: mapped.clone() }
                }
            }
        };
        let kind = if kind == TranslationKind::StaticIdentity && out != *flow { TranslationKind::Static } else { kind };
        let divert = match egress {
            None if !rule.route_lookup => rule.mapped_interface.clone(),
            _ => None,
        };
        Some(NatMatch { rule: rule.index, flow: out, kind, reverse: false, divert })
    }

    fn match_reverse(&self, rule: &CompiledNat, flow: &Flow, ingress: &str) -> Option<NatMatch> {
        if rule.kind != NatKind::Static || !interface_matches(&rule.mapped_interface, ingress) {
            return None;
        }
        let mut out = *flow;
        out.dst = match &rule.mapped {
            NatMapped::Identity => {
                offset_of(&rule.real, flow.dst)?;
                flow.dst
            }
            NatMapped::Interface => {
                if self.mapped_interface_address(rule, Some(ingress))? != flow.dst {
                    return None;
                }
                nth_address(&rule.real, 0)?
            }
            NatMapped::Addresses(mapped) => map_address(mapped, &rule.real, flow.dst)?,
        };
        if let Some((mapped_dst, real_dst)) = &rule.destination {
            out.src = map_address(real_dst, mapped_dst, flow.src)?;
        }
        if let Some(service) = &rule.service {
            if service.protocol != flow.protocol {
                return None;
            }
            // The reply direction of a destination-port service carries the port as source.
            let port = if service.source_port { &mut out.dst_port } else { &mut out.src_port };
            if !service.mapped.contains(*port) {
                return None;
            }
            *port = map_port(&service.mapped, &service.real, *port);
        }
        let kind = if out == *flow { TranslationKind::StaticIdentity } else { TranslationKind::Static };
        let divert = if rule.route_lookup { None } else { rule.real_interface.clone() };
        Some(NatMatch { rule: rule.index, flow: out, kind, reverse: true, divert })
    }
}

fn validate_mapped(rule: &NatRule, addresses: &HashMap<String, Ipv4Addr>) -> Result<(), PolicyError> {
    match &rule.mapped_source {
        NatMapped::Interface => {
            if let Some(name) = &rule.mapped_interface
                && !addresses.contains_key(name)
            {
                return Err(PolicyError::NatInterfaceWithoutAddress { interface: name.clone(), line: rule.origin.line });
            }
        }
        NatMapped::Addresses(mapped) => {
            if address_count(mapped) == 0 || address_count(&rule.real_source) == 0 {
                return Err(PolicyError::EmptyNatAddresses {
                    real: rule.real_source.len(),
                    mapped: mapped.len(),
                    line: rule.origin.line,
                });
            }
        }
        NatMapped::Identity => {}
    }
    Ok(())
}

/// Format `addr/port` as packet-tracer's NAT phases do; portless protocols show `/0`.
pub(crate) fn format_endpoint(flow: &Flow, source: bool) -> String {
    let (addr, port) = if source { (flow.src, flow.src_port) } else { (flow.dst, flow.dst_port) };
    let port = if flow.has_ports() { port } else { 0 };
    format!("{addr}/{port}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::PROTO_TCP;
    use crate::testutil::*;

    fn rule(section: NatSection, kind: NatKind, real: &str, mapped: NatMapped, line: u32) -> NatRule {
        NatRule {
            section,
            real_interface: Some("inside".to_string()),
            mapped_interface: Some("outside".to_string()),
            kind,
            real_source: vec![net(real)],
            mapped_source: mapped,
            destination: None,
            service: None,
            no_proxy_arp: false,
            route_lookup: false,
            pat_fallback: false,
            origin: origin(line, "nat"),
        }
    }

    fn table(rules: Vec<NatRule>) -> NatTable {
        let mut config = guide_config();
        config.interfaces.push(interface("dmz", 50, [198, 51, 100, 1], 24));
        config.nat_rules = rules;
        NatTable::new(&config).expect("valid NAT rules")
    }

    fn pool(text: &str) -> NatMapped {
        NatMapped::Addresses(vec![net(text)])
    }

    const FLOW: (&str, u16, &str, u16) = ("10.10.1.5", 40000, "198.18.5.5", 443);

    fn forward(t: &NatTable) -> Option<NatMatch> {
        t.translate(&tcp(FLOW.0, FLOW.1, FLOW.2, FLOW.3), "inside", "outside")
    }

    #[test]
    fn order_manual_before_object() {
        let t = table(vec![
            rule(NatSection::Object, NatKind::Static, "10.10.1.5/32", pool("203.0.113.50/32"), 2),
            rule(NatSection::Manual, NatKind::Static, "10.10.0.0/16", NatMapped::Identity, 1),
        ]);
        assert_eq!(forward(&t).map(|m| m.rule), Some(1));
    }

    #[test]
    fn order_object_before_after_auto() {
        let t = table(vec![
            rule(NatSection::AfterAuto, NatKind::Dynamic, "0.0.0.0/0", NatMapped::Interface, 1),
            rule(NatSection::Object, NatKind::Dynamic, "10.10.0.0/16", pool("203.0.113.60/32"), 2),
        ]);
        assert_eq!(forward(&t).map(|m| m.rule), Some(1));
    }

    #[test]
    fn order_static_before_dynamic() {
        let t = table(vec![
            rule(NatSection::Object, NatKind::Dynamic, "10.10.1.5/32", pool("203.0.113.60/32"), 1),
            rule(NatSection::Object, NatKind::Static, "10.10.0.0/16", NatMapped::Identity, 2),
        ]);
        assert_eq!(forward(&t).map(|m| m.rule), Some(1));
    }

    #[test]
    fn order_fewest_addresses_first() {
        let t = table(vec![
            rule(NatSection::Object, NatKind::Static, "10.10.0.0/16", NatMapped::Identity, 1),
            rule(NatSection::Object, NatKind::Static, "10.10.1.0/24", pool("203.0.113.0/24"), 2),
        ]);
        let m = forward(&t).expect("match");
        assert_eq!(m.rule, 1);
        assert_eq!(m.flow.src, ip("203.0.113.5"));
    }

    #[test]
    fn order_lowest_address_first() {
        let t = table(vec![
            rule(NatSection::Object, NatKind::Dynamic, "10.10.1.0/24", pool("203.0.113.70/32"), 1),
            rule(NatSection::Object, NatKind::Dynamic, "0.0.0.0/8", pool("203.0.113.71/32"), 2),
            rule(NatSection::Object, NatKind::Dynamic, "10.10.0.0/24", pool("203.0.113.72/32"), 3),
        ]);
        let order: Vec<usize> = t.order().collect();
        assert_eq!(order, vec![2, 0, 1]);
    }

    #[test]
    fn order_manual_keeps_config_order() {
        let t = table(vec![
            rule(NatSection::Manual, NatKind::Dynamic, "0.0.0.0/0", NatMapped::Interface, 1),
            rule(NatSection::Manual, NatKind::Static, "10.10.1.5/32", NatMapped::Identity, 2),
        ]);
        assert_eq!(forward(&t).map(|m| m.rule), Some(0));
    }

    #[test]
    fn dynamic_single_address_is_pat() {
        let t = table(vec![rule(NatSection::Object, NatKind::Dynamic, "10.10.0.0/16", pool("203.0.113.60/32"), 1)]);
        assert_eq!(forward(&t).map(|m| m.kind), Some(TranslationKind::DynamicPat { address: ip("203.0.113.60") }));
    }

    #[test]
    fn dynamic_pool_is_nat() {
        let t = table(vec![rule(NatSection::Object, NatKind::Dynamic, "10.10.0.0/16", pool("203.0.113.64/28"), 1)]);
        let kind = forward(&t).map(|m| m.kind);
        assert_eq!(kind, Some(TranslationKind::DynamicNat { pool: vec![net("203.0.113.64/28")] }));
    }

    #[test]
    fn mapped_interface_must_match_egress() {
        let t = table(vec![rule(NatSection::Manual, NatKind::Dynamic, "0.0.0.0/0", NatMapped::Interface, 1)]);
        let flow = tcp(FLOW.0, FLOW.1, "198.51.100.7", 443);
        assert_eq!(t.translate(&flow, "inside", "dmz"), None);
    }

    #[test]
    fn any_mapped_interface_uses_egress_address() {
        let mut r = rule(NatSection::Manual, NatKind::Dynamic, "0.0.0.0/0", NatMapped::Interface, 1);
        r.mapped_interface = None;
        let t = table(vec![r]);
        let flow = tcp(FLOW.0, FLOW.1, "198.51.100.7", 443);
        let m = t.translate(&flow, "inside", "dmz").expect("match");
        assert_eq!(m.flow.src, ip("198.51.100.1"));
    }

    #[test]
    fn service_matches_destination_port_only() {
        let t = table(vec![identity_service_nat(80, 1, "http")]);
        assert!(t.translate(&tcp(FLOW.0, FLOW.1, FLOW.2, 80), "inside", "outside").is_some());
        assert!(t.translate(&tcp(FLOW.0, 80, FLOW.2, 8080), "inside", "outside").is_none());
        assert!(t.translate(&udp(FLOW.0, FLOW.1, FLOW.2, 80), "inside", "outside").is_none());
    }

    #[test]
    fn service_source_port_static_pat() {
        // Static PAT: the server's port 80 is published as 8080 on 203.0.113.100.
        let mut r = rule(NatSection::Manual, NatKind::Static, "10.10.1.100/32", pool("203.0.113.100/32"), 1);
        r.service = Some(NatService { protocol: PROTO_TCP, source_port: true, real: PortRange::single(80), mapped: PortRange::single(8080) });
        let t = table(vec![r]);
        let reply = t.translate(&tcp("10.10.1.100", 80, "198.18.5.5", 50000), "inside", "outside").expect("forward");
        assert_eq!((reply.flow.src, reply.flow.src_port), (ip("203.0.113.100"), 8080));
        let inbound = t.untranslate(&tcp("198.18.5.5", 50000, "203.0.113.100", 8080), "outside").expect("reverse");
        assert_eq!((inbound.flow.dst, inbound.flow.dst_port), (ip("10.10.1.100"), 80));
        assert_eq!(inbound.divert.as_deref(), Some("inside"));
        assert!(t.untranslate(&tcp("198.18.5.5", 50000, "203.0.113.100", 80), "outside").is_none());
    }

    #[test]
    fn reverse_identity_service_uses_source_port() {
        let t = table(vec![identity_service_nat(80, 1, "http")]);
        let m = t.untranslate(&tcp("198.18.5.5", 80, "10.10.1.5", 40000), "outside").expect("reverse");
        assert_eq!(m.kind, TranslationKind::StaticIdentity);
        assert_eq!(m.divert.as_deref(), Some("inside"));
        assert!(t.untranslate(&tcp("198.18.5.5", 81, "10.10.1.5", 40000), "outside").is_none());
    }

    #[test]
    fn reverse_ignores_dynamic_rules() {
        let t = table(vec![rule(NatSection::Object, NatKind::Dynamic, "10.10.0.0/16", pool("203.0.113.60/32"), 1)]);
        assert!(t.untranslate(&tcp("198.18.5.5", 80, "203.0.113.60", 40000), "outside").is_none());
    }

    #[test]
    fn twice_nat_destination_diverts() {
        let mut r = rule(NatSection::Manual, NatKind::Static, "10.10.0.0/16", NatMapped::Identity, 1);
        r.destination = Some((vec![net("198.18.0.0/15")], vec![net("198.18.0.0/15")]));
        let t = table(vec![r.clone()]);
        let m = t.untranslate(&tcp(FLOW.0, FLOW.1, FLOW.2, FLOW.3), "inside").expect("destination match");
        assert_eq!(m.divert.as_deref(), Some("outside"));
        assert!(!m.reverse);
        r.route_lookup = true;
        let t = table(vec![r]);
        let m = t.untranslate(&tcp(FLOW.0, FLOW.1, FLOW.2, FLOW.3), "inside").expect("destination match");
        assert_eq!(m.divert, None);
    }

    #[test]
    fn twice_nat_translates_destination() {
        let mut r = rule(NatSection::Manual, NatKind::Static, "10.10.0.0/16", NatMapped::Identity, 1);
        r.destination = Some((vec![net("192.168.50.0/24")], vec![net("198.18.50.0/24")]));
        let t = table(vec![r]);
        let m = t.translate(&tcp(FLOW.0, FLOW.1, "192.168.50.9", 443), "inside", "outside").expect("match");
        assert_eq!(m.flow.dst, ip("198.18.50.9"));
        assert_eq!(m.kind, TranslationKind::Static);
    }

    #[test]
    fn static_interface_reverse() {
        let mut r = rule(NatSection::Object, NatKind::Static, "10.10.1.100/32", NatMapped::Interface, 1);
        r.service = Some(NatService { protocol: PROTO_TCP, source_port: true, real: PortRange::single(22), mapped: PortRange::single(2222) });
        let t = table(vec![r]);
        let m = t.untranslate(&tcp("198.18.5.5", 50000, OUTSIDE_ADDR, 2222), "outside").expect("reverse");
        assert_eq!((m.flow.dst, m.flow.dst_port), (ip("10.10.1.100"), 22));
    }

    #[test]
    fn offsets_saturate_on_ipv6_ranges() {
        let everything = AddrRange { start: ip("::"), end: ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") };
        let ranges = [everything, everything];
        assert_eq!(offset_of(&ranges, ip("2001:db8::1")), Some(u128::from(ip_v6("2001:db8::1"))));
        assert!(nth_address(&ranges, 5).is_some());
    }

    fn ip_v6(text: &str) -> std::net::Ipv6Addr {
        text.parse().expect("IPv6 address")
    }

    #[test]
    fn unknown_interface_rejected() {
        let mut config = guide_config();
        let mut r = rule(NatSection::Manual, NatKind::Static, "10.10.0.0/16", NatMapped::Identity, 9);
        r.mapped_interface = Some("wan".to_string());
        config.nat_rules = vec![r];
        let err = NatTable::new(&config).expect_err("unknown interface");
        assert_eq!(err, PolicyError::UnknownNatInterface { interface: "wan".to_string(), line: 9 });
    }

    #[test]
    fn interface_without_address_rejected() {
        let mut config = guide_config();
        config.interfaces[1].address = None;
        config.nat_rules = vec![after_auto_pat(9)];
        let err = NatTable::new(&config).expect_err("no address");
        assert_eq!(err, PolicyError::NatInterfaceWithoutAddress { interface: "outside".to_string(), line: 9 });
    }
}
