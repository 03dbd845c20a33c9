//! Checks that apply to every configuration.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rampart_policy::model::{AddrRange, NatMapped, NatRule, PortRange};

use crate::ast::*;
use crate::diag::Diagnostic;
use crate::lower::{acl_entries, nat_rules};
use crate::parse::is_gcm;
use crate::resolve::Expander;
use crate::span::Span;

pub(crate) fn generic(cfg: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    required_lines(cfg, &mut out);
    crypto_map_entries(cfg, &mut out);
    crypto_map_bindings(cfg, &mut out);
    tunnel_groups(cfg, &mut out);
    algorithms(cfg, &mut out);
    nat_before_crypto(cfg, &mut out);
    denied_private_sources(cfg, &mut out);
    ace_expansion(cfg, &mut out);
    unmodelled_summary(cfg, &mut out);
    out
}

fn required_lines(cfg: &Config, out: &mut Vec<Diagnostic>) {
    for p in &cfg.ikev2_policies {
        let head = format!("crypto ikev2 policy {}", p.priority.value);
        let gcm = p.encryption.as_ref().is_some_and(|e| e.value.iter().all(|x| is_gcm(*x)));
        let mut missing = Vec::new();
        if p.encryption.is_none() {
            missing.push("encryption aes-256");
        }
        if p.integrity.is_none() && !gcm {
            missing.push("integrity sha256");
        }
        if p.groups.is_none() {
            missing.push("group 14");
        }
        missing.retain(|m| !cfg.sub_command_failed(&head, m.split(' ').next().unwrap_or(m)));
        if !missing.is_empty() {
            out.push(
                Diagnostic::error("missing-line", format!("{head} is missing required lines"))
                    .at(p.span, format!("missing: {}", missing.iter().map(|m| m.split(' ').next().unwrap_or(m)).collect::<Vec<_>>().join(", ")))
                    .with_help(format!("add under the policy, for example:\n{head}\n {}", missing.join("\n "))),
            );
        }
    }
    for p in &cfg.ipsec_proposals {
        let head = format!("crypto ipsec ikev2 ipsec-proposal {}", p.name.value);
        match &p.encryption {
            None if cfg.sub_command_failed(&head, "protocol esp") => {}
            None => out.push(
                Diagnostic::error("missing-line", format!("{head} has no encryption"))
                    .at(p.span, "missing `protocol esp encryption`")
                    .with_help(format!("add:\n{head}\n protocol esp encryption aes-gcm-256\n protocol esp integrity null")),
            ),
            Some(e) if !e.value.iter().all(|x| is_gcm(*x)) => {
                let has_integ = p.integrity.as_ref().is_some_and(|i| i.value.iter().any(|h| *h != HashKw::Null));
                if !has_integ {
                    out.push(
                        Diagnostic::error("missing-line", format!("{head} has a non-AEAD cipher without integrity"))
                            .at(e.span, "ESP with this cipher needs an integrity algorithm")
                            .with_help(format!("add:\n{head}\n protocol esp integrity sha-256")),
                    );
                }
            }
            Some(_) => {}
        }
    }
    if !cfg.crypto_map_entries.is_empty() && cfg.ikev2_policies.is_empty() && !cfg.sub_command_failed("", "crypto ikev2") {
        let span = cfg.crypto_map_entries[0].span;
        out.push(
            Diagnostic::error("missing-line", "no `crypto ikev2 policy` is configured")
                .at(span, "this crypto map cannot negotiate an IKE SA")
                .with_help("add:\ncrypto ikev2 policy 1\n encryption aes-256\n integrity sha256\n group 14\n prf sha256\n lifetime seconds 86400"),
        );
    }
}

