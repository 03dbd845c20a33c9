//! Name resolution: every reference points at a definition of the right kind, object
//! groups nest without cycles, and objects expand to address and port ranges.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;

use rampart_policy::model::{AddrRange, PortRange};

use crate::ast::*;
use crate::diag::Diagnostic;
use crate::span::Span;

/// One protocol with its port ranges, the expansion of a service operand.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceRange {
    pub protocol: Option<u8>,
    pub src: Vec<PortRange>,
    pub dst: Vec<PortRange>,
    pub icmp_type: Option<u8>,
}

pub fn port_ranges(m: &PortMatch) -> Vec<PortRange> {
    match *m {
        PortMatch::Eq(p) => vec![PortRange::single(p)],
        PortMatch::Lt(0) => Vec::new(),
        PortMatch::Lt(p) => vec![PortRange { start: 0, end: p - 1 }],
        PortMatch::Gt(65535) => Vec::new(),
        PortMatch::Gt(p) => vec![PortRange { start: p + 1, end: 65535 }],
        PortMatch::Neq(p) => {
            let mut v = Vec::new();
            if p > 0 {
                v.push(PortRange { start: 0, end: p - 1 });
            }
            if p < 65535 {
                v.push(PortRange { start: p + 1, end: 65535 });
            }
            v
        }
        PortMatch::Range(a, b) => vec![PortRange { start: a, end: b }],
    }
}

pub fn subnet_range(a: IpAddr, len: u8) -> AddrRange {
    match a {
        IpAddr::V4(v4) => AddrRange::v4_prefix(v4, len.min(32)),
        IpAddr::V6(v6) => {
            let len = len.min(128) as u32;
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            let start = u128::from(v6) & mask;
            AddrRange { start: IpAddr::V6(Ipv6Addr::from(start)), end: IpAddr::V6(Ipv6Addr::from(start | !mask)) }
        }
    }
}

pub const ANY_V6: AddrRange =
    AddrRange { start: IpAddr::V6(Ipv6Addr::UNSPECIFIED), end: IpAddr::V6(Ipv6Addr::new(0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff)) };

/// Nesting depth beyond which group expansion stops. Cycles are reported by the
/// reference check, and the limit bounds the recursion on any input.
const MAX_GROUP_DEPTH: usize = 64;

/// Groups already expanded and ranges already emitted during one expansion.
#[derive(Default)]
struct ExpansionSeen<'a> {
    groups: HashSet<&'a str>,
    ranges: HashSet<AddrRange>,
}

impl ExpansionSeen<'_> {
    fn push_range(&mut self, range: AddrRange, out: &mut Vec<AddrRange>) {
        if self.ranges.insert(range) {
            out.push(range);
        }
    }
}

/// Removes repeated items, keeping the first of each.
fn dedup_in_order<T: Hash + Eq + Clone>(items: &mut Vec<T>) {
    let mut seen = HashSet::with_capacity(items.len());
    items.retain(|item| seen.insert(item.clone()));
}

/// Expands names to ranges, memoising object groups. Cycles and undefined names expand to
/// nothing here: `check_references` reports them.
pub struct Expander<'a> {
    pub cfg: &'a Config,
    net_memo: RefCell<HashMap<String, Rc<Vec<AddrRange>>>>,
}

