//! The front of every connection: a small HTTP/1.1 reader that answers
//! GET and HEAD of a cached document itself and hands everything else to
//! hyper, with the bytes it has read.
//!
//! Why not hyper for those too: a feed server's traffic is nearly all
//! conditional GETs of a few cached documents, and for them hyper's
//! general machinery (a `Request` with its `HeaderMap`, a `Response`, a
//! body stream, the encoder) was most of the user-space CPU of a request
//! (issue 6, scenario 3). Here such a request is parsed in place
//! (`httparse`, no allocation), answered with the negotiated cached bytes
//! (`super::decide` and `super::document_headers`: the same decisions and headers as
//! hyper's answer) in one `writev` (`send.rs`),
//! and the connection goes on to its next request.
//!
//! Anything this reader does not take (another method or path, a request
//! with a body, `Expect`, `Upgrade`, an absolute-form target, a head it
//! cannot parse or one longer than the limit) goes to hyper together with
//! every byte read so far ([`super::io::Rewind`]), so hyper answers exactly as it did
//! before, errors (400, 431…) included, and keeps the connection from then
//! on.
//!
//! Invariants: a response is written whole before the next request is read
//! (pipelined requests are answered in order); a connection is closed after
//! the response when the client asked (`Connection: close`, HTTP/1.0
//! without keep-alive); a client gets `Limits::header_read_timeout` to send
//! each request head, idle time between requests included; at shutdown an
//! idle connection is closed at once, and one with a request begun (part
//! of its head read) or in flight after that request's response; a
//! response that makes no progress for `Limits::write_timeout` (a client
//! that does not read) ends the connection.

use super::send::{file_of, send_file, write_all, DATE, SENDFILE_MIN};
use super::wait::{Stop, Waits};
use super::{Hot, Limits};
use crate::cache::{Entry, Representation};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Headers read per request on the fast path; a request with more goes
/// to hyper.
const MAX_HEADERS: usize = 32;

/// How a connection's front part ended.
pub enum Front {
    /// Done: the client closed, asked to close, timed out, or shutdown.
    Closed,
    /// Hyper takes the connection from here; `buffered` are the bytes read
    /// and not yet answered.
    Handover { stream: TcpStream, buffered: Vec<u8> },
}

/// What one request head asks of the fast path.
struct Asked<'a> {
    head_len: usize,
    head: bool,
    path: &'a str,
    keep_alive: bool,
    http10: bool,
    accept_encoding: Option<&'a str>,
    if_none_match: Option<&'a str>,
    if_modified_since: Option<&'a str>,
    /// `Sec-Fetch-Dest: document`: a browser's navigation ([`super::navigation`]).
    navigation: bool,
    /// The query (`?lang=`) and `Accept-Language`: the index page's
    /// language ([`super::negotiate::english`]).
    query: Option<&'a str>,
    accept_language: Option<&'a str>,
}

