//! The policy engine: one evaluation per new flow, in the ASA's order.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::acl::{CompiledAcl, format_entry};
use crate::crypto::{CryptoDecision, CryptoTable};
use crate::error::PolicyError;
use crate::flow::Flow;
use crate::model::{Action, PolicyConfig};
use crate::nat::{NatMatch, NatTable, TranslationKind, format_endpoint};
use crate::route::{RouteMatch, RouteTable};

/// ASA drop reason for a flow that an access list or security levels deny.
pub const DROP_ACL: &str = "(acl-drop) Flow is denied by configured rule";
/// ASA drop reason for a destination without a route.
pub const DROP_NO_ROUTE: &str = "(no-route) No route to host";
/// Drop reason for a packet from an interface that has no `nameif`. The code is the
/// ASA's classification failure; the text is rampart's.
pub const DROP_UNKNOWN_INTERFACE: &str = "(ifc-classify) Input interface is not configured";
/// ASA drop reason when no xlate can be allocated (`XlateTable` full or its port
/// space exhausted); the daemon reports it.
pub const DROP_NAT_FAILED: &str = "(nat-xlate-failed) NAT failed";

/// The NAT rule applied to a flow and the flow it produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Translation {
    /// The flow after NAT. For dynamic kinds the mapped port or address is a placeholder
    /// until `XlateTable::translate_outbound` allocates one.
    pub flow: Flow,
    /// Index into `PolicyConfig::nat_rules`.
    pub rule: usize,
    pub kind: TranslationKind,
    /// True when the packet was addressed to a static rule's mapped address and was
    /// translated back to the real address (untranslate).
    pub reverse: bool,
}

/// The crypto map entry and Child SA selector that protect a flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VpnMatch {
    pub map: String,
    pub sequence: u32,
    /// Position of the matching entry among the crypto ACL's active permit entries,
    /// counted from 0; the front end builds one `ChildConfig` per position.
    pub permit_index: usize,
    pub peers: Vec<IpAddr>,
}

/// One step of the evaluation, as packet-tracer prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Phase {
    pub id: u32,
    /// Phase type, such as `ROUTE-LOOKUP`.
    #[serde(rename = "type")]
    pub kind: String,
    pub subtype: String,
    /// `ALLOW` or `DROP`.
    pub result: String,
    /// Configuration lines that produced the result.
    pub config: Vec<String>,
    /// The phase's "Additional Information" lines.
    pub info: Vec<String>,
    /// Rampart's explanation of the match, printed by `packet-tracer ... detailed`.
    pub detail: Vec<String>,
}

/// The verdict on a flow.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub allowed: bool,
    /// ASA style `(code) text`, set when `allowed` is false.
    pub drop_reason: Option<String>,
    pub egress_interface: Option<String>,
    /// The gateway, or the destination itself when it is on a connected network.
    pub next_hop: Option<IpAddr>,
    pub translated: Option<Translation>,
    pub vpn: Option<VpnMatch>,
    /// Recorded only when `evaluate` is called with `trace`.
    pub phases: Vec<Phase>,
}

/// Phase recorder; builds phase text only when tracing.
struct Trace {
    enabled: bool,
    phases: Vec<Phase>,
}

impl Trace {
    fn push(&mut self, kind: &str, subtype: &str, allow: bool, build: impl FnOnce(&mut Phase)) {
        if !self.enabled {
            return;
        }
        let mut phase = Phase {
            // The phase count is tiny, so the cast cannot truncate.
            id: self.phases.len() as u32 + 1,
            kind: kind.to_string(),
            subtype: subtype.to_string(),
            result: if allow { "ALLOW" } else { "DROP" }.to_string(),
            config: Vec::new(),
            info: Vec::new(),
            detail: Vec::new(),
        };
        build(&mut phase);
        self.phases.push(phase);
    }
}

