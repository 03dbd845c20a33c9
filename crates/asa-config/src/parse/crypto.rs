//! `crypto ikev2 ...`, `crypto ipsec ...`, `crypto map ...` and `crypto isakmp identity`.

use super::cursor::{Cursor, PResult};
use super::{Mode, Parser, Sub};
use crate::ast::{
    CryptoMapBinding, CryptoMapEntryDef, EncrKw, HashKw, IdentityKw, Ikev2Policy, IpsecInterfaceSetting, IpsecProposal, PmtuAgingKw,
};
use crate::diag::Diagnostic;
use crate::keywords;
use crate::lexer::Line;
use crate::span::{Span, Spanned};

impl Parser<'_> {
    pub(super) fn crypto(&mut self, c: &mut Cursor, line: &Line) -> PResult<bool> {
        c.next();
        let t1 = c.peek().unwrap_or("").to_ascii_lowercase();
        let t2 = c.peek_at(1).unwrap_or("").to_ascii_lowercase();
        match (t1.as_str(), t2.as_str()) {
            ("ikev2", "policy") => {
                c.pos += 2;
                self.ikev2_policy(c)
            }
            ("ikev2", "enable") => {
                c.pos += 2;
                let ifc = c.word("an interface name such as outside")?;
                // `client-services [port N]` concerns remote access only.
                c.pos = c.line.tokens.len();
                if !self.cfg.ikev2_enable.iter().any(|n| n.value == ifc.value) {
                    self.cfg.ikev2_enable.push(ifc);
                }
                Ok(true)
            }
            ("ipsec", "ikev2") => {
                c.pos += 2;
                if c.eat("ipsec-proposal") {
                    let name = c.word("a proposal name")?;
                    c.end()?;
                    let i = match self.cfg.index.proposals.get(&name.value) {
                        Some(&i) => i,
                        None => {
                            let i = self.cfg.ipsec_proposals.len();
                            self.cfg.index.proposals.insert(name.value.clone(), i);
                            let span = line.span;
                            self.cfg.ipsec_proposals.push(IpsecProposal { name, encryption: None, integrity: None, span });
                            i
                        }
                    };
                    self.mode = Mode::IpsecProposal(i);
                    Ok(true)
                } else if c.peek_is("transform-set") {
                    Err(self.ikev2_transform_set(c, line))
                } else {
                    Ok(false)
                }
            }
            ("ipsec", "security-association") => {
                c.pos += 2;
                if c.eat("pmtu-aging") {
                    self.cfg.pmtu_aging = Some(pmtu_aging(c, line)?);
                    return Ok(true);
                }
                if !c.eat("lifetime") {
                    return Ok(false);
                }
                let (seconds, kilobytes) = sa_lifetime(c)?;
                if seconds.is_some() {
                    self.cfg.sa_lifetime_seconds = seconds;
                }
                if kilobytes.is_some() {
                    self.cfg.sa_lifetime_kilobytes = kilobytes;
                }
                Ok(true)
            }
            ("ipsec", "fragmentation") | ("ipsec", "df-bit") => {
                c.pos += 1;
                let command = c.word("fragmentation or df-bit")?.value.to_ascii_lowercase();
                let setting = c.word("a setting")?.value.to_ascii_lowercase();
                let interface = c.word("an interface name")?;
                c.end()?;
                self.cfg.ipsec_interface_settings.push(IpsecInterfaceSetting { command, setting, interface });
                Ok(true)
            }
            ("isakmp", "identity") => {
                c.pos += 2;
                let (kw, span) = c.keyword(&["address", "hostname", "key-id", "auto"])?;
                let id = match kw.as_str() {
                    "address" => IdentityKw::Address,
                    "hostname" => IdentityKw::Hostname,
                    "key-id" => IdentityKw::KeyId(c.word("a key-id string")?.value),
                    _ => IdentityKw::Auto,
                };
                c.end()?;
                self.cfg.isakmp_identity = Some(Spanned::new(id, span.to(c.line.span)));
                Ok(true)
            }
            ("map", _) => {
                c.pos += 1;
                self.crypto_map(c, line)
            }
            ("ikev2", _) => {
                // Sub-commands that concern remote access or tuning are kept unmodelled;
                // any other word after `crypto ikev2` is a typo.
                c.next();
                if IKEV2_KEPT.contains(&t2.as_str()) {
                    return Ok(false);
                }
                let mut options = vec!["policy", "enable"];
                options.extend_from_slice(IKEV2_KEPT);
                Err(c.unknown_keyword("crypto ikev2", &options))
            }
            _ => Ok(false),
        }
    }

    fn ikev2_policy(&mut self, c: &mut Cursor) -> PResult<bool> {
        let start = c.line.span;
        let prio = c.number::<u16>("policy priority", 1, 65535)?;
        c.end()?;
        let i = match self.cfg.index.ikev2_policies.get(&prio.value) {
            Some(&i) => i,
            None => {
                let i = self.cfg.ikev2_policies.len();
                self.cfg.index.ikev2_policies.insert(prio.value, i);
                self.cfg.ikev2_policies.push(Ikev2Policy {
                    priority: prio,
                    encryption: None,
                    integrity: None,
                    groups: None,
                    prf: None,
                    lifetime_seconds: None,
                    span: start,
                });
                i
            }
        };
        self.mode = Mode::Ikev2Policy(i);
        Ok(true)
    }

    pub(super) fn ikev2_policy_sub(&mut self, c: &mut Cursor, i: usize) -> PResult<Sub> {
        let kw = c.peek().unwrap_or("").to_ascii_lowercase();
        let span = c.line.span;
        match kw.as_str() {
            "encryption" => {
                c.next();
                let list = keyword_list(c, "an encryption algorithm (aes-256, aes-gcm-256, ...)", keywords::encryption)?;
                self.cfg.ikev2_policies[i].encryption = Some(Spanned::new(list, span));
            }
            "integrity" => {
                c.next();
                let list = keyword_list(c, "an integrity algorithm (sha, sha256, sha384, sha512, md5, null)", keywords::ike_hash)?;
                self.cfg.ikev2_policies[i].integrity = Some(Spanned::new(list, span));
            }
            "prf" => {
                c.next();
                let list = keyword_list(c, "a PRF (sha, sha256, sha384, sha512, md5)", keywords::ike_hash)?;
                if list.contains(&HashKw::Null) {
                    return Err(Diagnostic::error("invalid-value", "`prf null` is not valid").at(span, "a PRF is always required"));
                }
                self.cfg.ikev2_policies[i].prf = Some(Spanned::new(list, span));
            }
            "group" => {
                c.next();
                let mut groups = Vec::new();
                while !c.at_end() {
                    let g = c.number::<u16>("DH group", 1, 31)?;
                    if !keywords::DH_GROUPS.contains(&g.value) {
                        return Err(Diagnostic::error("invalid-value", format!("unknown DH group {}", g.value))
                            .at(g.span, "expected one of 1, 2, 5, 14, 15, 16, 19, 20, 21, 24, 31"));
                    }
                    groups.push(g.value);
                }
                if groups.is_empty() {
                    return Err(c.expected("a DH group number"));
                }
                self.cfg.ikev2_policies[i].groups = Some(Spanned::new(groups, span));
            }
            "lifetime" => {
                c.next();
                c.expect("seconds")?;
                let secs = c.number::<u64>("lifetime in seconds", 120, 2_147_483_647)?;
                c.end()?;
                self.cfg.ikev2_policies[i].lifetime_seconds = Some(Spanned::new(secs.value, span));
            }
            _ => return Ok(Sub::NotMine),
        }
        Ok(Sub::Done)
    }

    pub(super) fn ipsec_proposal_sub(&mut self, c: &mut Cursor, i: usize) -> PResult<Sub> {
        if !c.peek_is("protocol") {
            return Ok(Sub::NotMine);
        }
        let span = c.line.span;
        c.next();
        if c.peek_is("ah") {
            return Err(Diagnostic::error("unsupported", "AH is not supported")
                .at(c.here(), "only `protocol esp` is supported")
                .with_help("use `protocol esp encryption ...` and `protocol esp integrity ...`"));
        }
        c.expect("esp")?;
        let (what, _) = c.keyword(&["encryption", "integrity"])?;
        if what == "encryption" {
            let list = keyword_list(c, "an ESP encryption algorithm (aes-gcm-256, aes-256, null, ...)", keywords::encryption)?;
            self.cfg.ipsec_proposals[i].encryption = Some(Spanned::new(list, span));
        } else {
            let list = keyword_list(c, "an ESP integrity algorithm (sha-256, sha-1, md5, null, ...)", keywords::esp_hash)?;
            self.cfg.ipsec_proposals[i].integrity = Some(Spanned::new(list, span));
        }
        Ok(Sub::Done)
    }

    /// Rejects `crypto ipsec ikev2 transform-set`, which no ASA release accepts: `esp-...`
    /// transform tokens belong to IKEv1 transform sets, and IKEv2 uses ipsec-proposals.
    fn ikev2_transform_set(&mut self, c: &mut Cursor, line: &Line) -> Diagnostic {
        c.next();
        let name = c.peek().unwrap_or("NAME").to_string();
        let mut enc = Vec::new();
        let mut integ = Vec::new();
        while let Some((t, _)) = c.next() {
            let t = t.to_ascii_lowercase();
            match t.as_str() {
                "esp-des" => enc.push("des"),
                "esp-3des" => enc.push("3des"),
                "esp-aes" => enc.push("aes"),
                "esp-aes-192" => enc.push("aes-192"),
                "esp-aes-256" => enc.push("aes-256"),
                "esp-aes-gcm" => enc.push("aes-gcm"),
                "esp-aes-gcm-192" => enc.push("aes-gcm-192"),
                "esp-aes-gcm-256" => enc.push("aes-gcm-256"),
                "esp-null" => enc.push("null"),
                "esp-md5-hmac" => integ.push("md5"),
                "esp-sha-hmac" => integ.push("sha-1"),
                "esp-sha256-hmac" => integ.push("sha-256"),
                "esp-sha384-hmac" => integ.push("sha-384"),
                "esp-sha512-hmac" => integ.push("sha-512"),
                "esp-none" => integ.push("null"),
                _ => {}
            }
        }
        let gcm_only = !enc.is_empty() && enc.iter().all(|e| e.starts_with("aes-gcm"));
        if gcm_only || integ.is_empty() {
            // AES-GCM authenticates by itself; the ASA expects `integrity null` beside it.
            integ = vec!["null"];
        }
        if enc.is_empty() {
            enc.push("aes-256");
        }
        let block = format!(
            "crypto ipsec ikev2 ipsec-proposal {name}\n protocol esp encryption {}\n protocol esp integrity {}",
            enc.join(" "),
            integ.join(" ")
        );
        let span = line.span;
        self.cfg.index.rejected_transform_sets.insert(name.clone(), span);
        Diagnostic::error("ikev2-transform-set", "`crypto ipsec ikev2 transform-set` is not valid ASA syntax")
            .at(span, "IKEv2 uses ipsec-proposals; `esp-...` transform sets exist only for IKEv1")
            .with_note("the crypto map's `set ikev2 ipsec-proposal` line needs a proposal of this name")
            .with_help(format!("replace this line with:\n{block}"))
    }

    fn crypto_map(&mut self, c: &mut Cursor, line: &Line) -> PResult<bool> {
        let map = c.word("a crypto map name")?;
        if c.eat("interface") {
            let interface = c.word("an interface name")?;
            c.end()?;
            self.cfg.crypto_map_bindings.retain(|b| b.interface.value != interface.value);
            self.cfg.crypto_map_bindings.push(CryptoMapBinding { map, interface });
            return Ok(true);
        }
        if c.peek().is_some_and(|t| CRYPTO_MAP_KEPT.iter().any(|k| k.eq_ignore_ascii_case(t))) {
            return Ok(false);
        }
        if !c.peek().is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit())) {
            let mut options = vec!["interface", "a sequence number"];
            options.extend_from_slice(CRYPTO_MAP_KEPT);
            return Err(c.unknown_keyword(&format!("crypto map {}", map.value), &options));
        }
        let seq = c.number::<u32>("sequence number", 1, 65535)?;
        let key = (map.value.clone(), seq.value);
        let i = match self.cfg.index.crypto_map_entries.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.cfg.crypto_map_entries.len();
                self.cfg.index.crypto_map_entries.insert(key, i);
                self.cfg.crypto_map_entries.push(CryptoMapEntryDef {
                    map,
                    sequence: seq,
                    match_address: None,
                    peers: None,
                    proposals: None,
                    pfs: None,
                    lifetime_seconds: None,
                    lifetime_kilobytes: None,
                    dynamic: None,
                    span: line.span,
                });
                i
            }
        };
        let span = line.span;
        let kw = c.peek().unwrap_or("").to_ascii_lowercase();
        match kw.as_str() {
            "match" => {
                c.next();
                c.expect("address")?;
                let acl = c.word("an access-list name")?;
                c.end()?;
                self.cfg.crypto_map_entries[i].match_address = Some(acl);
            }
            "ipsec-isakmp" => {
                c.next();
                c.expect("dynamic")?;
                let d = c.word("a dynamic map name")?;
                c.end()?;
                self.cfg.crypto_map_entries[i].dynamic = Some(d);
            }
            "set" => {
                c.next();
                return self.crypto_map_set(c, i, span);
            }
            _ => return Err(c.expected("`match address`, `set` or `ipsec-isakmp dynamic`")),
        }
        Ok(true)
    }

    fn crypto_map_set(&mut self, c: &mut Cursor, i: usize, span: Span) -> PResult<bool> {
        let kw = c.peek().unwrap_or("").to_ascii_lowercase();
        match kw.as_str() {
            "peer" => {
                c.next();
                let mut peers = Vec::new();
                while !c.at_end() {
                    peers.push(c.ip("a peer address", &self.cfg.index.names)?);
                }
                if peers.is_empty() {
                    return Err(c.expected("at least one peer address"));
                }
                if peers.len() > 10 {
                    return Err(Diagnostic::error("invalid-value", "a crypto map entry takes at most 10 peers").at(span, "too many peers"));
                }
                self.cfg.crypto_map_entries[i].peers = Some(Spanned::new(peers, span));
            }
            "ikev2" if c.peek_at(1).is_some_and(|t| t.eq_ignore_ascii_case("ipsec-proposal")) => {
                c.pos += 2;
                let mut names = Vec::new();
                while !c.at_end() {
                    names.push(c.word("a proposal name")?);
                }
                if names.is_empty() {
                    return Err(c.expected("an ipsec-proposal name"));
                }
                if names.len() > 11 {
                    return Err(Diagnostic::error("invalid-value", "a crypto map entry takes at most 11 proposals").at(span, "too many proposals"));
                }
                self.cfg.crypto_map_entries[i].proposals = Some(Spanned::new(names, span));
            }
            "pfs" => {
                c.next();
                let group = match c.next() {
                    None => None,
                    Some((t, s)) => {
                        let n = t.to_ascii_lowercase().strip_prefix("group").and_then(|g| g.parse::<u16>().ok());
                        match n {
                            Some(g) if keywords::DH_GROUPS.contains(&g) => Some(g),
                            _ => {
                                return Err(Diagnostic::error("invalid-value", format!("invalid PFS group `{t}`"))
                                    .at(s, "expected group1, group2, group5, group14, group19, group20, group21 or group24"));
                            }
                        }
                    }
                };
                c.end()?;
                self.cfg.crypto_map_entries[i].pfs = Some(Spanned::new(group, span));
            }
            "security-association" => {
                c.next();
                if !c.eat("lifetime") {
                    return if c.peek_is("replay") { Ok(false) } else { Err(c.unknown_keyword("set security-association", &["lifetime", "replay"])) };
                }
                let (seconds, kilobytes) = sa_lifetime(c)?;
                let entry = &mut self.cfg.crypto_map_entries[i];
                if let Some(n) = seconds {
                    entry.lifetime_seconds = Some(Spanned::new(n.value, span));
                }
                if let Some(n) = kilobytes {
                    entry.lifetime_kilobytes = Some(Spanned::new(n.value, span));
                }
            }
            "ikev2" => {
                c.next();
                return Err(c.unknown_keyword("set ikev2", &["ipsec-proposal"]));
            }
            other if CRYPTO_MAP_SET_KEPT.contains(&other) => return Ok(false),
            _ => {
                let mut options = vec!["peer", "ikev2", "pfs", "security-association"];
                options.extend_from_slice(CRYPTO_MAP_SET_KEPT);
                let d = c.unknown_keyword("crypto map ... set", &options);
                return Err(if kw == "esn" {
                    d.with_note("ASA syntax has no `set esn`, and rampart never negotiates extended sequence numbers")
                } else {
                    d
                });
            }
        }
        Ok(true)
    }
}

