//! Parser: ASA CLI lines into the typed `Config`.
//!
//! Mode commands (`interface`, `object network`, `crypto ikev2 policy`, ...) open a
//! mode whose sub-commands follow, either indented (as `show running-config` prints
//! them) or unindented and closed with `exit` (as typed at the CLI). An unindented
//! line that is not a sub-command of the current mode leaves the mode, as on the ASA.

// Parse errors are rare and every one is returned once, so a large error type costs
// nothing measurable and keeps `?` plain.
#![allow(clippy::result_large_err)]

pub(crate) use crypto::is_gcm;

mod acl;
mod crypto;
pub(crate) mod cursor;
mod interface;
mod nat;
mod objects;
mod vpn;

use crate::ast::{Config, Unmodelled};
use crate::diag::Diagnostic;
use crate::lexer::{self, Line};
use crate::span::{Span, Spanned};
use cursor::{Cursor, PResult};

/// The mode opened by the last mode command.
#[derive(Clone, Debug)]
pub(crate) enum Mode {
    Top,
    Interface(usize),
    NetworkObject(usize),
    ServiceObject(usize),
    ObjectGroup(usize),
    Ikev2Policy(usize),
    IpsecProposal(usize),
    TunnelGroupGeneral(usize),
    TunnelGroupIpsec(usize),
    GroupPolicyAttributes(usize),
    /// Children of a command that is kept but not modelled.
    Unmodelled(String),
    /// Children of a mode command that had an error. They are skipped, because the
    /// error on the mode command already reports the problem.
    Failed,
}

pub(crate) struct Parser<'a> {
    pub src: &'a str,
    pub cfg: Config,
    pub diags: Vec<Diagnostic>,
    pub mode: Mode,
}

/// Outcome of offering a line to a mode's sub-command parser.
pub(crate) enum Sub {
    Done,
    /// Not a sub-command of this mode.
    NotMine,
}

pub(crate) fn parse(src: &str) -> (Config, Vec<Diagnostic>) {
    let lines = lexer::lines(src);
    let mut p = Parser { src, cfg: Config::default(), diags: Vec::new(), mode: Mode::Top };
    for line in &lines {
        p.line(line);
    }
    // Kept sub-commands are grouped under their mode command, in file order, so that
    // a printed and re-parsed configuration lists them in the same order.
    p.cfg.unmodelled.sort_by(|a, b| a.parent.cmp(&b.parent));
    // Manual NAT keeps config order within its section; `after-auto` rules form a later
    // section wherever they were typed, which is also how the ASA prints them.
    p.cfg.manual_nat.sort_by_key(|n| n.after_auto);
    p.cfg.rebuild_index();
    p.cfg.index.lines = crate::span::LineIndex::new(src);
    (p.cfg, p.diags)
}

impl<'a> Parser<'a> {
    fn line(&mut self, line: &Line) {
        let first = line.tok(self.src, 0).unwrap_or("");
        if first.starts_with('!') || first.starts_with(':') {
            return;
        }
        if let Some(d) = self.placeholder(line) {
            self.diags.push(d);
            if !matches!(self.mode, Mode::Top) && line.indented {
                self.note_failed_sub_command(line);
            }
            return;
        }
        if first.eq_ignore_ascii_case("exit") || first.eq_ignore_ascii_case("end") {
            self.mode = Mode::Top;
            return;
        }
        // Outside a mode, leading blanks mean nothing (the ASA CLI ignores them), so an
        // indented line there is a top-level command.
        let in_mode = !matches!(self.mode, Mode::Top);
        if matches!(self.mode, Mode::Failed) && line.indented {
            return;
        }
        if in_mode && (line.indented || self.unindented_sub_command(line)) {
            let result = self.sub_command(line);
            match result {
                Ok(Sub::Done) => {}
                Ok(Sub::NotMine) => match self.closed_mode_keywords() {
                    Some(options) => {
                        let c = Cursor::new(self.src, line);
                        let d = c.unknown_keyword(&self.mode_header(), options);
                        self.diags.push(d);
                        self.note_failed_sub_command(line);
                    }
                    None => self.keep_child(line),
                },
                Err(d) => {
                    self.diags.push(d);
                    self.note_failed_sub_command(line);
                }
            }
            return;
        }
        self.mode = Mode::Top;
        if let Err(d) = self.top(line) {
            self.diags.push(d);
            self.mode = Mode::Top;
            self.note_failed_sub_command(line);
            self.mode = Mode::Failed;
        }
    }

