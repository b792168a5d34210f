//! `bantin build` of a dir store reads only the articles its feeds show
//! (`export::plan_dir`); this checks that it writes byte for byte what the
//! whole-store path writes (`load_catalog` + `export::write_all`) on stores
//! built to hit each rule the plan mirrors from the catalog: duplicate ids
//! (first path wins), repeated slugs renamed in publication order (also
//! onto a slug another article already has), drafts and future articles,
//! a category whose newest article (a draft) names it, feeds cut at
//! `feeds.items`, ties in publication time, and the tricky fixtures.

use crate::support::common;

use bantin::export;
use bantin::store::Context;
use std::collections::BTreeMap;
use std::path::Path;

/// Every file under `dir`: relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            out.insert(rel, std::fs::read(e.path()).unwrap());
        }
    }
    out
}

/// Builds `store` both ways with `items` per feed and compares.
fn same_both_ways(store: &Path, items: usize) {
    let mut settings = common::settings();
    settings.store.path = store.to_path_buf();
    settings.feeds.items = items;
    let fs = bantin::feeds::FeedSettings::from_settings(&settings);
    let now = common::now();
    let out = tempfile::tempdir().unwrap();

    let catalog = bantin::store::load_catalog(&settings, 1).unwrap();
    let whole = export::write_all(&out.path().join("whole"), &catalog, &fs, now).unwrap();
    let ctx = Context::from_settings(&settings.site);
    let plan = export::plan_dir(store, &ctx, &fs, now).unwrap();
    assert_eq!(plan.errors, catalog.errors(), "{}: skipped files differ", store.display());
    let planned = plan.write(&out.path().join("planned"), &fs).unwrap();
    assert_eq!(planned, whole, "{}: summaries differ", store.display());

    let (a, b) = (tree(&out.path().join("whole")), tree(&out.path().join("planned")));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{}: feed files differ", store.display());
    for (path, bytes) in &a {
        assert!(bytes == &b[path], "{}: {path} differs (items = {items})", store.display());
    }
}

fn article(dir: &Path, name: &str, front: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("+++\n{front}\n+++\n\nThân bài của {name}.\n")).unwrap();
}

#[test]
fn tricky_fixtures_build_the_same() {
    for items in [1, 3, 50] {
        same_both_ways(&common::tricky_store(), items);
    }
}

#[test]
fn example_store_builds_the_same() {
    same_both_ways(&common::example_store(), 50);
}

#[test]
fn catalog_rules_build_the_same() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    // Same slug twice: `b/dup.md` sorts after `a/dup.md` and is reported.
    article(
        s,
        "a/dup.md",
        "title = \"Một\"\ndate = 2026-01-01T08:00:00+07:00\nslug = \"trung\"\ncategories = [\"Kinh tế\"]",
    );
    article(
        s,
        "b/dup.md",
        "title = \"Hai\"\ndate = 2026-01-05T08:00:00+07:00\nslug = \"trung\"\ncategories = [\"Kinh tế\"]",
    );
    // `a-b` sorts before `a/…` as a string, after it as a walk.
    article(s, "a-b.md", "title = \"Ba\"\ndate = 2026-01-02T08:00:00+07:00\nslug = \"trung\"");
    // Titles alike: renamed -2, -3 in publication order, one onto an
    // existing `tieu-de-2`, with a tie in time broken by id.
    for (n, date) in [(1, "2026-02-01"), (2, "2026-02-03"), (3, "2026-02-03"), (4, "2026-02-02")] {
        article(
            s,
            &format!("t/{n}.md"),
            &format!("title = \"Tiêu đề\"\ndate = {date}T08:00:00+07:00\ncategories = [\"Du lịch\"]"),
        );
    }
    article(s, "g/1.md", "title = \"Giống\"\ndate = 2026-02-05T08:00:00+07:00");
    article(s, "g/2.md", "title = \"Giống\"\ndate = 2026-02-06T08:00:00+07:00");
    article(s, "t/own.md", "title = \"Khác\"\ndate = 2026-02-01T09:00:00+07:00\nslug = \"tieu-de-2\"");
    article(s, "t/url.md", "title = \"Tiêu đề\"\ndate = 2026-02-04T09:00:00+07:00\nurl = \"/rieng/bai\"");
    // The newest of a category is a draft with another spelling of its
    // name; a category with only a future article has no feed.
    article(
        s,
        "c/draft.md",
        "title = \"Nháp\"\ndate = 2026-03-01T08:00:00+07:00\ndraft = true\ncategories = [\"kinh te\"]",
    );
    article(s, "c/future.md", "title = \"Sắp tới\"\ndate = 2030-01-01T08:00:00+07:00\ncategories = [\"Tương lai\"]");
    for n in 0..12 {
        article(
            s,
            &format!("many/{n:02}.md"),
            &format!(
                "title = \"Bài {n}\"\ndate = 2026-04-{:02}T08:00:00+07:00\ncategories = [\"Kinh tế\", \"Xã hội\"]",
                n % 5 + 1
            ),
        );
    }
    std::fs::write(s.join("broken.md"), "+++\ntitle = \"x\n+++\n").unwrap();
    for items in [1, 2, 5, 50] {
        same_both_ways(s, items);
    }
}

/// Regression: a file whose name is not UTF-8 has for origin its name
/// with U+FFFD in place of the other bytes, and the catalog read its body
/// again by that origin, a file that does not exist: the article went out
/// with its title for body and no summary, and the static build (which
/// reads by path) differed. Such a file is now an error naming it.
#[test]
fn non_utf8_file_name_is_an_error_not_an_article_without_its_body() {
    use std::os::unix::ffi::OsStrExt as _;
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    let front = |title: &str| {
        format!("+++\ntitle = \"{title}\"\ndate = 2026-01-01T08:00:00+07:00\nslug = \"chung\"\n+++\n\nThân bài.\n")
    };
    // Byte order `z\xff`, `\x80`, `é`; origin order `z\u{FFFD}`, `é`, `\u{FFFD}`.
    std::fs::write(s.join(std::ffi::OsStr::from_bytes(b"\x80.md")), front("Byte lẻ")).unwrap();
    std::fs::write(s.join("é.md"), front("Chữ é")).unwrap();
    std::fs::write(s.join(std::ffi::OsStr::from_bytes(b"z\xff.md")), front("Cuối")).unwrap();
    same_both_ways(s, 50);

    let mut settings = common::settings();
    settings.store.path = s.to_path_buf();
    let catalog = bantin::store::load_catalog(&settings, 1).unwrap();
    let kept: Vec<(&str, &str)> = catalog.articles().iter().map(|a| (a.title(), a.summary())).collect();
    assert_eq!(kept, [("Chữ é", "Thân bài.")]);
    let errors: Vec<(&str, bool)> =
        catalog.errors().iter().map(|e| (e.origin.as_str(), e.reason.contains("not UTF-8"))).collect();
    assert_eq!(errors, [("z\u{FFFD}.md", true), ("\u{FFFD}.md", true)]);
}
