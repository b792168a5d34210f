//! The `dir` store: a folder of article files, searched recursively.
//! Listing is sequential (it is cheap), reading and parsing run on all
//! cores with rayon, since parsing dominates a start; with more threads
//! when many files are not in the page cache (`super::readers`).

use super::{parse_bytes, parse_deferred, Context, MAX_FILE_BYTES};
use crate::article::{Article, ArticleError, Body, BodySource, Content, SharedSource};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What one pass over the store found.
#[derive(Debug, Default)]
pub struct Scan {
    pub articles: Vec<Article>,
    pub errors: Vec<ArticleError>,
}

/// The store-relative name of `path`, `/`-separated: the article's origin.
pub fn origin_of(root: &Path, path: &Path) -> String {
    origin_ref(root, path).into_owned()
}

/// [`origin_of`], borrowed from `path` where it can be.
pub fn origin_ref<'a>(root: &Path, path: &'a Path) -> std::borrow::Cow<'a, str> {
    // The paths `list` and the watcher give are `root` joined with plain
    // names, so their tail is the origin as it stands; `Path`'s component
    // parsing (a few per cent of a cold build) is for the other paths.
    if let Some(rel) = plain_tail(root, path) {
        return String::from_utf8_lossy(rel);
    }
    std::borrow::Cow::Owned(origin_by_components(root, path))
}

fn origin_by_components(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<_> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    parts.join("/")
}

/// The bytes of `path` after `root` and a `/` when they are names joined
/// by single slashes, none of them `.` or `..`, or `None`.
fn plain_tail<'a>(root: &Path, path: &'a Path) -> Option<&'a [u8]> {
    use std::os::unix::ffi::OsStrExt;
    let root = root.as_os_str().as_bytes();
    let root = root.strip_suffix(b"/").unwrap_or(root);
    let rel = path.as_os_str().as_bytes().strip_prefix(root)?.strip_prefix(b"/")?;
    let plain = !rel.is_empty() && rel.split(|b| *b == b'/').all(|name| !matches!(name, b"" | b"." | b".."));
    plain.then_some(rel)
}

/// Lists the article files under `root` (following symbolic links, which
/// walkdir checks for loops), in byte order of their paths (which is
/// origin order). Problems met on the way become errors.
pub fn list(root: &Path) -> (Vec<PathBuf>, Vec<ArticleError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let walker = walkdir::WalkDir::new(root).follow_links(true).into_iter();
    // Hidden folders are not part of the store (the root may be one).
    let walker = walker.filter_entry(|e| e.depth() == 0 || !super::is_hidden_name(e.file_name()));
    for entry in walker {
        match entry {
            // Not only regular files: a FIFO or socket named like an article
            // is listed so that `read` reports it instead of skipping it
            // silently.
            Ok(e) if !e.file_type().is_dir() => {
                if super::is_article_name(&e.file_name().to_string_lossy()) {
                    files.push(e.into_path());
                }
            }
            Ok(_) => {}
            Err(err) => {
                let origin = err.path().map(|p| origin_of(root, p)).unwrap_or_else(|| root.display().to_string());
                let reason = if err.loop_ancestor().is_some() {
                    "a symbolic link loop; it is skipped".to_string()
                } else {
                    format!("cannot be listed: {}", err.io_error().map_or_else(|| err.to_string(), |e| e.to_string()))
                };
                errors.push(ArticleError { origin, line: None, reason });
            }
        }
    }
    // In origin order (store-relative, `/`-separated, byte order), sorted
    // once here: walkdir's own sort ran per folder on `Path::file_name`,
    // which parses the path anew at every comparison (~10 ms of a 10k
    // build, before any file was read).
    {
        use std::os::unix::ffi::OsStrExt;
        files.sort_unstable_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    }
    (files, errors)
}

/// Reads the files of one store folder, and hands every article it read
/// the same [`BodySource`] (a [`Rereader`] of the folder): one allocation
/// shared by all of them, so an article holds no loader of its own (a
/// boxed closure with the root, origin and context was ~130 bytes per
/// article, 13 MB at 100k).
pub struct Reader {
    place: Arc<Place>,
    source: SharedSource,
}

/// Where a store's files are and how to read them: stated once, for the
/// first read ([`Reader`]) and the later ones ([`Rereader`]).
struct Place {
    root: PathBuf,
    ctx: Context,
}

/// The [`BodySource`] of a dir store's articles: the store's place, read
/// again for one article's body.
struct Rereader(Arc<Place>);

impl Reader {
    pub fn new(root: &Path, ctx: &Context) -> Arc<Reader> {
        let place = Arc::new(Place { root: root.to_path_buf(), ctx: ctx.clone() });
        let source: SharedSource = Arc::new(Box::new(Rereader(Arc::clone(&place))));
        Arc::new(Reader { place, source })
    }

    /// Reads one file of the store, its body left for first use.
    pub fn read(&self, path: &Path) -> Result<Article, ArticleError> {
        self.read_stamped(path).article
    }

