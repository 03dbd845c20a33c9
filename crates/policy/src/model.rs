//! The resolved policy that the engine evaluates. `rampart-asa` builds it from ASA text,
//! with every object, object group and named port already expanded.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde::Serialize;

/// An inclusive address range. A subnet, a host and `range A B` all lower to this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct AddrRange {
    pub start: IpAddr,
    pub end: IpAddr,
}

impl AddrRange {
    pub const ANY_V4: AddrRange = AddrRange {
        start: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        end: IpAddr::V4(Ipv4Addr::BROADCAST),
    };

    pub fn host(a: IpAddr) -> AddrRange {
        AddrRange { start: a, end: a }
    }

    /// Range of an IPv4 network given as address and prefix length.
    pub fn v4_prefix(net: Ipv4Addr, prefix_len: u8) -> AddrRange {
        let mask = if prefix_len == 0 { 0 } else { u32::MAX << (32 - prefix_len as u32) };
        let start = u32::from(net) & mask;
        AddrRange { start: IpAddr::V4(start.into()), end: IpAddr::V4((start | !mask).into()) }
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        match (self.start, self.end, a) {
            (IpAddr::V4(s), IpAddr::V4(e), IpAddr::V4(x)) => s <= x && x <= e,
            (IpAddr::V6(s), IpAddr::V6(e), IpAddr::V6(x)) => s <= x && x <= e,
            _ => false,
        }
    }
}

/// An inclusive port range; `0..=65535` matches every port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub const ANY: PortRange = PortRange { start: 0, end: 65535 };

    pub const fn single(p: u16) -> PortRange {
        PortRange { start: p, end: p }
    }

    pub fn contains(&self, p: u16) -> bool {
        self.start <= p && p <= self.end
    }

    pub fn is_any(&self) -> bool {
        *self == PortRange::ANY
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    Permit,
    Deny,
}

/// Source line of a policy element, so that packet-tracer can print the config line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// 1-based line number in the configuration file.
    pub line: u32,
    /// The configuration line as written (secrets masked).
    pub text: String,
}

/// One access-control entry after expanding object groups: a single protocol, a single
/// source and destination range and a single port range on each side. An ACE that names
/// object groups expands into several entries sharing `ace_index` and `origin`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AclEntry {
    pub action: Action,
    /// IP protocol number; `None` for `ip` (every protocol).
    pub protocol: Option<u8>,
    pub src: AddrRange,
    pub src_ports: PortRange,
    pub dst: AddrRange,
    pub dst_ports: PortRange,
    /// ICMP type, when the ACE names one.
    pub icmp_type: Option<u8>,
    pub log: bool,
    /// `inactive` entries are kept for display but never match.
    pub inactive: bool,
    /// Index of the configured ACE within its ACL (0-based), shared by expanded entries.
    pub ace_index: u32,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Acl {
    pub name: String,
    pub entries: Vec<AclEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Interface {
    /// Hardware name, such as `GigabitEthernet0/0`.
    pub hardware: String,
    /// `nameif`: the name every other command uses.
    pub name: String,
    pub security_level: u8,
    pub address: Option<(Ipv4Addr, u8)>,
    pub mtu: u16,
}

/// A `route IF NET MASK GW [DISTANCE]` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Route {
    pub interface: String,
    pub network: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    pub distance: u8,
    pub origin: Origin,
}

/// The NAT section a rule lives in (ASA 8.3+ order): manual NAT, object NAT, then
/// manual NAT marked `after-auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum NatSection {
    Manual = 1,
    Object = 2,
    AfterAuto = 3,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum NatKind {
    Static,
    Dynamic,
}

/// What the real addresses become.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum NatMapped {
    /// Mapped to the same addresses (identity NAT).
    Identity,
    /// PAT or static NAT to the mapped interface's address (`interface`).
    Interface,
    /// Mapped to these addresses, in order (a static rule maps one to one).
    Addresses(Vec<AddrRange>),
}

