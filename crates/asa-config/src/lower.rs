//! Lowering: the resolved configuration into the policy engine's and the IKE engine's
//! models. Unsupported or undefined parts are left out here; the checks report them.

use std::net::IpAddr;
use std::time::Duration;

use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use rampart_ike::config::{
    ChildConfig, DpdConfig, EspProposal, IkeConfig, IkeProposal, Identity, LocalIdentity, PeerConfig, PeerIdValidate, Psk,
    RemotePeer, RetransmitConfig, TrafficSelector,
};
use rampart_policy::model::{
    AccessGroup, Acl, AclEntry, Action, AddrRange, CryptoMap, CryptoMapEntry, Interface, NatKind, NatMapped, NatRule, NatSection,
    NatService, Origin, PmtuAging, PolicyConfig, PortRange, Route,
};

use crate::ast::*;
use crate::print;
use crate::resolve::{Expander, interface_addr, span_line};
use crate::span::Span;

/// Child SA lifetime when neither the crypto map entry nor the global
/// `crypto ipsec security-association lifetime` sets one (ASA default).
pub const DEFAULT_SA_LIFETIME_SECONDS: u64 = 28_800;
pub const DEFAULT_SA_LIFETIME_KILOBYTES: u64 = 4_608_000;
/// IKE SA lifetime when a policy has no `lifetime seconds` line (ASA default).
pub const DEFAULT_IKE_LIFETIME_SECONDS: u64 = 86_400;
// NOTE: the ASA's L2L DPD defaults are not documented for IKEv2; 10 s threshold and
// 2 s retry are the values its `isakmp keepalive` help lists, used here as an assumption.
pub const DEFAULT_DPD_THRESHOLD: u32 = 10;
pub const DEFAULT_DPD_RETRY: u32 = 2;

pub fn encr(e: EncrKw) -> Option<Encr> {
    Some(match e {
        EncrKw::Aes128 => Encr::AesCbc { key_bits: 128 },
        EncrKw::Aes192 => Encr::AesCbc { key_bits: 192 },
        EncrKw::Aes256 => Encr::AesCbc { key_bits: 256 },
        EncrKw::AesGcm128 => Encr::AesGcm16 { key_bits: 128 },
        EncrKw::AesGcm192 => Encr::AesGcm16 { key_bits: 192 },
        EncrKw::AesGcm256 => Encr::AesGcm16 { key_bits: 256 },
        EncrKw::Null => Encr::Null,
        EncrKw::Des | EncrKw::TripleDes | EncrKw::AesGmac128 | EncrKw::AesGmac192 | EncrKw::AesGmac256 => return None,
    })
}

pub fn integ(h: HashKw) -> Option<Integ> {
    Some(match h {
        HashKw::Md5 => Integ::HmacMd5_96,
        HashKw::Sha1 => Integ::HmacSha1_96,
        HashKw::Sha256 => Integ::HmacSha2_256_128,
        HashKw::Sha384 => Integ::HmacSha2_384_192,
        HashKw::Sha512 => Integ::HmacSha2_512_256,
        HashKw::Null => return None,
    })
}

pub fn prf(h: HashKw) -> Option<Prf> {
    Some(match h {
        HashKw::Md5 => Prf::HmacMd5,
        HashKw::Sha1 => Prf::HmacSha1,
        HashKw::Sha256 => Prf::HmacSha2_256,
        HashKw::Sha384 => Prf::HmacSha2_384,
        HashKw::Sha512 => Prf::HmacSha2_512,
        HashKw::Null => return None,
    })
}

fn origin(cfg: &Config, span: Span, text: String) -> Origin {
    Origin { line: span_line(cfg, span), text }
}

/// Maximum number of entries one ACE expands into. Object groups multiply (sources x
/// destinations x services), so a handful of large groups could exhaust memory. The
/// `ace-expansion` check reports every ACE above this limit.
pub const MAX_ACE_EXPANSION: usize = 100_000;

