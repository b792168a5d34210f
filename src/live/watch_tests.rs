//! Unit tests of the store watcher (`watch.rs`): the debouncing of
//! [`Settle`], and real inotify watches on a temporary folder.

use super::*;

const WINDOW: Duration = Duration::from_millis(200);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_path_settles_one_window_after_its_last_event() {
    let t0 = Instant::now();
    let mut s = Settle::new(WINDOW);
    s.note("a.md".into(), t0);
    s.note("a.md".into(), t0 + ms(150));
    // The first event's deadline is stale: no wake-up for it.
    assert_eq!(s.deadline(), Some(t0 + ms(350)));
    assert!(s.due(t0 + ms(200)).is_empty());
    assert!(s.due(t0 + ms(349)).is_empty());
    assert_eq!(s.due(t0 + ms(350)), vec![PathBuf::from("a.md")]);
    assert!(s.is_empty());
    assert_eq!(s.deadline(), None);
}

#[test]
fn paths_settle_on_their_own_and_together_when_due_together() {
    let t0 = Instant::now();
    let mut s = Settle::new(WINDOW);
    s.note("a.md".into(), t0);
    s.note("b.md".into(), t0 + ms(5));
    s.note("c.md".into(), t0 + ms(100));
    assert_eq!(s.due(t0 + ms(204)), vec![PathBuf::from("a.md")]);
    // Late (a busy runtime): everything due by then, in order, once.
    assert_eq!(s.due(t0 + ms(400)), vec![PathBuf::from("b.md"), PathBuf::from("c.md")]);
    assert!(s.due(t0 + ms(900)).is_empty());
    assert!(s.is_empty());
}

#[test]
fn a_path_noted_again_after_settling_waits_again() {
    let t0 = Instant::now();
    let mut s = Settle::new(WINDOW);
    s.note("a.md".into(), t0);
    assert_eq!(s.due(t0 + ms(200)).len(), 1);
    s.note("a.md".into(), t0 + ms(300));
    assert!(s.due(t0 + ms(499)).is_empty());
    assert_eq!(s.due(t0 + ms(500)), vec![PathBuf::from("a.md")]);
}

#[test]
fn the_next_deadline_is_always_a_path_that_can_settle() {
    let t0 = Instant::now();
    let mut s = Settle::new(WINDOW);
    s.note("a.md".into(), t0);
    s.note("b.md".into(), t0 + ms(10));
    for i in 1..100 {
        s.note("a.md".into(), t0 + ms(10 + i));
    }
    // b's window ends first; a's hundred older entries wake nobody.
    assert_eq!(s.deadline(), Some(t0 + ms(210)));
    assert_eq!(s.due(t0 + ms(210)), vec![PathBuf::from("b.md")]);
    assert_eq!(s.deadline(), Some(t0 + ms(309)));
    assert_eq!(s.due(t0 + ms(309)), vec![PathBuf::from("a.md")]);
    assert_eq!(s.deadline(), None);
}

#[test]
fn a_zero_window_hands_paths_on_at_once() {
    let t0 = Instant::now();
    let mut s = Settle::new(Duration::ZERO);
    s.note("a.md".into(), t0);
    assert_eq!(s.deadline(), Some(t0));
    assert_eq!(s.due(t0), vec![PathBuf::from("a.md")]);
}

#[test]
fn an_event_stamped_out_of_order_keeps_the_queue_in_order() {
    // Two watchers overlap for a moment when the store folder comes back.
    let t0 = Instant::now();
    let mut s = Settle::new(WINDOW);
    s.note("a.md".into(), t0 + ms(50));
    s.note("b.md".into(), t0);
    assert_eq!(s.deadline(), Some(t0 + ms(250)));
    assert_eq!(s.due(t0 + ms(250)), vec![PathBuf::from("a.md"), PathBuf::from("b.md")]);
}

/// Waits for `Changed` commands until one names `want`; returns every path
/// named on the way. Panics after 5 s: the event never came.
async fn changed_until(rx: &mut mpsc::UnboundedReceiver<Command>, want: &Path) -> Vec<PathBuf> {
    let mut seen = Vec::new();
    let wait = async {
        while let Some(command) = rx.recv().await {
            if let Command::Changed(paths) = command {
                let found = paths.iter().any(|p| p == want);
                seen.extend(paths);
                if found {
                    return;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .unwrap_or_else(|_| panic!("no event for {} (saw {seen:?})", want.display()));
    seen
}

/// Regression (issue 24, the 1M start): the store is watched one folder at
/// a time instead of by notify's recursive mode, which stat'ed every file.
/// Folders present at start, created later or moved in (with folders of
/// their own) are all watched; hidden ones are not.
#[tokio::test]
async fn every_folder_of_the_store_is_watched_and_new_ones_too() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    let settings = WatchSettings { root: root.clone(), debounce: ms(30), rescan: Duration::from_secs(3600) };
    let started = start(&settings);
    assert!(started.inner.is_some(), "the store is watched");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(run(settings, started, tx, shutdown));

    std::fs::write(root.join("a/b/x.md"), "x").unwrap();
    changed_until(&mut rx, &root.join("a/b/x.md")).await;

    std::fs::create_dir(root.join("c")).unwrap();
    changed_until(&mut rx, &root.join("c")).await;
    std::fs::write(root.join("c/y.md"), "y").unwrap();
    changed_until(&mut rx, &root.join("c/y.md")).await;

    let outside = dir.path().join("m");
    std::fs::create_dir_all(outside.join("n")).unwrap();
    std::fs::rename(&outside, root.join("m")).unwrap();
    changed_until(&mut rx, &root.join("m")).await;
    std::fs::write(root.join("m/n/z.md"), "z").unwrap();
    changed_until(&mut rx, &root.join("m/n/z.md")).await;

    std::fs::write(root.join(".git/h.md"), "h").unwrap();
    std::fs::write(root.join("a/w.md"), "w").unwrap();
    let seen = changed_until(&mut rx, &root.join("a/w.md")).await;
    assert!(!seen.iter().any(|p| p.starts_with(root.join(".git"))), "a hidden folder is not watched: {seen:?}");

    stop.send(true).unwrap();
    task.await.unwrap();
}

/// Events made before the task runs (while the store loads) wait in the
/// kernel's queue; more than it holds are one rescan, not lost changes.
#[tokio::test]
async fn a_full_kernel_queue_while_the_store_loads_is_a_rescan() {
    let dir = tempfile::tempdir().unwrap();
    let limit: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events").unwrap().trim().parse().unwrap();
    let settings = WatchSettings { root: dir.path().to_path_buf(), debounce: ms(30), rescan: Duration::from_secs(3600) };
    let started = start(&settings);
    // Each file created and closed is two events (create, close after writing).
    for i in 0..limit / 2 + 10 {
        std::fs::File::create(dir.path().join(format!("{i}.md"))).unwrap();
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(run(settings, started, tx, shutdown));
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap();
    assert!(matches!(first, Some(Command::Rescan("the watcher lost events"))), "got {first:?}");
    stop.send(true).unwrap();
    task.await.unwrap();
}
