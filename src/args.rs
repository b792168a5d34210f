//! The command line's shape (clap): every subcommand, flag and help text,
//! and nothing that runs. Shared by the binary (`main.rs`, `cli.rs`) and
//! the packaging generator (`packaging/gen-docs.rs`, man pages and shell
//! completions), so the documentation is made from the parser itself.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "bantin", version, about = "News feeds and e-mail digests for a news portal")]
pub struct Cli {
    /// The configuration file [default: $BANTIN_CONFIG, else /etc/bantin/bantin.toml if it exists, else config/bantin.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the service: watch the store, serve the feeds over HTTP
    Serve,
    /// Write every feed once as static files, then exit
    Build {
        /// The folder to write into (created if missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Validate the configuration and every article; report per file
    Check {
        /// Exit with 65 when any article has an error
        #[arg(long)]
        strict: bool,
    },
    /// Manage digest subscribers
    Subscribers {
        #[command(subcommand)]
        command: SubscribersCommand,
    },
    /// Preview or send the e-mail digests
    Digest {
        #[command(subcommand)]
        command: DigestCommand,
    },
    /// Reports (bounces, complaints) sent back to mail.return_path
    Bounces {
        #[command(subcommand)]
        command: BouncesCommand,
    },
}

#[derive(Subcommand)]
pub enum BouncesCommand {
    /// Apply one message read on stdin (an MTA's pipe transport; the VERP address from
    /// $ORIGINAL_RECIPIENT or $RECIPIENT). Exit 0 applied or seen before, 65 not a report of ours,
    /// 69 state database unavailable
    Receive,
}

#[derive(Subcommand)]
pub enum SubscribersCommand {
    /// Add a subscriber (pending until confirmed, unless --confirmed)
    Add {
        email: String,
        /// Category slugs, comma-separated; none = the whole site
        #[arg(long, value_name = "a,b")]
        topics: Option<String>,
        #[arg(long, value_enum, default_value_t = FrequencyArg::Daily)]
        frequency: FrequencyArg,
        /// Active at once, without a confirmation mail (the admin vouches for consent)
        #[arg(long)]
        confirmed: bool,
    },
    /// List subscribers with their status (bouncing ones included) and their last bounce
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Only subscribers with this status
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
    },
    /// Lift a suppression: a suppressed, bouncing or complained subscriber active again, no bounces
    /// counted. Exit 65 if there is nothing to lift
    Lift {
        email: String,
        /// Also lift a complaint (the person reported a mail as abuse; only if they asked to be mailed again)
        #[arg(long)]
        complaint: bool,
    },
    /// Remove a subscriber and their digest bookkeeping (their sent messages stay; see forget)
    Remove { email: String },
    /// Erase a person: subscriber row, bookkeeping, every message to them (queued and sent) and their audit details
    Forget { email: String },
    /// Import subscribers from CSV (email[,topics][,frequency][,status], or named by a header row; `,`, `;` or tab between fields, UTF-8 or UTF-16, as Excel saves it); bad rows are reported, good ones imported
    Import { file: PathBuf },
    /// Write every subscriber as CSV on stdout
    Export,
}

#[derive(Subcommand)]
pub enum DigestCommand {
    /// Print the RFC 5322 message the subscriber would get now; send nothing
    Preview {
        email: String,
        #[arg(long, value_enum)]
        frequency: Option<FrequencyArg>,
        /// Preview as if the clock read TIME (RFC 3339)
        #[arg(long, value_name = "TIME", hide = true)]
        at: Option<String>,
    },
    /// Send EMAIL's next digest (as it would be now) to ADDR, marked as a test; record nothing
    ///
    /// The subject starts with "[TEST]", and its unsubscribe and preferences links act on no
    /// subscription (they lead to site.base_url). Exit 65 when EMAIL is not a subscriber or ADDR
    /// is suppressed or complained, 69 when the SMTP relay does not take it
    SendTest {
        email: String,
        /// The address to send the test to
        #[arg(long, value_name = "ADDR")]
        to: String,
        #[arg(long, value_enum)]
        frequency: Option<FrequencyArg>,
        /// Render as if the clock read TIME (RFC 3339)
        #[arg(long, value_name = "TIME", hide = true)]
        at: Option<String>,
    },
    /// Plan and send every digest that is due, then exit
    Run {
        /// Show what would be sent; write and send nothing
        #[arg(long)]
        dry_run: bool,
        /// Every subscriber's current period ends now ("send now")
        #[arg(long)]
        now: bool,
        /// Plan as if the clock read TIME (RFC 3339); for tests and replays
        #[arg(long, value_name = "TIME", hide = true)]
        at: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FrequencyArg {
    Daily,
    Weekly,
    /// One mail per digest.instant_window with the articles new in it
    Instant,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Pending,
    Active,
    Unsubscribed,
    Bouncing,
    Suppressed,
    Complained,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ListFormat {
    Table,
    Csv,
    Json,
}
