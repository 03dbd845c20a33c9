//! The outside UDP sockets: port 500 for IKE, port 4500 for IKE behind the non-ESP
//! marker and for ESP in UDP (RFC 3948). quinn-udp provides batched receive (recvmmsg
//! with GRO) and segmented send (UDP GSO).

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use quinn_udp::{RecvMeta, Transmit, UdpSocketState};
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::Error;
use crate::nat_t::{self, NON_ESP_MARKER};

pub const IKE_PORT: u16 = 500;
pub const NAT_T_PORT: u16 = 4500;

/// Socket buffer size for both directions. With 4 MiB the receiving end of an
/// rampart-to-rampart tunnel overflowed under four TCP streams while its worker waited
/// for a CPU (UdpRcvbufErrors, lab run on 2 vCPUs); 16 MiB absorbed those bursts.
pub const SOCKET_BUFFER: usize = 16 << 20;

/// Sets both socket buffers to `bytes` with SO_RCVBUFFORCE and SO_SNDBUFFORCE, which
/// CAP_NET_ADMIN allows beyond net.core.rmem_max and wmem_max (212992 by default).
/// Larger buffers absorb bursts between two batches; a failure only costs speed.
pub fn force_buffer_sizes(socket: &impl std::os::fd::AsRawFd, bytes: usize) {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for option in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
        // SAFETY: a valid socket descriptor and a pointer to a c_int with its size.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            tracing::debug!(option, error = %std::io::Error::last_os_error(), "raising a socket buffer failed");
        }
    }
}

/// Maximum wait for room in the send buffer before a send fails.
const SEND_WAIT: Duration = Duration::from_millis(20);

/// A bound UDP socket with its quinn-udp state (GSO/GRO capabilities).
pub struct OutsideSocket {
    pub socket: UdpSocket,
    pub state: UdpSocketState,
    pub local: SocketAddr,
    read_timeout: Duration,
}

impl OutsideSocket {
    /// Binds `addr:port`. `recv` waits at most `read_timeout`, so that a worker notices
    /// shutdown.
    pub fn bind(addr: IpAddr, port: u16, read_timeout: Duration) -> Result<OutsideSocket, Error> {
        let local = SocketAddr::new(addr, port);
        let context = |what: &str| format!("{what} UDP socket {local}");
        let socket = Socket::new(Domain::for_address(local), Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| Error::io(context("creating"), e))?;
        socket.set_reuse_address(true).map_err(|e| Error::io(context("configuring"), e))?;
        socket.bind(&local.into()).map_err(|e| Error::io(context("binding"), e))?;
        // Non-blocking, because a blocking recvmmsg waits until the whole batch is full.
        socket.set_nonblocking(true).map_err(|e| Error::io(context("configuring"), e))?;
        let socket: UdpSocket = socket.into();
        let state = UdpSocketState::new((&socket).into()).map_err(|e| Error::io(context("configuring"), e))?;
        force_buffer_sizes(&socket, SOCKET_BUFFER);
        Ok(OutsideSocket { socket, state, local, read_timeout })
    }

    /// Receives a batch of whatever datagrams are queued, waiting for the first one at
    /// most the read timeout. Returns 0 when nothing arrived.
    pub fn recv(&self, bufs: &mut [IoSliceMut<'_>], meta: &mut [RecvMeta]) -> io::Result<usize> {
        if !crate::tun::wait_readable(&self.socket, self.read_timeout)? {
            return Ok(0);
        }
        match self.state.recv((&self.socket).into(), bufs, meta) {
            Ok(n) => Ok(n),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Sends `contents` to `destination`, as one datagram or, with `segment_size`, as
    /// datagrams of that size through UDP GSO.
    pub fn send(&self, destination: SocketAddr, contents: &[u8], segment_size: Option<usize>) -> io::Result<()> {
        let transmit = Transmit { destination, ecn: None, contents, segment_size, src_ip: None };
        match self.state.try_send((&self.socket).into(), &transmit) {
            // A full send buffer drains within microseconds; wait once instead of dropping.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                crate::tun::wait_writable(&self.socket, SEND_WAIT)?;
                self.state.try_send((&self.socket).into(), &transmit)
            }
            result => result,
        }
    }

    /// The number of segments one GSO send may carry; 1 without GSO.
    pub fn max_gso_segments(&self) -> usize {
        self.state.max_gso_segments()
    }
}

/// The two outside UDP sockets.
pub struct OutsideUdp {
    pub ike: OutsideSocket,
    pub nat_t: OutsideSocket,
}

impl OutsideUdp {
    pub fn bind(addr: IpAddr, read_timeout: Duration) -> Result<OutsideUdp, Error> {
        Ok(OutsideUdp {
            ike: OutsideSocket::bind(addr, IKE_PORT, read_timeout)?,
            nat_t: OutsideSocket::bind(addr, NAT_T_PORT, read_timeout)?,
        })
    }

    /// Sends an IKE message from the engine's local port, with the non-ESP marker in
    /// front when either port is 4500. A NAT-keepalive goes out as it is.
    pub fn send_ike(&self, local_port: u16, remote: SocketAddr, payload: &[u8], keepalive: bool) -> io::Result<()> {
        let socket = if local_port == NAT_T_PORT { &self.nat_t } else { &self.ike };
        if keepalive || !nat_t::needs_marker(local_port, remote.port()) {
            return socket.send(remote, payload, None);
        }
        let mut datagram = Vec::with_capacity(NON_ESP_MARKER.len() + payload.len());
        datagram.extend_from_slice(&NON_ESP_MARKER);
        datagram.extend_from_slice(payload);
        socket.send(remote, &datagram, None)
    }
}
