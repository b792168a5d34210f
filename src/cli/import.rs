//! `bantin subscribers import FILE`: a list of subscribers as people
//! export it from a spreadsheet or another mailing tool. Read as CSV with
//! the separator of its first line (`,`, `;` or tab), in UTF-8 or, by its
//! byte-order mark, UTF-16 (Excel's "Unicode Text"), else as Windows-1258
//! (Excel's "CSV" on a Vietnamese Windows, said); an optional header row
//! names the columns in any order, in the words other tools export them
//! with, and statuses in their words too (listmonk's, Mailchimp's). Each
//! bad row is named by its own line and skipped; the others are imported;
//! an address already there is left as it is.

use super::subscribers::topics_arg;
use crate::exit;
use bantin::state::{Frequency, NewSubscriber, StateStore, Status, normalize_address};
use chrono::{DateTime, Utc};
use std::process::ExitCode;

/// One CSV row as read, or why it cannot be imported.
fn import_row(record: &csv::StringRecord, columns: &Columns, now: DateTime<Utc>) -> Result<NewSubscriber, String> {
    let field = |i: Option<usize>| i.and_then(|i| record.get(i)).map(str::trim).unwrap_or("");
    let raw = field(Some(columns.email));
    let email = normalize_address(address_of(raw)).map_err(|why| format!("the address {raw:?} {why}"))?;
    let frequency = match field(columns.frequency) {
        "" => Frequency::Daily,
        f => Frequency::parse(f).ok_or_else(|| format!("frequency {f:?} is not daily, weekly or instant"))?,
    };
    let status = match field(columns.status) {
        // Mailchimp's exports of cleaned (bounced) and unsubscribed
        // contacts say so by a time, not a status: such a list imported as
        // active would mail people who left.
        "" if !field(columns.cleaned_at).is_empty() => Status::Suppressed,
        "" if !field(columns.unsubscribed_at).is_empty() => Status::Unsubscribed,
        "" => Status::Active,
        s => status_of(s).ok_or_else(|| {
            format!("status {s:?} is not one of pending, active, unsubscribed, bouncing, suppressed, complained (or another tool's word for one: {})", OTHER_STATUS_WORDS.map(|(word, _)| word).join(", "))
        })?,
    };
    let topics = topics_arg(Some(field(columns.topics)));
    Ok(NewSubscriber { email, topics, frequency, status, now })
}

/// The address in a cell: the cell, or the `<…>` of a mailbox as Outlook
/// and Gmail copy one (`Nguyễn Văn Chí <chi@example.vn>`).
fn address_of(cell: &str) -> &str {
    match cell.strip_suffix('>').and_then(|mailbox| mailbox.rsplit_once('<')) {
        Some((_, address)) => address,
        None => cell,
    }
}

/// The status words other tools export, as bantin's statuses: listmonk's
/// (`enabled`, `disabled`, `blocklisted`: never mailed, not even a
/// confirmation, until lifted), Mailchimp's and MailPoet's.
const OTHER_STATUS_WORDS: [(&str, Status); 8] = [
    ("enabled", Status::Active),
    ("subscribed", Status::Active),
    ("unconfirmed", Status::Pending),
    ("disabled", Status::Unsubscribed),
    ("inactive", Status::Unsubscribed),
    ("blocklisted", Status::Suppressed),
    ("cleaned", Status::Suppressed),
    ("bounced", Status::Suppressed),
];

fn status_of(word: &str) -> Option<Status> {
    let word = word.to_lowercase();
    Status::parse(&word).or_else(|| OTHER_STATUS_WORDS.iter().find(|(other, _)| *other == word).map(|&(_, status)| status))
}

struct Columns {
    email: usize,
    topics: Option<usize>,
    frequency: Option<usize>,
    status: Option<usize>,
    /// Mailchimp's `UNSUB_TIME` and `CLEAN_TIME`: a row with one left the
    /// list (unsubscribed) or bounced (cleaned), unless a status says more.
    unsubscribed_at: Option<usize>,
    cleaned_at: Option<usize>,
}

/// The names a header row may give each column, as other tools export
/// them (Mailchimp's "Email Address", Outlook's "E-mail Address") and as a
/// Vietnamese editor would head them; compared without case, with `_` as a
/// space.
const EMAIL_NAMES: [&str; 7] = ["email", "e-mail", "email address", "e-mail address", "mail", "địa chỉ email", "thư điện tử"];
const TOPICS_NAMES: [&str; 3] = ["topics", "chủ đề", "chuyên mục"];
const FREQUENCY_NAMES: [&str; 2] = ["frequency", "tần suất"];
const STATUS_NAMES: [&str; 2] = ["status", "trạng thái"];