impl<'a> Expander<'a> {
    pub fn new(cfg: &'a Config) -> Expander<'a> {
        Expander { cfg, net_memo: RefCell::new(HashMap::new()) }
    }

    /// Address ranges of a network object or network object group, without duplicates.
    pub fn net(&self, name: &str) -> Rc<Vec<AddrRange>> {
        if let Some(v) = self.net_memo.borrow().get(name) {
            return v.clone();
        }
        let mut out = Vec::new();
        let mut seen = ExpansionSeen::default();
        self.net_into(name, 0, &mut seen, &mut out);
        let v = Rc::new(out);
        self.net_memo.borrow_mut().insert(name.to_string(), v.clone());
        v
    }

    /// Appends the ranges of `name` to `out`. Each group is expanded once per call of
    /// [`Expander::net`]: a group referenced twice adds nothing new to the union, and
    /// skipping it keeps a chain of groups that each name the previous one twice linear
    /// instead of exponential.
    fn net_into(&self, name: &'a str, depth: usize, seen: &mut ExpansionSeen<'a>, out: &mut Vec<AddrRange>) {
        if depth > MAX_GROUP_DEPTH || !seen.groups.insert(name) {
            return;
        }
        if let Some(o) = self.cfg.network_object(name) {
            let range = match o.body.as_ref().map(|b| &b.value) {
                Some(NetObjectBody::Host(h)) => AddrRange::host(*h),
                Some(NetObjectBody::Subnet(a, l)) => subnet_range(*a, *l),
                Some(NetObjectBody::Range(a, b)) => AddrRange { start: *a, end: *b },
                Some(NetObjectBody::Fqdn(_)) | None => return,
            };
            seen.push_range(range, out);
            return;
        }
        let Some(g) = self.cfg.object_group(name).filter(|g| g.kind == GroupKind::Network) else {
            return;
        };
        for m in &g.members {
            match &m.value {
                GroupMember::Host(h) => seen.push_range(AddrRange::host(*h), out),
                GroupMember::Subnet(a, l) => seen.push_range(subnet_range(*a, *l), out),
                GroupMember::Range(a, b) => seen.push_range(AddrRange { start: *a, end: *b }, out),
                GroupMember::Object(n) | GroupMember::Group(n) => self.net_into(&n.value, depth + 1, seen, out),
                _ => {}
            }
        }
    }

    /// Address ranges of an ACE operand.
    pub fn addr(&self, a: &AddrSpec) -> Vec<AddrRange> {
        match a {
            AddrSpec::Any => vec![AddrRange::ANY_V4],
            AddrSpec::Any4 => vec![AddrRange::ANY_V4],
            AddrSpec::Any6 => vec![ANY_V6],
            AddrSpec::Host(h) => vec![AddrRange::host(*h)],
            AddrSpec::Subnet(a, l) => vec![subnet_range(*a, *l)],
            AddrSpec::Object(n) | AddrSpec::Group(n) => self.net(&n.value).to_vec(),
            AddrSpec::Interface(n) => self
                .cfg
                .interface(&n.value)
                .and_then(|f| f.address.as_ref())
                .map(|a| vec![AddrRange::host(IpAddr::V4(a.value.0))])
                .unwrap_or_default(),
        }
    }

    /// Number of address ranges of an ACE operand, without copying them.
    pub fn addr_count(&self, a: &AddrSpec) -> usize {
        match a {
            AddrSpec::Object(n) | AddrSpec::Group(n) => self.net(&n.value).len(),
            other => self.addr(other).len(),
        }
    }

    /// Number of policy entries an ACE expands into.
    pub fn ace_size(&self, ace: &Ace) -> u128 {
        let src = self.addr_count(&ace.src) as u128;
        let dst = self.addr_count(&ace.dst) as u128;
        self.services(ace).iter().map(|s| src * dst * s.src.len() as u128 * s.dst.len() as u128).sum()
    }

    /// Port ranges of an ACE port operand (a match or a port group).
    pub fn ports(&self, p: Option<&PortSpec>) -> Vec<PortRange> {
        match p {
            None => vec![PortRange::ANY],
            Some(PortSpec::Match(m)) => port_ranges(m),
            Some(PortSpec::Group(n)) => self.port_group(&n.value),
        }
    }

    fn port_group(&self, name: &str) -> Vec<PortRange> {
        let mut out = Vec::new();
        self.port_group_into(name, 0, &mut HashSet::new(), &mut out);
        dedup_in_order(&mut out);
        out
    }

    fn port_group_into(&self, name: &'a str, depth: usize, seen: &mut HashSet<&'a str>, out: &mut Vec<PortRange>) {
        if depth > MAX_GROUP_DEPTH || !seen.insert(name) {
            return;
        }
        let Some(g) = self.cfg.object_group(name) else {
            return;
        };
        for m in &g.members {
            match &m.value {
                GroupMember::Port(pm) => out.extend(port_ranges(pm)),
                GroupMember::Group(n) => self.port_group_into(&n.value, depth + 1, seen, out),
                _ => {}
            }
        }
    }

    /// ICMP types of an icmp-type object group, without duplicates.
    pub fn icmp_group(&self, name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        self.icmp_group_into(name, 0, &mut HashSet::new(), &mut out);
        dedup_in_order(&mut out);
        out
    }

    fn icmp_group_into(&self, name: &'a str, depth: usize, seen: &mut HashSet<&'a str>, out: &mut Vec<u8>) {
        if depth > MAX_GROUP_DEPTH || !seen.insert(name) {
            return;
        }
        let Some(g) = self.cfg.object_group(name) else {
            return;
        };
        for m in &g.members {
            match &m.value {
                GroupMember::Icmp(t) => out.push(*t),
                GroupMember::Group(n) => self.icmp_group_into(&n.value, depth + 1, seen, out),
                _ => {}
            }
        }
    }

    fn spec_ranges(spec: &ServiceSpec) -> Vec<ServiceRange> {
        let src = spec.source.as_ref().map_or(vec![PortRange::ANY], port_ranges);
        let dst = spec.destination.as_ref().map_or(vec![PortRange::ANY], port_ranges);
        let protos: Vec<Option<u8>> = if spec.tcp_udp { vec![Some(6), Some(17)] } else { vec![spec.protocol] };
        protos
            .into_iter()
            .map(|p| ServiceRange { protocol: p, src: src.clone(), dst: dst.clone(), icmp_type: spec.icmp_type })
            .collect()
    }

    /// Protocols and ports of an ACE's protocol operand together with its own port
    /// qualifiers.
    pub fn services(&self, ace: &Ace) -> Vec<ServiceRange> {
        let src = self.ports(ace.src_port.as_ref());
        let dst_from_group = matches!(ace.dst_port, Some(PortSpec::Group(ref n)) if self.cfg.object_group(&n.value).is_some_and(|g| g.kind == GroupKind::IcmpType));
        let dst = if dst_from_group { vec![PortRange::ANY] } else { self.ports(ace.dst_port.as_ref()) };
        let icmp_types: Vec<Option<u8>> = match &ace.dst_port {
            Some(PortSpec::Group(n)) if dst_from_group => self.icmp_group(&n.value).into_iter().map(Some).collect(),
            _ => vec![ace.icmp_type],
        };
        match &ace.protocol {
            ProtoSpec::Proto(p) => icmp_types
                .into_iter()
                .map(|t| ServiceRange { protocol: *p, src: src.clone(), dst: dst.clone(), icmp_type: t })
                .collect(),
            ProtoSpec::Object(n) => match self.cfg.service_object(&n.value).and_then(|o| o.body.as_ref()) {
                Some(b) => Self::spec_ranges(&b.value),
                None => Vec::new(),
            },
            ProtoSpec::Group(n) => {
                let mut out = Vec::new();
                self.service_group(&n.value, &src, &dst, &mut HashSet::new(), &mut out, 0);
                dedup_in_order(&mut out);
                out
            }
        }
    }

    fn service_group(
        &self,
        name: &'a str,
        src: &[PortRange],
        dst: &[PortRange],
        seen: &mut HashSet<&'a str>,
        out: &mut Vec<ServiceRange>,
        depth: usize,
    ) {
        if depth > MAX_GROUP_DEPTH || !seen.insert(name) {
            return;
        }
        let Some(g) = self.cfg.object_group(name) else {
            return;
        };
        for m in &g.members {
            match &m.value {
                GroupMember::Protocol(p) => out.push(ServiceRange { protocol: *p, src: src.to_vec(), dst: dst.to_vec(), icmp_type: None }),
                GroupMember::Service(spec) => out.extend(Self::spec_ranges(spec)),
                GroupMember::ServiceObject(n) => {
                    if let Some(b) = self.cfg.service_object(&n.value).and_then(|o| o.body.as_ref()) {
                        out.extend(Self::spec_ranges(&b.value));
                    }
                }
                GroupMember::Group(n) => self.service_group(&n.value, src, dst, seen, out, depth + 1),
                _ => {}
            }
        }
    }

    /// Address ranges of a NAT operand; `Interface` uses the mapped interface's address.
    pub fn nat_addr(&self, a: &NatAddr) -> Vec<AddrRange> {
        match a {
            NatAddr::Any => vec![AddrRange::ANY_V4],
            NatAddr::Interface => Vec::new(),
            NatAddr::Named(n) => self.net(&n.value).to_vec(),
            NatAddr::Inline(ip) => vec![AddrRange::host(*ip)],
        }
    }
}

/// Returns the IPv4 address of the interface with this nameif.
pub fn interface_addr(cfg: &Config, name: &str) -> Option<Ipv4Addr> {
    cfg.interface(name).and_then(|f| f.address.as_ref()).map(|a| a.value.0)
}

/// The kind of definition a reference must name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    NetworkObjectOrGroup,
    NetworkObject,
    ServiceObject,
    ProtocolOrServiceGroup,
    GroupOf(GroupKind),
}

