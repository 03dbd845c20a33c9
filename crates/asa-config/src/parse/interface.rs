//! `interface`, `mtu`, `route`, `name` and `sysopt`.

use std::net::IpAddr;

use super::cursor::{Cursor, PResult};
use super::{Mode, Parser, Sub};
use crate::ast::{InterfaceDef, MtuDef, NameDef, RouteDef};
use crate::diag::Diagnostic;
use crate::span::Spanned;

impl Parser<'_> {
    pub(super) fn name_command(&mut self, c: &mut Cursor) -> PResult<bool> {
        c.next();
        let span = c.here();
        let (tok, _) = c.next().ok_or_else(|| c.expected("an address"))?;
        let addr: IpAddr = tok.parse().map_err(|_| super::cursor::invalid_address(tok, span, "an address"))?;
        let name = c.word("a name")?;
        let description = if c.eat("description") { c.rest().map(|r| r.value) } else { None };
        c.end()?;
        if let Some(prev) = self.cfg.names.iter().find(|n| n.name.value == name.value) {
            return Err(Diagnostic::error("duplicate-definition", format!("name `{}` is already defined", name.value))
                .at(name.span, "second definition")
                .also(prev.name.span, "first defined here")
                .with_help("remove one of the `name` lines or give them different names"));
        }
        self.cfg.names.push(NameDef { addr, name: name.clone(), description });
        self.cfg.rebuild_names(&name.value, addr);
        Ok(true)
    }

    pub(super) fn interface(&mut self, c: &mut Cursor) -> PResult<bool> {
        let start = c.here();
        c.next();
        let hw = c.word("an interface name such as GigabitEthernet0/0")?;
        c.end()?;
        let i = match self.cfg.interfaces.iter().position(|f| f.hardware.value == hw.value) {
            Some(i) => i,
            None => {
                self.cfg.interfaces.push(InterfaceDef {
                    hardware: hw.clone(),
                    nameif: None,
                    security_level: None,
                    address: None,
                    standby: None,
                    description: None,
                    shutdown: false,
                    span: start.to(hw.span),
                });
                self.cfg.interfaces.len() - 1
            }
        };
        self.mode = Mode::Interface(i);
        Ok(true)
    }

    pub(super) fn interface_sub(&mut self, c: &mut Cursor, i: usize) -> PResult<Sub> {
        let kw = c.peek().unwrap_or("").to_ascii_lowercase();
        match kw.as_str() {
            "nameif" => {
                c.next();
                let name = c.word("an interface name such as outside")?;
                c.end()?;
                let clash = self
                    .cfg
                    .interfaces
                    .iter()
                    .enumerate()
                    .find(|(j, f)| *j != i && f.nameif.as_ref().is_some_and(|n| n.value == name.value));
                if let Some((_, other)) = clash {
                    let prev = other.nameif.as_ref().map_or(other.span, |n| n.span);
                    return Err(Diagnostic::error(
                        "duplicate-definition",
                        format!("nameif `{}` is already used by interface {}", name.value, other.hardware.value),
                    )
                    .at(name.span, "second interface with this name")
                    .also(prev, "first used here")
                    .with_help("give each interface its own nameif"));
                }
                self.cfg.interfaces[i].nameif = Some(name);
            }
            "security-level" => {
                c.next();
                let level = c.number::<u8>("security level", 0, 100)?;
                c.end()?;
                self.cfg.interfaces[i].security_level = Some(level);
            }
            "ip" if c.peek_at(1).is_some_and(|t| t.eq_ignore_ascii_case("address")) => {
                c.pos = 2;
                if c.peek_is("dhcp") || c.peek_is("pppoe") {
                    return Ok(Sub::NotMine);
                }
                let start = c.here();
                let addr = c.ipv4("an interface address", &self.cfg.index.names)?;
                let mask = c.mask()?;
                let standby = if c.eat("standby") { Some(c.ipv4("a standby address", &self.cfg.index.names)?.value) } else { None };
                c.end()?;
                let f = &mut self.cfg.interfaces[i];
                f.address = Some(Spanned::new((addr.value, mask.value), start.to(mask.span)));
                f.standby = standby;
            }
            "description" => {
                c.next();
                self.cfg.interfaces[i].description = c.rest().map(|r| r.value);
            }
            "shutdown" => {
                c.next();
                c.end()?;
                self.cfg.interfaces[i].shutdown = true;
            }
            "no" if c.peek_at(1).is_some_and(|t| t.eq_ignore_ascii_case("shutdown")) => {
                c.pos = 2;
                c.end()?;
                self.cfg.interfaces[i].shutdown = false;
            }
            _ => return Ok(Sub::NotMine),
        }
        Ok(Sub::Done)
    }

    pub(super) fn mtu(&mut self, c: &mut Cursor) -> PResult<bool> {
        c.next();
        let interface = c.word("an interface name")?;
        let mtu = c.number::<u16>("MTU", 64, 9198)?;
        c.end()?;
        self.cfg.mtus.retain(|m| m.interface.value != interface.value);
        self.cfg.mtus.push(MtuDef { interface, mtu: mtu.value });
        Ok(true)
    }

    pub(super) fn route(&mut self, c: &mut Cursor) -> PResult<bool> {
        let start = c.here();
        c.next();
        let interface = c.word("an interface name")?;
        let names = &self.cfg.index.names;
        let network = c.ipv4("a destination network", names)?;
        let mask = c.mask()?;
        let gateway = c.ipv4("a gateway address", names)?;
        let distance = if c.at_end() || c.peek_is("track") || c.peek_is("tunneled") {
            1
        } else {
            c.number::<u8>("administrative distance", 1, 255)?.value
        };
        if !c.at_end() {
            // `track N` and `tunneled` are accepted and not modelled.
            c.pos = c.line.tokens.len();
        }
        let host_bits = u32::from(network.value) & !u32::from(crate::keywords::prefix_mask(mask.value));
        if host_bits != 0 {
            return Err(Diagnostic::error("invalid-address", format!("route network {} has host bits set", network.value))
                .at(network.span.to(mask.span), "network address and mask do not match"));
        }
        self.cfg.routes.push(RouteDef {
            interface,
            network: network.value,
            prefix_len: mask.value,
            gateway: gateway.value,
            distance,
            span: start.to(c.line.span),
        });
        Ok(true)
    }

    pub(super) fn sysopt(&mut self, c: &mut Cursor) -> PResult<bool> {
        c.next();
        if c.eat("connection") && c.eat("tcpmss") {
            if c.peek_is("minimum") {
                return Ok(false);
            }
            let mss = c.number::<u16>("TCP MSS", 48, 65535)?;
            c.end()?;
            self.cfg.tcp_mss = Some(mss);
            return Ok(true);
        }
        Ok(false)
    }
}

impl crate::ast::Config {
    pub(crate) fn rebuild_names(&mut self, name: &str, addr: IpAddr) {
        self.index.names.insert(name.to_string(), addr);
    }
}
