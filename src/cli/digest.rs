//! `bantin digest preview|send-test|run`: what they do, their output and
//! exit codes (`run` sends while it still plans: each committed batch can
//! be claimed at once; `send-test` sends outside the outbox and records
//! nothing).

use super::runtime;
use crate::args::{DigestCommand, FrequencyArg};
use crate::exit;
use anyhow::Context as _;
use bantin::digest::plan::{Mode, PlannedDigest};
use bantin::newsletter::preview::{Next, TestSend};
use bantin::newsletter::{pipeline, CatalogSource, Digests};
use bantin::state::{Status, Subscriber};
use bantin::{Catalog, Settings};
use chrono::{DateTime, Utc};
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

pub fn run(settings: Settings, command: DigestCommand) -> anyhow::Result<ExitCode> {
    let settings = Arc::new(settings);
    runtime()?.block_on(async move {
        let catalog = match bantin::store::load_catalog(&settings, 1) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                eprintln!("bantin: {e}");
                return Ok(ExitCode::from(if e.is_unavailable() { exit::UNAVAILABLE } else { exit::CONFIG }));
            }
        };
        let source: CatalogSource = {
            let c = Arc::clone(&catalog);
            Arc::new(move || Arc::clone(&c))
        };
        let digests = match Digests::open(Arc::clone(&settings), source).await {
            Ok(d) => d,
            Err(e @ bantin::newsletter::DigestError::State(_)) => {
                eprintln!("bantin: {e}");
                return Ok(ExitCode::from(exit::UNAVAILABLE));
            }
            Err(e) => return Err(e.into()),
        };
        match command {
            DigestCommand::Preview { email, frequency, at } => {
                let Some(start) = clock_arg(at.as_deref()) else { return Ok(ExitCode::from(exit::USAGE)) };
                preview(&digests, &catalog, &email, frequency, start).await
            }
            DigestCommand::SendTest { email, to, frequency, at } => {
                let Some(start) = clock_arg(at.as_deref()) else { return Ok(ExitCode::from(exit::USAGE)) };
                send_test(&digests, &catalog, &email, &to, frequency, start).await
            }
            DigestCommand::Run { dry_run, now, at } => {
                let Some(start) = clock_arg(at.as_deref()) else { return Ok(ExitCode::from(exit::USAGE)) };
                send_due(&digests, &catalog, start, if now { Mode::Now } else { Mode::Scheduled }, dry_run).await
            }
        }
    })
}

/// `--at TIME`, else the clock; None (after saying why) when unreadable.
fn clock_arg(at: Option<&str>) -> Option<DateTime<Utc>> {
    match at.map(DateTime::parse_from_rfc3339) {
        None => Some(Utc::now()),
        Some(Ok(t)) => Some(t.with_timezone(&Utc)),
        Some(Err(e)) => {
            eprintln!("bantin: --at {:?}: {e}; write e.g. 2026-11-25T07:00:00+07:00", at.unwrap_or_default());
            None
        }
    }
}

/// The digest of a [`Next`], or (after saying why on stderr) the exit
/// code: an unknown EMAIL 65, nothing new 0.
fn shown(next: Next) -> Result<PlannedDigest, ExitCode> {
    match next {
        Next::Digest(p) => Ok(*p),
        Next::Unknown(email) => {
            eprintln!("bantin: {email} is not a subscriber (see `bantin subscribers list`)");
            Err(ExitCode::from(exit::DATAERR))
        }
        Next::Nothing(email) => {
            eprintln!("nothing new for {email}: no digest would be sent now");
            Err(ExitCode::SUCCESS)
        }
    }
}

async fn preview(
    digests: &Digests,
    catalog: &Catalog,
    email: &str,
    frequency: Option<FrequencyArg>,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let p = match shown(digests.next_digest(catalog, email, frequency.map(Into::into), now).await?) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let message = digests.composer.digest(&p, catalog, now)?;
    std::io::stdout().write_all(&message.body()?)?;
    Ok(ExitCode::SUCCESS)
}

/// `digest send-test EMAIL --to ADDR`: EMAIL's next digest to ADDR at once
/// (`newsletter::preview`); no outbox row or watermark.
async fn send_test(
    digests: &Digests,
    catalog: &Catalog,
    email: &str,
    to: &str,
    frequency: Option<FrequencyArg>,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let relay = digests.mailer.relay_url();
    match digests.send_test(catalog, email, to, frequency.map(Into::into), now).await? {
        TestSend::Sent { of, to, subject } => {
            println!("test digest of {of} sent to {to}: {subject}");
            Ok(ExitCode::SUCCESS)
        }
        TestSend::BadAddress(why) => {
            eprintln!("bantin: --to {why}");
            Ok(ExitCode::from(exit::DATAERR))
        }
        TestSend::Refused(sub) => {
            eprintln!("bantin: {}", refusal(&sub));
            Ok(ExitCode::from(exit::DATAERR))
        }
        TestSend::NotSent(next) => Ok(shown(next).err().unwrap_or(ExitCode::SUCCESS)),
        TestSend::Failed { permanent: false, reason } => {
            eprintln!("bantin: the SMTP relay ({relay}) did not take the test to {to}: {reason}; nothing was sent");
            Ok(ExitCode::from(exit::UNAVAILABLE))
        }
        TestSend::Failed { permanent: true, reason } => {
            eprintln!("bantin: the SMTP relay ({relay}) refused the test to {to}: {reason}");
            Ok(ExitCode::from(exit::DATAERR))
        }
    }
}

