//! The admin console (`/admin/`): server-rendered pages (`admin.html`) on
//! the operations of `ops.rs`, for people rather than scripts. Login with
//! a token of `admin.token_file` (failures counted with the API's), then a
//! session cookie (`session.rs`); every form carries the session's CSRF
//! secret, checked before anything is done. A request without a session
//! is sent to the login page, whatever its path.

use super::auth::Tokens;
use super::ops::{self, Change, Problem, SubscriberView};
use super::session::{self, Session, Sessions};
use super::Ctx;
use crate::ratelimit::ip_key;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

pub struct Console {
    ctx: Arc<Ctx>,
    tokens: Arc<Tokens>,
    sessions: Sessions,
}

type Con = State<Arc<Console>>;

pub fn routes(ctx: Arc<Ctx>, tokens: Arc<Tokens>) -> Router {
    let console = Arc::new(Console { ctx, tokens, sessions: Sessions::default() });
    Router::new()
        .route("/", get(dashboard))
        .route("/subscribers", get(subscribers))
        .route("/subscribers/{email}", get(subscriber).post(change))
        .route("/subscribers/{email}/test-send", post(test_send))
        .route("/subscribers/{email}/forget", post(forget))
        .route("/preview/{email}", get(preview))
        .route("/outbox", get(outbox))
        .route("/digest-run", post(digest_run))
        .route("/logout", post(logout))
        .fallback(missing)
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&console), require_session))
        .route("/login", get(login_page).post(login))
        .with_state(console)
}

/// The page `page` with `values` (a serialisable map) and the session's
/// names.
fn render(c: &Console, status: StatusCode, page: &str, session: Option<&Session>, values: minijinja::Value) -> Response {
    let ctx = minijinja::context! {
        page => page,
        site_title => c.ctx.digests.composer.site_title(),
        actor => session.map(|s| s.actor.as_str()),
        csrf => session.map(|s| s.csrf.as_str()).unwrap_or(""),
        ..values
    };
    match c.ctx.digests.composer.templates().render("admin.html", ctx) {
        Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html).into_response(),
        Err(e) => {
            tracing::error!("rendering admin.html: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn trouble(c: &Console, session: &Session, p: Problem) -> Response {
    render(c, p.0, "missing", Some(session), minijinja::context! { error => p.1 })
}

async fn require_session(State(c): Con, mut req: Request, next: Next) -> Response {
    match c.sessions.of(req.headers(), Instant::now()) {
        Some(s) => {
            req.extensions_mut().insert(s);
            next.run(req).await
        }
        None => Redirect::to("/admin/login").into_response(),
    }
}

/// The fields of a posted form, once its CSRF secret is the session's.
fn form(session: &Session, headers: &HeaderMap, body: &Bytes) -> Result<Vec<(String, String)>, Problem> {
    let cross_site = headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site");
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let csrf = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or("");
    if cross_site || !session.csrf_ok(csrf) {
        return Err(ops::problem(StatusCode::FORBIDDEN, "the form was not sent from this console (or the session changed); reload the page and try again"));
    }
    Ok(fields)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn login_page(State(c): Con) -> Response {
    render(&c, StatusCode::OK, "login", None, minijinja::context! {})
}

async fn login(State(c): Con, conn: Option<Extension<ConnectInfo<SocketAddr>>>, body: Bytes) -> Response {
    let client = conn.map(|Extension(ConnectInfo(a))| ip_key(a.ip()));
    let now = Instant::now();
    if client.is_some_and(|ip| c.tokens.blocked(ip, now)) {
        return render(&c, StatusCode::TOO_MANY_REQUESTS, "login", None, minijinja::context! { error => "quá nhiều lần sai; hãy thử lại sau" });
    }
    let token = url::form_urlencoded::parse(&body).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned()).unwrap_or_default();
    let Some(actor) = c.tokens.check(token.trim().as_bytes()).map(str::to_string) else {
        if let Some(ip) = client {
            c.tokens.failed(ip, now);
        }
        return render(&c, StatusCode::UNAUTHORIZED, "login", None, minijinja::context! { error => "mã truy cập không đúng" });
    };
    match c.sessions.open(&actor, now) {
        Some(id) => ([(header::SET_COOKIE, session::set_cookie(&id))], Redirect::to("/admin/")).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "no randomness for a session id").into_response(),
    }
}

async fn logout(State(c): Con, Extension(s): Extension<Session>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(p) = form(&s, &headers, &body) {
        return trouble(&c, &s, p);
    }
    c.sessions.close(&headers);
    ([(header::SET_COOKIE, session::CLEAR_COOKIE)], Redirect::to("/admin/login")).into_response()
}

#[derive(Deserialize)]
struct Notice {
    done: Option<String>,
}

/// The text of a `?done=` code set by a redirect after a form: fixed
/// strings, so nothing a link carries is shown.
fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "saved" => Some("Đã lưu."),
        "sent" => Some("Đã gửi thư thử."),
        "forgotten" => Some("Đã xóa người này và mọi thư đã gửi cho họ."),
        "run" => Some("Đã lập các bản tin đến hạn; thư đang được gửi."),
        _ => None,
    }
}

