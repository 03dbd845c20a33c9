//! The nftables ruleset of a `ClearPlan`, as text for `nft -f -`.
//!
//! Four chains in `table ip rampart`:
//! - `zone_prerouting` and `zone_output` put every packet on the outside side of the
//!   daemon into the plan's conntrack zone, before conntrack sees it (priority raw);
//! - `nat_prerouting` applies the destination NAT of static rules to connections
//!   opened from the outside;
//! - `nat_postrouting` applies the source NAT toward the outside device. Statements
//!   for the main TUN device and for the PAT device each keep the ASA's rule order.
//!   Identity NAT is an `accept`, which ends the chain with the addresses unchanged.
//!
//! Each NAT statement has a counter. The kernel runs NAT chains for the first packet of
//! a connection only, so the counters count connections per configuration line.

use std::fmt::Write;

use rampart_policy::flow::PROTO_TCP;
use rampart_policy::model::{AddrRange, Origin, PortRange};

use crate::route_plan::range_to_prefixes;

use super::plan::{ClearPlan, DestinationAction, DestinationNat, PacketMatch, SourceAction, SourceNat};
use super::ClearRoute;

/// Name of the nftables table that rampart owns.
pub const TABLE: &str = "rampart";

/// The PAT port range of the ASA.
const PAT_PORTS: &str = "1024-65535";

/// Renders the script that replaces `table ip rampart` with the plan's rules in one
/// transaction: the first line creates the table when it is missing, so that the
/// delete that follows cannot fail.
pub fn render(plan: &ClearPlan) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail, so the results of writeln! are ignored.
    let _ = writeln!(out, "table ip {TABLE}");
    let _ = writeln!(out, "delete table ip {TABLE}");
    let _ = writeln!(out, "table ip {TABLE} {{");

    let mut devices = vec![quote(&plan.outside_dev), quote(&plan.tun_dev), quote(&plan.pat_dev)];
    // Without a PAT device the plan names the TUN device twice; a set holds it once.
    devices.dedup();
    let zone_devices = set(&devices);
    chain_header(&mut out, "zone_prerouting", "filter", "prerouting", "raw");
    let _ = writeln!(out, "\t\tiifname {zone_devices} ct zone set {}", plan.zone);
    let _ = writeln!(out, "\t}}");
    chain_header(&mut out, "zone_output", "filter", "output", "raw");
    let _ = writeln!(out, "\t\toifname {} ct zone set {}", quote(&plan.outside_dev), plan.zone);
    let _ = writeln!(out, "\t}}");

    chain_header(&mut out, "nat_prerouting", "nat", "prerouting", "dstnat");
    for statement in &plan.destination_nat {
        destination_nat(&mut out, plan, statement);
    }
    let _ = writeln!(out, "\t}}");

    chain_header(&mut out, "nat_postrouting", "nat", "postrouting", "srcnat");
    for statement in &plan.source_nat {
        source_nat(&mut out, plan, statement);
    }
    let _ = writeln!(out, "\t}}");
    let _ = writeln!(out, "}}");
    out
}

fn chain_header(out: &mut String, name: &str, kind: &str, hook: &str, priority: &str) {
    let _ = writeln!(out, "\tchain {name} {{");
    let _ = writeln!(out, "\t\ttype {kind} hook {hook} priority {priority}; policy accept;");
}

fn source_nat(out: &mut String, plan: &ClearPlan, statement: &SourceNat) {
    let device = match statement.route {
        ClearRoute::Pat => &plan.pat_dev,
        ClearRoute::Plain => &plan.tun_dev,
    };
    let prefix = format!("iifname {} oifname {}{}", quote(device), quote(&plan.outside_dev), packet_match(&statement.packet));
    origin_comment(out, &statement.origin);
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
        SourceAction::Masquerade => with_ports(out, "masquerade", &format!(" to :{PAT_PORTS}")),
        SourceAction::Pat { address } => with_ports(out, &format!("snat to {address}"), &format!(":{PAT_PORTS}")),
        SourceAction::Pool { start, end } => {
            let _ = writeln!(out, "\t\t{prefix} counter snat to {start}-{end} persistent");
        }
        SourceAction::Host { address, port } => {
            let _ = writeln!(out, "\t\t{prefix} counter snat to {address}{}", port_suffix(*port));
        }
        SourceAction::Prefix { real, mapped } => {
            let _ = writeln!(out, "\t\t{prefix} counter snat ip prefix to ip saddr map {{ {real} : {mapped} }}");
        }
    }
}

