//! How many threads the kernels use, and the team of threads they run on.
//!
//! Large matrix products (at least [`PARALLEL_GEMM_FLOPS`](crate::kernels) floating-point
//! operations), elementwise maps and sums over large buffers are split into blocks fixed by the
//! shape, and every element is computed exactly as the one-thread code computes it: results are
//! bit-identical for any thread count. A product is split into one block of rows (or columns) of
//! `C` per thread, since each block packs the whole other operand; each element of `C` is the
//! same gemm arithmetic (one chain over `k`) whichever block holds it. Elementwise maps compute
//! each element alone, and a large sum keeps its one addition tree, its leaves summed in
//! parallel. Small operations (everything in the course's small networks) stay on the calling
//! thread, where a hand-off would cost more than it saves.
//!
//! The team is the calling thread plus `n - 1` workers. A parallel call publishes its blocks,
//! and whichever thread is free takes the next one, the caller included, so the caller never
//! sleeps while work is left, and a worker that is slow to wake only means the caller does more
//! blocks itself. Workers spin for [`SPIN`] after a call before they sleep: a training step is a
//! sequence of parallel calls separated by short serial stretches, and waking a sleeping thread
//! costs tens of microseconds on a virtual machine, which a general-purpose pool that puts its
//! workers to sleep and blocks the caller pays twice per call (docs/performance.md measures it).
//!
//! The thread count is, in order of precedence: the last [`set_num_threads`] call, the
//! environment variable `FERROGRAD_NUM_THREADS` (a positive integer, read once), or the number
//! of processors available to the process.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long an idle worker keeps checking for the next call before it sleeps.
const SPIN: Duration = Duration::from_micros(200);

/// 0 until the count is first needed or set.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// The team and the thread count it was built for.
static TEAM: Mutex<Option<(usize, Arc<Team>)>> = Mutex::new(None);

thread_local! {
    /// Set on the team's workers, and on a caller while it runs blocks: a parallel call made
    /// from inside a block runs its blocks in order on that thread (the team is busy).
    static IN_TEAM: Cell<bool> = const { Cell::new(false) };
}

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

/// One parallel call: blocks `0..count` of the caller's closure, each taken by the first free
/// thread of the team.
struct Job {
    /// The caller's closure, its lifetime erased so that workers can hold it. It is called only
    /// for a block index below `count`, and the caller returns only after `done` reached
    /// `count`, that is after every such call has returned: the borrow is live at every use.
    f: *const (dyn Fn(usize) + Sync),
    count: usize,
    /// The next block to take; indices at or past `count` mean that none is left.
    next: AtomicUsize,
    /// Blocks finished (panicked ones included).
    done: AtomicUsize,
    /// The first panic of a block, re-raised on the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

// SAFETY: `f` points to a `Sync` closure, called from several threads only while the caller
// keeps it alive (see `Job::f`); the other fields are atomics and a mutex.
unsafe impl Send for Job {}
// SAFETY: as above.
unsafe impl Sync for Job {}

impl Job {
    /// Takes blocks and runs them until none is left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.count {
                return;
            }
            // SAFETY: `i < count`, and `done` has not reached `count` (block `i` is not done),
            // so the caller is still waiting and the closure alive (see `Job::f`).
            let f = unsafe { &*self.f };
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| f(i))) {
                let mut first = self.panic.lock().unwrap_or_else(PoisonError::into_inner);
                first.get_or_insert(payload);
            }
            // Release: the block's writes happen before the caller sees it done.
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

/// What the caller publishes to the workers, under `Shared::state`'s lock so that a worker
/// going to sleep cannot miss it.
struct Published {
    /// Bumped by every call (and by shutting down).
    seq: u64,
    job: Option<Arc<Job>>,
    /// Workers asleep on `Shared::wake`: a call wakes them only if there are any.
    sleeping: usize,
    shutdown: bool,
}