async fn dashboard(State(c): Con, Extension(s): Extension<Session>, Query(n): Query<Notice>) -> Response {
    match ops::stats(&c.ctx, 14).await {
        Ok(stats) => render(&c, StatusCode::OK, "dashboard", Some(&s), minijinja::context! { stats => minijinja::Value::from_serialize(&stats), notice => notice(n.done.as_deref()) }),
        Err(p) => trouble(&c, &s, p),
    }
}

#[derive(Deserialize)]
struct Search {
    q: Option<String>,
    status: Option<String>,
    page: Option<i64>,
}

/// A subscriber as the console's pages show them: the API's view with the
/// address as `address` and as a path segment (`key`).
#[derive(Serialize)]
struct Row {
    address: String,
    key: String,
    #[serde(flatten)]
    view: SubscriberView,
}

impl From<crate::state::Subscriber> for Row {
    fn from(s: crate::state::Subscriber) -> Row {
        let key = url::form_urlencoded::byte_serialize(s.email.as_bytes()).collect();
        Row { address: s.email.clone(), key, view: s.into() }
    }
}

#[derive(Serialize)]
struct Listing {
    items: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    q: String,
    status: String,
}

async fn subscribers(State(c): Con, Extension(s): Extension<Session>, Query(search): Query<Search>) -> Response {
    const PER_PAGE: i64 = 50;
    let listing = async {
        let status = ops::status_filter(search.status.as_deref())?;
        let page = search.page.unwrap_or(1).max(1);
        let q = search.q.clone().unwrap_or_default();
        let (subs, total) = c.ctx.digests.state.search_subscribers(status, &q, PER_PAGE, (page - 1) * PER_PAGE).await?;
        let status = status.map(|s| s.as_str().to_string()).unwrap_or_default();
        Ok::<_, Problem>(Listing { items: subs.into_iter().map(Into::into).collect(), total, page, pages: (total + PER_PAGE - 1) / PER_PAGE, q, status })
    };
    match listing.await {
        Ok(l) => render(&c, StatusCode::OK, "subscribers", Some(&s), minijinja::context! { subscribers => minijinja::Value::from_serialize(&l) }),
        Err(p) => trouble(&c, &s, p),
    }
}

#[derive(Serialize)]
struct Choice {
    slug: String,
    name: String,
    checked: bool,
}

async fn subscriber(State(c): Con, Extension(s): Extension<Session>, Path(email): Path<String>, Query(n): Query<Notice>) -> Response {
    match ops::find(&c.ctx, &email).await {
        Ok(sub) => {
            let catalog = (c.ctx.digests.catalog)();
            let categories: Vec<Choice> = catalog
                .categories(chrono::Utc::now().fixed_offset())
                .into_iter()
                .map(|cat| Choice { checked: sub.topics.contains(&cat.slug), slug: cat.slug.clone(), name: cat.name.clone() })
                .collect();
            let view = Row::from(sub);
            render(&c, StatusCode::OK, "subscriber", Some(&s), minijinja::context! { sub => minijinja::Value::from_serialize(&view), categories => categories, notice => notice(n.done.as_deref()) })
        }
        Err(p) => trouble(&c, &s, p),
    }
}

