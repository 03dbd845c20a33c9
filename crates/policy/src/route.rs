//! Route lookup: connected networks from interface addresses plus `route` lines.
//!
//! The ASA picks the longest matching prefix; among routes of equal prefix the lowest
//! administrative distance wins. Connected networks have distance 0, `route` lines
//! default to 1. Equal-cost routes resolve to the first configured one, because rampart
//! does not balance flows across next hops.

use std::net::{IpAddr, Ipv4Addr};

use crate::model::{Interface, Origin, PolicyConfig, Route};

/// The egress interface and next hop that a route lookup selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    pub interface: &'a str,
    /// The gateway, or the destination itself for a connected network.
    pub next_hop: Ipv4Addr,
    pub connected: bool,
    pub network: Ipv4Addr,
    pub prefix_len: u8,
    pub distance: u8,
    /// The `route` line, `None` for a connected network.
    pub origin: Option<&'a Origin>,
}

#[derive(Clone, Debug)]
struct RouteEntry {
    network: u32,
    mask: u32,
    prefix_len: u8,
    distance: u8,
    interface: String,
    /// `None` for a connected network.
    gateway: Option<Ipv4Addr>,
    origin: Option<Origin>,
}

/// Routes sorted for lookup: longest prefix first, then lowest distance, then config order.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    entries: Vec<RouteEntry>,
}

fn prefix_mask(prefix_len: u8) -> u32 {
    if prefix_len == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix_len.min(32))) }
}

impl RouteTable {
    pub fn new(config: &PolicyConfig) -> RouteTable {
        let mut entries: Vec<RouteEntry> = config.interfaces.iter().filter_map(connected_route).collect();
        // Distance 255 marks a route the ASA never installs.
        entries.extend(config.routes.iter().filter(|r| r.distance < 255).map(static_route));
        // A stable sort keeps config order among equal routes.
        entries.sort_by(|a, b| b.prefix_len.cmp(&a.prefix_len).then(a.distance.cmp(&b.distance)));
        RouteTable { entries }
    }

    /// Find the best route to `dst`, optionally only through interface `via`.
    pub fn lookup(&self, dst: IpAddr, via: Option<&str>) -> Option<RouteMatch<'_>> {
        let IpAddr::V4(dst) = dst else {
            // NOTE: the policy model carries IPv4 interfaces and routes only.
            return None;
        };
        let key = u32::from(dst);
        let entry = self
            .entries
            .iter()
            .filter(|e| via.is_none_or(|v| v == e.interface))
            .find(|e| key & e.mask == e.network)?;
        Some(RouteMatch {
            interface: &entry.interface,
            next_hop: entry.gateway.unwrap_or(dst),
            connected: entry.gateway.is_none(),
            network: Ipv4Addr::from(entry.network),
            prefix_len: entry.prefix_len,
            distance: entry.distance,
            origin: entry.origin.as_ref(),
        })
    }
}

fn connected_route(interface: &Interface) -> Option<RouteEntry> {
    let (address, prefix_len) = interface.address?;
    let mask = prefix_mask(prefix_len);
    Some(RouteEntry {
        network: u32::from(address) & mask,
        mask,
        prefix_len,
        distance: 0,
        interface: interface.name.clone(),
        gateway: None,
        origin: None,
    })
}