/// Expands one ACE into policy entries, at most [`MAX_ACE_EXPANSION`] of them.
pub(crate) fn expand_ace(x: &Expander, acl: &str, ace: &Ace, ace_index: u32) -> Vec<AclEntry> {
    let cfg = x.cfg;
    let text = format!("access-list {acl} extended {}", print::ace(ace));
    let origin = origin(cfg, ace.span, text);
    let srcs = x.addr(&ace.src);
    let dsts = x.addr(&ace.dst);
    let action = if ace.action == AceAction::Permit { Action::Permit } else { Action::Deny };
    let mut out = Vec::new();
    for svc in x.services(ace) {
        for src in &srcs {
            for sp in &svc.src {
                for dst in &dsts {
                    for dp in &svc.dst {
                        if out.len() >= MAX_ACE_EXPANSION {
                            return out;
                        }
                        out.push(AclEntry {
                            action,
                            protocol: svc.protocol,
                            src: *src,
                            src_ports: *sp,
                            dst: *dst,
                            dst_ports: *dp,
                            icmp_type: svc.icmp_type,
                            log: ace.log.as_deref().is_some_and(|l| l != "log disable"),
                            inactive: ace.inactive,
                            ace_index,
                            origin: origin.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

pub(crate) fn acl_entries(x: &Expander, acl: &AclDef) -> Vec<AclEntry> {
    let mut out = Vec::new();
    let mut index = 0u32;
    for l in &acl.lines {
        if let AclLine::Extended(a) = &l.value {
            out.extend(expand_ace(x, &acl.name.value, a, index));
            index += 1;
        }
    }
    out
}

fn nat_service(cfg: &Config, real: &str, mapped: &str) -> Option<NatService> {
    let r = cfg.service_object(real)?.body.as_ref()?;
    let m = cfg.service_object(mapped)?.body.as_ref()?;
    let protocol = r.value.protocol?;
    let source_port = r.value.destination.is_none() && r.value.source.is_some();
    let pick = |s: &ServiceSpec| {
        let m = if source_port { s.source } else { s.destination };
        m.as_ref().and_then(|m| crate::resolve::port_ranges(m).first().copied()).unwrap_or(PortRange::ANY)
    };
    Some(NatService { protocol, source_port, real: pick(&r.value), mapped: pick(&m.value) })
}

fn mapped(x: &Expander, real: &NatAddr, mapped: &NatAddr) -> NatMapped {
    match mapped {
        NatAddr::Interface => NatMapped::Interface,
        _ if real == mapped => NatMapped::Identity,
        _ => {
            let r = x.nat_addr(real);
            let m = x.nat_addr(mapped);
            if r == m { NatMapped::Identity } else { NatMapped::Addresses(m) }
        }
    }
}

fn manual_rule(x: &Expander, n: &ManualNat) -> NatRule {
    let cfg = x.cfg;
    NatRule {
        section: if n.after_auto { NatSection::AfterAuto } else { NatSection::Manual },
        real_interface: n.real_interface.as_ref().map(|s| s.value.clone()),
        mapped_interface: n.mapped_interface.as_ref().map(|s| s.value.clone()),
        kind: if n.kind == NatType::Static { NatKind::Static } else { NatKind::Dynamic },
        real_source: x.nat_addr(&n.real_source),
        mapped_source: mapped(x, &n.real_source, &n.mapped_source),
        destination: n.destination.as_ref().map(|(m, r)| (x.nat_addr(m), x.nat_addr(r))),
        service: n.service.as_ref().and_then(|(r, m)| nat_service(cfg, &r.value, &m.value)),
        no_proxy_arp: n.no_proxy_arp,
        route_lookup: n.route_lookup,
        pat_fallback: n.pat_fallback,
        origin: origin(cfg, n.span, print::manual_nat(n)),
    }
}

fn object_rule(x: &Expander, o: &NetworkObject, n: &ObjectNat) -> NatRule {
    let cfg = x.cfg;
    let real = NatAddr::Named(o.name.clone());
    NatRule {
        section: NatSection::Object,
        real_interface: n.real_interface.as_ref().map(|s| s.value.clone()),
        mapped_interface: n.mapped_interface.as_ref().map(|s| s.value.clone()),
        kind: if n.kind == NatType::Static { NatKind::Static } else { NatKind::Dynamic },
        real_source: x.nat_addr(&real),
        mapped_source: mapped(x, &real, &n.mapped),
        destination: None,
        service: n.service.map(|(p, r, m)| NatService {
            protocol: p,
            source_port: true,
            real: PortRange::single(r),
            mapped: PortRange::single(m),
        }),
        no_proxy_arp: n.no_proxy_arp,
        route_lookup: n.route_lookup,
        pat_fallback: n.pat_fallback,
        origin: origin(cfg, n.span, format!("object network {}: {}", o.name.value, print::object_nat(n))),
    }
}

fn range_size(r: &AddrRange) -> u128 {
    match (r.start, r.end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => u128::from(u32::from(e).saturating_sub(u32::from(s))),
        (IpAddr::V6(s), IpAddr::V6(e)) => u128::from(e).saturating_sub(u128::from(s)),
        _ => u128::MAX,
    }
}

/// NAT rules in ASA evaluation order: manual, object NAT (static first, then fewer real
/// addresses, lower first address, object name), then after-auto manual NAT.
/// Each rule comes with the span of its configuration line.
pub(crate) fn nat_rules(x: &Expander) -> Vec<(NatRule, Span)> {
    let cfg = x.cfg;
    let mut out: Vec<(NatRule, Span)> =
        cfg.manual_nat.iter().filter(|n| !n.after_auto && !n.inactive).map(|n| (manual_rule(x, n), n.span)).collect();
    let mut objects: Vec<(&NetworkObject, NatRule, Span)> = cfg
        .network_objects
        .iter()
        .filter_map(|o| o.nat.as_ref().map(|n| (o, object_rule(x, o, n), n.span)))
        .collect();
    objects.sort_by(|(ao, a, _), (bo, b, _)| {
        let size = |r: &NatRule| r.real_source.iter().map(range_size).sum::<u128>();
        let first = |r: &NatRule| r.real_source.first().map(|r| r.start);
        (a.kind == NatKind::Dynamic)
            .cmp(&(b.kind == NatKind::Dynamic))
            .then(size(a).cmp(&size(b)))
            .then(first(a).cmp(&first(b)))
            .then(ao.name.value.cmp(&bo.name.value))
    });
    out.extend(objects.into_iter().map(|(_, r, s)| (r, s)));
    out.extend(cfg.manual_nat.iter().filter(|n| n.after_auto && !n.inactive).map(|n| (manual_rule(x, n), n.span)));
    out
}

pub(crate) fn policy(cfg: &Config) -> PolicyConfig {
    let x = Expander::new(cfg);
    let interfaces = cfg
        .interfaces
        .iter()
        .filter_map(|f| {
            let name = f.nameif.as_ref()?.value.clone();
            let default_level = if name == "inside" { 100 } else { 0 };
            let mtu = cfg.mtus.iter().find(|m| m.interface.value == name).map_or(1500, |m| m.mtu);
            Some(Interface {
                hardware: f.hardware.value.clone(),
                security_level: f.security_level.as_ref().map_or(default_level, |l| l.value),
                address: f.address.as_ref().map(|a| a.value),
                mtu,
                name,
            })
        })
        .collect();
    let routes = cfg
        .routes
        .iter()
        .map(|r| Route {
            interface: r.interface.value.clone(),
            network: r.network,
            prefix_len: r.prefix_len,
            gateway: r.gateway,
            distance: r.distance,
            origin: origin(cfg, r.span, print::route(r)),
        })
        .collect();
    let acls = cfg.acls.iter().map(|a| Acl { name: a.name.value.clone(), entries: acl_entries(&x, a) }).collect();
    let access_groups = cfg
        .access_groups
        .iter()
        .map(|g| AccessGroup { acl: g.acl.value.clone(), inbound: g.inbound, interface: g.interface.value.clone() })
        .collect();
    let mut crypto_maps = Vec::new();
    for name in cfg.crypto_map_names() {
        let mut entries: Vec<CryptoMapEntry> = cfg
            .crypto_map_entries
            .iter()
            .filter(|e| e.map.value == name)
            .map(|e| CryptoMapEntry {
                map: name.to_string(),
                sequence: e.sequence.value,
                acl: e.match_address.as_ref().map(|a| a.value.clone()),
                peers: e.peers.as_ref().map(|p| p.value.iter().map(|a| a.value).collect()).unwrap_or_default(),
                proposals: e.proposals.as_ref().map(|p| p.value.iter().map(|n| n.value.clone()).collect()).unwrap_or_default(),
                dynamic: e.dynamic.as_ref().map(|d| d.value.clone()),
                origin: origin(cfg, e.span, format!("crypto map {} {}", name, e.sequence.value)),
            })
            .collect();
        entries.sort_by_key(|e| e.sequence);
        crypto_maps.push(CryptoMap {
            name: name.to_string(),
            interface: cfg.crypto_map_interface(name).map(|i| i.value.clone()),
            entries,
        });
    }
    PolicyConfig {
        interfaces,
        routes,
        acls,
        access_groups,
        nat_rules: nat_rules(&x).into_iter().map(|(r, _)| r).collect(),
        crypto_maps,
        tcp_mss: cfg.tcp_mss.as_ref().map(|m| m.value),
        same_security_inter_interface: cfg.same_security_inter_interface,
        pmtu_aging: match cfg.pmtu_aging.as_ref().map(|a| a.value) {
            None => PmtuAging::default(),
            Some(PmtuAgingKw::Seconds(seconds)) => PmtuAging(Some(seconds)),
            Some(PmtuAgingKw::Infinite) => PmtuAging(None),
        },
    }
}

pub(crate) fn ike_proposals(cfg: &Config) -> Vec<IkeProposal> {
    let mut policies: Vec<&Ikev2Policy> = cfg.ikev2_policies.iter().collect();
    policies.sort_by_key(|p| p.priority.value);
    policies
        .into_iter()
        .filter_map(|p| {
            let encryption: Vec<Encr> = p.encryption.as_ref()?.value.iter().filter_map(|e| encr(*e)).filter(|e| *e != Encr::Null).collect();
            let all_aead = !encryption.is_empty() && encryption.iter().all(|e| e.is_aead());
            let integrity: Vec<Integ> =
                if all_aead { Vec::new() } else { p.integrity.as_ref().map(|i| i.value.iter().filter_map(|h| integ(*h)).collect()).unwrap_or_default() };
            // `prf` defaults to SHA-1 (`prf sha`) when the policy has no prf line.
            let prf: Vec<Prf> = p.prf.as_ref().map_or(vec![Prf::HmacSha1], |l| l.value.iter().filter_map(|h| prf(*h)).collect());
            let dh_groups: Vec<DhGroup> = p
                .groups
                .as_ref()?
                .value
                .iter()
                .filter_map(|g| DhGroup::from_transform(*g))
                .filter(|g| g.is_supported())
                .collect();
            if encryption.is_empty() || dh_groups.is_empty() || prf.is_empty() || (!all_aead && integrity.is_empty()) {
                return None;
            }
            let secs = p.lifetime_seconds.as_ref().map_or(DEFAULT_IKE_LIFETIME_SECONDS, |l| l.value);
            Some(IkeProposal { priority: p.priority.value, encryption, integrity, prf, dh_groups, lifetime: Duration::from_secs(secs) })
        })
        .collect()
}

pub(crate) fn esp_proposal(p: &IpsecProposal) -> Option<EspProposal> {
    let encryption: Vec<Encr> = p.encryption.as_ref()?.value.iter().filter_map(|e| encr(*e)).collect();
    if encryption.is_empty() {
        return None;
    }
    let all_aead = encryption.iter().all(|e| e.is_aead());
    let integrity: Vec<Integ> =
        if all_aead { Vec::new() } else { p.integrity.as_ref().map(|i| i.value.iter().filter_map(|h| integ(*h)).collect()).unwrap_or_default() };
    if !all_aead && integrity.is_empty() {
        return None;
    }
    Some(EspProposal { name: p.name.value.clone(), encryption, integrity })
}

fn local_identity(cfg: &Config) -> LocalIdentity {
    match cfg.isakmp_identity.as_ref().map(|i| &i.value) {
        None | Some(IdentityKw::Auto) => LocalIdentity::Auto,
        Some(IdentityKw::Address) => LocalIdentity::Address,
        Some(IdentityKw::KeyId(k)) => LocalIdentity::KeyId(k.clone()),
        Some(IdentityKw::Hostname) => {
            let host = cfg.hostname.as_ref().map_or("ciscoasa", |h| h.value.as_str());
            match &cfg.domain_name {
                Some(d) => LocalIdentity::Hostname(format!("{host}.{}", d.value)),
                None => LocalIdentity::Hostname(host.to_string()),
            }
        }
    }
}

fn dpd(tg: &TunnelGroup) -> DpdConfig {
    match tg.keepalive.as_ref().map(|k| k.value) {
        Some(Keepalive::Disable) | Some(Keepalive::Threshold { threshold: None, .. }) => {
            DpdConfig { interval: None, retry: Duration::from_secs(DEFAULT_DPD_RETRY as u64) }
        }
        Some(Keepalive::Threshold { threshold: Some(t), retry }) => {
            DpdConfig { interval: Some(Duration::from_secs(t as u64)), retry: Duration::from_secs(retry as u64) }
        }
        None => DpdConfig {
            interval: Some(Duration::from_secs(DEFAULT_DPD_THRESHOLD as u64)),
            retry: Duration::from_secs(DEFAULT_DPD_RETRY as u64),
        },
    }
}

/// Builds the remote peer with its tunnel group's keys. Returns `None` when either key is missing.
pub(crate) fn remote_peer(cfg: &Config, addr: IpAddr) -> Option<RemotePeer> {
    let name = addr.to_string();
    let tg = cfg.tunnel_group(&name)?;
    let local_psk = Psk::new(tg.local_psk.as_ref()?.value.expose().as_bytes());
    let remote_psk = Psk::new(tg.remote_psk.as_ref()?.value.expose().as_bytes());
    let peer_id_validate = match tg.peer_id_validate.as_ref().map(|v| v.value) {
        None | Some(PeerIdValidateKw::Req) => PeerIdValidate::Required,
        Some(PeerIdValidateKw::Cert) => PeerIdValidate::Certificate,
        Some(PeerIdValidateKw::Nocheck) => PeerIdValidate::NoCheck,
    };
    let remote_identity = match (peer_id_validate, addr) {
        (PeerIdValidate::Required, IpAddr::V4(a)) => Some(Identity::Ipv4(a)),
        (PeerIdValidate::Required, IpAddr::V6(a)) => Some(Identity::Ipv6(a)),
        _ => None,
    };
    Some(RemotePeer { addr, tunnel_group: name, remote_identity, peer_id_validate, local_psk, remote_psk, dpd: dpd(tg) })
}

fn selector(protocol: Option<u8>, range: AddrRange, ports: PortRange) -> TrafficSelector {
    let (start_port, end_port) = if matches!(protocol, Some(6) | Some(17) | Some(132)) { (ports.start, ports.end) } else { (0, 65535) };
    TrafficSelector { protocol: protocol.unwrap_or(0), start_addr: range.start, end_addr: range.end, start_port, end_port }
}

pub(crate) fn ike(cfg: &Config) -> IkeConfig {
    let x = Expander::new(cfg);
    let ike_proposals = ike_proposals(cfg);
    let local_identity = local_identity(cfg);
    let mut peers = Vec::new();
    for e in &cfg.crypto_map_entries {
        let Some(peer_addrs) = e.peers.as_ref() else { continue };
        let Some(local_addr) = cfg.crypto_map_interface(&e.map.value).and_then(|i| interface_addr(cfg, &i.value)) else { continue };
        let remotes: Vec<RemotePeer> = peer_addrs.value.iter().filter_map(|a| remote_peer(cfg, a.value)).collect();
        if remotes.is_empty() {
            continue;
        }
        let proposals: Vec<EspProposal> = e
            .proposals
            .iter()
            .flat_map(|p| p.value.iter())
            .filter_map(|n| cfg.proposal(&n.value))
            .filter_map(esp_proposal)
            .collect();
        let pfs = e.pfs.as_ref().map(|p| {
            // NOTE: `set pfs` without a group uses group 2 on the ASA (assumed, as for IKEv1).
            DhGroup::from_transform(p.value.unwrap_or(2)).unwrap_or(DhGroup::Modp1024)
        });
        let lifetime = e
            .lifetime_seconds
            .as_ref()
            .map(|l| l.value)
            .or(cfg.sa_lifetime_seconds.as_ref().map(|l| l.value))
            .unwrap_or(DEFAULT_SA_LIFETIME_SECONDS);
        let lifetime_kilobytes = e
            .lifetime_kilobytes
            .as_ref()
            .map(|l| l.value)
            .or(cfg.sa_lifetime_kilobytes.as_ref().map(|l| l.value))
            .unwrap_or(DEFAULT_SA_LIFETIME_KILOBYTES);
        let mut children = Vec::new();
        if let Some(acl) = e.match_address.as_ref().and_then(|a| cfg.acl(&a.value)) {
            for entry in acl_entries(&x, acl) {
                if entry.action != Action::Permit || entry.inactive {
                    continue;
                }
                children.push(ChildConfig {
                    crypto_map: e.map.value.clone(),
                    sequence: e.sequence.value,
                    ace: entry.origin.text.clone(),
                    local_ts: selector(entry.protocol, entry.src, entry.src_ports),
                    remote_ts: selector(entry.protocol, entry.dst, entry.dst_ports),
                    proposals: proposals.clone(),
                    pfs,
                    lifetime: Duration::from_secs(lifetime),
                    lifetime_kilobytes,
                });
            }
        }
        peers.push(PeerConfig {
            name: format!("{} {}", e.map.value, e.sequence.value),
            local_addr: IpAddr::V4(local_addr),
            remotes,
            local_identity: local_identity.clone(),
            ike_proposals: ike_proposals.clone(),
            children,
        });
    }
    IkeConfig {
        peers,
        retransmit: RetransmitConfig::default(),
        // NOTE: assumed values; the ASA sizes its cookie threshold as a share of its SA limit.
        cookie_threshold: 64,
        fragmentation: true,
        // The ASA's default `crypto ikev2 fragmentation mtu` is 576 octets.
        fragment_mtu: 576,
        force_udp_encap: false,
    }
}

