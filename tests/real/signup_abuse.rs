//! Sign-up abuse against the real `bantin serve` (issue 19), mailing with
//! DKIM signing (ed25519) through a real SMTP server on loopback: probing
//! who subscribes by how long `POST /subscribe` takes, a flood of case and
//! `+tag` variants of one mailbox from 100 IPs, the hourly cap on all
//! confirmation mails, and a mail scanner fetching the confirmation link;
//! and `POST /manage`, the same form's twin (issue 22).
//! Requests come from many loopback sources (all of 127.0.0.0/8 is ours),
//! so the per-IP limit does not decide what is measured.
//!
//! Expected: the medians of the four kinds of address within 20 % of each
//! other; at most `subscription.per_address_per_day` mails to the flooded
//! mailbox; no more confirmations than the cap; GET and HEAD of the link
//! confirm no one, its button does.

use crate::support::harness;
use crate::support::mailtest;

use crate::support::serve::Serve;
use bantin::state::{StateStore, Status};
use harness::{get, raw, status_of};
use mailtest::smtp::SmtpServer;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// `subscription.per_address_per_day`'s default.
const PER_ADDRESS: usize = 3;

struct Scene {
    rt: tokio::runtime::Runtime,
    smtp: SmtpServer,
    serve: Serve,
    /// The state database `serve` uses, opened beside it.
    state: StateStore,
    _dir: tempfile::TempDir,
    /// Last, so it is let go once the server and the relay are gone.
    _exclusive: std::sync::MutexGuard<'static, ()>,
}

/// `bantin serve` with DKIM on and `extra` after the `[mail]` keys (a
/// section of its own may follow them), and its relay.
fn scene(extra: &str) -> Scene {
    use base64::Engine as _;
    let exclusive = crate::support::exclusive();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let smtp = rt.block_on(SmtpServer::start());
    let dir = tempfile::tempdir().unwrap();
    // An ed25519 key as lettre takes it: the 32-byte seed in base64.
    let key = dir.path().join("dkim.key");
    std::fs::write(&key, base64::engine::general_purpose::STANDARD.encode([9u8; 32])).unwrap();
    let mail = format!("dkim_selector = \"bantin\"\ndkim_domain = \"example.org\"\ndkim_key_file = {:?}\n{extra}", key.display().to_string());
    let config = harness::write_config(dir.path(), &mailtest::examples(), &smtp.url(), &mail);
    let serve = Serve::start(&config);
    let state = rt.block_on(StateStore::open(&format!("sqlite://{}/state/bantin.db", dir.path().display()))).unwrap();
    Scene { rt, smtp, serve, state, _dir: dir, _exclusive: exclusive }
}

impl Scene {
    /// Posts the form with `body` from `source`; the answer and how long
    /// it took from the request's first byte to the answer's first (the
    /// connection is made before the clock starts).
    fn post_from(&self, source: IpAddr, body: &str) -> (String, Duration) {
        self.post_to("/subscribe", source, body)
    }

    /// [`Scene::post_from`] to `path`.
    fn post_to(&self, path: &str, source: IpAddr, body: &str) -> (String, Duration) {
        let (addr, request) = (self.serve.addr, form(path, body));
        self.rt.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(SocketAddr::new(source, 0)).unwrap();
            let mut s = socket.connect(addr).await.unwrap();
            let asked = Instant::now();
            s.write_all(request.as_bytes()).await.unwrap();
            let mut out = vec![0; 1];
            let first = tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut out)).await;
            let took = asked.elapsed();
            if first.is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
            }
            (String::from_utf8_lossy(&out).into_owned(), took)
        })
    }

    /// Waits until the outbox has nothing queued or being sent (the
    /// sender has marked what it sent), at most 20 s.
    fn wait_outbox_idle(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let c = self.rt.block_on(self.state.outbox_counts()).unwrap();
            if c.queued + c.sending == 0 || Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn mails(&self) -> usize {
        self.smtp.shared.inbox.lock().unwrap().len()
    }

    /// Waits until the relay holds `n` mails, at most `limit`; how many.
    fn wait_mails(&self, n: usize, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        while self.mails() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.mails()
    }

    /// Waits until no mail has come for `quiet`; how many there are.
    fn settle(&self, quiet: Duration) -> usize {
        let mut seen = self.mails();
        let mut since = Instant::now();
        while since.elapsed() < quiet {
            std::thread::sleep(Duration::from_millis(50));
            if self.mails() != seen {
                (seen, since) = (self.mails(), Instant::now());
            }
        }
        seen
    }
}

