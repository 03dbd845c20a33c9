//! Path MTU discovery for the outer ESP packets (RFC 1191), as the ASA's `#PMTUs rcvd`.
//!
//! A router on the outside path that cannot forward one of our ESP packets with DF set
//! returns ICMP "fragmentation needed" (type 3, code 4) with its next-hop MTU. The
//! listener accepts the error only when the quoted packet is one of ours. It must go
//! from our outside address to the child's peer, as plain ESP with the child's
//! outbound SPI or as UDP from port 4500 to the peer's NAT-T port with that SPI behind
//! the UDP header. It records the lower MTU on the matching child with
//! `SaTables::record_pmtu_received`, which moves the epoch so that the workers' cached
//! egress picks it up. The outbound worker then fragments before encryption or, with DF
//! set, returns fragmentation-needed with the reduced MTU to the inside host.
//!
//! The errors arrive on a raw ICMP socket bound to the outside address and filtered to
//! type 3 (ICMP_FILTER). `IP_RECVERR` on the UDP 4500 socket would deliver them too,
//! but with it set the kernel fails the next `recvmsg` or `sendmsg` of the data-plane
//! workers with the pending error, and plain ESP would need a second mechanism. The raw
//! socket sees the whole quoted packet for both encapsulations.
//!
//! A learned MTU ages back to the interface MTU after the interval of `crypto ipsec
//! security-association pmtu-aging` (10 minutes by default) without a new error, and
//! never with `pmtu-aging infinite`, as on the ASA.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_esp::sad::{ChildHandle, ChildKey};
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::Error;
use crate::sa_table::{child_id, SaTables};
use crate::shared::Shared;
use crate::udp::NAT_T_PORT;

/// Smallest MTU accepted from an ICMP error: the datagram size every IPv4 host must
/// accept. A smaller value comes from a broken or forged error and would shrink every
/// inner packet.
pub const MIN_PMTU: u16 = 576;

/// Shortest packet the gateway sends on the outside: an IPv4 header and the 8 octets of
/// a UDP header or of an ESP header (SPI and sequence number).
const MIN_QUOTED_LEN: u16 = 28;

/// Minimum time between two log lines about ignored ICMP errors.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

const ICMP_DEST_UNREACHABLE: u8 = 3;
const ICMP_FRAG_NEEDED: u8 = 4;
const PROTO_ESP: u8 = 50;
const PROTO_UDP: u8 = 17;

/// `SOL_RAW` and `ICMP_FILTER` from linux/icmp.h, which libc does not export.
const SOL_RAW: libc::c_int = 255;
const ICMP_FILTER: libc::c_int = 1;

/// The plateau table of RFC 1191, for routers that report a next-hop MTU of 0.
const PLATEAUS: [u16; 11] = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68];

/// The transport of a packet quoted in an ICMP error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotedTransport {
    /// Plain ESP with the SPI from the quoted header.
    Esp { spi: u32 },
    /// UDP; `spi` is the ESP SPI behind the UDP header when the router quoted it and
    /// the datagram is ESP (a non-ESP marker of zero means IKE).
    Udp { source_port: u16, destination_port: u16, spi: Option<u32> },
}

/// An ICMP fragmentation-needed error and the packet of ours it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragNeeded {
    /// The router that sent the error.
    pub router: Ipv4Addr,
    /// The next-hop MTU, or the RFC 1191 plateau estimate when the router sent 0.
    pub mtu: u16,
    pub source: Ipv4Addr,
    pub destination: Ipv4Addr,
    /// Total length of the quoted packet as it left us.
    pub quoted_len: u16,
    pub transport: QuotedTransport,
}

/// Reason an ICMP message did not change a path MTU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// Not an IPv4 ICMP fragmentation-needed error, or truncated.
    NotFragNeeded,
    /// The quoted packet is not ESP or UDP.
    OtherProtocol,
    /// The MTU is below `MIN_PMTU`.
    TooSmall(u16),
    /// The MTU is above the outside interface's MTU.
    AboveInterface(u16),
    /// The quoted packet would have fit the reported MTU, so the error is stale or forged.
    NotTooBig { mtu: u16, quoted_len: u16 },
    /// The quoted packet's total length is shorter than an IPv4 and a UDP or ESP header
    /// or longer than the outside interface's MTU: the gateway never sent such a packet.
    BadQuotedLength(u16),
    /// No Child SA sent the quoted packet.
    UnknownSa,
}

