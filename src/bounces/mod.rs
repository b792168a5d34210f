//! The bounce room: what becomes of a message received at the return
//! path (a bounce, a complaint, a subscriber's unsubscribe mail, or
//! nothing of ours). [`Bounces::receive`]
//! is the one entry point, for the inbound SMTP listener of `serve` and
//! for `bantin bounces receive`: the core's `report` parses the message
//! and decides per recipient; this room finds the outbox row (VERP token
//! first, then the original Message-ID) and applies the verdict to the
//! subscriber through the state room, once per message (the policy itself,
//! hard, soft in a row, delivered, complaint, is `state::bounces`). `listen` is the
//! inbound SMTP listener itself, generic over what it hands a message to.

pub mod listen;

use crate::config::Settings;
use crate::metrics::{KindLabel, Metrics, Unsubscribes, Via};
use crate::state::{ReportKind, ReportRow, StateError, StateStore, Target, Unsubscribe};
use crate::tokens::TokenKey;
use bantin_core::report::{self, Kind, Report};
use sha2::Digest as _;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// What became of one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Applied: `reports` recipients' verdicts were recorded.
    Applied { reports: usize },
    /// Not a bounce or complaint about a message of ours; recorded, with why.
    Ignored { reason: String },
    /// This very message was received before; nothing changed.
    Duplicate,
    /// A mail client's unsubscribe mail (the `mailto:` of
    /// List-Unsubscribe): the subscriber it names is unsubscribed (`changed`
    /// false: forgotten since, or never mailed anyway).
    Unsubscribed { subscriber: i64, changed: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum BounceError {
    #[error(transparent)]
    State(#[from] StateError),
}

/// The apply step, with what it needs; cheap to clone.
#[derive(Clone)]
pub struct Bounces {
    state: StateStore,
    key: TokenKey,
    return_path: Option<String>,
    soft_limit: u32,
    /// `bantin_bounces_total` of serve's registry; none for the CLI.
    counted: Option<Family<KindLabel, Counter>>,
    /// `bantin_unsubscribes_total`, where a mail to the List-Unsubscribe
    /// address counts (`via="mail"`).
    unsubscribes: Unsubscribes,
}

/// The report kinds `bantin_bounces_total` counts (a delay is not a bounce).
const COUNTED: [ReportKind; 5] =
    [ReportKind::Hard, ReportKind::Soft, ReportKind::Delivered, ReportKind::Complaint, ReportKind::Ignored];

impl Bounces {
    pub fn new(state: StateStore, key: TokenKey, settings: &Settings) -> Bounces {
        Bounces {
            state,
            key,
            return_path: settings.mail.return_path.clone(),
            soft_limit: settings.bounces.soft_limit,
            counted: None,
            unsubscribes: Unsubscribes::default(),
        }
    }

    /// Counts what is applied in `metrics` (`bantin_bounces_total`): serve's
    /// registry, so the counters reach its `/metrics`.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Bounces {
        // A family's clone counts into the same registry. Every kind starts
        // at 0, so the series exist (and rate() works) before the first report.
        for kind in COUNTED {
            drop(metrics.bounces.get_or_create(&KindLabel { kind: kind.as_str().to_string() }));
        }
        self.counted = Some(metrics.bounces.clone());
        self.unsubscribes = metrics.unsubscribes.clone();
        self
    }

    /// Parses `raw` (one whole RFC 5322 message as received) and applies it once;
    /// `rcpt_to`: the envelope recipient(s) the MTA gave (VERP address), if known.
    pub async fn receive(&self, raw: &[u8], rcpt_to: &[String]) -> Result<Applied, BounceError> {
        let received = report::read(raw);
        if let Some(subscriber) = self.unsubscribe_request(&received, rcpt_to) {
            let changed = self.state.unsubscribe(subscriber).await? == Unsubscribe::Done;
            if changed {
                self.unsubscribes.count(Via::Mail);
            }
            tracing::info!(subscriber_id = subscriber, changed, "unsubscribed by mail (the List-Unsubscribe address)");
            return Ok(Applied::Unsubscribed { subscriber, changed });
        }
        let parsed = received.report;
        let target = self.target(&parsed, rcpt_to).await?;
        let rows = rows(&parsed, target);
        let fingerprint: String = sha2::Sha256::digest(raw).iter().map(|b| format!("{b:02x}")).collect();
        if !self.state.apply_reports(&fingerprint, &rows, self.soft_limit, chrono::Utc::now()).await? {
            tracing::info!(fingerprint = &fingerprint[..16], "bounce report received before; nothing to do");
            return Ok(Applied::Duplicate);
        }
        for row in &rows {
            self.count(row.kind);
            if let Some(Target { outbox_id, subscriber_id }) = row.target {
                // No subscriber_id: the subscriber was forgotten since.
                tracing::info!(kind = row.kind.as_str(), subscriber_id, outbox_id, reason = %row.reason, "bounce report applied");
            }
        }
        let applied = rows.iter().filter(|r| r.kind != ReportKind::Ignored).count();
        match rows.iter().find(|r| r.kind == ReportKind::Ignored).filter(|_| applied == 0) {
            Some(ignored) => {
                tracing::info!(reason = %ignored.reason, "message at the return path ignored");
                Ok(Applied::Ignored { reason: ignored.reason.clone() })
            }
            None => Ok(Applied::Applied { reports: applied }),
        }
    }

    /// The subscriber a person's mail to an unsubscribe address names
    /// (`mail::Composer::unsubscribe_mailbox`): the token of the envelope
    /// recipient, else, when the MTA gave none, of the message's own
    /// recipient headers. A report or an auto-reply sent there is none
    /// (`Received::request`), so an out-of-office answer ends nothing.
    fn unsubscribe_request(&self, received: &report::Received, rcpt_to: &[String]) -> Option<i64> {
        let return_path = self.return_path.as_deref()?;
        let headers = received.request()?;
        let addresses = if rcpt_to.is_empty() { headers } else { rcpt_to };
        addresses
            .iter()
            .filter_map(|a| report::verp::token_of(a, return_path))
            .find_map(|token| crate::tokens::bounce::verify_unsubscribe(&self.key, token))
    }

    /// The outbox row the report is about: the VERP token of the envelope
    /// recipient, else of the report's own addresses, else the returned
    /// Message-ID. None for a report of nothing of ours.
    async fn target(&self, parsed: &Report, rcpt_to: &[String]) -> Result<Option<Target>, StateError> {
        let (verp_to, message_id) = match parsed {
            Report::Bounce(b) => (b.verp_to.as_deref(), b.original_message_id.as_deref()),
            Report::Complaint(c) => (c.verp_to.as_deref(), c.original_message_id.as_deref()),
            Report::Ignored { .. } => return Ok(None),
        };
        if let Some(return_path) = &self.return_path {
            let addresses = rcpt_to.iter().map(String::as_str).chain(verp_to);
            for address in addresses {
                let row = report::verp::token_of(address, return_path)
                    .and_then(|token| crate::tokens::bounce::verify(&self.key, token));
                if let Some(row) = row {
                    return self.state.bounce_target(row).await;
                }
            }
        }
        match message_id {
            Some(id) => self.state.bounce_target_by_message_id(&format!("<{id}>")).await,
            None => Ok(None),
        }
    }

    fn count(&self, kind: ReportKind) {
        if !COUNTED.contains(&kind) {
            return;
        }
        let label = kind.as_str();
        if let Some(family) = &self.counted {
            family.get_or_create(&KindLabel { kind: label.to_string() }).inc();
        }
    }
}

/// `bounces.listen` for `serve`: bound now (a port it cannot bind stops
/// the start, as the HTTP one does), then run until `shutdown`, handing
/// every message to `bounces` (a message it could not store is answered
/// 451, so the relay keeps it and tries again). `None` when `bounces.listen`
/// is unset (`mail.return_path` is then set: config checks the pair).
pub async fn listen_for(
    settings: &Settings,
    bounces: Bounces,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<Option<impl std::future::Future<Output = ()> + Send + 'static>> {
    let (Some(addr), Some(return_path)) = (settings.bounces.listen, settings.mail.return_path.as_deref()) else {
        return Ok(None);
    };
    let domain = return_path.rsplit_once('@').map_or(return_path, |(_, d)| d);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("receiving bounces and complaints for {domain} on {addr}");
    let limits = listen::ListenSettings::new(domain, domain, settings.bounces.max_message_bytes);
    let deliver = move |raw: Vec<u8>, rcpt_to: Vec<String>| -> listen::Delivery {
        let bounces = bounces.clone();
        Box::pin(async move { bounces.receive(&raw, &rcpt_to).await.map(|_| ()).map_err(|e| e.to_string()) })
    };
    Ok(Some(listen::run(listener, limits, deliver, shutdown)))
}

/// One row per verdict; a report about no message of ours is recorded as
/// ignored, whatever it says.
fn rows(parsed: &Report, target: Option<Target>) -> Vec<ReportRow> {
    if let Report::Ignored { reason } = parsed {
        return vec![ReportRow { kind: ReportKind::Ignored, target: None, reason: reason.to_string() }];
    }
    let Some(target) = target else {
        let reason = "names no message of ours (no valid VERP token, unknown Message-ID)".to_string();
        return vec![ReportRow { kind: ReportKind::Ignored, target: None, reason }];
    };
    let detail = |i: usize| match parsed {
        Report::Bounce(b) => b.recipients.get(i).map(|r| match &r.diagnostic {
            Some(d) => format!("{} {d}", r.status),
            None => r.status.to_string(),
        }),
        Report::Complaint(c) => Some(format!("complaint: {:?}", c.feedback_type).to_lowercase()),
        Report::Ignored { .. } => None,
    };
    report::kind(parsed)
        .iter()
        .enumerate()
        .map(|(i, verdict)| {
            let (kind, reason) = match verdict.kind {
                Kind::Hard => (ReportKind::Hard, detail(i)),
                Kind::Soft => (ReportKind::Soft, detail(i)),
                Kind::Delayed => (ReportKind::Delayed, detail(i)),
                Kind::Delivered => (ReportKind::Delivered, detail(i)),
                Kind::Complaint => (ReportKind::Complaint, detail(i)),
                Kind::Ignored(why) => (ReportKind::Ignored, Some(why.to_string())),
            };
            ReportRow { kind, target: Some(target), reason: reason.unwrap_or_default() }
        })
        .collect()
}
