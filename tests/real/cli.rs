//! Proves the command line works as DESIGN.md says, driving the real
//! binary: `build --out DIR` writes every feed at its route path (the same
//! bytes the library renders) and prints a summary; `check` reports each bad
//! file of the tricky store as `path:line: reason` and exits 0, `check
//! --strict` exits 65; configuration errors exit 78 and name the file and
//! the key (unknown key, bad base_url, unknown timezone, missing store
//! folder, a bad value from `BANTIN__SITE__TIMEZONE`, which the message
//! names); an unknown subcommand exits 64.

use crate::support::common;

use common::*;
use crate::support::feed_check::visible;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bantin(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bantin"));
    cmd.args(args).current_dir(root());
    // The tests' own environment must not leak configuration in.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("BANTIN") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = cmd.output().expect("run bantin");
    (status.code().expect("exited by a signal"), String::from_utf8(stdout).unwrap(), String::from_utf8(stderr).unwrap())
}

/// A config file in `dir` for the store at `store`, plus extra lines.
fn config(dir: &Path, store: &Path, site_extra: &str, extra: &str) -> PathBuf {
    let path = dir.join("bantin.toml");
    let text = format!(
        "[site]\ntitle = \"Cổng thông tin điện tử tỉnh Yên Bái\"\nbase_url = \"https://yenbai.gov.vn\"\n{site_extra}\n\
         [store]\nkind = \"dir\"\npath = {store:?}\n{extra}\n",
        store = store.display().to_string()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn build_writes_every_feed_at_its_route() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("public/feeds");
    let (code, stdout, stderr) = run(bantin(&["build", "--config", "config/bantin.toml", "--out"]).arg(&out));
    assert_eq!(code, 0, "{stderr}");

    // What the library renders now (the binary uses the real clock).
    let catalog = load(&example_store());
    let fs = feed_settings();
    let now = chrono::Utc::now().with_timezone(&settings().site.timezone).fixed_offset();
    let want = render_all(&catalog, &fs, now);
    let want_paths: BTreeSet<String> = want.iter().map(|r| r.feed.path()).collect();
    assert!(want_paths.contains("feed.xml") && want_paths.contains("categories/du-lich/atom.xml"));

    let mut written = BTreeSet::new();
    for e in walkdir::WalkDir::new(&out) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            written.insert(e.path().strip_prefix(&out).unwrap().to_string_lossy().replace('\\', "/"));
        }
    }
    let mut want_files = want_paths.clone();
    want_files.insert("feeds.opml".into());
    assert_eq!(written, want_files, "files written = the routes and the OPML list, nothing else (no temporary files)");
    for r in &want {
        let bytes = std::fs::read(out.join(r.feed.path())).unwrap();
        assert!(bytes == r.bytes, "{}: the file differs from the library's rendering", r.feed.path());
    }

    let visible = catalog.articles().iter().filter(|a| visible(a, now)).count();
    let categories = want_paths.len() / 3 - 1;
    let opml = std::fs::read_to_string(out.join("feeds.opml")).unwrap();
    for path in want_paths.iter().filter(|p| p.ends_with("feed.xml")) {
        assert!(opml.contains(&format!("xmlUrl=\"http://127.0.0.1:8080/{path}\"")), "feeds.opml lists {path}:\n{opml}");
    }
    let line = stdout.lines().find(|l| l.starts_with("wrote ")).unwrap_or_else(|| panic!("no summary in {stdout:?}"));
    assert!(
        line.contains(&format!("wrote {} feeds", want.len()))
            && line.contains(&format!("for {visible} articles in {categories} categories"))
            && line.contains(&out.display().to_string()),
        "{line}"
    );
}

/// Regression: `bantin build` of a folder store wrote the site and category
/// feeds only, though serve also had tag and author feeds, the OPML list
/// and the news sitemap (issue 21).
#[test]
fn build_writes_tag_and_author_feeds_the_opml_and_the_news_sitemap() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("public");
    let mut cmd = bantin(&["build", "--config", "config/bantin.toml", "--out"]);
    cmd.arg(&out).env("BANTIN__FEEDS__AUTHORS", "true").env("BANTIN__FEEDS__TAGS", "true").env("BANTIN__FEEDS__NEWS_SITEMAP", "true");
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let catalog = load(&example_store());
    let now = chrono::Utc::now().with_timezone(&settings().site.timezone).fixed_offset();
    let authors = catalog.authors(now);
    assert!(!authors.is_empty(), "the example store names authors");
    let opml = std::fs::read_to_string(out.join("feeds.opml")).expect("feeds.opml written");
    for a in &authors {
        for name in ["feed.xml", "atom.xml", "feed.json"] {
            let path = format!("authors/{}/{name}", a.slug);
            assert!(out.join(&path).is_file(), "{path} written");
        }
        assert!(opml.contains(&format!("authors/{}/feed.xml", a.slug)), "the OPML lists {}'s feed", a.name);
    }
    for t in catalog.tags(now) {
        assert!(out.join(format!("tags/{}/feed.xml", t.slug)).is_file(), "tag {} written", t.slug);
    }
    let sitemap = std::fs::read_to_string(out.join("sitemap-news.xml")).expect("sitemap-news.xml written");
    assert!(sitemap.contains("http://www.google.com/schemas/sitemap-news/0.9"), "{sitemap}");
}

