//! Where the admin API is served: nowhere without `admin.token_file`; on
//! `admin.listen` when set (its own listener, so the public one never
//! answers `/admin`); else mounted at `/admin` beside the public routes.
//! The token file is read here, before anything starts: a missing or bad
//! one stops the start with exit 78, as bad configuration does.

use super::ServeError;
use crate::admin::{self, auth::Tokens};
use crate::config::Settings;
use crate::http;
use crate::newsletter::Digests;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The tokens of `admin.token_file`, if set.
pub fn tokens(settings: &Settings) -> Result<Option<Arc<Tokens>>, ServeError> {
    match &settings.admin.token_file {
        None => Ok(None),
        Some(path) => Tokens::load(path).map(|t| Some(Arc::new(t))).map_err(ServeError::Admin),
    }
}

/// `public` with the admin API mounted when it has no listener of its own;
/// with one, binds it and returns the task that serves it.
pub async fn mount(
    settings: &Settings,
    tokens: Option<Arc<Tokens>>,
    digests: &Arc<Digests>,
    public: Router,
    limits: &http::Limits,
    shared: &Arc<crate::shared::Shared>,
    shutdown: watch::Receiver<bool>,
) -> Result<(Router, Option<tokio::task::JoinHandle<()>>), ServeError> {
    let Some(tokens) = tokens else { return Ok((public, None)) };
    let api = http::not_for_search_engines(admin::service(Arc::clone(digests), tokens));
    let Some(addr) = settings.admin.listen else { return Ok((public.nest_service("/admin", api), None)) };
    let listener = TcpListener::bind(addr).await.map_err(|e| ServeError::Runtime(format!("admin.listen {addr}: cannot listen: {e}")))?;
    let app = http::finish(Router::new().nest_service("/admin", api), Arc::clone(shared), limits);
    let mut stop = shutdown;
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!("admin.listen {addr}: {e}");
        }
    });
    tracing::info!("admin API served on {addr}");
    Ok((public, Some(task)))
}
