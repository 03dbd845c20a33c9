//! `show running-config` output of the model, in the order the ASA prints sections.
//!
//! Parsing the output gives back an equal `Config` (spans aside). Keys are printed as
//! `*****` unless the caller asks for them, as the ASA does.

use std::collections::HashMap;
use std::fmt::Write;

use crate::ast::*;
use crate::keywords::{self, addr_mask, encryption_name, esp_hash_name, ike_hash_name, port_name, protocol_name};

pub(crate) fn group_header(g: &ObjectGroup) -> String {
    let name = &g.name.value;
    match g.kind {
        GroupKind::Network => format!("object-group network {name}"),
        GroupKind::Service(None) => format!("object-group service {name}"),
        GroupKind::Service(Some(ServiceProto::Tcp)) => format!("object-group service {name} tcp"),
        GroupKind::Service(Some(ServiceProto::Udp)) => format!("object-group service {name} udp"),
        GroupKind::Service(Some(ServiceProto::TcpUdp)) => format!("object-group service {name} tcp-udp"),
        GroupKind::Protocol => format!("object-group protocol {name}"),
        GroupKind::IcmpType => format!("object-group icmp-type {name}"),
    }
}

pub(crate) fn port_match(m: &PortMatch) -> String {
    match *m {
        PortMatch::Eq(p) => format!("eq {}", port_name(p)),
        PortMatch::Lt(p) => format!("lt {}", port_name(p)),
        PortMatch::Gt(p) => format!("gt {}", port_name(p)),
        PortMatch::Neq(p) => format!("neq {}", port_name(p)),
        PortMatch::Range(a, b) => format!("range {} {}", port_name(a), port_name(b)),
    }
}

pub(crate) fn service_spec(s: &ServiceSpec) -> String {
    let mut out = if s.tcp_udp { "tcp-udp".to_string() } else { protocol_name(s.protocol) };
    if let Some(t) = s.icmp_type {
        let _ = write!(out, " {}", keywords::icmp_type_name(t));
    }
    if let Some(m) = &s.source {
        let _ = write!(out, " source {}", port_match(m));
    }
    if let Some(m) = &s.destination {
        let _ = write!(out, " destination {}", port_match(m));
    }
    out
}

fn addr_spec(a: &AddrSpec) -> String {
    match a {
        AddrSpec::Any => "any".into(),
        AddrSpec::Any4 => "any4".into(),
        AddrSpec::Any6 => "any6".into(),
        AddrSpec::Host(h) => format!("host {h}"),
        AddrSpec::Subnet(a, l) => addr_mask(*a, *l),
        AddrSpec::Object(n) => format!("object {}", n.value),
        AddrSpec::Group(n) => format!("object-group {}", n.value),
        AddrSpec::Interface(n) => format!("interface {}", n.value),
    }
}

fn port_spec(p: &PortSpec) -> String {
    match p {
        PortSpec::Match(m) => port_match(m),
        PortSpec::Group(n) => format!("object-group {}", n.value),
    }
}

/// Formats an ACE as it follows `access-list NAME extended `.
pub(crate) fn ace(a: &Ace) -> String {
    let mut out = String::from(if a.action == AceAction::Permit { "permit" } else { "deny" });
    match &a.protocol {
        ProtoSpec::Proto(p) => {
            let _ = write!(out, " {}", protocol_name(*p));
        }
        ProtoSpec::Group(n) => {
            let _ = write!(out, " object-group {}", n.value);
        }
        ProtoSpec::Object(n) => {
            let _ = write!(out, " object {}", n.value);
        }
    }
    let _ = write!(out, " {}", addr_spec(&a.src));
    if let Some(p) = &a.src_port {
        let _ = write!(out, " {}", port_spec(p));
    }
    let _ = write!(out, " {}", addr_spec(&a.dst));
    if let Some(p) = &a.dst_port {
        let _ = write!(out, " {}", port_spec(p));
    }
    if let Some(t) = a.icmp_type {
        let _ = write!(out, " {}", keywords::icmp_type_name(t));
    }
    if let Some(l) = &a.log {
        let _ = write!(out, " {l}");
    }
    if let Some(t) = &a.time_range {
        let _ = write!(out, " time-range {t}");
    }
    if a.inactive {
        out.push_str(" inactive");
    }
    out
}

fn nat_addr(a: &NatAddr) -> String {
    match a {
        NatAddr::Any => "any".into(),
        NatAddr::Interface => "interface".into(),
        NatAddr::Named(n) => n.value.clone(),
        NatAddr::Inline(ip) => ip.to_string(),
    }
}