#[test]
fn check_reports_every_bad_file_with_path_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), &tricky_store(), "", "");
    let cfg = cfg.to_str().unwrap();
    let (code, stdout, stderr) = run(&mut bantin(&["check", "--config", cfg]));
    assert_eq!(code, 0, "check without --strict succeeds: {stdout}{stderr}");
    let out = format!("{stdout}{stderr}");
    // README of the fixtures: the line where one is expected.
    for (file, lines) in [
        ("broken-front-matter.md", &[3][..]),
        ("broken-yaml.md", &[4, 5]),
        ("latin1.txt", &[2]),
        ("bad-json.json", &[4]),
        ("no-date.md", &[]),
        ("no-title.txt", &[]),
    ] {
        let reported: Vec<&str> = out.lines().filter(|l| l.contains(file)).collect();
        assert_eq!(reported.len(), 1, "{file}: reported once: {out}");
        let rest = &reported[0][reported[0].find(file).unwrap() + file.len()..];
        let (line, reason) = match rest.strip_prefix(':').and_then(|r| r.split_once(": ")) {
            Some((n, reason)) if n.bytes().all(|b| b.is_ascii_digit()) => (n.parse::<usize>().ok(), reason),
            _ => (None, rest.strip_prefix(": ").unwrap_or_else(|| panic!("{file}: not `path[:line]: reason`: {:?}", reported[0]))),
        };
        if !lines.is_empty() {
            assert!(line.is_some_and(|l| lines.contains(&l)), "{file}: want `path:line: reason` with line {lines:?}: {:?}", reported[0]);
        }
        assert!(reason.len() > 10, "{file}: a reason: {:?}", reported[0]);
    }
    assert!(out.contains("9 articles"), "{out}");
    assert!(!out.contains("README"), "the fixtures' README is not an article: {out}");

    let (code, ..) = run(&mut bantin(&["check", "--strict", "--config", cfg]));
    assert_eq!(code, 65, "check --strict with bad articles exits 65 (EX_DATAERR)");
}

#[test]
fn check_of_the_example_store_is_clean_even_strict() {
    let (code, stdout, stderr) = run(&mut bantin(&["check", "--strict", "--config", "config/bantin.toml"]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("13 articles") && stdout.contains("0 files with errors"), "{stdout}");
}

/// Regression: an article dated a year too late (2206 typed for 2026) was
/// only a count ("1 scheduled for later"): it stayed unseen and nobody was
/// told which. `check` lists each held-back article with its date, and
/// warns of one more than a year ahead.
#[test]
fn check_lists_scheduled_articles_and_warns_of_a_mistyped_year() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let ahead = |days: i64| (chrono::Utc::now() + chrono::TimeDelta::days(days)).format("%Y-%m-%dT%H:%M:%S+07:00").to_string();
    for (file, date) in [("hom-nay.md", ahead(-1)), ("tuan-sau.md", ahead(7)), ("nam-2206.md", "2206-07-10T08:00:00+07:00".to_string())] {
        std::fs::write(store.join(file), format!("+++\ntitle = \"Tin {file}\"\ndate = \"{date}\"\n+++\nNội dung.\n")).unwrap();
    }
    let cfg = config(tmp.path(), &store, "", "");
    let (code, stdout, stderr) = run(&mut bantin(&["check", "--strict", "--config", cfg.to_str().unwrap()]));
    assert_eq!(code, 0, "scheduled articles are no errors: {stdout}{stderr}");
    let line = |file: &str| stdout.lines().find(|l| l.contains(file)).map(str::to_string);
    assert!(line("hom-nay.md").is_none(), "a published article is not listed: {stdout}");
    let next_week = line("tuan-sau.md").unwrap_or_default();
    assert!(next_week.starts_with("scheduled: ") && next_week.contains("store/tuan-sau.md: published at ") && next_week.ends_with("days)"), "{stdout}");
    let typo = line("nam-2206.md").unwrap_or_default();
    assert!(typo.starts_with("warning: ") && typo.contains("dated 2206-07-10 08:00 +07:00") && typo.contains("check the year"), "{stdout}");
    assert!(stdout.contains("3 articles") && stdout.contains("2 scheduled for later"), "{stdout}");
}

