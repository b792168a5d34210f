//! The brotli worker: compresses the final gzip forms (in place of the
//! quick ones a change's feeds are first published with) and the brotli
//! forms of new cache entries on a thread of its own, off the path from a
//! change to its feed; until it is done, `br` clients get gzip.
//!
//! It must not slow that path down either: at quality 9 one full-content
//! feed is ~50 ms of CPU and ~32 MB of hash table faulted in and unmapped,
//! so a write's six feeds kept one of two cores busy for ~300 ms, into the
//! render of the next write (the 100k update p99 was 150-450 ms after the
//! debounce, with three quarters of `serve`'s CPU in this thread). So the
//! thread runs at `SCHED_IDLE` (it gets a core only when nothing else
//! wants it), and it starts no entry while the service core holds the
//! [`Gate`] (a batch being applied and rendered).

use crate::shared::Shared;
use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};

/// The service core's handle on the worker.
pub struct Worker {
    wake: std::sync::mpsc::Sender<()>,
    gate: Arc<Gate>,
}

impl Worker {
    /// Tells the worker that the published cache has entries without
    /// their brotli form.
    pub fn wake(&self) {
        let _ = self.wake.send(());
    }

    /// Keeps the worker from starting another entry until the guard is
    /// dropped (the entry in progress, if any, is finished).
    pub fn hold(&self) -> Hold {
        self.gate.set(1);
        Hold(Arc::clone(&self.gate))
    }
}

/// How many holds are out; the worker waits while any is.
#[derive(Default)]
struct Gate {
    held: Mutex<usize>,
    open: Condvar,
}

impl Gate {
    fn set(&self, by: isize) {
        // A poisoned lock only means a holder panicked; the count is still right.
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        *held = held.saturating_add_signed(by);
        if *held == 0 {
            self.open.notify_all();
        }
    }

    fn wait_open(&self) {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        drop(self.open.wait_while(held, |held| *held > 0).unwrap_or_else(|e| e.into_inner()));
    }
}

/// A hold on the worker ([`Worker::hold`]).
pub struct Hold(Arc<Gate>);

impl Drop for Hold {
    fn drop(&mut self) {
        self.0.set(-1);
    }
}

/// Starts the worker. Each step compresses one entry of whatever cache is
/// published then and merges it by content hash into the one published
/// when it is done (`rcu`), so it never overwrites a newer generation and
/// never works on a generation already replaced. Ends when `Core` is
/// dropped.
pub fn spawn_worker(shared: Arc<Shared>) -> Worker {
    let (wake, rx) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(Gate::default());
    let held = Arc::clone(&gate);
    let spawned = std::thread::Builder::new().name("bantin-brotli".into()).spawn(move || {
        lower_priority();
        // Entries whose brotli form could not be made (their gzip form did
        // not read back): not tried again at every step.
        let mut failed = HashSet::new();
        while rx.recv().is_ok() {
            while rx.try_recv().is_ok() {}
            loop {
                held.wait_open();
                let current = shared.cache.load_full();
                let missing = current.unfinished_entries();
                let mut todo = missing.iter().filter(|e| !failed.contains(&e.hash));
                // Every final gzip form (~3 ms each) before any brotli one (~50 ms).
                let Some(entry) = todo.clone().find(|e| e.quick).or_else(|| todo.next()) else { break };
                let done = if entry.quick { entry.final_gzip() } else { entry.add_brotli() };
                if done.quick == entry.quick && done.brotli.is_none() == entry.brotli.is_none() {
                    // No progress: its gzip form did not read back.
                    failed.insert(entry.hash.clone());
                    continue;
                }
                let done = std::collections::HashMap::from([(entry.hash.clone(), Arc::new(done))]);
                shared.cache.rcu(|current| current.merge_finished(&done).map(Arc::new).unwrap_or_else(|| Arc::clone(current)));
            }
        }
    });
    if let Err(e) = spawned {
        // Without the worker, br clients get gzip: degraded, not broken.
        tracing::error!("cannot start the brotli thread ({e}); serving gzip to brotli clients");
    }
    Worker { wake, gate }
}

/// Puts the calling thread in `SCHED_IDLE` (else at nice 10): brotli is
/// background work and must not take a core from the render of the next
/// change. Nice 10 still had a tenth of a contended core (CFS weight 110
/// against 1024); `SCHED_IDLE` has weight 3. On Linux both are per thread.
/// Failure only costs latency, so it is just logged.
fn lower_priority() {
    // SAFETY: gettid takes no pointers; sched_setscheduler reads the
    // sched_param we pass for the duration of the call; setpriority on our
    // own thread id only changes this thread's scheduling weight.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::pid_t;
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(tid, libc::SCHED_IDLE, &param) == 0 {
            0
        } else {
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10)
        }
    };
    if rc != 0 {
        tracing::debug!("cannot lower the brotli thread's priority: {}", std::io::Error::last_os_error());
    }
}
