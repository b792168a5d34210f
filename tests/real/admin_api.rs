//! Issue 23, the admin API (`/admin/api/`), through the real binary on
//! both state backends: every route without a token, with a wrong one and
//! with a good one; a change through it visible to `bantin subscribers
//! list` and in the audit table with the token's name; a test send
//! received over SMTP; a wrong token a hundred times from one client
//! (refused 429 after the tenth, the good token included, while the window
//! lasts); `admin.listen` keeping `/admin` off the public listener; and a
//! missing token file stopping the start with exit 78.

use crate::support::harness::{body_of, raw, status_of};
use crate::support::mailtest::{self, smtp::SmtpServer, Backend, StateDb};
use crate::support::serve::Serve;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SECRET: &str = "3f9a1c0e7b5d42a8b6c1d0e9f8a7b6c5";
const READER: &str = "reader@example.org";
const GONE: &str = "gone@example.org";
const EDITOR: &str = "editor@example.org";

/// The routes of `bantin::admin::ROUTES` as requests: method, path, body.
fn every_route() -> Vec<(&'static str, String, &'static str)> {
    bantin::admin::ROUTES
        .iter()
        .map(|(method, path)| {
            let body = match (*method, *path) {
                ("patch", _) => "{\"frequency\":\"weekly\"}",
                ("post", "/test-send") => "{\"email\":\"reader@example.org\",\"to\":\"editor@example.org\"}",
                _ => "",
            };
            (*method, format!("/admin/api{}", path.replace("{email}", READER)), body)
        })
        .collect()
}

fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let text = format!(
        "{} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        method.to_uppercase(),
        body.len()
    );
    let answer = raw(addr, text.as_bytes(), Duration::from_secs(20));
    (status_of(&answer), body_of(&answer).to_string())
}

fn config(dir: &Path, db: &StateDb, smtp: &SmtpServer, admin: &str) -> PathBuf {
    let cfg = mailtest::write_config_for(dir, &db.url, &mailtest::examples(), &smtp.url(), "https://bantin.example.org/", "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("[http]\n", "[http]\nlisten = \"127.0.0.1:0\"\n");
    std::fs::write(dir.join("admin.token"), format!("# the operators\nops:{SECRET}\n")).unwrap();
    std::fs::write(&cfg, format!("{text}\n[admin]\ntoken_file = \"{}\"\n{admin}", dir.join("admin.token").display())).unwrap();
    cfg
}

async fn cli(cfg: &Path, args: &[&str]) -> String {
    let (code, out) = crate::support::harness::cli(cfg, args, &[]).await;
    assert_eq!(code, 0, "bantin {args:?}: {out}");
    out
}

