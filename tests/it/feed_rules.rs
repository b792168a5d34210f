//! Proves that our feeds follow the rules of the W3C Feed Validation Service
//! (https://validator.w3.org/feed/docs/), written out as explicit checks,
//! and that every Atom feed is valid against the RELAX NG schema of
//! RFC 4287 (../shared/schemas/atom.rnc, checked with `jing -c`). The rules:
//!
//! - RSS 2.0: channel title/link/description; no `<author>` (it must be an
//!   e-mail address; names go in `dc:creator`); `pubDate`/`lastBuildDate`
//!   in RFC 822 form; `guid isPermaLink="false"` unless the guid is the
//!   item's link; `atom:link rel="self"` equal to the URL the feed is served
//!   at (`http.public_url` + the route), with the RSS media type.
//! - Atom 1.0: feed id/title/updated; an author on the feed or on every
//!   entry; entry id/title/updated; ids are absolute URIs and unique;
//!   `updated`/`published` in RFC 3339 form; `rel="self"` as above.
//! - JSON Feed 1.1: `version` is the 1.1 URL; `feed_url` as above; every
//!   item has an `id` and `content_html` or `content_text`; dates RFC 3339;
//!   no deprecated 1.0 `author` object.
//!
//! Images and icons: the rules of `media_rules` (Media RSS, enclosures,
//! the channel image, Atom icon/logo/enclosure links, JSON Feed's image
//! fields), with `site.icon` and `site.logo` set for every store.
//!
//! Checked on every feed (site and categories) of the example store, the
//! tricky fixtures, the Hugo/Zola/Jekyll image fixtures and a 1,000-article
//! corpus in both generated formats.
//! Without `jing` on PATH the schema test fails when CI=true, else it prints
//! "SKIPPED: jing not installed" and passes (`apt-get install jing`).

use crate::support::common;

use bantin::feeds::{FeedSettings, Format};
use common::*;
use crate::support::feed_check::*;
use std::collections::HashSet;
use std::path::PathBuf;

const ATOM: &str = "http://www.w3.org/2005/Atom";
const DC: &str = "http://purl.org/dc/elements/1.1/";

/// The stores every rule is checked on, with their rendered feeds (made
/// once, shared by the tests of this file).
fn stores() -> &'static [(String, Vec<Rendered>)] {
    static STORES: std::sync::OnceLock<Vec<(String, Vec<Rendered>)>> = std::sync::OnceLock::new();
    STORES.get_or_init(make_stores)
}

fn make_stores() -> Vec<(String, Vec<Rendered>)> {
    // Tag and author feeds too (issue 21): the same rules hold for them.
    let fs = FeedSettings { tags: true, authors: true, ..crate::media::identity_settings() };
    let mut dirs: Vec<(String, PathBuf)> = vec![
        ("example".into(), example_store()),
        ("tricky".into(), tricky_store()),
        ("images".into(), crate::media::images_store()),
    ];
    for format in ["markdown", "portal"] {
        dirs.push((format!("corpus-{format}"), corpus(format, 1000).dir.clone()));
    }
    dirs.into_iter()
        .map(|(name, dir)| {
            let catalog = load(&dir);
            assert!(catalog.articles().len() >= 9, "{name}: store not read");
            (name, render_all(&catalog, &fs, now()))
        })
        .collect()
}

// ---- date forms -------------------------------------------------------------

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// RFC 822 (with RFC 1123's four-digit year), as the W3C validator wants:
/// `Fri, 21 Feb 2020 08:56:00 +0700`.
fn is_rfc822(s: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let parts: Vec<&str> = s.split(' ').collect();
    let [day, d, mon, year, time, zone] = parts[..] else { return false };
    let time: Vec<&str> = time.split(':').collect();
    let shape = day.strip_suffix(',').is_some_and(|d| DAYS.contains(&d))
        && (digits(d, 1) || digits(d, 2))
        && MONTHS.contains(&mon)
        && digits(year, 4)
        && time.len() == 3
        && time.iter().all(|t| digits(t, 2))
        && (zone.starts_with(['+', '-']) && digits(&zone[1..], 4) || ["GMT", "UT", "Z"].contains(&zone));
    shape && chrono::DateTime::parse_from_rfc2822(s).is_ok()
}

