//! Digests and subscriptions against a real SMTP server on loopback (the
//! `mailin` engine, see tests/support/mailtest/smtp.rs) and the real HTTP routes
//! served by axum, read back with an independent mail parser. Every test
//! runs on both state backends (`name::sqlite`, `name::postgres`).

use crate::support::mailtest;

use bantin::digest::plan::Mode;
use bantin::newsletter::Digests;
use bantin::state::{Frequency, NewSubscriber, Status};
use chrono::{Duration, Utc};
use mailtest::smtp::{Behaviour, SmtpServer};
use mailtest::{fixed_now, link_with, parse, wait_for_mail, Backend, StateDb};
use std::net::SocketAddr;
use std::sync::Arc;

/// The digest context on a fresh state database of `backend` (dropped with
/// the returned guard).
async fn open(backend: Backend, dir: &std::path::Path, smtp_url: &str, public_url: &str, extra_mail: &str) -> (Arc<Digests>, StateDb) {
    let db = StateDb::new(backend, dir);
    let cfg = mailtest::write_config_for(dir, &db.url, &mailtest::examples(), smtp_url, public_url, extra_mail);
    (mailtest::digests(&cfg).await, db)
}

/// A relay, the digest context on a fresh database of `backend` with its
/// public URL at the subscription routes, and those routes (with `limits`,
/// else the defaults) served on loopback at the returned address.
async fn served(backend: Backend, dir: &std::path::Path, limits: Option<bantin::subscription::Limits>) -> (SmtpServer, SocketAddr, Arc<Digests>, StateDb) {
    let smtp = SmtpServer::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = listener.local_addr().unwrap();
    let (digests, db) = open(backend, dir, &smtp.url(), &format!("http://{http}/"), "").await;
    let app = match limits {
        Some(limits) => bantin::subscription::routes_with_limits(Arc::clone(&digests), limits),
        None => bantin::subscription::routes(Arc::clone(&digests)),
    };
    mailtest::serve_routes(listener, app);
    (smtp, http, digests, db)
}

