//! Proves, for arbitrary article text, that reading never panics and that
//! whatever parses renders well-formed, deterministic feeds: strings built
//! from arbitrary characters and the awkward ones (control characters,
//! `]]>`, `<`, `&`, NFD, non-BMP, lone CR, BOM, fences, banner text) are
//! written as title, summary, body and categories into each article format
//! (Markdown with TOML front matter, with YAML front matter, JSON, the
//! portal export), parsed, put in a catalog and rendered as RSS, Atom and
//! JSON Feed (site and every category). Then: RSS/Atom parse with roxmltree,
//! JSON with serde_json; the items read back field by field (common::
//! check_feed, feed-rs included); the title is the input title cleaned
//! (forbidden characters removed, NFC, white space folded); a second render,
//! joined from the items' pieces, gives the same bytes. Arbitrary bytes
//! after each format's opening are fed in too. 256 cases per property.

use crate::support::common;

use bantin::feeds::{self, FeedSettings};
use bantin::store::{parse_bytes, Context};
use bantin::{Article, Catalog};
use common::*;
use crate::support::feed_check::*;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use unicode_normalization::UnicodeNormalization;

const DATE: &str = "2024-05-06T07:08:09+07:00";

fn ctx() -> Context {
    Context::from_settings(&settings().site)
}

fn fs() -> FeedSettings {
    feed_settings()
}

/// Awkward pieces a title or body is built from.
const PIECES: &[&str] = &[
    "]]>", "<![CDATA[", "<", ">", "&", "&amp;", "&#x8;", "\"", "'", "\\", "<b>", "</item>", "<script>x</script>",
    "\r", "\n", "\r\n", "\n\n", "\t", "\u{0}", "\u{8}", "\u{B}", "\u{C}", "\u{1B}", "\u{7F}", "\u{85}", "\u{9F}",
    "\u{FEFF}", "\u{FFFE}", "\u{FFFF}", "\u{2028}", "\u{A0}", "\u{301}", "\u{323}\u{302}",
    "Vie\u{323}\u{302}t Nam", "Nghĩa Lộ", "đ", "😀", "👩‍🌾", "🇻🇳", "𝐀", "+++", "---", "{", "}", "#", "*", "`", "[x](/a)",
    "![i](b.jpg)", "Theo ", "•", "Welcome to ", "21/02/2020 08:56", " ", "  ",
];

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(PIECES).prop_map(str::to_string),
        2 => "[a-zA-Z0-9àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ ]{1,8}",
        1 => any::<char>().prop_map(String::from),
        1 => any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 0..max).prop_map(|v| v.concat())
}

#[derive(Debug, Clone)]
struct Input {
    title: String,
    summary: String,
    body: String,
    categories: Vec<String>,
}

fn input() -> impl Strategy<Value = Input> {
    (text(8), text(8), text(16), proptest::collection::vec(text(4), 0..3))
        .prop_map(|(title, summary, body, categories)| Input { title, summary, body, categories })
}

// ---- writing the file around the strings ------------------------------------

/// A TOML basic string: quote, backslash and control characters escaped.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7F}' => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A YAML double-quoted scalar: everything YAML would fold, strip or refuse
/// (line breaks, controls, NEL, LS/PS, BOM, non-characters) escaped.
fn yaml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        let n = c as u32;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            _ if n < 0x20 || (0x7F..=0x9F).contains(&n) || matches!(n, 0x2028 | 0x2029 | 0xFEFF | 0xFFFE | 0xFFFF) => {
                out.push_str(&format!("\\u{n:04X}"))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Toml,
    Yaml,
    Json,
    Portal,
}

const KINDS: [Kind; 4] = [Kind::Toml, Kind::Yaml, Kind::Json, Kind::Portal];

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

fn file_text(kind: Kind, i: &Input) -> (String, &'static str) {
    match kind {
        Kind::Toml => {
            let cats: Vec<String> = i.categories.iter().map(|c| toml_str(c)).collect();
            let fm = format!(
                "+++\ntitle = {}\ndate = {DATE}\nsummary = {}\ncategories = [{}]\n+++\n",
                toml_str(&i.title),
                toml_str(&i.summary),
                cats.join(", ")
            );
            (fm + &i.body, "a.md")
        }
        Kind::Yaml => {
            let cats: Vec<String> = i.categories.iter().map(|c| yaml_str(c)).collect();
            let fm = format!(
                "---\ntitle: {}\ndate: {DATE}\nsummary: {}\ncategories: [{}]\n---\n",
                yaml_str(&i.title),
                yaml_str(&i.summary),
                cats.join(", ")
            );
            (fm + &i.body, "a.md")
        }
        Kind::Json => {
            let v = serde_json::json!({
                "title": i.title, "date": DATE, "summary": i.summary, "categories": i.categories, "body": i.body,
            });
            (v.to_string(), "a.json")
        }
        Kind::Portal => {
            let text = format!(
                "Welcome to Yen Bai Portal\n  • English\n\n{}\n\n06/05/2024 07:08:09 Xem cỡ chữ\n{}\n\n{}\n\nTheo {}",
                one_line(&i.title),
                i.summary,
                i.body,
                one_line(i.categories.first().map_or("Báo Yên Bái", String::as_str)),
            );
            (text, "a.txt")
        }
    }
}

