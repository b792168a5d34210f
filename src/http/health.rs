//! `/healthz` and `/metrics`: what an operator's probes and Prometheus
//! read. The state database is pinged with a bound, so a stuck database
//! gives 503 rather than a hung probe; its answers (the ping, the counts)
//! are reused for [`PROBE_REUSE`], so a flood of probes costs one query a
//! window, whoever sends them.

use super::*;

/// How long `/healthz` and `/metrics` wait for the state database: a
/// stuck database must not hang the probes that would report it.
const STATE_PROBE: Duration = Duration::from_secs(2);

/// How long the state database's answers to the probes are reused.
const PROBE_REUSE: Duration = Duration::from_secs(5);

/// The state database's ping, asked at most once per [`PROBE_REUSE`].
async fn ping(shared: &Shared, db: &crate::state::StateStore) -> Result<(), String> {
    let mut probe = shared.state_probe.lock().await;
    if let Some((at, answer)) = &probe.pinged
        && at.elapsed() < PROBE_REUSE
    {
        return answer.clone();
    }
    let answer = match tokio::time::timeout(STATE_PROBE, db.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", STATE_PROBE.as_secs())),
    };
    probe.pinged = Some((std::time::Instant::now(), answer.clone()));
    answer
}

pub(super) async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let cache = shared.cache.load();
    // Without a state database (no subscription side) there is nothing to
    // check; with one, unreachable means the service is not healthy.
    let state = match shared.state.get() {
        None => None,
        Some(db) => Some(ping(&shared, db).await),
    };
    let state_ok = !matches!(state, Some(Err(_)));
    let mut body = serde_json::json!({
        "status": if !cache.is_loaded() { "loading" } else if !state_ok { "degraded" } else { "ok" },
        "generation": cache.generation,
        "articles": cache.articles,
        "errors": cache.errors,
        "feeds": cache.feed_paths().count(),
    });
    if let Some(state) = &state {
        body["state"] = match state {
            Ok(()) => serde_json::json!("ok"),
            Err(e) => {
                tracing::warn!("healthz: the state database is unreachable: {e}");
                serde_json::json!(format!("unreachable: {e}"))
            }
        };
    }
    let status = if cache.is_loaded() && state_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
        format!("{body}\n"),
    )
        .into_response()
}

pub(super) async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    if let Some(db) = shared.state.get() {
        let mut probe = shared.state_probe.lock().await;
        if probe.counted.is_none_or(|at| at.elapsed() >= PROBE_REUSE) {
            refresh_state_gauges(&shared, db).await;
            probe.counted = Some(std::time::Instant::now());
        }
    }
    (
        [
            (header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        shared.metrics.encode(),
    )
        .into_response()
}

/// Reads the outbox and subscriber counts into their gauges (two small
/// GROUP BY queries); on error or timeout the gauges keep their last values
/// and the failure is logged, so a scrape still answers.
async fn refresh_state_gauges(shared: &Shared, db: &crate::state::StateStore) {
    use crate::metrics::Metrics;
    let counts = tokio::time::timeout(STATE_PROBE, async { (db.outbox_counts().await, db.subscriber_counts().await) }).await;
    let Ok((outbox, subscribers)) = counts else {
        tracing::warn!("metrics: the state database did not answer within {} s", STATE_PROBE.as_secs());
        return;
    };
    let m = &shared.metrics;
    match outbox {
        Ok(c) => {
            for (status, n) in [("queued", c.queued), ("sending", c.sending), ("sent", c.sent), ("failed", c.failed)] {
                Metrics::set_status(&m.outbox, status, n);
            }
        }
        Err(e) => tracing::warn!("metrics: counting the outbox: {e}"),
    }
    match subscribers {
        Ok(rows) => {
            use crate::state::Status;
            // Every status gets a series, 0 when none has it, so a status
            // emptying shows as 0 rather than as its last value.
            for status in [
                Status::Pending,
                Status::Active,
                Status::Unsubscribed,
                Status::Bouncing,
                Status::Suppressed,
                Status::Complained,
            ] {
                let n = rows.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
                Metrics::set_status(&m.subscribers, status.as_str(), n);
            }
        }
        Err(e) => tracing::warn!("metrics: counting subscribers: {e}"),
    }
}

