//! Proxy ARP for NAT mapped addresses, which the ASA provides on the mapped interface.
//!
//! Linux replies to an ARP request for an address that is not its own in two ways only.
//! `proxy_arp` on a device replies for every address routed through another device,
//! which would claim the whole outside segment. A proxy neighbour entry (`ip neigh add
//! proxy ADDRESS dev DEVICE`) replies for one address, but only when forwarding is on
//! and the route to the address, looked up as for a packet arriving on DEVICE, leaves
//! through another device (Linux `arp_process` in net/ipv4/arp.c). A mapped address
//! usually lies in the outside subnet, whose route leaves through the outside device,
//! so each mapped device gets a policy-routing rule (`iif DEVICE lookup
//! PROXY_ARP_TABLE`) and the table routes every mapped address into the TUN device.
//! The table has routes for the mapped addresses only, so other destinations fall
//! through to the next rule.
//!
//! Packets that NAT translates never use these routes: conntrack rewrites their
//! destination to the real host before the route lookup. A packet to a mapped address
//! that no translation claims (a pool address without an xlate, for example) is
//! dropped by the `proxy_arp_forward` chain of `table ip rampart`, as the ASA drops it.
//! Identity NAT addresses belong to real hosts behind another interface, so they keep
//! the main table's route and get the neighbour entry only.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::error::Error;
use crate::netlink::Netlink;

use super::plan::ClearPlan;

/// Routing table of the routes that make the kernel reply to ARP requests for mapped addresses
/// ("RAMQ" in ASCII, next to the tunnel table).
pub const PROXY_ARP_TABLE: u32 = 0x5241_4D51;

/// Priority of the rules that send packets from a mapped device to `PROXY_ARP_TABLE`:
/// before rampart's bypass and tunnel rules, which match inside devices only.
pub const PROXY_ARP_PRIORITY: u32 = 10_800;

/// The proxy neighbour entries, routes and rules of the installed plan. They are
/// removed by `remove`, on drop, and before a reload installs the entries of the new
/// plan.
#[derive(Default)]
pub struct ProxyArpEntries {
    netlink: Option<Netlink>,
    /// The (device, address) pairs with a proxy neighbour entry.
    installed: BTreeSet<(String, Ipv4Addr)>,
}

impl ProxyArpEntries {
    /// Replaces the installed entries with those of `plan`. Errors leave nothing of
    /// the new plan installed.
    pub fn apply(&mut self, plan: &ClearPlan) -> Result<(), Error> {
        self.remove();
        for skipped in &plan.proxy_arp_skipped {
            tracing::warn!(line = skipped.origin.line, rule = %skipped.origin.text, reason = %skipped.reason, "no proxy ARP for this NAT rule's mapped addresses");
        }
        if plan.proxy_arp.is_empty() {
            return Ok(());
        }
        if self.netlink.is_none() {
            let mut netlink = Netlink::open()?;
            // NOTE: routes that a killed process left in PROXY_ARP_TABLE stay until the
            // next route for the same address replaces them. Without the rule they
            // route nothing.
            match netlink.delete_stale_rules(PROXY_ARP_TABLE, &[PROXY_ARP_PRIORITY]) {
                Ok(0) => {}
                Ok(rules) => tracing::warn!(
                    rules,
                    table = PROXY_ARP_TABLE,
                    "deleted proxy ARP rules left behind by an earlier rampart that did not stop cleanly"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "looking for proxy ARP rules left behind by an earlier rampart failed")
                }
            }
            self.netlink = Some(netlink);
        }
        if let Err(e) = self.install(plan) {
            self.remove();
            return Err(e);
        }
        tracing::info!(
            entries = self.installed.len(),
            table = PROXY_ARP_TABLE,
            "proxy ARP entries for NAT mapped addresses added"
        );
        Ok(())
    }

    fn install(&mut self, plan: &ClearPlan) -> Result<(), Error> {
        let Some(netlink) = self.netlink.as_mut() else {
            return Ok(());
        };
        let tun_index = netlink.link_index(&plan.tun_dev)?;
        let mut devices_with_rule: Vec<&str> = Vec::new();
        let mut routed: BTreeSet<Ipv4Addr> = BTreeSet::new();
        for entry in &plan.proxy_arp {
            let index = netlink.link_index(&entry.device)?;
            if !entry.identity && !devices_with_rule.contains(&entry.device.as_str()) {
                netlink.add_rule(
                    Some(&entry.device),
                    None,
                    PROXY_ARP_TABLE,
                    PROXY_ARP_PRIORITY,
                )?;
                devices_with_rule.push(&entry.device);
            }
            for &address in &entry.addresses {
                if !self.installed.insert((entry.device.clone(), address)) {
                    continue;
                }
                netlink.add_proxy_neighbour(address, index)?;
                if !entry.identity && routed.insert(address) {
                    netlink.replace_route(address, 32, tun_index, PROXY_ARP_TABLE)?;
                }
            }
            tracing::debug!(line = entry.origin.line, device = %entry.device, addresses = entry.addresses.len(), "proxy ARP for a NAT rule");
        }
        Ok(())
    }

    /// Returns the (device, address) pairs with a proxy neighbour entry.
    pub fn installed(&self) -> &BTreeSet<(String, Ipv4Addr)> {
        &self.installed
    }

    /// Removes every entry, route and rule. Failures are logged by `Netlink`.
    pub fn remove(&mut self) {
        if let Some(netlink) = self.netlink.as_mut() {
            netlink.remove_all();
        }
        self.installed.clear();
    }
}
