//! Helpers shared by the digest tests: a real SMTP server (`smtp`), a
//! config file in a temporary folder, a fresh state database per test
//! on either backend ([`StateDb`]): an SQLite file in the folder, or a
//! database of its own on the PostgreSQL server of this machine (created
//! for the test, dropped after it), so every suite runs on both; the
//! digest context of a config ([`digests`]); reading what the relay got
//! ([`wait_for_mail`], [`parse`], [`link_with`]), the subscription routes
//! served ([`serve_routes`]) and a form POST to them ([`post_form`]); and the one way the suites add a
//! subscriber ([`add_subscriber`],
//! [`active_subscriber`]).

pub mod smtp;

use bantin::state::{Frequency, NewSubscriber, StateStore, Status, Subscriber};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// A port of 127.0.0.1 that refuses connections, held for the test: a TCP
/// socket bound to it and never listening. A port freed at once (bind,
/// read the address, drop) could meanwhile become another test's server.
/// Drop the socket just before starting the relay that comes back on it.
pub fn refusing_port() -> (tokio::net::TcpSocket, std::net::SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind a free port of 127.0.0.1");
    let addr = socket.local_addr().expect("the bound address");
    (socket, addr)
}

/// The example store (`examples/articles`).
pub fn examples() -> PathBuf {
    super::common::example_store()
}

/// The digest suites' fixed clock: 2026-08-31T00:00:00Z, 07:00 in Hồ Chí
/// Minh City (the configs' `daily_at`) on a Monday (`weekly_on`).
pub fn fixed_now() -> DateTime<Utc> {
    "2026-08-31T00:00:00Z".parse().unwrap()
}

/// The PostgreSQL server of this machine (trust auth), database `test`.
pub const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The PostgreSQL server the state tests use; each test makes a database
/// of its own on it. `BANTIN_TEST_PG` overrides [`PG`].
pub fn pg_admin_url() -> String {
    std::env::var("BANTIN_TEST_PG").unwrap_or_else(|_| PG.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty state database for one test; a PostgreSQL one is
/// dropped when this goes out of scope (even when the test failed).
pub struct StateDb {
    pub url: String,
    pub backend: Backend,
    pg_name: Option<String>,
}

impl StateDb {
    /// SQLite: `dir/state/bantin.db` (made on first open). PostgreSQL: a
    /// new database `bantin_test_…` on [`pg_admin_url`].
    pub fn new(backend: Backend, dir: &Path) -> StateDb {
        match backend {
            Backend::Sqlite => StateDb { url: format!("sqlite://{}/state/bantin.db", dir.display()), backend, pg_name: None },
            Backend::Postgres => {
                static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
                let name = format!("bantin_test_{}_{n}_{nanos}", std::process::id());
                admin(format!("CREATE DATABASE {name}"));
                let admin_url = url::Url::parse(&pg_admin_url()).unwrap();
                let mut url = admin_url.clone();
                url.set_path(&format!("/{name}"));
                StateDb { url: url.to_string(), backend, pg_name: Some(name) }
            }
        }
    }
}

impl Drop for StateDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            // FORCE: a `bantin serve` killed a moment ago may still hold a
            // session the server has not reaped yet.
            admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

impl StateDb {
    /// Cuts the database off (PostgreSQL): its sessions are ended and no
    /// new ones are allowed until [`StateDb::reopen`], as while the server
    /// is down or restarting.
    pub fn cut_off(&self) {
        let name = self.pg_name.as_deref().expect("a PostgreSQL database");
        admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
        admin_query(format!("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}'"));
    }

    pub fn reopen(&self) {
        let name = self.pg_name.as_deref().expect("a PostgreSQL database");
        admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    }

    /// Waits (at most 10 s) until the server has noticed that process
    /// `pid` is gone: none of its sessions (named `host:pid:random`, see
    /// `bantin::state::instance_id`) is left. A SIGKILLed process's
    /// sessions end when the server reads the closed socket, a moment
    /// after the kill. No-op on SQLite.
    pub fn wait_sessions_gone(&self, pid: u32) {
        if self.pg_name.is_none() {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let sql = format!("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name LIKE '%:{pid}:%'");
            let n: i64 = admin_query(sql);
            if n == 0 {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{n} sessions of the killed process {pid} are still open");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Runs one statement on the admin database, from a thread of its own (the
/// caller may be a sync test or inside a tokio runtime).
fn admin(sql: String) {
    on_admin(sql, |conn, sql| Box::pin(async move { sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(conn).await.map(|_| 0) }));
}

/// One BIGINT from the admin database.
pub fn admin_query(sql: String) -> i64 {
    on_admin(sql, |conn, sql| Box::pin(async move { sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(conn).await }))
}

type AdminFuture<'c> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<i64, sqlx::Error>> + Send + 'c>>;

fn on_admin(sql: String, run: for<'c> fn(&'c mut sqlx::postgres::PgConnection, String) -> AdminFuture<'c>) -> i64 {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use sqlx::Connection as _;
            let url = pg_admin_url();
            let mut conn = sqlx::postgres::PgConnection::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {url} is needed for this test: {e}"));
            let result = run(&mut conn, sql.clone()).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            let _ = conn.close().await;
            result
        })
    })
    .join()
    .unwrap_or_else(|_| panic!("a statement on the admin database failed"))
}

/// Declares one test per backend from `async fn $body(backend: Backend)`:
/// `$name::sqlite` and `$name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            use $crate::support::mailtest::Backend;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$body(Backend::Postgres).await
            }
        }
    };
    (sync $name:ident, $body:ident) => {
        mod $name {
            use $crate::support::mailtest::Backend;
            #[test]
            fn sqlite() {
                super::$body(Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$body(Backend::Postgres)
            }
        }
    };
}