/// An image that is not http(s) is dropped and listed like a bad file,
/// while its article is still counted (and served); `--strict` fails on it.
#[test]
fn check_lists_an_image_it_dropped_and_keeps_the_article() {
    let tmp = tempfile::tempdir().unwrap();
    let store = root().join("tests/fixtures/images");
    let cfg = config(tmp.path(), &store, "icon = \"https://yenbai.gov.vn/icon-512.png\"", "");
    let cfg = cfg.to_str().unwrap();
    let (code, stdout, stderr) = run(&mut bantin(&["check", "--config", cfg]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let errors: Vec<&str> = stdout.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{stdout}");
    assert!(errors[0].contains("2026-06-10-anh-ftp.md: image \"ftp://") && errors[0].contains("served without it"), "{}", errors[0]);
    assert!(stdout.contains("12 articles") && stdout.contains("1 files with errors"), "{stdout}");
    let (code, ..) = run(&mut bantin(&["check", "--strict", "--config", cfg]));
    assert_eq!(code, 65);
}

#[test]
fn a_bad_site_icon_or_logo_is_named() {
    config_error("icon = \"icon-512.png\"", "", None, &[], &["site.icon", "icon-512.png"]);
    config_error("logo = \"ftp://yenbai.gov.vn/logo.png\"", "", None, &[], &["site.logo", "ftp://"]);
}

/// Runs `check` with a config holding `site_extra`/`extra` and expects exit
/// 78 with a message naming the file and every one of `words`.
fn config_error(site_extra: &str, extra: &str, store: Option<&Path>, env: &[(&str, &str)], words: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let store = store.map(Path::to_path_buf).unwrap_or_else(example_store);
    let cfg = config(tmp.path(), &store, site_extra, extra);
    let mut cmd = bantin(&["check", "--config", cfg.to_str().unwrap()]);
    cmd.envs(env.iter().copied());
    let (code, stdout, stderr) = run(&mut cmd);
    assert_eq!(code, 78, "{site_extra} {extra} {env:?}: want EX_CONFIG: {stdout}{stderr}");
    assert!(stderr.contains(cfg.to_str().unwrap()), "the message names the file: {stderr}");
    for w in words {
        assert!(stderr.contains(w), "the message names {w:?}: {stderr}");
    }
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
}

#[test]
fn config_errors_exit_78_and_name_file_and_key() {
    config_error("", "[feeds]\nitemz = 5", None, &[], &["itemz", "feeds"]);
    config_error("colour = \"đỏ\"", "", None, &[], &["colour", "site"]);
    config_error("", "", None, &[("BANTIN__SITE__BASE_URL", "yenbai.gov.vn")], &["site.base_url", "yenbai.gov.vn"]);
    config_error("timezone = \"Asia/Hanoi_Nowhere\"", "", None, &[], &["site.timezone", "Asia/Hanoi_Nowhere"]);
    let missing = std::env::temp_dir().join("bantin-no-such-store-folder");
    config_error("", "", Some(&missing), &[], &["store.path", &missing.display().to_string()]);
    config_error("", "", None, &[("BANTIN__SITE__TIMEZONE", "Nowhere/City")], &["site.timezone", "Nowhere/City", "BANTIN__SITE__TIMEZONE"]);
    // An unknown key that comes from the environment must say so: it is not in the file.
    config_error("", "", None, &[("BANTIN__SITE__TITEL", "x")], &["titel", "BANTIN__SITE__TITEL"]);
}

#[test]
fn a_bad_base_url_in_the_file_is_named() {
    config_error_with_base_url("yenbai.gov.vn");
    config_error_with_base_url("ftp://yenbai.gov.vn");
}

fn config_error_with_base_url(bad: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bantin.toml");
    std::fs::write(&cfg, format!("[site]\ntitle = \"x\"\nbase_url = \"{bad}\"\n[store]\npath = {:?}\n", example_store().display().to_string())).unwrap();
    let (code, _, stderr) = run(&mut bantin(&["check", "--config", cfg.to_str().unwrap()]));
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains(cfg.to_str().unwrap()) && stderr.contains("site.base_url") && stderr.contains(bad), "{stderr}");
}

#[test]
fn a_missing_config_file_exits_78() {
    let (code, _, stderr) = run(&mut bantin(&["check", "--config", "/nonexistent/bantin.toml"]));
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("/nonexistent/bantin.toml"), "{stderr}");
}

#[test]
fn usage_errors_exit_64() {
    for args in [&["frobnicate"][..], &[], &["build"], &["check", "--no-such-flag"]] {
        let (code, _, stderr) = run(&mut bantin(args));
        assert_eq!(code, 64, "{args:?}: want EX_USAGE: {stderr}");
        assert!(!stderr.is_empty(), "{args:?}: says why");
    }
    let (code, stdout, _) = run(&mut bantin(&["--help"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("build") && stdout.contains("check"));
}