fn crypto_map_entries(cfg: &Config, out: &mut Vec<Diagnostic>) {
    let x = Expander::new(cfg);
    for e in &cfg.crypto_map_entries {
        if e.dynamic.is_some() {
            continue;
        }
        let head = format!("crypto map {} {}", e.map.value, e.sequence.value);
        if cfg.sub_command_failed("", &head) {
            continue;
        }
        let mut missing = Vec::new();
        if e.match_address.is_none() {
            missing.push(("match address", format!("{head} match address ACL_NAME")));
        }
        if e.peers.is_none() {
            missing.push(("set peer", format!("{head} set peer PEER_ADDRESS")));
        }
        if e.proposals.is_none() {
            missing.push(("set ikev2 ipsec-proposal", format!("{head} set ikev2 ipsec-proposal PROPOSAL")));
        }
        if !missing.is_empty() {
            let what: Vec<&str> = missing.iter().map(|(w, _)| *w).collect();
            let fix: Vec<&str> = missing.iter().map(|(_, f)| f.as_str()).collect();
            out.push(
                Diagnostic::warning("incomplete-crypto-map", format!("{head} is incomplete: no {}", what.join(", no ")))
                    .at(e.span, "this entry can never initiate a tunnel")
                    .with_note("the ASA drops traffic that reaches an incomplete entry")
                    .with_help(format!("add:\n{}", fix.join("\n"))),
            );
        }
        if let Some(a) = &e.match_address
            && let Some(acl) = cfg.acl(&a.value)
        {
            let entries = acl_entries(&x, acl);
            if !entries.iter().any(|en| en.action == rampart_policy::model::Action::Permit && !en.inactive) {
                out.push(
                    Diagnostic::warning("crypto-acl-no-permit", format!("crypto ACL {} has no active permit entry", a.value))
                        .at(a.span, "nothing matches this crypto map entry")
                        .with_help(format!("add `access-list {} extended permit ip LOCAL_NET REMOTE_NET`", a.value)),
                );
            }
            for l in &acl.lines {
                let AclLine::Extended(ace) = &l.value else { continue };
                for n in [&ace.src, &ace.dst] {
                    if let AddrSpec::Object(n) = n
                        && let Some(o) = cfg.network_object(&n.value)
                        && matches!(o.body.as_ref().map(|b| &b.value), Some(NetObjectBody::Fqdn(_)))
                    {
                        out.push(
                            Diagnostic::warning("fqdn-in-crypto-acl", format!("object {} is an FQDN object", n.value))
                                .at(n.span, "traffic selectors need fixed addresses")
                                .with_help("use a host, subnet or range object in a crypto ACL"),
                        );
                    }
                }
            }
        }
    }
}

fn crypto_map_bindings(cfg: &Config, out: &mut Vec<Diagnostic>) {
    for name in cfg.crypto_map_names() {
        let Some(ifc) = cfg.crypto_map_interface(name) else {
            if cfg.sub_command_failed("", &format!("crypto map {name}")) {
                continue;
            }
            if let Some(e) = cfg.crypto_map_entries.iter().find(|e| e.map.value == name) {
                out.push(
                    Diagnostic::warning("unbound-crypto-map", format!("crypto map {name} is not bound to an interface"))
                        .at(e.map.span, "nothing is encrypted with this map")
                        .with_help(format!("add `crypto map {name} interface outside`")),
                );
            }
            continue;
        };
        let Some(f) = cfg.interface(&ifc.value) else { continue };
        if !cfg.ikev2_enable.iter().any(|e| e.value == ifc.value) && !cfg.sub_command_failed("", "crypto ikev2") {
            out.push(
                Diagnostic::error("ikev2-not-enabled", format!("IKEv2 is not enabled on interface {}", ifc.value))
                    .at(ifc.span, format!("crypto map {name} is bound here"))
                    .with_help(format!("add `crypto ikev2 enable {}`", ifc.value)),
            );
        }
        if f.address.is_none() {
            out.push(
                Diagnostic::error("missing-line", format!("interface {} has no IPv4 address", ifc.value))
                    .at(f.hardware.span, "the crypto map needs a local address")
                    .also(ifc.span, "crypto map bound here")
                    .with_help(format!("add under `interface {}`: ip address ADDRESS MASK", f.hardware.value)),
            );
        }
    }
}

