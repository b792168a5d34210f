//! Unit tests of the front matter reader (`frontmatter.rs`).

use super::*;

#[test]
fn toml_front_matter() {
    let text = "+++\ntitle = \"Tiêu đề\"\ndate = 2020-02-21T08:56:00+07:00\ncategories = [\"Kinh tế\"]\n[taxonomies]\ntags = [\"a\"]\n+++\nThân *bài*.\n";
    let raw = parse_markdown(text, Delimiter::Toml).unwrap();
    assert_eq!(raw.title.as_deref(), Some("Tiêu đề"));
    assert_eq!(raw.date.as_deref(), Some("2020-02-21T08:56:00+07:00"));
    assert_eq!(raw.date_line, Some(3));
    assert_eq!(raw.categories, ["Kinh tế"]);
    assert_eq!(raw.tags, ["a"]);
    assert_eq!(raw.body, Body::Markdown("Thân *bài*.\n".into()));
}

#[test]
fn yaml_front_matter() {
    let text = "---\ntitle: Tiêu đề\ndate: 2026-05-02 14:00\ncategories: Du lịch\nauthor:\n  name: Thanh Hà\ndraft: true\n---\nThân bài\n";
    let raw = parse_markdown(text, Delimiter::Yaml).unwrap();
    assert_eq!(raw.date.as_deref(), Some("2026-05-02 14:00"));
    assert_eq!(raw.categories, ["Du lịch"]);
    assert_eq!(raw.author.as_deref(), Some("Thanh Hà"));
    assert!(raw.draft);
}

#[test]
fn toml_errors_carry_the_file_line() {
    let text = "+++\ntitle = \"x\"\ndate = \"unterminated\n+++\nbody";
    let (line, reason) = parse_markdown(text, Delimiter::Toml).unwrap_err();
    assert_eq!(line, Some(3), "{reason}");
    assert!(reason.contains("TOML"), "{reason}");
}

/// The parse tree read as it stands gives what `toml::Table` turned
/// into JSON gave, values, errors and all.
#[test]
fn toml_tree_reads_as_the_converted_table() {
    let cases = [
        "title = \"Tiêu đề\"\ndate = 2024-10-22T16:18:00+07:00\nslug = \"a-b\"",
        "title = 'lit\\eral'\ndate = 2024-10-22 16:18:00Z\nupdated = 2024-10-23T01:02:03.250\nlastmod = 2024-10-24",
        "title = \"\"\"\nmulti\\tline \\u00E9\"\"\"\ndate = 07:32:00",
        "title = 5\ndate = 0x1F\nslug = 1_000\nsummary = -0o17\nurl = 0b101",
        "title = 1.5\ndate = 1e300\nslug = -0.0\nsummary = nan\nurl = inf\nimage = -inf",
        "title = 1e400",
        "title = 9223372036854775807\ndate = -9223372036854775808",
        "title = 9223372036854775808",
        "categories = [\"Kinh tế\", 3, 2.5]\ntags = \"one\"\n[taxonomies]\ncategories = [\"Xã hội\"]\ntags = []",
        "categories = [true]",
        "category = { a = 1 }",
        "tags = 7",
        "taxonomies = 3\ncategories = \"x\"",
        "author = { name = \"Thanh Hà\", email = \"x\" }",
        "authors = [\"A\", { name = \"B\" }, 3, { other = 1 }]",
        "author = true",
        "author = 2024-01-01",
        "draft = \"true\"\nimages = [\"a.jpg\", \"b.jpg\"]",
        "draft = \"yes\"",
        "draft = 1",
        "images = [2, \"b.jpg\"]\ncover = \"c.jpg\"",
        "title = [\"x\"]",
        "date = { y = 1 }",
        "publishDate = 2020-01-01\npublished = \"x\"\nmodified = 1\ndescription = \"d\"\nlead = \"l\"\nlink = \"/x\"",
        "[[author]]\nname = \"A\"\n[[author]]\nname = \"B\"",
        "a.b.c = 1\n[x]\ny = [[1, 2], [3]]",
        "",
        "title = \"dup\"\ntitle = \"dup\"",
        "title = ",
    ];
    for fm in cases {
        let via_json = toml_map(fm, 0).and_then(|m| from_map(&Value::Object(m)));
        match toml_tree(fm) {
            Some(tree) => assert_eq!(from_map(&tree), via_json, "{fm}"),
            None => assert!(via_json.is_err(), "{fm}: the tree is refused but the table is not"),
        }
    }
    assert!(toml_tree("title = 9223372036854775808").is_none());
    assert!(toml_tree("title = 1e400").is_none());
    assert!(toml_tree("title = inf").is_some());
}

#[test]
fn front_matter_image_forms() {
    let read = |json: &str| image(&serde_json::from_str::<serde_json::Value>(json).unwrap());
    let own = |url: &str, cap: Option<&str>| Ok((Some(url.to_string()), cap.map(String::from)));
    assert_eq!(read(r#"{"image": "/a.jpg", "images": ["/b.jpg"]}"#), own("/a.jpg", None));
    assert_eq!(read(r#"{"image": {"path": "/a.jpg", "alt": "x"}}"#), own("/a.jpg", None));
    assert_eq!(read(r#"{"cover": {"image": "c.webp", "caption": "Ảnh: TTXVN"}}"#), own("c.webp", Some("Ảnh: TTXVN")));
    assert_eq!(read(r#"{"featured_image": "/f.png"}"#), own("/f.png", None));
    assert_eq!(read(r#"{"cover": {"hidden": true}, "images": [{"url": "/i.jpg"}]}"#), own("/i.jpg", None));
    assert_eq!(read(r#"{"title": "x"}"#), Ok((None, None)));
    assert!(read(r#"{"image": true}"#).unwrap_err().1.contains("`image`"));
}

#[test]
fn unclosed_front_matter() {
    let (line, reason) = parse_markdown("+++\ntitle = \"x\"\n", Delimiter::Toml).unwrap_err();
    assert_eq!(line, Some(1));
    assert!(reason.contains("never closed"), "{reason}");
}

#[test]
fn json_article() {
    let raw = parse_json(r#"{"title":"T","date":"2020-02-21","body":"*x*","tags":["a","b"]}"#).unwrap();
    assert_eq!(raw.body, Body::Markdown("*x*".into()));
    assert_eq!(raw.tags, ["a", "b"]);
    let (line, _) = parse_json("{\n\"title\": ").unwrap_err();
    assert_eq!(line, Some(2));
    assert!(parse_json(r#"{"title": 5, "date": ["x"]}"#).is_err());
}
