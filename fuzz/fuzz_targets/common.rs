// Shared by the article targets: parse, and when an article comes out,
// render the three site feeds and check that they are well-formed.
use bantin_core::catalog::{Catalog, Scope};
use bantin_core::config::ContentMode;
use bantin_core::feeds::{self, FeedId, FeedSettings, Format};
use bantin_core::store::{self, Context};

pub fn check_article(bytes: &[u8]) {
    let base = url::Url::parse("https://yenbai.gov.vn/").unwrap();
    let ctx = Context::new(chrono_tz::Asia::Ho_Chi_Minh, base.clone(), "tin-tuc/{slug}");
    let Ok(article) = store::parse_bytes(bytes, "fuzz/input.md", &ctx) else { return };
    let catalog = Catalog::new(vec![article], Vec::new(), &ctx, 1);
    let settings = FeedSettings {
        site_title: "Cổng thông tin".into(),
        description: "Tin tức".into(),
        language: "vi".into(),
        base_url: base.clone(),
        public_url: base,
        content: ContentMode::Full,
        items: 50,
        websub_hub: None,
        icon: None,
        logo: None,
        browser_view: true,
        max_bytes: 2_000_000,
        tags: false,
        authors: false,
        news_sitemap: false,
        timezone: chrono_tz::Asia::Ho_Chi_Minh,
        templates: bantin_core::templates::Templates::shared_builtin(),
    };
    let far_future = chrono::DateTime::parse_from_rfc3339("9999-01-01T00:00:00+07:00").unwrap();
    for format in Format::ALL {
        let feed = FeedId::new(Scope::Site, format);
        let items = feeds::items(&feed, &catalog, &settings, far_future);
        let bytes = feeds::render(&feed, &items, &catalog, &settings).expect("the site feed always renders");
        let text = std::str::from_utf8(&bytes).expect("feeds are UTF-8");
        match format {
            Format::Json => {
                serde_json::from_str::<serde_json::Value>(text).expect("JSON Feed is valid JSON");
            }
            _ => {
                roxmltree::Document::parse(text).expect("XML feeds are well-formed");
            }
        }
    }
}
