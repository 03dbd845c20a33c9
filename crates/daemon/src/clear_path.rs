//! The clear-text path: traffic that the policy allows but no crypto map protects.
//!
//! Such a packet has already reached the daemon through the TUN device by policy
//! routing. The daemon writes it back to the kernel unchanged, and the kernel
//! translates and forwards it: a packet written into a TUN device re-enters the kernel
//! with that device as input interface, so the inside policy-routing rule does not
//! apply and the main table routes it out of the outside interface. The device carries
//! the daemon's NAT decision:
//! - the PAT device (`<tun>p`) for flows whose NAT rule is dynamic, where an nftables
//!   `masquerade` or `snat` rule in `table ip rampart` allocates the mapped port from
//!   the ASA's PAT range 1024-65535;
//! - the main TUN device for every other flow, where static rules become `snat` and
//!   identity NAT keeps the addresses.
//!
//! Conntrack translates the replies back and the main table routes them straight to
//! the inside host. Connection tracking saw each clear packet once already, on its way
//! from the inside into the TUN device, and settled its NAT binding (none) then, so the
//! packets coming back out of the TUN devices and everything on the outside device are
//! tracked in a zone of their own (`CONNTRACK_ZONE`), where the NAT rules apply.

mod plan;
mod ruleset;

#[cfg(test)]
mod fixtures;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use rampart_policy::model::PolicyConfig;
use rampart_policy::Decision;
use tun_rs::SyncDevice;

use crate::error::Error;
use crate::netlink;
use crate::routing::device_of;
use crate::tun;

pub use plan::{
    outside_nameif, pat_device_name, ClearPlan, DestinationAction, DestinationNat, PacketMatch, ServiceMatch, SourceAction,
    SourceNat, Unsupported, CONNTRACK_ZONE, MAX_DEVICE_NAME,
};
pub use ruleset::{render, TABLE};

/// The device a clear-text packet goes back to the kernel through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClearRoute {
    /// The PAT device: the kernel applies the dynamic NAT rule.
    Pat,
    /// The main TUN device: static NAT or no translation.
    Plain,
}

/// Picks the device for an allowed decision without a crypto map match. The caller
/// drops disallowed decisions and encrypts those with a `vpn` match before asking.
pub fn route_clear(decision: &Decision) -> ClearRoute {
    match &decision.translated {
        Some(translation) if translation.kind.is_dynamic() => ClearRoute::Pat,
        _ => ClearRoute::Plain,
    }
}

/// Derives the plan for `config`; see `ClearPlan::from_policy`.
pub fn from_policy(config: &PolicyConfig, outside_dev: &str, tun_dev: &str) -> ClearPlan {
    ClearPlan::from_policy(config, outside_dev, tun_dev)
}

