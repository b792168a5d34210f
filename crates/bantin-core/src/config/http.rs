//! `[http]`: where `serve` listens, where readers reach bantin's own
//! routes, the limits every connection is held to, and which peers are
//! reverse proxies whose forwarding headers name the client.

use super::{ConfigError, Origin, absolute_url, parse_duration};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone)]
pub struct Http {
    pub listen: SocketAddr,
    /// Where readers reach bantin's own routes (feeds, subscription pages);
    /// defaults to `site.base_url`. Ends with `/`.
    pub public_url: Url,
    /// Time a client has to send each request head, idle time included.
    pub header_timeout: Duration,
    /// Time a routed request's handler may take before the client gets 503.
    pub request_timeout: Duration,
    /// Time a response may go without any byte taken by the client before
    /// the connection is dropped (slow readers).
    pub write_timeout: Duration,
    pub max_connections: usize,
    /// Connections one client ([`crate::ratelimit::ip_key`]) may hold at once.
    pub max_connections_per_ip: usize,
    /// Peers whose forwarding header names the client.
    pub trusted_proxies: Vec<Cidr>,
    /// Which header the trusted proxies set.
    pub forwarded_header: ForwardedHeader,
}

/// The header a reverse proxy names the client in. Only one is read: a
/// proxy passes the other through from the client unchanged, so reading
/// both would let a client name itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, …` (nginx, HAProxy, most CDNs).
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=…`.
    Forwarded,
}

/// An IPv4 or IPv6 network, `192.0.2.0/24` or `2001:db8::/32` (a bare
/// address is the network of that one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    /// Whether `ip` is in this network; an IPv4-mapped IPv6 address is
    /// matched as the IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(test, derive(serde::Serialize, schemars::JsonSchema))]
pub(super) struct RawHttp {
    /// Address to listen on; systemd socket activation (`LISTEN_FDS`) takes precedence.
    listen: String,
    /// bantin's own public address, for links in mails (confirm, preferences, unsubscribe). Default: `site.base_url`.
    public_url: Option<String>,
    /// Time allowed to send each request head (idle keep-alive included).
    header_timeout: String,
    /// Time for a routed request (sign-up, pages) to be answered; then 503.
    request_timeout: String,
    /// A response that makes no progress this long is dropped (slow readers).
    write_timeout: String,
    /// Connections at once; more wait in the kernel's accept queue.
    max_connections: u32,
    /// Connections from one client (an IPv4 address, an IPv6 /64); more are closed at once.
    max_connections_per_ip: u32,
    /// Addresses or CIDRs whose forwarded-for header is believed, e.g. `["127.0.0.1", "10.0.0.0/8"]`.
    trusted_proxies: Vec<String>,
    /// The header the proxy sets: `X-Forwarded-For` or `Forwarded` (RFC 7239).
    forwarded_header: String,
}
impl Default for RawHttp {
    fn default() -> Self {
        RawHttp {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            header_timeout: "10s".into(),
            request_timeout: "30s".into(),
            write_timeout: "30s".into(),
            max_connections: 4096,
            max_connections_per_ip: 64,
            trusted_proxies: Vec::new(),
            forwarded_header: "X-Forwarded-For".into(),
        }
    }
}

impl RawHttp {
    /// `base_url`: the site's, which `public_url` defaults to.
    pub(super) fn validate(self, origin: &Origin, base_url: &Url) -> Result<Http, ConfigError> {
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            origin.bad("http.listen", format!("{:?} is not an address:port such as \"127.0.0.1:8080\"", self.listen))
        })?;
        let public_url = match self.public_url.as_deref().map(str::trim) {
            None | Some("") => base_url.clone(),
            Some(u) => absolute_url(u).map_err(|m| origin.bad("http.public_url", m))?,
        };
        let duration = |key: &str, text: &str| match parse_duration(text) {
            Ok(d) if d.is_zero() => Err(origin.bad(key, format!("{text:?} is no time at all; write a duration such as \"30s\""))),
            Ok(d) => Ok(d),
            Err(m) => Err(origin.bad(key, m)),
        };
        let count = |key: &str, n: u32| match n {
            0 => Err(origin.bad(key, "0 would refuse every connection; write a positive number".into())),
            n => Ok(n as usize),
        };
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|s| {
                Cidr::parse(s).ok_or_else(|| {
                    origin.bad("http.trusted_proxies", format!("{s:?} is not an address or network such as \"10.0.0.0/8\" or \"::1\""))
                })
            })
            .collect::<Result<_, _>>()?;
        let forwarded_header = match self.forwarded_header.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => ForwardedHeader::XForwardedFor,
            "forwarded" => ForwardedHeader::Forwarded,
            _ => {
                return Err(origin.bad(
                    "http.forwarded_header",
                    format!("{:?} is not \"X-Forwarded-For\" or \"Forwarded\" (the header your proxy sets)", self.forwarded_header),
                ));
            }
        };
        Ok(Http {
            listen,
            public_url,
            header_timeout: duration("http.header_timeout", &self.header_timeout)?,
            request_timeout: duration("http.request_timeout", &self.request_timeout)?,
            write_timeout: duration("http.write_timeout", &self.write_timeout)?,
            max_connections: count("http.max_connections", self.max_connections)?,
            max_connections_per_ip: count("http.max_connections_per_ip", self.max_connections_per_ip)?,
            trusted_proxies,
            forwarded_header,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses_only() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(ip("10.1.200.3")) && !net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped counts as IPv4");
        let one = Cidr::parse("2001:db8::1").unwrap();
        assert!(one.contains(ip("2001:db8::1")) && !one.contains(ip("2001:db8::2")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.9")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::5")));
        for bad in ["10.0.0.0/33", "::/129", "10.0.0/8", "proxy", "10.0.0.0/", ""] {
            assert_eq!(Cidr::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn limits_and_proxies_are_read_and_bad_values_named() {
        let load = |http: &str| {
            let text = format!("[site]\ntitle = \"T\"\nbase_url = \"https://x.org\"\n[http]\n{http}");
            super::super::Settings::from_sources(std::path::Path::new("bantin.toml"), &text, [])
        };
        let http = load("").unwrap().http;
        assert_eq!((http.header_timeout, http.request_timeout, http.write_timeout), (Duration::from_secs(10), Duration::from_secs(30), Duration::from_secs(30)));
        assert_eq!((http.max_connections, http.max_connections_per_ip), (4096, 64));
        assert_eq!((http.trusted_proxies.len(), http.forwarded_header), (0, ForwardedHeader::XForwardedFor));
        let http = load("write_timeout = \"3s\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nforwarded_header = \"forwarded\"").unwrap().http;
        assert_eq!((http.write_timeout, http.trusted_proxies.len(), http.forwarded_header), (Duration::from_secs(3), 2, ForwardedHeader::Forwarded));
        for (bad, key) in [
            ("write_timeout = \"0s\"", "http.write_timeout"),
            ("header_timeout = \"soon\"", "http.header_timeout"),
            ("max_connections_per_ip = 0", "http.max_connections_per_ip"),
            ("trusted_proxies = [\"10.0.0.0/40\"]", "http.trusted_proxies"),
            ("forwarded_header = \"X-Real-IP\"", "http.forwarded_header"),
        ] {
            let err = load(bad).unwrap_err().to_string();
            assert!(err.contains(key), "{bad}: {err}");
        }
    }
}
