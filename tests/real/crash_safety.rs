//! Crash safety of the real binary: `bantin digest run` killed with SIGKILL
//! at seeded random moments (20 trials, each a new period with a new
//! article), `bantin serve` killed while it reads the store, and the state
//! database on a full disk (a small tmpfs).
//!
//! Expected: the SQLite state database passes `PRAGMA integrity_check`
//! after every kill; every subscriber gets each period's digest exactly
//! once, except messages in flight at the kill (accepted by the server,
//! not yet marked sent: at most `mail.connections` per kill, counted and
//! printed); a full disk gives a clear error and the next run, once space
//! is back, delivers everything once.
//!
//! CI runs 100 subscribers; `BANTIN_LONG_TESTS=1` runs 1,000.

use crate::support::harness;
use crate::support::mailtest;

use crate::support::serve::Serve;
use harness::bantin;
use mailtest::smtp::SmtpServer;
use sqlx::Connection;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRIALS: usize = 20;
const CONNECTIONS: usize = 4;
const SEED: u64 = 0xBA57_1DC0_FFEE_2026;

fn long() -> bool {
    std::env::var_os("BANTIN_LONG_TESTS").is_some_and(|v| v != "0")
}

/// xorshift64*: a fixed seed gives the same kill moments every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn import(cfg: &Path, dir: &Path, n: usize) {
    let csv = dir.join("subscribers.csv");
    let mut rows = String::from("email,frequency,status\n");
    for i in 0..n {
        rows.push_str(&format!("reader{i:04}@example.org,daily,active\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    let out = bantin(cfg).args(["subscribers", "import"]).arg(&csv).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn article(day: u32) -> String {
    format!(
        "+++\ntitle = \"Tin ngày {day} tháng 9\"\ndate = \"2026-09-{day:02}T06:00:00+07:00\"\ncategories = [\"Thời sự\"]\n+++\n\nNội dung ngày {day}.\n"
    )
}

/// `PRAGMA integrity_check` and `foreign_key_check` of the SQLite file.
fn integrity(rt: &tokio::runtime::Runtime, db: &Path) -> String {
    rt.block_on(async {
        let url = format!("sqlite://{}", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open the state database");
        let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await.unwrap();
        let fk: Vec<sqlx::sqlite::SqliteRow> = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut conn).await.unwrap();
        let _ = conn.close().await;
        if fk.is_empty() { check } else { format!("{check}; {} foreign key violations", fk.len()) }
    })
}

/// Copies of each Message-ID among the mails the server received after
/// the first `skip`.
fn copies(smtp: &SmtpServer, skip: usize) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for m in smtp.received().into_iter().skip(skip) {
        let text = String::from_utf8_lossy(&m.data);
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: ").or_else(|| l.strip_prefix("Message-Id: ")))
            .unwrap_or("")
            .trim()
            .to_string();
        *out.entry(id).or_default() += 1;
    }
    out
}

#[test]
fn sigkill_at_seeded_random_points_of_20_digest_runs_never_corrupts_or_loses() {
    let _exclusive = crate::support::exclusive();
    let subscribers = if long() { 1000 } else { 100 };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let smtp = rt.block_on(SmtpServer::start());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let cfg = mailtest::write_config(
        dir.path(),
        &store,
        &smtp.url(),
        "https://bantin.example.org/",
        &format!("max_per_second = 400\nconnections = {CONNECTIONS}"),
    );
    import(&cfg, dir.path(), subscribers);
    let db = dir.path().join("state/bantin.db");
    let mut rng = Rng(SEED);
    let (mut mid_run, mut in_flight_total, mut delivered_total) = (0, 0, 0);
    // The window the kill moment is drawn from: as long as one whole run
    // (start-up, planning, commit, sending), timed on a twin database with
    // the same subscribers and a period the trials do not use.
    let twin = tempfile::tempdir().unwrap();
    let twin_cfg = mailtest::write_config(twin.path(), &store, &smtp.url(), "https://bantin.example.org/", &format!("max_per_second = 400\nconnections = {CONNECTIONS}"));
    import(&twin_cfg, twin.path(), subscribers);
    std::fs::write(store.join("calibration.md"), article(15).replace("2026-09-15", "2026-10-15")).unwrap();
    let started = Instant::now();
    let out = bantin(&twin_cfg).args(["digest", "run", "--now", "--at", "2026-10-15T07:00:00+07:00"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let window_ms = started.elapsed().as_millis() as u64;
    for trial in 0..TRIALS {
        let day = trial as u32 + 1;
        std::fs::write(store.join(format!("day-{day:02}.md")), article(day)).unwrap();
        let at = format!("2026-09-{day:02}T07:00:00+07:00");
        let run = ["digest", "run", "--now", "--at", at.as_str()];
        let before = smtp.received().len();
        let delay = Duration::from_millis(rng.below(window_ms));
        let mut child = bantin(&cfg).args(run).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        std::thread::sleep(delay);
        let killed_mid_run = child.try_wait().unwrap().is_none();
        let _ = child.kill(); // SIGKILL
        let status = child.wait_with_output().unwrap();
        assert_eq!(harness::panics(&String::from_utf8_lossy(&status.stderr)), 0);
        mid_run += usize::from(killed_mid_run);
        let check = integrity(&rt, &db);
        assert_eq!(check, "ok", "trial {trial}: the state database after SIGKILL at {delay:?}");

        let out = bantin(&cfg).args(run).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "trial {trial}: the run after the kill failed: {stderr}");
        assert_eq!(harness::panics(&stderr), 0, "{stderr}");
        let per_id = copies(&smtp, before);
        let duplicates: usize = per_id.values().map(|n| n - 1).sum();
        assert_eq!(per_id.len(), subscribers, "trial {trial} (kill at {delay:?}): every subscriber gets the day's digest");
        assert!(duplicates <= CONNECTIONS, "trial {trial}: {duplicates} duplicates, at most {CONNECTIONS} can be in flight");
        in_flight_total += duplicates;
        delivered_total += per_id.len();
        assert_eq!(integrity(&rt, &db), "ok");
    }
    harness::figures(
        "crash: SIGKILL in digest runs",
        &format!(
            "trials {TRIALS} (seed {SEED:#x}, kill within a {window_ms} ms run, {mid_run} killed mid-run), messages expected {}, delivered {delivered_total}, \
             duplicated {in_flight_total} (in flight at the kill), integrity ok after every kill, panics 0",
            TRIALS * subscribers
        ),
    );
    assert!(mid_run >= TRIALS / 2, "most kills should land while the run works ({mid_run} of {TRIALS})");
}

#[test]
fn sigkill_while_serve_reads_the_store_leaves_a_sound_database_and_a_full_catalog() {
    let _exclusive = crate::support::exclusive();
    let articles = if long() { 10_000 } else { 2_000 };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    for i in 0..articles {
        let day = (i % 28) as u32 + 1;
        std::fs::write(store.join(format!("a{i:05}.md")), article(day).replace("Tin ngày", &format!("Tin {i} ngày"))).unwrap();
    }
    let cfg = harness::write_config(dir.path(), &store, "smtp://127.0.0.1:9", "");
    let db = dir.path().join("state/bantin.db");
    let mut rng = Rng(SEED ^ 1);
    let trials = 8;
    for trial in 0..trials {
        let delay = Duration::from_millis(rng.below(2500));
        let mut child = Command::new(env!("CARGO_BIN_EXE_bantin"))
            .args(["serve", "--config"])
            .arg(&cfg)
            .env("BANTIN_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // A rescan in progress: the store folder moved away and back.
        if trial % 2 == 1 {
            std::fs::rename(&store, dir.path().join("store.moved")).unwrap();
            std::fs::rename(dir.path().join("store.moved"), &store).unwrap();
            std::thread::sleep(Duration::from_millis(rng.below(300)));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        assert_eq!(harness::panics(&String::from_utf8_lossy(&out.stderr)), 0);
        if db.exists() {
            assert_eq!(integrity(&rt, &db), "ok", "trial {trial}: after SIGKILL at {delay:?}");
        }
    }
    let serve = Serve::start(&cfg);
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        let h: serde_json::Value = serde_json::from_str(harness::body_of(&harness::get(serve.addr, "/healthz")).trim()).unwrap_or_default();
        if h["articles"] == articles || Instant::now() > deadline {
            break h;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(health["articles"], articles, "{health}");
    assert_eq!(health["state"], "ok", "{health}");
    assert_eq!(harness::panics(&serve.log()), 0);
    drop(serve);
    assert_eq!(integrity(&rt, &db), "ok");
    harness::figures(
        "crash: SIGKILL while reading store",
        &format!("trials {trials} on {articles} articles (seed {:#x}), catalog complete after restart, integrity ok, panics 0", SEED ^ 1),
    );
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(at).output().map_err(|e| e.to_string())?;
        if out.status.success() { Ok(Tmpfs(at.to_path_buf())) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the file system under `dir` until it refuses more, leaving
/// `spare` bytes (roughly).
fn fill(dir: &Path, spare: usize) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5au8; 16 * 1024];
    while f.write_all(&chunk).is_ok() {}
    drop(f);
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len.saturating_sub(spare as u64)).unwrap();
    path
}

#[test]
fn a_full_disk_under_the_state_database_gives_a_clear_error_and_recovers() {
    let _exclusive = crate::support::exclusive();
    let subscribers = 300;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let smtp = rt.block_on(SmtpServer::start());
    let dir = tempfile::tempdir().unwrap();
    let tmpfs = match Tmpfs::mount(&dir.path().join("state"), "16m") {
        Ok(t) => t,
        Err(e) if std::env::var_os("CI").is_none() => {
            println!("SKIPPED: cannot mount a tmpfs for the disk-full test ({e}); run as root");
            return;
        }
        Err(e) => panic!("cannot mount a tmpfs for the disk-full test: {e}"),
    };
    let cfg = mailtest::write_config(dir.path(), &mailtest::examples(), &smtp.url(), "https://bantin.example.org/", "max_per_second = 1000");
    import(&cfg, dir.path(), subscribers);
    let filler = fill(&tmpfs.0, 64 * 1024);
    let run = ["digest", "run", "--now", "--at", "2026-08-31T07:00:00+07:00"];
    let out = bantin(&cfg).args(run).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "a full disk must fail the run");
    assert!(stderr.contains("full") || stderr.contains("No space left"), "the error says the disk is full:\n{stderr}");
    assert!(stderr.contains("bantin.db") || stderr.contains("state"), "the error names the state database:\n{stderr}");
    assert_eq!(harness::panics(&stderr), 0, "{stderr}");
    let sent_while_full = smtp.received().len();
    std::fs::remove_file(&filler).unwrap();
    let db = dir.path().join("state/bantin.db");
    assert_eq!(integrity(&rt, &db), "ok");
    let out = bantin(&cfg).args(run).output().unwrap();
    assert!(out.status.success(), "the run after space came back: {}", String::from_utf8_lossy(&out.stderr));
    let per_id = copies(&smtp, 0);
    let duplicates: usize = per_id.values().map(|n| n - 1).sum();
    assert_eq!(per_id.len(), subscribers, "every digest once space is back");
    assert_eq!(duplicates, 0);
    let first_line = stderr.lines().find(|l| l.contains("error")).unwrap_or("").to_string();
    harness::figures(
        "crash: disk full (tmpfs 16 MiB)",
        &format!(
            "faults injected 1, messages expected {subscribers}, sent while full {sent_while_full}, delivered {}, duplicated {duplicates}, panics 0; error: {first_line:.160}",
            per_id.len()
        ),
    );
}
