//! The nftables ruleset of a `ClearPlan`, as text for `nft -f -`.
//!
//! Four chains in `table ip rampart`:
//! - `zone_prerouting` and `zone_output` put every packet on the outside side of the
//!   daemon (TUN devices and mapped devices) into the plan's conntrack zone, before
//!   conntrack sees it (priority raw);
//! - `nat_prerouting` recognizes, for packets from the TUN devices, the rule the engine
//!   chose: one statement per rule in the engine's order sets the connection's mark to
//!   `CONNTRACK_MARK` plus the statement's index and applies the rule's destination
//!   rewrite, or accepts, which ends the chain. When rules map to several devices, a
//!   statement also requires the route to the destination to leave through its rule's
//!   device (`fib daddr oifname`). For packets arriving on a mapped device
//!   it applies the destination NAT of static rules to connections opened from there;
//! - `nat_postrouting` applies the source NAT of the marked rule toward its mapped
//!   device. Identity NAT is an `accept`, which keeps the addresses.
//!
//! Each NAT statement has a counter. The kernel runs NAT chains for the first packet of
//! a connection only, so the counters count connections per configuration line.

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};

use rampart_policy::flow::PROTO_TCP;
use rampart_policy::model::{AddrRange, Origin, PortRange};

use crate::route_plan::range_to_prefixes;

use super::plan::{ClearPlan, DestinationAction, DestinationNat, PacketMatch, SourceAction, SourceNat};
use super::ClearRoute;

/// Name of the nftables table that rampart owns.
pub const TABLE: &str = "rampart";

/// The PAT port range of the ASA.
const PAT_PORTS: &str = "1024-65535";

/// Base of the conntrack marks that carry the engine's rule choice from prerouting to
/// postrouting: statement `i` of `ClearPlan::source_nat` sets mark `CONNTRACK_MARK + i`.
/// Destination statement `j` sets `CONNTRACK_MARK + REVERSE_MARK + j`.
pub const CONNTRACK_MARK: u32 = 0x5241_0000;

/// Offset of the marks of connections opened from the mapped side.
pub const REVERSE_MARK: u32 = 0x8000;

/// Renders the script that replaces `table ip rampart` with the plan's rules in one
/// transaction: the first line creates the table when it is missing, so that the
/// delete that follows cannot fail.
pub fn render(plan: &ClearPlan) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail, so the results of writeln! are ignored.
    let _ = writeln!(out, "table ip {TABLE}");
    let _ = writeln!(out, "delete table ip {TABLE}");
    let _ = writeln!(out, "table ip {TABLE} {{");
    for statement in &plan.source_nat {
        if let SourceAction::Pool { map, .. } = &statement.action {
            // Filled by `NatPools`, one `inside host : pool address` element per host.
            let _ = writeln!(out, "\tmap {map} {{");
            let _ = writeln!(out, "\t\ttype ipv4_addr : ipv4_addr");
            let _ = writeln!(out, "\t}}");
        }
    }

    let mapped_devices = plan.mapped_devices();
    let mut devices = vec![quote(&plan.outside_dev), quote(&plan.tun_dev), quote(&plan.pat_dev)];
    devices.extend(mapped_devices.iter().map(|d| quote(d)));
    // Without a PAT device the plan names the TUN device twice; a set holds it once.
    let mut unique: Vec<String> = Vec::new();
    for device in devices {
        if !unique.contains(&device) {
            unique.push(device);
        }
    }
    let outputs: Vec<String> = mapped_devices.iter().map(|d| quote(d)).collect();
    chain_header(&mut out, "zone_prerouting", "filter", "prerouting", "raw");
    let _ = writeln!(out, "\t\tiifname {} ct zone set {}", set(&unique), plan.zone);
    let _ = writeln!(out, "\t}}");
    chain_header(&mut out, "zone_output", "filter", "output", "raw");
    let _ = writeln!(out, "\t\toifname {} ct zone set {}", set(&outputs), plan.zone);
    let _ = writeln!(out, "\t}}");

    chain_header(&mut out, "nat_prerouting", "nat", "prerouting", "dstnat");
    // With several mapped devices the engine's choice depends on the egress interface,
    // which the route lookup after this chain decides.
    let match_route = mapped_devices.len() > 1;
    for (index, statement) in plan.source_nat.iter().enumerate() {
        rule_choice(&mut out, plan, statement, mark(index), match_route);
    }
    for (index, statement) in plan.destination_nat.iter().enumerate() {
        destination_nat(&mut out, statement, reverse_mark(index));
    }
    let _ = writeln!(out, "\t}}");

    chain_header(&mut out, "nat_postrouting", "nat", "postrouting", "srcnat");
    for (index, statement) in plan.source_nat.iter().enumerate() {
        source_nat(&mut out, statement, mark(index));
    }
    for (index, statement) in plan.destination_nat.iter().enumerate() {
        reverse_source_nat(&mut out, statement, reverse_mark(index));
    }
    let _ = writeln!(out, "\t}}");
    proxy_arp_forward(&mut out, plan);
    let _ = writeln!(out, "}}");
    out
}