/// The compiled policy of one configuration.
#[derive(Clone, Debug)]
pub struct PolicyEngine {
    config: PolicyConfig,
    routes: RouteTable,
    nat: NatTable,
    crypto: CryptoTable,
    acls: HashMap<String, CompiledAcl>,
    /// Interface name -> security level.
    levels: HashMap<String, u8>,
    /// Interface name -> ACL name of its inbound and outbound `access-group`.
    access_in: HashMap<String, String>,
    access_out: HashMap<String, String>,
}

impl PolicyEngine {
    /// Compile the ACLs, NAT rules, routes and crypto maps of `config`.
    pub fn new(config: PolicyConfig) -> Result<PolicyEngine, PolicyError> {
        let levels: HashMap<String, u8> = config.interfaces.iter().map(|i| (i.name.clone(), i.security_level)).collect();
        for route in &config.routes {
            if !levels.contains_key(&route.interface) {
                return Err(PolicyError::UnknownRouteInterface {
                    interface: route.interface.clone(),
                    line: route.origin.line,
                });
            }
        }
        let acls: HashMap<String, CompiledAcl> =
            config.acls.iter().map(|a| (a.name.clone(), CompiledAcl::new(a))).collect();

        let mut access_in = HashMap::new();
        let mut access_out = HashMap::new();
        for group in &config.access_groups {
            if !acls.contains_key(&group.acl) {
                return Err(PolicyError::UnknownAccessGroupAcl { acl: group.acl.clone(), interface: group.interface.clone() });
            }
            if !levels.contains_key(&group.interface) {
                return Err(PolicyError::UnknownAccessGroupInterface {
                    acl: group.acl.clone(),
                    interface: group.interface.clone(),
                });
            }
            let table = if group.inbound { &mut access_in } else { &mut access_out };
            // A later access-group for the same interface and direction replaces the
            // earlier one, as on the ASA.
            table.insert(group.interface.clone(), group.acl.clone());
        }

        Ok(PolicyEngine {
            routes: RouteTable::new(&config),
            nat: NatTable::new(&config)?,
            crypto: CryptoTable::new(&config)?,
            acls,
            levels,
            access_in,
            access_out,
            config,
        })
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// Classify a packet that arrived on interface `ingress` (its nameif) in ASA order.
    /// The steps are un-NAT of a static destination (NAT divert), route lookup, interface
    /// ACLs and security levels, NAT (first match across sections 1, 2 and 3), then the
    /// crypto map of the egress interface on the post-NAT flow. With `trace` the phases
    /// are recorded.
    pub fn evaluate(&self, flow: &Flow, ingress: &str, trace: bool) -> Decision {
        let mut t = Trace { enabled: trace, phases: Vec::new() };
        let mut decision = self.classify(flow, ingress, false, &mut t);
        decision.phases = t.phases;
        decision
    }

    /// Classify the inner packet of decrypted traffic that arrived on `ingress`. It takes
    /// the same path as `evaluate` except the interface ACLs and security levels, which
    /// decrypted traffic bypasses (`sysopt connection permit-vpn`, the ASA default). The
    /// caller checks the packet against its SA first with `check_inbound_vpn`.
    pub fn evaluate_decrypted(&self, flow: &Flow, ingress: &str, trace: bool) -> Decision {
        let mut t = Trace { enabled: trace, phases: Vec::new() };
        let mut decision = self.classify(flow, ingress, true, &mut t);
        decision.phases = t.phases;
        decision
    }

    fn classify(&self, flow: &Flow, ingress: &str, decrypted: bool, t: &mut Trace) -> Decision {
        let Some(&ingress_level) = self.levels.get(ingress) else {
            return dropped(DROP_UNKNOWN_INTERFACE, None);
        };
        t.push("ACCESS-LIST", "", true, |p| {
            p.config.push("Implicit Rule".to_string());
            p.info.push("MAC Access list".to_string());
        });

        // Un-NAT comes first because a static rule may pick the egress interface itself.
        // A static rule can also publish a port of an interface address, so traffic for
        // the gateway's own addresses is recognised only when no rule untranslates it.
        let unnat = self.nat.untranslate(flow, ingress);
        if unnat.is_none()
            && let Some(decision) = self.to_the_box(flow, ingress, t)
        {
            return decision;
        }
        let mut real = *flow;
        if let Some(m) = &unnat {
            real.dst = m.flow.dst;
            real.dst_port = m.flow.dst_port;
            self.trace_unnat(t, flow, m);
        }

        let Some(route) = self.resolve_egress(&real, unnat.as_ref().and_then(|m| m.divert.as_deref()), t) else {
            return dropped(DROP_NO_ROUTE, None);
        };
        let egress = route.interface;
        let mut decision = Decision {
            allowed: false,
            egress_interface: Some(egress.to_string()),
            next_hop: Some(IpAddr::V4(route.next_hop)),
            ..Decision::default()
        };

        let permitted = if decrypted {
            self.bypass_access(ingress, egress, t)
        } else {
            self.check_access(&real, ingress, ingress_level, egress, t)
        };
        if !permitted {
            decision.drop_reason = Some(DROP_ACL.to_string());
            return decision;
        }

        let nat = match unnat {
            Some(m) if m.reverse => Some(m),
            Some(m) => self.nat.translate_with(m.rule, flow, ingress, egress).or_else(|| self.nat.translate(flow, ingress, egress)),
            None => self.nat.translate(flow, ingress, egress),
        };
        let post_nat = nat.as_ref().map_or(*flow, |m| m.flow);
        if let Some(m) = &nat
            && !m.reverse
        {
            self.trace_nat(t, flow, m);
        }
        decision.translated = nat.map(|m| Translation { flow: m.flow, rule: m.rule, kind: m.kind, reverse: m.reverse });

        let crypto = self.crypto.classify(&self.config, &self.acls, egress, &post_nat);
        if let Some(reason) = self.apply_crypto(&crypto, &mut decision, t) {
            decision.drop_reason = Some(reason.to_string());
            return decision;
        }

        t.push("FLOW-CREATION", "", true, |_| {});
        decision.allowed = true;
        decision
    }

    /// Traffic for one of the gateway's own addresses. The ASA accepts it only on the
    /// interface that owns the address; management access rules are not modelled.
    fn to_the_box(&self, flow: &Flow, ingress: &str, t: &mut Trace) -> Option<Decision> {
        let owner = self.config.interfaces.iter().find(|i| i.address.is_some_and(|(a, _)| IpAddr::V4(a) == flow.dst))?;
        t.push("ROUTE-LOOKUP", "Resolve Egress Interface", true, |p| {
            p.info.push(format!("found next-hop {} using egress ifc  identity", flow.dst));
        });
        let mut decision = Decision {
            egress_interface: Some("identity".to_string()),
            next_hop: Some(flow.dst),
            ..Decision::default()
        };
        if owner.name == ingress {
            decision.allowed = true;
        } else {
            t.push("ACCESS-LIST", "", false, |p| {
                p.config.push("Implicit Rule".to_string());
                p.detail.push(format!("{} belongs to interface {}; the ASA answers only on that interface", flow.dst, owner.name));
            });
            decision.drop_reason = Some(DROP_ACL.to_string());
        }
        Some(decision)
    }

    fn trace_unnat(&self, t: &mut Trace, flow: &Flow, m: &NatMatch) {
        let origin = &self.config.nat_rules[m.rule].origin;
        t.push("UN-NAT", "static", true, |p| {
            p.config.push(origin.text.clone());
            if let Some(ifc) = &m.divert {
                p.info.push(format!("NAT divert to egress interface {ifc}"));
            }
            p.info.push(format!("Untranslate {} to {}", format_endpoint(flow, false), format_endpoint(&m.flow, false)));
            p.detail.push(format!("NAT rule {} (line {}), {}", m.rule, origin.line, if m.reverse { "mapped side" } else { "destination clause" }));
        });
    }

    fn trace_nat(&self, t: &mut Trace, flow: &Flow, m: &NatMatch) {
        let rule = &self.config.nat_rules[m.rule];
        let (subtype, verb) = if m.kind.is_dynamic() { ("dynamic", "Dynamic") } else { ("static", "Static") };
        t.push("NAT", subtype, true, |p| {
            p.config.push(rule.origin.text.clone());
            p.info.push(format!("{verb} translate {} to {}", format_endpoint(flow, true), format_endpoint(&m.flow, true)));
            if let TranslationKind::DynamicNat { pool } = &m.kind
                && (pool.len() > 1 || pool.iter().any(|r| r.start != r.end))
            {
                // The gateway's nftables rule picks the pool address with the kernel's
                // jhash of the source address, which this offline trace does not compute.
                p.info.push("The mapped address shown is the pool's first; the gateway picks one by a hash of the source address".to_string());
            }
            p.detail.push(format!("NAT rule {} (line {}), section {}", m.rule, rule.origin.line, rule.section as u8));
        });
    }

    /// Route lookup, restricted to the diverted interface when a static NAT rule chose it.
    fn resolve_egress(&self, real: &Flow, divert: Option<&str>, t: &mut Trace) -> Option<RouteMatch<'_>> {
        let found = self.routes.lookup(real.dst, divert);
        t.push("ROUTE-LOOKUP", "Resolve Egress Interface", found.is_some(), |p| {
            if let Some(r) = &found {
                p.info.push(format!("found next-hop {} using egress ifc  {}", r.next_hop, r.interface));
                if let Some(origin) = &r.origin {
                    p.detail.push(format!("route line {}: {}", origin.line, origin.text.trim()));
                } else {
                    p.detail.push(format!("connected network {}/{}", r.network, r.prefix_len));
                }
            } else {
                p.info.push(format!("no route to {}", real.dst));
            }
        });
        found
    }

