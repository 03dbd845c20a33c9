//! The clear-text path: traffic that the policy allows but no crypto map protects.
//!
//! Such a packet has already reached the daemon through the TUN device by policy
//! routing. The daemon writes it back to the kernel unchanged, and the kernel
//! translates and forwards it. A packet written into a TUN device re-enters the kernel
//! with that device as input interface, so the inside policy-routing rule does not
//! apply and the main table routes it out of the outside interface, or of another
//! interface a NAT rule maps to. The device carries the daemon's NAT decision:
//! - the PAT device (`<tun>p`) for flows whose NAT rule is dynamic, where an nftables
//!   `masquerade` or `snat` rule in `table ip rampart` allocates the mapped port from
//!   the ASA's PAT range 1024-65535;
//! - the main TUN device for every other flow, where static rules become `snat` and
//!   identity NAT keeps the addresses.
//!
//! Within each device the kernel rules repeat the engine's order, so the first rule
//! that matches the packet as it leaves the TUN device is the one the engine chose. It
//! applies the rule's destination rewrite (twice NAT, destination-port services) before
//! the route lookup and stores its choice in the conntrack mark, which selects the
//! source translation in postrouting.
//!
//! Conntrack translates the replies back and the main table routes them straight to
//! the inside host. Connection tracking saw each clear packet once already, on its way
//! from the inside into the TUN device, and settled its NAT binding (none) then, so the
//! packets coming back out of the TUN devices and everything on the mapped devices are
//! tracked in a zone of their own (`CONNTRACK_ZONE`), where the NAT rules apply.

mod plan;
mod pool;
mod proxy_arp;
mod ruleset;

#[cfg(test)]
mod fixtures;

use std::io::Write;
use std::net::Ipv4Addr;
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
    outside_nameif, pat_device_name, pool_map_name, unsupported_rules, ClearPlan, DestinationAction, DestinationNat, PacketMatch, ProxyArp, ServiceMatch,
    SourceAction, SourceNat, Unsupported, CONNTRACK_ZONE, MAX_DEVICE_NAME, MAX_PROXY_ARP_ADDRESSES,
};
pub use pool::{Admission, NatPools};
pub use proxy_arp::{ProxyArpEntries, PROXY_ARP_PRIORITY, PROXY_ARP_TABLE};
pub use ruleset::{render, TABLE};

