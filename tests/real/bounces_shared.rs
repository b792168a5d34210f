//! Issue 20, several instances: two real `bantin serve` processes share
//! one PostgreSQL state database, each with its own `bounces.listen`
//! (a relay that knows both, or two MX hosts for the return-path domain,
//! may hand the same report to either, and a retrying relay to both).
//! The same report delivered to both listeners at the same moment is
//! recorded and applied once: the hard bounces suppress, the soft one
//! counts one, and exactly one instance logs each report as applied
//! while the other finds it received before. Both answer 250: the
//! duplicate is taken and dropped, not refused (a refusal would make the
//! relay retry and, in the end, bounce the bounce).

use super::bounces::fixture;
use crate::support::harness::{self, figures};
use crate::support::mailtest;
use crate::support::serve::{free_port, Serve};

use bantin::state::{StateStore, Status};
use lettre::{address::Envelope, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use mailtest::smtp::SmtpServer;
use mailtest::{parse, wait_for_mail, Backend, StateDb};
use std::path::{Path, PathBuf};
use std::time::Duration;

const AT: &str = "2026-08-31T07:00:00+07:00";
const RETURN_PATH: &str = "bounces@example.org";
const HARD: [&str; 3] = ["gone.one@example.org", "gone.two@example.org", "gone.three@example.org"];
const SOFT: &str = "full.box@example.org";
/// The Message-ID the core's fixtures return, replaced by the real one.
const HARD_FIXTURE_ID: &str = "1a2b3c4d5e6f708192a3.daily.2026-12-02@example.org";
const SOFT_FIXTURE_ID: &str = "2b3c4d5e6f708192a3b4.weekly.2026-W44@example.org";

/// One config per instance: the same database, store and relay; its own
/// HTTP port and bounce listener.
fn config(dir: &Path, db: &StateDb, smtp: &SmtpServer, listen: u16) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let extra = format!("return_path = \"{RETURN_PATH}\"\n\n[bounces]\nlisten = \"127.0.0.1:{listen}\"\nsoft_limit = 3");
    let cfg = mailtest::write_config_for(dir, &db.url, &mailtest::examples(), &smtp.url(), "https://bantin.example.org/", &extra);
    let text = std::fs::read_to_string(&cfg).unwrap().replace("[http]\n", "[http]\nlisten = \"127.0.0.1:0\"\n");
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn run(cfg: &Path, args: &[&str]) {
    let out = harness::bantin(cfg).args(args).output().unwrap();
    assert!(out.status.success(), "bantin {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Hands `raw` to the listener on `port` as a relay would: null sender,
/// the VERP address as the recipient.
async fn deliver(port: u16, verp: &str, raw: &str) -> Result<(), String> {
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(port).build();
    let envelope = Envelope::new(None, vec![verp.parse().map_err(|e| format!("{verp}: {e}"))?]).map_err(|e| e.to_string())?;
    transport.send_raw(&envelope, raw.as_bytes()).await.map(|_| ()).map_err(|e| e.to_string())
}

/// Lines of `serve`'s log that contain `text`.
fn logged(serve: &Serve, text: &str) -> usize {
    serve.log().lines().filter(|l| l.contains(text)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_delivered_to_two_instances_at_once_is_applied_once() {
    let _exclusive = crate::support::exclusive();
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(Backend::Postgres, dir.path());
    let ports = [free_port(), free_port()];
    let configs: Vec<PathBuf> =
        ports.iter().enumerate().map(|(i, port)| config(&dir.path().join(format!("instance{i}")), &db, &smtp, *port)).collect();
    let everyone: Vec<&str> = HARD.iter().copied().chain([SOFT]).collect();
    for who in &everyone {
        run(&configs[0], &["subscribers", "add", who, "--confirmed"]);
    }
    run(&configs[0], &["digest", "run", "--now", "--at", AT]);
    let mails = wait_for_mail(&smtp, everyone.len()).await;
    // Per recipient: the VERP envelope sender and the Message-ID.
    let sent = |who: &str| {
        let m = mails.iter().find(|m| m.to == [who]).unwrap_or_else(|| panic!("no mail to {who}"));
        (m.from.clone(), parse(&m.data).message_id().unwrap().to_string())
    };

    let instances: Vec<Serve> = configs.iter().map(|c| Serve::start(c)).collect();
    for serve in &instances {
        assert!(serve.wait_log("receiving bounces and complaints", Duration::from_secs(10)), "{}", serve.log());
    }
    let mut reports: Vec<(String, String)> = HARD
        .iter()
        .enumerate()
        .map(|(i, who)| {
            let (verp, id) = sent(who);
            (verp.clone(), fixture("postfix-hard-5.1.1.eml", &verp, HARD_FIXTURE_ID, &id, &format!("h{i}")))
        })
        .collect();
    let (verp, id) = sent(SOFT);
    reports.push((verp.clone(), fixture("postfix-expired-4.4.1.eml", &verp, SOFT_FIXTURE_ID, &id, "s")));
    for (verp, raw) in &reports {
        let (a, b) = tokio::join!(deliver(ports[0], verp, raw), deliver(ports[1], verp, raw));
        assert!(a.is_ok() && b.is_ok(), "both listeners take the report: {a:?} {b:?}");
    }

    let state = StateStore::open(&db.url).await.unwrap();
    let counts = state.bounce_report_counts().await.unwrap();
    let n = |k: &str| counts.iter().find(|(kind, _)| kind == k).map_or(0, |(_, n)| *n);
    assert_eq!((n("hard"), n("soft"), n("ignored")), (3, 1, 0), "each report recorded once: {counts:?}");
    for who in HARD {
        let sub = state.subscriber_by_email(who).await.unwrap().unwrap();
        assert_eq!(sub.status, Status::Suppressed, "{who}");
    }
    let soft = state.subscriber_by_email(SOFT).await.unwrap().unwrap();
    assert_eq!((soft.status, soft.bounce_count), (Status::Active, 1), "the soft bounce counted once");
    let applied: usize = instances.iter().map(|s| logged(s, "bounce report applied")).sum();
    let before: usize = instances.iter().map(|s| logged(s, "received before")).sum();
    assert_eq!((applied, before), (reports.len(), reports.len()), "logs:\n{}\n---\n{}", instances[0].log(), instances[1].log());
    figures(
        "bounces on two instances (PostgreSQL)",
        &format!("{} reports each delivered to both listeners at once: {applied} applied, {before} found received before; {counts:?}", reports.len()),
    );
}
