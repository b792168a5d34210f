//! Who reads a store's files when many are read at once ([`Readers`]):
//! the cores' own threads, or more threads when the files are not in the
//! page cache, so that a start or a build after a reboot has reads in
//! flight, not cores idle.
//!
//! Whether they are is asked of the kernel, not guessed from the time the
//! reads take: a sample of the files is read with `RWF_NOWAIT`, which
//! fails rather than wait on the disk. The cores' busy time is no guide
//! where a disk's reads count as system time.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The cores' own threads (rayon's pool), or [`Readers::THREADS`] threads
/// with as many reads in flight when the files wait on the disk. 100k
/// files not in the page cache (a virtio disk after `drop_caches`): 7.3-10.6
/// s on two cores' threads, 3.7-3.9 s with 8 (no better with 32). In the
/// page cache the cores are busy parsing, and more threads only held more
/// parses' garbage at once (+1-3 MiB of `serve`'s peak).
pub struct Readers(Option<rayon::ThreadPool>);

impl Readers {
    const THREADS: usize = 8;
    /// Fewer files are read on the cores' threads whatever the disk: a
    /// watcher's batch, a small store (1,000 cold files: ~0.1 s).
    const MANY: usize = 4096;
    /// How many files are asked about, spread over the list.
    const PROBES: usize = 16;

    /// The readers for reading all of `paths`.
    pub fn for_files(paths: &[PathBuf]) -> Readers {
        if paths.len() < Self::MANY || !wait_on_disk(paths, Self::PROBES) {
            return Readers(None);
        }
        tracing::debug!(threads = Self::THREADS, "the store's files are not in the page cache: reading them with more threads");
        let pool = rayon::ThreadPoolBuilder::new().num_threads(Self::THREADS).thread_name(|i| format!("bantin-read-{i}")).build();
        // No threads to be had: the cores' own go on, only slower.
        Readers(pool.ok())
    }

    /// Runs `read`, whose parallel iterators use these readers.
    pub fn read<T: Send>(&self, read: impl FnOnce() -> T + Send) -> T {
        match &self.0 {
            Some(pool) => pool.install(read),
            None => read(),
        }
    }
}

/// Whether at least a quarter of `probes` files spread over `paths` (of
/// those the kernel could tell about) are not in the page cache.
fn wait_on_disk(paths: &[PathBuf], probes: usize) -> bool {
    let step = paths.len().div_ceil(probes.max(1)).max(1);
    let told: Vec<bool> = paths.iter().step_by(step).filter_map(|p| in_page_cache(p)).collect();
    let uncached = told.iter().filter(|&&cached| !cached).count();
    uncached > 0 && uncached * 4 >= told.len()
}

/// Whether the first page of the file at `path` is in the page cache: a
/// read that may not wait on the disk gets its first byte. `None` when
/// that cannot be told: the file cannot be opened or is not a regular
/// one, or its file system does not take such reads (`EOPNOTSUPP`).
fn in_page_cache(path: &Path) -> Option<bool> {
    let file = super::open_file(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut byte = [0u8; 1];
    let iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: byte.len() };
    // SAFETY: `iov` points at `byte`, which outlives the call, and `file`
    // holds the descriptor open across it.
    let read = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, 0, libc::RWF_NOWAIT) };
    if read >= 0 {
        return Some(true);
    }
    (std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)).then_some(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// `n` files of 64 KiB, written through to the disk, so that the
    /// kernel may drop their pages.
    fn files_on_disk(dir: &Path, n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|i| {
                let path = dir.join(format!("bai-{i:02}.md"));
                let mut file = std::fs::File::create(&path).unwrap();
                file.write_all(&vec![b'x'; 64 << 10]).unwrap();
                file.sync_all().unwrap();
                path
            })
            .collect()
    }

    /// Drops the file's clean pages from the page cache, as a reboot does.
    fn evict(path: &Path) {
        let file = std::fs::File::open(path).unwrap();
        // SAFETY: a plain system call on a descriptor `file` holds open.
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(rc, 0);
    }

    #[test]
    fn the_kernel_says_which_files_wait_on_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let paths = files_on_disk(dir.path(), 8);
        assert_eq!(in_page_cache(&paths[0]), Some(true), "a file just written");
        evict(&paths[1]);
        assert_eq!(in_page_cache(&paths[1]), Some(false), "a file whose pages were dropped (on tmpfs they cannot be)");
        assert_eq!(in_page_cache(&dir.path().join("gone.md")), None, "a file that is not there");
    }

    /// The first probe opened files blocking: a FIFO in the store's
    /// sample would have held a start or a build until a writer came.
    #[test]
    fn a_fifo_in_the_sample_is_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("ong.md");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: `name` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let (done, told) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(in_page_cache(&fifo)));
        let answer = told.recv_timeout(std::time::Duration::from_secs(10));
        assert_eq!(answer, Ok(None), "a FIFO is not a file to probe, and its open must not wait");
    }

    /// Eight files of which those at `evicted` are not in the page cache,
    /// each probed at most once: a probe that fails may start reading the
    /// file in, and a page being read in cannot be dropped.
    fn eight_with_evicted(evicted: &[usize]) -> (tempfile::TempDir, Vec<PathBuf>) {
        let dir = tempfile::tempdir().unwrap();
        let paths = files_on_disk(dir.path(), 8);
        evicted.iter().for_each(|&i| evict(&paths[i]));
        (dir, paths)
    }

    #[test]
    fn more_readers_when_a_quarter_of_the_sample_waits_on_the_disk() {
        let (_dir, paths) = eight_with_evicted(&[]);
        assert!(!wait_on_disk(&paths, 8), "all in the page cache");
        let (_dir, paths) = eight_with_evicted(&[3]);
        assert!(!wait_on_disk(&paths, 8), "one of eight waits");
        let (_dir, paths) = eight_with_evicted(&[3, 6]);
        assert!(wait_on_disk(&paths, 8), "two of eight wait");
        let (_dir, paths) = eight_with_evicted(&[6]);
        assert!(wait_on_disk(&paths, 4), "one of the four probed waits: paths 0, 2, 4, 6");
        let (_dir, paths) = eight_with_evicted(&[7]);
        assert!(!wait_on_disk(&paths[..7], 8), "the one waiting is not in the list");
        assert!(!wait_on_disk(&[], 16), "nothing to read");
    }
}
