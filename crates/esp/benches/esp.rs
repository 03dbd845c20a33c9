//! ESP encapsulation and decapsulation per packet for the transforms the Zscaler
//! guide uses (AES-GCM-256, NULL with HMAC-SHA-256) and the CBC fallback.
//!
//! Run: `cargo bench -p rampart-esp --bench esp`.
//!
//! Times are the CPU time of the benchmark thread (`CLOCK_THREAD_CPUTIME_ID`), not wall
//! time, so that other processes on a shared machine do not inflate them. Cache and
//! frequency effects of that other load still show.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rampart_crypto::alg::{Encr, Integ};
use rampart_esp::{InboundSa, OutboundSa, SaParams, Selector};
use rampart_wire::ipv4::{self, IpProtocol};

const SIZES: [usize; 3] = [64, 1400, 8192];

/// CPU time consumed by the calling thread.
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant that
    // Linux supports; the call only writes `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }

    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosFormatter
    }
}

/// Prints nanoseconds and bytes per second, as criterion's wall-time formatter does.
struct NanosFormatter;

impl ValueFormatter for NanosFormatter {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical < 1e3 { (1.0, "ns") } else if typical < 1e6 { (1e-3, "µs") } else { (1e-6, "ms") };
        for v in values {
            *v *= factor;
        }
        unit
    }

    fn scale_throughputs(&self, _typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        let per_op = match *throughput {
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => b as f64,
            Throughput::Elements(e) | Throughput::ElementsAndBytes { elements: e, .. } => e as f64,
            Throughput::Bits(b) => b as f64 / 8.0,
        };
        for v in values {
            *v = per_op * 1e9 / *v / (1024.0 * 1024.0);
        }
        "MiB/s"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn transforms() -> [(&'static str, Encr, Option<Integ>); 3] {
    [
        ("aes-gcm-256", Encr::AesGcm16 { key_bits: 256 }, None),
        ("null-sha256", Encr::Null, Some(Integ::HmacSha2_256_128)),
        ("aes-cbc-256-sha256", Encr::AesCbc { key_bits: 256 }, Some(Integ::HmacSha2_256_128)),
    ]
}

fn params(encr: Encr, integ: Option<Integ>) -> SaParams {
    let encr_key: Vec<u8> = (0..encr.keymat_len() as u8).collect();
    let integ_key: Vec<u8> = (0..integ.map_or(0, |i| i.key_len()) as u8).collect();
    let addr = |a| SocketAddr::new(IpAddr::V4(a), 4500);
    let mut p = SaParams::new(0x1000_0001, encr, integ, &encr_key, &integ_key, addr(Ipv4Addr::new(198, 51, 100, 1)), addr(Ipv4Addr::new(203, 0, 113, 1)));
    let any = Selector { protocol: 0, start_addr: Ipv4Addr::UNSPECIFIED.into(), end_addr: Ipv4Addr::BROADCAST.into(), start_port: 0, end_port: u16::MAX };
    p.local_ts = vec![any];
    p.remote_ts = vec![any];
    p
}

/// Builds an IPv4 UDP packet of `len` octets in total.
fn inner_packet(len: usize) -> Vec<u8> {
    let mut buf = vec![0x5au8; len];
    let repr = ipv4::Repr {
        src_addr: Ipv4Addr::new(10, 1, 0, 1),
        dst_addr: Ipv4Addr::new(10, 0, 0, 1),
        protocol: IpProtocol::UDP,
        payload_len: len - ipv4::HEADER_LEN,
        ttl: 64,
        dscp_ecn: 0,
        ident: 1,
        dont_frag: false,
    };
    repr.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]));
    buf
}

fn round_trip(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("encapsulate+decapsulate");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for (name, encr, integ) in transforms() {
        for size in SIZES {
            let now = Instant::now();
            let out = OutboundSa::new(params(encr, integ), now).expect("valid keys");
            let inb = InboundSa::new(params(encr, integ), now).expect("valid keys");
            let inner = inner_packet(size);
            let mut buf = vec![0u8; size + 128];
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
                b.iter(|| {
                    let n = out.encapsulate(black_box(&inner), &mut buf).expect("encapsulate");
                    let d = inb.decapsulate(&mut buf[..n]).expect("decapsulate");
                    black_box(d.inner.len())
                })
            });
        }
    }
    group.finish();
}

fn encapsulate_only(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("encapsulate");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for (name, encr, integ) in transforms() {
        let size = 1400;
        let out = OutboundSa::new(params(encr, integ), Instant::now()).expect("valid keys");
        let inner = inner_packet(size);
        let mut buf = vec![0u8; size + 128];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
            b.iter(|| black_box(out.encapsulate(black_box(&inner), &mut buf).expect("encapsulate")))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = round_trip, encapsulate_only
}
criterion_main!(benches);