struct RefChecker<'a> {
    cfg: &'a Config,
    diags: Vec<Diagnostic>,
}

impl RefChecker<'_> {
    fn name(&mut self, n: &Name, want: Want) {
        let cfg = self.cfg;
        let v = n.value.as_str();
        let ok = match want {
            Want::NetworkObjectOrGroup => {
                cfg.network_object(v).is_some() || cfg.object_group(v).is_some_and(|g| g.kind == GroupKind::Network)
            }
            Want::NetworkObject => cfg.network_object(v).is_some(),
            Want::ServiceObject => cfg.service_object(v).is_some(),
            Want::ProtocolOrServiceGroup => {
                cfg.object_group(v).is_some_and(|g| matches!(g.kind, GroupKind::Protocol | GroupKind::Service(None)))
            }
            Want::GroupOf(k) => cfg.object_group(v).is_some_and(|g| same_group_family(g.kind, k)),
        };
        if ok {
            self.empty_network_object(n, want);
            return;
        }
        let group_kind;
        let (what, define) = match want {
            Want::NetworkObjectOrGroup => ("network object or object-group", format!("object network {v}\n host ADDRESS")),
            Want::NetworkObject => ("network object", format!("object network {v}\n host ADDRESS")),
            Want::ServiceObject => ("service object", format!("object service {v}\n service tcp destination eq PORT")),
            Want::ProtocolOrServiceGroup => ("protocol or service object-group", format!("object-group protocol {v}\n protocol-object tcp")),
            Want::GroupOf(k) => {
                group_kind = format!("object-group {}", kind_word(k));
                (group_kind.as_str(), format!("object-group {} {v}", kind_word(k)))
            }
        };
        let exists_as_other = cfg.network_object(v).is_some() || cfg.service_object(v).is_some() || cfg.object_group(v).is_some();
        let mut d = if exists_as_other {
            Diagnostic::error("wrong-object-type", format!("`{v}` is not a {what}"))
                .at(n.span, format!("expected a {what}"))
                .with_help(format!("refer to a {what} here, or define one:\n{define}"))
        } else {
            Diagnostic::error("undefined-object", format!("{what} `{v}` is not defined"))
                .at(n.span, "used here")
                .with_help(format!("define it before use:\n{define}"))
        };
        if !exists_as_other && let Some(s) = suggest(v, all_object_names(cfg)) {
            d = d.with_note(format!("a similar name exists: `{s}`"));
        }
        self.diags.push(d);
    }

    /// Reports a reference to an `object network` with no host, subnet, range or fqdn,
    /// which matches nothing. An object whose address line had a parse error is left to
    /// that error.
    fn empty_network_object(&mut self, n: &Name, want: Want) {
        if !matches!(want, Want::NetworkObjectOrGroup | Want::NetworkObject) {
            return;
        }
        let Some(o) = self.cfg.network_object(&n.value) else { return };
        let header = format!("object network {}", o.name.value);
        let failed_key = header.to_ascii_lowercase();
        if o.body.is_some() || self.cfg.index.failed_sub_commands.iter().any(|(h, _)| *h == failed_key) {
            return;
        }
        self.diags.push(
            Diagnostic::error("empty-object", format!("object network {} has no address", o.name.value))
                .at(n.span, "this reference matches no address")
                .also(o.name.span, "defined here without host, subnet, range or fqdn")
                .with_help(format!("add an address line:\n{header}\n host ADDRESS")),
        );
    }

    fn interface(&mut self, n: &Name, used_by: &str) {
        if self.cfg.interface(&n.value).is_some() {
            return;
        }
        let mut d = Diagnostic::error("undefined-interface", format!("interface `{}` is not defined", n.value))
            .at(n.span, format!("used by {used_by}"))
            .with_help(format!("add `nameif {}` under the interface it names", n.value));
        if let Some(s) = suggest(&n.value, self.cfg.interfaces.iter().filter_map(|f| f.nameif.as_ref().map(|n| n.value.as_str()))) {
            d = d.with_note(format!("a similar interface exists: `{s}`"));
        }
        self.diags.push(d);
    }

    fn addr(&mut self, a: &AddrSpec) {
        match a {
            AddrSpec::Object(n) => self.name(n, Want::NetworkObject),
            AddrSpec::Group(n) => self.name(n, Want::GroupOf(GroupKind::Network)),
            AddrSpec::Interface(n) => self.interface(n, "this access-list entry"),
            _ => {}
        }
    }

    fn nat_addr(&mut self, a: &NatAddr) {
        if let NatAddr::Named(n) = a {
            self.name(n, Want::NetworkObjectOrGroup);
        }
    }
}