async fn every_route_needs_the_token_and_changes_are_audited(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let cfg = config(dir.path(), &db, &smtp, "");
    cli(&cfg, &["subscribers", "add", READER, "--confirmed"]).await;
    cli(&cfg, &["subscribers", "add", GONE, "--confirmed"]).await;
    let digests = mailtest::digests(&cfg).await;
    let gone = digests.state.subscriber_by_email(GONE).await.unwrap().unwrap();
    digests.state.record_bounce(gone.id, 1, "550 5.1.1 no such user", mailtest::fixed_now()).await.unwrap();
    let serve = Serve::start(&cfg);
    let addr = serve.addr;

    // Without a token: the same 401 for every path, real or not; with a
    // wrong one too (three guesses here, counted below).
    let (_, refusal) = request(addr, "get", "/admin/api/stats", None, "");
    let mut paths: Vec<(&str, String, &str)> = every_route();
    paths.extend([("get", "/admin/api/no-such-route".to_string(), ""), ("post", "/admin/api/x/y".to_string(), "")]);
    for (method, path, body) in &paths {
        let (status, answer) = request(addr, method, path, None, body);
        assert_eq!((status, answer.as_str()), (401, refusal.as_str()), "{method} {path} without a token");
    }
    // The console's paths, real or not, all send a stranger to its login.
    for (method, path) in [("get", "/admin"), ("get", "/admin/"), ("get", "/admin/subscribers"), ("post", "/admin/digest-run"), ("get", "/admin/x/y")] {
        let auth = format!("Authorization: Bearer {SECRET}\r\n");
        let text = format!("{} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{auth}Content-Length: 0\r\n\r\n", method.to_uppercase());
        let answer = raw(addr, text.as_bytes(), Duration::from_secs(20));
        assert_eq!(status_of(&answer), 303, "{method} {path}: {answer}");
        assert!(answer.to_ascii_lowercase().contains("location: /admin/login"), "{answer}");
    }
    const GUESSES_BEFORE: usize = 3;
    for (method, path, body) in paths.iter().take(GUESSES_BEFORE) {
        let (status, answer) = request(addr, method, path, Some("wrong-token-wrong-token"), body);
        assert_eq!((status, answer.as_str()), (401, refusal.as_str()), "{method} {path} with a wrong token");
    }
    // With the token, every route answers (none is "no such route").
    for (method, path, body) in every_route().into_iter().filter(|(m, _, _)| *m != "delete") {
        let (status, answer) = request(addr, method, &path, Some(SECRET), body);
        assert!(status < 500 && !answer.contains("no such admin route"), "{method} {path}: {status} {answer}");
    }
    let (status, answer) = request(addr, "get", "/admin/api/no-such-route", Some(SECRET), "");
    assert_eq!(status, 404, "{answer}");
    assert!(answer.contains("openapi.json"));

    // A change through the API, seen by the CLI and in the audit.
    let (status, answer) = request(addr, "patch", &format!("/admin/api/subscribers/{READER}"), Some(SECRET), "{\"frequency\":\"weekly\",\"topics\":[\"du-lich\"]}");
    assert_eq!(status, 200, "{answer}");
    let listed = cli(&cfg, &["subscribers", "list"]).await;
    let line = listed.lines().find(|l| l.contains(READER)).unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains("weekly") && line.contains("du-lich"), "{line}");
    let (status, answer) = request(addr, "patch", &format!("/admin/api/subscribers/{READER}"), Some(SECRET), "{\"topics\":[\"no-such-category\"]}");
    assert_eq!(status, 422, "{answer}");

    // Lifting a suppression.
    assert_eq!(digests.state.subscriber_by_email(GONE).await.unwrap().unwrap().status.as_str(), "bouncing");
    let (status, answer) = request(addr, "patch", &format!("/admin/api/subscribers/{GONE}"), Some(SECRET), "{\"status\":\"active\"}");
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"status\":\"active\""), "{answer}");
    // A complainer stays one: "unsubscribed" would let the next sign-up of
    // the address mail them a confirmation.
    use bantin::state::{Frequency, NewSubscriber, Status};
    let spam = NewSubscriber { email: "spam@example.org".into(), topics: vec![], frequency: Frequency::Daily, status: Status::Complained, now: chrono::Utc::now() };
    digests.state.insert_subscriber(&spam).await.unwrap();
    let (status, answer) = request(addr, "patch", "/admin/api/subscribers/spam@example.org", Some(SECRET), "{\"status\":\"unsubscribed\"}");
    assert_eq!(status, 409, "{answer}");
    assert!(answer.contains("complained"), "{answer}");
    assert_eq!(digests.state.subscriber_by_email("spam@example.org").await.unwrap().unwrap().status, Status::Complained);
    // An operator's unsubscribe is counted once, as theirs.
    for _ in 0..2 {
        let (status, answer) = request(addr, "patch", &format!("/admin/api/subscribers/{GONE}"), Some(SECRET), "{\"status\":\"unsubscribed\"}");
        assert_eq!(status, 200, "{answer}");
    }
    let metrics = crate::support::harness::get(addr, "/metrics");
    assert!(metrics.contains("bantin_unsubscribes_total{via=\"admin\"} 1\n"), "{metrics}");

    // Search and paging.
    let (_, answer) = request(addr, "get", "/admin/api/subscribers?q=READ&per_page=1", Some(SECRET), "");
    let page: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!((page["total"].as_i64(), page["items"][0]["email"].as_str()), (Some(1), Some(READER)), "{answer}");

    // The test send (every_route sent one already) arrived.
    let mails = mailtest::wait_for_mail(&smtp, 1).await;
    assert!(mails.iter().any(|m| m.to == [EDITOR]), "{:?}", mails.iter().map(|m| &m.to).collect::<Vec<_>>());

    // Forget, then the audit: every change with the token's name, and no address.
    let (status, _) = request(addr, "delete", &format!("/admin/api/subscribers/{READER}"), Some(SECRET), "");
    assert_eq!(status, 204);
    assert_eq!(request(addr, "get", &format!("/admin/api/subscribers/{READER}"), Some(SECRET), "").0, 404);
    let audit = digests.state.audit_entries(50).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    for action in ["change", "test-send", "digest-run", "forget"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(audit.iter().all(|a| a.actor == "ops" && !a.detail.contains(READER)), "{audit:?}");

    // A wrong token a hundred times: 401 ten times, then 429, and the good
    // token too while the window lasts (it would otherwise tell which
    // guess was right).
    let statuses: Vec<u16> = (0..100).map(|i| request(addr, "get", "/admin/api/stats", Some(&format!("guess-{i:032}")), "").0).collect();
    let allowed = bantin::admin::auth::MAX_FAILURES - GUESSES_BEFORE;
    assert!(statuses[..allowed].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[allowed..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(request(addr, "get", "/admin/api/stats", Some(SECRET), "").0, 429);
    // The public routes are not limited by it.
    assert_eq!(status_of(&crate::support::harness::get(addr, "/feed.xml")), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_api_sqlite() {
    every_route_needs_the_token_and_changes_are_audited(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_api_postgres() {
    every_route_needs_the_token_and_changes_are_audited(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_listen_keeps_the_api_off_the_public_listener() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(Backend::Sqlite, dir.path());
    let port = crate::support::postfix::free_port();
    let cfg = config(dir.path(), &db, &smtp, &format!("listen = \"127.0.0.1:{port}\"\n"));
    let serve = Serve::start(&cfg);
    let admin: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert!(serve.wait_log("admin API served on", Duration::from_secs(10)), "{}", serve.log());
    assert_eq!(request(serve.addr, "get", "/admin/api/stats", Some(SECRET), "").0, 404, "not on the public listener");
    assert_eq!(request(admin, "get", "/admin/api/stats", None, "").0, 401);
    let (status, answer) = request(admin, "get", "/admin/api/stats", Some(SECRET), "");
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"subscribers\""), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_token_file_stops_the_start_with_exit_78() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(Backend::Sqlite, dir.path());
    let cfg = config(dir.path(), &db, &smtp, "");
    std::fs::remove_file(dir.path().join("admin.token")).unwrap();
    let out = crate::support::serve::serve_command(&cfg).stderr(std::process::Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("admin.token_file"), "{stderr}");
}

/// The console: a wrong token is refused on the login page; the right one
/// gives a session cookie (HttpOnly, Secure, SameSite=Strict); a form
/// without the session's CSRF secret changes nothing; with it, the change
/// is made and audited with the token's name.
#[tokio::test(flavor = "multi_thread")]
async fn the_console_logs_in_by_token_and_its_forms_need_the_csrf_secret() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(Backend::Sqlite, dir.path());
    let cfg = config(dir.path(), &db, &smtp, "");
    cli(&cfg, &["subscribers", "add", READER, "--confirmed"]).await;
    let serve = Serve::start(&cfg);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let url = |p: &str| serve.url(p);
    let form = |body: String| [("content-type", "application/x-www-form-urlencoded".to_string())].into_iter().fold(client.post(url("/admin/login")), |r, (k, v)| r.header(k, v)).body(body);

    let wrong = form("token=not-the-token-at-all".into()).send().await.unwrap();
    assert_eq!(wrong.status(), 401, "{}", serve.log());
    assert!(wrong.text().await.unwrap().contains("không đúng"));
    let right = form(format!("token={SECRET}")).send().await.unwrap();
    assert_eq!(right.status(), 303);
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    let get = |p: &str| client.get(url(p)).header("cookie", session.clone()).send();
    let dashboard = get("/admin/").await.unwrap();
    assert_eq!(dashboard.status(), 200, "{}", serve.log());
    let page = dashboard.text().await.unwrap();
    assert!(page.contains("Tổng quan") && page.contains("ops"), "{page}");
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().to_string();
    assert_eq!(csrf.len(), 64);

    let found = get("/admin/subscribers?q=reader").await.unwrap().text().await.unwrap();
    assert!(found.contains(READER), "{found} {}", serve.log());
    let post = |path: &str, body: String| client.post(url(path)).header("cookie", session.clone()).header("content-type", "application/x-www-form-urlencoded").body(body).send();
    let path = format!("/admin/subscribers/{}", READER.replace('@', "%40"));
    let forged = post(&path, "frequency=weekly&csrf=forged".into()).await.unwrap();
    assert_eq!(forged.status(), 403);
    let listed = cli(&cfg, &["subscribers", "list"]).await;
    assert!(listed.lines().any(|l| l.contains(READER) && l.contains("daily")), "{listed}");
    let saved = post(&path, format!("frequency=weekly&topics=du-lich&status=&csrf={csrf}")).await.unwrap();
    assert_eq!(saved.status(), 303);
    let listed = cli(&cfg, &["subscribers", "list"]).await;
    assert!(listed.lines().any(|l| l.contains(READER) && l.contains("weekly") && l.contains("du-lich")), "{listed}");
    let digests = mailtest::digests(&cfg).await;
    let audit = digests.state.audit_entries(10).await.unwrap();
    assert_eq!((audit.len(), audit[0].actor.as_str(), audit[0].action.as_str()), (1, "ops", "change"), "{audit:?}");

    // Logged out, the cookie is worth nothing.
    assert_eq!(post("/admin/logout", format!("csrf={csrf}")).await.unwrap().status(), 303);
    assert_eq!(get("/admin/").await.unwrap().status(), 303);
}
