//! The idle worker: the service's background work after a change, on a
//! thread of its own at `SCHED_IDLE`, off the path from a change to its
//! feeds: the final gzip forms (in place of the quick ones a change's feeds
//! are first published with) and the brotli forms of new cache entries
//! (until then `br` clients get gzip); the index pages of the change's
//! generation; and the drop of the generation it replaced.
//!
//! It must not slow that path down either: at quality 9 one full-content
//! feed is ~50 ms of CPU and ~32 MB of hash table faulted in and unmapped,
//! so a write's six feeds kept one of two cores busy for ~300 ms, into the
//! render of the next write (the 100k update p99 was 150-450 ms after the
//! debounce, with three quarters of `serve`'s CPU in this thread). So the
//! thread runs at `SCHED_IDLE` (it gets a core only when nothing else
//! wants it), and it starts no step while the service core holds the
//! [`Gate`] (a batch being applied and rendered). The index pages (1-7 ms
//! at 100k articles) and the old generation's drop (a reference count of
//! each of its feeds) ran on the core's thread right after the swap, on
//! the two cores that then answer the readers polling the new feeds.
//!
//! Invariants:
//! - every step works on the cache published when it starts and merges
//!   into the one published when it ends (`rcu`): it never overwrites a
//!   newer generation;
//! - index pages are merged only into a cache of the generation they were
//!   made for (a newer one gets its own); of several queued, the newest
//!   is made.

use crate::cache::FeedCache;
use crate::catalog::Catalog;
use crate::feeds::FeedSettings;
use crate::shared::Shared;
use chrono::{DateTime, FixedOffset};
use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};

/// The service core's handle on the worker.
pub struct Worker {
    tasks: std::sync::mpsc::Sender<Task>,
    gate: Arc<Gate>,
}

/// What the service core hands the worker.
enum Task {
    /// The published cache has entries without their final forms.
    Finish,
    /// Make the index pages of this generation (boxed: the job holds the
    /// feed settings, the other tasks a pointer).
    Index(Box<IndexJob>),
    /// A generation replaced: dropped here, not on the core's thread.
    Retire(Arc<FeedCache>),
}

/// The index pages of generation `catalog.generation`, with these settings
/// at `now`.
pub struct IndexJob {
    pub catalog: Arc<Catalog>,
    pub settings: FeedSettings,
    pub now: DateTime<FixedOffset>,
}

impl Worker {
    /// Tells the worker that the published cache has entries without
    /// their final gzip or brotli form.
    pub fn wake(&self) {
        let _ = self.tasks.send(Task::Finish);
    }

    /// Has the worker make the index pages of a generation just published.
    pub fn index(&self, job: IndexJob) {
        let _ = self.tasks.send(Task::Index(Box::new(job)));
    }

    /// Has the worker drop a generation just replaced (if nothing else
    /// holds it, its map and every feed it alone had).
    pub fn retire(&self, old: Arc<FeedCache>) {
        // With no worker, the unsent task (and the generation) drops here.
        let _ = self.tasks.send(Task::Retire(old));
    }

    /// Keeps the worker from starting another step until the guard is
    /// dropped (the step in progress, if any, is finished).
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

/// Starts the worker. Each step makes the newest queued index pages, or
/// else compresses one entry of whatever cache is published then and
/// merges it by content hash into the one published when it is done
/// (`rcu`), so it never overwrites a newer generation and never works on a
/// generation already replaced. Ends when `Core` is dropped.
pub fn spawn_worker(shared: Arc<Shared>) -> Worker {
    let (tasks, rx) = std::sync::mpsc::channel::<Task>();
    let gate = Arc::new(Gate::default());
    let held = Arc::clone(&gate);
    let spawned = std::thread::Builder::new().name("bantin-idle".into()).spawn(move || {
        lower_priority();
        let mut queued = Queued::default();
        while let Ok(task) = rx.recv() {
            queued.take(task);
            loop {
                while let Ok(task) = rx.try_recv() {
                    queued.take(task);
                }
                held.wait_open();
                if let Some(job) = queued.index.take() {
                    publish_index(&shared, job);
                } else if !queued.finish_one(&shared) {
                    break;
                }
            }
        }
    });
    if let Err(e) = spawned {
        // Without the worker, br clients get gzip and the index pages stay
        // as they were at start: degraded, not broken.
        tracing::error!("cannot start the idle worker's thread ({e}); serving gzip to brotli clients");
    }
    Worker { tasks, gate }
}

/// The work the worker has been given and not done.
#[derive(Default)]
struct Queued {
    index: Option<Box<IndexJob>>,
    /// Entries whose final forms could not be made (their gzip form did
    /// not read back): not tried again at every step.
    failed: HashSet<String>,
}

impl Queued {
    fn take(&mut self, task: Task) {
        match task {
            Task::Finish => {}
            Task::Index(job) => self.index = Some(job),
            Task::Retire(old) => drop(old),
        }
    }

    /// Finishes one entry of the published cache; false when none is left.
    fn finish_one(&mut self, shared: &Shared) -> bool {
        let current = shared.cache.load_full();
        let missing = current.unfinished_entries();
        let mut todo = missing.iter().filter(|e| !self.failed.contains(&e.hash));
        // Every final gzip form (~3 ms each) before any brotli one (~50 ms).
        let Some(entry) = todo.clone().find(|e| e.quick).or_else(|| todo.next()) else { return false };
        let done = if entry.quick { entry.final_gzip() } else { entry.add_brotli() };
        if done.quick == entry.quick && done.brotli.is_none() == entry.brotli.is_none() {
            // No progress: its gzip form did not read back.
            self.failed.insert(entry.hash.clone());
            return true;
        }
        let done = std::collections::HashMap::from([(entry.hash.clone(), Arc::new(done))]);
        shared.cache.rcu(|current| current.merge_finished(&done).map(Arc::new).unwrap_or_else(|| Arc::clone(current)));
        true
    }
}

/// Makes the index pages of `job`'s generation, if it is still the one
/// published, and merges them into it when they changed.
fn publish_index(shared: &Shared, job: Box<IndexJob>) {
    let generation = job.catalog.generation;
    let started = std::time::Instant::now();
    let current = shared.cache.load_full();
    if current.generation != generation {
        return;
    }
    let Some(pages) = current.next_index(&job.catalog, &job.settings, job.now) else {
        tracing::debug!(changed = false, us = started.elapsed().as_micros() as u64, "index pages");
        return;
    };
    // `rcu`: a step may have merged into the cache meanwhile.
    shared.cache.rcu(|current| {
        if current.generation == generation { Arc::new(current.with_index(&pages)) } else { Arc::clone(current) }
    });
    tracing::debug!(changed = true, us = started.elapsed().as_micros() as u64, "index pages");
}

/// Puts the calling thread in `SCHED_IDLE` (else at nice 10): its work is
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
        tracing::debug!("cannot lower the idle worker's priority: {}", std::io::Error::last_os_error());
    }
}
