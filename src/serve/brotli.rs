//! The brotli worker: compresses the brotli forms of new cache entries on
//! a thread of its own, off the path from a change to its feed; until it is
//! done, `br` clients get gzip.

use crate::cache::{Entry, FeedCache};
use crate::shared::Shared;
use std::sync::Arc;

/// Compresses brotli forms on one thread of its own, off the path from a
/// change to its feed (one thread, so a render of the next change keeps
/// the other core). Always works on the newest cache it was sent, and
/// merges by content hash into whatever cache is published when it is done,
/// so it never overwrites a newer generation. Ends when `Core` is dropped.
pub fn spawn_worker(shared: Arc<Shared>) -> std::sync::mpsc::Sender<Arc<FeedCache>> {
    let (tx, rx) = std::sync::mpsc::channel::<Arc<FeedCache>>();
    let spawned = std::thread::Builder::new().name("bantin-brotli".into()).spawn(move || {
        lower_priority();
        while let Ok(mut cache) = rx.recv() {
            while let Ok(newer) = rx.try_recv() {
                cache = newer;
            }
            let mut done: std::collections::HashMap<String, Arc<Entry>> = std::collections::HashMap::new();
            for entry in cache.missing_brotli() {
                done.insert(entry.hash.clone(), Arc::new(entry.add_brotli()));
            }
            shared.cache.rcu(|current| current.merge_brotli(&done).map(Arc::new).unwrap_or_else(|| Arc::clone(current)));
        }
    });
    if let Err(e) = spawned {
        // Without the worker, br clients get gzip: degraded, not broken.
        tracing::error!("cannot start the brotli thread ({e}); serving gzip to brotli clients");
    }
    tx
}

/// Puts the calling thread at nice 10: brotli is background work and must
/// not take a core from the render of the next change (on Linux the nice
/// value is per thread). Failure only costs latency, so it is just logged.
fn lower_priority() {
    // SAFETY: gettid and setpriority take no pointers; setpriority on our
    // own thread id only changes this thread's scheduling weight.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10)
    };
    if rc != 0 {
        tracing::debug!("cannot lower the brotli thread's priority: {}", std::io::Error::last_os_error());
    }
}