/// Writes the chain that drops packets from a mapped device to a mapped address that no
/// translation rewrote: the proxy ARP routes would carry them into the TUN device.
/// Identity NAT addresses keep their own routes and are not listed.
fn proxy_arp_forward(out: &mut String, plan: &ClearPlan) {
    let mut by_device: Vec<(&str, Vec<AddrRange>)> = Vec::new();
    for entry in plan.proxy_arp.iter().filter(|e| !e.identity) {
        let position = match by_device
            .iter()
            .position(|(device, _)| *device == entry.device)
        {
            Some(position) => position,
            None => {
                by_device.push((&entry.device, Vec::new()));
                by_device.len() - 1
            }
        };
        by_device[position].1.extend(
            entry
                .addresses
                .iter()
                .map(|a| AddrRange::host(IpAddr::V4(*a))),
        );
    }
    if by_device.is_empty() {
        return;
    }
    chain_header(out, "proxy_arp_forward", "filter", "forward", "filter");
    for (device, mut ranges) in by_device {
        ranges.sort_by_key(|r| r.start);
        ranges.dedup();
        let _ = writeln!(
            out,
            "\t\tiifname {} ip daddr {} counter drop",
            quote(device),
            addresses(&merge_adjacent(ranges))
        );
    }
    let _ = writeln!(out, "\t}}");
}

/// Joins sorted ranges that touch or overlap, because an nft set rejects overlapping
/// intervals.
fn merge_adjacent(ranges: Vec<AddrRange>) -> Vec<AddrRange> {
    let mut merged: Vec<AddrRange> = Vec::new();
    for range in ranges {
        if let Some(last) = merged.last_mut()
            && let (IpAddr::V4(end), IpAddr::V4(start)) = (last.end, range.start)
            && u32::from(start) <= u32::from(end).saturating_add(1)
        {
            last.end = last.end.max(range.end);
            continue;
        }
        merged.push(range);
    }
    merged
}

/// Formats the mark of source statement `index`.
fn mark(index: usize) -> String {
    // A configuration has far fewer than 32,768 NAT rules, so the sum stays below the
    // reverse marks. Saturation keeps a larger index from reaching them.
    let index = u32::try_from(index).unwrap_or(u32::MAX).min(REVERSE_MARK - 1);
    format!("{:#010x}", CONNTRACK_MARK + index)
}

/// Formats the mark of destination statement `index`, for connections opened from the
/// mapped side.
fn reverse_mark(index: usize) -> String {
    let index = u32::try_from(index).unwrap_or(u32::MAX).min(REVERSE_MARK - 1);
    format!("{:#010x}", CONNTRACK_MARK + REVERSE_MARK + index)
}

