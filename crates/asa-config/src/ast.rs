//! The parsed configuration: one typed value per ASA command, each with its span.
//!
//! Names are kept as written; references between commands are resolved later by
//! `resolve`. Equality ignores spans, so a printed and re-parsed model compares equal.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use crate::span::{Span, Spanned};

pub type Name = Spanned<String>;

/// A key as written in the configuration. It is never printed or serialised in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub zeroize::Zeroizing<String>);

impl Secret {
    pub fn new(s: &str) -> Secret {
        Secret(zeroize::Zeroizing::new(s.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("*****")
    }
}

/// An ASA encryption keyword, for IKE policies and IPsec proposals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum EncrKw {
    Des,
    TripleDes,
    Aes128,
    Aes192,
    Aes256,
    AesGcm128,
    AesGcm192,
    AesGcm256,
    AesGmac128,
    AesGmac192,
    AesGmac256,
    Null,
}

/// An ASA hash keyword (IKE `integrity`/`prf`, ESP `integrity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum HashKw {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Null,
}

/// A port comparison from `eq|lt|gt|neq|range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PortMatch {
    Eq(u16),
    Lt(u16),
    Gt(u16),
    Neq(u16),
    Range(u16, u16),
}

/// A protocol as written in an ACE, a service or a protocol group. `None` is `ip`.
pub type Protocol = Option<u8>;

/// The body of `object network`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum NetObjectBody {
    Host(IpAddr),
    Subnet(IpAddr, u8),
    Range(IpAddr, IpAddr),
    Fqdn(String),
}