async fn subscribe_confirm_receive_a_digest_unsubscribe_and_receive_nothing_after(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (smtp, http, digests, _db) = served(backend, dir.path(), None).await;
    let client = reqwest::Client::new();
    let subscribe = |body: &'static str| {
        client
            .post(format!("http://{http}/subscribe"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    // 1. Subscribe over HTTP: 202 and a confirmation mail.
    let first = subscribe("email=Doc.Gia%40Example.VN&frequency=daily&topics=").await.unwrap();
    assert_eq!(first.status(), 202);
    let first_page = first.text().await.unwrap();
    let mails = wait_for_mail(&smtp, 1).await;
    assert_eq!(mails[0].to, ["Doc.Gia@example.vn"]);
    let confirm_mail = parse(&mails[0].data);
    assert!(confirm_mail.subject().unwrap().contains("xác nhận"), "{:?}", confirm_mail.subject());
    let confirm_url = link_with(&confirm_mail.body_text(0).unwrap(), "/confirm/");
    assert!(confirm_url.starts_with(&format!("http://{http}/confirm/")), "{confirm_url}");
    let sub = digests.state.subscriber_by_email("Doc.Gia@example.vn").await.unwrap().unwrap();
    assert_eq!(sub.status, Status::Pending);

    // 2. Confirm with the link from the received mail: its page, then the
    // page's button (a POST to the same link).
    let page = client.get(&confirm_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    let page = mailtest::post_form(&client, &confirm_url, "").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    // When the first digest comes: the config's daily_at, a day away at most.
    assert!(page.contains("Đăng ký thành công") && page.contains("Bản tin kế tiếp sẽ đến vào khoảng 07:00"), "{page}");
    let sub = digests.state.subscriber_by_email("Doc.Gia@example.vn").await.unwrap().unwrap();
    assert_eq!(sub.status, Status::Active);
    // The welcome mail, once (a second press of the button sends none).
    assert_eq!(mailtest::post_form(&client, &confirm_url, "").await.status(), 200);
    let mails = wait_for_mail(&smtp, 2).await;
    let welcome = parse(&mails[1].data);
    assert!(welcome.subject().unwrap().ends_with("chào mừng bạn đến với bản tin"), "{:?}", welcome.subject());
    assert_eq!(welcome.header_raw("List-Unsubscribe-Post").map(str::trim), Some("List-Unsubscribe=One-Click"));
    let text = welcome.body_text(0).unwrap();
    let next = text.lines().find(|l| l.starts_with("Bản tin kế tiếp sẽ đến vào khoảng 07:00")).unwrap_or_else(|| panic!("{text}"));
    assert!(page.contains(next), "the mail and the page say the same time: {next}");

    // The form answers the same for a known (active) address; its owner
    // gets their preferences link (not a confirmation, not a second welcome).
    let again = subscribe("email=Doc.Gia%40Example.VN&frequency=daily").await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.text().await.unwrap(), first_page);
    let mails = wait_for_mail(&smtp, 3).await;
    let link = parse(&mails[2].data);
    assert!(link.subject().unwrap().ends_with("bạn đã đăng ký bản tin này"), "{:?}", link.subject());
    assert!(link.body_text(0).unwrap().contains(&format!("http://{http}/preferences/")), "{:?}", link.body_text(0));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 3, "one mail to an active subscriber who fills the form again");

    // 3. A digest ("send now" at a fixed time), received over SMTP.
    let queued = digests.queue(fixed_now(), Mode::Now).await.unwrap();
    assert_eq!((queued.due, queued.queued), (1, 1));
    let sent = digests.deliver().await.unwrap();
    assert_eq!(sent.sent, 1);
    let mails = wait_for_mail(&smtp, 4).await;
    let digest = parse(&mails[3].data);
    let subject = digest.subject().unwrap().to_string();
    assert!(subject.starts_with("Bản tin Yên Bái – 31/08/2026: ") && subject.ends_with(" bài mới"), "{subject}");
    let text = digest.body_text(0).unwrap();
    let html = digest.body_html(0).unwrap();
    assert!(text.contains("Đọc tiếp: https://yenbai.gov.vn/tin-tuc/"), "{text}");
    assert!(html.contains("<table"), "{html}");
    // The bytes on the wire are the bytes in the outbox.
    let id = format!("<{}>", digest.message_id().unwrap());
    let (status, stored) = digests.state.outbox_message(&id).await.unwrap().unwrap();
    assert_eq!(status, "sent");
    assert_eq!(String::from_utf8_lossy(&stored).trim_end(), String::from_utf8_lossy(&mails[3].data).trim_end());

    // 4. One-click unsubscribe with the URL from the received header.
    let header: String = digest.header_raw("List-Unsubscribe").unwrap().split_whitespace().collect();
    assert_eq!(digest.header_raw("List-Unsubscribe-Post").map(str::trim), Some("List-Unsubscribe=One-Click"));
    let url = header.split(',').find_map(|p| p.strip_prefix('<')?.strip_suffix('>')?.starts_with("http").then_some(p)).unwrap();
    let url = url.trim_start_matches('<').trim_end_matches('>');
    let resp = mailtest::post_form(&client, url, "List-Unsubscribe=One-Click").await;
    assert_eq!(resp.status(), 200);
    let sub = digests.state.subscriber_by_email("Doc.Gia@example.vn").await.unwrap().unwrap();
    assert_eq!(sub.status, Status::Unsubscribed);

    // 5. The next run sends nothing.
    let queued = digests.queue(fixed_now() + Duration::days(1), Mode::Now).await.unwrap();
    assert_eq!(queued.queued, 0);
    digests.deliver().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 4, "nothing after unsubscribing");
}

