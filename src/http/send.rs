//! Writing an answer of the connection front: the head and a body from
//! memory in as few `writev`s as the socket takes, or a long body with
//! `sendfile` from an in-memory file, each step held to the write
//! progress deadline ([`super::io::progress`]); and the Date header,
//! made once a second per thread.

use super::io::progress;
use crate::cache::Representation;
use std::io::IoSlice;
use std::time::{Duration, SystemTime};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Bodies at least this long go out with `sendfile` from an in-memory
/// file: the kernel then hands the file's pages to the socket instead of
/// copying the bytes from this process (nginx serves static files so;
/// issue 6 scenario 3). Shorter ones are not worth the second system call.
pub(super) const SENDFILE_MIN: usize = 8 * 1024;

/// The representation's in-memory file, made on first use.
pub(super) fn file_of(rep: &Representation) -> Option<&std::fs::File> {
    rep.file
        .get_or_init(|| match memory_file(&rep.bytes) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!("cannot make an in-memory file for a cached document, sending it by copy: {e}");
                None
            }
        })
        .as_ref()
}

fn memory_file(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::Write as _;
    use std::os::fd::FromRawFd as _;
    // SAFETY: the name is a NUL-terminated literal; on success the new
    // descriptor is owned by nothing else and handed to `File`.
    let fd = unsafe { libc::memfd_create(c"bantin-cached".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(bytes)?;
    Ok(file)
}

/// The head (held back with MSG_MORE so it leaves with the first body
/// bytes), then `len` bytes of `file` with `sendfile`.
pub(super) async fn send_file(stream: &TcpStream, head: &[u8], file: &std::fs::File, len: usize, limit: Duration) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let socket = stream.as_raw_fd();
    let mut sent = 0;
    while sent < head.len() {
        let rest = &head[sent..];
        sent += retry_writable(stream, limit, || {
            // SAFETY: `rest` is a live slice; the socket is open for the
            // whole call (borrowed from `stream`).
            let n = unsafe { libc::send(socket, rest.as_ptr().cast(), rest.len(), libc::MSG_MORE | libc::MSG_NOSIGNAL) };
            if n < 0 { Err(std::io::Error::last_os_error()) } else { Ok(n as usize) }
        })
        .await?;
    }
    let mut offset: libc::off_t = 0;
    while (offset as usize) < len {
        let want = len - offset as usize;
        let n = retry_writable(stream, limit, || {
            // SAFETY: both descriptors are open for the call; `offset` is
            // a live local the kernel advances.
            let n = unsafe { libc::sendfile(socket, file.as_raw_fd(), &mut offset, want) };
            if n < 0 { Err(std::io::Error::last_os_error()) } else { Ok(n as usize) }
        })
        .await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

/// Runs a non-blocking write on the socket, waiting whenever it is full,
/// at most `limit` each time.
async fn retry_writable(stream: &TcpStream, limit: Duration, mut write: impl FnMut() -> std::io::Result<usize>) -> std::io::Result<usize> {
    loop {
        progress(limit, stream.writable()).await?;
        match stream.try_io(tokio::io::Interest::WRITABLE, &mut write) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// Head and body in as few `writev`s as the socket takes, each waiting
/// at most `limit`.
pub(super) async fn write_all(stream: &mut TcpStream, head: &[u8], body: &[u8], limit: Duration) -> std::io::Result<()> {
    let (mut head, mut body) = (head, body);
    while !head.is_empty() || !body.is_empty() {
        let n = if head.is_empty() {
            progress(limit, stream.write(body)).await?
        } else {
            progress(limit, stream.write_vectored(&[IoSlice::new(head), IoSlice::new(body)])).await?
        };
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let from_head = n.min(head.len());
        head = &head[from_head..];
        body = &body[n - from_head..];
    }
    Ok(())
}

/// The Date header's value, made again once a second (as hyper does).
pub(super) struct CachedDate {
    at: std::cell::Cell<u64>,
    text: std::cell::RefCell<String>,
}

thread_local! {
    pub(super) static DATE: CachedDate = const { CachedDate { at: std::cell::Cell::new(u64::MAX), text: std::cell::RefCell::new(String::new()) } };
}

impl CachedDate {
    pub(super) fn now(&self) -> std::cell::Ref<'_, String> {
        let now = SystemTime::now();
        let secs = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if self.at.get() != secs {
            self.at.set(secs);
            *self.text.borrow_mut() = httpdate::fmt_http_date(now);
        }
        self.text.borrow()
    }
}
