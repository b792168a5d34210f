//! Criterion benchmarks of the pure parts behind a cold start and a feed
//! refresh: parsing one article (metadata only, as the dir store does at
//! start, and with its body rendered and sanitised) and rendering a
//! 50-item full-content feed in each format. `cargo bench` runs them;
//! `cargo test --benches` runs each once as a smoke test.

use bantin_core::article::{Article, Content, Names};
use bantin_core::catalog::{Catalog, Scope};
use bantin_core::config::ContentMode;
use bantin_core::feeds::{self, FeedId, FeedSettings, Format};
use bantin_core::store::{self, Context};
use chrono::Duration;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use url::Url;

/// A Markdown article as ../shared/tools/gen_corpus.py writes them (TOML
/// front matter, ~7 KB of Vietnamese text).
const GENERATED: &[u8] = include_bytes!("fixtures/generated.md");
/// The portal's own text export.
const PORTAL: &[u8] = include_bytes!("../../../examples/articles/portal/yenbai-nghia-lo-2020-02-21.txt");

fn ctx() -> Context {
    Context::new(chrono_tz::Asia::Ho_Chi_Minh, Url::parse("https://yenbai.gov.vn/").expect("a valid URL"), "tin-tuc/{slug}")
}

fn parse(c: &mut Criterion) {
    let ctx = ctx();
    let mut g = c.benchmark_group("parse");
    for (name, bytes) in [("markdown", GENERATED), ("portal", PORTAL)] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("{name}/metadata"), |b| {
            b.iter(|| {
                store::parse_deferred(
                    black_box(bytes),
                    "a/b.md",
                    &ctx,
                    Content::ready(String::new(), String::new()),
                )
            })
        });
        g.bench_function(format!("{name}/with_body"), |b| {
            b.iter(|| store::parse_bytes(black_box(bytes), "a/b.md", &ctx).map(|a| a.content_html()))
        });
    }
    g.finish();
}

/// 50 distinct articles (ids, slugs, dates) sharing one rendered body.
fn fifty() -> Vec<Article> {
    let ctx = ctx();
    let base = store::parse_bytes(GENERATED, "posts/000000.md", &ctx).expect("the fixture parses");
    (0..50)
        .map(|i| {
            let mut a = base.clone();
            let slug = format!("{}-{i}", base.slug());
            a.names = Names::new(&format!("posts/{i:06}"), &slug, base.title(), &format!("posts/{i:06}.md"));
            a.link = ctx.link(format!("{}-{i}", base.url()), &slug);
            a.published = base.published - Duration::hours(i);
            a
        })
        .collect()
}

fn render(c: &mut Criterion) {
    let ctx = ctx();
    let catalog = Catalog::new(fifty(), Vec::new(), &ctx, 1);
    let settings = FeedSettings {
        site_title: "Cổng thông tin điện tử tỉnh Yên Bái".into(),
        description: "Tin tức, sự kiện của tỉnh Yên Bái".into(),
        language: "vi".into(),
        base_url: ctx.base_url.clone(),
        public_url: Url::parse("https://bantin.example.org/").expect("a valid URL"),
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
    let now = catalog.articles()[0].published + Duration::days(1);
    let mut g = c.benchmark_group("render_50_full");
    for format in Format::ALL {
        let feed = FeedId::new(Scope::Site, format);
        let items = feeds::items(&feed, &catalog, &settings, now);
        assert_eq!(items.len(), 50);
        g.bench_function(format.file_name(), |b| {
            b.iter(|| feeds::render(black_box(&feed), &items, &catalog, &settings).map(|bytes| bytes.len()))
        });
    }
    g.finish();
}

criterion_group!(benches, parse, render);
criterion_main!(benches);
