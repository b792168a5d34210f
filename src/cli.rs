//! The `subscribers` and `digest` commands of the binary: what they do,
//! their output formats and exit codes (their arguments are in `args.rs`).
//! Part of `main.rs`'s crate (anyhow lives here too); everything they do
//! is a call into the library.

use crate::args::{DigestCommand, FrequencyArg, ListFormat, SubscribersCommand};
use crate::exit;
use anyhow::Context as _;
use bantin::digest::plan::{self, Mode};
use bantin::newsletter::{CatalogSource, Digests};
use bantin::state::{Frequency, NewSubscriber, StateStore, Status, Subscriber, normalize_address};
use bantin::{Catalog, Settings};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

impl From<FrequencyArg> for Frequency {
    fn from(f: FrequencyArg) -> Frequency {
        match f {
            FrequencyArg::Daily => Frequency::Daily,
            FrequencyArg::Weekly => Frequency::Weekly,
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// Opens the state database; an unreachable one is exit 69.
async fn open_state(settings: &Settings) -> Result<StateStore, ExitCode> {
    StateStore::open(&settings.state.url).await.map_err(|e| {
        eprintln!("bantin: {e}");
        ExitCode::from(exit::UNAVAILABLE)
    })
}

fn topics_arg(s: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in s.unwrap_or("").split([',', ';']) {
        let slug = bantin::text::slugify(t);
        if !slug.is_empty() && !out.contains(&slug) {
            out.push(slug);
        }
    }
    out
}

pub fn subscribers(settings: Settings, command: SubscribersCommand) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let state = match open_state(&settings).await {
            Ok(s) => s,
            Err(code) => return Ok(code),
        };
        match command {
            SubscribersCommand::Add { email, topics, frequency, confirmed } => {
                let email = match normalize_address(&email) {
                    Ok(e) => e,
                    Err(why) => {
                        eprintln!("bantin: the address {email:?} {why}; give one address such as ten@example.vn");
                        return Ok(ExitCode::from(exit::DATAERR));
                    }
                };
                let topics = topics_arg(topics.as_deref());
                warn_unknown_topics(&settings, &topics);
                let status = if confirmed { Status::Active } else { Status::Pending };
                let new = NewSubscriber { email: email.clone(), topics, frequency: frequency.into(), status, now: Utc::now() };
                let (sub, created) = state.insert_subscriber(&new).await?;
                if !created {
                    eprintln!("bantin: {email} is already a subscriber ({}); remove it first to add it again", sub.status.as_str());
                    return Ok(ExitCode::from(exit::DATAERR));
                }
                println!("added {} ({}, {})", sub.email, sub.status.as_str(), sub.frequency.as_str());
                if !confirmed {
                    println!("note: pending subscribers get no digest until they confirm; use --confirmed if they already agreed");
                }
                Ok(ExitCode::SUCCESS)
            }
            SubscribersCommand::List { format } => {
                let subs = state.subscribers().await?;
                let mut out = std::io::stdout().lock();
                match format {
                    ListFormat::Table => write_table(&mut out, &subs)?,
                    ListFormat::Csv => write_csv(&mut out, &subs)?,
                    ListFormat::Json => {
                        serde_json::to_writer_pretty(&mut out, &subs)?;
                        writeln!(out)?;
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            SubscribersCommand::Remove { email } => {
                let normalized = normalize_address(&email).unwrap_or_else(|_| email.trim().to_string());
                if state.remove_subscriber(&normalized).await? {
                    println!("removed {normalized}");
                    Ok(ExitCode::SUCCESS)
                } else {
                    eprintln!("bantin: {normalized} is not a subscriber (see `bantin subscribers list`)");
                    Ok(ExitCode::from(exit::DATAERR))
                }
            }
            SubscribersCommand::Import { file } => import(&state, &file).await,
            SubscribersCommand::Export => {
                let subs = state.subscribers().await?;
                write_csv(&mut std::io::stdout().lock(), &subs)?;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

fn warn_unknown_topics(settings: &Settings, topics: &[String]) {
    if topics.is_empty() {
        return;
    }
    let catalog = match bantin::store::load_catalog(settings, 1) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warning: cannot read the article store to check the topics: {e}");
            return;
        }
    };
    for t in topics {
        if catalog.category_name(t).is_none() {
            eprintln!("warning: topic {t:?} is not a category of the store (yet); the subscriber gets nothing from it until it is");
        }
    }
}

fn write_table(out: &mut impl std::io::Write, subs: &[Subscriber]) -> anyhow::Result<()> {
    let width = subs.iter().map(|s| s.email.chars().count()).max().unwrap_or(5).max(5);
    writeln!(out, "{:<width$}  {:<12}  {:<9}  {:>7}  {:<10}  TOPICS", "EMAIL", "STATUS", "FREQUENCY", "BOUNCES", "CREATED")?;
    for s in subs {
        let topics = if s.topics.is_empty() { "(all)".to_string() } else { s.topics.join(",") };
        let pad = width - s.email.chars().count();
        writeln!(
            out,
            "{}{}  {:<12}  {:<9}  {:>7}  {:<10}  {}",
            s.email,
            " ".repeat(pad),
            s.status.as_str(),
            s.frequency.as_str(),
            s.bounce_count,
            s.created_at.format("%Y-%m-%d"),
            topics
        )?;
    }
    let bouncing = subs.iter().filter(|s| s.status == Status::Bouncing).count();
    writeln!(out, "{} subscribers, {} bouncing", subs.len(), bouncing)?;
    Ok(())
}

const CSV_HEADER: [&str; 7] = ["email", "topics", "frequency", "status", "created_at", "confirmed_at", "bounce_count"];

fn write_csv(out: &mut impl std::io::Write, subs: &[Subscriber]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER)?;
    for s in subs {
        w.write_record([
            s.email.clone(),
            s.topics.join(";"),
            s.frequency.as_str().to_string(),
            s.status.as_str().to_string(),
            s.created_at.to_rfc3339(),
            s.confirmed_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            s.bounce_count.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// One CSV row as read, or why it cannot be imported.
fn import_row(record: &csv::StringRecord, columns: &Columns, now: DateTime<Utc>) -> Result<NewSubscriber, String> {
    let field = |i: Option<usize>| i.and_then(|i| record.get(i)).map(str::trim).unwrap_or("");
    let raw = field(Some(columns.email));
    let email = normalize_address(raw).map_err(|why| format!("the address {raw:?} {why}"))?;
    let frequency = match field(columns.frequency) {
        "" => Frequency::Daily,
        f => Frequency::parse(f).ok_or_else(|| format!("frequency {f:?} is not daily or weekly"))?,
    };
    let status = match field(columns.status) {
        "" => Status::Active,
        s => Status::parse(&s.to_ascii_lowercase()).ok_or_else(|| {
            format!("status {s:?} is not one of pending, active, unsubscribed, bouncing")
        })?,
    };
    let topics = topics_arg(Some(field(columns.topics)));
    Ok(NewSubscriber { email, topics, frequency, status, now })
}

struct Columns {
    email: usize,
    topics: Option<usize>,
    frequency: Option<usize>,
    status: Option<usize>,
}

async fn import(state: &StateStore, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let mut reader = match csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bantin: {}: cannot read: {e}", file.display());
            return Ok(ExitCode::from(exit::IOERR));
        }
    };
    let now = Utc::now();
    let (mut added, mut present, mut bad) = (0usize, 0usize, 0usize);
    let mut columns = Columns { email: 0, topics: Some(1), frequency: Some(2), status: Some(3) };
    for (i, record) in reader.records().enumerate() {
        let line = record.as_ref().ok().and_then(|r| r.position()).map_or(i as u64 + 1, |p| p.line());
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{}:{line}: skipped: {e}", file.display());
                bad += 1;
                continue;
            }
        };
        if i == 0 && record.iter().any(|f| f.trim().eq_ignore_ascii_case("email")) {
            // A header row: take the columns by name, in any order.
            let find = |name: &str| record.iter().position(|f| f.trim().eq_ignore_ascii_case(name));
            columns = Columns {
                email: find("email").unwrap_or(0),
                topics: find("topics"),
                frequency: find("frequency"),
                status: find("status"),
            };
            continue;
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        match import_row(&record, &columns, now) {
            Ok(new) => {
                if state.insert_subscriber(&new).await?.1 {
                    added += 1;
                } else {
                    present += 1;
                }
            }
            Err(why) => {
                eprintln!("{}:{line}: skipped: {why}", file.display());
                bad += 1;
            }
        }
    }
    println!("imported {added} subscribers; {present} were already there (left unchanged); {bad} rows skipped");
    Ok(if bad > 0 { ExitCode::from(exit::DATAERR) } else { ExitCode::SUCCESS })
}

pub fn digest(settings: Settings, command: DigestCommand) -> anyhow::Result<ExitCode> {
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
            DigestCommand::Run { dry_run, now, at } => {
                let Some(start) = clock_arg(at.as_deref()) else { return Ok(ExitCode::from(exit::USAGE)) };
                run(&digests, &catalog, start, if now { Mode::Now } else { Mode::Scheduled }, dry_run).await
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

async fn preview(
    digests: &Digests,
    catalog: &Catalog,
    email: &str,
    frequency: Option<FrequencyArg>,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let normalized = normalize_address(email).unwrap_or_else(|_| email.trim().to_string());
    let Some(mut sub) = digests.state.subscriber_by_email(&normalized).await? else {
        eprintln!("bantin: {normalized} is not a subscriber (see `bantin subscribers list`)");
        return Ok(ExitCode::from(exit::DATAERR));
    };
    if let Some(f) = frequency {
        sub.frequency = f.into();
    }
    // A preview shows what this subscriber would get if their period ended
    // now, whatever their status.
    sub.status = Status::Active;
    sub.last_period = None;
    let sent: HashSet<String> = digests.state.sent_article_ids(sub.id).await?;
    let first_seen = digests.state.articles_seen().await?;
    let plans = plan::plan(&[(sub, sent)], catalog.articles(), &first_seen, &digests.plan, now, Mode::Now);
    match plans.first() {
        Some(p) if !p.is_empty() => {
            let message = digests.composer.digest(p, catalog, now)?;
            std::io::stdout().write_all(&message.body)?;
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!("nothing new for {normalized}: no digest would be sent now");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `digest run --dry-run`: what is due, written and sent nowhere.
async fn dry_run_report(digests: &Digests, catalog: &Catalog, start: DateTime<Utc>, mode: Mode) -> anyhow::Result<ExitCode> {
    let plans = bantin::newsletter::pipeline::plan_due(&digests.state, catalog, &digests.plan, start, mode).await?;
    let mut empty = 0;
    for p in &plans {
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
    println!("dry run: {} digests due, {} with nothing new; nothing written or sent", plans.len(), empty);
    Ok(ExitCode::SUCCESS)
}

async fn run(digests: &Digests, catalog: &Catalog, start: DateTime<Utc>, mode: Mode, dry_run: bool) -> anyhow::Result<ExitCode> {
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
    // rows it just queued due.
    let began = std::time::Instant::now();
    let clock = move || start.max(Utc::now()) + chrono::Duration::from_std(began.elapsed()).unwrap_or_default();
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
            loop {
                // Read before the pass: a pass that began after planning
                // ended has seen every row it queued.
                let last = planned.load(std::sync::atomic::Ordering::Acquire);
                let r = mailer.deliver_due(clock).await?;
                total.sent += r.sent;
                total.retried += r.retried;
                total.failed += r.failed;
                if last {
                    return Ok::<_, bantin::mail::sender::SendError>(total);
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
    let (queued, sent) = (queued?, sent?);
    println!(
        "{} digests due ({} with nothing new), {} queued in {plan_ms} ms; sent {}, {} to retry later, {} failed in {} ms",
        queued.due,
        queued.empty,
        queued.queued,
        sent.sent,
        sent.retried,
        sent.failed,
        began.elapsed().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

