//! The mailer's own SMTP client (`mail::smtp`) against real relays.
//!
//! - postfix's `smtp-sink` keeps every message it takes in a file of its
//!   own; each one is compared, byte for byte, with the bytes the outbox
//!   holds: with PIPELINING offered (MAIL, RCPT and DATA in one write),
//!   without it, and from a relay that knows no ESMTP (HELO); its hard and
//!   soft refusals must come out as failed and retried.
//! - the `mailin` engine (tests/support/mailtest) checks AUTH PLAIN and AUTH LOGIN
//!   with credentials from `mail.smtp_url`, and that a wrong password is
//!   the relay's problem (the message waits), not the subscriber's.
//!
//! Without `smtp-sink` (Debian package `postfix`) the sink tests print
//! SKIPPED, and fail when CI=true.

use crate::support::mailtest;

use bantin::digest::plan::Mode;
use bantin::newsletter::Digests;
use bantin::state::{MessageBytes, MessageKind, OutboxMessage, Status};
use chrono::Utc;
use mailtest::fixed_now;
use mailtest::smtp::{AuthOffer, Behaviour, SmtpServer, AUTH_PASSWORD, AUTH_USER};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A message no digest template makes: lines that start with a dot (one
/// of them only a dot, which would end DATA if not doubled), 8-bit UTF-8,
/// and no line break after its last line.
fn awkward_message() -> OutboxMessage {
    let body = "From: Bản tin Yên Bái <bantin@example.org>\r\n\
                To: awkward@example.org\r\n\
                Subject: =?utf-8?b?ZG90cw==?=\r\n\
                Message-ID: <awkward.1@example.org>\r\n\
                MIME-Version: 1.0\r\n\
                Content-Type: text/plain; charset=utf-8\r\n\
                Content-Transfer-Encoding: 8bit\r\n\
                \r\n\
                .leading dot\r\n\
                .\r\n\
                ..two dots\r\n\
                Nghĩa Lộ: Hiệu quả từ những quyết sách lớn\r\n\
                last line without a break";
    OutboxMessage {
        message_id: "<awkward.1@example.org>".into(),
        kind: MessageKind::Confirm,
        subscriber_id: None,
        period_key: "awkward".into(),
        recipient: "awkward@example.org".into(),
        bytes: MessageBytes::Whole(body.as_bytes().to_vec()),
    }
}

/// A digest context mailing to `smtp_url` with `subscribers` digests and
/// the awkward message queued; `connections` sessions at most.
async fn queued(dir: &Path, smtp_url: &str, subscribers: usize, connections: u32) -> Arc<Digests> {
    let extra = format!("connections = {connections}\nmax_per_second = 1000\nbounce_limit = 1");
    let cfg = mailtest::write_config(dir, &mailtest::examples(), smtp_url, "https://bantin.example.org/", &extra);
    let digests = mailtest::digests(&cfg).await;
    for i in 0..subscribers {
        mailtest::active_subscriber(&digests.state, &format!("reader{i}@example.org"), Utc::now()).await;
    }
    assert_eq!(digests.queue(fixed_now(), Mode::Now).await.unwrap().queued, subscribers);
    assert!(digests.state.enqueue(&awkward_message(), fixed_now()).await.unwrap());
    digests
}

// ------------------------------------------------------------ smtp-sink

fn smtp_sink() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/usr/lib/postfix/sbin".into()]);
    let found = dirs.map(|d| d.join("smtp-sink")).find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("smtp-sink is not installed, and CI=true: install it (Debian package `postfix`)");
        }
        println!("SKIPPED: smtp-sink not installed (apt-get install postfix); the smtp-sink tests did not run");
    }
    found
}

