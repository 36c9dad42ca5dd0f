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
//! Only buffers of at least [`MIN_BYTES`] are kept (smaller ones are cheap to allocate), at
//! most [`MAX_BUFFERS`] per element type and thread and [`MAX_BYTES`] in all; beyond that a
//! buffer is freed as before. A request is served by the smallest kept buffer that holds it and
//! is at most twice its size, so a small tensor never pins a large buffer.
//!
//! A buffer is handed out empty (length 0) and each kernel writes every element it returns, so
//! the pool cannot change a result: a reused buffer's old contents are never read.
//! [`pooled_bytes`] and [`release`] (re-exported in [`memory`](crate::memory) as
//! `pooled_bytes` and `release_pooled_buffers`) show and free what a thread keeps.

use std::any::{Any, TypeId};
use std::cell::RefCell;

use crate::Float;

/// Buffers smaller than this many bytes are not kept: the allocator serves them from per-thread
/// caches about as fast as the pool would, and never returns them to the system.
pub const MIN_BYTES: usize = 16 << 10;
/// At most this many buffers are kept per element type and thread.
pub const MAX_BUFFERS: usize = 64;
/// At most this many bytes are kept per element type and thread.
pub const MAX_BYTES: usize = 256 << 20;

/// Kept buffers of one element type, empty, in the order they were given back.
struct Pool<T> {
    buffers: Vec<Vec<T>>,
    bytes: usize,
}

impl<T> Pool<T> {
    const fn new() -> Self {
        Pool {
            buffers: Vec::new(),
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
/// allocation.
pub(crate) fn take<T: Float>(n: usize) -> Vec<T> {
    if bytes_of::<T>(n) >= MIN_BYTES {
        let reused = with_pool(|pool: &mut Pool<T>| {
            let best = pool
                .buffers
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= n && b.capacity() / 2 <= n)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)?;
            let buffer = pool.buffers.swap_remove(best);
            pool.bytes -= bytes_of::<T>(buffer.capacity());
            Some(buffer)
        })
        .flatten();
        if let Some(buffer) = reused {
            return buffer;
        }
    }
    Vec::with_capacity(n)
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
    // A buffer the pool does not take is dropped here, after the pool is released.
    let _refused = with_pool(move |pool: &mut Pool<T>| {
        if pool.buffers.len() >= MAX_BUFFERS || pool.bytes + bytes > MAX_BYTES {
            return Some(buffer);
        }
        pool.bytes += bytes;
        pool.buffers.push(buffer);
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
        give(v);
        assert_eq!(pooled_bytes(), 8 * 8000);
        // More than twice too large for this request, and the wrong type: fresh buffers.
        let small: Vec<f64> = take(3999);
        assert_ne!(small.as_ptr(), address);
        let other: Vec<f32> = take(8000);
        assert!(other.capacity() >= 8000);
        drop((small, other));
        let again: Vec<f64> = take(4000);
        assert_eq!(again.as_ptr(), address);
        assert!(again.is_empty(), "handed out empty");
        assert_eq!(pooled_bytes(), 0);
        give(vec![0.0f32; MIN_BYTES / 4 - 1]);
        assert_eq!(pooled_bytes(), 0, "below MIN_BYTES");
        give(again);
        release();
        assert_eq!(pooled_bytes(), 0);
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
