//! Markdown articles with front matter, as Hugo, Zola and Jekyll write
//! them: TOML between `+++` lines or YAML between `---` lines, then the
//! Markdown body. Also the JSON article, which carries the same keys.
//!
//! One function, [`from_map`], knows the keys (`title`, `date`,
//! `updated`/`lastmod`, `summary`/`description`, `categories`, `tags`,
//! `author(s)`, `slug`, `draft`, `image` (or `cover`, `featured_image`, `images`; as
//! text or a table with `path`/`image` and `caption`), `url`, and Zola's `[taxonomies]`)
//! and reads them through [`FrontValue`] from a `serde_json` value (YAML,
//! JSON) or from TOML's parse tree as it stands, borrowing its strings:
//! front matter is read for every file of a cold build, and turning it
//! into `toml::Table` and then a JSON map was a third of that. Unknown keys
//! are ignored: a Hugo content folder has many that feeds do not need.

use super::raw::{Body, RawArticle};
use serde_json::{Map, Value};
use std::borrow::Cow;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

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
    let mut raw = match delim {
        Delimiter::Toml => match toml_tree(fm) {
            Some(tree) => from_map(&tree)?,
            // The tree would not pass `toml`'s conversion (or does not
            // parse): the conversion's own error, word for word.
            None => from_map(&Value::Object(toml_map(fm, open_line)?))?,
        },
        Delimiter::Yaml => from_map(&Value::Object(yaml_map(fm, open_line)?))?,
    };
    raw.date_line = line_of_key(fm, "date").map(|l| l + open_line);
    raw.body = Body::Markdown(if with_body { body.to_string() } else { String::new() });
    Ok(raw)
}

/// Parses a JSON article: one object with the front-matter keys and the
/// body in `body`/`content` (Markdown) or `content_html`.
pub fn parse_json(text: &str) -> Result<RawArticle, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| (Some(e.line()), format!("invalid JSON: {e}")))?;
    let Value::Object(_) = &value else {
        return Err((Some(1), "a JSON article must be one object with title, date, body …".into()));
    };
    let mut raw = from_map(&value)?;
    raw.body = if let Some(h) = string(&value, &["content_html"])? {
        Body::Html(h)
    } else if let Some(md) = string(&value, &["body", "content", "content_text"])? {
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

/// The parse tree of TOML front matter when `toml::from_str` would accept
/// it too: it parses, and every number converts (an integer beyond `i64`
/// or a float out of range is `toml`'s error, which the caller then gives).
fn toml_tree(fm: &str) -> Option<Spanned<DeValue<'_>>> {
    let table = DeTable::parse(fm).ok()?;
    let span = table.span();
    let tree = Spanned::new(span, DeValue::Table(table.into_inner()));
    converts(&tree).then_some(tree)
}

