//! The WebSub publisher (W3C WebSub §7): when feeds change and
//! `feeds.websub_hub` is set, the hub is told which feed URLs to fetch
//! again, so subscribers get new articles in seconds instead of at their
//! next poll.
//!
//! Invariants:
//! - the service never waits on the hub: [`Publisher::notify`] only queues;
//!   one background task talks to the hub;
//! - changes arriving while a ping is pending or being retried are merged
//!   into it (one request names every changed feed, `hub.url` repeated);
//! - a failed ping (connection error, timeout, non-2xx) is retried with
//!   exponential backoff up to [`MAX_ATTEMPTS`] times, then given up with
//!   one error line; the feeds themselves are unaffected.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use url::Url;

/// Attempts per ping before it is given up.
pub const MAX_ATTEMPTS: u32 = 8;
/// Changes within this window go out in one request.
const COALESCE: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_secs(15);

/// The handle the service keeps; cloning is cheap.
#[derive(Debug, Clone)]
pub struct Publisher {
    tx: mpsc::UnboundedSender<(Url, Vec<String>)>,
}

impl Publisher {
    /// Starts the background task; it stops when `shutdown` turns true.
    /// Backoff starts at `first_retry` (seconds in production, shorter in
    /// tests) and doubles up to five minutes.
    pub fn spawn(shutdown: watch::Receiver<bool>, first_retry: Duration) -> Publisher {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, shutdown, first_retry));
        Publisher { tx }
    }

    /// Queues a ping of `hub` for the feeds at `urls`. Never blocks.
    pub fn notify(&self, hub: &Url, urls: Vec<String>) {
        if !urls.is_empty() {
            let _ = self.tx.send((hub.clone(), urls));
        }
    }
}

/// The form body of a publish request for `urls`.
pub fn publish_body(urls: &BTreeSet<String>) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("hub.mode", "publish");
    for u in urls {
        form.append_pair("hub.url", u);
    }
    form.finish()
}

/// POSTs the publish request; the hub's status code on an answer.
async fn ping(tls: &Arc<rustls::ClientConfig>, hub: &Url, urls: &BTreeSet<String>) -> Result<(), String> {
    let host = hub.host_str().ok_or("the hub URL has no host")?.to_string();
    let port = hub.port_or_known_default().ok_or("the hub URL has no port")?;
    let authority = match hub.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let path = &hub[url::Position::BeforePath..];
    let request = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(hyper::header::USER_AGENT, concat!("bantin/", env!("CARGO_PKG_VERSION"), " (WebSub publisher)"))
        .body(http_body_util::Full::new(bytes::Bytes::from(publish_body(urls))))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| format!("cannot connect: {e}"))?;
        if hub.scheme() == "https" {
            let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| format!("bad host name: {e}"))?;
            let stream = tokio_rustls::TlsConnector::from(Arc::clone(tls))
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            send(hyper_util::rt::TokioIo::new(stream), request).await
        } else {
            send(hyper_util::rt::TokioIo::new(tcp), request).await
        }
    };
    let status = tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| "timed out".to_string())??;
    if (200..300).contains(&status) { Ok(()) } else { Err(format!("the hub answered {status}")) }
}

async fn send<I>(io: I, request: hyper::Request<http_body_util::Full<bytes::Bytes>>) -> Result<u16, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP handshake failed: {e}"))?;
    tokio::spawn(conn);
    let reply = sender.send_request(request).await.map_err(|e| format!("request failed: {e}"))?;
    Ok(reply.status().as_u16())
}

async fn run(mut rx: mpsc::UnboundedReceiver<(Url, Vec<String>)>, mut shutdown: watch::Receiver<bool>, first_retry: Duration) {
    let client = match crate::tls::client_config() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("WebSub publisher disabled: {e}");
            return;
        }
    };
    // Per hub: the feeds to announce, and how often that has failed.
    let mut pending: BTreeMap<Url, (BTreeSet<String>, u32)> = BTreeMap::new();
    let mut wait: Option<Duration> = None;
    loop {
        // Wait for news, or for the retry time of what is pending.
        let received = match wait {
            None => tokio::select! {
                m = rx.recv() => m,
                _ = shutdown.changed() => return,
            },
            Some(d) => tokio::select! {
                m = rx.recv() => m,
                _ = tokio::time::sleep(d) => None,
                _ = shutdown.changed() => return,
            },
        };
        if let Some((hub, urls)) = received {
            pending.entry(hub).or_default().0.extend(urls);
            // Let a burst of changes arrive, then send them together.
            let until = tokio::time::Instant::now() + COALESCE;
            while let Ok(Some((hub, urls))) = tokio::time::timeout_at(until, rx.recv()).await {
                pending.entry(hub).or_default().0.extend(urls);
            }
        } else if wait.is_none() {
            return; // every sender is gone: the service stopped
        }
        let mut next_wait: Option<Duration> = None;
        for (hub, (urls, failures)) in std::mem::take(&mut pending) {
            match ping(&client, &hub, &urls).await {
                Ok(()) => tracing::info!(hub = %crate::config::redact(hub.as_str()), feeds = urls.len(), "WebSub hub notified"),
                Err(e) if failures + 1 >= MAX_ATTEMPTS => {
                    tracing::error!(hub = %crate::config::redact(hub.as_str()), feeds = urls.len(), "WebSub ping given up after {MAX_ATTEMPTS} attempts: {e}")
                }
                Err(e) => {
                    let backoff = (first_retry * 2u32.pow(failures)).min(Duration::from_secs(300));
                    tracing::warn!(hub = %crate::config::redact(hub.as_str()), retry_in_ms = backoff.as_millis() as u64, "WebSub ping failed: {e}");
                    next_wait = Some(next_wait.map_or(backoff, |w| w.min(backoff)));
                    pending.insert(hub, (urls, failures + 1));
                }
            }
        }
        wait = next_wait;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_names_every_feed() {
        let urls: BTreeSet<String> = ["http://x.org/feed.xml", "http://x.org/categories/kinh-te/atom.xml?a=b&c"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            publish_body(&urls),
            "hub.mode=publish&hub.url=http%3A%2F%2Fx.org%2Fcategories%2Fkinh-te%2Fatom.xml%3Fa%3Db%26c&hub.url=http%3A%2F%2Fx.org%2Ffeed.xml"
        );
    }
}