/// RFC 3339 `date-time`: `2020-02-21T08:56:00+07:00`, `…Z`, optional fraction.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || !digits(&s[0..4], 4) || b[4] != b'-' || !digits(&s[5..7], 2) || b[7] != b'-' || !digits(&s[8..10], 2) {
        return false;
    }
    if b[10] != b'T' || !digits(&s[11..13], 2) || b[13] != b':' || !digits(&s[14..16], 2) || b[16] != b':' || !digits(&s[17..19], 2) {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    let zone_ok = rest == "Z"
        || (rest.len() == 6 && rest.starts_with(['+', '-']) && digits(&rest[1..3], 2) && &rest[3..4] == ":" && digits(&rest[4..6], 2));
    zone_ok && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[test]
fn date_form_checkers_reject_near_misses() {
    assert!(is_rfc822("Fri, 21 Feb 2020 08:56:00 +0700"));
    assert!(is_rfc822("Sat, 1 Feb 2020 08:56:00 GMT"));
    for bad in ["2020-02-21T08:56:00+07:00", "Fri, 21 Feb 2020 08:56 +0700", "Fri 21 Feb 2020 08:56:00 +0700", "Fri, 21 Feb 2020 08:56:00 +07:00"] {
        assert!(!is_rfc822(bad), "{bad}");
    }
    assert!(is_rfc3339("2020-02-21T08:56:00+07:00") && is_rfc3339("2020-02-21T01:56:00Z") && is_rfc3339("2020-02-21T01:56:00.5Z"));
    for bad in ["2020-02-21 08:56:00+07:00", "2020-02-21T08:56:00", "2020-02-21T08:56:00+0700", "Fri, 21 Feb 2020 08:56:00 +0700"] {
        assert!(!is_rfc3339(bad), "{bad}");
    }
}

// ---- the rules --------------------------------------------------------------

fn elements<'a, 'i>(n: roxmltree::Node<'a, 'i>, ns: Option<&str>, name: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == ns).collect()
}

fn one<'a, 'i>(what: &str, n: roxmltree::Node<'a, 'i>, ns: Option<&str>, name: &str) -> roxmltree::Node<'a, 'i> {
    let found = elements(n, ns, name);
    assert_eq!(found.len(), 1, "{what}: want exactly one <{name}> in <{}>", n.tag_name().name());
    found[0]
}

fn is_uri(s: &str) -> bool {
    url::Url::parse(s).is_ok() && !s.contains(char::is_whitespace)
}

fn rss_rules(what: &str, text: &str, fs: &FeedSettings, served: &str) {
    let doc = strict_xml(what, text);
    let rss = doc.root_element();
    assert_eq!(rss.attribute("version"), Some("2.0"), "{what}");
    let ch = one(what, rss, None, "channel");
    for required in ["title", "link", "description"] {
        assert!(!text_of(one(what, ch, None, required)).is_empty(), "{what}: empty channel {required}");
    }
    assert!(is_absolute_http(&text_of(one(what, ch, None, "link"))), "{what}: channel link");
    // RSS `author` (and managingEditor/webMaster) must be e-mail addresses: we write none.
    for n in doc.descendants().filter(|n| n.is_element() && n.tag_name().namespace().is_none()) {
        assert!(!["author", "managingEditor", "webMaster"].contains(&n.tag_name().name()), "{what}: <{}>", n.tag_name().name());
    }
    for date in ["lastBuildDate", "pubDate"] {
        for d in elements(ch, None, date) {
            assert!(is_rfc822(&text_of(d)), "{what}: channel {date} {:?} is not RFC 822", text_of(d));
        }
    }
    let selfs: Vec<_> = elements(ch, Some(ATOM), "link").into_iter().filter(|l| l.attribute("rel") == Some("self")).collect();
    assert_eq!(selfs.len(), 1, "{what}: one atom:link rel=self");
    assert_eq!(selfs[0].attribute("href"), Some(served), "{what}: rel=self is the served URL");
    assert_eq!(selfs[0].attribute("type"), Some("application/rss+xml"), "{what}: rel=self type");
    assert!(served.starts_with(fs.public_url.as_str()));

    let mut guids = HashSet::new();
    for item in elements(ch, None, "item") {
        let link = text_of(one(what, item, None, "link"));
        let title = text_of(one(what, item, None, "title"));
        let at = format!("{what}: {link}");
        assert!(!title.is_empty(), "{at}: an item needs a title or description");
        assert!(is_absolute_http(&link), "{at}: link");
        let guid = one(&at, item, None, "guid");
        let value = text_of(guid);
        assert!(guids.insert(value.clone()), "{at}: guid twice");
        match guid.attribute("isPermaLink") {
            Some("false") => {}
            // A permalink guid (the default!) must be the item's URL.
            _ => assert_eq!(value, link, "{at}: guid is a permalink but not the link"),
        }
        let pub_date = text_of(one(&at, item, None, "pubDate"));
        assert!(is_rfc822(&pub_date), "{at}: pubDate {pub_date:?}");
        for c in elements(item, Some(DC), "creator") {
            assert!(!text_of(c).is_empty(), "{at}: empty dc:creator");
        }
        for c in elements(item, None, "category") {
            assert!(!text_of(c).is_empty(), "{at}: empty category");
        }
    }
}

