//! The format-neutral shape every parser produces ([`RawArticle`]) and the
//! one place that turns it into a clean [`Article`]: NFC, forbidden
//! characters, dates in the site's zone, slugs, identity, absolute URLs and
//! sanitised HTML. Parsers stay small because all the policy lives here.

use super::html;
pub use super::context::Context;
use crate::article::{Article, ArticleError, Category, Content, Names, Rare};
use crate::text;
use chrono::{DateTime, FixedOffset};

/// The body of an article as its format holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Markdown(String),
    Html(String),
    /// Plain-text paragraphs (the portal export).
    Paragraphs(Vec<String>),
}

/// An article as a parser found it: every field optional and untrusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawArticle {
    pub title: Option<String>,
    pub date: Option<String>,
    /// Line of the date in the file, for messages.
    pub date_line: Option<usize>,
    pub updated: Option<String>,
    pub summary: Option<String>,
    pub body: Body,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub author: Option<String>,
    pub slug: Option<String>,
    pub draft: bool,
    pub image: Option<String>,
    /// The image's caption, where the front matter gives one (`cover.caption`).
    pub image_caption: Option<String>,
    pub url: Option<String>,
}

impl Default for RawArticle {
    fn default() -> Self {
        RawArticle {
            title: None,
            date: None,
            date_line: None,
            updated: None,
            summary: None,
            body: Body::Paragraphs(Vec::new()),
            categories: Vec::new(),
            tags: Vec::new(),
            author: None,
            slug: None,
            draft: false,
            image: None,
            image_caption: None,
            url: None,
        }
    }
}

/// The identity of an article without a front-matter slug: its
/// store-relative path without the extension, `/`-separated.
pub fn path_id(origin: &str) -> String {
    let clean = text::clean(origin).replace('\\', "/");
    match clean.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') && !stem.is_empty() => stem.to_string(),
        _ => clean,
    }
}

/// How the body of an article is produced.
pub enum BodyPolicy {
    /// Render it now.
    Now,
    /// Hand it to this content, which renders it on first use.
    Deferred(Content),
}

/// What decides an article's identity, place and feeds: everything of
/// [`normalize`] that can fail, and nothing that needs the body. A static
/// build reads this of every file and the rest only of the articles its
/// feeds show (`export::plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub id: String,
    pub slug: String,
    pub url: String,
    pub title: String,
    pub published: DateTime<FixedOffset>,
    pub updated: Option<DateTime<FixedOffset>>,
    pub categories: Vec<Category>,
    pub draft: bool,
}

/// The [`Head`] of what a parser read, or why it cannot be an article.
/// [`normalize`] starts here, so both give the same errors.
pub fn head(raw: &RawArticle, origin: &str, ctx: &Context) -> Result<Head, ArticleError> {
    let fail = |line: Option<usize>, reason: String| ArticleError { origin: origin.to_string(), line, reason };

    let title = raw.title.as_deref().map(text::clean_line).unwrap_or_default();
    if title.is_empty() {
        return Err(fail(None, "the article has no title; give it one (front matter `title`, or the first line of a portal export)".into()));
    }
    let given_date = raw.date.as_deref().map(str::trim).filter(|d| !d.is_empty());
    // Jekyll's and Hugo's `:filename`: a post without a date key is dated by its name.
    let named = if given_date.is_none() { super::filename::dated(origin) } else { None };
    let published = match (given_date, &named) {
        (Some(date), _) => crate::dates::parse(date, ctx.timezone).map_err(|m| fail(raw.date_line, m))?,
        (None, Some(n)) => crate::dates::local(n.date.and_time(chrono::NaiveTime::MIN), ctx.timezone),
        (None, None) => {
            return Err(fail(
                None,
                "the article has no publication date; add `date = 2020-02-21T08:56:00+07:00`, name the file \
                 `2020-02-21-title.md` (or give a `dd/mm/yyyy HH:MM` line in a portal export)"
                    .into(),
            ));
        }
    };
    let updated = match raw.updated.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(u) => Some(crate::dates::parse(u, ctx.timezone).map_err(|m| fail(None, format!("updated: {m}")))?),
        None => None,
    };

    let given_slug = raw.slug.as_deref().map(text::slugify).filter(|s| !s.is_empty());
    let id = given_slug.clone().unwrap_or_else(|| path_id(origin));
    let slug = given_slug
        .or_else(|| named.as_ref().map(|n| text::slugify(n.rest)).filter(|s| !s.is_empty()))
        .or_else(|| Some(text::slugify(&title)).filter(|s| !s.is_empty()))
        .or_else(|| Some(text::slugify(&id)).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "bai-viet".to_string());

    let url = raw
        .url
        .as_deref()
        .and_then(|u| ctx.absolute(u))
        .or_else(|| ctx.derived_url(&slug, &id))
        .ok_or_else(|| fail(None, format!("cannot build the article's URL from site.article_url {:?}", ctx.article_url)))?;
    Ok(Head { id, slug, url, title, published, updated, categories: categories(&raw.categories), draft: raw.draft })
}

