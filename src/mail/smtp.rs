//! The client side of SMTP (RFC 5321) for the mailer: sessions to the relay
//! of `mail.smtp_url`, kept in a small idle pool.
//!
//! Why our own session rather than lettre's: lettre sends MAIL, RCPT, DATA
//! and the message as four round trips, writes the body and the closing
//! `.` separately, and dot-stuffs byte by byte; its socket also has Nagle's
//! algorithm on, so each message waited for the relay's delayed ACK. Here a
//! message is two round trips when the relay offers PIPELINING (RFC 2920:
//! MAIL, RCPT and DATA in one write, then the body and its end in one
//! write), on a socket with TCP_NODELAY. lettre still builds the messages.
//!
//! What a session does: greeting, EHLO (HELO if EHLO is refused), STARTTLS
//! when offered on `smtp://` (TLS from the first byte on `smtps://`), AUTH
//! PLAIN or LOGIN when credentials are configured, then messages.
//!
//! Invariants:
//! - a session goes back to the pool only after a message was accepted;
//!   any error or unexpected reply closes it, so a pooled session is always
//!   between messages;
//! - a session that the relay accepted a message on carries that message's
//!   [`Gate`] (its outcome being committed, `mail::sender`), and the next
//!   message on it waits for the gate before its final `.`: the relay has at
//!   most one accepted message per session whose outcome is not recorded,
//!   while the transfer of the next one already overlaps the commit.

use base64::Engine as _;
use futures_util::FutureExt as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Idle sessions older than this are closed rather than reused: relays
/// drop idle sessions after a while, and a dead one costs a retry.
const MAX_IDLE: Duration = Duration::from_secs(20);

/// Longest reply accepted (RFC 5321 lines are at most 512 octets; EHLO
/// replies have a few dozen lines).
const MAX_REPLY: usize = 64 * 1024;

/// What the next message on a session waits for before its final `.`: the
/// outcome of the last message the relay accepted on it is committed
/// (true), or could not be (false: the next message is not sent).
pub type Gate = Pin<Box<dyn Future<Output = bool> + Send>>;

/// How the session is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: STARTTLS when the relay offers it, plain otherwise (a
    /// loopback relay or a local postfix often does not, and mail must
    /// still flow).
    Opportunistic,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// What became of one attempt to hand a message to the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// 4xx or no connection: try again later.
    Temporary(String),
    /// 5xx: the server refused this message for good.
    Permanent(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("the relay closed the connection")]
    Closed,
    #[error("the relay answered {command} with {code} {text}")]
    Reply { command: &'static str, code: u16, text: String },
    #[error("the relay's answer is not SMTP: {0}")]
    Protocol(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("the last message accepted on this session could not be recorded as sent, so no other goes after it")]
    Held,
}

impl SmtpError {
    /// 5xx (and what no relay of this configuration could ever take) is
    /// permanent; 4xx, network, TLS and protocol trouble are worth another
    /// try later.
    pub fn outcome(self) -> Outcome {
        match &self {
            SmtpError::Reply { code, .. } if *code >= 500 => Outcome::Permanent(self.to_string()),
            SmtpError::Unsupported(_) => Outcome::Permanent(self.to_string()),
            _ => Outcome::Temporary(self.to_string()),
        }
    }
}

/// A command line of the envelope, its name for errors, and the reply codes it needs.
type EnvelopeCommand = (String, &'static str, fn(u16) -> bool);

/// A reply: its code and its lines' text (without the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    /// The reply if its code is what `command` needs, else the error.
    fn require(self, command: &'static str, code: impl Fn(u16) -> bool) -> Result<Reply, SmtpError> {
        if code(self.code) {
            Ok(self)
        } else {
            Err(SmtpError::Reply { command, code: self.code, text: self.lines.join(" ") })
        }
    }
}

/// A 2xx reply: the command was done.
fn completed(code: u16) -> bool {
    (200..300).contains(&code)
}

