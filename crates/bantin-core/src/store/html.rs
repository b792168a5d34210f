//! Article bodies to safe HTML: Markdown through pulldown-cmark, every HTML
//! through ammonia (scripts, styles and event handlers removed, relative
//! links and images made absolute against the site's base URL), portal
//! paragraphs escaped into `<p>`.

use super::context::Context;
use crate::text::escape_html;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use std::cell::RefCell;
use url::Url;

thread_local! {
    // Building an ammonia cleaner allocates its tag tables; a store of 100k
    // articles would build it 100k times, so each thread keeps one per base.
    static CLEANER: RefCell<Option<(Url, ammonia::Builder<'static>)>> = const { RefCell::new(None) };
}

/// Removes everything unsafe from `html` and makes its URLs absolute.
pub fn sanitize(html: &str, ctx: &Context) -> String {
    CLEANER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(base, _)| base != &ctx.base_url) {
            let mut b = ammonia::Builder::default();
            b.url_relative(ammonia::UrlRelative::RewriteWithBase(ctx.base_url.clone()))
                .add_tags(["figure", "figcaption"])
                .add_generic_attributes(["title"]);
            *slot = Some((ctx.base_url.clone(), b));
        }
        match slot.as_ref() {
            // Entities such as `&#x8;` decode to forbidden characters, so
            // the cleaned HTML is cleaned as text once more.
            Some((_, cleaner)) => crate::text::clean(&cleaner.clean(html).to_string()),
            None => String::new(),
        }
    })
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES | Options::ENABLE_SMART_PUNCTUATION
}

/// Markdown (CommonMark with tables, footnotes, strikethrough) to safe HTML.
pub fn markdown_to_html(md: &str, ctx: &Context) -> String {
    let mut out = String::with_capacity(md.len() * 5 / 4);
    pulldown_cmark::html::push_html(&mut out, Parser::new_ext(md, options()));
    sanitize(&out, ctx)
}

/// The text of the first paragraph of a Markdown document, for a summary.
pub fn first_markdown_paragraph(md: &str) -> String {
    let mut text = String::new();
    let mut inside = false;
    for event in Parser::new_ext(md, options()) {
        match event {
            Event::Start(Tag::Paragraph) => inside = true,
            Event::End(TagEnd::Paragraph) if !text.trim().is_empty() => break,
            Event::End(TagEnd::Paragraph) => inside = false,
            Event::Text(t) | Event::Code(t) if inside => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak if inside => text.push(' '),
            _ => {}
        }
    }
    text
}

/// The portal's closing `Theo <source>` line ("According to …"), when the
/// last paragraph is one: short, one line, no sentence after it.
pub fn source_line(text: &str) -> Option<String> {
    let last = text.trim_end().rsplit("\n\n").next()?.trim();
    let rest = last.strip_prefix("Theo ")?.trim();
    let plain = rest.trim_matches(|c: char| c == '*' || c == '_').trim();
    (!plain.is_empty() && plain.chars().count() <= 80 && !last.contains('\n') && !plain.ends_with('.'))
        .then(|| plain.to_string())
}

/// Plain-text paragraphs to HTML, each escaped into its own `<p>`.
pub fn paragraphs_to_html(paras: &[String]) -> String {
    let mut out = String::new();
    for p in paras {
        out.push_str("<p>");
        out.push_str(&escape_html(p));
        out.push_str("</p>\n");
    }
    out
}

/// The visible text of sanitised HTML (tags dropped, common entities read),
/// for excerpts.
pub fn text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context::new(chrono_tz::Asia::Ho_Chi_Minh, Url::parse("https://yenbai.gov.vn/portal/").unwrap(), "{slug}")
    }

    #[test]
    fn relative_links_and_images_become_absolute() {
        let html = markdown_to_html("[xem](/tin-tuc/abc) ![ảnh](images/a.jpg)", &ctx());
        assert!(html.contains(r#"href="https://yenbai.gov.vn/tin-tuc/abc""#), "{html}");
        assert!(html.contains(r#"src="https://yenbai.gov.vn/portal/images/a.jpg""#), "{html}");
    }

    #[test]
    fn scripts_and_handlers_are_removed() {
        let html = markdown_to_html("a <script>alert(1)</script> <b onclick=\"x()\">b</b> </description></item>", &ctx());
        assert!(!html.contains("script") && !html.contains("onclick") && !html.contains("</item>"), "{html}");
        assert!(html.contains("<b>b</b>"), "{html}");
    }

    #[test]
    fn portal_paragraphs_are_escaped() {
        assert_eq!(paragraphs_to_html(&["3 < 5 & <b>".into()]), "<p>3 &lt; 5 &amp; &lt;b&gt;</p>\n");
    }

    #[test]
    fn the_closing_source_line_is_found() {
        assert_eq!(source_line("Đoạn một.\n\nTheo Báo Yên Bái\n").as_deref(), Some("Báo Yên Bái"));
        assert_eq!(source_line("Đoạn một.\n\n*Theo TTXVN*").as_deref(), None);
        assert_eq!(source_line("Theo đó, tỉnh đã hoàn thành nhiều chỉ tiêu."), None);
    }

    #[test]
    fn first_paragraph_skips_headings() {
        assert_eq!(first_markdown_paragraph("# Tiêu đề\n\nMở *đầu*\nbài.\n\nHai."), "Mở đầu bài.");
    }
}
