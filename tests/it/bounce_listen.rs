//! `bounces::listen`, the inbound SMTP listener, driven over a real TCP
//! socket on loopback with raw SMTP lines (and once with lettre as the
//! client): the domain rule, the null sender, the limits, dot-unstuffing,
//! a failing `deliver` answered 451, idle and connection limits, shutdown.

use bantin::bounces::listen::{run, Delivery, ListenSettings};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

type Inbox = Arc<Mutex<Vec<(Vec<u8>, Vec<String>)>>>;

struct Listener {
    addr: SocketAddr,
    inbox: Inbox,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn settings() -> ListenSettings {
    let mut s = ListenSettings::new("bounces.example.org", "bantin.test", 10_000);
    s.idle_timeout = Duration::from_millis(500);
    s.data_timeout = Duration::from_millis(1500);
    s
}

/// A listener whose `deliver` keeps messages, or fails them all if `fail`.
async fn start(settings: ListenSettings, fail: bool) -> Listener {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let inbox: Inbox = Arc::default();
    let (stop, shutdown) = watch::channel(false);
    let kept = Arc::clone(&inbox);
    let deliver = move |data: Vec<u8>, to: Vec<String>| -> Delivery {
        let kept = Arc::clone(&kept);
        Box::pin(async move {
            if fail {
                return Err("the store is down".to_string());
            }
            kept.lock().unwrap().push((data, to));
            Ok(())
        })
    };
    let task = tokio::spawn(run(listener, settings, deliver, shutdown));
    Listener { addr, inbox, stop, task }
}

struct Client {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: SocketAddr) -> (Client, String) {
        let (read, write) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut c = Client { read: BufReader::new(read), write };
        let greeting = c.reply().await;
        (c, greeting)
    }

    /// One reply, all its lines; empty when the server closed.
    async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.read.read_line(&mut line).await.unwrap() == 0 {
                return all;
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    async fn send(&mut self, line: &str) -> String {
        self.write.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
        self.reply().await
    }

    /// EHLO, MAIL FROM:<from>, RCPT TO:<to>, each answered 250.
    async fn envelope(&mut self, from: &str, to: &str) {
        assert!(self.send("EHLO relay.test").await.starts_with("250"));
        assert!(self.send(&format!("MAIL FROM:<{from}>")).await.starts_with("250"));
        assert!(self.send(&format!("RCPT TO:<{to}>")).await.starts_with("250"));
    }
}

const VERP: &str = "bounces+abc123@bounces.example.org";

#[tokio::test]
async fn only_the_return_path_domain_is_accepted() {
    let l = start(settings(), false).await;
    let (mut c, greeting) = Client::connect(l.addr).await;
    assert!(greeting.starts_with("220 bantin.test"), "{greeting}");
    c.send("EHLO relay.test").await;
    c.send("MAIL FROM:<>").await;
    for other in ["someone@example.org", "x@bounces.example.org.evil.test", "bounces.example.org", "@bounces.example.org"] {
        let r = c.send(&format!("RCPT TO:<{other}>")).await;
        assert!(r.starts_with("550 5.1.1"), "{other}: {r}");
    }
    assert!(c.send("DATA").await.starts_with("503"));
    assert!(c.send("RCPT TO:<BOUNCES+X@Bounces.Example.Org>").await.starts_with("250"));
}

#[tokio::test]
async fn a_null_sender_is_accepted_and_the_message_delivered() {
    let l = start(settings(), false).await;
    let (mut c, _) = Client::connect(l.addr).await;
    c.envelope("", VERP).await;
    assert!(c.send("DATA").await.starts_with("354"));
    let r = c.send("Subject: Undelivered Mail\r\n\r\nbody\r\n.").await;
    assert!(r.starts_with("250"), "{r}");
    assert!(c.send("QUIT").await.starts_with("221"));
    let inbox = l.inbox.lock().unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].0, b"Subject: Undelivered Mail\r\n\r\nbody\r\n");
    assert_eq!(inbox[0].1, vec![VERP.to_string()]);
}