/// A `service ...` line of `object service`, or a `service-object` group member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceSpec {
    pub protocol: Protocol,
    /// `tcp-udp` in a `service-object` line.
    pub tcp_udp: bool,
    pub source: Option<PortMatch>,
    pub destination: Option<PortMatch>,
    pub icmp_type: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkObject {
    pub name: Name,
    pub body: Option<Spanned<NetObjectBody>>,
    pub description: Option<String>,
    /// Object NAT (`nat (real,mapped) static|dynamic ...` inside the object).
    pub nat: Option<ObjectNat>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceObject {
    pub name: Name,
    pub body: Option<Spanned<ServiceSpec>>,
    pub description: Option<String>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum GroupKind {
    Network,
    /// `object-group service NAME [tcp|udp|tcp-udp]`: the protocol suffix, when given,
    /// makes the members `port-object` lines.
    Service(Option<ServiceProto>),
    Protocol,
    IcmpType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ServiceProto {
    Tcp,
    Udp,
    TcpUdp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum GroupMember {
    Host(IpAddr),
    Subnet(IpAddr, u8),
    Range(IpAddr, IpAddr),
    Object(Name),
    Group(Name),
    Port(PortMatch),
    Service(ServiceSpec),
    ServiceObject(Name),
    Protocol(Protocol),
    Icmp(u8),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectGroup {
    pub name: Name,
    pub kind: GroupKind,
    pub members: Vec<Spanned<GroupMember>>,
    pub description: Option<String>,
    pub span: Span,
}

/// The address part of an ACE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum AddrSpec {
    Any,
    Any4,
    Any6,
    Host(IpAddr),
    Subnet(IpAddr, u8),
    Object(Name),
    Group(Name),
    Interface(Name),
}

/// The protocol part of an ACE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ProtoSpec {
    Proto(Protocol),
    /// `object-group` of kind protocol or service.
    Group(Name),
    /// `object SVC`: a service object supplies protocol and ports.
    Object(Name),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum PortSpec {
    Match(PortMatch),
    Group(Name),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AceAction {
    Permit,
    Deny,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ace {
    pub action: AceAction,
    pub protocol: ProtoSpec,
    pub src: AddrSpec,
    pub src_port: Option<PortSpec>,
    pub dst: AddrSpec,
    pub dst_port: Option<PortSpec>,
    pub icmp_type: Option<u8>,
    /// `log` and its options as written (`log`, `log 6 interval 300`, `log disable`).
    pub log: Option<String>,
    pub inactive: bool,
    pub time_range: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

// Almost every line of an ACL is an entry, so boxing `Ace` would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum AclLine {
    Remark(String),
    Extended(Ace),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AclDef {
    pub name: Name,
    pub lines: Vec<Spanned<AclLine>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessGroupDef {
    pub acl: Name,
    pub inbound: bool,
    pub interface: Name,
}

/// A NAT address operand: `any`, `interface` or an object / object group name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum NatAddr {
    Any,
    Interface,
    Named(Name),
    /// An inline address (object NAT `static 198.51.100.7`).
    Inline(IpAddr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum NatType {
    Static,
    Dynamic,
}

/// Manual (twice) NAT: `nat (real,mapped) [after-auto] source static|dynamic ...`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ManualNat {
    pub real_interface: Option<Name>,
    pub mapped_interface: Option<Name>,
    pub after_auto: bool,
    pub kind: NatType,
    pub real_source: NatAddr,
    pub mapped_source: NatAddr,
    /// `destination static MAPPED REAL`.
    pub destination: Option<(NatAddr, NatAddr)>,
    /// `service REAL_SVC MAPPED_SVC` object names.
    pub service: Option<(Name, Name)>,
    pub no_proxy_arp: bool,
    pub route_lookup: bool,
    /// `interface` after the mapped pool of a dynamic rule: PAT to the mapped
    /// interface's address once the pool is exhausted.
    pub pat_fallback: bool,
    pub unidirectional: bool,
    pub inactive: bool,
    pub description: Option<String>,
    #[serde(skip)]
    pub span: Span,
}

/// Object NAT inside `object network`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectNat {
    pub real_interface: Option<Name>,
    pub mapped_interface: Option<Name>,
    pub kind: NatType,
    pub mapped: NatAddr,
    /// `service tcp|udp REAL MAPPED`.
    pub service: Option<(u8, u16, u16)>,
    pub no_proxy_arp: bool,
    pub route_lookup: bool,
    /// `interface` after the mapped pool of a dynamic rule: PAT to the mapped
    /// interface's address once the pool is exhausted.
    pub pat_fallback: bool,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InterfaceDef {
    pub hardware: Name,
    pub nameif: Option<Name>,
    pub security_level: Option<Spanned<u8>>,
    pub address: Option<Spanned<(Ipv4Addr, u8)>>,
    pub standby: Option<Ipv4Addr>,
    pub description: Option<String>,
    pub shutdown: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MtuDef {
    pub interface: Name,
    pub mtu: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteDef {
    pub interface: Name,
    pub network: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    pub distance: u8,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NameDef {
    pub addr: IpAddr,
    pub name: Name,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ikev2Policy {
    pub priority: Spanned<u16>,
    pub encryption: Option<Spanned<Vec<EncrKw>>>,
    pub integrity: Option<Spanned<Vec<HashKw>>>,
    pub groups: Option<Spanned<Vec<u16>>>,
    pub prf: Option<Spanned<Vec<HashKw>>>,
    pub lifetime_seconds: Option<Spanned<u64>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpsecProposal {
    pub name: Name,
    pub encryption: Option<Spanned<Vec<EncrKw>>>,
    pub integrity: Option<Spanned<Vec<HashKw>>>,
    pub span: Span,
}

/// All lines of one `crypto map NAME SEQ` entry, merged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CryptoMapEntryDef {
    pub map: Name,
    pub sequence: Spanned<u32>,
    pub match_address: Option<Name>,
    pub peers: Option<Spanned<Vec<Spanned<IpAddr>>>>,
    pub proposals: Option<Spanned<Vec<Name>>>,
    /// `set pfs [groupN]`; `Some(None)` is `set pfs` without a group.
    pub pfs: Option<Spanned<Option<u16>>>,
    pub lifetime_seconds: Option<Spanned<u64>>,
    pub lifetime_kilobytes: Option<Spanned<u64>>,
    pub dynamic: Option<Name>,
    /// Span of the entry's first line.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CryptoMapBinding {
    pub map: Name,
    pub interface: Name,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PeerIdValidateKw {
    Req,
    Cert,
    Nocheck,
}

/// `isakmp keepalive` of a tunnel group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Keepalive {
    Disable,
    /// Threshold and retry in seconds; `None` threshold is `threshold infinite`.
    Threshold { threshold: Option<u32>, retry: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TunnelGroup {
    pub name: Name,
    pub kind: Option<Name>,
    pub default_group_policy: Option<Name>,
    pub peer_id_validate: Option<Spanned<PeerIdValidateKw>>,
    pub local_psk: Option<Spanned<Secret>>,
    pub remote_psk: Option<Spanned<Secret>>,
    pub keepalive: Option<Spanned<Keepalive>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupPolicy {
    pub name: Name,
    pub internal: bool,
    /// `vpn-tunnel-protocol` values.
    pub tunnel_protocols: Option<Spanned<Vec<String>>>,
    pub banner: Vec<String>,
    pub span: Span,
}

/// `crypto isakmp identity`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum IdentityKw {
    Address,
    Hostname,
    KeyId(String),
    Auto,
}

/// The value of `crypto ipsec security-association pmtu-aging`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PmtuAgingKw {
    /// Seconds after which a learned path MTU is reset to the interface MTU.
    Seconds(u32),
    /// `infinite`: learned path MTUs are never reset.
    Infinite,
}

/// `crypto ipsec fragmentation|df-bit SETTING IF`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IpsecInterfaceSetting {
    pub command: String,
    pub setting: String,
    pub interface: Name,
}

/// A command that rampart keeps but does not model. `parent` is the mode command
/// it was entered under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unmodelled {
    pub parent: Option<String>,
    pub text: Spanned<String>,
}

/// The whole parsed configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Config {
    /// `ASA Version 9.6(4)`: the emulated software version.
    pub version: Option<Spanned<String>>,
    pub hostname: Option<Name>,
    pub domain_name: Option<Name>,
    pub names_enabled: bool,
    pub names: Vec<NameDef>,
    pub interfaces: Vec<InterfaceDef>,
    pub mtus: Vec<MtuDef>,
    pub routes: Vec<RouteDef>,
    pub network_objects: Vec<NetworkObject>,
    pub service_objects: Vec<ServiceObject>,
    pub object_groups: Vec<ObjectGroup>,
    pub acls: Vec<AclDef>,
    pub access_groups: Vec<AccessGroupDef>,
    pub manual_nat: Vec<ManualNat>,
    pub ikev2_policies: Vec<Ikev2Policy>,
    pub ikev2_enable: Vec<Name>,
    pub ipsec_proposals: Vec<IpsecProposal>,
    pub crypto_map_entries: Vec<CryptoMapEntryDef>,
    pub crypto_map_bindings: Vec<CryptoMapBinding>,
    pub sa_lifetime_seconds: Option<Spanned<u64>>,
    pub sa_lifetime_kilobytes: Option<Spanned<u64>>,
    pub isakmp_identity: Option<Spanned<IdentityKw>>,
    /// `crypto ipsec security-association pmtu-aging SECONDS|infinite`.
    pub pmtu_aging: Option<Spanned<PmtuAgingKw>>,
    pub ipsec_interface_settings: Vec<IpsecInterfaceSetting>,
    pub tunnel_groups: Vec<TunnelGroup>,
    pub group_policies: Vec<GroupPolicy>,
    pub tcp_mss: Option<Spanned<u16>>,
    pub same_security_inter_interface: bool,
    pub banners: Vec<String>,
    pub unmodelled: Vec<Unmodelled>,
    #[serde(skip)]
    pub(crate) index: Index,
}

/// Name lookups built while parsing. Excluded from equality: it is derived from the lists.
#[derive(Clone, Debug, Default)]
pub(crate) struct Index {
    pub network_objects: HashMap<String, usize>,
    pub service_objects: HashMap<String, usize>,
    pub object_groups: HashMap<String, usize>,
    pub acls: HashMap<String, usize>,
    pub proposals: HashMap<String, usize>,
    pub tunnel_groups: HashMap<String, usize>,
    pub group_policies: HashMap<String, usize>,
    pub interfaces: HashMap<String, usize>,
    pub ikev2_policies: HashMap<u16, usize>,
    pub crypto_map_entries: HashMap<(String, u32), usize>,
    pub names: HashMap<String, IpAddr>,
    /// `crypto ipsec ikev2 transform-set` lines that were rejected, by name.
    pub rejected_transform_sets: HashMap<String, Span>,
    /// Lines that had a parse error, as (mode command, each of their first one to five
    /// words), in lower case. The mode command is empty for top-level lines. Checks for
    /// a missing line skip these, because the parse error already reports the line.
    pub failed_sub_commands: std::collections::HashSet<(String, String)>,
    pub lines: crate::span::LineIndex,
}

impl PartialEq for Index {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Index {}

impl Config {
    /// True when a sub-command starting with `keywords` under `mode_command` had a
    /// parse error.
    pub(crate) fn sub_command_failed(&self, mode_command: &str, keywords: &str) -> bool {
        self.index.failed_sub_commands.contains(&(mode_command.to_ascii_lowercase(), keywords.to_ascii_lowercase()))
    }

    pub fn network_object(&self, name: &str) -> Option<&NetworkObject> {
        self.index.network_objects.get(name).map(|&i| &self.network_objects[i])
    }

    pub fn service_object(&self, name: &str) -> Option<&ServiceObject> {
        self.index.service_objects.get(name).map(|&i| &self.service_objects[i])
    }

    pub fn object_group(&self, name: &str) -> Option<&ObjectGroup> {
        self.index.object_groups.get(name).map(|&i| &self.object_groups[i])
    }

    pub fn acl(&self, name: &str) -> Option<&AclDef> {
        self.index.acls.get(name).map(|&i| &self.acls[i])
    }

    pub fn proposal(&self, name: &str) -> Option<&IpsecProposal> {
        self.index.proposals.get(name).map(|&i| &self.ipsec_proposals[i])
    }

    pub fn tunnel_group(&self, name: &str) -> Option<&TunnelGroup> {
        self.index.tunnel_groups.get(name).map(|&i| &self.tunnel_groups[i])
    }

    pub fn group_policy(&self, name: &str) -> Option<&GroupPolicy> {
        self.index.group_policies.get(name).map(|&i| &self.group_policies[i])
    }

    /// Finds the interface whose `nameif` is `name`.
    pub fn interface(&self, name: &str) -> Option<&InterfaceDef> {
        self.index.interfaces.get(name).map(|&i| &self.interfaces[i])
    }

    /// Lists crypto map names in order of first appearance, bound or not.
    pub fn crypto_map_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.crypto_map_entries.iter().map(|e| e.map.value.as_str()).collect();
        for b in &self.crypto_map_bindings {
            names.push(&b.map.value);
        }
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(*n));
        names
    }

    pub fn crypto_map_interface(&self, map: &str) -> Option<&Name> {
        self.crypto_map_bindings.iter().find(|b| b.map.value == map).map(|b| &b.interface)
    }

    pub(crate) fn rebuild_index(&mut self) {
        let mut ix = Index::default();
        for (i, o) in self.network_objects.iter().enumerate() {
            ix.network_objects.insert(o.name.value.clone(), i);
        }
        for (i, o) in self.service_objects.iter().enumerate() {
            ix.service_objects.insert(o.name.value.clone(), i);
        }
        for (i, g) in self.object_groups.iter().enumerate() {
            ix.object_groups.insert(g.name.value.clone(), i);
        }
        for (i, a) in self.acls.iter().enumerate() {
            ix.acls.insert(a.name.value.clone(), i);
        }

        for (i, p) in self.ipsec_proposals.iter().enumerate() {
            ix.proposals.insert(p.name.value.clone(), i);
        }
        for (i, t) in self.tunnel_groups.iter().enumerate() {
            ix.tunnel_groups.insert(t.name.value.clone(), i);
        }
        for (i, g) in self.group_policies.iter().enumerate() {
            ix.group_policies.insert(g.name.value.clone(), i);
        }

        for (i, f) in self.interfaces.iter().enumerate() {
            if let Some(n) = &f.nameif {
                ix.interfaces.insert(n.value.clone(), i);
            }
        }
        for (i, p) in self.ikev2_policies.iter().enumerate() {
            ix.ikev2_policies.insert(p.priority.value, i);
        }
        for (i, e) in self.crypto_map_entries.iter().enumerate() {
            ix.crypto_map_entries.insert((e.map.value.clone(), e.sequence.value), i);
        }
        for n in &self.names {
            ix.names.insert(n.name.value.clone(), n.addr);
        }

        ix.rejected_transform_sets = std::mem::take(&mut self.index.rejected_transform_sets);
        ix.failed_sub_commands = std::mem::take(&mut self.index.failed_sub_commands);
        ix.lines = std::mem::take(&mut self.index.lines);
        self.index = ix;
    }
}