fn nat_ifcs(real: &Option<Name>, mapped: &Option<Name>) -> String {
    let n = |x: &Option<Name>| x.as_ref().map_or("any".to_string(), |n| n.value.clone());
    if real.is_none() && mapped.is_none() { String::new() } else { format!(" ({},{})", n(real), n(mapped)) }
}

pub(crate) fn manual_nat(n: &ManualNat) -> String {
    let mut out = format!("nat{}", nat_ifcs(&n.real_interface, &n.mapped_interface));
    if n.after_auto {
        out.push_str(" after-auto");
    }
    let kind = if n.kind == NatType::Static { "static" } else { "dynamic" };
    let _ = write!(out, " source {kind} {} {}", nat_addr(&n.real_source), nat_addr(&n.mapped_source));
    if n.pat_fallback {
        out.push_str(" interface");
    }
    if let Some((m, r)) = &n.destination {
        let _ = write!(out, " destination static {} {}", nat_addr(m), nat_addr(r));
    }
    if let Some((r, m)) = &n.service {
        let _ = write!(out, " service {} {}", r.value, m.value);
    }
    if n.unidirectional {
        out.push_str(" unidirectional");
    }
    if n.no_proxy_arp {
        out.push_str(" no-proxy-arp");
    }
    if n.route_lookup {
        out.push_str(" route-lookup");
    }
    if n.inactive {
        out.push_str(" inactive");
    }
    if let Some(d) = &n.description {
        let _ = write!(out, " description {d}");
    }
    out
}

pub(crate) fn route(r: &RouteDef) -> String {
    let dist = if r.distance == 1 { String::new() } else { format!(" {}", r.distance) };
    format!("route {} {} {} {}{dist}", r.interface.value, r.network, keywords::prefix_mask(r.prefix_len), r.gateway)
}

pub(crate) fn object_nat(n: &ObjectNat) -> String {
    let kind = if n.kind == NatType::Static { "static" } else { "dynamic" };
    let mut out = format!("nat{} {kind} {}", nat_ifcs(&n.real_interface, &n.mapped_interface), nat_addr(&n.mapped));
    if n.pat_fallback {
        out.push_str(" interface");
    }
    if let Some((p, r, m)) = n.service {
        let _ = write!(out, " service {} {} {}", protocol_name(Some(p)), port_name(r), port_name(m));
    }
    if n.no_proxy_arp {
        out.push_str(" no-proxy-arp");
    }
    if n.route_lookup {
        out.push_str(" route-lookup");
    }
    out
}

struct Printer<'a> {
    out: String,
    with_keys: bool,
    children: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Printer<'a> {
    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn sub(&mut self, s: &str) {
        self.out.push(' ');
        self.line(s);
    }

    /// Prints a mode command and the kept sub-commands recorded under it. Kept lines may
    /// carry secrets rampart does not model (`username ... password`), so they are
    /// masked unless keys were requested.
    fn header(&mut self, s: &str) {
        let text = self.kept(s);
        self.line(&text);
        if let Some(kids) = self.children.remove(s) {
            for k in kids {
                let text = self.kept(k);
                self.sub(&text);
            }
        }
    }

    /// Returns a kept line, masked unless keys were requested. Leading blanks, which
    /// mark a deeper sub-command, are kept.
    fn kept(&self, s: &str) -> String {
        if self.with_keys {
            return s.to_string();
        }
        let body = s.trim_start();
        format!("{}{}", &s[..s.len() - body.len()], mask_secrets(body))
    }

    fn key(&self, k: &Secret) -> String {
        if self.with_keys { k.expose().to_string() } else { "*****".to_string() }
    }
}

/// Replaces the word after each secret keyword with `*****`, keeping an encryption type
/// digit (`password 8 ...`) visible.
fn mask_secrets(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        out.push(words[i]);
        if crate::display::is_secret_keyword(words[i]) && i + 1 < words.len() {
            i += 1;
            if words[i].len() == 1 && words[i].chars().all(|c| c.is_ascii_digit()) && i + 1 < words.len() {
                out.push(words[i]);
                i += 1;
            }
            out.push("*****");
        }
        i += 1;
    }
    out.join(" ")
}

