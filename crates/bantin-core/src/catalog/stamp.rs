//! A scope's [`Stamp`]: what lets a later generation tell, without reading
//! a single article, that a scope's feed items cannot have changed. With
//! tag and author feeds on, a 100k store has ~2,000 scopes, and reading
//! each one's newest articles at every change (their reference counts,
//! one cache miss each) was most of a refresh (bench/HISTORY.md, stop 41).
//!
//! Why it holds: a generation shares every untouched group (category, tag,
//! author) and every untouched chunk of the site's list with the one
//! before, and a group or chunk that a stamp holds is shared, so a change
//! copies it ([`Chunks`], `facets`); the same group, or the same chunks,
//! are the same articles in the same order.
//! What readers see of them also moves with the clock: a future article
//! appears at its time, so a stamp holds only until the first of those.
//!
//! So a scope whose stamp held at one refresh still holds at the next
//! unless a change touched its group or one of its articles came out in
//! between: [`Catalog::scopes_changed_since`] names those, and the feed
//! cache plans only them of its thousands of tag and author scopes.

use super::chunks::Chunks;
use super::facets::Members;
use super::{Catalog, Newest, Scope};
use chrono::{DateTime, FixedOffset};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The groups one [`Catalog::apply`] touched (joined, left, renamed or
/// emptied), and the generation it applied to.
#[derive(Debug)]
pub(super) struct Touched {
    pub(super) parent: u64,
    pub(super) scopes: Vec<Scope>,
}

/// A scope's articles in one generation, and until when the ones visible
/// among them stay the same.
#[derive(Debug, Clone)]
pub struct Stamp {
    held: Held,
    /// The first publication after the stamp's moment among the scope's
    /// articles that are not drafts.
    until: Option<DateTime<FixedOffset>>,
}

impl Stamp {
    /// Whether a scope stamped `self` earlier shows at `now` what it
    /// showed then, as stamped `now` by `later`: the very same articles,
    /// and none of them published since.
    pub fn still_holds(&self, later: &Stamp, now: DateTime<FixedOffset>) -> bool {
        self.held.same(&later.held) && self.until.is_none_or(|until| now < until)
    }

    /// The site's stamp at `now`: its list's chunks.
    fn of_site(articles: &Chunks<Newest>, now: DateTime<FixedOffset>) -> Stamp {
        Stamp { held: Held::Site(articles.clone()), until: Stamp::until(articles, now) }
    }

    /// A group's stamp at `now`: the group itself, one pointer.
    fn of_group(members: &Arc<Members>, now: DateTime<FixedOffset>) -> Stamp {
        Stamp { held: Held::Group(Arc::clone(members)), until: Stamp::until(&members.articles, now) }
    }

    /// The first publication after `now` among `articles` not drafts.
    fn until(articles: &Chunks<Newest>, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        // Newest first: the future ones lead, and the last of them not a
        // draft is the next to appear.
        articles.iter().map(|n| &n.0).take_while(|a| a.published > now).filter(|a| !a.draft).last().map(|a| a.published)
    }
}

/// What a stamp holds of its generation's catalog: the site's chunks, or
/// a group (by address).
#[derive(Debug, Clone)]
enum Held {
    Site(Chunks<Newest>),
    Group(Arc<Members>),
}

impl Held {
    fn same(&self, other: &Held) -> bool {
        match (self, other) {
            (Held::Site(a), Held::Site(b)) => a.shares_all(b),
            (Held::Group(a), Held::Group(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A scope with an article visible at some moment: its name (`None` for
/// the site) and its stamp then.
#[derive(Debug, Clone)]
pub struct Stamped<'a> {
    pub scope: Scope,
    pub name: Option<&'a str>,
    pub stamp: Stamp,
}

impl Catalog {
    /// The stamp of `scope` at `now`; `None` for a group the catalog does
    /// not hold.
    pub fn stamp(&self, scope: &Scope, now: DateTime<FixedOffset>) -> Option<Stamp> {
        match self.facet(scope) {
            None => Some(Stamp::of_site(&self.newest, now)),
            Some((facet, slug)) => facet.get(slug).map(|members| Stamp::of_group(members, now)),
        }
    }

    /// The stamp of `scope`'s group and its name, if it holds an article
    /// visible at `now`; `None` for the site, for a group the catalog does
    /// not hold and for one with nothing to show yet.
    pub fn stamped_group(&self, scope: Scope, now: DateTime<FixedOffset>) -> Option<Stamped<'_>> {
        let (facet, slug) = self.facet(&scope)?;
        let members = facet.visible_group(slug, now)?;
        Some(Stamped { name: Some(members.name.as_str()), stamp: Stamp::of_group(members, now), scope })
    }

    /// The categories, tags and authors whose stamps of generation
    /// `generation` at `since` may not hold in this one at `now`: the
    /// groups the change from that generation to this one touched, and
    /// those of the articles that came out after `since`. Every other
    /// group's stamp then still holds. `None` when this catalog is not that
    /// generation or the one [`Catalog::apply`] made from it (a rebuild),
    /// or when the clock went back: any stamp may fail then.
    pub fn scopes_changed_since(
        &self,
        generation: u64,
        since: DateTime<FixedOffset>,
        now: DateTime<FixedOffset>,
    ) -> Option<BTreeSet<Scope>> {
        if now < since {
            return None;
        }
        let mut changed = BTreeSet::new();
        if self.generation != generation {
            let touched = self.touched.as_ref().filter(|t| t.parent == generation)?;
            changed.extend(touched.scopes.iter().cloned());
        }
        // Newest first: the future ones lead; then those out since `since`.
        let came_out = self.newest.iter().map(|n| &n.0).skip_while(|a| a.published > now).take_while(|a| a.published > since);
        let mut slugs = BTreeSet::new();
        for article in came_out.filter(|a| !a.draft) {
            for facet in [&self.categories, &self.tags, &self.authors] {
                facet.touch(article, &mut slugs);
                changed.extend(std::mem::take(&mut slugs).into_iter().map(|slug| facet.scope(slug)));
            }
        }
        Some(changed)
    }

    /// The site and each category (and with `tags`, `authors` each tag and
    /// author) that holds an article visible at `now`, stamped: one pass
    /// over each index, where a look-up per scope cost a few cache misses
    /// of each of thousands of tags at every change.
    pub fn stamped_scopes(&self, now: DateTime<FixedOffset>, tags: bool, authors: bool) -> Vec<Stamped<'_>> {
        let site = Stamped { scope: Scope::Site, name: None, stamp: Stamp::of_site(&self.newest, now) };
        let wanted = [(&self.categories, true), (&self.tags, tags), (&self.authors, authors)];
        let groups = wanted.into_iter().filter(|(_, wanted)| *wanted).flat_map(|(facet, _)| {
            facet.visible_groups(now).map(|(slug, members)| Stamped {
                scope: facet.scope(slug.clone()),
                name: Some(members.name.as_str()),
                stamp: Stamp::of_group(members, now),
            })
        });
        std::iter::once(site).chain(groups).collect()
    }
}
