//! Injection: CR/LF and other control characters in article titles,
//! categories, authors and summaries, in the site title, and in subscriber
//! addresses must never reach a mail header unencoded; HTML in article
//! fields is escaped in mails and pages. Drives the real digest pipeline
//! and the real subscription routes (axum on loopback) with a real SMTP
//! server (tests/support/mailtest), and reads the raw bytes that arrived.

use crate::support::harness;
use crate::support::mailtest;

use bantin::digest::plan::Mode;
use bantin::newsletter::{CatalogSource, Digests};
use chrono::{DateTime, Utc};
use mailtest::smtp::SmtpServer;
use std::sync::Arc;

/// An article whose every text field carries an injection attempt (TOML
/// basic strings: `\r\n` are real CR LF after parsing).
fn evil_article(n: usize) -> String {
    let e = "\\r\\nBcc: thief@evil.example\\r\\nX-Injected: yes\\r\\n\\u0085\\u2028\\u000b\\u001b<script>alert(1)</script>";
    format!(
        "+++\ntitle = \"Tiêu đề {n}{e}<img src=x onerror=alert(2)>\"\ndate = \"2026-08-3{n}T08:00:00+07:00\"\n\
         categories = [\"Kinh tế{e}\", \"<b onmouseover=alert(3)>Du lịch</b>\"]\nauthors = [\"Tác giả{e}\"]\n\
         summary = \"Tóm tắt{e}\"\n+++\n\nNội dung <script>alert(4)</script> và <iframe src=//evil.example></iframe>.\n"
    )
}

fn now() -> DateTime<Utc> {
    "2026-08-31T03:00:00Z".parse().unwrap()
}