/// Parses an IPv4 packet, as a raw ICMP socket delivers it, into the fragmentation-needed
/// error it carries.
pub fn parse_frag_needed(packet: &[u8]) -> Result<FragNeeded, Ignored> {
    let (outer_header, outer_len) = ipv4_header(packet).ok_or(Ignored::NotFragNeeded)?;

    if packet[9] != 1 {
        return Err(Ignored::NotFragNeeded);
    }
    let router = ipv4_at(packet, 12).ok_or(Ignored::NotFragNeeded)?;
    let icmp = packet.get(outer_header..outer_len.min(packet.len())).ok_or(Ignored::NotFragNeeded)?;

    // ICMP header: type, code, checksum, unused (2 bytes), next-hop MTU (RFC 1191).
    if icmp.len() < 8 || icmp[0] != ICMP_DEST_UNREACHABLE || icmp[1] != ICMP_FRAG_NEEDED {
        return Err(Ignored::NotFragNeeded);
    }
    let reported = u16::from_be_bytes([icmp[6], icmp[7]]);
    let quoted = &icmp[8..];

    let (quoted_header, _) = ipv4_header(quoted).ok_or(Ignored::NotFragNeeded)?;
    // A later fragment carries no transport header to match.
    if be_u16(quoted, 6).is_none_or(|flags| flags & 0x1FFF != 0) {
        return Err(Ignored::NotFragNeeded);
    }
    let quoted_len = u16::from_be_bytes([quoted[2], quoted[3]]);
    let source = ipv4_at(quoted, 12).ok_or(Ignored::NotFragNeeded)?;
    let destination = ipv4_at(quoted, 16).ok_or(Ignored::NotFragNeeded)?;

    // RFC 792 guarantees 8 bytes of the quoted payload, and RFC 1812 routers quote more.
    let payload = &quoted[quoted_header..];
    let transport = match quoted[9] {
        PROTO_ESP => QuotedTransport::Esp { spi: be_u32(payload, 0).ok_or(Ignored::NotFragNeeded)? },
        PROTO_UDP => {
            let source_port = be_u16(payload, 0).ok_or(Ignored::NotFragNeeded)?;
            let destination_port = be_u16(payload, 2).ok_or(Ignored::NotFragNeeded)?;
            // A zero where the SPI would be is the non-ESP marker of RFC 3948.
            let spi = be_u32(payload, 8).filter(|&spi| spi != 0);
            QuotedTransport::Udp { source_port, destination_port, spi }
        }
        _ => return Err(Ignored::OtherProtocol),
    };

    let mtu = if reported == 0 { plateau_below(quoted_len) } else { reported };
    Ok(FragNeeded { router, mtu, source, destination, quoted_len, transport })
}

/// Checks the reported MTU against the limits the gateway accepts.
pub fn check_mtu(error: &FragNeeded, interface_mtu: u16) -> Result<u16, Ignored> {
    if error.mtu < MIN_PMTU {
        return Err(Ignored::TooSmall(error.mtu));
    }
    if error.mtu > interface_mtu {
        return Err(Ignored::AboveInterface(error.mtu));
    }
    // The quoted length is checked before the MTU against it, so that a forged length
    // of 0 cannot pass as "too big for the MTU".
    if error.quoted_len < MIN_QUOTED_LEN || error.quoted_len > interface_mtu {
        return Err(Ignored::BadQuotedLength(error.quoted_len));
    }
    if error.quoted_len <= error.mtu {
        return Err(Ignored::NotTooBig { mtu: error.mtu, quoted_len: error.quoted_len });
    }
    Ok(error.mtu)
}

