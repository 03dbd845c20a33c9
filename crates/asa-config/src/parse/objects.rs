//! `object network`, `object service` and `object-group`.

use super::cursor::{Cursor, PResult};
use super::{Mode, Parser, Sub};
use crate::ast::{GroupKind, GroupMember, NetObjectBody, NetworkObject, ObjectGroup, PortMatch, ServiceObject, ServiceProto, ServiceSpec};
use crate::diag::Diagnostic;
use crate::keywords;
use crate::span::Spanned;

impl Parser<'_> {
    pub(super) fn object(&mut self, c: &mut Cursor) -> PResult<bool> {
        let start = c.here();
        c.next();
        let (kind, _) = c.keyword(&["network", "service"])?;
        let name = c.word("an object name")?;
        c.end()?;
        if let Some(d) = self.duplicate_object_name(&name, false) {
            return Err(d);
        }
        let span = start.to(name.span);
        if kind == "network" {
            if self.cfg.index.service_objects.contains_key(&name.value) {
                return Err(Diagnostic::error("duplicate-definition", format!("`{}` is already a service object", name.value))
                    .at(name.span, "network object with the name of a service object")
                    .with_help("rename one of the objects"));
            }
            let i = match self.cfg.index.network_objects.get(&name.value) {
                Some(&i) => i,
                None => {
                    let i = self.cfg.network_objects.len();
                    self.cfg.index.network_objects.insert(name.value.clone(), i);
                    self.cfg.network_objects.push(NetworkObject { name, body: None, description: None, nat: None, span });
                    i
                }
            };
            self.mode = Mode::NetworkObject(i);
        } else {
            if self.cfg.index.network_objects.contains_key(&name.value) {
                return Err(Diagnostic::error("duplicate-definition", format!("`{}` is already a network object", name.value))
                    .at(name.span, "service object with the name of a network object")
                    .with_help("rename one of the objects"));
            }
            let i = match self.cfg.index.service_objects.get(&name.value) {
                Some(&i) => i,
                None => {
                    let i = self.cfg.service_objects.len();
                    self.cfg.index.service_objects.insert(name.value.clone(), i);
                    self.cfg.service_objects.push(ServiceObject { name, body: None, description: None, span });
                    i
                }
            };
            self.mode = Mode::ServiceObject(i);
        }
        Ok(true)
    }

    pub(super) fn network_object_sub(&mut self, c: &mut Cursor, i: usize) -> PResult<Sub> {
        let start = c.here();
        let kw = c.peek().unwrap_or("").to_ascii_lowercase();
        let names = &self.cfg.index.names;
        let body = match kw.as_str() {
            "host" => {
                c.next();
                NetObjectBody::Host(c.ip("a host address", names)?.value)
            }
            "subnet" => {
                c.next();
                let (a, len, _) = c.subnet(names)?;
                NetObjectBody::Subnet(a, len)
            }
            "range" => {
                c.next();
                let a = c.ip("the first address of the range", names)?;
                let b = c.ip("the last address of the range", names)?;
                if a.value > b.value || a.value.is_ipv4() != b.value.is_ipv4() {
                    return Err(Diagnostic::error("invalid-address", format!("range {} {} is empty", a.value, b.value))
                        .at(a.span.to(b.span), "the first address must not be above the last")
                        .with_help(format!("write `range {} {}`", b.value, a.value)));
                }
                NetObjectBody::Range(a.value, b.value)
            }
            "fqdn" => {
                c.next();
                if c.peek_is("v4") || c.peek_is("v6") {
                    c.next();
                }
                NetObjectBody::Fqdn(c.word("a domain name")?.value)
            }
            "description" => {
                c.next();
                self.cfg.network_objects[i].description = c.rest().map(|r| r.value);
                return Ok(Sub::Done);
            }
            "nat" => {
                let nat = self.object_nat(c)?;
                self.cfg.network_objects[i].nat = Some(nat);
                return Ok(Sub::Done);
            }
            _ => return Ok(Sub::NotMine),
        };
        c.end()?;
        let span = start.to(c.line.span);
        let obj = &mut self.cfg.network_objects[i];
        if let Some(prev) = &obj.body
            && prev.value != body
        {
            let d = Diagnostic::warning("duplicate-definition", format!("object {} is defined twice", obj.name.value))
                .at(span, "this definition replaces the earlier one")
                .also(prev.span, "earlier definition")
                .with_help("an object network holds one host, subnet, range or fqdn: remove the line you do not want");
            self.diags.push(d);
        }
        self.cfg.network_objects[i].body = Some(Spanned::new(body, span));
        Ok(Sub::Done)
    }

    pub(super) fn service_object_sub(&mut self, c: &mut Cursor, i: usize) -> PResult<Sub> {
        let start = c.here();
        if c.eat("description") {
            self.cfg.service_objects[i].description = c.rest().map(|r| r.value);
            return Ok(Sub::Done);
        }
        if !c.eat("service") {
            return Ok(Sub::NotMine);
        }
        let spec = self.service_spec(c)?;
        self.cfg.service_objects[i].body = Some(Spanned::new(spec, start.to(c.line.span)));
        Ok(Sub::Done)
    }

    /// `PROTO [source OP PORT] [destination OP PORT]`, `icmp [TYPE]` or `tcp-udp ...`.
    pub(super) fn service_spec(&mut self, c: &mut Cursor) -> PResult<ServiceSpec> {
        let span = c.here();
        let tok = c.word("a protocol such as tcp, udp, icmp or ip")?;
        let tcp_udp = tok.value.eq_ignore_ascii_case("tcp-udp");
        let protocol = if tcp_udp {
            Some(6)
        } else {
            keywords::protocol(&tok.value).ok_or_else(|| unknown_protocol(&tok.value, span))?
        };
        let mut spec = ServiceSpec { protocol, tcp_udp, source: None, destination: None, icmp_type: None };
        if matches!(protocol, Some(1) | Some(58)) {
            if let Some((t, s)) = c.next() {
                spec.icmp_type = Some(keywords::icmp_type(t).ok_or_else(|| {
                    Diagnostic::error("syntax", format!("unknown ICMP type `{t}`")).at(s, "expected an ICMP type name or number")
                })?);
            }
            c.end()?;
            return Ok(spec);
        }
        let has_ports = matches!(protocol, Some(6) | Some(17) | Some(132));
        while !c.at_end() {
            if !has_ports {
                return Err(c.expected("the end of the command (only tcp, udp and sctp take ports)"));
            }
            if c.eat("source") {
                spec.source = Some(port_match(c)?);
            } else if c.eat("destination") {
                spec.destination = Some(port_match(c)?);
            } else if is_port_op(c.peek()) {
                // Pre-8.3 form without a direction keyword: the port is the destination.
                spec.destination = Some(port_match(c)?);
            } else {
                return Err(c.expected("`source`, `destination` or the end of the command"));
            }
        }
        Ok(spec)
    }

    pub(super) fn object_group(&mut self, c: &mut Cursor) -> PResult<bool> {
        let start = c.here();
        c.next();
        let kind_tok = c.peek().unwrap_or("").to_ascii_lowercase();
        let kind = match kind_tok.as_str() {
            "network" => GroupKind::Network,
            "service" => GroupKind::Service(None),
            "protocol" => GroupKind::Protocol,
            "icmp-type" => GroupKind::IcmpType,
            _ => return Ok(false),
        };
        c.next();
        let name = c.word("an object-group name")?;
        let kind = if kind == GroupKind::Service(None) && !c.at_end() {
            let (p, _) = c.keyword(&["tcp", "udp", "tcp-udp"])?;
            GroupKind::Service(Some(match p.as_str() {
                "tcp" => ServiceProto::Tcp,
                "udp" => ServiceProto::Udp,
                _ => ServiceProto::TcpUdp,
            }))
        } else {
            kind
        };
        c.end()?;
        if let Some(d) = self.duplicate_object_name(&name, true) {
            return Err(d);
        }
        let i = match self.cfg.index.object_groups.get(&name.value).copied() {
            Some(i) if self.cfg.object_groups[i].kind == kind => i,
            Some(i) => {
                return Err(Diagnostic::error("duplicate-definition", format!("object-group {} is already defined with another type", name.value))
                    .at(name.span, "second definition")
                    .also(self.cfg.object_groups[i].name.span, "first defined here")
                    .with_help("rename one of the object groups"));
            }
            None => {
                let span = start.to(c.line.span);
                let i = self.cfg.object_groups.len();
                self.cfg.index.object_groups.insert(name.value.clone(), i);
                self.cfg.object_groups.push(ObjectGroup { name, kind, members: Vec::new(), description: None, span });
                i
            }
        };
        self.mode = Mode::ObjectGroup(i);
        Ok(true)
    }

    pub(super) fn object_group_sub(&mut self, c: &mut Cursor, i: usize) -> PResult<Sub> {
        let start = c.here();
        let kind = self.cfg.object_groups[i].kind;
        let kw = c.peek().unwrap_or("").to_ascii_lowercase();
        let names = &self.cfg.index.names;
        let member = match (kw.as_str(), kind) {
            ("description", _) => {
                c.next();
                self.cfg.object_groups[i].description = c.rest().map(|r| r.value);
                return Ok(Sub::Done);
            }
            ("group-object", _) => {
                c.next();
                GroupMember::Group(c.word("an object-group name")?)
            }
            ("network-object", GroupKind::Network) => {
                c.next();
                if c.eat("host") {
                    GroupMember::Host(c.ip("a host address", names)?.value)
                } else if c.eat("object") {
                    GroupMember::Object(c.word("a network object name")?)
                } else {
                    let (a, len, _) = c.subnet(names)?;
                    GroupMember::Subnet(a, len)
                }
            }
            ("range-object", GroupKind::Network) => {
                c.next();
                let a = c.ip("the first address", names)?;
                let b = c.ip("the last address", names)?;
                GroupMember::Range(a.value, b.value)
            }
            ("port-object", GroupKind::Service(Some(_))) => {
                c.next();
                GroupMember::Port(port_match(c)?)
            }
            ("service-object", GroupKind::Service(None)) => {
                c.next();
                if c.eat("object") {
                    GroupMember::ServiceObject(c.word("a service object name")?)
                } else {
                    GroupMember::Service(self.service_spec(c)?)
                }
            }
            ("protocol-object", GroupKind::Protocol) => {
                c.next();
                let span = c.here();
                let p = c.word("a protocol")?;
                GroupMember::Protocol(keywords::protocol(&p.value).ok_or_else(|| unknown_protocol(&p.value, span))?)
            }
            ("icmp-object", GroupKind::IcmpType) => {
                c.next();
                let t = c.word("an ICMP type")?;
                GroupMember::Icmp(keywords::icmp_type(&t.value).ok_or_else(|| {
                    Diagnostic::error("syntax", format!("unknown ICMP type `{}`", t.value)).at(t.span, "expected an ICMP type")
                })?)
            }
            ("network-object" | "port-object" | "service-object" | "protocol-object" | "icmp-object" | "range-object", _) => {
                let g = &self.cfg.object_groups[i];
                return Err(Diagnostic::error("syntax", format!("`{kw}` is not valid in {}", crate::print::group_header(g)))
                    .at(c.here(), "wrong member type for this object group")
                    .also(g.name.span, "object group declared here")
                    .with_help(match kind {
                        GroupKind::Network => "use network-object or group-object",
                        GroupKind::Service(Some(_)) => "use port-object or group-object",
                        GroupKind::Service(None) => "use service-object or group-object",
                        GroupKind::Protocol => "use protocol-object or group-object",
                        GroupKind::IcmpType => "use icmp-object or group-object",
                    }));
            }
            _ => return Ok(Sub::NotMine),
        };
        c.end()?;
        let span = start.to(c.line.span);
        self.cfg.object_groups[i].members.push(Spanned::new(member, span));
        Ok(Sub::Done)
    }
}

