//! `bantin serve` runs the subscription side too: the real binary serving
//! the form, the subscription routes, `/healthz` and `/metrics` over real
//! HTTP, mailing through a real SMTP server on loopback (tests/support/mailtest),
//! sharing its state database with a concurrent `bantin digest run`; on
//! both state backends.

use crate::support::mailtest;

use crate::support::serve::{free_port, Serve};
use mailtest::smtp::SmtpServer;
use mailtest::{link_with, parse, post_form, wait_for_mail, Backend, StateDb};
use std::process::Command;
use std::time::Duration;

fn gauge(metrics: &str, name: &str, status: &str) -> Option<i64> {
    let prefix = format!("{name}{{status=\"{status}\"}} ");
    metrics.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok())
}

async fn serve_subscribes_confirms_mails_a_digest_once_and_unsubscribes_in_one_click(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = mailtest::write_config_for(dir.path(), &db.url, &mailtest::examples(), &smtp.url(), &format!("{base}/"), "");
    let text = std::fs::read_to_string(&config).unwrap().replace("[http]\n", &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(&config, text).unwrap();
    let mut serve = Serve::start(&config);
    let client = reqwest::Client::new();

    // The index page carries the sign-up form, with a checkbox per category.
    let index = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let page = index.text().await.unwrap();
    assert!(page.contains("<html lang=\"vi\">"), "{page}");
    assert!(page.contains(&format!("<form method=\"post\" action=\"{base}/subscribe\"")), "{page}");
    assert!(page.contains("<label for=\"email\">"), "{page}");
    assert!(page.contains("name=\"frequency\" value=\"weekly\""), "{page}");
    assert!(page.contains("type=\"checkbox\" id=\"topic-0\" name=\"topics\""), "{page}");
    // Feeds still come from the cache next to the merged routes.
    let feed = client.get(format!("{base}/feed.xml")).send().await.unwrap();
    assert_eq!(feed.status(), 200);

    // A form bot's post (the hidden field filled in): the same 202, and no
    // mail (the test counts every mail the relay gets).
    let bot = post_form(&client, &format!("{base}/subscribe"), "email=ai.do%40example.vn&homepage=https%3A%2F%2Fx.example&frequency=daily").await;
    assert_eq!(bot.status(), 202);
    // Subscribe: 202 and a confirmation mail whose link points here.
    let resp = post_form(&client, &format!("{base}/subscribe"), "email=doc.gia%40example.vn&frequency=daily").await;
    assert_eq!(resp.status(), 202);
    let mails = wait_for_mail(&smtp, 1).await;
    assert_eq!(mails[0].to, ["doc.gia@example.vn"]);
    let confirm = parse(&mails[0].data);
    let confirm_url = link_with(&confirm.body_text(0).unwrap(), "/confirm/");
    assert!(confirm_url.starts_with(&format!("{base}/confirm/")), "{confirm_url}");
    let page = client.get(&confirm_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = post_form(&client, &confirm_url, "").await;
    assert_eq!(page.status(), 200);
    // The welcome mail (digest.welcome, on by default), sent by serve at once.
    let mails = wait_for_mail(&smtp, 2).await;
    let welcome = parse(&mails[1].data);
    assert!(welcome.subject().unwrap().ends_with("chào mừng bạn đến với bản tin"), "{:?}", welcome.subject());
    let text = welcome.body_text(0).unwrap();
    assert!(text.contains(&format!("{base}/archive/")) && text.contains(&format!("{base}/preferences/")), "{text}");

    // A digest planned and sent by `bantin digest run --now` on the same
    // state database while serve runs: it sees the subscriber confirmed
    // through serve, and the mail arrives once (serve's scheduler polls the
    // same outbox; the lease keeps the two from both sending it).
    let run = Command::new(env!("CARGO_BIN_EXE_bantin"))
        .args(["digest", "run", "--now", "--config"])
        .arg(&config)
        .env("BANTIN_LOG", "warn")
        .output()
        .unwrap();
    assert!(run.status.success(), "digest run: {}", String::from_utf8_lossy(&run.stderr));
    let mails = wait_for_mail(&smtp, 3).await;
    let digest = parse(&mails[2].data);
    assert!(digest.subject().unwrap().starts_with("Bản tin Yên Bái"), "{:?}", digest.subject());
    // Longer than the scheduler's 15 s poll would take is too long for a
    // test; a second mail would come from a delivery racing the CLI's.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.received().len(), 3, "the digest arrives once");

    // /healthz reports the state database; /metrics the outbox and the
    // subscribers by status.
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let health: serde_json::Value = serde_json::from_str(&health.text().await.unwrap()).unwrap();
    assert_eq!(health["state"], "ok", "{health}");
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert_eq!(gauge(&metrics, "bantin_subscribers", "active"), Some(1), "{metrics}");
    assert_eq!(gauge(&metrics, "bantin_subscribers", "pending"), Some(0), "{metrics}");
    assert_eq!(gauge(&metrics, "bantin_outbox_messages", "sent"), Some(3), "{metrics}");
    assert_eq!(gauge(&metrics, "bantin_outbox_messages", "queued"), Some(0), "{metrics}");

    // One-click unsubscribe with the https link of the received header.
    let header: String = digest.header_raw("List-Unsubscribe").unwrap().split_whitespace().collect();
    let url = header
        .split(',')
        .map(|p| p.trim_start_matches('<').trim_end_matches('>'))
        .find(|p| p.starts_with("http"))
        .unwrap()
        .to_string();
    assert!(url.starts_with(&format!("{base}/unsubscribe/")), "{url}");
    let resp = post_form(&client, &url, "List-Unsubscribe=One-Click").await;
    assert_eq!(resp.status(), 200);
    // /metrics reuses the state database's counts for 5 s (a scrape flood
    // costs one query a window), so the change shows within that window.
    let metrics = metrics_when(&client, &base, |m| gauge(m, "bantin_subscribers", "unsubscribed") == Some(1)).await;
    assert_eq!(gauge(&metrics, "bantin_subscribers", "unsubscribed"), Some(1), "{metrics}");
    assert_eq!(gauge(&metrics, "bantin_subscribers", "active"), Some(0), "{metrics}");
    // The unsubscribe is counted by its way, once: the page's button
    // pressed afterwards changes nothing.
    assert_eq!(post_form(&client, &url, "List-Unsubscribe=One-Click").await.status(), 200);
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("bantin_unsubscribes_total{via=\"link\"} 1\n"), "{metrics}");
    assert!(metrics.contains("bantin_unsubscribes_total{via=\"admin\"} 0\n"), "{metrics}");
    for (outcome, n) in [("taken", 1), ("limited", 0), ("trapped", 1)] {
        assert!(metrics.contains(&format!("bantin_signups_total{{outcome=\"{outcome}\"}} {n}\n")), "{outcome}: {metrics}");
    }

    // The client's address reaches the routes through serve's own accept
    // loop: the per-IP limit (20 an hour) answers 429 once it is used up.
    let mut limited_at = None;
    for i in 0..25 {
        let resp = post_form(&client, &format!("{base}/subscribe"), &format!("email=reader{i}%40example.vn")).await;
        if resp.status() == 429 {
            limited_at = Some(i);
            break;
        }
        assert_eq!(resp.status(), 202);
    }
    // The bot's post and the reader's came first: a form bot is limited too.
    assert_eq!(limited_at, Some(18), "the 21st sign-up from one IP is limited");

    // SIGHUP: the digest side is built once, so a [mail] change is named
    // as needing a restart (the feeds still reload).
    let text = std::fs::read_to_string(&config).unwrap().replace("retry_base = \"1s\"", "retry_base = \"2s\"");
    std::fs::write(&config, text).unwrap();
    serve.signal(libc::SIGHUP);
    assert!(serve.wait_log("configuration reloaded", Duration::from_secs(30)), "{}", serve.log());
    assert!(serve.log().contains("[state]/[mail]/[digest] changed; restart bantin"), "{}", serve.log());

    // SIGTERM stops the server and the scheduler promptly, exit 0.
    serve.signal(libc::SIGTERM);
    let status = serve.wait_exit(Duration::from_secs(12));
    assert!(status.is_some_and(|s| s.success()), "exit {status:?}; log:\n{}", serve.log());
}

/// A minimal config with the state database at `state_url`, and `bantin
/// ARGS` run on it (outside systemd).
fn run_with_state(dir: &std::path::Path, state_url: &str, args: &[&str]) -> std::process::Output {
    let config = dir.join("bantin.toml");
    std::fs::write(
        &config,
        format!(
            "[site]\ntitle = \"Thử\"\nbase_url = \"https://portal.example.org\"\n\n[store]\npath = {:?}\n\n\
             [http]\nlisten = \"127.0.0.1:0\"\n\n[state]\nurl = \"{state_url}\"\n",
            mailtest::examples().display().to_string(),
        ),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_bantin"))
        .args(args)
        .arg("--config")
        .arg(&config)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("LISTEN_FDS")
        .output()
        .unwrap()
}

#[test]
fn serve_exits_69_when_the_state_database_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the database's folder should be: it cannot be created.
    std::fs::write(dir.path().join("blocked"), "").unwrap();
    let out = run_with_state(dir.path(), &format!("sqlite://{}/blocked/state/bantin.db", dir.path().display()), &["serve"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(stderr.contains("state database") && stderr.contains("blocked"), "{stderr}");
}

on_both_backends!(
    serve_subscribes_confirms_mails_a_digest_once_and_unsubscribes_in_one_click,
    serve_subscribes_confirms_mails_a_digest_once_and_unsubscribes_in_one_click
);

#[test]
fn serve_and_the_cli_exit_69_when_postgresql_cannot_be_reached_and_hide_the_password() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port: every connection is refused.
    let url = format!("postgres://bantin:hunter2@127.0.0.1:{}/bantin", free_port());
    for args in [&["serve"][..], &["subscribers", "list"], &["digest", "run", "--now"]] {
        let out = run_with_state(dir.path(), &url, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(69), "{args:?}: {stderr}");
        assert!(stderr.contains("state database postgres://bantin:***@127.0.0.1:"), "{args:?}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{args:?}: the password is shown: {stderr}");
    }
}

/// The `/metrics` page once `ready` holds for it, or after 10 s (the
/// caller's assertions then say what is wrong).
async fn metrics_when(client: &reqwest::Client, base: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        if ready(&metrics) || tokio::time::Instant::now() >= deadline {
            return metrics;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
