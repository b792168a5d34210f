//! Who may use the admin API: the tokens of `admin.token_file` (read once
//! at start), checked in constant time, and a per-client limit on failed
//! attempts. Every request under `/admin/` passes [`guard`] before routing,
//! so a caller without a good token learns nothing, not even whether a
//! path exists: each gets the same 401 (or, past the limit, 429).

use crate::ratelimit::{ip_key, Window};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use sha2::{Digest as _, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq as _;

/// Failed attempts a client may make in [`FAILURE_WINDOW`] before every
/// request of theirs is answered 429 until the window slides.
pub const MAX_FAILURES: usize = 10;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(600);
/// Shortest secret accepted: a token is a password nobody types.
const MIN_SECRET: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("admin.token_file {path}: cannot read it: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("admin.token_file {path}, line {line}: {why}; write `name:secret` or just the secret, at least {MIN_SECRET} characters (e.g. `openssl rand -hex 32`)")]
    Bad { path: PathBuf, line: usize, why: &'static str },
    #[error("admin.token_file {path}: holds no token; write one line `name:secret` (e.g. `ops:$(openssl rand -hex 32)`)")]
    Empty { path: PathBuf },
}

/// The token's name, set on a request that passed [`guard`]: the "who" of
/// the audit table.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

/// The tokens, as SHA-256 digests of their secrets with their names.
#[derive(Debug)]
pub struct Tokens {
    tokens: Vec<([u8; 32], String)>,
    failures: Mutex<Window<IpAddr>>,
}

impl Tokens {
    pub fn load(path: &Path) -> Result<Tokens, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Unreadable { path: path.into(), source })?;
        Tokens::parse(path, &text)
    }

    /// Lines `name:secret` or `secret` (named `admin`); `#` comments and
    /// blank lines skipped.
    pub fn parse(path: &Path, text: &str) -> Result<Tokens, TokenError> {
        let mut tokens = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why| TokenError::Bad { path: path.into(), line: i + 1, why };
            let (name, secret) = match line.split_once(':') {
                Some((name, secret)) => (name.trim(), secret.trim()),
                None => ("admin", line),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return Err(bad("the name may hold only letters, digits, '-', '_' and '.'"));
            }
            if secret.len() < MIN_SECRET || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad("the secret is too short or holds spaces"));
            }
            tokens.push((digest(secret.as_bytes()), name.to_string()));
        }
        if tokens.is_empty() {
            return Err(TokenError::Empty { path: path.into() });
        }
        Ok(Tokens { tokens, failures: Mutex::new(Window::new(MAX_FAILURES, FAILURE_WINDOW, 65_536)) })
    }

    /// Whether `ip` has used up its failures (everything it asks is 429).
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).exhausted(&ip, now)
    }

    /// Counts a wrong token from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).allow(ip, now);
    }

    /// The name of the token whose secret is `given`. Every token is
    /// compared, each in constant time over equal-length digests, so the
    /// time taken says nothing about how much of a secret was right.
    pub fn check(&self, given: &[u8]) -> Option<&str> {
        let given = digest(given);
        let mut found = None;
        for (secret, name) in &self.tokens {
            if bool::from(secret.ct_eq(&given)) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The middleware in front of every `/admin/` route.
pub async fn guard(State(tokens): State<Arc<Tokens>>, conn: Option<Extension<ConnectInfo<SocketAddr>>>, mut req: Request, next: Next) -> Response {
    let client = conn.map(|Extension(ConnectInfo(a))| ip_key(a.ip()));
    let now = Instant::now();
    if client.is_some_and(|ip| tokens.blocked(ip, now)) {
        return refusal(StatusCode::TOO_MANY_REQUESTS);
    }
    let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.as_bytes().strip_prefix(b"Bearer ")).map(<[u8]>::trim_ascii);
    match given.and_then(|g| tokens.check(g)) {
        Some(name) => {
            req.extensions_mut().insert(Actor(name.to_string()));
            next.run(req).await
        }
        None => {
            // A guess is a failure; a request with no token at all guesses
            // nothing (a browser, a probe) and only gets the 401.
            if let (Some(ip), Some(_)) = (client, given) {
                tokens.failed(ip, now);
            }
            refusal(StatusCode::UNAUTHORIZED)
        }
    }
}

/// The one answer to a request without a good token, whatever its path.
fn refusal(status: StatusCode) -> Response {
    let body = if status == StatusCode::UNAUTHORIZED { "{\"error\":\"unauthorized\"}" } else { "{\"error\":\"too many failed attempts; try again later\"}" };
    (
        status,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"bantin admin\""), (header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_named_lines_and_a_bad_line_is_named() {
        let t = Tokens::parse(Path::new("t"), "# ops\nops:0123456789abcdef0123\n\nfedcba9876543210fedc\n").unwrap();
        assert_eq!(t.check(b"0123456789abcdef0123"), Some("ops"));
        assert_eq!(t.check(b"fedcba9876543210fedc"), Some("admin"));
        assert_eq!(t.check(b"0123456789abcdef012"), None);
        assert_eq!(t.check(b""), None);
        let e = Tokens::parse(Path::new("t"), "ops:short\n").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("openssl rand"), "{e}");
        let e = Tokens::parse(Path::new("t"), "a b:0123456789abcdef0123\n").unwrap_err().to_string();
        assert!(e.contains("the name"), "{e}");
        assert!(matches!(Tokens::parse(Path::new("t"), "# nothing\n"), Err(TokenError::Empty { .. })));
    }

    proptest::proptest! {
        /// The token file is read without a panic whatever it holds, and
        /// every secret it accepts names a token, while the same secret
        /// with one more character (a control character, which no secret
        /// may hold) names none.
        #[test]
        fn any_token_file_is_read_without_panic_and_each_secret_names_its_token(
            lines in proptest::collection::vec("([a-z]{1,6}:)?[!-~]{0,40}", 0..6)
        ) {
            let text = lines.join("\n");
            if let Ok(tokens) = Tokens::parse(Path::new("t"), &text) {
                for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                    let secret = line.split_once(':').map_or(line, |(_, s)| s.trim());
                    proptest::prop_assert!(tokens.check(secret.as_bytes()).is_some(), "{secret}");
                    let longer = format!("{secret}\u{1}");
                    proptest::prop_assert!(tokens.check(longer.as_bytes()).is_none(), "{:?}", longer);
                }
            }
        }
    }
}