/// The title the feeds must show, when the layout makes it knowable.
fn expected_title(kind: Kind, i: &Input) -> Option<String> {
    if kind != Kind::Portal {
        return Some(cleaned_line(&i.title));
    }
    // A portal title line that looks like chrome or a date line is not a
    // title (the layout is then another article's problem, or an error).
    let line = one_line(&i.title);
    let t = line.trim();
    let ambiguous = t.is_empty()
        || t.starts_with('•')
        || t.starts_with("Welcome to ")
        || bantin::store::portal::date_prefix(&line).is_some()
        || line.contains('\r');
    (!ambiguous).then(|| cleaned_line(&line))
}

// ---- the property -------------------------------------------------------------

/// Every feed rendered whole, and again joined from its items' pieces
/// (as a refresh after a change renders it): the same bytes.
fn render_twice(catalog: &Catalog, fs: &FeedSettings) -> Vec<Rendered> {
    let now = now();
    let first = render_all(catalog, fs, now);
    for r in &first {
        let items = feeds::items(&r.feed, catalog, fs, now);
        let name = catalog.scope_name(&r.feed.scope);
        let (again, _) = feeds::render_known(&r.feed, &items, name, fs, &feeds::Pieces::default());
        assert!(r.bytes == again, "{}: the render from pieces differs from the whole one", r.feed.path());
    }
    first
}

fn check_one(kind: Kind, i: &Input) {
    let (text, name) = file_text(kind, i);
    let ctx = ctx();
    let article: Article = match parse_bytes(text.as_bytes(), name, &ctx) {
        Ok(a) => a,
        Err(e) => {
            // Refusing is fine (an empty title, say), but with a reason.
            assert!(!e.reason.is_empty() && e.origin == name, "{kind:?}: {e:?}");
            // A raw NUL byte marks a binary file, which is refused on purpose.
            if kind != Kind::Portal && !text.contains('\0') {
                assert!(cleaned_line(&i.title).is_empty(), "{kind:?}: a file with title {:?} was refused: {e}", i.title);
            }
            return;
        }
    };
    if let Some(want) = expected_title(kind, i) {
        assert_eq!(article.title(), want, "{kind:?}: title");
    }
    assert!(!article.title().is_empty());
    for (field, s) in [
        ("title", &article.title().to_string()),
        ("summary", &article.summary().to_string()),
        ("content", &article.content_html().to_string()),
    ] {
        assert!(
            !s.chars().any(forbidden),
            "{kind:?}: {field} keeps a forbidden character: {s:?}"
        );
        assert!(!s.contains('\r'), "{kind:?}: {field} keeps a CR: {s:?}");
        assert!(s.nfc().eq(s.chars()), "{kind:?}: {field} is not NFC: {s:?}");
    }
    for c in article.categories.iter() {
        assert!(
            !c.slug.is_empty()
                && c.slug
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{c:?}"
        );
    }

    let catalog = Catalog::new(vec![article], Vec::new(), &ctx, 1);
    let fs = fs();
    let rendered = render_twice(&catalog, &fs);
    assert_eq!(rendered.len(), 3 * (1 + catalog.categories(now()).len()));
    for r in &rendered {
        let p = check_feed(r, &catalog, &fs, now());
        assert_eq!(p.items.len(), 1, "{kind:?}: {}", r.feed.path());
        assert_eq!(&*p.items[0].title, catalog.articles()[0].title());
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_article_text_gives_well_formed_deterministic_feeds(i in input()) {
        for kind in KINDS {
            check_one(kind, &i);
        }
    }

    #[test]
    fn any_bytes_are_read_without_a_panic(
        opening in proptest::sample::select(vec!["+++\n", "---\n", "{", "Welcome to Yen Bai Portal\n", ""]),
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ext in proptest::sample::select(vec!["a.md", "a.txt", "a.json"]),
    ) {
        let mut file = opening.as_bytes().to_vec();
        file.extend(bytes);
        if let Ok(a) = parse_bytes(&file, ext, &ctx()) {
            let catalog = Catalog::new(vec![a], Vec::new(), &ctx(), 1);
            // Tag and author feeds too: their names come from the same input.
            let fs = FeedSettings { tags: true, authors: true, ..fs() };
            for feed in feeds::all_feeds(&catalog, &fs, now()) {
                let r = render_one(&catalog, &fs, now(), feed);
                read_strict(&r.feed.path(), r.feed.format, &r.bytes);
            }
        }
    }
}

/// Cases found once, kept as plain tests.
#[test]
fn known_awkward_inputs() {
    let cases = [
        // A forbidden character between a letter and its combining mark:
        // removing it must still leave NFC text.
        ("e\u{8}\u{301} ]]> a<b & c", "x\u{B}\u{323}"),
        ("Vie\u{323}\u{302}t\r Nam\u{FEFF}", "lone\rCR"),
        ("😀\u{85}\u{2028}𝐀", "]]>]]>"),
    ];
    for (title, body) in cases {
        let i = Input { title: title.into(), summary: body.into(), body: body.into(), categories: vec![title.into()] };
        for kind in KINDS {
            check_one(kind, &i);
        }
    }
}