/// The `service` clause of a manual NAT rule: protocol plus real and mapped ports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NatService {
    pub protocol: u8,
    /// Match on the source port (`service tcp source eq ...`) instead of the destination.
    pub source_port: bool,
    pub real: PortRange,
    pub mapped: PortRange,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NatRule {
    pub section: NatSection,
    /// `(real_ifc,mapped_ifc)`; `None` stands for `any`.
    pub real_interface: Option<String>,
    pub mapped_interface: Option<String>,
    pub kind: NatKind,
    pub real_source: Vec<AddrRange>,
    pub mapped_source: NatMapped,
    /// `destination static MAPPED REAL`: (mapped, real) destination addresses.
    pub destination: Option<(Vec<AddrRange>, Vec<AddrRange>)>,
    pub service: Option<NatService>,
    pub no_proxy_arp: bool,
    pub route_lookup: bool,
    /// PAT to the mapped interface's address once the pool of a dynamic rule is
    /// exhausted (`interface` after the pool).
    pub pat_fallback: bool,
    pub origin: Origin,
}

/// One `crypto map NAME SEQ` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CryptoMapEntry {
    pub map: String,
    pub sequence: u32,
    /// `match address`: the crypto ACL's name.
    pub acl: Option<String>,
    /// `set peer`, in order; the first is the primary.
    pub peers: Vec<IpAddr>,
    /// `set ikev2 ipsec-proposal` names.
    pub proposals: Vec<String>,
    /// `ipsec-isakmp dynamic NAME` entries are matched only as responder.
    pub dynamic: Option<String>,
    pub origin: Origin,
}

impl CryptoMapEntry {
    /// True when the entry can protect traffic: it has an ACL, a peer and a proposal.
    pub fn is_complete(&self) -> bool {
        self.dynamic.is_some() || (self.acl.is_some() && !self.peers.is_empty() && !self.proposals.is_empty())
    }
}

/// A crypto map bound to an interface, entries sorted by sequence number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CryptoMap {
    pub name: String,
    pub interface: Option<String>,
    pub entries: Vec<CryptoMapEntry>,
}

/// `access-group ACL in|out interface IF`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessGroup {
    pub acl: String,
    pub inbound: bool,
    pub interface: String,
}

/// Everything the policy engine evaluates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicyConfig {
    pub interfaces: Vec<Interface>,
    pub routes: Vec<Route>,
    pub acls: Vec<Acl>,
    pub access_groups: Vec<AccessGroup>,
    /// NAT rules in evaluation order: section 1 in config order, section 2 sorted as the
    /// ASA sorts object NAT, then section 3 in config order.
    pub nat_rules: Vec<NatRule>,
    pub crypto_maps: Vec<CryptoMap>,
    /// `sysopt connection tcpmss N`; the ASA default is 1380.
    pub tcp_mss: Option<u16>,
    /// `same-security-traffic permit inter-interface`.
    pub same_security_inter_interface: bool,
    /// `crypto ipsec security-association pmtu-aging`.
    pub pmtu_aging: PmtuAging,
}

/// How long a path MTU learned from an ICMP fragmentation-needed error applies before
/// the interface MTU applies again: seconds, or `None` for `pmtu-aging infinite`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PmtuAging(pub Option<u32>);

impl PmtuAging {
    /// The ASA default of `crypto ipsec security-association pmtu-aging`: 10 minutes.
    pub const DEFAULT_SECONDS: u32 = 600;

    /// Returns the aging interval, `None` when learned path MTUs never age.
    pub fn interval(self) -> Option<Duration> {
        self.0.map(|seconds| Duration::from_secs(u64::from(seconds)))
    }
}

impl Default for PmtuAging {
    fn default() -> PmtuAging {
        PmtuAging(Some(PmtuAging::DEFAULT_SECONDS))
    }
}
