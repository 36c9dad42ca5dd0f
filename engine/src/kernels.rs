//! Buffer-level computations with no knowledge of the graph: elementwise maps over broadcast
//! layouts, reductions, softmax, gathers and scatters, concatenation, and matrix products on
//! `matrixmultiply`. The public operations in `ops` call these and then record graph nodes.
//!
//! Every reduction sums in a fixed order, independent of thread count, so results are
//! bit-for-bit reproducible. Large operations run on the pool of [`crate::threads`]: matrix
//! products split into row or column blocks (each output element is computed by the same
//! gemm arithmetic whatever the blocks), elementwise maps split anywhere (each element is
//! computed alone), and [`pairwise_sum`] runs its two halves in parallel (the same tree).

mod small_gemm;

use crate::buffers::{filled, take};
use crate::layout::{
    broadcast_shapes, for_each_offset2, for_each_run, for_each_run2, numel_or_panic, Layout, Shape,
};
use crate::{Float, Tensor};
use std::mem::MaybeUninit;

/// Elementwise maps over at least this many elements run on the thread pool (below it a
/// hand-off costs more than the work).
const PARALLEL_ELEMENTS: usize = 1 << 15;

/// `f` over a contiguous buffer, on the engine's threads when large. Each element is computed
/// alone, so the split cannot change any bit.
fn map_slice<T: Float>(d: &[T], f: &(impl Fn(T) -> T + Sync + Send)) -> Vec<T> {
    if !split(d.len()) {
        let mut out = take(d.len());
        out.extend(d.iter().map(|&v| f(v)));
        return out;
    }
    fill(d.len(), 1, |start, out| {
        for (slot, &v) in out.iter_mut().zip(&d[start..]) {
            slot.write(f(v));
        }
    })
}

/// Whether a map over `len` elements is split across threads. (The one-thread path is a plain
/// `extend`, which the compiler vectorizes better than writes into uninitialized chunks.)
fn split(len: usize) -> bool {
    len >= PARALLEL_ELEMENTS && crate::threads::num_threads() > 1
}

/// A buffer of `len` elements from the pool, its disjoint chunks written by `write(start,
/// chunk)` (which must write every element of `chunk`, the elements `start..start + chunk.len()`
/// of the result), on the engine's threads when `len` is at least [`PARALLEL_ELEMENTS`]. Every
/// chunk but the last is a multiple of `granule` elements long (a row, for kernels that work
/// row by row).
fn fill<T: Float>(
    len: usize,
    granule: usize,
    write: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync,
) -> Vec<T> {
    let mut out: Vec<T> = take(len);
    let spare = &mut out.spare_capacity_mut()[..len];
    if split(len) && granule > 0 {
        // Two chunks per thread, so that a thread slow to start leaves the others less to wait
        // for; where the chunks end changes no bit.
        let chunk = len
            .div_ceil(2 * crate::threads::num_threads())
            .max(PARALLEL_ELEMENTS / 4)
            .next_multiple_of(granule);
        let chunks: Vec<(usize, &mut [MaybeUninit<T>])> = spare
            .chunks_mut(chunk)
            .enumerate()
            .map(|(i, c)| (i * chunk, c))
            .collect();
        crate::threads::for_each_item(chunks, |(start, c)| write(start, c));
    } else {
        write(0, spare);
    }
    // SAFETY: `out` has capacity for `len` elements (taken so), and every one of them was
    // written: the chunks cover `0..len` and `for_each_item` returns (instead of panicking)
    // only once `write` has returned for each, which writes every element of its chunk.
    unsafe { out.set_len(len) };
    out
}

/// `f` applied to every element, in row-major order.
pub(crate) fn map<T: Float>(x: &Tensor<T>, f: impl Fn(T) -> T + Sync + Send) -> Vec<T> {
    x.with_data(|d| map_slice(d, &f))
}