pub(crate) fn running_config(cfg: &Config, with_keys: bool) -> String {
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for u in &cfg.unmodelled {
        if let Some(p) = &u.parent {
            children.entry(p.as_str()).or_default().push(&u.text.value);
        }
    }
    let mut p = Printer { out: String::with_capacity(64 * 1024), with_keys, children };
    p.line(": Saved");
    p.line(":");
    if let Some(v) = &cfg.version {
        p.line(&format!("ASA Version {}", v.value));
    }
    p.line("!");
    if let Some(h) = &cfg.hostname {
        p.line(&format!("hostname {}", h.value));
    }
    if let Some(d) = &cfg.domain_name {
        p.line(&format!("domain-name {}", d.value));
    }
    if cfg.names_enabled {
        p.line("names");
    }
    for n in &cfg.names {
        let desc = n.description.as_ref().map_or(String::new(), |d| format!(" description {d}"));
        p.line(&format!("name {} {}{desc}", n.addr, n.name.value));
    }
    p.line("!");
    // Kept commands go before every mode command: printed after one, a kept line such
    // as `peer-id-validate nocheck` would be read back as that mode's sub-command.
    for u in cfg.unmodelled.iter().filter(|u| u.parent.is_none()) {
        p.header(&u.text.value);
    }

    interfaces(&mut p, cfg);
    for b in &cfg.banners {
        p.line(b);
    }

    objects(&mut p, cfg);
    for acl in &cfg.acls {
        for l in &acl.lines {
            match &l.value {
                AclLine::Remark(r) => p.line(&format!("access-list {} remark {r}", acl.name.value)),
                AclLine::Extended(a) => p.line(&format!("access-list {} extended {}", acl.name.value, ace(a))),
            }
        }
    }
    for m in &cfg.mtus {
        p.line(&format!("mtu {} {}", m.interface.value, m.mtu));
    }

    nat(&mut p, cfg);
    for g in &cfg.access_groups {
        p.line(&format!("access-group {} {} interface {}", g.acl.value, if g.inbound { "in" } else { "out" }, g.interface.value));
    }
    for r in &cfg.routes {
        p.line(&route(r));
    }
    if let Some(mss) = &cfg.tcp_mss {
        p.line(&format!("sysopt connection tcpmss {}", mss.value));
    }

    crypto(&mut p, cfg);
    if cfg.same_security_inter_interface {
        p.line("same-security-traffic permit inter-interface");
    }

    vpn(&mut p, cfg);
    unmodelled(&mut p, cfg);
    p.line(": end");
    p.out
}

fn interfaces(p: &mut Printer, cfg: &Config) {
    for f in &cfg.interfaces {
        p.header(&format!("interface {}", f.hardware.value));
        if let Some(d) = &f.description {
            p.sub(&format!("description {d}"));
        }
        if let Some(n) = &f.nameif {
            p.sub(&format!("nameif {}", n.value));
        }
        if let Some(l) = &f.security_level {
            p.sub(&format!("security-level {}", l.value));
        }
        if let Some(a) = &f.address {
            let standby = f.standby.map_or(String::new(), |s| format!(" standby {s}"));
            p.sub(&format!("ip address {} {}{standby}", a.value.0, keywords::prefix_mask(a.value.1)));
        }
        if f.shutdown {
            p.sub("shutdown");
        }
        p.line("!");
    }
}

fn objects(p: &mut Printer, cfg: &Config) {
    for o in &cfg.network_objects {
        p.header(&format!("object network {}", o.name.value));
        if let Some(b) = &o.body {
            p.sub(&match &b.value {
                NetObjectBody::Host(h) => format!("host {h}"),
                NetObjectBody::Subnet(a, l) => format!("subnet {}", addr_mask(*a, *l)),
                NetObjectBody::Range(a, b) => format!("range {a} {b}"),
                NetObjectBody::Fqdn(f) => format!("fqdn {f}"),
            });
        }
        if let Some(d) = &o.description {
            p.sub(&format!("description {d}"));
        }
    }
    for o in &cfg.service_objects {
        p.header(&format!("object service {}", o.name.value));
        if let Some(b) = &o.body {
            p.sub(&format!("service {}", service_spec(&b.value)));
        }
        if let Some(d) = &o.description {
            p.sub(&format!("description {d}"));
        }
    }
    for g in &cfg.object_groups {
        p.header(&group_header(g));
        if let Some(d) = &g.description {
            p.sub(&format!("description {d}"));
        }
        for m in &g.members {
            p.sub(&match &m.value {
                GroupMember::Host(h) => format!("network-object host {h}"),
                GroupMember::Subnet(a, l) => format!("network-object {}", addr_mask(*a, *l)),
                GroupMember::Range(a, b) => format!("range-object {a} {b}"),
                GroupMember::Object(n) => format!("network-object object {}", n.value),
                GroupMember::Group(n) => format!("group-object {}", n.value),
                GroupMember::Port(m) => format!("port-object {}", port_match(m)),
                GroupMember::Service(s) => format!("service-object {}", service_spec(s)),
                GroupMember::ServiceObject(n) => format!("service-object object {}", n.value),
                GroupMember::Protocol(pr) => format!("protocol-object {}", protocol_name(*pr)),
                GroupMember::Icmp(t) => format!("icmp-object {}", keywords::icmp_type_name(*t)),
            });
        }
    }
}

