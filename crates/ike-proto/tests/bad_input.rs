//! Malformed and hostile input: the right notify, and never a panic.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;
use rampart_crypto::random::TestRandom;
use rampart_ike::{Engine, Transmit};
use rampart_wire::ike::{ExchangeType, HeaderRepr, MessageRepr, NotifyType, Payload, PayloadType};

fn edge() -> Engine {
    Engine::new(
        ike_config(vec![edge_peer(EDGE1, "edge-key", "branch-key")]),
        Box::new(TestRandom::new(5)),
        Instant::now(),
    )
}

fn branch_addr() -> SocketAddr {
    SocketAddr::new(BRANCH, 500)
}

fn edge_addr() -> SocketAddr {
    SocketAddr::new(EDGE1, 500)
}

/// The first IKE_SA_INIT request a branch engine sends.
fn init_request() -> Vec<u8> {
    let mut e = Engine::new(
        ike_config(vec![branch_peer()]),
        Box::new(TestRandom::new(6)),
        Instant::now(),
    );
    e.initiate_all(Instant::now());
    e.poll_transmit().unwrap().payload
}

fn reply_notify(t: Option<Transmit>) -> Option<NotifyType> {
    let m = MessageRepr::parse(&t?.payload).ok()?;
    m.payloads.iter().find_map(|p| {
        if let Payload::Notify(n) = p {
            Some(n.notify_type)
        } else {
            None
        }
    })
}

#[test]
fn unknown_critical_payload_rejected() {
    let mut m = MessageRepr::parse(&init_request()).unwrap();
    m.payloads.push(Payload::Unknown {
        payload_type: PayloadType(200),
        critical: true,
        body: vec![1, 2, 3],
    });
    let mut e = edge();
    e.handle_datagram(Instant::now(), edge_addr(), branch_addr(), &m.to_vec());
    assert_eq!(
        reply_notify(e.poll_transmit()),
        Some(NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD)
    );
}

#[test]
fn unknown_noncritical_payload_ignored() {
    let mut m = MessageRepr::parse(&init_request()).unwrap();
    m.payloads.push(Payload::Unknown {
        payload_type: PayloadType(200),
        critical: false,
        body: vec![1, 2, 3],
    });
    let mut e = edge();
    e.handle_datagram(Instant::now(), edge_addr(), branch_addr(), &m.to_vec());
    let reply = MessageRepr::parse(&e.poll_transmit().unwrap().payload).unwrap();
    assert!(reply.payloads.iter().any(|p| matches!(p, Payload::Ke(_))));
}

#[test]
fn truncated_init_gets_invalid_syntax() {
    let data = init_request();
    let mut e = edge();
    e.handle_datagram(
        Instant::now(),
        edge_addr(),
        branch_addr(),
        &data[..data.len() - 10],
    );
    assert_eq!(
        reply_notify(e.poll_transmit()),
        Some(NotifyType::INVALID_SYNTAX)
    );
}

#[test]
fn bad_payload_length_gets_invalid_syntax() {
    let mut data = init_request();
    // The SA payload's length field claims more than the message holds.
    data[30] = 0xff;
    data[31] = 0xff;
    let mut e = edge();
    e.handle_datagram(Instant::now(), edge_addr(), branch_addr(), &data);
    assert_eq!(
        reply_notify(e.poll_transmit()),
        Some(NotifyType::INVALID_SYNTAX)
    );
}

#[test]
fn missing_ke_gets_invalid_syntax() {
    let mut m = MessageRepr::parse(&init_request()).unwrap();
    m.payloads.retain(|p| !matches!(p, Payload::Ke(_)));
    let mut e = edge();
    e.handle_datagram(Instant::now(), edge_addr(), branch_addr(), &m.to_vec());
    assert_eq!(
        reply_notify(e.poll_transmit()),
        Some(NotifyType::INVALID_SYNTAX)
    );
}