#[derive(Debug, thiserror::Error)]
pub enum ClearPathError {
    #[error("invalid device name {name:?}: {reason}")]
    DeviceName { name: String, reason: &'static str },
    #[error("creating the PAT device {name} failed: {source}")]
    Device {
        name: String,
        #[source]
        source: Error,
    },
    #[error("setting net.ipv4.conf.{device}.rp_filter failed: {source}")]
    RpFilter {
        device: String,
        #[source]
        source: std::io::Error,
    },
    #[error("running nft failed (is nftables installed?): {0}")]
    NftSpawn(#[source] std::io::Error),
    #[error("nft rejected `table ip {table}` ({status}): {stderr}")]
    NftRejected { table: &'static str, status: String, stderr: String },
}

/// The installed clear-text path: the PAT device and `table ip rampart`. Dropping it
/// deletes the table and closes the device; `remove` does the same and reports errors.
pub struct ClearPath {
    plan: ClearPlan,
    pat: Arc<SyncDevice>,
    installed: bool,
}

impl ClearPath {
    /// Creates the PAT device, loosens reverse-path filtering on both TUN devices and
    /// loads the nftables table, replacing an older `table ip rampart`. The main TUN
    /// device must exist already. Unsupported NAT rules are logged, not fatal.
    pub fn install(plan: &ClearPlan) -> Result<ClearPath, ClearPathError> {
        for name in [&plan.tun_dev, &plan.pat_dev, &plan.outside_dev] {
            check_device_name(name)?;
        }
        let mut devices = tun::create(&plan.pat_dev, plan.mtu, plan.offload, 1)
            .map_err(|source| ClearPathError::Device { name: plan.pat_dev.clone(), source })?;
        let pat = devices.pop().ok_or_else(|| ClearPathError::Device {
            name: plan.pat_dev.clone(),
            source: Error::Setup("the TUN device has no queue".into()),
        })?;
        tracing::info!(device = %plan.pat_dev, mtu = plan.mtu, offload = plan.offload, "PAT device created");

        load_table(plan)?;
        Ok(ClearPath { plan: plan.clone(), pat: Arc::new(pat), installed: true })
    }

    /// The PAT device, to write the packets of `ClearRoute::Pat` flows into.
    pub fn pat_device(&self) -> &Arc<SyncDevice> {
        &self.pat
    }

    pub fn plan(&self) -> &ClearPlan {
        &self.plan
    }

    /// Deletes the nftables table and closes the PAT device. The kernel removes the
    /// device when its last handle closes, so workers must drop their clones first.
    pub fn remove(mut self) -> Result<(), ClearPathError> {
        self.installed = false;
        delete_table()
    }
}

impl Drop for ClearPath {
    fn drop(&mut self) {
        if self.installed
            && let Err(e) = delete_table()
        {
            tracing::warn!(table = TABLE, error = %e, "deleting the clear-text NAT table failed");
        }
    }
}

/// The clear-text NAT rules for a data plane that writes every clear packet into the
/// main TUN device. Without the PAT device, the rules of all NAT kinds match packets
/// from the main TUN device, in the ASA's order. Removed on drop.
pub struct NatRules {
    installed: bool,
}

impl NatRules {
    pub fn new() -> NatRules {
        NatRules { installed: false }
    }

    /// Replaces the rules with those of `policy`. Nothing is installed when the outside
    /// interface has no Linux device or no NAT rule applies toward it.
    pub fn update(&mut self, policy: &PolicyConfig, tun: &str) -> Result<(), Error> {
        self.remove();
        let Some(outside) = outside_nameif(policy) else { return Ok(()) };
        let Some(outside_dev) = device_of(policy, &outside) else {
            tracing::warn!(interface = %outside, "no Linux device has this interface's address; NAT rules for clear traffic are not installed");
            return Ok(());
        };
        let mut plan = ClearPlan::from_policy(policy, &outside_dev, tun);
        plan.pat_dev = plan.tun_dev.clone();
        if plan.source_nat.is_empty() && plan.destination_nat.is_empty() {
            return Ok(());
        }
        for name in [&plan.tun_dev, &plan.outside_dev] {
            check_device_name(name).map_err(|e| Error::Setup(e.to_string()))?;
        }
        load_table(&plan).map_err(|e| Error::Setup(e.to_string()))?;
        self.installed = true;
        Ok(())
    }

    pub fn remove(&mut self) {
        if !std::mem::take(&mut self.installed) {
            return;
        }
        if let Err(e) = delete_table() {
            tracing::warn!(table = TABLE, error = %e, "deleting the clear-text NAT table failed");
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

/// Loosens reverse-path filtering on the plan's TUN devices and loads its table.
fn load_table(plan: &ClearPlan) -> Result<(), ClearPathError> {
    for unsupported in &plan.unsupported {
        tracing::warn!(
            line = unsupported.origin.line,
            rule = %unsupported.origin.text,
            reason = %unsupported.reason,
            "NAT rule not applied to clear traffic"
        );
    }
    loosen_rp_filter(&plan.tun_dev)?;
    if plan.pat_dev != plan.tun_dev {
        loosen_rp_filter(&plan.pat_dev)?;
    }
    run_nft(&render(plan))?;
    tracing::info!(
        table = TABLE,
        outside = %plan.outside_dev,
        source_nat = plan.source_nat.len(),
        destination_nat = plan.destination_nat.len(),
        zone = plan.zone,
        "NAT rules for clear traffic loaded"
    );
    Ok(())
}

/// Accepts names the kernel takes and nft needs no escaping for.
fn check_device_name(name: &str) -> Result<(), ClearPathError> {
    let reason = if name.is_empty() {
        Some("the name is empty")
    } else if name.len() > MAX_DEVICE_NAME {
        Some("Linux interface names have at most 15 bytes")
    } else if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
        Some("use only letters, digits, '.', '-' and '_'")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ClearPathError::DeviceName { name: name.to_string(), reason }),
        None => Ok(()),
    }
}

/// Sets loose reverse-path filtering on `device` when the effective mode is strict.
///
/// Packets written into a TUN device carry inside sources, whose route leads out of
/// the inside interface, so strict mode would drop them. The kernel applies the larger
/// of `conf/all/rp_filter` and the device's value, so loose mode (2) overrides a strict
/// `all` where off (0) would not.
fn loosen_rp_filter(device: &str) -> Result<(), ClearPathError> {
    let read = |scope: &str| netlink::read_sysctl(&format!("net/ipv4/conf/{scope}/rp_filter")).ok().and_then(|v| v.parse::<u8>().ok());
    let effective = read("all").unwrap_or(0).max(read(device).unwrap_or(0));
    if effective != 1 {
        return Ok(());
    }
    netlink::write_sysctl(&format!("net/ipv4/conf/{device}/rp_filter"), "2")
        .map_err(|source| ClearPathError::RpFilter { device: device.to_string(), source })?;
    tracing::info!(device, "rp_filter set to loose");
    Ok(())
}

/// Runs `nft -f -` with `script` on standard input.
fn run_nft(script: &str) -> Result<(), ClearPathError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(ClearPathError::NftSpawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A failed write leaves nft with a truncated script, which it rejects below.
        let _ = stdin.write_all(script.as_bytes());
    }
    let output = child.wait_with_output().map_err(ClearPathError::NftSpawn)?;
    if output.status.success() {
        return Ok(());
    }
    Err(ClearPathError::NftRejected {
        table: TABLE,
        status: output.status.to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}

/// Deletes the table; the first line creates it when missing, so the delete succeeds.
fn delete_table() -> Result<(), ClearPathError> {
    run_nft(&format!("table ip {TABLE}\ndelete table ip {TABLE}\n"))
}

#[cfg(test)]
mod tests {
    use rampart_policy::nat::TranslationKind;
    use rampart_policy::{Flow, Translation};

    use super::*;

    fn decision(kind: Option<TranslationKind>) -> Decision {
        let flow = Flow { protocol: 17, src: "10.10.1.5".parse().unwrap(), dst: "203.0.113.9".parse().unwrap(), src_port: 5000, dst_port: 53 };
        Decision {
            allowed: true,
            translated: kind.map(|kind| Translation { flow, rule: 0, kind, reverse: false }),
            ..Decision::default()
        }
    }

    #[test]
    fn route_dynamic_pat() {
        let kind = TranslationKind::DynamicPat { address: "203.0.113.2".parse().unwrap() };
        assert_eq!(route_clear(&decision(Some(kind))), ClearRoute::Pat);
    }

    #[test]
    fn route_dynamic_pool() {
        let kind = TranslationKind::DynamicNat { pool: Vec::new() };
        assert_eq!(route_clear(&decision(Some(kind))), ClearRoute::Pat);
    }

    #[test]
    fn route_identity_plain() {
        assert_eq!(route_clear(&decision(Some(TranslationKind::StaticIdentity))), ClearRoute::Plain);
    }

    #[test]
    fn route_static_plain() {
        assert_eq!(route_clear(&decision(Some(TranslationKind::Static))), ClearRoute::Plain);
    }

    #[test]
    fn route_untranslated_plain() {
        assert_eq!(route_clear(&decision(None)), ClearRoute::Plain);
    }

    #[test]
    fn device_name_too_long() {
        assert!(check_device_name("abcdefghijklmnop").is_err());
    }

    #[test]
    fn device_name_rejects_quote() {
        assert!(check_device_name("eth\"0").is_err());
    }

    #[test]
    fn device_name_accepts_vlan() {
        assert!(check_device_name("eth0.100").is_ok());
    }
}