/// Finds the children whose current outbound SA sent the quoted packet.
pub fn matching_children(sa: &SaTables, error: &FragNeeded, interface_mtu: u16) -> Vec<(ChildKey, ChildHandle)> {
    let mut found = Vec::new();
    for (key, handle) in sa.sad.children() {
        let Some(out) = sa.sad.outbound(handle) else { continue };
        let info = out.info();
        if info.local.ip() != IpAddr::V4(error.source) {
            continue;
        }
        // The peer may have moved behind its NAT since the SA was negotiated.
        let mut remotes = vec![info.remote, out.remote()];
        remotes.extend(sa.egress(child_id(&key), interface_mtu).map(|e| e.remote));
        let to_peer = |remote: &SocketAddr| remote.ip() == IpAddr::V4(error.destination);
        let matched = match error.transport {
            QuotedTransport::Esp { spi } => !info.udp_encap && spi == out.spi() && remotes.iter().any(to_peer),
            // The SPI is required: addresses and ports alone are public, so any host
            // could forge a short quote with them, while the SPI travels only on the path.
            QuotedTransport::Udp { source_port, destination_port, spi } => {
                info.udp_encap
                    && source_port == NAT_T_PORT
                    && spi == Some(out.spi())
                    && remotes.iter().any(|r| to_peer(r) && r.port() == destination_port)
            }
        };
        if matched {
            found.push((key, handle));
        }
    }
    found
}

/// Returns the largest plateau below the quoted packet's length, the estimate RFC 1191
/// suggests when the router reports no MTU.
fn plateau_below(quoted_len: u16) -> u16 {
    PLATEAUS.iter().copied().find(|&p| p < quoted_len).unwrap_or(0)
}

/// Header length and total length of an IPv4 packet, checked against `packet`.
fn ipv4_header(packet: &[u8]) -> Option<(usize, usize)> {
    let first = *packet.first()?;
    let header_len = usize::from(first & 0x0F) * 4;
    if first >> 4 != 4 || header_len < 20 || packet.len() < header_len {
        return None;
    }
    let total_len = usize::from(be_u16(packet, 2)?);
    Some((header_len, total_len))
}

fn ipv4_at(bytes: &[u8], offset: usize) -> Option<Ipv4Addr> {
    let b: [u8; 4] = bytes.get(offset..offset + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(b))
}

fn be_u16(bytes: &[u8], offset: usize) -> Option<u16> {
    let b: [u8; 2] = bytes.get(offset..offset + 2)?.try_into().ok()?;
    Some(u16::from_be_bytes(b))
}

fn be_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(offset..offset + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// A raw ICMP socket on the outside address that receives destination-unreachable
/// errors only.
pub struct IcmpErrorSocket {
    socket: Socket,
}

impl IcmpErrorSocket {
    pub fn open(outside: IpAddr, read_timeout: Duration) -> Result<IcmpErrorSocket, Error> {
        let IpAddr::V4(address) = outside else {
            return Err(Error::Setup(format!("path MTU discovery covers IPv4 only; the outside address is {outside}")));
        };
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
            .map_err(|e| Error::io("creating the raw ICMP socket for path MTU errors", e))?;
        // ICMP_FILTER blocks the types whose bit is set.
        let blocked: u32 = !(1u32 << ICMP_DEST_UNREACHABLE);
        // SAFETY: a valid socket descriptor and a pointer to a u32 with its size, the
        // `struct icmp_filter` of linux/icmp.h.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&socket),
                SOL_RAW,
                ICMP_FILTER,
                (&blocked as *const u32).cast(),
                std::mem::size_of::<u32>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(Error::io("setting ICMP_FILTER on the raw ICMP socket", io::Error::last_os_error()));
        }
        socket
            .bind(&SocketAddr::new(IpAddr::V4(address), 0).into())
            .map_err(|e| Error::io(format!("binding the raw ICMP socket to {address}"), e))?;
        socket.set_read_timeout(Some(read_timeout)).map_err(|e| Error::io("configuring the raw ICMP socket", e))?;
        Ok(IcmpErrorSocket { socket })
    }

    /// Receives one ICMP packet with its IP header; `Ok(0)` when the read timed out.
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match (&self.socket).read(buf) {
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted) => Ok(0),
            result => result,
        }
    }
}

/// The `pmtu` thread: receives the ICMP errors, records path MTUs and ages them.
pub struct PmtuListener {
    shared: Arc<Shared>,
    socket: IcmpErrorSocket,
    /// When each child last learned its path MTU.
    learned: HashMap<ChildKey, Instant>,
    ignored_log: LogLimit,
}

impl PmtuListener {
    pub fn new(shared: Arc<Shared>, socket: IcmpErrorSocket) -> PmtuListener {
        PmtuListener { shared, socket, learned: HashMap::new(), ignored_log: LogLimit::default() }
    }