    /// [`Reader::read`], with what the file system said of the file read.
    pub fn read_stamped(&self, path: &Path) -> Stamped {
        let NamedRead { meta, missing, read } = read_named_file(&self.place.root, path);
        let article = read.and_then(|(origin, bytes)| {
            parse_deferred(&bytes, &origin, &self.place.ctx, Content::deferred(Arc::clone(&self.source)))
        });
        Stamped { meta, missing, article }
    }
}

/// One file as [`Reader::read_stamped`] read it.
pub struct Stamped {
    /// The metadata of the file read, from its open handle: of the same
    /// file as the bytes, even if another was renamed over it meanwhile,
    /// and with no second look-up of its path (a `statx` of every file was
    /// 5 % of a store's first read). From the path when its name kept it
    /// from being opened; `None` when it could not be opened.
    pub meta: Option<std::fs::Metadata>,
    /// It was not there to open.
    pub missing: bool,
    pub article: Result<Article, ArticleError>,
}

impl BodySource for Rereader {
    /// The body of the article at `origin`, read again and rendered when a
    /// feed first needs it: the store stays in memory as metadata only.
    fn body(&self, origin: &str) -> Result<Body, String> {
        let Place { root, ctx } = &*self.0;
        let path = root.join(origin);
        let bytes = read_regular(&path).map_err(|e| format!("{origin}: {e} (read again for its body)"))?;
        let article = parse_bytes(&bytes, origin, ctx).map_err(|e| e.to_string())?;
        article.content.body(origin).cloned().ok_or_else(|| format!("{origin}: no body"))
    }
}

/// The [`super::raw::Head`] of one file of the store (see
/// [`super::parse_head`]): a static build's first look at every file.
pub fn read_head(root: &Path, path: &Path, ctx: &Context) -> Result<super::raw::Head, ArticleError> {
    let (origin, bytes) = read_named(root, path)?;
    super::parse_head(&bytes, &origin, ctx)
}

/// One file of the store read whole, body rendered now.
pub fn read_now(root: &Path, path: &Path, ctx: &Context) -> Result<Article, ArticleError> {
    let (origin, bytes) = read_named(root, path)?;
    parse_bytes(&bytes, &origin, ctx)
}

/// The origin and bytes of one store file, the one way every reader of
/// the store starts: a name that cannot be an origin (`name_problem`) or
/// a file that cannot be read is an error naming it.
fn read_named<'a>(root: &Path, path: &'a Path) -> Result<(std::borrow::Cow<'a, str>, Vec<u8>), ArticleError> {
    read_named_file(root, path).read
}

/// One store file read by its name: what the file system said of it, and
/// its origin and bytes or the error naming it.
struct NamedRead<'a> {
    meta: Option<std::fs::Metadata>,
    missing: bool,
    read: Result<(std::borrow::Cow<'a, str>, Vec<u8>), ArticleError>,
}

/// [`read_named`], with what the file system said of the file.
fn read_named_file<'a>(root: &Path, path: &'a Path) -> NamedRead<'a> {
    let origin = origin_ref(root, path);
    let file = match name_problem(root, path, &origin) {
        Some(problem) => {
            let meta = std::fs::metadata(path);
            let missing = matches!(&meta, Err(e) if e.kind() == std::io::ErrorKind::NotFound);
            FileRead { meta: meta.ok(), missing, bytes: Err(problem) }
        }
        None => read_file(path),
    };
    let read = match file.bytes {
        Ok(bytes) => Ok((origin, bytes)),
        Err(reason) => Err(ArticleError { origin: origin.into_owned(), line: None, reason }),
    };
    NamedRead { meta: file.meta, missing: file.missing, read }
}

/// A store file's bytes (or why not), and its open handle's metadata.
struct FileRead {
    meta: Option<std::fs::Metadata>,
    missing: bool,
    bytes: Result<Vec<u8>, String>,
}

/// Why a file's name keeps it from being an article, if it does: a name
/// that is not UTF-8 has no exact origin (its other bytes become U+FFFD),
/// so the body could not be read again by it, two such names could not be
/// told apart, and the feeds would carry a name that is not the file's.
// The Cow itself is the question (borrowed = the name was UTF-8), so a &str would not do.
#[allow(clippy::ptr_arg)]
fn name_problem(root: &Path, path: &Path, origin: &std::borrow::Cow<'_, str>) -> Option<String> {
    // Borrowed: the name's own bytes, so UTF-8 (the usual case, no check).
    if matches!(origin, std::borrow::Cow::Borrowed(_)) {
        return None;
    }
    let rel = path.strip_prefix(root).unwrap_or(path);
    if rel.to_str().is_some() {
        return None;
    }
    Some(
        "its file name is not UTF-8 (shown here with \u{FFFD} for the bytes that are not), so bantin cannot \
         name it exactly; rename the file to a UTF-8 name (names from an old Windows export: \
         `convmv -f cp1258 -t utf-8 --notest FILE`)"
            .into(),
    )
}

/// The bytes of a regular file of at most `MAX_FILE_BYTES`, or why not.
/// Opened without blocking and checked on the open handle: a FIFO named
/// like an article (or a file swapped for one) would otherwise block the
/// read until someone writes to it, stalling every later store change;
/// and a file that grows after the check is still read only up to the
/// limit.
fn read_regular(path: &Path) -> Result<Vec<u8>, String> {
    read_file(path).bytes
}

