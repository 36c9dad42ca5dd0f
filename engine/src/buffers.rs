//! A per-thread pool of element buffers, so that a training loop in its steady state does not
//! go to the allocator for the outputs and gradients of every step.
//!
//! Every step of a training loop makes tensors of the same sizes as the step before and drops
//! them at its end. Left to the system allocator, each buffer is a `malloc` and a `free`, and
//! large ones cost more: glibc serves them with `mmap` or returns the top of its heap to the
//! system when they are freed (its trim threshold), so the next step takes page faults to get
//! the memory back. In one measured process layout that doubled the time of a small network's
//! step (`docs/performance.md`).
//!
//! So a tensor's buffer, when the last tensor using it is dropped, goes back to the pool of the
//! dropping thread ([`give`]), and the kernels take their output buffers from it ([`take`]).
//! Only buffers of at least [`MIN_BYTES`] are kept: the allocator's per-thread cache serves
//! smaller ones about as fast, while larger ones go through its bins, a measurable share of a
//! small network's step. At most [`MAX_BUFFERS`] buffers per element type and thread and
//! [`MAX_BYTES`] in all are kept; beyond that a buffer is freed as before.
//!
//! Kept buffers sit in size classes, eight per doubling of the size, so that finding one is an
//! index, not a search: a request for `n` elements is served from the class of the smallest
//! class size at least `n`, and a new buffer is made with that class size as its capacity (at
//! most an eighth more than asked for), so that it comes back to the class its size is asked
//! from. A buffer holds at most about 28% more than the request it serves, so a small tensor
//! never pins a large buffer.
//!
//! A buffer is handed out empty (length 0) and each kernel writes every element it returns, so
//! the pool cannot change a result: a reused buffer's old contents are never read.
//! [`pooled_bytes`] and [`release`] (re-exported in [`memory`](crate::memory) as
//! `pooled_bytes` and `release_pooled_buffers`) show and free what a thread keeps.

use std::any::{Any, TypeId};
use std::cell::RefCell;

use crate::Float;

/// Buffers smaller than this many bytes are not kept: the allocator's per-thread cache serves
/// them about as fast as the pool would.
pub const MIN_BYTES: usize = 1 << 10;
/// At most this many buffers are kept per element type and thread.
pub const MAX_BUFFERS: usize = 256;
/// At most this many bytes are kept per element type and thread.
pub const MAX_BYTES: usize = 256 << 20;

/// Size classes per doubling.
const STEPS: usize = 8;

/// The size of class `c`: `2^k · (STEPS + j) / STEPS` for `c = STEPS·k + j`, exact from
/// `k = 3` on (the classes below are never used: `MIN_BYTES` is far above them).
fn class_size(c: usize) -> usize {
    let (k, j) = (c / STEPS, c % STEPS);
    1usize
        .checked_shl(k as u32)
        .and_then(|p| p.checked_mul(STEPS + j))
        .map_or(usize::MAX, |v| v / STEPS)
}

/// The class of the largest class size at most `n` (`n >= 1`).
fn class_below(n: usize) -> usize {
    let k = n.ilog2() as usize;
    // The top four bits of n after its leading one: which eighth of [2^k, 2^(k+1)) n is in.
    let j = if k >= 3 {
        (n >> (k - 3)) - STEPS
    } else {
        (n << (3 - k)) - STEPS
    };
    STEPS * k + j
}

/// The class of the smallest class size at least `n` (`n >= 1`).
fn class_above(n: usize) -> usize {
    let c = class_below(n);
    if class_size(c) >= n {
        c
    } else {
        c + 1
    }
}

/// Kept buffers of one element type, empty, by size class: `classes[c]` holds buffers whose
/// capacity is at least [`class_size`]`(c)` and below `class_size(c + 1)`.
struct Pool<T> {
    classes: Vec<Vec<Vec<T>>>,
    count: usize,
    bytes: usize,
}

impl<T> Pool<T> {
    const fn new() -> Self {
        Pool {
            classes: Vec::new(),
            count: 0,
            bytes: 0,
        }
    }
}

thread_local! {
    static F32: RefCell<Pool<f32>> = const { RefCell::new(Pool::new()) };
    static F64: RefCell<Pool<f64>> = const { RefCell::new(Pool::new()) };
}

/// Runs `f` on this thread's pool for `T`; `None` when there is none to use (another element
/// type, the pool already in use further up the stack, or the thread shutting down).
fn with_pool<T: Float, R>(f: impl FnOnce(&mut Pool<T>) -> R) -> Option<R> {
    fn on<E: 'static, T: 'static, R>(
        cell: &RefCell<Pool<E>>,
        f: impl FnOnce(&mut Pool<T>) -> R,
    ) -> Option<R> {
        let mut pool = cell.try_borrow_mut().ok()?;
        let pool = (&mut *pool as &mut dyn Any).downcast_mut::<Pool<T>>()?;
        Some(f(pool))
    }
    if TypeId::of::<T>() == TypeId::of::<f64>() {
        F64.try_with(|cell| on(cell, f)).ok().flatten()
    } else {
        F32.try_with(|cell| on(cell, f)).ok().flatten()
    }
}

fn bytes_of<T>(capacity: usize) -> usize {
    capacity.saturating_mul(std::mem::size_of::<T>())
}

