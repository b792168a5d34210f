//! Unit tests of the extractors the subscription routes start from
//! (`extract`), the language directly and the token through the router
//! without a socket: a real state database (SQLite in a temporary folder),
//! a fixed token key, no SMTP server.

use super::*;
use axum::body::Body;
use axum::http::{HeaderMap, Request, header};
use crate::state::{NewSubscriber, Status, Unsubscribe};
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
    site_with(limits, "").await
}

/// The same with `extra` appended to the config (a section of its own).
async fn site_with(limits: Limits, extra: &str) -> Site {
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
             [state]\nurl = \"{state}\"\n[mail]\nsmtp_url = \"smtp://127.0.0.1:9\"\nfrom = \"Bản tin <bantin@example.org>\"\n{extra}",
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
        self.post_with(uri, body, ip, &[]).await
    }

    async fn post_with(&self, uri: &str, body: &str, ip: Option<&str>, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
        let mut req = Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(ip) = ip {
            let addr: SocketAddr = format!("{ip}:4000").parse().unwrap();
            req = req.extension(ConnectInfo(addr));
        }
        self.call(req.body(Body::from(body.to_string())).unwrap()).await
    }

    /// Waits (at most 10 s) until the sign-up worker has queued `n`
    /// confirmation mails in all.
    async fn wait_outbox(&self, n: i64) {
        for _ in 0..500 {
            let c = self.digests.state.outbox_counts().await.unwrap();
            if c.queued + c.sending + c.sent + c.failed >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the sign-up worker did not queue {n} mails");
    }

    async fn status(&self, id: i64) -> Status {
        self.digests.state.subscriber_by_id(id).await.unwrap().unwrap().status
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
    for path in [
        format!("/unsubscribe/{expired}"),
        format!("/preferences/{unsubscribe}"),
        format!("/unsubscribe/{tampered}"),
        format!("/confirm/{expired}"),
        format!("/confirm/{preferences}"),
    ] {
        let (status, _, page) = s.post(&format!("{path}?lang=en"), "topics=kinh-te", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(page.contains(INVALID_EN), "{path}: {page}");
    }
    let sub = s.digests.state.subscriber_by_id(id).await.unwrap().unwrap();
    assert_eq!((sub.status, sub.topics.len()), (Status::Pending, 0), "a rejected link changed the subscriber");
    // The right token for the page passes, to the page's own logic: the
    // confirmation page, then its button.
    let (status, _, page) = s.get(&format!("/confirm/{confirm}?lang=en"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("action=\"/confirm/{confirm}?lang=en\"")), "an English page posts for an English answer: {page}");
    let (status, _, page) = s.post(&format!("/confirm/{confirm}?lang=en"), "", None).await;
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

#[tokio::test]
async fn instant_is_offered_chosen_and_shown_checked_and_signed_up_for() {
    let s = site(Limits::default()).await;
    let id = s.pending("a@example.org").await;
    let preferences = s.token(Purpose::Preferences, id, None);
    let (_, _, page) = s.get(&format!("/preferences/{preferences}"), None).await;
    assert!(page.contains("value=\"instant\"> <label for=\"f-instant\">Ngay khi có bài mới</label>"), "{page}");
    let (status, _, _) = s.post(&format!("/preferences/{preferences}"), "frequency=instant", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.digests.state.subscriber_by_id(id).await.unwrap().unwrap().frequency, Frequency::Instant);
    let (_, _, page) = s.get(&format!("/preferences/{preferences}?lang=en"), None).await;
    assert!(page.contains("value=\"instant\" checked> <label for=\"f-instant\">As soon as published</label>"), "{page}");
    assert!(!page.contains("value=\"daily\" checked"), "{page}");
    // The sign-up form's third choice.
    assert_eq!(s.post("/subscribe", "email=b%40example.org&frequency=instant", Some("192.0.2.1")).await.0, StatusCode::ACCEPTED);
    s.wait_outbox(1).await;
    let b = s.digests.state.subscriber_by_email("b@example.org").await.unwrap().unwrap();
    assert_eq!((b.status, b.frequency), (Status::Pending, Frequency::Instant));
}

/// Issue 19, finding 4: mail scanners fetch every link of a message, so a
/// GET or HEAD that confirmed made double opt-in prove nothing.
#[tokio::test]
async fn get_and_head_of_a_confirm_link_change_nothing_and_its_button_confirms() {
    let s = site(Limits::default()).await;
    let id = s.pending("a@example.org").await;
    let confirm = s.token(Purpose::Confirm, id, Some(Utc::now() + chrono::Duration::days(7)));
    let path = format!("/confirm/{confirm}");
    let (status, _, page) = s.get(&path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<h1>Xác nhận đăng ký</h1>") && page.contains("a@example.org"), "{page}");
    assert!(page.contains(&format!("<form method=\"post\" action=\"{path}\">")) && page.contains(">Xác nhận</button>"), "{page}");
    let (status, _, _) = s.call(Request::head(&path).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.status(id).await, Status::Pending, "GET or HEAD confirmed");
    let (status, _, page) = s.post(&path, "", None).await;
    assert_eq!((status, page.contains("<h1>Đăng ký thành công</h1>")), (StatusCode::OK, true), "{page}");
    assert_eq!(s.status(id).await, Status::Active);
    let (status, _, page) = s.get(&path, None).await;
    assert!(status == StatusCode::OK && page.contains("<h1>Đăng ký thành công</h1>"), "a later visit: {page}");
}

/// Issue 19, finding 9: someone who left, whose address anyone typed in
/// again, was brought back by the confirmation link of their first mail.
#[tokio::test]
async fn an_old_confirm_link_does_not_bring_back_someone_who_left() {
    let s = site(Limits::default()).await;
    let id = s.pending("a@example.org").await;
    let made = Utc::now() - chrono::Duration::seconds(5);
    let old = s.token(Purpose::Confirm, id, Some(made + chrono::Duration::days(7)));
    assert_eq!(s.post(&format!("/confirm/{old}"), "", None).await.0, StatusCode::OK);
    assert_eq!(s.status(id).await, Status::Active);
    assert_eq!(s.digests.state.unsubscribe(id).await.unwrap(), Unsubscribe::Done);
    let (status, _, page) = s.get(&format!("/confirm/{old}"), None).await;
    assert_eq!((status, page.contains(INVALID_VI)), (StatusCode::BAD_REQUEST, true), "an unsubscribed one's link: {page}");
    assert_eq!(s.post("/subscribe", "email=a%40example.org", Some("192.0.2.1")).await.0, StatusCode::ACCEPTED);
    // The welcome mail of the first confirmation, then the new confirmation.
    s.wait_outbox(2).await;
    assert_eq!(s.status(id).await, Status::Pending);
    for (status, _, page) in [s.get(&format!("/confirm/{old}"), None).await, s.post(&format!("/confirm/{old}"), "", None).await] {
        assert_eq!((status, page.contains(INVALID_VI)), (StatusCode::BAD_REQUEST, true), "{page}");
    }
    assert_eq!(s.status(id).await, Status::Pending, "the old link confirmed the new sign-up");
    let new = s.token(Purpose::Confirm, id, Some(Utc::now() + chrono::Duration::days(7)));
    assert_eq!(s.post(&format!("/confirm/{new}"), "", None).await.0, StatusCode::OK);
    assert_eq!(s.status(id).await, Status::Active, "the new mail's link confirms");
}

/// Issue 19, finding 9: anyone typing a pending subscriber's address in
/// again rewrote the topics they had asked for.
#[tokio::test]
async fn a_pending_address_submitted_again_keeps_its_choices_and_gets_the_mail_again() {
    let s = site(Limits::default()).await;
    let first = "email=a%40example.org&topics=kinh-te&frequency=daily";
    assert_eq!(s.post("/subscribe", first, Some("192.0.2.1")).await.0, StatusCode::ACCEPTED);
    s.wait_outbox(1).await;
    let again = "email=a%40example.org&topics=du-lich&frequency=weekly";
    assert_eq!(s.post("/subscribe", again, Some("192.0.2.2")).await.0, StatusCode::ACCEPTED);
    s.wait_outbox(2).await;
    let sub = s.digests.state.subscriber_by_email("a@example.org").await.unwrap().unwrap();
    assert_eq!((sub.status, sub.topics, sub.frequency), (Status::Pending, vec!["kinh-te".to_string()], Frequency::Daily));
    // Someone who left and signs up again chooses anew.
    assert_eq!(s.digests.state.unsubscribe(sub.id).await.unwrap(), Unsubscribe::Done);
    assert_eq!(s.post("/subscribe", again, Some("192.0.2.3")).await.0, StatusCode::ACCEPTED);
    s.wait_outbox(3).await;
    let sub = s.digests.state.subscriber_by_id(sub.id).await.unwrap().unwrap();
    assert_eq!((sub.status, sub.topics, sub.frequency), (Status::Pending, vec!["du-lich".to_string()], Frequency::Weekly));
}

/// Issue 19, finding 9: any site could make its visitors' browsers post
/// the form (each from their own IP, past the per-IP limit).
#[tokio::test]
async fn the_form_posted_from_another_sites_page_is_refused() {
    let s = site_with(Limits::default(), "[subscription]\nallowed_origins = [\"https://embed.example.net\"]\n").await;
    let refused: [&[(&str, &str)]; 4] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("origin", "https://evil.example"), ("sec-fetch-site", "same-origin")],
        &[("sec-fetch-site", "cross-site")],
    ];
    for (i, headers) in refused.iter().enumerate() {
        let (status, h, page) = s.post_with("/subscribe?lang=en", &format!("email=refused{i}%40example.org"), Some("192.0.2.1"), headers).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(page.contains("<h1>Request refused</h1>"), "{page}");
    }
    let allowed: [&[(&str, &str)]; 6] = [
        &[],
        &[("origin", "https://yenbai.gov.vn")],
        &[("origin", "https://bantin.example")],
        &[("origin", "https://embed.example.net"), ("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-origin")],
        &[("sec-fetch-site", "none")],
    ];
    for (i, headers) in allowed.iter().enumerate() {
        let (status, _, _) = s.post_with("/subscribe", &format!("email=allowed{i}%40example.org"), Some("192.0.2.2"), headers).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{headers:?}");
    }
    s.wait_outbox(allowed.len() as i64).await;
    for i in 0..refused.len() {
        let email = format!("refused{i}@example.org");
        assert!(s.digests.state.subscriber_by_email(&email).await.unwrap().is_none(), "{email} was recorded");
    }
}

/// A reloaded, bookmarked or shared link of the page a sign-up answered
/// with was an empty 405: it is sent to the index page's form, in the
/// reader's language, and records nothing.
#[tokio::test]
async fn get_subscribe_is_sent_to_the_index_page_form_in_its_language() {
    let s = site(Limits::default()).await;
    for (accept, lang, location) in [
        (None, "", "https://bantin.example/#dang-ky"),
        (Some("en-GB,en;q=0.9"), "", "https://bantin.example/?lang=en#dang-ky"),
        (Some("vi"), "?lang=en", "https://bantin.example/?lang=en#dang-ky"),
    ] {
        let (status, headers, _) = s.get(&format!("/subscribe{lang}"), accept).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{accept:?} {lang}");
        assert_eq!(headers[header::LOCATION], location, "{accept:?} {lang}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store", "its target depends on the language");
    }
    let (status, headers, _) = s.call(Request::head("/subscribe").body(Body::empty()).unwrap()).await;
    assert_eq!((status, &headers[header::LOCATION]), (StatusCode::SEE_OTHER, &"https://bantin.example/#dang-ky".parse().unwrap()));
    assert_eq!(s.digests.state.subscriber_counts().await.unwrap().iter().map(|(_, n)| n).sum::<i64>(), 0, "a GET recorded a subscriber");
}

mod notices;
