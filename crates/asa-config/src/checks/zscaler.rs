//! Zscaler ZIA profile: the constraints of Zscaler's ASA 55xx guide and of ZIA tunnels.
//!
//! For the IKE SA, ZIA accepts AES-128/192/256-CBC or 3DES with SHA-1/256/384/512 and
//! DH groups 2, 5, 14, 19, 20 and 21. For ESP it accepts AES-GCM, NULL or AES-CBC with
//! MD5 or SHA-x, without extended sequence numbers. A tunnel carries at most 8 Child
//! SAs and about 400 Mbit/s per public source address. Sources: Zscaler's help pages
//! "Understanding IPsec VPNs" and "IPsec VPN Configuration Guide for Cisco ASA 55xx".
//!
//! ASA syntax has no way to enable ESN in an IKEv2 ipsec-proposal, and rampart never
//! offers it, so the "no ESN" rule needs no check here.

use std::net::{IpAddr, Ipv4Addr};

use rampart_policy::model::{Action, AddrRange};

use super::CheckOptions;
use crate::ast::*;
use crate::diag::Diagnostic;
use crate::keywords::prefix_mask;
use crate::lower::acl_entries;
use crate::parse::is_gcm;
use crate::resolve::Expander;

/// Throughput ZIA allows per public source address, in Mbit/s.
pub const MBPS_PER_TUNNEL: u32 = 400;
/// Child SAs ZIA accepts per tunnel; one of them is taken by the public-address pair,
/// which leaves this many for crypto ACL entries.
pub const MAX_PERMIT_ENTRIES: usize = 7;
/// The crypto map sequence number Zscaler's guide uses.
pub const ZSCALER_SEQUENCE: u32 = 65000;

const GUIDE_POLICY: &str = "crypto ikev2 policy 1\n encryption aes-256\n integrity sha\n group 5 2\n prf sha\n lifetime seconds 86400";

pub(super) fn check(cfg: &Config, opts: &CheckOptions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if cfg.crypto_map_entries.is_empty() {
        return out;
    }
    ike_policy(cfg, &mut out);
    let entries = zscaler_entries(cfg, &mut out);
    for e in &entries {
        child_sa_limit(cfg, e, &mut out);
        proposals(cfg, e, &mut out);
        pfs(e, &mut out);
        multi_peer(cfg, e, &mut out);
        psk_pairs(cfg, e, &mut out);
    }
    ordering(cfg, &entries, &mut out);
    tunnel_addresses(cfg, &mut out);
    if let Some(mbps) = opts.expected_mbps {
        out.extend(throughput(cfg, mbps));
    }
    out
}

/// DH groups ZIA accepts for the IKE SA.
const ZSCALER_DH_GROUPS: [u16; 6] = [2, 5, 14, 19, 20, 21];

fn ike_acceptable(p: &Ikev2Policy) -> bool {
    ike_rejections(p).is_empty()
}

/// Returns one line for each transform type in which a policy offers nothing ZIA
/// accepts; an empty list means ZIA accepts the policy.
fn ike_rejections(p: &Ikev2Policy) -> Vec<String> {
    let mut out = Vec::new();
    let enc = p.encryption.as_ref().is_some_and(|e| {
        e.value.iter().any(|x| matches!(x, EncrKw::Aes128 | EncrKw::Aes192 | EncrKw::Aes256 | EncrKw::TripleDes))
    });
    if !enc {
        out.push("offers no encryption that Zscaler accepts: aes, aes-192, aes-256 or 3des".to_string());
    }
    let integ = p.integrity.as_ref().is_some_and(|i| i.value.iter().any(|h| !matches!(h, HashKw::Md5 | HashKw::Null)));
    if !integ {
        out.push("offers no integrity that Zscaler accepts: sha, sha256, sha384 or sha512".to_string());
    }
    let groups = p.groups.as_ref().is_some_and(|g| g.value.iter().any(|n| ZSCALER_DH_GROUPS.contains(n)));
    if !groups {
        let offered = match &p.groups {
            Some(g) => format!(" (it offers group {})", g.value.iter().map(u16::to_string).collect::<Vec<_>>().join(" ")),
            None => String::new(),
        };
        out.push(format!("offers no DH group that Zscaler accepts: 2, 5, 14, 19, 20 or 21{offered}"));
    }
    out
}

