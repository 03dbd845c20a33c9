//! Throughput of the SA ciphers and cost of one Diffie-Hellman side per group.
//!
//! Run: `cargo bench -p rampart-crypto --bench crypto`. Each open iteration also copies
//! the sealed packet back into the work buffer, because opening decrypts in place.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rampart_crypto::alg::{DhGroup, Encr, Integ};
use rampart_crypto::cipher::SaCipher;
use rampart_crypto::dh::KeyExchange;
use rampart_crypto::random::SystemRandom;

/// ESP SPI and sequence number.
const AAD_LEN: usize = 8;
const PAYLOAD_LENS: [usize; 3] = [64, 1400, 8192];

fn suites() -> Vec<(&'static str, SaCipher)> {
    let gcm = Encr::AesGcm16 { key_bits: 256 };
    let cbc = Encr::AesCbc { key_bits: 256 };
    let sha256 = Integ::HmacSha2_256_128;
    vec![
        (
            "aes256gcm16",
            SaCipher::new(gcm, None, &[0x11; 36], &[]).expect("valid GCM key"),
        ),
        (
            "aes256cbc-sha256",
            SaCipher::new(cbc, Some(sha256), &[0x22; 32], &[0x33; 32]).expect("valid CBC keys"),
        ),
        (
            "null-sha256",
            SaCipher::new(Encr::Null, Some(sha256), &[], &[0x44; 32]).expect("valid HMAC key"),
        ),
    ]
}

/// Builds a packet whose encrypted part is `payload_len` rounded up to the cipher's
/// block length (1400 becomes 1408 for AES-CBC), as ESP padding does.
fn packet(cipher: &SaCipher, payload_len: usize) -> Vec<u8> {
    let text_len = payload_len.next_multiple_of(cipher.block_len());
    vec![0x5a; AAD_LEN + cipher.iv_len() + text_len + cipher.icv_len()]
}

fn bench_sa_cipher(c: &mut Criterion) {
    for (name, cipher) in suites() {
        let mut group = c.benchmark_group(format!("sa_cipher/{name}"));
        for payload_len in PAYLOAD_LENS {
            group.throughput(Throughput::Bytes(payload_len as u64));

            let mut buf = packet(&cipher, payload_len);
            group.bench_with_input(
                BenchmarkId::new("seal", payload_len),
                &payload_len,
                |b, _| b.iter(|| cipher.seal(black_box(&mut buf), AAD_LEN).expect("seal")),
            );

            let mut sealed = packet(&cipher, payload_len);
            cipher.seal(&mut sealed, AAD_LEN).expect("seal");
            let mut work = sealed.clone();
            group.bench_with_input(
                BenchmarkId::new("open", payload_len),
                &payload_len,
                |b, _| {
                    b.iter(|| {
                        work.copy_from_slice(&sealed);
                        cipher.open(black_box(&mut work), AAD_LEN).expect("open")
                    })
                },
            );
        }
        group.finish();
    }
}

/// Measures one side of an exchange: generate a key pair, then compute the shared secret with
/// a fixed peer value.
fn bench_key_exchange(c: &mut Criterion) {
    let groups = [
        DhGroup::Modp1024,
        DhGroup::Modp1536,
        DhGroup::Modp2048,
        DhGroup::Modp3072,
        DhGroup::Modp2048s256,
        DhGroup::Ecp256,
        DhGroup::Ecp384,
        DhGroup::Ecp521,
        DhGroup::Curve25519,
    ];
    let mut group = c.benchmark_group("key_exchange");
    let mut rng = SystemRandom::new();
    for dh_group in groups {
        let peer = KeyExchange::generate(dh_group, &mut rng).expect("peer key");
        let peer_public = peer.public_value().to_vec();
        group.bench_function(dh_group.name(), |b| {
            b.iter(|| {
                let kx = KeyExchange::generate(dh_group, &mut rng).expect("generate");
                kx.compute_shared(black_box(&peer_public))
                    .expect("compute_shared")
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_sa_cipher, bench_key_exchange
}
criterion_main!(benches);
