//! Plain ESP (IP protocol 50) through a raw socket, for SAs negotiated without NAT
//! traversal.
//!
//! An IPv4 raw socket delivers each packet with its IP header, and the kernel writes the
//! IP header on send because IP_HDRINCL stays off.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::error::Error;

const IPPROTO_ESP: i32 = 50;

pub struct RawEsp {
    socket: Socket,
}

impl RawEsp {
    pub fn open(local: IpAddr, read_timeout: Duration) -> Result<RawEsp, Error> {
        let socket = Socket::new(Domain::for_address(SocketAddr::new(local, 0)), Type::RAW, Some(Protocol::from(IPPROTO_ESP)))
            .map_err(|e| Error::io("creating the raw ESP socket (IP protocol 50)", e))?;
        socket
            .bind(&SocketAddr::new(local, 0).into())
            .map_err(|e| Error::io(format!("binding the raw ESP socket to {local}"), e))?;
        socket
            .set_read_timeout(Some(read_timeout))
            .map_err(|e| Error::io("configuring the raw ESP socket", e))?;
        let _ = socket.set_recv_buffer_size(4 << 20);
        let _ = socket.set_send_buffer_size(4 << 20);
        Ok(RawEsp { socket })
    }

    /// Receives one packet into `buf`. Returns the ESP payload's range inside `buf` (after
    /// the IPv4 header) and the sender, or `None` when the read timeout expired.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(std::ops::Range<usize>, IpAddr)>> {
        // SAFETY: MaybeUninit<u8> has the layout of u8, and recv_from only writes.
        let uninit = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        let (len, from) = match self.socket.recv_from(uninit) {
            Ok(r) => r,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(from) = from.as_socket().map(|s| s.ip()) else {
            return Ok(None);
        };
        let Some(&first) = buf.first() else { return Ok(None) };
        let header_len = usize::from(first & 0x0F) * 4;
        if first >> 4 != 4 || header_len < 20 || header_len > len {
            return Ok(None);
        }
        Ok(Some((header_len..len, from)))
    }

    /// Sends one ESP packet (starting at the SPI) to `peer`.
    pub fn send(&self, peer: IpAddr, esp: &[u8]) -> io::Result<()> {
        let addr: SockAddr = SocketAddr::new(peer, 0).into();
        self.socket.send_to(esp, &addr).map(|_| ())
    }
}

/// A raw ICMP socket for the errors the gateway itself originates (fragmentation
/// needed). The kernel writes the IP header with a local source address: written into
/// the TUN device instead, a packet from the gateway's own address would be dropped as
/// a martian.
pub struct IcmpSender {
    socket: Socket,
}

impl IcmpSender {
    pub fn open() -> Result<IcmpSender, Error> {
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4))
            .map_err(|e| Error::io("creating the raw ICMP socket", e))?;
        socket.set_nonblocking(true).map_err(|e| Error::io("configuring the raw ICMP socket", e))?;
        Ok(IcmpSender { socket })
    }

    /// Sends the ICMP message of `packet`, a complete IPv4 packet built by
    /// `mtu::frag_needed`, to its destination address.
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        let Some(dst) = packet.get(16..20) else { return Ok(()) };
        let dst = std::net::Ipv4Addr::new(dst[0], dst[1], dst[2], dst[3]);
        let icmp = packet.get(20..).unwrap_or_default();
        let addr: SockAddr = SocketAddr::new(IpAddr::V4(dst), 0).into();
        self.socket.send_to(icmp, &addr).map(|_| ())
    }
}