fn tunnel_groups(cfg: &Config, out: &mut Vec<Diagnostic>) {
    for e in &cfg.crypto_map_entries {
        for peer in e.peers.iter().flat_map(|p| p.value.iter()) {
            let name = peer.value.to_string();
            let Some(tg) = cfg.tunnel_group(&name) else {
                out.push(
                    Diagnostic::error("undefined-tunnel-group", format!("no tunnel-group for peer {name}"))
                        .at(peer.span, "this peer cannot authenticate")
                        .with_help(format!(
                            "add:\ntunnel-group {name} type ipsec-l2l\ntunnel-group {name} ipsec-attributes\n ikev2 remote-authentication pre-shared-key KEY\n ikev2 local-authentication pre-shared-key KEY"
                        )),
                );
                continue;
            };
            let attributes = format!("tunnel-group {name} ipsec-attributes");
            for (have, side) in [(&tg.remote_psk, "remote"), (&tg.local_psk, "local")] {
                if have.is_none() && !cfg.sub_command_failed(&attributes, &format!("ikev2 {side}-authentication")) {
                    out.push(
                        Diagnostic::error("missing-psk", format!("tunnel-group {name} has no IKEv2 {side} pre-shared key"))
                            .at(tg.name.span, format!("used by peer {name} of crypto map {} {}", e.map.value, e.sequence.value))
                            .also(peer.span, "peer listed here")
                            .with_help(format!("add:\ntunnel-group {name} ipsec-attributes\n ikev2 {side}-authentication pre-shared-key KEY")),
                    );
                }
            }
        }
    }
    for tg in &cfg.tunnel_groups {
        match &tg.kind {
            Some(k) if !k.value.eq_ignore_ascii_case("ipsec-l2l") => {}
            None if tg.local_psk.is_some() || tg.remote_psk.is_some() => out.push(
                Diagnostic::warning("missing-line", format!("tunnel-group {} has no type", tg.name.value))
                    .at(tg.name.span, "defined without `type`")
                    .with_help(format!("add `tunnel-group {} type ipsec-l2l`", tg.name.value)),
            ),
            _ => {}
        }
        if let Some(gp) = tg.default_group_policy.as_ref().and_then(|g| cfg.group_policy(&g.value))
            && let Some(protos) = &gp.tunnel_protocols
            && !protos.value.iter().any(|p| p == "ikev2")
        {
            // One error per group-policy, however many tunnel groups use it.
            let message = format!("group-policy {} does not permit IKEv2", gp.name.value);
            if let Some(d) = out.iter_mut().find(|d| d.code == "ikev2-not-permitted" && d.message == message) {
                d.label.push_str(&format!(", {}", tg.name.value));
                continue;
            }
            let valid: Vec<&str> = protos.value.iter().map(String::as_str).filter(|p| crate::keywords::TUNNEL_PROTOCOLS.contains(p)).collect();
            out.push(
                Diagnostic::error("ikev2-not-permitted", message)
                    .at(protos.span, format!("used by tunnel-group {}", tg.name.value))
                    .with_help(format!("add ikev2: `vpn-tunnel-protocol {}`", valid.iter().chain(&["ikev2"]).copied().collect::<Vec<_>>().join(" "))),
            );
        }
    }
}

fn weak(d: Diagnostic, out: &mut Vec<Diagnostic>) {
    out.push(d.with_note("weak algorithms are flagged, never rejected"));
}

