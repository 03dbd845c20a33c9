//! The JSON documents that the control socket returns for each `show` command.
//!
//! The daemon fills these types and serializes them; the CLI deserializes them and
//! renders them. Algorithm names are rampart's (`AES_CBC-256`, `HMAC_SHA1_96`, the
//! strongSwan spelling), and the renderer maps them to the ASA's tokens. Fields added
//! later carry `#[serde(default)]`, so a newer CLI still reads an older gateway's reply.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// An IKEv2 traffic selector (RFC 7296 section 3.13.1): protocol 0 means any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selector {
    pub protocol: u8,
    pub start_addr: IpAddr,
    pub end_addr: IpAddr,
    pub start_port: u16,
    pub end_port: u16,
}

/// One IKE SA of `show crypto ikev2 sa`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IkeSa {
    /// Index of the crypto map entry in the IKE engine's configuration.
    pub peer: usize,
    /// Crypto map name and sequence number, such as `outside_map 65000`.
    pub peer_name: String,
    pub unique_id: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub initiator: bool,
    pub spi_i: u64,
    pub spi_r: u64,
    /// READY, CONNECTING, REKEYING or DELETING.
    pub state: String,
    /// Empty, as `prf` is, while IKE_SA_INIT has not chosen a suite yet.
    pub encr: String,
    /// Key length of `encr` in bits; 0 for ciphers without a key length attribute.
    #[serde(default)]
    pub encr_key_bits: u16,
    pub integ: Option<String>,
    pub prf: String,
    /// IANA Diffie-Hellman group number, which the ASA's `group N` also uses; 0 while
    /// IKE_SA_INIT has not chosen one.
    pub dh_group: u16,
    pub local_id: String,
    pub remote_id: String,
    pub lifetime_secs: u64,
    pub established_secs: u64,
    pub nat_detected_local: bool,
    pub nat_detected_remote: bool,
    /// Message ID of this node's next request (RFC 7296 section 2.2).
    #[serde(default)]
    pub next_message_id: u32,
    /// Message ID expected in the peer's next request.
    #[serde(default)]
    pub peer_message_id: u32,
    pub children: Vec<IkeChild>,
}

/// A Child SA as the IKE engine records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IkeChild {
    /// Index of the crypto ACL permit entry within the crypto map entry.
    pub child: usize,
    pub spi_in: u32,
    pub spi_out: u32,
    pub local_ts: Vec<Selector>,
    pub remote_ts: Vec<Selector>,
    pub encr: String,
    #[serde(default)]
    pub encr_key_bits: u16,
    pub integ: Option<String>,
    /// IANA group number of `set pfs`, when the last exchange used one.
    pub pfs_group: Option<u16>,
    pub lifetime_secs: u64,
    pub established_secs: u64,
}

/// `show crypto ipsec sa`: every Child SA that the data plane holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpsecSas {
    pub children: Vec<IpsecChild>,
}

/// One Child SA of the data plane with its SAs, counters and configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpsecChild {
    pub peer_index: usize,
    pub child_index: usize,
    /// `nameif` of the interface that the crypto map is applied to.
    #[serde(default)]
    pub interface: String,
    #[serde(default)]
    pub crypto_map: String,
    #[serde(default)]
    pub sequence: u32,
    /// The crypto ACL entry, printed as `access-list NAME extended permit ...`.
    #[serde(default)]
    pub ace: String,
    /// Unique ID of the IKE SA that negotiated the Child SA; 0 when it is gone.
    #[serde(default)]
    pub ike_sa_id: u64,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub udp_encap: bool,
    pub encr: String,
    #[serde(default)]
    pub encr_key_bits: u16,
    pub integ: Option<String>,
    #[serde(default)]
    pub pfs_group: Option<u16>,
    /// Selectors as text, for people reading the JSON.
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
    #[serde(default)]
    pub local_selectors: Vec<Selector>,
    #[serde(default)]
    pub remote_selectors: Vec<Selector>,
    #[serde(with = "hex_spi")]
    pub outbound_spi: u32,
    /// Every inbound SA. After a rekey the old one stays until its DELETE, so the
    /// newest is named by `current_inbound_spi`.
    pub inbound: Vec<InboundSa>,
    #[serde(default)]
    pub outbound: Option<OutboundSa>,
    /// SPI of the newest inbound SA; after a rekey the old one stays until deleted.
    #[serde(default, with = "hex_spi_option")]
    pub current_inbound_spi: Option<u32>,
    pub established_secs: u64,
    /// Path MTU learned from ICMP for this child; `None` uses the interface MTU.
    pub path_mtu: Option<u16>,
    /// MTU of the outside interface (`mtu outside`).
    #[serde(default)]
    pub media_mtu: u16,
    /// Octets ESP adds to an inner packet in the worst case (outer headers, IV,
    /// maximum padding, trailer and ICV).
    #[serde(default)]
    pub ipsec_overhead: usize,
    pub pkts_encaps: u64,
    pub pkts_encrypt: u64,
    pub pkts_digest: u64,
    pub pkts_decaps: u64,
    pub pkts_decrypt: u64,
    pub pkts_verify: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub pre_frag_successes: u64,
    pub pre_frag_failures: u64,
    pub fragments_created: u64,
    pub pmtus_sent: u64,
    pub pmtus_rcvd: u64,
    #[serde(default)]
    pub decapsulated_frgs_needing_reassembly: u64,
    #[serde(default)]
    pub tfc_rcvd: u64,
    pub send_errors: u64,
    pub recv_errors: u64,
    pub replay_failures: u64,
    pub auth_failures: u64,
}