/// Serves requests on `stream` as long as they are for cached documents.
pub async fn serve(mut stream: TcpStream, app: &Hot, limits: &Limits, stop: &Stop) -> Front {
    let (max_head, limit) = (limits.max_header_bytes, limits.write_timeout);
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut out: Vec<u8> = Vec::with_capacity(512);
    let mut waits = Waits::new(stop, limits.header_read_timeout);
    loop {
        // Read until `buf` holds a whole head (or proves not to be one we take).
        let answered = loop {
            match parse(&buf) {
                Parsed::Partial if buf.len() < max_head => {}
                Parsed::Partial | Parsed::Other => return Front::Handover { stream, buffered: buf },
                Parsed::Hot(mut asked) => {
                    // Shutting down: this response is the connection's last.
                    asked.keep_alive &= !waits.stopping();
                    let cache = app.shared.cache.load();
                    // A feed's first request renders it: the router's task.
                    if cache.pending(asked.path) {
                        return Front::Handover { stream, buffered: buf };
                    }
                    let english = super::negotiate::english(asked.query, asked.accept_language);
                    let entry = cache.document_in(asked.path, asked.navigation, english);
                    let Some(entry) = entry else { return Front::Handover { stream, buffered: buf } };
                    let (not_modified, rep) = respond(entry, &asked, &mut out);
                    app.count(asked.path, if not_modified { axum::http::StatusCode::NOT_MODIFIED } else { axum::http::StatusCode::OK });
                    let body = (!asked.head && !not_modified).then(|| rep.clone());
                    break (asked.head_len, asked.keep_alive, body);
                }
            }
            if buf.capacity() - buf.len() < 512 {
                buf.reserve(4096);
            }
            // Shutdown while waiting for a request: nothing is in flight
            // on this connection, so it ends now. A head begun is a
            // request in flight: it is read to its end and answered.
            if buf.is_empty() && waits.stopping() {
                return Front::Closed;
            }
            let idle = buf.is_empty();
            let read = tokio::select! {
                biased;
                r = stream.read_buf(&mut buf) => r,
                // Shutdown while no request is begun, or the head did not
                // arrive in time (hyper would close too).
                () = waits.ended(idle) => return Front::Closed,
            };
            match read {
                Ok(0) | Err(_) => return Front::Closed,
                Ok(_) => {}
            }
        };
        let (head_len, keep_alive, body) = answered;
        let written = match &body {
            Some(rep) if rep.bytes.len() >= SENDFILE_MIN => match file_of(rep) {
                Some(file) => send_file(&stream, &out, file, rep.bytes.len(), limit).await,
                None => write_all(&mut stream, &out, &rep.bytes, limit).await,
            },
            Some(rep) => write_all(&mut stream, &out, &rep.bytes, limit).await,
            None => write_all(&mut stream, &out, &[], limit).await,
        };
        if let Err(e) = written {
            if e.kind() == std::io::ErrorKind::TimedOut {
                app.shared.metrics.write_timeouts.inc();
            }
            return Front::Closed;
        }
        buf.drain(..head_len);
        if !keep_alive {
            let _ = stream.shutdown().await;
            return Front::Closed;
        }
        waits.next_head();
    }
}

enum Parsed<'a> {
    /// More bytes are needed.
    Partial,
    /// Not for the fast path: hyper answers it.
    Other,
    Hot(Asked<'a>),
}

