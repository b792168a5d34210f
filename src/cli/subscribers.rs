//! `bantin subscribers add|list|lift|remove|forget|export`: what they do,
//! their output formats and exit codes (`import` reads lists in `import.rs`).

use super::{open_state, runtime};
use crate::args::{FrequencyArg, ListFormat, StatusArg, SubscribersCommand};
use crate::exit;
use bantin::state::{Frequency, Lift, NewSubscriber, StateStore, Status, Subscriber, normalize_address};
use bantin::Settings;
use chrono::{DateTime, Utc};
use std::io::Write as _;
use std::process::ExitCode;

impl From<FrequencyArg> for Frequency {
    fn from(f: FrequencyArg) -> Frequency {
        match f {
            FrequencyArg::Daily => Frequency::Daily,
            FrequencyArg::Weekly => Frequency::Weekly,
            FrequencyArg::Instant => Frequency::Instant,
        }
    }
}

/// Topics as given on the command line or in a list: slugs, `,` or `;`
/// between them, each once.
pub(super) fn topics_arg(s: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in s.unwrap_or("").split([',', ';']) {
        let slug = bantin::text::slugify(t);
        if !slug.is_empty() && !out.contains(&slug) {
            out.push(slug);
        }
    }
    out
}

pub fn run(settings: Settings, command: SubscribersCommand) -> anyhow::Result<ExitCode> {
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
                    eprintln!("bantin: {} is already a subscriber ({}); remove it first to add it again", sub.email, sub.status.as_str());
                    return Ok(ExitCode::from(exit::DATAERR));
                }
                println!("added {} ({}, {})", sub.email, sub.status.as_str(), sub.frequency.as_str());
                if !confirmed {
                    println!("note: pending subscribers get no digest until they confirm; use --confirmed if they already agreed");
                }
                Ok(ExitCode::SUCCESS)
            }
            SubscribersCommand::List { format, status } => {
                let mut subs = state.subscribers().await?;
                if let Some(status) = status {
                    let wanted = status_of(status);
                    subs.retain(|s| s.status == wanted);
                }
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
                    println!(
                        "kept: the messages already sent or queued to {normalized} and their audit rows \
                         (bodies until retention.mail_bodies); to erase them too, run `bantin subscribers forget {normalized}`"
                    );
                    Ok(ExitCode::SUCCESS)
                } else {
                    eprintln!("bantin: {normalized} is not a subscriber (see `bantin subscribers list`)");
                    Ok(ExitCode::from(exit::DATAERR))
                }
            }
            SubscribersCommand::Lift { email, complaint } => lift(&state, &email, complaint).await,
            SubscribersCommand::Forget { email } => forget(&state, &email).await,
            SubscribersCommand::Import { file } => super::import::import(&state, &file).await,
            SubscribersCommand::Export => {
                let subs = state.subscribers().await?;
                write_csv(&mut std::io::stdout().lock(), &subs)?;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

/// `subscribers forget`: the person erased from every table (exit 0 even
/// when nothing was there: the address is not in the database either way).
async fn forget(state: &StateStore, email: &str) -> anyhow::Result<ExitCode> {
    let normalized = normalize_address(email).unwrap_or_else(|_| email.trim().to_string());
    let f = state.forget(&normalized).await?;
    if f.subscribers + f.messages == 0 {
        println!("{normalized} is not in the state database (no subscriber, no message); nothing to erase");
    } else {
        println!(
            "erased {normalized}: {} subscriber rows, {} messages (queued and sent, with their bodies), \
             {} sent-article records; {} audit rows kept without anything naming them",
            f.subscribers, f.messages, f.sent_articles, f.audit_rows
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `subscribers lift`: what the bounce policy did, undone by the admin
/// (exit 65 when there is nothing to lift, or a complaint without
/// `--complaint`).
async fn lift(state: &StateStore, email: &str, complaint: bool) -> anyhow::Result<ExitCode> {
    let normalized = normalize_address(email).unwrap_or_else(|_| email.trim().to_string());
    let last = |reason: Option<String>, at: Option<DateTime<Utc>>| match (reason, at) {
        (Some(r), Some(at)) => format!("last: {r} ({})", at.format("%Y-%m-%d %H:%M UTC")),
        (Some(r), None) => format!("last: {r}"),
        (None, _) => "no reason recorded".to_string(),
    };
    match state.lift(&normalized, complaint).await? {
        Lift::Lifted { was, reason, at } => {
            println!("lifted {normalized}: was {} ({}); now active, mailed from the next period", was.as_str(), last(reason, at));
            Ok(ExitCode::SUCCESS)
        }
        Lift::Complaint { reason, at } => {
            eprintln!(
                "bantin: {normalized} complained ({}): they reported a mail as abuse themselves, so it is not lifted \
                 as a bounce is; only if they asked to be mailed again, run `bantin subscribers lift {normalized} --complaint`",
                last(reason, at)
            );
            Ok(ExitCode::from(exit::DATAERR))
        }
        Lift::NotLifted(status) => {
            eprintln!(
                "bantin: {normalized} is {}: nothing to lift (only suppressed, bouncing and complained subscribers are)",
                status.as_str()
            );
            Ok(ExitCode::from(exit::DATAERR))
        }
        Lift::Unknown => {
            eprintln!("bantin: {normalized} is not a subscriber (see `bantin subscribers list`)");
            Ok(ExitCode::from(exit::DATAERR))
        }
    }
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

fn status_of(arg: StatusArg) -> Status {
    match arg {
        StatusArg::Pending => Status::Pending,
        StatusArg::Active => Status::Active,
        StatusArg::Unsubscribed => Status::Unsubscribed,
        StatusArg::Bouncing => Status::Bouncing,
        StatusArg::Suppressed => Status::Suppressed,
        StatusArg::Complained => Status::Complained,
    }
}

fn write_table(out: &mut impl std::io::Write, subs: &[Subscriber]) -> anyhow::Result<()> {
    let width = subs.iter().map(|s| s.email.chars().count()).max().unwrap_or(5).max(5);
    writeln!(out, "{:<width$}  {:<12}  {:<9}  {:>7}  {:<10}  {:<20}  TOPICS", "EMAIL", "STATUS", "FREQUENCY", "BOUNCES", "CREATED", "LAST BOUNCE")?;
    for s in subs {
        let topics = if s.topics.is_empty() { "(all)".to_string() } else { s.topics.join(",") };
        let pad = width - s.email.chars().count();
        writeln!(
            out,
            "{}{}  {:<12}  {:<9}  {:>7}  {:<10}  {:<20}  {}",
            s.email,
            " ".repeat(pad),
            s.status.as_str(),
            s.frequency.as_str(),
            s.bounce_count,
            s.created_at.format("%Y-%m-%d"),
            s.last_bounce_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "-".into()),
            topics
        )?;
        if let Some(reason) = &s.last_bounce_reason {
            writeln!(out, "{}  last bounce: {reason}", " ".repeat(width))?;
        }
    }
    let count = |st: Status| subs.iter().filter(|s| s.status == st).count();
    writeln!(
        out,
        "{} subscribers, {} bouncing, {} suppressed, {} complained",
        subs.len(),
        count(Status::Bouncing),
        count(Status::Suppressed),
        count(Status::Complained)
    )?;
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
