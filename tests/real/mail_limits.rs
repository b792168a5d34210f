//! The mailer's global bounds against the real `bantin serve` and a real
//! SMTP server on loopback: `mail.max_per_second` and `mail.connections`
//! hold for everything one instance sends, however many delivery loops
//! sign-ups start (issue 19, finding 9: each sign-up started a loop with a
//! rate and sessions of its own).

use crate::support::harness;
use crate::support::mailtest::smtp::{Behaviour, SmtpServer};
use crate::support::mailtest;
use crate::support::serve::Serve;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

const RATE: u32 = 4;
const SIGN_UPS: usize = 12;

/// POSTs a sign-up from `source` (any 127.x.y.z), so no per-IP limit applies.
fn sign_up(rt: &tokio::runtime::Runtime, addr: SocketAddr, source: IpAddr, email: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = format!("email={email}");
    let request = format!(
        "POST /subscribe HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = rt.block_on(async move {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(source, 0)).unwrap();
        let mut s = socket.connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    });
    assert_eq!(harness::status_of(&answer), 202, "{answer}");
}

/// Regression: sign-ups 50 ms apart each started a delivery loop with its
/// own pace and sessions, so twelve confirmations went out in about half a
/// second over several sessions with `max_per_second = 4, connections = 1`.
#[test]
fn sign_ups_share_the_configured_rate_and_connections() {
    let _exclusive = crate::support::exclusive();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let smtp = rt.block_on(SmtpServer::start());
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("max_per_second = {RATE}\nconnections = 1");
    let config = harness::write_config(dir.path(), &mailtest::examples(), &smtp.url(), &extra);
    let serve = Serve::start(&config);
    // serve's start-up check of the relay (a session of its own) is over
    // before the count starts; then a relay slow enough that the sends of
    // different delivery loops would overlap.
    assert!(serve.wait_log("listening on", Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(300));
    smtp.reset_most_sessions(Duration::from_secs(5));
    smtp.set(Behaviour::Slow(60));

    let mut arrived: Vec<Instant> = Vec::new();
    for i in 0..SIGN_UPS {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 3, 1 + i as u8));
        sign_up(&rt, serve.addr, source, &format!("reader{i}@example.net"));
        std::thread::sleep(Duration::from_millis(50));
        note_arrivals(&smtp, &mut arrived);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrived.len() < SIGN_UPS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        note_arrivals(&smtp, &mut arrived);
    }
    assert_eq!(arrived.len(), SIGN_UPS, "every confirmation arrives");
    let span = arrived[SIGN_UPS - 1] - arrived[0];
    // 12 sends at 4/s: 11 gaps of 250 ms; the pace's slack is 2 ms each.
    let least = Duration::from_secs(1) * (SIGN_UPS as u32 - 1) / RATE - Duration::from_millis(100);
    harness::figures(
        "mail_limits",
        &format!("{SIGN_UPS} sign-ups 50 ms apart, max_per_second {RATE}, connections 1: confirmations over {span:.2?} (at least {least:.2?}), at most {} SMTP sessions at once", smtp.most_sessions()),
    );
    assert!(span >= least, "the confirmations went out over {span:?}, faster than {RATE}/s");
    assert_eq!(smtp.most_sessions(), 1, "mail.connections = 1 holds across delivery loops");
    assert_eq!(harness::panics(&serve.log()), 0);
}

fn note_arrivals(smtp: &SmtpServer, arrived: &mut Vec<Instant>) {
    let now = Instant::now();
    while arrived.len() < smtp.received().len() {
        arrived.push(now);
    }
}
