//! Address allocation for dynamic NAT pools, as the ASA keeps one xlate per inside host.
//!
//! The kernel cannot give each inside host an address of its own: `snat to A-B
//! persistent` picks the address by a hash of the source, so two hosts can share one
//! and conntrack then translates their ports as PAT would. The daemon therefore
//! allocates. The first packet of an inside host that a dynamic NAT rule with a pool
//! translates takes the first free pool address. The daemon adds `host : address` to the
//! rule's nftables map (`snat to ip saddr map @pool_N`) before it writes the packet back
//! into the TUN device. The host keeps the address while it sends traffic. After
//! `timeout xlate` (3 hours on the ASA) without a packet, its address may go to
//! another host. When every address is taken by an active host, the packets of a new
//! host are dropped and counted, as the ASA drops them when the pool is exhausted,
//! unless the rule has a PAT fallback (`dynamic POOL interface`), which the kernel
//! applies to hosts without an address.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rampart_policy::model::Origin;
use rampart_policy::XlateTimeouts;

use super::plan::{ClearPlan, SourceAction};
use super::ruleset::TABLE;

/// The pool address of a host and when the host last sent a packet.
#[derive(Clone, Copy, Debug)]
struct Lease {
    address: Ipv4Addr,
    last_used: Instant,
}

/// One dynamic NAT rule with a pool and its allocations.
#[derive(Debug)]
struct Pool {
    /// Name of the rule's nftables map.
    map: String,
    origin: Origin,
    addresses: Vec<Ipv4Addr>,
    /// The kernel applies PAT to hosts without an address, so they are not rejected.
    pat_fallback: bool,
    leases: HashMap<Ipv4Addr, Lease>,
    /// The host of each allocated address.
    holders: HashMap<Ipv4Addr, Ipv4Addr>,
}

#[derive(Debug, Default)]
struct PoolState {
    /// Pools by the index of their rule in `PolicyConfig::nat_rules`.
    pools: HashMap<usize, Pool>,
    /// Packets of new hosts rejected because their pool was exhausted, or because adding
    /// the map element failed.
    rejected: u64,
}

/// The pools of the installed NAT rules, shared by the outbound workers (which allocate)
/// and the NAT rules' owner (which reloads them).
#[derive(Debug)]
pub struct NatPools {
    state: Mutex<PoolState>,
    /// Idle time after which a host's address can go to another host (ASA `timeout
    /// xlate`).
    timeout: Duration,
}

impl Default for NatPools {
    // NOTE: the configuration's `timeout xlate` is not parsed, so the ASA default applies.
    fn default() -> Self {
        NatPools::new(XlateTimeouts::default().xlate)
    }
}

/// The decision of `NatPools::admit` for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The host has a pool address, or the rule has no pool: write the packet back.
    Pass,
    /// The pool has no free address for a new host: drop the packet.
    Rejected,
}

impl NatPools {
    pub fn new(timeout: Duration) -> NatPools {
        NatPools { state: Mutex::new(PoolState::default()), timeout }
    }

    /// Admits a packet from `host` that NAT rule `rule` translates, allocating a pool
    /// address and adding it to the rule's nftables map when the host has none.
    pub fn admit(&self, rule: usize, host: Ipv4Addr, now: Instant) -> Admission {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(pool) = state.pools.get_mut(&rule) else { return Admission::Pass };
        if let Some(lease) = pool.leases.get_mut(&host) {
            lease.last_used = now;
            return Admission::Pass;
        }
        let Some(address) = pool.free_address(now, self.timeout) else {
            if pool.pat_fallback {
                // The host has no map element, so the kernel's fallback statement
                // applies PAT. Its next packet tries the allocation again.
                return Admission::Pass;
            }
            return state.reject(rule, host, "every pool address belongs to an active host");
        };
        let script = format!("add element ip {TABLE} {} {{ {host} : {address} }}\n", pool.map);
        if let Err(e) = super::run_nft(&script) {
            tracing::warn!(line = pool.origin.line, %host, %address, error = %e, "adding a dynamic NAT allocation to nftables failed");
            return state.reject(rule, host, "adding the allocation to nftables failed");
        }
        pool.leases.insert(host, Lease { address, last_used: now });
        pool.holders.insert(address, host);
        tracing::info!(line = pool.origin.line, %host, %address, "dynamic NAT address allocated");
        Admission::Pass
    }

