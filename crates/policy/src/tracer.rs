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

    /// The ASA text layout.
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