/// [`read_regular`], with the open handle's metadata.
fn read_file(path: &Path) -> FileRead {
    let unread = |e: std::io::Error, missing| FileRead { meta: None, missing, bytes: Err(format!("cannot be read: {e}")) };
    let file = match super::open_file(path) {
        Ok(file) => file,
        Err(e) => {
            let missing = e.kind() == std::io::ErrorKind::NotFound;
            return unread(e, missing);
        }
    };
    match file.metadata() {
        Ok(meta) => {
            let bytes = read_checked(file, &meta);
            FileRead { meta: Some(meta), missing: false, bytes }
        }
        Err(e) => unread(e, false),
    }
}

/// The bytes of the open `file` whose metadata is `meta`, if it is a
/// regular file of at most `MAX_FILE_BYTES`.
fn read_checked(file: std::fs::File, meta: &std::fs::Metadata) -> Result<Vec<u8>, String> {
    use std::io::Read;
    if !meta.is_file() {
        return Err("not a regular file (a FIFO, socket or device); it is skipped".into());
    }
    let too_big = |len: u64| {
        format!("{len} bytes is larger than the {} MiB an article may have; it is skipped", MAX_FILE_BYTES / (1024 * 1024))
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    // One read of one byte more than the file's size: when it returns
    // exactly the size the check saw, that is the whole file as of the
    // check, and the probe read of `read_to_end` (10,000 of a cold build's
    // 50,000 system calls) is spared. Any other count (the file grew, or a
    // file system read short) reads on to the end as before.
    let want = meta.len() as usize + 1;
    let mut bytes = vec![0; want];
    let mut limited = file.take(MAX_FILE_BYTES + 1);
    let got = loop {
        match limited.read(&mut bytes) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("cannot be read: {e}")),
        }
    };
    bytes.truncate(got);
    if got != want - 1 {
        limited.read_to_end(&mut bytes).map_err(|e| format!("cannot be read: {e}"))?;
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Reads every article under `root`.
pub fn scan(root: &Path, ctx: &Context) -> Scan {
    let (files, mut errors) = list(root);
    let reader = Reader::new(root, ctx);
    let results: Vec<Result<Article, ArticleError>> =
        super::readers::Readers::for_files(&files).read(|| files.par_iter().map(|p| reader.read(p)).collect());
    let mut articles = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(a) => articles.push(a),
            Err(e) => errors.push(e),
        }
    }
    Scan { articles, errors }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_of_plain_paths_is_what_path_components_give() {
        let cases = [
            ("posts", "posts/a.md"),
            ("posts/", "posts/a.md"),
            ("./posts", "./posts/2024/b.md"),
            ("posts/.", "posts/./c.md"),
            ("/", "/d.md"),
            ("/srv/store", "/srv/store/x/y/tin-tức.md"),
            ("posts", "posts//e.md"),
            ("posts", "posts/./f.md"),
            ("posts", "posts/x/../g.md"),
            ("posts", "posts"),
            ("posts", "other/h.md"),
            ("posts", "postsi/h.md"),
        ];
        for (root, path) in cases {
            let (root, path) = (Path::new(root), Path::new(path));
            assert_eq!(origin_of(root, path), origin_by_components(root, path), "{root:?} {path:?}");
        }
        assert_eq!(origin_of(Path::new("/srv/store/"), Path::new("/srv/store/x/y.md")), "x/y.md");
    }

    /// The stamp of a file read comes from its open handle (issue 24: no
    /// second look-up of every path): the metadata is the read file's, a
    /// vanished file is `missing`, and a FIFO is refused with its metadata
    /// (so a rescan does not read it again until it changes).
    #[test]
    fn a_read_says_what_the_open_handle_saw() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::store::Context::new(chrono_tz::Asia::Ho_Chi_Minh, url::Url::parse("https://yenbai.gov.vn/").unwrap(), "tin-tuc/{slug}");
        let reader = Reader::new(dir.path(), &ctx);
        let path = dir.path().join("a.md");
        std::fs::write(&path, "+++\ntitle = \"Tin\"\ndate = 2024-05-01T08:00:00+07:00\n+++\nThân bài.\n").unwrap();
        let read = reader.read_stamped(&path);
        let meta = read.meta.expect("the open handle's metadata");
        assert_eq!((meta.ino(), meta.len()), (std::fs::metadata(&path).unwrap().ino(), std::fs::metadata(&path).unwrap().len()));
        assert!(!read.missing);
        assert_eq!(read.article.expect("the article").title(), "Tin");

        let gone = reader.read_stamped(&dir.path().join("gone.md"));
        assert!(gone.missing && gone.meta.is_none() && gone.article.is_err());

        let fifo = dir.path().join("f.md");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads the NUL-terminated path for the call only.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let refused = reader.read_stamped(&fifo);
        assert!(refused.meta.is_some_and(|m| !m.is_file()) && !refused.missing);
        assert!(refused.article.unwrap_err().reason.contains("not a regular file"));
    }
}
