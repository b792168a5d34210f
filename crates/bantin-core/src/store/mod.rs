//! The article store: where the portal's articles come from. This module
//! knows the file formats (chosen by content, then by extension) and turns
//! one file's bytes into an [`Article`] or an [`ArticleError`]; [`dir`]
//! walks a folder of such files.
//!
//! Invariant: a file that cannot be read or parsed yields an error naming
//! it, never a panic, and never keeps the other files from loading.

mod context;
pub mod filename;
pub mod frontmatter;
pub mod html;
pub mod image;
pub mod portal;
pub mod raw;

use crate::article::{Article, ArticleError, Content};
pub use raw::Context;
use std::ffi::OsStr;
use std::path::Path;

/// Files larger than this are reported, not read: no article is this big,
/// and reading one would hold the memory of thousands of articles.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The article formats of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    MarkdownToml,
    MarkdownYaml,
    Portal,
    Json,
}

/// Whether a file or folder name is hidden (`.git`, editors' `.name.swp`,
/// rsync's `.name.XXXXXX`, `.hugo_build.lock`): nothing hidden, nor
/// anything inside a hidden folder, is part of the store. The one statement
/// of the rule; [`is_hidden`] applies it to a path.
pub fn is_hidden_name(name: impl AsRef<OsStr>) -> bool {
    name.as_ref().as_encoded_bytes().starts_with(b".")
}

/// Whether a store-relative path names a hidden file or folder or lies
/// inside a hidden folder ([`is_hidden_name`] of any of its components).
pub fn is_hidden(rel: &Path) -> bool {
    rel.components().any(|c| is_hidden_name(c.as_os_str()))
}

/// Whether a file name is one the store reads (`.md`, `.markdown`, `.txt`,
/// `.json`), leaving out hidden files, editors' temporary files, a folder's
/// `README` and Hugo/Zola section pages (`_index.md`), which are not articles.
pub fn is_article_name(name: &str) -> bool {
    if is_hidden_name(name) || name.starts_with('#') || name.ends_with('~') {
        return false;
    }
    let Some((stem, ext)) = name.rsplit_once('.') else { return false };
    if stem.eq_ignore_ascii_case("readme") || stem == "_index" {
        return false;
    }
    matches!(ext.to_ascii_lowercase().as_str(), "md" | "markdown" | "txt" | "json")
}

/// Chooses the format from the text itself, falling back to the extension.
pub fn detect(text: &str, origin: &str) -> Option<Format> {
    match frontmatter::opening(text) {
        Some(frontmatter::Delimiter::Toml) => return Some(Format::MarkdownToml),
        Some(frontmatter::Delimiter::Yaml) => return Some(Format::MarkdownYaml),
        None => {}
    }
    if text.trim_start().starts_with('{') {
        return Some(Format::Json);
    }
    if text.lines().any(|l| portal::date_prefix(l).is_some()) {
        return Some(Format::Portal);
    }
    let ext = origin.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt") => Some(Format::Portal),
        Some("json") => Some(Format::Json),
        _ => None,
    }
}

/// Reads one article from the bytes of a file, body rendered. `origin` is
/// the path shown in messages and the identity of an article without a slug.
pub fn parse_bytes(bytes: &[u8], origin: &str, ctx: &Context) -> Result<Article, ArticleError> {
    parse_with(bytes, origin, ctx, raw::BodyPolicy::Now)
}

/// Like [`parse_bytes`], but the body is left to `content`, which renders
/// it when a feed first needs it (see [`crate::article::Content`]).
pub fn parse_deferred(bytes: &[u8], origin: &str, ctx: &Context, content: Content) -> Result<Article, ArticleError> {
    parse_with(bytes, origin, ctx, raw::BodyPolicy::Deferred(content))
}

/// A hash of an article's source, to tell whether it changed.
/// foldhash with a fixed seed: several times faster than SipHash on whole
/// files (it was 5 % of a cold start), and only compared within a process.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x6261_6e74_696e).hash_one(bytes)
}

/// The [`raw::Head`] of an article: what [`parse_bytes`] would give but
/// the summary, author, tags, image and body, and exactly its errors. The
/// Markdown body is not even copied.
pub fn parse_head(bytes: &[u8], origin: &str, ctx: &Context) -> Result<raw::Head, ArticleError> {
    let raw = parse_raw(bytes, origin, false)?;
    raw::head(&raw, origin, ctx)
}