/// `f(a, b)` over the broadcast of both shapes. The caller has checked compatibility.
pub(crate) fn zip_map<T: Float>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    shape: &[usize],
    f: impl Fn(T, T) -> T + Sync + Send,
) -> Vec<T> {
    let (la, lb) = (a.layout(), b.layout());
    if la.shape.as_slice() == shape
        && lb.shape.as_slice() == shape
        && la.is_contiguous()
        && lb.is_contiguous()
    {
        return a.with_data(|da| {
            b.with_data(|db| {
                if !split(da.len()) {
                    let mut out = take(da.len());
                    out.extend(da.iter().zip(db).map(|(&x, &y)| f(x, y)));
                    return out;
                }
                fill(da.len(), 1, |start, out| {
                    for ((slot, &x), &y) in out.iter_mut().zip(&da[start..]).zip(&db[start..]) {
                        slot.write(f(x, y));
                    }
                })
            })
        });
    }
    if b.numel() == 1 && la.shape.as_slice() == shape {
        let y = b.to_vec()[0];
        return map(a, |x| f(x, y));
    }
    if a.numel() == 1 && lb.shape.as_slice() == shape {
        let x = a.to_vec()[0];
        return map(b, |y| f(x, y));
    }
    let ba = la.broadcast_to(shape).expect("checked by caller");
    let bb = lb.broadcast_to(shape).expect("checked by caller");
    let (sa, sb) = (a.storage(), b.storage());
    let total: usize = shape.iter().product();
    if total == 0 {
        return take(0);
    }
    // Rows of the outermost axis (the whole tensor for a 0-d one) are computed independently:
    // each element alone, so the split changes no bit.
    let rows = shape.first().copied().unwrap_or(1);
    let row = total / rows;
    fill(total, row, |start, out| {
        let (r, n) = (start / row, out.len() / row);
        let mut sub: Shape = shape.into();
        if let Some(first) = sub.first_mut() {
            *first = n;
        }
        let mut pos = 0;
        // Runs with unit or zero steps (dense rows, a broadcast column or row) get tight loops.
        for_each_run2(
            &sub,
            &ba.strides,
            row_offset(&ba, r),
            &bb.strides,
            row_offset(&bb, r),
            |i, j, len, step_a, step_b| match (step_a, step_b) {
                (1, 1) => put(
                    out,
                    &mut pos,
                    sa[i..i + len]
                        .iter()
                        .zip(&sb[j..j + len])
                        .map(|(&x, &y)| f(x, y)),
                ),
                (1, 0) => {
                    let y = sb[j];
                    put(out, &mut pos, sa[i..i + len].iter().map(|&x| f(x, y)));
                }
                (0, 1) => {
                    let x = sa[i];
                    put(out, &mut pos, sb[j..j + len].iter().map(|&y| f(x, y)));
                }
                _ => put(
                    out,
                    &mut pos,
                    (0..len as isize).map(|k| {
                        f(
                            sa[(i as isize + k * step_a) as usize],
                            sb[(j as isize + k * step_b) as usize],
                        )
                    }),
                ),
            },
        );
        assert_eq!(
            pos,
            out.len(),
            "zip_map: wrote {pos} of {} elements",
            out.len()
        );
    })
}

/// Where row `r` of `layout`'s outermost axis starts (the layout's own start for a 0-d one): a
/// position of the layout, hence inside its buffer, so the arithmetic cannot overflow.
fn row_offset(layout: &Layout, r: usize) -> usize {
    let step = layout.strides.first().copied().unwrap_or(0);
    (layout.offset as isize + r as isize * step) as usize
}

