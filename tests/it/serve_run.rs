//! `bantin serve` as a library call (issue 18): `serve::run` started
//! in-process on a listener of the test's, told to reload and to stop
//! through a `Control` made of the test's own channels, as `main.rs` makes
//! one of the process's signals. What the real binary does with signals,
//! exit codes and systemd is the real suites' (`tests/real/serve/`).

use crate::support::harness::{body_of, get, status_of, write_config};
use crate::support::mailtest::refusing_port;
use bantin::serve::{self, Control, Options};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// GET `path` until it answers 200 and `ok` holds, or `limit` passes.
fn wait_for(addr: SocketAddr, path: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let answer = get(addr, path);
        if status_of(&answer) == 200 && ok(body_of(&answer)) {
            return answer;
        }
        assert!(started.elapsed() < limit, "{path} did not answer as expected within {limit:?}; last answer:\n{answer}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_run_serves_reloads_and_stops_on_its_control() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::common::example_store();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // The relay is down: the service serves feeds anyway (mail waits).
    let (_refusing, relay) = rt.block_on(async { refusing_port() });
    let config = write_config(dir.path(), &store, &format!("smtp://{relay}"), "");
    let settings = bantin::config::load(&config).expect("the test config is valid");
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (reload, reloads) = tokio::sync::mpsc::unbounded_channel();
    let control = Control::new(
        async move {
            let _ = stopped.await;
        },
        reloads,
    );
    let running = rt.spawn(serve::run(settings.clone(), listener, control, Options::default()));

    let feed = wait_for(addr, "/feed.xml", Duration::from_secs(60), |b| b.contains("<rss"));
    assert!(body_of(&feed).contains(&settings.site.title), "the site feed carries the site's title");

    // A reload applies what may change at run time (the site's title in
    // every feed) and keeps what needs a restart (the listening address).
    let mut new = settings.clone();
    new.site.title = "Bản tin sau khi nạp lại".into();
    new.http.listen = "127.0.0.1:1".parse().unwrap();
    reload.send(new).unwrap();
    wait_for(addr, "/feed.xml", Duration::from_secs(30), |b| b.contains("Bản tin sau khi nạp lại"));

    stop.send(()).unwrap();
    let result = rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), running).await });
    let outcome = result.expect("serve::run returns within 15 s of the stop").expect("the service task did not panic");
    assert!(outcome.is_ok(), "serve::run ends with Ok after a stop: {outcome:?}");
    assert!(get(addr, "/feed.xml").is_empty(), "nothing listens after the stop");
    rt.shutdown_timeout(Duration::from_secs(1));
}
