//! The catalog's indexes by facet: categories, tags and authors, each a
//! map from slug to its display name and its articles, newest first.
//! One set of rules for all three, so tag and author feeds appear, change
//! and go exactly as category feeds do:
//! - a group's slug is [`text::slugify`] of its name (categories come
//!   slugged from the store), so names that slug alike ("Kinh tế",
//!   "kinh-te", "KINH TẾ") are one group;
//! - a group's name is the one its newest article gives it (the first of
//!   that article's names with the slug);
//! - a group without articles is gone.
//!
//! Each group is shared by the generations that did not change it (a
//! generation's clone of the index touches a reference count a group),
//! and its articles are [`Chunks`], so
//! [`Catalog::apply`](super::Catalog::apply) copies the groups a changed
//! article is in and one chunk of each, not the whole index. A group that
//! a generation or a stamp still holds is copied before a change, so the
//! same group (by address) is the same articles: a scope's stamp.

use super::chunks::Chunks;
use super::Newest;
use crate::article::{Article, Category};
use crate::text;
use chrono::{DateTime, FixedOffset};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Which facet of an article an index is by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Category,
    Tag,
    Author,
}

/// One group: its display name and its articles, newest first.
#[derive(Debug, Clone)]
pub(super) struct Members {
    pub(super) name: String,
    pub(super) articles: Chunks<Newest>,
}

impl Members {
    /// Whether one of the group's articles is visible at `now`: a group
    /// without one has no feed.
    fn shows_any(&self, now: DateTime<FixedOffset>) -> bool {
        self.articles.iter().any(|n| n.0.is_visible_at(now))
    }
}

/// The index of one facet.
#[derive(Debug, Clone)]
pub(super) struct Facet {
    kind: Kind,
    groups: BTreeMap<String, Arc<Members>>,
}