/// `out + b` into `out` itself, `b` broadcast to `shape` (the shape of the dense row-major
/// `out`): per element the sum `x + y` that [`zip_map`] computes for `a + b`, so the values are
/// those of adding into a new buffer. Outputs large enough to split go through `zip_map`
/// itself, into a second buffer, so that they are still shared among the engine's threads.
pub(crate) fn add_broadcast_into<T: Float>(out: &mut Vec<T>, shape: &[usize], b: &Tensor<T>) {
    if split(out.len()) {
        let a = Tensor::dense(std::mem::take(out), shape);
        *out = zip_map(&a, b, shape, |x, y| x + y);
        return;
    }
    let lb = b.layout().broadcast_to(shape).expect("checked by caller");
    let dense = Layout::contiguous(shape);
    let sb = b.storage();
    for_each_run2(
        shape,
        &dense.strides,
        0,
        &lb.strides,
        lb.offset,
        |i, j, len, step_out, step_b| match (step_out, step_b) {
            (1, 0) => {
                let y = sb[j];
                for x in &mut out[i..i + len] {
                    *x += y;
                }
            }
            (1, 1) => {
                for (x, &y) in out[i..i + len].iter_mut().zip(&sb[j..j + len]) {
                    *x += y;
                }
            }
            _ => {
                for k in 0..len as isize {
                    let o = (i as isize + k * step_out) as usize;
                    out[o] += sb[(j as isize + k * step_b) as usize];
                }
            }
        },
    );
}

/// Writes `values` into `out` from `*pos` on, advancing `*pos` (panics past the end of `out`).
#[inline]
fn put<T>(out: &mut [MaybeUninit<T>], pos: &mut usize, values: impl Iterator<Item = T>) {
    let run = &mut out[*pos..];
    let mut n = 0;
    for (slot, v) in run.iter_mut().zip(values) {
        slot.write(v);
        n += 1;
    }
    *pos += n;
}

/// The elements of a (possibly strided or broadcast) view in row-major order.
pub(crate) fn gather_view<T: Float>(storage: &[T], layout: &Layout) -> Vec<T> {
    let mut out = take(layout.numel());
    for_each_run(layout, |o, len, step| match step {
        1 => out.extend_from_slice(&storage[o..o + len]),
        0 => out.resize(out.len() + len, storage[o]),
        _ => out.extend((0..len as isize).map(|k| storage[(o as isize + k * step) as usize])),
    });
    out
}

/// Sums a view of shape `from` down to `shape`, which broadcasts to `from` (the reverse of
/// broadcasting): each element is added to the output position it was broadcast from. Rows
/// summed into one element use pairwise summation; the order is fixed.
pub(crate) fn sum_to<T: Float>(storage: &[T], layout: &Layout, shape: &[usize]) -> Vec<T> {
    let target = Layout::contiguous(shape)
        .broadcast_to(&layout.shape)
        .expect("checked by caller");
    let total: usize = shape.iter().product();
    let from = &layout.shape;
    // When the outermost axis is kept, each block of its rows sums into its own rows of the
    // output, in the order one thread would: the split changes no bit. (When it is summed
    // away, every row adds into the same outputs, so the rows stay on one thread, in order.)
    let by_rows = matches!(target.strides.first(), Some(&s) if s != 0) && split(layout.numel());
    // Two blocks per thread (see `fill`), or the whole output as one.
    let (rows_per_block, out_row) = if by_rows {
        let rows = from[0].div_ceil(2 * crate::threads::num_threads());
        (rows, total / from[0])
    } else {
        (1, total)
    };
    let mut out = filled(total, T::zero());
    let sum_rows = |first_row: usize, out: &mut [T]| {
        let mut sub: Shape = from.clone();
        let mut offset = layout.offset;
        if by_rows {
            sub[0] = out.len() / out_row;
            offset = row_offset(layout, first_row);
        }
        for_each_run2(
            &sub,
            &layout.strides,
            offset,
            &target.strides,
            0,
            |i, j, len, step_in, step_out| match (step_in, step_out) {
                (1, 0) => out[j] += pairwise_sum(&storage[i..i + len]),
                (1, 1) => {
                    for (o, &v) in out[j..j + len].iter_mut().zip(&storage[i..i + len]) {
                        *o += v;
                    }
                }
                _ => {
                    for k in 0..len as isize {
                        out[(j as isize + k * step_out) as usize] +=
                            storage[(i as isize + k * step_in) as usize];
                    }
                }
            },
        );
    };
    if by_rows {
        let chunks: Vec<(usize, &mut [T])> = out
            .chunks_mut(rows_per_block * out_row)
            .enumerate()
            .map(|(b, c)| (b * rows_per_block, c))
            .collect();
        crate::threads::for_each_item(chunks, |(first_row, out)| sum_rows(first_row, out));
    } else {
        sum_rows(0, &mut out);
    }
    out
}

