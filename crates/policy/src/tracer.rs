//! Text and JSON rendering of a traced decision, in the layout of the ASA's
//! `packet-tracer` command: one block per phase, then the `Result:` block.

use std::fmt::Write;

use serde::Serialize;

use crate::engine::{Decision, Phase, Translation, VpnMatch};
use crate::flow::Flow;

/// Information line added to an allowed VPN encrypt phase when no SA state is available.
/// The ASA's own text for this case is not documented, so the wording is rampart's.
pub const OFFLINE_VPN_INFO: &str = "rampart: Tunnel not established; an IKE negotiation would start";
/// Information line added to the flow-creation phase of an offline trace, which creates
/// no flow and so has no flow id to print.
pub const OFFLINE_FLOW_INFO: &str = "rampart: offline trace; a new flow would be created and the packet dispatched to the next module";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceOptions {
    /// Print each phase's rampart detail lines (`packet-tracer ... detailed`).
    pub detailed: bool,
    /// The trace runs on a configuration file with no tunnels or flows.
    pub offline: bool,
}

/// The `Result:` block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceResult {
    pub input_interface: String,
    pub input_status: String,
    pub input_line_status: String,
    pub output_interface: Option<String>,
    pub output_status: Option<String>,
    pub output_line_status: Option<String>,
    /// `allow` or `drop`.
    pub action: String,
    pub drop_reason: Option<String>,
}

/// A whole trace, as `packet-tracer --format json` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceReport {
    pub input_interface: String,
    pub flow: Flow,
    pub phases: Vec<Phase>,
    pub result: TraceResult,
    pub next_hop: Option<std::net::IpAddr>,
    pub translated: Option<Translation>,
    pub vpn: Option<VpnMatch>,
}

impl TraceReport {
    pub fn new(decision: &Decision, flow: &Flow, ingress: &str, options: TraceOptions) -> TraceReport {
        let phases = decision.phases.iter().map(|p| annotate(p, options)).collect();
        // Offline, every configured interface counts as up: no link state is available.
        let up = || Some("up".to_string());
        let output = decision.egress_interface.clone();
        let has_output = output.is_some();
        TraceReport {
            input_interface: ingress.to_string(),
            flow: *flow,
            phases,
            result: TraceResult {
                input_interface: ingress.to_string(),
                input_status: "up".to_string(),
                input_line_status: "up".to_string(),
                output_interface: output,
                output_status: if has_output { up() } else { None },
                output_line_status: if has_output { up() } else { None },
                action: if decision.allowed { "allow" } else { "drop" }.to_string(),
                drop_reason: decision.drop_reason.clone(),
            },
            next_hop: decision.next_hop,
            translated: decision.translated.clone(),
            vpn: decision.vpn.clone(),
        }
    }

    /// Render the ASA text layout.
    pub fn to_text(&self, options: TraceOptions) -> String {
        let mut out = String::new();
        for phase in &self.phases {
            write_phase(&mut out, phase, options.detailed);
        }
        let r = &self.result;
        out.push_str("Result:\n");
        // Writing to a String cannot fail.
        let _ = writeln!(out, "input-interface: {}", r.input_interface);
        let _ = writeln!(out, "input-status: {}", r.input_status);
        let _ = writeln!(out, "input-line-status: {}", r.input_line_status);
        if let (Some(ifc), Some(status), Some(line)) = (&r.output_interface, &r.output_status, &r.output_line_status) {
            let _ = writeln!(out, "output-interface: {ifc}");
            let _ = writeln!(out, "output-status: {status}");
            let _ = writeln!(out, "output-line-status: {line}");
        }
        let _ = writeln!(out, "Action: {}", r.action);
        if let Some(reason) = &r.drop_reason {
            let _ = writeln!(out, "Drop-reason: {reason}");
        }
        out
    }
}

/// Add the offline notes to the phases that need them.
fn annotate(phase: &Phase, options: TraceOptions) -> Phase {
    let mut phase = phase.clone();
    if options.offline && phase.result == "ALLOW" {
        match (phase.kind.as_str(), phase.subtype.as_str()) {
            ("VPN", "encrypt") => phase.info.push(OFFLINE_VPN_INFO.to_string()),
            ("FLOW-CREATION", _) => phase.info.push(OFFLINE_FLOW_INFO.to_string()),
            _ => {}
        }
    }
    phase
}

