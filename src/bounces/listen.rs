//! The inbound SMTP listener of `bounces.listen`: the relay in front of
//! bantin delivers the reports addressed to the return-path domain here.
//! It takes mail only for that domain (no relaying), with bounded lines,
//! message size, recipients, connections and idle time, and hands each
//! message to `deliver`; it answers `250` only once `deliver` has kept the
//! message, and `451` when it has not, so the relay keeps it and retries:
//! a report received is never lost. No STARTTLS or AUTH: it is meant for
//! loopback, where the relay is the only client.
//!
//! A small state machine written here rather than `mailin`'s: that engine
//! cannot announce `SIZE`, answers a failing `data` handler in the middle
//! of DATA and stalls after an error at the end of DATA, which are exactly
//! the replies (`552`, `451`) this listener exists to give.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// What `deliver` returns: `Err` with a reason when the message was not
/// kept (answered `451`, the relay retries).
pub type Delivery = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// The longest line, CRLF included (RFC 5321 4.5.3.1.6).
pub const MAX_LINE: usize = 1000;

#[derive(Debug, Clone)]
pub struct ListenSettings {
    /// The return-path domain: the only one RCPT TO may name.
    pub domain: String,
    /// The name in the greeting and the EHLO reply.
    pub hostname: String,
    pub max_message_bytes: usize,
    pub max_connections: usize,
    pub max_recipients: usize,
    /// How long a command (or a DATA line) may take before `421`.
    pub idle_timeout: Duration,
    /// How long a whole message (DATA to its final dot) may take: a client
    /// dripping a line just inside `idle_timeout` holds a slot no longer.
    pub data_timeout: Duration,
}

/// Refused commands before a session is closed (postfix's
/// `smtpd_hard_error_limit`).
pub const MAX_ERRORS: usize = 20;

impl ListenSettings {
    /// SMTP's usual limits: 32 connections, 100 recipients, 5 minutes a
    /// command, 10 minutes a message (RFC 5321 4.5.3.2).
    pub fn new(domain: &str, hostname: &str, max_message_bytes: usize) -> ListenSettings {
        ListenSettings {
            domain: domain.to_ascii_lowercase(),
            hostname: hostname.to_string(),
            max_message_bytes,
            max_connections: 32,
            max_recipients: 100,
            idle_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
        }
    }
}

/// Accepts connections until `shutdown` turns true (or its sender goes),
/// then lets the sessions finish their transaction and returns.
pub async fn run<F>(listener: TcpListener, settings: ListenSettings, deliver: F, mut shutdown: watch::Receiver<bool>)
where
    F: Fn(Vec<u8>, Vec<String>) -> Delivery + Send + Sync + 'static,
{
    let settings = Arc::new(settings);
    let deliver: Arc<F> = Arc::new(deliver);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let mut sessions = JoinSet::new();
    while !*shutdown.borrow() {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "bounces.listen: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            changed = shutdown.changed() => {
                if changed.is_err() { break; }
                continue;
            }
        };
        while sessions.try_join_next().is_some() {}
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            sessions.spawn(refuse(stream, settings.idle_timeout));
            continue;
        };
        let (settings, deliver, shutdown) = (Arc::clone(&settings), Arc::clone(&deliver), shutdown.clone());
        sessions.spawn(async move {
            let session = Session { settings: &settings, deliver: &*deliver, shutdown };
            if let Err(e) = session.serve(stream).await {
                tracing::debug!(error = %e, "bounces.listen: session ended");
            }
            drop(slot);
        });
    }
    while sessions.join_next().await.is_some() {}
}

async fn refuse(mut stream: TcpStream, limit: Duration) {
    let reply = b"421 4.7.0 too many connections, try again later\r\n";
    let _ = tokio::time::timeout(limit, stream.write_all(reply)).await;
}

/// One line read: its bytes (with the line end), or that it was too long
/// (the rest of it read and dropped), or the end of the stream.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Text,
    TooLong,
    Eof,
}

/// Reads one line into `buf`, never holding more than `max` bytes of it.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if buf.is_empty() && !too_long { Line::Eof } else if too_long { Line::TooLong } else { Line::Text });
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let n = chunk.len();
        if !too_long && buf.len() + n <= max {
            buf.extend_from_slice(chunk);
        } else {
            too_long = true;
            buf.clear();
        }
        reader.consume(n);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Text });
        }
    }
}