/// Turns what a parser read into an article, or says why it cannot be one.
pub fn normalize(raw: RawArticle, origin: &str, ctx: &Context, body: BodyPolicy) -> Result<Article, ArticleError> {
    let Head { id, slug, url, title, published, updated, categories, draft } = head(&raw, origin, ctx)?;
    let (image, problem) = super::image::resolve(raw.image.as_deref(), origin, ctx);
    let mut author = raw.author.as_deref().map(text::clean_line).filter(|a| !a.is_empty());

    if author.is_none()
        && let Body::Markdown(md) = &raw.body
    {
        author = html::source_line(md).map(|a| text::clean_line(&a)).filter(|a| !a.is_empty());
    }
    let content = match body {
        BodyPolicy::Now => {
            let summary = summary(raw.summary.as_deref(), &raw.body);
            let lead = lead_index(raw.summary.as_deref(), &raw.body);
            Content::ready(
                render_body(raw.body, image.as_deref(), raw.image_caption.as_deref(), &title, lead, ctx),
                summary,
            )
        }
        // The loader makes the summary with the body: not held meanwhile.
        BodyPolicy::Deferred(content) => content,
    };

    Ok(Article {
        link: ctx.link(url, &slug),
        names: Names::new(&id, &slug, &title, origin),
        published,
        updated,
        content,
        fingerprint: 0,
        categories: Category::set(categories),
        author: author.as_deref().map(crate::article::shared_name),
        rare: Rare::boxed(names(&raw.tags), image, problem),
        draft,
    })
}

/// The plain-text summary: the given one, else an excerpt of the body.
fn summary(given: Option<&str>, body: &Body) -> String {
    match given.map(text::clean_line).filter(|s| !s.is_empty()) {
        Some(s) => s,
        None => text::excerpt(&first_text(body), 300),
    }
}

/// Which paragraph of a portal body is the lead: the one the summary was
/// taken from, else the first.
fn lead_index(summary: Option<&str>, body: &Body) -> usize {
    let Body::Paragraphs(paras) = body else { return 0 };
    let paras = paras.iter().filter(|p| !text::clean_line(p).is_empty());
    summary.and_then(|s| paras.clone().position(|p| p.trim() == s.trim())).unwrap_or(0)
}

/// The article's body as sanitised HTML, led by its image when the body
/// does not show that image already (portal paragraphs: after the lead,
/// with its caption, `store::image`).
pub fn render_body(body: Body, image: Option<&str>, caption: Option<&str>, title: &str, lead: usize, ctx: &Context) -> String {
    let mut content = match body {
        Body::Markdown(md) => html::markdown_to_html(&text::clean(&md), ctx),
        Body::Html(h) => html::sanitize(&text::clean(&h), ctx),
        Body::Paragraphs(paras) => {
            let paras: Vec<String> = paras.iter().map(|p| text::clean_line(p)).filter(|p| !p.is_empty()).collect();
            match image {
                Some(img) => return super::image::paragraphs_with_image(&paras, lead, img, title),
                None => html::paragraphs_to_html(&paras),
            }
        }
    };
    if let Some(img) = image
        && !content.contains(img)
    {
        let img = format!("<img src=\"{}\" alt=\"{}\">", text::escape_html(img), text::escape_html(title));
        content = match caption.map(text::clean_line).filter(|c| !c.is_empty()) {
            Some(c) => format!("<figure>{img}<figcaption>{}</figcaption></figure>\n{content}", text::escape_html(&c)),
            None => format!("<p>{img}</p>\n{content}"),
        };
    }
    content
}

/// The text of the body's first paragraph, for a summary when none is
/// given. Only the start of a long body is looked at.
fn first_text(body: &Body) -> String {
    const HEAD: usize = 8 * 1024;
    let head = |s: &str| -> String {
        if s.len() <= HEAD {
            return s.to_string();
        }
        let mut cut = HEAD;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s[..cut].to_string()
    };
    let text = match body {
        Body::Markdown(md) => html::first_markdown_paragraph(&head(md)),
        Body::Html(h) => html::text_of(&head(h)),
        Body::Paragraphs(paras) => paras.iter().find(|p| !p.trim().is_empty()).cloned().unwrap_or_default(),
    };
    text::clean(&text)
}

/// Cleaned names, without empties and without repeats (compared by slug).
fn names(list: &[String]) -> Vec<String> {
    categories(list).into_iter().map(|c| c.name).collect()
}

