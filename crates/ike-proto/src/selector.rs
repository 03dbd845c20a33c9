//! Traffic selector conversion and narrowing (RFC 7296 section 2.9).

use std::net::IpAddr;

use rampart_wire::ike::{TrafficSelectorRepr, TsRepr};

use crate::config::TrafficSelector;

pub(crate) fn to_wire(ts: &[TrafficSelector]) -> TsRepr {
    TsRepr {
        selectors: ts
            .iter()
            .map(|t| TrafficSelectorRepr::Range {
                ip_protocol: t.protocol,
                start_port: t.start_port,
                end_port: t.end_port,
                start_addr: t.start_addr,
                end_addr: t.end_addr,
            })
            .collect(),
    }
}

/// Address-range selectors of a TS payload; unknown selector types are skipped.
pub(crate) fn from_wire(ts: &TsRepr) -> Vec<TrafficSelector> {
    ts.selectors
        .iter()
        .filter_map(|s| match *s {
            TrafficSelectorRepr::Range {
                ip_protocol,
                start_port,
                end_port,
                start_addr,
                end_addr,
            } => Some(TrafficSelector {
                protocol: ip_protocol,
                start_addr,
                end_addr,
                start_port,
                end_port,
            }),
            TrafficSelectorRepr::Unknown { .. } => None,
        })
        .collect()
}

fn addr_key(a: IpAddr) -> (u8, u128) {
    match a {
        IpAddr::V4(v4) => (4, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (6, u128::from(v6)),
    }
}

/// Returns the intersection of two selectors, or `None` when they share no packet.
pub(crate) fn intersect(a: &TrafficSelector, b: &TrafficSelector) -> Option<TrafficSelector> {
    let protocol = match (a.protocol, b.protocol) {
        (0, p) | (p, 0) => p,
        (p, q) if p == q => p,
        _ => return None,
    };
    let (fa, sa) = addr_key(a.start_addr);
    let (fb, sb) = addr_key(b.start_addr);
    if fa != fb || addr_key(a.end_addr).0 != fa || addr_key(b.end_addr).0 != fb {
        return None;
    }
    let start_addr = if sa >= sb { a.start_addr } else { b.start_addr };
    let end_addr = if addr_key(a.end_addr).1 <= addr_key(b.end_addr).1 {
        a.end_addr
    } else {
        b.end_addr
    };
    if addr_key(start_addr).1 > addr_key(end_addr).1 {
        return None;
    }
    let start_port = a.start_port.max(b.start_port);
    let end_port = a.end_port.min(b.end_port);
    if start_port > end_port {
        return None;
    }
    Some(TrafficSelector {
        protocol,
        start_addr,
        end_addr,
        start_port,
        end_port,
    })
}

/// Narrows the peer's proposed selectors to our configured one: the intersections
/// that are not empty, in the peer's order.
pub(crate) fn narrow(ours: &TrafficSelector, theirs: &[TrafficSelector]) -> Vec<TrafficSelector> {
    theirs.iter().filter_map(|t| intersect(ours, t)).collect()
}

/// True if `inner` lies inside `outer`.
pub(crate) fn contains(outer: &TrafficSelector, inner: &TrafficSelector) -> bool {
    intersect(outer, inner).as_ref() == Some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn net(a: [u8; 4], b: [u8; 4]) -> TrafficSelector {
        TrafficSelector {
            protocol: 0,
            start_addr: IpAddr::V4(Ipv4Addr::from(a)),
            end_addr: IpAddr::V4(Ipv4Addr::from(b)),
            start_port: 0,
            end_port: 65535,
        }
    }

    #[test]
    fn intersect_narrows_to_subnet() {
        let any = TrafficSelector::any_v4();
        let sub = net([198, 51, 100, 0], [198, 51, 100, 255]);
        assert_eq!(intersect(&any, &sub), Some(sub));
    }

    #[test]
    fn intersect_disjoint() {
        assert_eq!(
            intersect(
                &net([198, 51, 100, 0], [198, 51, 100, 255]),
                &net([203, 0, 113, 0], [203, 0, 113, 255])
            ),
            None
        );
    }

    #[test]
    fn intersect_protocol_and_ports() {
        let mut web = TrafficSelector::any_v4();
        web.protocol = 6;
        web.start_port = 443;
        web.end_port = 443;
        assert_eq!(intersect(&TrafficSelector::any_v4(), &web), Some(web));
    }

    #[test]
    fn intersect_protocol_mismatch() {
        let mut tcp = TrafficSelector::any_v4();
        tcp.protocol = 6;
        let mut udp = TrafficSelector::any_v4();
        udp.protocol = 17;
        assert_eq!(intersect(&tcp, &udp), None);
    }

    #[test]
    fn contains_subnet() {
        assert!(contains(
            &TrafficSelector::any_v4(),
            &net([198, 51, 100, 0], [198, 51, 100, 255])
        ));
    }

    #[test]
    fn wire_round_trip() {
        let ts = vec![net([198, 51, 100, 0], [198, 51, 100, 255])];
        assert_eq!(from_wire(&to_wire(&ts)), ts);
    }
}