    /// Check decrypted traffic, which only a U-turn back out of its own interface fails,
    /// because the policy model has no `same-security-traffic permit intra-interface`.
    fn bypass_access(&self, ingress: &str, egress: &str, t: &mut Trace) -> bool {
        let allow = ingress != egress;
        t.push("ACCESS-LIST", "", allow, |p| {
            p.config.push("Implicit Rule".to_string());
            p.detail.push("decrypted VPN traffic bypasses interface access lists (sysopt connection permit-vpn)".to_string());
        });
        allow
    }

    /// Interface access lists and security levels, on real (pre-NAT) addresses.
    fn check_access(&self, real: &Flow, ingress: &str, ingress_level: u8, egress: &str, t: &mut Trace) -> bool {
        let egress_level = self.levels.get(egress).copied().unwrap_or(0);

        // NOTE: hairpinning needs `same-security-traffic permit intra-interface`, which
        // the policy model does not carry, so it is always denied.
        let blocked_same = ingress == egress || (ingress_level == egress_level && !self.config.same_security_inter_interface);
        if blocked_same {
            t.push("ACCESS-LIST", "", false, |p| {
                p.config.push("Implicit Rule".to_string());
                p.detail.push(format!(
                    "{ingress} (security-level {ingress_level}) to {egress} (security-level {egress_level}) needs same-security-traffic permit"
                ));
            });
            return false;
        }

        let inbound_ok = match self.access_in.get(ingress) {
            Some(acl) => self.check_acl(real, acl, "in", ingress, t),
            None => {
                // Equal levels reach this point only with same-security-traffic permitted.
                let allow = ingress_level >= egress_level;
                t.push("ACCESS-LIST", "", allow, |p| {
                    p.config.push("Implicit Rule".to_string());
                    p.detail.push(format!(
                        "no access-group on {ingress}; security-level {ingress_level} to {egress_level} is {}",
                        if allow { "permitted" } else { "denied" }
                    ));
                });
                allow
            }
        };
        if !inbound_ok {
            return false;
        }
        match self.access_out.get(egress) {
            Some(acl) => self.check_acl(real, acl, "out", egress, t),
            None => true,
        }
    }

