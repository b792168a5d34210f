//! Sliding-window rate limits as plain data: [`Window`] counts the hits of
//! each key in the last `window` and refuses a key that has had `max`;
//! [`ip_key`] says which client addresses count as one. No clock: every
//! call is handed its `now` (the daemon's limiters pass `Instant::now()`).
//!
//! Cost and memory are bounded whatever the keys: each accepted hit is one
//! entry in a queue ordered by expiry and one count in a map, so a call
//! drops the expired entries at the queue's front (each entry is pushed
//! once and popped once: O(1) amortised, no scan of the map), and at most
//! `capacity` entries are held. When a flood of distinct keys fills the
//! queue, the oldest hit is forgotten early. Forgetting only ever lets a
//! key through sooner, never refuses one: a full window never turns away
//! a key that has not itself used up its `max`, so no flood of other keys
//! can lock a victim out; what a flood can buy is an earlier reset of
//! someone's count, which is why the daemon adds a global cap beside the
//! per-key limits (`subscription.max_confirmations_per_hour`).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// What a client address is counted by, in every per-client limit (HTTP
/// connections per IP, sign-ups per IP): IPv4 addresses one by one, IPv6
/// by their /64 (one customer line usually gets a whole /64, so counting
/// each address would be no limit at all), IPv4-mapped IPv6 as the IPv4
/// address (a dual-stack listener sees IPv4 clients that way).
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// At most `max` hits per key in any `window`, holding at most `capacity`
/// hits in all (see the module doc for what happens past it).
#[derive(Debug)]
pub struct Window<K> {
    max: usize,
    window: Duration,
    capacity: usize,
    /// Hits in the window per key; a key is here while it has one.
    counts: HashMap<K, usize>,
    /// Every hit in the window, oldest first, with its expiry.
    queue: VecDeque<(K, Instant)>,
    /// The latest `now` seen: a caller's clock read before another
    /// caller's but handed in after it counts as this, so the queue stays
    /// in expiry order.
    latest: Option<Instant>,
}

impl<K: Hash + Eq + Clone> Window<K> {
    /// `capacity` is at least 1.
    pub fn new(max: usize, window: Duration, capacity: usize) -> Window<K> {
        Window { max, window, capacity: capacity.max(1), counts: HashMap::new(), queue: VecDeque::new(), latest: None }
    }

    /// Counts a hit of `key` at `now` and says yes, or says no (and counts
    /// nothing) when `key` had `max` hits in the `window` before `now`.
    pub fn allow(&mut self, key: K, now: Instant) -> bool {
        let now = match self.latest {
            Some(latest) if latest > now => latest,
            _ => now,
        };
        self.latest = Some(now);
        while self.queue.front().is_some_and(|(_, expiry)| *expiry <= now) {
            self.forget_oldest();
        }
        if self.counts.get(&key).is_some_and(|n| *n >= self.max) {
            return false;
        }
        if self.queue.len() >= self.capacity {
            self.forget_oldest();
        }
        *self.counts.entry(key.clone()).or_insert(0) += 1;
        self.queue.push_back((key, now + self.window));
        true
    }

    /// Whether `key` has used up its `max` hits in the window before `now`,
    /// counting nothing: a caller that must refuse a blocked key before it
    /// looks at the request (the admin API's failed logins) asks this
    /// first and counts with [`Window::allow`] only what fails.
    pub fn exhausted(&mut self, key: &K, now: Instant) -> bool {
        let now = self.latest.map_or(now, |latest| latest.max(now));
        self.latest = Some(now);
        while self.queue.front().is_some_and(|(_, expiry)| *expiry <= now) {
            self.forget_oldest();
        }
        self.counts.get(key).is_some_and(|n| *n >= self.max)
    }

    /// Hits held (for tests and benches: bounded by `capacity`).
    pub fn held(&self) -> usize {
        self.queue.len()
    }

    /// Keys held (at most [`Window::held`]).
    pub fn keys(&self) -> usize {
        self.counts.len()
    }

    fn forget_oldest(&mut self) {
        let Some((key, _)) = self.queue.pop_front() else { return };
        if let Some(n) = self.counts.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn the_window_allows_max_then_refuses_until_it_slides() {
        let mut w: Window<&str> = Window::new(2, HOUR, 100);
        let t0 = Instant::now();
        assert!(w.allow("a", t0));
        assert!(w.allow("a", t0 + Duration::from_secs(10)));
        assert!(!w.allow("a", t0 + Duration::from_secs(20)));
        assert!(w.allow("b", t0), "other keys are counted apart");
        assert!(w.allow("a", t0 + HOUR), "the first hit has left the window");
        assert!(!w.allow("a", t0 + HOUR + Duration::from_secs(5)), "the second one has not");
        assert!(w.allow("a", t0 + HOUR + Duration::from_secs(10)));
    }

    #[test]
    fn exhausted_counts_nothing_and_says_whether_allow_would_refuse() {
        let mut w: Window<&str> = Window::new(2, HOUR, 100);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(!w.exhausted(&"a", t0), "asking is not a hit");
        }
        assert!(w.allow("a", t0) && w.allow("a", t0));
        assert!(w.exhausted(&"a", t0 + Duration::from_secs(1)));
        assert!(!w.exhausted(&"b", t0 + Duration::from_secs(1)));
        assert!(!w.exhausted(&"a", t0 + HOUR), "the window slid");
    }

    #[test]
    fn a_clock_read_earlier_but_handed_in_later_counts_as_the_latest() {
        let mut w: Window<u8> = Window::new(1, HOUR, 10);
        let t0 = Instant::now();
        assert!(w.allow(1, t0 + Duration::from_secs(5)));
        assert!(w.allow(2, t0));
        assert!(!w.allow(2, t0 + HOUR), "2's hit counts from t0 + 5 s, so it is still in the window");
        assert!(w.allow(2, t0 + HOUR + Duration::from_secs(5)));
    }

    /// Regression (issue 19, finding 8): past 10k keys every call scanned
    /// the whole map. Now the memory is bounded by `capacity` and a full
    /// window forgets the oldest hits, never refusing a fresh key: a flood
    /// of 200k distinct /64s neither grows it nor locks anyone out.
    #[test]
    fn a_flood_of_distinct_keys_is_held_within_capacity_and_never_refuses_a_fresh_key() {
        let mut w: Window<IpAddr> = Window::new(2, HOUR, 100_000);
        let t0 = Instant::now();
        let victim = ip_key("2001:db8:ffff:1::1".parse().unwrap());
        assert!(w.allow(victim, t0));
        for i in 0..200_000u32 {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, (i >> 16) as u16, i as u16, 0, 0, 0, 1));
            assert!(w.allow(ip_key(ip), t0), "flood key {i} refused");
            assert!(w.held() <= 100_000 && w.keys() <= w.held());
        }
        assert!(w.allow(victim, t0), "the victim is never refused for others' hits");
        assert!(w.allow(victim, t0) && !w.allow(victim, t0), "and still limited by its own");
    }

    /// Regression: each IPv6 address had its own window, so a client with
    /// a /64 (2^64 addresses) was not limited at all.
    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let key = |s: &str| ip_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:1234:5678:9abc"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }
}