fn chain_header(out: &mut String, name: &str, kind: &str, hook: &str, priority: &str) {
    let _ = writeln!(out, "\tchain {name} {{");
    let _ = writeln!(out, "\t\ttype {kind} hook {hook} priority {priority}; policy accept;");
}

/// Writes the statement that recognizes the rule the engine chose, by matching the
/// packet as it came out of the TUN device, in the engine's order. It stores the choice in the
/// connection's mark for `source_nat` and applies the rule's destination rewrite
/// before the route lookup. The first match ends the chain. With `match_route` the
/// statement also requires that the route to the destination leaves through the
/// rule's mapped device. A rule that translates the destination address is exempt,
/// because the engine sends such a packet to the rule's mapped interface ("NAT divert").
fn rule_choice(out: &mut String, plan: &ClearPlan, statement: &SourceNat, mark: String, match_route: bool) {
    let device = match statement.route {
        ClearRoute::Pat => &plan.pat_dev,
        ClearRoute::Plain => &plan.tun_dev,
    };
    let diverted = statement.destination.as_ref().is_some_and(DestinationAction::translates_address);
    let route = if match_route && !diverted { format!(" fib daddr oifname {}", quote(&statement.out_device)) } else { String::new() };
    let prefix = format!("iifname {}{}{route} counter ct mark set {mark}", quote(device), packet_match(&statement.packet));
    origin_comment(out, &statement.origin);
    match &statement.destination {
        None => {
            let _ = writeln!(out, "\t\t{prefix} accept");
        }
        Some(action) => {
            let _ = writeln!(out, "\t\t{prefix} {}", dnat(action));
        }
    }
}

/// Writes the source translation of the rule whose mark the connection carries.
fn source_nat(out: &mut String, statement: &SourceNat, mark: String) {
    origin_comment(out, &statement.origin);
    let mut prefix = format!("ct mark {mark} oifname {}", quote(&statement.out_device));
    // A port in a NAT statement needs the transport protocol matched in the same rule.
    if let Some(service) = &statement.packet.service {
        let _ = write!(prefix, " meta l4proto {}", protocol_name(service.protocol));
    }
    // A port range needs a TCP or UDP match in the same rule; other protocols (ICMP
    // keeps its identifier) get the address translation alone.
    let with_ports = |out: &mut String, action: &str, ports: &str| {
        if statement.packet.service.is_some() {
            let _ = writeln!(out, "\t\t{prefix} counter {action}{ports}");
        } else {
            let _ = writeln!(out, "\t\t{prefix} meta l4proto {{ tcp, udp }} counter {action}{ports}");
            let _ = writeln!(out, "\t\t{prefix} counter {action}");
        }
    };
    match &statement.action {
        SourceAction::Keep => {
            let _ = writeln!(out, "\t\t{prefix} counter accept");
        }
        SourceAction::Port { port } => {
            let _ = writeln!(out, "\t\t{prefix} counter snat to :{port}");
        }
        SourceAction::Masquerade => with_ports(out, "masquerade", &format!(" to :{PAT_PORTS}")),
        SourceAction::Pat { address } => with_ports(out, &format!("snat to {address}"), &format!(":{PAT_PORTS}")),
        SourceAction::Pool { map, pat_fallback, .. } => {
            let _ = writeln!(out, "\t\t{prefix} counter snat to ip saddr map @{map}");
            // A host without an element found the pool exhausted: it gets the PAT
            // fallback, or the drop keeps its packets from leaving untranslated.
            if *pat_fallback {
                with_ports(out, "masquerade", &format!(" to :{PAT_PORTS}"));
            } else {
                let _ = writeln!(out, "\t\t{prefix} counter drop");
            }
        }
        SourceAction::Host { address, port } => {
            let _ = writeln!(out, "\t\t{prefix} counter snat to {address}{}", port_suffix(*port));
        }
        SourceAction::Prefix { real, mapped } => {
            let _ = writeln!(out, "\t\t{prefix} counter snat ip prefix to ip saddr map {{ {real} : {mapped} }}");
        }
        SourceAction::AddressMap { pairs } => {
            let _ = writeln!(out, "\t\t{prefix} counter snat ip to ip saddr map {}", map_elements(pairs));
        }
        SourceAction::PortMap { protocol, address, pairs } => {
            let _ = writeln!(out, "\t\t{prefix} counter {}", port_map_nat("snat", "sport", *protocol, *address, pairs));
        }
    }
}