    fn check_acl(&self, real: &Flow, name: &str, direction: &str, interface: &str, t: &mut Trace) -> bool {
        let Some(acl) = self.acls.get(name) else {
            // `new` checked every access-group's ACL, so this is unreachable.
            return false;
        };
        let hit = acl.lookup(real);
        let allow = hit.is_some_and(|m| m.action == Action::Permit);
        t.push("ACCESS-LIST", "log", allow, |p| {
            p.config.push(format!("access-group {name} {direction} interface {interface}"));
            match hit.and_then(|m| self.acl_entry(name, m.entry)) {
                Some(entry) => {
                    p.config.push(entry.origin.text.clone());
                    p.detail.push(format!("access-list {name} entry {}: {}", entry.ace_index, format_entry(entry)));
                }
                None => {
                    p.config.push("Implicit Rule".to_string());
                    p.detail.push(format!("no entry of access-list {name} matches; implicit deny"));
                }
            }
        });
        allow
    }

    fn acl_entry(&self, name: &str, index: usize) -> Option<&crate::model::AclEntry> {
        self.config.acls.iter().find(|a| a.name == name)?.entries.get(index)
    }

    /// Record the crypto map decision; returns a drop reason when an incomplete entry
    /// matched.
    fn apply_crypto(&self, crypto: &CryptoDecision, decision: &mut Decision, t: &mut Trace) -> Option<&'static str> {
        let map_index = crypto.map_index?;
        let map = &self.config.crypto_maps[map_index];
        let Some(m) = &crypto.matched else {
            if !crypto.denied_by.is_empty() && t.enabled {
                // The ASA prints no phase for clear-text traffic; the detail line explains
                // which crypto ACL entry kept it out of the tunnel.
                if let Some(last) = t.phases.last_mut() {
                    for &(entry_index, ace) in &crypto.denied_by {
                        let entry = &map.entries[entry_index];
                        last.detail.push(format!(
                            "crypto map {} {}: access-list {} entry {} denies, so the flow is not encrypted by this entry",
                            map.name,
                            entry.sequence,
                            entry.acl.as_deref().unwrap_or(""),
                            ace
                        ));
                    }
                }
            }
            return None;
        };