fn categories(list: &[String]) -> Vec<Category> {
    let mut out: Vec<Category> = Vec::with_capacity(list.len());
    for name in list {
        let name = text::clean_line(name);
        let slug = text::slugify(&name);
        if slug.is_empty() || out.iter().any(|c| c.slug == slug) {
            continue;
        }
        out.push(Category { slug, name });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::Link;
    use url::Url;

    pub(crate) fn ctx() -> Context {
        Context::new(chrono_tz::Asia::Ho_Chi_Minh, Url::parse("https://yenbai.gov.vn/").unwrap(), "tin-tuc/{slug}")
    }

    #[test]
    fn a_derived_url_without_parsing_is_the_parsed_one() {
        let bases = ["https://yenbai.gov.vn/", "https://portal.example.org/tin/", "http://h.example:8080/a/b"];
        let templates = [
            "tin-tuc/{slug}",
            "{slug}",
            "/bai/{slug}.html",
            "?p={slug}",
            "#{slug}",
            "https://{slug}.example.org/",
            "//cdn.example.org/{slug}",
            "a/{slug}/../b",
            "{slug}/{id}",
            "x/%7Bslug%7D/{slug}",
        ];
        let slugs = ["nghia-lo-2024", "a", "0-9", "xn--abc", "Tin-Tuc", "a--b", "-a", "a b", "đ", ".", ".."];
        for base in bases {
            for template in templates {
                let ctx = Context::new(chrono_tz::Asia::Ho_Chi_Minh, Url::parse(base).unwrap(), template);
                for slug in slugs {
                    let parsed = ctx.absolute(&template.replace("{slug}", slug).replace("{id}", "the-id"));
                    assert_eq!(ctx.derived_url(slug, "the-id"), parsed, "{base} {template} {slug}");
                }
            }
        }
    }

    fn raw(title: &str, date: &str) -> RawArticle {
        RawArticle { title: Some(title.into()), date: Some(date.into()), ..Default::default() }
    }

    #[test]
    fn identity_is_the_path_unless_a_slug_is_given() {
        let a = normalize(raw("Tiêu đề", "2020-02-21"), "kinh-te/bai-1.md", &ctx(), BodyPolicy::Now).unwrap();
        assert_eq!(a.id(), "kinh-te/bai-1");
        assert_eq!(a.slug(), "tieu-de");
        assert_eq!(a.url(), "https://yenbai.gov.vn/tin-tuc/tieu-de");
        assert!(matches!(a.link, Link::Slug(_)), "the derived URL is kept as text around the slug");
        let mut r = raw("Tiêu đề đã sửa", "2020-02-21");
        r.slug = Some("bai-mot".into());
        let b = normalize(r, "kinh-te/bai-1.md", &ctx(), BodyPolicy::Now).unwrap();
        assert_eq!((b.id(), b.slug()), ("bai-mot", "bai-mot"));
    }

    #[test]
    fn missing_title_or_date_is_an_error() {
        let e = normalize(raw("", "2020-02-21"), "a.md", &ctx(), BodyPolicy::Now).unwrap_err();
        assert!(e.reason.contains("no title"), "{e}");
        let e = normalize(RawArticle { title: Some("x".into()), ..Default::default() }, "a.md", &ctx(), BodyPolicy::Now).unwrap_err();
        assert!(e.reason.contains("no publication date"), "{e}");
    }

    #[test]
    fn a_dated_file_name_dates_a_post_without_a_date_key() {
        let undated = RawArticle { title: Some("Jekyll 3.0 Released".into()), ..Default::default() };
        let a = normalize(undated.clone(), "_posts/2015-10-26-jekyll-3-0-released.markdown", &ctx(), BodyPolicy::Now).unwrap();
        assert_eq!(a.published.to_rfc3339(), "2015-10-26T00:00:00+07:00", "midnight in site.timezone");
        assert_eq!((a.id(), a.slug()), ("_posts/2015-10-26-jekyll-3-0-released", "jekyll-3-0-released"));
        // The front matter wins: its date, and its slug.
        let mut dated = raw("Jekyll 3.0 Released", "2015-10-27 08:00");
        dated.slug = Some("ba-mot".into());
        let b = normalize(dated, "_posts/2015-10-26-jekyll-3-0-released.md", &ctx(), BodyPolicy::Now).unwrap();
        assert_eq!((b.published.to_rfc3339().as_str(), b.slug()), ("2015-10-27T08:00:00+07:00", "ba-mot"));
        let e = normalize(undated, "_posts/2015-02-30-no-such-day.md", &ctx(), BodyPolicy::Now).unwrap_err();
        assert!(e.reason.contains("no publication date"), "{e}");
    }

    #[test]
    fn categories_are_deduplicated_by_slug() {
        let mut r = raw("x", "2020-02-21");
        r.categories = vec!["Kinh tế".into(), "kinh te".into(), " ".into(), "Du lịch".into()];
        let a = normalize(r, "a.md", &ctx(), BodyPolicy::Now).unwrap();
        let slugs: Vec<_> = a.categories.iter().map(|c| c.slug.as_str()).collect();
        assert_eq!(slugs, ["kinh-te", "du-lich"]);
    }

    #[test]
    fn summary_falls_back_to_the_first_paragraph() {
        let mut r = raw("x", "2020-02-21");
        r.body = Body::Paragraphs(vec!["Đoạn mở đầu.".into(), "Đoạn hai.".into()]);
        assert_eq!(
            normalize(r, "a.txt", &ctx(), BodyPolicy::Now)
                .unwrap()
                .summary(),
            "Đoạn mở đầu."
        );
    }

    #[test]
    fn javascript_urls_are_not_links() {
        assert_eq!(ctx().absolute("javascript:alert(1)"), None);
        assert_eq!(ctx().absolute("/images/a.jpg").as_deref(), Some("https://yenbai.gov.vn/images/a.jpg"));
    }
}