fn converts(v: &Spanned<DeValue<'_>>) -> bool {
    match v.get_ref() {
        DeValue::Integer(i) => toml_integer(i).is_some(),
        DeValue::Float(f) => toml_float(f).is_some(),
        DeValue::Array(a) => a.iter().all(converts),
        DeValue::Table(t) => t.values().all(converts),
        DeValue::String(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => true,
    }
}

/// As `toml`'s conversion reads an integer into `toml::Value`.
fn toml_integer(i: &toml::de::DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(i.as_str(), i.radix()).ok()
}

/// As `toml`'s conversion reads a float: an infinity only when written so.
fn toml_float(f: &toml::de::DeFloat<'_>) -> Option<f64> {
    let x: f64 = f.as_str().parse().ok()?;
    (!x.is_infinite() || f.as_str().contains("inf")).then_some(x)
}

/// A front-matter value as [`from_map`] sees it, whatever format held it.
enum Item<'a, V> {
    Null,
    Text(Cow<'a, str>),
    Number(String),
    Bool(bool),
    List(&'a [V]),
    Table,
}

/// What [`from_map`] needs of a format's values.
trait FrontValue: Sized {
    fn item(&self) -> Item<'_, Self>;
    /// The value under `key`, when `self` is a table.
    fn field(&self, key: &str) -> Option<&Self>;

    fn text(&self) -> Option<Cow<'_, str>> {
        match self.item() {
            Item::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl FrontValue for Value {
    fn item(&self) -> Item<'_, Self> {
        match self {
            Value::Null => Item::Null,
            Value::String(s) => Item::Text(Cow::Borrowed(s)),
            Value::Number(n) => Item::Number(n.to_string()),
            Value::Bool(b) => Item::Bool(*b),
            Value::Array(a) => Item::List(a),
            Value::Object(_) => Item::Table,
        }
    }

    fn field(&self, key: &str) -> Option<&Self> {
        self.as_object()?.get(key)
    }
}

/// TOML's values read as [`toml_to_json`] would turn them: a date as its
/// text, a number as serde_json writes it, NaN as null.
impl FrontValue for Spanned<DeValue<'_>> {
    fn item(&self) -> Item<'_, Self> {
        match self.get_ref() {
            DeValue::String(s) => Item::Text(Cow::Borrowed(s)),
            DeValue::Integer(i) => toml_integer(i).map_or(Item::Null, |n| Item::Number(n.to_string())),
            DeValue::Float(f) => match toml_float(f).and_then(serde_json::Number::from_f64) {
                Some(n) => Item::Number(n.to_string()),
                None => Item::Null,
            },
            DeValue::Boolean(b) => Item::Bool(*b),
            DeValue::Datetime(d) => Item::Text(Cow::Owned(d.to_string())),
            DeValue::Array(a) => Item::List(a),
            DeValue::Table(_) => Item::Table,
        }
    }

    fn field(&self, key: &str) -> Option<&Self> {
        match self.get_ref() {
            DeValue::Table(t) => t.get(key),
            _ => None,
        }
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

/// The keys every format shares, from the front matter's top table.
fn from_map<V: FrontValue>(map: &V) -> Result<RawArticle, ParseError> {
    let taxonomies = map.field("taxonomies").filter(|t| matches!(t.item(), Item::Table));
    let from_tax = |key: &str| -> Result<Vec<String>, ParseError> {
        match taxonomies.and_then(|t| t.field(key)) {
            Some(v) => list(key, v),
            None => Ok(Vec::new()),
        }
    };
    let mut categories = match map.field("categories").or_else(|| map.field("category")) {
        Some(v) => list("categories", v)?,
        None => Vec::new(),
    };
    categories.extend(from_tax("categories")?);
    let mut tags = match map.field("tags") {
        Some(v) => list("tags", v)?,
        None => Vec::new(),
    };
    tags.extend(from_tax("tags")?);

    let author = match map.field("author").or_else(|| map.field("authors")) {
        None => None,
        Some(v) => match v.item() {
            Item::Null => None,
            Item::Text(s) => Some(s.into_owned()),
            Item::Table => v.field("name").and_then(V::text).map(Cow::into_owned),
            Item::List(items) => Some(
                items
                    .iter()
                    .filter_map(|a| a.text().or_else(|| a.field("name").and_then(V::text)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            Item::Number(_) | Item::Bool(_) => return Err((None, "`author` must be a name or a list of names".into())),
        },
    };
    let (image, image_caption) = image(map)?;
    let draft = match map.field("draft").map(V::item) {
        None | Some(Item::Null) => false,
        Some(Item::Bool(b)) => b,
        Some(Item::Text(s)) if s == "true" || s == "false" => s == "true",
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
        image,
        image_caption,
        url: string(map, &["url", "link"])?,
        ..RawArticle::default()
    })
}

/// An image URL as written, and its caption.
type Named = (Option<String>, Option<String>);

/// The image a front matter names, and its caption, as site generators
/// write it: `image`, `cover` or `featured_image` as text (Jekyll, Hugo's
/// Ananke), or as a table with `path`/`image`/`url`/`src` and `caption`
/// (jekyll-seo-tag's `image.path`, Hugo PaperMod's `cover.image`); else
/// the first of Hugo's `images` list. A value of another kind is an error.
fn image<V: FrontValue>(map: &V) -> Result<Named, ParseError> {
    let text = |v: &V| v.text().map(Cow::into_owned);
    for key in ["image", "cover", "featured_image"] {
        let Some(v) = map.field(key) else { continue };
        match v.item() {
            Item::Null => continue,
            Item::Text(s) => return Ok((Some(s.into_owned()), None)),
            Item::Number(n) => return Ok((Some(n), None)),
            Item::Table => {
                let url = ["path", "image", "url", "src"].iter().find_map(|k| v.field(k).and_then(text));
                if url.is_some() {
                    return Ok((url, v.field("caption").and_then(text)));
                }
            }
            Item::Bool(_) | Item::List(_) => {
                return Err((None, format!("`{key}` must be the image's URL, or a table with `path` or `image`")));
            }
        }
    }
    let first = match map.field("images").map(V::item) {
        Some(Item::List(items)) => items.first().and_then(|i| text(i).or_else(|| ["url", "src"].iter().find_map(|k| i.field(k).and_then(text)))),
        _ => None,
    };
    Ok((first, None))
}

/// The first of `keys` present, as a string (numbers are accepted too).
fn string<V: FrontValue>(map: &V, keys: &[&str]) -> Result<Option<String>, ParseError> {
    for key in keys {
        match map.field(key).map(V::item) {
            None | Some(Item::Null) => continue,
            Some(Item::Text(s)) => return Ok(Some(s.into_owned())),
            Some(Item::Number(n)) => return Ok(Some(n)),
            Some(_) => return Err((None, format!("`{key}` must be text"))),
        }
    }
    Ok(None)
}

/// A list of names: an array of strings, or one string.
fn list<V: FrontValue>(key: &str, v: &V) -> Result<Vec<String>, ParseError> {
    let not_names = || (None, format!("`{key}` must be a list of names"));
    match v.item() {
        Item::Null => Ok(Vec::new()),
        Item::Text(s) => Ok(vec![s.into_owned()]),
        Item::List(items) => items
            .iter()
            .map(|i| match i.item() {
                Item::Text(s) => Ok(s.into_owned()),
                Item::Number(n) => Ok(n),
                _ => Err(not_names()),
            })
            .collect(),
        _ => Err(not_names()),
    }
}

#[cfg(test)]
#[path = "frontmatter_tests.rs"]
mod tests;