    pub fn run(mut self) {
        // An ICMP error is at most 576 bytes long (RFC 1812), so 2048 bytes leave room
        // for longer ones from routers that do not follow it.
        let mut buf = [0u8; 2048];
        while self.shared.is_running() {
            match self.socket.recv(&mut buf) {
                Ok(0) => {}
                Ok(n) => self.handle(&buf[..n], Instant::now()),
                Err(e) => {
                    tracing::warn!(error = %e, "receiving on the raw ICMP socket failed; path MTU discovery stops");
                    return;
                }
            }
            self.age(Instant::now());
        }
    }

    fn handle(&mut self, packet: &[u8], now: Instant) {
        let error = match parse_frag_needed(packet) {
            Ok(error) => error,
            // Other unreachable codes are frequent and not ours to handle.
            Err(Ignored::NotFragNeeded | Ignored::OtherProtocol) => return,
            Err(reason) => return self.log_ignored(None, reason, now),
        };
        let interface_mtu = self.shared.policy().outside_mtu;
        let mtu = match check_mtu(&error, interface_mtu) {
            Ok(mtu) => mtu,
            Err(reason) => return self.log_ignored(Some(&error), reason, now),
        };
        let mut sa = self.shared.sa();
        let children = matching_children(&sa, &error, interface_mtu);
        if children.is_empty() {
            drop(sa);
            return self.log_ignored(Some(&error), Ignored::UnknownSa, now);
        }
        for (key, handle) in children {
            let current = sa.sad.path_mtu(handle).unwrap_or(interface_mtu);
            // A fragmentation-needed error only lowers the estimate (RFC 1191), so a
            // higher value is stale and skipped here.
            if mtu >= current {
                tracing::debug!(peer = %key.peer, router = %error.router, mtu, current, "ICMP fragmentation needed does not lower the path MTU");
                continue;
            }
            sa.record_pmtu_received(handle, mtu);
            self.learned.insert(key, now);
            let spi = sa.sad.outbound(handle).map(|out| out.spi()).unwrap_or_default();
            tracing::info!(
                peer = %key.peer,
                spi = format_args!("{spi:#010x}"),
                router = %error.router,
                mtu,
                previous = current,
                "path MTU lowered by ICMP fragmentation needed"
            );
        }
    }

    /// Returns expired path MTUs to the interface MTU. The interval comes from the
    /// current policy, so a reload changes it for MTUs learned before.
    fn age(&mut self, now: Instant) {
        let Some(aging) = self.shared.policy().pmtu_aging else { return };
        if !self.learned.values().any(|&at| now.saturating_duration_since(at) >= aging) {
            return;
        }
        let mut sa = self.shared.sa();
        expire_learned(&mut sa, &mut self.learned, now, Some(aging));
    }

    fn log_ignored(&mut self, error: Option<&FragNeeded>, reason: Ignored, now: Instant) {
        let Some(suppressed) = self.ignored_log.allow(now) else { return };
        match error {
            Some(e) => tracing::info!(
                router = %e.router,
                source = %e.source,
                destination = %e.destination,
                reason = ?reason,
                suppressed,
                "ICMP fragmentation needed ignored"
            ),
            None => tracing::info!(reason = ?reason, suppressed, "ICMP fragmentation needed ignored"),
        }
    }
}

/// Forgets the path MTUs learned `aging` or longer before `now`, so that the interface
/// MTU applies again to those children. With `aging` `None` (`pmtu-aging infinite`)
/// every learned MTU stays.
fn expire_learned(sa: &mut SaTables, learned: &mut HashMap<ChildKey, Instant>, now: Instant, aging: Option<Duration>) {
    let Some(aging) = aging else { return };
    learned.retain(|key, at| {
        if now.saturating_duration_since(*at) < aging {
            return true;
        }
        if let Some(handle) = sa.sad.handle(key) {
            sa.reset_path_mtu(handle);
            tracing::info!(peer = %key.peer, child = key.child, after_secs = aging.as_secs(), "learned path MTU aged out; the interface MTU applies again");
        }
        false
    });
}

/// Allows one log line per `LOG_INTERVAL` and counts the lines it held back.
#[derive(Default)]
struct LogLimit {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimit {
    /// Returns the number of suppressed lines when a line may go out now.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|last| now.saturating_duration_since(last) < LOG_INTERVAL) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GW: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
    const PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
    const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