#[tokio::test]
async fn size_is_announced_and_enforced() {
    let l = start(settings(), false).await;
    let (mut c, _) = Client::connect(l.addr).await;
    let ehlo = c.send("EHLO relay.test").await;
    assert!(ehlo.contains("250-SIZE 10000"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"), "{ehlo}");
    assert!(c.send("MAIL FROM:<> SIZE=10001").await.starts_with("552 5.3.4"));
    assert!(c.send("MAIL FROM:<> SIZE=100").await.starts_with("250"));
    c.send(&format!("RCPT TO:<{VERP}>")).await;
    c.send("DATA").await;
    let line = "x".repeat(98);
    for _ in 0..120 {
        c.write.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
    }
    let r = c.send(".").await;
    assert!(r.starts_with("552 5.3.4"), "{r}");
    assert!(l.inbox.lock().unwrap().is_empty());
    // The session goes on: the next message is taken.
    c.send("MAIL FROM:<>").await;
    c.send(&format!("RCPT TO:<{VERP}>")).await;
    c.send("DATA").await;
    assert!(c.send("small\r\n.").await.starts_with("250"));
}

#[tokio::test]
async fn dot_stuffed_lines_come_back_unstuffed() {
    let l = start(settings(), false).await;
    let (mut c, _) = Client::connect(l.addr).await;
    c.envelope("", VERP).await;
    c.send("DATA").await;
    assert!(c.send("a\r\n..\r\n...x\r\n.b\r\n.").await.starts_with("250"));
    assert_eq!(l.inbox.lock().unwrap()[0].0, b"a\r\n.\r\n..x\r\nb\r\n");
}

#[tokio::test]
async fn a_message_deliver_fails_with_is_answered_451() {
    let l = start(settings(), true).await;
    let (mut c, _) = Client::connect(l.addr).await;
    c.envelope("", VERP).await;
    c.send("DATA").await;
    let r = c.send("Subject: x\r\n\r\ny\r\n.").await;
    assert!(r.starts_with("451 4.3.0"), "{r}");
    assert!(c.send("NOOP").await.starts_with("250"));
}

#[tokio::test]
async fn long_lines_and_unknown_commands_are_refused() {
    let l = start(settings(), false).await;
    let (mut c, _) = Client::connect(l.addr).await;
    assert!(c.send(&"N".repeat(2000)).await.starts_with("500 5.5.2 line too long"));
    assert!(c.send("STARTTLS").await.starts_with("502"));
    assert!(c.send("AUTH PLAIN AGFhAGI=").await.starts_with("502"));
    assert!(c.send("MAIL FROM:<>").await.starts_with("503"), "MAIL before EHLO");
    c.envelope("", VERP).await;
    assert!(c.send("RSET").await.starts_with("250"));
    assert!(c.send("DATA").await.starts_with("503"), "RSET forgets the recipients");
    c.send("MAIL FROM:<>").await;
    c.send(&format!("RCPT TO:<{VERP}>")).await;
    c.send("DATA").await;
    let r = c.send(&format!("{}\r\n.", "y".repeat(1500))).await;
    assert!(r.starts_with("500 5.5.2"), "{r}");
    assert!(l.inbox.lock().unwrap().is_empty());
}

#[tokio::test]
async fn recipients_per_message_are_bounded() {
    let mut s = settings();
    s.max_recipients = 3;
    let l = start(s, false).await;
    let (mut c, _) = Client::connect(l.addr).await;
    c.send("EHLO relay.test").await;
    c.send("MAIL FROM:<>").await;
    let mut answers = Vec::new();
    for i in 0..4 {
        answers.push(c.send(&format!("RCPT TO:<bounces+{i}@bounces.example.org>")).await);
    }
    assert!(answers[..3].iter().all(|r| r.starts_with("250")), "{answers:?}");
    assert!(answers[3].starts_with("452 4.5.3"), "{answers:?}");
}

#[tokio::test]
async fn a_slow_client_is_timed_out() {
    let l = start(settings(), false).await;
    let (mut c, _) = Client::connect(l.addr).await;
    c.send("EHLO relay.test").await;
    let started = std::time::Instant::now();
    let r = c.reply().await;
    assert!(r.starts_with("421 4.4.2"), "{r}");
    assert_eq!(c.reply().await, "", "closed after 421");
    crate::support::harness::figures("bounce_listen idle", &format!("421 after {:?} idle (limit 500ms)", started.elapsed()));
}

#[tokio::test]
async fn a_message_dripped_line_by_line_is_cut_off() {
    let l = start(settings(), false).await;
    let (mut c, _) = Client::connect(l.addr).await;
    c.envelope("", VERP).await;
    c.send("DATA").await;
    let started = std::time::Instant::now();
    // A line every 200 ms: never idle for 500 ms, but the message as a
    // whole may take 1.5 s.
    let mut lines = 0;
    let reply = loop {
        lines += 1;
        assert!(lines < 50, "still taking lines after 10 s");
        if c.write.write_all(b"x\r\n").await.is_err() {
            break c.reply().await;
        }
        tokio::select! {
            r = c.reply() => break r,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    };
    assert!(reply.starts_with("421 4.4.2"), "{reply}");
    assert!(l.inbox.lock().unwrap().is_empty());
    crate::support::harness::figures(
        "bounce_listen drip",
        &format!("421 after {:?} of a line every 200ms (message limit 1.5s)", started.elapsed()),
    );
}

#[tokio::test]
async fn a_session_of_errors_is_closed() {
    let l = start(settings(), false).await;
    let (mut c, _) = Client::connect(l.addr).await;
    let mut refused = 0;
    let last = loop {
        assert!(refused <= bantin::bounces::listen::MAX_ERRORS, "still answering after {refused} errors");
        let r = c.send("BDAT 10").await;
        if !r.starts_with("502") {
            break r;
        }
        refused += 1;
    };
    assert!(last.starts_with("421 4.7.0"), "{last}");
    assert_eq!(refused, bantin::bounces::listen::MAX_ERRORS - 1);
    assert_eq!(c.reply().await, "", "closed after 421");
}

#[tokio::test]
async fn connections_past_the_limit_are_refused() {
    let mut s = settings();
    s.max_connections = 2;
    let l = start(s, false).await;
    let (_a, ga) = Client::connect(l.addr).await;
    let (_b, gb) = Client::connect(l.addr).await;
    assert!(ga.starts_with("220") && gb.starts_with("220"));
    let (mut third, g) = Client::connect(l.addr).await;
    assert!(g.starts_with("421 4.7.0"), "{g}");
    assert_eq!(third.reply().await, "");
    drop((_a, _b));
    // A freed slot is taken again (the session ends when it sees EOF).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_c, g) = Client::connect(l.addr).await;
    assert!(g.starts_with("220"), "{g}");
}

#[tokio::test]
async fn shutdown_closes_idle_sessions_and_returns() {
    let l = start(settings(), false).await;
    let (mut c, _) = Client::connect(l.addr).await;
    c.send("EHLO relay.test").await;
    l.stop.send(true).unwrap();
    assert!(c.reply().await.starts_with("421 4.3.2"));
    tokio::time::timeout(Duration::from_secs(5), l.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn lettre_delivers_to_it() {
    use lettre::{address::Envelope, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
    let l = start(settings(), false).await;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(l.addr.port()).build();
    let envelope = Envelope::new(None, vec![VERP.parse().unwrap()]).unwrap();
    let raw = b"From: MAILER-DAEMON@relay.test\r\nSubject: x\r\n\r\n.leading dot\r\n";
    transport.send_raw(&envelope, raw).await.unwrap();
    let inbox = l.inbox.lock().unwrap();
    // lettre writes CRLF "." CRLF after the message even when it ends in
    // CRLF, so one empty line more arrives.
    assert!(inbox[0].0.starts_with(raw), "{:?}", String::from_utf8_lossy(&inbox[0].0));
    assert_eq!(inbox[0].1, vec![VERP.to_string()]);
}
