//! Access lists compiled for first-match lookup.
//!
//! The same compiled form serves interface ACLs (`access-group`) and crypto ACLs
//! (`crypto map ... match address`). IPv4 destinations are cut into elementary intervals
//! at every entry's range boundaries, and each interval lists the entries that cover it
//! in configured order. A lookup binary-searches the interval and scans only the entries
//! whose destination can match, so first-match semantics are kept. Other lookups scan
//! the entries that can match the packet's protocol.

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
        if self.protocol.is_some_and(|p| p != flow.protocol) {
            return false;
        }
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
    /// Destination interval index over the IPv4 entries; `None` when it would exceed
    /// `MAX_INDEX_SIZE`.
    dst_index: Option<DstIndex>,
}

/// Maximum number of (interval, entry) pairs in a destination index. Heavily nested
/// ranges grow the index quadratically; past this size the lookup scans by protocol.
const MAX_INDEX_SIZE: usize = 1 << 22;

/// Entries by IPv4 destination interval, in compressed sparse row form: interval `i`
/// starts at `starts[i]` and its entries are `positions[offsets[i]..offsets[i + 1]]`.
#[derive(Clone, Debug)]
struct DstIndex {
    starts: Vec<u32>,
    offsets: Vec<u32>,
    positions: Vec<u32>,
}

fn v4_bounds(range: &AddrRange) -> Option<(u32, u32)> {
    match (range.start, range.end) {
        (IpAddr::V4(s), IpAddr::V4(e)) if s <= e => Some((u32::from(s), u32::from(e))),
        _ => None,
    }
}

impl DstIndex {
    fn build(entries: &[CompiledEntry]) -> Option<DstIndex> {
        let mut starts = vec![0u32];
        for (s, e) in entries.iter().filter_map(|e| v4_bounds(&e.dst)) {
            starts.push(s);
            if let Some(next) = e.checked_add(1) {
                starts.push(next);
            }
        }
        starts.sort_unstable();
        starts.dedup();

        let interval_of = |a: u32| starts.partition_point(|&s| s <= a) - 1;
        let spans: Vec<Option<(usize, usize)>> =
            entries.iter().map(|e| v4_bounds(&e.dst).map(|(s, e)| (interval_of(s), interval_of(e)))).collect();
        let size: usize = spans.iter().flatten().map(|(first, last)| last - first + 1).sum();
        if size > MAX_INDEX_SIZE {
            return None;
        }

        let mut lists: Vec<Vec<u32>> = vec![Vec::new(); starts.len()];
        for (pos, span) in spans.iter().enumerate() {
            if let Some((first, last)) = span {
                for list in &mut lists[*first..=*last] {
                    // Entry positions are below MAX_INDEX_SIZE, so they fit in a u32.
                    list.push(pos as u32);
                }
            }
        }
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        let mut positions = Vec::with_capacity(size);
        offsets.push(0);
        for list in lists {
            positions.extend(list);
            offsets.push(positions.len() as u32);
        }
        Some(DstIndex { starts, offsets, positions })
    }

    fn candidates(&self, dst: u32) -> &[u32] {
        // `starts[0]` is 0, so every address falls in some interval.
        let i = self.starts.partition_point(|&s| s <= dst) - 1;
        &self.positions[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
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
        let dst_index = DstIndex::build(&entries);
        CompiledAcl { name: acl.name.clone(), entries, by_protocol, any_protocol, permit_count, dst_index }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of active permit entries.
    pub fn permit_count(&self) -> usize {
        self.permit_count
    }

    /// Find the first active entry that matches `flow`; `None` is the implicit deny.
    pub fn lookup(&self, flow: &Flow) -> Option<AclMatch> {
        let found = match (&self.dst_index, flow.dst) {
            (Some(index), IpAddr::V4(dst)) => index
                .candidates(u32::from(dst))
                .iter()
                .map(|&pos| &self.entries[pos as usize])
                .find(|e| e.matches(flow)),
            _ => {
                let candidates = self.by_protocol.get(&flow.protocol).unwrap_or(&self.any_protocol);
                candidates.iter().map(|&pos| &self.entries[pos]).find(|e| e.matches(flow))
            }
        };
        found.map(|e| AclMatch { entry: e.entry, action: e.action, permit_index: e.permit_index })
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

/// Format one expanded entry in ASA syntax with numbers for names, e.g.
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

    /// First match by plain scan over the configured entries, as the reference.
    fn reference_lookup(entries: &[AclEntry], flow: &Flow) -> Option<usize> {
        let single = |e: &AclEntry| CompiledAcl::new(&Acl { name: "R".to_string(), entries: vec![e.clone()] });
        entries.iter().position(|e| !e.inactive && single(e).by_protocol_scan(flow))
    }

    impl CompiledAcl {
        fn by_protocol_scan(&self, flow: &Flow) -> bool {
            self.entries.iter().any(|e| e.matches(flow))
        }
    }

    #[test]
    fn lookup_index_agrees_with_scan() {
        // A linear congruential generator keeps the case list deterministic.
        let mut state = 0x2545_f491_u64;
        let mut next = move |bound: u32| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as u32) % bound
        };
        let mut entries = Vec::new();
        for i in 0..300 {
            let action = if next(3) == 0 { Action::Permit } else { Action::Deny };
            let protocol = [None, Some(PROTO_TCP), Some(17)][next(3) as usize];
            let len = [8, 16, 24, 28, 32][next(5) as usize];
            let base = std::net::Ipv4Addr::new(10, next(4) as u8, next(4) as u8, next(256) as u8);
            let dst = if next(10) == 0 { AddrRange::ANY_V4 } else { AddrRange::v4_prefix(base, len) };
            let mut e = ace(action, protocol, AddrRange::ANY_V4, dst);
            if protocol.is_some() && next(2) == 0 {
                e.dst_ports = PortRange::single(next(4) as u16 + 80);
            }
            e.inactive = i % 37 == 0;
            entries.push(e);
        }
        let compiled = CompiledAcl::new(&Acl { name: "A".to_string(), entries: entries.clone() });
        assert!(compiled.dst_index.is_some());
        for _ in 0..5000 {
            let dst = std::net::Ipv4Addr::new(10, next(5) as u8, next(5) as u8, next(256) as u8);
            let protocol = [PROTO_TCP, 17, 1][next(3) as usize];
            let flow = Flow { protocol, src: "10.9.9.9".parse().expect("literal"), dst: dst.into(), src_port: 1000, dst_port: next(5) as u16 + 80 };
            assert_eq!(compiled.lookup(&flow).map(|m| m.entry), reference_lookup(&entries, &flow), "{flow}");
        }
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