fn atom_rules(what: &str, text: &str, served: &str) {
    let doc = strict_xml(what, text);
    let feed = doc.root_element();
    assert_eq!((feed.tag_name().namespace(), feed.tag_name().name()), (Some(ATOM), "feed"), "{what}");
    let id = text_of(one(what, feed, Some(ATOM), "id"));
    assert!(is_uri(&id), "{what}: feed id {id:?} is not a URI");
    assert!(!text_of(one(what, feed, Some(ATOM), "title")).is_empty(), "{what}: feed title");
    let updated = text_of(one(what, feed, Some(ATOM), "updated"));
    assert!(is_rfc3339(&updated), "{what}: feed updated {updated:?}");
    let selfs: Vec<_> = elements(feed, Some(ATOM), "link").into_iter().filter(|l| l.attribute("rel") == Some("self")).collect();
    assert_eq!(selfs.len(), 1, "{what}: one rel=self");
    assert_eq!(selfs[0].attribute("href"), Some(served), "{what}: rel=self is the served URL");
    for l in elements(feed, Some(ATOM), "link") {
        assert!(l.attribute("href").is_some_and(is_absolute_http), "{what}: link href");
    }
    let feed_authors = elements(feed, Some(ATOM), "author");
    for a in &feed_authors {
        assert!(!text_of(one(what, *a, Some(ATOM), "name")).is_empty(), "{what}: feed author name");
    }

    let mut ids = HashSet::new();
    for e in elements(feed, Some(ATOM), "entry") {
        let id = text_of(one(what, e, Some(ATOM), "id"));
        let at = format!("{what}: {id}");
        assert!(is_uri(&id), "{at}: entry id is not a URI");
        assert!(ids.insert(id.clone()), "{at}: id twice");
        assert!(!text_of(one(&at, e, Some(ATOM), "title")).is_empty(), "{at}: title");
        let updated = text_of(one(&at, e, Some(ATOM), "updated"));
        assert!(is_rfc3339(&updated), "{at}: updated {updated:?}");
        for p in elements(e, Some(ATOM), "published") {
            assert!(is_rfc3339(&text_of(p)), "{at}: published {:?}", text_of(p));
        }
        // RFC 4287 §4.1.1: an author on every entry, or on the feed.
        let authors = elements(e, Some(ATOM), "author");
        assert!(!authors.is_empty() || !feed_authors.is_empty(), "{at}: no author, neither on the entry nor on the feed");
        for a in authors {
            assert!(!text_of(one(&at, a, Some(ATOM), "name")).is_empty(), "{at}: author name");
        }
        // Without content an entry needs rel=alternate; we always link it.
        let alternates: Vec<_> =
            elements(e, Some(ATOM), "link").into_iter().filter(|l| l.attribute("rel").unwrap_or("alternate") == "alternate").collect();
        assert_eq!(alternates.len(), 1, "{at}: one alternate link");
        assert!(alternates[0].attribute("href").is_some_and(is_absolute_http), "{at}: alternate href");
        for c in elements(e, Some(ATOM), "category") {
            assert!(c.attribute("term").is_some_and(|t| !t.is_empty()), "{at}: category term");
        }
    }
}