fn algorithms(cfg: &Config, out: &mut Vec<Diagnostic>) {
    for p in &cfg.ikev2_policies {
        let head = format!("crypto ikev2 policy {}", p.priority.value);
        if let Some(e) = &p.encryption {
            encryption_findings(&head, e, false, out);
            let gcm = e.value.iter().any(|x| is_gcm(*x));
            let cbc = e.value.iter().any(|x| !is_gcm(*x));
            if gcm && cbc {
                out.push(
                    Diagnostic::error("gcm-cbc-mix", format!("{head} mixes AES-GCM with non-AEAD ciphers"))
                        .at(e.span, "the ASA rejects GCM and CBC in one policy")
                        .with_help("put the GCM ciphers in a policy of their own with `integrity null`"),
                );
            }
            if gcm && !cbc && let Some(i) = &p.integrity && i.value.iter().any(|h| *h != HashKw::Null) {
                out.push(
                    Diagnostic::warning("gcm-integrity", format!("{head} pairs AES-GCM with an integrity algorithm"))
                        .at(i.span, "ignored: only AES-GCM is negotiated")
                        .with_help("write `integrity null` with AES-GCM"),
                );
            }
        }
        if let Some(i) = &p.integrity {
            hash_findings(&head, i, out);
        }
        if let Some(prf) = &p.prf {
            hash_findings(&head, prf, out);
        }
        if let Some(g) = &p.groups {
            let weak_groups: Vec<String> = g.value.iter().filter(|n| matches!(n, 1 | 2 | 5)).map(|n| n.to_string()).collect();
            if !weak_groups.is_empty() {
                weak(
                    Diagnostic::warning(
                        "weak-algorithm",
                        format!(
                            "{head} offers DH group{} {}, MODP below 2048 bits",
                            if weak_groups.len() > 1 { "s" } else { "" },
                            weak_groups.join(" and ")
                        ),
                    )
                    .at(g.span, "weak Diffie-Hellman groups")
                    .with_help("prefer group 14, 19, 20 or 21 where the peer accepts it"),
                    out,
                );
            }
        }
    }
    for p in &cfg.ipsec_proposals {
        let head = format!("crypto ipsec ikev2 ipsec-proposal {}", p.name.value);
        if let Some(e) = &p.encryption {
            encryption_findings(&head, e, true, out);
            let all_gcm = e.value.iter().all(|x| is_gcm(*x));
            if all_gcm && let Some(i) = &p.integrity && i.value.iter().any(|h| *h != HashKw::Null) {
                out.push(
                    Diagnostic::warning("gcm-integrity", format!("{head} pairs AES-GCM with a separate integrity algorithm"))
                        .at(i.span, "ignored: only AES-GCM is negotiated, which authenticates by itself")
                        .with_note("rampart never sends an integrity transform beside an AEAD cipher (RFC 7296 section 3.3)")
                        .with_help("write `protocol esp integrity null`, or drop the line"),
                );
            }
        }
        if let Some(i) = &p.integrity {
            hash_findings(&head, i, out);
        }
    }
    for e in &cfg.crypto_map_entries {
        if let Some(pfs) = &e.pfs
            && matches!(pfs.value, Some(1) | Some(2) | Some(5) | None)
        {
            weak(
                Diagnostic::warning("weak-algorithm", format!("crypto map {} {} uses a weak PFS group", e.map.value, e.sequence.value))
                    .at(pfs.span, "MODP group below 2048 bits")
                    .with_help("use `set pfs group14` or group19/20/21"),
                out,
            );
        }
    }
}

fn encryption_findings(head: &str, e: &crate::span::Spanned<Vec<EncrKw>>, esp: bool, out: &mut Vec<Diagnostic>) {
    for x in &e.value {
        match x {
            EncrKw::Des | EncrKw::TripleDes => weak(
                Diagnostic::warning("weak-algorithm", format!("{head} offers {}", crate::keywords::encryption_name(*x).to_ascii_uppercase()))
                    .at(e.span, "DES and 3DES are weak; rampart does not implement them, so they are not offered")
                    .with_help("use aes-256 or aes-gcm-256"),
                out,
            ),
            EncrKw::AesGmac128 | EncrKw::AesGmac192 | EncrKw::AesGmac256 => out.push(
                Diagnostic::warning("unsupported-algorithm", format!("{head} offers {}", crate::keywords::encryption_name(*x).to_ascii_uppercase()))
                    .at(e.span, "AES-GMAC is not implemented by rampart and is not offered")
                    .with_help("use aes-gcm-256, or null with an integrity algorithm"),
            ),
            EncrKw::Null if esp => out.push(
                Diagnostic::note("null-encryption", format!("{head} offers ESP NULL encryption"))
                    .at(e.span, "traffic is authenticated but sent in clear"),
            ),
            EncrKw::Null => out.push(
                Diagnostic::error("invalid-value", format!("{head}: IKE cannot use NULL encryption"))
                    .at(e.span, "not allowed for IKE SAs")
                    .with_help("use aes-256"),
            ),
            _ => {}
        }
    }
}

fn hash_findings(head: &str, h: &crate::span::Spanned<Vec<HashKw>>, out: &mut Vec<Diagnostic>) {
    for x in &h.value {
        match x {
            HashKw::Md5 => weak(
                Diagnostic::warning("weak-algorithm", format!("{head} offers MD5"))
                    .at(h.span, "MD5 is weak")
                    .with_help("use SHA-256 or stronger"),
                out,
            ),
            HashKw::Sha1 => out.push(
                Diagnostic::note("weak-algorithm", format!("{head} offers SHA-1"))
                    .at(h.span, "SHA-1 is acceptable for HMAC but deprecated")
                    .with_help("prefer SHA-256 where the peer accepts it"),
            ),
            _ => {}
        }
    }
}

