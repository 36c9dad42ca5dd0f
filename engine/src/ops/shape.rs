//! Operations that move elements without computing new ones: reshape, permute/transpose,
//! broadcast and its reverse `sum_to`, squeeze/unsqueeze, concat, narrow, and indexing along an
//! axis (index_select/index_add, gather/scatter_add). Views share the buffer where possible.

use std::sync::Arc;

use crate::autograd::{record, record_view, Op};
use crate::kernels;
use crate::layout::{alloc_numel_or_panic, checked_numel, numel_or_panic, Layout, Shape};
use crate::ops::{resolve_axis, resolve_position, Axis};
use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    /// The same elements in a new shape (row-major order). A view when the tensor is
    /// contiguous, a copy otherwise.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Tensor<T> {
        let n = numel_or_panic("reshape", shape);
        assert!(
            n == self.numel(),
            "reshape: cannot reshape shape {:?} ({} elements) into shape {:?} ({} elements)",
            self.shape(),
            self.numel(),
            shape,
            n
        );
        let op = Op::Reshape {
            from: self.shape_vec(),
        };
        if self.is_contiguous() {
            let mut layout = Layout::contiguous(shape);
            layout.offset = self.layout().offset;
            record_view(op, &[self], self.storage(), layout)
        } else {
            alloc_numel_or_panic::<T>("reshape", shape);
            record(op, &[self], self.to_vec(), shape)
        }
    }

    /// Reorders dimensions: output dimension `i` is input dimension `dims[i]`. A view.
    #[track_caller]
    pub fn permute(&self, dims: &[usize]) -> Tensor<T> {
        let nd = self.ndim();
        let mut seen = vec![false; nd];
        let valid = dims.len() == nd
            && dims
                .iter()
                .all(|&d| d < nd && !std::mem::replace(&mut seen[d], true));
        assert!(
            valid,
            "permute: {dims:?} is not a permutation of the axes of shape {:?}",
            self.shape()
        );
        let layout = self.layout().permute(dims);
        record_view(
            Op::Permute { dims: dims.into() },
            &[self],
            self.storage(),
            layout,
        )
    }

    /// Swaps two dimensions (negative axes count from the end). A view.
    #[track_caller]
    pub fn transpose(&self, a: impl Axis, b: impl Axis) -> Tensor<T> {
        let (a, b) = (
            resolve_axis("transpose", a, self.shape()),
            resolve_axis("transpose", b, self.shape()),
        );
        let mut dims: Shape = (0..self.ndim()).collect();
        dims.swap(a, b);
        self.permute(&dims)
    }

    /// The transpose of a matrix (NumPy's `.T` for 2-D). A view.
    #[track_caller]
    pub fn t(&self) -> Tensor<T> {
        assert!(
            self.ndim() == 2,
            "t: needs a matrix, got shape {:?}",
            self.shape()
        );
        self.permute(&[1, 0])
    }

    /// Stretches size-1 (and missing leading) dimensions to `shape`, NumPy style. A view.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor<T> {
        if self.shape() == shape {
            return self.clone();
        }
        numel_or_panic("broadcast_to", shape);
        // A `match`, not `unwrap_or_else`: a panic inside a closure would report the closure's
        // line instead of the caller's.
        let Some(layout) = self.layout().broadcast_to(shape) else {
            panic!(
                "broadcast_to: shape {:?} cannot be broadcast to shape {shape:?}",
                self.shape()
            )
        };
        record_view(
            Op::BroadcastTo {
                from: self.shape_vec(),
            },
            &[self],
            self.storage(),
            layout,
        )
    }

    /// Sums over the dimensions that broadcasting would stretch, giving `shape`: the reverse of
    /// [`Tensor::broadcast_to`], used to return gradients to a broadcast operand's shape.
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Tensor<T> {
        if self.shape() == shape {
            return self.clone();
        }
        if Layout::contiguous(shape)
            .broadcast_to(self.shape())
            .is_none()
        {
            panic!(
                "sum_to: shape {:?} cannot be summed to shape {shape:?}",
                self.shape()
            );
        }
        let out = kernels::sum_to(&self.storage(), self.layout(), shape);
        record(
            Op::SumTo {
                from: self.shape_vec(),
            },
            &[self],
            out,
            shape,
        )
    }

    /// Removes dimension `axis`, which must have size 1.
    #[track_caller]
    pub fn squeeze(&self, axis: impl Axis) -> Tensor<T> {
        let a = resolve_axis("squeeze", axis, self.shape());
        assert!(
            self.shape()[a] == 1,
            "squeeze: axis {axis} of shape {:?} has size {}, not 1",
            self.shape(),
            self.shape()[a]
        );
        let mut shape = self.shape_vec();
        shape.remove(a);
        self.reshape(&shape)
    }

    /// Inserts a dimension of size 1 at position `axis` (`0..=ndim`; `-1` appends one).
    #[track_caller]
    pub fn unsqueeze(&self, axis: impl Axis) -> Tensor<T> {
        let axis = resolve_position("unsqueeze", axis, self.shape());
        let mut shape = self.shape_vec();
        shape.insert(axis, 1);
        self.reshape(&shape)
    }

    /// All elements as one dimension.
    #[track_caller]
    pub fn flatten(&self) -> Tensor<T> {
        self.reshape(&[self.numel()])
    }

    /// Joins tensors along `axis`; their other dimensions must agree.
    #[track_caller]
    pub fn concat(parts: &[&Tensor<T>], axis: impl Axis) -> Tensor<T> {
        assert!(!parts.is_empty(), "concat: needs at least one tensor");
        let first = parts[0].shape();
        let axis = resolve_axis("concat", axis, first);
        for p in parts {
            let same = p.ndim() == first.len()
                && p.shape()
                    .iter()
                    .zip(first)
                    .enumerate()
                    .all(|(i, (a, b))| i == axis || a == b);
            assert!(
                same,
                "concat: shapes {first:?} and {:?} differ outside axis {axis}",
                p.shape()
            );
        }
        let mut shape: Shape = first.into();
        let total = parts
            .iter()
            .try_fold(0usize, |acc, p| acc.checked_add(p.shape()[axis]));
        let Some(total) = total else {
            panic!("concat: the sizes along axis {axis} add up to more than usize::MAX");
        };
        shape[axis] = total;
        numel_or_panic("concat", &shape);
        let data = kernels::concat(parts, axis, &shape);
        record(Op::Concat { axis }, parts, data, &shape)
    }

    /// The range `start..start + len` of dimension `axis`. A view.
    #[track_caller]
    pub fn narrow(&self, axis: impl Axis, start: usize, len: usize) -> Tensor<T> {
        let axis = resolve_axis("narrow", axis, self.shape());
        assert!(
            start
                .checked_add(len)
                .is_some_and(|end| end <= self.shape()[axis]),
            "narrow: range {start}..{start}+{len} exceeds size {} of axis {axis} in shape {:?}",
            self.shape()[axis],
            self.shape()
        );
        let layout = self.layout().narrow(axis, start, len);
        record_view(Op::Narrow { axis, start }, &[self], self.storage(), layout)
    }

    /// Slices picked along `axis` by index, in the given order (repeats allowed): the columns
    /// of a mini-batch, say.
    #[track_caller]
    pub fn index_select(&self, axis: impl Axis, indices: &[usize]) -> Tensor<T> {
        let axis = resolve_axis("index_select", axis, self.shape());
        let size = self.shape()[axis];
        if let Some(bad) = indices.iter().find(|&&i| i >= size) {
            panic!(
                "index_select: index {bad} out of range for axis {axis} of shape {:?}",
                self.shape()
            );
        }
        let mut shape = self.shape_vec();
        shape[axis] = indices.len();
        numel_or_panic("index_select", &shape);
        let data = kernels::index_select(self, axis, indices);
        record(
            Op::IndexSelect {
                axis,
                indices: indices.into(),
            },
            &[self],
            data,
            &shape,
        )
    }

    /// Zeros of length `size` along `axis`, with slice `k` of `self` added at `indices[k]`:
    /// the adjoint of [`Tensor::index_select`].
    #[track_caller]
    pub fn index_add(&self, axis: impl Axis, indices: &[usize], size: usize) -> Tensor<T> {
        let axis = resolve_axis("index_add", axis, self.shape());
        assert!(
            indices.len() == self.shape()[axis],
            "index_add: {} indices for shape {:?} along axis {axis}",
            indices.len(),
            self.shape()
        );
        if let Some(bad) = indices.iter().find(|&&i| i >= size) {
            panic!("index_add: index {bad} out of range for size {size}");
        }
        let mut shape = self.shape_vec();
        shape[axis] = size;
        numel_or_panic("index_add", &shape);
        let data = kernels::index_add(self, axis, indices, size);
        let indices: Arc<[usize]> = indices.into();
        record(
            Op::IndexAdd {
                axis,
                indices,
                size,
            },
            &[self],
            data,
            &shape,
        )
    }

    /// `out[o, j, i] = self[o, index[o, j, i], i]` along `axis`; `index` is row-major with
    /// `index_shape`, which matches `self` except along `axis` (PyTorch's `gather`).
    #[track_caller]
    pub fn gather(&self, axis: impl Axis, index: &[usize], index_shape: &[usize]) -> Tensor<T> {
        let axis = resolve_axis("gather", axis, self.shape());
        check_index("gather", self.shape(), axis, index, index_shape);
        let data = kernels::gather(self, axis, index, index_shape);
        record(
            Op::Gather {
                axis,
                index: index.into(),
            },
            &[self],
            data,
            index_shape,
        )
    }

    /// Zeros of `shape` with `self`'s elements added where [`Tensor::gather`] would have read
    /// them: its adjoint. `self` is shaped like the index.
    #[track_caller]
    pub fn scatter_add(&self, axis: impl Axis, index: &[usize], shape: &[usize]) -> Tensor<T> {
        let axis = resolve_axis("scatter_add", axis, shape);
        check_index("scatter_add", shape, axis, index, self.shape());
        let data = kernels::scatter_add(self, axis, index, shape);
        let op = Op::ScatterAdd {
            axis,
            index: index.into(),
            shape: shape.into(),
        };
        record(op, &[self], data, shape)
    }
}

#[track_caller]
fn check_index(op: &str, shape: &[usize], axis: usize, index: &[usize], index_shape: &[usize]) {
    assert!(
        axis < shape.len(),
        "{op}: axis {axis} out of range for shape {shape:?}"
    );
    let fits = index_shape.len() == shape.len()
        && index_shape
            .iter()
            .zip(shape)
            .enumerate()
            .all(|(i, (a, b))| i == axis || a == b)
        && checked_numel(index_shape) == Some(index.len())
        && checked_numel(shape).is_some();
    assert!(
        fits,
        "{op}: index of shape {index_shape:?} does not fit shape {shape:?} along axis {axis}"
    );
    if let Some(bad) = index.iter().find(|&&i| i >= shape[axis]) {
        panic!("{op}: index {bad} out of range for axis {axis} of shape {shape:?}");
    }
}
