//! Issue 20: reports received later, through the real binary, on both
//! state backends. Digests go out with a VERP envelope sender
//! (`mail.return_path`); `bantin bounces receive` is then fed the core's
//! report fixtures (`crates/bantin-core/tests/fixtures/reports/`) with the
//! real VERP address and Message-ID put in: hard → suppressed, soft ×3 →
//! bouncing, complaint → complained, out-of-office → exit 65 and nothing
//! changes, the same report twice → counted once, the Message-ID when the
//! token is not ours; then `forget` erases the reports too.

use crate::support::harness;
use crate::support::mailtest;

use bantin::state::{StateStore, Status};
use mailtest::smtp::SmtpServer;
use mailtest::{parse, wait_for_mail, Backend, StateDb};
use std::path::Path;

const AT: &str = "2026-08-31T07:00:00+07:00";
pub(crate) const RETURN_PATH: &str = "bounces@example.org";
const HARD: &str = "hard.gone@example.org";
const SOFT: &str = "soft.full@example.org";
const COMPLAINS: &str = "angry.reader@example.org";
const AWAY: &str = "on.holiday@example.org";
const BY_ID: &str = "by.message.id@example.org";

/// `bantin bounces receive` with `message` on stdin: exit code and output.
pub(crate) async fn receive(cfg: &Path, message: &str, recipient: Option<&str>) -> (i32, String) {
    use tokio::io::AsyncWriteExt as _;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_bantin"));
    cmd.arg("--config").arg(cfg).args(["bounces", "receive"]).env("BANTIN_LOG", "error");
    cmd.env_remove("RECIPIENT").env_remove("ORIGINAL_RECIPIENT");
    if let Some(r) = recipient {
        cmd.env("ORIGINAL_RECIPIENT", r);
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(message.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// `bantin ARGS` on `cfg`: whether it succeeded, and its output.
pub(crate) async fn bantin(cfg: &Path, args: &[&str]) -> (bool, String) {
    let (code, text) = harness::cli(cfg, args, &[]).await;
    (code == 0, text)
}

/// A core fixture with every `bounces+<token>@example.org` made `verp`
/// and the returned message's Message-ID (`fixture_id`) made `message_id`;
/// `tag` changes the report's own Message-Id (another report).
pub(crate) fn fixture(name: &str, verp: &str, fixture_id: &str, message_id: &str, tag: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/bantin-core/tests/fixtures/reports").join(name);
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("bounces+") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "bounces+".len()..];
        let end = after.find('@').unwrap();
        assert!(after[..end].bytes().all(|b| b.is_ascii_alphanumeric()), "{name}: {}", &after[..end]);
        out.push_str(verp.split('@').next().unwrap());
        rest = &after[end..];
        rest = rest.strip_prefix("@example.org").unwrap();
        out.push('@');
        out.push_str(verp.split('@').nth(1).unwrap());
    }
    out.push_str(rest);
    assert!(out.contains(fixture_id), "{name} has no {fixture_id}");
    out.replace(fixture_id, message_id).replacen("Message-Id: <", &format!("Message-Id: <{tag}."), 1)
}

pub(crate) async fn status(state: &StateStore, email: &str) -> Status {
    state.subscriber_by_email(email).await.unwrap().unwrap().status
}

async fn reports_apply_once_by_verp_or_message_id(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let extra = format!("return_path = \"{RETURN_PATH}\"");
    let cfg = mailtest::write_config_for(dir.path(), &db.url, &mailtest::examples(), &smtp.url(), "https://bantin.example.org/", &extra);
    let everyone = [HARD, SOFT, COMPLAINS, AWAY, BY_ID];
    for who in everyone {
        let (ok, out) = bantin(&cfg, &["subscribers", "add", who, "--confirmed"]).await;
        assert!(ok, "{out}");
    }
    let (ok, out) = bantin(&cfg, &["digest", "run", "--now", "--at", AT]).await;
    assert!(ok, "{out}");
    let mails = wait_for_mail(&smtp, everyone.len()).await;
    // Per recipient: the envelope sender (VERP) and the Message-ID.
    let sent = |who: &str| {
        let m = mails.iter().find(|m| m.to == [who]).unwrap_or_else(|| panic!("no mail to {who}"));
        let header_from = parse(&m.data).from().and_then(|f| f.first()).and_then(|a| a.address()).map(str::to_string);
        assert_eq!(header_from.as_deref(), Some("bantin@example.org"), "the From: header is unchanged");
        (m.from.clone(), parse(&m.data).message_id().unwrap().to_string())
    };
    for who in everyone {
        let (verp, _) = sent(who);
        assert!(verp.starts_with("bounces+") && verp.ends_with("@example.org") && verp.len() > 25, "envelope sender {verp}");
    }
    let state = StateStore::open(&db.url).await.unwrap();

    // Hard: suppressed at once, with the reason; the envelope recipient
    // comes from $ORIGINAL_RECIPIENT as postfix's pipe gives it.
    let (verp, id) = sent(HARD);
    let hard = fixture("postfix-hard-5.1.1.eml", &verp, "1a2b3c4d5e6f708192a3.daily.2026-12-02@example.org", &id, "a");
    let (code, out) = receive(&cfg, &hard, Some(&verp)).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(status(&state, HARD).await, Status::Suppressed);
    // The same report again: counted once.
    let (code, out) = receive(&cfg, &hard, Some(&verp)).await;
    assert!(code == 0 && out.contains("received before"), "{code} {out}");
    let (ok, list) = bantin(&cfg, &["subscribers", "list", "--status", "suppressed"]).await;
    assert!(ok && list.contains(HARD) && list.contains("5.1.1") && list.contains("User unknown"), "{list}");
    assert!(!list.contains(SOFT), "{list}");

    // Soft: three reports in a row make them bouncing, not before.
    let (verp, id) = sent(SOFT);
    for (n, tag) in ["s1", "s2", "s3"].into_iter().enumerate() {
        let soft = fixture("postfix-expired-4.4.1.eml", &verp, "2b3c4d5e6f708192a3b4.weekly.2026-W44@example.org", &id, tag);
        let (code, out) = receive(&cfg, &soft, None).await;
        assert_eq!(code, 0, "{out}");
        let want = if n < 2 { Status::Active } else { Status::Bouncing };
        assert_eq!(status(&state, SOFT).await, want, "after {} soft bounces", n + 1);
    }

    // Complaint: complained (the VERP address is in the ARF report itself).
    let (verp, id) = sent(COMPLAINS);
    let arf = fixture("yahoo-arf-abuse.eml", &verp, "8192a3b4c5d6e7f8091a.daily.2026-12-02@example.org", &id, "c");
    let (code, out) = receive(&cfg, &arf, None).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(status(&state, COMPLAINS).await, Status::Complained);

    // An out-of-office to the VERP address: exit 65, nothing changes.
    let (verp, id) = sent(AWAY);
    let away = fixture("out-of-office.eml", &verp, "92a3b4c5d6e7f8091a2b.daily.2026-12-02@example.org", &id, "o");
    let (code, out) = receive(&cfg, &away, Some(&verp)).await;
    assert!(code == 65 && out.contains("auto-reply"), "{code} {out}");
    assert_eq!(status(&state, AWAY).await, Status::Active);

    // A token that is not ours (another key, or forged): the returned
    // Message-ID still names the message.
    let (_, id) = sent(BY_ID);
    let forged = fixture("postfix-hard-5.1.1.eml", "bounces+aaaaaaaaaaaaaaaaaa@example.org", "1a2b3c4d5e6f708192a3.daily.2026-12-02@example.org", &id, "m");
    let (code, out) = receive(&cfg, &forged, None).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(status(&state, BY_ID).await, Status::Suppressed);
    // Nothing of ours at all: recorded as ignored, exit 65.
    let stranger = fixture("postfix-hard-5.1.1.eml", "bounces+aaaaaaaaaaaaaaaaaa@example.org", "1a2b3c4d5e6f708192a3.daily.2026-12-02@example.org", "unknown@example.net", "x");
    let (code, out) = receive(&cfg, &stranger, None).await;
    assert!(code == 65 && out.contains("names no message of ours"), "{code} {out}");

    let counts = state.bounce_report_counts().await.unwrap();
    let n = |k: &str| counts.iter().find(|(kind, _)| kind == k).map_or(0, |(_, n)| *n);
    assert_eq!((n("hard"), n("soft"), n("complaint"), n("ignored")), (2, 3, 1, 2), "{counts:?}");

    // Importing a list that has them again keeps them as they are.
    let csv = dir.path().join("again.csv");
    std::fs::write(&csv, format!("email\n{HARD}\n{COMPLAINS}\n{AWAY}\n")).unwrap();
    let (ok, out) = bantin(&cfg, &["subscribers", "import", csv.to_str().unwrap()]).await;
    assert!(ok && out.contains("3 were already there (left unchanged; 2 of them suppressed or complained, kept so)"), "{out}");
    assert_eq!(status(&state, HARD).await, Status::Suppressed);

    // A new digest run mails none of them but the one on holiday.
    let before = smtp.received().len();
    let (ok, out) = bantin(&cfg, &["digest", "run", "--now", "--at", "2026-09-01T07:00:00+07:00"]).await;
    assert!(ok, "{out}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let again: Vec<_> = smtp.received_since(before).into_iter().flat_map(|m| m.to).collect();
    assert!(again.iter().all(|to| to == AWAY), "mailed after a bounce or complaint: {again:?}");

    // Erasure takes the reports about them too.
    let (ok, out) = bantin(&cfg, &["subscribers", "forget", HARD]).await;
    assert!(ok, "{out}");
    let counts = state.bounce_report_counts().await.unwrap();
    let hard_left = counts.iter().find(|(kind, _)| kind == "hard").map_or(0, |(_, n)| *n);
    assert_eq!(hard_left, 1, "the forgotten person's report is gone, the other stays: {counts:?}");
    harness::figures(
        &format!("bounces receive ({backend:?})"),
        &format!("5 digests by VERP; reports: {counts:?}; duplicate counted once; OOO exit 65"),
    );
}

on_both_backends!(reports_apply_once_by_verp_or_message_id, reports_apply_once_by_verp_or_message_id);

/// A suppressed or complained address that signs up again gets no mail
/// and the same answer as a new address (no enumeration).
#[test]
fn a_suppressed_or_complained_address_signing_up_again_gets_no_mail() {
    use crate::support::serve::Serve;
    use std::time::Duration;
    let _exclusive = crate::support::exclusive();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let smtp = rt.block_on(SmtpServer::start());
    let dir = tempfile::tempdir().unwrap();
    let config = harness::write_config(dir.path(), &mailtest::examples(), &smtp.url(), "");
    let serve = Serve::start(&config);
    let state = rt.block_on(StateStore::open(&format!("sqlite://{}/state/bantin.db", dir.path().display()))).unwrap();
    let now = chrono::Utc::now();
    rt.block_on(async {
        mailtest::add_subscriber(&state, "gone@example.org", Status::Suppressed, now).await;
        mailtest::add_subscriber(&state, "angry@example.org", Status::Complained, now).await;
    });
    let post = |email: &str| {
        let body = format!("email={}", email.replace('@', "%40"));
        let request = format!(
            "POST /subscribe HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let answer = harness::raw(serve.addr, request.as_bytes(), Duration::from_secs(10));
        // The answer without its Date header.
        answer.lines().filter(|l| !l.to_ascii_lowercase().starts_with("date:")).collect::<Vec<_>>().join("\n")
    };
    let addresses = ["gone@example.org", "angry@example.org", "new.reader@example.org"];
    let answers: Vec<String> = addresses.iter().map(|e| post(e)).collect();
    assert!(answers.iter().all(|a| harness::status_of(a) == 202), "{answers:#?}");
    // Each page names the address as typed, and nothing of its state.
    let pages: Vec<String> = answers.iter().zip(addresses).map(|(a, e)| harness::page_without_address(a, e)).collect();
    assert!(pages.iter().all(|p| *p == pages[2]), "the answers differ: {pages:#?}");
    // The new reader's confirmation comes; then nothing more.
    let mails = rt.block_on(wait_for_mail(&smtp, 1));
    std::thread::sleep(Duration::from_secs(1));
    let to: Vec<_> = smtp.received().into_iter().flat_map(|m| m.to).collect();
    assert_eq!(to, ["new.reader@example.org"], "{mails:?}");
    for (email, want) in [("gone@example.org", Status::Suppressed), ("angry@example.org", Status::Complained)] {
        let sub = rt.block_on(state.subscriber_by_email(email)).unwrap().unwrap();
        assert_eq!(sub.status, want, "{email}");
    }
}