fn overlaps(a: &AddrRange, b: &AddrRange) -> bool {
    a.start.is_ipv4() == b.start.is_ipv4() && a.start <= b.end && b.start <= a.end
}

fn covers(outer: &AddrRange, inner: &AddrRange) -> bool {
    outer.start.is_ipv4() == inner.start.is_ipv4() && outer.start <= inner.start && inner.end <= outer.end
}

fn port_covers(outer: &PortRange, inner: &PortRange) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// True when the NAT rule leaves this flow's source untranslated (identity NAT).
fn is_identity(r: &NatRule) -> bool {
    matches!(r.mapped_source, NatMapped::Identity)
}

/// Finds NAT rules that translate crypto-ACL traffic. NAT runs before the crypto map
/// lookup, so a translated source no longer matches the crypto ACL and leaves in clear.
fn nat_before_crypto(cfg: &Config, out: &mut Vec<Diagnostic>) {
    if cfg.manual_nat.is_empty() && !cfg.network_objects.iter().any(|o| o.nat.is_some()) {
        return;
    }
    let x = Expander::new(cfg);
    let rules = nat_rules(&x);
    let mut reported: BTreeMap<(u32, String), ()> = BTreeMap::new();
    for e in &cfg.crypto_map_entries {
        let Some(ifc) = cfg.crypto_map_interface(&e.map.value) else { continue };
        let Some(acl_name) = &e.match_address else { continue };
        let Some(acl) = cfg.acl(&acl_name.value) else { continue };
        let mut ace_index = 0usize;
        for l in &acl.lines {
            let AclLine::Extended(ace) = &l.value else { continue };
            ace_index += 1;
            if ace.action != AceAction::Permit || ace.inactive {
                continue;
            }
            for entry in crate::lower::expand_ace(&x, &acl.name.value, ace, ace_index as u32) {
                // Identity NAT rules with a `service` clause that this flow passed. They
                // exempt only their own ports from the translation below.
                let mut partial_ports: Vec<String> = Vec::new();
                for (rule, span) in &rules {
                    let mapped_ok = rule.mapped_interface.as_deref().is_none_or(|m| m == ifc.value);
                    if !mapped_ok || !rule.real_source.iter().any(|r| overlaps(r, &entry.src)) {
                        continue;
                    }
                    if let Some((_, real_dst)) = &rule.destination
                        && !real_dst.iter().any(|r| overlaps(r, &entry.dst))
                    {
                        continue;
                    }
                    let svc_covers = match &rule.service {
                        None => true,
                        Some(s) => entry.protocol == Some(s.protocol) && port_covers(&s.real, if s.source_port { &entry.src_ports } else { &entry.dst_ports }),
                    };
                    let src_covers = rule.real_source.iter().any(|r| covers(r, &entry.src));
                    let dst_covers = rule.destination.as_ref().is_none_or(|(_, real)| real.iter().any(|r| covers(r, &entry.dst)));
                    if is_identity(rule) {
                        if svc_covers && src_covers && dst_covers {
                            break;
                        }
                        // Partial identity NAT: the rest of the flow goes on to later rules.
                        if let Some(svc) = &rule.service {
                            partial_ports.push(service_text(svc));
                        }
                        continue;
                    }
                    if rule.service.is_some() {
                        // A translating rule with a service clause forwards chosen ports
                        // (a published server); the rest of the flow goes on.
                        continue;
                    }
                    if reported.insert((span.start, acl_name.value.clone()), ()).is_none() {
                        let mut d = nat_diagnostic(cfg, e, ace, acl_name, *span, &rule.origin.text);
                        if !partial_ports.is_empty() {
                            d = partial_identity_note(d, ace, acl_name, &partial_ports);
                        }
                        out.push(d);
                    }
                    break;
                }
            }
        }
    }
}

