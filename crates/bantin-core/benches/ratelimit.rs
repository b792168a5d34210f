//! The sign-up rate limiter under a flood (issue 19, finding 8): one call
//! of `ratelimit::Window::allow` once it holds 100k distinct IPv6 /64s,
//! each call a /64 not seen before (the flood's steady state: every call
//! also forgets the oldest hit), and beside it the window as it was
//! (`before`: a map of per-key queues, the whole map scanned on every call
//! past 10k keys). `cargo bench --bench ratelimit` runs it; `cargo test
//! --benches` runs each once.

use bantin_core::ratelimit::{Window, ip_key};
use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::{HashMap, VecDeque};
use std::hint::black_box;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

const KEYS: u32 = 100_000;
const HOUR: Duration = Duration::from_secs(3600);

/// The `n`th /64 of the flood, as a client address in it.
fn client(n: u32) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, (n >> 16) as u16, n as u16, 0x1234, 0, 0, 1))
}

/// The limiter before issue 19, as `src/subscription/limit.rs` had it.
#[derive(Default)]
struct Before {
    hits: HashMap<IpAddr, VecDeque<Instant>>,
}

impl Before {
    fn allow(&mut self, key: IpAddr, max: usize, window: Duration, now: Instant) -> bool {
        if self.hits.len() > 10_000 {
            self.hits.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let q = self.hits.entry(key).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= max {
            return false;
        }
        q.push_back(now);
        true
    }
}

fn flood(c: &mut Criterion) {
    let t0 = Instant::now();
    let mut g = c.benchmark_group("ratelimit_100k_64s");
    g.sample_size(20).measurement_time(Duration::from_secs(3));

    let mut window: Window<IpAddr> = Window::new(20, HOUR, KEYS as usize);
    for n in 0..KEYS {
        window.allow(ip_key(client(n)), t0);
    }
    let mut next = KEYS;
    g.bench_function("window", |b| {
        b.iter(|| {
            next = next.wrapping_add(1);
            black_box(window.allow(ip_key(client(next)), t0))
        })
    });
    assert!(window.held() <= KEYS as usize);

    // The state 100k allow() calls leave (one hit per /64), built directly:
    // filling it through allow() costs O(n²) (each call past 10,000 keys
    // scans them all), minutes in the debug build `cargo test --benches` runs.
    let mut before = Before::default();
    for n in 0..KEYS {
        before.hits.entry(ip_key(client(n))).or_default().push_back(t0);
    }
    let mut next = KEYS;
    g.bench_function("before", |b| {
        b.iter(|| {
            next = next.wrapping_add(1);
            black_box(before.allow(ip_key(client(next)), 20, HOUR, t0))
        })
    });
    g.finish();
}

criterion_group!(benches, flood);
criterion_main!(benches);