/// Formats the `{ key : value, ... }` elements of an nft map.
fn map_elements<K: std::fmt::Display, V: std::fmt::Display>(pairs: &[(K, V)]) -> String {
    let elements: Vec<String> = pairs.iter().map(|(key, value)| format!("{key} : {value}")).collect();
    format!("{{ {} }}", elements.join(", "))
}

/// Formats a NAT statement that maps ports one by one (`side` is `sport` or `dport`), and the
/// address too when `address` is set: `snat to :tcp sport map { 8000 : 9000 }` or
/// `snat ip to tcp sport map { 8000 : 203.0.113.5 . 9000 }`.
fn port_map_nat(kind: &str, side: &str, protocol: u8, address: Option<Ipv4Addr>, pairs: &[(u16, u16)]) -> String {
    let protocol = protocol_name(protocol);
    match address {
        None => format!("{kind} to :{protocol} {side} map {}", map_elements(pairs)),
        Some(address) => {
            let pairs: Vec<(u16, String)> = pairs.iter().map(|(from, to)| (*from, format!("{address} . {to}"))).collect();
            format!("{kind} ip to {protocol} {side} map {}", map_elements(&pairs))
        }
    }
}

/// Writes the statement for connections opened from the mapped side. It marks the
/// connection only when postrouting has a source rewrite for it.
fn destination_nat(out: &mut String, statement: &DestinationNat, mark: String) {
    let mut prefix = format!("iifname {}{} counter", quote(&statement.in_device), packet_match(&statement.packet));
    if statement.source.is_some() {
        let _ = write!(prefix, " ct mark set {mark}");
    }
    origin_comment(out, &statement.origin);
    match &statement.action {
        Some(action) => {
            let _ = writeln!(out, "\t\t{prefix} {}", dnat(action));
        }
        None => {
            let _ = writeln!(out, "\t\t{prefix} accept");
        }
    }
}

/// Writes the source rewrite of a connection opened from the mapped side: the peer's
/// address becomes the mapped destination of a twice NAT rule. The connection leaves
/// through the real interface, which the mark implies.
fn reverse_source_nat(out: &mut String, statement: &DestinationNat, mark: String) {
    let Some(source) = &statement.source else { return };
    origin_comment(out, &statement.origin);
    match source {
        SourceAction::Host { address, .. } => {
            let _ = writeln!(out, "\t\tct mark {mark} counter snat to {address}");
        }
        SourceAction::Prefix { real, mapped } => {
            let _ = writeln!(out, "\t\tct mark {mark} counter snat ip prefix to ip saddr map {{ {real} : {mapped} }}");
        }
        // `reverse_of` produces host and prefix rewrites only.
        _ => {}
    }
}

fn dnat(action: &DestinationAction) -> String {
    match action {
        DestinationAction::Host { address, port } => format!("dnat to {address}{}", port_suffix(*port)),
        DestinationAction::Prefix { mapped, real } => format!("dnat ip prefix to ip daddr map {{ {mapped} : {real} }}"),
        DestinationAction::Port { port } => format!("dnat to :{port}"),
        DestinationAction::PortMap { protocol, address, pairs } => port_map_nat("dnat", "dport", *protocol, *address, pairs),
        DestinationAction::AddressMap { pairs, port: None } => format!("dnat ip to ip daddr map {}", map_elements(pairs)),
        DestinationAction::AddressMap { pairs, port: Some((_, port)) } => {
            let pairs: Vec<(Ipv4Addr, String)> = pairs.iter().map(|(from, to)| (*from, format!("{to} . {port}"))).collect();
            format!("dnat ip to ip daddr map {}", map_elements(&pairs))
        }
    }
}