/// `crypto ikev2` sub-commands that the ASA accepts and rampart keeps without modelling.
const IKEV2_KEPT: &[&str] = &["remote-access", "cookie-challenge", "limit", "notify", "redirect", "fragmentation", "nat-keepalive"];

/// Words after `crypto map NAME` that the ASA accepts and rampart keeps without
/// modelling (IKEv1 client configuration).
const CRYPTO_MAP_KEPT: &[&str] = &["client"];

/// `crypto map NAME SEQ set` options that the ASA accepts and rampart keeps without
/// modelling.
const CRYPTO_MAP_SET_KEPT: &[&str] = &[
    "ikev1",
    "connection-type",
    "inheritance",
    "nat-t-disable",
    "phase1-mode",
    "reverse-route",
    "trustpoint",
    "validation-access-list",
    "tfc-packets",
];

/// `seconds` and `kilobytes` lifetimes, each present when the line sets it.
type SaLifetime = (Option<Spanned<u64>>, Option<Spanned<u64>>);

/// Parses `seconds N` and `kilobytes N|unlimited` (0 is unlimited) up to the end of the line.
fn sa_lifetime(c: &mut Cursor) -> PResult<SaLifetime> {
    let mut seconds = None;
    let mut kilobytes = None;
    while !c.at_end() {
        let (unit, span) = c.keyword(&["seconds", "kilobytes"])?;
        if unit == "seconds" {
            seconds = Some(c.number::<u64>("lifetime in seconds", 120, 2_147_483_647)?);
        } else if c.eat("unlimited") {
            kilobytes = Some(Spanned::new(0, span));
        } else {
            kilobytes = Some(c.number::<u64>("lifetime in kilobytes", 10, 2_147_483_647)?);
        }
    }
    if seconds.is_none() && kilobytes.is_none() {
        return Err(c.expected("`seconds N` or `kilobytes N`"));
    }
    Ok((seconds, kilobytes))
}