/// One `smtp-sink` on a free loopback port, dumping each message it takes
/// into a folder of its own.
struct Sink {
    child: Child,
    port: u16,
    dumps: tempfile::TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `smtp-sink -d` kept of one message.
struct Dumped {
    /// `X-…` lines it adds first: client protocol, MAIL and RCPT arguments.
    proto: String,
    mail_args: String,
    rcpt_args: String,
    /// The message as received, dot-stuffing undone, lines ending in LF.
    content: String,
}

impl Sink {
    fn start(flags: &[&str]) -> Option<Sink> {
        let bin = smtp_sink()?;
        let dumps = tempfile::tempdir().unwrap();
        // smtp-sink drops to `nobody` when started as root, and writes the
        // dumps as that user.
        std::fs::set_permissions(dumps.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(bin);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            cmd.args(["-u", "nobody"]);
        }
        cmd.args(flags)
            .arg("-d")
            .arg(dumps.path().join("%M."))
            .arg(format!("127.0.0.1:{port}"))
            .arg("64")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("start smtp-sink");
        let sink = Sink { child, port, dumps };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "smtp-sink did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(sink)
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn dumped(&self) -> Vec<Dumped> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.dumps.path()).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).expect("a dump is UTF-8 (as were the messages)");
            // smtp-sink makes a session's dump file at MAIL FROM and fills
            // it at the end of DATA: an empty one is a message refused
            // before its content (or one still being written), not a delivery.
            if text.is_empty() {
                continue;
            }
            let field = |name: &str| {
                text.lines().find_map(|l| l.strip_prefix(name)).map(str::to_string).unwrap_or_default()
            };
            // smtp-sink's own lines, then its Received header (folded over
            // the lines that start with a tab), then the message.
            let mut lines = text.split_inclusive('\n').peekable();
            while lines.next_if(|l| l.starts_with("X-")).is_some() {}
            assert!(lines.next().is_some_and(|l| l.starts_with("Received: ")), "{text}");
            while lines.next_if(|l| l.starts_with('\t')).is_some() {}
            out.push(Dumped {
                proto: field("X-Client-Proto: "),
                mail_args: field("X-Mail-Args: "),
                rcpt_args: field("X-Rcpt-Args: "),
                content: lines.collect(),
            });
        }
        out
    }
}

/// Delivers everything queued and checks each message smtp-sink kept
/// against the outbox's bytes; returns the client protocol it saw.
async fn delivered_byte_for_byte(sink: &Sink, subscribers: usize) -> Vec<Dumped> {
    let dir = tempfile::tempdir().unwrap();
    let digests = queued(dir.path(), &sink.url(), subscribers, 3).await;
    let report = digests.mailer.deliver_due(Utc::now).await.expect("delivery runs");
    assert_eq!((report.sent, report.retried, report.failed), (subscribers + 1, 0, 0));
    let dumped = sink.dumped();
    assert_eq!(dumped.len(), subscribers + 1, "one dump per message");
    for d in &dumped {
        let parsed = mail_parser::MessageParser::default().parse(d.content.as_bytes()).expect("a mail");
        let mid = format!("<{}>", parsed.message_id().expect("a Message-ID"));
        let (status, body) = digests.state.outbox_message(&mid).await.unwrap().expect("the outbox has it");
        assert_eq!(status, "sent", "{mid}");
        let expected = String::from_utf8(body).unwrap().replace("\r\n", "\n");
        // smtp-sink ends its dump with a line break of its own.
        assert_eq!(d.content.trim_end_matches('\n'), expected.trim_end_matches('\n'), "{mid} arrived changed");
        assert!(d.rcpt_args.contains(&format!("<{}>", parsed.to().and_then(|t| t.first()).and_then(|a| a.address()).unwrap())));
    }
    dumped
}

#[tokio::test]
async fn pipelined_messages_reach_smtp_sink_byte_for_byte() {
    let Some(sink) = Sink::start(&[]) else { return };
    let dumped = delivered_byte_for_byte(&sink, 12).await;
    assert!(dumped.iter().all(|d| d.proto == "ESMTP"));
    let awkward = dumped.iter().find(|d| d.rcpt_args.contains("awkward@")).expect("the awkward message");
    assert!(awkward.mail_args.contains("BODY=8BITMIME"), "an 8-bit body is declared as such: {}", awkward.mail_args);
    assert!(awkward.content.contains("\n.\n..two dots\n"), "dot lines arrive as written");
}

#[tokio::test]
async fn without_pipelining_each_command_waits_for_its_reply() {
    let Some(sink) = Sink::start(&["-p"]) else { return };
    delivered_byte_for_byte(&sink, 6).await;
}

#[tokio::test]
async fn a_relay_without_esmtp_gets_helo() {
    let Some(sink) = Sink::start(&["-e"]) else { return };
    let dumped = delivered_byte_for_byte(&sink, 4).await;
    assert!(dumped.iter().all(|d| d.proto == "SMTP"), "HELO, not EHLO: {:?}", dumped.iter().map(|d| &d.proto).collect::<Vec<_>>());
    assert!(dumped.iter().all(|d| !d.mail_args.contains("BODY=")), "no ESMTP parameters without ESMTP");
}

