//! The xlate table: state for dynamic PAT and dynamic NAT, as the ASA keeps it.
//!
//! PAT maps each (real address, real port) to a port on the mapped address, allocated
//! per protocol from 1024-65535; the real port is kept when it is free. ICMP query
//! messages are translated by their identifier in place of a port. Dynamic NAT maps each
//! real host to one pool address for every protocol. Entries expire after an idle time
//! per protocol; time is passed in so that tests and the daemon control it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::engine::Translation;
use crate::flow::{Flow, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use crate::model::AddrRange;
use crate::nat::TranslationKind;

/// The lowest PAT port rampart allocates; lower ports are kept for static rules.
pub const PAT_PORT_MIN: u16 = 1024;
pub const PAT_PORT_MAX: u16 = 65535;

/// Idle timeouts. The defaults are the ASA 9.x defaults: `timeout conn 1:00:00` for TCP,
/// `timeout udp 0:02:00` for UDP, and for ICMP `timeout icmp 0:00:02` plus the
/// `timeout pat-xlate 0:00:30` that keeps a PAT slot after its last connection, so an
/// ICMP xlate lives 30 s. Dynamic NAT xlates use `timeout xlate 3:00:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XlateTimeouts {
    pub tcp: Duration,
    pub udp: Duration,
    pub icmp: Duration,
    pub xlate: Duration,
}

impl Default for XlateTimeouts {
    fn default() -> Self {
        XlateTimeouts {
            tcp: Duration::from_secs(3600),
            udp: Duration::from_secs(120),
            icmp: Duration::from_secs(30),
            xlate: Duration::from_secs(3 * 3600),
        }
    }
}

impl XlateTimeouts {
    fn for_protocol(&self, protocol: u8) -> Duration {
        match protocol {
            PROTO_TCP => self.tcp,
            PROTO_UDP => self.udp,
            PROTO_ICMP | PROTO_ICMPV6 => self.icmp,
            _ => self.xlate,
        }
    }
}

/// PAT key on the real side: protocol, real address, real port or ICMP identifier, and
/// the mapped address (one real host may be PAT'd to several interfaces).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct RealKey {
    protocol: u8,
    real: IpAddr,
    real_port: u16,
    mapped: IpAddr,
}

/// PAT key on the mapped side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct MappedKey {
    protocol: u8,
    mapped: IpAddr,
    mapped_port: u16,
}

#[derive(Clone, Copy, Debug)]
struct PatEntry {
    real: IpAddr,
    real_port: u16,
    last_used: Instant,
}

#[derive(Clone, Copy, Debug)]
struct NatEntry {
    mapped: IpAddr,
    last_used: Instant,
}

/// Bounded xlate table for dynamic PAT and dynamic NAT.
#[derive(Debug)]
pub struct XlateTable {
    capacity: usize,
    timeouts: XlateTimeouts,
    pat_by_real: HashMap<RealKey, u16>,
    pat_by_mapped: HashMap<MappedKey, PatEntry>,
    /// Next port to try per (protocol, mapped address).
    next_port: HashMap<(u8, IpAddr), u16>,
    nat_by_real: HashMap<IpAddr, NatEntry>,
    nat_by_mapped: HashMap<IpAddr, IpAddr>,
}

fn is_pat_protocol(protocol: u8) -> bool {
    matches!(protocol, PROTO_TCP | PROTO_UDP | PROTO_ICMP | PROTO_ICMPV6)
}

impl XlateTable {
    pub fn new(capacity: usize) -> XlateTable {
        XlateTable::with_timeouts(capacity, XlateTimeouts::default())
    }

