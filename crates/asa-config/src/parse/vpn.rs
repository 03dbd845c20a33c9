//! `tunnel-group` and `group-policy`.

use super::cursor::{Cursor, PResult};
use super::{Mode, Parser, Sub};
use crate::ast::{GroupPolicy, Keepalive, PeerIdValidateKw, Secret, TunnelGroup};
use crate::diag::Diagnostic;
use crate::span::Spanned;

impl Parser<'_> {
    fn tunnel_group_index(&mut self, name: Spanned<String>, span: crate::span::Span) -> usize {
        if let Some(&i) = self.cfg.index.tunnel_groups.get(&name.value) {
            return i;
        }
        let i = self.cfg.tunnel_groups.len();
        self.cfg.index.tunnel_groups.insert(name.value.clone(), i);
        self.cfg.tunnel_groups.push(TunnelGroup {
            name,
            kind: None,
            default_group_policy: None,
            peer_id_validate: None,
            local_psk: None,
            remote_psk: None,
            keepalive: None,
            span,
        });
        i
    }

    pub(super) fn tunnel_group(&mut self, c: &mut Cursor) -> PResult<bool> {
        c.next();
        let name = c.word("a tunnel-group name (the peer address for LAN-to-LAN)")?;
        let (kw, _) = c.keyword(&["type", "general-attributes", "ipsec-attributes", "webvpn-attributes", "ppp-attributes"])?;
        match kw.as_str() {
            "type" => {
                let kind = c.word("a tunnel-group type such as ipsec-l2l")?;
                c.end()?;
                let i = self.tunnel_group_index(name, c.line.span);
                self.cfg.tunnel_groups[i].kind = Some(kind);
            }
            "general-attributes" => {
                c.end()?;
                let i = self.tunnel_group_index(name, c.line.span);
                self.mode = Mode::TunnelGroupGeneral(i);
            }
            "ipsec-attributes" => {
                c.end()?;
                let i = self.tunnel_group_index(name, c.line.span);
                self.mode = Mode::TunnelGroupIpsec(i);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub(super) fn tunnel_group_general_sub(&mut self, c: &mut Cursor, i: usize) -> PResult<Sub> {
        if !c.eat("default-group-policy") {
            return Ok(Sub::NotMine);
        }
        let gp = c.word("a group-policy name")?;
        c.end()?;
        self.cfg.tunnel_groups[i].default_group_policy = Some(gp);
        Ok(Sub::Done)
    }

    pub(super) fn tunnel_group_ipsec_sub(&mut self, c: &mut Cursor, i: usize) -> PResult<Sub> {
        let kw = c.peek().unwrap_or("").to_ascii_lowercase();
        let span = c.line.span;
        match kw.as_str() {
            "peer-id-validate" => {
                c.next();
                let (v, s) = c.keyword(&["req", "cert", "nocheck"])?;
                c.end()?;
                let v = match v.as_str() {
                    "req" => PeerIdValidateKw::Req,
                    "cert" => PeerIdValidateKw::Cert,
                    _ => PeerIdValidateKw::Nocheck,
                };
                self.cfg.tunnel_groups[i].peer_id_validate = Some(Spanned::new(v, s));
            }
            "ikev2" => {
                c.next();
                let (side, _) = c.keyword(&["remote-authentication", "local-authentication"])?;
                if !c.eat("pre-shared-key") {
                    return Ok(Sub::NotMine);
                }
                if c.peek_is("0") && c.peek_at(1).is_some() {
                    c.next();
                }
                if c.peek_is("8") && c.peek_at(1).is_some() {
                    return Err(Diagnostic::error("unsupported", "encrypted pre-shared keys (type 8) are not supported")
                        .at(c.here(), "the key is encrypted with the ASA's master passphrase")
                        .with_help("enter the key in clear text; rampart keeps it out of logs and output"));
                }
                if c.peek_is("hex") && c.peek_at(1).is_some() {
                    return Err(Diagnostic::error("unsupported", "hexadecimal pre-shared keys are not supported")
                        .at(c.here(), "`pre-shared-key hex` is not supported")
                        .with_help("enter the key as the text its hex digits encode, without `hex`"));
                }
                let key_span = c.here();
                let Some(key) = c.rest() else {
                    return Err(c.expected("a pre-shared key"));
                };
                if key.value.split_whitespace().nth(1).is_some() {
                    // The message never quotes the words, because they are part of the key.
                    return Err(Diagnostic::error("invalid-value", "pre-shared key contains blanks")
                        .at(key_span, "a pre-shared key is one word")
                        .with_help("write the key as one word, here and on the peer"));
                }
                if key.value.chars().all(|ch| ch == '*') {
                    return Err(Diagnostic::error("masked-key", "pre-shared key is masked as `*****`")
                        .at(key_span, "`show running-config` hides keys; this is not the key")
                        .with_help("type the real key, or copy the configuration with `more system:running-config`"));
                }
                if key.value.len() > 128 {
                    return Err(Diagnostic::error("invalid-value", "pre-shared key longer than 128 characters").at(key_span, "too long"));
                }
                let key = Spanned::new(Secret::new(&key.value), key_span);
                if side == "remote-authentication" {
                    self.cfg.tunnel_groups[i].remote_psk = Some(key);
                } else {
                    self.cfg.tunnel_groups[i].local_psk = Some(key);
                }
            }
            "isakmp" if c.peek_at(1).is_some_and(|t| t.eq_ignore_ascii_case("keepalive")) => {
                c.pos += 2;
                let k = if c.eat("disable") {
                    Keepalive::Disable
                } else {
                    c.expect("threshold")?;
                    let threshold = if c.eat("infinite") { None } else { Some(c.number::<u32>("keepalive threshold in seconds", 10, 3600)?.value) };
                    let retry = if c.eat("retry") { c.number::<u32>("keepalive retry in seconds", 2, 10)?.value } else { 2 };
                    c.end()?;
                    Keepalive::Threshold { threshold, retry }
                };
                self.cfg.tunnel_groups[i].keepalive = Some(Spanned::new(k, span));
            }
            _ => return Ok(Sub::NotMine),
        }
        Ok(Sub::Done)
    }

    pub(super) fn group_policy(&mut self, c: &mut Cursor) -> PResult<bool> {
        c.next();
        let name = c.word("a group-policy name")?;
        let (kw, _) = c.keyword(&["internal", "external", "attributes"])?;
        if kw == "external" {
            return Ok(false);
        }
        let i = match self.cfg.index.group_policies.get(&name.value) {
            Some(&i) => i,
            None => {
                let i = self.cfg.group_policies.len();
                self.cfg.index.group_policies.insert(name.value.clone(), i);
                let span = c.line.span;
                self.cfg.group_policies.push(GroupPolicy { name, internal: false, tunnel_protocols: None, banner: Vec::new(), span });
                i
            }
        };
        if kw == "internal" {
            c.end()?;
            self.cfg.group_policies[i].internal = true;
        } else {
            c.end()?;
            self.mode = Mode::GroupPolicyAttributes(i);
        }
        Ok(true)
    }

    pub(super) fn group_policy_sub(&mut self, c: &mut Cursor, i: usize) -> PResult<Sub> {
        let span = c.line.span;
        if c.eat("vpn-tunnel-protocol") {
            let mut list = Vec::new();
            while !c.at_end() {
                let (value, _) = c.keyword(crate::keywords::TUNNEL_PROTOCOLS)?;
                list.push(value);
            }
            if list.is_empty() {
                return Err(c.expected("a tunnel protocol such as ikev2"));
            }
            self.cfg.group_policies[i].tunnel_protocols = Some(Spanned::new(list, span));
            return Ok(Sub::Done);
        }
        if c.peek_is("banner") && c.peek_at(1).is_some_and(|t| t.eq_ignore_ascii_case("value")) {
            // ` banner value TEXT` is an ordinary attribute, one line per banner line.
            c.pos += 2;
            let text = c.rest().map(|r| r.value).unwrap_or_default();
            self.cfg.group_policies[i].banner.push(text);
            return Ok(Sub::Done);
        }
        Ok(Sub::NotMine)
    }
}
