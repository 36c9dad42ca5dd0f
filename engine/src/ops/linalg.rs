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
        let (batch, [m, k, n], shape) = product_shape("matmul", self, other);
        let data = kernels::matmul(self, other, &batch, m, k, n);
        record(Op::MatMul, &[self, other], data, &shape)
    }

    /// `self · other + bias`: [`Tensor::matmul`] plus `bias` broadcast to the product's shape,
    /// as one operation. A dense layer's `W·X + b` (a `(n_out, 1)` bias column) records one
    /// graph node instead of two, and the bias is added into the product's buffer instead of a
    /// new one; every value, and every gradient, is the same to the bit as
    /// `self.matmul(other) + bias`.
    #[track_caller]
    pub fn matmul_add(&self, other: &Tensor<T>, bias: &Tensor<T>) -> Tensor<T> {
        let (batch, [m, k, n], shape) = product_shape("matmul_add", self, other);
        assert!(
            broadcast_shapes(bias.shape(), &shape).as_deref() == Some(&shape[..]),
            "matmul_add: a bias of shape {:?} does not broadcast to the product's shape {:?}",
            bias.shape(),
            shape
        );
        let mut data = kernels::matmul(self, other, &batch, m, k, n);
        kernels::add_broadcast_into(&mut data, &shape, bias);
        record(Op::MatMulAdd, &[self, other, bias], data, &shape)
    }

    /// Alias of [`Tensor::matmul`] for readers of the course's `np.dot(W, A)`.
    #[track_caller]
    pub fn dot(&self, other: &Tensor<T>) -> Tensor<T> {
        self.matmul(other)
    }
}

/// The checks of a product `a · b` of `(..., m, k)` and `(..., k, n)` operands (naming `op` in
/// the panic): the broadcast batch dimensions, `[m, k, n]` and the output's shape.
#[track_caller]
fn product_shape<T: Float>(op: &str, a: &Tensor<T>, b: &Tensor<T>) -> (Shape, [usize; 3], Shape) {
    let (sa, sb) = (a.shape(), b.shape());
    assert!(
        sa.len() >= 2 && sb.len() >= 2,
        "{op}: needs operands with at least 2 dimensions, got shapes {sa:?} and {sb:?}"
    );
    let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (k2, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    assert!(
        k == k2,
        "{op}: shapes {sa:?} and {sb:?} are not aligned (inner dimensions {k} and {k2})"
    );
    // `let else`, not `unwrap_or_else`: a panic in a closure would report the closure's line.
    let Some(batch) = broadcast_shapes(&sa[..sa.len() - 2], &sb[..sb.len() - 2]) else {
        panic!("{op}: batch dimensions of shapes {sa:?} and {sb:?} cannot be broadcast together")
    };
    let shape: Shape = batch.iter().copied().chain([m, n]).collect();
    numel_or_panic(op, &shape);
    (batch, [m, k, n], shape)
}
