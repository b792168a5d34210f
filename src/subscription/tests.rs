//! Unit tests of the extractors the subscription routes start from
//! (`extract`), the language directly and the token through the router
//! without a socket: a real state database (SQLite in a temporary folder),
//! a fixed token key, no SMTP server.

use super::*;
use axum::body::Body;
use axum::http::{HeaderMap, Request, header};
use crate::tokens::Purpose;
use bantin_core::tokens::TokenKey;
use axum::extract::FromRequestParts;
use tower::ServiceExt as _;

/// A router over a fresh state database, and what the test needs to
/// reach behind it.
struct Site {
    app: Router,
    digests: Arc<Digests>,
    _dir: tempfile::TempDir,
}

async fn site(limits: Limits) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    std::fs::write(
        store.join("a.md"),
        "+++\ntitle = \"Tin\"\ndate = \"2026-08-30T08:00:00+07:00\"\ncategories = [\"Kinh tế\", \"Du lịch\"]\n+++\n\nNội dung.\n",
    )
    .unwrap();
    let cfg = dir.path().join("bantin.toml");
    let state = format!("sqlite://{}/state/bantin.db", dir.path().display());
    std::fs::write(
        &cfg,
        format!(
            "[site]\ntitle = \"Cổng thông tin\"\nbase_url = \"https://yenbai.gov.vn\"\ntimezone = \"Asia/Ho_Chi_Minh\"\n\
             [store]\nkind = \"dir\"\npath = \"{}\"\n[http]\npublic_url = \"https://bantin.example/\"\n\
             [state]\nurl = \"{state}\"\n[mail]\nsmtp_url = \"smtp://127.0.0.1:9\"\nfrom = \"Bản tin <bantin@example.org>\"\n",
            store.display()
        ),
    )
    .unwrap();
    let settings = Arc::new(crate::config::load(&cfg).unwrap());
    let catalog = Arc::new(crate::store::load_catalog(&settings, 1).unwrap());
    let source: crate::newsletter::CatalogSource = Arc::new(move || Arc::clone(&catalog));
    let state = crate::state::StateStore::open(&settings.state.url).await.unwrap();
    let digests = Digests::with_parts(settings, source, state, TokenKey::from_bytes(&[7; 32])).unwrap();
    Site { app: routes_with_limits(Arc::clone(&digests), limits), digests, _dir: dir }
}

impl Site {
    async fn pending(&self, email: &str) -> i64 {
        let new = NewSubscriber {
            email: email.into(),
            topics: vec![],
            frequency: Frequency::Daily,
            status: Status::Pending,
            now: Utc::now(),
        };
        self.digests.state.insert_subscriber(&new).await.unwrap().0.id
    }

    fn token(&self, purpose: Purpose, id: i64, expires: Option<chrono::DateTime<Utc>>) -> String {
        self.digests.composer.key().sign(purpose, id, expires)
    }

