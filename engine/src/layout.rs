//! Shapes, strides and the strided walks every kernel uses.
//!
//! A tensor is a view: a shape, strides (in elements, possibly zero for broadcast dimensions)
//! and an offset into a shared buffer. Transpose, broadcast, narrow and most reshapes only make a
//! new [`Layout`]; kernels walk layouts with [`for_each_offset`] and [`for_each_offset2`], so views
//! are never copied just to be read.

use smallvec::{smallvec, SmallVec};

/// A tensor's dimensions, outermost first.
pub type Shape = SmallVec<[usize; 4]>;
/// Per-dimension steps through the buffer, in elements.
pub type Strides = SmallVec<[isize; 4]>;

/// How a tensor's elements sit in its buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Dimensions, outermost first.
    pub shape: Shape,
    /// Steps in elements per dimension; 0 for broadcast dimensions.
    pub strides: Strides,
    /// Position of element `[0, 0, ...]` in the buffer.
    pub offset: usize,
}

/// Number of elements of `shape`, or `None` when the shape is too large to address.
///
/// A shape is addressable when the product of its dimensions, zeros counted as 1, is at most
/// `isize::MAX`: then its element count fits a `usize`, its row-major strides fit an `isize`,
/// and every offset a strided walk computes stays in range. Computed with checked arithmetic, so
/// a product that wraps around (`[3, 6148914691236517206]` is 2 modulo 2^64) is refused rather
/// than taken for a small tensor.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    let mut extent = 1usize;
    for &d in shape {
        extent = extent.checked_mul(d.max(1))?;
    }
    if extent > isize::MAX as usize {
        return None;
    }
    Some(if shape.contains(&0) { 0 } else { extent })
}

/// [`checked_numel`], panicking with the operation's name and the shape when it is too large.
#[track_caller]
pub(crate) fn numel_or_panic(op: &str, shape: &[usize]) -> usize {
    match checked_numel(shape) {
        Some(n) => n,
        None => panic!(
            "{op}: shape {shape:?} is too large (the product of its dimensions exceeds isize::MAX)"
        ),
    }
}

/// [`numel_or_panic`] for a shape that is about to be allocated densely: its bytes must also fit
/// in `isize::MAX`, the most any buffer can hold.
#[track_caller]
pub(crate) fn alloc_numel_or_panic<T>(op: &str, shape: &[usize]) -> usize {
    let n = numel_or_panic(op, shape);
    let fits = n
        .checked_mul(std::mem::size_of::<T>())
        .is_some_and(|bytes| bytes <= isize::MAX as usize);
    if !fits {
        panic!(
            "{op}: shape {shape:?} has {n} elements of {} bytes, more than a buffer can hold",
            std::mem::size_of::<T>()
        );
    }
    n
}

/// Row-major strides of a dense tensor of this shape. Panics if the shape is too large to
/// address (see [`checked_numel`]).
#[track_caller]
pub fn contiguous_strides(shape: &[usize]) -> Strides {
    numel_or_panic("contiguous_strides", shape);
    let mut strides: Strides = smallvec![0; shape.len()];
    let mut step = 1isize;
    for (s, &d) in strides.iter_mut().zip(shape).rev() {
        *s = step;
        // Cannot overflow: the product of all `max(d, 1)` was just checked to fit an isize.
        step *= d.max(1) as isize;
    }
    strides
}