#[tokio::test]
async fn hard_refusals_fail_and_soft_ones_wait() {
    let dir = tempfile::tempdir().unwrap();
    let Some(hard) = Sink::start(&["-f", "rcpt"]) else { return };
    let digests = queued(dir.path(), &hard.url(), 3, 2).await;
    let r = digests.mailer.deliver_due(Utc::now).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (0, 0, 4), "5xx to RCPT is permanent");
    let bouncing = digests.state.subscribers().await.unwrap().iter().filter(|s| s.status == Status::Bouncing).count();
    assert_eq!(bouncing, 3, "bounce_limit = 1: each digest's subscriber is marked");

    let dir = tempfile::tempdir().unwrap();
    let soft = Sink::start(&["-r", "rcpt"]).expect("smtp-sink was found above");
    let digests = queued(dir.path(), &soft.url(), 3, 2).await;
    let r = digests.mailer.deliver_due(Utc::now).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (0, 4, 0), "4xx to RCPT is retried later");
    assert!(soft.dumped().is_empty());
}

// ------------------------------------------------------------- AUTH

/// `mail.smtp_url` with the test account, percent-encoded as a URL must be.
fn url_with_login(server: &SmtpServer, password: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20");
    format!("smtp://{}:{}@{}", enc(AUTH_USER), enc(password), server.addr)
}

async fn logs_in_and_delivers(offer: AuthOffer) {
    let smtp = SmtpServer::start().await;
    smtp.set(Behaviour::RequireAuth(offer));
    let dir = tempfile::tempdir().unwrap();
    let digests = queued(dir.path(), &url_with_login(&smtp, AUTH_PASSWORD), 5, 2).await;
    digests.mailer.check_connection().await.expect("the login works");
    let r = digests.mailer.deliver_due(Utc::now).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (6, 0, 0));
    assert_eq!(smtp.received().len(), 6);
    let logins = smtp.logins();
    assert!(!logins.is_empty() && logins.iter().all(|u| u == AUTH_USER), "{logins:?}");
}

#[tokio::test]
async fn auth_plain_with_the_credentials_of_the_url() {
    logs_in_and_delivers(AuthOffer::PlainAndLogin).await;
}

#[tokio::test]
async fn auth_login_when_plain_is_not_offered() {
    logs_in_and_delivers(AuthOffer::LoginOnly).await;
}

#[tokio::test]
async fn a_wrong_password_keeps_the_mail_queued_and_says_why() {
    let smtp = SmtpServer::start().await;
    smtp.set(Behaviour::RequireAuth(AuthOffer::PlainAndLogin));
    let dir = tempfile::tempdir().unwrap();
    let digests = queued(dir.path(), &url_with_login(&smtp, "wrong"), 2, 1).await;
    let err = digests.mailer.check_connection().await.expect_err("a wrong password is found at start");
    let shown = err.to_string();
    assert!(shown.contains("535") && shown.contains("AUTH"), "{shown}");
    assert!(!shown.contains("wrong"), "the password is not shown: {shown}");
    let r = digests.mailer.deliver_due(Utc::now).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (0, 3, 0), "the relay refused us, not the message: retried");
    assert!(smtp.received().is_empty());
    let subscribers = digests.state.subscribers().await.unwrap();
    assert!(subscribers.iter().all(|s| s.status == Status::Active), "nobody is marked bouncing for our login");
}

// -------------------------------------------------------------- STARTTLS

/// Issue 19: `smtp://` sent in clear to a relay that offered no STARTTLS,
/// and nothing could make STARTTLS mandatory. With `?tls=required` the
/// mail waits (a temporary failure that says why) and nothing reaches the
/// relay, which still takes it from a `smtp://` without the parameter.
#[tokio::test]
async fn tls_required_sends_nothing_to_a_relay_without_starttls() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let digests = queued(dir.path(), &format!("{}?tls=required", smtp.url()), 2, 1).await;
    let err = digests.mailer.check_connection().await.expect_err("no STARTTLS is found at start");
    assert!(err.to_string().contains("offers no STARTTLS and mail.smtp_url says tls=required"), "{err}");
    let r = digests.mailer.deliver_due(Utc::now).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (0, 3, 0), "a temporary failure: the relay may turn STARTTLS on");
    assert!(smtp.received().is_empty(), "nothing was sent in clear");
    assert_eq!(*smtp.shared.attempts.lock().unwrap(), 0, "not even an envelope");

    let dir = tempfile::tempdir().unwrap();
    let digests = queued(dir.path(), &smtp.url(), 2, 1).await;
    let r = digests.mailer.deliver_due(Utc::now).await.unwrap();
    assert_eq!(r.sent, 3, "opportunistic (the default) still sends in clear to this relay");
    crate::support::harness::figures("smtp tls=required, no STARTTLS", "0 of 3 messages sent in clear (3 retried later); 3 of 3 without the parameter");
}