/// An inbound ESP SA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundSa {
    #[serde(with = "hex_spi")]
    pub spi: u32,
    /// Inner octets delivered.
    pub bytes: u64,
    /// Kilobytes left before the IKE engine rekeys; `None` when unlimited.
    #[serde(default)]
    pub remaining_kb: Option<u64>,
    /// Seconds left of the negotiated lifetime. `None` when the IKE engine no longer
    /// lists the SA: it is the old half of a rekey, waiting for its DELETE.
    #[serde(default)]
    pub remaining_secs: Option<u64>,
    /// The 64 most recent sequence numbers, bit `i` set when `top - i` arrived.
    #[serde(default)]
    pub replay_bitmap: u64,
}

/// The outbound ESP SA of a child.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundSa {
    #[serde(with = "hex_spi")]
    pub spi: u32,
    /// Inner octets protected.
    pub bytes: u64,
    #[serde(default)]
    pub remaining_kb: Option<u64>,
    #[serde(default)]
    pub remaining_secs: Option<u64>,
}

/// `show crypto ipsec stats`: the global counters of the ESP data plane.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpsecStats {
    pub active_tunnels: u64,
    pub previous_tunnels: u64,
    pub inbound: InboundStats,
    pub outbound: OutboundStats,
    pub protocol_failures: u64,
    pub missing_sa_failures: u64,
    pub system_capacity_failures: u64,
    /// Dropped packets by reason (rampart's own breakdown, not printed by the ASA).
    pub drops: BTreeMap<String, u64>,
    /// Packets from the TUN device that no crypto map entry protects.
    pub not_tunneled: u64,
    pub clear_forwarded: u64,
    pub send_errors: u64,
    pub tun_write_errors: u64,
    pub ike_queue_drops: u64,
}

/// The `Inbound` block of `show crypto ipsec stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InboundStats {
    pub bytes: u64,
    pub decompressed_bytes: u64,
    pub packets: u64,
    pub dropped_packets: u64,
    pub replay_failures: u64,
    pub authentications: u64,
    pub authentication_failures: u64,
    pub decryptions: u64,
    pub decryption_failures: u64,
    pub tfc_packets: u64,
    pub decapsulated_fragments_needing_reassembly: u64,
    pub valid_icmp_errors_rcvd: u64,
    pub invalid_icmp_errors_rcvd: u64,
}

/// The `Outbound` block of `show crypto ipsec stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboundStats {
    pub bytes: u64,
    pub uncompressed_bytes: u64,
    pub packets: u64,
    pub dropped_packets: u64,
    pub authentications: u64,
    pub authentication_failures: u64,
    pub encryptions: u64,
    pub encryption_failures: u64,
    pub tfc_packets: u64,
    pub fragmentation_successes: u64,
    pub pre_fragmentation_successes: u64,
    pub post_fragmentation_successes: u64,
    pub fragmentation_failures: u64,
    pub pre_fragmentation_failures: u64,
    pub post_fragmentation_failures: u64,
    pub fragments_created: u64,
    pub pmtus_sent: u64,
    pub pmtus_rcvd: u64,
}

/// ESP SPIs as `0x` and eight upper-case hex digits, the way the JSON always wrote them.
mod hex_spi {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(spi: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{spi:08X}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    pub fn parse(text: &str) -> Result<u32, String> {
        let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
        u32::from_str_radix(digits, 16).map_err(|_| format!("invalid SPI {text:?}: expected 0x and 8 hex digits"))
    }
}

mod hex_spi_option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(spi: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match spi {
            Some(spi) => s.serialize_str(&format!("0x{spi:08X}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| super::hex_spi::parse(&t)).transpose().map_err(serde::de::Error::custom)
    }
}
