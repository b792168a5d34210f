//! A refresh after a change plans the site, its categories and only the
//! tag and author scopes that the change touched or whose articles came
//! out since (`Catalog::scopes_changed_since`), and carries the other tag
//! and author feeds over in their shards unplanned. Held here to the full
//! refresh of the same catalog at the same moment, through arbitrary
//! edits, deletions, scheduled articles and moves of the clock: the same
//! feeds, with the same bytes, and the same OPML list.

use super::tag_feeds::{article, ctx, now, settings, text};
use bantin::cache::{self, FeedCache};
use bantin::live::dir::StoreState;
use chrono::TimeDelta;
use proptest::prelude::*;
use std::path::Path;

const TAGS: [&str; 5] = ["Giao thông", "Nông thôn", "Du lịch", "giao thông", "Y tế"];
const AUTHORS: [&str; 3] = ["Minh Anh", "Trần Thị Lan", "minh anh"];
const CATEGORIES: [&str; 2] = ["Kinh tế", "Văn hóa"];

/// One step of the store's life.
#[derive(Debug, Clone)]
enum Step {
    /// File `n` written: its hour after `now()` (later ones are scheduled),
    /// category, tags and author.
    Write { n: u8, hour: i64, category: usize, tags: Vec<usize>, author: usize },
    Delete { n: u8 },
    /// The clock moves on this many hours, the store unchanged.
    Wait { hours: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0u8..6, -3i64..4, 0..CATEGORIES.len(), proptest::collection::vec(0..TAGS.len(), 0..3), 0..AUTHORS.len())
            .prop_map(|(n, hour, category, tags, author)| Step::Write { n, hour, category, tags, author }),
        1 => (0u8..6).prop_map(|n| Step::Delete { n }),
        2 => (0i64..3).prop_map(|hours| Step::Wait { hours }),
    ]
}

fn write(dir: &Path, n: u8, hour: i64, category: usize, tags: &[usize], author: usize) {
    let date = (now() + TimeDelta::hours(hour)).to_rfc3339();
    let tags: Vec<&str> = tags.iter().map(|&t| TAGS[t]).collect();
    article(dir, &format!("a{n}.md"), &format!("Bài {n} lúc {hour}"), &date, CATEGORIES[category], &tags, AUTHORS[author]);
}

/// Every feed and document `c` serves, with its bytes.
fn served(c: &FeedCache) -> Vec<(String, String)> {
    let mut paths: Vec<String> = c.feed_paths().map(str::to_string).collect();
    paths.push("feeds.opml".into());
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bytes = text(c, &path);
            (path, bytes)
        })
        .collect()
}

fn check(steps: &[Step]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    write(dir.path(), 0, -2, 0, &[0, 1], 0);
    write(dir.path(), 1, 2, 1, &[2], 1);
    let mut store = StoreState::load(dir.path(), &ctx());
    let mut catalog = store.catalog(1);
    let mut at = now();
    let (mut prev, _) = cache::refresh(None, &catalog, &settings(), at);
    for step in steps {
        let touched = match step {
            Step::Write { n, hour, category, tags, author } => {
                write(dir.path(), *n, *hour, *category, tags, *author);
                Some(n)
            }
            Step::Delete { n } => {
                let _ = std::fs::remove_file(dir.path().join(format!("a{n}.md")));
                Some(n)
            }
            Step::Wait { hours } => {
                at += TimeDelta::hours(*hours);
                None
            }
        };
        // As the service does: a new generation only for a batch that
        // changed an article.
        if let Some(n) = touched
            && store.apply(&[dir.path().join(format!("a{n}.md"))]).changed
        {
            catalog = store.next_catalog(&catalog);
        }
        let (next, _) = cache::refresh(Some(&prev), &catalog, &settings(), at);
        let (full, _) = cache::refresh(None, &catalog, &settings(), at);
        prop_assert_eq!(served(&next), served(&full), "after {:?}", step);
        prev = next;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_refresh_that_plans_only_changed_scopes_serves_what_a_full_one_does(steps in proptest::collection::vec(step(), 1..8)) {
        check(&steps)?;
    }
}

/// The cases the property is most about, spelled out: a tag gained and
/// lost, an author emptied, a scheduled article's tag coming out with the
/// clock alone.
#[test]
fn a_refresh_after_edits_and_the_clock_serves_what_a_full_one_does() {
    let steps = [
        Step::Write { n: 2, hour: -1, category: 0, tags: vec![4], author: 2 },
        Step::Write { n: 0, hour: -2, category: 0, tags: vec![1], author: 1 },
        Step::Delete { n: 2 },
        Step::Wait { hours: 1 },
        Step::Wait { hours: 2 },
        Step::Write { n: 3, hour: 4, category: 1, tags: vec![3, 4], author: 0 },
        Step::Wait { hours: 2 },
    ];
    check(&steps).expect("the same feeds");
}
