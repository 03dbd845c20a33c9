//! A copy-only tunnel built from rampart's own TUN and UDP paths. Super-packets read
//! from the TUN device are cut into segments behind a 36-octet stand-in for the ESP
//! header, IV and ICV, and leave in UDP GSO sends. Datagrams received with GRO lose the
//! stand-in and are coalesced into the TUN device again. It does every copy and
//! checksum pass of rampart's data plane and no cryptography, no policy and no SA
//! lookup, so its throughput is the ceiling that rampart's data plane can reach on a
//! machine. It is a benchmark reference, not a tunnel: the stand-in protects nothing.
//!
//! Usage: tunfloor --tun NAME --local ADDR --peer ADDR [--port PORT] [--mtu MTU]
//! Runs until it is killed.

use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use quinn_udp::RecvMeta;
use rampart_daemon::tun::{self, RawReader, Read, TunWriter};
use rampart_daemon::udp::OutsideSocket;
use tun_rs::SyncDevice;

/// Octets that ESP with AES-GCM adds besides the outer IP and UDP headers: SPI and
/// sequence number (8), IV (8), padding, pad length and next header (2 to 5), ICV (16).
const OVERHEAD: usize = 36;

/// Outer IPv4 and UDP headers.
const OUTER: usize = 28;

/// Datagrams per receive call, and the room for one GRO batch of 64 KiB each.
const RECV_BATCH: usize = 32;
const RECV_SLOT: usize = 65_536;

/// Send buffer: several 64 KiB super-packets before a send.
const SEND_BUFFER: usize = 512 * 1024;

/// Reads per send batch.
const READS: usize = 128;

struct Args {
    tun: String,
    local: IpAddr,
    peer: IpAddr,
    port: u16,
    mtu: u16,
}

fn parse_args() -> Result<Args, String> {
    let mut tun = None;
    let mut local = None;
    let mut peer = None;
    let mut port = 4500;
    let mut mtu = 1500 - (OUTER + OVERHEAD) as u16;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("missing value after {flag}"))?;
        match flag.as_str() {
            "--tun" => tun = Some(value),
            "--local" => local = Some(value.parse().map_err(|e| format!("invalid --local {value}: {e}"))?),
            "--peer" => peer = Some(value.parse().map_err(|e| format!("invalid --peer {value}: {e}"))?),
            "--port" => port = value.parse().map_err(|e| format!("invalid --port {value}: {e}"))?,
            "--mtu" => mtu = value.parse().map_err(|e| format!("invalid --mtu {value}: {e}"))?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Args {
        tun: tun.ok_or("missing --tun NAME")?,
        local: local.ok_or("missing --local ADDR")?,
        peer: peer.ok_or("missing --peer ADDR")?,
        port,
        mtu,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("tunfloor: {e}\nusage: tunfloor --tun NAME --local ADDR --peer ADDR [--port PORT] [--mtu MTU]");
            return ExitCode::from(2);
        }
    };
    let device = match tun::create(&args.tun, args.mtu, true, 1) {
        Ok(mut devices) => Arc::new(devices.remove(0)),
        Err(e) => {
            eprintln!("tunfloor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let socket = match OutsideSocket::bind(args.local, args.port, Duration::from_millis(200)) {
        Ok(socket) => Arc::new(socket),
        Err(e) => {
            eprintln!("tunfloor: {e}");
            return ExitCode::FAILURE;
        }
    };
    let peer = SocketAddr::new(args.peer, args.port);
    let (inbound_device, inbound_socket) = (Arc::clone(&device), Arc::clone(&socket));
    let inbound = std::thread::Builder::new().name("floor-in".into()).spawn(move || receive(&inbound_device, &inbound_socket));
    if let Err(e) = inbound {
        eprintln!("tunfloor: starting the receive thread failed: {e}");
        return ExitCode::FAILURE;
    }
    send(&device, &socket, peer);
    ExitCode::SUCCESS
}

/// TUN device -> segments behind the stand-in header -> UDP GSO sends.
fn send(device: &SyncDevice, socket: &OutsideSocket, peer: SocketAddr) {
    let mut reader = RawReader::new(device);
    let mut out = vec![0u8; SEND_BUFFER + RECV_SLOT + OVERHEAD];
    let mut lens: Vec<usize> = Vec::with_capacity(4096);
    let mut cursor = 0;
    loop {
        if !matches!(tun::wait_readable(device, Duration::from_millis(200)), Ok(true)) {
            continue;
        }
        for _ in 0..READS {
            let Ok(Some(read)) = reader.read(device) else { break };
            match read {
                Read::Packet(packet) => {
                    out[cursor + OVERHEAD..cursor + OVERHEAD + packet.len()].copy_from_slice(packet);
                    lens.push(OVERHEAD + packet.len());
                    cursor += OVERHEAD + packet.len();
                }
                Read::Segments(segments) => {
                    for index in 0..segments.count() {
                        if cursor + OVERHEAD + segments.segment_len(index) > out.len() {
                            flush(socket, peer, &out, &mut lens);
                            cursor = 0;
                        }
                        let len = segments.write(index, &mut out[cursor + OVERHEAD..]);
                        lens.push(OVERHEAD + len);
                        cursor += OVERHEAD + len;
                    }
                }
                Read::Invalid(_) => {}
            }
            if cursor > SEND_BUFFER {
                flush(socket, peer, &out, &mut lens);
                cursor = 0;
            }
        }
        flush(socket, peer, &out, &mut lens);
        cursor = 0;
    }
}

/// Sends the datagrams laid out back to back in `out`: runs of one size (the last may
/// be shorter) leave in one GSO send, as in rampart's outbound worker.
fn flush(socket: &OutsideSocket, peer: SocketAddr, out: &[u8], lens: &mut Vec<usize>) {
    let max_segments = socket.max_gso_segments().max(1);
    let (mut i, mut start) = (0, 0);
    while i < lens.len() {
        let first = lens[i];
        let (mut end, mut total) = (i + 1, first);
        while end < lens.len() && end - i < max_segments && lens[end - 1] == first && lens[end] <= first && total + lens[end] <= 65_000 {
            total += lens[end];
            end += 1;
        }
        let segment = if end - i > 1 { Some(first) } else { None };
        let _ = socket.send(peer, &out[start..start + total], segment);
        start += total;
        i = end;
    }
    lens.clear();
}

/// UDP with GRO -> stand-in header removed -> coalesced writes into the TUN device.
fn receive(device: &SyncDevice, socket: &OutsideSocket) {
    let mut storage = vec![0u8; RECV_BATCH * RECV_SLOT];
    let mut meta = vec![RecvMeta::default(); RECV_BATCH];
    let mut writer = TunWriter::for_device(device);
    loop {
        let count = {
            let mut chunks = storage.chunks_mut(RECV_SLOT);
            let mut slices: [IoSliceMut<'_>; RECV_BATCH] =
                std::array::from_fn(|_| IoSliceMut::new(chunks.next().unwrap_or_default()));
            match socket.recv(&mut slices, &mut meta) {
                Ok(count) => count,
                Err(_) => continue,
            }
        };
        for (index, m) in meta.iter().take(count).enumerate() {
            let data = &storage[index * RECV_SLOT..index * RECV_SLOT + m.len.min(RECV_SLOT)];
            let stride = if m.stride == 0 { data.len().max(1) } else { m.stride };
            for datagram in data.chunks(stride) {
                let Some(inner) = datagram.get(OVERHEAD..) else { continue };
                if writer.is_full() {
                    let _ = writer.flush(device);
                }
                writer.push(inner);
            }
        }
        let _ = writer.flush(device);
    }
}