/// The shape two operands broadcast to under NumPy's rules (align trailing dimensions; a
/// dimension of 1 stretches), or `None` when they are incompatible.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Shape> {
    let n = a.len().max(b.len());
    let mut out: Shape = smallvec![0; n];
    for i in 0..n {
        let da = if i < n - a.len() {
            1
        } else {
            a[i - (n - a.len())]
        };
        let db = if i < n - b.len() {
            1
        } else {
            b[i - (n - b.len())]
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

impl Layout {
    /// A dense row-major layout. Panics if the shape is too large to address (see
    /// [`checked_numel`]).
    #[track_caller]
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout {
            shape: shape.into(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// Number of elements.
    ///
    /// Panics if the shape is too large to address; every layout a tensor holds was checked
    /// when the tensor was made (see [`Layout::fits_in`]), so this never fails for them.
    #[track_caller]
    pub fn numel(&self) -> usize {
        numel_or_panic("numel", &self.shape)
    }

    /// Whether every element of this view lies inside a buffer of `len` elements: the shape is
    /// addressable ([`checked_numel`]), and the lowest and highest positions the strides reach
    /// from `offset` are within `0..len` (for an empty view, `offset <= len`). Computed with
    /// checked arithmetic; kernels that read through raw pointers rely on it.
    pub fn fits_in(&self, len: usize) -> bool {
        let Some(n) = checked_numel(&self.shape) else {
            return false;
        };
        if self.shape.len() != self.strides.len() || self.offset > isize::MAX as usize {
            return false;
        }
        if n == 0 {
            return self.offset <= len;
        }
        let (mut low, mut high) = (self.offset as isize, self.offset as isize);
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            // d >= 1 here; the walk moves (d - 1)·s from its start along this dimension.
            let Some(reach) = (d as isize - 1).checked_mul(s) else {
                return false;
            };
            let bound = if reach < 0 { &mut low } else { &mut high };
            match bound.checked_add(reach) {
                Some(b) => *bound = b,
                None => return false,
            }
        }
        low >= 0 && (high as usize) < len
    }

    /// Whether the elements are dense and in row-major order (size-1 dimensions ignored), so the
    /// view is the slice `buffer[offset..offset + numel]`.
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1isize;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d as isize;
        }
        true
    }

    /// This layout stretched to `shape` (NumPy broadcasting), or `None` if incompatible.
    pub fn broadcast_to(&self, shape: &[usize]) -> Option<Layout> {
        if shape.len() < self.shape.len() {
            return None;
        }
        let lead = shape.len() - self.shape.len();
        let mut strides: Strides = smallvec![0; shape.len()];
        for (i, &target) in shape.iter().enumerate() {
            if i < lead {
                continue;
            }
            let (d, s) = (self.shape[i - lead], self.strides[i - lead]);
            strides[i] = if d == target {
                s
            } else if d == 1 {
                0
            } else {
                return None;
            };
        }
        Some(Layout {
            shape: shape.into(),
            strides,
            offset: self.offset,
        })
    }

    /// Dimensions reordered: output dimension `i` is input dimension `dims[i]`.
    pub fn permute(&self, dims: &[usize]) -> Layout {
        Layout {
            shape: dims.iter().map(|&d| self.shape[d]).collect(),
            strides: dims.iter().map(|&d| self.strides[d]).collect(),
            offset: self.offset,
        }
    }

    /// The sub-range `start..start + len` of dimension `axis`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Layout {
        let mut out = self.clone();
        out.shape[axis] = len;
        if len > 0 {
            out.offset = (self.offset as isize + start as isize * self.strides[axis]) as usize;
        }
        out
    }
}

/// Calls `f` with the buffer position of every element of `layout`, in row-major order.
pub fn for_each_offset(layout: &Layout, mut f: impl FnMut(usize)) {
    let zero: Strides = smallvec![0; layout.shape.len()];
    for_each_offset2(
        &layout.shape,
        &layout.strides,
        layout.offset,
        &zero,
        0,
        |a, _| f(a),
    );
}

