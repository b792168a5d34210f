//! `bantin bounces receive`: one message on stdin, as an MTA's pipe
//! transport hands it over, applied by the library's bounce room. The
//! envelope recipient (the VERP address) comes from `$ORIGINAL_RECIPIENT`
//! or `$RECIPIENT` (postfix's pipe and local delivery set them). Exit 0:
//! applied (a report, or a mail to a List-Unsubscribe address), or
//! received before; 65: not a bounce or complaint of ours
//! (the reason on stderr); 69: the state database is unavailable.

use super::{open_state, runtime};
use crate::args::BouncesCommand;
use crate::exit;
use anyhow::Context as _;
use bantin::bounces::{Applied, Bounces};
use bantin::Settings;
use std::io::Read as _;
use std::process::ExitCode;

pub fn run(settings: Settings, command: BouncesCommand) -> anyhow::Result<ExitCode> {
    match command {
        BouncesCommand::Receive => receive(settings),
    }
}

fn receive(settings: Settings) -> anyhow::Result<ExitCode> {
    let most = settings.bounces.max_message_bytes;
    let mut raw = Vec::new();
    std::io::stdin().lock().take(most as u64 + 1).read_to_end(&mut raw).context("reading the message on stdin")?;
    if raw.len() > most {
        eprintln!("bantin: ignored: the message is larger than bounces.max_message_bytes ({most} bytes)");
        return Ok(ExitCode::from(exit::DATAERR));
    }
    let rcpt_to: Vec<String> = ["ORIGINAL_RECIPIENT", "RECIPIENT"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .filter(|v| !v.trim().is_empty())
        .collect();
    runtime()?.block_on(async move {
        let state = match open_state(&settings).await {
            Ok(s) => s,
            Err(code) => return Ok(code),
        };
        let key = match bantin::tokens::load_key(&settings, &state).await {
            Ok(k) => k,
            Err(e) => {
                eprintln!("bantin: {e}");
                return Ok(ExitCode::from(exit::UNAVAILABLE));
            }
        };
        match Bounces::new(state, key, &settings).receive(&raw, &rcpt_to).await {
            Ok(Applied::Applied { reports }) => {
                println!("applied {reports} report(s)");
                Ok(ExitCode::SUCCESS)
            }
            Ok(Applied::Unsubscribed { subscriber, changed }) => {
                match changed {
                    true => println!("unsubscribed subscriber {subscriber} (a mail to its List-Unsubscribe address)"),
                    false => println!("subscriber {subscriber} asked to leave by mail: nothing to change (no longer on file, or never mailed anyway)"),
                }
                Ok(ExitCode::SUCCESS)
            }
            Ok(Applied::Duplicate) => {
                println!("received before; nothing changed");
                Ok(ExitCode::SUCCESS)
            }
            Ok(Applied::Ignored { reason }) => {
                eprintln!("bantin: ignored: {reason}");
                Ok(ExitCode::from(exit::DATAERR))
            }
            Err(e) => {
                eprintln!("bantin: {e}");
                Ok(ExitCode::from(exit::UNAVAILABLE))
            }
        }
    })
}
