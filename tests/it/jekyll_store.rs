//! A store in the shape of a Jekyll site (`tests/fixtures/jekyll`, its
//! README the oracle): posts named `YYYY-MM-DD-title.md` without a `date`
//! key take their date (midnight in site.timezone) and slug from the name,
//! as Jekyll and Hugo's `:filename` do; a `date` or `slug` in the front
//! matter wins. Every post is read, none reported.

use crate::support::common::*;

#[test]
fn every_post_of_a_jekyll_store_is_read() {
    let catalog = load(&root().join("tests/fixtures/jekyll"));
    assert!(catalog.errors().is_empty(), "no post is reported: {:?}", catalog.errors());
    let mut got: Vec<(String, String, String)> = catalog
        .articles()
        .iter()
        .map(|a| (a.id().to_string(), a.published.to_rfc3339(), a.slug().to_string()))
        .collect();
    got.sort();
    let want = [
        ("_posts/2014-05-06-jekyll-turns-2-0-0", "2014-05-06T00:00:00+07:00", "jekyll-turns-2-0-0"),
        ("_posts/2016-03-10-making-it-easier-to-contribute-to-jekyll", "2016-03-10T00:00:00+07:00", "making-it-easier-to-contribute-to-jekyll"),
        ("_posts/2019-08-19-hugo-page-bundle/index", "2019-08-19T00:00:00+07:00", "hugo-page-bundle"),
        ("_posts/2020-08-05-jekyll-3-9-0-released", "2020-08-05T00:00:00+07:00", "jekyll-3-9-0-released"),
        ("_posts/2023-01-20-jekyll-4-3-2-released", "2023-01-20T21:00:00+07:00", "jekyll-4-3-2-released"),
        ("_posts/2024-02-04-name-and-front-matter", "2024-02-05T08:15:00+07:00", "ten-va-ngay-trong-front-matter"),
        ("bon-hai-mot", "2021-10-27T00:00:00+07:00", "bon-hai-mot"),
    ];
    let want: Vec<(String, String, String)> = want.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(got, want);
    // The slug from the name is the article's URL.
    let post = catalog.articles().iter().find(|a| a.slug() == "jekyll-turns-2-0-0").unwrap();
    assert_eq!(post.url(), "https://yenbai.gov.vn/tin-tuc/jekyll-turns-2-0-0");
}
