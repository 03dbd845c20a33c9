//! NAT detection (RFC 7296 section 2.23) and COOKIE values (section 2.6).

use std::net::{IpAddr, SocketAddr};

use aws_lc_rs::digest;

/// SHA-1(SPIi | SPIr | IP | port), the data of NAT_DETECTION_SOURCE_IP and
/// NAT_DETECTION_DESTINATION_IP. SPIr is zero in an IKE_SA_INIT request.
pub(crate) fn detection_hash(spi_i: u64, spi_r: u64, addr: SocketAddr) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(&spi_i.to_be_bytes());
    ctx.update(&spi_r.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(a) => ctx.update(&a.octets()),
        IpAddr::V6(a) => ctx.update(&a.octets()),
    }
    ctx.update(&addr.port().to_be_bytes());
    ctx.finish().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_hash_depends_on_port() {
        let a: SocketAddr = "198.51.100.1:500".parse().unwrap();
        let b: SocketAddr = "198.51.100.1:4500".parse().unwrap();
        assert_ne!(detection_hash(1, 0, a), detection_hash(1, 0, b));
    }

    #[test]
    fn detection_hash_length() {
        assert_eq!(
            detection_hash(1, 2, "198.51.100.1:500".parse().unwrap()).len(),
            20
        );
    }
}
