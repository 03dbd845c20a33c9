//! Installs the route plan by policy routing: a table of its own routes the protected
//! destinations to the TUN device, and rules send only traffic that arrives on an
//! inside interface to that table. Routes in the main table stay as they are, so a
//! clear route to a protected subnet can neither block the start nor win over the
//! tunnel, and the gateway's own IKE and ESP packets never enter it.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rampart_policy::model::{NatRule, PolicyConfig, Route};

use crate::clear_path::{NatPools, NatRules};
use crate::error::Error;
use crate::netlink::{self, Netlink};
use crate::route_plan::RoutePlan;

/// Routing table that contains the routes to the TUN device ("RAMP" in ASCII, far from
/// the small numbers that administrators pick by hand).
pub const TUNNEL_TABLE: u32 = 0x5241_4D50;

/// Rule priorities: below the main table's 32766, bypass rules before the tunnel rule.
/// Rules with these priorities belong to rampart, so a start deletes leftovers.
const BYPASS_PRIORITY: u32 = 10_900;
const TUNNEL_PRIORITY: u32 = 11_000;

const RT_TABLE_MAIN: u32 = 254;

pub struct Routing {
    netlink: Netlink,
    tun_name: String,
    tun_index: u32,
    plan: Option<RoutePlan>,
    /// The static routes and NAT rules the installed plan was built with.
    inputs: Option<(Vec<Route>, Vec<NatRule>)>,
    nat: NatRules,
}

impl Routing {
    pub fn new(tun_name: &str) -> Result<Routing, Error> {
        let mut netlink = Netlink::open()?;
        let tun_index = netlink.link_index(tun_name)?;
        match netlink.delete_stale_rules(TUNNEL_TABLE, &[BYPASS_PRIORITY, TUNNEL_PRIORITY]) {
            Ok(0) => {}
            Ok(n) => tracing::warn!(rules = n, table = TUNNEL_TABLE, "deleted rules left behind by an earlier rampart that did not stop cleanly"),
            Err(e) => tracing::warn!(error = %e, "looking for rules left behind by an earlier rampart failed"),
        }
        // Decrypted packets enter through the TUN device; with policy routing their
        // source has no route back through it in the main table, so strict reverse-path
        // filtering would drop them.
        if let Err(e) = netlink::write_sysctl(&format!("net/ipv4/conf/{tun_name}/rp_filter"), "0") {
            tracing::warn!(device = tun_name, error = %e, "disabling rp_filter on the TUN device failed");
        }
        match netlink::read_sysctl("net/ipv4/ip_forward") {
            Ok(v) if v == "1" => {}
            Ok(_) => tracing::warn!("net.ipv4.ip_forward is 0: the kernel will not forward between the inside and the TUN device"),
            Err(e) => tracing::warn!(error = %e, "reading net.ipv4.ip_forward failed"),
        }
        Ok(Routing { netlink, tun_name: tun_name.to_string(), tun_index, plan: None, inputs: None, nat: NatRules::new() })
    }

    /// Installs the plan for `policy`, replacing the previous one when it differs.
    pub fn update(&mut self, policy: &PolicyConfig) -> Result<(), Error> {
        let plan = RoutePlan::from_config(policy);
        // Static routes and NAT rules feed the clear path, so they count as part of the plan.
        let inputs = (policy.routes.clone(), policy.nat_rules.clone());
        if self.plan.as_ref() == Some(&plan) && self.inputs.as_ref() == Some(&inputs) {
            return Ok(());
        }
        self.inputs = Some(inputs);
        self.netlink.remove_all();
        self.nat.remove();
        self.plan = None;
        for prefix in &plan.tunnel_routes {
            self.netlink.add_route(prefix.addr, prefix.len, self.tun_index, TUNNEL_TABLE)?;
            tracing::info!(route = %prefix, device = %self.tun_name, table = TUNNEL_TABLE, "route to the tunnel added");
        }
        if plan.default_via_policy {
            self.netlink.add_route(Ipv4Addr::UNSPECIFIED, 0, self.tun_index, TUNNEL_TABLE)?;
            tracing::info!(device = %self.tun_name, table = TUNNEL_TABLE, "default route to the tunnel added");
        }
        if plan.default_via_policy || !plan.tunnel_routes.is_empty() {
            self.install_policy_routing(policy, &plan)?;
        }
        self.nat.update(policy, &self.tun_name)?;
        self.plan = Some(plan);
        Ok(())
    }

    /// Sends traffic from the inside interfaces to the tunnel table, except for the
    /// bypass destinations, and installs the ASA's static routes for the clear path.
    /// Destinations the tunnel table has no route for fall through to the main table.
    fn install_policy_routing(&mut self, policy: &PolicyConfig, plan: &RoutePlan) -> Result<(), Error> {
        // Clear traffic written back into the TUN device leaves through the main table,
        // so it needs the ASA's static routes.
        for route in &policy.routes {
            self.netlink.add_route_via(route.network, route.prefix_len, route.gateway)?;
        }

        for nameif in &plan.inside {
            let Some(device) = device_of(policy, nameif) else {
                tracing::warn!(interface = %nameif, "no Linux device has this interface's address; its traffic is not routed to the tunnel");
                continue;
            };
            for bypass in &plan.bypass {
                self.netlink.add_rule(Some(&device), Some((bypass.addr, bypass.len)), RT_TABLE_MAIN, BYPASS_PRIORITY)?;
                tracing::info!(device = %device, destination = %bypass, "bypass rule added: this destination keeps the main table");
            }
            self.netlink.add_rule(Some(&device), None, TUNNEL_TABLE, TUNNEL_PRIORITY)?;
            tracing::info!(device = %device, table = TUNNEL_TABLE, "policy routing from the inside to the tunnel added");
        }
        Ok(())
    }

    /// Returns the dynamic NAT pools of the clear-text NAT rules, which reloads keep.
    pub fn nat_pools(&self) -> Arc<NatPools> {
        self.nat.pools()
    }

    /// Removes every route and rule this process added.
    pub fn remove_all(&mut self) {
        self.nat.remove();
        self.netlink.remove_all();
        self.plan = None;
        self.inputs = None;
    }
}

/// The Linux device that has the address of ASA interface `nameif`.
pub fn device_of(policy: &PolicyConfig, nameif: &str) -> Option<String> {
    let (addr, _) = policy.interfaces.iter().find(|i| i.name == nameif)?.address?;
    device_with_address(IpAddr::V4(addr))
}

fn device_with_address(addr: IpAddr) -> Option<String> {
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    for ifaddr in addrs {
        let Some(sin) = ifaddr.address.as_ref().and_then(|a| a.as_sockaddr_in()) else { continue };
        if IpAddr::V4(sin.ip()) == addr {
            return Some(ifaddr.interface_name);
        }
    }
    None
}
