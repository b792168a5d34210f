//! The HTTP limits of issue 19 against the real `bantin serve`: slow
//! readers (a write progress deadline on the front and on hyper, a
//! connection cap per client), the client address behind a trusted
//! reverse proxy, the page headers, and the probes' database answers
//! reused for a few seconds.
//!
//! Loopback has all of 127.0.0.0/8 to send from, so "another client" is
//! another 127.x.y.z source address.

use crate::support::harness;
use crate::support::mailtest;
use crate::support::serve::Serve;
use harness::status_of;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The write deadline of these tests' server (the default is 30 s).
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);
/// Slow readers from one address.
const SLOW: usize = 5000;
/// Requests each slow reader pipelines and never reads the answers of.
const PIPELINED: usize = 200;

struct Setup {
    rt: tokio::runtime::Runtime,
    serve: Serve,
    _dir: tempfile::TempDir,
    _exclusive: std::sync::MutexGuard<'static, ()>,
}

/// A server whose `[http]` section also has `http` (lines of TOML); mail
/// goes nowhere (these tests only read the answers).
fn setup(http: &str) -> Setup {
    let exclusive = crate::support::exclusive();
    harness::raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = harness::write_config(dir.path(), &mailtest::examples(), "smtp://127.0.0.1:9", "");
    with_http_keys(&config, http);
    let serve = Serve::start(&config);
    Setup { rt, serve, _dir: dir, _exclusive: exclusive }
}

fn with_http_keys(config: &Path, http: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    let anchor = "public_url = \"http://bantin.test/\"\n";
    assert!(text.contains(anchor), "harness::write_config's [http] section changed");
    std::fs::write(config, text.replacen(anchor, &format!("{anchor}{http}\n"), 1)).unwrap();
}

/// A connection from `source` with a small receive buffer (a client that
/// does not read fills it at once), or `None` if none came within 500 ms.
async fn connect_from(source: IpAddr, addr: SocketAddr) -> Option<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.set_recv_buffer_size(4096).ok()?;
    socket.bind(SocketAddr::new(source, 0)).ok()?;
    tokio::time::timeout(Duration::from_millis(500), socket.connect(addr)).await.ok()?.ok()
}

/// Sends `request` from `source` and reads the whole answer (at most `limit`).
fn ask_from(rt: &tokio::runtime::Runtime, source: IpAddr, addr: SocketAddr, request: String, limit: Duration) -> String {
    rt.block_on(async move {
        let answer = tokio::time::timeout(limit, async {
            let mut s = connect_from(source, addr).await?;
            s.write_all(request.as_bytes()).await.ok()?;
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.ok()?;
            Some(out)
        });
        String::from_utf8_lossy(&answer.await.ok().flatten().unwrap_or_default()).into_owned()
    })
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
}

/// Open sockets of `pid` (connections, the listener, the database's).
fn open_fds(pid: u32) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return 0 };
    fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok()).filter(|l| l.to_string_lossy().starts_with("socket:")).count()
}

