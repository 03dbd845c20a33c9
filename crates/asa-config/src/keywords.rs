//! ASA keyword tables: protocol and port names, algorithm keywords, netmasks.

use std::net::{IpAddr, Ipv4Addr};

use crate::ast::{EncrKw, HashKw};

/// IP protocol names the ASA accepts in ACEs and service objects. `ip` is every protocol.
const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("igmp", 2),
    ("ipinip", 4),
    ("tcp", 6),
    ("igrp", 9),
    ("udp", 17),
    ("gre", 47),
    ("pptp", 47),
    ("esp", 50),
    ("ipsec", 50),
    ("ah", 51),
    ("icmp6", 58),
    ("eigrp", 88),
    ("ospf", 89),
    ("nos", 94),
    ("pim", 103),
    ("pcp", 108),
    ("snp", 109),
    ("sctp", 132),
];

/// Parses a protocol keyword or number. `Some(None)` is `ip`.
pub fn protocol(s: &str) -> Option<Option<u8>> {
    if s.eq_ignore_ascii_case("ip") {
        return Some(None);
    }
    if let Ok(n) = s.parse::<u8>() {
        return Some(if n == 0 { None } else { Some(n) });
    }
    PROTOCOLS.iter().find(|(k, _)| k.eq_ignore_ascii_case(s)).map(|&(_, n)| Some(n))
}

/// Returns the keyword `show running-config` prints for a protocol number.
pub fn protocol_name(p: Option<u8>) -> String {
    match p {
        None => "ip".to_string(),
        Some(1) => "icmp".into(),
        Some(6) => "tcp".into(),
        Some(17) => "udp".into(),
        Some(47) => "gre".into(),
        Some(50) => "esp".into(),
        Some(51) => "ah".into(),
        Some(n) => n.to_string(),
    }
}

/// ASA port names (TCP and UDP), from the ASA command reference's port table.
const PORTS: &[(&str, u16)] = &[
    ("aol", 5190),
    ("bgp", 179),
    ("biff", 512),
    ("bootpc", 68),
    ("bootps", 67),
    ("chargen", 19),
    ("cifs", 3020),
    ("citrix-ica", 1494),
    ("cmd", 514),
    ("ctiqbe", 2748),
    ("daytime", 13),
    ("discard", 9),
    ("dnsix", 195),
    ("domain", 53),
    ("echo", 7),
    ("exec", 512),
    ("finger", 79),
    ("ftp", 21),
    ("ftp-data", 20),
    ("gopher", 70),
    ("h323", 1720),
    ("hostname", 101),
    ("http", 80),
    ("https", 443),
    ("ident", 113),
    ("imap4", 143),
    ("irc", 194),
    ("isakmp", 500),
    ("kerberos", 750),
    ("klogin", 543),
    ("kshell", 544),
    ("ldap", 389),
    ("ldaps", 636),
    ("login", 513),
    ("lotusnotes", 1352),
    ("lpd", 515),
    ("mobile-ip", 434),
    ("nameserver", 42),
    ("netbios-dgm", 138),
    ("netbios-ns", 137),
    ("netbios-ssn", 139),
    ("nfs", 2049),
    ("nntp", 119),
    ("ntp", 123),
    ("pcanywhere-data", 5631),
    ("pcanywhere-status", 5632),
    ("pim-auto-rp", 496),
    ("pop2", 109),
    ("pop3", 110),
    ("pptp", 1723),
    ("radius", 1645),
    ("radius-acct", 1646),
    ("rip", 520),
    ("rsh", 514),
    ("rtsp", 554),
    ("secureid-udp", 5510),
    ("sip", 5060),
    ("smtp", 25),
    ("snmp", 161),
    ("snmptrap", 162),
    ("sqlnet", 1521),
    ("ssh", 22),
    ("sunrpc", 111),
    ("syslog", 514),
    ("tacacs", 49),
    ("talk", 517),
    ("telnet", 23),
    ("tftp", 69),
    ("time", 37),
    ("uucp", 540),
    ("vxlan", 4789),
    ("who", 513),
    ("whois", 43),
    ("www", 80),
    ("xdmcp", 177),
];

