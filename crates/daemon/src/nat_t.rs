//! Demultiplexing of UDP port 4500 (RFC 3948): IKE behind a non-ESP marker, ESP, and
//! NAT-keepalives share one port.

/// The four zero octets that precede an IKE message on port 4500 (RFC 3948 section 2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// The payload of a NAT-keepalive packet (RFC 3948 section 2.3).
pub const KEEPALIVE: u8 = 0xFF;

/// What a datagram received on UDP port 4500 carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Udp4500<'a> {
    /// An IKE message, with the non-ESP marker already removed.
    Ike(&'a [u8]),
    /// An ESP packet, starting at the SPI.
    Esp(&'a [u8]),
    /// A NAT-keepalive, which carries nothing and needs no response.
    Keepalive,
    /// Too short to be either: RFC 3948 section 2.2 requires an ESP header (8 octets)
    /// or a marker followed by an IKE header.
    Invalid,
}

/// Classifies a UDP 4500 payload. A zero first word is the non-ESP marker, because SPI 0
/// is reserved (RFC 4303 section 2.1); any other value is the SPI of an ESP packet.
pub fn classify(payload: &[u8]) -> Udp4500<'_> {
    if payload == [KEEPALIVE] {
        return Udp4500::Keepalive;
    }
    let Some(first) = payload.get(..4) else {
        return Udp4500::Invalid;
    };
    if first == NON_ESP_MARKER {
        let ike = &payload[4..];
        // The fixed IKE header is 28 octets (RFC 7296 section 3.1).
        if ike.len() < 28 {
            return Udp4500::Invalid;
        }
        return Udp4500::Ike(ike);
    }
    // An ESP header is the SPI and the sequence number (RFC 4303 section 2).
    if payload.len() < 8 {
        return Udp4500::Invalid;
    }
    Udp4500::Esp(payload)
}

/// Whether an IKE datagram between these ports carries the non-ESP marker: as soon as
/// either side uses port 4500 (RFC 3948 section 2.2, RFC 7296 section 2.23).
pub fn needs_marker(local_port: u16, remote_port: u16) -> bool {
    local_port == 4500 || remote_port == 4500
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_keepalive() {
        assert_eq!(classify(&[0xFF]), Udp4500::Keepalive);
    }

    #[test]
    fn classify_ike_strips_marker() {
        let mut datagram = vec![0u8; 4 + 28];
        datagram[4] = 0x11;
        assert_eq!(classify(&datagram), Udp4500::Ike(&datagram[4..]));
    }

    #[test]
    fn classify_short_ike_invalid() {
        assert_eq!(classify(&[0, 0, 0, 0, 1, 2, 3]), Udp4500::Invalid);
    }

    #[test]
    fn classify_esp_keeps_spi() {
        let datagram = [0, 0, 1, 0, 0, 0, 0, 1, 0xAA];
        assert_eq!(classify(&datagram), Udp4500::Esp(&datagram));
    }

    #[test]
    fn classify_short_esp_invalid() {
        assert_eq!(classify(&[0, 0, 1, 0, 0]), Udp4500::Invalid);
    }

    #[test]
    fn classify_empty_invalid() {
        assert_eq!(classify(&[]), Udp4500::Invalid);
    }

    #[test]
    fn marker_on_either_port() {
        assert!(needs_marker(4500, 500));
        assert!(needs_marker(500, 4500));
        assert!(!needs_marker(500, 500));
    }
}
