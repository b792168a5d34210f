//! Where and how to reach the relay ([`Relay`]) and the sessions kept to
//! it between messages ([`DirectPool`]): a pooled session is reused only
//! between messages and replaced once if it fails before the relay
//! answered anything of the message.

use super::*;

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
    pub(super) async fn tls_handshake<S: AsyncRead + AsyncWrite + Unpin + Send>(
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
            Outcome::Temporary(e) | Outcome::Permanent(_, e) => e,
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