/// Parses a port number or ASA port name.
pub fn port(s: &str) -> Option<u16> {
    if let Ok(n) = s.parse::<u16>() {
        return Some(n);
    }
    PORTS.iter().find(|(k, _)| k.eq_ignore_ascii_case(s)).map(|&(_, n)| n)
}

/// Returns the name `show running-config` prints for a port (the ASA prints `www`, not 80).
pub fn port_name(p: u16) -> String {
    match PORTS.iter().find(|&&(k, n)| n == p && k != "http") {
        Some((k, _)) => (*k).to_string(),
        None => p.to_string(),
    }
}

/// ICMP type names.
const ICMP_TYPES: &[(&str, u8)] = &[
    ("echo-reply", 0),
    ("unreachable", 3),
    ("source-quench", 4),
    ("redirect", 5),
    ("alternate-address", 6),
    ("echo", 8),
    ("router-advertisement", 9),
    ("router-solicitation", 10),
    ("time-exceeded", 11),
    ("parameter-problem", 12),
    ("timestamp-request", 13),
    ("timestamp-reply", 14),
    ("information-request", 15),
    ("information-reply", 16),
    ("mask-request", 17),
    ("mask-reply", 18),
    ("traceroute", 30),
    ("conversion-error", 31),
    ("mobile-redirect", 32),
];

pub fn icmp_type(s: &str) -> Option<u8> {
    if let Ok(n) = s.parse::<u8>() {
        return Some(n);
    }
    ICMP_TYPES.iter().find(|(k, _)| k.eq_ignore_ascii_case(s)).map(|&(_, n)| n)
}

pub fn icmp_type_name(t: u8) -> String {
    ICMP_TYPES.iter().find(|&&(_, n)| n == t).map_or_else(|| t.to_string(), |(k, _)| (*k).to_string())
}

/// Parses an encryption keyword; `esp` selects the `protocol esp encryption` spelling set.
pub fn encryption(s: &str) -> Option<EncrKw> {
    Some(match s.to_ascii_lowercase().as_str() {
        "des" => EncrKw::Des,
        "3des" => EncrKw::TripleDes,
        "aes" => EncrKw::Aes128,
        "aes-192" => EncrKw::Aes192,
        "aes-256" => EncrKw::Aes256,
        "aes-gcm" => EncrKw::AesGcm128,
        "aes-gcm-192" => EncrKw::AesGcm192,
        "aes-gcm-256" => EncrKw::AesGcm256,
        "aes-gmac" => EncrKw::AesGmac128,
        "aes-gmac-192" => EncrKw::AesGmac192,
        "aes-gmac-256" => EncrKw::AesGmac256,
        "null" => EncrKw::Null,
        _ => return None,
    })
}

pub fn encryption_name(e: EncrKw) -> &'static str {
    match e {
        EncrKw::Des => "des",
        EncrKw::TripleDes => "3des",
        EncrKw::Aes128 => "aes",
        EncrKw::Aes192 => "aes-192",
        EncrKw::Aes256 => "aes-256",
        EncrKw::AesGcm128 => "aes-gcm",
        EncrKw::AesGcm192 => "aes-gcm-192",
        EncrKw::AesGcm256 => "aes-gcm-256",
        EncrKw::AesGmac128 => "aes-gmac",
        EncrKw::AesGmac192 => "aes-gmac-192",
        EncrKw::AesGmac256 => "aes-gmac-256",
        EncrKw::Null => "null",
    }
}

/// IKE policy hash keywords: `sha` is SHA-1 for both `integrity` and `prf`.
pub fn ike_hash(s: &str) -> Option<HashKw> {
    Some(match s.to_ascii_lowercase().as_str() {
        "md5" => HashKw::Md5,
        "sha" => HashKw::Sha1,
        "sha256" => HashKw::Sha256,
        "sha384" => HashKw::Sha384,
        "sha512" => HashKw::Sha512,
        "null" => HashKw::Null,
        _ => return None,
    })
}

