//! `bantin subscribers …` and `bantin digest preview|run` driven through
//! the real binary, on both state backends (`name::sqlite`,
//! `name::postgres`).

use crate::support::mailtest;

use mailtest::{Backend, StateDb};

use std::process::{Command, Output};

fn bantin(cfg: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bantin"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .env("BANTIN_LOG", "error")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `bantin subscribers import` of `list`, whose line 3 is the address
/// `khong-phai-dia-chi` and the only bad row: it is named alone (exit 65)
/// and the `imported` others come in.
fn import_with_a_bad_third_line(cfg: &std::path::Path, list: &std::path::Path, imported: usize) {
    let out = bantin(cfg, &["subscribers", "import", list.to_str().unwrap()]);
    let err = text(&out.stderr);
    let name = list.file_name().unwrap().to_string_lossy();
    assert_eq!(out.status.code(), Some(65), "one bad row: {err}");
    assert!(err.contains(&format!("{name}:3:")) && err.contains("khong-phai-dia-chi") && err.lines().count() == 1, "{err}");
    assert!(text(&out.stdout).contains(&format!("imported {imported} subscribers")), "{}", text(&out.stdout));
}

/// `bantin subscribers list --format json`.
fn listed(cfg: &std::path::Path) -> Vec<serde_json::Value> {
    let json: serde_json::Value = serde_json::from_slice(&bantin(cfg, &["subscribers", "list", "--format", "json"]).stdout).unwrap();
    json.as_array().cloned().unwrap_or_default()
}

/// Each subscriber's status as `subscribers list` gives it, by address.
fn statuses(cfg: &std::path::Path) -> std::collections::HashMap<String, String> {
    listed(cfg).iter().map(|s| (s["email"].as_str().unwrap_or_default().to_string(), s["status"].as_str().unwrap_or_default().to_string())).collect()
}

/// Imports each of `lists`, which must go in without a bad row.
fn import_all(cfg: &std::path::Path, lists: &[&std::path::PathBuf]) {
    for list in lists {
        let out = bantin(cfg, &["subscribers", "import", list.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    }
}

/// A config of the example store on a SQLite state database, in its own
/// folder (kept while the three live), with no relay.
fn with_sqlite() -> (tempfile::TempDir, StateDb, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(Backend::Sqlite, dir.path());
    let cfg = mailtest::write_config_for(dir.path(), &db.url, &mailtest::examples(), "smtp://127.0.0.1:9", "https://bantin.example.org/", "");
    (dir, db, cfg)
}

fn add_list_remove_export_import(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    let cfg = mailtest::write_config_for(dir.path(), &db.url, &mailtest::examples(), "smtp://127.0.0.1:9", "https://bantin.example.org/", "");
    let out = bantin(&cfg, &["subscribers", "add", "An@Example.ORG", "--topics", "kinh-te,Du lịch", "--frequency", "weekly", "--confirmed"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        dir.path().join("state/bantin.db").is_file(),
        backend == Backend::Sqlite,
        "an SQLite state database is made at its path (and nothing is, with PostgreSQL)"
    );
    // Adding it again, in any case, is refused.
    let again = bantin(&cfg, &["subscribers", "add", " an@EXAMPLE.org "]);
    assert_eq!(again.status.code(), Some(65));
    assert!(text(&again.stderr).contains("An@example.org"), "names the subscriber already there: {}", text(&again.stderr));
    // Header injection and non-addresses are refused.
    let bad = bantin(&cfg, &["subscribers", "add", "x@example.org\r\nBcc: y@example.org"]);
    assert_eq!(bad.status.code(), Some(65));
    assert!(text(&bad.stderr).contains("line break"), "{}", text(&bad.stderr));

    let list = bantin(&cfg, &["subscribers", "list"]);
    let table = text(&list.stdout);
    assert!(table.contains("An@example.org") && table.contains("active") && table.contains("weekly") && table.contains("kinh-te,du-lich"), "{table}");
    let json: serde_json::Value = serde_json::from_slice(&bantin(&cfg, &["subscribers", "list", "--format", "json"]).stdout).unwrap();
    assert_eq!(json[0]["email"], "An@example.org");
    assert_eq!(json[0]["status"], "active");

    let csv = dir.path().join("in.csv");
    std::fs::write(
        &csv,
        "email,topics,frequency,status\n\
         ok1@example.org,,daily,\n\
         not-an-address,,daily,\n\
         ok2@example.org,van-hoa-xa-hoi,weekly,pending\n\
         ok3@example.org,,hourly,\n\
         An@example.org,,daily,\n",
    )
    .unwrap();
    let out = bantin(&cfg, &["subscribers", "import", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "bad rows make the exit code 65");
    let err = text(&out.stderr);
    assert!(err.contains("in.csv:3:") && err.contains("not-an-address"), "{err}");
    assert!(err.contains("in.csv:5:") && err.contains("hourly"), "{err}");
    assert!(text(&out.stdout).contains("imported 2 subscribers; 1 were already there"), "{}", text(&out.stdout));
    // Importing again changes nothing.
    let out = bantin(&cfg, &["subscribers", "import", csv.to_str().unwrap()]);
    assert!(text(&out.stdout).contains("imported 0 subscribers; 3 were already there"), "{}", text(&out.stdout));

    let export = text(&bantin(&cfg, &["subscribers", "export"]).stdout);
    let lines: Vec<&str> = export.lines().collect();
    assert_eq!(lines[0], "email,topics,frequency,status,created_at,confirmed_at,bounce_count");
    assert_eq!(lines.len(), 4);
    assert!(export.contains("ok2@example.org,van-hoa-xa-hoi,weekly,pending"), "{export}");

    let out = bantin(&cfg, &["subscribers", "remove", "ok1@EXAMPLE.org"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(bantin(&cfg, &["subscribers", "remove", "ok1@example.org"]).status.code(), Some(65));
}

fn digest_preview_prints_the_message_and_run_exits_69_without_smtp(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::new(backend, dir.path());
    // Port 9 (discard) on loopback: nothing listens, connections are refused.
    let cfg = mailtest::write_config_for(dir.path(), &db.url, &mailtest::examples(), "smtp://127.0.0.1:9", "https://bantin.example.org/", "");
    assert!(bantin(&cfg, &["subscribers", "add", "reader@example.org", "--confirmed"]).status.success());
    let out = bantin(&cfg, &["digest", "preview", "reader@example.org", "--at", "2026-08-31T07:00:00+07:00"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let parsed = mail_parser::MessageParser::default().parse(&out.stdout).unwrap();
    assert!(parsed.subject().unwrap().starts_with("Bản tin Yên Bái – 31/08/2026: "), "{:?}", parsed.subject());
    assert!(parsed.body_text(0).is_some() && parsed.body_html(0).is_some());
    let secret = dir.path().join("state/bantin.secret");
    match backend {
        Backend::Sqlite => {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600, "secret made at first start");
            // Issue 19: made 0644 under the usual umask 022 of a shell.
            let db = dir.path().join("state/bantin.db");
            assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600, "the state database is private");
        }
        // Shared by the instances on the database: kept there, no file.
        Backend::Postgres => assert!(!secret.exists(), "no key file with PostgreSQL"),
    }
    // A preview writes nothing: the run that follows still has it due.
    let out = bantin(&cfg, &["digest", "run", "--dry-run", "--now", "--at", "2026-08-31T07:00:00+07:00"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("reader@example.org\tdaily:2026-09-01"), "{}", text(&out.stdout));
    let out = bantin(&cfg, &["digest", "run"]);
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not reachable"), "{}", text(&out.stderr));
}

/// Regression: a list saved by Excel as "CSV UTF-8" on a Vietnamese (or
/// most European) Windows, where the decimal mark is a comma, has `;`
/// between fields, a byte-order mark and CRLF line ends: every row was
/// skipped (the whole line read as one address).
#[test]
fn an_excel_list_with_semicolons_and_a_byte_order_mark_is_imported() {
    let (dir, _db, cfg) = with_sqlite();
    let csv = dir.path().join("excel.csv");
    let rows = "\u{feff}Email;Frequency;Topics\r\nnguoi.doc1@example.vn;weekly;Du lịch, Nông nghiệp\r\nkhong-phai-dia-chi;daily;\r\n\"nguoi.doc2@example.vn\";daily;\r\n";
    std::fs::write(&csv, rows).unwrap();
    import_with_a_bad_third_line(&cfg, &csv, 2);
    let listed = listed(&cfg);
    let first = listed.iter().find(|s| s["email"] == "nguoi.doc1@example.vn").expect("imported");
    assert_eq!((first["frequency"].as_str(), first["topics"].to_string()), (Some("weekly"), r#"["du-lich","nong-nghiep"]"#.to_string()));
}

/// Regression: Excel's other export, "Unicode Text", is UTF-16 (with its
/// byte-order mark) and tab-separated: every row was skipped as invalid
/// UTF-8.
#[test]
fn an_excel_unicode_text_list_is_imported_and_a_broken_one_is_named() {
    let (dir, _db, cfg) = with_sqlite();
    let rows = "\u{feff}Email\tTopics\r\nnguoi.doc@bưuđiện.vn\tDu lịch\r\nkhong-phai-dia-chi\t\r\n";
    let utf16: Vec<u8> = rows.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let list = dir.path().join("danh-sach.txt");
    std::fs::write(&list, &utf16).unwrap();
    import_with_a_bad_third_line(&cfg, &list, 1);
    let emails: Vec<_> = listed(&cfg).iter().map(|s| (s["email"].to_string(), s["topics"].to_string())).collect();
    assert_eq!(emails, [(r#""nguoi.doc@bưuđiện.vn""#.to_string(), r#"["du-lich"]"#.to_string())]);

    std::fs::write(&list, &utf16[..utf16.len() - 1]).unwrap();
    let out = bantin(&cfg, &["subscribers", "import", list.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(65), "{err}");
    assert!(err.contains("danh-sach.txt: UTF-16 text") && err.contains("half a character") && err.contains("CSV UTF-8"), "{err}");
    assert!(text(&out.stdout).is_empty(), "nothing imported from a file that could not be read: {}", text(&out.stdout));
}

/// Regression: a list an editor saved from Excel as plain "CSV" on a
/// Vietnamese Windows is Windows-1258 (tone marks as combining bytes):
/// its Vietnamese header and every row with a name in it were skipped as
/// invalid UTF-8. Now read as Windows-1258, and said.
#[test]
fn an_excel_csv_of_a_vietnamese_windows_is_read_as_windows_1258() {
    let (dir, _db, cfg) = with_sqlite();
    let list = dir.path().join("danh-sach.csv");
    // "STT;Họ tên;Địa chỉ email;Chủ đề;Tần suất" and two rows: Windows-1258
    // has ơ, ư, ê, đ of their own and puts tone marks after the letter
    // (hook 0xD2, dot below 0xF2, grave 0xCC, acute 0xEC, tilde 0xDE).
    let rows: &[u8] = b"STT;Ho\xF2 t\xEAn;\xD0i\xF2a chi\xD2 email;Chu\xD2 \xF0\xEA\xCC;T\xE2\xCCn su\xE2\xECt\r\n\
        1;Nguy\xEA\xDEn V\xE3n An;an@example.vn;Du li\xF2ch, N\xF4ng nghi\xEA\xF2p;weekly\r\n\
        2;Tr\xE2\xCCn Thi\xF2 Bi\xCCnh;khong-phai-dia-chi;;daily\r\n";
    std::fs::write(&list, rows).unwrap();
    let out = bantin(&cfg, &["subscribers", "import", list.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(err.contains("danh-sach.csv: not UTF-8; read as Windows-1258") && err.contains("CSV UTF-8"), "{err}");
    assert!(err.contains("danh-sach.csv:3:") && err.contains("khong-phai-dia-chi"), "the bad row is named by its line: {err}");
    assert!(text(&out.stdout).contains("imported 1 subscribers"), "{}", text(&out.stdout));
    let listed = listed(&cfg);
    let an = listed.iter().find(|s| s["email"] == "an@example.vn").expect("imported");
    assert_eq!((an["frequency"].as_str(), an["topics"].to_string()), (Some("weekly"), r#"["du-lich","nong-nghiep"]"#.to_string()));
}

/// Regression: a header row was one only when a cell said `email`. An
/// audience exported from Mailchimp ("Email Address"), or a list an editor
/// headed in Vietnamese, had its header read as a bad address and its
/// columns taken by position (Outlook's address is not the first); and
/// Mailchimp's exports of unsubscribed and cleaned contacts came in active.
#[test]
fn a_mailchimp_export_and_a_list_headed_in_vietnamese_are_imported() {
    let (dir, _db, cfg) = with_sqlite();
    let mailchimp = dir.path().join("subscribed_members_export.csv");
    std::fs::write(&mailchimp, "\"Email Address\",\"First Name\",\"Last Name\",MEMBER_RATING,OPTIN_TIME\nban.doc@example.vn,Lan,Trần,2,\"2025-01-02 03:04:05\"\n").unwrap();
    let vietnamese = dir.path().join("danh-sach.csv");
    std::fs::write(&vietnamese, "STT;Họ tên;Địa chỉ Email;Chủ đề;Tần suất\n1;Nguyễn Văn An;an@example.vn;Du lịch;weekly\n").unwrap();
    for (list, added) in [(&mailchimp, "ban.doc@example.vn"), (&vietnamese, "an@example.vn")] {
        let out = bantin(&cfg, &["subscribers", "import", list.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
        assert!(text(&out.stdout).contains("imported 1 subscribers") && text(&out.stdout).contains("0 rows skipped"), "{}", text(&out.stdout));
        assert!(listed(&cfg).iter().any(|s| s["email"] == added), "{added}");
    }
    let listed_now = listed(&cfg);
    let an = listed_now.iter().find(|s| s["email"] == "an@example.vn").unwrap();
    assert_eq!((an["frequency"].as_str(), an["topics"].to_string()), (Some("weekly"), r#"["du-lich"]"#.to_string()));

    // Mailchimp's unsubscribed and cleaned exports: people who left, and
    // addresses that bounced, are not made active.
    let left = dir.path().join("unsubscribed_members_export.csv");
    std::fs::write(&left, "Email Address,First Name,UNSUB_TIME,UNSUB_CAMPAIGN_TITLE\nroi.di@example.vn,Minh,\"2025-03-04 05:06:07\",Bản tin\n").unwrap();
    let cleaned = dir.path().join("cleaned_members_export.csv");
    std::fs::write(&cleaned, "Email Address,First Name,CLEAN_TIME,CLEAN_CAMPAIGN_TITLE\nhong@example.vn,Hà,\"2025-03-04 05:06:07\",Bản tin\n").unwrap();
    import_all(&cfg, &[&left, &cleaned]);
    let status = statuses(&cfg);
    assert_eq!((status["roi.di@example.vn"].as_str(), status["hong@example.vn"].as_str()), ("unsubscribed", "suppressed"));
}

/// Regression: a list exported from listmonk (statuses `enabled`,
/// `blocklisted`) had every row skipped ("status … is not one of …"), and
/// an address copied from Outlook or Gmail with its name was refused.
#[test]
fn a_listmonk_export_and_named_addresses_are_imported() {
    let (dir, _db, cfg) = with_sqlite();
    let listmonk = dir.path().join("subscribers.csv");
    std::fs::write(
        &listmonk,
        "uuid,email,name,attributes,status,created_at,updated_at\n\
         6b1e…,ban.doc@example.vn,Lan,\"{\"\"city\"\": \"\"Yên Bái\"\"}\",enabled,2025-01-02 03:04:05,2025-01-02 03:04:05\n\
         7c2f…,chan@example.vn,Minh,{},blocklisted,2025-01-02 03:04:05,2025-01-02 03:04:05\n\
         8d3a…,tat@example.vn,Hà,{},disabled,2025-01-02 03:04:05,2025-01-02 03:04:05\n",
    )
    .unwrap();
    let outlook = dir.path().join("outlook.csv");
    std::fs::write(&outlook, "Nguyễn Văn Chí <Chi@Example.VN>\n\"Trần, Bình\" <binh@example.vn>,weekly\n").unwrap();
    import_all(&cfg, &[&listmonk, &outlook]);
    let status = statuses(&cfg);
    assert_eq!(status["chan@example.vn"], "suppressed", "blocklisted: never mailed");
    assert_eq!(status["tat@example.vn"], "unsubscribed");
    for active in ["ban.doc@example.vn", "Chi@example.vn", "binh@example.vn"] {
        assert_eq!(status.get(active).map(String::as_str), Some("active"), "{active}: {status:?}");
    }
}

on_both_backends!(sync add_list_remove_export_import, add_list_remove_export_import);
on_both_backends!(sync digest_preview_prints_the_message_and_run_exits_69_without_smtp, digest_preview_prints_the_message_and_run_exits_69_without_smtp);