fn ike_policy(cfg: &Config, out: &mut Vec<Diagnostic>) {
    let mut policies: Vec<&Ikev2Policy> = cfg.ikev2_policies.iter().collect();
    policies.sort_by_key(|p| p.priority.value);
    let Some(z) = policies.iter().find(|p| ike_acceptable(p)) else {
        let d = Diagnostic::error("zscaler-ike-policy", "no crypto ikev2 policy matches what Zscaler accepts");
        let d = match policies.first() {
            Some(p) => ike_rejections(p)
                .into_iter()
                .fold(d.at(p.span, "Zscaler accepts none of these algorithms"), |d, r| d.with_note(format!("policy {} {r}", p.priority.value))),
            None => d,
        };
        out.push(d.with_help(format!("add the guide's policy:\n{GUIDE_POLICY}")));
        return;
    };
    let shadows: Vec<&&Ikev2Policy> = policies.iter().take_while(|p| p.priority.value < z.priority.value).collect();
    if let Some(first) = shadows.first() {
        let names: Vec<String> = shadows.iter().map(|p| p.priority.value.to_string()).collect();
        out.push(
            Diagnostic::warning(
                "zscaler-policy-priority",
                format!("crypto ikev2 policy {} shadows the Zscaler policy {}", names.join(", "), z.priority.value),
            )
            .at(first.span, "lower priority number, so it is offered and matched first")
            .also(z.span, "the policy Zscaler accepts")
            .with_note("Zscaler's guide requires the Zscaler policy to be `crypto ikev2 policy 1`")
            .with_help(format!("renumber the Zscaler policy {} to 1, and the other policies to numbers above 1", z.priority.value)),
        );
    } else if z.priority.value != 1 {
        out.push(
            Diagnostic::note("zscaler-policy-priority", format!("the Zscaler policy is number {}, not 1", z.priority.value))
                .at(z.span, "Zscaler's guide reserves policy 1")
                .with_help(format!("renumber it: `crypto ikev2 policy 1`, then remove policy {}", z.priority.value)),
        );
    }
    let strong_hash = z.integrity.as_ref().is_some_and(|i| i.value.iter().any(|h| matches!(h, HashKw::Sha384 | HashKw::Sha512)));
    let has_14 = z.groups.as_ref().is_some_and(|g| g.value.contains(&14));
    if strong_hash && !has_14 {
        out.push(
            Diagnostic::warning("zscaler-ike-policy", "Zscaler requires DH group 14 with SHA-384 or SHA-512")
                .at(z.groups.as_ref().map_or(z.span, |g| g.span), "group 14 missing")
                .with_help("add group 14 to the policy's `group` line"),
        );
    }
}

/// Crypto map entries that carry Zscaler tunnels: those at sequence 65000, or every
/// static entry with peers when none uses 65000.
fn zscaler_entries<'a>(cfg: &'a Config, out: &mut Vec<Diagnostic>) -> Vec<&'a CryptoMapEntryDef> {
    let at_65000: Vec<&CryptoMapEntryDef> = cfg.crypto_map_entries.iter().filter(|e| e.sequence.value == ZSCALER_SEQUENCE).collect();
    if !at_65000.is_empty() {
        return at_65000;
    }
    let with_peers: Vec<&CryptoMapEntryDef> = cfg.crypto_map_entries.iter().filter(|e| e.peers.is_some() && e.dynamic.is_none()).collect();
    if let Some(e) = with_peers.first() {
        out.push(
            Diagnostic::warning("zscaler-crypto-map-order", "no crypto map entry uses sequence 65000")
                .at(e.sequence.span, "Zscaler's guide puts its entry at 65000")
                .with_help(format!(
                    "renumber this entry to 65000 so that it is the last static entry: `crypto map {} 65000 ...`",
                    e.map.value
                )),
        );
    }
    with_peers
}

/// Computes the smallest IPv4 prefix that covers every range.
pub(crate) fn covering_prefix(ranges: &[AddrRange]) -> Option<(Ipv4Addr, u8)> {
    let mut lo = u32::MAX;
    let mut hi = 0u32;
    for r in ranges {
        let (IpAddr::V4(s), IpAddr::V4(e)) = (r.start, r.end) else { return None };
        lo = lo.min(u32::from(s));
        hi = hi.max(u32::from(e));
    }
    if lo > hi {
        return None;
    }
    let len = (lo ^ hi).leading_zeros().min(32) as u8;
    let net = lo & u32::from(prefix_mask(len));
    Some((Ipv4Addr::from(net), len))
}