async fn pages_answer_in_english_and_refuse_forged_tokens(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (_smtp, http, digests, _db) = served(backend, dir.path(), None).await;
    let client = reqwest::Client::new();
    let sub = mailtest::active_subscriber(&digests.state, "reader@example.org", Utc::now()).await;
    let unsub = digests.composer.unsubscribe_url(sub.id);
    let page = client.get(format!("{unsub}?lang=en")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains("<html lang=\"en\">") && body.contains("Unsubscribe") && body.contains("<form method=\"post\""), "{body}");
    let page = client.get(&unsub).header("accept-language", "en-GB,en;q=0.8").send().await.unwrap();
    assert!(page.text().await.unwrap().contains("lang=\"en\""));
    let page = client.get(&unsub).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("Hủy đăng ký"));
    // The unsubscribe token does not open the preferences page.
    let token = unsub.rsplit('/').next().unwrap();
    let wrong = client.get(format!("http://{http}/preferences/{token}")).send().await.unwrap();
    assert_eq!(wrong.status(), 400);
    let forged = client.post(format!("http://{http}/unsubscribe/AAAA{token}")).send().await.unwrap();
    assert_eq!(forged.status(), 400);
    assert_eq!(digests.state.subscriber_by_id(sub.id).await.unwrap().unwrap().status, Status::Active);
    // Preferences: the page lists categories; saving changes them.
    let prefs = digests.composer.preferences_url(sub.id);
    let page = client.get(&prefs).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"topics\" value=\"kinh-te\""), "{page}");
    let saved = mailtest::post_form(&client, &prefs, "topics=kinh-te&topics=du-lich&topics=not-a-category&frequency=weekly").await;
    assert_eq!(saved.status(), 200);
    let sub = digests.state.subscriber_by_id(sub.id).await.unwrap().unwrap();
    assert_eq!(sub.topics, ["kinh-te", "du-lich"]);
    assert_eq!(sub.frequency, Frequency::Weekly);
    // An address that is not one address is refused with 400.
    let bad = mailtest::post_form(&client, &format!("http://{http}/subscribe"), "email=a%40b.vn%0D%0ABcc%3A%20c%40d.vn").await;
    assert_eq!(bad.status(), 400);
}

async fn confirmation_mails_are_rate_limited_per_address_with_the_same_answer(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (smtp, http, _digests, _db) = served(backend, dir.path(), Some(bantin::subscription::Limits { per_address: 2, per_ip: 4, ..Default::default() })).await;
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for _ in 0..3 {
        let r = mailtest::post_form(&client, &format!("http://{http}/subscribe"), "email=target%40example.org").await;
        answers.push((r.status().as_u16(), r.text().await.unwrap()));
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "the limited answer looks the same");
    assert_eq!(answers[0].0, 202);
    // The sign-ups are recorded and mailed after the answer: wait for the
    // two, then long enough for a third to show.
    wait_for_mail(&smtp, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 2, "the third request sends no mail");
    // The fifth request from this IP is refused outright.
    let r = mailtest::post_form(&client, &format!("http://{http}/subscribe"), "email=other%40example.org").await;
    assert_eq!(r.status(), 202);
    let r = mailtest::post_form(&client, &format!("http://{http}/subscribe"), "email=third%40example.org").await;
    assert_eq!(r.status(), 429);
}

async fn refused_then_451_then_accepted_and_550s_make_a_subscriber_bouncing(backend: Backend) {
    // A port with nothing listening: connections are refused.
    let (held, port) = mailtest::refusing_port();
    let dir = tempfile::tempdir().unwrap();
    let (digests, _db) = open(backend, dir.path(), &format!("smtp://{port}"), "https://bantin.example.org/", "bounce_limit = 2").await;
    let sub = mailtest::active_subscriber(&digests.state, "reader@example.org", Utc::now()).await;
    assert_eq!(digests.queue(fixed_now(), Mode::Now).await.unwrap().queued, 1);
    let t0 = Utc::now();
    let at = |h: i64| move || t0 + Duration::hours(h);

    // Refused: retried later, not failed.
    let r = digests.mailer.deliver_due(at(0)).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (0, 1, 0));
    // Nothing is due again before the backoff has passed.
    let r = digests.mailer.deliver_due(at(0)).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (0, 0, 0));

    // The server comes up answering 451: retried again.
    drop(held);
    let smtp = SmtpServer::start_on(port).await;
    smtp.set(Behaviour::Reply(451));
    let r = digests.mailer.deliver_due(at(1)).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (0, 1, 0));
    assert_eq!(smtp.attempts(), 1);

    // Then it accepts: sent, once.
    smtp.set(Behaviour::Accept);
    let r = digests.mailer.deliver_due(at(2)).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (1, 0, 0));
    assert_eq!(smtp.received().len(), 1);
    let counts = digests.state.outbox_counts().await.unwrap();
    assert_eq!((counts.sent, counts.queued, counts.failed), (1, 0, 0));

    // 550 twice (bounce_limit = 2): failed, and the subscriber is bouncing.
    smtp.set(Behaviour::Reply(550));
    for i in 0..2 {
        let m = digests.composer.confirmation(&sub, t0 + Duration::minutes(i)).unwrap();
        digests.state.enqueue(&m, t0).await.unwrap();
    }
    let r = digests.mailer.deliver_due(at(3)).await.unwrap();
    assert_eq!((r.sent, r.retried, r.failed), (0, 0, 2));
    let sub = digests.state.subscriber_by_id(sub.id).await.unwrap().unwrap();
    assert_eq!((sub.status, sub.bounce_count), (Status::Bouncing, 2));
    assert_eq!(digests.state.subscriber_counts().await.unwrap(), [(Status::Bouncing, 1)]);
    assert_eq!(digests.state.outbox_counts().await.unwrap().failed, 2);
    // A bouncing subscriber is still planned: retried at the next period.
    let q = digests.queue(fixed_now() + Duration::days(1), Mode::Now).await.unwrap();
    assert_eq!(q.due, 1);
}