/// What the relay said it can do in its EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    pub pipelining: bool,
    pub eight_bit_mime: bool,
    pub smtp_utf8: bool,
    pub starttls: bool,
    pub auth: Vec<String>,
}

impl Extensions {
    /// Reads the keyword lines of an EHLO reply (the first line is the
    /// relay's name).
    pub fn parse(reply: &Reply) -> Extensions {
        let mut ext = Extensions::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split([' ', '=']).filter(|w| !w.is_empty());
            let Some(keyword) = words.next() else { continue };
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => ext.pipelining = true,
                "8BITMIME" => ext.eight_bit_mime = true,
                "SMTPUTF8" => ext.smtp_utf8 = true,
                "STARTTLS" => ext.starttls = true,
                "AUTH" => ext.auth.extend(words.map(str::to_ascii_uppercase)),
                _ => {}
            }
        }
        ext
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One SMTP session with the relay.
pub struct Session {
    stream: Box<dyn Io>,
    /// Bytes read from the relay and not yet taken as reply lines.
    input: Vec<u8>,
    /// The next write, reused between messages.
    output: Vec<u8>,
    ext: Extensions,
    /// Whether the relay answered anything of the current message: a
    /// pooled session that fails before that was closed while idle, and
    /// the message can go on a fresh one without any risk of a double.
    answered: bool,
    /// The last accepted message's commit, if not yet seen done.
    gate: Option<Gate>,
}

impl Session {
    fn new(stream: Box<dyn Io>) -> Session {
        Session { stream, input: Vec::with_capacity(1024), output: Vec::new(), ext: Extensions::default(), answered: false, gate: None }
    }

    pub fn extensions(&self) -> &Extensions {
        &self.ext
    }

    /// Opens a session: TCP, TLS as `security` says, greeting, EHLO,
    /// STARTTLS, AUTH.
    pub async fn open(settings: &Relay) -> Result<Session, SmtpError> {
        let tcp = tokio::net::TcpStream::connect((settings.host.as_str(), settings.port)).await?;
        tcp.set_nodelay(true)?;
        let mut session = match settings.security {
            Security::Implicit => Session::new(Box::new(settings.tls_handshake(tcp).await?)),
            Security::Opportunistic => Session::new(Box::new(tcp)),
        };
        session.reply().await?.require("the greeting", |c| c == 220)?;
        session.hello(&settings.hello).await?;
        let mut encrypted = settings.security == Security::Implicit;
        if settings.security == Security::Opportunistic && session.ext.starttls {
            session.command("STARTTLS").await?.require("STARTTLS", |c| c == 220)?;
            // Whatever came after the 220 was sent before TLS and must not
            // be read as if it came through it (the STARTTLS injection).
            if !session.input.is_empty() {
                return Err(SmtpError::Protocol("the relay sent data after its STARTTLS reply".into()));
            }
            let plain = std::mem::replace(&mut session.stream, Box::new(tokio::io::duplex(1).0));
            session.stream = Box::new(settings.tls_handshake(plain).await?);
            session.hello(&settings.hello).await?;
            encrypted = true;
        }
        if let Some((user, password)) = &settings.credentials {
            if !may_send_password(&settings.host, encrypted) {
                return Err(SmtpError::Unsupported(format!(
                    "{} offers no STARTTLS, and the password of mail.smtp_url is not sent in clear over the network; \
                     use smtps:// or a relay that offers STARTTLS (a relay on this host, 127.0.0.1 or localhost, may go without)",
                    settings.host
                )));
            }
            session.auth(user, password).await?;
        }
        Ok(session)
    }

    async fn hello(&mut self, name: &str) -> Result<(), SmtpError> {
        let reply = self.command(&format!("EHLO {name}")).await?;
        self.ext = if reply.is_positive() {
            Extensions::parse(&reply)
        } else {
            // A relay from before ESMTP: no extensions.
            self.command(&format!("HELO {name}")).await?.require("HELO", |c| c == 250)?;
            Extensions::default()
        };
        Ok(())
    }