fn protocol_name(protocol: u8) -> &'static str {
    if protocol == PROTO_TCP { "tcp" } else { "udp" }
}

/// The ` ip saddr ... ip daddr ... tcp dport ...` part of a rule, with a leading space.
fn packet_match(packet: &PacketMatch) -> String {
    let mut out = String::new();
    if !packet.sources.is_empty() {
        let _ = write!(out, " ip saddr {}", addresses(&packet.sources));
    }
    if !packet.destinations.is_empty() {
        let _ = write!(out, " ip daddr {}", addresses(&packet.destinations));
    }
    if let Some(service) = &packet.service {
        let protocol = protocol_name(service.protocol);
        let side = if service.source_port { "sport" } else { "dport" };
        let _ = write!(out, " {protocol} {side} {}", ports(&service.ports));
    }
    out
}

/// A set of addresses: `A`, `A/len` or `A-B` for each range, in braces when several.
fn addresses(ranges: &[AddrRange]) -> String {
    let elements: Vec<String> = ranges
        .iter()
        .map(|r| match range_to_prefixes(r).as_slice() {
            _ if r.start == r.end => r.start.to_string(),
            [prefix] => prefix.to_string(),
            _ => format!("{}-{}", r.start, r.end),
        })
        .collect();
    set(&elements)
}

fn set(elements: &[String]) -> String {
    match elements {
        [one] => one.clone(),
        _ => format!("{{ {} }}", elements.join(", ")),
    }
}

fn ports(range: &PortRange) -> String {
    if range.start == range.end { range.start.to_string() } else { format!("{}-{}", range.start, range.end) }
}

fn port_suffix(port: Option<u16>) -> String {
    port.map(|p| format!(":{p}")).unwrap_or_default()
}

/// A device name in double quotes. `ClearPath::install` accepts only names of letters,
/// digits, `.`, `-` and `_`, so no escaping is needed.
fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

/// The configuration line as an nft comment, printable ASCII only.
fn origin_comment(out: &mut String, origin: &Origin) {
    let text: String = origin.text.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { ' ' }).collect();
    let _ = writeln!(out, "\t\t# line {}: {}", origin.line, text);
}

#[cfg(test)]
mod tests {
    use rampart_policy::model::{NatMapped, NatService, PortRange};

    use super::super::fixtures::*;
    use super::*;

    fn rendered(rules: Vec<rampart_policy::model::NatRule>) -> String {
        let mut config = guide_config();
        config.nat_rules = rules;
        render(&ClearPlan::from_policy_with(&config, "eth1", "rampart0", &fixture_devices))
    }