fn child_sa_limit(cfg: &Config, e: &CryptoMapEntryDef, out: &mut Vec<Diagnostic>) {
    let Some(acl_name) = &e.match_address else { return };
    let Some(acl) = cfg.acl(&acl_name.value) else { return };
    let x = Expander::new(cfg);
    // Counting from group sizes avoids materialising a large crypto ACL entry by entry.
    let permits: Vec<&Ace> = acl
        .lines
        .iter()
        .filter_map(|l| match &l.value {
            AclLine::Extended(a) if a.action == AceAction::Permit && !a.inactive => Some(a),
            _ => None,
        })
        .collect();
    let count: u128 = permits.iter().map(|a| x.ace_size(a)).sum();
    if count <= MAX_PERMIT_ENTRIES as u128 {
        return;
    }
    let mut srcs: Vec<AddrRange> = permits.iter().flat_map(|a| x.addr(&a.src)).collect();
    srcs.sort_by_key(|r| (r.start, r.end));
    srcs.dedup();
    let mut d = Diagnostic::error(
        "zscaler-child-sa-limit",
        format!("crypto ACL {} expands to {count} permit entries; Zscaler accepts at most {}", acl_name.value, MAX_PERMIT_ENTRIES),
    )
    .at(acl_name.span, "each permit entry becomes its own Child SA")
    .with_note("Zscaler allows 8 Child SAs per tunnel, and one is used by the public-address pair");
    if srcs.len() == 1 {
        d = d.with_help(format!(
            "the entries share one source and differ in protocol or ports: merge the ports into fewer ranges (`range LOW HIGH`), or write one `permit ip` entry for the source, which also tunnels every other port:\naccess-list {} extended permit ip {} any",
            acl_name.value,
            range_operand(&srcs[0])
        ));
    } else if let Some((net, len)) = covering_prefix(&srcs) {
        let widens = permits.iter().any(|a| !matches!(a.protocol, ProtoSpec::Proto(None)) || a.src_port.is_some() || a.dst_port.is_some());
        let widening = if widens { "\nthis `permit ip` entry matches every protocol and port, wider than the entries it replaces" } else { "" };
        d = d.with_help(format!(
            "cover the local networks with one supernet, {net}/{len}:\nobject network zscaler_supernet\n subnet {net} {}\naccess-list {} extended permit ip object zscaler_supernet any{widening}",
            prefix_mask(len),
            acl_name.value
        ));
    }
    out.push(d);
}

/// Writes an address range as an ACE operand: `host A`, `A MASK` or `any4`.
fn range_operand(r: &AddrRange) -> String {
    if r.start == r.end {
        return format!("host {}", r.start);
    }
    match covering_prefix(std::slice::from_ref(r)) {
        Some((net, 0)) if net.is_unspecified() => "any4".to_string(),
        Some((net, len)) => format!("{net} {}", prefix_mask(len)),
        None => "any".to_string(),
    }
}

fn proposals(cfg: &Config, e: &CryptoMapEntryDef, out: &mut Vec<Diagnostic>) {
    let Some(names) = &e.proposals else { return };
    let acceptable = names.value.iter().filter_map(|n| cfg.proposal(&n.value)).any(|p| {
        let Some(enc) = &p.encryption else { return false };
        enc.value.iter().any(|x| match x {
            x if is_gcm(*x) => !matches!(x, EncrKw::AesGmac128 | EncrKw::AesGmac192 | EncrKw::AesGmac256),
            EncrKw::Null | EncrKw::Aes128 | EncrKw::Aes192 | EncrKw::Aes256 => {
                p.integrity.as_ref().is_some_and(|i| i.value.iter().any(|h| *h != HashKw::Null))
            }
            _ => false,
        })
    });
    let all_defined = names.value.iter().all(|n| cfg.proposal(&n.value).is_some());
    if !acceptable && all_defined {
        out.push(
            Diagnostic::error("zscaler-proposal", format!("no ipsec-proposal of crypto map {} {} is accepted by Zscaler", e.map.value, e.sequence.value))
                .at(names.span, "Zscaler accepts AES-GCM, NULL or AES-CBC with MD5 or SHA-x")
                .with_help(
                    "use the guide's proposal:\ncrypto ipsec ikev2 ipsec-proposal Zscaler-Proposal\n protocol esp encryption aes-gcm-256\n protocol esp integrity null",
                ),
        );
    }
}

fn pfs(e: &CryptoMapEntryDef, out: &mut Vec<Diagnostic>) {
    if let Some(p) = &e.pfs {
        out.push(
            Diagnostic::warning("zscaler-pfs", format!("PFS is set on crypto map {} {}", e.map.value, e.sequence.value))
                .at(p.span, "Zscaler recommends PFS off")
                .with_note("the first Child SA is created in IKE_AUTH without a KE payload, so a PFS mismatch shows only at the first rekey, hours later")
                .with_help(format!("remove it: `no crypto map {} {} set pfs`", e.map.value, e.sequence.value)),
        );
    }
}