/// After a form: back to `to` with a fixed notice.
fn done(to: &str, code: &str) -> Response {
    Redirect::to(&format!("{to}?done={code}")).into_response()
}

fn subscriber_url(email: &str) -> String {
    format!("/admin/subscribers/{}", url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>())
}

async fn change(State(c): Con, Extension(s): Extension<Session>, headers: HeaderMap, Path(email): Path<String>, body: Bytes) -> Response {
    let result = async {
        let fields = form(&s, &headers, &body)?;
        let change = Change {
            topics: Some(fields.iter().filter(|(k, _)| k == "topics").map(|(_, v)| v.clone()).collect()),
            frequency: field(&fields, "frequency").map(str::to_string),
            status: field(&fields, "status").filter(|v| !v.is_empty()).map(str::to_string),
            lift_complaint: field(&fields, "lift_complaint") == Some("true"),
        };
        ops::change(&c.ctx, &s.actor, &email, &change).await
    };
    match result.await {
        Ok(sub) => done(&subscriber_url(&sub.email), "saved"),
        Err(p) => trouble(&c, &s, p),
    }
}

async fn test_send(State(c): Con, Extension(s): Extension<Session>, headers: HeaderMap, Path(email): Path<String>, body: Bytes) -> Response {
    let result = async {
        let fields = form(&s, &headers, &body)?;
        ops::test_send(&c.ctx, &s.actor, &email, field(&fields, "to").unwrap_or("")).await
    };
    match result.await {
        Ok(_) => done(&subscriber_url(&email), "sent"),
        Err(p) => trouble(&c, &s, p),
    }
}

async fn forget(State(c): Con, Extension(s): Extension<Session>, headers: HeaderMap, Path(email): Path<String>, body: Bytes) -> Response {
    let result = async {
        let fields = form(&s, &headers, &body)?;
        if field(&fields, "sure") != Some("yes") {
            return Err(ops::problem(StatusCode::BAD_REQUEST, "tick the box to say you are sure"));
        }
        ops::forget(&c.ctx, &s.actor, &email).await
    };
    match result.await {
        Ok(()) => done("/admin/subscribers", "forgotten"),
        Err(p) => trouble(&c, &s, p),
    }
}

async fn preview(State(c): Con, Extension(s): Extension<Session>, Path(email): Path<String>) -> Response {
    match ops::preview(&c.ctx, &email).await {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html).into_response(),
        Err(p) => trouble(&c, &s, p),
    }
}

#[derive(Deserialize)]
struct View {
    view: Option<String>,
}

async fn outbox(State(c): Con, Extension(s): Extension<Session>, Query(v): Query<View>) -> Response {
    let result = async {
        let view = ops::outbox_view(v.view.as_deref())?;
        Ok::<_, Problem>((v.view.clone().unwrap_or_else(|| "due".into()), ops::outbox(&c.ctx, view, 200).await?))
    };
    match result.await {
        Ok((view, items)) => render(&c, StatusCode::OK, "outbox", Some(&s), minijinja::context! { outbox => minijinja::context! { view => view, items => minijinja::Value::from_serialize(&items) } }),
        Err(p) => trouble(&c, &s, p),
    }
}

async fn digest_run(State(c): Con, Extension(s): Extension<Session>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        form(&s, &headers, &body)?;
        ops::digest_run(&c.ctx, &s.actor).await
    };
    match result.await {
        Ok(_) => done("/admin/", "run"),
        Err(p) => trouble(&c, &s, p),
    }
}

async fn missing(State(c): Con, Extension(s): Extension<Session>) -> Response {
    render(&c, StatusCode::NOT_FOUND, "missing", Some(&s), minijinja::context! {})
}
