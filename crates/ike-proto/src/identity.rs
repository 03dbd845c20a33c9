//! IKE identities: what we send (`crypto isakmp identity`) and how a peer's identity is
//! checked (`peer-id-validate`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rampart_wire::ike::{IdRepr, IdType};

use crate::config::{Identity, LocalIdentity, PeerIdValidate, RemotePeer};

/// Our identity for a tunnel from `local_addr`. `Auto` and `Address` send the outside
/// address, as the ASA does for pre-shared key authentication.
pub(crate) fn local_identity(config: &LocalIdentity, local_addr: IpAddr) -> Identity {
    match config {
        LocalIdentity::Auto | LocalIdentity::Address => match local_addr {
            IpAddr::V4(a) => Identity::Ipv4(a),
            IpAddr::V6(a) => Identity::Ipv6(a),
        },
        LocalIdentity::Hostname(h) => Identity::Fqdn(h.clone()),
        LocalIdentity::KeyId(k) => Identity::KeyId(k.as_bytes().to_vec()),
        LocalIdentity::Email(e) => Identity::Rfc822(e.clone()),
    }
}

pub(crate) fn to_wire(id: &Identity) -> IdRepr {
    match id {
        Identity::Ipv4(a) => IdRepr {
            id_type: IdType::ID_IPV4_ADDR,
            data: a.octets().to_vec(),
        },
        Identity::Ipv6(a) => IdRepr {
            id_type: IdType::ID_IPV6_ADDR,
            data: a.octets().to_vec(),
        },
        Identity::Fqdn(s) => IdRepr {
            id_type: IdType::ID_FQDN,
            data: s.as_bytes().to_vec(),
        },
        Identity::Rfc822(s) => IdRepr {
            id_type: IdType::ID_RFC822_ADDR,
            data: s.as_bytes().to_vec(),
        },
        Identity::KeyId(k) => IdRepr {
            id_type: IdType::ID_KEY_ID,
            data: k.clone(),
        },
    }
}

/// Decodes an ID payload; `None` for types PSK tunnels do not use (distinguished
/// names) and for malformed addresses.
pub(crate) fn from_wire(id: &IdRepr) -> Option<Identity> {
    match id.id_type {
        IdType::ID_IPV4_ADDR => {
            let o: [u8; 4] = id.data.as_slice().try_into().ok()?;
            Some(Identity::Ipv4(Ipv4Addr::from(o)))
        }
        IdType::ID_IPV6_ADDR => {
            let o: [u8; 16] = id.data.as_slice().try_into().ok()?;
            Some(Identity::Ipv6(Ipv6Addr::from(o)))
        }
        IdType::ID_FQDN => String::from_utf8(id.data.clone()).ok().map(Identity::Fqdn),
        IdType::ID_RFC822_ADDR => String::from_utf8(id.data.clone())
            .ok()
            .map(Identity::Rfc822),
        IdType::ID_KEY_ID => Some(Identity::KeyId(id.data.clone())),
        _ => None,
    }
}

/// Text for logs: the ID type and value.
pub(crate) fn describe(id: &IdRepr) -> String {
    match from_wire(id) {
        Some(i) => format!("{}:{}", id.id_type, i),
        None => format!("{}:({} octets)", id.id_type, id.data.len()),
    }
}

/// Applies `peer-id-validate`. With `req` the identity must equal the expected one
/// when configured, and otherwise be the peer's address. `cert` and `nocheck` accept
/// any identity because PSK tunnels carry no certificate.
pub(crate) fn validate(remote: &RemotePeer, received: Option<&Identity>) -> bool {
    match remote.peer_id_validate {
        PeerIdValidate::NoCheck | PeerIdValidate::Certificate => true,
        PeerIdValidate::Required => match (&remote.remote_identity, received) {
            (Some(expected), Some(got)) => expected == got,
            (None, Some(Identity::Ipv4(a))) => IpAddr::V4(*a) == remote.addr,
            (None, Some(Identity::Ipv6(a))) => IpAddr::V6(*a) == remote.addr,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_fqdn_round_trip() {
        let id = Identity::Fqdn("edge.example.com".into());
        assert_eq!(from_wire(&to_wire(&id)), Some(id));
    }

    #[test]
    fn identity_ipv6_round_trip() {
        let id = Identity::Ipv6("2001:db8::1".parse().unwrap());
        assert_eq!(from_wire(&to_wire(&id)), Some(id));
    }

    #[test]
    fn identity_auto_is_address() {
        let addr: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            local_identity(&LocalIdentity::Auto, addr),
            Identity::Ipv4("198.51.100.1".parse().unwrap())
        );
    }

    #[test]
    fn identity_bad_ipv4_length() {
        assert_eq!(
            from_wire(&IdRepr {
                id_type: IdType::ID_IPV4_ADDR,
                data: vec![1, 2, 3]
            }),
            None
        );
    }
}