pub fn ike_hash_name(h: HashKw) -> &'static str {
    match h {
        HashKw::Md5 => "md5",
        HashKw::Sha1 => "sha",
        HashKw::Sha256 => "sha256",
        HashKw::Sha384 => "sha384",
        HashKw::Sha512 => "sha512",
        HashKw::Null => "null",
    }
}

/// IPsec proposal integrity keywords (`protocol esp integrity sha-256`).
pub fn esp_hash(s: &str) -> Option<HashKw> {
    Some(match s.to_ascii_lowercase().as_str() {
        "md5" => HashKw::Md5,
        "sha-1" => HashKw::Sha1,
        "sha-256" => HashKw::Sha256,
        "sha-384" => HashKw::Sha384,
        "sha-512" => HashKw::Sha512,
        "null" => HashKw::Null,
        _ => return None,
    })
}

pub fn esp_hash_name(h: HashKw) -> &'static str {
    match h {
        HashKw::Md5 => "md5",
        HashKw::Sha1 => "sha-1",
        HashKw::Sha256 => "sha-256",
        HashKw::Sha384 => "sha-384",
        HashKw::Sha512 => "sha-512",
        HashKw::Null => "null",
    }
}

/// DH groups the ASA accepts in `crypto ikev2 policy` and `set pfs`.
pub const DH_GROUPS: &[u16] = &[1, 2, 5, 14, 15, 16, 19, 20, 21, 24, 31];

/// Prefix length of a dotted netmask; `None` when the mask is not contiguous.
pub fn mask_prefix(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    if m.checked_shl(ones).unwrap_or(0) == 0 { Some(ones as u8) } else { None }
}

pub fn prefix_mask(prefix: u8) -> Ipv4Addr {
    if prefix == 0 { Ipv4Addr::UNSPECIFIED } else { Ipv4Addr::from(u32::MAX << (32 - prefix.min(32) as u32)) }
}

/// Formats an address and prefix as the ASA prints it: `A M` for IPv4, `A/len` for IPv6.
pub fn addr_mask(a: IpAddr, prefix: u8) -> String {
    match a {
        IpAddr::V4(v4) => format!("{v4} {}", prefix_mask(prefix)),
        IpAddr::V6(v6) => format!("{v6}/{prefix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_prefix_contiguous() {
        assert_eq!(mask_prefix("255.255.255.0".parse().unwrap()), Some(24));
        assert_eq!(mask_prefix("0.0.0.0".parse().unwrap()), Some(0));
        assert_eq!(mask_prefix("255.255.255.255".parse().unwrap()), Some(32));
    }

    #[test]
    fn mask_prefix_non_contiguous() {
        assert_eq!(mask_prefix("255.0.255.0".parse().unwrap()), None);
        assert_eq!(mask_prefix("0.0.0.255".parse().unwrap()), None);
    }

    #[test]
    fn port_names() {
        assert_eq!(port("www"), Some(80));
        assert_eq!(port("HTTPS"), Some(443));
        assert_eq!(port("domain"), Some(53));
        assert_eq!(port("nonsense"), None);
        assert_eq!(port_name(80), "www");
        assert_eq!(port_name(443), "https");
    }

    #[test]
    fn protocol_names() {
        assert_eq!(protocol("ip"), Some(None));
        assert_eq!(protocol("TCP"), Some(Some(6)));
        assert_eq!(protocol("50"), Some(Some(50)));
        assert_eq!(protocol("bogus"), None);
    }
}

/// Values that the ASA's `vpn-tunnel-protocol` group-policy attribute accepts.
pub const TUNNEL_PROTOCOLS: &[&str] = &["ikev1", "ikev2", "l2tp-ipsec", "ssl-client", "ssl-clientless", "svc", "webvpn"];
