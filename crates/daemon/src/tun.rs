//! The TUN device that carries inside traffic to and from the data plane.
//!
//! With offload on, the device uses a virtio-net header: the kernel hands over TCP and
//! UDP super-packets (TSO/USO) that tun-rs splits into MTU-sized packets, and packets
//! written back are coalesced (GRO) before they enter the kernel. The device gets no
//! address, because it only needs routes: the kernel forwards inside traffic into it
//! and forwards what the data plane writes as if it came from a neighbor.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use tun_rs::{DeviceBuilder, GROTable, SyncDevice, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_LEN};

use crate::error::Error;

/// Packets one batch of reads or writes handles.
pub const BATCH: usize = IDEAL_BATCH_SIZE;

/// Most segments one TSO/USO super-packet of 64 KiB splits into, at an MSS of at least
/// 1024 octets.
const SPLIT_MAX: usize = 64;

/// Packets the kernel queues towards the data plane before it drops. The TUN default
/// of 500 overflowed under small-packet load while the outbound worker waited for a
/// CPU (measured in the lab: 257135 of 406202 packets dropped with 64-octet UDP).
const TX_QUEUE_LEN: u32 = 8192;

/// Room above the TUN MTU in each packet buffer.
const SLACK: usize = 256;

/// The largest packet a read with offload can return: a 64 KiB super-packet and its
/// virtio-net header.
const SUPER_PACKET: usize = 65535 + VIRTIO_NET_HDR_LEN;

/// Creates the TUN device with `queues` queues (multiqueue when more than one), up and
/// without an address.
pub fn create(name: &str, mtu: u16, offload: bool, queues: usize) -> Result<Vec<SyncDevice>, Error> {
    let first = DeviceBuilder::new()
        .name(name)
        .mtu(mtu)
        .offload(offload)
        .multi_queue(queues > 1)
        .tx_queue_len(TX_QUEUE_LEN)
        .enable(true)
        .build_sync()
        .map_err(|e| Error::io(format!("creating TUN device {name} (is /dev/net/tun available?)"), e))?;
    let mut devices = Vec::with_capacity(queues);
    for _ in 1..queues {
        devices.push(first.try_clone().map_err(|e| Error::io(format!("opening another queue of {name}"), e))?);
    }
    devices.insert(0, first);
    for device in &devices {
        device.set_nonblocking(true).map_err(|e| Error::io(format!("configuring {name}"), e))?;
    }
    Ok(devices)
}

/// Waits until `fd` is readable or `timeout` passes. Returns whether it is readable.
pub fn wait_readable(fd: &impl AsRawFd, timeout: Duration) -> io::Result<bool> {
    wait(fd, libc::POLLIN, timeout)
}

/// Waits until `fd` is writable or `timeout` passes. Returns whether it is writable.
pub fn wait_writable(fd: &impl AsRawFd, timeout: Duration) -> io::Result<bool> {
    wait(fd, libc::POLLOUT, timeout)
}

fn wait(fd: &impl AsRawFd, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    let mut pollfd = libc::pollfd { fd: fd.as_raw_fd(), events, revents: 0 };
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd, and the count passed is 1.
    let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
    match ready {
        -1 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

/// Reusable buffers for batched reads from the TUN device.
pub struct TunReader {
    original: Vec<u8>,
    bufs: Vec<Vec<u8>>,
    sizes: Vec<usize>,
    count: usize,
}

impl TunReader {
    pub fn new(mtu: u16) -> TunReader {
        let packet = usize::from(mtu) + SLACK;
        TunReader {
            original: vec![0; SUPER_PACKET],
            bufs: (0..BATCH).map(|_| vec![0; packet]).collect(),
            sizes: vec![0; BATCH],
            count: 0,
        }
    }

    /// Starts a new batch.
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// Number of packets in the batch.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether the batch has room for one more read: a super-packet may split into as
    /// many segments as `SPLIT_MAX`.
    pub fn has_room(&self) -> bool {
        self.count + SPLIT_MAX <= self.bufs.len()
    }

    /// Appends one read to the batch: one packet, or the segments of one super-packet.
    /// Returns the number of packets added, 0 when nothing was waiting.
    pub fn read(&mut self, device: &SyncDevice) -> io::Result<usize> {
        let start = self.count;
        let (Some(bufs), Some(sizes)) = (self.bufs.get_mut(start..), self.sizes.get_mut(start..)) else {
            return Ok(0);
        };
        match device.recv_multiple(&mut self.original, bufs, sizes, 0) {
            Ok(n) => {
                self.count += n;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Packet `index` of the batch, for `index` below `len()`.
    pub fn packet(&self, index: usize) -> &[u8] {
        match self.bufs.get(index) {
            Some(buf) if index < self.count => &buf[..self.sizes[index].min(buf.len())],
            _ => &[],
        }
    }

    /// Packet `index` of the batch, for `index` below `len()`.
    pub fn packet_mut(&mut self, index: usize) -> &mut [u8] {
        match self.bufs.get_mut(index) {
            Some(buf) if index < self.count => {
                let len = self.sizes[index].min(buf.len());
                &mut buf[..len]
            }
            _ => &mut [],
        }
    }
}

/// Reusable buffers for batched writes into the TUN device.
pub struct TunWriter {
    bufs: Vec<Vec<u8>>,
    count: usize,
    gro: GROTable,
    /// Where each packet starts in its buffer: after room for the virtio-net header.
    offset: usize,
}

impl TunWriter {
    pub fn new(mtu: u16) -> TunWriter {
        let offset = VIRTIO_NET_HDR_LEN;
        // Coalescing appends segments to the first packet of a flow, up to 64 KiB.
        let capacity = SUPER_PACKET + offset;
        let bufs = (0..BATCH)
            .map(|_| {
                let mut b = Vec::with_capacity(capacity.max(usize::from(mtu) + SLACK));
                b.resize(offset, 0);
                b
            })
            .collect();
        TunWriter { bufs, count: 0, gro: GROTable::new(), offset }
    }

    pub fn is_full(&self) -> bool {
        self.count == self.bufs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Queues a copy of `packet`. The caller flushes first when the batch is full.
    pub fn push(&mut self, packet: &[u8]) {
        let Some(buf) = self.bufs.get_mut(self.count) else { return };
        buf.clear();
        buf.resize(self.offset, 0);
        buf.extend_from_slice(packet);
        self.count += 1;
    }

    /// Writes every queued packet. The batch is emptied even when the write fails, so a
    /// broken packet cannot block the ones after it.
    pub fn flush(&mut self, device: &SyncDevice) -> io::Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let result = device.send_multiple(&mut self.gro, &mut self.bufs[..self.count], self.offset);
        self.count = 0;
        result.map(|_| ())
    }
}