fn nat_diagnostic(cfg: &Config, e: &CryptoMapEntryDef, ace: &Ace, acl: &Name, span: Span, rule_text: &str) -> Diagnostic {
    let name = |a: &AddrSpec| match a {
        AddrSpec::Object(n) | AddrSpec::Group(n) => Some(n.value.clone()),
        AddrSpec::Any | AddrSpec::Any4 => Some("any".to_string()),
        _ => None,
    };
    let src = name(&ace.src).unwrap_or_else(|| "LOCAL_NET".to_string());
    let dst = name(&ace.dst).unwrap_or_else(|| "REMOTE_NET".to_string());
    let real_ifc = cfg
        .manual_nat
        .iter()
        .find(|n| n.span.start == span.start)
        .and_then(|n| n.real_interface.as_ref().map(|i| i.value.clone()))
        .unwrap_or_else(|| "inside".to_string());
    let ifc = cfg.crypto_map_interface(&e.map.value).map_or("outside".to_string(), |i| i.value.clone());
    let fix = if dst == "any" {
        format!("nat ({real_ifc},{ifc}) source static {src} {src} no-proxy-arp route-lookup")
    } else {
        format!("nat ({real_ifc},{ifc}) source static {src} {src} destination static {dst} {dst} no-proxy-arp route-lookup")
    };
    Diagnostic::warning("nat-before-crypto", format!("NAT rule translates traffic of crypto ACL {} before the crypto map sees it", acl.value))
        .at(span, "this rule translates the source address first")
        .also(ace.span, "crypto ACL entry whose traffic is translated")
        .with_note(format!("NAT runs before the crypto map lookup, so translated packets no longer match `{}` and leave unencrypted", acl.value))
        .with_note(format!("matching rule: {rule_text}"))
        .with_help(format!("add an identity NAT rule above it (first in the manual NAT section):\n{fix}"))
}

/// Warns about a crypto ACL `deny` entry for private sources that the first matching
/// NAT rule leaves untranslated. The deny keeps that traffic out of the tunnel, so it
/// leaves the crypto map interface in clear with an RFC 1918 source, which the Internet
/// drops. The ASA forwards it the same way.
fn denied_private_sources(cfg: &Config, out: &mut Vec<Diagnostic>) {
    let x = Expander::new(cfg);
    let rules = nat_rules(&x);
    for e in &cfg.crypto_map_entries {
        let Some(ifc) = cfg.crypto_map_interface(&e.map.value) else { continue };
        let Some(acl_name) = &e.match_address else { continue };
        let Some(acl) = cfg.acl(&acl_name.value) else { continue };
        for l in &acl.lines {
            let AclLine::Extended(ace) = &l.value else { continue };
            if ace.action != AceAction::Deny || ace.inactive {
                continue;
            }
            let private: Vec<AddrRange> = x.addr(&ace.src).into_iter().filter(is_private_v4).collect();
            let Some(src) = private.first() else { continue };
            let first_rule = rules.iter().find(|(rule, _)| {
                rule.mapped_interface.as_deref().is_none_or(|m| m == ifc.value) && rule.real_source.iter().any(|r| overlaps(r, src))
            });
            let Some((rule, span)) = first_rule else { continue };
            if !is_identity(rule) || rule.service.is_some() {
                continue;
            }
            out.push(
                Diagnostic::warning("private-source-in-clear", format!("traffic denied by crypto ACL {} leaves {} untranslated", acl_name.value, ifc.value))
                    .at(ace.span, "this entry keeps the traffic out of the tunnel")
                    .also(*span, "identity NAT leaves the private source address")
                    .with_note("the packets go out in clear with an RFC 1918 source address, which Internet routers drop")
                    .with_help("translate this source (PAT to the interface address) before the identity NAT rule, or remove the deny entry"),
            );
        }
    }
}

/// True for a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (RFC 1918).
fn is_private_v4(r: &AddrRange) -> bool {
    let (IpAddr::V4(start), IpAddr::V4(end)) = (r.start, r.end) else { return false };
    start.is_private() && end.is_private() && start.octets()[0] == end.octets()[0]
}

/// Writes a NAT service match the way an ACE names it: `tcp eq 443` or `udp range A B`.
fn service_text(svc: &rampart_policy::model::NatService) -> String {
    let proto = match svc.protocol {
        6 => "tcp".to_string(),
        17 => "udp".to_string(),
        p => p.to_string(),
    };
    if svc.real.start == svc.real.end {
        format!("{proto} eq {}", svc.real.start)
    } else {
        format!("{proto} range {} {}", svc.real.start, svc.real.end)
    }
}