    async fn auth(&mut self, user: &str, password: &str) -> Result<(), SmtpError> {
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        if self.ext.auth.iter().any(|m| m == "PLAIN") {
            let token = b64(format!("\0{user}\0{password}").as_bytes());
            self.command(&format!("AUTH PLAIN {token}")).await?.require("AUTH PLAIN", |c| c == 235)?;
        } else if self.ext.auth.iter().any(|m| m == "LOGIN") {
            self.command("AUTH LOGIN").await?.require("AUTH LOGIN", |c| c == 334)?;
            self.command(&b64(user.as_bytes())).await?.require("AUTH LOGIN (user)", |c| c == 334)?;
            self.command(&b64(password.as_bytes())).await?.require("AUTH LOGIN (password)", |c| c == 235)?;
        } else {
            return Err(SmtpError::Protocol(format!(
                "mail.smtp_url has credentials but the relay offers no AUTH PLAIN or LOGIN (it offers {:?})",
                self.ext.auth
            )));
        }
        Ok(())
    }

    /// Sends one message to one recipient; Ok once the relay took it.
    pub async fn send(&mut self, from: &str, to: &str, body: &[u8]) -> Result<(), SmtpError> {
        self.answered = false;
        let mut params = String::new();
        if !(from.is_ascii() && to.is_ascii()) {
            if !self.ext.smtp_utf8 {
                return Err(SmtpError::Unsupported(format!(
                    "the address {to:?} needs SMTPUTF8, which the relay does not offer"
                )));
            }
            params.push_str(" SMTPUTF8");
        }
        if self.ext.eight_bit_mime && !body.is_ascii() {
            params.push_str(" BODY=8BITMIME");
        }
        // Each command with the reply it must get: 2xx, and 354 for DATA.
        let envelope: [EnvelopeCommand; 3] = [
            (format!("MAIL FROM:<{from}>{params}"), "MAIL FROM", completed),
            (format!("RCPT TO:<{to}>"), "RCPT TO", completed),
            ("DATA".to_string(), "DATA", |c| c == 354),
        ];
        if self.ext.pipelining {
            self.output.clear();
            for (command, _, _) in &envelope {
                self.output.extend_from_slice(command.as_bytes());
                self.output.extend_from_slice(b"\r\n");
            }
            self.flush_output().await?;
            // Every reply is read (they are in the pipe), the first failure
            // is the one reported.
            let mut failure = None;
            for (_, name, want) in envelope {
                match self.reply().await {
                    Ok(r) => {
                        if let Err(e) = r.require(name, want) {
                            failure.get_or_insert(e);
                        }
                    }
                    Err(e) => return Err(failure.unwrap_or(e)),
                }
            }
            if let Some(e) = failure {
                return Err(e);
            }
        } else {
            for (command, name, want) in &envelope {
                self.command(command).await?.require(name, want)?;
            }
        }
        self.output.clear();
        dot_stuff(body, &mut self.output);
        // Whether the last accepted message's outcome is committed: at
        // once (the usual case: the body then goes with its end in one
        // write), or only later (the body goes now, its final `.` once the
        // commit is done). A gate left by a cancelled send is still here.
        let ready = match self.gate.as_mut() {
            None => Some(true),
            Some(gate) => gate.now_or_never(),
        };
        match ready {
            Some(committed) => {
                self.gate = None;
                if !committed {
                    return Err(SmtpError::Held);
                }
                self.flush_output().await?;
            }
            None => {
                let end = self.output.len() - b".\r\n".len();
                self.stream.write_all(&self.output[..end]).await?;
                self.stream.flush().await?;
                let committed = match self.gate.as_mut() {
                    Some(gate) => gate.await,
                    None => true,
                };
                self.gate = None;
                if !committed {
                    return Err(SmtpError::Held);
                }
                self.stream.write_all(b".\r\n").await?;
                self.stream.flush().await?;
            }
        }
        self.reply().await?.require("the end of DATA", completed)?;
        Ok(())
    }

    /// NOOP: whether the relay still answers.
    pub async fn noop(&mut self) -> Result<(), SmtpError> {
        self.command("NOOP").await?.require("NOOP", |c| c == 250).map(|_| ())
    }