    pub fn with_timeouts(capacity: usize, timeouts: XlateTimeouts) -> XlateTable {
        XlateTable {
            capacity,
            timeouts,
            pat_by_real: HashMap::new(),
            pat_by_mapped: HashMap::new(),
            next_port: HashMap::new(),
            nat_by_real: HashMap::new(),
            nat_by_mapped: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.pat_by_mapped.len() + self.nat_by_real.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Translate an outbound packet, allocating a PAT port or a pool address on first use.
    /// Returns `None` when the table is full, the port space or pool is exhausted, or the
    /// protocol cannot be PAT'd (only TCP, UDP and ICMP can). ICMP query messages should
    /// use `translate_outbound_icmp`, because this method cannot rewrite the identifier.
    pub fn translate_outbound(&mut self, now: Instant, flow: &Flow, translation: &Translation) -> Option<Flow> {
        if flow.is_icmp() {
            return self.translate_outbound_icmp(now, flow, 0, translation).map(|(f, _)| f);
        }
        let port = flow.src_port;
        self.outbound(now, flow, port, translation).map(|(mut f, mapped_port)| {
            if f.has_ports() {
                f.src_port = mapped_port;
            }
            f
        })
    }

    /// Translate an outbound ICMP query (echo, timestamp...) with identifier `ident`;
    /// returns the translated flow and the mapped identifier.
    pub fn translate_outbound_icmp(
        &mut self,
        now: Instant,
        flow: &Flow,
        ident: u16,
        translation: &Translation,
    ) -> Option<(Flow, u16)> {
        self.outbound(now, flow, ident, translation)
    }

    /// Translate return traffic addressed to a mapped address back to the real flow.
    /// ICMP replies should use `translate_inbound_icmp`.
    pub fn translate_inbound(&mut self, now: Instant, flow: &Flow) -> Option<Flow> {
        if flow.is_icmp() {
            return self.translate_inbound_icmp(now, flow, 0).map(|(f, _)| f);
        }
        self.inbound(now, flow, flow.dst_port).map(|(mut f, real_port)| {
            if f.has_ports() {
                f.dst_port = real_port;
            }
            f
        })
    }

    /// Translate an inbound ICMP reply with identifier `ident`; returns the real flow and
    /// the real identifier.
    pub fn translate_inbound_icmp(&mut self, now: Instant, flow: &Flow, ident: u16) -> Option<(Flow, u16)> {
        self.inbound(now, flow, ident)
    }

    /// Remove every entry idle for longer than its protocol's timeout.
    pub fn expire(&mut self, now: Instant) {
        let timeouts = self.timeouts;
        let mut expired = Vec::new();
        self.pat_by_mapped.retain(|key, entry| {
            let keep = now.saturating_duration_since(entry.last_used) <= timeouts.for_protocol(key.protocol);
            if !keep {
                expired.push(RealKey {
                    protocol: key.protocol,
                    real: entry.real,
                    real_port: entry.real_port,
                    mapped: key.mapped,
                });
            }
            keep
        });
        for key in expired {
            self.pat_by_real.remove(&key);
        }

        let nat_by_mapped = &mut self.nat_by_mapped;
        self.nat_by_real.retain(|_, entry| {
            let keep = now.saturating_duration_since(entry.last_used) <= timeouts.xlate;
            if !keep {
                nat_by_mapped.remove(&entry.mapped);
            }
            keep
        });
    }

    /// Make room for one entry, expiring idle ones if the table is full.
    fn reserve(&mut self, now: Instant) -> bool {
        if self.len() >= self.capacity {
            self.expire(now);
        }
        self.len() < self.capacity
    }

    fn outbound(&mut self, now: Instant, flow: &Flow, port: u16, translation: &Translation) -> Option<(Flow, u16)> {
        match &translation.kind {
            TranslationKind::StaticIdentity | TranslationKind::Static => Some((translation.flow, port)),
            TranslationKind::DynamicPat { address } => self.pat_outbound(now, flow, port, *address),
            TranslationKind::DynamicNat { pool } => {
                let mapped = self.nat_outbound(now, flow.src, pool)?;
                Some((Flow { src: mapped, ..*flow }, port))
            }
        }
    }

    fn pat_outbound(&mut self, now: Instant, flow: &Flow, port: u16, address: IpAddr) -> Option<(Flow, u16)> {
        if !is_pat_protocol(flow.protocol) {
            return None;
        }
        let real_key = RealKey { protocol: flow.protocol, real: flow.src, real_port: port, mapped: address };
        let mapped_port = match self.pat_by_real.get(&real_key) {
            Some(&p) => p,
            None => {
                if !self.reserve(now) {
                    return None;
                }
                let p = self.allocate_port(flow.protocol, address, port)?;
                self.pat_by_real.insert(real_key, p);
                p
            }
        };
        let mapped_key = MappedKey { protocol: flow.protocol, mapped: address, mapped_port };
        self.pat_by_mapped.insert(mapped_key, PatEntry { real: flow.src, real_port: port, last_used: now });
        Some((Flow { src: address, ..*flow }, mapped_port))
    }

    /// Pick a free port on `address`: the real port if it is in range and free, else the
    /// next free one after the last allocation.
    fn allocate_port(&mut self, protocol: u8, address: IpAddr, real_port: u16) -> Option<u16> {
        let free = |p: u16, table: &HashMap<MappedKey, PatEntry>| {
            !table.contains_key(&MappedKey { protocol, mapped: address, mapped_port: p })
        };
        if real_port >= PAT_PORT_MIN && free(real_port, &self.pat_by_mapped) {
            return Some(real_port);
        }
        let cursor = self.next_port.entry((protocol, address)).or_insert(PAT_PORT_MIN);
        let span = u32::from(PAT_PORT_MAX - PAT_PORT_MIN) + 1;
        for step in 0..span {
            let offset = (u32::from(*cursor - PAT_PORT_MIN) + step) % span;
            // The offset is below the span, so the port fits in a u16.
            let p = PAT_PORT_MIN + offset as u16;
            if free(p, &self.pat_by_mapped) {
                *cursor = if p == PAT_PORT_MAX { PAT_PORT_MIN } else { p + 1 };
                return Some(p);
            }
        }
        None
    }

    fn nat_outbound(&mut self, now: Instant, real: IpAddr, pool: &[AddrRange]) -> Option<IpAddr> {
        if let Some(entry) = self.nat_by_real.get_mut(&real) {
            entry.last_used = now;
            return Some(entry.mapped);
        }
        if !self.reserve(now) {
            return None;
        }
        let mapped = pool_addresses(pool).find(|a| !self.nat_by_mapped.contains_key(a))?;
        self.nat_by_real.insert(real, NatEntry { mapped, last_used: now });
        self.nat_by_mapped.insert(mapped, real);
        Some(mapped)
    }

    fn inbound(&mut self, now: Instant, flow: &Flow, port: u16) -> Option<(Flow, u16)> {
        let key = MappedKey { protocol: flow.protocol, mapped: flow.dst, mapped_port: port };
        if let Some(entry) = self.pat_by_mapped.get_mut(&key) {
            entry.last_used = now;
            return Some((Flow { dst: entry.real, ..*flow }, entry.real_port));
        }
        let real = *self.nat_by_mapped.get(&flow.dst)?;
        if let Some(entry) = self.nat_by_real.get_mut(&real) {
            entry.last_used = now;
        }
        Some((Flow { dst: real, ..*flow }, port))
    }
}

/// List the addresses of a pool in order, IPv4 only.
fn pool_addresses(pool: &[AddrRange]) -> impl Iterator<Item = IpAddr> + '_ {
    pool.iter().flat_map(|r| match (r.start, r.end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => {
            let (s, e) = (u32::from(s), u32::from(e));
            // An empty range (start after end) yields nothing.
            Box::new((s..=e).map(|a| IpAddr::V4(a.into()))) as Box<dyn Iterator<Item = IpAddr>>
        }
        _ => Box::new(std::iter::empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn pat(flow: &Flow) -> Translation {
        Translation {
            flow: Flow { src: ip(OUTSIDE_ADDR), ..*flow },
            rule: 0,
            kind: TranslationKind::DynamicPat { address: ip(OUTSIDE_ADDR) },
            reverse: false,
        }
    }

    fn nat_pool(flow: &Flow, pool: &str) -> Translation {
        Translation {
            flow: *flow,
            rule: 0,
            kind: TranslationKind::DynamicNat { pool: vec![net(pool)] },
            reverse: false,
        }
    }

    fn icmp_echo(src: &str) -> Flow {
        Flow { protocol: PROTO_ICMP, src: ip(src), dst: ip("198.18.5.5"), src_port: 8, dst_port: 0 }
    }

    #[test]
    fn pat_keeps_free_real_port() {
        let mut x = XlateTable::new(16);
        let flow = tcp("10.10.1.5", 40000, "198.18.5.5", 22);
        let out = x.translate_outbound(Instant::now(), &flow, &pat(&flow)).expect("xlate");
        assert_eq!(out.src, ip(OUTSIDE_ADDR));
        assert_eq!(out.src_port, 40000);
        assert_eq!(x.len(), 1);
    }

    #[test]
    fn pat_reuses_existing_xlate() {
        let mut x = XlateTable::new(16);
        let now = Instant::now();
        let flow = tcp("10.10.1.5", 40000, "198.18.5.5", 22);
        let first = x.translate_outbound(now, &flow, &pat(&flow));
        let other_dst = Flow { dst: ip("198.18.9.9"), ..flow };
        let second = x.translate_outbound(now, &other_dst, &pat(&other_dst));
        assert_eq!(first.map(|f| f.src_port), second.map(|f| f.src_port));
        assert_eq!(x.len(), 1);
    }

    #[test]
    fn pat_port_collision_allocates_another() {
        let mut x = XlateTable::new(16);
        let now = Instant::now();
        let a = tcp("10.10.1.5", 40000, "198.18.5.5", 22);
        let b = tcp("10.10.1.6", 40000, "198.18.5.5", 22);
        let pa = x.translate_outbound(now, &a, &pat(&a)).expect("xlate a").src_port;
        let pb = x.translate_outbound(now, &b, &pat(&b)).expect("xlate b").src_port;
        assert_ne!(pa, pb);
        assert!(pb >= PAT_PORT_MIN);
    }

    #[test]
    fn pat_low_port_moves_to_range() {
        let mut x = XlateTable::new(16);
        let flow = udp("10.10.1.5", 123, "198.18.5.5", 123);
        let out = x.translate_outbound(Instant::now(), &flow, &pat(&flow)).expect("xlate");
        assert!(out.src_port >= PAT_PORT_MIN);
    }

    #[test]
    fn pat_protocols_have_separate_ports() {
        let mut x = XlateTable::new(16);
        let now = Instant::now();
        let t = tcp("10.10.1.5", 40000, "198.18.5.5", 53);
        let u = udp("10.10.1.6", 40000, "198.18.5.5", 53);
        x.translate_outbound(now, &t, &pat(&t)).expect("tcp");
        let out = x.translate_outbound(now, &u, &pat(&u)).expect("udp");
        assert_eq!(out.src_port, 40000);
    }

    #[test]
    fn inbound_reverses_pat() {
        let mut x = XlateTable::new(16);
        let now = Instant::now();
        let a = tcp("10.10.1.5", 40000, "198.18.5.5", 22);
        let b = tcp("10.10.1.6", 40000, "198.18.5.5", 22);
        x.translate_outbound(now, &a, &pat(&a)).expect("a");
        let mapped_b = x.translate_outbound(now, &b, &pat(&b)).expect("b");
        let reply = mapped_b.reversed();
        let back = x.translate_inbound(now, &reply).expect("xlate exists");
        assert_eq!(back, b.reversed());
    }

    #[test]
    fn inbound_without_xlate_fails() {
        let mut x = XlateTable::new(16);
        let reply = tcp("198.18.5.5", 22, OUTSIDE_ADDR, 40000);
        assert_eq!(x.translate_inbound(Instant::now(), &reply), None);
    }

    #[test]
    fn expire_by_protocol_timeout() {
        let mut x = XlateTable::new(16);
        let start = Instant::now();
        let t = tcp("10.10.1.5", 40000, "198.18.5.5", 22);
        let u = udp("10.10.1.5", 40001, "198.18.5.5", 53);
        x.translate_outbound(start, &t, &pat(&t)).expect("tcp");
        x.translate_outbound(start, &u, &pat(&u)).expect("udp");
        x.expire(start + Duration::from_secs(121));
        assert_eq!(x.len(), 1);
        let reply = tcp("198.18.5.5", 22, OUTSIDE_ADDR, 40000);
        assert!(x.translate_inbound(start + Duration::from_secs(122), &reply).is_some());
        x.expire(start + Duration::from_secs(122 + 3601));
        assert!(x.is_empty());
    }

    #[test]
    fn use_refreshes_idle_time() {
        let mut x = XlateTable::new(16);
        let start = Instant::now();
        let u = udp("10.10.1.5", 40001, "198.18.5.5", 53);
        x.translate_outbound(start, &u, &pat(&u)).expect("udp");
        x.translate_outbound(start + Duration::from_secs(100), &u, &pat(&u)).expect("udp again");
        x.expire(start + Duration::from_secs(200));
        assert_eq!(x.len(), 1);
    }

    #[test]
    fn capacity_is_bounded() {
        let mut x = XlateTable::new(2);
        let now = Instant::now();
        for (i, src) in ["10.10.1.5", "10.10.1.6", "10.10.1.7"].iter().enumerate() {
            let f = udp(src, 40000, "198.18.5.5", 53);
            let out = x.translate_outbound(now, &f, &pat(&f));
            assert_eq!(out.is_some(), i < 2, "flow {i}");
        }
        assert_eq!(x.len(), 2);
        let later = now + Duration::from_secs(121);
        let f = udp("10.10.1.7", 40000, "198.18.5.5", 53);
        assert!(x.translate_outbound(later, &f, &pat(&f)).is_some());
        assert_eq!(x.len(), 1);
    }

    #[test]
    fn icmp_identifier_translated() {
        let mut x = XlateTable::new(16);
        let now = Instant::now();
        let a = icmp_echo("10.10.1.5");
        let b = icmp_echo("10.10.1.6");
        let (_, ida) = x.translate_outbound_icmp(now, &a, 7, &pat(&a)).expect("a");
        let (fb, idb) = x.translate_outbound_icmp(now, &b, 7, &pat(&b)).expect("b");
        assert_ne!(ida, idb);
        let reply = Flow { protocol: PROTO_ICMP, src: ip("198.18.5.5"), dst: fb.src, src_port: 0, dst_port: 0 };
        let (back, ident) = x.translate_inbound_icmp(now, &reply, idb).expect("reply");
        assert_eq!(back.dst, ip("10.10.1.6"));
        assert_eq!(ident, 7);
    }

    #[test]
    fn icmp_expires_after_30_seconds() {
        let mut x = XlateTable::new(16);
        let now = Instant::now();
        let a = icmp_echo("10.10.1.5");
        x.translate_outbound_icmp(now, &a, 7, &pat(&a)).expect("a");
        x.expire(now + Duration::from_secs(30));
        assert_eq!(x.len(), 1);
        x.expire(now + Duration::from_secs(31));
        assert!(x.is_empty());
    }

    #[test]
    fn pat_rejects_other_protocols() {
        let mut x = XlateTable::new(16);
        let gre = Flow { protocol: 47, src: ip("10.10.1.5"), dst: ip("198.18.5.5"), src_port: 0, dst_port: 0 };
        assert_eq!(x.translate_outbound(Instant::now(), &gre, &pat(&gre)), None);
    }

    #[test]
    fn dynamic_nat_pool_allocation() {
        let mut x = XlateTable::new(16);
        let now = Instant::now();
        let a = tcp("10.10.1.5", 40000, "198.18.5.5", 22);
        let b = udp("10.10.1.6", 40000, "198.18.5.5", 53);
        let c = tcp("10.10.1.7", 40000, "198.18.5.5", 22);
        let pool = "203.0.113.64/31";
        assert_eq!(x.translate_outbound(now, &a, &nat_pool(&a, pool)).map(|f| f.src), Some(ip("203.0.113.64")));
        assert_eq!(x.translate_outbound(now, &b, &nat_pool(&b, pool)).map(|f| f.src), Some(ip("203.0.113.65")));
        assert_eq!(x.translate_outbound(now, &c, &nat_pool(&c, pool)), None);
        let reply = udp("198.18.5.5", 53, "203.0.113.65", 40000);
        assert_eq!(x.translate_inbound(now, &reply).map(|f| f.dst), Some(ip("10.10.1.6")));
    }

    #[test]
    fn static_passes_through() {
        let mut x = XlateTable::new(0);
        let flow = tcp("10.10.1.5", 40000, "198.18.5.5", 443);
        let identity = Translation { flow, rule: 0, kind: TranslationKind::StaticIdentity, reverse: false };
        assert_eq!(x.translate_outbound(Instant::now(), &flow, &identity), Some(flow));
        assert!(x.is_empty());
    }
}