/// Explains a translation that follows identity NAT rules limited to some ports. Only
/// those ports are tunnelled, which may be intended (web traffic only), so the help
/// offers both fixes.
fn partial_identity_note(d: Diagnostic, ace: &Ace, acl: &Name, ports: &[String]) -> Diagnostic {
    let src = match &ace.src {
        AddrSpec::Object(n) => format!("object {}", n.value),
        AddrSpec::Group(n) => format!("object-group {}", n.value),
        _ => "LOCAL_NET".to_string(),
    };
    let restricted: Vec<String> = ports
        .iter()
        .map(|p| {
            let (proto, rest) = p.split_once(' ').unwrap_or((p, ""));
            format!("access-list {} extended permit {proto} {src} any {rest}", acl.value)
        })
        .collect();
    let help = d.help.clone().unwrap_or_default();
    d.with_note(format!(
        "identity NAT above exempts only {}, so only those ports are tunnelled and the rest of `{}` is translated here",
        ports.join(", "),
        acl.value
    ))
    .with_help(format!(
        "either tunnel every port, {help}\nor, if only those ports should be tunnelled, restrict the crypto ACL to them:\n{}",
        restricted.join("\n")
    ))
}

fn ace_expansion(cfg: &Config, out: &mut Vec<Diagnostic>) {
    let x = Expander::new(cfg);
    for acl in &cfg.acls {
        for l in &acl.lines {
            let AclLine::Extended(ace) = &l.value else { continue };
            let size = x.ace_size(ace);
            if size > crate::lower::MAX_ACE_EXPANSION as u128 {
                out.push(
                    Diagnostic::error("ace-expansion", format!("access-list {} entry expands to {size} rules", acl.name.value))
                        .at(ace.span, format!("more than {} rules after expanding object groups", crate::lower::MAX_ACE_EXPANSION))
                        .with_help("split the entry, or replace the object groups by covering subnets"),
                );
            }
        }
    }
}

fn unmodelled_summary(cfg: &Config, out: &mut Vec<Diagnostic>) {
    if cfg.unmodelled.is_empty() {
        return;
    }
    const TWO_WORD: &[&str] = &["no", "crypto", "ip", "ssh", "http", "snmp-server", "logging", "aaa", "timeout", "threat-detection", "dns"];
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut top = 0usize;
    for u in cfg.unmodelled.iter().filter(|u| u.parent.is_none()) {
        top += 1;
        let words: Vec<&str> = u.text.value.split_whitespace().take(2).map(|w| w.split(':').next().unwrap_or(w)).collect();
        // The second word names a sub-command (`logging host`), never a value.
        let keyword_second = words.get(1).is_some_and(|w| w.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'));
        let key = match words.first() {
            Some(w) if TWO_WORD.contains(w) && keyword_second => words.join(" "),
            Some(w) => w.to_string(),
            None => continue,
        };
        *counts.entry(key).or_default() += 1;
    }
    let mut list: Vec<(String, usize)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown: Vec<String> = list.iter().take(12).map(|(k, n)| format!("{k} ({n})")).collect();
    let more = if list.len() > 12 { format!(", and {} more kinds", list.len() - 12) } else { String::new() };
    let children = cfg.unmodelled.len() - top;
    let mut parents: BTreeMap<&str, usize> = BTreeMap::new();
    for u in &cfg.unmodelled {
        if let Some(p) = &u.parent {
            *parents.entry(p.split_whitespace().next().unwrap_or(p)).or_default() += 1;
        }
    }
    let message = match (top, children) {
        (0, _) => {
            let under: Vec<String> = parents.iter().map(|(p, n)| format!("{p} ({n})")).collect();
            format!("{children} sub-command{} kept but not modelled, under: {}", if children == 1 { " is" } else { "s are" }, under.join(", "))
        }
        (_, 0) => format!("{top} command{} kept but not modelled: {}{more}", if top == 1 { " is" } else { "s are" }, shown.join(", ")),
        _ => format!(
            "{top} command{} and {children} sub-command{} are kept but not modelled: {}{more}",
            if top == 1 { "" } else { "s" },
            if children == 1 { "" } else { "s" },
            shown.join(", ")
        ),
    };
    out.push(
        Diagnostic::note("unmodelled", message)
            .with_help("they are printed back by `show running-config`; `rampart check --strict` rejects them"),
    );
}