/// The header section of a raw message, unfolded, one header a line.
fn headers(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut out: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.push_str(line);
            }
        } else {
            out.push(line.to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_never_reach_a_header_and_html_is_escaped_in_mails_and_pages() {
    let smtp = SmtpServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    for n in 0..2 {
        std::fs::write(store.join(format!("evil-{n}.md")), evil_article(n)).unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = listener.local_addr().unwrap();
    let cfg = mailtest::write_config(dir.path(), &store, &smtp.url(), &format!("http://{http}/"), "");
    // The site title (config is trusted, but a stray line break must still
    // not split a header) and a From without a display name, so the title
    // is the List-Id heading.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("title = \"Cổng thông tin điện tử tỉnh Yên Bái\"", "title = \"Cổng <i>thông tin</i>\\r\\nBcc: thief@evil.example\"")
        .replace("from = \"Bản tin Yên Bái <bantin@example.org>\"", "from = \"bantin@example.org\"");
    std::fs::write(&cfg, text).unwrap();
    let settings = Arc::new(mailtest::load(&cfg));
    let catalog = Arc::new(bantin::store::load_catalog(&settings, 1).expect("the test store loads"));
    assert_eq!(catalog.articles().len(), 2, "the evil articles load: {:?}", catalog.errors());
    let source: CatalogSource = Arc::new(move || Arc::clone(&catalog));
    let digests = Digests::open(settings, source).await.unwrap();
    mailtest::serve_routes(listener, bantin::subscription::routes(Arc::clone(&digests)));
    let client = reqwest::Client::new();
    let mut tried = 0;

    // Addresses that try to carry a header are refused at the form (400)
    // and by the state store's normaliser; none reaches the database.
    let evil_addresses = [
        "a@b.vn\r\nBcc: thief@evil.example",
        "a@b.vn\nBcc:thief@evil.example",
        "a@b.vn\rBcc:thief@evil.example",
        "a@b.vn\u{85}Bcc: thief@evil.example",
        "a@b.vn\u{2028}Bcc: thief@evil.example",
        "a@b.vn\u{0}",
        "\"a\r\nb\"@b.vn",
        "Reader <a@b.vn>",
        "a@b.vn, thief@evil.example",
        "a@b.vn;thief@evil.example",
        "<script>alert(1)</script>@b.vn",
        "a@b.vn%0d%0aBcc:thief@evil.example",
    ];
    for a in evil_addresses {
        tried += 1;
        assert!(bantin::state::normalize_address(a).is_err(), "{a:?} accepted as an address");
        let body: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("email", a).finish();
        let r = mailtest::post_form(&client, &format!("http://{http}/subscribe"), &body).await;
        let status = r.status().as_u16();
        let page = r.text().await.unwrap();
        assert_eq!(status, 400, "{a:?}");
        assert!(!page.contains("<script>alert"), "the page echoes markup: {page}");
    }
    assert!(digests.state.subscribers().await.unwrap().is_empty(), "no evil address was stored");

    // A real subscriber gets a digest of the evil articles.
    let sub = mailtest::active_subscriber(&digests.state, "reader@example.org", now()).await;
    assert_eq!(digests.queue(now(), Mode::Now).await.unwrap().queued, 1);
    assert_eq!(digests.deliver().await.unwrap().sent, 1);
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["reader@example.org"], "the envelope has the subscriber only");
    let raw = &mails[0].data;
    let names: Vec<String> = headers(raw).iter().map(|h| h.split(':').next().unwrap_or("").to_ascii_lowercase()).collect();
    let allowed = [
        "from", "to", "subject", "message-id", "date", "list-unsubscribe", "list-unsubscribe-post", "list-id",
        "auto-submitted", "x-auto-response-suppress", "mime-version", "content-type", "content-transfer-encoding", "dkim-signature",
    ];
    for n in &names {
        assert!(allowed.contains(&n.as_str()), "unexpected header {n:?} in\n{}", String::from_utf8_lossy(raw));
    }
    let head = String::from_utf8_lossy(raw).split("\r\n\r\n").next().unwrap().to_string();
    // "Bcc:" may appear inside the folded Subject (as text, after a
    // folding space): what matters is that no line starts a header of that
    // name, which the list above checks.
    assert!(!head.split("\r\n").any(|l| l.to_ascii_lowercase().starts_with("bcc") || l.starts_with("X-Injected")), "{head}");
    for line in head.split("\r\n") {
        assert!(line.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)), "a raw non-ASCII or control byte in a header: {line:?}");
    }
    let parsed = mail_parser::MessageParser::default().parse(raw).unwrap();
    let subject = parsed.subject().unwrap();
    assert!(!subject.chars().any(char::is_control), "{subject:?}");
    let list_id = parsed.header_raw("List-Id").unwrap_or("");
    assert!(!list_id.contains('\n') || list_id.trim_end().lines().skip(1).all(|l| l.starts_with([' ', '\t'])), "{list_id:?}");
    let html = parsed.body_html(0).unwrap();
    for markup in ["<script>alert", "<img src=x", "<b onmouseover", "<iframe", "<i>thông tin</i>"] {
        assert!(!html.contains(markup), "{markup} reached the digest HTML unescaped:\n{html}");
    }
    assert!(html.contains("&lt;script&gt;alert(1)"), "the title is shown, escaped:\n{html}");
    let text = parsed.body_text(0).unwrap();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{85}'), "control characters in the text part");

    // The preferences page lists the evil category names escaped.
    let prefs = digests.composer.preferences_url(sub.id);
    let page = client.get(&prefs).send().await.unwrap().text().await.unwrap();
    tried += 1;
    assert!(!page.contains("<b onmouseover") && !page.contains("<script>alert"), "{page}");
    assert!(page.contains("&lt;b onmouseover=alert(3)&gt;") || page.contains("&lt;b onmouseover"), "the category is listed, escaped:\n{page}");

    // The confirmation mail of an address with HTML-like but valid parts.
    let r = mailtest::post_form(&client, &format!("http://{http}/subscribe"), "email=o%27brien%2Btag%40example.org").await;
    tried += 1;
    assert_eq!(r.status(), 202);
    for _ in 0..100 {
        if smtp.received().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let confirm = &smtp.received()[1];
    assert_eq!(confirm.to, ["o'brien+tag@example.org"]);
    harness::figures(
        "injection",
        &format!(
            "attempts: {} addresses ({tried} requests), 5 fields x 2 articles, the site title; headers injected 0, unescaped markup 0, panics 0",
            evil_addresses.len()
        ),
    );
}
