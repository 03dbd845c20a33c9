//! Traffic that the policy sends in the clear (a crypto ACL deny, no crypto map match,
//! or the port filter's PAT) while the TUN device received it through policy routing.
//!
//! The data plane writes such packets back into the TUN device. They re-enter the
//! kernel from the TUN device, so the policy-routing rule (which matches only the
//! inside interfaces) no longer applies: the main table forwards them, through the
//! ASA's `route` lines, and an nftables masquerade rule performs the ASA's dynamic PAT
//! to the interface address, with the kernel's connection tracking translating the
//! return traffic.
//!
//! Connection tracking saw each such packet once already, on its way from the inside
//! into the TUN device, and fixed its NAT binding (none) then. The packets coming back
//! out of the TUN device, and everything arriving on the outside interface, are
//! therefore tracked in a zone of their own, where the masquerade rule applies.

use std::io::Write;
use std::process::{Command, Stdio};

use rampart_policy::model::{NatKind, NatMapped, PolicyConfig};

use crate::error::Error;
use crate::route_plan::range_to_prefixes;
use crate::routing::device_of;

/// Connection-tracking zone of the clear path ("RA" in ASCII).
const CONNTRACK_ZONE: u16 = 0x5241;

/// The nftables table that holds the PAT rules of the gateway on TUN device `tun`.
fn table_name(tun: &str) -> String {
    format!("rampart_{}", tun.replace(|c: char| !c.is_ascii_alphanumeric(), "_"))
}

/// Builds the nftables script for the dynamic PAT rules to an interface address
/// (`nat (inside,outside) ... source dynamic ... interface`). Only packets that come
/// back out of the TUN device match, so the gateway's own IKE and ESP are never
/// translated. Returns `None` when no rule needs the kernel.
pub fn nft_script(policy: &PolicyConfig, tun: &str) -> Option<String> {
    let table = table_name(tun);
    let mut rules = Vec::new();
    let mut outside_devices = Vec::new();
    for rule in &policy.nat_rules {
        if rule.kind != NatKind::Dynamic || rule.mapped_source != NatMapped::Interface {
            continue;
        }
        let Some(mapped) = rule.mapped_interface.as_deref() else { continue };
        let Some(device) = device_of(policy, mapped) else {
            tracing::warn!(interface = mapped, "no Linux device has this interface's address; its PAT rule is not installed");
            continue;
        };
        let prefixes: Vec<String> = rule.real_source.iter().flat_map(range_to_prefixes).map(|p| p.to_string()).collect();
        if prefixes.is_empty() {
            continue;
        }
        if !outside_devices.contains(&device) {
            outside_devices.push(device.clone());
        }
        rules.push(format!(
            "        iifname \"{tun}\" oifname \"{device}\" ip saddr {{ {} }} masquerade\n",
            prefixes.join(", ")
        ));
    }
    if rules.is_empty() {
        return None;
    }
    let zones: String = std::iter::once(tun.to_string())
        .chain(outside_devices)
        .map(|device| format!("        iifname \"{device}\" ct zone set {CONNTRACK_ZONE}\n"))
        .collect();
    Some(format!(
        "table ip {table} {{\n    chain zone {{\n        type filter hook prerouting priority raw; policy accept;\n{zones}    }}\n    chain postrouting {{\n        type nat hook postrouting priority srcnat; policy accept;\n{}    }}\n}}\n",
        rules.concat()
    ))
}

/// The installed nftables table; removed on drop.
pub struct NatRules {
    table: Option<String>,
}

impl NatRules {
    pub fn new() -> NatRules {
        NatRules { table: None }
    }

    /// Replaces the PAT rules with those of `policy`.
    pub fn update(&mut self, policy: &PolicyConfig, tun: &str) -> Result<(), Error> {
        self.remove();
        let Some(script) = nft_script(policy, tun) else { return Ok(()) };
        run_nft(&script)?;
        tracing::info!(table = %table_name(tun), "PAT to the interface address installed in nftables");
        self.table = Some(table_name(tun));
        Ok(())
    }

    pub fn remove(&mut self) {
        if let Some(table) = self.table.take() {
            if let Err(e) = run_nft(&format!("delete table ip {table}\n")) {
                tracing::warn!(%table, error = %e, "removing the nftables PAT table failed");
            }
        }
    }
}

impl Default for NatRules {
    fn default() -> Self {
        NatRules::new()
    }
}

impl Drop for NatRules {
    fn drop(&mut self) {
        self.remove();
    }
}

fn run_nft(script: &str) -> Result<(), Error> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("running nft (is nftables installed?)", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).map_err(|e| Error::io("writing the nft script", e))?;
    }
    let output = child.wait_with_output().map_err(|e| Error::io("waiting for nft", e))?;
    if !output.status.success() {
        return Err(Error::Setup(format!(
            "nft failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_policy::model::{AddrRange, NatRule, NatSection, Origin};

    fn pat_rule(real: AddrRange) -> NatRule {
        NatRule {
            section: NatSection::AfterAuto,
            real_interface: Some("inside".into()),
            mapped_interface: Some("outside".into()),
            kind: NatKind::Dynamic,
            real_source: vec![real],
            mapped_source: NatMapped::Interface,
            destination: None,
            service: None,
            no_proxy_arp: false,
            route_lookup: false,
            origin: Origin { line: 1, text: String::new() },
        }
    }

    #[test]
    fn table_name_sanitizes() {
        assert_eq!(table_name("tun-0.a"), "rampart_tun_0_a");
    }

    #[test]
    fn script_empty_without_pat() {
        assert!(nft_script(&PolicyConfig::default(), "rampart0").is_none());
    }

    #[test]
    fn script_skips_unknown_interface() {
        // The mapped interface has no address in this policy, so no device matches.
        let policy = PolicyConfig { nat_rules: vec![pat_rule(AddrRange::ANY_V4)], ..PolicyConfig::default() };
        assert!(nft_script(&policy, "rampart0").is_none());
    }
}
