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

/// Runs `task(i)` for every `i` in `0..n`, on the pool when threads are allowed: every
/// function below comes here.
fn run_tasks<F: Fn(usize) + Sync>(n: usize, task: F) {
    #[cfg(feature = "threads")]
    if n > 1 && threads() > 1 {
        on_pool(n, &task);
        return;
    }
    for i in 0..n {
        record_task();
        task(i);
    }
}

/// The one call into rayon. It takes the task as a trait object so that rayon's splitting
/// machinery is compiled once, not once per kernel closure (it was 780 functions, a quarter
/// of the threaded .wasm); tasks are coarse (a tile, a chunk of rows), so the indirect call
/// costs nothing measurable. The serial loop above keeps the task inlined.
#[cfg(feature = "threads")]
fn on_pool(n: usize, task: &(dyn Fn(usize) + Sync)) {
    use rayon::prelude::*;
    (0..n).into_par_iter().for_each(|i| {
        record_task();
        task(i)
    });
}

/// Runs `task(i)` for every `i` in `0..n`, on the pool when threads are allowed.
pub fn for_each_task<F>(n: usize, task: F)
where
    F: Fn(usize) + Sync + Send,
{
    run_tasks(n, task);
}

/// `n` slots that tasks fill concurrently, each its own: task `i` writes slot `i` only.
struct Slots<T>(*mut T);
// SAFETY: each slot is written by one task, and read only after every task has finished.
unsafe impl<T: Send> Sync for Slots<T> {}

impl<T> Slots<T> {
    /// Slot `i`'s address (a method, so closures capture the `Sync` wrapper, not its pointer).
    fn at(&self, i: usize) -> *mut T {
        self.0.wrapping_add(i)
    }
}

/// `task(i)` for every `i` in `0..n`, results in order (on the pool when threads are allowed).
/// Partial results combined in index order stay deterministic whatever the thread count.
pub fn map_tasks<T, F>(n: usize, task: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Sync + Send,
{
    let mut out: Vec<T> = Vec::with_capacity(n);
    let slots = Slots(out.as_mut_ptr());
    run_tasks(n, |i| {
        let value = task(i);
        // SAFETY: i < n = capacity, and only this task writes slot i.
        unsafe { slots.at(i).write(value) };
    });
    // SAFETY: run_tasks returned, so every task ran and wrote its slot. (Had one panicked,
    // the panic would have passed through here: the written values leak, nothing is read.)
    unsafe { out.set_len(n) };
    out
}

/// Like [`map_tasks`], with scratch state: the tasks are cut into one contiguous share per
/// thread, and `init` makes one state per share, which `task` borrows mutably for each of
/// its tasks in turn. The state must not change results, only save allocations.
pub fn map_tasks_with<S, T, I, F>(n: usize, init: I, task: F) -> Vec<T>
where
    T: Send,
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize) -> T + Sync + Send,
{
    // One share per thread: a state per share is a copy of something big (predict's copy of
    // the network), and the tasks it serves are of equal size (predict's chunks of rows).
    let shares = threads().min(n);
    let mut out: Vec<T> = Vec::with_capacity(n);
    let slots = Slots(out.as_mut_ptr());
    run_tasks(shares, |share| {
        let mut state = init();
        for i in share * n / shares..(share + 1) * n / shares {
            let value = task(&mut state, i);
            // SAFETY: i < n = capacity, and the shares are disjoint: only this task writes slot i.
            unsafe { slots.at(i).write(value) };
        }
    });
    // SAFETY: as in map_tasks; the shares cover 0..n.
    unsafe { out.set_len(n) };
    out
}

/// Mutable chunks of `data`, each of length `chunk` (the last may be shorter), processed as tasks.
pub fn for_each_chunk_mut<F>(data: &mut [f32], chunk: usize, task: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    let chunk = chunk.max(1);
    let len = data.len();
    let base = Slots(data.as_mut_ptr());
    run_tasks(len.div_ceil(chunk), |i| {
        let start = i * chunk;
        // SAFETY: the chunks [start, start + chunk) ∩ [0, len) are disjoint and inside
        // `data`, which stays mutably borrowed until every task has finished.
        let c = unsafe { std::slice::from_raw_parts_mut(base.at(start), chunk.min(len - start)) };
        task(i, c);
    });
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    /// The thread limit is process-wide; tests that change it hold this lock.
    pub(crate) static LIMIT_LOCK: Mutex<()> = Mutex::new(());

    #[test]
    fn task_runners_cover_every_index_once_in_order_for_any_count() {
        let _guard = LIMIT_LOCK.lock().unwrap();
        for limit in [Some(1), None] {
            super::set_thread_limit(limit);
            for n in [0, 1, 2, 3, 7, 64, 1000] {
                assert_eq!(super::map_tasks(n, |i| i * 3), (0..n).map(|i| i * 3).collect::<Vec<_>>(), "map_tasks({n})");
                let states = std::sync::atomic::AtomicUsize::new(0);
                let with = super::map_tasks_with(
                    n,
                    || states.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                    |_, i| vec![i; 2],
                );
                assert_eq!(with, (0..n).map(|i| vec![i; 2]).collect::<Vec<_>>(), "map_tasks_with({n})");
                assert!(states.into_inner() <= super::threads().min(n), "one state per share");
                for chunk in [1, 3, 64, 2000] {
                    let mut data = vec![0.0f32; n];
                    super::for_each_chunk_mut(&mut data, chunk, |c, part| {
                        assert!(part.len() == chunk || (part.len() < chunk && (c + 1) * chunk >= n));
                        part.iter_mut().enumerate().for_each(|(j, v)| *v += (c * chunk + j) as f32 + 1.0);
                    });
                    assert_eq!(data, (0..n).map(|i| i as f32 + 1.0).collect::<Vec<_>>(), "chunks of {chunk} over {n}");
                }
            }
        }
        super::set_thread_limit(None);
    }

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