fn write_phase(out: &mut String, phase: &Phase, detailed: bool) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "Phase: {}", phase.id);
    let _ = writeln!(out, "Type: {}", phase.kind);
    let _ = writeln!(out, "Subtype: {}", phase.subtype);
    let _ = writeln!(out, "Result: {}", phase.result);
    out.push_str("Config:\n");
    for line in &phase.config {
        let _ = writeln!(out, "{}", line.trim());
    }
    out.push_str("Additional Information:\n");
    for line in &phase.info {
        let _ = writeln!(out, "{line}");
    }
    if detailed {
        for line in &phase.detail {
            let _ = writeln!(out, " {line}");
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::PolicyEngine;
    use crate::model::AddrRange;
    use crate::testutil::*;

    const OFFLINE: TraceOptions = TraceOptions { detailed: false, offline: true };

    fn trace(config: crate::model::PolicyConfig, flow: &Flow, ingress: &str) -> TraceReport {
        let engine = PolicyEngine::new(config).expect("valid policy");
        TraceReport::new(&engine.evaluate(flow, ingress, true), flow, ingress, OFFLINE)
    }

    const MAC_AND_ROUTE: &str = "\
Phase: 1
Type: ACCESS-LIST
Subtype: 
Result: ALLOW
Config:
Implicit Rule
Additional Information:
MAC Access list

Phase: 2
Type: ROUTE-LOOKUP
Subtype: Resolve Egress Interface
Result: ALLOW
Config:
Additional Information:
found next-hop 203.0.113.1 using egress ifc  outside

Phase: 3
Type: ACCESS-LIST
Subtype: 
Result: ALLOW
Config:
Implicit Rule
Additional Information:

";

    const RESULT_ALLOW: &str = "\
Result:
input-interface: inside
input-status: up
input-line-status: up
output-interface: outside
output-status: up
output-line-status: up
Action: allow
";

    #[test]
    fn text_tunnelled_https() {
        let flow = tcp("10.10.1.5", 40000, "198.18.5.5", 443);
        let text = trace(guide_config_port_filter(), &flow, "inside").to_text(OFFLINE);
        let expected = format!(
            "{MAC_AND_ROUTE}\
Phase: 4
Type: NAT
Subtype: static
Result: ALLOW
Config:
nat (inside,outside) source static flow_traffic flow_traffic service https https
Additional Information:
Static translate 10.10.1.5/40000 to 10.10.1.5/40000

Phase: 5
Type: VPN
Subtype: encrypt
Result: ALLOW
Config:
crypto map outside_map 65000 match address Zscaler_MAP
access-list Zscaler_MAP extended permit ip object flow_traffic any
Additional Information:
{OFFLINE_VPN_INFO}

Phase: 6
Type: FLOW-CREATION
Subtype: 
Result: ALLOW
Config:
Additional Information:
{OFFLINE_FLOW_INFO}

{RESULT_ALLOW}"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn text_pat_ssh() {
        let flow = tcp("10.10.1.5", 40000, "198.18.5.5", 22);
        let text = trace(guide_config_port_filter(), &flow, "inside").to_text(OFFLINE);
        let expected = format!(
            "{MAC_AND_ROUTE}\
Phase: 4
Type: NAT
Subtype: dynamic
Result: ALLOW
Config:
nat (inside,outside) after-auto source dynamic any interface
Additional Information:
Dynamic translate 10.10.1.5/40000 to 203.0.113.2/40000

Phase: 5
Type: FLOW-CREATION
Subtype: 
Result: ALLOW
Config:
Additional Information:
{OFFLINE_FLOW_INFO}

{RESULT_ALLOW}"
        );
        assert_eq!(text, expected);
    }

    /// Returns the port filter's configuration with PAT replaced by dynamic NAT to a pool
    /// of `pool` ranges.
    fn pool_config(pool: Vec<AddrRange>) -> crate::model::PolicyConfig {
        let mut config = guide_config_port_filter();
        if let Some(rule) = config.nat_rules.last_mut() {
            rule.mapped_source = crate::model::NatMapped::Addresses(pool);
        }
        config
    }

    fn nat_info(config: crate::model::PolicyConfig) -> String {
        let flow = tcp("10.10.1.5", 40000, "198.18.5.5", 22);
        trace(config, &flow, "inside").to_text(OFFLINE)
    }

    #[test]
    fn text_pool_notes_hash() {
        let pool = vec![AddrRange::v4_prefix("203.0.113.64".parse().expect("address"), 31)];
        assert!(nat_info(pool_config(pool)).contains("the gateway picks one by a hash of the source address"));
    }

    #[test]
    fn text_single_address_pool_no_note() {
        let pool = vec![AddrRange::host("203.0.113.64".parse().expect("address"))];
        assert!(!nat_info(pool_config(pool)).contains("picks one by a hash"));
    }

    #[test]
    fn text_no_route_drop() {
        let mut config = guide_config();
        config.routes.clear();
        let flow = tcp("10.10.1.5", 40000, "198.18.5.5", 22);
        let text = trace(config, &flow, "inside").to_text(OFFLINE);
        let expected = "\
Phase: 1
Type: ACCESS-LIST
Subtype: 
Result: ALLOW
Config:
Implicit Rule
Additional Information:
MAC Access list

Phase: 2
Type: ROUTE-LOOKUP
Subtype: Resolve Egress Interface
Result: DROP
Config:
Additional Information:
no route to 198.18.5.5

Result:
input-interface: inside
input-status: up
input-line-status: up
Action: drop
Drop-reason: (no-route) No route to host
";
        assert_eq!(text, expected);
    }

    #[test]
    fn text_acl_drop() {
        let mut config = guide_config();
        let mut deny = ace(crate::model::Action::Deny, None, AddrRange::ANY_V4, net("198.18.0.0/15"));
        deny.origin = origin(20, "access-list inside_in extended deny ip any 198.18.0.0 255.254.0.0");
        config.acls.push(crate::model::Acl { name: "inside_in".to_string(), entries: vec![deny] });
        config.access_groups.push(crate::model::AccessGroup {
            acl: "inside_in".to_string(),
            inbound: true,
            interface: "inside".to_string(),
        });
        let flow = tcp("10.10.1.5", 40000, "198.18.5.5", 22);
        let text = trace(config, &flow, "inside").to_text(TraceOptions { detailed: true, offline: true });
        let expected = "\
Phase: 3
Type: ACCESS-LIST
Subtype: log
Result: DROP
Config:
access-group inside_in in interface inside
access-list inside_in extended deny ip any 198.18.0.0 255.254.0.0
Additional Information:
 access-list inside_in entry 0: deny ip any 198.18.0.0 255.254.0.0

Result:
input-interface: inside
input-status: up
input-line-status: up
output-interface: outside
output-status: up
output-line-status: up
Action: drop
Drop-reason: (acl-drop) Flow is denied by configured rule
";
        assert!(text.ends_with(expected), "{text}");
    }

    #[test]
    fn json_shape() {
        let flow = tcp("10.10.1.5", 40000, "198.18.5.5", 443);
        let report = trace(guide_config_port_filter(), &flow, "inside");
        let value = serde_json::to_value(&report).expect("serializable");
        assert_eq!(value["input_interface"], "inside");
        assert_eq!(value["flow"]["dst_port"], 443);
        assert_eq!(value["phases"][0]["type"], "ACCESS-LIST");
        assert_eq!(value["phases"][4]["type"], "VPN");
        assert_eq!(value["phases"][4]["subtype"], "encrypt");
        assert_eq!(value["phases"][4]["result"], "ALLOW");
        assert!(value["phases"][4]["config"].is_array());
        assert!(value["phases"][4]["info"].is_array());
        assert_eq!(value["result"]["action"], "allow");
        assert_eq!(value["result"]["output_interface"], "outside");
        assert!(value["result"]["drop_reason"].is_null());
        assert_eq!(value["next_hop"], "203.0.113.1");
        assert_eq!(value["translated"]["kind"]["type"], "static-identity");
        assert_eq!(value["translated"]["rule"], 1);
        assert_eq!(value["vpn"]["map"], "outside_map");
        assert_eq!(value["vpn"]["sequence"], 65000);
        assert_eq!(value["vpn"]["permit_index"], 0);
        assert_eq!(value["vpn"]["peers"][1], BACKUP_PEER);
    }

    #[test]
    fn online_trace_has_no_offline_notes() {
        let flow = tcp("10.10.1.5", 40000, "198.18.5.5", 443);
        let engine = PolicyEngine::new(guide_config()).expect("valid policy");
        let report = TraceReport::new(&engine.evaluate(&flow, "inside", true), &flow, "inside", TraceOptions::default());
        let text = report.to_text(TraceOptions::default());
        assert!(!text.contains("rampart:"), "{text}");
    }
}