fn form(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

const KINDS: [&str; 4] = ["active", "pending", "unsubscribed", "new"];

/// Tries of [`subscribe_takes_as_long_for_active_pending_unsubscribed_and_new_addresses`]:
/// on a machine shared with builds the median of one try can land on the
/// edge of the load's tail; a difference in the work done is in every try.
const TRIES: u8 = 3;

/// Regression (issue 19, finding 2): an active address was answered in
/// ~0.75 ms, a new one in ~2.2 ms (the database, templates, MIME, DKIM and
/// the outbox write ran inside the request), so anyone could probe a list.
/// Timing: other suites running beside it (the test binary runs two at
/// once) move the medians more than the 20 % it checks, so `.ci/run` runs
/// it alone, after them (`cargo test --test real -- --ignored`).
#[test]
#[ignore = "timing: run alone (.ci/run does, after the other suites)"]
fn subscribe_takes_as_long_for_active_pending_unsubscribed_and_new_addresses() {
    let s = scene("");
    let now = chrono::Utc::now();
    s.rt.block_on(async {
        for (kind, status) in [("active", Status::Active), ("pending", Status::Pending), ("unsubscribed", Status::Unsubscribed)] {
            for n in 0..TRIES {
                for i in 0..50 {
                    mailtest::add_subscriber(&s.state, &format!("{kind}{n}-{i}@example.org"), status, now).await;
                }
            }
        }
    });
    // First uses (templates, the pool, the relay's connection) before the clock.
    for i in 0..5u8 {
        assert_eq!(status_of(&s.post_from(IpAddr::from([127, 0, 9, i + 1]), &format!("email=warm{i}%40example.org")).0), 202);
    }
    s.wait_mails(5, Duration::from_secs(20));
    let mut tries = Vec::new();
    let mut spread = f64::INFINITY;
    for n in 0..TRIES {
        let medians = probe(&s, n);
        let (fast, slow) = (medians.iter().min().unwrap(), medians.iter().max().unwrap());
        spread = slow.as_secs_f64() / fast.as_secs_f64();
        let shown: Vec<String> = KINDS.iter().zip(&medians).map(|(k, m)| format!("{k} {:.3} ms", m.as_secs_f64() * 1e3)).collect();
        tries.push(format!("{}; slowest/fastest {spread:.2}", shown.join(", ")));
        if spread <= 1.2 {
            break;
        }
    }
    let mail = s.smtp.received().pop().unwrap();
    let dkim: String = mailtest::parse(&mail.data).header_raw("DKIM-Signature").expect("DKIM on").split_whitespace().collect();
    assert!(dkim.contains("a=ed25519-sha256"), "{dkim}");
    harness::figures("signup_abuse: timing by state", &format!("medians of 50 (DKIM ed25519, bound 1.20): {}", tries.join(" | ")));
    assert!(spread <= 1.2, "the answer's time tells the address's state: {tries:?}");
}

/// The order of the kinds in a round, round after round: each row has
/// each kind once and each kind right after each other kind once (a
/// balanced Latin square), so no kind is always probed after the same one.
const ORDER: [[usize; 4]; 4] = [[0, 1, 3, 2], [1, 2, 0, 3], [2, 3, 1, 0], [3, 0, 2, 1]];

/// One try: 50 rounds of one probe of each kind in `ORDER`, each from its
/// own source and waiting until the previous one's mail is sent and
/// marked, so that each meets an idle server: what is measured is the
/// request, not the work it leaves behind. The median time of each kind,
/// in `KINDS` order.
fn probe(s: &Scene, attempt: u8) -> Vec<Duration> {
    let mut expected = s.mails();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); KINDS.len()];
    for i in 0..50u8 {
        for k in ORDER[i as usize % ORDER.len()] {
            let kind = KINDS[k];
            let source = IpAddr::from([127, 10 + attempt, 2 + k as u8, i + 1]);
            let (answer, took) = s.post_from(source, &format!("email={kind}{attempt}-{i}%40example.org"));
            assert_eq!(status_of(&answer), 202, "{kind}{attempt}-{i}: {answer}");
            times[k].push(took);
            // Every kind is mailed: a confirmation, or an active
            // address's preferences link.
            expected += 1;
            assert_eq!(s.wait_mails(expected, Duration::from_secs(20)), expected, "{kind}{attempt}-{i}'s mail");
            s.wait_outbox_idle();
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(s.settle(Duration::from_millis(300)), expected, "one mail to each sign-up");
    times.into_iter().map(median).collect()
}

/// The `n`th variant of `Victim@Example.org`: the letters' case by the
/// bits of `n`, and a `+tag` on three in four.
fn variant(n: u32) -> String {
    let local: String = "victim".chars().enumerate().map(|(b, c)| if n >> b & 1 == 1 { c.to_ascii_uppercase() } else { c }).collect();
    let tag = if n.is_multiple_of(4) { String::new() } else { format!("+{n}") };
    let domain = if n.is_multiple_of(3) { "Example.ORG" } else { "example.org" };
    format!("{local}{tag}@{domain}")
}

/// Regression (issue 19, finding 3): the per-address limit counted each
/// spelling apart; 12 posts of `Victim@…`, `victim+1@…` put 11 mails in
/// one inbox.
#[test]
fn a_flood_of_case_and_tag_variants_of_one_mailbox_gets_it_at_most_the_per_address_limit() {
    let s = scene("");
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let started = Instant::now();
    for n in 0..1000u32 {
        let source = IpAddr::from([127, 0, 4, (n % 100) as u8 + 1]);
        let body = format!("email={}", variant(n).replace('+', "%2B").replace('@', "%40"));
        let status = status_of(&s.post_from(source, &body).0);
        *statuses.entry(status).or_default() += 1;
        assert_eq!(status, 202, "{}", variant(n));
    }
    let took = started.elapsed();
    s.wait_mails(PER_ADDRESS, Duration::from_secs(20));
    s.settle(Duration::from_secs(2));
    let received = s.smtp.received();
    let mailbox = |to: &str| {
        let (local, domain) = to.rsplit_once('@').unwrap();
        format!("{}@{domain}", local.split('+').next().unwrap()).to_lowercase()
    };
    let to_victim = received.iter().filter(|m| m.to.iter().any(|t| mailbox(t) == "victim@example.org")).count();
    harness::figures(
        "signup_abuse: one mailbox flooded",
        &format!(
            "1000 variants from 100 IPs in {:.1} s, statuses {statuses:?}, mails to the mailbox {to_victim} (limit {PER_ADDRESS}), mails in all {}",
            took.as_secs_f64(),
            received.len()
        ),
    );
    assert_eq!(to_victim, PER_ADDRESS, "confirmations reaching victim@example.org");
    assert_eq!(received.len(), PER_ADDRESS);
}

/// Issue 19, finding 3: besides the per-mailbox limit, a cap on every
/// confirmation mail an hour (a flood of distinct addresses from many IPs
/// must not make the relay a spam cannon).
#[test]
fn confirmation_mails_stop_at_the_hourly_cap_whatever_the_addresses() {
    let s = scene("\n[subscription]\nmax_confirmations_per_hour = 5\n");
    for n in 0..12u8 {
        let (answer, _) = s.post_from(IpAddr::from([127, 0, 5, n + 1]), &format!("email=reader{n}%40example.org"));
        assert_eq!(status_of(&answer), 202);
    }
    s.wait_mails(5, Duration::from_secs(20));
    let mails = s.settle(Duration::from_secs(2));
    assert!(s.serve.wait_log("max_confirmations_per_hour reached", Duration::from_secs(5)), "{}", s.serve.log());
    harness::figures("signup_abuse: hourly cap", &format!("12 sign-ups of distinct addresses from 12 IPs, confirmation mails {mails} (cap 5)"));
    assert_eq!(mails, 5);
}

/// Regression (issue 19, finding 4): mail security scanners fetch every
/// link of a message, and `GET`/`HEAD /confirm/{token}` activated the
/// subscriber, so double opt-in proved nothing.
#[test]
fn a_scanner_fetching_the_confirmation_link_confirms_no_one_and_the_button_does() {
    let s = scene("");
    assert_eq!(status_of(&s.post_from(IpAddr::from([127, 0, 6, 1]), "email=reader%40example.org").0), 202);
    assert_eq!(s.wait_mails(1, Duration::from_secs(20)), 1);
    let mail = s.smtp.received().remove(0);
    let text = mailtest::parse(&mail.data).body_text(0).unwrap().to_string();
    let link = mailtest::link_with(&text, "/confirm/");
    let path = &link[link.find("/confirm/").unwrap()..];
    let addr = s.serve.addr;
    let status = || s.rt.block_on(s.state.subscriber_by_email("reader@example.org")).unwrap().unwrap().status;

    let page = get(addr, path);
    assert_eq!(status_of(&page), 200, "{page}");
    assert!(page.contains(&format!("<form method=\"post\" action=\"{path}\">")), "{page}");
    let head = raw(addr, format!("HEAD {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(), Duration::from_secs(10));
    assert_eq!(status_of(&head), 200, "{head}");
    let after_fetches = status();
    let confirmed = raw(addr, form(path, "").as_bytes(), Duration::from_secs(10));
    let after_button = status();
    harness::figures(
        "signup_abuse: link scanner",
        &format!("after GET and HEAD of the link: {after_fetches:?}; after the button's POST: {after_button:?}"),
    );
    assert_eq!(after_fetches, Status::Pending, "a fetch of the link confirmed");
    assert_eq!(status_of(&confirmed), 200, "{confirmed}");
    assert!(confirmed.contains("Đăng ký thành công"), "{confirmed}");
    assert_eq!(after_button, Status::Active);
}

/// `POST /manage` (issue 22): the same answer for a subscriber, someone who
/// left and a stranger; through the real relay, one mail (DKIM-signed) with
/// the preferences link, to the subscriber only.
#[test]
fn manage_mails_the_preferences_link_to_a_subscriber_only_and_answers_alike() {
    let s = scene("");
    let now = chrono::Utc::now();
    s.rt.block_on(async {
        mailtest::add_subscriber(&s.state, "reader@example.org", Status::Active, now).await;
        mailtest::add_subscriber(&s.state, "gone@example.org", Status::Unsubscribed, now).await;
    });
    let answers: Vec<String> = ["reader", "gone", "stranger"]
        .iter()
        .enumerate()
        .map(|(i, who)| s.post_to("/manage", IpAddr::from([127, 0, 7, i as u8 + 1]), &format!("email={who}%40example.org")).0)
        .collect();
    // The same page but for the address it names (as typed: a typo shows).
    let pages: Vec<String> =
        answers.iter().zip(["reader", "gone", "stranger"]).map(|(a, who)| harness::page_without_address(a, &format!("{who}@example.org"))).collect();
    assert_eq!(status_of(&answers[0]), 202, "{}", answers[0]);
    assert!(pages[0].contains("Nếu ADDRESS đang nhận bản tin"), "{}", pages[0]);
    assert!(answers.iter().all(|a| status_of(a) == 202) && pages.iter().all(|p| *p == pages[0]), "the answers differ: {answers:?}");
    assert_eq!(s.wait_mails(1, Duration::from_secs(20)), 1);
    assert_eq!(s.settle(Duration::from_millis(500)), 1, "a mail to someone not subscribed");
    let mail = s.smtp.received().remove(0);
    assert_eq!(mail.to, ["reader@example.org"]);
    let m = mailtest::parse(&mail.data);
    assert!(m.header_raw("DKIM-Signature").is_some() && m.subject().unwrap().ends_with("liên kết quản lý đăng ký của bạn"));
    let link = mailtest::link_with(&m.body_text(0).unwrap(), "/preferences/");
    let page = get(s.serve.addr, &link[link.find("/preferences/").unwrap()..]);
    assert!(status_of(&page) == 200 && page.contains("reader@example.org"), "{page}");
}

/// The answer's time must not tell a subscriber (mailed) from a stranger
/// (not): medians of 50 each within 20 %, as for `POST /subscribe` (up to
/// `TRIES` tries, for the same reason).
#[test]
#[ignore = "timing: run alone (.ci/run does, after the other suites)"]
fn manage_takes_as_long_for_a_subscriber_and_a_stranger() {
    let s = scene("");
    let now = chrono::Utc::now();
    s.rt.block_on(async {
        for n in 0..TRIES {
            for i in 0..50 {
                mailtest::add_subscriber(&s.state, &format!("member{n}-{i}@example.org"), Status::Active, now).await;
            }
        }
    });
    let (mut tries, mut spread) = (Vec::new(), f64::INFINITY);
    for n in 0..TRIES {
        let (mut member, mut stranger) = (Vec::new(), Vec::new());
        for i in 0..50u8 {
            // Each kind first in every other pair, so that neither always
            // comes after a subscriber's mail went out (on a quick kernel a
            // probe after one took ~25 % longer, whoever it was for).
            let kinds: [u8; 2] = if i % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in kinds {
                let times = if k == 0 { &mut member } else { &mut stranger };
                let who = if k == 0 { "member" } else { "stranger" };
                let source = IpAddr::from([127, 20 + n, k + 1, i + 1]);
                let (answer, took) = s.post_to("/manage", source, &format!("email={who}{n}-{i}%40example.org"));
                assert_eq!(status_of(&answer), 202);
                times.push(took);
                if k == 0 {
                    s.wait_mails(50 * n as usize + i as usize + 1, Duration::from_secs(20));
                    s.wait_outbox_idle();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let (a, b) = (median(member), median(stranger));
        spread = a.max(b).as_secs_f64() / a.min(b).as_secs_f64();
        tries.push(format!("subscriber {:.3} ms, stranger {:.3} ms; slower/faster {spread:.2}", a.as_secs_f64() * 1e3, b.as_secs_f64() * 1e3));
        if spread <= 1.2 {
            break;
        }
    }
    harness::figures("signup_abuse: /manage timing", &format!("medians of 50: {}", tries.join(" | ")));
    assert_eq!(s.settle(Duration::from_millis(300)), 50 * tries.len(), "one mail a subscriber's probe, none a stranger's");
    assert!(spread <= 1.2, "the answer's time tells who subscribes: {tries:?}");
}