pub(super) fn is_port_op(tok: Option<&str>) -> bool {
    tok.is_some_and(|t| ["eq", "lt", "gt", "neq", "range"].iter().any(|k| k.eq_ignore_ascii_case(t)))
}

/// `eq P`, `lt P`, `gt P`, `neq P` or `range A B`, with ASA port names.
pub(super) fn port_match(c: &mut Cursor) -> PResult<PortMatch> {
    let (op, _) = c.keyword(&["eq", "lt", "gt", "neq", "range"])?;
    let a = port(c)?;
    Ok(match op.as_str() {
        "eq" => PortMatch::Eq(a.value),
        "lt" => PortMatch::Lt(a.value),
        "gt" => PortMatch::Gt(a.value),
        "neq" => PortMatch::Neq(a.value),
        _ => {
            let b = port(c)?;
            if a.value > b.value {
                return Err(Diagnostic::error("invalid-value", format!("port range {} {} is empty", a.value, b.value))
                    .at(a.span.to(b.span), "the first port must not be above the last"));
            }
            PortMatch::Range(a.value, b.value)
        }
    })
}

fn port(c: &mut Cursor) -> PResult<Spanned<u16>> {
    let span = c.here();
    let Some((tok, _)) = c.next() else {
        return Err(c.expected("a port number or name such as www or https"));
    };
    keywords::port(tok).map(|p| Spanned::new(p, span)).ok_or_else(|| {
        Diagnostic::error("invalid-value", format!("unknown port `{tok}`"))
            .at(span, "expected a port number from 0 to 65535 or an ASA port name")
            .with_help("ASA port names include www (80), https (443), domain (53), ssh (22) and ntp (123)")
    })
}

fn unknown_protocol(tok: &str, span: crate::span::Span) -> Diagnostic {
    Diagnostic::error("syntax", format!("unknown protocol `{tok}`"))
        .at(span, "expected ip, tcp, udp, icmp, a protocol name or a number from 0 to 255")
}