fn same_group_family(have: GroupKind, want: GroupKind) -> bool {
    match (have, want) {
        (GroupKind::Service(_), GroupKind::Service(_)) => true,
        _ => have == want,
    }
}

fn kind_word(k: GroupKind) -> &'static str {
    match k {
        GroupKind::Network => "network",
        GroupKind::Service(_) => "service",
        GroupKind::Protocol => "protocol",
        GroupKind::IcmpType => "icmp-type",
    }
}

fn all_object_names(cfg: &Config) -> impl Iterator<Item = &str> {
    cfg.network_objects
        .iter()
        .map(|o| o.name.value.as_str())
        .chain(cfg.service_objects.iter().map(|o| o.name.value.as_str()))
        .chain(cfg.object_groups.iter().map(|g| g.name.value.as_str()))
}

/// Finds the closest name within a small edit distance, for "did you mean" notes.
pub(crate) fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let max = (name.len() / 3).clamp(1, 3);
    candidates
        .filter(|c| c.len().abs_diff(name.len()) <= max)
        .map(|c| (edit_distance(&name.to_ascii_lowercase(), &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Reports undefined or mistyped references and object-group cycles.
pub(crate) fn check_references(cfg: &Config) -> Vec<Diagnostic> {
    let mut rc = RefChecker { cfg, diags: Vec::new() };
    for g in &cfg.object_groups {
        for m in &g.members {
            match &m.value {
                GroupMember::Object(n) => rc.name(n, Want::NetworkObject),
                GroupMember::ServiceObject(n) => rc.name(n, Want::ServiceObject),
                GroupMember::Group(n) => rc.name(n, Want::GroupOf(g.kind)),
                _ => {}
            }
        }
    }
    rc.diags.extend(group_cycles(cfg));

    for acl in &cfg.acls {
        for l in &acl.lines {
            let AclLine::Extended(a) = &l.value else { continue };
            match &a.protocol {
                ProtoSpec::Group(n) => rc.name(n, Want::ProtocolOrServiceGroup),
                ProtoSpec::Object(n) => rc.name(n, Want::ServiceObject),
                ProtoSpec::Proto(_) => {}
            }
            rc.addr(&a.src);
            rc.addr(&a.dst);
        }
    }

    for n in &cfg.manual_nat {
        rc.nat_addr(&n.real_source);
        rc.nat_addr(&n.mapped_source);
        if let Some((m, r)) = &n.destination {
            rc.nat_addr(m);
            rc.nat_addr(r);
        }
        if let Some((r, m)) = &n.service {
            rc.name(r, Want::ServiceObject);
            rc.name(m, Want::ServiceObject);
        }
        for ifc in [&n.real_interface, &n.mapped_interface].into_iter().flatten() {
            rc.interface(ifc, "this NAT rule");
        }
    }
    for o in &cfg.network_objects {
        if let Some(nat) = &o.nat {
            rc.nat_addr(&nat.mapped);
            for ifc in [&nat.real_interface, &nat.mapped_interface].into_iter().flatten() {
                rc.interface(ifc, "this NAT rule");
            }
        }
    }

    for g in &cfg.access_groups {
        rc.interface(&g.interface, "this access-group");
        if cfg.acl(&g.acl.value).is_none() {
            rc.diags.push(undefined_acl(cfg, &g.acl, "access-group"));
        }
    }
    for r in &cfg.routes {
        rc.interface(&r.interface, "this route");
    }
    for m in &cfg.mtus {
        rc.interface(&m.interface, "this mtu command");
    }
    for e in &cfg.ikev2_enable {
        rc.interface(e, "crypto ikev2 enable");
    }
    for b in &cfg.crypto_map_bindings {
        rc.interface(&b.interface, &format!("crypto map {}", b.map.value));
    }
    for s in &cfg.ipsec_interface_settings {
        rc.interface(&s.interface, &format!("crypto ipsec {}", s.command));
    }

    for e in &cfg.crypto_map_entries {
        if let Some(a) = &e.match_address
            && cfg.acl(&a.value).is_none()
        {
            rc.diags.push(undefined_acl(cfg, a, "crypto map match address"));
        }
        for p in e.proposals.iter().flat_map(|p| p.value.iter()) {
            if cfg.proposal(&p.value).is_none() {
                rc.diags.push(undefined_proposal(cfg, p));
            }
        }
    }

    for t in &cfg.tunnel_groups {
        if let Some(gp) = &t.default_group_policy
            && cfg.group_policy(&gp.value).is_none()
            && gp.value != "DfltGrpPolicy"
        {
            rc.diags.push(
                Diagnostic::error("undefined-group-policy", format!("group-policy `{}` is not defined", gp.value))
                    .at(gp.span, format!("default-group-policy of tunnel-group {}", t.name.value))
                    .with_help(format!(
                        "define it:\ngroup-policy {0} internal\ngroup-policy {0} attributes\n vpn-tunnel-protocol ikev2",
                        gp.value
                    )),
            );
        }
    }
    rc.diags
}

fn undefined_acl(cfg: &Config, name: &Name, used_by: &str) -> Diagnostic {
    let mut d = Diagnostic::error("undefined-acl", format!("access-list `{}` is not defined", name.value))
        .at(name.span, format!("used by {used_by}"))
        .with_help(format!("define it, for example:\naccess-list {} extended permit ip object LOCAL_NET any", name.value));
    if let Some(s) = suggest(&name.value, cfg.acls.iter().map(|a| a.name.value.as_str())) {
        d = d.with_note(format!("a similar access-list exists: `{s}`"));
    }
    d
}

fn undefined_proposal(cfg: &Config, name: &Name) -> Diagnostic {
    let mut d = Diagnostic::error("undefined-proposal", format!("ipsec-proposal `{}` is not defined", name.value))
        .at(name.span, "used by set ikev2 ipsec-proposal")
        .with_help(format!(
            "define it:\ncrypto ipsec ikev2 ipsec-proposal {}\n protocol esp encryption aes-gcm-256\n protocol esp integrity null",
            name.value
        ));
    if let Some(span) = cfg.index.rejected_transform_sets.get(&name.value) {
        d = d.also(*span, "a transform-set of this name was rejected here");
    }
    if let Some(s) = suggest(&name.value, cfg.ipsec_proposals.iter().map(|p| p.name.value.as_str())) {
        d = d.with_note(format!("a similar proposal exists: `{s}`"));
    }
    d
}

/// Finds `group-object` cycles with a depth-first search over object groups.
fn group_cycles(cfg: &Config) -> Vec<Diagnostic> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Active,
        Done,
    }
    let mut state = vec![State::New; cfg.object_groups.len()];
    let mut out = Vec::new();
    for root in 0..cfg.object_groups.len() {
        if state[root] != State::New {
            continue;
        }
        // Explicit stack of (group, next member index) so that deep nesting cannot
        // overflow the call stack.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = State::Active;
        while let Some(&mut (g, ref mut next)) = stack.last_mut() {
            let members = &cfg.object_groups[g].members;
            if *next >= members.len() {
                state[g] = State::Done;
                stack.pop();
                continue;
            }
            let m = &members[*next];
            *next += 1;
            let GroupMember::Group(n) = &m.value else { continue };
            let Some(&child) = cfg.index.object_groups.get(&n.value) else { continue };
            match state[child] {
                State::New => {
                    state[child] = State::Active;
                    stack.push((child, 0));
                }
                State::Active => {
                    let path: Vec<&str> = stack
                        .iter()
                        .skip_while(|(x, _)| *x != child)
                        .map(|(x, _)| cfg.object_groups[*x].name.value.as_str())
                        .chain(std::iter::once(n.value.as_str()))
                        .collect();
                    out.push(
                        Diagnostic::error("object-group-cycle", format!("object-group `{}` contains itself", n.value))
                            .at(m.span, "this group-object closes a cycle")
                            .with_note(format!("cycle: {}", path.join(" -> ")))
                            .with_help("remove one of the group-object lines in the cycle"),
                    );
                }
                State::Done => {}
            }
        }
    }
    out
}

pub(crate) fn span_line(cfg: &Config, span: Span) -> u32 {
    cfg.index.lines.line(span.start)
}