/// Broadcast shape of two operands, panicking with the operation's name and both shapes when
/// they are incompatible or their broadcast is too large to address.
#[track_caller]
pub(crate) fn broadcast_or_panic(op: &str, a: &[usize], b: &[usize]) -> Shape {
    // `match`, not `unwrap_or_else`: a panic inside a closure reports the closure's line, here,
    // instead of the caller's.
    match broadcast_shapes(a, b) {
        Some(shape) => {
            numel_or_panic(op, &shape);
            shape
        }
        None => panic!("{op}: shapes {a:?} and {b:?} cannot be broadcast together"),
    }
}

/// Splits a shape around `axis` into (outer, axis length, inner) element counts.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

/// Sum of a slice by pairwise summation (error grows with log n, not n), in a fixed order.
///
/// From `2 ·` [`PARALLEL_ELEMENTS`] up, the subtrees below that size are summed on the engine's
/// threads at the same time and then combined: the tree of additions, and so the result, is the
/// same as on one thread.
pub(crate) fn pairwise_sum<T: Float>(x: &[T]) -> T {
    if x.len() >= 2 * PARALLEL_ELEMENTS && crate::threads::num_threads() > 1 {
        return parallel_pairwise_sum(x);
    }
    serial_pairwise_sum(x)
}

fn serial_pairwise_sum<T: Float>(x: &[T]) -> T {
    const BLOCK: usize = 64;
    if x.len() <= BLOCK {
        let mut acc = T::zero();
        for &v in x {
            acc += v;
        }
        return acc;
    }
    let half = x.len() / 2;
    serial_pairwise_sum(&x[..half]) + serial_pairwise_sum(&x[half..])
}

/// [`serial_pairwise_sum`]'s tree: its subtrees of fewer than `2 ·` [`PARALLEL_ELEMENTS`]
/// elements summed in parallel, then added up the tree as the serial recursion adds them.
fn parallel_pairwise_sum<T: Float>(x: &[T]) -> T {
    fn leaves<'a, T>(x: &'a [T], out: &mut Vec<&'a [T]>) {
        if x.len() < 2 * PARALLEL_ELEMENTS {
            out.push(x);
        } else {
            let half = x.len() / 2;
            leaves(&x[..half], out);
            leaves(&x[half..], out);
        }
    }
    fn combine<T: Float>(len: usize, sums: &mut impl Iterator<Item = T>) -> T {
        if len < 2 * PARALLEL_ELEMENTS {
            return sums.next().expect("one sum per leaf");
        }
        let half = len / 2;
        let a = combine(half, sums);
        a + combine(len - half, sums)
    }
    let mut parts = Vec::new();
    leaves(x, &mut parts);
    let mut sums = vec![T::zero(); parts.len()];
    let items: Vec<(&[T], &mut T)> = parts.into_iter().zip(sums.iter_mut()).collect();
    crate::threads::for_each_item(items, |(leaf, sum)| *sum = serial_pairwise_sum(leaf));
    combine(x.len(), &mut sums.into_iter())
}

