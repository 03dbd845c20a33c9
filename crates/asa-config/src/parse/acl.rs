//! `access-list ... extended|remark` and `access-group`.
//!
//! ACE operands are distinguished by keyword (`object-group`, `object`, `host`, `any`,
//! `interface`), never by the shape of a name: object-group names may contain dots.

use super::cursor::{Cursor, PResult};
use super::objects::{is_port_op, port_match};
use super::Parser;
use crate::ast::{AccessGroupDef, AclDef, AclLine, Ace, AceAction, AddrSpec, GroupKind, PortSpec, ProtoSpec};
use crate::diag::Diagnostic;
use crate::keywords;
use crate::span::Spanned;

impl Parser<'_> {
    pub(super) fn access_list(&mut self, c: &mut Cursor) -> PResult<bool> {
        c.next();
        let name = c.word("an access-list name")?;
        if c.eat("line") {
            c.number::<u32>("line number", 1, u32::MAX)?;
        }
        let line_span = c.line.span;
        let entry = if c.eat("remark") {
            AclLine::Remark(c.rest().map(|r| r.value).unwrap_or_default())
        } else if c.eat("extended") {
            AclLine::Extended(self.ace(c)?)
        } else if c.peek_is("permit") || c.peek_is("deny") {
            return Err(c.expected("`extended` before permit/deny").with_help("write `access-list NAME extended permit ...`"));
        } else {
            // standard, ethertype and webtype ACLs are kept but not modelled.
            return Ok(false);
        };
        let i = match self.cfg.index.acls.get(&name.value) {
            Some(&i) => i,
            None => {
                self.cfg.acls.push(AclDef { name: name.clone(), lines: Vec::new() });
                let i = self.cfg.acls.len() - 1;
                self.cfg.index.acls.insert(name.value, i);
                i
            }
        };
        self.cfg.acls[i].lines.push(Spanned::new(entry, line_span));
        Ok(true)
    }

    fn ace(&mut self, c: &mut Cursor) -> PResult<Ace> {
        let (action, _) = c.keyword(&["permit", "deny"])?;
        let action = if action == "permit" { AceAction::Permit } else { AceAction::Deny };
        let protocol = if c.eat("object-group") {
            ProtoSpec::Group(c.word("a protocol or service object-group name")?)
        } else if c.eat("object") {
            ProtoSpec::Object(c.word("a service object name")?)
        } else {
            let span = c.here();
            let p = c.word("a protocol such as ip, tcp, udp or icmp")?;
            match keywords::protocol(&p.value) {
                Some(p) => ProtoSpec::Proto(p),
                None => {
                    return Err(Diagnostic::error("syntax", format!("unknown protocol `{}`", p.value))
                        .at(span, "expected ip, tcp, udp, icmp, a number, `object` or `object-group`"));
                }
            }
        };
        let ports_allowed = match &protocol {
            ProtoSpec::Proto(p) => matches!(p, Some(6) | Some(17) | Some(132)),
            ProtoSpec::Group(_) => true,
            ProtoSpec::Object(_) => false,
        };
        let src = self.ace_addr(c, "a source (any, host A, A M, object, object-group)")?;
        let src_port = if ports_allowed { self.ace_port(c)? } else { None };
        let dst = self.ace_addr(c, "a destination (any, host A, A M, object, object-group)")?;
        let mut dst_port = if ports_allowed { self.ace_port(c)? } else { None };
        let mut icmp_type = None;
        if matches!(protocol, ProtoSpec::Proto(Some(1)) | ProtoSpec::Proto(Some(58))) {
            if c.eat("object-group") {
                dst_port = Some(PortSpec::Group(c.word("an icmp-type object-group name")?));
            } else if let Some(t) = c.peek().and_then(keywords::icmp_type) {
                c.next();
                icmp_type = Some(t);
            }
        }
        let mut ace = Ace {
            action,
            protocol,
            src,
            src_port,
            dst,
            dst_port,
            icmp_type,
            log: None,
            inactive: false,
            time_range: None,
            span: c.line.span,
        };
        while !c.at_end() {
            if c.eat("log") {
                let mut words = vec!["log".to_string()];
                while let Some(t) = c.peek() {
                    let lower = t.to_ascii_lowercase();
                    let is_level = lower.parse::<u8>().is_ok()
                        || ["disable", "default", "emergencies", "alerts", "critical", "errors", "warnings", "notifications", "informational", "debugging"]
                            .contains(&lower.as_str());
                    if is_level {
                        words.push(lower);
                        c.next();
                    } else if lower == "interval" {
                        c.next();
                        let n = c.number::<u32>("log interval", 1, 600)?;
                        words.push(format!("interval {}", n.value));
                    } else {
                        break;
                    }
                }
                ace.log = Some(words.join(" "));
            } else if c.eat("inactive") {
                ace.inactive = true;
            } else if c.eat("time-range") {
                ace.time_range = Some(c.word("a time-range name")?.value);
            } else {
                return Err(match &ace.protocol {
                    ProtoSpec::Proto(None) if is_port_op(c.peek()) => Diagnostic::error("syntax", "ports need a tcp or udp protocol")
                        .at(c.here(), "ports are not allowed with protocol `ip`")
                        .with_help("write `tcp` or `udp` in place of `ip`, or use a service object"),
                    _ => c.expected("`log`, `inactive`, `time-range` or the end of the entry"),
                });
            }
        }
        Ok(ace)
    }

    fn ace_addr(&mut self, c: &mut Cursor, what: &str) -> PResult<AddrSpec> {
        let kw = c.peek().unwrap_or("").to_ascii_lowercase();
        let names = &self.cfg.index.names;
        Ok(match kw.as_str() {
            "any" => {
                c.next();
                AddrSpec::Any
            }
            "any4" => {
                c.next();
                AddrSpec::Any4
            }
            "any6" => {
                c.next();
                AddrSpec::Any6
            }
            "host" => {
                c.next();
                AddrSpec::Host(c.ip("a host address", names)?.value)
            }
            "object" => {
                c.next();
                AddrSpec::Object(c.word("a network object name")?)
            }
            "object-group" => {
                c.next();
                AddrSpec::Group(c.word("a network object-group name")?)
            }
            "interface" => {
                c.next();
                AddrSpec::Interface(c.word("an interface name")?)
            }
            "" => return Err(c.expected(what)),
            _ => {
                let (a, len, _) = c.subnet(names)?;
                AddrSpec::Subnet(a, len)
            }
        })
    }

    /// Parses an optional port qualifier: an operator, or `object-group` naming a service group.
    fn ace_port(&mut self, c: &mut Cursor) -> PResult<Option<PortSpec>> {
        if is_port_op(c.peek()) {
            return Ok(Some(PortSpec::Match(port_match(c)?)));
        }
        if c.peek_is("object-group")
            && let Some(name) = c.peek_at(1)
            && let Some(g) = self.cfg.object_group(name)
            && matches!(g.kind, GroupKind::Service(_))
        {
            c.next();
            return Ok(Some(PortSpec::Group(c.word("a service object-group name")?)));
        }
        Ok(None)
    }

    pub(super) fn access_group(&mut self, c: &mut Cursor) -> PResult<bool> {
        c.next();
        let acl = c.word("an access-list name")?;
        if c.peek_is("global") {
            return Ok(false);
        }
        let (dir, _) = c.keyword(&["in", "out"])?;
        c.expect("interface")?;
        let interface = c.word("an interface name")?;
        c.end()?;
        self.cfg.access_groups.push(AccessGroupDef { acl, inbound: dir == "in", interface });
        Ok(true)
    }
}
