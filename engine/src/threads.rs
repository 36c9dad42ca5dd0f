//! How many threads the kernels use, and the pool they run on.
//!
//! Large matrix products (at least [`PARALLEL_GEMM_FLOPS`](crate::kernels) floating-point
//! operations), elementwise maps and sums over large buffers are split into blocks, and every
//! element is computed exactly as the one-thread code computes it: results are bit-identical for
//! any thread count. A product is split into one block of rows (or columns) of `C` per thread,
//! since each block packs the whole other operand; each element of `C` is the same gemm
//! arithmetic (one chain over `k`) whichever block holds it. Elementwise maps compute each
//! element alone, and a large sum keeps its one addition tree, its halves summed in parallel. Small operations (everything in the course's small networks) stay on the
//! calling thread, where a hand-off would cost more than it saves.
//!
//! The thread count is, in order of precedence: the last [`set_num_threads`] call, the
//! environment variable `FERROGRAD_NUM_THREADS` (a positive integer, read once), or the number
//! of processors available to the process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

/// 0 until the count is first needed or set.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// The pool and the thread count it was built for.
static POOL: Mutex<Option<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

/// `FERROGRAD_NUM_THREADS` if it is a positive integer, else the available processors.
fn default_threads() -> usize {
    std::env::var("FERROGRAD_NUM_THREADS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The number of threads the kernels may use (at least 1).
///
/// ```
/// engine::set_num_threads(2);
/// assert_eq!(engine::num_threads(), 2);
/// engine::set_num_threads(1); // everything on the calling thread
/// assert_eq!(engine::num_threads(), 1);
/// ```
pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            let _ = THREADS.compare_exchange(
                0,
                default_threads(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            THREADS.load(Ordering::Relaxed)
        }
        n => n,
    }
}

/// Sets the number of threads the kernels use, for the whole process; `0` goes back to the
/// default (`FERROGRAD_NUM_THREADS`, else the available processors). Results do not depend on
/// it, only the speed of large operations does.
pub fn set_num_threads(n: usize) {
    let n = if n == 0 { default_threads() } else { n };
    THREADS.store(n, Ordering::Relaxed);
}

/// The pool to run on, or `None` when one thread is configured.
pub(crate) fn pool() -> Option<Arc<rayon::ThreadPool>> {
    let n = num_threads();
    if n <= 1 {
        return None;
    }
    let mut slot = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((built_for, pool)) = slot.as_ref() {
        if *built_for == n {
            return Some(pool.clone());
        }
    }
    // A pool that cannot be built (no threads left to the process) leaves the work on the
    // calling thread: same results, just slower.
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("ferrograd-{i}"))
            .build()
            .ok()?,
    );
    *slot = Some((n, pool.clone()));
    Some(pool)
}

/// Runs `f` on every item, on the engine's pool when one is configured (and there is more than
/// one item), else in order on the calling thread. For work outside the engine that splits into
/// independent parts, such as an optimizer updating a large parameter chunk by chunk: each item
/// must be independent of the others (they may run in any order, at the same time), so the
/// result cannot depend on the thread count.
///
/// ```
/// let mut data = vec![1.0f64; 10_000];
/// let chunks: Vec<&mut [f64]> = data.chunks_mut(4096).collect();
/// engine::threads::for_each_item(chunks, |chunk| chunk.iter_mut().for_each(|v| *v *= 2.0));
/// assert!(data.iter().all(|&v| v == 2.0));
/// ```
pub fn for_each_item<I: Send>(items: Vec<I>, f: impl Fn(I) + Sync + Send) {
    match pool() {
        Some(pool) if items.len() > 1 => pool.install(|| items.into_par_iter().for_each(f)),
        _ => items.into_iter().for_each(f),
    }
}

/// Runs `f(0), f(1), ..., f(count - 1)`, on the pool when there is one. Each call must be
/// independent of the others (they may run in any order, at the same time).
pub(crate) fn for_each_block(count: usize, f: impl Fn(usize) + Sync + Send) {
    match pool() {
        Some(pool) if count > 1 => pool.install(|| (0..count).into_par_iter().for_each(f)),
        _ => (0..count).for_each(f),
    }
}