#[test]
fn unknown_peer_gets_no_proposal_chosen() {
    let mut e = edge();
    e.handle_datagram(
        Instant::now(),
        edge_addr(),
        SocketAddr::new(EDGE2, 500),
        &init_request(),
    );
    assert_eq!(
        reply_notify(e.poll_transmit()),
        Some(NotifyType::NO_PROPOSAL_CHOSEN)
    );
}

#[test]
fn response_to_unknown_spi_dropped() {
    let m = MessageRepr {
        header: HeaderRepr {
            spi_i: 1,
            spi_r: 2,
            next_payload: PayloadType::NONE,
            exchange_type: ExchangeType::INFORMATIONAL,
            initiator: true,
            response: false,
            message_id: 3,
            length: 0,
        },
        payloads: vec![],
    };
    let mut e = edge();
    e.handle_datagram(Instant::now(), edge_addr(), branch_addr(), &m.to_vec());
    assert!(e.poll_transmit().is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn decoder_round_trips_what_it_accepts(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(m) = MessageRepr::parse(&data) {
            let again = MessageRepr::parse(&m.to_vec()).unwrap();
            prop_assert_eq!(again, m);
        }
        if let Some((&first, rest)) = data.split_first()
            && let Ok(chain) = rampart_wire::ike::parse_chain(PayloadType(first), rest, 0) {
                let (t, bytes) = rampart_wire::ike::chain_to_vec(&chain);
                prop_assert_eq!(rampart_wire::ike::parse_chain(t, &bytes, 0).unwrap(), chain);
            }
    }

    #[test]
    fn decoder_survives_mutated_init(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut data = init_request();
        for (i, v) in flips {
            let at = i.index(data.len());
            data[at] ^= v;
        }
        if let Ok(m) = MessageRepr::parse(&data) {
            prop_assert_eq!(MessageRepr::parse(&m.to_vec()).unwrap(), m);
        }
    }

    #[test]
    fn random_datagrams_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut e = edge();
        e.handle_datagram(Instant::now(), edge_addr(), branch_addr(), &data);
        while e.poll_transmit().is_some() {}
    }

    #[test]
    fn mutated_init_never_panics(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut data = init_request();
        for (i, v) in flips {
            let at = i.index(data.len());
            data[at] ^= v;
        }
        let mut e = edge();
        e.handle_datagram(Instant::now(), edge_addr(), branch_addr(), &data);
        while e.poll_transmit().is_some() {}
    }

    #[test]
    fn mutated_exchange_never_panics(seed in 0u64..1000, target in 0usize..6, flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        // Corrupt the `target`-th datagram of a full handshake and run on.
        let mut sim = pair(seed);
        let mut count = 0usize;
        sim.net.tamper = Some(Box::new(move |p| {
            count += 1;
            if count == target + 1 {
                for (i, v) in &flips {
                    let at = i.index(p.payload.len().max(1));
                    if let Some(b) = p.payload.get_mut(at) {
                        *b ^= v;
                    }
                }
            }
        }));
        sim.call(0, |e, now| e.initiate_all(now));
        sim.run_for(Duration::from_secs(40));
    }
}

#[test]
fn critical_payload_in_init_response_fails() {
    let mut sim = pair(60);
    sim.net.tamper = Some(Box::new(|p| {
        if p.from.ip() == EDGE1
            && p.payload.get(18) == Some(&34)
            && let Ok(mut m) = MessageRepr::parse(&p.payload)
        {
            m.payloads.push(Payload::Unknown {
                payload_type: PayloadType(201),
                critical: true,
                body: vec![],
            });
            p.payload = m.to_vec();
        }
    }));
    sim.call(0, |e, now| e.initiate_all(now));
    sim.run_for(Duration::from_secs(1));
    assert_eq!(ike_ups(&sim, 0), 0);
    assert!(
        failures(&sim, 0)
            .iter()
            .any(|f| f.contains("unsupported critical payload")),
        "{:?}",
        failures(&sim, 0)
    );
}
