//! `bantin serve` as its supervisor sees it: SIGHUP and SIGTERM, systemd's
//! notify socket and socket activation, and JSON log lines.

use super::*;
use std::io::{Read, Write};
use std::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_good_config_and_refuses_a_bad_one() {
    let server = Server::start(&[("a.md", article("Bài đầu tiên", "2024-05-01T08:00:00+07:00", "Tin tức"))], "");
    let store = server.store();
    let good = config(&store, "").replace("Cổng thông tin thử nghiệm", "Bản tin đã đổi tên");
    std::fs::write(server.config_file(), good).unwrap();
    server.signal("HUP");
    let renamed = until(&server, "/feed.xml", WAIT, |r| r.text().contains("Bản tin đã đổi tên")).await;
    // The line is logged once the service loop answers, which can be a
    // moment after the renamed feed is served (a flake seen under load).
    let deadline = Instant::now() + WAIT;
    while !server.log().contains("configuration reloaded") {
        assert!(Instant::now() < deadline, "no reload logged:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let etag = renamed.header("etag").to_string();

    let bad = config(&store, "[feeds]\nitems = 0\n").replace("Cổng thông tin thử nghiệm", "Bản tin đã đổi tên");
    std::fs::write(server.config_file(), bad).unwrap();
    server.signal("HUP");
    let deadline = Instant::now() + WAIT;
    while !server.log().contains("configuration reload refused") {
        assert!(Instant::now() < deadline, "no refusal logged:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refusal = server.log().lines().find(|l| l.contains("configuration reload refused")).unwrap().to_string();
    assert!(refusal.contains("feeds.items"), "the refusal names the key: {refusal}");
    // Still serving, with the last good configuration.
    let reply = get(&server.url("/feed.xml")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("etag"), etag);
}

/// Sends a request head in two parts, so that the request is in flight
/// (its head half read) when SIGTERM arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_and_exits_zero() {
    let mut server = Server::start(&[("a.md", article("Bài đầu tiên", "2024-05-01T08:00:00+07:00", "Tin tức"))], "");
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    conn.write_all(b"GET /feed.xml HTTP/1.1\r\nHost: x\r\n").unwrap();
    // A burst of ordinary requests running while the signal lands.
    let base = server.base.clone();
    let burst = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for _ in 0..200 {
            match client().get(format!("{base}/atom.xml")).send().await {
                Ok(r) => statuses.push(r.status().as_u16()),
                Err(_) => break, // refused once the listener is closed
            }
        }
        statuses
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.signal("TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    conn.write_all(b"Accept-Encoding: identity\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "the request in flight is answered: {answer}");
    assert!(answer.contains("Bài đầu tiên"));
    let statuses = burst.await.unwrap();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let status = server.wait_exit(Duration::from_secs(5)).expect("bantin exits within 5 s of SIGTERM");
    assert!(status.success(), "exit status {status}; log:\n{}", server.log());
    assert!(server.log().contains("SIGTERM: shutting down"));
}

/// Under systemd: `NOTIFY_SOCKET` gets READY only once the feeds are
/// served, RELOADING/READY around a SIGHUP, WATCHDOG pings at half of
/// `WATCHDOG_USEC`, and STOPPING on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_notify_ready_reloading_watchdog_stopping() {
    let sock_dir = tempfile::tempdir().unwrap();
    let path = sock_dir.path().join("notify");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut server = Server::launch(
        &[("a.md", article("Bài đầu tiên", "2024-05-01T08:00:00+07:00", "Tin tức"))],
        "",
        &[("NOTIFY_SOCKET", path.to_str().unwrap()), ("WATCHDOG_USEC", "300000")],
        None,
    );
    let recv = |want: &str| -> Vec<String> {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = sock.recv(&mut buf).unwrap_or_else(|e| panic!("no {want} among {seen:?}: {e}"));
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = msg.lines().any(|l| l == want);
            seen.push(msg);
            if done {
                return seen;
            }
        }
    };
    let before_ready = recv("READY=1");
    assert!(!before_ready.iter().take(before_ready.len() - 1).any(|m| m.contains("READY=1")));
    // READY means the feeds are served: the address was logged first and a
    // feed answers right away. The log comes through a pipe read by a
    // thread of this test, which may lag the datagram by a moment under
    // load, so it is waited for (briefly) rather than read once.
    let logged = Instant::now() + Duration::from_secs(2);
    while !server.log().contains("listening on") {
        assert!(Instant::now() < logged, "READY=1 came but `listening on` was never logged:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(get(&server.url("/feed.xml")).await.status, 200);
    let pings = recv("WATCHDOG=1");
    assert!(pings.iter().all(|m| !m.contains("STOPPING")));
    recv("WATCHDOG=1");

    server.signal("HUP");
    let reload = recv("RELOADING=1");
    let reloading = reload.last().unwrap();
    assert!(reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")), "{reloading}");
    recv("READY=1");

    server.signal("TERM");
    recv("STOPPING=1");
    let status = server.wait_exit(Duration::from_secs(5)).expect("exits after SIGTERM");
    assert!(status.success());
}

/// With `LISTEN_FDS` (here from systemd-socket-activate, as bantin.socket
/// does) bantin serves on the passed socket, not on http.listen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_activation_serves_on_the_passed_socket() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let activate = which("systemd-socket-activate").expect("systemd-socket-activate (Debian package `systemd`) is needed");
    let wrapper = [activate.as_str(), "-l", listen.as_str(), "-E", "BANTIN_LOG=info"];
    let poke = || {
        // systemd-socket-activate starts bantin on the first connection;
        // the connection waits in the backlog and is answered once serving.
        let listen = listen.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(mut c) = TcpStream::connect(&listen) {
                    let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                    let mut out = String::new();
                    let _ = c.read_to_string(&mut out);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    };
    let server = Server::launch(
        &[("a.md", article("Bài đầu tiên", "2024-05-01T08:00:00+07:00", "Tin tức"))],
        "",
        &[],
        Some((&wrapper, &poke)),
    );
    assert_eq!(server.base, format!("http://{listen}"), "serves on the passed socket; log:\n{}", server.log());
    let reply = get(&server.url("/feed.xml")).await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("Bài đầu tiên"));
}

fn which(name: &str) -> Option<String> {
    std::env::var("PATH").ok()?.split(':').map(|d| format!("{d}/{name}")).find(|p| Path::new(p).is_file())
}

/// `BANTIN_LOG_FORMAT=json`: every log line is one JSON object with a level
/// and a message, for journald or a log shipper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let mut server = Server::launch(
        &[("a.md", article("Bài đầu tiên", "2024-05-01T08:00:00+07:00", "Tin tức"))],
        "",
        &[("BANTIN_LOG_FORMAT", "json")],
        None,
    );
    assert_eq!(get(&server.url("/feed.xml")).await.status, 200);
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(5)).expect("exits").success());
    // The reader thread may still be draining the pipe.
    let deadline = Instant::now() + WAIT;
    while !server.log().contains("\"stopped\"") {
        assert!(Instant::now() < deadline, "no final line:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log();
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
    }
    assert!(log.lines().any(|l| l.contains("\"message\":\"listening on 127.0.0.1:")), "{log}");
}