fn parse_with(bytes: &[u8], origin: &str, ctx: &Context, body: raw::BodyPolicy) -> Result<Article, ArticleError> {
    let raw = parse_raw(bytes, origin, true)?;
    let mut article = raw::normalize(raw, origin, ctx, body)?;
    article.fingerprint = fingerprint(bytes);
    Ok(article)
}

/// The bytes of a file as its format holds them; `with_body: false` leaves
/// a Markdown body out (nothing about it can be an error).
fn parse_raw(bytes: &[u8], origin: &str, with_body: bool) -> Result<raw::RawArticle, ArticleError> {
    let fail = |line: Option<usize>, reason: String| ArticleError { origin: origin.to_string(), line, reason };
    // simdutf8 validates Vietnamese text several times faster than std,
    // and validation of every byte is a large part of a cold start; std
    // runs again only on failure, for the position of the bad byte.
    let text = match simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes)) {
        Ok(t) => t,
        Err(e) => {
            let (line, reason) = not_utf8(bytes, e);
            return Err(fail(line, reason));
        }
    };
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if text.contains('\0') {
        return Err(fail(None, "a binary file (it holds NUL bytes), not an article".into()));
    }
    let parsed = match detect(text, origin) {
        Some(Format::MarkdownToml) if with_body => frontmatter::parse_markdown(text, frontmatter::Delimiter::Toml),
        Some(Format::MarkdownYaml) if with_body => frontmatter::parse_markdown(text, frontmatter::Delimiter::Yaml),
        Some(Format::MarkdownToml) => frontmatter::parse_markdown_head(text, frontmatter::Delimiter::Toml),
        Some(Format::MarkdownYaml) => frontmatter::parse_markdown_head(text, frontmatter::Delimiter::Yaml),
        Some(Format::Json) => frontmatter::parse_json(text),
        Some(Format::Portal) => portal::parse(text),
        None => Err((
            Some(1),
            "no front matter: a Markdown article starts with a `+++` (TOML) or `---` (YAML) block holding at least title and date".into(),
        )),
    };
    parsed.map_err(|(line, reason)| fail(line, reason))
}

/// Where and why `bytes` are not UTF-8, in the words an editor needs.
/// Windows tools save "Unicode" text as UTF-16, whose byte-order mark is
/// not UTF-8 at byte 1: such a file is named as UTF-16, not as one bad byte.
fn not_utf8(bytes: &[u8], e: std::str::Utf8Error) -> (Option<usize>, String) {
    if crate::text::starts_utf16(bytes) {
        return (None, "UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8; save the file as UTF-8".into());
    }
    let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
    (Some(line), format!("not valid UTF-8 (byte {} of the file); save the file as UTF-8", e.valid_up_to() + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file saved as "Unicode" by a Windows tool was reported as "not
    /// valid UTF-8 (byte 1 of the file)", which does not say what to do.
    #[test]
    fn a_utf16_file_is_named_as_utf16_and_a_bad_byte_by_line_and_place() {
        let utf16: Vec<u8> = "\u{FEFF}+++\ntitle = \"Tin\"\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let err = parse_raw(&utf16, "tin.md", true).unwrap_err();
        assert_eq!(err.line, None);
        assert!(err.reason.starts_with("UTF-16 text") && err.reason.ends_with("save the file as UTF-8"), "{}", err.reason);
        let big_endian: Vec<u8> = "\u{FEFF}+++".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert!(parse_raw(&big_endian, "tin.md", true).unwrap_err().reason.starts_with("UTF-16 text"));
        // Windows-1258 "ệ" (0xD2 after "Ti") on the second line.
        let legacy = b"+++\ntitle = \"Ti\xd2n\"\n+++\n";
        let err = parse_raw(legacy, "tin.md", true).unwrap_err();
        assert_eq!((err.line, err.reason.as_str()), (Some(2), "not valid UTF-8 (byte 16 of the file); save the file as UTF-8"));
    }

    #[test]
    fn hidden_paths_and_names() {
        assert!(is_hidden(Path::new(".git/x.md")));
        assert!(is_hidden(Path::new("a/.x.md.swp")));
        assert!(!is_hidden(Path::new("a/x.md")));
        assert!(!is_hidden(Path::new("")));
        assert!(is_hidden_name(".hugo_build.lock") && !is_hidden_name("tin.md"));
        assert!(!is_article_name(".tin.md") && is_article_name("tin.md"));
    }
}
