//! Who a connection's client is: the per-client connection count held at
//! accept ([`PerClient`], counted by `ratelimit::ip_key`), and the client
//! address of a request that came through a trusted reverse proxy
//! ([`Proxies`]), which routed requests get as `ConnectInfo<SocketAddr>`.
//!
//! A forwarding header is read only when the TCP peer is a trusted proxy,
//! and then as the right-most hop that is not itself a trusted proxy: the
//! hops to its left were written by whoever sent the request, so any of
//! them may be made up. Trusted proxies are not held to the per-client
//! connection cap (every client behind them shares their address).

use crate::config::{Cidr, ForwardedHeader, Http};
use crate::ratelimit::ip_key;
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

/// The connections each client holds, against `http.max_connections_per_ip`.
pub(super) struct PerClient {
    max: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; its client's count goes down when dropped.
pub(super) struct Held {
    clients: Arc<PerClient>,
    key: IpAddr,
}

impl PerClient {
    pub(super) fn new(max: usize) -> Arc<PerClient> {
        Arc::new(PerClient { max, held: Mutex::new(HashMap::new()) })
    }

    /// A place for one more connection of `ip`, unless it holds the most.
    pub(super) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Held> {
        let key = ip_key(ip);
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(key).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Held { clients: Arc::clone(self), key })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self.clients.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// The trusted reverse proxies and the header they name the client in.
#[derive(Debug, Clone)]
pub struct Proxies {
    trusted: Vec<Cidr>,
    header: ForwardedHeader,
}

impl Proxies {
    pub fn new(http: &Http) -> Proxies {
        Proxies { trusted: http.trusted_proxies.clone(), header: http.forwarded_header }
    }

    pub(super) fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(ip))
    }

    /// The client of a request from `peer` (trusted or not: an untrusted
    /// peer is its own client, whatever the headers say).
    pub(super) fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.trusts(peer.ip()) {
            return peer;
        }
        let values = headers.get_all(match self.header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        });
        // Every header line in order, every hop of each in order.
        let mut hops: Vec<Option<IpAddr>> = Vec::new();
        for value in values {
            let Ok(text) = value.to_str() else {
                hops.push(None);
                continue;
            };
            for element in text.split(',') {
                hops.push(match self.header {
                    ForwardedHeader::XForwardedFor => node(element),
                    ForwardedHeader::Forwarded => forwarded_for(element),
                });
            }
        }
        let mut client = peer.ip();
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return SocketAddr::new(ip, 0),
                // A hop that is no address: what is left of it cannot be
                // told apart from made up, so the last proxy is the client.
                None => return peer,
            }
        }
        SocketAddr::new(client, 0)
    }
}

/// The `for=` node of one RFC 7239 `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then_some(value.trim())
    })?;
    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    node(value)
}

