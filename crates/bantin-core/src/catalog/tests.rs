//! The catalog's rules, and `apply` held to the rebuild.

//! [`Catalog::apply`] against the full rebuild: for arbitrary stores and
//! batches of edits, whenever `apply` takes a change it must give the
//! catalog that [`Catalog::from_results`] gives for the store after it,
//! and ordinary edits (no repeated id or slug) must stay on that path.

use super::*;
use crate::article::{Content, Names, Rare, Shared};
use std::collections::{BTreeMap, BTreeSet};
use chrono::TimeZone;
use proptest::prelude::*;

fn ctx() -> Context {
    Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").expect("a URL"), "tin-tuc/{slug}")
}

/// A small pool of ids, slugs, dates and categories, so repeats happen.
#[derive(Debug, Clone)]
struct Spec {
    id: u16,
    slug: u16,
    minute: u8,
    cats: Vec<u8>,
    draft: bool,
    error: bool,
    /// Kept, with a dropped image reported (`Article::problem`).
    problem: bool,
}

fn spec(ids: u16, slugs: u16) -> impl Strategy<Value = Spec> {
    (
        0..ids,
        0..slugs,
        0u8..6,
        proptest::collection::vec(0u8..4, 0..3),
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(id, slug, minute, cats, draft, error, problem)| Spec {
            id,
            slug,
            minute,
            cats,
            draft,
            error,
            problem,
        })
}

fn result(origin: &str, s: &Spec, version: u32) -> Result<Arc<Article>, ArticleError> {
    if s.error {
        return Err(ArticleError {
            origin: origin.into(),
            line: Some(1),
            reason: format!("bad {version}"),
        });
    }
    // "bai" and "bai-N": own slugs shaped like made ones, to meet
    // the renaming rules.
    let slug = match s.slug {
        0 => "bai".to_string(),
        n => format!("bai-{n}"),
    };
    let names = ["Kinh tế", "Văn hóa", "Du lịch", "kinh tế"];
    let slugs = ["kinh-te", "van-hoa", "du-lich", "kinh-te"];
    let mut categories: Vec<Category> = Vec::new();
    for &c in &s.cats {
        let c = Category {
            slug: slugs[c as usize].into(),
            name: names[c as usize].into(),
        };
        if !categories.iter().any(|k| k.slug == c.slug) {
            categories.push(c);
        }
    }
    let published = chrono::FixedOffset::east_opt(7 * 3600)
        .and_then(|tz| {
            tz.with_ymd_and_hms(2026, 1, 1, 8, s.minute.into(), 0)
                .single()
        })
        .expect("a valid date");
    Ok(Arc::new(Article {
        names: Names::new(&format!("id{}", s.id), &slug, &format!("{origin} v{version}"), origin),
        link: ctx().link(ctx().absolute(&format!("tin-tuc/{slug}")).unwrap_or_default(), &slug),
        published,
        updated: None,
        content: Content::ready(String::new(), String::new()),
        fingerprint: version.into(),
        categories: Shared::new(categories.into_boxed_slice()),
        // Tags and authors that slug alike in other spellings: one group each.
        rare: Rare::boxed(
            s.cats.iter().map(|&c| ["Giao thông", "giao-thong", "Nông thôn", "GIAO THÔNG"][c as usize].to_string()).collect(),
            None,
            s.problem.then(|| ArticleError { origin: origin.into(), line: None, reason: format!("image dropped {version}") }),
        ),
        author: (!s.minute.is_multiple_of(3)).then(|| crate::article::shared_name(["Báo Yên Bái", "bao yen bai"][usize::from(s.id % 2)])),
        draft: s.draft,
    }))
}

/// Each article's (id, slug, URL, title); each category's, tag's and
/// author's (slug, name, article ids); each error.
type Seen = (
    Vec<(String, String, String, String)>,
    [Vec<(String, String, Vec<String>)>; 3],
    Vec<String>,
);

/// What a reader of a catalog can see.
fn seen(c: &Catalog) -> Seen {
    let articles = c
        .articles()
        .iter()
        .map(|a| (a.id().to_string(), a.slug().to_string(), a.url().into_owned(), a.title().to_string()))
        .collect();
    let later = chrono::FixedOffset::east_opt(0)
        .and_then(|tz| tz.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single())
        .expect("a valid date");
    let group = |facet: &Facet, scope: fn(String) -> Scope| -> Vec<(String, String, Vec<String>)> {
        facet
            .iter()
            .map(|(slug, m)| {
                let ids = c.newest(&scope(slug.clone()), later, usize::MAX).iter().map(|a| a.id().to_string()).collect();
                (slug.clone(), m.name.clone(), ids)
            })
            .collect()
    };
    let groups = [
        group(&c.categories, Scope::Category),
        group(&c.tags, Scope::Tag),
        group(&c.authors, Scope::Author),
    ];
    let errors = c.errors().iter().map(|e| e.to_string()).collect();
    (articles, groups, errors)
}

