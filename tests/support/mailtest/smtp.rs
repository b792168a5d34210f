//! A real SMTP server for tests: the `mailin` crate's protocol engine (not
//! written here) behind a small tokio accept loop on 127.0.0.1. It keeps
//! every accepted message's bytes, and can be told to answer RCPT TO with a
//! chosen code (451, 550…), or refuse one recipient, to drive the mailer's
//! fault paths.

#![allow(dead_code)]

use mailin::{Action, Handler, Response, SessionBuilder};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Accept,
    /// Answer RCPT TO with this code, so the message is not taken. (Not the
    /// end of DATA: after an error there mailin stays in its DATA state and
    /// the session stalls.)
    Reply(u16),
    /// Answer RCPT TO for this one address as postfix does for a mailbox
    /// that does not exist (`550 5.1.1 … User unknown`); take the others.
    RefuseRecipient(&'static str),
    /// Answer MAIL FROM with `421 shutting down` and close, as a relay
    /// going down mid-session does.
    ShutdownAtMail,
    /// Take the whole message, answer the end of DATA with this code (552
    /// "too big"…), not keeping the message, and close.
    RejectData(u16),
    /// Keep the message, then close the connection before the final reply:
    /// the client cannot know it was taken (counted in `dropped`).
    DropBeforeFinalReply,
    /// Wait this many milliseconds before every reply.
    Slow(u64),
    /// Offer STARTTLS, answer it with 220, then send bytes that are not a
    /// TLS handshake and close.
    BrokenTls,
    /// Offer AUTH with these mechanisms (on plain TCP) and take mail only
    /// after a login as [`AUTH_USER`] / [`AUTH_PASSWORD`]; anything else
    /// is 535.
    RequireAuth(AuthOffer),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOffer {
    PlainAndLogin,
    LoginOnly,
}

/// The account of [`Behaviour::RequireAuth`].
pub const AUTH_USER: &str = "bản-tin@example.org";
pub const AUTH_PASSWORD: &str = "p@ss word:1";

#[derive(Clone)]
pub struct Shared {
    pub inbox: Arc<Mutex<Vec<Received>>>,
    pub behaviour: Arc<Mutex<Behaviour>>,
    /// Every RCPT TO answered, accepted or not.
    pub attempts: Arc<Mutex<usize>>,
    /// Messages kept under `DropBeforeFinalReply` (taken, never confirmed).
    pub dropped: Arc<Mutex<usize>>,
    /// The user names of every AUTH attempt, right or wrong.
    pub logins: Arc<Mutex<Vec<String>>>,
    /// Sessions open now, and the most that were open at once.
    pub sessions: Arc<Mutex<(usize, usize)>>,
}

/// Counts a session in [`Shared::sessions`] while it lives.
struct Open(Arc<Mutex<(usize, usize)>>);

impl Open {
    fn enter(sessions: &Arc<Mutex<(usize, usize)>>) -> Open {
        let mut s = sessions.lock().unwrap();
        s.0 += 1;
        s.1 = s.1.max(s.0);
        Open(Arc::clone(sessions))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.lock().unwrap().0 -= 1;
    }
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    pub shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Session {
    shared: Shared,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Session {
    fn auth_plain(&mut self, _authorization_id: &str, user: &str, password: &str) -> Response {
        self.login(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.login(user, password)
    }

    fn rcpt(&mut self, to: &str) -> Response {
        *self.shared.attempts.lock().unwrap() += 1;
        match *self.shared.behaviour.lock().unwrap() {
            Behaviour::Reply(code) => Response::custom(code, format!("test server says {code}")),
            Behaviour::RefuseRecipient(gone) if to.eq_ignore_ascii_case(gone) => Response::custom(
                550,
                format!("5.1.1 <{gone}>: Recipient address rejected: User unknown in local recipient table"),
            ),
            _ => mailin::response::OK,
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.from = from.to_string();
        self.to = to.to_vec();
        self.data.clear();
        mailin::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Behaviour::RejectData(code) = *self.shared.behaviour.lock().unwrap() {
            self.data.clear();
            return Response::custom(code, format!("test server refuses the message with {code}"));
        }
        self.shared.inbox.lock().unwrap().push(Received {
            from: self.from.clone(),
            to: self.to.clone(),
            data: std::mem::take(&mut self.data),
        });
        mailin::response::OK
    }
}

impl Session {
    fn login(&mut self, user: &str, password: &str) -> Response {
        self.shared.logins.lock().unwrap().push(user.to_string());
        if user == AUTH_USER && password == AUTH_PASSWORD {
            mailin::response::AUTH_OK
        } else {
            mailin::response::INVALID_CREDENTIALS
        }
    }
}

impl SmtpServer {
    /// Starts on a free loopback port.
    pub async fn start() -> SmtpServer {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts on `addr` (to come back on a port that was refusing).
    pub async fn start_on(addr: SocketAddr) -> SmtpServer {
        let listener = TcpListener::bind(addr).await.expect("bind the test SMTP server");
        let addr = listener.local_addr().unwrap();
        let shared = Shared {
            inbox: Arc::default(),
            behaviour: Arc::new(Mutex::new(Behaviour::Accept)),
            attempts: Arc::default(),
            dropped: Arc::default(),
            logins: Arc::default(),
            sessions: Arc::default(),
        };
        let s = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else { return };
                let s = s.clone();
                tokio::spawn(async move {
                    let _open = Open::enter(&s.sessions);
                    serve(stream, peer.ip(), s).await
                });
            }
        });
        SmtpServer { addr, shared, task }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn set(&self, b: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = b;
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.inbox.lock().unwrap().clone()
    }

    /// The messages received after the first `from` (a cheap way to follow
    /// a long run without copying everything each time).
    pub fn received_since(&self, from: usize) -> Vec<Received> {
        self.shared.inbox.lock().unwrap().get(from..).map(<[Received]>::to_vec).unwrap_or_default()
    }

    pub fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.shared.inbox.lock().unwrap())
    }

    pub fn attempts(&self) -> usize {
        *self.shared.attempts.lock().unwrap()
    }

    pub fn dropped(&self) -> usize {
        *self.shared.dropped.lock().unwrap()
    }

    /// The most sessions that were open at once (since the last
    /// [`Self::reset_most_sessions`]).
    pub fn most_sessions(&self) -> usize {
        self.shared.sessions.lock().unwrap().1
    }

    /// Waits (at most `limit`) until no session is open, then counts the
    /// most at once afresh from there.
    pub fn reset_most_sessions(&self, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        while self.shared.sessions.lock().unwrap().0 > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let mut s = self.shared.sessions.lock().unwrap();
        s.1 = s.0;
    }

    pub fn logins(&self) -> Vec<String> {
        self.shared.logins.lock().unwrap().clone()
    }
}

async fn serve(stream: tokio::net::TcpStream, ip: IpAddr, shared: Shared) {
    let behaviour = *shared.behaviour.lock().unwrap();
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let handler = Session { shared: shared.clone(), from: String::new(), to: Vec::new(), data: Vec::new() };
    let mut builder = SessionBuilder::new("mailin.test");
    if behaviour == Behaviour::BrokenTls {
        builder.enable_start_tls();
    }
    if let Behaviour::RequireAuth(offer) = behaviour {
        if offer == AuthOffer::PlainAndLogin {
            builder.enable_auth(mailin::AuthMechanism::Plain);
        }
        builder.enable_auth(mailin::AuthMechanism::Login).insecure_enable_plaintext_auth();
    }
    let mut session = builder.build(ip, handler);
    if write.write_all(&session.greeting().buffer().unwrap()).await.is_err() {
        return;
    }
    let mut line = Vec::new();
    let mut in_data = false;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // The behaviour of this moment (a test may change it mid-session).
        let behaviour = *shared.behaviour.lock().unwrap();
        if !in_data && behaviour == Behaviour::ShutdownAtMail && line.to_ascii_uppercase().starts_with(b"MAIL FROM") {
            let _ = write.write_all(b"421 4.3.2 mailin.test shutting down\r\n").await;
            return;
        }
        let ends_data = in_data && line == b".\r\n";
        let response = session.process(&line);
        if response.code == 354 {
            in_data = true;
        }
        if ends_data {
            in_data = false;
            if behaviour == Behaviour::DropBeforeFinalReply {
                *shared.dropped.lock().unwrap() += 1;
                return;
            }
        }
        if let Behaviour::Slow(ms) = behaviour
            && response.action != Action::NoReply
        {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        match response.action {
            Action::Reply => {
                if write.write_all(&response.buffer().unwrap()).await.is_err() {
                    return;
                }
                // After an error at the end of DATA mailin stays in DATA.
                if ends_data && response.is_error {
                    return;
                }
            }
            Action::Close => {
                let _ = write.write_all(&response.buffer().unwrap()).await;
                return;
            }
            Action::NoReply => {}
            Action::UpgradeTls => {
                let _ = write.write_all(&response.buffer().unwrap()).await;
                let _ = write.write_all(b"this is not a TLS handshake\r\n").await;
                return;
            }
        }
    }
}