    /// QUIT, for a polite end.
    pub async fn quit(&mut self) -> Result<(), SmtpError> {
        self.command("QUIT").await?.require("QUIT", |c| c == 221).map(|_| ())
    }

    async fn command(&mut self, line: &str) -> Result<Reply, SmtpError> {
        self.output.clear();
        self.output.extend_from_slice(line.as_bytes());
        self.output.extend_from_slice(b"\r\n");
        self.flush_output().await?;
        self.reply().await
    }

    async fn flush_output(&mut self) -> Result<(), SmtpError> {
        self.stream.write_all(&self.output).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Reads one reply, all its lines (`250-…` continues, `250 …` ends).
    async fn reply(&mut self) -> Result<Reply, SmtpError> {
        let mut lines = Vec::new();
        let mut size = 0;
        loop {
            let line = self.line().await?;
            size += line.len();
            if size > MAX_REPLY {
                return Err(SmtpError::Protocol("a reply longer than 64 KiB".into()));
            }
            let code = line
                .get(..3)
                .filter(|c| c.iter().all(u8::is_ascii_digit))
                .and_then(|c| std::str::from_utf8(c).ok()?.parse::<u16>().ok())
                .ok_or_else(|| SmtpError::Protocol(format!("{:?}", String::from_utf8_lossy(&line))))?;
            self.answered = true;
            let more = line.get(3) == Some(&b'-');
            lines.push(String::from_utf8_lossy(line.get(4..).unwrap_or_default()).into_owned());
            if !more {
                return Ok(Reply { code, lines });
            }
        }
    }

    /// The next line from the relay, without its line break.
    async fn line(&mut self) -> Result<Vec<u8>, SmtpError> {
        loop {
            if let Some(end) = self.input.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.input.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.input.len() > MAX_REPLY {
                return Err(SmtpError::Protocol("a reply line longer than 64 KiB".into()));
            }
            let mut chunk = [0u8; 2048];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(SmtpError::Closed);
            }
            self.input.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Whether credentials may go to `host` over this session: always under
/// TLS; in clear only to this host (a local postfix without TLS is
/// common, and loopback traffic stays on the machine).
fn may_send_password(host: &str, encrypted: bool) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    encrypted || host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The DATA content of `body`: a `.` doubled at the start of each line
/// (RFC 5321 4.5.2), a line break added if the body lacks a final one,
/// then the `.` line that ends it.
pub fn dot_stuff(body: &[u8], out: &mut Vec<u8>) {
    out.reserve(body.len() + 8);
    let mut rest = body;
    if rest.first() == Some(&b'.') {
        out.push(b'.');
    }
    // Copies up to each line break that a `.` follows, then adds the dot.
    while let Some(at) = memchr::memmem::find(rest, b"\n.") {
        out.extend_from_slice(&rest[..=at]);
        out.push(b'.');
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

/// Where and how to reach the relay.
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<(String, String)>,
    /// The name given in EHLO: this host's name.
    pub hello: String,
    pub tls: Arc<rustls::ClientConfig>,
}

impl Relay {
    async fn tls_handshake<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        stream: S,
    ) -> Result<tokio_rustls::client::TlsStream<S>, SmtpError> {
        let name = rustls::pki_types::ServerName::try_from(self.host.clone())
            .map_err(|e| SmtpError::Tls(format!("{:?} is not a name TLS can check: {e}", self.host)))?;
        tokio_rustls::TlsConnector::from(Arc::clone(&self.tls))
            .connect(name, stream)
            .await
            .map_err(|e| SmtpError::Tls(e.to_string()))
    }
}

/// Sessions to one relay: at most `max_idle` kept between messages.
pub struct DirectPool {
    relay: Relay,
    timeout: Duration,
    idle: Mutex<Vec<(Session, Instant)>>,
    max_idle: usize,
}

impl DirectPool {
    pub fn new(relay: Relay, max_idle: usize) -> DirectPool {
        DirectPool { relay, timeout: Duration::from_secs(30), idle: Mutex::new(Vec::new()), max_idle }
    }

    async fn open(&self) -> Result<Session, Outcome> {
        match tokio::time::timeout(self.timeout, Session::open(&self.relay)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(Outcome::Temporary(format!("opening a session: {e}"))),
            Err(_) => Err(Outcome::Temporary("opening a session timed out".into())),
        }
    }

    fn take_idle(&self) -> Option<Session> {
        let mut idle = self.idle.lock().ok()?;
        while let Some((session, since)) = idle.pop() {
            if since.elapsed() < MAX_IDLE {
                return Some(session);
            }
        }
        None
    }

    /// Keeps a session for the next message; gives it back when the pool
    /// is full.
    fn put_back(&self, session: Session) -> Option<Session> {
        match self.idle.lock() {
            Ok(mut idle) if idle.len() < self.max_idle => {
                idle.push((session, Instant::now()));
                None
            }
            _ => Some(session),
        }
    }

    /// Sends one message. `accepted` is called once the relay took it and
    /// gives the [`Gate`] that the next message on the same session waits
    /// for before its final `.`. A reused session that fails before the
    /// relay answered anything of the message (closed while idle) is
    /// replaced once by a fresh one, which inherits its gate.
    pub async fn send(&self, from: &str, to: &str, body: &[u8], accepted: impl FnOnce() -> Option<Gate>) -> Outcome {
        let mut inherited = None;
        if let Some(mut session) = self.take_idle() {
            match tokio::time::timeout(self.timeout, session.send(from, to, body)).await {
                Ok(Ok(())) => return self.accepted(session, accepted).await,
                // A stale session: try a new one below.
                Ok(Err(SmtpError::Io(_) | SmtpError::Closed)) if !session.answered => inherited = session.gate.take(),
                Ok(Err(e)) => return Self::failed(session.gate.take(), e.outcome()).await,
                Err(_) => return Self::failed(session.gate.take(), Self::timed_out()).await,
            }
        }
        let mut session = match self.open().await {
            Ok(s) => s,
            Err(outcome) => return Self::failed(inherited, outcome).await,
        };
        session.gate = inherited;
        match tokio::time::timeout(self.timeout, session.send(from, to, body)).await {
            Ok(Ok(())) => self.accepted(session, accepted).await,
            Ok(Err(e)) => Self::failed(session.gate.take(), e.outcome()).await,
            Err(_) => Self::failed(session.gate.take(), Self::timed_out()).await,
        }
    }

    fn timed_out() -> Outcome {
        Outcome::Temporary("the relay did not answer in time".into())
    }

    /// The session goes back to the pool carrying the accepted message's
    /// gate; a session the pool has no room for is closed once that gate
    /// opened, so no session ends with an accepted message unrecorded.
    async fn accepted(&self, mut session: Session, accepted: impl FnOnce() -> Option<Gate>) -> Outcome {
        session.gate = accepted();
        if let Some(mut extra) = self.put_back(session)
            && let Some(gate) = extra.gate.take()
        {
            gate.await;
        }
        Outcome::Sent
    }

    /// A session that failed is closed, but only once the message accepted
    /// on it before is recorded (its gate), for the same reason.
    async fn failed(gate: Option<Gate>, outcome: Outcome) -> Outcome {
        if let Some(gate) = gate {
            gate.await;
        }
        outcome
    }

    /// Opens a session and asks NOOP, for the check at start.
    pub async fn check(&self) -> Result<(), String> {
        let mut session = self.open().await.map_err(|o| match o {
            Outcome::Temporary(e) | Outcome::Permanent(e) => e,
            Outcome::Sent => String::new(),
        })?;
        let alive = tokio::time::timeout(self.timeout, session.noop()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), session.quit()).await;
        match alive {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("the server did not answer NOOP: {e}")),
            Err(_) => Err("the server did not answer NOOP in time".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_at_line_starts_are_doubled_and_the_end_is_added() {
        let mut out = Vec::new();
        dot_stuff(b".a\r\nb\r\n.\r\n..c\r\nd.e", &mut out);
        assert_eq!(out, b"..a\r\nb\r\n..\r\n...c\r\nd.e\r\n.\r\n");
        out.clear();
        dot_stuff(b"x\r\n", &mut out);
        assert_eq!(out, b"x\r\n.\r\n", "a body that ends its last line gets no empty line");
    }

    #[test]
    fn ehlo_keywords_are_read_from_the_lines_after_the_name() {
        let reply = Reply {
            code: 250,
            lines: ["relay.example", "PIPELINING", "SIZE 10240000", "8BITMIME", "AUTH=LOGIN PLAIN", "STARTTLS"]
                .map(String::from)
                .to_vec(),
        };
        let ext = Extensions::parse(&reply);
        assert!(ext.pipelining && ext.eight_bit_mime && ext.starttls && !ext.smtp_utf8);
        assert_eq!(ext.auth, ["LOGIN", "PLAIN"]);
    }

    #[test]
    fn a_password_goes_in_clear_only_to_this_host() {
        assert!(may_send_password("smtp.example.org", true));
        assert!(!may_send_password("smtp.example.org", false));
        assert!(!may_send_password("192.0.2.7", false));
        for local in ["127.0.0.1", "127.0.0.2", "[::1]", "localhost", "LOCALHOST"] {
            assert!(may_send_password(local, false), "{local}");
        }
    }

    #[test]
    fn only_5xx_replies_are_permanent() {
        let reply = |code| SmtpError::Reply { command: "RCPT TO", code, text: String::new() };
        assert!(matches!(reply(550).outcome(), Outcome::Permanent(_)));
        assert!(matches!(reply(451).outcome(), Outcome::Temporary(_)));
        assert!(matches!(SmtpError::Closed.outcome(), Outcome::Temporary(_)));
    }

    /// A relay that offers PIPELINING and answers MAIL, RCPT and DATA only
    /// once all three have arrived: a client that waits for each reply
    /// before the next command never gets one (the test times out).
    #[tokio::test]
    async fn mail_rcpt_and_data_go_out_in_one_write_when_pipelining_is_offered() {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let relay = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read);
            let mut line = String::new();
            write.write_all(b"220 test ESMTP\r\n").await.unwrap();
            lines.read_line(&mut line).await.unwrap();
            assert!(line.starts_with("EHLO "), "{line:?}");
            write.write_all(b"250-test\r\n250-PIPELINING\r\n250 8BITMIME\r\n").await.unwrap();
            let mut commands = Vec::new();
            for _ in 0..3 {
                line.clear();
                lines.read_line(&mut line).await.unwrap();
                commands.push(line.clone());
            }
            assert_eq!(commands, ["MAIL FROM:<a@example.org>\r\n", "RCPT TO:<b@example.org>\r\n", "DATA\r\n"]);
            write.write_all(b"250 ok\r\n250 ok\r\n354 go on\r\n").await.unwrap();
            let mut data = Vec::new();
            loop {
                line.clear();
                lines.read_line(&mut line).await.unwrap();
                if line == ".\r\n" {
                    break;
                }
                data.push(line.clone());
            }
            write.write_all(b"250 queued\r\n").await.unwrap();
            data
        });
        let tls = crate::tls::client_config().unwrap();
        let settings = Relay {
            host: "127.0.0.1".into(),
            port,
            security: Security::Opportunistic,
            credentials: None,
            hello: "client.test".into(),
            tls,
        };
        let sent = tokio::time::timeout(Duration::from_secs(10), async {
            let mut session = Session::open(&settings).await?;
            assert!(session.extensions().pipelining);
            session.send("a@example.org", "b@example.org", b"Subject: x\r\n\r\n.hidden\r\n").await
        })
        .await;
        assert!(matches!(sent, Ok(Ok(()))), "{sent:?}");
        let data = relay.await.unwrap();
        assert_eq!(data, ["Subject: x\r\n", "\r\n", "..hidden\r\n"], "the body arrives dot-stuffed");
    }
}