/// Folds dimension `axis` away: `out[o, i] = fold_k x[o, k, i]`, starting from `init`.
pub(crate) fn reduce_axis<T: Float>(
    x: &Tensor<T>,
    axis: usize,
    init: T,
    f: impl Fn(T, T) -> T,
) -> Vec<T> {
    let split = split_at_axis(x.shape(), axis);
    x.with_data(|d| reduce_axis_of(d, split, init, f))
}

/// [`reduce_axis`] of row-major elements `d` of shape `(outer, n, inner)` (see
/// [`split_at_axis`]): each output is folded over `k` in increasing order from `init`.
pub(crate) fn reduce_axis_of<T: Float>(
    d: &[T],
    (outer, n, inner): (usize, usize, usize),
    init: T,
    f: impl Fn(T, T) -> T,
) -> Vec<T> {
    let mut out = filled(outer * inner, init);
    for o in 0..outer {
        let acc = &mut out[o * inner..(o + 1) * inner];
        for k in 0..n {
            let row = &d[(o * n + k) * inner..(o * n + k + 1) * inner];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a = f(*a, v);
            }
        }
    }
    out
}

/// Softmax (or log-softmax) along `axis`, shifted by the maximum so `exp` never overflows.
pub(crate) fn softmax_axis<T: Float>(x: &Tensor<T>, axis: usize, log: bool) -> Vec<T> {
    let (outer, n, inner) = split_at_axis(x.shape(), axis);
    x.with_data(|d| {
        let mut out = filled(d.len(), T::zero());
        for o in 0..outer {
            for i in 0..inner {
                let at = |k: usize| (o * n + k) * inner + i;
                let max = (0..n).fold(T::neg_infinity(), |m, k| m.max(d[at(k)]));
                if max == T::infinity() {
                    // No finite shift exists: take the limit. One +inf takes all the mass; the
                    // share among several is undefined (NaN), as is any slice holding a NaN.
                    let infs = (0..n).filter(|&k| d[at(k)] == T::infinity()).count();
                    let nan = (0..n).any(|k| d[at(k)].is_nan());
                    let (all, none) = if log {
                        (T::zero(), T::neg_infinity())
                    } else {
                        (T::one(), T::zero())
                    };
                    for k in 0..n {
                        out[at(k)] = match (nan, d[at(k)] == T::infinity()) {
                            (true, _) => T::nan(),
                            (false, true) if infs == 1 => all,
                            (false, true) => T::nan(),
                            (false, false) => none,
                        };
                    }
                    continue;
                }
                // A row of -inf (or an empty row) has no finite shift; use 0 to keep exp defined.
                let shift = if max.is_finite() { max } else { T::zero() };
                let mut sum = T::zero();
                for k in 0..n {
                    let e = (d[at(k)] - shift).exp();
                    out[at(k)] = e;
                    sum += e;
                }
                if log {
                    let log_sum = sum.ln();
                    for k in 0..n {
                        out[at(k)] = d[at(k)] - shift - log_sum;
                    }
                } else {
                    for k in 0..n {
                        out[at(k)] /= sum;
                    }
                }
            }
        }
        out
    })
}

/// `out[.., j, ..] = x[.., indices[j], ..]` along `axis`.
pub(crate) fn index_select<T: Float>(x: &Tensor<T>, axis: usize, indices: &[usize]) -> Vec<T> {
    let (outer, n, inner) = split_at_axis(x.shape(), axis);
    x.with_data(|d| {
        let mut out = Vec::with_capacity(outer * indices.len() * inner);
        for o in 0..outer {
            for &j in indices {
                out.extend_from_slice(&d[(o * n + j) * inner..(o * n + j + 1) * inner]);
            }
        }
        out
    })
}