/// Regression (issue 19, finding 1): clients that asked for a feed and
/// never read held their connections for ever, and one address could take
/// every one of the 4,096: feeds and sign-up went offline.
#[test]
fn slow_readers_from_one_address_are_capped_and_dropped_at_the_write_deadline() {
    let s = setup(&format!("write_timeout = \"{}s\"", WRITE_TIMEOUT.as_secs()));
    let addr = s.serve.addr;
    let pid = s.serve.child.id();
    let baseline = open_fds(pid);
    // Every slow reader pipelines PIPELINED requests for the feed, half
    // on the front's fast path, half (absolute-form targets) through hyper.
    let fast = get("/feed.xml").replace("Connection: close\r\n", "").repeat(PIPELINED);
    let hyper = fast.replace("GET /feed.xml", "GET http://t/feed.xml");
    let started = Instant::now();
    let (slow, refused) = s.rt.block_on(async {
        let (mut held, mut failed) = (Vec::new(), 0usize);
        for i in 0..SLOW {
            match connect_from(IpAddr::from([127, 0, 0, 1]), addr).await {
                Some(mut c) => {
                    // Closed at once when over the cap: the write may fail.
                    let _ = tokio::time::timeout(Duration::from_millis(200), c.write_all(if i % 2 == 0 { &fast } else { &hyper }.as_bytes())).await;
                    held.push(c);
                }
                None => failed += 1,
            }
            // Without a per-client cap the accept queue fills: stop trying.
            if failed > 20 {
                break;
            }
        }
        (held, failed)
    });
    let connected = started.elapsed();
    let during = open_fds(pid);

    // A fresh client from another address is served at once.
    let asked = Instant::now();
    let answer = ask_from(&s.rt, IpAddr::from([127, 0, 0, 2]), addr, get("/feed.xml"), Duration::from_secs(5));
    let fresh = asked.elapsed();
    assert_eq!(status_of(&answer), 200, "a fresh client beside {} slow readers: {answer:.200}", slow.len());
    assert!(fresh < Duration::from_secs(1), "the fresh client waited {fresh:?}");

    // The slow readers the server took are dropped within the deadline.
    let margin = Duration::from_secs(3);
    let closed = loop {
        if open_fds(pid) <= baseline + 4 {
            break Some(started.elapsed());
        }
        if asked.elapsed() > WRITE_TIMEOUT + margin {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (rss, peak) = s.serve.memory_kib();
    let page = ask_from(&s.rt, IpAddr::from([127, 0, 0, 3]), addr, get("/metrics"), Duration::from_secs(5));
    let metric = |name| harness::metric(&page, name).unwrap_or(0.0) as u64;
    let (refused_at_accept, timeouts) = (metric("bantin_http_connections_refused_per_ip_total"), metric("bantin_http_write_timeouts_total"));
    let log = s.serve.log();
    harness::figures(
        "http: 5,000 slow readers, one IP",
        &format!(
            "{} connected in {:.1} s ({refused} not connected within 0.5 s), server sockets {} → {} → back {} after the first connected, \
             closed at accept {refused_at_accept}, write timeouts {timeouts}, fresh client {} ms, RSS {} MiB (peak {} MiB)",
            slow.len(),
            connected.as_secs_f64(),
            baseline,
            during,
            closed.map_or("never".to_string(), |d| format!("{:.1} s", d.as_secs_f64())),
            fresh.as_millis(),
            rss / 1024,
            peak / 1024
        ),
    );
    assert!(closed.is_some(), "server sockets still {} (baseline {baseline}) after {:?}", open_fds(pid), WRITE_TIMEOUT + margin);
    assert!(during <= baseline + 64 + 8, "one address held {} sockets", during - baseline);
    assert!(timeouts >= 60, "write timeouts counted: {timeouts}");
    assert!(refused_at_accept > 0);
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
    assert_eq!(harness::panics(&log), 0, "{log}");
    drop(slow);
}

fn subscribe(email: &str, forwarded_for: &str) -> String {
    let body = format!("email={}", email.replace('@', "%40"));
    format!(
        "POST /subscribe HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Forwarded-For: {forwarded_for}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Regression (issue 19, finding 5): behind a reverse proxy every sign-up
/// came from the proxy's address, so 20 an hour shut sign-up off for
/// everyone. The forwarding header counts only from a trusted proxy.
#[test]
fn the_client_behind_a_trusted_proxy_is_limited_alone_and_an_untrusted_peer_cannot_name_one() {
    let s = setup("trusted_proxies = [\"127.0.5.1\", \"::1\"]");
    let addr = s.serve.addr;
    let statuses = |source: [u8; 4], tag: &str| -> Vec<u16> {
        (0..25)
            .map(|i| {
                let request = subscribe(&format!("{tag}{i}@example.org"), &format!("203.0.113.77, 198.51.100.{i}"));
                status_of(&ask_from(&s.rt, IpAddr::from(source), addr, request, Duration::from_secs(10)))
            })
            .collect()
    };
    // 25 readers behind the proxy (each its own X-Forwarded-For, behind
    // a made-up hop): none is limited.
    let proxied = statuses([127, 0, 5, 1], "behind");
    // A client that is no proxy naming 25 addresses: counted as itself.
    let direct = statuses([127, 0, 6, 1], "direct");
    let limited = |v: &[u16]| v.iter().filter(|c| **c == 429).count();
    harness::figures(
        "http: sign-ups behind a proxy",
        &format!(
            "25 from a trusted proxy (25 X-Forwarded-For): {} refused; 25 from an untrusted peer naming 25: {} refused (first at #{})",
            limited(&proxied),
            limited(&direct),
            direct.iter().position(|c| *c == 429).map_or(0, |p| p + 1)
        ),
    );
    assert!(proxied.iter().all(|c| *c == 202), "behind the trusted proxy: {proxied:?}");
    assert!(direct[..20].iter().all(|c| *c == 202), "{direct:?}");
    assert!(direct[20..].iter().all(|c| *c == 429), "the 21st from one untrusted peer is refused: {direct:?}");
}

/// Issue 19, finding 9: the pages had no Content-Security-Policy,
/// X-Content-Type-Options or Referrer-Policy (and their URLs hold tokens).
#[test]
fn pages_carry_their_policy_and_no_referrer_and_feeds_are_not_sniffed() {
    let s = setup("");
    let addr = s.serve.addr;
    let ask = |request: String| ask_from(&s.rt, IpAddr::from([127, 0, 7, 1]), addr, request, Duration::from_secs(10));
    let header = |answer: &str, name: &str| -> Option<String> {
        let head = answer.split("\r\n\r\n").next().unwrap_or("");
        head.lines().find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string()))
    };
    let page_checks = |what: &str, answer: &str| {
        assert!(matches!(status_of(answer), 200 | 202 | 304), "{what}: {answer:.300}");
        let policy = header(answer, "content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP\n{answer:.600}"));
        for part in ["default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'", "img-src 'self' https: data:"] {
            assert!(policy.contains(part), "{what}: {policy}");
        }
        assert!(!policy.contains("script-src"), "{what}: no script is allowed: {policy}");
        assert_eq!(header(answer, "referrer-policy").as_deref(), Some("same-origin"), "{what}");
        assert_eq!(header(answer, "x-content-type-options").as_deref(), Some("nosniff"), "{what}");
        policy
    };
    // The index on the front's fast path, and through hyper (absolute form).
    let index = ask(get("/"));
    let policy = page_checks("index (front)", &index);
    page_checks("index (hyper)", &ask(get("http://t/")));
    // A routed page: the answer to a sign-up, and the confirm page of a bad token.
    page_checks("subscribe page", &ask(subscribe("reader@example.org", "192.0.2.1")));
    let confirm = ask(get("/confirm/not-a-token"));
    assert!(header(&confirm, "x-content-type-options").is_some(), "{confirm:.300}");
    // A feed: not sniffed, and no page policy on it.
    let feed = ask(get("/feed.xml"));
    assert_eq!(header(&feed, "x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header(&feed, "content-security-policy"), None);
    harness::figures("http: page headers", &format!("index, pages: CSP \"{policy}\", Referrer-Policy same-origin, nosniff; feeds: nosniff"));
}

/// Issue 19, finding 9: every `/metrics` and `/healthz` scrape ran the
/// state database's counts, so a flood of scrapes was a flood of
/// full-table queries. Now the counts are reused for 5 s: a sign-up right
/// after a scrape shows only in the next window.
#[test]
fn a_flood_of_scrapes_reuses_the_state_counts_for_a_few_seconds() {
    let s = setup("");
    let addr = s.serve.addr;
    let ask = |request: String| ask_from(&s.rt, IpAddr::from([127, 0, 8, 1]), addr, request, Duration::from_secs(10));
    let pending = || harness::metric(&ask(get("/metrics")), "bantin_subscribers{status=\"pending\"}");
    let first = pending();
    let window = Instant::now();
    assert_eq!(status_of(&ask(subscribe("scraped@example.org", "192.0.2.1"))), 202);
    let started = Instant::now();
    let mut scrapes = 0;
    while started.elapsed() < Duration::from_secs(1) {
        assert_eq!(pending(), first, "within the window the counts are the first scrape's");
        scrapes += 1;
    }
    let in_window = window.elapsed();
    std::thread::sleep(Duration::from_secs(5).saturating_sub(in_window) + Duration::from_millis(300));
    let after = pending();
    harness::figures(
        "http: scrape flood",
        &format!("{scrapes} scrapes in 1 s answered from one count (pending {first:?}); after the 5 s window: pending {after:?}"),
    );
    assert!(in_window < Duration::from_secs(5), "the scrapes took {in_window:?}: the window passed");
    assert_eq!(after, first.map(|n| n + 1.0), "the next window counts again");
    assert_eq!(status_of(&ask(get("/healthz"))), 200);
}