fn nat(p: &mut Printer, cfg: &Config) {
    for n in cfg.manual_nat.iter().filter(|n| !n.after_auto) {
        p.line(&manual_nat(n));
    }
    for o in cfg.network_objects.iter().filter(|o| o.nat.is_some()) {
        p.line(&format!("object network {}", o.name.value));
        if let Some(n) = &o.nat {
            p.sub(&object_nat(n));
        }
    }
    for n in cfg.manual_nat.iter().filter(|n| n.after_auto) {
        p.line(&manual_nat(n));
    }
}

fn crypto(p: &mut Printer, cfg: &Config) {
    for pr in &cfg.ipsec_proposals {
        p.header(&format!("crypto ipsec ikev2 ipsec-proposal {}", pr.name.value));
        if let Some(e) = &pr.encryption {
            let list: Vec<_> = e.value.iter().map(|x| encryption_name(*x)).collect();
            p.sub(&format!("protocol esp encryption {}", list.join(" ")));
        }
        if let Some(i) = &pr.integrity {
            let list: Vec<_> = i.value.iter().map(|x| esp_hash_name(*x)).collect();
            p.sub(&format!("protocol esp integrity {}", list.join(" ")));
        }
    }
    if let Some(s) = &cfg.sa_lifetime_seconds {
        p.line(&format!("crypto ipsec security-association lifetime seconds {}", s.value));
    }
    if let Some(k) = &cfg.sa_lifetime_kilobytes {
        let v = if k.value == 0 { "unlimited".to_string() } else { k.value.to_string() };
        p.line(&format!("crypto ipsec security-association lifetime kilobytes {v}"));
    }
    if let Some(aging) = &cfg.pmtu_aging {
        let value = match aging.value {
            PmtuAgingKw::Seconds(seconds) => seconds.to_string(),
            PmtuAgingKw::Infinite => "infinite".to_string(),
        };
        p.line(&format!("crypto ipsec security-association pmtu-aging {value}"));
    }
    for s in &cfg.ipsec_interface_settings {
        p.line(&format!("crypto ipsec {} {} {}", s.command, s.setting, s.interface.value));
    }
    for e in &cfg.crypto_map_entries {
        let head = format!("crypto map {} {}", e.map.value, e.sequence.value);
        if let Some(a) = &e.match_address {
            p.line(&format!("{head} match address {}", a.value));
        }
        if let Some(peers) = &e.peers {
            let list: Vec<_> = peers.value.iter().map(|a| a.value.to_string()).collect();
            p.line(&format!("{head} set peer {}", list.join(" ")));
        }
        if let Some(props) = &e.proposals {
            let list: Vec<_> = props.value.iter().map(|n| n.value.as_str()).collect();
            p.line(&format!("{head} set ikev2 ipsec-proposal {}", list.join(" ")));
        }
        if let Some(pfs) = &e.pfs {
            match pfs.value {
                Some(g) => p.line(&format!("{head} set pfs group{g}")),
                None => p.line(&format!("{head} set pfs")),
            }
        }
        if let Some(s) = &e.lifetime_seconds {
            p.line(&format!("{head} set security-association lifetime seconds {}", s.value));
        }
        if let Some(k) = &e.lifetime_kilobytes {
            let v = if k.value == 0 { "unlimited".to_string() } else { k.value.to_string() };
            p.line(&format!("{head} set security-association lifetime kilobytes {v}"));
        }
        if let Some(d) = &e.dynamic {
            p.line(&format!("{head} ipsec-isakmp dynamic {}", d.value));
        }
    }
    for b in &cfg.crypto_map_bindings {
        p.line(&format!("crypto map {} interface {}", b.map.value, b.interface.value));
    }
    if let Some(id) = &cfg.isakmp_identity {
        p.line(&match &id.value {
            IdentityKw::Address => "crypto isakmp identity address".to_string(),
            IdentityKw::Hostname => "crypto isakmp identity hostname".to_string(),
            IdentityKw::KeyId(k) => format!("crypto isakmp identity key-id {k}"),
            IdentityKw::Auto => "crypto isakmp identity auto".to_string(),
        });
    }
    for pol in &cfg.ikev2_policies {
        p.header(&format!("crypto ikev2 policy {}", pol.priority.value));
        if let Some(e) = &pol.encryption {
            let list: Vec<_> = e.value.iter().map(|x| encryption_name(*x)).collect();
            p.sub(&format!("encryption {}", list.join(" ")));
        }
        if let Some(i) = &pol.integrity {
            let list: Vec<_> = i.value.iter().map(|x| ike_hash_name(*x)).collect();
            p.sub(&format!("integrity {}", list.join(" ")));
        }
        if let Some(g) = &pol.groups {
            let list: Vec<_> = g.value.iter().map(|x| x.to_string()).collect();
            p.sub(&format!("group {}", list.join(" ")));
        }
        if let Some(prf) = &pol.prf {
            let list: Vec<_> = prf.value.iter().map(|x| ike_hash_name(*x)).collect();
            p.sub(&format!("prf {}", list.join(" ")));
        }
        if let Some(l) = &pol.lifetime_seconds {
            p.sub(&format!("lifetime seconds {}", l.value));
        }
    }
    for e in &cfg.ikev2_enable {
        p.line(&format!("crypto ikev2 enable {}", e.value));
    }
}