impl Columns {
    /// The columns a header row names, or `None` when `record` is no
    /// header (no cell names the address column).
    fn of_header(record: &csv::StringRecord) -> Option<Columns> {
        let cells: Vec<String> = record.iter().map(|f| bantin::text::clean_line(&f.replace('_', " ")).to_lowercase()).collect();
        let find = |names: &[&str]| cells.iter().position(|c| names.contains(&c.as_str()));
        Some(Columns {
            email: find(&EMAIL_NAMES)?,
            topics: find(&TOPICS_NAMES),
            frequency: find(&FREQUENCY_NAMES),
            status: find(&STATUS_NAMES),
            unsubscribed_at: find(&["unsub time"]),
            cleaned_at: find(&["clean time"]),
        })
    }
}

/// The field separator of a CSV file, read off its first line: `,`, `;`
/// (Excel's, where the decimal mark is a comma: a Vietnamese or most
/// European Windows) or a tab, whichever occurs most outside quotes; a
/// comma when none does (one column).
fn delimiter_of(text: &[u8]) -> u8 {
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &b in first {
        quoted ^= b == b'"';
        if let Some(count) = counts.iter_mut().find(|(d, _)| *d == b && !quoted) {
            count.1 += 1;
        }
    }
    // The first of the most frequent: a comma wins a tie.
    counts.iter().fold((b',', 0), |best, &(d, n)| if n > best.1 { (d, n) } else { best }).0
}

/// The line a record starts on, from its byte offset, counted once through
/// the file (offsets only grow). Not the csv crate's own line: after a CRLF
/// line end it counts the `\n` only as the next record begins, so every
/// row of an Excel file was named by the line before it.
struct LineNumbers<'t> {
    text: &'t [u8],
    counted_to: usize,
    line: u64,
}

impl LineNumbers<'_> {
    fn at(&mut self, byte: u64) -> u64 {
        // Through the record's first byte: a record that begins at the
        // `\n` of a CRLF begins on the line after it.
        let end = usize::try_from(byte).map_or(self.text.len(), |b| b.saturating_add(1)).min(self.text.len());
        if end > self.counted_to {
            self.line += self.text[self.counted_to..end].iter().filter(|&&b| b == b'\n').count() as u64;
            self.counted_to = end;
        }
        self.line
    }
}

pub(super) async fn import(state: &StateStore, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bantin: {}: cannot read: {e}", file.display());
            return Ok(ExitCode::from(exit::IOERR));
        }
    };
    // Excel's "CSV UTF-8" starts with a byte-order mark, which would be
    // part of the first column's name; its "Unicode Text" is UTF-16.
    let text = match bantin::text::unmarked_utf8(&bytes) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("bantin: {}: {e}; save the list as \"CSV UTF-8\" or fix the character", file.display());
            return Ok(ExitCode::from(exit::DATAERR));
        }
    };
    // Excel's plain "CSV" is in the system's code page: on a Vietnamese
    // Windows, Windows-1258. Not UTF-8 with no mark: read as that, and say so.
    let text = match std::str::from_utf8(&text) {
        Ok(_) => text,
        Err(_) => {
            eprintln!(
                "bantin: {}: not UTF-8; read as Windows-1258 (Excel's \"CSV\" on a Vietnamese Windows). \
                 If names or topics look wrong, save the list as \"CSV UTF-8\" and import it again",
                file.display()
            );
            std::borrow::Cow::Owned(bantin::text::from_windows_1258(&text).into_bytes())
        }
    };
    let text = text.as_ref();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter_of(text)).from_reader(text);
    let now = Utc::now();
    let (mut added, mut present, mut blocked, mut bad) = (0usize, 0usize, 0usize, 0usize);
    let mut columns = Columns { email: 0, topics: Some(1), frequency: Some(2), status: Some(3), unsubscribed_at: None, cleaned_at: None };
    let mut lines = LineNumbers { text, counted_to: 0, line: 1 };
    for (i, record) in reader.records().enumerate() {
        let position = match &record {
            Ok(r) => r.position(),
            Err(e) => e.position(),
        };
        let line = position.map_or(i as u64 + 1, |p| lines.at(p.byte()));
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{}:{line}: skipped: {e}", file.display());
                bad += 1;
                continue;
            }
        };
        if i == 0
            && let Some(named) = Columns::of_header(&record)
        {
            // A header row: the columns by name, in any order.
            columns = named;
            continue;
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        match import_row(&record, &columns, now) {
            Ok(new) => {
                let (sub, inserted) = state.insert_subscriber(&new).await?;
                if inserted {
                    added += 1;
                } else {
                    present += 1;
                    // A list bought back in must not undo a bounce or a complaint.
                    blocked += usize::from(sub.status.never_mailed());
                }
            }
            Err(why) => {
                eprintln!("{}:{line}: skipped: {why}", file.display());
                bad += 1;
            }
        }
    }
    println!(
        "imported {added} subscribers; {present} were already there (left unchanged; {blocked} of them suppressed or \
         complained, kept so); {bad} rows skipped"
    );
    Ok(if bad > 0 { ExitCode::from(exit::DATAERR) } else { ExitCode::SUCCESS })
}