struct Shared {
    state: Mutex<Published>,
    wake: Condvar,
    /// `state.seq`, readable without the lock, for spinning workers.
    seq: AtomicU64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Published> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The workers of one thread count (the caller is the team's other member).
struct Team {
    shared: Arc<Shared>,
    /// One call at a time: calls from different user threads take turns.
    turn: Mutex<()>,
}

impl Drop for Team {
    /// Ends the workers (after their current call, if any).
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.shutdown = true;
        state.seq += 1;
        self.shared.seq.store(state.seq, Ordering::Release);
        drop(state);
        self.shared.wake.notify_all();
    }
}

fn worker(shared: Arc<Shared>) {
    IN_TEAM.with(|t| t.set(true));
    let mut seen = 0u64;
    loop {
        let started = Instant::now();
        let mut spins = 0u32;
        while shared.seq.load(Ordering::Acquire) == seen {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && started.elapsed() > SPIN {
                break;
            }
        }
        let job = {
            let mut state = shared.lock();
            while state.seq == seen {
                state.sleeping += 1;
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                state.sleeping -= 1;
            }
            if state.shutdown {
                return;
            }
            seen = state.seq;
            state.job.clone()
        };
        if let Some(job) = job {
            job.work();
        }
    }
}

/// The team for the configured thread count, or `None` for one thread (or when no worker
/// thread can be started: then everything runs on the caller, with the same results).
fn team() -> Option<Arc<Team>> {
    let n = num_threads();
    if n <= 1 {
        return None;
    }
    let mut slot = TEAM.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((built_for, team)) = slot.as_ref() {
        if *built_for == n {
            return Some(team.clone());
        }
    }
    let shared = Arc::new(Shared {
        state: Mutex::new(Published {
            seq: 0,
            job: None,
            sleeping: 0,
            shutdown: false,
        }),
        wake: Condvar::new(),
        seq: AtomicU64::new(0),
    });
    // Made before the workers, so that a failed start shuts down the ones already running.
    let team = Arc::new(Team {
        shared: shared.clone(),
        turn: Mutex::new(()),
    });
    for i in 0..n - 1 {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name(format!("ferrograd-{i}"))
            .spawn(move || worker(shared))
            .ok()?;
    }
    // The previous team, if any, ends when its last user drops it.
    *slot = Some((n, team.clone()));
    Some(team)
}

/// Marks the current thread as running blocks for as long as it lives.
struct InTeam;

impl InTeam {
    fn enter() -> Self {
        IN_TEAM.with(|t| t.set(true));
        InTeam
    }
}

impl Drop for InTeam {
    fn drop(&mut self) {
        IN_TEAM.with(|t| t.set(false));
    }
}

/// Runs `f(0), f(1), ..., f(count - 1)`, on the team when there is one. Each call must be
/// independent of the others (they may run in any order, at the same time). A panic in a block
/// is raised again here, after every block has finished.
pub(crate) fn for_each_block(count: usize, f: impl Fn(usize) + Sync) {
    let team = if count > 1 && !IN_TEAM.with(Cell::get) {
        team()
    } else {
        None
    };
    let Some(team) = team else {
        (0..count).for_each(f);
        return;
    };
    let _turn = team.turn.lock().unwrap_or_else(PoisonError::into_inner);
    let f: &(dyn Fn(usize) + Sync) = &f;
    // SAFETY: only the trait object's lifetime bound changes; `Job::f` says why the closure is
    // never called after this function returns.
    let f: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(f) };
    let job = Arc::new(Job {
        f,
        count,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        panic: Mutex::new(None),
    });
    let shared = &team.shared;
    let mut state = shared.lock();
    state.seq += 1;
    state.job = Some(job.clone());
    shared.seq.store(state.seq, Ordering::Release);
    let wake = state.sleeping > 0;
    drop(state);
    if wake {
        shared.wake.notify_all();
    }
    {
        let _in_team = InTeam::enter();
        job.work();
    }
    // The blocks still running are on the workers, which are on other cores: spin briefly,
    // then give the processor away between checks.
    let mut spins = 0u32;
    while job.done.load(Ordering::Acquire) < count {
        if spins < 1 << 12 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
    shared.lock().job = None;
    let payload = job
        .panic
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(payload) = payload {
        panic::resume_unwind(payload);
    }
}

/// Runs `f` on every item, on the engine's threads when more than one is configured (and there
/// is more than one item), else in order on the calling thread. For work outside the engine that
/// splits into independent parts, such as an optimizer updating a large parameter chunk by
/// chunk: each item must be independent of the others (they may run in any order, at the same
/// time), so the result cannot depend on the thread count. A panic in `f` is raised again here
/// once every item has been processed.
///
/// ```
/// let mut data = vec![1.0f64; 10_000];
/// let chunks: Vec<&mut [f64]> = data.chunks_mut(4096).collect();
/// engine::threads::for_each_item(chunks, |chunk| chunk.iter_mut().for_each(|v| *v *= 2.0));
/// assert!(data.iter().all(|&v| v == 2.0));
/// ```
pub fn for_each_item<I: Send>(items: Vec<I>, f: impl Fn(I) + Sync) {
    if items.len() <= 1 || num_threads() <= 1 {
        items.into_iter().for_each(f);
        return;
    }
    // Each block takes its own item out: the mutexes are never contended.
    let items: Vec<Mutex<Option<I>>> = items.into_iter().map(|i| Mutex::new(Some(i))).collect();
    for_each_block(items.len(), |i| {
        let item = items[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(item) = item {
            f(item);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every block runs exactly once, whatever the thread count, nested calls included.
    #[test]
    fn every_block_runs_once() {
        for threads in [1, 2, 3] {
            set_num_threads(threads);
            let counts: Vec<AtomicUsize> = (0..100).map(|_| AtomicUsize::new(0)).collect();
            for_each_block(10, |i| {
                for_each_block(10, |j| {
                    counts[i * 10 + j].fetch_add(1, Ordering::Relaxed);
                })
            });
            assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
        }
        set_num_threads(0);
    }

    /// A panicking block reaches the caller, after the other blocks ran, and the team still
    /// works afterwards.
    #[test]
    fn a_panic_in_a_block_reaches_the_caller() {
        set_num_threads(2);
        let ran = AtomicUsize::new(0);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            for_each_block(8, |i| {
                ran.fetch_add(1, Ordering::Relaxed);
                assert!(i != 5, "block five fails");
            })
        }));
        let payload = result.expect_err("the panic must reach the caller");
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        assert_eq!(message, Some("block five fails"));
        assert_eq!(ran.load(Ordering::Relaxed), 8);
        let sum = AtomicUsize::new(0);
        for_each_block(4, |i| {
            sum.fetch_add(i, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 6);
        set_num_threads(0);
    }
}