fn vpn(p: &mut Printer, cfg: &Config) {
    for g in &cfg.group_policies {
        if g.internal {
            p.line(&format!("group-policy {} internal", g.name.value));
        }
        p.header(&format!("group-policy {} attributes", g.name.value));
        for b in &g.banner {
            p.sub(&format!("banner value {b}"));
        }
        if let Some(t) = &g.tunnel_protocols {
            p.sub(&format!("vpn-tunnel-protocol {}", t.value.join(" ")));
        }
    }
    for t in &cfg.tunnel_groups {
        if let Some(k) = &t.kind {
            p.line(&format!("tunnel-group {} type {}", t.name.value, k.value));
        }
        p.header(&format!("tunnel-group {} general-attributes", t.name.value));
        if let Some(g) = &t.default_group_policy {
            p.sub(&format!("default-group-policy {}", g.value));
        }
        p.header(&format!("tunnel-group {} ipsec-attributes", t.name.value));
        if let Some(v) = &t.peer_id_validate {
            p.sub(match v.value {
                PeerIdValidateKw::Req => "peer-id-validate req",
                PeerIdValidateKw::Cert => "peer-id-validate cert",
                PeerIdValidateKw::Nocheck => "peer-id-validate nocheck",
            });
        }
        if let Some(k) = &t.keepalive {
            p.sub(&match k.value {
                Keepalive::Disable => "isakmp keepalive disable".to_string(),
                Keepalive::Threshold { threshold: None, retry } => format!("isakmp keepalive threshold infinite retry {retry}"),
                Keepalive::Threshold { threshold: Some(t), retry } => format!("isakmp keepalive threshold {t} retry {retry}"),
            });
        }
        if let Some(k) = &t.remote_psk {
            let key = p.key(&k.value);
            p.sub(&format!("ikev2 remote-authentication pre-shared-key {key}"));
        }
        if let Some(k) = &t.local_psk {
            let key = p.key(&k.value);
            p.sub(&format!("ikev2 local-authentication pre-shared-key {key}"));
        }
    }
}

/// Prints kept sub-commands whose mode command was not printed, in config order.
fn unmodelled(p: &mut Printer, cfg: &Config) {
    let mut rest: Vec<(&str, Vec<&str>)> = p.children.drain().collect();
    rest.sort_by_key(|(parent, _)| cfg.unmodelled.iter().position(|u| u.parent.as_deref() == Some(*parent)));
    for (parent, kids) in rest {
        let text = p.kept(parent);
        p.line(&text);
        for k in kids {
            let text = p.kept(k);
            p.sub(&text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mask_secrets;

    #[test]
    fn mask_secrets_kept_lines() {
        assert_eq!(mask_secrets("username admin password s3cret privilege 15"), "username admin password ***** privilege 15");
        assert_eq!(mask_secrets("snmp-server host inside 10.0.0.9 community public"), "snmp-server host inside 10.0.0.9 community *****");
        assert_eq!(mask_secrets(" ikev1 pre-shared-key 0 abc"), "ikev1 pre-shared-key 0 *****");
        assert_eq!(mask_secrets("logging enable"), "logging enable");
    }
}
