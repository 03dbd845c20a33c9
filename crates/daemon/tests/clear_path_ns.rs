//! The clear path in network namespaces: an inside host, a gateway and an outside host.
//!
//! The gateway routes inside traffic into a TUN device by policy routing, as
//! `rampart run` does. The test plays the daemon's outbound path: it reads each packet
//! from the TUN device, evaluates it with the policy engine and writes clear traffic
//! into the device that `route_clear` picks. The checks:
//! - UDP and TCP to ports other than 80 and 443 reach the outside host from the
//!   gateway's outside address (PAT), and the replies reach the inside host;
//! - traffic with identity NAT keeps the inside source address;
//! - static NAT maps the inside host to another address, outbound and for a connection
//!   opened from the outside;
//! - ICMP echo goes through PAT, counted on the masquerade rule for other protocols;
//! - twice NAT sends a flow for a mapped destination to the real server, and a
//!   connection that the real server opens reaches the inside host from the mapped
//!   destination;
//! - a service clause maps the destination port, and a dynamic pool of several ranges
//!   maps a second inside address to one of its addresses;
//! - PAT toward a DMZ interface, a mapped interface other than the outside one, uses
//!   the DMZ address, while PAT toward the outside keeps the outside address;
//! - TCP 443 matches the crypto map and is not written back;
//! - removing the clear path deletes the nftables table and the PAT device;
//! - the gateway replies to ARP requests for static NAT and pool addresses, not for those of a
//!   `no-proxy-arp` rule, and removes its entries on reload and removal;
//! - a dynamic NAT pool gives each inside host an address of its own and rejects a
//!   host when every address is taken;
//! - a destination prefix with a port change, a port range onto a range and static NAT
//!   of three addresses onto two translate as the engine does, in both directions.
//!
//! A second run checks `NatRules`, which writes every clear packet into the main TUN
//! device, with the same exchanges.
//!
//! Needs root (network namespaces, TUN, nftables); without it the test prints a SKIPPED
//! line and passes. Run: `cargo test -p rampart-daemon --test clear_path_ns -- --nocapture`.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rampart_daemon::clear_path::{self, ClearPath, ClearRoute, NatRules, TABLE};
use rampart_daemon::packet::ipv4_summary;
use rampart_daemon::tun::{self, TunReader, TunWriter};
use rampart_policy::flow::PROTO_TCP;
use rampart_policy::model::*;
use rampart_policy::{Flow, PolicyEngine};

const INSIDE_HOST: &str = "198.18.10.2";
const GATEWAY_INSIDE: &str = "198.18.10.1";
const GATEWAY_OUTSIDE: &str = "203.0.113.2";
/// Outside host address reached with PAT.
const SERVER_PAT: &str = "203.0.113.9";
/// Outside host address reached with identity NAT and a crypto ACL deny.
const SERVER_IDENTITY: &str = "203.0.113.10";
/// Outside host address reached with static NAT of the inside host.
const SERVER_STATIC: &str = "203.0.113.11";
/// The inside host's static NAT address.
const MAPPED_STATIC: &str = "203.0.113.100";
const UDP_PORT: u16 = 9999;
/// Second address of the inside host, translated by the pool of several ranges.
const INSIDE_POOLED: &str = "198.18.10.3";
/// The pool of several ranges: one host and a range of two.
const POOL: [&str; 3] = ["203.0.113.120", "203.0.113.130", "203.0.113.131"];
/// Destination that twice NAT maps onto `SERVER_IDENTITY`.
const TWICE_MAPPED: &str = "198.18.99.9";
/// TCP port that a service clause maps onto `TCP_PORT` for `SERVER_IDENTITY`.
const SERVICE_PORT: u16 = 8079;
/// Port of the inside host's server for the connection opened from the outside.
const INBOUND_PORT: u16 = 7070;
/// Port of the outside host's sink for the bulk transfer through PAT.
const BULK_PORT: u16 = 8081;
const BULK_BYTES: usize = 8 << 20;
const TCP_PORT: u16 = 8080;

/// The DMZ host, and the gateway's DMZ address that PAT toward the DMZ uses.
const DMZ_HOST: &str = "198.18.20.2";
const GATEWAY_DMZ: &str = "198.18.20.1";

const TUN_DEV: &str = "clr0";
const INSIDE_DEV: &str = "ci0";
const OUTSIDE_DEV: &str = "co0";
const DMZ_DEV: &str = "cd0";
/// Routing table of the policy rule from the inside device to the TUN device.
const TUNNEL_TABLE: &str = "100";

/// Every step of the test finishes within this time.
const DEADLINE: Duration = Duration::from_secs(20);
const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// What the gateway's stand-in for the outbound path did with each flow.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Handled {
    Clear(ClearRoute),
    Tunneled,
    Denied,
}

/// How the gateway writes clear traffic back to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `ClearPath`: dynamic NAT flows into the PAT device, the others into the TUN device.
    PatDevice,
    /// `NatRules`: every clear flow into the TUN device.
    SingleDevice,
}

/// Network namespaces named `clr-<test>-<role>-<pid>`, deleted on drop. The test name
/// keeps the tests of one process apart when they run in parallel.
struct Namespaces {
    names: Vec<String>,
}

impl Namespaces {
    fn create(test: &str, roles: &[&str]) -> Result<Namespaces, String> {
        let mut namespaces = Namespaces { names: Vec::new() };
        for role in roles {
            let name = format!("clr-{test}-{role}-{}", std::process::id());
            run("ip", &["netns", "add", &name])?;
            namespaces.names.push(name);
        }
        Ok(namespaces)
    }

    fn name(&self, index: usize) -> &str {
        &self.names[index]
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.names {
            if let Err(e) = run("ip", &["netns", "del", name]) {
                eprintln!("removing namespace {name} failed: {e}");
            }
        }
    }
}

/// Runs a command with a fixed argument list and fails with its output.
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program).args(args).output().map_err(|e| format!("{program} {args:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!("{program} {args:?} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim()))
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    run(program, args).is_ok()
}

/// Why the test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root for network namespaces, TUN devices and nftables".into());
    }
    for (program, arg) in [("ip", "-V"), ("nft", "--version")] {
        if !succeeds(program, &[arg]) {
            return Some(format!("`{program}` is not installed"));
        }
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing".into());
    }
    None
}

/// Runs `f` on a new thread that has entered network namespace `ns`. Sockets, TUN
/// devices, /proc/sys/net and commands started from that thread belong to `ns`.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<Result<T, String>> {
    let path = format!("/var/run/netns/{ns}");
    thread::spawn(move || {
        let file = std::fs::File::open(&path).map_err(|e| format!("opening {path}: {e}"))?;
        // SAFETY: a valid namespace file descriptor; CLONE_NEWNET only moves this thread.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns {path}: {}", std::io::Error::last_os_error()));
        }
        Ok(f())
    })
}