/// Walks two layouts of the same `shape` in lockstep (row-major order), calling `f` with both
/// buffer positions. Broadcast operands pass zero strides.
pub fn for_each_offset2(
    shape: &[usize],
    strides_a: &[isize],
    offset_a: usize,
    strides_b: &[isize],
    offset_b: usize,
    mut f: impl FnMut(usize, usize),
) {
    if shape.contains(&0) {
        return;
    }
    let nd = shape.len();
    if nd == 0 {
        f(offset_a, offset_b);
        return;
    }
    let (inner, step_a, step_b) = (shape[nd - 1], strides_a[nd - 1], strides_b[nd - 1]);
    let mut index: Shape = smallvec![0; nd - 1];
    let (mut row_a, mut row_b) = (offset_a as isize, offset_b as isize);
    loop {
        let (mut a, mut b) = (row_a, row_b);
        for _ in 0..inner {
            f(a as usize, b as usize);
            a += step_a;
            b += step_b;
        }
        // Odometer over the outer dimensions.
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            row_a += strides_a[d];
            row_b += strides_b[d];
            if index[d] < shape[d] {
                break;
            }
            row_a -= strides_a[d] * shape[d] as isize;
            row_b -= strides_b[d] * shape[d] as isize;
            index[d] = 0;
        }
    }
}

/// Walks two layouts of the same `shape` in runs: dimensions of size 1 are dropped and adjacent
/// dimensions that both layouts step through uniformly are merged, then `f(offset_a, offset_b,
/// len, step_a, step_b)` is called once per run of the innermost remaining dimension, in
/// row-major order. Kernels specialise on the steps (1: dense, 0: broadcast), so a dense tensor
/// is one run and a bias broadcast along the rows of a matrix is one run per row.
pub fn for_each_run2(
    shape: &[usize],
    strides_a: &[isize],
    offset_a: usize,
    strides_b: &[isize],
    offset_b: usize,
    mut f: impl FnMut(usize, usize, usize, isize, isize),
) {
    if shape.contains(&0) {
        return;
    }
    // (size, stride in a, stride in b), outermost first.
    let mut dims: SmallVec<[(usize, isize, isize); 6]> = SmallVec::new();
    for ((&d, &sa), &sb) in shape.iter().zip(strides_a).zip(strides_b) {
        if d == 1 {
            continue;
        }
        if let Some(outer) = dims.last_mut() {
            if outer.1 == sa * d as isize && outer.2 == sb * d as isize {
                *outer = (outer.0 * d, sa, sb);
                continue;
            }
        }
        dims.push((d, sa, sb));
    }
    let Some((len, step_a, step_b)) = dims.pop() else {
        f(offset_a, offset_b, 1, 0, 0);
        return;
    };
    let mut index: SmallVec<[usize; 6]> = smallvec![0; dims.len()];
    let (mut a, mut b) = (offset_a as isize, offset_b as isize);
    loop {
        f(a as usize, b as usize, len, step_a, step_b);
        let mut d = dims.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            let (size, sa, sb) = dims[d];
            index[d] += 1;
            a += sa;
            b += sb;
            if index[d] < size {
                break;
            }
            a -= sa * size as isize;
            b -= sb * size as isize;
            index[d] = 0;
        }
    }
}

