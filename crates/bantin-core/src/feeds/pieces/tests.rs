//! A feed joined from pieces is the crates' own whole document
//! ([`render_named`]), byte for byte, whatever its items hold; known
//! pieces are taken as they are.

use super::super::fixtures::feed_settings;
use super::super::{render_known, render_named, FeedId, FeedSettings, Format};
use super::*;
use crate::catalog::Scope;
use crate::config::ContentMode;

/// Article `n`: with an image, an author and tags as `n` says, and a body
/// with what XML and JSON escape (`]]>` ends a CDATA section, `</item>`
/// and `</entry>` close the elements a piece is cut at).
fn article(n: u32) -> Arc<Article> {
    let ctx = crate::store::Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").unwrap(), "tin-tuc/{slug}");
    let image = if n.is_multiple_of(2) { format!("image = \"https://yenbai.gov.vn/anh/{n}.jpg\"\n") } else { String::new() };
    let author = if n.is_multiple_of(3) { "author = \"Bảo Yên\"\n" } else { "" };
    let text = format!(
        "+++\ntitle = \"Tin <số> {n} & \\\"ngoặc\\\"\"\ndate = \"2026-11-01T{:02}:00:00+07:00\"\ncategories = [\"Kinh tế\"]\ntags = [\"giao thông\"]\n{image}{author}+++\n\nĐoạn {n}: `]]>` và </item></entry> \"trích\"\\\n\n<script>x</script>\n",
        n % 24
    );
    Arc::new(crate::store::parse_bytes(text.as_bytes(), &format!("tin/{n}.md"), &ctx).unwrap())
}

fn settings_variants() -> Vec<FeedSettings> {
    let mut summary = feed_settings();
    summary.content = ContentMode::Summary;
    let mut adorned = feed_settings();
    adorned.websub_hub = Some(url::Url::parse("https://hub.example.org/").unwrap());
    adorned.icon = Some(url::Url::parse("https://yenbai.gov.vn/icon.png").unwrap());
    adorned.logo = Some(url::Url::parse("https://yenbai.gov.vn/logo.png").unwrap());
    vec![feed_settings(), summary, adorned]
}

#[test]
fn a_feed_of_pieces_is_the_crates_whole_document() {
    let articles: Vec<_> = (0..7).map(article).collect();
    let sets: [&[Arc<Article>]; 5] = [&[], &articles[..1], &articles[1..2], &articles[..], &articles[3..]];
    for settings in settings_variants() {
        for format in Format::ALL {
            for scope in [Scope::Site, Scope::Category("kinh-te".into())] {
                let feed = FeedId::new(scope, format);
                for items in sets {
                    let (got, _) = render_known(&feed, items, Some("Kinh tế"), &settings, &Pieces::default());
                    let want = render_named(&feed, items, Some("Kinh tế"), &settings);
                    assert!(
                        got == want,
                        "{} with {} items ({:?}):\n{}\n---\n{}",
                        feed.path(),
                        items.len(),
                        settings.content,
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(&want)
                    );
                }
            }
        }
    }
}

#[test]
fn a_feed_over_its_budget_drops_its_oldest_pieces_as_a_whole_render_would() {
    // Newest first, as a feed's items come.
    let articles: Vec<_> = (0..7).rev().map(article).collect();
    let mut settings = feed_settings();
    for format in Format::ALL {
        let feed = FeedId::new(Scope::Site, format);
        let four = render_named(&feed, &articles[..4], None, &settings);
        settings.max_bytes = four.len();
        let (got, _) = render_known(&feed, &articles, None, &settings, &Pieces::default());
        assert!(got == four, "{}", feed.path());
        assert!(render_named(&feed, &articles, None, &settings) == four, "{}", feed.path());
    }
}

#[test]
fn a_budget_cut_that_leaves_out_the_only_image_leaves_out_the_media_namespace() {
    // Article 0 alone has an image, and it is the oldest: the frame with
    // the namespace serves the whole feed, the one without it the cut.
    let articles: Vec<_> = [1, 3, 5, 0].into_iter().map(article).collect();
    let mut settings = feed_settings();
    let feed = FeedId::new(Scope::Site, Format::Rss);
    let whole = render_named(&feed, &articles, None, &settings);
    let three = render_named(&feed, &articles[..3], None, &settings);
    assert!(contains(&whole, b"xmlns:media") && !contains(&three, b"xmlns:media"));
    settings.max_bytes = three.len();
    let (got, _) = render_known(&feed, &articles, None, &settings, &Pieces::default());
    assert!(got == three, "{}", String::from_utf8_lossy(&got));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

#[test]
fn known_pieces_are_taken_and_an_edited_article_is_rendered_again() {
    let settings = feed_settings();
    let feed = FeedId::new(Scope::Site, Format::Atom);
    let articles: Vec<_> = (0..3).map(article).collect();
    let (first, used) = render_known(&feed, &articles, None, &settings, &Pieces::default());
    assert_eq!(used.len(), 3);
    let known = Pieces::from_used(used.into_iter().map(|(a, f, p)| {
        let piece = if Arc::ptr_eq(&a, &articles[1]) { Piece::new(b"<entry>known</entry>", false) } else { p };
        (a, f, piece)
    }));
    let (again, _) = render_known(&feed, &articles, None, &settings, &known);
    let again = String::from_utf8_lossy(&again);
    assert_eq!(again.matches("<entry>").count(), 3);
    assert!(again.contains("<entry>known</entry>") && !again.contains("Tin &lt;số&gt; 1 "), "{again}");
    // The same article, edited: another allocation, so its piece is new.
    let edited = vec![Arc::clone(&articles[0]), Arc::new((*articles[1]).clone()), Arc::clone(&articles[2])];
    let (fresh, _) = render_known(&feed, &edited, None, &settings, &known);
    assert!(fresh == first);
    // Another format's piece of the same article is not taken.
    let rss = FeedId::new(Scope::Site, Format::Rss);
    let (in_rss, _) = render_known(&rss, &articles, None, &settings, &known);
    assert!(!String::from_utf8_lossy(&in_rss).contains("known"));
}

#[test]
fn a_piece_is_cut_at_the_first_open_and_the_last_close() {
    let doc = b"<a><item><x>]]></item></x></item></a>";
    let (head, item, tail) = cut_out(doc, b"<item>", b"</item>").unwrap();
    assert_eq!((head, item, tail), (&b"<a>"[..], &b"<item><x>]]></item></x></item>"[..], &b"</a>"[..]));
    assert_eq!(cut_out(b"<a></item><item></a>", b"<item>", b"</item>"), None);
    assert_eq!(cut_out(b"<a></a>", b"<item>", b"</item>"), None);
}