/// Writes a config into `dir` (SQLite state database and secret inside it)
/// and returns its path. `extra_mail` is appended to the [mail] section.
pub fn write_config(dir: &Path, store: &Path, smtp_url: &str, public_url: &str, extra_mail: &str) -> PathBuf {
    let state = format!("sqlite://{}/state/bantin.db", dir.display());
    write_config_for(dir, &state, store, smtp_url, public_url, extra_mail)
}

/// The same with the state database at `state_url` (see [`StateDb`]).
pub fn write_config_for(dir: &Path, state_url: &str, store: &Path, smtp_url: &str, public_url: &str, extra_mail: &str) -> PathBuf {
    let text = format!(
        r#"[site]
title = "Cổng thông tin điện tử tỉnh Yên Bái"
base_url = "https://yenbai.gov.vn"
timezone = "Asia/Ho_Chi_Minh"
article_url = "tin-tuc/{{slug}}"

[store]
kind = "dir"
path = "{store}"

[http]
public_url = "{public_url}"

[state]
url = "{state_url}"

[mail]
smtp_url = "{smtp_url}"
from = "Bản tin Yên Bái <bantin@example.org>"
retry_base = "1s"
retry_max = "4s"
{extra_mail}

[digest]
daily_at = "07:00"
weekly_on = "mon"
max_items = 30
first_backlog = "400d"
"#,
        store = store.display(),
    );
    let path = dir.join("bantin.toml");
    std::fs::write(&path, text).expect("write the test config");
    path
}

pub fn load(path: &Path) -> bantin::Settings {
    bantin::config::load(path).expect("the test config is valid")
}

/// The digest context of the config at `cfg`, on a catalog of its store
/// loaded once.
pub async fn digests(cfg: &Path) -> std::sync::Arc<bantin::newsletter::Digests> {
    use std::sync::Arc;
    let settings = Arc::new(load(cfg));
    let catalog = Arc::new(bantin::store::load_catalog(&settings, 1).expect("the test store loads"));
    let source: bantin::newsletter::CatalogSource = Arc::new(move || Arc::clone(&catalog));
    bantin::newsletter::Digests::open(settings, source).await.expect("open the digest context")
}

/// Adds a daily subscriber of every topic with `status` at `now`.
pub async fn add_subscriber(state: &StateStore, email: &str, status: Status, now: DateTime<Utc>) -> Subscriber {
    let new = NewSubscriber { email: email.into(), topics: vec![], frequency: Frequency::Daily, status, now };
    state.insert_subscriber(&new).await.unwrap().0
}

/// Adds an active (confirmed) daily subscriber of every topic at `now`.
pub async fn active_subscriber(state: &StateStore, email: &str, now: DateTime<Utc>) -> Subscriber {
    add_subscriber(state, email, Status::Active, now).await
}

/// Waits (at most 20 s) until the SMTP server holds `n` messages; all of
/// them.
pub async fn wait_for_mail(smtp: &smtp::SmtpServer, n: usize) -> Vec<smtp::Received> {
    for _ in 0..400 {
        if smtp.received().len() >= n {
            return smtp.received();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("expected {n} messages, the SMTP server has {}", smtp.received().len());
}

/// A received message read by an independent parser (mail-parser).
pub fn parse(data: &[u8]) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default().parse(data).expect("mail-parser reads the message")
}

/// The first word of `text` that has `route` in it (a link of a mail).
pub fn link_with(text: &str, route: &str) -> String {
    text.split_whitespace().find(|w| w.contains(route)).map(str::to_string).unwrap_or_else(|| panic!("no {route} link in {text}"))
}

/// Serves `app` (the subscription routes) on `listener` in a task of the
/// test's runtime, with the peer address the routes' per-IP limits read.
pub fn serve_routes(listener: tokio::net::TcpListener, app: axum::Router) {
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
}

/// A form POST (`application/x-www-form-urlencoded`) of `body` to `url`.
pub async fn post_form(client: &reqwest::Client, url: &str, body: &str) -> reqwest::Response {
    client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}
