//! Store faults against the real `bantin serve` (and `bantin check`):
//! invalid UTF-8, a binary file, a 50 MB file, an unreadable file, a
//! symbolic-link loop, a dangling link, a FIFO named like an article, files
//! deleted between their event and their read, the store folder removed and
//! recreated, and 10,000 changes in one burst.
//!
//! Expected: each bad file named with its reason in the log, in `bantin
//! check` and counted in `/metrics`; every good article served; no panic;
//! memory bounded. The server runs as `nobody` when the test runs as root,
//! since root reads files whatever their mode.

use crate::support::harness;

use crate::support::serve::Serve;
use harness::{body_of, get, metric};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const GOOD: usize = 20;
const BURST: usize = 10_000;
const NOBODY: u32 = 65534;

fn article(title: &str, day: usize) -> String {
    format!(
        "+++\ntitle = \"{title}\"\ndate = \"2026-01-{:02}T08:00:00+07:00\"\ncategories = [\"Thời sự\"]\n+++\n\nNội dung {title}.\n",
        day % 28 + 1
    )
}

fn open_to_all(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `/healthz` as JSON.
fn health(serve: &Serve) -> serde_json::Value {
    let answer = get(serve.addr, "/healthz");
    serde_json::from_str(body_of(&answer).trim()).unwrap_or(serde_json::Value::Null)
}

/// Waits until `pred` holds for `/healthz`, failing with the log.
fn until_health(serve: &Serve, what: &str, limit: Duration, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let h = health(serve);
        if pred(&h) {
            return h;
        }
        assert!(Instant::now() < deadline, "{what}: /healthz is {h}; log:\n{}", serve.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo (coreutils)");
    assert!(status.success());
}

#[test]
fn store_faults_are_reported_with_path_and_reason_and_every_good_article_is_served() {
    let _exclusive = crate::support::exclusive();
    let as_root = unsafe { libc::geteuid() } == 0;
    let user = as_root.then_some(NOBODY);
    let dir = tempfile::tempdir().unwrap();
    open_to_all(dir.path(), 0o755);
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    open_to_all(&store, 0o777);
    std::fs::create_dir(dir.path().join("state")).unwrap();
    open_to_all(&dir.path().join("state"), 0o777);
    for i in 0..GOOD {
        std::fs::write(store.join(format!("good-{i:02}.md")), article(&format!("Bài tốt số {i}"), i)).unwrap();
    }

    // The bad files present at start, each with the reason it must get.
    let mut bad_utf8 = b"+++\ntitle = \"Ti\xeau \xf0\x28 \xff\"\ndate = \"2026-01-02T08:00:00+07:00\"\n+++\nx\n".to_vec();
    bad_utf8.extend_from_slice(b"\n");
    std::fs::write(store.join("bad-utf8.md"), &bad_utf8).unwrap();
    std::fs::write(store.join("binary.md"), b"+++\x00\x01\x02PNG\x00\x00IHDR").unwrap();
    let huge = std::fs::File::create(store.join("huge.md")).unwrap();
    huge.set_len(50 * 1024 * 1024).unwrap();
    drop(huge);
    std::fs::write(store.join("unreadable.md"), article("Không đọc được", 3)).unwrap();
    open_to_all(&store.join("unreadable.md"), 0o000);
    std::os::unix::fs::symlink(".", store.join("loop")).unwrap();
    std::os::unix::fs::symlink("nowhere.md", store.join("dangling.md")).unwrap();
    mkfifo(&store.join("fifo.md"));
    let expected: Vec<(&str, &str)> = vec![
        ("bad-utf8.md", "not valid UTF-8"),
        ("binary.md", "binary file"),
        ("huge.md", "larger than"),
        ("loop", "symbolic link loop"),
        ("dangling.md", "No such file"),
        ("fifo.md", "not a regular file"),
        ("unreadable.md", "Permission denied"),
    ];
    let faults_at_start = expected.len();

    let config = harness::write_config(dir.path(), &store, "smtp://127.0.0.1:9", "");
    open_to_all(&config, 0o644);
    let mut serve = Serve::start_as(&config, user);
    let h = until_health(&serve, "start", Duration::from_secs(30), |h| h["status"] == "ok");
    assert_eq!(h["articles"], GOOD, "every good article is in the catalog: {h}");
    assert_eq!(h["errors"], faults_at_start, "every bad file is counted: {h}");

    // The log names each file and why.
    let log = serve.log();
    for (file, reason) in &expected {
        assert!(
            log.lines().any(|l| l.contains(file) && l.contains(reason)),
            "the log does not say `{file}: …{reason}…`:\n{log}"
        );
    }
    // /metrics counts them.
    let metrics = get(serve.addr, "/metrics");
    assert_eq!(metric(body_of(&metrics), "bantin_catalog_article_errors"), Some(faults_at_start as f64), "{metrics}");
    // The feed has every good article.
    let feed = get(serve.addr, "/feed.json");
    for i in 0..GOOD {
        assert!(feed.contains(&format!("Bài tốt số {i}\"")), "article {i} missing from /feed.json");
    }

    // `bantin check` reports the same files with their paths.
    let mut check = Command::new(env!("CARGO_BIN_EXE_bantin"));
    check.args(["check", "--config"]).arg(&config);
    if let Some(uid) = user {
        std::os::unix::process::CommandExt::uid(&mut check, uid);
        std::os::unix::process::CommandExt::gid(&mut check, uid);
    }
    let out = check.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (file, reason) in &expected {
        let path = store.join(file).display().to_string();
        assert!(
            stdout.lines().any(|l| l.starts_with("error: ") && l.contains(&path) && l.contains(reason)),
            "bantin check does not report {path} ({reason}):\n{stdout}"
        );
    }
    assert!(stdout.contains(&format!("{GOOD} articles read")), "{stdout}");
    let mut faults = faults_at_start;

    // A FIFO that appears while serving must not stall the service: the
    // article written after it is served.
    mkfifo(&store.join("late-fifo.md"));
    std::fs::write(store.join("after-fifo.md"), article("Sau FIFO", 5)).unwrap();
    faults += 1;
    until_health(&serve, "after a FIFO appeared", Duration::from_secs(20), |h| h["articles"] == GOOD + 1 && h["errors"] == faults_at_start + 1);

    // Files deleted between their event and their read.
    let churn = 300;
    for i in 0..churn {
        let p = store.join(format!("brief-{i}.md"));
        std::fs::write(&p, article("Chớp nhoáng", i)).unwrap();
        std::fs::remove_file(&p).unwrap();
    }
    faults += churn;
    std::fs::write(store.join("after-churn.md"), article("Sau khi xoá", 6)).unwrap();
    until_health(&serve, "after the churn", Duration::from_secs(20), |h| h["articles"] == GOOD + 2 && h["errors"] == faults_at_start + 1);

    // 10,000 changes in one burst.
    let burst = store.join("burst");
    std::fs::create_dir(&burst).unwrap();
    open_to_all(&burst, 0o777);
    let t0 = Instant::now();
    for i in 0..BURST {
        std::fs::write(burst.join(format!("b{i:05}.md")), article(&format!("Loạt {i}"), i)).unwrap();
    }
    faults += BURST;
    until_health(&serve, "after the burst", Duration::from_secs(120), |h| h["articles"] == GOOD + 2 + BURST);
    let burst_seconds = t0.elapsed().as_secs_f64();

    // The store folder removed and recreated with fewer articles.
    let (_, peak_before_swap) = serve.memory_kib();
    std::fs::rename(&store, dir.path().join("store.old")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let served = until_health(&serve, "store gone", Duration::from_secs(5), |h| h["status"] == "ok");
    assert_eq!(served["articles"], GOOD + 2 + BURST, "a missing store keeps the last catalog");
    std::fs::create_dir(&store).unwrap();
    open_to_all(&store, 0o777);
    for i in 0..5 {
        std::fs::write(store.join(format!("new-{i}.md")), article(&format!("Kho mới {i}"), i)).unwrap();
    }
    std::fs::write(store.join("bad-again.md"), b"\xff\xfe").unwrap();
    faults += 2;
    until_health(&serve, "store recreated", Duration::from_secs(30), |h| h["articles"] == 5 && h["errors"] == 1);

    let (rss, peak) = serve.memory_kib();
    let log = serve.log();
    let panics = harness::panics(&log);
    assert!(serve.alive(), "bantin serve died:\n{log}");
    assert_eq!(panics, 0, "{log}");
    // 10,020 small articles and one 50 MB file that is never read: far
    // below 512 MiB.
    assert!(peak < 512 * 1024, "peak RSS {peak} KiB");
    harness::figures(
        "store faults",
        &format!(
            "faults injected {faults}, bad files reported {faults_at_start}+2 (log, check, metrics), \
             burst of {BURST} served in {burst_seconds:.1} s, RSS {} MiB (peak {} MiB, {} MiB before the swap), panics {panics}",
            rss / 1024,
            peak / 1024,
            peak_before_swap / 1024
        ),
    );
}

/// Regression: a FIFO named like an article (`mkfifo news.md`) blocked the
/// reader until someone wrote to it, stalling every later store change.
#[test]
fn a_fifo_named_like_an_article_is_reported_not_read() {
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("news.md"));
    let ctx = bantin::store::Context::new(chrono_tz::Asia::Ho_Chi_Minh, "https://portal.example.org/".parse().unwrap(), "tin-tuc/{slug}");
    let (tx, rx) = std::sync::mpsc::channel();
    let root = dir.path().to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(bantin::store::dir::scan(&root, &ctx).errors);
    });
    let errors = rx.recv_timeout(Duration::from_secs(10)).expect("reading a store with a FIFO in it blocks");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].origin, "news.md");
    assert!(errors[0].reason.contains("not a regular file"), "{}", errors[0].reason);
}
