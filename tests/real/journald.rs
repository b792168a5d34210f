//! Under systemd, bantin logs to journald natively: when stderr is the
//! journal stream that `JOURNAL_STREAM` names, each event is one journal
//! entry with its level's PRIORITY and its fields as `BANTIN_…` fields;
//! elsewhere (a pipe, a terminal, a stale `JOURNAL_STREAM`) it writes text
//! as before. Run against a real systemd-journald (the machine's, or one
//! this test starts: Debian package `systemd`), with `systemd-cat` giving
//! bantin a journal stream as its stderr, as systemd does for a service.

use crate::support::harness::write_config;
use serde_json::Value;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const JOURNALD: &str = "/lib/systemd/systemd-journald";
const SOCKET: &str = "/run/systemd/journal/socket";

/// The machine's journald, or one started here (killed when dropped).
struct Journald(Option<Child>);

impl Drop for Journald {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn journald() -> Option<Journald> {
    let answers = || UnixDatagram::unbound().and_then(|s| s.connect(SOCKET)).is_ok();
    if answers() {
        return Some(Journald(None));
    }
    if !std::path::Path::new(JOURNALD).exists() {
        return None;
    }
    let child = Command::new(JOURNALD).stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok()?;
    let journal = Journald(Some(child));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answers() {
        assert!(Instant::now() < deadline, "systemd-journald started but {SOCKET} does not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(journal)
}

/// The journal entries of process `pid`, as journalctl's JSON objects.
fn entries(pid: u32) -> Vec<Value> {
    let out = Command::new("journalctl").args(["-o", "json", "--no-pager", &format!("_PID={pid}")]).output().expect("journalctl runs");
    String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn field<'a>(entry: &'a Value, name: &str) -> &'a str {
    entry.get(name).and_then(Value::as_str).unwrap_or("")
}

/// Runs `bantin serve` with its stderr a journal stream, `JOURNAL_STREAM`
/// set to that stream when `announce` (as systemd does), until it logs that
/// it listens; returns its entries.
fn serve_into_journal(config: &std::path::Path, announce: bool) -> Vec<Value> {
    let script = if announce {
        r#"JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$0" "$@""#
    } else {
        r#"unset JOURNAL_STREAM; exec "$0" "$@""#
    };
    let mut child = Command::new("systemd-cat")
        .args(["-t", "bantin-journald-test", "sh", "-c", script, env!("CARGO_BIN_EXE_bantin"), "serve", "--config"])
        .arg(config)
        .env("BANTIN_LOG", "info")
        .env_remove("BANTIN_LOG_FORMAT")
        .env_remove("NOTIFY_SOCKET")
        .spawn()
        .expect("systemd-cat runs (Debian package systemd)");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        seen = entries(pid);
        if seen.iter().any(|e| field(e, "MESSAGE").contains("listening on")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    seen
}

fn scene() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("articles");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("tot.md"), "+++\ntitle = \"Tin tốt\"\ndate = 2026-11-01T08:00:00+07:00\n+++\nNội dung.\n").unwrap();
    std::fs::write(store.join("thieu-ngay.md"), "+++\ntitle = \"Thiếu ngày\"\n+++\nNội dung.\n").unwrap();
    let config = write_config(dir.path(), &store, "smtp://127.0.0.1:9", "");
    (dir, config)
}

/// One test for both cases: a journald this test starts must be the only one.
#[test]
fn serve_logs_native_journal_entries_only_when_stderr_is_the_journal() {
    let Some(_journal) = journald() else {
        eprintln!("SKIPPED: no journald socket and no {JOURNALD} (Debian package systemd)");
        return;
    };
    let (_dir, config) = scene();
    under_a_journal_stream_entries_have_priority_and_fields(&config);
    without_journal_stream_lines_are_text(&config);
}

fn under_a_journal_stream_entries_have_priority_and_fields(config: &std::path::Path) {
    let log = serve_into_journal(config, true);
    let dump = || log.iter().map(|e| format!("{} {} {}", field(e, "_TRANSPORT"), field(e, "PRIORITY"), field(e, "MESSAGE"))).collect::<Vec<_>>().join("\n");
    let listening = log.iter().find(|e| field(e, "MESSAGE").contains("listening on")).unwrap_or_else(|| panic!("no `listening on` entry:\n{}", dump()));
    assert_eq!(field(listening, "_TRANSPORT"), "journal", "a native entry, not a text line:\n{}", dump());
    assert_eq!(field(listening, "PRIORITY"), "5", "INFO is journald's notice (5)");
    assert_eq!(field(listening, "SYSLOG_IDENTIFIER"), "bantin");
    let skipped = log.iter().find(|e| field(e, "MESSAGE").contains("thieu-ngay.md")).unwrap_or_else(|| panic!("no entry for the bad article:\n{}", dump()));
    assert_eq!(field(skipped, "PRIORITY"), "4", "a skipped article is a warning (4)");
    assert!(field(skipped, "MESSAGE").contains("no publication date"), "{}", field(skipped, "MESSAGE"));
    let published = log.iter().find(|e| field(e, "MESSAGE") == "feeds published").unwrap_or_else(|| panic!("no `feeds published`:\n{}", dump()));
    assert_eq!(field(published, "BANTIN_ARTICLES"), "1", "an event's fields are BANTIN_ fields: {published}");
    assert_eq!(field(published, "BANTIN_ERRORS"), "1", "{published}");
    assert!(log.iter().all(|e| field(e, "_TRANSPORT") == "journal"), "no text line on the stream:\n{}", dump());
}

fn without_journal_stream_lines_are_text(config: &std::path::Path) {
    let log = serve_into_journal(config, false);
    let listening = log.iter().find(|e| field(e, "MESSAGE").contains("listening on")).expect("a `listening on` line");
    assert_eq!(field(listening, "_TRANSPORT"), "stdout", "stderr's text, read by journald as a stream");
    assert!(log.iter().all(|e| e.get("BANTIN_ARTICLES").is_none()), "no native fields without JOURNAL_STREAM");
}
