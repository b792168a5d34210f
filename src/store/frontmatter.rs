//! Markdown articles with front matter, as Hugo, Zola and Jekyll write
//! them: TOML between `+++` lines or YAML between `---` lines, then the
//! Markdown body. Also the JSON article, which carries the same keys.
//!
//! All three become a `serde_json` map first, so one function knows the
//! keys (`title`, `date`, `updated`/`lastmod`, `summary`/`description`,
//! `categories`, `tags`, `author(s)`, `slug`, `draft`, `image`, `url`, and
//! Zola's `[taxonomies]`). Unknown keys are ignored: a Hugo content folder
//! has many that feeds do not need.

use super::raw::{Body, RawArticle};
use serde_json::{Map, Value};

type ParseError = (Option<usize>, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Toml,
    Yaml,
}

impl Delimiter {
    fn fence(self) -> &'static str {
        match self {
            Delimiter::Toml => "+++",
            Delimiter::Yaml => "---",
        }
    }
}

/// Which front matter `text` opens with, if any.
pub fn opening(text: &str) -> Option<Delimiter> {
    let first = text.lines().find(|l| !l.trim().is_empty())?.trim_end();
    match first {
        "+++" => Some(Delimiter::Toml),
        "---" => Some(Delimiter::Yaml),
        _ => None,
    }
}

/// Parses a Markdown article that opens with `delim` front matter.
pub fn parse_markdown(text: &str, delim: Delimiter) -> Result<RawArticle, ParseError> {
    parse_markdown_with(text, delim, true)
}

/// Like [`parse_markdown`] with an empty body: the same errors (the body
/// never causes one) without copying the body, for a static build's first
/// look at every file.
pub fn parse_markdown_head(text: &str, delim: Delimiter) -> Result<RawArticle, ParseError> {
    parse_markdown_with(text, delim, false)
}

fn parse_markdown_with(text: &str, delim: Delimiter, with_body: bool) -> Result<RawArticle, ParseError> {
    let fence = delim.fence();
    let mut lines = text.split_inclusive('\n').enumerate();
    let mut offset = 0;
    // Skip to and over the opening fence.
    let mut open_line = 0;
    for (n, line) in lines.by_ref() {
        offset += line.len();
        if line.trim_end() == fence {
            open_line = n + 1;
            break;
        }
    }
    let start = offset;
    let mut end = None;
    for (_, line) in lines.by_ref() {
        if line.trim_end() == fence {
            end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((fm_end, body_start)) = end else {
        return Err((Some(open_line), format!("the front matter opened with `{fence}` is never closed; add a `{fence}` line after it")));
    };
    let fm = &text[start..fm_end];
    let body = &text[body_start..];
    let map = match delim {
        Delimiter::Toml => toml_map(fm, open_line)?,
        Delimiter::Yaml => yaml_map(fm, open_line)?,
    };
    let mut raw = from_map(&map)?;
    raw.date_line = line_of_key(fm, "date").map(|l| l + open_line);
    raw.body = Body::Markdown(if with_body { body.to_string() } else { String::new() });
    Ok(raw)
}

/// Parses a JSON article: one object with the front-matter keys and the
/// body in `body`/`content` (Markdown) or `content_html`.
pub fn parse_json(text: &str) -> Result<RawArticle, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| (Some(e.line()), format!("invalid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err((Some(1), "a JSON article must be one object with title, date, body …".into()));
    };
    let mut raw = from_map(&map)?;
    raw.body = if let Some(h) = string(&map, &["content_html"])? {
        Body::Html(h)
    } else if let Some(md) = string(&map, &["body", "content", "content_text"])? {
        Body::Markdown(md)
    } else {
        Body::Paragraphs(Vec::new())
    };
    Ok(raw)
}

fn toml_map(fm: &str, open_line: usize) -> Result<Map<String, Value>, ParseError> {
    let table: toml::Table = toml::from_str(fm).map_err(|e| {
        let line = e.span().map(|s| fm[..s.start.min(fm.len())].matches('\n').count() + 1 + open_line);
        (line, format!("invalid TOML front matter: {}", e.message().trim()))
    })?;
    Ok(table.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
}

fn yaml_map(fm: &str, open_line: usize) -> Result<Map<String, Value>, ParseError> {
    if fm.trim().is_empty() {
        return Ok(Map::new());
    }
    let value: Value = serde_norway::from_str(fm).map_err(|e| {
        let line = e.location().map(|l| l.line() + open_line);
        // The parser's own positions count from the front matter, not the
        // file; the file line is given separately, so they are cut off.
        let text = e.to_string();
        let reason = text.split(" at line ").next().unwrap_or(&text).to_string();
        (line, format!("invalid YAML front matter: {reason}"))
    })?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err((Some(open_line + 1), "the YAML front matter must be a mapping of keys (title: …, date: …)".into())),
    }
}

fn toml_to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}

/// 1-based line of `key = …` / `key: …` inside the front matter.
fn line_of_key(fm: &str, key: &str) -> Option<usize> {
    fm.lines().position(|l| {
        let l = l.trim_start();
        l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(['=', ':']))
    }).map(|i| i + 1)
}

/// The keys every format shares.
fn from_map(map: &Map<String, Value>) -> Result<RawArticle, ParseError> {
    let taxonomies = map.get("taxonomies").and_then(Value::as_object);
    let from_tax = |key: &str| -> Result<Vec<String>, ParseError> {
        match taxonomies.and_then(|t| t.get(key)) {
            Some(v) => list(key, v),
            None => Ok(Vec::new()),
        }
    };
    let mut categories = match map.get("categories").or_else(|| map.get("category")) {
        Some(v) => list("categories", v)?,
        None => Vec::new(),
    };
    categories.extend(from_tax("categories")?);
    let mut tags = match map.get("tags") {
        Some(v) => list("tags", v)?,
        None => Vec::new(),
    };
    tags.extend(from_tax("tags")?);

    let author = match map.get("author").or_else(|| map.get("authors")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o.get("name").and_then(Value::as_str).map(str::to_string),
        Some(v @ Value::Array(_)) => Some(
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().or_else(|| a.get("name").and_then(Value::as_str)))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Some(_) => return Err((None, "`author` must be a name or a list of names".into())),
    };
    let image = match map.get("images") {
        Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let draft = match map.get("draft") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
        Some(_) => return Err((None, "`draft` must be true or false".into())),
    };

    Ok(RawArticle {
        title: string(map, &["title"])?,
        date: string(map, &["date", "publishDate", "published"])?,
        updated: string(map, &["updated", "lastmod", "modified"])?,
        summary: string(map, &["summary", "description", "lead"])?,
        categories,
        tags,
        author,
        slug: string(map, &["slug"])?,
        draft,
        image: string(map, &["image", "cover"])?.or(image),
        url: string(map, &["url", "link"])?,
        ..RawArticle::default()
    })
}

/// The first of `keys` present, as a string (numbers are accepted too).
fn string(map: &Map<String, Value>, keys: &[&str]) -> Result<Option<String>, ParseError> {
    for key in keys {
        match map.get(*key) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => return Ok(Some(s.clone())),
            Some(Value::Number(n)) => return Ok(Some(n.to_string())),
            Some(_) => return Err((None, format!("`{key}` must be text"))),
        }
    }
    Ok(None)
}

/// A list of names: an array of strings, or one string.
fn list(key: &str, v: &Value) -> Result<Vec<String>, ParseError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err((None, format!("`{key}` must be a list of names"))),
            })
            .collect(),
        _ => Err((None, format!("`{key}` must be a list of names"))),
    }
}

#[cfg(test)]
mod tests {
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
}
