//! Proves that article identity is stable and unique for arbitrary stores:
//! folders of articles whose titles, front-matter slugs and file names are
//! drawn to collide (same title, titles equal after slugging, two files
//! claiming one slug, Vietnamese letters, punctuation only). Each store is
//! read three times (twice as written, once rewritten in the reverse
//! order) and must give the same id, URL and feed GUID per file every time;
//! within a catalog ids, URLs and GUIDs are unique, a file that claims a
//! taken id is reported (the first by path keeps it), and every rendered
//! feed lists each GUID once. 64 cases.

use crate::support::common;

use bantin::feeds::{self, FeedSettings};
use common::*;
use crate::support::feed_check::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};

const TITLES: &[&str] = &["Tin mới", "Tin moi", "TIN MỚI!", "Đà Lạt", "Da Lat", "Đà-Lạt", "???", "a/b", "Tin mới ", "Hội nghị 2026"];
const SLUGS: &[&str] = &["trung", "trung", "tin-moi", "da-lat", "x"];
const FOLDERS: &[&str] = &["", "thoi-su/", "Thời sự/", "a/b/"];

#[derive(Debug, Clone)]
struct File {
    folder: usize,
    name: usize,
    title: usize,
    slug: Option<usize>,
}

fn file() -> impl Strategy<Value = File> {
    (0..FOLDERS.len(), 0..6usize, 0..TITLES.len(), proptest::option::of(0..SLUGS.len()))
        .prop_map(|(folder, name, title, slug)| File { folder, name, title, slug })
}

fn path_of(f: &File) -> String {
    format!("{}bai-{}.md", FOLDERS[f.folder], f.name)
}

fn text_of(f: &File, i: usize) -> String {
    let slug = f.slug.map(|s| format!("slug = \"{}\"\n", SLUGS[s])).unwrap_or_default();
    format!(
        "+++\ntitle = \"{}\"\n{slug}date = \"2026-03-{:02}T08:00:00+07:00\"\ncategories = [\"Thời sự\"]\n+++\n\nBài {i}.\n",
        TITLES[f.title],
        i % 28 + 1
    )
}

/// origin → (id, url, GUID), and the number of reported files.
fn identities(dir: &std::path::Path, fs: &FeedSettings) -> (BTreeMap<String, (String, String, String)>, usize) {
    let catalog = load(dir);
    let mut out = BTreeMap::new();
    for a in catalog.articles() {
        out.insert(
            a.origin().to_string(),
            (a.id().to_string(), a.url().into_owned(), feeds::item_id(&fs.base_url, a)),
        );
    }
    // Every rendered feed lists each GUID once.
    for r in render_all(&catalog, fs, now()) {
        let p = check_feed(&r, &catalog, fs, now());
        let ids: HashSet<&str> = p.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids.len(), p.items.len(), "{}: a GUID appears twice", r.feed.path());
    }
    (out, catalog.errors().len())
}

fn write_store(dir: &std::path::Path, files: &[(String, String)]) {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn ids_urls_and_guids_are_stable_across_reads_and_unique_in_a_catalog(files in proptest::collection::vec(file(), 1..14)) {
        // One file per path (the last drawn wins, as a rewrite would).
        let mut by_path: BTreeMap<String, String> = BTreeMap::new();
        for (i, f) in files.iter().enumerate() {
            by_path.insert(path_of(f), text_of(f, i));
        }
        let list: Vec<(String, String)> = by_path.into_iter().collect();
        let fs = feed_settings();
        let a = tempfile::tempdir().unwrap();
        write_store(a.path(), &list);
        let (first, errors) = identities(a.path(), &fs);
        let (second, _) = identities(a.path(), &fs);
        prop_assert_eq!(&first, &second, "two reads of one store differ");
        let b = tempfile::tempdir().unwrap();
        let reversed: Vec<(String, String)> = list.iter().rev().cloned().collect();
        write_store(b.path(), &reversed);
        let (third, _) = identities(b.path(), &fs);
        prop_assert_eq!(&first, &third, "the order files were written in changed identities");

        prop_assert_eq!(first.len() + errors, list.len(), "every file is an article or reported");
        let ids: HashSet<&String> = first.values().map(|v| &v.0).collect();
        let urls: HashSet<&String> = first.values().map(|v| &v.1).collect();
        let guids: HashSet<&String> = first.values().map(|v| &v.2).collect();
        prop_assert_eq!(ids.len(), first.len(), "ids are unique");
        prop_assert_eq!(urls.len(), first.len(), "URLs are unique");
        prop_assert_eq!(guids.len(), first.len(), "GUIDs are unique");
        for (origin, (id, url, guid)) in &first {
            prop_assert!(!id.is_empty() && is_absolute_http(url), "{origin}: id {id:?}, url {url:?}");
            prop_assert!(guid.starts_with("urn:uuid:"), "{guid}");
        }
        // A slug claimed by several files belongs to the first by path.
        for slug in SLUGS {
            let claimants: Vec<&String> = list.iter().filter(|(_, t)| t.contains(&format!("slug = \"{slug}\""))).map(|(p, _)| p).collect();
            if let Some(first_path) = claimants.first() {
                let holder = first.iter().find(|(_, v)| v.0 == *slug).map(|(o, _)| o);
                prop_assert_eq!(holder, Some(*first_path), "slug {} is held by the first file by path", slug);
            }
        }
    }
}