/// Inverse of [`index_select`]: a zero tensor of `size` along `axis` with the slices of `g`
/// added at `indices` (repeated indices accumulate).
pub(crate) fn index_add<T: Float>(
    g: &Tensor<T>,
    axis: usize,
    indices: &[usize],
    size: usize,
) -> Vec<T> {
    let (outer, len, inner) = split_at_axis(g.shape(), axis);
    g.with_data(|d| {
        let mut out = vec![T::zero(); outer * size * inner];
        for o in 0..outer {
            for (k, &j) in indices.iter().enumerate().take(len) {
                let src = &d[(o * len + k) * inner..(o * len + k + 1) * inner];
                let dst = &mut out[(o * size + j) * inner..(o * size + j + 1) * inner];
                for (a, &v) in dst.iter_mut().zip(src) {
                    *a += v;
                }
            }
        }
        out
    })
}

/// `out[o, j, i] = x[o, index[o, j, i], i]` along `axis` (index has x's shape except on `axis`).
pub(crate) fn gather<T: Float>(
    x: &Tensor<T>,
    axis: usize,
    index: &[usize],
    index_shape: &[usize],
) -> Vec<T> {
    let (outer, n, inner) = split_at_axis(x.shape(), axis);
    let m = index_shape[axis];
    x.with_data(|d| {
        let mut out = Vec::with_capacity(index.len());
        for o in 0..outer {
            for j in 0..m {
                for i in 0..inner {
                    let k = index[(o * m + j) * inner + i];
                    out.push(d[(o * n + k) * inner + i]);
                }
            }
        }
        out
    })
}

/// Inverse of [`gather`]: zeros of `shape` with `g`'s elements added at the gathered places.
pub(crate) fn scatter_add<T: Float>(
    g: &Tensor<T>,
    axis: usize,
    index: &[usize],
    shape: &[usize],
) -> Vec<T> {
    let (outer, n, inner) = split_at_axis(shape, axis);
    let m = g.shape()[axis];
    g.with_data(|d| {
        let mut out = vec![T::zero(); outer * n * inner];
        for o in 0..outer {
            for j in 0..m {
                for i in 0..inner {
                    let at = (o * m + j) * inner + i;
                    out[(o * n + index[at]) * inner + i] += d[at];
                }
            }
        }
        out
    })
}

/// Concatenation along `axis` of tensors whose other dimensions agree.
pub(crate) fn concat<T: Float>(parts: &[&Tensor<T>], axis: usize, out_shape: &[usize]) -> Vec<T> {
    let (outer, total, inner) = split_at_axis(out_shape, axis);
    let mut out = vec![T::zero(); outer * total * inner];
    let mut start = 0;
    for part in parts {
        let n = part.shape()[axis];
        part.with_data(|d| {
            for o in 0..outer {
                let dst = (o * total + start) * inner;
                out[dst..dst + n * inner].copy_from_slice(&d[o * n * inner..(o + 1) * n * inner]);
            }
        });
        start += n;
    }
    out
}

/// Batched matrix product of `a (..., m, k)` and `b (..., k, n)` whose batch dimensions have
/// already been broadcast to `batch`. Operands are read through their strides, so transposed or
/// broadcast views go to `gemm` without a copy.
///
/// The caller has checked that the operands' shapes agree and that the output shape
/// `(batch..., m, n)` is addressable; the operands' layouts lie inside their buffers (checked
/// when every tensor is made, see `Tensor::from_parts`).
#[track_caller]
pub(crate) fn matmul<T: Float>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    batch: &[usize],
    m: usize,
    k: usize,
    n: usize,
) -> Vec<T> {
    matmul_views(
        (&a.storage(), a.layout()),
        (&b.storage(), b.layout()),
        batch,
        [m, k, n],
    )
}

