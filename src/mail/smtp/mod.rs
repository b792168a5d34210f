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
//! when offered on `smtp://` (required with `?tls=required`, never with
//! `?tls=none`; TLS from the first byte on `smtps://`), AUTH
//! PLAIN or LOGIN when credentials are configured, then messages.
//!
//! Rooms: [`session`] (one conversation with the relay), [`pool`] (where the
//! relay is, the idle sessions kept between messages); here the replies,
//! errors, outcomes and the DATA encoding they share.
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

mod pool;
mod session;

pub use pool::{DirectPool, Relay};
pub use session::Session;

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
    /// `smtp://…?tls=required`: STARTTLS, and a relay that does not offer
    /// it gets nothing (a temporary failure: its operator may turn it on).
    Required,
    /// `smtp://…?tls=none`: never STARTTLS.
    Plain,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

/// What became of one attempt to hand a message to the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// 4xx or no connection: try again later.
    Temporary(String),
    /// 5xx: the server refused this message for good; whose doing that is.
    Permanent(Refused, String),
}

/// Whose doing a permanent refusal is, for the bounce policy
/// (`mail::sender`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The recipient's: RCPT TO answered 5xx with an enhanced status code
    /// about the address or the mailbox (RFC 3463 X.1.X, X.2.X: `550 5.1.1
    /// user unknown`). A hard bounce: the address is suppressed.
    Recipient,
    /// The sender's, the message's, the relay's: a 5xx to MAIL FROM, DATA
    /// or the end of DATA, to AUTH, what the relay cannot do, and a refused
    /// recipient without such a code. Counted toward `mail.bounce_limit`.
    Other,
}

/// A step of the conversation, as the reply that failed answered it: its
/// name for errors, and for [`Refused`] whether it was the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Greeting,
    Helo,
    StartTls,
    AuthPlain,
    AuthLogin,
    AuthLoginUser,
    AuthLoginPassword,
    MailFrom,
    RcptTo,
    Data,
    EndOfData,
    Noop,
    Quit,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Greeting => "the greeting",
            Step::Helo => "HELO",
            Step::StartTls => "STARTTLS",
            Step::AuthPlain => "AUTH PLAIN",
            Step::AuthLogin => "AUTH LOGIN",
            Step::AuthLoginUser => "AUTH LOGIN (user)",
            Step::AuthLoginPassword => "AUTH LOGIN (password)",
            Step::MailFrom => "MAIL FROM",
            Step::RcptTo => "RCPT TO",
            Step::Data => "DATA",
            Step::EndOfData => "the end of DATA",
            Step::Noop => "NOOP",
            Step::Quit => "QUIT",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("the relay closed the connection")]
    Closed,
    #[error("the relay answered {command} with {code} {text}")]
    Reply { command: Step, code: u16, text: String },
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
            SmtpError::Reply { command, code, text } if *code >= 500 => {
                Outcome::Permanent(refused(*command, text), self.to_string())
            }
            SmtpError::Unsupported(_) => Outcome::Permanent(Refused::Other, self.to_string()),
            _ => Outcome::Temporary(self.to_string()),
        }
    }
}

/// Whose doing a 5xx answer `text` to `step` is. Only RCPT TO names the
/// recipient, and only an enhanced status about the address or the
/// mailbox says the recipient is the trouble: a relay's own policy answers
/// RCPT TO too (postfix's `554 5.7.1 <a@b.example>: Relay access denied`
/// when bantin may not relay through it), and a misconfigured relay says
/// so for every recipient, which must not suppress every subscriber; so
/// does a reply without an enhanced code (exim's default `550 relay not
/// permitted`). A 5xx to MAIL FROM or DATA is about the sender or the
/// message, the same for everyone. All of those count toward
/// `mail.bounce_limit` as before.
fn refused(step: Step, text: &str) -> Refused {
    let status = bantin_core::report::Status::parse(text);
    if step == Step::RcptTo && status.is_some_and(|s| s.is_about_recipient()) {
        Refused::Recipient
    } else {
        Refused::Other
    }
}

/// A command line of the envelope, its name for errors, and the reply codes it needs.
type EnvelopeCommand = (String, Step, fn(u16) -> bool);

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
    fn require(self, command: Step, code: impl Fn(u16) -> bool) -> Result<Reply, SmtpError> {
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
        let reply = |code| SmtpError::Reply { command: Step::RcptTo, code, text: String::new() };
        assert!(matches!(reply(550).outcome(), Outcome::Permanent(..)));
        assert!(matches!(reply(451).outcome(), Outcome::Temporary(_)));
        assert!(matches!(SmtpError::Closed.outcome(), Outcome::Temporary(_)));
    }

    #[test]
    fn only_a_refused_mailbox_is_the_recipients_doing() {
        let refusal = |command, code, text: &str| match (SmtpError::Reply { command, code, text: text.into() }).outcome() {
            Outcome::Permanent(whose, _) => whose,
            other => panic!("{other:?}"),
        };
        let gone = "5.1.1 <a@b.example>: Recipient address rejected: User unknown in local recipient table";
        assert_eq!(refusal(Step::RcptTo, 550, gone), Refused::Recipient);
        assert_eq!(refusal(Step::RcptTo, 552, "5.2.1 mailbox disabled"), Refused::Recipient);
        // The relay's own policy, a code-less reply, and the sender or the
        // message refused: the same for every subscriber, only counted.
        assert_eq!(refusal(Step::RcptTo, 554, "5.7.1 <a@b.example>: Relay access denied"), Refused::Other);
        assert_eq!(refusal(Step::RcptTo, 550, "relay not permitted"), Refused::Other);
        assert_eq!(refusal(Step::MailFrom, 553, "5.1.8 sender address rejected: domain not found"), Refused::Other);
        assert_eq!(refusal(Step::Data, 554, "5.7.1 relay access denied"), Refused::Other);
        assert_eq!(refusal(Step::EndOfData, 550, "5.1.1 no such user"), Refused::Other);
        assert_eq!(SmtpError::Unsupported("SMTPUTF8".into()).outcome(), Outcome::Permanent(Refused::Other, "SMTPUTF8".into()));
    }

}
