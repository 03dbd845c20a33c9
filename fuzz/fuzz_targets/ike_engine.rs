//! Feeds a responder engine arbitrary datagrams on ports 500 and 4500, and, so that
//! the fuzzer gets past the header checks, a real IKE_SA_INIT request from an
//! initiator engine with the input XORed over it.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use rampart_crypto::random::TestRandom;
use rampart_ike::Engine;
use rampart_ike::config::*;

const EDGE: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
const BRANCH: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));

fn config() -> IkeConfig {
    let any = TrafficSelector::any_v4();
    IkeConfig {
        peers: vec![PeerConfig {
            name: "fuzz".into(),
            local_addr: EDGE,
            remotes: vec![RemotePeer {
                addr: BRANCH,
                tunnel_group: BRANCH.to_string(),
                remote_identity: None,
                peer_id_validate: PeerIdValidate::NoCheck,
                local_psk: Psk::new(b"a".to_vec()),
                remote_psk: Psk::new(b"b".to_vec()),
                dpd: DpdConfig {
                    interval: Some(Duration::from_secs(10)),
                    retry: Duration::from_secs(2),
                },
            }],
            local_identity: LocalIdentity::Auto,
            ike_proposals: vec![IkeProposal {
                priority: 1,
                encryption: vec![
                    Encr::AesCbc { key_bits: 256 },
                    Encr::AesGcm16 { key_bits: 256 },
                ],
                integrity: vec![Integ::HmacSha1_96],
                prf: vec![Prf::HmacSha1],
                dh_groups: vec![DhGroup::Curve25519, DhGroup::Modp1024],
                lifetime: Duration::from_secs(3600),
            }],
            children: vec![ChildConfig {
                crypto_map: "m".into(),
                sequence: 1,
                ace: "permit ip any any".into(),
                local_ts: any,
                remote_ts: any,
                proposals: vec![EspProposal {
                    name: "p".into(),
                    encryption: vec![Encr::AesGcm16 { key_bits: 256 }],
                    integrity: vec![],
                }],
                pfs: None,
                lifetime: Duration::from_secs(3600),
                lifetime_kilobytes: 0,
            }],
        }],
        retransmit: RetransmitConfig::default(),
        cookie_threshold: 10,
        fragmentation: true,
        fragment_mtu: 1280,
        force_udp_encap: false,
    }
}

fn initiator_config() -> IkeConfig {
    let mut c = config();
    let p = &mut c.peers[0];
    p.local_addr = BRANCH;
    p.remotes[0].addr = EDGE;
    let remote = &mut p.remotes[0];
    std::mem::swap(&mut remote.local_psk, &mut remote.remote_psk);
    c
}

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut engine = Engine::new(config(), Box::new(TestRandom::new(1)), now);

    let mut initiator = Engine::new(initiator_config(), Box::new(TestRandom::new(2)), now);
    initiator.initiate_all(now);
    if let Some(t) = initiator.poll_transmit() {
        let mut request = t.payload;
        for (i, b) in data.iter().enumerate() {
            let len = request.len();
            request[i % len] ^= b;
        }
        engine.handle_datagram(now, t.remote, t.local, &request);
        while let Some(reply) = engine.poll_transmit() {
            initiator.handle_datagram(now, reply.remote, reply.local, &reply.payload);
        }
        while initiator.poll_transmit().is_some() {}
    }

    for (i, chunk) in data.split(|b| *b == 0xa5).enumerate() {
        let port = if i % 2 == 0 { 500 } else { 4500 };
        engine.handle_datagram(
            now,
            SocketAddr::new(EDGE, port),
            SocketAddr::new(BRANCH, port),
            chunk,
        );
        while engine.poll_transmit().is_some() {}
        while engine.poll_event().is_some() {}
    }
    engine.handle_timeout(now + Duration::from_secs(60));
});
