//! The sign-up limits, kept in memory (a restart forgets them, which only
//! ever allows a few more mails): requests per client (IPv4 address, IPv6
//! /64) an hour and per mailbox a day, checked by the request, and
//! confirmation mails an hour in all, checked by the sign-up worker before
//! it renders one. Each is a `ratelimit::Window`: O(1) a call and bounded
//! memory, whatever a flood sends (see that module for why a full window
//! forgets rather than refuses).

use crate::config::Subscription;
use crate::ratelimit::{Window, ip_key};
use crate::subscriber::canonical_mailbox;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Hits each per-key window holds at most: ~5 MB of per-IP entries, less
/// for mailboxes (a 64-bit hash each). Past it the oldest are forgotten.
const CAPACITY: usize = 100_000;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sign-up requests for one mailbox per `address_window`.
    pub per_address: usize,
    pub address_window: Duration,
    /// Subscribe requests from one IP per `ip_window`.
    pub per_ip: usize,
    pub ip_window: Duration,
    /// Sign-up mails (confirmations; preferences links to subscribers who sign up again) an hour, all addresses together.
    pub confirmations_per_hour: usize,
}

impl Limits {
    /// The limits `[subscription]` sets.
    pub fn from_settings(s: &Subscription) -> Limits {
        Limits {
            per_address: s.per_address_per_day as usize,
            address_window: Duration::from_secs(24 * 3600),
            per_ip: s.per_ip_per_hour as usize,
            ip_window: Duration::from_secs(3600),
            confirmations_per_hour: s.max_confirmations_per_hour as usize,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_settings(&Subscription::default())
    }
}

/// The per-request limits.
#[derive(Debug)]
pub(super) struct Limiter {
    /// Mailboxes are counted by a keyed 64-bit hash of their canonical
    /// form: a fixed 8 bytes an entry however long the address, and keyed
    /// per process so nobody can pick addresses that collide.
    hasher: RandomState,
    addresses: Window<u64>,
    ips: Window<IpAddr>,
}

impl Limiter {
    pub(super) fn new(limits: Limits) -> Limiter {
        Limiter {
            hasher: RandomState::new(),
            addresses: Window::new(limits.per_address, limits.address_window, CAPACITY),
            ips: Window::new(limits.per_ip, limits.ip_window, CAPACITY),
        }
    }

    /// `email` as `normalize_address` gives it; counted by its mailbox.
    pub(super) fn allow_address(&mut self, email: &str) -> bool {
        let key = self.hasher.hash_one(canonical_mailbox(email));
        self.addresses.allow(key, Instant::now())
    }

    pub(super) fn allow_ip(&mut self, ip: IpAddr) -> bool {
        self.ips.allow(ip_key(ip), Instant::now())
    }
}

/// The cap on confirmation mails an hour, all addresses together; owned
/// by the sign-up worker.
#[derive(Debug)]
pub(super) struct MailCap(Window<()>);

impl MailCap {
    pub(super) fn new(limits: Limits) -> MailCap {
        let max = limits.confirmations_per_hour;
        MailCap(Window::new(max, Duration::from_secs(3600), max))
    }

    pub(super) fn allow(&mut self) -> bool {
        self.0.allow((), Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 19, finding 3): `Victim@…` and `victim+1@…` were
    /// counted apart.
    #[test]
    fn the_address_limit_counts_a_mailbox_whatever_its_case_or_tag() {
        let mut l = Limiter::new(Limits { per_address: 2, ..Limits::default() });
        assert!(l.allow_address("Victim@example.org"));
        assert!(l.allow_address("victim+1@example.org"));
        assert!(!l.allow_address("VICTIM+2@example.org"));
        assert!(l.allow_address("victim2@example.org"), "another mailbox is counted apart");
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let mut l = Limiter::new(Limits { per_ip: 2, ..Limits::default() });
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(l.allow_ip(ip("2001:db8:1:2::1")) && l.allow_ip(ip("2001:db8:1:2:ffff::9")));
        assert!(!l.allow_ip(ip("2001:db8:1:2::99")), "a third address of the same /64");
        assert!(l.allow_ip(ip("2001:db8:1:3::1")), "another /64 is counted apart");
    }

    #[test]
    fn the_mail_cap_counts_every_address_together() {
        let mut cap = MailCap::new(Limits { confirmations_per_hour: 3, ..Limits::default() });
        assert!(cap.allow() && cap.allow() && cap.allow());
        assert!(!cap.allow());
    }
}
