//! Access lists compiled for first-match lookup.
//!
//! The same compiled form serves interface ACLs (`access-group`) and crypto ACLs
//! (`crypto map ... match address`). Entries are indexed by IP protocol, so a lookup only
//! visits entries that can match the packet's protocol, in configured order, which keeps
//! first-match semantics.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::flow::{Flow, has_ports};
use crate::model::{Acl, AclEntry, Action, AddrRange, PortRange};

/// The entry that matched a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclMatch {
    /// Index into the ACL's `entries` (expanded entries, inactive ones included).
    pub entry: usize,
    pub action: Action,
    /// For permits: the position among the ACL's active permit entries, counted from 0.
    /// Crypto ACLs number their Child SAs by it.
    pub permit_index: Option<usize>,
}

#[derive(Clone, Debug)]
struct CompiledEntry {
    entry: usize,
    action: Action,
    permit_index: Option<usize>,
    protocol: Option<u8>,
    src: AddrRange,
    dst: AddrRange,
    src_ports: PortRange,
    dst_ports: PortRange,
    icmp_type: Option<u8>,
}

impl CompiledEntry {
    fn matches(&self, flow: &Flow) -> bool {
        if !self.src.contains(flow.src) || !self.dst.contains(flow.dst) {
            return false;
        }
        if flow.has_ports() && !(self.src_ports.contains(flow.src_port) && self.dst_ports.contains(flow.dst_port)) {
            return false;
        }
        match self.icmp_type {
            Some(t) => flow.is_icmp() && flow.src_port == u16::from(t),
            None => true,
        }
    }
}

/// An ACL ready for lookup.
#[derive(Clone, Debug)]
pub struct CompiledAcl {
    name: String,
    entries: Vec<CompiledEntry>,
    /// Positions in `entries` that can match each protocol some entry names, in order.
    by_protocol: HashMap<u8, Vec<usize>>,
    /// Positions of the entries that match every protocol (`ip`), in order.
    any_protocol: Vec<usize>,
    permit_count: usize,
}