/// The (slug, name) pairs `a` belongs to under `kind`, without repeats of
/// a slug (the first name wins) and without empty slugs.
fn memberships(kind: Kind, a: &Article) -> Vec<(Cow<'_, str>, &str)> {
    let mut out: Vec<(Cow<'_, str>, &str)> = Vec::new();
    match kind {
        Kind::Category => out.extend(a.categories.iter().map(|c| (Cow::Borrowed(c.slug.as_str()), c.name.as_str()))),
        Kind::Tag => {
            for name in a.tags() {
                let slug = text::slugify(name);
                if !slug.is_empty() && !out.iter().any(|(s, _)| *s == slug) {
                    out.push((Cow::Owned(slug), name.as_str()));
                }
            }
        }
        Kind::Author => {
            if let Some(name) = a.author.as_deref() {
                let slug = text::slugify(name);
                if !slug.is_empty() {
                    out.push((Cow::Owned(slug), name));
                }
            }
        }
    }
    out
}

impl Facet {
    pub(super) fn new(kind: Kind) -> Facet {
        Facet { kind, groups: BTreeMap::new() }
    }

    /// The index of `newest_first`, every article in order, in one pass:
    /// each group's list is made whole, then chunked at its size.
    pub(super) fn build<'a>(kind: Kind, newest_first: impl Iterator<Item = &'a Arc<Article>>) -> Facet {
        let mut lists: BTreeMap<String, (String, Vec<Newest>)> = BTreeMap::new();
        for a in newest_first {
            for (slug, name) in memberships(kind, a) {
                // A look-up first: `entry` would copy the slug for every
                // membership, not just for each group's first.
                let entry = Newest(Arc::clone(a));
                match lists.get_mut(slug.as_ref()) {
                    Some((_, list)) => list.push(entry),
                    // The newest article names its group.
                    None => {
                        lists.insert(slug.into_owned(), (name.to_string(), vec![entry]));
                    }
                }
            }
        }
        let groups = lists
            .into_iter()
            .map(|(slug, (name, list))| (slug, Arc::new(Members { name, articles: Chunks::from_sorted(list) })))
            .collect();
        Facet { kind, groups }
    }

    /// Adds `a` to each of its groups (a new group takes `a`'s name, which
    /// [`Facet::settle`] corrects if an older article came first).
    pub(super) fn join(&mut self, a: &Arc<Article>) {
        for (slug, name) in memberships(self.kind, a) {
            let entry = Newest(Arc::clone(a));
            match self.groups.get_mut(slug.as_ref()) {
                Some(members) => Arc::make_mut(members).articles.insert(entry),
                None => {
                    let members = Members { name: name.to_string(), articles: Chunks::from_sorted(vec![entry]) };
                    self.groups.insert(slug.into_owned(), Arc::new(members));
                }
            }
        }
    }

    /// Takes `a` out of each of its groups; `None` when it was not there
    /// (the caller then rebuilds).
    pub(super) fn leave(&mut self, a: &Arc<Article>) -> Option<()> {
        for (slug, _) in memberships(self.kind, a) {
            Arc::make_mut(self.groups.get_mut(slug.as_ref())?).articles.remove(&Newest(Arc::clone(a)))?;
        }
        Some(())
    }

    /// Notes the slugs of `a`'s groups in `touched`, for [`Facet::settle`].
    pub(super) fn touch(&self, a: &Article, touched: &mut BTreeSet<String>) {
        touched.extend(memberships(self.kind, a).into_iter().map(|(slug, _)| slug.into_owned()));
    }

    /// After joins and leaves: each touched group named by its newest
    /// article again, an emptied one dropped.
    pub(super) fn settle(&mut self, touched: BTreeSet<String>) {
        for slug in touched {
            let name = self.groups.get(&slug).and_then(|members| {
                let newest = members.articles.first()?;
                memberships(self.kind, &newest.0)
                    .into_iter()
                    .find(|(s, _)| *s == slug)
                    .map(|(_, name)| name.to_string())
            });
            match name {
                Some(name) => {
                    if let Some(members) = self.groups.get_mut(&slug).filter(|m| m.name != name) {
                        Arc::make_mut(members).name = name;
                    }
                }
                None => {
                    self.groups.remove(&slug);
                }
            }
        }
    }

    /// The scope of this index's group `slug`.
    pub(super) fn scope(&self, slug: String) -> super::Scope {
        match self.kind {
            Kind::Category => super::Scope::Category(slug),
            Kind::Tag => super::Scope::Tag(slug),
            Kind::Author => super::Scope::Author(slug),
        }
    }

    pub(super) fn get(&self, slug: &str) -> Option<&Arc<Members>> {
        self.groups.get(slug)
    }

    /// Groups that hold at least one article visible at `now`, by slug.
    pub(super) fn visible(&self, now: DateTime<FixedOffset>) -> Vec<Category> {
        self.visible_groups(now).map(|(slug, members)| Category { slug: slug.clone(), name: members.name.clone() }).collect()
    }

    /// [`Facet::visible`]'s groups, with their members.
    pub(super) fn visible_groups(&self, now: DateTime<FixedOffset>) -> impl Iterator<Item = (&String, &Arc<Members>)> {
        self.groups.iter().filter(move |(_, members)| members.shows_any(now))
    }

    /// Group `slug`, if it has an article visible at `now`.
    pub(super) fn visible_group(&self, slug: &str, now: DateTime<FixedOffset>) -> Option<&Arc<Members>> {
        self.groups.get(slug).filter(|members| members.shows_any(now))
    }

    /// The `n` groups with the most articles among those [`Facet::visible`]
    /// at `now` (ties by slug), by slug; and how many visible ones are
    /// left out.
    pub(super) fn most_used(&self, now: DateTime<FixedOffset>, n: usize) -> (Vec<Category>, usize) {
        let mut used: Vec<(&String, &Arc<Members>)> = self.visible_groups(now).collect();
        let visible = used.len();
        used.sort_by(|(a_slug, a), (b_slug, b)| b.articles.len().cmp(&a.articles.len()).then_with(|| a_slug.cmp(b_slug)));
        used.truncate(n);
        used.sort_by_key(|(slug, _)| *slug);
        let top = used.into_iter().map(|(slug, members)| Category { slug: slug.clone(), name: members.name.clone() }).collect();
        (top, visible.saturating_sub(n))
    }

    /// Every group as (slug, name), visible or not (tests).
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = (&String, &Arc<Members>)> {
        self.groups.iter()
    }
}

impl super::Catalog {
    /// The `n` of [`Catalog::tags`](super::Catalog::tags) with the most
    /// articles, by slug, and how many are left out.
    pub fn most_used_tags(&self, now: DateTime<FixedOffset>, n: usize) -> (Vec<Category>, usize) {
        self.tags.most_used(now, n)
    }

    /// Likewise of [`Catalog::authors`](super::Catalog::authors).
    pub fn most_used_authors(&self, now: DateTime<FixedOffset>, n: usize) -> (Vec<Category>, usize) {
        self.authors.most_used(now, n)
    }
}
