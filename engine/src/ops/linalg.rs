//! Matrix products on `matrixmultiply` (sgemm/dgemm with strides).

use crate::autograd::{record, Op};
use crate::kernels;
use crate::layout::{broadcast_shapes, numel_or_panic, Shape};
use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    /// Matrix product `self · other` of `(..., m, k)` and `(..., k, n)` operands; leading batch
    /// dimensions broadcast. Transposed or broadcast views are passed to the gemm kernel through
    /// their strides, never copied.
    #[track_caller]
    pub fn matmul(&self, other: &Tensor<T>) -> Tensor<T> {
        let (sa, sb) = (self.shape(), other.shape());
        assert!(
            sa.len() >= 2 && sb.len() >= 2,
            "matmul: needs operands with at least 2 dimensions, got shapes {sa:?} and {sb:?}"
        );
        let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
        let (k2, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
        assert!(
            k == k2,
            "matmul: shapes {sa:?} and {sb:?} are not aligned (inner dimensions {k} and {k2})"
        );
        // `let else`, not `unwrap_or_else`: a panic in a closure would report the closure's line.
        let Some(batch) = broadcast_shapes(&sa[..sa.len() - 2], &sb[..sb.len() - 2]) else {
            panic!(
                "matmul: batch dimensions of shapes {sa:?} and {sb:?} cannot be broadcast together"
            )
        };
        let shape: Shape = batch.iter().copied().chain([m, n]).collect();
        numel_or_panic("matmul", &shape);
        let data = kernels::matmul(self, other, &batch, m, k, n);
        record(Op::MatMul, &[self, other], data, &shape)
    }

    /// Alias of [`Tensor::matmul`] for readers of the course's `np.dot(W, A)`.
    #[track_caller]
    pub fn dot(&self, other: &Tensor<T>) -> Tensor<T> {
        self.matmul(other)
    }
}
