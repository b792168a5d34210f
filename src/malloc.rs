//! glibc's allocator, tuned for a long-running service in two steps: at
//! start, before any thread ([`tune_at_start`]), and once `serve` has
//! loaded its store ([`settle_after_load`]). Each setting yields to the
//! operator's own `MALLOC_*` environment variable. Elsewhere (musl, other
//! systems) both do nothing.

/// At start, before any other thread exists:
///
/// - two arenas: glibc gives every thread that allocates its own arena (up
///   to 8 per core) and keeps what is freed there; the tokio blocking
///   threads, rayon workers and the idle worker each held tens of MB of a
///   100k-article catalog's transient garbage (issue 6: peak RSS of
///   `serve`). Two are plenty for a service whose request path hardly
///   allocates.
/// - a fixed mmap threshold of 256 KiB: glibc raises its own to the size of
///   each large block freed (up to 32 MiB), and after the idle worker's
///   first multi-MiB tables every later feed buffer and encoder table came
///   from the heap, where the holes they left kept `serve` growing by
///   ~10 MB over 50 article writes. Every block over 256 KiB gets its own
///   mapping, given back when freed; [`settle_after_load`] moves it.
pub fn tune_at_start() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        set_unless_env(libc::M_ARENA_MAX, "MALLOC_ARENA_MAX", 2);
        set_unless_env(libc::M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", 256 << 10);
    }
}

/// Once `serve` has loaded its store: first the free memory inside the
/// heaps goes back to the system (reading 100k files on every core left
/// holes in each arena, their file buffers and parse temporaries between
/// the articles kept, which glibc keeps resident as it only trims a heap's
/// top). Then what a change's render needs is kept: each render's buffers
/// (a feed's bytes, the compressor's state: a few hundred KB each) were
/// mapped afresh or trimmed away after it, and page faults were a quarter
/// of the render threads' time (perf, 100k articles). Free memory up to
/// 1 MiB stays at the top of each heap, and blocks under 1 MiB come from
/// the heaps (the idle worker's brotli tables, several MiB, are still mapped
/// apart): a change's six feeds at 100k 8.8 → 7.3 ms, 2.5 MB more peak RSS
/// with 2 MiB at the top. Since a change renders one item a feed (the
/// others' pieces kept, `feeds::pieces`), it allocates less: 1 MiB gives
/// the same publish time (median 3.3 ms) and 2.8 MB less peak (stop 50).
pub fn settle_after_load() {
    give_back();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        set_unless_env(libc::M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", 1 << 20);
        set_unless_env(libc::M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", 1 << 20);
    }
}

/// Gives the free memory inside the heaps back to the system, after work
/// that left much of it: a load, a queueing run, a delivery. glibc trims
/// only a heap's top by itself, so the holes a digest run's messages
/// left between the blocks kept (~55 MB after 1,000 digests of 30 full
/// articles, `serve` on 100k articles) stayed resident until the next
/// run. A few ms; nothing is moved.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and is thread-safe (it locks
    // each arena in turn).
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Sets glibc's `param` to `value` unless the operator set `env`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_unless_env(param: libc::c_int, env: &str, value: libc::c_int) {
    if std::env::var_os(env).is_none() {
        // SAFETY: mallopt only sets an allocator parameter and is
        // thread-safe.
        unsafe {
            libc::mallopt(param, value);
        }
    }
}