/// An empty buffer with room for at least `n` elements: a kept one when one fits, else a new
/// allocation (of the class size, for a buffer the pool would keep).
pub(crate) fn take<T: Float>(n: usize) -> Vec<T> {
    if bytes_of::<T>(n) < MIN_BYTES {
        return Vec::with_capacity(n);
    }
    let class = class_above(n);
    let reused = with_pool(|pool: &mut Pool<T>| {
        // Any buffer of the request's class fits. So may one of the class below, which holds
        // buffers made outside the pool (`Tensor::from_vec` of the same size every step, say):
        // their capacity is not a class size, so they sit one class lower than it is asked from.
        let buffer = match pool.classes.get_mut(class).and_then(Vec::pop) {
            Some(buffer) => buffer,
            None => {
                let below = pool.classes.get_mut(class.checked_sub(1)?)?;
                let i = below.iter().position(|b| b.capacity() >= n)?;
                below.swap_remove(i)
            }
        };
        pool.count -= 1;
        pool.bytes -= bytes_of::<T>(buffer.capacity());
        Some(buffer)
    })
    .flatten();
    reused.unwrap_or_else(|| Vec::with_capacity(class_size(class)))
}

/// `n` copies of `value` in a buffer from [`take`].
pub(crate) fn filled<T: Float>(n: usize, value: T) -> Vec<T> {
    let mut buffer = take(n);
    buffer.resize(n, value);
    buffer
}

/// Gives a buffer no tensor uses any more back to this thread's pool (or frees it).
pub(crate) fn give<T: Float>(mut buffer: Vec<T>) {
    let bytes = bytes_of::<T>(buffer.capacity());
    if bytes < MIN_BYTES {
        return;
    }
    buffer.clear();
    let class = class_below(buffer.capacity());
    // A buffer the pool does not take is dropped here, after the pool is released.
    let _refused = with_pool(move |pool: &mut Pool<T>| {
        if pool.count >= MAX_BUFFERS || pool.bytes + bytes > MAX_BYTES {
            return Some(buffer);
        }
        if pool.classes.len() <= class {
            pool.classes.resize_with(class + 1, Vec::new);
        }
        pool.count += 1;
        pool.bytes += bytes;
        pool.classes[class].push(buffer);
        None
    });
}

/// Bytes of element buffers this thread keeps for reuse (both element types).
pub fn pooled_bytes() -> usize {
    let f32s = with_pool(|pool: &mut Pool<f32>| pool.bytes).unwrap_or(0);
    let f64s = with_pool(|pool: &mut Pool<f64>| pool.bytes).unwrap_or(0);
    f32s + f64s
}

/// Frees every buffer this thread keeps for reuse (for instance after training, before a
/// phase that needs the memory for something else).
pub fn release() {
    let f32s = with_pool(|pool: &mut Pool<f32>| std::mem::replace(pool, Pool::new()));
    let f64s = with_pool(|pool: &mut Pool<f64>| std::mem::replace(pool, Pool::new()));
    drop((f32s, f64s));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_buffer_is_taken_again_empty_and_small_ones_are_not_kept() {
        release();
        let mut v: Vec<f64> = take(8000);
        assert!(v.capacity() >= 8000 && v.is_empty());
        v.extend((0..8000).map(f64::from));
        let address = v.as_ptr();
        let capacity = v.capacity();
        give(v);
        assert_eq!(pooled_bytes(), 8 * capacity);
        // Much smaller than it, or larger, and the wrong type: fresh buffers.
        let small: Vec<f64> = take(4000);
        assert_ne!(small.as_ptr(), address);
        let large: Vec<f64> = take(capacity + 1);
        assert_ne!(large.as_ptr(), address);
        let other: Vec<f32> = take(8000);
        assert!(other.capacity() >= 8000);
        drop((small, large, other));
        // A request of the same size class (a little smaller) gets it back.
        let again: Vec<f64> = take(7900);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty(), "handed out empty");
        assert_eq!(pooled_bytes(), 0);
        give(vec![0.0f32; MIN_BYTES / 4 - 1]);
        assert_eq!(pooled_bytes(), 0, "below MIN_BYTES");
        give(again);
        release();
        assert_eq!(pooled_bytes(), 0);
        // A buffer made outside the pool, of a capacity that is no class size, serves a request
        // of its own size: the same size made again every step does not leave it unused.
        let outside: Vec<f64> = Vec::with_capacity(4221);
        assert_ne!(class_size(class_above(4221)), 4221);
        let address = outside.as_ptr();
        give(outside);
        let same: Vec<f64> = take(4221);
        assert_eq!(same.as_ptr(), address);
        drop(same);
        release();
    }

    #[test]
    fn size_classes_bracket_every_size() {
        // From 8 on (smaller sizes, far below `MIN_BYTES`, are never kept).
        for n in (8..5000).chain([(1 << 20) - 1, 1 << 20, (1 << 20) + 1, usize::MAX >> 4]) {
            let (below, above) = (class_below(n), class_above(n));
            assert!(class_size(below) <= n && n < class_size(below + 1), "{n}");
            assert!(class_size(above) >= n, "{n}");
            assert!(above == below || above == below + 1, "{n}");
            // At most an eighth more than asked for.
            assert!(class_size(above) - n <= n / 8, "{n}: {}", class_size(above));
        }
        // A buffer made for a request is kept in the class that request is served from.
        for n in [128, 1000, 1025, 123_457] {
            assert_eq!(class_below(class_size(class_above(n))), class_above(n));
        }
    }

    #[test]
    fn the_pool_is_bounded() {
        release();
        for _ in 0..MAX_BUFFERS + 10 {
            give(Vec::<f32>::with_capacity(MIN_BYTES / 4));
        }
        assert_eq!(pooled_bytes(), MAX_BUFFERS * MIN_BYTES);
        release();
        give(Vec::<f64>::with_capacity(MAX_BYTES / 8 + 1));
        assert_eq!(pooled_bytes(), 0, "over MAX_BYTES");
    }
}
