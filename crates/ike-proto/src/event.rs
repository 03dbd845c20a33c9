//! Engine output for its driver: datagrams to send and events.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::config::TrafficSelector;

/// A datagram to send. `payload` never includes the non-ESP marker: the driver prepends
/// four zero octets when either port is 4500 (RFC 3948 section 2.2), except for NAT-T
/// keepalives (`keepalive: true`, payload `[0xFF]`), which go out as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub payload: Vec<u8>,
    pub keepalive: bool,
}

#[derive(Debug)]
pub enum Event {
    IkeSaUp {
        peer: usize,
        info: IkeSaInfo,
    },
    IkeSaDown {
        peer: usize,
        spi_i: u64,
        spi_r: u64,
        reason: String,
    },
    /// Install both directions of a Child SA. On a rekey `replaces` names the old SA's
    /// (spi_in, spi_out): install the new inbound SA at once, move outbound traffic to
    /// the new SA, and keep the old inbound SA until its ChildSaDown arrives.
    ChildSaUp(ChildSaKeys),
    ChildSaDown {
        peer: usize,
        child: usize,
        spi_in: u32,
        spi_out: u32,
        reason: String,
    },
    /// Failover moved this peer's active address, or `clear_peer`/reconfigure reset it.
    PeerSwitched {
        peer: usize,
        from: IpAddr,
        to: IpAddr,
        reason: String,
    },
    /// A negotiation failure worth an operator's attention, already logged.
    Failure {
        peer: Option<usize>,
        remote: SocketAddr,
        reason: String,
    },
}

/// Keys and selectors of one Child SA, both directions. Key fields are zeroized on drop
/// and left out of `Debug`.
pub struct ChildSaKeys {
    pub peer: usize,
    pub child: usize,
    /// Outer addresses. With UDP encapsulation both ports are the NAT-T ports in use;
    /// otherwise ports are 0 and ESP is IP protocol 50.
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub udp_encap: bool,
    pub spi_in: u32,
    pub spi_out: u32,
    pub encr: Encr,
    pub integ: Option<Integ>,
    /// Includes the 4-octet salt for AES-GCM.
    pub encr_key_in: Zeroizing<Vec<u8>>,
    pub integ_key_in: Zeroizing<Vec<u8>>,
    pub encr_key_out: Zeroizing<Vec<u8>>,
    pub integ_key_out: Zeroizing<Vec<u8>>,
    /// Negotiated (possibly narrowed) selectors, from our point of view.
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    pub lifetime: Duration,
    pub lifetime_kilobytes: u64,
    pub pfs_group: Option<DhGroup>,
    pub replaces: Option<(u32, u32)>,
    pub initiator: bool,
}

impl std::fmt::Debug for ChildSaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSaKeys")
            .field("peer", &self.peer)
            .field("child", &self.child)
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("udp_encap", &self.udp_encap)
            .field("spi_in", &format_args!("{:08x}", self.spi_in))
            .field("spi_out", &format_args!("{:08x}", self.spi_out))
            .field("encr", &self.encr)
            .field("integ", &self.integ)
            .field("local_ts", &self.local_ts)
            .field("remote_ts", &self.remote_ts)
            .field("replaces", &self.replaces)
            .finish_non_exhaustive()
    }
}

/// A snapshot of one IKE SA for `show crypto ikev2 sa`; it carries no key material.
#[derive(Clone, Debug, Serialize)]
pub struct IkeSaInfo {
    pub peer: usize,
    pub peer_name: String,
    pub unique_id: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub initiator: bool,
    pub spi_i: u64,
    pub spi_r: u64,
    /// READY, CONNECTING, REKEYING or DELETING.
    pub state: String,
    /// True once IKE_SA_INIT chose a suite. Until then `encr`, `integ`, `prf` and
    /// `dh_group` are placeholders.
    pub negotiated: bool,
    pub encr: Encr,
    pub integ: Option<Integ>,
    pub prf: Prf,
    pub dh_group: DhGroup,
    pub local_id: String,
    pub remote_id: String,
    pub lifetime_secs: u64,
    pub established_secs: u64,
    pub nat_detected_local: bool,
    pub nat_detected_remote: bool,
    /// Message ID of this node's next request (RFC 7296 section 2.2).
    pub next_message_id: u32,
    /// Message ID expected in the peer's next request.
    pub peer_message_id: u32,
    pub children: Vec<ChildSaInfo>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChildSaInfo {
    pub child: usize,
    pub spi_in: u32,
    pub spi_out: u32,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    pub encr: Encr,
    pub integ: Option<Integ>,
    pub pfs_group: Option<DhGroup>,
    pub lifetime_secs: u64,
    pub established_secs: u64,
}
