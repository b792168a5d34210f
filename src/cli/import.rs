//! `bantin subscribers import FILE`: a list of subscribers as people
//! export it from a spreadsheet or another mailing tool. Read as CSV with
//! the separator of its first line (`,`, `;` or tab), in UTF-8 or, by its
//! byte-order mark, UTF-16 (Excel's "Unicode Text"); an optional header row
//! names the columns in any order. Each bad row is named by its own line
//! and skipped; the others are imported; an address already there is left
//! as it is.

use super::subscribers::topics_arg;
use crate::exit;
use bantin::state::{Frequency, NewSubscriber, StateStore, Status, normalize_address};
use chrono::{DateTime, Utc};
use std::process::ExitCode;

/// One CSV row as read, or why it cannot be imported.
fn import_row(record: &csv::StringRecord, columns: &Columns, now: DateTime<Utc>) -> Result<NewSubscriber, String> {
    let field = |i: Option<usize>| i.and_then(|i| record.get(i)).map(str::trim).unwrap_or("");
    let raw = field(Some(columns.email));
    let email = normalize_address(raw).map_err(|why| format!("the address {raw:?} {why}"))?;
    let frequency = match field(columns.frequency) {
        "" => Frequency::Daily,
        f => Frequency::parse(f).ok_or_else(|| format!("frequency {f:?} is not daily, weekly or instant"))?,
    };
    let status = match field(columns.status) {
        "" => Status::Active,
        s => Status::parse(&s.to_ascii_lowercase()).ok_or_else(|| {
            format!("status {s:?} is not one of pending, active, unsubscribed, bouncing, suppressed, complained")
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
    let text = text.as_ref();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter_of(text)).from_reader(text);
    let now = Utc::now();
    let (mut added, mut present, mut blocked, mut bad) = (0usize, 0usize, 0usize, 0usize);
    let mut columns = Columns { email: 0, topics: Some(1), frequency: Some(2), status: Some(3) };
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