impl CompiledAcl {
    pub fn new(acl: &Acl) -> CompiledAcl {
        let mut entries = Vec::new();
        let mut permit_count = 0;
        for (index, e) in acl.entries.iter().enumerate() {
            if e.inactive {
                continue;
            }
            let permit_index = match e.action {
                Action::Permit => {
                    permit_count += 1;
                    Some(permit_count - 1)
                }
                Action::Deny => None,
            };
            entries.push(CompiledEntry {
                entry: index,
                action: e.action,
                permit_index,
                protocol: e.protocol,
                src: e.src,
                dst: e.dst,
                src_ports: e.src_ports,
                dst_ports: e.dst_ports,
                icmp_type: e.icmp_type,
            });
        }

        let mut by_protocol: HashMap<u8, Vec<usize>> = HashMap::new();
        for p in entries.iter().filter_map(|e| e.protocol) {
            by_protocol.entry(p).or_default();
        }
        let mut any_protocol = Vec::new();
        for (pos, e) in entries.iter().enumerate() {
            match e.protocol {
                Some(p) => by_protocol.entry(p).or_default().push(pos),
                None => {
                    any_protocol.push(pos);
                    for list in by_protocol.values_mut() {
                        list.push(pos);
                    }
                }
            }
        }
        CompiledAcl { name: acl.name.clone(), entries, by_protocol, any_protocol, permit_count }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of active permit entries.
    pub fn permit_count(&self) -> usize {
        self.permit_count
    }

    /// The first active entry that matches `flow`, or `None` (the implicit deny).
    pub fn lookup(&self, flow: &Flow) -> Option<AclMatch> {
        let candidates = self.by_protocol.get(&flow.protocol).unwrap_or(&self.any_protocol);
        candidates.iter().map(|&pos| &self.entries[pos]).find(|e| e.matches(flow)).map(|e| AclMatch {
            entry: e.entry,
            action: e.action,
            permit_index: e.permit_index,
        })
    }

    /// True when the active permit entry number `permit_index` matches `flow`.
    pub fn permit_matches(&self, permit_index: usize, flow: &Flow) -> bool {
        self.entries.iter().find(|e| e.permit_index == Some(permit_index)).is_some_and(|e| e.matches(flow))
    }
}

/// Format an address range as ASA configuration does: `any`, `host A`, `A MASK` or `range A B`.
pub(crate) fn format_range(range: &AddrRange) -> String {
    if *range == AddrRange::ANY_V4 {
        return "any".to_string();
    }
    if range.start == range.end {
        return format!("host {}", range.start);
    }
    if let (IpAddr::V4(s), IpAddr::V4(e)) = (range.start, range.end) {
        let (s, e) = (u32::from(s), u32::from(e));
        let size = e.wrapping_sub(s).wrapping_add(1);
        if size.is_power_of_two() && s & (size - 1) == 0 {
            let mask = std::net::Ipv4Addr::from(!(size - 1));
            return format!("{} {}", range.start, mask);
        }
    }
    format!("range {} {}", range.start, range.end)
}

fn format_ports(ports: &PortRange) -> String {
    if ports.is_any() {
        String::new()
    } else if ports.start == ports.end {
        format!(" eq {}", ports.start)
    } else {
        format!(" range {} {}", ports.start, ports.end)
    }
}

/// One expanded entry in ASA syntax with numbers for names, e.g.
/// `permit tcp 10.10.0.0 255.255.0.0 any eq 443`.
pub(crate) fn format_entry(e: &AclEntry) -> String {
    let action = match e.action {
        Action::Permit => "permit",
        Action::Deny => "deny",
    };
    let protocol = e.protocol.map_or_else(|| "ip".to_string(), crate::flow::protocol_name);
    let mut text = format!("{action} {protocol} {}", format_range(&e.src));
    if e.protocol.is_some_and(has_ports) {
        text.push_str(&format_ports(&e.src_ports));
    }
    text.push(' ');
    text.push_str(&format_range(&e.dst));
    if e.protocol.is_some_and(has_ports) {
        text.push_str(&format_ports(&e.dst_ports));
    }
    if let Some(t) = e.icmp_type {
        text.push_str(&format!(" {t}"));
    }
    if e.inactive {
        text.push_str(" inactive");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{PROTO_ICMP, PROTO_TCP};
    use crate::testutil::{ace, net, tcp, udp};

    fn acl(entries: Vec<AclEntry>) -> CompiledAcl {
        CompiledAcl::new(&Acl { name: "A".to_string(), entries })
    }

    #[test]
    fn lookup_first_match_wins() {
        let a = acl(vec![
            ace(Action::Deny, None, net("10.10.1.100/32"), AddrRange::ANY_V4),
            ace(Action::Permit, None, net("10.10.0.0/16"), AddrRange::ANY_V4),
        ]);
        let m = a.lookup(&tcp("10.10.1.100", 1000, "8.8.8.8", 80)).expect("match");
        assert_eq!(m.action, Action::Deny);
        assert_eq!(m.entry, 0);
    }

    #[test]
    fn lookup_permit_index_skips_denies() {
        let a = acl(vec![
            ace(Action::Deny, None, net("10.10.1.100/32"), AddrRange::ANY_V4),
            ace(Action::Permit, None, net("10.10.0.0/16"), AddrRange::ANY_V4),
        ]);
        let m = a.lookup(&tcp("10.10.1.5", 1000, "8.8.8.8", 80)).expect("match");
        assert_eq!(m.permit_index, Some(0));
        assert_eq!(m.entry, 1);
    }

    #[test]
    fn lookup_skips_inactive() {
        let mut first = ace(Action::Permit, None, net("10.10.0.0/16"), AddrRange::ANY_V4);
        first.inactive = true;
        let second = ace(Action::Permit, None, net("10.10.0.0/16"), AddrRange::ANY_V4);
        let a = acl(vec![first, second]);
        let m = a.lookup(&tcp("10.10.1.5", 1000, "8.8.8.8", 80)).expect("match");
        assert_eq!(m.entry, 1);
        assert_eq!(m.permit_index, Some(0));
        assert_eq!(a.permit_count(), 1);
    }

    #[test]
    fn lookup_implicit_deny() {
        let a = acl(vec![ace(Action::Permit, None, net("10.10.0.0/16"), AddrRange::ANY_V4)]);
        assert_eq!(a.lookup(&tcp("10.20.0.1", 1000, "8.8.8.8", 80)), None);
    }

    #[test]
    fn lookup_ports_and_protocol() {
        let mut https = ace(Action::Permit, Some(PROTO_TCP), net("10.10.0.0/16"), AddrRange::ANY_V4);
        https.dst_ports = PortRange::single(443);
        let a = acl(vec![https, ace(Action::Deny, None, AddrRange::ANY_V4, AddrRange::ANY_V4)]);
        let hit = a.lookup(&tcp("10.10.1.5", 1000, "8.8.8.8", 443)).expect("match");
        assert_eq!(hit.action, Action::Permit);
        let other_port = a.lookup(&tcp("10.10.1.5", 1000, "8.8.8.8", 22)).expect("match");
        assert_eq!(other_port.action, Action::Deny);
        let other_protocol = a.lookup(&udp("10.10.1.5", 1000, "8.8.8.8", 443)).expect("match");
        assert_eq!(other_protocol.action, Action::Deny);
    }

    #[test]
    fn lookup_icmp_type() {
        let mut echo = ace(Action::Permit, Some(PROTO_ICMP), AddrRange::ANY_V4, AddrRange::ANY_V4);
        echo.icmp_type = Some(8);
        let a = acl(vec![echo]);
        let request = Flow { protocol: PROTO_ICMP, src: "10.10.1.5".parse().expect("literal"), dst: "8.8.8.8".parse().expect("literal"), src_port: 8, dst_port: 0 };
        assert!(a.lookup(&request).is_some());
        let reply = Flow { src_port: 0, ..request };
        assert!(a.lookup(&reply).is_none());
    }

    #[test]
    fn permit_matches_by_index() {
        let a = acl(vec![
            ace(Action::Permit, None, net("10.10.0.0/16"), net("198.18.0.0/15")),
            ace(Action::Permit, None, net("10.20.0.0/16"), AddrRange::ANY_V4),
        ]);
        assert!(a.permit_matches(1, &tcp("10.20.0.1", 1, "8.8.8.8", 2)));
        assert!(!a.permit_matches(0, &tcp("10.20.0.1", 1, "8.8.8.8", 2)));
        assert!(!a.permit_matches(2, &tcp("10.20.0.1", 1, "8.8.8.8", 2)));
    }

    #[test]
    fn format_entry_asa_syntax() {
        let mut e = ace(Action::Permit, Some(PROTO_TCP), net("10.10.0.0/16"), AddrRange::ANY_V4);
        e.dst_ports = PortRange::single(443);
        assert_eq!(format_entry(&e), "permit tcp 10.10.0.0 255.255.0.0 any eq 443");
    }

    #[test]
    fn format_range_forms() {
        assert_eq!(format_range(&net("10.10.1.100/32")), "host 10.10.1.100");
        let odd = AddrRange { start: "10.0.0.1".parse().expect("literal"), end: "10.0.0.6".parse().expect("literal") };
        assert_eq!(format_range(&odd), "range 10.0.0.1 10.0.0.6");
    }
}