fn static_route(route: &Route) -> RouteEntry {
    let mask = prefix_mask(route.prefix_len);
    RouteEntry {
        network: u32::from(route.network) & mask,
        mask,
        prefix_len: route.prefix_len,
        distance: route.distance,
        interface: route.interface.clone(),
        gateway: Some(route.gateway),
        origin: Some(route.origin.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{interface, origin};

    fn route(ifc: &str, net: [u8; 4], len: u8, gw: [u8; 4], distance: u8) -> Route {
        Route {
            interface: ifc.to_string(),
            network: Ipv4Addr::from(net),
            prefix_len: len,
            gateway: Ipv4Addr::from(gw),
            distance,
            origin: origin(1, "route"),
        }
    }

    fn table(routes: Vec<Route>) -> RouteTable {
        let config = PolicyConfig {
            interfaces: vec![
                interface("inside", 100, [10, 10, 0, 1], 16),
                interface("outside", 0, [203, 0, 113, 2], 24),
                interface("dmz", 50, [198, 51, 100, 1], 24),
            ],
            routes,
            ..PolicyConfig::default()
        };
        RouteTable::new(&config)
    }

    fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(a))
    }

    #[test]
    fn lookup_connected_network() {
        let t = table(vec![]);
        let found = t.lookup(v4([10, 10, 3, 4]), None).expect("connected route");
        assert_eq!(found.interface, "inside");
        assert!(found.connected);
        assert_eq!(found.next_hop, Ipv4Addr::new(10, 10, 3, 4));
    }

    #[test]
    fn lookup_default_route() {
        let t = table(vec![route("outside", [0, 0, 0, 0], 0, [203, 0, 113, 1], 1)]);
        let found = t.lookup(v4([8, 8, 8, 8]), None).expect("default route");
        assert_eq!(found.interface, "outside");
        assert_eq!(found.next_hop, Ipv4Addr::new(203, 0, 113, 1));
    }

    #[test]
    fn lookup_longest_prefix_wins() {
        let t = table(vec![
            route("outside", [0, 0, 0, 0], 0, [203, 0, 113, 1], 1),
            route("dmz", [198, 18, 0, 0], 15, [198, 51, 100, 9], 1),
        ]);
        let found = t.lookup(v4([198, 19, 1, 1]), None).expect("route");
        assert_eq!(found.interface, "dmz");
        assert_eq!(found.next_hop, Ipv4Addr::new(198, 51, 100, 9));
    }

    #[test]
    fn lookup_lowest_distance_wins() {
        let t = table(vec![
            route("outside", [0, 0, 0, 0], 0, [203, 0, 113, 1], 5),
            route("dmz", [0, 0, 0, 0], 0, [198, 51, 100, 9], 2),
        ]);
        let found = t.lookup(v4([8, 8, 8, 8]), None).expect("route");
        assert_eq!(found.interface, "dmz");
        assert_eq!(found.distance, 2);
    }

    #[test]
    fn lookup_equal_routes_keep_config_order() {
        let t = table(vec![
            route("outside", [0, 0, 0, 0], 0, [203, 0, 113, 1], 1),
            route("outside", [0, 0, 0, 0], 0, [203, 0, 113, 3], 1),
        ]);
        let found = t.lookup(v4([8, 8, 8, 8]), None).expect("route");
        assert_eq!(found.next_hop, Ipv4Addr::new(203, 0, 113, 1));
    }

    #[test]
    fn lookup_restricted_to_interface() {
        let t = table(vec![route("outside", [0, 0, 0, 0], 0, [203, 0, 113, 1], 1)]);
        let found = t.lookup(v4([10, 10, 1, 1]), Some("outside")).expect("route via outside");
        assert_eq!(found.interface, "outside");
        assert!(!found.connected);
    }

    #[test]
    fn lookup_skips_distance_255() {
        let t = table(vec![route("outside", [0, 0, 0, 0], 0, [203, 0, 113, 1], 255)]);
        assert_eq!(t.lookup(v4([8, 8, 8, 8]), None), None);
    }

    #[test]
    fn lookup_without_route_fails() {
        assert_eq!(table(vec![]).lookup(v4([8, 8, 8, 8]), None), None);
    }

    #[test]
    fn lookup_ipv6_fails() {
        let t = table(vec![route("outside", [0, 0, 0, 0], 0, [203, 0, 113, 1], 1)]);
        assert_eq!(t.lookup("2001:db8::1".parse().expect("literal"), None), None);
    }
}
