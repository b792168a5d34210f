//! Sliding-window limits on confirmation mails, per address and per client
//! IP, kept in memory (a restart forgets them, which only ever allows a
//! few more mails). Old entries are pruned as the maps grow, so a flood of
//! distinct addresses cannot grow them without bound.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use crate::config::client_key;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Confirmation mails to one address per `address_window`.
    pub per_address: usize,
    pub address_window: Duration,
    /// Subscribe requests from one IP per `ip_window`.
    pub per_ip: usize,
    pub ip_window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_address: 3,
            address_window: Duration::from_secs(24 * 3600),
            per_ip: 20,
            ip_window: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug)]
pub(super) struct Limiter {
    limits: Limits,
    addresses: Window<String>,
    ips: Window<IpAddr>,
}

impl Limiter {
    pub(super) fn new(limits: Limits) -> Limiter {
        Limiter { limits, addresses: Window::default(), ips: Window::default() }
    }

    pub(super) fn allow_address(&mut self, email: &str) -> bool {
        self.addresses.allow(email.to_string(), self.limits.per_address, self.limits.address_window, Instant::now())
    }

    pub(super) fn allow_ip(&mut self, ip: IpAddr) -> bool {
        self.ips.allow(client_key(ip), self.limits.per_ip, self.limits.ip_window, Instant::now())
    }
}

#[derive(Debug)]
struct Window<K> {
    hits: HashMap<K, VecDeque<Instant>>,
}

impl<K> Default for Window<K> {
    fn default() -> Self {
        Window { hits: HashMap::new() }
    }
}

impl<K: Hash + Eq> Window<K> {
    fn allow(&mut self, key: K, max: usize, window: Duration, now: Instant) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_allows_max_then_refuses_until_it_slides() {
        let mut w: Window<&str> = Window::default();
        let t0 = Instant::now();
        let hour = Duration::from_secs(3600);
        assert!(w.allow("a", 2, hour, t0));
        assert!(w.allow("a", 2, hour, t0));
        assert!(!w.allow("a", 2, hour, t0));
        assert!(w.allow("b", 2, hour, t0), "other keys are counted apart");
        assert!(w.allow("a", 2, hour, t0 + hour));
    }

    /// Regression: each IPv6 address had its own window, so a client with
    /// a /64 (2^64 addresses) was not limited at all.
    #[test]
    fn ipv6_clients_are_limited_per_64_and_mapped_ipv4_as_ipv4() {
        let mut l = Limiter::new(Limits { per_ip: 2, ..Limits::default() });
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1234:5678:9abc".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.allow_ip(a) && l.allow_ip(b));
        assert!(!l.allow_ip("2001:db8:1:2::99".parse().unwrap()), "a third address of the same /64");
        assert!(l.allow_ip(other), "another /64 is counted apart");
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert!(l.allow_ip(v4) && l.allow_ip(mapped));
        assert!(!l.allow_ip(v4), "the mapped form counts as the IPv4 address");
    }
}