/// [`matmul`] of operands given as a buffer and a layout (a tensor's, or a permutation of
/// one, as the matrix-product rules pass a transposed operand without making a tensor of it).
/// That each layout lies inside its buffer is checked here, for every caller.
#[track_caller]
pub(crate) fn matmul_views<T: Float>(
    (sa, a): (&[T], &Layout),
    (sb, b): (&[T], &Layout),
    batch: &[usize],
    [m, k, n]: [usize; 3],
) -> Vec<T> {
    assert!(
        a.fits_in(sa.len()) && b.fits_in(sb.len()),
        "matmul: an operand's layout does not fit its buffer"
    );
    let out_shape: Shape = batch.iter().copied().chain([m, n]).collect();
    let total = numel_or_panic("matmul", &out_shape);
    if k == 0 {
        // An empty sum: zeros. Handled here so gemm is never handed pointers into empty operand
        // buffers at batch offsets that may lie past their end.
        return filled(total, T::zero());
    }
    // Left uninitialized: with beta = 0 gemm writes every element of C without reading it
    // ("If β is zero, then C does not need to be initialized"), which
    // saves zeroing (and first-touching) the output before gemm overwrites it.
    let mut out: Vec<T> = take(total);
    if total == 0 {
        return out;
    }
    let full = |rows, cols| -> Shape { batch.iter().copied().chain([rows, cols]).collect() };
    let la: Layout = a.broadcast_to(&full(m, k)).expect("checked by caller");
    let lb: Layout = b.broadcast_to(&full(k, n)).expect("checked by caller");
    let nb = batch.len();
    // Broadcasting only adds zero strides, so the stretched layouts reach exactly the positions
    // the operands' own layouts do, which lie in the buffers (asserted on entry).
    debug_assert!(la.fits_in(sa.len()) && lb.fits_in(sb.len()));
    let mut c_offset = 0usize;
    for_each_offset2(
        batch,
        &la.strides[..nb],
        la.offset,
        &lb.strides[..nb],
        lb.offset,
        |oa, ob| {
            // SAFETY: what gemm reads, `a[oa + i·rsa + p·csa]` for i < m, p < k, and
            // `b[ob + p·rsb + j·csb]` for p < k, j < n, are elements of the layouts `la` and `lb`
            // (m, k, n >= 1 here: total > 0 and k > 0), which lie inside `sa` and `sb` (asserted
            // on entry); `oa` and `ob` are such elements too, so
            // the pointer offsets stay inside the buffers. gemm writes `out[c_offset + i·n + j]`
            // for i < m, j < n: below `total`, the capacity of `out` (asserted next), a buffer
            // distinct from the operands (fresh, or from the pool, which keeps only buffers no
            // tensor holds), as gemm requires. One comparison per
            // batch: a real check, not a debug one.
            assert!(c_offset + m * n <= out.capacity(), "matmul: output overrun");
            unsafe {
                gemm_blocks(
                    m,
                    k,
                    n,
                    sa.as_ptr().add(oa),
                    (la.strides[nb], la.strides[nb + 1]),
                    sb.as_ptr().add(ob),
                    (lb.strides[nb], lb.strides[nb + 1]),
                    out.spare_capacity_mut()
                        .as_mut_ptr()
                        .add(c_offset)
                        .cast::<T>(),
                );
            }
            c_offset += m * n;
        },
    );
    assert_eq!(
        c_offset, total,
        "matmul: wrote {c_offset} of {total} elements"
    );
    // SAFETY: the loop above ran gemm with beta = 0 on each of the `total / (m·n)` batches, in
    // order, covering `0..c_offset`, and `c_offset == total` (checked above), so all `total`
    // elements are initialized floats; `total <= capacity` as `out` was taken with room for it.
    unsafe { out.set_len(total) };
    out
}

/// Products of at least this many floating-point operations (`2·m·k·n`, about 4 MFLOP) are
/// split across the pool. Below it (every product of the course's small networks and of MNIST
/// at batch 32, whose largest is 1.5 MFLOP) the hand-off and the repeated packing of the shared
/// operand cost more than a second core gains. At 2^24 the 5 MFLOP products of W5's output
/// layer stayed on one thread while the other waited: 2^22 made that step ~5% faster
/// (`docs/performance.md`, part 6).
const PARALLEL_GEMM_FLOPS: usize = 1 << 22;