fn destination_nat(out: &mut String, plan: &ClearPlan, statement: &DestinationNat) {
    let prefix = format!("iifname {}{}", quote(&plan.outside_dev), packet_match(&statement.packet));
    origin_comment(out, &statement.origin);
    match &statement.action {
        DestinationAction::Host { address, port } => {
            let _ = writeln!(out, "\t\t{prefix} counter dnat to {address}{}", port_suffix(*port));
        }
        DestinationAction::Prefix { mapped, real } => {
            let _ = writeln!(out, "\t\t{prefix} counter dnat ip prefix to ip daddr map {{ {mapped} : {real} }}");
        }
    }
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
        let protocol = if service.protocol == PROTO_TCP { "tcp" } else { "udp" };
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
        render(&ClearPlan::from_policy(&config, "eth1", "rampart0"))
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
\t}
\tchain nat_postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\t# line 50: nat (inside,outside) source static flow_traffic flow_traffic service http http
\t\tiifname \"rampart0\" oifname \"eth1\" ip saddr 10.10.0.0/16 tcp dport 80 counter accept
\t\t# line 51: nat (inside,outside) source static flow_traffic flow_traffic service https https
\t\tiifname \"rampart0\" oifname \"eth1\" ip saddr 10.10.0.0/16 tcp dport 443 counter accept
\t\t# line 52: nat (inside,outside) after-auto source dynamic any interface
\t\tiifname \"rampart0p\" oifname \"eth1\" meta l4proto { tcp, udp } counter masquerade to :1024-65535
\t\tiifname \"rampart0p\" oifname \"eth1\" counter masquerade
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
        let expected_snat = "\t\tiifname \"rampart0\" oifname \"eth1\" ip saddr 10.10.1.100 tcp sport 80 counter snat to 203.0.113.100:8080\n";
        assert!(text.contains(expected_dnat), "{text}");
        assert!(text.contains(expected_snat), "{text}");
    }

    #[test]
    fn render_static_subnet_maps_prefix() {
        let text = rendered(vec![static_rule("10.10.1.0/24", "203.0.113.0/24")]);
        let snat = "ip saddr 10.10.1.0/24 counter snat ip prefix to ip saddr map { 10.10.1.0/24 : 203.0.113.0/24 }";
        let dnat = "ip daddr 203.0.113.0/24 counter dnat ip prefix to ip daddr map { 203.0.113.0/24 : 10.10.1.0/24 }";
        assert!(text.contains(snat), "{text}");
        assert!(text.contains(dnat), "{text}");
    }

    #[test]
    fn render_pool_persistent() {
        let text = rendered(vec![dynamic_rule("10.10.0.0/16", NatMapped::Addresses(vec![net("203.0.113.64/28")]))]);
        let expected = "iifname \"rampart0p\" oifname \"eth1\" ip saddr 10.10.0.0/16 counter snat to 203.0.113.64-203.0.113.79 persistent";
        assert!(text.contains(expected), "{text}");
    }

    #[test]
    fn render_pat_address_splits_protocols() {
        let text = rendered(vec![dynamic_rule("10.10.0.0/16", NatMapped::Addresses(vec![net("203.0.113.60/32")]))]);
        assert!(text.contains("meta l4proto { tcp, udp } counter snat to 203.0.113.60:1024-65535\n"), "{text}");
        assert!(text.contains("ip saddr 10.10.0.0/16 counter snat to 203.0.113.60\n"), "{text}");
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
