//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! Functions return the folded one's-complement sum; callers store `!sum` in the packet.
//! A packet verifies when the sum over it, checksum field included, is `0xffff`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Folds a 64-bit accumulator into a 16-bit one's-complement sum.
#[inline]
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// One's-complement sum of `data` as big-endian 16-bit words, an odd last octet padded
/// with zero (RFC 1071 section 4.1).
///
/// Summing 32-bit words and folding gives the same result as summing 16-bit words
/// because one's-complement addition is independent of word size (RFC 1071 section 2).
#[inline]
pub fn data(data: &[u8]) -> u16 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold(acc)
}

/// One's-complement sum of several partial sums.
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// Sum of the IPv4 pseudo-header used by UDP and TCP (RFC 768, RFC 9293 section 3.1).
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u32) -> u16 {
    combine(&[data(&src.octets()), data(&dst.octets()), u16::from(protocol), fold(u64::from(length))])
}

/// Sum of the IPv6 pseudo-header (RFC 8200 section 8.1): the upper-layer length is 32 bits.
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> u16 {
    combine(&[data(&src.octets()), data(&dst.octets()), u16::from(next_header), fold(u64::from(length))])
}

/// Pseudo-header sum for either family; mixed families have no pseudo-header and sum to 0.
pub fn pseudo_header(src: std::net::IpAddr, dst: std::net::IpAddr, protocol: u8, length: u32) -> u16 {
    use std::net::IpAddr;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pseudo_header_v4(s, d, protocol, length),
        (IpAddr::V6(s), IpAddr::V6(d)) => pseudo_header_v6(s, d, protocol, length),
        _ => 0,
    }
}

/// Sum of an upper-layer message (UDP, TCP, ICMPv6) with its pseudo-header. Over the
/// message with its checksum field filled, a valid message sums to `0xffff`.
pub fn upper_layer(src: std::net::IpAddr, dst: std::net::IpAddr, protocol: u8, message: &[u8]) -> u16 {
    combine(&[pseudo_header(src, dst, protocol, message.len() as u32), data(message)])
}

/// Updates a stored checksum field after one 16-bit word changed from `old` to `new`:
/// `HC' = ~(~HC + ~m + m')` (RFC 1624 section 3, equation 3), which never yields the
/// `-0` result that equation 2 can produce.
#[inline]
pub fn update_u16(checksum: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!checksum) + u64::from(!old) + u64::from(new))
}

/// Updates a stored checksum field after a 32-bit field (an IPv4 address) changed.
#[inline]
pub fn update_u32(checksum: u16, old: u32, new: u32) -> u16 {
    let c = update_u16(checksum, (old >> 16) as u16, (new >> 16) as u16);
    update_u16(c, old as u16, new as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_rfc1071_example() {
        // RFC 1071 section 3 example: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        assert_eq!(data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0xddf2);
    }

    #[test]
    fn data_odd_length() {
        assert_eq!(data(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn data_word_size_independent() {
        let buf: Vec<u8> = (0..=255u8).cycle().take(1499).collect();
        let mut acc = 0u64;
        for c in buf.chunks(2) {
            acc += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        assert_eq!(data(&buf), fold(acc));
    }

    #[test]
    fn update_matches_recompute() {
        let mut buf = [0x45u8, 0x00, 0x05, 0xdc, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        let c = !data(&buf);
        buf[10..12].copy_from_slice(&c.to_be_bytes());
        let old = u16::from_be_bytes([buf[2], buf[3]]);
        buf[2..4].copy_from_slice(&0x0578u16.to_be_bytes());
        let updated = update_u16(c, old, 0x0578);
        buf[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(updated, !data(&buf));
    }

    #[test]
    fn update_u32_matches_recompute() {
        let mut buf = [0u8; 12];
        buf[..4].copy_from_slice(&0xc633_6401u32.to_be_bytes());
        let c = !data(&buf);
        buf[..4].copy_from_slice(&0xcb00_7114u32.to_be_bytes());
        assert_eq!(update_u32(c, 0xc633_6401, 0xcb00_7114), !data(&buf));
    }
}