    fn ipv4(protocol: u8, src: Ipv4Addr, dst: Ipv4Addr, total_len: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, protocol, 0, 0];
        p[2..4].copy_from_slice(&total_len.to_be_bytes());
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&dst.octets());
        p.extend_from_slice(payload);
        p
    }

    /// Builds an ICMP error from ROUTER to GW that quotes `quoted`.
    fn icmp_error(kind: u8, code: u8, mtu: u16, quoted: &[u8]) -> Vec<u8> {
        let mut icmp = vec![kind, code, 0, 0, 0, 0];
        icmp.extend_from_slice(&mtu.to_be_bytes());
        icmp.extend_from_slice(quoted);
        let total = (20 + icmp.len()) as u16;
        ipv4(1, ROUTER, GW, total, &icmp)
    }

    fn quoted_udp(sport: u16, dport: u16, spi: u32) -> Vec<u8> {
        let mut udp = Vec::new();
        udp.extend_from_slice(&sport.to_be_bytes());
        udp.extend_from_slice(&dport.to_be_bytes());
        udp.extend_from_slice(&[0, 0, 0, 0]);
        udp.extend_from_slice(&spi.to_be_bytes());
        udp.extend_from_slice(&[0, 0, 0, 1]);
        ipv4(PROTO_UDP, GW, PEER, 1480, &udp)
    }

    #[test]
    fn parse_udp_esp() {
        let packet = icmp_error(3, 4, 1300, &quoted_udp(4500, 4500, 0xc0ffee01));
        let error = parse_frag_needed(&packet).expect("fragmentation needed");
        assert_eq!(error.mtu, 1300);
        assert_eq!(error.router, ROUTER);
        assert_eq!(error.source, GW);
        assert_eq!(error.destination, PEER);
        assert_eq!(error.quoted_len, 1480);
        assert_eq!(error.transport, QuotedTransport::Udp { source_port: 4500, destination_port: 4500, spi: Some(0xc0ffee01) });
    }

    #[test]
    fn parse_udp_ike_marker() {
        let packet = icmp_error(3, 4, 1300, &quoted_udp(4500, 4500, 0));
        let error = parse_frag_needed(&packet).expect("fragmentation needed");
        assert_eq!(error.transport, QuotedTransport::Udp { source_port: 4500, destination_port: 4500, spi: None });
    }

    #[test]
    fn parse_udp_eight_bytes_only() {
        let quoted = quoted_udp(4500, 4501, 7);
        let packet = icmp_error(3, 4, 1300, &quoted[..28]);
        let error = parse_frag_needed(&packet).expect("fragmentation needed");
        assert_eq!(error.transport, QuotedTransport::Udp { source_port: 4500, destination_port: 4501, spi: None });
    }

    #[test]
    fn parse_plain_esp() {
        let quoted = ipv4(PROTO_ESP, GW, PEER, 1480, &[0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1]);
        let error = parse_frag_needed(&icmp_error(3, 4, 1400, &quoted)).expect("fragmentation needed");
        assert_eq!(error.transport, QuotedTransport::Esp { spi: 0x1234_5678 });
    }

    #[test]
    fn parse_zero_mtu_plateau() {
        let error = parse_frag_needed(&icmp_error(3, 4, 0, &quoted_udp(4500, 4500, 9))).expect("fragmentation needed");
        assert_eq!(error.mtu, 1006);
    }

    #[test]
    fn parse_port_unreachable_ignored() {
        assert_eq!(parse_frag_needed(&icmp_error(3, 3, 0, &quoted_udp(4500, 4500, 9))), Err(Ignored::NotFragNeeded));
    }

    #[test]
    fn parse_truncated_quote_ignored() {
        let packet = icmp_error(3, 4, 1300, &quoted_udp(4500, 4500, 9)[..22]);
        assert_eq!(parse_frag_needed(&packet), Err(Ignored::NotFragNeeded));
    }

    #[test]
    fn parse_other_protocol_ignored() {
        let quoted = ipv4(6, GW, PEER, 1480, &[0; 8]);
        assert_eq!(parse_frag_needed(&icmp_error(3, 4, 1300, &quoted)), Err(Ignored::OtherProtocol));
    }

    #[test]
    fn parse_every_truncation_safe() {
        let packet = icmp_error(3, 4, 1300, &quoted_udp(4500, 4500, 0xc0ffee01));
        for len in 0..packet.len() {
            // Truncations that keep the SPI parse; shorter ones are rejected, and none panics.
            let _ = parse_frag_needed(&packet[..len]);
        }
        assert!(parse_frag_needed(&packet[..48]).is_err());
    }

    #[test]
    fn parse_garbage_ignored() {
        assert_eq!(parse_frag_needed(&[0x45, 0, 0]), Err(Ignored::NotFragNeeded));
    }

    fn keys(udp_encap: bool) -> rampart_ike::ChildSaKeys {
        rampart_ike::ChildSaKeys {
            peer: 0,
            child: 0,
            local: SocketAddr::new(IpAddr::V4(GW), if udp_encap { 4500 } else { 0 }),
            remote: SocketAddr::new(IpAddr::V4(PEER), if udp_encap { 4500 } else { 0 }),
            udp_encap,
            spi_in: 0x100,
            spi_out: 0xc0ffee01,
            encr: rampart_crypto::alg::Encr::AesGcm16 { key_bits: 256 },
            integ: None,
            encr_key_in: zeroize::Zeroizing::new(vec![1; 36]),
            integ_key_in: zeroize::Zeroizing::new(Vec::new()),
            encr_key_out: zeroize::Zeroizing::new(vec![2; 36]),
            integ_key_out: zeroize::Zeroizing::new(Vec::new()),
            local_ts: vec![rampart_ike::config::TrafficSelector::any_v4()],
            remote_ts: vec![rampart_ike::config::TrafficSelector::any_v4()],
            lifetime: Duration::from_secs(28800),
            lifetime_kilobytes: 0,
            pfs_group: None,
            replaces: None,
            initiator: true,
        }
    }

    fn tables(udp_encap: bool) -> SaTables {
        let mut tables = SaTables::new();
        tables.install(&keys(udp_encap), 64, Instant::now()).expect("install");
        tables
    }

    fn matches(tables: &SaTables, quoted: &[u8]) -> usize {
        let error = parse_frag_needed(&icmp_error(3, 4, 1300, quoted)).expect("fragmentation needed");
        matching_children(tables, &error, 1500).len()
    }

    #[test]
    fn match_udp_spi() {
        assert_eq!(matches(&tables(true), &quoted_udp(4500, 4500, 0xc0ffee01)), 1);
    }

    #[test]
    fn match_udp_other_spi() {
        assert_eq!(matches(&tables(true), &quoted_udp(4500, 4500, 0xc0ffee02)), 0);
    }

    #[test]
    fn match_udp_other_port() {
        assert_eq!(matches(&tables(true), &quoted_udp(4500, 4501, 0xc0ffee01)), 0);
    }

    #[test]
    fn match_udp_quote_without_spi() {
        assert_eq!(matches(&tables(true), &quoted_udp(4500, 4500, 0xc0ffee01)[..28]), 0);
    }

    #[test]
    fn match_udp_ike_marker() {
        assert_eq!(matches(&tables(true), &quoted_udp(4500, 4500, 0)), 0);
    }

    #[test]
    fn match_plain_esp_spi() {
        let quoted = ipv4(PROTO_ESP, GW, PEER, 1480, &0xc0ffee01u32.to_be_bytes());
        assert_eq!(matches(&tables(false), &quoted), 1);
    }

    #[test]
    fn match_plain_esp_not_udp_sa() {
        let quoted = ipv4(PROTO_ESP, GW, PEER, 1480, &0xc0ffee01u32.to_be_bytes());
        assert_eq!(matches(&tables(true), &quoted), 0);
    }

    #[test]
    fn match_other_peer() {
        let quoted = ipv4(PROTO_ESP, GW, ROUTER, 1480, &0xc0ffee01u32.to_be_bytes());
        assert_eq!(matches(&tables(false), &quoted), 0);
    }

    /// Records MTU 1300 on the only child and returns its key.
    fn learn(tables: &mut SaTables) -> ChildKey {
        let (key, handle) = tables.sad.children()[0];
        tables.sad.record_pmtu_received(handle, 1300);
        key
    }

    /// The ASA's default `pmtu-aging` interval.
    const PMTU_AGING: Duration = Duration::from_secs(600);

    /// Builds tables with one child that learned a path MTU of 1300 now.
    fn learned_child() -> (SaTables, ChildKey, Instant, HashMap<ChildKey, Instant>) {
        let mut tables = tables(true);
        let key = learn(&mut tables);
        let start = Instant::now();
        (tables, key, start, HashMap::from([(key, start)]))
    }

    #[test]
    fn aging_keeps_recent_mtu() {
        let (mut tables, key, start, mut learned) = learned_child();
        expire_learned(&mut tables, &mut learned, start + PMTU_AGING / 2, Some(PMTU_AGING));
        let handle = tables.sad.handle(&key).expect("child");
        assert_eq!(tables.sad.path_mtu(handle), Some(1300));
        assert_eq!(learned.len(), 1);
    }

    #[test]
    fn aging_restores_interface_mtu() {
        let (mut tables, key, start, mut learned) = learned_child();
        expire_learned(&mut tables, &mut learned, start + PMTU_AGING, Some(PMTU_AGING));
        let handle = tables.sad.handle(&key).expect("child");
        assert_eq!(tables.sad.path_mtu(handle), None);
        assert!(learned.is_empty());
    }

    #[test]
    fn aging_keeps_counter() {
        let (mut tables, key, start, mut learned) = learned_child();
        expire_learned(&mut tables, &mut learned, start + PMTU_AGING, Some(PMTU_AGING));
        let handle = tables.sad.handle(&key).expect("child");
        assert_eq!(tables.sad.counters(handle).map(|c| c.pmtus_rcvd), Some(1));
    }

    #[test]
    fn aging_configured_interval() {
        let (mut tables, key, start, mut learned) = learned_child();
        let hour = Some(Duration::from_secs(3600));
        expire_learned(&mut tables, &mut learned, start + PMTU_AGING, hour);
        let handle = tables.sad.handle(&key).expect("child");
        assert_eq!(tables.sad.path_mtu(handle), Some(1300), "a 600 s old MTU must stay with a 3600 s interval");
        expire_learned(&mut tables, &mut learned, start + Duration::from_secs(3600), hour);
        assert_eq!(tables.sad.path_mtu(handle), None, "a 3600 s old MTU must age out with a 3600 s interval");
    }

    #[test]
    fn aging_infinite_keeps_mtu() {
        let (mut tables, key, start, mut learned) = learned_child();
        expire_learned(&mut tables, &mut learned, start + Duration::from_secs(86_400 * 365), None);
        let handle = tables.sad.handle(&key).expect("child");
        assert_eq!(tables.sad.path_mtu(handle), Some(1300));
        assert_eq!(learned.len(), 1);
    }

    #[test]
    fn parse_later_fragment_ignored() {
        let mut quoted = quoted_udp(4500, 4500, 9);
        quoted[7] = 0x10;
        assert_eq!(parse_frag_needed(&icmp_error(3, 4, 1300, &quoted)), Err(Ignored::NotFragNeeded));
    }

    fn checked(mtu: u16, quoted_len: u16) -> Result<u16, Ignored> {
        let transport = QuotedTransport::Esp { spi: 1 };
        let error = FragNeeded { router: ROUTER, mtu, source: GW, destination: PEER, quoted_len, transport };
        check_mtu(&error, 1500)
    }

    #[test]
    fn check_mtu_accepts_lower() {
        assert_eq!(checked(1300, 1480), Ok(1300));
    }

    #[test]
    fn check_mtu_below_576() {
        assert_eq!(checked(500, 1480), Err(Ignored::TooSmall(500)));
    }

    #[test]
    fn check_mtu_above_interface() {
        assert_eq!(checked(9000, 9100), Err(Ignored::AboveInterface(9000)));
    }

    #[test]
    fn check_mtu_packet_fit() {
        assert_eq!(checked(1300, 1200), Err(Ignored::NotTooBig { mtu: 1300, quoted_len: 1200 }));
    }

    #[test]
    fn check_mtu_quoted_len_zero() {
        assert_eq!(checked(1300, 0), Err(Ignored::BadQuotedLength(0)));
    }

    #[test]
    fn check_mtu_quoted_len_above_interface() {
        assert_eq!(checked(1300, 9000), Err(Ignored::BadQuotedLength(9000)));
    }

    #[test]
    fn check_mtu_quoted_len_below_headers() {
        assert_eq!(checked(600, 27), Err(Ignored::BadQuotedLength(27)));
    }

    #[test]
    fn log_limit_suppresses() {
        let mut limit = LogLimit::default();
        let start = Instant::now();
        assert_eq!(limit.allow(start), Some(0));
        assert_eq!(limit.allow(start + Duration::from_secs(1)), None);
        assert_eq!(limit.allow(start + LOG_INTERVAL), Some(1));
    }
}