    /// Status, headers and body of one request.
    async fn call(&self, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (parts.status, parts.headers, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn get(&self, uri: &str, accept_language: Option<&str>) -> (StatusCode, HeaderMap, String) {
        let mut req = Request::get(uri);
        if let Some(a) = accept_language {
            req = req.header(header::ACCEPT_LANGUAGE, a);
        }
        self.call(req.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, uri: &str, body: &str, ip: Option<&str>) -> (StatusCode, HeaderMap, String) {
        let mut req = Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(ip) = ip {
            let addr: SocketAddr = format!("{ip}:4000").parse().unwrap();
            req = req.extension(ConnectInfo(addr));
        }
        self.call(req.body(Body::from(body.to_string())).unwrap()).await
    }
}

fn lang(uri: &str, accept_language: Option<&str>) -> Lang {
    let mut req = Request::get(uri);
    if let Some(a) = accept_language {
        req = req.header(header::ACCEPT_LANGUAGE, a);
    }
    let (mut parts, ()) = req.body(()).unwrap().into_parts();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    match rt.block_on(Lang::from_request_parts(&mut parts, &())) {
        Ok(lang) => lang,
    }
}

#[test]
fn the_language_comes_from_the_query_then_accept_language_and_is_vietnamese_by_default() {
    assert_eq!(lang("/confirm/t", None), Lang::Vi);
    assert_eq!(lang("/confirm/t?lang=en", None), Lang::En);
    assert_eq!(lang("/confirm/t?x=1&lang=en-GB", None), Lang::En);
    // The query wins over the header, both ways.
    assert_eq!(lang("/confirm/t?lang=en", Some("vi")), Lang::En);
    assert_eq!(lang("/confirm/t?lang=vi", Some("en")), Lang::Vi);
    assert_eq!(lang("/confirm/t?lang", Some("en")), Lang::Vi, "an empty lang is still the query's say");
    assert_eq!(lang("/confirm/t?lang=English", None), Lang::Vi, "the query is case-sensitive");
    // The first language listed decides, in any case.
    assert_eq!(lang("/confirm/t", Some("EN-us,vi;q=0.5")), Lang::En);
    assert_eq!(lang("/confirm/t", Some(" en")), Lang::En);
    assert_eq!(lang("/confirm/t", Some("vi, en")), Lang::Vi);
    assert_eq!(lang("/confirm/t", Some("fr")), Lang::Vi);
    assert_eq!(lang("/confirm/t", Some("")), Lang::Vi);
}

const INVALID_VI: &str = "<h1>Liên kết không hợp lệ</h1>";
const INVALID_EN: &str = "<h1>Invalid link</h1>";

#[tokio::test]
async fn a_bad_expired_or_wrong_purpose_token_gets_the_invalid_link_page_in_the_readers_language() {
    let s = site(Limits::default()).await;
    let id = s.pending("a@example.org").await;
    let past = Some("2000-01-01T00:00:00Z".parse().unwrap());
    let expired = s.token(Purpose::Confirm, id, past);
    let unsubscribe = s.token(Purpose::Unsubscribe, id, None);
    let preferences = s.token(Purpose::Preferences, id, None);
    let confirm = s.token(Purpose::Confirm, id, None);
    let mut tampered = preferences.clone().into_bytes();
    tampered[30] = if tampered[30] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let bad = [
        format!("/confirm/{expired}"),
        format!("/confirm/{unsubscribe}"),
        "/confirm/not-a-token".to_string(),
        format!("/unsubscribe/{preferences}"),
        format!("/preferences/{confirm}"),
        format!("/preferences/{tampered}"),
    ];
    let (_, _, reference) = s.get("/confirm/not-a-token", None).await;
    for path in &bad {
        let (status, headers, page) = s.get(path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
        assert!(page.contains(INVALID_VI) && page.contains("<html lang=\"vi\">"), "{path}: {page}");
        assert_eq!(page, reference, "{path}: every bad token answers the same page");
        let (status, _, page) = s.get(&format!("{path}?lang=en"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains(INVALID_EN) && page.contains("<html lang=\"en\">"), "{path}?lang=en: {page}");
        let (_, _, page) = s.get(path, Some("en-US")).await;
        assert!(page.contains(INVALID_EN), "{path} with Accept-Language: en-US: {page}");
    }
    // The posting routes verify as well, and change nothing.
    for path in [format!("/unsubscribe/{expired}"), format!("/preferences/{unsubscribe}"), format!("/unsubscribe/{tampered}")] {
        let (status, _, page) = s.post(&format!("{path}?lang=en"), "topics=kinh-te", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(page.contains(INVALID_EN), "{path}: {page}");
    }
    let sub = s.digests.state.subscriber_by_id(id).await.unwrap().unwrap();
    assert_eq!((sub.status, sub.topics.len()), (Status::Pending, 0), "a rejected link changed the subscriber");
    // The right token for the page passes, to the page's own logic.
    let (status, _, page) = s.get(&format!("/confirm/{confirm}?lang=en"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>Subscription confirmed</h1>"), "{page}");
    let (status, _, page) = s.get(&format!("/unsubscribe/{unsubscribe}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("a@example.org") && page.contains(&format!("action=\"/unsubscribe/{unsubscribe}\"")), "{page}");
    // A good token whose subscriber is gone is an invalid link too.
    let ghost = s.token(Purpose::Preferences, id + 1000, None);
    let (status, _, page) = s.get(&format!("/preferences/{ghost}"), None).await;
    assert_eq!((status, page.contains(INVALID_VI)), (StatusCode::BAD_REQUEST, true), "{page}");
}

#[tokio::test]
async fn the_preferences_form_is_read_before_its_token_is_checked_and_saved_once_checked() {
    let s = site(Limits::default()).await;
    let id = s.pending("a@example.org").await;
    let preferences = s.token(Purpose::Preferences, id, None);
    let big = "a".repeat(3 * 1024 * 1024);
    // Over axum's default body limit: 413 whatever the token.
    for path in ["/preferences/not-a-token".to_string(), format!("/preferences/{preferences}")] {
        let (status, _, body) = s.post(&path, &big, None).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {body}");
    }
    // A path segment that is not UTF-8 is refused before the body.
    let (status, _, body) = s.post("/preferences/%FF", &big, None).await;
    assert_eq!((status, body.as_str()), (StatusCode::BAD_REQUEST, "Invalid URL: Invalid UTF-8 in `token`"));
    // Known topics only, each once, in the order asked.
    let form = "topics=Kinh+t%E1%BA%BF&topics=nope&topics=du-lich&topics=kinh-te&frequency=weekly";
    let (status, _, page) = s.post(&format!("/preferences/{preferences}?lang=en"), form, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>Saved</h1>"), "{page}");
    let sub = s.digests.state.subscriber_by_id(id).await.unwrap().unwrap();
    assert_eq!((sub.topics, sub.frequency), (vec!["kinh-te".to_string(), "du-lich".to_string()], Frequency::Weekly));
}