    /// Returns the pool address of `host` under rule `rule`.
    pub fn address_of(&self, rule: usize, host: Ipv4Addr) -> Option<Ipv4Addr> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.pools.get(&rule)?.leases.get(&host).map(|l| l.address)
    }

    /// Returns how many packets of new hosts were rejected since the start.
    pub fn rejected(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).rejected
    }

    /// Replaces the pools with those of `plan` and runs `load` with the nft lines that
    /// put the kept allocations into the new maps, while no worker can allocate. A pool
    /// whose rule line and addresses are unchanged keeps its allocations; the others
    /// lose them. When `load` fails, the old pools stay.
    pub fn reload<E>(&self, plan: &ClearPlan, load: impl FnOnce(&str) -> Result<(), E>) -> Result<(), E> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut pools = HashMap::new();
        for statement in &plan.source_nat {
            let SourceAction::Pool { rule, map, addresses, pat_fallback } = &statement.action else { continue };
            let mut pool = Pool {
                map: map.clone(),
                origin: statement.origin.clone(),
                addresses: addresses.clone(),
                pat_fallback: *pat_fallback,
                leases: HashMap::new(),
                holders: HashMap::new(),
            };
            if let Some(old) = state.pools.get(rule)
                && old.map == pool.map
                && old.origin == pool.origin
                && old.addresses == pool.addresses
            {
                pool.leases = old.leases.clone();
                pool.holders = old.holders.clone();
            }
            pools.insert(*rule, pool);
        }
        let mut script = String::new();
        for pool in pools.values().filter(|p| !p.leases.is_empty()) {
            let elements: Vec<String> = pool.leases.iter().map(|(host, lease)| format!("{host} : {}", lease.address)).collect();
            script.push_str(&format!("add element ip {TABLE} {} {{ {} }}\n", pool.map, elements.join(", ")));
        }
        load(&script)?;
        state.pools = pools;
        Ok(())
    }

    /// Forgets every pool, after the NAT rules were removed.
    pub fn clear(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).pools.clear();
    }
}

impl Pool {
    /// Picks the first address without a host. When there is none, it takes back the
    /// address of the host idle for the longest time, if that host has been idle longer
    /// than `timeout`, and deletes that host's map element.
    fn free_address(&mut self, now: Instant, timeout: Duration) -> Option<Ipv4Addr> {
        if let Some(address) = self.addresses.iter().find(|a| !self.holders.contains_key(a)) {
            return Some(*address);
        }
        let (&host, lease) = self.leases.iter().min_by_key(|(_, lease)| lease.last_used)?;
        if now.saturating_duration_since(lease.last_used) <= timeout {
            return None;
        }
        let address = lease.address;
        let script = format!("delete element ip {TABLE} {} {{ {host} }}\n", self.map);
        if let Err(e) = super::run_nft(&script) {
            tracing::warn!(line = self.origin.line, %host, %address, error = %e, "deleting an expired dynamic NAT allocation from nftables failed");
            return None;
        }
        self.leases.remove(&host);
        self.holders.remove(&address);
        tracing::info!(line = self.origin.line, %host, %address, "expired dynamic NAT allocation taken back");
        Some(address)
    }
}

impl PoolState {
    fn reject(&mut self, rule: usize, host: Ipv4Addr, reason: &str) -> Admission {
        self.rejected += 1;
        // Powers of two keep a host that retries from flooding the log.
        if self.rejected.is_power_of_two() {
            let line = self.pools.get(&rule).map(|p| p.origin.line);
            tracing::warn!(?line, %host, reason, rejected = self.rejected, "dynamic NAT rejected a new inside host");
        }
        Admission::Rejected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pools_with(addresses: &[&str]) -> NatPools {
        let pools = NatPools::new(Duration::from_secs(60));
        let pool = Pool {
            map: "pool_0".into(),
            origin: Origin { line: 1, text: "nat".into() },
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            pat_fallback: false,
            leases: HashMap::new(),
            holders: HashMap::new(),
        };
        pools.state.lock().unwrap().pools.insert(0, pool);
        pools
    }

    #[test]
    fn admit_unknown_rule_passes() {
        let pools = NatPools::default();
        assert_eq!(pools.admit(3, "10.0.0.1".parse().unwrap(), Instant::now()), Admission::Pass);
    }

    #[test]
    fn free_address_first_unheld() {
        let pools = pools_with(&["203.0.113.1", "203.0.113.2"]);
        let mut state = pools.state.lock().unwrap();
        let pool = state.pools.get_mut(&0).unwrap();
        pool.holders.insert("203.0.113.1".parse().unwrap(), "10.0.0.1".parse().unwrap());
        assert_eq!(pool.free_address(Instant::now(), pools.timeout), Some("203.0.113.2".parse().unwrap()));
    }

    #[test]
    fn free_address_exhausted_active() {
        let pools = pools_with(&["203.0.113.1"]);
        let now = Instant::now();
        let mut state = pools.state.lock().unwrap();
        let pool = state.pools.get_mut(&0).unwrap();
        let (host, address) = ("10.0.0.1".parse().unwrap(), "203.0.113.1".parse().unwrap());
        pool.leases.insert(host, Lease { address, last_used: now });
        pool.holders.insert(address, host);
        assert_eq!(pool.free_address(now + Duration::from_secs(30), pools.timeout), None);
    }

    #[test]
    fn exhausted_with_fallback_passes() {
        let pools = pools_with(&[]);
        pools.state.lock().unwrap().pools.get_mut(&0).unwrap().pat_fallback = true;
        assert_eq!(pools.admit(0, "10.0.0.1".parse().unwrap(), Instant::now()), Admission::Pass);
        assert_eq!(pools.rejected(), 0);
    }

    #[test]
    fn reject_counts() {
        let pools = pools_with(&[]);
        assert_eq!(pools.admit(0, "10.0.0.1".parse().unwrap(), Instant::now()), Admission::Rejected);
        assert_eq!(pools.rejected(), 1);
    }
}