        let entry = &map.entries[m.entry_index];
        let acl_name = entry.acl.as_deref().unwrap_or("");
        let ace_text = self.acl_entry(acl_name, m.acl_match.entry).map(|e| e.origin.text.clone());
        // NOTE: the ASA drops traffic that reaches an incomplete entry. The drop reason
        // packet-tracer prints for it is not documented, so rampart reports the ACL drop.
        t.push("VPN", "encrypt", m.complete, |p| {
            p.config.push(entry.origin.text.clone());
            p.config.extend(ace_text);
            p.detail.push(format!(
                "crypto map {} {} permit entry {} of access-list {acl_name}",
                map.name,
                entry.sequence,
                m.acl_match.permit_index.unwrap_or(0)
            ));
            if !m.complete {
                p.detail.push("the crypto map entry has no peer or no IKEv2 IPsec proposal".to_string());
            }
        });
        if !m.complete {
            return Some(DROP_ACL);
        }
        decision.vpn = Some(VpnMatch {
            map: map.name.clone(),
            sequence: entry.sequence,
            permit_index: m.acl_match.permit_index.unwrap_or(0),
            peers: entry.peers.clone(),
        });
        None
    }

    /// Check decrypted inbound traffic against the crypto ACL permit entry of the SA that
    /// carried it. The entry is written from the local side, so the inbound flow matches
    /// it reversed; the ASA drops inner packets outside the SA's proxy.
    pub fn check_inbound_vpn(&self, flow: &Flow, map: &str, sequence: u32, permit_index: usize) -> bool {
        let Some(entry) = self
            .config
            .crypto_maps
            .iter()
            .filter(|m| m.name == map)
            .flat_map(|m| m.entries.iter())
            .find(|e| e.sequence == sequence)
        else {
            return false;
        };
        let Some(acl) = entry.acl.as_ref().and_then(|name| self.acls.get(name)) else {
            return false;
        };
        acl.permit_matches(permit_index, &flow.reversed())
    }
}

fn dropped(reason: &str, egress: Option<String>) -> Decision {
    Decision { allowed: false, drop_reason: Some(reason.to_string()), egress_interface: egress, ..Decision::default() }
}
