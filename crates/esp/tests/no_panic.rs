//! Random bytes through every parser and packet rewriter of the data plane: none may
//! panic, whatever the input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use rampart_esp::Flow;
use rampart_esp::mtu::{self, Ipv4Fragmenter};
use rampart_wire::{esp, icmp, ipv4, ipv6, tcp, udp};

const V4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

/// Random bytes, often starting like an IPv4 or IPv6 header so the parsers get past
/// their first checks.
fn packet() -> impl Strategy<Value = Vec<u8>> {
    (proptest::collection::vec(any::<u8>(), 0..1600), 0u8..3).prop_map(|(mut data, kind)| {
        match (kind, data.len()) {
            (0, n) if n >= 20 => {
                data[0] = 0x45;
                let len = (n as u16).to_be_bytes();
                data[2..4].copy_from_slice(&len);
            }
            (1, n) if n >= 40 => {
                data[0] = 0x60 | (data[0] & 0x0f);
                let len = ((n - 40) as u16).to_be_bytes();
                data[4..6].copy_from_slice(&len);
            }
            _ => {}
        }
        data
    })
}

proptest! {
    #[test]
    fn ip_views_never_panic(data in packet()) {
        if let Ok(p) = ipv4::Packet::new_checked(&data[..]) {
            let _ = (p.header_len(), p.options(), p.payload(), p.verify_checksum(), p.frag_offset(), p.src_addr());
            let _ = ipv4::Repr::parse(&p);
        }
        if let Ok(p) = ipv6::Packet::new_checked(&data[..]) {
            let _ = (p.payload(), p.upper_layer(), p.flow_label(), p.dst_addr());
            let _ = ipv6::Repr::parse(&p);
        }
    }

    #[test]
    fn transport_views_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = udp::Packet::new_checked(&data[..]) {
            let _ = (p.payload(), p.verify_checksum(V4, V4), p.verify_checksum(V6, V6));
            let _ = udp::Repr::parse(&p, V4, V4);
        }
        if let Ok(p) = tcp::Packet::new_checked(&data[..]) {
            let _ = (p.payload(), p.mss_option(), p.option_iter().count(), p.verify_checksum(V4, V4));
            let _ = tcp::Repr::parse(&p, V6, V6);
        }
        let mut copy = data.clone();
        if let Ok(mut p) = tcp::Packet::new_checked(&mut copy[..]) {
            let _ = p.clamp_mss(536);
        }
        if let Ok(p) = icmp::Packet::new_checked(&data[..]) {
            let _ = (p.data(), p.mtu(), p.next_hop_mtu());
            let _ = icmp::Repr::parse(&p);
            let _ = icmp::Icmpv6Repr::parse(&p, Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST);
        }
        if let Ok(p) = esp::Packet::new_checked(&data[..]) {
            let _ = esp::Repr::parse(&p);
        }
        let _ = esp::TrailerRepr::parse(&data);
    }

    #[test]
    fn mtu_functions_never_panic(data in packet(), max_len in 0usize..1600, mss in any::<u16>()) {
        let _ = Flow::parse(&data);
        let _ = mtu::check(&data, max_len, true);
        let _ = mtu::dont_fragment(&data);
        let mut out = vec![0u8; 1600];
        let _ = mtu::icmp_frag_needed(&data, 1400, Ipv4Addr::new(10, 0, 0, 1), &mut out);
        let _ = mtu::icmpv6_packet_too_big(&data, 1400, Ipv6Addr::LOCALHOST, &mut out);
        let mut copy = data.clone();
        let _ = mtu::clamp_tcp_mss(&mut copy, mss);
        if let Ok(mut f) = Ipv4Fragmenter::new(&data, max_len) {
            let _ = f.fragment_count();
            let mut guard = 0;
            while let Some(r) = f.next_into(&mut out) {
                prop_assert!(r.is_ok());
                guard += 1;
                prop_assert!(guard < 400, "fragmenter does not terminate");
            }
        }
    }
}