/// The envelope of the transaction under way.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    to: Vec<String>,
}

struct Session<'a, F> {
    settings: &'a ListenSettings,
    deliver: &'a F,
    shutdown: watch::Receiver<bool>,
}

/// What to do after a reply.
enum Next {
    Go,
    Data,
    Close,
}

impl<F> Session<'_, F>
where
    F: Fn(Vec<u8>, Vec<String>) -> Delivery + Send + Sync + 'static,
{
    async fn serve(mut self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let s = self.settings;
        write.write_all(format!("220 {} ESMTP bantin bounces\r\n", s.hostname).as_bytes()).await?;
        let (mut line, mut hello, mut envelope) = (Vec::new(), false, Envelope::default());
        let mut errors = 0;
        loop {
            let read = tokio::select! {
                read = tokio::time::timeout(s.idle_timeout, read_line(&mut reader, &mut line, MAX_LINE)) => Some(read),
                _ = self.shutdown.wait_for(|stop| *stop) => None,
            };
            let Some(read) = read else {
                write.write_all(b"421 4.3.2 shutting down\r\n").await?;
                return Ok(());
            };
            let (mut reply, mut next) = match read {
                Err(_) => (format!("421 4.4.2 {} idle too long, closing", s.hostname), Next::Close),
                Ok(Ok(Line::Eof)) => return Ok(()),
                Ok(Ok(Line::TooLong)) => ("500 5.5.2 line too long".to_string(), Next::Go),
                Ok(Ok(Line::Text)) => self.command(&line, &mut hello, &mut envelope),
                Ok(Err(e)) => return Err(e),
            };
            if reply.starts_with('5') {
                errors += 1;
                if errors >= MAX_ERRORS {
                    (reply, next) = ("421 4.7.0 too many errors, closing".to_string(), Next::Close);
                }
            }
            write.write_all(format!("{reply}\r\n").as_bytes()).await?;
            match next {
                Next::Go => {}
                Next::Close => return Ok(()),
                Next::Data => {
                    let to = std::mem::take(&mut envelope.to);
                    let read = tokio::time::timeout(s.data_timeout, self.data(&mut reader)).await;
                    let reply = match read {
                        Err(_) => format!("421 4.4.2 {} message too slow, closing", s.hostname),
                        Ok(read) => match read? {
                            Ok(message) => self.keep(message, to).await,
                            Err(refused) => refused,
                        },
                    };
                    envelope = Envelope::default();
                    write.write_all(format!("{reply}\r\n").as_bytes()).await?;
                    if reply.starts_with("421") {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The reply to one command line.
    fn command(&self, line: &[u8], hello: &mut bool, envelope: &mut Envelope) -> (String, Next) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
        let ok = |r: &str| (r.to_string(), Next::Go);
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if rest.trim().is_empty() => ok("501 5.5.4 a domain or address is needed"),
            "EHLO" => {
                (*hello, *envelope) = (true, Envelope::default());
                let h = &self.settings.hostname;
                let size = self.settings.max_message_bytes;
                ok(&format!("250-{h}\r\n250-SIZE {size}\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING"))
            }
            "HELO" => {
                (*hello, *envelope) = (true, Envelope::default());
                ok(&format!("250 {}", self.settings.hostname))
            }
            "MAIL" if !*hello => ok("503 5.5.1 send HELO or EHLO first"),
            "MAIL" if envelope.from.is_some() => ok("503 5.5.1 a transaction is already under way"),
            "MAIL" => ok(&self.mail(rest, envelope)),
            "RCPT" if envelope.from.is_none() => ok("503 5.5.1 send MAIL FROM first"),
            "RCPT" => ok(&self.rcpt(rest, envelope)),
            "DATA" if envelope.to.is_empty() => ok("503 5.5.1 no valid recipients"),
            "DATA" if !rest.is_empty() => ok("501 5.5.4 DATA takes no argument"),
            "DATA" => ("354 end data with <CR><LF>.<CR><LF>".to_string(), Next::Data),
            "RSET" => {
                *envelope = Envelope::default();
                ok("250 2.0.0 ok")
            }
            "NOOP" => ok("250 2.0.0 ok"),
            "VRFY" => ok("252 2.1.5 cannot verify, send some mail"),
            "QUIT" => (format!("221 2.0.0 {} closing", self.settings.hostname), Next::Close),
            _ => ok("502 5.5.1 command not implemented"),
        }
    }

    fn mail(&self, rest: &str, envelope: &mut Envelope) -> String {
        let Some((from, params)) = path_arg(rest, "FROM:") else {
            return "501 5.5.4 syntax: MAIL FROM:<address>".to_string();
        };
        for param in params.split_ascii_whitespace() {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            match key.to_ascii_uppercase().as_str() {
                "SIZE" => match value.parse::<u64>() {
                    Ok(n) if n > self.settings.max_message_bytes as u64 => {
                        return "552 5.3.4 message too big".to_string();
                    }
                    Ok(_) => {}
                    Err(_) => return "501 5.5.4 bad SIZE".to_string(),
                },
                "BODY" if value.eq_ignore_ascii_case("7BIT") || value.eq_ignore_ascii_case("8BITMIME") => {}
                _ => return "555 5.5.4 parameter not supported".to_string(),
            }
        }
        // A bounce has a null sender; it is accepted like any other.
        envelope.from = Some(from.to_string());
        "250 2.1.0 ok".to_string()
    }

    fn rcpt(&self, rest: &str, envelope: &mut Envelope) -> String {
        let Some((to, params)) = path_arg(rest, "TO:") else {
            return "501 5.5.4 syntax: RCPT TO:<address>".to_string();
        };
        if !params.trim().is_empty() {
            return "555 5.5.4 parameter not supported".to_string();
        }
        let ours = to
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.eq_ignore_ascii_case(&self.settings.domain));
        if !ours {
            return "550 5.1.1 no such recipient here (no relaying)".to_string();
        }
        if envelope.to.len() >= self.settings.max_recipients {
            return "452 4.5.3 too many recipients".to_string();
        }
        envelope.to.push(to.to_string());
        "250 2.1.5 ok".to_string()
    }

    /// Reads the message to its final dot: the message, or the reply
    /// refusing it.
    async fn data<R: AsyncBufRead + Unpin>(&self, reader: &mut R) -> std::io::Result<Result<Vec<u8>, String>> {
        let s = self.settings;
        let (mut message, mut line) = (Vec::new(), Vec::new());
        let (mut too_big, mut too_long) = (false, false);
        loop {
            let read = tokio::time::timeout(s.idle_timeout, read_line(reader, &mut line, MAX_LINE)).await;
            match read {
                Err(_) => return Ok(Err(format!("421 4.4.2 {} idle too long, closing", s.hostname))),
                Ok(Err(e)) => return Err(e),
                Ok(Ok(Line::Eof)) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(Ok(Line::TooLong)) => too_long = true,
                Ok(Ok(Line::Text)) => {
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    let body = line.strip_prefix(b".").unwrap_or(&line);
                    if message.len() + body.len() > s.max_message_bytes {
                        too_big = true;
                        message = Vec::new();
                    } else if !too_big {
                        message.extend_from_slice(body);
                    }
                }
            }
        }
        if too_big {
            return Ok(Err("552 5.3.4 message too big".to_string()));
        }
        if too_long {
            return Ok(Err("500 5.5.2 line too long".to_string()));
        }
        Ok(Ok(message))
    }

    /// Hands the message on; `250` only once it is kept.
    async fn keep(&self, message: Vec<u8>, to: Vec<String>) -> String {
        let kept = tokio::time::timeout(self.settings.idle_timeout, (self.deliver)(message, to)).await;
        match kept {
            Ok(Ok(())) => "250 2.0.0 ok, report received".to_string(),
            Ok(Err(reason)) => {
                tracing::warn!(%reason, "bounces.listen: a report could not be kept; the relay will retry");
                "451 4.3.0 not kept, try again later".to_string()
            }
            Err(_) => "451 4.3.0 timed out keeping it, try again later".to_string(),
        }
    }
}

/// Splits `FROM:<a@b> PARAMS` (or `TO:`) into the address and the rest.
fn path_arg<'t>(rest: &'t str, keyword: &str) -> Option<(&'t str, &'t str)> {
    let head = rest.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let path = rest[keyword.len()..].trim_start().strip_prefix('<')?;
    let (address, params) = path.split_once('>')?;
    if address.contains(['<', ' ', '"']) {
        return None; // quoted local parts are not ours to take
    }
    // A source route (`@a,@b:user@c`) names the final address after `:`.
    let address = address.rsplit_once(':').map_or(address, |(_, a)| a);
    Some((address, params))
}