/// Address that `ClearPath::install` gives a TUN device without IPv4 addresses when
/// reverse-path filtering is on: a host-scoped /32, link-local so that no ASA interface
/// has it and a device lookup by interface address never finds the TUN device.
pub const RP_FILTER_ANCHOR: Ipv4Addr = Ipv4Addr::new(169, 254, 82, 65);

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
    #[error("adding an address to {device} failed: {message}")]
    Address { device: String, message: String },
    #[error("running nft failed (is nftables installed?): {0}")]
    NftSpawn(#[source] std::io::Error),
    #[error("nft rejected `table ip {table}` ({status}): {stderr}")]
    NftRejected { table: &'static str, status: String, stderr: String },
    #[error("installing proxy ARP for NAT mapped addresses failed: {0}")]
    ProxyArp(#[source] Error),
}

/// The installed clear-text path: the PAT device and `table ip rampart`. Dropping it
/// deletes the table and closes the device; `remove` does the same and reports errors.
pub struct ClearPath {
    plan: ClearPlan,
    pat: Arc<SyncDevice>,
    /// Device settings changed for reverse-path filtering, undone on removal.
    changes: Vec<DeviceChange>,
    proxy_arp: ProxyArpEntries,
    pools: Arc<NatPools>,
    installed: bool,
}

impl ClearPath {
    /// Creates the PAT device, prepares reverse-path filtering on the TUN devices and the
    /// outside device, and loads the nftables table, replacing an older `table ip
    /// rampart`. The main TUN device must exist already. Unsupported NAT rules are
    /// logged, not fatal.
    pub fn install(plan: &ClearPlan) -> Result<ClearPath, ClearPathError> {
        for name in [&plan.tun_dev, &plan.pat_dev, &plan.outside_dev] {
            check_device_name(name)?;
        }
        if plan.pat_dev == plan.tun_dev || plan.pat_dev == plan.outside_dev {
            return Err(ClearPathError::DeviceName { name: plan.pat_dev.clone(), reason: "the PAT device needs a name of its own" });
        }
        let mut devices = tun::create(&plan.pat_dev, plan.mtu, plan.offload, 1)
            .map_err(|source| ClearPathError::Device { name: plan.pat_dev.clone(), source })?;
        let pat = devices.pop().ok_or_else(|| ClearPathError::Device {
            name: plan.pat_dev.clone(),
            source: Error::Setup("the TUN device has no queue".into()),
        })?;
        tracing::info!(device = %plan.pat_dev, mtu = plan.mtu, offload = plan.offload, "PAT device created");

        let pools = Arc::new(NatPools::default());
        let changes = load_table(plan, &pools)?;
        let mut path = ClearPath { plan: plan.clone(), pat: Arc::new(pat), changes, proxy_arp: ProxyArpEntries::default(), pools, installed: true };
        path.proxy_arp.apply(plan).map_err(ClearPathError::ProxyArp)?;
        Ok(path)
    }

    /// Replaces the NAT rules with those of `plan`, for a configuration reload. The PAT
    /// device stays, so `plan` must name the same devices. Reverse-path settings are
    /// kept: changing them back and forth would open a window that drops packets.
    pub fn update(&mut self, plan: &ClearPlan) -> Result<(), ClearPathError> {
        let same_devices = plan.pat_dev == self.plan.pat_dev && plan.tun_dev == self.plan.tun_dev;
        if !same_devices {
            return Err(ClearPathError::DeviceName {
                name: plan.pat_dev.clone(),
                reason: "a reload cannot rename the TUN or PAT device; restart rampart",
            });
        }
        check_device_name(&plan.outside_dev)?;
        let changes = load_table(plan, &self.pools)?;
        self.changes.extend(changes);
        self.plan = plan.clone();
        self.proxy_arp.apply(plan).map_err(ClearPathError::ProxyArp)
    }

    /// Returns the installed proxy ARP entries.
    pub fn proxy_arp(&self) -> &ProxyArpEntries {
        &self.proxy_arp
    }

    /// Returns the allocator of the dynamic NAT pools, which the writers of the PAT
    /// device ask before they write a packet of a pool rule.
    pub fn pools(&self) -> &Arc<NatPools> {
        &self.pools
    }

    /// Returns the PAT device, which takes the packets of `ClearRoute::Pat` flows.
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
        self.proxy_arp.remove();
        undo(&mut self.changes);
        delete_table()
    }
}

impl Drop for ClearPath {
    fn drop(&mut self) {
        self.proxy_arp.remove();
        undo(&mut self.changes);
        if self.installed
            && let Err(e) = delete_table()
        {
            tracing::warn!(table = TABLE, error = %e, "deleting the clear-text NAT table failed");
        }
    }
}

/// The clear-text NAT rules for a data plane that writes every clear packet into the
/// main TUN device. Without the PAT device, the rules of all NAT kinds match packets
/// from the main TUN device, in the ASA's order. Removed on drop. It loads the same
/// `table ip rampart` as `ClearPath`, so a process uses one or the other.
pub struct NatRules {
    installed: bool,
    changes: Vec<DeviceChange>,
    proxy_arp: ProxyArpEntries,
    /// Kept across `remove` and `update`, so that a reload keeps the allocations of
    /// unchanged pools.
    pools: Arc<NatPools>,
}

impl NatRules {
    pub fn new() -> NatRules {
        NatRules { installed: false, changes: Vec::new(), proxy_arp: ProxyArpEntries::default(), pools: Arc::new(NatPools::default()) }
    }

    /// Returns the allocator of the dynamic NAT pools, for the outbound workers.
    pub fn pools(&self) -> Arc<NatPools> {
        Arc::clone(&self.pools)
    }

    /// Replaces the rules with those of `policy`. Nothing is installed when the outside
    /// interface has no Linux device. Without NAT rules the table still sets the
    /// conntrack zone, and the devices still get the reverse-path settings that
    /// decrypted packets written into the TUN device need as well.
    pub fn update(&mut self, policy: &PolicyConfig, tun: &str) -> Result<(), Error> {
        self.remove();
        let Some(outside) = outside_nameif(policy) else {
            self.pools.clear();
            return Ok(());
        };
        let Some(outside_dev) = device_of(policy, &outside) else {
            tracing::warn!(interface = %outside, "no Linux device has this interface's address; NAT rules for clear traffic are not installed");
            self.pools.clear();
            return Ok(());
        };
        let mut plan = ClearPlan::from_policy(policy, &outside_dev, tun);
        plan.pat_dev = plan.tun_dev.clone();
        for name in [&plan.tun_dev, &plan.outside_dev] {
            check_device_name(name).map_err(|e| Error::Setup(e.to_string()))?;
        }
        self.changes = load_table(&plan, &self.pools).map_err(|e| Error::Setup(e.to_string()))?;
        self.installed = true;
        self.proxy_arp.apply(&plan)
    }

    /// Returns the installed proxy ARP entries.
    pub fn proxy_arp(&self) -> &ProxyArpEntries {
        &self.proxy_arp
    }

    pub fn remove(&mut self) {
        self.proxy_arp.remove();
        undo(&mut self.changes);
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

/// Prepares reverse-path filtering on the plan's devices and loads its table, with the
/// allocations that `pools` keeps. Returns the device changes to undo on removal.
fn load_table(plan: &ClearPlan, pools: &NatPools) -> Result<Vec<DeviceChange>, ClearPathError> {
    // The names go into the nft script in quotes.
    for device in plan.mapped_devices() {
        check_device_name(device)?;
    }
    for unsupported in &plan.unsupported {
        tracing::warn!(
            line = unsupported.origin.line,
            rule = %unsupported.origin.text,
            reason = %unsupported.reason,
            "NAT rule not applied to clear traffic"
        );
    }
    let mut changes = Vec::new();
    // Replies for inside hosts arrive on every mapped device, the outside one first.
    let mut devices: Vec<&str> = plan.mapped_devices();
    devices.insert(0, &plan.tun_dev);
    if plan.pat_dev != plan.tun_dev {
        devices.push(&plan.pat_dev);
    }
    for device in devices {
        if let Err(e) = prepare_rp_filter(device, &mut changes) {
            undo(&mut changes);
            return Err(e);
        }
    }
    if let Err(e) = pools.reload(plan, |elements| run_nft(&(render(plan) + elements))) {
        undo(&mut changes);
        return Err(e);
    }
    tracing::info!(
        table = TABLE,
        outside = %plan.outside_dev,
        source_nat = plan.source_nat.len(),
        destination_nat = plan.destination_nat.len(),
        zone = plan.zone,
        "NAT rules for clear traffic loaded"
    );
    Ok(changes)
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

/// A device setting that `prepare_rp_filter` changed.
#[derive(Debug)]
enum DeviceChange {
    RpFilter { device: String, previous: String },
}

/// Makes reverse-path filtering accept the clear path's packets on `device`.
///
/// Packets written into a TUN device carry sources whose route leads out of another
/// device (inside hosts, or remote hosts for decrypted traffic), so strict mode drops
/// them. Replies arriving on the outside device for an inside host fail strict mode
/// too: the kernel checks their source with the inside device as input interface, so
/// the policy-routing rule of that device sends the check to the TUN device. The
/// kernel applies the larger of `conf/all/rp_filter` and the device's value, so a
/// strict device is set to loose mode (2), which a strict `all` cannot override. Loose
/// mode still drops every packet on a device without an IPv4 address (Linux
/// `__fib_validate_source`, observed on Linux 6.18), so such a device gets
/// `RP_FILTER_ANCHOR`. The address stays until the device is deleted, because removing
/// the last address of a device makes the kernel flush every route through it, the
/// daemon's routes to the TUN device included.
fn prepare_rp_filter(device: &str, changes: &mut Vec<DeviceChange>) -> Result<(), ClearPathError> {
    let path = format!("net/ipv4/conf/{device}/rp_filter");
    let previous = netlink::read_sysctl(&path).unwrap_or_default();
    let all = netlink::read_sysctl("net/ipv4/conf/all/rp_filter").ok().and_then(|v| v.parse::<u8>().ok());
    let effective = all.unwrap_or(0).max(previous.parse::<u8>().unwrap_or(0));
    if effective == 0 {
        return Ok(());
    }
    if effective == 1 {
        netlink::write_sysctl(&path, "2").map_err(|source| ClearPathError::RpFilter { device: device.to_string(), source })?;
        changes.push(DeviceChange::RpFilter { device: device.to_string(), previous });
        tracing::info!(device, "rp_filter set to loose");
    }
    if has_ipv4_address(device) {
        return Ok(());
    }
    let address = RP_FILTER_ANCHOR;
    let prefix = format!("{address}/32");
    run_ip(&["-4", "addr", "add", &prefix, "dev", device, "scope", "host"])
        .map_err(|message| ClearPathError::Address { device: device.to_string(), message })?;
    tracing::info!(device, address = %prefix, "address added so that loose rp_filter accepts packets written into the device");
    Ok(())
}

fn has_ipv4_address(device: &str) -> bool {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else { return false };
    addresses
        .filter(|a| a.interface_name == device)
        .any(|a| a.address.as_ref().and_then(|s| s.as_sockaddr_in()).is_some())
}

/// Runs `ip` with a fixed argument list.
fn run_ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip").args(args).output().map_err(|e| format!("running ip failed: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!("ip {} failed ({}): {}", args.join(" "), output.status, String::from_utf8_lossy(&output.stderr).trim()))
}

/// Undoes device changes, newest first. A device that is gone needs no undo, so
/// failures are logged only.
fn undo(changes: &mut Vec<DeviceChange>) {
    while let Some(change) = changes.pop() {
        let DeviceChange::RpFilter { device, previous } = &change;
        if let Err(error) = netlink::write_sysctl(&format!("net/ipv4/conf/{device}/rp_filter"), previous) {
            tracing::debug!(?change, %error, "undoing a device change failed");
        }
    }
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
        // A write fails only when nft exited early, and its exit status reports why.
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
    fn install_rejects_shared_pat_name() {
        let mut plan = from_policy(&PolicyConfig::default(), "eth1", "rampart0");
        plan.pat_dev = plan.tun_dev.clone();
        assert!(matches!(ClearPath::install(&plan), Err(ClearPathError::DeviceName { .. })));
    }

    #[test]
    fn device_name_accepts_vlan() {
        assert!(check_device_name("eth0.100").is_ok());
    }
}
