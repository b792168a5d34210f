//! Issue 19, finding 6: erasure and retention through the real binary, on
//! both state backends. `bantin subscribers forget` leaves the address in
//! no table (a whole dump of the database, message bodies decoded, is
//! searched for it, its lower-cased form and its local part), and
//! `retention.mail_bodies` drops the bodies of old sent messages at the end
//! of `bantin digest run`, keeping their rows; a sign-up never confirmed is
//! erased once its link has expired.

use super::bounces::bantin;
use crate::support::harness;
use crate::support::mailtest;

use bantin::state::{MessageBytes, MessageKind, OutboxMessage, StateStore};
use mailtest::smtp::SmtpServer;
use mailtest::{parse, wait_for_mail, Backend, StateDb};

const VICTIM: &str = "Victim.Person@example.org";
const BYSTANDER: &str = "ban.doc@example.org";
/// The planning time of the suites' digests (07:00 in Hồ Chí Minh City).
const AT: &str = "2026-08-31T07:00:00+07:00";


/// The whole database as text: `sqlite3 .dump` or `pg_dump`, with every
/// hex literal (SQLite's `X'…'`, PostgreSQL's `\x…` bytea: the message
/// bodies) decoded and appended, lower-cased.
fn dump(db: &StateDb) -> String {
    let out = match db.backend {
        Backend::Sqlite => {
            let file = bantin::state::sqlite_path(&db.url).unwrap();
            // A pool of the test closing its connections may hold a lock a moment.
            std::process::Command::new("sqlite3").args(["-cmd", ".timeout 10000"]).arg(file).arg(".dump").output()
        }
        Backend::Postgres => std::process::Command::new("pg_dump").arg("--no-owner").arg(&db.url).output(),
    }
    .expect("sqlite3 and pg_dump are installed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("error:") && text.contains("outbox_bodies"), "not a whole dump:\n{text}");
    let mut decoded = text.clone();
    for start in text.match_indices("X'").map(|(i, _)| i + 2).chain(text.match_indices("\\x").map(|(i, _)| i + 2)) {
        let hex: String = text[start..].chars().take_while(char::is_ascii_hexdigit).collect();
        let bytes: Vec<u8> = (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect();
        decoded.push('\n');
        decoded.push_str(&String::from_utf8_lossy(&bytes));
    }
    decoded.to_lowercase()
}

/// The SQLite files' raw bytes (database and WAL), lower-cased: what is
/// deleted must not stay in free pages or in the WAL either.
fn raw_sqlite_files(db: &StateDb) -> String {
    let file = bantin::state::sqlite_path(&db.url).unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    if let Ok(wal) = std::fs::read(format!("{}-wal", file.display())) {
        bytes.extend(wal);
    }
    String::from_utf8_lossy(&bytes).to_lowercase()
}

/// Where the dump names the person: their address (lower-cased, so any
/// case of it) and its local part.
fn traces(dump: &str) -> Vec<&'static str> {
    ["victim.person@example.org", "victim.person"].into_iter().filter(|t| dump.contains(t)).collect()
}

async fn forget_erases_the_person_from_every_table(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let cfg = mailtest::write_config_for(dir.path(), &db.url, &mailtest::examples(), &smtp.url(), "https://bantin.example.org/", "");
    for who in [VICTIM, BYSTANDER] {
        let (ok, out) = bantin(&cfg, &["subscribers", "add", who, "--confirmed"]).await;
        assert!(ok, "{out}");
    }
    let (ok, out) = bantin(&cfg, &["digest", "run", "--now", "--at", AT]).await;
    assert!(ok, "{out}");
    let mails = wait_for_mail(&smtp, 2).await;
    assert!(mails.iter().any(|m| m.to == [VICTIM]), "{:?}", mails.iter().map(|m| &m.to).collect::<Vec<_>>());
    // A confirmation mail still queued for another case of the address,
    // with no subscriber id (as one for an address not signed up yet).
    let state = StateStore::open(&db.url).await.unwrap();
    let confirm = OutboxMessage {
        message_id: "<confirm.forget-test@example.org>".into(),
        kind: MessageKind::Confirm,
        subscriber_id: None,
        period_key: "confirm".into(),
        recipient: "VICTIM.PERSON@example.org".into(),
        bytes: MessageBytes::Whole(b"To: VICTIM.PERSON@example.org\r\nSubject: x\r\n\r\nHello victim.person\r\n".to_vec()),
    };
    assert!(state.enqueue(&confirm, chrono::Utc::now()).await.unwrap());
    drop(state);

    let before = dump(&db);
    assert_eq!(traces(&before), ["victim.person@example.org", "victim.person"], "the dump sees the address, bodies included:\n{before}");
    let (ok, out) = bantin(&cfg, &["subscribers", "forget", "victim.person@EXAMPLE.org"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("erased victim.person@example.org: 1 subscriber rows, 2 messages"), "{out}");

    let after = dump(&db);
    assert_eq!(traces(&after), Vec::<&str>::new(), "the person is in the dump after forget:\n{after}");
    assert!(after.contains(BYSTANDER), "the other subscriber and their mail stay");
    let raw = match backend {
        Backend::Sqlite => {
            let raw = raw_sqlite_files(&db);
            assert_eq!(traces(&raw), Vec::<&str>::new(), "the address is still in the SQLite files' free pages or WAL");
            raw.len()
        }
        Backend::Postgres => 0,
    };
    harness::figures(
        &format!("erasure forget ({backend:?})"),
        &format!("dump {} → {} bytes, address in it before: yes, after: no; raw file bytes searched: {raw}", before.len(), after.len()),
    );
    // Forgetting again (or someone never there) is not an error.
    let (ok, out) = bantin(&cfg, &["subscribers", "forget", VICTIM]).await;
    assert!(ok && out.contains("nothing to erase"), "{out}");
    // `remove` says what it keeps, and where to go to erase it.
    let (ok, out) = bantin(&cfg, &["subscribers", "remove", BYSTANDER]).await;
    assert!(ok && out.contains("kept: the messages") && out.contains("bantin subscribers forget ban.doc@example.org"), "{out}");
    // Their message lost its subscriber id with the row (ON DELETE SET
    // NULL): forget finds it by its address.
    let (ok, out) = bantin(&cfg, &["subscribers", "forget", BYSTANDER]).await;
    assert!(ok && out.contains("0 subscriber rows, 1 messages"), "{out}");
    assert!(!dump(&db).contains(BYSTANDER), "the removed subscriber's message is in the dump after forget");
}

async fn sent_bodies_older_than_the_retention_are_dropped_and_their_rows_kept(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let cfg = mailtest::write_config_for(dir.path(), &db.url, &mailtest::examples(), &smtp.url(), "https://bantin.example.org/", "");
    assert!(bantin(&cfg, &["subscribers", "add", VICTIM, "--confirmed"]).await.0);
    let (ok, out) = bantin(&cfg, &["digest", "run", "--now", "--at", AT]).await;
    assert!(ok, "{out}");
    let mails = wait_for_mail(&smtp, 1).await;
    let id = format!("<{}>", parse(&mails[0].data).message_id().unwrap());
    let state = StateStore::open(&db.url).await.unwrap();
    assert_eq!(state.outbox_message(&id).await.unwrap().map(|(s, _)| s).as_deref(), Some("sent"));

    // The digest went out now; runs 29 and 31 days later (retention.mail_bodies
    // is 30 days by default) keep its body, then drop it.
    let later = |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339();
    let (ok, out) = bantin(&cfg, &["digest", "run", "--at", &later(29)]).await;
    assert!(ok && !out.contains("dropped"), "{out}");
    assert!(state.outbox_message(&id).await.unwrap().is_some(), "a body younger than retention.mail_bodies is kept");
    let (ok, out) = bantin(&cfg, &["digest", "run", "--at", &later(31)]).await;
    assert!(ok && out.contains("1 bodies of messages older than retention.mail_bodies dropped"), "{out}");
    assert!(state.outbox_message(&id).await.unwrap().is_none(), "the body is gone");
    assert!(state.outbox_counts().await.unwrap().sent >= 1, "the outbox row stays");
    let audit = dump(&db).matches(&id.to_lowercase()).count();
    assert!(audit >= 2, "the outbox row and its audit row still name the message ({audit})");
    harness::figures(&format!("retention mail_bodies ({backend:?})"), "body kept at +29 d, dropped at +31 d, row and audit kept");
}

/// `serve` drops old bodies too: at start, then hourly (its scheduler's
/// clock moved 31 days on with `BANTIN_DIGEST_AT`).
async fn serve_drops_old_bodies_at_start(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let cfg = mailtest::write_config_for(dir.path(), &db.url, &mailtest::examples(), &smtp.url(), "https://bantin.example.org/", "");
    let port = crate::support::serve::free_port();
    let text = std::fs::read_to_string(&cfg).unwrap().replace("[http]\n", &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(&cfg, text).unwrap();
    assert!(bantin(&cfg, &["subscribers", "add", VICTIM, "--confirmed"]).await.0);
    assert!(bantin(&cfg, &["digest", "run", "--now", "--at", AT]).await.0);
    let id = format!("<{}>", parse(&wait_for_mail(&smtp, 1).await[0].data).message_id().unwrap());
    let later = (chrono::Utc::now() + chrono::Duration::days(31)).to_rfc3339();
    let serve = crate::support::serve::Serve::start_with(&cfg, &[("BANTIN_DIGEST_AT", &later)]);
    assert!(serve.wait_log("bodies of sent messages past retention.mail_bodies dropped", std::time::Duration::from_secs(20)), "{}", serve.log());
    let state = StateStore::open(&db.url).await.unwrap();
    assert!(state.outbox_message(&id).await.unwrap().is_none(), "the body is gone");
    assert!(state.outbox_counts().await.unwrap().sent >= 1, "the outbox row stays");
}

/// Someone typed an address into the sign-up form and its owner never
/// confirmed: once the confirmation link has expired (7 days), the next
/// prune (`digest run` here; serve's scheduler hourly) erases the address
/// from every table, and the link in the mail leads nowhere.
async fn a_sign_up_never_confirmed_is_forgotten_when_its_link_expires(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let port = crate::support::serve::free_port();
    let public = format!("http://127.0.0.1:{port}/");
    let cfg = mailtest::write_config_for(dir.path(), &db.url, &mailtest::examples(), &smtp.url(), &public, "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("[http]\n", &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n"));
    std::fs::write(&cfg, text).unwrap();
    assert!(bantin(&cfg, &["subscribers", "add", BYSTANDER]).await.0, "a pending subscriber an operator added");
    let serve = crate::support::serve::Serve::start(&cfg);
    let client = reqwest::Client::new();
    let answer = mailtest::post_form(&client, &serve.url("/subscribe"), "email=Victim.Person%40example.org&frequency=daily").await;
    assert_eq!(answer.status(), 202);
    let confirm_url = mailtest::link_with(&parse(&wait_for_mail(&smtp, 1).await[0].data).body_text(0).unwrap(), "/confirm/");
    assert_eq!(traces(&dump(&db)), ["victim.person@example.org", "victim.person"]);

    let later = |days: i64| (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339();
    let (ok, out) = bantin(&cfg, &["digest", "run", "--at", &later(6)]).await;
    assert!(ok && !out.contains("forgotten"), "{out}");
    assert_eq!(traces(&dump(&db)).len(), 2, "a sign-up whose link is still valid is kept");
    let (ok, out) = bantin(&cfg, &["digest", "run", "--at", &later(8)]).await;
    assert!(ok && out.contains("1 sign-ups never confirmed forgotten (their links had expired)"), "{out}");
    let after = dump(&db);
    assert_eq!(traces(&after), Vec::<&str>::new(), "the unconfirmed address is in the dump after its link expired:\n{after}");
    assert!(after.contains(BYSTANDER), "a pending subscriber with no confirmation mail is the operator's to keep");
    let page = client.get(&confirm_url).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("không đúng"), "the link in the mail leads nowhere");
}

on_both_backends!(forget_erases_the_person_from_every_table, forget_erases_the_person_from_every_table);
on_both_backends!(
    a_sign_up_never_confirmed_is_forgotten_when_its_link_expires,
    a_sign_up_never_confirmed_is_forgotten_when_its_link_expires
);
on_both_backends!(
    sent_bodies_older_than_the_retention_are_dropped_and_their_rows_kept,
    sent_bodies_older_than_the_retention_are_dropped_and_their_rows_kept
);
on_both_backends!(serve_drops_old_bodies_at_start, serve_drops_old_bodies_at_start);