fn join<T>(handle: JoinHandle<Result<T, String>>) -> T {
    match handle.join() {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{e}"),
        Err(_) => panic!("a namespace thread panicked"),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("IP address")
}

fn v4(text: &str) -> Ipv4Addr {
    text.parse().expect("IPv4 address")
}

fn host(text: &str) -> AddrRange {
    AddrRange::host(ip(text))
}

/// Builds the inside host, the gateway, the outside host and the DMZ host, joined by
/// three veth pairs.
fn build_topology(ns: &Namespaces) -> Result<(), String> {
    let (inside, gateway, outside, dmz) = (ns.name(0), ns.name(1), ns.name(2), ns.name(3));
    run("ip", &["-n", gateway, "link", "add", DMZ_DEV, "type", "veth", "peer", "name", "eth0", "netns", dmz])?;
    run("ip", &["-n", gateway, "addr", "add", &format!("{GATEWAY_DMZ}/24"), "dev", DMZ_DEV])?;
    run("ip", &["-n", dmz, "addr", "add", &format!("{DMZ_HOST}/24"), "dev", "eth0"])?;
    for (namespace, device) in [(gateway, DMZ_DEV), (dmz, "eth0"), (dmz, "lo")] {
        run("ip", &["-n", namespace, "link", "set", device, "up"])?;
    }
    build_gateway_hosts(inside, gateway, outside, &[INSIDE_HOST, INSIDE_POOLED], &[SERVER_PAT, SERVER_IDENTITY, SERVER_STATIC])?;
    // Replies to identity-NAT traffic come back to the inside address; replies to PAT
    // traffic need no route, because they go to the gateway's outside address.
    run("ip", &["-n", outside, "route", "add", "198.18.10.0/24", "via", GATEWAY_OUTSIDE])?;
    // The outside host routes the static NAT address to the gateway, from the address the
    // static rule names, so that these exchanges do not depend on proxy ARP, which
    // `proxy_arp_mapped_addresses` checks.
    // Connections from the outside host to the inside host start at the twice NAT
    // rule's real destination.
    let inside_host = format!("{INSIDE_HOST}/32");
    run("ip", &["-n", outside, "route", "add", &inside_host, "via", GATEWAY_OUTSIDE, "src", SERVER_IDENTITY])?;
    let mapped = format!("{MAPPED_STATIC}/32");
    run("ip", &["-n", outside, "route", "add", &mapped, "via", GATEWAY_OUTSIDE, "src", SERVER_STATIC])?;
    for address in POOL {
        run("ip", &["-n", outside, "route", "add", &format!("{address}/32"), "via", GATEWAY_OUTSIDE])?;
    }
    run("ip", &["netns", "exec", gateway, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])?;
    // Strict mode on every device, so that the test shows the clear path loosening it.
    run("ip", &["netns", "exec", gateway, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1"])?;
    Ok(())
}

fn origin(line: u32, text: &str) -> Origin {
    Origin { line, text: text.to_string() }
}

fn interface(name: &str, level: u8, address: &str) -> Interface {
    Interface { hardware: format!("veth-{name}"), name: name.into(), security_level: level, address: Some((v4(address), 24)), mtu: 1500 }
}

fn nat_rule(section: NatSection, kind: NatKind, mapped: NatMapped, line: u32, text: &str) -> NatRule {
    NatRule {
        section,
        real_interface: Some("inside".into()),
        mapped_interface: Some("outside".into()),
        kind,
        real_source: vec![AddrRange::v4_prefix(v4("198.18.10.0"), 24)],
        mapped_source: mapped,
        destination: None,
        service: None,
        no_proxy_arp: false,
        route_lookup: false,
        pat_fallback: false,
        origin: origin(line, text),
    }
}

/// Builds the guide's port filter on the lab addresses, plus identity NAT and a crypto ACL
/// deny for `SERVER_IDENTITY`, whose traffic leaves in the clear untranslated.
fn policy() -> PolicyConfig {
    let inside_net = AddrRange::v4_prefix(v4("198.18.10.0"), 24);
    let entry = |action, dst: AddrRange, ace_index, line| AclEntry {
        action,
        protocol: None,
        src: inside_net,
        src_ports: PortRange::ANY,
        dst,
        dst_ports: PortRange::ANY,
        icmp_type: None,
        log: false,
        inactive: false,
        ace_index,
        origin: origin(line, "access-list Zscaler_MAP"),
    };
    let mut identity_to_server = nat_rule(NatSection::Manual, NatKind::Static, NatMapped::Identity, 49, "nat (inside,outside) source static inside inside destination static server server");
    identity_to_server.destination = Some((vec![host(SERVER_IDENTITY)], vec![host(SERVER_IDENTITY)]));
    let identity_service = |port, line| {
        let mut rule = nat_rule(NatSection::Manual, NatKind::Static, NatMapped::Identity, line, "nat (inside,outside) source static inside inside service web web");
        rule.service = Some(NatService { protocol: PROTO_TCP, source_port: false, real: PortRange::single(port), mapped: PortRange::single(port) });
        rule
    };
    let mut static_to_server = nat_rule(NatSection::Manual, NatKind::Static, NatMapped::Addresses(vec![host(MAPPED_STATIC)]), 48, "nat (inside,outside) source static host mapped destination static server2 server2");
    static_to_server.real_source = vec![host(INSIDE_HOST)];
    static_to_server.destination = Some((vec![host(SERVER_STATIC)], vec![host(SERVER_STATIC)]));
    // Identity NAT of the source; the destination TWICE_MAPPED becomes SERVER_IDENTITY,
    // which the crypto ACL denies, so the flow stays clear.
    let mut twice = nat_rule(NatSection::Manual, NatKind::Static, NatMapped::Identity, 45, "nat (inside,outside) source static inside inside destination static twice server");
    twice.destination = Some((vec![host(TWICE_MAPPED)], vec![host(SERVER_IDENTITY)]));
    let mut service_port = nat_rule(NatSection::Manual, NatKind::Static, NatMapped::Identity, 46, "nat (inside,outside) source static inside inside destination static server server service p8079 p8080");
    service_port.destination = Some((vec![host(SERVER_IDENTITY)], vec![host(SERVER_IDENTITY)]));
    service_port.service = Some(NatService { protocol: PROTO_TCP, source_port: false, real: PortRange::single(SERVICE_PORT), mapped: PortRange::single(TCP_PORT) });
    let mut split_pool = nat_rule(NatSection::Manual, NatKind::Dynamic, NatMapped::Addresses(vec![host(POOL[0]), AddrRange { start: ip(POOL[1]), end: ip(POOL[2]) }]), 47, "nat (inside,outside) source dynamic pooled pool_group");
    split_pool.real_source = vec![host(INSIDE_POOLED)];
    let mut dmz_pat = nat_rule(NatSection::AfterAuto, NatKind::Dynamic, NatMapped::Interface, 53, "nat (inside,dmz) after-auto source dynamic any interface");
    dmz_pat.real_source = vec![AddrRange::ANY_V4];
    dmz_pat.mapped_interface = Some("dmz".into());
    let mut pat = nat_rule(NatSection::AfterAuto, NatKind::Dynamic, NatMapped::Interface, 52, "nat (inside,outside) after-auto source dynamic any interface");
    pat.real_source = vec![AddrRange::ANY_V4];

    PolicyConfig {
        interfaces: vec![interface("inside", 100, GATEWAY_INSIDE), interface("outside", 0, GATEWAY_OUTSIDE), interface("dmz", 50, GATEWAY_DMZ)],
        routes: vec![Route {
            interface: "outside".into(),
            network: Ipv4Addr::UNSPECIFIED,
            prefix_len: 0,
            gateway: v4(SERVER_PAT),
            distance: 1,
            origin: origin(30, "route outside 0.0.0.0 0.0.0.0 203.0.113.9 1"),
        }],
        acls: vec![Acl {
            name: "Zscaler_MAP".into(),
            entries: vec![entry(Action::Deny, host(SERVER_IDENTITY), 0, 40), entry(Action::Permit, AddrRange::ANY_V4, 1, 41)],
        }],
        nat_rules: vec![twice, service_port, split_pool, static_to_server, identity_to_server, identity_service(80, 50), identity_service(443, 51), dmz_pat, pat],
        crypto_maps: vec![CryptoMap {
            name: "outside_map".into(),
            interface: Some("outside".into()),
            entries: vec![CryptoMapEntry {
                map: "outside_map".into(),
                sequence: 65000,
                acl: Some("Zscaler_MAP".into()),
                peers: vec![ip("203.0.113.50")],
                proposals: vec!["ZS".into()],
                dynamic: None,
                origin: origin(60, "crypto map outside_map 65000 match address Zscaler_MAP"),
            }],
        }],
        ..PolicyConfig::default()
    }
}

/// What the gateway thread reports after the clear path is gone.
#[derive(Default)]
struct GatewayReport {
    handled: Vec<(Flow, Handled)>,
    unsupported: usize,
    pat_rp_filter: String,
    /// Connections counted on the masquerade rule for protocols other than TCP and UDP.
    other_masquerades: Option<u64>,
    table_after_remove: bool,
    pat_device_after_remove: bool,
}

/// Runs the gateway: TUN device, policy routing, clear path, and the outbound path's
/// decision for each packet until `stop` is set.
fn gateway(mode: Mode, ready: mpsc::Sender<Result<(), String>>, stop: Arc<AtomicBool>) -> GatewayReport {
    let setup = || -> Result<(Vec<tun_rs::SyncDevice>, Option<ClearPath>, NatRules, PolicyEngine), String> {
        // The PAT device run uses the virtio-net header offloads, as `rampart run` does by
        // default, and the single-device run goes without them.
        let offload = mode == Mode::PatDevice;
        let main = tun::create(TUN_DEV, 1500, offload, 1).map_err(|e| e.to_string())?;
        run("ip", &["route", "add", "default", "dev", TUN_DEV, "table", TUNNEL_TABLE])?;
        run("ip", &["rule", "add", "iif", INSIDE_DEV, "lookup", TUNNEL_TABLE, "priority", "1000"])?;
        let config = policy();
        let engine = PolicyEngine::new(config.clone()).map_err(|e| e.to_string())?;
        let mut rules = NatRules::new();
        let path = match mode {
            Mode::PatDevice => {
                let mut plan = clear_path::from_policy(&config, OUTSIDE_DEV, TUN_DEV);
                plan.offload = offload;
                eprintln!("{}", clear_path::render(&plan));
                let mut path = ClearPath::install(&plan).map_err(|e| e.to_string())?;
                // A reload with the same plan must leave a working clear path.
                path.update(&plan).map_err(|e| e.to_string())?;
                Some(path)
            }
            Mode::SingleDevice => {
                rules.update(&config, TUN_DEV).map_err(|e| e.to_string())?;
                None
            }
        };
        Ok((main, path, rules, engine))
    };
    let (main, path, mut rules, engine) = match setup() {
        Ok(parts) => parts,
        Err(e) => {
            let _ = ready.send(Err(e));
            return GatewayReport { table_after_remove: true, pat_device_after_remove: true, ..GatewayReport::default() };
        }
    };
    let _ = ready.send(Ok(()));
    let pools = path.as_ref().map_or_else(|| rules.pools(), |p| Arc::clone(p.pools()));

    // The outbound path's batched reader and writers, one writer per device.
    let mut reader = TunReader::new(1500);
    let mut plain = TunWriter::for_device(&main[0]);
    let mut pat = TunWriter::for_device(path.as_ref().map_or(&main[0], |p| &**p.pat_device()));
    let mut handled = Vec::new();
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < DEADLINE {
        if !matches!(tun::wait_readable(&main[0], Duration::from_millis(100)), Ok(true)) {
            continue;
        }
        // As the outbound worker does: start a batch, then fill it from several reads.
        reader.clear();
        while reader.has_room() {
            match reader.read(&main[0]) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    eprintln!("reading from {TUN_DEV} failed: {e}");
                    break;
                }
            }
        }
        for index in 0..reader.len() {
            let packet = reader.packet_mut(index);
            let Some(summary) = ipv4_summary(packet) else { continue };
            let decision = engine.evaluate(&summary.flow, "inside", false);
            let outcome = match (decision.allowed, decision.vpn.is_some()) {
                (false, _) => Handled::Denied,
                (true, true) => Handled::Tunneled,
                (true, false) if !pool_admits(&pools, &decision, &summary.flow) => Handled::Denied,
                (true, false) => Handled::Clear(clear_path::route_clear(&decision)),
            };
            let packet = &packet[..summary.total_len];
            match (&outcome, &path) {
                (Handled::Clear(ClearRoute::Pat), Some(_)) => pat.push(packet),
                (Handled::Clear(_), _) => plain.push(packet),
                _ => {}
            }
            handled.push((summary.flow, outcome));
        }
        if let Err(e) = plain.flush(&main[0]) {
            eprintln!("writing into {TUN_DEV} failed: {e}");
        }
        if let Some(path) = &path
            && let Err(e) = pat.flush(path.pat_device())
        {
            eprintln!("writing into the PAT device failed: {e}");
        }
    }

    let other_masquerades = masquerade_count();
    let pat_dev = clear_path::pat_device_name(TUN_DEV);
    let pat_rp_filter = std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{pat_dev}/rp_filter")).unwrap_or_default().trim().to_string();
    let unsupported = path.as_ref().map_or(0, |p| p.plan().unsupported.len());
    if let Some(Err(e)) = path.map(ClearPath::remove) {
        eprintln!("removing the clear path failed: {e}");
    }
    rules.remove();
    drop(main);
    GatewayReport {
        handled,
        unsupported,
        pat_rp_filter,
        other_masquerades,
        table_after_remove: succeeds("nft", &["list", "table", "ip", TABLE]),
        pat_device_after_remove: succeeds("ip", &["link", "show", &pat_dev]),
    }
}

/// Reads the packet count of the masquerade rule without port range, the one that
/// translates protocols other than TCP and UDP.
fn masquerade_count() -> Option<u64> {
    let output = Command::new("nft").args(["list", "chain", "ip", TABLE, "nat_postrouting"]).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let outside = format!("oifname \"{OUTSIDE_DEV}\"");
    let line = text.lines().find(|l| l.contains(&outside) && l.trim_end().ends_with(" masquerade"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let position = words.iter().position(|w| *w == "packets")?;
    words.get(position + 1)?.parse().ok()
}

/// Runs the outside host: a UDP echo of the peer address and a TCP server that writes
/// the peer address, both until `stop` is set.
fn outside_host(stop: Arc<AtomicBool>, ready: mpsc::Sender<()>) -> Vec<SocketAddr> {
    let udp = UdpSocket::bind(("0.0.0.0", UDP_PORT)).expect("binding the UDP server");
    udp.set_read_timeout(Some(Duration::from_millis(50))).expect("UDP timeout");
    let tcp = TcpListener::bind(("0.0.0.0", TCP_PORT)).expect("binding the TCP server");
    tcp.set_nonblocking(true).expect("nonblocking listener");
    let _ = ready.send(());

    let mut peers = Vec::new();
    let mut buf = [0u8; 512];
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < DEADLINE {
        if let Ok((_, peer)) = udp.recv_from(&mut buf) {
            peers.push(peer);
            let _ = udp.send_to(peer.ip().to_string().as_bytes(), peer);
        }
        if let Ok((mut stream, peer)) = tcp.accept() {
            peers.push(peer);
            let _ = stream.set_nonblocking(false);
            let _ = stream.write_all(peer.ip().to_string().as_bytes());
        }
    }
    peers
}

/// The inside host's results: the address each server reported in its reply.
struct InsideReport {
    udp_pat: Result<(SocketAddr, String), String>,
    tcp_pat: Result<String, String>,
    udp_identity: Result<(SocketAddr, String), String>,
    udp_static: Result<(SocketAddr, String), String>,
    /// TCP, because the outside host's UDP echo replies from its primary address, and a
    /// TCP connection completes only when the kernel translates both directions.
    tcp_twice: Result<String, String>,
    tcp_service: Result<String, String>,
    udp_pool: Result<(SocketAddr, String), String>,
    udp_dmz: Result<(SocketAddr, String), String>,
}

fn udp_exchange(server: &str) -> Result<(SocketAddr, String), String> {
    udp_exchange_with("0.0.0.0", server, UDP_PORT)
}

/// Sends one datagram from `source` to `server:port` and returns the reply's sender and
/// text, the address the outside host saw.
fn udp_exchange_with(source: &str, server: &str, port: u16) -> Result<(SocketAddr, String), String> {
    let socket = UdpSocket::bind((source, 0)).map_err(|e| e.to_string())?;
    socket.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    socket.send_to(b"clear path", (server, port)).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    let (len, from) = socket.recv_from(&mut buf).map_err(|e| format!("no UDP reply from {server}: {e}"))?;
    Ok((from, String::from_utf8_lossy(&buf[..len]).to_string()))
}

fn tcp_exchange(server: &str, port: u16) -> Result<String, String> {
    let address = SocketAddr::new(ip(server), port);
    let mut stream = TcpStream::connect_timeout(&address, IO_TIMEOUT).map_err(|e| format!("connecting to {address}: {e}"))?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    let mut text = String::new();
    stream.read_to_string(&mut text).map_err(|e| format!("reading from {address}: {e}"))?;
    Ok(text)
}

fn inside_host() -> InsideReport {
    let udp_pat = udp_exchange(SERVER_PAT);
    let tcp_pat = tcp_exchange(SERVER_PAT, TCP_PORT);
    let udp_identity = udp_exchange(SERVER_IDENTITY);
    let udp_static = udp_exchange(SERVER_STATIC);
    let tcp_twice = tcp_exchange(TWICE_MAPPED, TCP_PORT);
    let tcp_service = tcp_exchange(SERVER_IDENTITY, SERVICE_PORT);
    let udp_pool = udp_exchange_with(INSIDE_POOLED, SERVER_PAT, UDP_PORT);
    let udp_dmz = udp_exchange(DMZ_HOST);
    // TCP 443 belongs to the tunnel; the stand-in outbound path does not encrypt, so
    // the connection attempt only has to reach the gateway.
    let _ = tcp_exchange(SERVER_PAT, 443).err();
    InsideReport { udp_pat, tcp_pat, udp_identity, udp_static, tcp_twice, tcp_service, udp_pool, udp_dmz }
}

/// Runs the inside host's server for one connection opened from the outside, and
/// writes the peer address back to the client. Returns that peer address.
fn inbound_server(ready: mpsc::Sender<()>) -> Result<SocketAddr, String> {
    let (mut stream, peer) = accept_inbound(ready)?;
    stream.write_all(peer.ip().to_string().as_bytes()).map_err(|e| e.to_string())?;
    Ok(peer)
}

/// Accepts one TCP connection on `INBOUND_PORT`, waiting up to twice `IO_TIMEOUT`.
fn accept_inbound(ready: mpsc::Sender<()>) -> Result<(TcpStream, SocketAddr), String> {
    let listener = TcpListener::bind(("0.0.0.0", INBOUND_PORT)).map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let _ = ready.send(());
    let started = Instant::now();
    while started.elapsed() < IO_TIMEOUT * 2 {
        match listener.accept() {
            Ok((stream, peer)) => {
                stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                return Ok((stream, peer));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("no connection from the outside arrived".into())
}

/// Runs the outside host's sink, which accepts one connection and reads it to the end.
/// Returns the byte count and the peer address.
fn bulk_sink(ready: mpsc::Sender<()>) -> Result<(usize, SocketAddr), String> {
    let listener = TcpListener::bind(("0.0.0.0", BULK_PORT)).map_err(|e| e.to_string())?;
    let _ = ready.send(());
    let (mut stream, peer) = listener.accept().map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(DEADLINE / 2)).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65536];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok((total, peer)),
            Ok(n) => total += n,
            Err(e) => return Err(format!("reading after {total} bytes: {e}")),
        }
    }
}

/// Sends `BULK_BYTES` from the inside host through PAT. Returns the transfer time, the
/// sink's byte count and the peer address the sink saw.
fn bulk_exchange(ns: &Namespaces) -> Result<(Duration, usize, SocketAddr), String> {
    let (ready, ready_rx) = mpsc::channel();
    let sink = in_netns(ns.name(2), move || bulk_sink(ready));
    ready_rx.recv_timeout(IO_TIMEOUT).map_err(|e| format!("the sink did not start: {e}"))?;
    let sent = join(in_netns(ns.name(0), || -> Result<Duration, String> {
        let address = SocketAddr::new(ip(SERVER_PAT), BULK_PORT);
        let mut stream = TcpStream::connect_timeout(&address, IO_TIMEOUT).map_err(|e| format!("connecting to {address}: {e}"))?;
        stream.set_write_timeout(Some(DEADLINE / 2)).map_err(|e| e.to_string())?;
        let chunk = vec![0x5au8; 65536];
        let started = Instant::now();
        for _ in 0..BULK_BYTES / chunk.len() {
            stream.write_all(&chunk).map_err(|e| e.to_string())?;
        }
        stream.shutdown(std::net::Shutdown::Write).map_err(|e| e.to_string())?;
        // The sink closes after reading everything, so EOF here means it has all bytes.
        let _ = stream.read(&mut [0u8; 1]);
        Ok(started.elapsed())
    }));
    let (bytes, peer) = join(sink)?;
    Ok((sent?, bytes, peer))
}

/// Opens a connection from the outside host to `target`. Returns the server's view of
/// the peer address and the inside server's result.
fn inbound_exchange(ns: &Namespaces, target: &'static str) -> (Result<String, String>, Result<SocketAddr, String>) {
    let (ready, ready_rx) = mpsc::channel();
    let server = in_netns(ns.name(0), move || inbound_server(ready));
    if ready_rx.recv_timeout(IO_TIMEOUT).is_err() {
        return (Err("the inside server did not start".into()), join(server));
    }
    let client = join(in_netns(ns.name(2), move || tcp_exchange(target, INBOUND_PORT)));
    (client, join(server))
}

/// Prints the gateway's counters and rules, to find where packets stopped.
fn dump_gateway(ns: &str) {
    let commands: [&[&str]; 6] = [
        &["conntrack", "-L"],
        &["ip", "-s", "link"],
        &["ip", "rule"],
        &["nft", "list", "ruleset"],
        &["sysctl", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.clr0.rp_filter", "net.ipv4.conf.clr0p.rp_filter", "net.ipv4.conf.clr0.forwarding"],
        &["nstat", "-az", "IpInAddrErrors", "IpExtInNoRoutes", "TcpExtIPReversePathFilter", "IpForwDatagrams", "IpInHdrErrors", "IpOutNoRoutes"],
    ];
    for command in commands {
        let mut args = vec!["netns", "exec", ns];
        args.extend_from_slice(command);
        if let Ok(output) = Command::new("ip").args(&args).output() {
            eprintln!("$ {}\n{}{}", command.join(" "), String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        }
    }
}

#[test]
fn clear_path_pat_device() {
    run_lab(Mode::PatDevice, "clear_path_pat_device");
}

#[test]
fn nat_rules_single_device() {
    run_lab(Mode::SingleDevice, "nat_rules_single_device");
}

/// Every statement form the plan can produce, loaded with `nft --check` in a namespace
/// of its own: forms the lab exchanges do not reach must still be valid for the kernel.
#[test]
fn ruleset_every_form_checks() {
    if let Some(reason) = skip_reason() {
        let _ = writeln!(std::io::stderr(), "SKIPPED nftables check of every NAT form: {reason}");
        return;
    }
    let prefix = |text: &str| {
        let (address, len) = text.split_once('/').expect("A/len");
        AddrRange::v4_prefix(v4(address), len.parse().expect("prefix length"))
    };
    let tcp = |real: PortRange, mapped: PortRange, source_port: bool| Some(NatService { protocol: PROTO_TCP, source_port, real, mapped });
    let mut config = policy();
    let mut rules = Vec::new();
    // Twice NAT between equal prefixes, both directions.
    let mut twice_prefix = nat_rule(NatSection::Manual, NatKind::Static, NatMapped::Addresses(vec![prefix("198.19.10.0/24")]), 10, "nat (inside,outside) source static inside mapped destination static a b");
    twice_prefix.destination = Some((vec![prefix("198.51.100.0/24")], vec![prefix("198.18.50.0/24")]));
    rules.push(twice_prefix);
    // Identity NAT with a source port translation.
    let mut source_port = nat_rule(NatSection::Manual, NatKind::Static, NatMapped::Identity, 11, "nat (inside,outside) source static inside inside service s t");
    source_port.service = tcp(PortRange::single(22), PortRange::single(2222), true);
    rules.push(source_port);
    // A destination port range onto one port, with a host destination.
    let mut range_to_one = nat_rule(NatSection::Manual, NatKind::Static, NatMapped::Identity, 12, "nat (inside,outside) source static inside inside destination static c d service r o");
    range_to_one.destination = Some((vec![host("198.51.100.7")], vec![host("198.18.50.7")]));
    range_to_one.service = tcp(PortRange { start: 8000, end: 8099 }, PortRange::single(80), false);
    rules.push(range_to_one);
    // Static PAT of a host, both directions.
    let mut static_pat = nat_rule(NatSection::Object, NatKind::Static, NatMapped::Addresses(vec![host("203.0.113.101")]), 13, "nat (inside,outside) static 203.0.113.101 service tcp 80 8080");
    static_pat.real_source = vec![host("198.18.10.7")];
    static_pat.service = tcp(PortRange::single(80), PortRange::single(8080), true);
    rules.push(static_pat);
    // Dynamic NAT from one range and from a pool of several ranges.
    let mut range_pool = nat_rule(NatSection::Object, NatKind::Dynamic, NatMapped::Addresses(vec![prefix("203.0.113.128/28")]), 14, "nat (inside,outside) dynamic pool");
    range_pool.real_source = vec![prefix("198.18.10.128/25")];
    rules.push(range_pool);
    rules.append(&mut config.nat_rules);
    config.nat_rules = rules;

    // The namespace has no devices, so the lookup by address is replaced.
    let device = |nameif: &str| match nameif {
        "dmz" => Some(DMZ_DEV.to_string()),
        _ => None,
    };
    let plan = clear_path::ClearPlan::from_policy_with(&config, OUTSIDE_DEV, TUN_DEV, &device);
    assert_eq!(plan.unsupported, Vec::new(), "every rule of this configuration has a kernel form");
    let script = clear_path::render(&plan);
    let ns = Namespaces::create("forms", &["nft"]).expect("creating the namespace");
    let path = std::env::temp_dir().join(format!("rampart-forms-{}.nft", std::process::id()));
    std::fs::write(&path, &script).expect("writing the script");
    let checked = run("ip", &["netns", "exec", ns.name(0), "nft", "--check", "-f", path.to_str().unwrap_or_default()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(checked, Ok(()), "nft rejected the ruleset:\n{script}");
}

fn run_lab(mode: Mode, test: &str) {
    if let Some(reason) = skip_reason() {
        // Written to the process's stderr, past the test harness's output capture, so
        // that the skip shows in a passing run.
        let _ = writeln!(std::io::stderr(), "SKIPPED clear path namespace test ({mode:?}): {reason}");
        return;
    }
    let ns = Namespaces::create(test, &["in", "gw", "out", "dmz"]).expect("creating namespaces");
    build_topology(&ns).expect("building the topology");

    let stop = Arc::new(AtomicBool::new(false));
    let (gateway_ready, gateway_ready_rx) = mpsc::channel();
    let gateway_thread = {
        let stop = Arc::clone(&stop);
        in_netns(ns.name(1), move || gateway(mode, gateway_ready, stop))
    };
    let (outside_ready, outside_ready_rx) = mpsc::channel();
    let outside_thread = {
        let stop = Arc::clone(&stop);
        in_netns(ns.name(2), move || outside_host(stop, outside_ready))
    };
    // The DMZ host runs the same servers as the outside host.
    let (dmz_ready, dmz_ready_rx) = mpsc::channel();
    let dmz_thread = {
        let stop = Arc::clone(&stop);
        in_netns(ns.name(3), move || outside_host(stop, dmz_ready))
    };
    let gateway_setup = gateway_ready_rx.recv_timeout(DEADLINE).unwrap_or_else(|e| Err(format!("gateway not ready: {e}")));
    let outside_setup = outside_ready_rx.recv_timeout(DEADLINE).and(dmz_ready_rx.recv_timeout(DEADLINE));

    let inside = if gateway_setup.is_ok() && outside_setup.is_ok() {
        Some(join(in_netns(ns.name(0), inside_host)))
    } else {
        None
    };
    let inbound = inside.as_ref().map(|_| inbound_exchange(&ns, MAPPED_STATIC));
    let inbound_twice = inside.as_ref().map(|_| inbound_exchange(&ns, INSIDE_HOST));
    // One echo request, answered within 2 s or counted as lost.
    let ping = inside.as_ref().map(|_| run("ip", &["netns", "exec", ns.name(0), "ping", "-n", "-q", "-c", "1", "-W", "2", SERVER_PAT]));
    let bulk = inside.as_ref().map(|_| bulk_exchange(&ns));
    if inside.as_ref().is_some_and(|r| r.udp_pat.is_err()) {
        dump_gateway(ns.name(1));
    }
    stop.store(true, Ordering::Relaxed);
    let gateway = join(gateway_thread);
    let outside_peers = join(outside_thread);
    let dmz_peers = join(dmz_thread);
    drop(ns);

    gateway_setup.expect("gateway setup");
    outside_setup.expect("outside host setup");
    let inside = inside.expect("inside host ran");
    eprintln!("outside host saw {outside_peers:?}");
    eprintln!("DMZ host saw {dmz_peers:?}");
    eprintln!("gateway handled {:?}", gateway.handled);

    eprintln!("inside host: udp_pat {:?} tcp_pat {:?} udp_identity {:?} udp_static {:?}", inside.udp_pat, inside.tcp_pat, inside.udp_identity, inside.udp_static);
    let (from, seen) = inside.udp_pat.expect("UDP exchange through PAT");
    assert_eq!(seen, GATEWAY_OUTSIDE, "the outside host must see UDP from the gateway's outside address");
    assert_eq!(from, SocketAddr::new(ip(SERVER_PAT), UDP_PORT), "the UDP reply must come back untranslated");
    assert_eq!(inside.tcp_pat.expect("TCP exchange through PAT"), GATEWAY_OUTSIDE);
    let (_, seen) = inside.udp_identity.expect("UDP exchange with identity NAT");
    assert_eq!(seen, INSIDE_HOST, "identity NAT must keep the inside address");
    let (_, seen) = inside.udp_static.expect("UDP exchange with static NAT");
    assert_eq!(seen, MAPPED_STATIC, "static NAT must map the inside address");
    eprintln!("inside host: tcp_twice {:?} tcp_service {:?} udp_pool {:?}", inside.tcp_twice, inside.tcp_service, inside.udp_pool);
    let seen = inside.tcp_twice.expect("TCP connection to the twice NAT mapped destination");
    assert_eq!(seen, INSIDE_HOST, "twice NAT with identity source must keep the inside address");
    let seen = inside.tcp_service.expect("TCP connection through the destination port service");
    assert_eq!(seen, INSIDE_HOST, "the service rule keeps the inside address");
    let (_, seen) = inside.udp_pool.expect("UDP exchange through the split pool");
    assert!(POOL.contains(&seen.as_str()), "the pooled host must appear as a pool address, not {seen}");
    eprintln!("inside host: udp_dmz {:?}", inside.udp_dmz);
    let (from, seen) = inside.udp_dmz.expect("UDP exchange through PAT toward the DMZ");
    assert_eq!(seen, GATEWAY_DMZ, "PAT toward the DMZ must use the DMZ address");
    assert_eq!(from, SocketAddr::new(ip(DMZ_HOST), UDP_PORT), "the DMZ reply must come back untranslated");
    let (client, server) = inbound.expect("inbound exchange ran");
    eprintln!("inbound: client {client:?} server {server:?}");
    assert_eq!(server.map(|peer| peer.ip()), Ok(ip(SERVER_STATIC)), "the inside server must see the outside host");
    assert_eq!(client, Ok(SERVER_STATIC.to_string()), "the reply must come back from the static NAT address");
    let (client, server) = inbound_twice.expect("inbound twice NAT exchange ran");
    eprintln!("inbound twice NAT: client {client:?} server {server:?}");
    assert_eq!(server.map(|peer| peer.ip()), Ok(ip(TWICE_MAPPED)), "the inside server must see the twice NAT mapped destination");
    assert_eq!(client, Ok(TWICE_MAPPED.to_string()), "the outside host must get the reply through the reverse translation");

    let (elapsed, bytes, peer) = bulk.expect("bulk transfer ran").expect("bulk transfer through PAT");
    let mbits = bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e6;
    eprintln!("bulk ({mode:?}): {bytes} bytes in {elapsed:?}, {mbits:.0} Mbit/s");
    assert_eq!(bytes, BULK_BYTES);
    assert_eq!(peer.ip(), ip(GATEWAY_OUTSIDE), "the sink must see the gateway's outside address");

    assert_eq!(ping, Some(Ok(())), "ICMP echo through PAT");
    assert!(gateway.other_masquerades.is_some_and(|n| n >= 1), "the ICMP echo must hit the masquerade rule: {:?}", gateway.other_masquerades);

    let route_of = |dst: &str, port: u16| gateway.handled.iter().find(|(f, _)| f.dst == ip(dst) && f.dst_port == port).map(|(_, h)| h.clone());
    assert_eq!(route_of(SERVER_PAT, UDP_PORT), Some(Handled::Clear(ClearRoute::Pat)));
    assert_eq!(route_of(SERVER_PAT, TCP_PORT), Some(Handled::Clear(ClearRoute::Pat)));
    assert_eq!(route_of(SERVER_IDENTITY, UDP_PORT), Some(Handled::Clear(ClearRoute::Plain)));
    assert_eq!(route_of(SERVER_PAT, 443), Some(Handled::Tunneled));
    assert_eq!(route_of(SERVER_STATIC, UDP_PORT), Some(Handled::Clear(ClearRoute::Plain)));
    assert_eq!(route_of(TWICE_MAPPED, TCP_PORT), Some(Handled::Clear(ClearRoute::Plain)));
    assert_eq!(route_of(DMZ_HOST, UDP_PORT), Some(Handled::Clear(ClearRoute::Pat)));
    assert_eq!(route_of(SERVER_IDENTITY, SERVICE_PORT), Some(Handled::Clear(ClearRoute::Plain)));
    assert_eq!(gateway.unsupported, 0);
    assert!(!gateway.table_after_remove, "table ip {TABLE} must be gone after remove");
    assert!(!gateway.pat_device_after_remove, "the PAT device must be gone after remove");
    if mode == Mode::PatDevice {
        assert_eq!(gateway.pat_rp_filter, "2", "strict rp_filter must become loose on the PAT device");
    }
}

/// Static NAT address that proxy ARP covers.
const PROXIED_STATIC: &str = "203.0.113.100";
/// Static NAT address of a `no-proxy-arp` rule.
const UNPROXIED_STATIC: &str = "203.0.113.101";
/// Dynamic NAT pool that proxy ARP covers.
const PROXIED_POOL: [&str; 2] = ["203.0.113.120", "203.0.113.121"];
/// The outside neighbour that sends the ARP requests.
const NEIGHBOUR: &str = "203.0.113.9";

/// Builds the rules of the proxy ARP test: static NAT with and without `no-proxy-arp`, a dynamic
/// pool, and PAT to the interface address, which needs no entry.
fn proxy_arp_policy(with_static: bool) -> PolicyConfig {
    let mut proxied = nat_rule(
        NatSection::Object,
        NatKind::Static,
        NatMapped::Addresses(vec![host(PROXIED_STATIC)]),
        20,
        "nat (inside,outside) static 203.0.113.100",
    );
    proxied.real_source = vec![host(INSIDE_HOST)];
    let mut unproxied = nat_rule(
        NatSection::Object,
        NatKind::Static,
        NatMapped::Addresses(vec![host(UNPROXIED_STATIC)]),
        21,
        "nat (inside,outside) static 203.0.113.101 no-proxy-arp",
    );
    unproxied.real_source = vec![host(INSIDE_POOLED)];
    unproxied.no_proxy_arp = true;
    let pool = NatMapped::Addresses(vec![AddrRange {
        start: ip(PROXIED_POOL[0]),
        end: ip(PROXIED_POOL[1]),
    }]);
    let dynamic = nat_rule(
        NatSection::Manual,
        NatKind::Dynamic,
        pool,
        22,
        "nat (inside,outside) source dynamic inside pool",
    );
    let mut pat = nat_rule(
        NatSection::AfterAuto,
        NatKind::Dynamic,
        NatMapped::Interface,
        23,
        "nat (inside,outside) after-auto source dynamic any interface",
    );
    pat.real_source = vec![AddrRange::ANY_V4];
    let mut rules = vec![unproxied, dynamic, pat];
    if with_static {
        rules.insert(0, proxied);
    }
    PolicyConfig {
        interfaces: vec![
            interface("inside", 100, GATEWAY_INSIDE),
            interface("outside", 0, GATEWAY_OUTSIDE),
        ],
        nat_rules: rules,
        ..PolicyConfig::default()
    }
}

/// Pings `address` once from namespace `ns`, so that the kernel resolves it by ARP, and
/// returns the MAC address of the neighbour entry, if the resolution succeeded.
fn resolve(ns: &str, address: &str) -> Option<String> {
    // Nothing replies to the ping itself, because the request only starts the ARP
    // exchange. The gateway delays replies to broadcast ARP requests by up to
    // `proxy_delay` (0.8 s).
    let _ = Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "2", address])
        .output();
    let output = Command::new("ip")
        .args(["-n", ns, "neigh", "show", address])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let mut words = text.split_whitespace();
    words.find(|w| *w == "lladdr")?;
    words.next().map(str::to_string)
}

/// Reads the MAC address of `device` in `ns` (sysfs shows the test's own namespace).
fn link_mac(ns: &str, device: &str) -> String {
    let output = Command::new("ip")
        .args(["-n", ns, "link", "show", device])
        .output()
        .expect("ip link show");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let mut words = text.split_whitespace();
    words
        .find(|w| *w == "link/ether")
        .and_then(|_| words.next())
        .unwrap_or_default()
        .to_string()
}

fn proxy_entries(ns: &str) -> String {
    let output = Command::new("ip")
        .args(["-n", ns, "neigh", "show", "proxy"])
        .output()
        .expect("ip neigh show proxy");
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// What the gateway thread of the proxy ARP test reports.
struct ProxyArpReport {
    first: Vec<(String, Ipv4Addr)>,
    after_reload: Vec<(String, Ipv4Addr)>,
}

/// The gateway replies to ARP on the outside device for the static and pool addresses, not
/// for the `no-proxy-arp` address, drops a packet for a pool address without a
/// translation, and removes its entries on reload and on removal.
#[test]
fn proxy_arp_mapped_addresses() {
    if let Some(reason) = skip_reason() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED proxy ARP namespace test: {reason}"
        );
        return;
    }
    let ns = Namespaces::create("parp", &["gw", "nb"]).expect("creating the namespaces");
    let (gateway, neighbour) = (ns.name(0).to_string(), ns.name(1).to_string());
    run(
        "ip",
        &[
            "-n",
            &gateway,
            "link",
            "add",
            OUTSIDE_DEV,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &neighbour,
        ],
    )
    .expect("veth");
    run(
        "ip",
        &[
            "-n", &gateway, "link", "add", INSIDE_DEV, "type", "veth", "peer", "name", "in1",
        ],
    )
    .expect("inside veth");
    run(
        "ip",
        &[
            "-n",
            &gateway,
            "addr",
            "add",
            &format!("{GATEWAY_OUTSIDE}/24"),
            "dev",
            OUTSIDE_DEV,
        ],
    )
    .expect("address");
    run(
        "ip",
        &[
            "-n",
            &gateway,
            "addr",
            "add",
            &format!("{GATEWAY_INSIDE}/24"),
            "dev",
            INSIDE_DEV,
        ],
    )
    .expect("address");
    run(
        "ip",
        &[
            "-n",
            &neighbour,
            "addr",
            "add",
            &format!("{NEIGHBOUR}/24"),
            "dev",
            "eth0",
        ],
    )
    .expect("address");
    for (namespace, device) in [
        (&gateway, OUTSIDE_DEV),
        (&gateway, INSIDE_DEV),
        (&gateway, "in1"),
        (&gateway, "lo"),
        (&neighbour, "eth0"),
        (&neighbour, "lo"),
    ] {
        run("ip", &["-n", namespace, "link", "set", device, "up"]).expect("link up");
    }
    run(
        "ip",
        &[
            "netns",
            "exec",
            &gateway,
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.ip_forward=1",
        ],
    )
    .expect("forwarding");
    let gateway_mac = link_mac(&gateway, OUTSIDE_DEV);

    let (to_gateway, gateway_rx) = mpsc::channel::<bool>();
    let (from_gateway, report_rx) = mpsc::channel::<Result<(), String>>();
    let gateway_thread = in_netns(&gateway, move || -> Result<ProxyArpReport, String> {
        let _tun = tun::create(TUN_DEV, 1500, false, 1).map_err(|e| e.to_string())?;
        let mut rules = NatRules::new();
        rules
            .update(&proxy_arp_policy(true), TUN_DEV)
            .map_err(|e| e.to_string())?;
        let first = rules.proxy_arp().installed().iter().cloned().collect();
        let _ = from_gateway.send(Ok(()));
        // Wait for the ARP checks, then reload without the static rule.
        let _ = gateway_rx.recv_timeout(DEADLINE);
        rules
            .update(&proxy_arp_policy(false), TUN_DEV)
            .map_err(|e| e.to_string())?;
        let after_reload = rules.proxy_arp().installed().iter().cloned().collect();
        let _ = from_gateway.send(Ok(()));
        let _ = gateway_rx.recv_timeout(DEADLINE);
        rules.remove();
        Ok(ProxyArpReport {
            first,
            after_reload,
        })
    });
    report_rx
        .recv_timeout(DEADLINE)
        .expect("gateway setup timed out")
        .expect("gateway setup");

    let resolved_static = resolve(&neighbour, PROXIED_STATIC);
    let resolved_pool: Vec<Option<String>> = PROXIED_POOL
        .iter()
        .map(|a| resolve(&neighbour, a))
        .collect();
    let resolved_unproxied = resolve(&neighbour, UNPROXIED_STATIC);
    let entries_first = proxy_entries(&gateway);
    let dropped = proxy_forward_drops(&gateway);
    let _ = to_gateway.send(true);
    report_rx
        .recv_timeout(DEADLINE)
        .expect("gateway reload timed out")
        .expect("gateway reload");
    let entries_reload = proxy_entries(&gateway);
    let _ = to_gateway.send(true);
    let report = join(gateway_thread).expect("gateway");
    let entries_removed = proxy_entries(&gateway);
    let rules_removed = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["-n", &gateway, "rule", "show"])
            .output()
            .expect("ip rule")
            .stdout,
    )
    .to_string();

    assert_eq!(
        resolved_static.as_deref(),
        Some(gateway_mac.as_str()),
        "the static NAT address resolves to the gateway"
    );
    for (address, resolved) in PROXIED_POOL.iter().zip(&resolved_pool) {
        assert_eq!(
            resolved.as_deref(),
            Some(gateway_mac.as_str()),
            "pool address {address} resolves to the gateway"
        );
    }
    assert_eq!(
        resolved_unproxied, None,
        "the no-proxy-arp address stays unresolved"
    );
    assert_eq!(report.first.len(), 3, "entries: {:?}", report.first);
    assert!(entries_first.contains(PROXIED_STATIC), "{entries_first}");
    assert!(!entries_first.contains(UNPROXIED_STATIC), "{entries_first}");
    assert!(
        !entries_first.contains(GATEWAY_OUTSIDE),
        "PAT to the interface address needs no entry: {entries_first}"
    );
    assert!(
        dropped >= 1,
        "the pings to pool addresses without a translation are dropped"
    );
    assert_eq!(
        report.after_reload.len(),
        2,
        "entries after the reload: {:?}",
        report.after_reload
    );
    assert!(
        !entries_reload.contains(PROXIED_STATIC),
        "the reload removes the static rule's entry: {entries_reload}"
    );
    assert!(entries_reload.contains(PROXIED_POOL[0]), "{entries_reload}");
    assert_eq!(entries_removed.trim(), "", "removal deletes every entry");
    assert!(
        !rules_removed.contains(&clear_path::PROXY_ARP_PRIORITY.to_string()),
        "removal deletes the rule: {rules_removed}"
    );
}

/// Reads the packet counter of the `proxy_arp_forward` drop statement.
fn proxy_forward_drops(ns: &str) -> u64 {
    let output = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "nft",
            "list",
            "chain",
            "ip",
            TABLE,
            "proxy_arp_forward",
        ])
        .output()
        .expect("nft list chain");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let mut words = text.split_whitespace();
    words
        .find(|w| *w == "packets")
        .and_then(|_| words.next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The dynamic NAT pool of the allocation test: two addresses for three inside hosts.
const ALLOCATED_POOL: [&str; 2] = ["203.0.113.130", "203.0.113.131"];
/// The third inside host, which finds the pool exhausted.
const INSIDE_THIRD: &str = "198.18.10.4";

fn pool_policy() -> PolicyConfig {
    let pool = NatMapped::Addresses(vec![AddrRange { start: ip(ALLOCATED_POOL[0]), end: ip(ALLOCATED_POOL[1]) }]);
    PolicyConfig {
        interfaces: vec![interface("inside", 100, GATEWAY_INSIDE), interface("outside", 0, GATEWAY_OUTSIDE)],
        nat_rules: vec![nat_rule(NatSection::Manual, NatKind::Dynamic, pool, 30, "nat (inside,outside) source dynamic inside pool")],
        ..PolicyConfig::default()
    }
}

/// Runs a gateway with `NatRules` for `config` as the outbound worker does: each packet
/// of a pool rule goes back into the TUN device only when its host has a pool address.
/// Returns the number of rejected packets and the pools.
fn lab_gateway(config: PolicyConfig, ready: mpsc::Sender<Result<(), String>>, stop: Arc<AtomicBool>) -> Result<(u64, Arc<clear_path::NatPools>), String> {
    let main = tun::create(TUN_DEV, 1500, false, 1).map_err(|e| e.to_string())?;
    run("ip", &["route", "add", "default", "dev", TUN_DEV, "table", TUNNEL_TABLE])?;
    run("ip", &["rule", "add", "iif", INSIDE_DEV, "lookup", TUNNEL_TABLE, "priority", "1000"])?;
    let engine = PolicyEngine::new(config.clone()).map_err(|e| e.to_string())?;
    let mut rules = NatRules::new();
    rules.update(&config, TUN_DEV).map_err(|e| e.to_string())?;
    let pools = rules.pools();
    let _ = ready.send(Ok(()));

    let mut reader = TunReader::new(1500);
    let mut writer = TunWriter::for_device(&main[0]);
    let mut rejected = 0;
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < DEADLINE {
        if !matches!(tun::wait_readable(&main[0], Duration::from_millis(100)), Ok(true)) {
            continue;
        }
        reader.clear();
        while reader.has_room() && matches!(reader.read(&main[0]), Ok(n) if n > 0) {}
        for index in 0..reader.len() {
            let packet = reader.packet_mut(index);
            let Some(summary) = ipv4_summary(packet) else { continue };
            let decision = engine.evaluate(&summary.flow, "inside", false);
            if !pool_admits(&pools, &decision, &summary.flow) {
                rejected += 1;
                continue;
            }
            writer.push(&packet[..summary.total_len]);
        }
        if let Err(e) = writer.flush(&main[0]) {
            eprintln!("writing into {TUN_DEV} failed: {e}");
        }
    }
    rules.remove();
    Ok((rejected, pools))
}

/// Asks the pool allocator, as the outbound worker does, whether a clear packet of a
/// dynamic NAT pool rule may go back to the kernel.
fn pool_admits(pools: &clear_path::NatPools, decision: &rampart_policy::Decision, flow: &Flow) -> bool {
    let pool_rule = decision.translated.as_ref().filter(|t| matches!(t.kind, rampart_policy::TranslationKind::DynamicNat { .. })).map(|t| t.rule);
    match (pool_rule, flow.src) {
        (Some(rule), IpAddr::V4(host)) => pools.admit(rule, host, Instant::now()) == clear_path::Admission::Pass,
        _ => true,
    }
}

/// Builds the lab of the pool and NAT forms tests: an inside host with three addresses,
/// the gateway and an outside host, or prints a SKIPPED line and returns `None` when the
/// test cannot run here. The namespaces live as long as the returned value.
fn three_address_lab(test: &str, description: &str) -> Option<(Namespaces, [String; 3])> {
    if let Some(reason) = skip_reason() {
        let _ = writeln!(std::io::stderr(), "SKIPPED {description}: {reason}");
        return None;
    }
    let ns = Namespaces::create(test, &["in", "gw", "out"]).expect("creating the namespaces");
    let names = [ns.name(0).to_string(), ns.name(1).to_string(), ns.name(2).to_string()];
    build_gateway_hosts(&names[0], &names[1], &names[2], &[INSIDE_HOST, INSIDE_POOLED, INSIDE_THIRD], &[SERVER_PAT]).expect("building the topology");
    Some((ns, names))
}

/// What the inside host saw in the pool tests: the address each exchange left with.
struct PoolReport {
    first: Result<String, String>,
    second: Result<String, String>,
    third: Result<String, String>,
    first_again: Result<String, String>,
    rejected: u64,
    /// The pool address of each of the three inside hosts at the end.
    addresses: Vec<Option<Ipv4Addr>>,
}

/// Sends a UDP exchange from each of the three inside addresses through a pool of two
/// addresses, then one more from the first. `None` when the test cannot run here.
fn pool_exchanges(test: &str, pat_fallback: bool) -> Option<PoolReport> {
    let (_ns, [inside, gateway, outside]) = three_address_lab(test, "dynamic NAT pool namespace test")?;
    let stop = Arc::new(AtomicBool::new(false));
    let (server_ready, server_started) = mpsc::channel();
    let server = {
        let stop = Arc::clone(&stop);
        in_netns(&outside, move || outside_host(stop, server_ready))
    };
    let mut config = pool_policy();
    config.nat_rules[0].pat_fallback = pat_fallback;
    let (gateway_ready, gateway_started) = mpsc::channel();
    let gateway_thread = {
        let stop = Arc::clone(&stop);
        in_netns(&gateway, move || lab_gateway(config, gateway_ready, stop))
    };
    server_started.recv_timeout(DEADLINE).expect("outside host timed out");
    gateway_started.recv_timeout(DEADLINE).expect("gateway timed out").expect("gateway setup");

    let seen = |source: &'static str| join(in_netns(&inside, move || udp_exchange_with(source, SERVER_PAT, UDP_PORT).map(|(_, seen)| seen)));
    let (first, second, third, first_again) = (seen(INSIDE_HOST), seen(INSIDE_POOLED), seen(INSIDE_THIRD), seen(INSIDE_HOST));
    stop.store(true, Ordering::Relaxed);
    let _ = join(server);
    let (rejected, pools) = join(gateway_thread).expect("gateway");
    let addresses = [INSIDE_HOST, INSIDE_POOLED, INSIDE_THIRD].iter().map(|h| pools.address_of(0, v4(h))).collect();
    Some(PoolReport { first, second, third, first_again, rejected, addresses })
}

/// Two inside hosts leave through a pool of two addresses with one address each, the
/// first host keeps its address, and a third host finds the pool exhausted. The outside
/// host reaches the pool addresses by the gateway's proxy ARP, without routes.
#[test]
fn pool_allocates_per_host() {
    let Some(report) = pool_exchanges("pool", false) else { return };
    assert_eq!(report.first.as_deref(), Ok(ALLOCATED_POOL[0]), "the first host takes the first pool address");
    assert_eq!(report.second.as_deref(), Ok(ALLOCATED_POOL[1]), "the second host takes an address of its own");
    assert_eq!(report.third.as_ref().err().map(|e| e.contains("no UDP reply")), Some(true), "the third host finds the pool exhausted: {:?}", report.third);
    assert_eq!(report.first_again.as_deref(), Ok(ALLOCATED_POOL[0]), "the first host keeps its address");
    assert!(report.rejected >= 1, "the rejected packets are counted");
    assert_eq!(report.addresses, vec![Some(v4(ALLOCATED_POOL[0])), Some(v4(ALLOCATED_POOL[1])), None]);
}

/// With `interface` after the pool, the host that finds the pool exhausted leaves with
/// PAT to the outside address instead of being dropped.
#[test]
fn pool_pat_fallback() {
    let Some(report) = pool_exchanges("poolpat", true) else { return };
    assert_eq!(report.first.as_deref(), Ok(ALLOCATED_POOL[0]), "the first host takes the first pool address");
    assert_eq!(report.second.as_deref(), Ok(ALLOCATED_POOL[1]), "the second host takes an address of its own");
    assert_eq!(report.third.as_deref(), Ok(GATEWAY_OUTSIDE), "the third host falls back to PAT");
    assert_eq!(report.rejected, 0, "nothing is rejected");
}

/// Builds an inside host, a gateway that forwards and an outside host, joined by two
/// veth pairs. The outside host has no routes to mapped addresses, so it reaches them
/// by proxy ARP.
fn build_gateway_hosts(inside: &str, gateway: &str, outside: &str, inside_addresses: &[&str], outside_addresses: &[&str]) -> Result<(), String> {
    run("ip", &["-n", gateway, "link", "add", INSIDE_DEV, "type", "veth", "peer", "name", "eth0", "netns", inside])?;
    run("ip", &["-n", gateway, "link", "add", OUTSIDE_DEV, "type", "veth", "peer", "name", "eth0", "netns", outside])?;
    run("ip", &["-n", gateway, "addr", "add", &format!("{GATEWAY_INSIDE}/24"), "dev", INSIDE_DEV])?;
    run("ip", &["-n", gateway, "addr", "add", &format!("{GATEWAY_OUTSIDE}/24"), "dev", OUTSIDE_DEV])?;
    for address in inside_addresses {
        run("ip", &["-n", inside, "addr", "add", &format!("{address}/24"), "dev", "eth0"])?;
    }
    for address in outside_addresses {
        run("ip", &["-n", outside, "addr", "add", &format!("{address}/24"), "dev", "eth0"])?;
    }
    for (namespace, device) in [(gateway, INSIDE_DEV), (gateway, OUTSIDE_DEV), (inside, "eth0"), (outside, "eth0")] {
        run("ip", &["-n", namespace, "link", "set", device, "up"])?;
    }
    for namespace in [inside, gateway, outside] {
        run("ip", &["-n", namespace, "link", "set", "lo", "up"])?;
    }
    run("ip", &["-n", inside, "route", "add", "default", "via", GATEWAY_INSIDE])?;
    run("ip", &["netns", "exec", gateway, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
}

/// Twice NAT maps this /30 onto the outside subnet's 203.0.113.8/30, with a port change.
const PREFIX_MAPPED: &str = "198.18.99.8";
const PREFIX_REAL: &str = "203.0.113.8";
/// The destination port range that the port range rule maps onto `PORT_RANGE_REAL`.
const PORT_RANGE_MAPPED: PortRange = PortRange { start: 9100, end: 9101 };
const PORT_RANGE_REAL: PortRange = PortRange { start: 9200, end: 9201 };
/// The two mapped addresses of static NAT for the three inside addresses.
const UNEQUAL_MAPPED: [&str; 2] = ["203.0.113.140", "203.0.113.141"];

/// Rules for the three NAT forms that need one map element per address or port.
fn forms_policy() -> PolicyConfig {
    let prefix = |address: &str| AddrRange::v4_prefix(v4(address), 30);
    let tcp = |real: PortRange, mapped: PortRange| Some(NatService { protocol: PROTO_TCP, source_port: false, real, mapped });
    let mut prefix_port = nat_rule(NatSection::Manual, NatKind::Static, NatMapped::Identity, 70, "nat (inside,outside) source static inside inside destination static mapped real service p8079 p8080");
    prefix_port.destination = Some((vec![prefix(PREFIX_MAPPED)], vec![prefix(PREFIX_REAL)]));
    prefix_port.service = tcp(PortRange::single(SERVICE_PORT), PortRange::single(TCP_PORT));
    let mut port_range = nat_rule(NatSection::Manual, NatKind::Static, NatMapped::Identity, 71, "nat (inside,outside) source static inside inside destination static server server service r9100 r9200");
    port_range.destination = Some((vec![host(SERVER_PAT)], vec![host(SERVER_PAT)]));
    port_range.service = tcp(PORT_RANGE_MAPPED, PORT_RANGE_REAL);
    let unequal_mapped = NatMapped::Addresses(vec![AddrRange { start: ip(UNEQUAL_MAPPED[0]), end: ip(UNEQUAL_MAPPED[1]) }]);
    let mut unequal = nat_rule(NatSection::Manual, NatKind::Static, unequal_mapped, 72, "nat (inside,outside) source static three two");
    unequal.real_source = vec![AddrRange { start: ip(INSIDE_HOST), end: ip(INSIDE_THIRD) }];
    PolicyConfig {
        interfaces: vec![interface("inside", 100, GATEWAY_INSIDE), interface("outside", 0, GATEWAY_OUTSIDE)],
        nat_rules: vec![prefix_port, port_range, unequal],
        ..PolicyConfig::default()
    }
}

/// Accepts TCP connections on `ports` until `stop` is set and writes the local port
/// each connection arrived at.
fn port_server(ports: PortRange, stop: Arc<AtomicBool>, ready: mpsc::Sender<()>) {
    let listeners: Vec<TcpListener> = (ports.start..=ports.end).map(|port| TcpListener::bind(("0.0.0.0", port)).expect("binding a port server")).collect();
    for listener in &listeners {
        listener.set_nonblocking(true).expect("nonblocking listener");
    }
    let _ = ready.send(());
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < DEADLINE {
        for listener in &listeners {
            if let Ok((mut stream, _)) = listener.accept() {
                let port = stream.local_addr().map(|a| a.port()).unwrap_or_default();
                let _ = stream.set_nonblocking(false);
                let _ = stream.write_all(port.to_string().as_bytes());
            }
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Accepts one TCP connection on `INBOUND_PORT` and writes the local address it arrived
/// at, which shows the inside address that a mapped address reached.
fn local_address_server(ready: mpsc::Sender<()>) -> Result<IpAddr, String> {
    let (mut stream, _) = accept_inbound(ready)?;
    let local = stream.local_addr().map_err(|e| e.to_string())?.ip();
    stream.write_all(local.to_string().as_bytes()).map_err(|e| e.to_string())?;
    Ok(local)
}

/// A destination prefix translated with a port change, a port range mapped onto another
/// range, and static NAT of three addresses onto two, in both directions.
#[test]
fn nat_forms_with_maps() {
    let Some((_ns, [inside, gateway, outside])) = three_address_lab("forms", "NAT forms namespace test") else { return };
    // Replies to the identity NAT rules go to the inside addresses.
    run("ip", &["-n", &outside, "route", "add", "198.18.10.0/24", "via", GATEWAY_OUTSIDE]).expect("route to the inside");
    run("ip", &["-n", &outside, "addr", "add", &format!("{PREFIX_REAL}/32"), "dev", "eth0"]).expect("second outside address");

    let stop = Arc::new(AtomicBool::new(false));
    let (server_ready, server_started) = mpsc::channel();
    let servers = {
        let (stop, ports_stop, ports_ready) = (Arc::clone(&stop), Arc::clone(&stop), server_ready.clone());
        let echo = in_netns(&outside, move || outside_host(stop, server_ready));
        let ports = in_netns(&outside, move || port_server(PORT_RANGE_REAL, ports_stop, ports_ready));
        (echo, ports)
    };
    let (gateway_ready, gateway_started) = mpsc::channel();
    let gateway_thread = {
        let stop = Arc::clone(&stop);
        in_netns(&gateway, move || lab_gateway(forms_policy(), gateway_ready, stop))
    };
    for _ in 0..2 {
        server_started.recv_timeout(DEADLINE).expect("outside host timed out");
    }
    gateway_started.recv_timeout(DEADLINE).expect("gateway timed out").expect("gateway setup");

    let prefix_target = "198.18.99.9";
    let prefix_port = join(in_netns(&inside, move || tcp_exchange(prefix_target, SERVICE_PORT)));
    let port_range: Vec<Result<String, String>> = (PORT_RANGE_MAPPED.start..=PORT_RANGE_MAPPED.end).map(|port| join(in_netns(&inside, move || tcp_exchange(SERVER_PAT, port)))).collect();
    let seen = |source: &'static str| join(in_netns(&inside, move || udp_exchange_with(source, SERVER_PAT, UDP_PORT).map(|(_, seen)| seen)));
    let unequal: Vec<Result<String, String>> = [INSIDE_HOST, INSIDE_POOLED, INSIDE_THIRD].into_iter().map(seen).collect();
    let (inbound_ready, inbound_started) = mpsc::channel();
    let inbound_server = in_netns(&inside, move || local_address_server(inbound_ready));
    let _ = inbound_started.recv_timeout(DEADLINE);
    let inbound_client = join(in_netns(&outside, move || tcp_exchange(UNEQUAL_MAPPED[1], INBOUND_PORT)));
    let inbound_local = join(inbound_server);
    stop.store(true, Ordering::Relaxed);
    let _ = join(servers.0);
    join(servers.1);
    let _ = join(gateway_thread).expect("gateway");

    assert_eq!(prefix_port.as_deref(), Ok(INSIDE_HOST), "the destination prefix with a port change reaches the real server's port 8080");
    let expected_ports: Vec<Result<String, String>> = (PORT_RANGE_REAL.start..=PORT_RANGE_REAL.end).map(|p| Ok(p.to_string())).collect();
    assert_eq!(port_range, expected_ports, "each mapped port reaches the real port at its offset");
    let expected_sources = [UNEQUAL_MAPPED[0], UNEQUAL_MAPPED[1], UNEQUAL_MAPPED[0]].map(|a| Ok(a.to_string())).to_vec();
    assert_eq!(unequal, expected_sources, "three real addresses wrap around two mapped addresses");
    assert_eq!(inbound_local, Ok(ip(INSIDE_POOLED)), "the second mapped address reaches the second real address");
    assert_eq!(inbound_client.as_deref(), Ok(INSIDE_POOLED), "the connection from the outside completes");
}
