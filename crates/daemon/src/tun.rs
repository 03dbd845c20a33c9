//! The TUN device that carries inside traffic to and from the data plane.
//!
//! With offload on, the device uses a virtio-net header: the kernel hands over TCP and
//! UDP super-packets (TSO/USO) that the data plane cuts into segments (`gso`), and
//! packets written back are coalesced (`gro`) before they enter the kernel. The device gets no
//! address, because it only needs routes: the kernel forwards inside traffic into it
//! and forwards what the data plane writes as if it came from a neighbor.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use tun_rs::{DeviceBuilder, SyncDevice, IDEAL_BATCH_SIZE};

use crate::error::Error;
use crate::gro::Coalescer;
use crate::gso::{self, complete_checksum, OffloadError, Segments, VnetHdr, F_NEEDS_CSUM, GSO_NONE, VNET_HDR_LEN};

/// Packets one batch of reads or writes handles.
pub const BATCH: usize = IDEAL_BATCH_SIZE;

/// Packets the kernel queues towards the data plane before it drops. The TUN default
/// of 500 overflowed under small-packet load while the outbound worker waited for a
/// CPU (measured in the lab: 257135 of 406202 packets dropped with 64-octet UDP).
const TX_QUEUE_LEN: u32 = 8192;

/// Room above the TUN MTU in each packet buffer.
const SLACK: usize = 256;

/// The largest packet a read with offload can return: a 64 KiB super-packet and its
/// virtio-net header.
pub const SUPER_PACKET: usize = 65535 + VNET_HDR_LEN;

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

/// One read from the TUN device.
pub enum Read<'a> {
    /// A packet with complete checksums.
    Packet(&'a mut [u8]),
    /// A TSO/USO super-packet, to be cut into segments.
    Segments(Segments<'a>),
    /// A read the data plane cannot use, with the reason.
    Invalid(OffloadError),
}

/// One read from the TUN device kept in a buffer of the caller: a packet with complete
/// checksums, or a super-packet with the virtio-net header that describes its segments,
/// at `offset..offset + len` of that buffer.
#[derive(Clone, Copy, Debug)]
pub struct Stored {
    pub offset: usize,
    pub len: usize,
    pub segments: Option<VnetHdr>,
}

impl Stored {
    /// Returns the read, from the buffer that `read_stored` filled.
    pub fn read<'a>(&self, buf: &'a mut [u8]) -> Read<'a> {
        let packet = &mut buf[self.offset..self.offset + self.len];
        match self.segments {
            None => Read::Packet(packet),
            Some(hdr) => match Segments::new(&hdr, packet) {
                Ok(segments) => Read::Segments(segments),
                Err(e) => Read::Invalid(e),
            },
        }
    }
}

/// Reads what the kernel queued next into `buf`, which must hold a 64 KiB super-packet
/// and its virtio-net header, and completes a partial checksum. Returns `None` when
/// nothing was waiting, and an error inside `Some` when the read is unusable.
pub fn read_stored(device: &SyncDevice, vnet: bool, buf: &mut [u8]) -> io::Result<Option<Result<Stored, OffloadError>>> {
    let len = match device.recv(buf) {
        Ok(len) => len,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
        Err(e) => return Err(e),
    };
    if !vnet {
        return Ok(Some(Ok(Stored { offset: 0, len, segments: None })));
    }
    let Some(hdr) = VnetHdr::parse(&buf[..len]) else {
        return Ok(Some(Err(OffloadError::Malformed("read shorter than the virtio-net header"))));
    };
    let stored = Stored { offset: VNET_HDR_LEN, len: len - VNET_HDR_LEN, segments: None };
    let packet = &mut buf[VNET_HDR_LEN..len];
    if hdr.gso_type == GSO_NONE {
        if hdr.flags & F_NEEDS_CSUM != 0
            && let Err(e) = complete_checksum(&hdr, packet)
        {
            return Ok(Some(Err(e)));
        }
        return Ok(Some(Ok(stored)));
    }
    // Checked once here, so that `Stored::read` finds a valid super-packet later.
    if let Err(e) = Segments::new(&hdr, packet) {
        return Ok(Some(Err(e)));
    }
    Ok(Some(Ok(Stored { segments: Some(hdr), ..stored })))
}

