//! An article's own image as the store gives it (front matter `image`,
//! or the `image` column): made absolute against `site.base_url` (as the
//! body's own links and images are), kept only when it is http(s). One
//! that is not is dropped with an [`ArticleError`] naming the article,
//! which is still served, without the image.
//!
//! And the portal export's photo caption: in a portal article the photo
//! stands between the lead and a short caption paragraph ("Đồng chí …
//! tham quan Hội chợ …"). When the article has an image, that paragraph
//! becomes the `<figcaption>` of the image's `<figure>`, placed where the
//! photo stood; the feeds read the caption from there
//! (`feeds::media`).

use super::context::Context;
use crate::article::ArticleError;
use crate::text::escape_html;

/// The longest paragraph taken for a photo caption: the seed's is 124
/// characters, a body paragraph is several hundred.
const CAPTION_MAX_CHARS: usize = 250;

/// The article's image, absolute and http(s), or why it was dropped.
pub fn resolve(given: Option<&str>, origin: &str, ctx: &Context) -> (Option<String>, Option<ArticleError>) {
    let Some(given) = given.map(str::trim).filter(|s| !s.is_empty()) else { return (None, None) };
    let scheme = ctx.base_url.join(given).ok().map(|u| (u.scheme().to_string(), u));
    match scheme {
        Some((s, url)) if s == "http" || s == "https" => (Some(url.to_string()), None),
        _ => {
            let shown: String = given.chars().take(80).collect();
            let reason = format!(
                "image {shown:?} is not an http:// or https:// URL: the article is served without it; \
                 give a web address or a path on the site (e.g. /images/anh.jpg)"
            );
            (None, Some(ArticleError { origin: origin.to_string(), line: None, reason }))
        }
    }
}

/// Portal paragraphs as HTML with the image placed after the lead (the
/// paragraph at `lead`), as a figure: with the next paragraph as its
/// caption when that one reads as a caption (short, not the last).
pub fn paragraphs_with_image(paras: &[String], lead: usize, image: &str, alt: &str) -> String {
    let caption = lead + 1;
    let is_caption = paras.get(caption).is_some_and(|p| {
        caption + 1 < paras.len() && p.chars().count() <= CAPTION_MAX_CHARS && !p.ends_with(':')
    });
    let mut out = String::new();
    let figure = |out: &mut String| {
        out.push_str(&format!("<figure><img src=\"{}\" alt=\"{}\">", escape_html(image), escape_html(alt)));
        if is_caption {
            out.push_str(&format!("<figcaption>{}</figcaption>", escape_html(&paras[caption])));
        }
        out.push_str("</figure>\n");
    };
    if paras.is_empty() {
        figure(&mut out);
    }
    for (i, p) in paras.iter().enumerate() {
        if i == caption && is_caption {
            continue;
        }
        out.push_str("<p>");
        out.push_str(&escape_html(p));
        out.push_str("</p>\n");
        if i == lead {
            figure(&mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    fn ctx() -> Context {
        Context::new(chrono_tz::Asia::Ho_Chi_Minh, Url::parse("https://yenbai.gov.vn/portal/").unwrap(), "{slug}")
    }

    #[test]
    fn relative_images_resolve_against_the_base_and_others_are_reported() {
        assert_eq!(resolve(Some("anh/a.jpg"), "a.md", &ctx()).0.as_deref(), Some("https://yenbai.gov.vn/portal/anh/a.jpg"));
        assert_eq!(resolve(Some("/a.jpg"), "a.md", &ctx()).0.as_deref(), Some("https://yenbai.gov.vn/a.jpg"));
        assert_eq!(resolve(Some("  "), "a.md", &ctx()), (None, None));
        for bad in ["ftp://h/a.jpg", "data:image/png;base64,AAAA", "javascript:alert(1)", "file:///etc/passwd"] {
            let (image, problem) = resolve(Some(bad), "tin/a.md", &ctx());
            let problem = problem.unwrap_or_else(|| panic!("{bad} kept"));
            assert!(image.is_none() && problem.origin == "tin/a.md", "{bad}");
            assert!(problem.reason.contains("served without"), "{}", problem.reason);
        }
    }

    #[test]
    fn the_paragraph_after_the_lead_is_the_caption() {
        let paras: Vec<String> =
            ["Mở đầu.", "Đồng chí A tham quan hội chợ.", "Thân bài dài.", "Theo Báo Yên Bái"].map(String::from).to_vec();
        let html = paragraphs_with_image(&paras, 0, "https://a.vn/1.jpg", "T");
        assert_eq!(
            html,
            "<p>Mở đầu.</p>\n<figure><img src=\"https://a.vn/1.jpg\" alt=\"T\"><figcaption>Đồng chí A tham quan hội chợ.</figcaption></figure>\n\
             <p>Thân bài dài.</p>\n<p>Theo Báo Yên Bái</p>\n"
        );
        // A long second paragraph is body text: the figure has no caption.
        let long = vec!["Mở đầu.".to_string(), "x".repeat(400), "Theo TTXVN".to_string()];
        let html = paragraphs_with_image(&long, 0, "https://a.vn/1.jpg", "T");
        assert!(!html.contains("figcaption") && html.contains(&"x".repeat(400)), "{html}");
    }
}