/// An address as hops are written: `192.0.2.1`, `192.0.2.1:8080`,
/// `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:8080`.
fn node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, port) = rest.split_once(']')?;
        if !(port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok())) {
            return None;
        }
        return ip.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    text.parse::<IpAddr>().ok().or_else(|| text.parse::<std::net::SocketAddrV4>().ok().map(|s| IpAddr::V4(*s.ip())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(header: ForwardedHeader) -> Proxies {
        let trusted = ["10.0.0.0/8", "2001:db8:ffff::/48"].iter().filter_map(|s| Cidr::parse(s)).collect();
        Proxies { trusted, header }
    }

    fn client(header: ForwardedHeader, peer: &str, values: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        let name = match header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        };
        for v in values {
            headers.append(name, HeaderValue::from_str(v).unwrap());
        }
        proxies(header).client(SocketAddr::new(peer.parse().unwrap(), 4000), &headers).ip().to_string()
    }

    #[test]
    fn x_forwarded_for_gives_the_rightmost_untrusted_hop() {
        let xff = ForwardedHeader::XForwardedFor;
        assert_eq!(client(xff, "10.0.0.1", &["203.0.113.9"]), "203.0.113.9");
        assert_eq!(client(xff, "10.0.0.1", &["6.6.6.6, 203.0.113.9, 10.0.0.7"]), "203.0.113.9", "made-up hops on the left");
        assert_eq!(client(xff, "10.0.0.1", &["6.6.6.6", "203.0.113.9"]), "203.0.113.9", "several header lines");
        assert_eq!(client(xff, "10.0.0.1", &["203.0.113.9:5555"]), "203.0.113.9");
        assert_eq!(client(xff, "10.0.0.1", &["10.0.0.3, 10.0.0.2"]), "10.0.0.3", "only proxies: the farthest");
        assert_eq!(client(xff, "10.0.0.1", &[]), "10.0.0.1", "no header: the peer");
    }

    #[test]
    fn an_untrusted_peer_is_its_own_client_whatever_it_says() {
        assert_eq!(client(ForwardedHeader::XForwardedFor, "198.51.100.4", &["203.0.113.9"]), "198.51.100.4");
        assert_eq!(client(ForwardedHeader::Forwarded, "198.51.100.4", &["for=203.0.113.9"]), "198.51.100.4");
    }

    #[test]
    fn forwarded_reads_for_with_quotes_brackets_and_ports() {
        let fwd = ForwardedHeader::Forwarded;
        assert_eq!(client(fwd, "10.0.0.1", &["for=203.0.113.9;proto=https;by=10.0.0.1"]), "203.0.113.9");
        assert_eq!(client(fwd, "10.0.0.1", &["For=\"[2001:db8:1::7]:4711\""]), "2001:db8:1::7");
        assert_eq!(client(fwd, "10.0.0.1", &["for=\"[2001:db8:1::7]\", for=10.0.0.9"]), "2001:db8:1::7");
        assert_eq!(client(fwd, "10.0.0.1", &["for=6.6.6.6, proto=http;for=\"203.0.113.9:80\""]), "203.0.113.9");
        assert_eq!(client(fwd, "2001:db8:ffff::1", &["for=\"[2001:db8:ffff::2]\""]), "2001:db8:ffff::2");
    }

    #[test]
    fn garbage_hops_leave_the_proxy_as_the_client() {
        for (header, value) in [
            (ForwardedHeader::XForwardedFor, "203.0.113.9, not-an-ip"),
            (ForwardedHeader::XForwardedFor, "[::1"),
            (ForwardedHeader::XForwardedFor, "1.2.3.4.5"),
            (ForwardedHeader::Forwarded, "for=unknown"),
            (ForwardedHeader::Forwarded, "for=_hidden"),
            (ForwardedHeader::Forwarded, "for=\"[2001:db8::1]:port\""),
            (ForwardedHeader::Forwarded, "proto=https"),
        ] {
            assert_eq!(client(header, "10.0.0.1", &[value]), "10.0.0.1", "{value:?}");
        }
        // A made-up hop left of a real one is never reached.
        assert_eq!(client(ForwardedHeader::XForwardedFor, "10.0.0.1", &["garbage, 203.0.113.9"]), "203.0.113.9");
    }

    #[test]
    fn each_client_holds_at_most_its_share_and_gets_it_back() {
        let clients = PerClient::new(2);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let a = clients.admit(ip("192.0.2.1"));
        let b = clients.admit(ip("::ffff:192.0.2.1"));
        assert!(a.is_some() && b.is_some());
        assert!(clients.admit(ip("192.0.2.1")).is_none(), "a third, mapped or not");
        assert!(clients.admit(ip("192.0.2.2")).is_some(), "another client");
        let v6: Vec<_> = ["2001:db8::1", "2001:db8::2"].iter().map(|s| clients.admit(ip(s))).collect();
        assert!(v6.iter().all(Option::is_some));
        assert!(clients.admit(ip("2001:db8::ffff")).is_none(), "the same /64");
        drop(a);
        assert!(clients.admit(ip("192.0.2.1")).is_some(), "a closed connection frees its place");
        drop((b, v6));
        assert!(clients.held.lock().unwrap().is_empty(), "emptied entries go");
    }
}