/// A buffer for single reads from the TUN device, each one packet or one super-packet.
pub struct RawReader {
    buf: Vec<u8>,
    /// Whether reads start with a virtio-net header.
    vnet: bool,
}

impl RawReader {
    pub fn new(device: &SyncDevice) -> RawReader {
        RawReader { buf: vec![0; SUPER_PACKET], vnet: device.tcp_gso() }
    }

    /// Reads what the kernel queued next. Returns `None` when nothing was waiting.
    pub fn read(&mut self, device: &SyncDevice) -> io::Result<Option<Read<'_>>> {
        Ok(read_stored(device, self.vnet, &mut self.buf)?.map(|stored| match stored {
            Ok(stored) => stored.read(&mut self.buf),
            Err(e) => Read::Invalid(e),
        }))
    }
}

/// Reusable buffers for batched reads from the TUN device, with super-packets cut into
/// their segments.
pub struct TunReader {
    raw: Option<RawReader>,
    bufs: Vec<Vec<u8>>,
    sizes: Vec<usize>,
    count: usize,
}

impl TunReader {
    pub fn new(mtu: u16) -> TunReader {
        let packet = usize::from(mtu) + SLACK;
        let slots = BATCH + gso::MAX_SEGMENTS;
        TunReader { raw: None, bufs: (0..slots).map(|_| vec![0; packet]).collect(), sizes: vec![0; slots], count: 0 }
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

    /// Whether the batch has room for one more read, which may be a super-packet of as
    /// many segments as `gso::MAX_SEGMENTS`.
    pub fn has_room(&self) -> bool {
        self.count < BATCH
    }

    /// Appends one read to the batch: one packet, or the segments of one super-packet.
    /// Returns the number of packets added, 0 when nothing was waiting.
    pub fn read(&mut self, device: &SyncDevice) -> io::Result<usize> {
        let raw = self.raw.get_or_insert_with(|| RawReader::new(device));
        let start = self.count;
        let added = match raw.read(device)? {
            None => return Ok(0),
            Some(Read::Invalid(e)) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            Some(Read::Packet(packet)) => {
                let buf = &mut self.bufs[start];
                if packet.len() > buf.len() {
                    buf.resize(packet.len(), 0);
                }
                buf[..packet.len()].copy_from_slice(packet);
                self.sizes[start] = packet.len();
                1
            }
            Some(Read::Segments(segments)) => {
                let count = segments.count().min(self.bufs.len() - start);
                for index in 0..count {
                    let buf = &mut self.bufs[start + index];
                    let len = segments.segment_len(index);
                    if len > buf.len() {
                        buf.resize(len, 0);
                    }
                    self.sizes[start + index] = segments.write(index, buf);
                }
                count
            }
        };
        self.count += added;
        Ok(added)
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

/// Reusable buffers for batched writes into the TUN device, coalesced into
/// super-packets where the device takes them (see `gro`).
pub struct TunWriter {
    batch: Coalescer,
}

impl TunWriter {
    /// Creates a writer for `device`, coalescing as far as its offloads allow.
    pub fn for_device(device: &SyncDevice) -> TunWriter {
        TunWriter { batch: Coalescer::new(BATCH, device.tcp_gso(), device.udp_gso()) }
    }

    pub fn is_full(&self) -> bool {
        self.batch.is_full()
    }

    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// Queues a copy of `packet`. The caller flushes first when the batch is full.
    pub fn push(&mut self, packet: &[u8]) {
        self.batch.push(packet);
    }

    /// Writes every queued packet. The batch is emptied even when a write fails, so a
    /// broken packet cannot block the ones after it.
    pub fn flush(&mut self, device: &SyncDevice) -> io::Result<()> {
        self.batch.flush_with(|buf| device.send(buf))
    }
}