/// Builds `before`, applies `edits` (origin index → new spec, or gone)
/// both ways; whether `apply` took it.
fn check(before: &[Spec], edits: &[(usize, Option<Spec>)]) -> Result<bool, TestCaseError> {
    let mut store: BTreeMap<String, Result<Arc<Article>, ArticleError>> = BTreeMap::new();
    for (i, s) in before.iter().enumerate() {
        let origin = format!("f{i:02}.md");
        store.insert(origin.clone(), result(&origin, s, 0));
    }
    let prev = Catalog::from_results(store.values().map(|r| r.as_ref()), &ctx(), 1);
    let mut changes: BTreeMap<String, Change> = BTreeMap::new();
    for (v, (i, s)) in edits.iter().enumerate() {
        let origin = format!("f{i:02}.md");
        let old = store.get(&origin).cloned();
        let new = s.as_ref().map(|s| result(&origin, s, v as u32 + 1));
        match &new {
            Some(r) => store.insert(origin.clone(), r.clone()),
            None => store.remove(&origin),
        };
        changes
            .entry(origin)
            .and_modify(|c| c.new = new.clone())
            .or_insert(Change { old, new });
    }
    let changes: Vec<Change> = changes.into_values().collect();
    let full = Catalog::from_results(store.values().map(|r| r.as_ref()), &ctx(), 2);
    stamps_are_sound(&prev, &full)?;
    changes_are_named(&prev, &prev)?;
    prop_assert!(full.scopes_changed_since(prev.generation, minute(0), minute(1)).is_none(), "a rebuild names nothing");
    match prev.apply(&changes, 2) {
        Some(next) => {
            prop_assert_eq!(seen(&next), seen(&full));
            prop_assert_eq!(next.len(), full.len());
            stamps_are_sound(&prev, &next)?;
            stamps_are_sound(&next, &next)?;
            changes_are_named(&prev, &next)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// At 08:mm on the specs' day.
fn minute(m: u32) -> DateTime<FixedOffset> {
    chrono::FixedOffset::east_opt(7 * 3600).and_then(|tz| tz.with_ymd_and_hms(2026, 1, 1, 8, m, 0).single()).expect("a valid date")
}

/// Every category, tag and author of `prev` or `next`.
fn groups_of(prev: &Catalog, next: &Catalog) -> BTreeSet<Scope> {
    let mut scopes = BTreeSet::new();
    for c in [prev, next] {
        scopes.extend(c.categories.iter().map(|(slug, _)| Scope::Category(slug.clone())));
        scopes.extend(c.tags.iter().map(|(slug, _)| Scope::Tag(slug.clone())));
        scopes.extend(c.authors.iter().map(|(slug, _)| Scope::Author(slug.clone())));
    }
    scopes
}

/// Whenever a scope's stamp in `prev` at one moment still holds for its
/// stamp in `next` at a later one, `next` shows the very same articles
/// then as `prev` did (what lets a refresh carry a feed over unread).
fn stamps_are_sound(prev: &Catalog, next: &Catalog) -> Result<(), TestCaseError> {
    for scope in std::iter::once(&Scope::Site).chain(&groups_of(prev, next)) {
        for (t0, t1) in [(0, 0), (1, 3), (2, 2), (2, 7), (5, 6)] {
            let (Some(old), Some(new)) = (prev.stamp(scope, minute(t0)), next.stamp(scope, minute(t1))) else { continue };
            if old.still_holds(&new, minute(t1)) {
                let (shown, shows) = (prev.newest(scope, minute(t0), usize::MAX), next.newest(scope, minute(t1), usize::MAX));
                prop_assert!(
                    shown.len() == shows.len() && shown.iter().zip(&shows).all(|(a, b)| Arc::ptr_eq(a, b)),
                    "{:?}: the stamp of 08:0{} holds at 08:0{} but the articles differ", scope, t0, t1
                );
            }
        }
    }
    Ok(())
}

/// Every category, tag and author that `next` does not name as changed
/// since `prev` at one moment ([`Catalog::scopes_changed_since`]) shows
/// at a later one the very articles, under the same name, that `prev`
/// showed (what lets a refresh leave its feeds unplanned); and with the
/// clock gone back, any may have changed.
fn changes_are_named(prev: &Catalog, next: &Catalog) -> Result<(), TestCaseError> {
    let scopes = groups_of(prev, next);
    for (t0, t1) in [(0, 0), (1, 3), (2, 2), (2, 7), (5, 6), (0, 5)] {
        let changed = next.scopes_changed_since(prev.generation, minute(t0), minute(t1));
        let changed = changed.ok_or_else(|| TestCaseError::fail("the same generation or one apply names its changes"))?;
        for scope in scopes.iter().filter(|s| !changed.contains(*s)) {
            let (shown, shows) = (prev.newest(scope, minute(t0), usize::MAX), next.newest(scope, minute(t1), usize::MAX));
            prop_assert!(
                shown.len() == shows.len() && shown.iter().zip(&shows).all(|(a, b)| Arc::ptr_eq(a, b)),
                "{:?}: not named as changed from 08:0{} to 08:0{}, but its articles differ", scope, t0, t1
            );
            prop_assert_eq!(prev.scope_name(scope), next.scope_name(scope));
        }
    }
    prop_assert!(next.scopes_changed_since(prev.generation, minute(3), minute(2)).is_none(), "the clock went back");
    Ok(())
}

/// An edit leaves the stamps of the scopes it does not touch holding, and
/// a future article ends its scope's stamp at its time.
#[test]
fn a_stamp_holds_until_its_scope_changes_or_a_future_article_appears() {
    let plain = |id: u16, minute: u8, cat: u8| Spec { id, slug: 100 + id, minute, cats: vec![cat], draft: false, error: false, problem: false };
    let specs = [plain(1, 1, 0), plain(2, 2, 1), plain(3, 5, 2)];
    let results: Vec<_> = specs.iter().enumerate().map(|(i, s)| result(&format!("f{i}.md"), s, 0)).collect();
    let prev = Catalog::from_results(results.iter().map(|r| r.as_ref()), &ctx(), 1);
    let scope = |slug: &str| Scope::Category(slug.to_string());
    let at = |c: &Catalog, slug: &str, m: u32| c.stamp(&scope(slug), minute(m)).expect("a category the catalog holds");

    // Culture (van-hoa) edited; the economy (kinh-te) untouched.
    let edited = result("f1.md", &plain(2, 2, 1), 1);
    let next = prev.apply(&[Change { old: Some(results[1].clone()), new: Some(edited) }], 2).expect("a local edit");
    assert!(at(&prev, "kinh-te", 3).still_holds(&at(&next, "kinh-te", 3), minute(3)));
    assert!(!at(&prev, "van-hoa", 3).still_holds(&at(&next, "van-hoa", 3), minute(3)));
    // Travel (du-lich) has one article, at 08:05: its stamp of 08:03 holds
    // until then, in the same catalog.
    assert!(at(&next, "du-lich", 3).still_holds(&at(&next, "du-lich", 4), minute(4)));
    assert!(!at(&next, "du-lich", 3).still_holds(&at(&next, "du-lich", 5), minute(5)));
    assert!(next.stamp(&scope("the-thao"), minute(3)).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn apply_gives_the_full_rebuild(
        before in proptest::collection::vec(spec(12, 8), 0..14),
        edits in proptest::collection::vec((0usize..16, proptest::option::weighted(0.8, spec(12, 8))), 1..4),
    ) {
        check(&before, &edits)?;
    }

    #[test]
    fn edits_of_unique_articles_stay_incremental(
        n in 1usize..30,
        edits in proptest::collection::vec((0usize..40, proptest::option::weighted(0.8, (0u8..6, proptest::collection::vec(0u8..4, 0..3)))), 1..4),
    ) {
        // Every article its own id and slug; edits keep them unique.
        let before: Vec<Spec> = (0..n)
            .map(|i| Spec { id: i as u16, slug: 1000 + i as u16, minute: (i % 6) as u8, cats: vec![(i % 4) as u8], draft: false, error: false, problem: i % 3 == 0 })
            .collect();
        let edits: Vec<(usize, Option<Spec>)> = edits
            .into_iter()
            .map(|(i, s)| {
                (i, s.map(|(minute, cats)| Spec { id: 100 + i as u16, slug: 1100 + i as u16, minute, cats, draft: false, error: false, problem: minute % 2 == 0 }))
            })
            .collect();
        // Each origin keeps one id for all its versions.
        let mut seen_origin = std::collections::HashSet::new();
        let edits: Vec<_> = edits.into_iter().filter(|(i, _)| seen_origin.insert(*i)).collect();
        let before: Vec<Spec> = before
            .into_iter()
            .enumerate()
            .map(|(i, s)| if seen_origin.contains(&i) { Spec { id: 100 + i as u16, slug: 1100 + i as u16, ..s } } else { s })
            .collect();
        prop_assert!(check(&before, &edits)?, "a local edit took the full rebuild");
    }
}