fn json_rules(what: &str, text: &str, served: &str) {
    use serde_json::Value;
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(v["version"], "https://jsonfeed.org/version/1.1", "{what}: version");
    assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()), "{what}: title");
    assert_eq!(v["feed_url"], served, "{what}: feed_url is the served URL");
    assert!(v["home_page_url"].as_str().is_some_and(is_absolute_http), "{what}: home_page_url");
    assert!(v.get("author").is_none(), "{what}: 1.0's author is deprecated in 1.1; use authors");
    for a in v["authors"].as_array().into_iter().flatten() {
        assert!(a["name"].as_str().is_some_and(|n| !n.is_empty()), "{what}: author without a name");
    }
    let items = v["items"].as_array().unwrap_or_else(|| panic!("{what}: items must be an array"));
    let mut ids = HashSet::new();
    for it in items {
        let id = it["id"].as_str().unwrap_or_else(|| panic!("{what}: an item without a string id: {it}"));
        let at = format!("{what}: {id}");
        assert!(!id.is_empty() && ids.insert(id.to_string()), "{at}: id empty or twice");
        let html = it["content_html"].as_str();
        let txt = it["content_text"].as_str();
        assert!(html.is_some() || txt.is_some(), "{at}: needs content_html or content_text");
        assert!(it["url"].as_str().is_some_and(is_absolute_http), "{at}: url");
        for key in ["date_published", "date_modified"] {
            if let Some(d) = it.get(key) {
                assert!(d.as_str().is_some_and(is_rfc3339), "{at}: {key} {d}");
            }
        }
        assert!(it.get("author").is_none(), "{at}: deprecated author");
        for t in it["tags"].as_array().into_iter().flatten() {
            assert!(t.as_str().is_some_and(|t| !t.is_empty()), "{at}: tag");
        }
    }
}

#[test]
fn feeds_follow_the_w3c_feed_validator_rules() {
    let fs = crate::media::identity_settings();
    for (store, rendered) in stores() {
        let mut seen = HashSet::new();
        for r in rendered {
            let what = format!("{store}: {}", r.feed.path());
            assert!(seen.insert(r.feed.path()), "{what}: rendered twice");
            let served = served_url(&fs, &r.feed);
            match r.feed.format {
                Format::Rss => rss_rules(&what, r.text(), &fs, &served),
                Format::Atom => atom_rules(&what, r.text(), &served),
                Format::Json => json_rules(&what, r.text(), &served),
            }
            match r.feed.format {
                Format::Rss => crate::media_rules::rss_media_rules(&what, r.text()),
                Format::Atom => crate::media_rules::atom_media_rules(&what, r.text()),
                Format::Json => crate::media_rules::json_media_rules(&what, r.text()),
            }
        }
    }
}

// ---- RELAX NG ---------------------------------------------------------------

fn jing_on_path() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join("jing").is_file()))
}

#[test]
fn atom_feeds_are_valid_against_the_rfc_4287_schema() {
    if !jing_on_path() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("jing is not installed, and CI=true: install it (Debian package `jing`)");
        }
        // Written to stderr directly: the test harness captures eprintln!.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr().lock(),
            "\n{bar}\nSKIPPED: jing not installed; the Atom RELAX NG check did not run\n\
             (apt-get install -y jing; with CI=true this is a failure)\n{bar}",
            bar = "=".repeat(72)
        );
        return;
    }
    let schema = shared().join("schemas/atom.rnc");
    assert!(schema.is_file(), "{} missing", schema.display());
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (store, rendered) in stores() {
        for r in rendered.iter().filter(|r| r.feed.format == Format::Atom) {
            let path = tmp.path().join(store.to_string() + "--" + &r.feed.path().replace('/', "--"));
            std::fs::write(&path, &r.bytes).unwrap();
            files.push(path);
        }
    }
    assert!(files.len() >= 4 * 2, "{files:?}");
    // One JVM for all files: jing reports every invalid file, then fails.
    let out = std::process::Command::new("jing").arg("-c").arg(&schema).args(&files).output().expect("run jing");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Debian's wrapper warns about optional jars on stderr; those lines are noise.
    let problems: Vec<&str> = stdout.lines().chain(stderr.lines()).filter(|l| !l.starts_with("[warning]")).collect();
    assert!(out.status.success() && problems.is_empty(), "jing rejected our Atom ({} files):\n{}", files.len(), problems.join("\n"));

    // And jing does reject a broken feed, so the check can fail.
    let broken = tmp.path().join("broken.xml");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(&broken, text.replacen("<id>", "<idx>", 1).replacen("</id>", "</idx>", 1)).unwrap();
    let out = std::process::Command::new("jing").arg("-c").arg(&schema).arg(&broken).output().unwrap();
    assert!(!out.status.success(), "jing accepted a feed without an id");
}