/// [`for_each_run2`] for one layout: `f(offset, len, step)` per run.
pub fn for_each_run(layout: &Layout, mut f: impl FnMut(usize, usize, isize)) {
    let zero: Strides = smallvec![0; layout.shape.len()];
    for_each_run2(
        &layout.shape,
        &layout.strides,
        layout.offset,
        &zero,
        0,
        |a, _, len, step, _| f(a, len, step),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules_follow_numpy() {
        assert_eq!(
            broadcast_shapes(&[3, 1], &[1, 4]).unwrap().as_slice(),
            &[3, 4]
        );
        assert_eq!(broadcast_shapes(&[5], &[2, 1]).unwrap().as_slice(), &[2, 5]);
        assert_eq!(broadcast_shapes(&[], &[2, 3]).unwrap().as_slice(), &[2, 3]);
        assert!(broadcast_shapes(&[3], &[4]).is_none());
    }

    #[test]
    fn checked_numel_refuses_wrapping_products() {
        assert_eq!(checked_numel(&[2, 3, 4]), Some(24));
        assert_eq!(checked_numel(&[]), Some(1));
        assert_eq!(checked_numel(&[0, 5]), Some(0));
        // 3 · 6148914691236517206 is 2 modulo 2^64; (2^32)² is 0.
        assert_eq!(checked_numel(&[3, 6148914691236517206]), None);
        assert_eq!(checked_numel(&[1 << 32, 1 << 32]), None);
        // Fits a usize but not an isize: strides could not address it.
        assert_eq!(checked_numel(&[1 << 63]), None);
        assert_eq!(checked_numel(&[1 << 62]), Some(1 << 62));
        // An empty tensor must still have addressable strides.
        assert_eq!(checked_numel(&[0, 1 << 63]), None);
    }

    #[test]
    fn fits_in_bounds_every_position_a_layout_reaches() {
        let dense = Layout::contiguous(&[2, 3]);
        assert!(dense.fits_in(6) && !dense.fits_in(5));
        let t = dense.permute(&[1, 0]);
        assert!(t.fits_in(6) && !t.fits_in(5));
        // Narrowed to the last column: positions 2 and 5.
        let last = dense.narrow(1, 2, 1);
        assert!(last.fits_in(6) && !last.fits_in(5));
        // Negative strides reaching below 0 are refused.
        let backwards = Layout {
            shape: smallvec![3],
            strides: smallvec![-1],
            offset: 1,
        };
        assert!(!backwards.fits_in(10));
        let reversed = Layout {
            offset: 2,
            ..backwards.clone()
        };
        assert!(reversed.fits_in(3));
        // Broadcast (zero-stride) dimensions reach nothing new.
        let b = Layout::contiguous(&[3, 1])
            .broadcast_to(&[3, 1 << 40])
            .unwrap();
        assert!(b.fits_in(3) && !b.fits_in(2));
        // Empty views only need their offset in range; wrapping shapes never fit.
        let empty = Layout::contiguous(&[0, 4]);
        assert!(empty.fits_in(0));
        let huge = Layout {
            shape: smallvec![3, 6148914691236517206],
            strides: smallvec![0, 0],
            offset: 0,
        };
        assert!(!huge.fits_in(usize::MAX));
    }

    #[test]
    fn transposed_walk_visits_column_major_positions() {
        let l = Layout::contiguous(&[2, 3]).permute(&[1, 0]);
        let mut seen = vec![];
        for_each_offset(&l, |o| seen.push(o));
        assert_eq!(seen, vec![0, 3, 1, 4, 2, 5]);
        assert!(!l.is_contiguous());
        assert!(Layout::contiguous(&[2, 1, 3]).is_contiguous());
    }

    #[test]
    fn runs_merge_uniform_dimensions_and_visit_in_row_major_order() {
        let mut runs = vec![];
        for_each_run(&Layout::contiguous(&[2, 1, 3]), |o, n, s| {
            runs.push((o, n, s))
        });
        assert_eq!(runs, vec![(0, 6, 1)]);
        // A (3, 1) column broadcast to (3, 4): one run per row, stride 0.
        let column = Layout::contiguous(&[3, 1]).broadcast_to(&[3, 4]).unwrap();
        runs.clear();
        for_each_run(&column, |o, n, s| runs.push((o, n, s)));
        assert_eq!(runs, vec![(0, 4, 0), (1, 4, 0), (2, 4, 0)]);
        // Every run expands to the same offsets as the element-wise walk.
        let t = Layout::contiguous(&[2, 3, 4])
            .permute(&[2, 0, 1])
            .narrow(1, 1, 1);
        let (mut by_run, mut by_element) = (vec![], vec![]);
        for_each_run(&t, |o, n, s| {
            by_run.extend((0..n).map(|k| (o as isize + k as isize * s) as usize))
        });
        for_each_offset(&t, |o| by_element.push(o));
        assert_eq!(by_run, by_element);
    }
}