/// Why a test send to `sub` (suppressed or complained) is refused.
fn refusal(sub: &Subscriber) -> String {
    let what = match sub.status {
        Status::Complained => "complained (marked a mail as spam)",
        _ => "suppressed after a hard bounce",
    };
    let when = sub.last_bounce_at.map(|t| format!(" on {}", t.format("%Y-%m-%d"))).unwrap_or_default();
    let why = sub.last_bounce_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
    format!(
        "{} is {what}{when}{why}; test sends to it are refused. Lift it first, if the address works again: `bantin subscribers lift {}{}`",
        sub.email,
        sub.email,
        if sub.status == Status::Complained { " --complaint" } else { "" }
    )
}

/// `digest run --dry-run`: what is due, written and sent nowhere.
async fn dry_run_report(digests: &Digests, catalog: &Catalog, start: DateTime<Utc>, mode: Mode) -> anyhow::Result<ExitCode> {
    let ask = pipeline::Ask { settings: &digests.plan, seeds: &digests.settings.digest.seed, archive: false, now: start, mode };
    let due = pipeline::plan_due(&digests.state, catalog, &ask).await?;
    let plans = &due.digests;
    let mut empty = 0;
    for p in plans {
        if p.is_empty() {
            empty += 1;
            continue;
        }
        println!(
            "{}\t{}\t{} articles{}",
            p.subscriber.email,
            p.period.key,
            p.articles.len(),
            if p.more > 0 { format!(" (+{} more)", p.more) } else { String::new() }
        );
    }
    for c in &due.copies {
        println!("{}\t{}\t{} articles (seed copy)", c.subscriber.email, c.period.key, c.articles.len() + c.more);
    }
    println!("dry run: {} digests due, {} with nothing new; nothing written or sent", plans.len(), empty);
    Ok(ExitCode::SUCCESS)
}

async fn send_due(digests: &Digests, catalog: &Catalog, start: DateTime<Utc>, mode: Mode, dry_run: bool) -> anyhow::Result<ExitCode> {
    if dry_run {
        return dry_run_report(digests, catalog, start, mode).await;
    }
    if let Err(e) = digests.mailer.check_connection().await {
        eprintln!("bantin: {e}");
        return Ok(ExitCode::from(exit::UNAVAILABLE));
    }
    let released = digests.mailer.release_dead_leases().await?;
    if released > 0 {
        eprintln!("{released} messages left in flight by a stopped run are queued again");
    }
    // The clock runs on from `start`, so --at in the future still finds the
    // rows it just queued due, and is never behind the real one (it stamps
    // the messages sent, which the bounce policy compares with the times
    // reports arrive; before, a past `start` put it ahead by the run's
    // duration).
    let began = std::time::Instant::now();
    let clock = move || (start + chrono::Duration::from_std(began.elapsed()).unwrap_or_default()).max(Utc::now());
    // Sending starts while planning still renders and commits: each batch
    // is committed before it can be claimed (the outbox invariant holds as
    // it does between two runs), and rendering and sending overlap on the
    // cores instead of following each other.
    let planned = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = tokio::spawn({
        let mailer = Arc::clone(&digests.mailer);
        let planned = Arc::clone(&planned);
        async move {
            let mut total = bantin::mail::sender::DeliveryReport::default();
            // When the relay took the first message (planning must not
            // hold the sending back; issue 24 asks under 5 s for 100k).
            let mut first_ms = None;
            loop {
                // Read before the pass: a pass that began after planning
                // ended has seen every row it queued.
                let last = planned.load(std::sync::atomic::Ordering::Acquire);
                let r = mailer.deliver_due(clock).await?;
                total.sent += r.sent;
                total.retried += r.retried;
                total.failed += r.failed;
                if first_ms.is_none() {
                    first_ms = r.first_sent.map(|t| t.duration_since(began).as_millis());
                }
                if last {
                    return Ok::<_, bantin::mail::sender::SendError>((total, first_ms));
                }
                if r.sent + r.retried + r.failed == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        }
    });
    let queueing = async {
        let mut queued = digests.queue(start, mode).await?;
        if queued.busy {
            // Another instance on the shared database plans right now; once
            // it is done, planning again adds only what it left out.
            eprintln!("another bantin instance is planning digests; waiting for it to finish");
            while queued.busy {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                queued = digests.queue(start, mode).await?;
            }
        }
        Ok::<_, anyhow::Error>(queued)
    };
    let queued = queueing.await;
    planned.store(true, std::sync::atomic::Ordering::Release);
    let plan_ms = began.elapsed().as_millis();
    let sent = sender.await.context("the sending task failed")?;
    let (queued, (sent, first_ms)) = (queued?, sent?);
    let dropped = digests.prune(clock()).await?;
    println!(
        "{} digests due ({} with nothing new), {} queued{} in {plan_ms} ms; sent {}{}, {} to retry later, {} failed in {} ms{}",
        queued.due,
        queued.empty,
        queued.queued,
        match queued.copies {
            0 => String::new(),
            1 => " and 1 seed copy".to_string(),
            n => format!(" and {n} seed copies"),
        },
        sent.sent,
        first_ms.map(|ms| format!(" (the first within {ms} ms)")).unwrap_or_default(),
        sent.retried,
        sent.failed,
        began.elapsed().as_millis(),
        pruned_words(dropped)
    );
    Ok(ExitCode::SUCCESS)
}

/// What `digest run`'s prune let go, as the end of its line ("" for nothing).
fn pruned_words(p: bantin::newsletter::Pruned) -> String {
    let mut words = String::new();
    if p.bodies > 0 {
        words.push_str(&format!("; {} bodies of messages older than retention.mail_bodies dropped", p.bodies));
    }
    if p.sign_ups > 0 {
        words.push_str(&format!("; {} sign-ups never confirmed forgotten (their links had expired)", p.sign_ups));
    }
    words
}