/// A raw pointer that may cross to a pool thread: the blocks it is used for are disjoint.
#[derive(Clone, Copy)]
struct SendPtr<P>(P);
// SAFETY: only used by `gemm_blocks`, whose blocks read shared operands and write disjoint
// parts of the output.
unsafe impl<P> Send for SendPtr<P> {}
// SAFETY: as above.
unsafe impl<P> Sync for SendPtr<P> {}

/// `C = A·B` into the row-major `m × n` buffer at `c` (row stride `n`), with `A` `m × k` and
/// `B` `k × n` read through their strides.
///
/// Large products are split into blocks of rows (or, when `n > m`, of columns) of `C`, the
/// block size fixed by the shape alone. Each element of `C` is then computed by the same gemm
/// kernel over the same `k` in the same order as the whole product computes it (the kernel and
/// its `k` blocking do not depend on `m` or `n`), so the result is bit-identical to one call,
/// whatever the number of threads; a test compares training at 1 and 2 threads bit for bit.
///
/// # Safety
/// Every element `A[i, p]`, `B[p, j]` reachable through the strides must be readable, and `c`
/// must be valid for writing `m · n` elements not overlapping `A` or `B`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_blocks<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: *const T,
    (rsa, csa): (isize, isize),
    b: *const T,
    (rsb, csb): (isize, isize),
    c: *mut T,
) {
    if small_gemm::applies(m, k, n, (rsa, csa), (rsb, csb)) {
        // SAFETY: the caller's contract, which is also `small_gemm`'s; `applies` checked that
        // the processor has what it needs and that k > 0.
        unsafe { small_gemm::small_gemm(m, k, n, a, (rsa, csa), b, (rsb, csb), c) };
        return;
    }
    let flops = m.saturating_mul(k).saturating_mul(n).saturating_mul(2);
    let rows = m >= n;
    let dim = if rows { m } else { n };
    // One block per thread (each block packs the whole other operand, so more blocks would
    // pack it more often), at least 64 rows or columns each, a multiple of 16 (the widest
    // kernel). Where the blocks end changes no bit: every element of C is the same gemm
    // arithmetic (one chain over `k`) whichever block computes it.
    let threads = crate::threads::num_threads();
    let block = dim.div_ceil(threads).max(64).next_multiple_of(16);
    if flops < PARALLEL_GEMM_FLOPS || dim <= block || threads <= 1 {
        // SAFETY: the caller's contract.
        unsafe {
            T::gemm(
                m,
                k,
                n,
                T::one(),
                a,
                rsa,
                csa,
                b,
                rsb,
                csb,
                T::zero(),
                c,
                n as isize,
                1,
            )
        };
        return;
    }
    let (pa, pb, pc) = (SendPtr(a), SendPtr(b), SendPtr(c));
    crate::threads::for_each_block(dim.div_ceil(block), move |i| {
        let (pa, pb, pc) = (pa, pb, pc);
        let start = i * block;
        let len = block.min(dim - start);
        // SAFETY: block `i` covers rows (or columns) start..start + len of A (or B) and C,
        // inside the caller's bounds; blocks write disjoint parts of C.
        unsafe {
            if rows {
                T::gemm(
                    len,
                    k,
                    n,
                    T::one(),
                    pa.0.offset(start as isize * rsa),
                    rsa,
                    csa,
                    pb.0,
                    rsb,
                    csb,
                    T::zero(),
                    pc.0.add(start * n),
                    n as isize,
                    1,
                );
            } else {
                T::gemm(
                    m,
                    k,
                    len,
                    T::one(),
                    pa.0,
                    rsa,
                    csa,
                    pb.0.offset(start as isize * csb),
                    rsb,
                    csb,
                    T::zero(),
                    pc.0.add(start),
                    n as isize,
                    1,
                );
            }
        }
    });
}