    /// Records that a line of the current mode had an error, under its first one to
    /// five words. A top-level line is recorded under an empty mode command.
    fn note_failed_sub_command(&mut self, line: &Line) {
        let header = self.mode_header().to_ascii_lowercase();
        let mut prefix = String::new();
        for i in 0..5 {
            let Some(word) = line.tok(self.src, i) else { break };
            if i > 0 {
                prefix.push(' ');
            }
            prefix.push_str(&word.to_ascii_lowercase());
            self.cfg.index.failed_sub_commands.insert((header.clone(), prefix.clone()));
        }
    }

    /// Returns every sub-command of the current mode when rampart models the whole
    /// mode, so that any other word there is a typo. Returns `None` for modes whose
    /// other sub-commands are kept without being modelled.
    fn closed_mode_keywords(&self) -> Option<&'static [&'static str]> {
        match self.mode {
            Mode::NetworkObject(_) => Some(&["host", "subnet", "range", "fqdn", "description", "nat"]),
            Mode::ServiceObject(_) => Some(&["service", "description"]),
            Mode::Ikev2Policy(_) => Some(&["encryption", "integrity", "group", "prf", "lifetime"]),
            Mode::IpsecProposal(_) => Some(&["protocol"]),
            Mode::ObjectGroup(_) => {
                Some(&["network-object", "range-object", "port-object", "service-object", "protocol-object", "icmp-object", "group-object", "description"])
            }
            _ => None,
        }
    }

    /// Reports a `<...>` placeholder left from a template, such as `<PSK>`.
    fn placeholder(&self, line: &Line) -> Option<Diagnostic> {
        let text = line.text(self.src);
        let open = text.find('<')?;
        let before = text[..open].chars().last();
        if before.is_some_and(|c| !c.is_whitespace()) {
            return None;
        }
        let close = text[open..].find('>').map_or(text.len(), |c| open + c + 1);
        let start = line.span.start as usize;
        let span = Span::new(start + open, start + close);
        let what = &text[open..close];
        let inner = what.trim_start_matches('<').trim_end_matches('>');
        let example = if inner.to_ascii_uppercase().contains("PSK") || inner.to_ascii_lowercase().contains("key") {
            "the pre-shared key configured for this location in the Zscaler admin portal"
        } else if inner.to_ascii_lowercase().contains("subnet") || inner.to_ascii_lowercase().contains("network") {
            "a network address, such as 192.0.2.0"
        } else if inner.to_ascii_lowercase().contains("mask") {
            "a dotted netmask such as 255.255.255.0"
        } else if inner.to_ascii_uppercase().contains("IP") {
            "an address, such as 203.0.113.10"
        } else {
            "the real value"
        };
        Some(
            Diagnostic::error("placeholder", format!("unfilled placeholder `{what}`"))
                .at(span, "template placeholder left in the configuration")
                .with_help(format!("replace `{what}` with {example}")),
        )
    }

    /// Keeps a sub-command that rampart does not model, under its mode command.
    fn keep_child(&mut self, line: &Line) {
        let parent = match &self.mode {
            Mode::Top | Mode::Failed => None,
            Mode::Unmodelled(p) => Some(p.clone()),
            _ => Some(self.mode_header()),
        };
        // A kept sub-command indented deeper than one level (` inspect` under
        // ` class` under `policy-map`) keeps the extra blanks, so that the printer
        // restores the nesting.
        let start = line.span.start as usize;
        let line_start = self.src[..start].rfind('\n').map_or(0, |i| i + 1);
        let depth = self.src[line_start..start].len().saturating_sub(1);
        let text = format!("{}{}", " ".repeat(depth), line.text(self.src).trim());
        self.cfg.unmodelled.push(Unmodelled { parent, text: Spanned::new(text, line.span) });
    }

    /// Keeps a top-level command that rampart does not model; its children follow it.
    pub(crate) fn keep_top(&mut self, line: &Line) {
        let text = line.text(self.src).trim().to_string();
        self.cfg.unmodelled.push(Unmodelled { parent: None, text: Spanned::new(text.clone(), line.span) });
        self.mode = Mode::Unmodelled(text);
    }

    /// Formats the current mode command as `show running-config` prints it, so that kept
    /// sub-commands can be printed under it.
    pub(crate) fn mode_header(&self) -> String {
        let c = &self.cfg;
        match self.mode {
            Mode::Top | Mode::Failed => String::new(),
            Mode::Unmodelled(ref p) => p.clone(),
            Mode::Interface(i) => format!("interface {}", c.interfaces[i].hardware.value),
            Mode::NetworkObject(i) => format!("object network {}", c.network_objects[i].name.value),
            Mode::ServiceObject(i) => format!("object service {}", c.service_objects[i].name.value),
            Mode::ObjectGroup(i) => crate::print::group_header(&c.object_groups[i]),
            Mode::Ikev2Policy(i) => format!("crypto ikev2 policy {}", c.ikev2_policies[i].priority.value),
            Mode::IpsecProposal(i) => format!("crypto ipsec ikev2 ipsec-proposal {}", c.ipsec_proposals[i].name.value),
            Mode::TunnelGroupGeneral(i) => format!("tunnel-group {} general-attributes", c.tunnel_groups[i].name.value),
            Mode::TunnelGroupIpsec(i) => format!("tunnel-group {} ipsec-attributes", c.tunnel_groups[i].name.value),
            Mode::GroupPolicyAttributes(i) => format!("group-policy {} attributes", c.group_policies[i].name.value),
        }
    }

    /// True when an unindented line is a sub-command of the current mode, as typed at
    /// the CLI before `exit`.
    fn unindented_sub_command(&self, line: &Line) -> bool {
        let t0 = line.tok(self.src, 0).unwrap_or("").to_ascii_lowercase();
        let t1 = line.tok(self.src, 1).unwrap_or("").to_ascii_lowercase();
        let t2 = line.tok(self.src, 2).unwrap_or("").to_ascii_lowercase();
        let kws: &[&str] = match self.mode {
            Mode::Top | Mode::Unmodelled(_) | Mode::Failed => return false,
            Mode::Interface(_) => {
                if t0 == "ip" {
                    return t1 == "address";
                }
                &["nameif", "security-level", "description", "shutdown", "speed", "duplex", "vlan", "management-only"]
            }
            Mode::NetworkObject(_) => {
                if t0 == "nat" {
                    return t2 == "static" || t2 == "dynamic";
                }
                &["host", "subnet", "range", "fqdn", "description"]
            }
            Mode::ServiceObject(_) => &["service", "description"],
            Mode::ObjectGroup(_) => {
                &["network-object", "port-object", "service-object", "protocol-object", "icmp-object", "group-object", "description"]
            }
            Mode::Ikev2Policy(_) => &["encryption", "integrity", "group", "prf", "lifetime"],
            Mode::IpsecProposal(_) => &["protocol"],
            Mode::TunnelGroupGeneral(_) => &["default-group-policy"],
            Mode::TunnelGroupIpsec(_) => &["peer-id-validate", "ikev2", "isakmp", "ikev1"],
            Mode::GroupPolicyAttributes(_) => {
                if t0 == "banner" {
                    return t1 == "value";
                }
                &["vpn-tunnel-protocol", "vpn-idle-timeout", "vpn-filter", "split-tunnel-policy"]
            }
        };
        kws.contains(&t0.as_str())
    }

    fn sub_command(&mut self, line: &Line) -> PResult<Sub> {
        let mut c = Cursor::new(self.src, line);
        match self.mode.clone() {
            Mode::Top | Mode::Unmodelled(_) | Mode::Failed => Ok(Sub::NotMine),
            Mode::Interface(i) => self.interface_sub(&mut c, i),
            Mode::NetworkObject(i) => self.network_object_sub(&mut c, i),
            Mode::ServiceObject(i) => self.service_object_sub(&mut c, i),
            Mode::ObjectGroup(i) => self.object_group_sub(&mut c, i),
            Mode::Ikev2Policy(i) => self.ikev2_policy_sub(&mut c, i),
            Mode::IpsecProposal(i) => self.ipsec_proposal_sub(&mut c, i),
            Mode::TunnelGroupGeneral(i) => self.tunnel_group_general_sub(&mut c, i),
            Mode::TunnelGroupIpsec(i) => self.tunnel_group_ipsec_sub(&mut c, i),
            Mode::GroupPolicyAttributes(i) => self.group_policy_sub(&mut c, i),
        }
    }

    fn top(&mut self, line: &Line) -> PResult<()> {
        let mut c = Cursor::new(self.src, line);
        let first = c.peek().unwrap_or("").to_ascii_lowercase();
        let handled = match first.as_str() {
            "asa" if c.peek_at(1).is_some_and(|t| t.eq_ignore_ascii_case("version")) => {
                c.pos = 2;
                let v = c.word("a version such as 9.6(4)")?;
                self.cfg.version = Some(v);
                true
            }
            "hostname" => {
                c.next();
                let h = c.word("a host name")?;
                c.end()?;
                self.cfg.hostname = Some(h);
                true
            }
            "domain-name" => {
                c.next();
                let d = c.word("a domain name")?;
                c.end()?;
                self.cfg.domain_name = Some(d);
                true
            }
            "names" => {
                c.next();
                c.end()?;
                self.cfg.names_enabled = true;
                true
            }
            "name" => self.name_command(&mut c)?,
            "interface" => self.interface(&mut c)?,
            "mtu" => self.mtu(&mut c)?,
            "route" => self.route(&mut c)?,
            "object" => self.object(&mut c)?,
            "object-group" => self.object_group(&mut c)?,
            "access-list" => self.access_list(&mut c)?,
            "access-group" => self.access_group(&mut c)?,
            "nat" => self.manual_nat(&mut c)?,
            "crypto" => self.crypto(&mut c, line)?,
            "tunnel-group" => self.tunnel_group(&mut c)?,
            "group-policy" => self.group_policy(&mut c)?,
            "sysopt" => self.sysopt(&mut c)?,
            "same-security-traffic" => {
                let whole = line.text(self.src).trim().to_ascii_lowercase();
                let inter = whole.split_whitespace().collect::<Vec<_>>().join(" ")
                    == "same-security-traffic permit inter-interface";
                if inter {
                    self.cfg.same_security_inter_interface = true;
                }
                inter
            }
            "banner" => {
                // ASA banners are one command per line, never a delimited block.
                self.cfg.banners.push(line.text(self.src).trim().to_string());
                true
            }
            _ => false,
        };
        if !handled {
            self.keep_top(line);
        }
        Ok(())
    }

    /// Reports a second definition of a name in the namespace shared by objects and
    /// object groups.
    pub(crate) fn duplicate_object_name(&self, name: &Spanned<String>, is_group: bool) -> Option<Diagnostic> {
        let ix = &self.cfg.index;
        let prev = if is_group {
            ix.network_objects
                .get(&name.value)
                .map(|&i| self.cfg.network_objects[i].name.span)
                .or_else(|| ix.service_objects.get(&name.value).map(|&i| self.cfg.service_objects[i].name.span))
        } else {
            ix.object_groups.get(&name.value).map(|&i| self.cfg.object_groups[i].name.span)
        };
        prev.map(|prev| {
            Diagnostic::error("duplicate-definition", format!("`{}` is already defined", name.value))
                .at(name.span, "second definition of this name")
                .also(prev, "first defined here")
                .with_help("objects and object groups share one namespace: rename one of them")
        })
    }
}