    #[test]
    fn render_port_filter_golden() {
        let expected = "\
table ip rampart
delete table ip rampart
table ip rampart {
\tchain zone_prerouting {
\t\ttype filter hook prerouting priority raw; policy accept;
\t\tiifname { \"eth1\", \"rampart0\", \"rampart0p\" } ct zone set 21057
\t}
\tchain zone_output {
\t\ttype filter hook output priority raw; policy accept;
\t\toifname \"eth1\" ct zone set 21057
\t}
\tchain nat_prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\t# line 50: nat (inside,outside) source static flow_traffic flow_traffic service http http
\t\tiifname \"rampart0\" ip saddr 10.10.0.0/16 tcp dport 80 counter ct mark set 0x52410000 accept
\t\t# line 51: nat (inside,outside) source static flow_traffic flow_traffic service https https
\t\tiifname \"rampart0\" ip saddr 10.10.0.0/16 tcp dport 443 counter ct mark set 0x52410001 accept
\t\t# line 52: nat (inside,outside) after-auto source dynamic any interface
\t\tiifname \"rampart0p\" counter ct mark set 0x52410002 accept
\t}
\tchain nat_postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\t# line 50: nat (inside,outside) source static flow_traffic flow_traffic service http http
\t\tct mark 0x52410000 oifname \"eth1\" meta l4proto tcp counter accept
\t\t# line 51: nat (inside,outside) source static flow_traffic flow_traffic service https https
\t\tct mark 0x52410001 oifname \"eth1\" meta l4proto tcp counter accept
\t\t# line 52: nat (inside,outside) after-auto source dynamic any interface
\t\tct mark 0x52410002 oifname \"eth1\" meta l4proto { tcp, udp } counter masquerade to :1024-65535
\t\tct mark 0x52410002 oifname \"eth1\" counter masquerade
\t}
}
";
        assert_eq!(rendered(port_filter_rules()), expected);
    }

    #[test]
    fn render_static_pat_golden() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.service = Some(NatService { protocol: 6, source_port: true, real: PortRange::single(80), mapped: PortRange::single(8080) });
        let text = rendered(vec![rule]);
        let expected_dnat = "\t\t# line 10: nat (inside,outside) static 203.0.113.100/32\n\
\t\tiifname \"eth1\" ip daddr 203.0.113.100 tcp dport 8080 counter dnat to 10.10.1.100:80\n";
        let expected_choice = "\t\tiifname \"rampart0\" ip saddr 10.10.1.100 tcp sport 80 counter ct mark set 0x52410000 accept\n";
        let expected_snat = "\t\tct mark 0x52410000 oifname \"eth1\" meta l4proto tcp counter snat to 203.0.113.100:8080\n";
        assert!(text.contains(expected_dnat), "{text}");
        assert!(text.contains(expected_choice), "{text}");
        assert!(text.contains(expected_snat), "{text}");
    }

    #[test]
    fn render_static_subnet_maps_prefix() {
        let text = rendered(vec![static_rule("10.10.1.0/24", "203.0.113.0/24")]);
        let snat = "ct mark 0x52410000 oifname \"eth1\" counter snat ip prefix to ip saddr map { 10.10.1.0/24 : 203.0.113.0/24 }";
        let dnat = "ip daddr 203.0.113.0/24 counter dnat ip prefix to ip daddr map { 203.0.113.0/24 : 10.10.1.0/24 }";
        assert!(text.contains(snat), "{text}");
        assert!(text.contains(dnat), "{text}");
    }

    #[test]
    fn render_pool_map() {
        let text = rendered(vec![dynamic_rule("10.10.0.0/16", NatMapped::Addresses(vec![net("203.0.113.64/28")]))]);
        assert!(text.contains("\tmap pool_0 {\n\t\ttype ipv4_addr : ipv4_addr\n\t}\n"), "{text}");
        assert!(text.contains("iifname \"rampart0p\" ip saddr 10.10.0.0/16 counter ct mark set 0x52410000 accept"), "{text}");
        assert!(text.contains("ct mark 0x52410000 oifname \"eth1\" counter snat to ip saddr map @pool_0\n"), "{text}");
    }

    #[test]
    fn render_pool_pat_fallback() {
        let mut rule = dynamic_rule("10.10.0.0/16", NatMapped::Addresses(vec![net("203.0.113.64/31")]));
        rule.pat_fallback = true;
        let text = rendered(vec![rule]);
        assert!(text.contains("ct mark 0x52410000 oifname \"eth1\" meta l4proto { tcp, udp } counter masquerade to :1024-65535\n"), "{text}");
        assert!(!text.contains("ct mark 0x52410000 oifname \"eth1\" counter drop"), "{text}");
    }

    #[test]
    fn render_pool_drops_unallocated() {
        let text = rendered(vec![dynamic_rule("10.10.0.0/16", NatMapped::Addresses(vec![net("203.0.113.64/31")]))]);
        assert!(text.contains("ct mark 0x52410000 oifname \"eth1\" counter drop\n"), "{text}");
    }

    #[test]
    fn render_pat_address_splits_protocols() {
        let text = rendered(vec![dynamic_rule("10.10.0.0/16", NatMapped::Addresses(vec![net("203.0.113.60/32")]))]);
        assert!(text.contains("meta l4proto { tcp, udp } counter snat to 203.0.113.60:1024-65535\n"), "{text}");
        assert!(text.contains("ct mark 0x52410000 oifname \"eth1\" counter snat to 203.0.113.60\n"), "{text}");
    }

    #[test]
    fn render_twice_nat_destination_host() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.destination = Some((vec![net("198.51.100.50/32")], vec![net("198.18.50.5/32")]));
        let text = rendered(vec![rule]);
        let choice = "iifname \"rampart0\" ip saddr 10.10.1.100 ip daddr 198.51.100.50 counter ct mark set 0x52410000 dnat to 198.18.50.5\n";
        assert!(text.contains(choice), "{text}");
        assert!(text.contains("ct mark 0x52410000 oifname \"eth1\" counter snat to 203.0.113.100\n"), "{text}");
    }

    #[test]
    fn render_twice_nat_destination_prefix() {
        let mut rule = after_auto_pat(52);
        rule.destination = Some((vec![net("198.51.100.0/24")], vec![net("198.18.50.0/24")]));
        let text = rendered(vec![rule]);
        let choice = "counter ct mark set 0x52410000 dnat ip prefix to ip daddr map { 198.51.100.0/24 : 198.18.50.0/24 }\n";
        assert!(text.contains(choice), "{text}");
    }

    #[test]
    fn render_twice_nat_reverse() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.destination = Some((vec![net("198.51.100.50/32")], vec![net("198.18.50.5/32")]));
        let text = rendered(vec![rule]);
        let dnat = "iifname \"eth1\" ip saddr 198.18.50.5 ip daddr 203.0.113.100 counter ct mark set 0x52418000 dnat to 10.10.1.100\n";
        assert!(text.contains(dnat), "{text}");
        assert!(text.contains("\t\tct mark 0x52418000 counter snat to 198.51.100.50\n"), "{text}");
    }

    #[test]
    fn render_static_reverse_unmarked() {
        let text = rendered(vec![static_rule("10.10.1.100/32", "203.0.113.100/32")]);
        assert!(text.contains("iifname \"eth1\" ip daddr 203.0.113.100 counter dnat to 10.10.1.100\n"), "{text}");
    }

    #[test]
    fn render_service_destination_port() {
        let mut rule = identity_service_nat(80, 50, "http");
        if let Some(service) = rule.service.as_mut() {
            service.mapped = PortRange::single(8080);
        }
        let text = rendered(vec![rule]);
        let choice = "iifname \"rampart0\" ip saddr 10.10.0.0/16 tcp dport 80 counter ct mark set 0x52410000 dnat to :8080\n";
        assert!(text.contains(choice), "{text}");
    }

    #[test]
    fn render_other_mapped_device() {
        let mut rule = after_auto_pat(52);
        rule.mapped_interface = Some("dmz".to_string());
        let text = rendered(vec![rule]);
        assert!(text.contains("iifname { \"eth1\", \"rampart0\", \"rampart0p\", \"eth2\" } ct zone set 21057"), "{text}");
        assert!(text.contains("oifname { \"eth1\", \"eth2\" } ct zone set 21057"), "{text}");
        assert!(text.contains("ct mark 0x52410000 oifname \"eth2\" counter masquerade\n"), "{text}");
    }

    #[test]
    fn render_several_devices_match_route() {
        let mut rule = after_auto_pat(53);
        rule.mapped_interface = Some("dmz".to_string());
        let text = rendered(vec![rule, after_auto_pat(52)]);
        assert!(text.contains("iifname \"rampart0p\" fib daddr oifname \"eth2\" counter ct mark set 0x52410000 accept"), "{text}");
        assert!(text.contains("iifname \"rampart0p\" fib daddr oifname \"eth1\" counter ct mark set 0x52410001 accept"), "{text}");
    }

    #[test]
    fn render_diverted_skips_route() {
        let mut dmz = after_auto_pat(53);
        dmz.mapped_interface = Some("dmz".to_string());
        let mut twice = static_rule("10.10.1.100/32", "203.0.113.100/32");
        twice.destination = Some((vec![net("198.51.100.50/32")], vec![net("198.18.50.5/32")]));
        let text = rendered(vec![twice, dmz]);
        assert!(text.contains("ip daddr 198.51.100.50 counter ct mark set 0x52410000 dnat to 198.18.50.5"), "{text}");
    }

    #[test]
    fn render_marks_follow_order() {
        let rules = vec![static_rule("10.10.1.100/32", "203.0.113.100/32"), after_auto_pat(52)];
        let text = rendered(rules);
        assert!(text.contains("iifname \"rampart0p\" counter ct mark set 0x52410001 accept"), "{text}");
    }

    #[test]
    fn render_static_unequal_maps() {
        let text = rendered(vec![static_rule("10.10.1.0/31", "203.0.113.9/32")]);
        assert!(text.contains("counter snat ip to ip saddr map { 10.10.1.0 : 203.0.113.9, 10.10.1.1 : 203.0.113.9 }\n"), "{text}");
        assert!(text.contains("ip daddr 203.0.113.9 counter dnat ip to ip daddr map { 203.0.113.9 : 10.10.1.0 }\n"), "{text}");
    }

    #[test]
    fn render_port_range_map() {
        let mut rule = identity_service_nat(80, 50, "http");
        if let Some(service) = rule.service.as_mut() {
            service.real = PortRange { start: 8000, end: 8001 };
            service.mapped = PortRange { start: 9000, end: 9001 };
        }
        let text = rendered(vec![rule]);
        assert!(text.contains("tcp dport 8000-8001 counter ct mark set 0x52410000 dnat to :tcp dport map { 8000 : 9000, 8001 : 9001 }\n"), "{text}");
    }

    #[test]
    fn render_source_port_range_with_address() {
        let mut rule = static_rule("10.10.1.100/32", "203.0.113.100/32");
        rule.service = Some(NatService { protocol: PROTO_TCP, source_port: true, real: PortRange { start: 8000, end: 8001 }, mapped: PortRange { start: 9000, end: 9001 } });
        let text = rendered(vec![rule]);
        assert!(text.contains("counter snat ip to tcp sport map { 8000 : 203.0.113.100 . 9000, 8001 : 203.0.113.100 . 9001 }\n"), "{text}");
        assert!(text.contains("dnat ip to tcp dport map { 9000 : 10.10.1.100 . 8000, 9001 : 10.10.1.100 . 8001 }\n"), "{text}");
    }

    #[test]
    fn render_prefix_with_port() {
        let mut rule = identity_service_nat(80, 50, "http");
        rule.destination = Some((vec![net("198.51.100.0/31")], vec![net("198.18.50.0/31")]));
        if let Some(service) = rule.service.as_mut() {
            service.mapped = PortRange::single(8080);
        }
        let text = rendered(vec![rule]);
        assert!(text.contains("dnat ip to ip daddr map { 198.51.100.0 : 198.18.50.0 . 8080, 198.51.100.1 : 198.18.50.1 . 8080 }\n"), "{text}");
    }

    #[test]
    fn render_unaligned_range() {
        let ranges = [AddrRange { start: "10.0.0.3".parse().unwrap(), end: "10.0.0.9".parse().unwrap() }, net("10.1.0.0/16")];
        assert_eq!(addresses(&ranges), "{ 10.0.0.3-10.0.0.9, 10.1.0.0/16 }");
    }

    #[test]
    fn render_comment_strips_controls() {
        let mut out = String::new();
        origin_comment(&mut out, &Origin { line: 3, text: "nat\t(in,out)\n".to_string() });
        assert_eq!(out, "\t\t# line 3: nat (in,out) \n");
    }
}
