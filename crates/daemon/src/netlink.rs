//! Routes, policy-routing rules and proxy neighbour entries through rtnetlink, with a record of what was added
//! so that everything is removed again on exit.

use std::io;
use std::net::Ipv4Addr;

use futures_util::TryStreamExt;
use netlink_packet_route::neighbour::{NeighbourFlags, NeighbourMessage};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use rtnetlink::{Handle, RouteMessageBuilder};

use crate::error::Error;

/// An rtnetlink connection driven by a private single-threaded runtime, so that the
/// rest of the daemon stays synchronous.
pub struct Netlink {
    runtime: tokio::runtime::Runtime,
    handle: Handle,
    /// Routes, rules and proxy neighbour entries added through this connection, in the
    /// order they were added.
    routes: Vec<RouteMessage>,
    rules: Vec<RuleMessage>,
    proxy_neighbours: Vec<NeighbourMessage>,
}

impl Netlink {
    pub fn open() -> Result<Netlink, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| Error::io("starting the netlink runtime", e))?;
        let (connection, handle, _) = {
            let _guard = runtime.enter();
            rtnetlink::new_connection().map_err(|e| Error::io("opening an rtnetlink socket", e))?
        };
        runtime.spawn(connection);
        Ok(Netlink { runtime, handle, routes: Vec::new(), rules: Vec::new(), proxy_neighbours: Vec::new() })
    }

    /// Returns the index of the link named `name`.
    pub fn link_index(&self, name: &str) -> Result<u32, Error> {
        let handle = self.handle.clone();
        let request = handle.link().get().match_name(name.to_string()).execute();
        let link = self
            .runtime
            .block_on(async move {
                futures_util::pin_mut!(request);
                request.try_next().await
            })
            .map_err(|e| Error::netlink(format!("looking up link {name}"), e))?;
        link.map(|l| l.header.index)
            .ok_or_else(|| Error::Setup(format!("link {name} not found")))
    }

    /// Adds `destination/prefix_len dev oif` to routing table `table`.
    pub fn add_route(&mut self, destination: Ipv4Addr, prefix_len: u8, oif: u32, table: u32) -> Result<(), Error> {
        let message = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(destination, prefix_len)
            .output_interface(oif)
            .table_id(table)
            .build();
        let request = self.handle.route().add(message.clone()).execute();
        self.runtime
            .block_on(request)
            .map_err(|e| Error::netlink(format!("adding route {destination}/{prefix_len} to table {table}"), e))?;
        self.routes.push(message);
        Ok(())
    }

    /// Adds or replaces `destination/prefix_len dev oif` in routing table `table`, so that
    /// a route left behind by a process that was killed does not fail the start.
    pub fn replace_route(
        &mut self,
        destination: Ipv4Addr,
        prefix_len: u8,
        oif: u32,
        table: u32,
    ) -> Result<(), Error> {
        let message = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(destination, prefix_len)
            .output_interface(oif)
            .table_id(table)
            .build();
        let request = self.handle.route().add(message.clone()).replace().execute();
        self.runtime.block_on(request).map_err(|e| {
            Error::netlink(
                format!("replacing route {destination}/{prefix_len} in table {table}"),
                e,
            )
        })?;
        self.routes.push(message);
        Ok(())
    }

    /// Adds or replaces a proxy neighbour entry (`ip neigh replace proxy ADDRESS dev
    /// DEVICE`, flag NTF_PROXY): the kernel replies to ARP requests for `address` on link
    /// `index` with the link's own MAC address.
    pub fn add_proxy_neighbour(&mut self, address: Ipv4Addr, index: u32) -> Result<(), Error> {
        let mut request = self
            .handle
            .neighbours()
            .add(index, address.into())
            .flags(NeighbourFlags::Proxy)
            .replace();
        let message = request.message_mut().clone();
        self.runtime.block_on(request.execute()).map_err(|e| {
            Error::netlink(
                format!("adding the proxy neighbour entry for {address} on link {index}"),
                e,
            )
        })?;
        self.proxy_neighbours.push(message);
        Ok(())
    }

    /// Adds `destination/prefix_len via gateway` to the main table. An existing route
    /// for the destination is kept: it is logged, not an error.
    pub fn add_route_via(&mut self, destination: Ipv4Addr, prefix_len: u8, gateway: Ipv4Addr) -> Result<(), Error> {
        let message = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(destination, prefix_len)
            .gateway(gateway)
            .build();
        let request = self.handle.route().add(message.clone()).execute();
        match self.runtime.block_on(request) {
            Ok(()) => {
                tracing::info!(route = %format!("{destination}/{prefix_len} via {gateway}"), "static route added");
                self.routes.push(message);
                Ok(())
            }
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => {
                tracing::info!(route = %format!("{destination}/{prefix_len}"), "a route for this destination exists already; kept");
                Ok(())
            }
            Err(e) => Err(Error::netlink(format!("adding route {destination}/{prefix_len} via {gateway}"), e)),
        }
    }

    /// Adds `ip rule add [iif IIF] [to DST] lookup TABLE priority PRIORITY`.
    pub fn add_rule(
        &mut self,
        iif: Option<&str>,
        destination: Option<(Ipv4Addr, u8)>,
        table: u32,
        priority: u32,
    ) -> Result<(), Error> {
        let mut request = self.handle.rule().add().table_id(table).action(RuleAction::ToTable).priority(priority);
        if let Some(iif) = iif {
            request = request.input_interface(iif);
        }
        let mut request = request.v4();
        if let Some((addr, len)) = destination {
            request = request.destination_prefix(addr, len);
        }
        let message = request.message_mut().clone();
        self.runtime
            .block_on(request.execute())
            .map_err(|e| Error::netlink(format!("adding rule iif {iif:?} to {destination:?} lookup {table}"), e))?;
        self.rules.push(message);
        Ok(())
    }

    /// Deletes the IPv4 rules that look up `table` or have one of `priorities`:
    /// leftovers of a process that was killed before it could clean up. Returns how many
    /// were deleted.
    pub fn delete_stale_rules(&mut self, table: u32, priorities: &[u32]) -> Result<usize, Error> {
        let request = self.handle.rule().get(rtnetlink::IpVersion::V4).execute();
        let rules: Vec<RuleMessage> = self
            .runtime
            .block_on(request.try_collect())
            .map_err(|e| Error::netlink("listing policy-routing rules", e))?;
        let mut deleted = 0;
        for rule in rules {
            let stale = u32::from(rule.header.table) == table
                || rule.attributes.iter().any(|a| match a {
                    RuleAttribute::Table(t) => *t == table,
                    RuleAttribute::Priority(p) => priorities.contains(p),
                    _ => false,
                });
            if !stale {
                continue;
            }
            let request = self.handle.rule().del(rule).execute();
            self.runtime
                .block_on(request)
                .map_err(|e| Error::netlink(format!("deleting a stale rule for table {table}"), e))?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Removes every route, rule and proxy neighbour entry added through this connection,
    /// newest first. Errors are logged: an entry whose device is gone was removed by the
    /// kernel already.
    pub fn remove_all(&mut self) {
        while let Some(neighbour) = self.proxy_neighbours.pop() {
            let request = self.handle.neighbours().del(neighbour).execute();
            if let Err(e) = self.runtime.block_on(request) {
                tracing::debug!(error = %e, "removing a proxy neighbour entry failed (already gone with its device?)");
            }
        }
        while let Some(rule) = self.rules.pop() {
            let request = self.handle.rule().del(rule).execute();
            if let Err(e) = self.runtime.block_on(request) {
                tracing::warn!(error = %e, "removing a policy-routing rule failed");
            }
        }
        while let Some(route) = self.routes.pop() {
            let request = self.handle.route().del(route).execute();
            if let Err(e) = self.runtime.block_on(request) {
                tracing::debug!(error = %e, "removing a route failed (already gone with its device?)");
            }
        }
    }
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.remove_all();
    }
}

/// Writes a sysctl under /proc/sys, such as `net/ipv4/conf/rampart0/rp_filter`.
pub fn write_sysctl(path: &str, value: &str) -> io::Result<()> {
    std::fs::write(format!("/proc/sys/{path}"), value)
}

/// Reads a sysctl under /proc/sys, trimmed.
pub fn read_sysctl(path: &str) -> io::Result<String> {
    Ok(std::fs::read_to_string(format!("/proc/sys/{path}"))?.trim().to_string())
}