fn parse(buf: &[u8]) -> Parsed<'_> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Other,
    };
    let head = match req.method {
        Some("GET") => false,
        Some("HEAD") => true,
        _ => return Parsed::Other,
    };
    let http10 = req.version == Some(0);
    let Some(target) = req.path.filter(|p| p.starts_with('/')) else { return Parsed::Other };
    let (path, query) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q)));
    let mut asked = Asked {
        head_len,
        head,
        path,
        keep_alive: !http10,
        http10,
        accept_encoding: None,
        if_none_match: None,
        if_modified_since: None,
        navigation: false,
        query,
        accept_language: None,
    };
    let (mut close, mut keep_alive) = (false, false);
    for h in req.headers.iter() {
        // As `HeaderValue::to_str` reads them: visible ASCII only, else
        // the header counts as absent.
        let value = || std::str::from_utf8(h.value).ok().filter(|v| v.bytes().all(|b| b == b'\t' || (32..127).contains(&b)));
        let name = h.name;
        if name.eq_ignore_ascii_case("accept-encoding") {
            asked.accept_encoding = asked.accept_encoding.or_else(value);
        } else if name.eq_ignore_ascii_case("if-none-match") {
            asked.if_none_match = asked.if_none_match.or_else(value);
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            asked.if_modified_since = asked.if_modified_since.or_else(value);
        } else if name.eq_ignore_ascii_case("accept-language") {
            asked.accept_language = asked.accept_language.or_else(value);
        } else if name.eq_ignore_ascii_case("sec-fetch-dest") {
            asked.navigation |= super::navigation(value());
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            if h.value.trim_ascii() != b"0" {
                return Parsed::Other;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("expect")
            || name.eq_ignore_ascii_case("upgrade")
        {
            return Parsed::Other;
        }
    }
    // A close asked for wins; HTTP/1.0 keeps the connection only when asked.
    asked.keep_alive = !close && (!http10 || keep_alive);
    Parsed::Hot(asked)
}

/// Writes the response head into `out`: the status line, the headers of
/// [`super::document_headers`] (the same as hyper's answer), then Date and,
/// where needed, Connection; returns whether it is a 304 and the
/// representation.
fn respond<'e>(entry: &'e Entry, asked: &Asked<'_>, out: &mut Vec<u8>) -> (bool, &'e Representation) {
    out.clear();
    let decided = super::decide(entry, asked.accept_encoding, asked.if_none_match, asked.if_modified_since);
    let status: &[u8] = if decided.not_modified { b"HTTP/1.1 304 Not Modified\r\n" } else { b"HTTP/1.1 200 OK\r\n" };
    out.extend_from_slice(status);
    let mut header = |name: &[u8], value: &[u8]| {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    };
    super::document_headers(entry, &decided, |name, value| header(name.as_str().as_bytes(), value.as_bytes()));
    if !asked.keep_alive {
        header(b"connection", b"close");
    } else if asked.http10 {
        header(b"connection", b"keep-alive");
    }
    DATE.with(|d| header(b"date", d.now().as_bytes()));
    out.extend_from_slice(b"\r\n");
    (decided.not_modified, decided.rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hot(req: &str) -> Asked<'_> {
        match parse(req.as_bytes()) {
            Parsed::Hot(a) => a,
            Parsed::Partial => panic!("partial: {req:?}"),
            Parsed::Other => panic!("other: {req:?}"),
        }
    }

    #[test]
    fn conditional_gets_are_read_in_place() {
        let head = "GET /feed.xml?utm=x HTTP/1.1\r\nHost: h\r\naccept-encoding: gzip\r\nIf-None-Match: \"abc\"\r\n\r\n";
        let pipelined = format!("{head}GET /next");
        let a = hot(&pipelined);
        assert_eq!((a.path, a.head, a.keep_alive), ("/feed.xml", false, true));
        assert_eq!((a.accept_encoding, a.if_none_match), (Some("gzip"), Some("\"abc\"")));
        assert_eq!(a.head_len, head.len(), "the pipelined rest is not part of the head");
        assert!(hot("HEAD / HTTP/1.1\r\n\r\n").head);
        assert!(hot("GET /feed.xml HTTP/1.1\r\nSec-Fetch-Dest: document\r\n\r\n").navigation);
        assert!(!hot("GET /feed.xml HTTP/1.1\r\nSec-Fetch-Dest: empty\r\n\r\n").navigation);
        assert!(!a.navigation);
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        assert!(!hot("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n").keep_alive);
        assert!(!hot("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(hot("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
        assert!(!hot("GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    }

    #[test]
    fn what_hyper_should_answer_goes_to_hyper() {
        for req in [
            "POST /subscribe HTTP/1.1\r\nContent-Length: 3\r\n\r\na=b",
            "GET /feed.xml HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            "GET /feed.xml HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /feed.xml HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET /feed.xml HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
            "GET http://example.org/feed.xml HTTP/1.1\r\n\r\n",
            "GET * HTTP/1.1\r\n\r\n",
            "GET /feed.xml HTTP/1.1\r\nBad\x01Header: x\r\n\r\n",
            "GARBAGE\r\n\r\n",
        ] {
            assert!(matches!(parse(req.as_bytes()), Parsed::Other), "{req:?}");
        }
        assert!(matches!(parse(b"GET /feed.xml HTTP/1.1\r\nHost: "), Parsed::Partial));
        let many: String = (0..MAX_HEADERS + 1).map(|i| format!("X-{i}: v\r\n")).collect();
        assert!(matches!(parse(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()), Parsed::Other), "too many headers");
    }

    #[test]
    fn header_values_hyper_would_not_read_count_as_absent() {
        let a = hot("GET / HTTP/1.1\r\nIf-None-Match: \"é\"\r\n\r\n");
        assert_eq!(a.if_none_match, None);
    }
}
