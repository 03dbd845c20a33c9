//! Plain ESP (IP protocol 50) through a raw socket, for SAs negotiated without NAT
//! traversal.
//!
//! An IPv4 raw socket delivers each packet with its IP header, and the kernel writes the
//! IP header on send because IP_HDRINCL stays off.

use std::io;
use std::os::fd::AsRawFd;
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
        crate::udp::force_buffer_sizes(&socket, crate::udp::SOCKET_BUFFER);
        Ok(RawEsp { socket })
    }

    /// Receives up to `batch.len()` packets with one recvmmsg call, waiting at most the
    /// read timeout for the first. Returns the number received; for each, `batch`
    /// records the ESP payload's range in its buffer and the sender.
    pub fn recv_many(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        let count = batch.prepare();
        // SAFETY: `prepare` pointed every header at a live buffer and address in `batch`,
        // which outlives the call; the count matches the header array.
        let n = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                batch.headers.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        Ok(batch.finish(n as usize))
    }

    /// Sends ESP packets (each starting at the SPI) with sendmmsg, up to the batch's
    /// size per call. Returns the number the kernel took; IPv6 peers are skipped.
    pub fn send_many<'a>(&self, batch: &mut SendBatch, packets: impl Iterator<Item = (&'a [u8], IpAddr)>) -> io::Result<usize> {
        let mut count = 0;
        for (esp, peer) in packets {
            let IpAddr::V4(peer) = peer else { continue };
            if count == batch.headers.len() {
                break;
            }
            batch.addrs[count] = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr { s_addr: u32::from(peer).to_be() },
                sin_zero: [0; 8],
            };
            batch.iovecs[count] = libc::iovec { iov_base: esp.as_ptr() as *mut libc::c_void, iov_len: esp.len() };
            count += 1;
        }
        for i in 0..count {
            let header = &mut batch.headers[i];
            header.msg_hdr.msg_name = (&mut batch.addrs[i] as *mut libc::sockaddr_in).cast();
            header.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            header.msg_hdr.msg_iov = &mut batch.iovecs[i];
            header.msg_hdr.msg_iovlen = 1;
            header.msg_len = 0;
        }
        let mut sent = 0;
        while sent < count {
            // SAFETY: headers[sent..count] point at addresses in `batch` and at the
            // packets borrowed for this call, all alive until it returns; the kernel only
            // reads the iovec buffers.
            let n = unsafe {
                libc::sendmmsg(self.socket.as_raw_fd(), batch.headers[sent..].as_mut_ptr(), (count - sent) as libc::c_uint, 0)
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return if sent > 0 { Ok(sent) } else { Err(e) };
            }
            sent += n as usize;
        }
        Ok(sent)
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

/// Reusable buffers and headers for `RawEsp::recv_many`.
pub struct RecvBatch {
    buffers: Vec<Vec<u8>>,
    iovecs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_in>,
    headers: Vec<libc::mmsghdr>,
    /// ESP payload range in each buffer and the sender, `None` when the packet was not
    /// a well-formed IPv4 datagram.
    received: Vec<Option<(std::ops::Range<usize>, IpAddr)>>,
}

// SAFETY: the raw pointers in `iovecs` and `headers` point into this struct's own
// buffers and are rewritten by `prepare` before every use, so moving the whole batch to
// another thread cannot leave them pointing anywhere else.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    pub fn new(count: usize, buffer_len: usize) -> RecvBatch {
        RecvBatch {
            buffers: (0..count).map(|_| vec![0; buffer_len]).collect(),
            // SAFETY: iovec, sockaddr_in and mmsghdr are plain C structs for which all
            // zero bytes is a valid value.
            iovecs: vec![unsafe { std::mem::zeroed() }; count],
            addrs: vec![unsafe { std::mem::zeroed() }; count],
            headers: vec![unsafe { std::mem::zeroed() }; count],
            received: vec![None; count],
        }
    }

    fn prepare(&mut self) -> usize {
        for i in 0..self.buffers.len() {
            self.iovecs[i] = libc::iovec { iov_base: self.buffers[i].as_mut_ptr().cast(), iov_len: self.buffers[i].len() };
            let header = &mut self.headers[i];
            header.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_in).cast();
            header.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            header.msg_hdr.msg_iov = &mut self.iovecs[i];
            header.msg_hdr.msg_iovlen = 1;
            header.msg_hdr.msg_control = std::ptr::null_mut();
            header.msg_hdr.msg_controllen = 0;
            header.msg_len = 0;
        }
        self.buffers.len()
    }

    fn finish(&mut self, count: usize) -> usize {
        for i in 0..count {
            let len = (self.headers[i].msg_len as usize).min(self.buffers[i].len());
            let from = IpAddr::V4(std::net::Ipv4Addr::from(u32::from_be(self.addrs[i].sin_addr.s_addr)));
            self.received[i] = ipv4_payload(&self.buffers[i][..len]).map(|range| (range, from));
        }
        count
    }

    /// Packet `index` of the last receive: its buffer, the ESP range in it and the
    /// sender.
    pub fn packet_mut(&mut self, index: usize) -> Option<(&mut [u8], std::ops::Range<usize>, IpAddr)> {
        let (range, from) = self.received.get(index)?.clone()?;
        Some((self.buffers.get_mut(index)?.as_mut_slice(), range, from))
    }
}

/// The payload range of an IPv4 datagram as a raw socket delivers it.
fn ipv4_payload(packet: &[u8]) -> Option<std::ops::Range<usize>> {
    let first = *packet.first()?;
    let header_len = usize::from(first & 0x0F) * 4;
    if first >> 4 != 4 || header_len < 20 || header_len > packet.len() {
        return None;
    }
    Some(header_len..packet.len())
}

/// Reusable headers for `RawEsp::send_many`.
pub struct SendBatch {
    iovecs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_in>,
    headers: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers are written by `send_many` right before the system call and
// never read afterwards, so moving the batch between threads is harmless.
unsafe impl Send for SendBatch {}

impl SendBatch {
    pub fn new(count: usize) -> SendBatch {
        SendBatch {
            // SAFETY: all-zero bytes are valid values of these plain C structs.
            iovecs: vec![unsafe { std::mem::zeroed() }; count],
            addrs: vec![unsafe { std::mem::zeroed() }; count],
            headers: vec![unsafe { std::mem::zeroed() }; count],
        }
    }
}
