//! The one place that decides whether work runs on the rayon pool or in a plain loop.
//!
//! Kernels describe their work as `n` independent tasks; [`for_each_task`] runs them on the
//! pool when the `threads` feature is on and more than one thread is allowed, serially
//! otherwise. The pool also keeps a per-thread count of the tasks it ran, so callers (and
//! tests) can see which threads really did the work.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Slot 0 counts tasks run outside the pool (the caller's thread); slot i+1 pool thread i.
const MAX_TRACKED: usize = 64;
static TASKS_BY_THREAD: [AtomicU64; MAX_TRACKED] = [const { AtomicU64::new(0) }; MAX_TRACKED];

/// 0 means "every thread of the pool".
static THREAD_LIMIT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set while this thread runs one share of a data-parallel job (see [`serially`]).
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every kernel it calls on this thread alone: for jobs that are already split
/// across the pool at a coarser grain (a batch in chunks), where splitting each kernel again
/// would only add fork-join overhead and scatter a chunk's data over both cores' caches.
pub fn serially<T>(f: impl FnOnce() -> T) -> T {
    /// Restores the thread's previous setting when dropped, even if `f` unwinds.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SERIAL.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SERIAL.with(|s| s.replace(true)));
    f()
}

/// Number of threads kernels may use right now.
pub fn threads() -> usize {
    if SERIAL.with(|s| s.get()) {
        return 1;
    }
    let pool = pool_size();
    match THREAD_LIMIT.load(Ordering::Relaxed) {
        0 => pool,
        limit => limit.min(pool),
    }
}

/// Size of the pool the process has (1 without the `threads` feature).
pub fn pool_size() -> usize {
    #[cfg(feature = "threads")]
    {
        rayon::current_num_threads()
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// Restrict kernels to one thread (`Some(1)`) or give them the whole pool (`None`).
///
/// Only "one" and "all" are distinguished: rayon has no cheap way to use part of a pool,
/// and the measurements we care about compare one thread with all of them.
pub fn set_thread_limit(limit: Option<usize>) {
    THREAD_LIMIT.store(limit.unwrap_or(0), Ordering::Relaxed);
}

fn record_task() {
    #[cfg(feature = "threads")]
    let slot = rayon::current_thread_index().map_or(0, |i| i + 1);
    #[cfg(not(feature = "threads"))]
    let slot = 0;
    TASKS_BY_THREAD[slot.min(MAX_TRACKED - 1)].fetch_add(1, Ordering::Relaxed);
}

/// Tasks run per thread since the last call (slot 0: outside the pool), and resets the counts.
pub fn take_task_counts() -> Vec<u64> {
    let used = (pool_size() + 1).min(MAX_TRACKED);
    TASKS_BY_THREAD[..used].iter().map(|c| c.swap(0, Ordering::Relaxed)).collect()
}

/// Runs `task(i)` for every `i` in `0..n`, on the pool when threads are allowed.
pub fn for_each_task<F>(n: usize, task: F)
where
    F: Fn(usize) + Sync + Send,
{
    #[cfg(feature = "threads")]
    if n > 1 && threads() > 1 {
        use rayon::prelude::*;
        (0..n).into_par_iter().for_each(|i| {
            record_task();
            task(i)
        });
        return;
    }
    for i in 0..n {
        record_task();
        task(i);
    }
}

/// `task(i)` for every `i` in `0..n`, results in order (on the pool when threads are allowed).
/// Partial results combined in index order stay deterministic whatever the thread count.
pub fn map_tasks<T, F>(n: usize, task: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Sync + Send,
{
    #[cfg(feature = "threads")]
    if n > 1 && threads() > 1 {
        use rayon::prelude::*;
        return (0..n)
            .into_par_iter()
            .map(|i| {
                record_task();
                task(i)
            })
            .collect();
    }
    (0..n)
        .map(|i| {
            record_task();
            task(i)
        })
        .collect()
}

/// Like [`map_tasks`], with per-worker state: `init` makes a state for each share of the
/// tasks a worker takes on (rayon calls it once per split it runs, a few times per thread),
/// and `task` borrows it mutably.
pub fn map_tasks_with<S, T, I, F>(n: usize, init: I, task: F) -> Vec<T>
where
    T: Send,
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize) -> T + Sync + Send,
{
    #[cfg(feature = "threads")]
    if n > 1 && threads() > 1 {
        use rayon::prelude::*;
        return (0..n)
            .into_par_iter()
            .map_init(&init, |state, i| {
                record_task();
                task(state, i)
            })
            .collect();
    }
    let mut state = init();
    (0..n)
        .map(|i| {
            record_task();
            task(&mut state, i)
        })
        .collect()
}

/// Mutable chunks of `data`, each of length `chunk` (the last may be shorter), processed as tasks.
pub fn for_each_chunk_mut<F>(data: &mut [f32], chunk: usize, task: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    let chunk = chunk.max(1);
    #[cfg(feature = "threads")]
    if data.len() > chunk && threads() > 1 {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| {
            record_task();
            task(i, c)
        });
        return;
    }
    for (i, c) in data.chunks_mut(chunk).enumerate() {
        record_task();
        task(i, c);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    /// The thread limit is process-wide; tests that change it hold this lock.
    pub(crate) static LIMIT_LOCK: Mutex<()> = Mutex::new(());

    #[test]
    fn serially_keeps_kernels_on_the_calling_thread_and_then_restores() {
        let _guard = LIMIT_LOCK.lock().unwrap();
        let before = super::threads();
        let inside = super::serially(|| (super::threads(), super::serially(super::threads), super::threads()));
        assert_eq!(inside, (1, 1, 1));
        assert_eq!(super::threads(), before);
        let unwound = std::panic::catch_unwind(|| super::serially(|| panic!("a failing task")));
        assert!(unwound.is_err());
        assert_eq!(super::threads(), before, "restored after a panic too");
    }
}
