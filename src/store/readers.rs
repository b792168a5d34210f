//! Who reads a store's files when `serve` reads many ([`Readers`]): the
//! cores' own threads, or more threads once those are seen waiting on the
//! disk, so that a start after a reboot has reads in flight, not cores
//! idle.

/// The cores' own threads (rayon's pool), or, once those are seen waiting
/// on the disk ([`Readers::after`]), [`Readers::THREADS`] threads with as
/// many reads in flight. 100k files not in the page cache (a virtio disk
/// after `drop_caches`): 7.3-10.6 s on two cores' threads, 4.2-4.3 s
/// switching to 8 after the first 2,048 files (3.7-3.9 s with 8 from the
/// start, no better with 32). In the page cache the cores are busy parsing
/// and more threads only held more parses' garbage at once (+1-3 MiB of
/// `serve`'s peak), so they are not taken there.
pub struct Readers(Option<rayon::ThreadPool>);

/// When a batch of reads started, in wall and process CPU time.
pub struct ReadClock {
    wall: std::time::Instant,
    cpu: Option<std::time::Duration>,
}

impl ReadClock {
    pub fn start() -> ReadClock {
        ReadClock { wall: std::time::Instant::now(), cpu: process_cpu_time() }
    }
}

impl Readers {
    const THREADS: usize = 8;

    /// The cores' own threads.
    pub fn cores() -> Readers {
        Readers(None)
    }

    /// These readers, or more when a batch read on the cores' own threads
    /// since `clock` kept them busy less than half of the time: they were
    /// waiting on the disk. The pool's threads end when it is dropped.
    pub fn after(self, clock: &ReadClock) -> Readers {
        let (Readers(None), Some(cpu)) = (&self, clock.cpu) else { return self };
        let (Some(now), wall) = (process_cpu_time(), clock.wall.elapsed()) else { return self };
        if !waited_on_disk(now.saturating_sub(cpu), wall, rayon::current_num_threads()) {
            return self;
        }
        tracing::debug!(threads = Self::THREADS, "the store's files wait on the disk: reading them with more threads");
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

/// Whether `threads` threads that read for `wall` using `cpu` of CPU time
/// were busy less than half of the time.
fn waited_on_disk(cpu: std::time::Duration, wall: std::time::Duration, threads: usize) -> bool {
    cpu.as_secs_f64() < 0.5 * wall.as_secs_f64() * threads as f64
}

/// The CPU time this process has used, all its threads.
fn process_cpu_time() -> Option<std::time::Duration> {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec we pass and reads nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    (rc == 0).then(|| std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slice of 2,048 files of the bench's store on two cores: in the
    /// page cache ~27 ms with both cores parsing (100k files in ~1.3 s),
    /// from a virtio disk after `drop_caches` ~170 ms (100k in ~8 s) with
    /// the cores mostly waiting.
    #[test]
    fn readers_grow_when_the_cores_waited_on_the_disk_and_not_when_they_parsed() {
        let ms = std::time::Duration::from_millis;
        assert!(!waited_on_disk(ms(48), ms(27), 2), "in the page cache");
        assert!(waited_on_disk(ms(90), ms(170), 2), "from the disk");
        assert!(!waited_on_disk(ms(0), ms(0), 2), "nothing read");
    }
}
