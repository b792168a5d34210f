//! The console's sessions: a token typed once on the login page buys a
//! random session id in a cookie (`HttpOnly; Secure; SameSite=Strict`,
//! path `/admin`, eight hours) and a CSRF secret that every form carries
//! back. Held in memory: a restart logs everyone out, which is the safe
//! side. At most [`MAX_SESSIONS`]; the oldest goes first.

use axum::http::{header, HeaderMap};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq as _;

pub const COOKIE: &str = "bantin_admin";
const LIFETIME: Duration = Duration::from_secs(8 * 3600);
const MAX_SESSIONS: usize = 1024;

/// A logged-in console user.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: String,
    pub csrf: String,
    expires: Instant,
}

impl Session {
    /// Whether a form's `csrf` field is this session's.
    pub fn csrf_ok(&self, given: &str) -> bool {
        bool::from(self.csrf.as_bytes().ct_eq(given.as_bytes()))
    }
}

#[derive(Debug, Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Session>>,
}

/// 32 random bytes as hex; `None` if the system has no randomness to give.
fn random_id() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Sessions {
    /// A new session for `actor`: its id (for the cookie).
    pub fn open(&self, actor: &str, now: Instant) -> Option<String> {
        let (id, csrf) = (random_id()?, random_id()?);
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|_, s| s.expires > now);
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| k.clone())
        {
            live.remove(&oldest);
        }
        live.insert(id.clone(), Session { actor: actor.to_string(), csrf, expires: now + LIFETIME });
        Some(id)
    }

    /// The session named by the request's cookie, if live.
    pub fn of(&self, headers: &HeaderMap, now: Instant) -> Option<Session> {
        let id = cookie(headers)?;
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(id).filter(|s| s.expires > now).cloned()
    }

    pub fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers) {
            self.live.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        }
    }
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// The `Set-Cookie` value that opens a session, and the one that ends it.
pub fn set_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/admin; HttpOnly; Secure; SameSite=Strict; Max-Age={}", LIFETIME.as_secs())
}

pub const CLEAR_COOKIE: &str = "bantin_admin=; Path=/admin; HttpOnly; Secure; SameSite=Strict; Max-Age=0";

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, value.parse().unwrap());
        h
    }

    #[test]
    fn a_session_is_found_by_its_cookie_until_it_expires_or_closes() {
        let sessions = Sessions::default();
        let t0 = Instant::now();
        let id = sessions.open("ops", t0).unwrap();
        let h = with_cookie(&format!("other=1; {COOKIE}={id}"));
        let s = sessions.of(&h, t0).unwrap();
        assert_eq!(s.actor, "ops");
        assert!(s.csrf_ok(&s.csrf.clone()) && !s.csrf_ok("") && !s.csrf_ok(&id));
        assert!(sessions.of(&with_cookie(&format!("{COOKIE}=x{id}")), t0).is_none());
        assert!(sessions.of(&h, t0 + LIFETIME).is_none(), "expired");
        sessions.close(&h);
        assert!(sessions.of(&h, t0).is_none(), "closed");
        assert!(set_cookie(&id).contains("HttpOnly; Secure; SameSite=Strict"));
    }

    proptest::proptest! {
        /// A Cookie header is outside input: any value is read without a
        /// panic; the session is found when the header holds its cookie
        /// among others, and not when the id is cut or lengthened.
        #[test]
        fn any_cookie_header_is_read_without_panic(before in "([a-z_]{1,8}=[!-:<-~]{0,12}; ){0,3}", after in "(; [a-z_]{1,8}=[!-:<-~]{0,12}){0,3}", cut in proptest::bool::ANY) {
            let sessions = Sessions::default();
            let t0 = Instant::now();
            let id = sessions.open("ops", t0).unwrap();
            let shown = if cut { &id[..id.len() - 1] } else { id.as_str() };
            let value = format!("{before}{COOKIE}={shown}{after}");
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, value.parse().unwrap());
            proptest::prop_assert_eq!(sessions.of(&h, t0).is_some(), !cut, "{}", value);
        }
    }
}
