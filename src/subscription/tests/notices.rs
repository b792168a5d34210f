//! The welcome mail after a confirmation, `/manage` and the preferences
//! page's "unsubscribe from everything": the routes without a socket, the
//! mails read back from the outbox of the real state database.

use super::*;

/// Every message in the outbox, oldest first: (recipient, period key,
/// subject, text part).
async fn outbox(s: &Site) -> Vec<(String, String, String, String)> {
    let url = format!("sqlite://{}/state/bantin.db", s._dir.path().display());
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let rows = sqlx::query(
        "SELECT o.recipient, o.period_key, b.body FROM outbox o JOIN outbox_bodies b ON b.outbox_id = o.id ORDER BY o.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    use sqlx::Row as _;
    rows.iter()
        .map(|r| {
            let body: Vec<u8> = r.get("body");
            let m = mail_parser::MessageParser::default().parse(&body).unwrap();
            let text = m.body_text(0).unwrap().to_string();
            (r.get("recipient"), r.get("period_key"), m.subject().unwrap().to_string(), text)
        })
        .collect()
}

async fn active(s: &Site, email: &str) -> i64 {
    let id = s.pending(email).await;
    let made = Utc::now() - chrono::Duration::seconds(2);
    assert!(s.digests.state.confirm(id, made, Utc::now()).await.unwrap().is_some());
    id
}

/// The `href` of the first form after `marker` in `page`.
fn action_after(page: &str, marker: &str) -> String {
    let rest = &page[page.find(marker).unwrap_or_else(|| panic!("{marker} not in {page}"))..];
    let at = rest.find("action=\"").unwrap() + 8;
    rest[at..at + rest[at..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn the_confirm_button_queues_one_welcome_mail_in_the_pages_language() {
    let s = site(Limits::default()).await;
    let id = s.pending("a@example.org").await;
    let path = format!("/confirm/{}", s.token(Purpose::Confirm, id, Some(Utc::now() + chrono::Duration::days(7))));
    assert_eq!(s.post(&format!("{path}?lang=en"), "", None).await.0, StatusCode::OK);
    s.wait_outbox(1).await;
    // Pressed again (a double click, a reload): no second welcome.
    assert_eq!(s.post(&path, "", None).await.0, StatusCode::OK);
    let mails = outbox(&s).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let (to, key, subject, text) = &mails[0];
    assert_eq!((to.as_str(), key.starts_with("welcome:")), ("a@example.org", true));
    assert_eq!(subject, "Bản tin: welcome to the newsletter");
    assert!(text.contains("https://bantin.example/archive/"), "{text}");
    let prefs = text.lines().find(|l| l.starts_with("https://bantin.example/preferences/")).expect("a preferences link");
    let (status, _, page) = s.get(prefs.trim_start_matches("https://bantin.example"), None).await;
    assert!(status == StatusCode::OK && page.contains("<h1>Tùy chọn bản tin</h1>"), "{page}");
}

#[tokio::test]
async fn no_welcome_mail_with_digest_welcome_false() {
    let s = site_with(Limits::default(), "[digest]\nwelcome = false\n").await;
    let id = s.pending("a@example.org").await;
    let path = format!("/confirm/{}", s.token(Purpose::Confirm, id, Some(Utc::now() + chrono::Duration::days(7))));
    assert_eq!(s.post(&path, "", None).await.0, StatusCode::OK);
    assert_eq!(s.status(id).await, Status::Active);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(outbox(&s).await.is_empty());
}

#[tokio::test]
async fn manage_answers_the_same_for_anyone_and_mails_the_link_to_subscribers_only() {
    let s = site(Limits::default()).await;
    let (status, _, form) = s.get("/manage", Some("en")).await;
    assert!(status == StatusCode::OK && form.contains("<form method=\"post\" action=\"/manage?lang=en\">"), "{form}");
    assert!(form.contains("<label for=\"email\">E-mail address</label>"), "{form}");
    active(&s, "member@example.org").await;
    s.pending("pending@example.org").await;
    let left = active(&s, "left@example.org").await;
    assert_eq!(s.digests.state.unsubscribe(left).await.unwrap(), Unsubscribe::Done);
    let mut answers = Vec::new();
    for (i, email) in ["member%40example.org", "stranger%40example.org", "pending%40example.org", "left%40example.org"].iter().enumerate() {
        let (status, _, page) = s.post("/manage", &format!("email={email}"), Some(&format!("192.0.2.{i}"))).await;
        // The same page but for the address it names.
        answers.push((status, page.replace(&email.replace("%40", "@"), "ADDRESS")));
    }
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    assert!(answers.iter().all(|a| *a == answers[0]), "the answers differ");
    s.wait_outbox(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mails = outbox(&s).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let (to, key, subject, text) = &mails[0];
    assert_eq!((to.as_str(), key.starts_with("manage:")), ("member@example.org", true));
    assert_eq!(subject, "Bản tin: liên kết quản lý đăng ký của bạn");
    assert!(text.contains("https://bantin.example/preferences/"), "{text}");
    // A malformed address is told so; another site's page is refused.
    assert_eq!(s.post("/manage", "email=nope", Some("192.0.2.9")).await.0, StatusCode::BAD_REQUEST);
    let (status, _, _) = s.post_with("/manage", "email=member%40example.org", Some("192.0.2.9"), &[("origin", "https://evil.example")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn manage_mails_are_limited_like_sign_ups() {
    let s = site(Limits { per_address: 1, per_ip: 2, ..Limits::default() }).await;
    active(&s, "member@example.org").await;
    for ip in ["192.0.2.1", "192.0.2.2"] {
        assert_eq!(s.post("/manage", "email=member%40example.org", Some(ip)).await.0, StatusCode::ACCEPTED);
    }
    assert_eq!(s.post("/manage", "email=member%40example.org", Some("192.0.2.1")).await.0, StatusCode::ACCEPTED);
    assert_eq!(s.post("/manage", "email=other%40example.org", Some("192.0.2.1")).await.0, StatusCode::TOO_MANY_REQUESTS);
    s.wait_outbox(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(outbox(&s).await.len(), 1, "one mail a mailbox a day");
}

#[tokio::test]
async fn the_preferences_page_shows_the_choices_and_unsubscribes_from_everything() {
    let s = site(Limits::default()).await;
    let id = active(&s, "a@example.org").await;
    assert!(s.digests.state.set_preferences(id, &["du-lich".to_string()], Frequency::Weekly).await.unwrap());
    let prefs = format!("/preferences/{}", s.token(Purpose::Preferences, id, None));
    let (status, _, page) = s.get(&prefs, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Địa chỉ a@example.org đang nhận bản tin hằng tuần, chuyên mục: Du lịch."), "{page}");
    let leave = action_after(&page, "<h2 id=\"leave\">Hủy mọi đăng ký</h2>");
    assert!(leave.starts_with("/unsubscribe/") && !leave.contains(prefs.trim_start_matches("/preferences/")), "{leave}");
    let (status, _, page) = s.post(&leave, "List-Unsubscribe=One-Click", None).await;
    assert!(status == StatusCode::OK && page.contains("<h1>Đã hủy đăng ký</h1>"), "{page}");
    assert_eq!(s.status(id).await, Status::Unsubscribed);
}

/// The text and HTML parts of `message`, for a snapshot.
fn parts(message: &crate::state::OutboxMessage) -> String {
    let body = message.body().unwrap();
    let m = mail_parser::MessageParser::default().parse(&body).unwrap();
    format!("Subject: {}\n\n{}\n----\n{}", m.subject().unwrap(), m.body_text(0).unwrap(), m.body_html(0).unwrap())
}

/// The pages and mails of this room in Vietnamese and English, as insta
/// snapshots (src/subscription/tests/snapshots/): the /manage form and its
/// answer, the preferences page, the confirmation, welcome and manage
/// mails.
#[tokio::test]
async fn snapshots_of_the_pages_and_mails_in_vietnamese_and_english() {
    let s = site(Limits::default()).await;
    let id = active(&s, "doc.gia@example.org").await;
    assert!(s.digests.state.set_preferences(id, &["kinh-te".to_string()], Frequency::Weekly).await.unwrap());
    let sub = s.digests.state.subscriber_by_id(id).await.unwrap().unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-04T08:00:00+07:00").unwrap().to_utc();
    for lang in ["vi", "en"] {
        let (_, _, form) = s.get(&format!("/manage?lang={lang}"), None).await;
        insta::assert_snapshot!(format!("manage_{lang}.html"), form);
        let (_, _, sent) = s.post(&format!("/manage?lang={lang}"), "email=someone%40example.org", Some("192.0.2.1")).await;
        insta::assert_snapshot!(format!("manage_sent_{lang}.html"), sent);
        let prefs = format!("/preferences/{}?lang={lang}", s.token(Purpose::Preferences, id, None));
        let (_, _, page) = s.get(&prefs, None).await;
        insta::assert_snapshot!(format!("preferences_{lang}.html"), page);
        insta::assert_snapshot!(format!("welcome_mail_{lang}"), parts(&s.digests.composer.welcome(&sub, lang, at, &crate::digest::next::next_issue(sub.frequency, &s.digests.plan, at, lang == "en")).unwrap()));
        insta::assert_snapshot!(format!("manage_mail_{lang}"), parts(&s.digests.composer.manage(&sub, lang, at).unwrap()));
        insta::assert_snapshot!(format!("already_subscribed_mail_{lang}"), parts(&s.digests.composer.already_subscribed(&sub, lang, at).unwrap()));
        insta::assert_snapshot!(format!("confirm_mail_{lang}"), parts(&s.digests.composer.confirmation_in(&sub, lang, at).unwrap()));
    }
}

/// Regression: an unsubscribe by mistake had no way back but a new
/// sign-up, and the preferences page of someone who left said "saved" to
/// choices that sent nothing. The unsubscribed page links to the
/// preferences page, which says how to come back; saving there makes them
/// active again (the link came to their mailbox). A complaint or a hard
/// bounce stays as it is.
#[tokio::test]
async fn someone_who_unsubscribed_by_mistake_comes_back_from_the_preferences_page() {
    let s = site(Limits::default()).await;
    let id = active(&s, "a@example.org").await;
    let unsubscribe = format!("/unsubscribe/{}", s.token(Purpose::Unsubscribe, id, None));
    let (status, _, page) = s.post(&unsubscribe, "List-Unsubscribe=One-Click", None).await;
    assert_eq!((status, s.status(id).await), (StatusCode::OK, Status::Unsubscribed), "{page}");
    let back = page.split("<a href=\"").find(|link| link.starts_with("/preferences/")).and_then(|rest| rest.split('"').next());
    let back = back.unwrap_or_else(|| panic!("no way back: {page}")).to_string();
    assert!(page.contains(&format!("<a href=\"{back}\">Hủy nhầm? Đăng ký lại</a>")), "{page}");
    let (status, _, page) = s.get(&back, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Địa chỉ a@example.org đã hủy đăng ký; lưu các lựa chọn") && !page.contains("id=\"leave\""), "{page}");
    let (status, _, page) = s.post(&back, "topics=du-lich&frequency=weekly", None).await;
    assert!(status == StatusCode::OK && page.contains("<h1>Đã đăng ký lại</h1>"), "{page}");
    let sub = s.digests.state.subscriber_by_id(id).await.unwrap().unwrap();
    assert_eq!((sub.status, sub.topics, sub.frequency), (Status::Active, vec!["du-lich".to_string()], Frequency::Weekly));
    let (_, _, page) = s.post(&back, "topics=kinh-te", None).await;
    assert!(page.contains("<h1>Đã lưu</h1>"), "an active one's save is a save: {page}");

    let (_, _, page) = s.post(&format!("{unsubscribe}?lang=en"), "List-Unsubscribe=One-Click", None).await;
    assert!(page.contains("?lang=en\">Unsubscribed by mistake? Subscribe again</a>"), "{page}");

    let new = NewSubscriber { email: "spam@example.org".into(), topics: vec![], frequency: Frequency::Daily, status: Status::Complained, now: Utc::now() };
    let complained = s.digests.state.insert_subscriber(&new).await.unwrap().0.id;
    let token = s.token(Purpose::Unsubscribe, complained, None);
    let (_, _, page) = s.post(&format!("/unsubscribe/{token}"), "List-Unsubscribe=One-Click", None).await;
    assert!(page.contains("<h1>Đã hủy đăng ký</h1>") && !page.contains("Hủy nhầm"), "no way back offered where none leads: {page}");
    let prefs = format!("/preferences/{}", s.token(Purpose::Preferences, complained, None));
    let (_, _, page) = s.get(&prefs, None).await;
    assert!(page.contains("Địa chỉ spam@example.org hiện không nhận bản tin."), "{page}");
    let (status, _, page) = s.post(&prefs, "topics=du-lich", None).await;
    assert!(status == StatusCode::OK && page.contains("<h1>Đã lưu</h1>"), "{page}");
    assert_eq!(s.status(complained).await, Status::Complained, "a complaint is never undone by a link");
}

/// A sign-up on the English page gets its confirmation mail in English.
#[tokio::test]
async fn the_confirmation_mail_is_in_the_language_of_the_form() {
    let s = site(Limits::default()).await;
    assert_eq!(s.post("/subscribe?lang=en", "email=en%40example.org", Some("192.0.2.1")).await.0, StatusCode::ACCEPTED);
    s.wait_outbox(1).await;
    assert_eq!(s.post("/subscribe", "email=vi%40example.org", Some("192.0.2.2")).await.0, StatusCode::ACCEPTED);
    s.wait_outbox(2).await;
    let subjects: Vec<(String, String)> = outbox(&s).await.into_iter().map(|(to, _, subject, _)| (to, subject)).collect();
    assert_eq!(
        subjects,
        [
            ("en@example.org".to_string(), "Bản tin: confirm your subscription".to_string()),
            ("vi@example.org".to_string(), "Bản tin: xác nhận đăng ký nhận bản tin".to_string()),
        ]
    );
}

/// Regression: someone who marked a digest as spam (complained) and then
/// pressed an older mail's unsubscribe button became `unsubscribed`, so the
/// next sign-up of the address, by anyone, mailed them a confirmation
/// (a complaint means never mailed again). A hard bounce likewise.
#[tokio::test]
async fn unsubscribing_keeps_a_complaint_or_a_hard_bounce_and_a_sign_up_mails_nothing() {
    let s = site(Limits::default()).await;
    for (n, never) in [Status::Complained, Status::Suppressed].into_iter().enumerate() {
        let email = format!("khieu-nai{n}@example.org");
        let new = NewSubscriber { email: email.clone(), topics: vec![], frequency: Frequency::Daily, status: never, now: Utc::now() };
        let id = s.digests.state.insert_subscriber(&new).await.unwrap().0.id;
        let token = s.token(Purpose::Unsubscribe, id, None);
        let (status, _, page) = s.post(&format!("/unsubscribe/{token}"), "List-Unsubscribe=One-Click", None).await;
        assert_eq!(status, StatusCode::OK, "the same page as anyone's: {page}");
        assert_eq!(s.status(id).await, never, "unsubscribing does not weaken {never:?}");
        let form = format!("email={}", email.replace('@', "%40"));
        assert_eq!(s.post("/subscribe", &form, Some("192.0.2.9")).await.0, StatusCode::ACCEPTED);
    }
    // The sign-up worker handles posts in order: a later one's mail shows
    // that the two above were handled, and queued nothing.
    assert_eq!(s.post("/subscribe", "email=moi%40example.org", Some("192.0.2.10")).await.0, StatusCode::ACCEPTED);
    s.wait_outbox(1).await;
    assert_eq!(outbox(&s).await.iter().map(|m| m.0.as_str()).collect::<Vec<_>>(), ["moi@example.org"]);
}

/// Regression: `An@Example.ORG` signing up beside the active
/// `an@example.org` became a second subscriber, confirmed from the same
/// inbox, and every digest came twice. And a subscriber who signed up
/// again (for other topics, say) was sent nothing and waited for a
/// confirmation: now their preferences link comes, saying why, and the
/// choices posted are not taken (the form proves nothing of the mailbox).
#[tokio::test]
async fn a_sign_up_in_other_capitals_is_the_subscriber_already_there_who_gets_their_preferences_link() {
    let s = site(Limits::default()).await;
    let id = active(&s, "an@example.org").await;
    let form = "email=An%40Example.ORG&topics=du-lich&frequency=weekly";
    assert_eq!(s.post("/subscribe", form, Some("192.0.2.11")).await.0, StatusCode::ACCEPTED);
    s.wait_outbox(1).await;
    let mails = outbox(&s).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let (to, key, subject, text) = &mails[0];
    assert_eq!((to.as_str(), subject.as_str()), ("an@example.org", "Bản tin: bạn đã đăng ký bản tin này"));
    assert!(key.starts_with("manage:") && text.contains("đã đăng ký rồi") && text.contains("https://bantin.example/preferences/"), "{text}");
    let subscribers = s.digests.state.subscribers().await.unwrap();
    assert_eq!(subscribers.len(), 1, "{subscribers:?}");
    let sub = &subscribers[0];
    assert_eq!((sub.id, sub.email.as_str(), sub.topics.len(), sub.frequency), (id, "an@example.org", 0, Frequency::Daily));
}

/// A reader who mistyped their provider (`gmial.com`) waited for a
/// confirmation that went nowhere, told only "if this address needs
/// confirming…" (and at /manage for a link, "if this address…"). The
/// answer names the address as typed, and the one most likely meant;
/// markup in an address is shown, not run.
#[tokio::test]
async fn the_sign_up_answer_shows_the_address_and_the_provider_most_likely_meant() {
    let s = site(Limits::default()).await;
    let (status, _, page) = s.post("/subscribe", "email=an%40gmial.com", Some("192.0.2.21")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(page.contains("Chúng tôi đã gửi một thư tới an@gmial.com") && page.contains("Có phải ý bạn là an@gmail.com?"), "{page}");
    let (_, _, page) = s.post("/subscribe?lang=en", "email=o%27brien%26co%40example.org", Some("192.0.2.22")).await;
    assert!(page.contains("We have sent a message to o&#39;brien&amp;co@example.org") && !page.contains("Did you mean"), "{page}");
    // Asking for the preferences link, likewise.
    let (status, _, page) = s.post("/manage", "email=an%40yaho.com", Some("192.0.2.23")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(page.contains("Nếu an@yaho.com đang nhận bản tin") && page.contains("Có phải ý bạn là an@yahoo.com? Nếu vậy, hãy gửi lại"), "{page}");
}

/// A program that fills in every field of the built-in sign-up form, the
/// hidden one too, gets the page a person gets, and nothing is recorded or
/// mailed (a form bot subscribing strangers, one list after another). The
/// field left empty, or absent (a site's own form), is a person's.
#[tokio::test]
async fn a_sign_up_with_the_hidden_field_filled_in_is_answered_and_recorded_nowhere() {
    let index = include_str!("../../../templates/index.html");
    assert!(index.contains(&format!("name=\"{TRAP_FIELD}\"")), "the built-in form has the field the parser reads");
    let s = site(Limits::default()).await;
    let filled = format!("email=stranger%40example.org&{TRAP_FIELD}=https%3A%2F%2Fspam.example%2F&frequency=daily");
    let (status, _, bot_page) = s.post("/subscribe", &filled, Some("192.0.2.31")).await;
    let empty = format!("email=stranger%40example.org&{TRAP_FIELD}=&frequency=daily");
    let (_, _, person_page) = s.post("/subscribe", &empty, Some("192.0.2.32")).await;
    assert_eq!((status, bot_page), (StatusCode::ACCEPTED, person_page), "the same answer");
    assert_eq!(s.post("/subscribe", "email=own-form%40example.org", Some("192.0.2.33")).await.0, StatusCode::ACCEPTED);
    // The worker takes posts in order: the third's mail shows the first
    // was handled, and recorded nothing.
    s.wait_outbox(2).await;
    let to: Vec<String> = outbox(&s).await.into_iter().map(|m| m.0).collect();
    assert_eq!(to, ["stranger@example.org", "own-form@example.org"], "one mail for the person's form (the program's took none of the address's limit), none for the program's");
    assert_eq!(s.digests.state.subscribers().await.unwrap().len(), 2);
}

/// A reader who changes how often they hear from us is told when the next
/// mail comes with the new frequency; one who gets no digests (a hard
/// bounce, say) is promised none.
#[tokio::test]
async fn saved_preferences_say_when_the_next_mail_comes_to_one_who_gets_digests() {
    let s = site(Limits::default()).await;
    let reader = active(&s, "doc.gia@example.org").await;
    let bounced = NewSubscriber { email: "hong@example.org".into(), topics: vec![], frequency: Frequency::Daily, status: Status::Suppressed, now: Utc::now() };
    let bounced = s.digests.state.insert_subscriber(&bounced).await.unwrap().0.id;
    let s = &s;
    let save = |id: i64, form: &'static str| {
        let uri = format!("/preferences/{}?lang=en", s.token(Purpose::Preferences, id, None));
        async move { s.post(&uri, form, None).await }
    };
    let (status, _, page) = save(reader, "frequency=weekly").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your preferences have been updated. Your next issue comes at about 07:00 on Monday,"), "{page}");
    let (_, _, page) = save(reader, "frequency=instant").await;
    assert!(page.contains("Your next mail comes within"), "{page}");
    let (status, _, page) = save(bounced, "frequency=weekly").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your preferences have been updated.") && !page.contains("Your next"), "{page}");
}
