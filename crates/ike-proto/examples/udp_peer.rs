//! A minimal UDP driver for manual interop runs against strongSwan in the lab
//! namespaces: one crypto map entry, PSK, FQDN identities, ports 500 and 4500.
//!
//! ```text
//! udp_peer LOCAL_IP REMOTE_IP LOCAL_ID REMOTE_ID LOCAL_PSK REMOTE_PSK LOCAL_TS REMOTE_TS SECONDS [initiate]
//! ```
//! Identities are FQDNs; selectors are `A.B.C.D/N`. Events go to stdout and the
//! engine's log to stderr (`RUST_LOG=debug` for every message).

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use rampart_crypto::alg::{DhGroup, Encr, Integ, Prf};
use rampart_crypto::random::SystemRandom;
use rampart_ike::Engine;
use rampart_ike::config::*;

fn prefix(s: &str) -> TrafficSelector {
    let (a, n) = s.split_once('/').expect("selector as A.B.C.D/N");
    let a: Ipv4Addr = a.parse().expect("IPv4 address");
    let n: u32 = n.parse().expect("prefix length");
    let mask = if n == 0 { 0 } else { u32::MAX << (32 - n) };
    let start = u32::from(a) & mask;
    TrafficSelector {
        protocol: 0,
        start_addr: IpAddr::V4(start.into()),
        end_addr: IpAddr::V4((start | !mask).into()),
        start_port: 0,
        end_port: 65535,
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 10 {
        eprintln!(
            "usage: udp_peer LOCAL_IP REMOTE_IP LOCAL_ID REMOTE_ID LOCAL_PSK REMOTE_PSK LOCAL_TS REMOTE_TS SECONDS [initiate]"
        );
        std::process::exit(2);
    }
    let local: IpAddr = args[1].parse().expect("local IP");
    let remote: IpAddr = args[2].parse().expect("remote IP");
    let esp = std::env::var("ESP").unwrap_or_else(|_| "gcm".into());
    let proposals = if esp == "null" {
        vec![EspProposal {
            name: "null".into(),
            encryption: vec![Encr::Null],
            integrity: vec![Integ::HmacSha2_256_128],
        }]
    } else {
        vec![EspProposal {
            name: "gcm".into(),
            encryption: vec![Encr::AesGcm16 { key_bits: 256 }],
            integrity: vec![],
        }]
    };
    let child_lifetime = std::env::var("CHILD_LIFETIME")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(28800);
    let ike_lifetime = std::env::var("IKE_LIFETIME")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(86400);
    let peer = PeerConfig {
        name: "outside_map 65000".into(),
        local_addr: local,
        remotes: vec![RemotePeer {
            addr: remote,
            tunnel_group: remote.to_string(),
            remote_identity: Some(Identity::Fqdn(args[4].clone())),
            peer_id_validate: PeerIdValidate::Required,
            local_psk: Psk::new(args[5].as_bytes()),
            remote_psk: Psk::new(args[6].as_bytes()),
            dpd: DpdConfig {
                interval: Some(Duration::from_secs(10)),
                retry: Duration::from_secs(2),
            },
        }],
        local_identity: LocalIdentity::Hostname(args[3].clone()),
        // IKE=modern offers aes256gcm16-prfsha384-ecp384-x25519; the default is the
        // Zscaler guide's aes256-sha1-prfsha1 with groups 5 and 2.
        ike_proposals: vec![if std::env::var("IKE").is_ok_and(|v| v == "modern") {
            IkeProposal {
                priority: 1,
                encryption: vec![Encr::AesGcm16 { key_bits: 256 }],
                integrity: vec![],
                prf: vec![Prf::HmacSha2_384],
                dh_groups: vec![DhGroup::Ecp384, DhGroup::Curve25519],
                lifetime: Duration::from_secs(ike_lifetime),
            }
        } else {
            IkeProposal {
                priority: 1,
                encryption: vec![Encr::AesCbc { key_bits: 256 }],
                integrity: vec![Integ::HmacSha1_96],
                prf: vec![Prf::HmacSha1],
                dh_groups: vec![DhGroup::Modp1536, DhGroup::Modp1024],
                lifetime: Duration::from_secs(ike_lifetime),
            }
        }],
        children: vec![ChildConfig {
            crypto_map: "outside_map".into(),
            sequence: 65000,
            ace: format!("permit ip {} {}", args[7], args[8]),
            local_ts: prefix(&args[7]),
            remote_ts: prefix(&args[8]),
            proposals,
            pfs: None,
            lifetime: Duration::from_secs(child_lifetime),
            lifetime_kilobytes: 0,
        }],
    };
    let config = IkeConfig {
        peers: vec![peer],
        retransmit: RetransmitConfig::default(),
        cookie_threshold: 50,
        fragmentation: true,
        fragment_mtu: 1280,
        force_udp_encap: false,
    };
    let seconds: u64 = args[9].parse().expect("seconds");
    let initiate = args.get(10).is_some_and(|a| a == "initiate");

    let s500 = UdpSocket::bind(SocketAddr::new(local, 500)).expect("bind 500");
    let s4500 = UdpSocket::bind(SocketAddr::new(local, 4500)).expect("bind 4500");
    s500.set_nonblocking(true).expect("nonblocking");
    s4500.set_nonblocking(true).expect("nonblocking");
    let start = Instant::now();
    let mut engine = Engine::new(config, Box::new(SystemRandom::new()), start);
    if initiate {
        engine.initiate_all(start);
    }
    let mut buf = [0u8; 65536];
    while start.elapsed() < Duration::from_secs(seconds) {
        let now = Instant::now();
        if engine.poll_timeout().is_some_and(|t| t <= now) {
            engine.handle_timeout(now);
        }
        while let Some(t) = engine.poll_transmit() {
            let sock = if t.local.port() == 4500 {
                &s4500
            } else {
                &s500
            };
            let mut out = Vec::with_capacity(t.payload.len() + 4);
            if !t.keepalive && (t.local.port() == 4500 || t.remote.port() == 4500) {
                out.extend_from_slice(&[0, 0, 0, 0]);
            }
            out.extend_from_slice(&t.payload);
            let _ = sock.send_to(&out, t.remote);
        }
        while let Some(ev) = engine.poll_event() {
            println!("{:.3} {ev:?}", start.elapsed().as_secs_f64());
        }
        let mut got = false;
        for (sock, port) in [(&s500, 500u16), (&s4500, 4500u16)] {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    got = true;
                    let data = &buf[..n];
                    let data = if port == 4500 {
                        // ESP (non-zero SPI) and keepalives are not for IKE.
                        if n < 4 || data[..4] != [0, 0, 0, 0] {
                            continue;
                        }
                        &data[4..]
                    } else {
                        data
                    };
                    engine.handle_datagram(
                        Instant::now(),
                        SocketAddr::new(local, port),
                        from,
                        data,
                    );
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => eprintln!("recv: {e}"),
            }
        }
        if !got {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    engine.shutdown(Instant::now());
    while let Some(t) = engine.poll_transmit() {
        let sock = if t.local.port() == 4500 {
            &s4500
        } else {
            &s500
        };
        let mut out = if t.local.port() == 4500 || t.remote.port() == 4500 {
            vec![0, 0, 0, 0]
        } else {
            Vec::new()
        };
        out.extend_from_slice(&t.payload);
        let _ = sock.send_to(&out, t.remote);
    }
    for sa in engine.ike_sas(Instant::now()) {
        println!("final {sa:?}");
    }
}