/// Warns when a Zscaler peer's local and remote keys differ. A ZIA VPN credential has
/// one pre-shared key, which both sides use for AUTH.
fn psk_pairs(cfg: &Config, e: &CryptoMapEntryDef, out: &mut Vec<Diagnostic>) {
    for peer in e.peers.iter().flat_map(|p| p.value.iter()) {
        let Some(tg) = cfg.tunnel_group(&peer.value.to_string()) else { continue };
        let (Some(local), Some(remote)) = (&tg.local_psk, &tg.remote_psk) else { continue };
        if local.value.expose() != remote.value.expose() {
            out.push(
                Diagnostic::warning("zscaler-psk-mismatch", format!("tunnel-group {} has different local and remote keys", tg.name.value))
                    .at(local.span, "local key")
                    .also(remote.span, "remote key")
                    .with_help("Zscaler uses one pre-shared key per VPN credential: set both lines to the key from the ZIA admin portal"),
            );
        }
    }
}

/// Parses `9.6(4)` into (9, 6); `None` when the version is absent or unusual.
fn version(cfg: &Config) -> Option<(u32, u32)> {
    let v = &cfg.version.as_ref()?.value;
    let (major, rest) = v.split_once('.')?;
    let minor: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn multi_peer(cfg: &Config, e: &CryptoMapEntryDef, out: &mut Vec<Diagnostic>) {
    let Some(peers) = &e.peers else { return };
    if peers.value.len() < 2 {
        return;
    }
    let old = version(cfg).is_some_and(|v| v < (9, 14));
    let msg = format!("crypto map {} {} lists {} IKEv2 peers", e.map.value, e.sequence.value, peers.value.len());
    let d = if old { Diagnostic::warning("zscaler-multi-peer", msg) } else { Diagnostic::note("zscaler-multi-peer", msg) };
    let mut d = d
        .at(peers.span, "backup peers")
        .with_note("a real ASA fails over between IKEv2 peers of one crypto map entry only from ASA 9.14(1); rampart fails over as 9.14(1) and later do");
    if let (true, Some(v)) = (old, &cfg.version) {
        d = d.also(v.span, "this configuration is for an older release");
    }
    out.push(d);
}

fn ordering(cfg: &Config, zs: &[&CryptoMapEntryDef], out: &mut Vec<Diagnostic>) {
    let x = Expander::new(cfg);
    for z in zs {
        for e in cfg.crypto_map_entries.iter().filter(|e| e.map.value == z.map.value && e.sequence.value != z.sequence.value) {
            if e.dynamic.is_none() && e.sequence.value > z.sequence.value {
                out.push(
                    Diagnostic::warning("zscaler-crypto-map-order", format!("static entry {} follows the Zscaler entry {}", e.sequence.value, z.sequence.value))
                        .at(e.sequence.span, "static entries must come before the Zscaler entry")
                        .also(z.sequence.span, "Zscaler entry")
                        .with_help("renumber this entry below the Zscaler entry, which must be the last static entry"),
                );
            }
            if e.dynamic.is_some() && e.sequence.value < z.sequence.value {
                out.push(
                    Diagnostic::warning("zscaler-crypto-map-order", format!("dynamic entry {} comes before the Zscaler entry {}", e.sequence.value, z.sequence.value))
                        .at(e.sequence.span, "dynamic entries must come after the last static entry")
                        .also(z.sequence.span, "Zscaler entry")
                        .with_help("renumber the dynamic entry above the Zscaler entry, for example 65535"),
                );
            }
            if e.dynamic.is_none() && e.sequence.value < z.sequence.value {
                let (Some(a), Some(b)) = (
                    e.match_address.as_ref().and_then(|a| cfg.acl(&a.value)),
                    z.match_address.as_ref().and_then(|a| cfg.acl(&a.value)),
                ) else {
                    continue;
                };
                let ea: Vec<_> = acl_entries(&x, a).into_iter().filter(|p| p.action == Action::Permit).collect();
                let eb: Vec<_> = acl_entries(&x, b).into_iter().filter(|p| p.action == Action::Permit).collect();
                let overlap = ea.iter().any(|p| eb.iter().any(|q| ranges_overlap(&p.src, &q.src) && ranges_overlap(&p.dst, &q.dst)));
                let shadowed = !eb.is_empty()
                    && eb.iter().all(|q| ea.iter().any(|p| range_covers(&p.src, &q.src) && range_covers(&p.dst, &q.dst)));
                if shadowed {
                    out.push(
                        Diagnostic::warning("zscaler-crypto-map-conflict", format!("entry {} takes all traffic of the Zscaler entry {}", e.sequence.value, z.sequence.value))
                            .at(e.sequence.span, "this lower sequence number is evaluated first and matches every Zscaler flow")
                            .also(z.sequence.span, "Zscaler entry, never used")
                            .with_help(format!("narrow the ACL of entry {} or add `deny` lines for the Zscaler networks", e.sequence.value)),
                    );
                } else if overlap {
                    out.push(
                        Diagnostic::note("zscaler-crypto-map-conflict", format!("entry {} takes part of the traffic of the Zscaler entry {}", e.sequence.value, z.sequence.value))
                            .at(e.sequence.span, "evaluated first: matching flows go to this entry's peer, not to Zscaler")
                            .also(z.sequence.span, "Zscaler entry"),
                    );
                }
            }
        }
    }
}

fn range_covers(outer: &AddrRange, inner: &AddrRange) -> bool {
    outer.start.is_ipv4() == inner.start.is_ipv4() && outer.start <= inner.start && inner.end <= outer.end
}

fn ranges_overlap(a: &AddrRange, b: &AddrRange) -> bool {
    a.start.is_ipv4() == b.start.is_ipv4() && a.start <= b.end && b.start <= a.end
}

fn tunnel_addresses(cfg: &Config, out: &mut Vec<Diagnostic>) {
    for f in &cfg.interfaces {
        if !f.hardware.value.to_ascii_lowercase().starts_with("tunnel") {
            continue;
        }
        let Some(a) = &f.address else { continue };
        let ip = a.value.0;
        if ip.is_link_local() {
            out.push(
                Diagnostic::error("zscaler-tunnel-address", format!("tunnel interface {} uses link-local address {ip}", f.hardware.value))
                    .at(a.span, "APIPA (169.254.0.0/16) addresses are not accepted")
                    .with_help("use an RFC 1918 address such as 10.255.255.1 255.255.255.252"),
            );
        } else if !ip.is_private() {
            out.push(
                Diagnostic::warning("zscaler-tunnel-address", format!("tunnel interface {} uses non-RFC 1918 address {ip}", f.hardware.value))
                    .at(a.span, "Zscaler requires RFC 1918 tunnel interface addresses")
                    .with_help("use an address from 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"),
            );
        }
    }
}

/// Reports how many tunnels the expected throughput needs at 400 Mbit/s per public source address.
pub(super) fn throughput(cfg: &Config, mbps: u32) -> Vec<Diagnostic> {
    let needed = mbps.div_ceil(MBPS_PER_TUNNEL).max(1);
    let mut sources: Vec<Ipv4Addr> = cfg
        .crypto_map_entries
        .iter()
        .filter(|e| e.peers.is_some())
        .filter_map(|e| cfg.crypto_map_interface(&e.map.value))
        .filter_map(|i| crate::resolve::interface_addr(cfg, &i.value))
        .collect();
    sources.sort();
    sources.dedup();
    let have = sources.len().max(1) as u32;
    let msg = format!("{mbps} Mbit/s needs {needed} active tunnel(s) at {MBPS_PER_TUNNEL} Mbit/s per public source address; this configuration has {have}");
    let first = cfg
        .crypto_map_entries
        .iter()
        .find(|e| e.sequence.value == ZSCALER_SEQUENCE)
        .or_else(|| cfg.crypto_map_entries.iter().find(|e| e.peers.is_some()));
    let d = if needed > have {
        Diagnostic::warning("zscaler-throughput", msg).with_help(format!(
            "add {} more tunnel(s), each from its own public source address (another outside interface with its own crypto map, or one address with NAT-T and IKEv2 source-port randomisation), each with a primary and a backup peer; split the inside networks between their crypto ACLs",
            needed - have
        ))
    } else {
        Diagnostic::note("zscaler-throughput", msg)
    };
    vec![match first {
        Some(e) => d.at(e.span, "tunnel source"),
        None => d,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_prefix_two_subnets() {
        let r = [
            AddrRange::v4_prefix(Ipv4Addr::new(10, 1, 0, 0), 24),
            AddrRange::v4_prefix(Ipv4Addr::new(10, 1, 3, 0), 24),
        ];
        assert_eq!(covering_prefix(&r), Some((Ipv4Addr::new(10, 1, 0, 0), 22)));
    }
}
