//! Configuration of the IKEv2 engine: what the front end lowers an ASA configuration into.
//!
//! The engine never reads ASA text. `rampart-asa` builds these values from `crypto ikev2
//! policy`, `crypto ipsec ikev2 ipsec-proposal`, `crypto map` and `tunnel-group` lines.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use serde::Serialize;
use zeroize::Zeroizing;

/// One IKE SA proposal, built from one `crypto ikev2 policy`. Lists keep the configured
/// order, so `group 5 2` sends its first KE payload for group 5.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IkeProposal {
    /// ASA policy priority; lower is preferred.
    pub priority: u16,
    pub encryption: Vec<Encr>,
    /// Empty when every cipher is an AEAD (RFC 7296 section 3.3: no INTEG with AEAD).
    pub integrity: Vec<Integ>,
    pub prf: Vec<Prf>,
    pub dh_groups: Vec<DhGroup>,
    /// Local IKE SA lifetime; not negotiated in IKEv2, each side rekeys on its own timer.
    pub lifetime: Duration,
}

/// One ESP proposal, built from one `crypto ipsec ikev2 ipsec-proposal`. Extended
/// sequence numbers are never offered (the proposal always carries ESN = no).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EspProposal {
    pub name: String,
    pub encryption: Vec<Encr>,
    /// Ignored for AEAD ciphers; required for the others.
    pub integrity: Vec<Integ>,
}

/// An IKE identity (RFC 7296 section 3.5).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Identity {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Fqdn(String),
    Rfc822(String),
    KeyId(Vec<u8>),
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Ipv4(a) => write!(f, "{a}"),
            Identity::Ipv6(a) => write!(f, "{a}"),
            Identity::Fqdn(s) => write!(f, "{s}"),
            Identity::Rfc822(s) => write!(f, "{s}"),
            Identity::KeyId(k) => {
                for b in k {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

/// Local identity selection (`crypto isakmp identity`). `Auto` sends the
/// outside address for pre-shared key authentication, as the ASA does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum LocalIdentity {
    Auto,
    Address,
    Hostname(String),
    KeyId(String),
    /// rampart extension, not ASA syntax: an ID_RFC822_ADDR identity.
    Email(String),
}

/// `peer-id-validate` of a tunnel group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PeerIdValidate {
    /// `req`, the default: the peer's identity must match the tunnel group's address.
    Required,
    /// `cert`: validate only when a certificate is used, which PSK tunnels never do.
    Certificate,
    /// `nocheck`: accept any IDr/IDi.
    NoCheck,
}

/// A pre-shared key. Its bytes are zeroized on drop and never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Psk(pub Zeroizing<Vec<u8>>);

impl Psk {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Psk {
        Psk(Zeroizing::new(bytes.into()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Psk(*****)")
    }
}

impl Serialize for Psk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("*****")
    }
}

/// An IKEv2 traffic selector (RFC 7296 section 3.13.1): an address range, an IP protocol
/// (0 = any) and a port range. ICMP type/code travel in the port fields (RFC 4301 4.4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TrafficSelector {
    pub protocol: u8,
    pub start_addr: IpAddr,
    pub end_addr: IpAddr,
    pub start_port: u16,
    pub end_port: u16,
}

impl TrafficSelector {
    /// Returns a selector for every IPv4 address, protocol and port.
    pub const fn any_v4() -> TrafficSelector {
        TrafficSelector {
            protocol: 0,
            start_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            end_addr: IpAddr::V4(Ipv4Addr::BROADCAST),
            start_port: 0,
            end_port: 65535,
        }
    }
}

/// One Child SA template: a crypto map entry's permit ACE and its ESP settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChildConfig {
    /// Crypto map name and sequence number, for logs and `show crypto ipsec sa`.
    pub crypto_map: String,
    pub sequence: u32,
    /// The ACE text, printed as `access-list NAME extended permit ...`.
    pub ace: String,
    pub local_ts: TrafficSelector,
    pub remote_ts: TrafficSelector,
    pub proposals: Vec<EspProposal>,
    /// `set pfs groupN`; used in CREATE_CHILD_SA only, never in IKE_AUTH.
    pub pfs: Option<DhGroup>,
    pub lifetime: Duration,
    /// Soft limit on traffic volume; 0 means unlimited.
    pub lifetime_kilobytes: u64,
}

/// Dead peer detection (`isakmp keepalive threshold T retry R`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DpdConfig {
    /// Idle time after which a liveness check is sent; `None` disables DPD.
    pub interval: Option<Duration>,
    /// Interval between retransmissions of an unanswered liveness check.
    pub retry: Duration,
}

/// One remote gateway of a crypto map entry's `set peer` list, with the tunnel group
/// that authenticates it. On an ASA an ipsec-l2l tunnel group is named by the peer's
/// address, so the primary and the backup each have their own keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RemotePeer {
    pub addr: IpAddr,
    /// Tunnel group name (the peer's address for ipsec-l2l groups).
    pub tunnel_group: String,
    /// Identity the peer is expected to send, when known. With `peer-id-validate
    /// nocheck` any identity is accepted; a responder without a matching address may
    /// still select this peer by identity.
    pub remote_identity: Option<Identity>,
    pub peer_id_validate: PeerIdValidate,
    /// Signs our AUTH payload (`ikev2 local-authentication pre-shared-key`).
    pub local_psk: Psk,
    /// Verifies the peer's AUTH payload (`ikev2 remote-authentication pre-shared-key`).
    pub remote_psk: Psk,
    pub dpd: DpdConfig,
}

/// A peer: one crypto map entry with peers. As initiator the engine works through
/// `remotes` in order, primary first, and only one of them carries traffic at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerConfig {
    /// Crypto map name and sequence, such as `outside_map 65000`, for logs.
    pub name: String,
    pub local_addr: IpAddr,
    pub remotes: Vec<RemotePeer>,
    pub local_identity: LocalIdentity,
    pub ike_proposals: Vec<IkeProposal>,
    pub children: Vec<ChildConfig>,
}

/// Retransmission policy (RFC 7296 section 2.1): the timeout doubles after each try.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RetransmitConfig {
    pub initial_timeout: Duration,
    pub max_tries: u32,
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        // Five tries from 1 s (1+2+4+8+16 s) give up after about 31 s.
        RetransmitConfig {
            initial_timeout: Duration::from_secs(1),
            max_tries: 5,
        }
    }
}

/// Engine-wide settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IkeConfig {
    pub peers: Vec<PeerConfig>,
    pub retransmit: RetransmitConfig,
    /// Half-open IKE SAs above which the responder demands a COOKIE (RFC 7296 2.6).
    pub cookie_threshold: usize,
    /// Send IKEV2_FRAGMENTATION_SUPPORTED and fragment large messages (RFC 7383).
    pub fragmentation: bool,
    /// Maximum IKE message size on the wire before fragmentation, in octets.
    pub fragment_mtu: usize,
    /// Encapsulate ESP in UDP even when no NAT is in the path, as strongSwan's
    /// `encap = yes` does. IKE_SA_INIT then carries a NAT_DETECTION_SOURCE_IP of
    /// random octets (the initiator's request, the responder's response), which
    /// matches no real address, so the peer believes this node is behind a NAT and
    /// encapsulates too (RFC 7296 section 2.23). This node treats a NAT as detected
    /// on its own side: IKE moves to UDP 4500 with the non-ESP marker, Child SAs are
    /// UDP-encapsulated and NAT-T keepalives are sent. `show crypto ikev2 sa` reports
    /// the faked NAT as local. Off by default.
    pub force_udp_encap: bool,
}
