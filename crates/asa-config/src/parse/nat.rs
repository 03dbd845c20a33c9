//! Manual (twice) NAT at the top level and object NAT inside `object network`.

use super::cursor::{Cursor, PResult};
use super::Parser;
use crate::ast::{ManualNat, Name, NatAddr, NatType, ObjectNat};
use crate::diag::Diagnostic;
use crate::keywords;
use crate::span::Spanned;

impl Parser<'_> {
    /// `(real,mapped)`; `any` becomes `None`.
    fn nat_interfaces(&self, c: &mut Cursor) -> PResult<(Option<Name>, Option<Name>)> {
        let Some(tok) = c.peek() else {
            return Err(c.expected("`(real_ifc,mapped_ifc)`"));
        };
        if !tok.starts_with('(') {
            return Ok((None, None));
        }
        let span = c.here();
        c.next();
        let inner = tok.trim_start_matches('(').trim_end_matches(')');
        let Some((real, mapped)) = inner.split_once(',').filter(|_| tok.ends_with(')')) else {
            return Err(Diagnostic::error("syntax", format!("invalid interface pair `{tok}`"))
                .at(span, "expected `(real_ifc,mapped_ifc)` such as (inside,outside)"));
        };
        let name = |s: &str, offset: usize| {
            let start = span.start as usize + offset;
            if s.eq_ignore_ascii_case("any") { None } else { Some(Spanned::new(s.to_string(), crate::span::Span::new(start, start + s.len()))) }
        };
        Ok((name(real, 1), name(mapped, 2 + real.len())))
    }

    fn nat_addr(&self, c: &mut Cursor, what: &str) -> PResult<NatAddr> {
        let Some(tok) = c.peek() else {
            return Err(c.expected(what));
        };
        if tok.eq_ignore_ascii_case("any") {
            c.next();
            return Ok(NatAddr::Any);
        }
        if tok.eq_ignore_ascii_case("interface") {
            c.next();
            return Ok(NatAddr::Interface);
        }
        if tok.eq_ignore_ascii_case("pat-pool") {
            return Err(Diagnostic::error("unsupported", "`pat-pool` is not supported")
                .at(c.here(), "PAT pools are not modelled")
                .with_help("map to `interface` or to a network object instead"));
        }
        Ok(NatAddr::Named(c.word(what)?))
    }

    pub(super) fn manual_nat(&mut self, c: &mut Cursor) -> PResult<bool> {
        c.next();
        let (real_interface, mapped_interface) = self.nat_interfaces(c)?;
        let after_auto = c.eat("after-auto");
        // `nat (r,m) [after-auto] [LINE] source ...`: LINE inserts the rule at that
        // position of its section instead of appending it.
        let position = if c.peek().is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit())) {
            Some(c.number::<u32>("rule line number", 1, 2_147_483_647)?.value)
        } else {
            None
        };
        if !c.eat("source") {
            return Err(c.expected("`source`").with_help(
                "manual NAT reads `nat (real,mapped) source static|dynamic REAL MAPPED`; object NAT goes inside `object network`",
            ));
        }
        let (kind, _) = c.keyword(&["static", "dynamic"])?;
        let kind = if kind == "static" { NatType::Static } else { NatType::Dynamic };
        let real_source = self.nat_addr(c, "the real source (object, object-group or any)")?;
        let mapped_source = self.nat_addr(c, "the mapped source (object, object-group, any or interface)")?;
        let mut nat = ManualNat {
            real_interface,
            mapped_interface,
            after_auto,
            kind,
            real_source,
            mapped_source,
            destination: None,
            service: None,
            no_proxy_arp: false,
            route_lookup: false,
            pat_fallback: false,
            unidirectional: false,
            inactive: false,
            description: None,
            span: c.line.span,
        };
        while let Some(tok) = c.peek() {
            match tok.to_ascii_lowercase().as_str() {
                "destination" => {
                    c.next();
                    c.expect("static")?;
                    let mapped = self.nat_addr(c, "the mapped destination")?;
                    let real = self.nat_addr(c, "the real destination")?;
                    nat.destination = Some((mapped, real));
                }
                "service" => {
                    c.next();
                    let real = c.word("the real service object")?;
                    let mapped = c.word("the mapped service object")?;
                    nat.service = Some((real, mapped));
                }
                "no-proxy-arp" | "route-lookup" => routing_option(c, &mut nat.no_proxy_arp, &mut nat.route_lookup),
                "interface" if nat.kind == NatType::Dynamic && nat.mapped_source != NatAddr::Interface && nat.destination.is_none() && nat.service.is_none() => {
                    c.next();
                    nat.pat_fallback = true;
                }
                "unidirectional" => {
                    c.next();
                    nat.unidirectional = true;
                }
                "inactive" => {
                    c.next();
                    nat.inactive = true;
                }
                "dns" => {
                    c.next();
                }
                "description" => {
                    c.next();
                    nat.description = c.rest().map(|r| r.value);
                }
                _ => return Err(c.expected("`destination`, `service`, `no-proxy-arp`, `route-lookup` or the end of the rule")),
            }
        }
        let at = position.and_then(|line| {
            let mut same_section = self.cfg.manual_nat.iter().enumerate().filter(|(_, n)| n.after_auto == nat.after_auto);
            same_section.nth(line as usize - 1).map(|(i, _)| i)
        });
        match at {
            Some(i) => self.cfg.manual_nat.insert(i, nat),
            None => self.cfg.manual_nat.push(nat),
        }
        Ok(true)
    }

    pub(super) fn object_nat(&mut self, c: &mut Cursor) -> PResult<ObjectNat> {
        c.next();
        let (real_interface, mapped_interface) = self.nat_interfaces(c)?;
        let (kind, _) = c.keyword(&["static", "dynamic"])?;
        let kind = if kind == "static" { NatType::Static } else { NatType::Dynamic };
        let mapped = match c.peek() {
            Some(t) if t.parse::<std::net::IpAddr>().is_ok() || self.cfg.index.names.contains_key(t) => {
                let a = c.ip("a mapped address", &self.cfg.index.names)?;
                NatAddr::Inline(a.value)
            }
            _ => self.nat_addr(c, "the mapped address (object, address or interface)")?,
        };
        let mut nat = ObjectNat {
            real_interface,
            mapped_interface,
            kind,
            mapped,
            service: None,
            no_proxy_arp: false,
            route_lookup: false,
            pat_fallback: false,
            span: c.line.span,
        };
        while let Some(tok) = c.peek() {
            match tok.to_ascii_lowercase().as_str() {
                "service" => {
                    c.next();
                    let (p, _) = c.keyword(&["tcp", "udp"])?;
                    let proto = if p == "tcp" { 6 } else { 17 };
                    let real = port_number(c)?;
                    let mapped = port_number(c)?;
                    nat.service = Some((proto, real, mapped));
                }
                "no-proxy-arp" | "route-lookup" => routing_option(c, &mut nat.no_proxy_arp, &mut nat.route_lookup),
                "interface" if nat.kind == NatType::Dynamic && nat.mapped != NatAddr::Interface => {
                    c.next();
                    nat.pat_fallback = true;
                }
                "net-to-net" | "dns" | "interface" => {
                    c.next();
                }
                _ => return Err(c.expected("`service`, `no-proxy-arp`, `route-lookup` or the end of the rule")),
            }
        }
        Ok(nat)
    }
}

/// Consumes `no-proxy-arp` or `route-lookup` and sets its flag.
fn routing_option(c: &mut Cursor, no_proxy_arp: &mut bool, route_lookup: &mut bool) {
    if c.eat("no-proxy-arp") {
        *no_proxy_arp = true;
    } else if c.eat("route-lookup") {
        *route_lookup = true;
    }
}

fn port_number(c: &mut Cursor) -> PResult<u16> {
    let span = c.here();
    let t = c.word("a port")?;
    keywords::port(&t.value)
        .ok_or_else(|| Diagnostic::error("invalid-value", format!("unknown port `{}`", t.value)).at(span, "expected a port number or name"))
}