async fn the_scheduler_delivers_the_outbox_and_stops_on_shutdown(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (digests, _db) = open(backend, dir.path(), &smtp.url(), "https://bantin.example.org/", "").await;
    let sub = mailtest::add_subscriber(&digests.state, "pending@example.org", Status::Pending, Utc::now()).await;
    let m = digests.composer.confirmation(&sub, Utc::now()).unwrap();
    digests.state.enqueue(&m, Utc::now()).await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(bantin::newsletter::run_scheduler(Arc::clone(&digests), stopped));
    let mails = wait_for_mail(&smtp, 1).await;
    assert_eq!(mails[0].to, ["pending@example.org"]);
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), task).await.expect("the scheduler stops").unwrap();
    // A pending subscriber gets no digest.
    assert_eq!(smtp.received().len(), 1);
}

on_both_backends!(subscribe_confirm_receive_a_digest_unsubscribe_and_receive_nothing_after, subscribe_confirm_receive_a_digest_unsubscribe_and_receive_nothing_after);
on_both_backends!(pages_answer_in_english_and_refuse_forged_tokens, pages_answer_in_english_and_refuse_forged_tokens);
on_both_backends!(confirmation_mails_are_rate_limited_per_address_with_the_same_answer, confirmation_mails_are_rate_limited_per_address_with_the_same_answer);
on_both_backends!(refused_then_451_then_accepted_and_550s_make_a_subscriber_bouncing, refused_then_451_then_accepted_and_550s_make_a_subscriber_bouncing);
on_both_backends!(the_scheduler_delivers_the_outbox_and_stops_on_shutdown, the_scheduler_delivers_the_outbox_and_stops_on_shutdown);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_rides_out_a_postgresql_outage_and_reconnects() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (digests, db) = open(Backend::Postgres, dir.path(), &smtp.url(), "https://bantin.example.org/", "").await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let options = bantin::newsletter::SchedulerOptions { poll: std::time::Duration::from_millis(200), start_at: None };
    let task = tokio::spawn(bantin::newsletter::run_scheduler_with(Arc::clone(&digests), stopped, options));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    // The server drops every session and refuses new ones for a while: the
    // scheduler's rounds fail (logged), it keeps going.
    db.cut_off();
    assert!(digests.state.ping().await.is_err(), "the database is unreachable");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(!task.is_finished(), "an outage must not stop the scheduler");

    // Back: the pool reconnects by itself and the outbox moves again.
    db.reopen();
    let (sub, _) = digests
        .state
        .insert_subscriber(&NewSubscriber {
            email: "after.outage@example.org".into(),
            topics: vec![],
            frequency: Frequency::Daily,
            status: Status::Pending,
            now: Utc::now(),
        })
        .await
        .expect("the pool reconnects after the outage");
    let m = digests.composer.confirmation(&sub, Utc::now()).unwrap();
    digests.state.enqueue(&m, Utc::now()).await.unwrap();
    let mails = wait_for_mail(&smtp, 1).await;
    assert_eq!(mails[0].to, ["after.outage@example.org"]);
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), task).await.expect("the scheduler stops").unwrap();
}