/// Parses the value of `crypto ipsec security-association pmtu-aging`.
///
/// NOTE: the range of 600 to 86400 seconds is the ASA's as far as known here; it is
/// not confirmed against a command reference.
fn pmtu_aging(c: &mut Cursor, line: &Line) -> PResult<Spanned<PmtuAgingKw>> {
    const EXPECTED: &str = "`infinite` or the aging interval in seconds (600 to 86400)";
    let value = match c.peek() {
        None => return Err(c.expected(EXPECTED)),
        Some(t) if t.eq_ignore_ascii_case("infinite") => {
            c.next();
            PmtuAgingKw::Infinite
        }
        Some(t) if !t.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(Diagnostic::error("invalid-value", format!("invalid PMTU aging value `{t}`"))
                .at(c.here(), format!("expected {EXPECTED}")));
        }
        Some(_) => PmtuAgingKw::Seconds(c.number::<u32>("PMTU aging interval in seconds", 600, 86_400)?.value),
    };
    c.end()?;
    Ok(Spanned::new(value, line.span))
}

/// Parses a non-empty list of algorithm keywords up to the end of the line.
fn keyword_list<T>(c: &mut Cursor, what: &str, parse: fn(&str) -> Option<T>) -> PResult<Vec<T>> {
    let mut out = Vec::new();
    while let Some(t) = c.peek() {
        match parse(t) {
            Some(v) => out.push(v),
            None => {
                let d = Diagnostic::error("invalid-value", format!("unknown algorithm `{t}`")).at(c.here(), format!("expected {what}"));
                return Err(if t.eq_ignore_ascii_case("aes-128") {
                    d.with_help("the ASA keyword for 128-bit AES-CBC is `aes`")
                } else if t.eq_ignore_ascii_case("aes-gcm-128") {
                    d.with_help("the ASA keyword for 128-bit AES-GCM is `aes-gcm`")
                } else {
                    d
                });
            }
        }
        c.next();
    }
    if out.is_empty() {
        return Err(c.expected(what));
    }
    Ok(out)
}

/// True for encryption keywords that are AEAD ciphers.
pub(crate) fn is_gcm(e: EncrKw) -> bool {
    matches!(e, EncrKw::AesGcm128 | EncrKw::AesGcm192 | EncrKw::AesGcm256 | EncrKw::AesGmac128 | EncrKw::AesGmac192 | EncrKw::AesGmac256)
}
