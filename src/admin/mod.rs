//! The admin API (`/admin/api/`) and the console on it (`/admin/`,
//! `console.rs`). The API: subscribers (search, show, change, lift,
//! forget), stats, the outbox, the audit of changes, a digest preview, a
//! test send and a digest run, as JSON for the tools sysadmins and editors
//! already use; described by `openapi.json` (OpenAPI 3.1), which a test
//! holds against [`ROUTES`]. Off unless `admin.token_file` is set; on
//! `admin.listen` when that is set, never beside the public routes then.
//!
//! Invariant: every request under `/admin` passes `auth::guard` before it
//! is routed, so without a good token every path, real or not, gets the
//! same 401; with one, an unknown path gets a JSON 404.

mod api;
pub mod auth;
mod console;
mod ops;
mod session;

use crate::newsletter::Digests;
use auth::Tokens;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

/// Every route of the API, as `openapi.json` lists them (method, path
/// under `/admin/api`).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/subscribers"),
    ("get", "/subscribers/{email}"),
    ("patch", "/subscribers/{email}"),
    ("delete", "/subscribers/{email}"),
    ("get", "/stats"),
    ("get", "/outbox"),
    ("get", "/audit"),
    ("get", "/preview/{email}"),
    ("post", "/test-send"),
    ("post", "/digest-run"),
    ("get", "/openapi.json"),
];

/// The OpenAPI 3.1 description of [`ROUTES`].
pub const OPENAPI: &str = include_str!("openapi.json");

struct Ctx {
    digests: Arc<Digests>,
}

/// The service to mount at `/admin` (`Router::nest_service`): the API
/// under `/api` behind the token guard (a JSON 404 for an unknown path
/// once the token is good), the console everywhere else.
pub fn service(digests: Arc<Digests>, tokens: Arc<Tokens>) -> Router {
    let ctx = Arc::new(Ctx { digests });
    let console = console::routes(Arc::clone(&ctx), Arc::clone(&tokens));
    let api = Router::new()
        .route("/subscribers", get(api::list_subscribers))
        .route("/subscribers/{email}", get(api::show_subscriber).patch(api::change_subscriber).delete(api::forget_subscriber))
        .route("/stats", get(api::stats))
        .route("/outbox", get(api::outbox))
        .route("/audit", get(api::audit))
        .route("/preview/{email}", get(api::preview))
        .route("/test-send", post(api::test_send))
        .route("/digest-run", post(api::digest_run))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(tokens, auth::guard))
        .with_state(ctx);
    Router::new().nest("/api", api).merge(console)
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({ "error": "no such admin route; see /admin/api/openapi.json" }))).into_response()
}

#[cfg(test)]
mod tests {
    /// The document lists exactly the routes the router serves.
    #[test]
    fn openapi_paths_are_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let path = path.strip_prefix("/admin/api").expect("every path is under /admin/api");
            for method in item.as_object().expect("a path item").keys().filter(|k| *k != "parameters") {
                documented.push((method.clone(), path.to_string()));
            }
        }
        let mut routes: Vec<(String, String)> = super::ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        documented.sort();
        routes.sort();
        assert_eq!(documented, routes);
    }
}
