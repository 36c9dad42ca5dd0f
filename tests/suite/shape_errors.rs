//! Shape errors are programmer errors: they panic with a message naming the operation and both
//! shapes (the `expected` strings below are the messages' exact prefixes).

use ferrograd::engine::{backward_with, loss, BackwardOptions, Tensor};

fn t(shape: &[usize]) -> Tensor<f64> {
    Tensor::zeros(shape)
}

#[test]
#[should_panic(expected = "add: shapes [2, 3] and [4] cannot be broadcast together")]
fn add_incompatible() {
    let _ = t(&[2, 3]) + t(&[4]);
}

#[test]
#[should_panic(expected = "sub: shapes [3, 1] and [2, 4] cannot be broadcast together")]
fn sub_incompatible() {
    let _ = &t(&[3, 1]) - &t(&[2, 4]);
}

#[test]
#[should_panic(expected = "mul: shapes [5] and [2, 3] cannot be broadcast together")]
fn mul_incompatible() {
    let _ = t(&[5]) * &t(&[2, 3]);
}

#[test]
#[should_panic(expected = "div: shapes [2, 2] and [3] cannot be broadcast together")]
fn div_incompatible() {
    let _ = &t(&[2, 2]) / t(&[3]);
}

#[test]
#[should_panic(expected = "pow: shapes [2] and [3] cannot be broadcast together")]
fn pow_incompatible() {
    let _ = t(&[2]).pow(&t(&[3]));
}

#[test]
#[should_panic(expected = "maximum: shapes [4, 2] and [4, 3] cannot be broadcast together")]
fn maximum_incompatible() {
    let _ = t(&[4, 2]).maximum(&t(&[4, 3]));
}

#[test]
#[should_panic(expected = "minimum: shapes [2, 3] and [3, 2] cannot be broadcast together")]
fn minimum_incompatible() {
    let _ = t(&[2, 3]).minimum(&t(&[3, 2]));
}

#[test]
#[should_panic(expected = "gt: shapes [2] and [3] cannot be broadcast together")]
fn comparison_incompatible() {
    let _ = t(&[2]).gt(&t(&[3]));
}

#[test]
#[should_panic(expected = "where: shapes [2] and [3] cannot be broadcast together")]
fn where_incompatible() {
    let _ = Tensor::where_mask(&t(&[1]), &t(&[2]), &t(&[3]));
}

#[test]
#[should_panic(
    expected = "matmul: shapes [2, 3] and [4, 5] are not aligned (inner dimensions 3 and 4)"
)]
fn matmul_inner_dimensions() {
    let _ = t(&[2, 3]).matmul(&t(&[4, 5]));
}

#[test]
#[should_panic(
    expected = "matmul: batch dimensions of shapes [2, 3, 4] and [3, 4, 5] cannot be broadcast together"
)]
fn matmul_batch_dimensions() {
    let _ = t(&[2, 3, 4]).matmul(&t(&[3, 4, 5]));
}

#[test]
#[should_panic(
    expected = "matmul: needs operands with at least 2 dimensions, got shapes [3] and [3, 2]"
)]
fn matmul_vector() {
    let _ = t(&[3]).matmul(&t(&[3, 2]));
}

#[test]
#[should_panic(
    expected = "reshape: cannot reshape shape [2, 3] (6 elements) into shape [4] (4 elements)"
)]
fn reshape_wrong_count() {
    let _ = t(&[2, 3]).reshape(&[4]);
}

#[test]
#[should_panic(expected = "broadcast_to: shape [2, 3] cannot be broadcast to shape [3, 3]")]
fn broadcast_to_incompatible() {
    let _ = t(&[2, 3]).broadcast_to(&[3, 3]);
}

#[test]
#[should_panic(expected = "sum_to: shape [2, 3] cannot be summed to shape [2]")]
fn sum_to_incompatible() {
    let _ = t(&[2, 3]).sum_to(&[2]);
}

#[test]
#[should_panic(expected = "concat: shapes [2, 3] and [2, 4] differ outside axis 0")]
fn concat_mismatch() {
    let _ = Tensor::concat(&[&t(&[2, 3]), &t(&[2, 4])], 0);
}

#[test]
#[should_panic(expected = "gather: index of shape [2, 3] does not fit shape [3, 4] along axis 0")]
fn gather_index_shape() {
    let _ = t(&[3, 4]).gather(0, &[0; 6], &[2, 3]);
}

#[test]
#[should_panic(expected = "set_data: shape [3] cannot replace shape [2]")]
fn set_data_shape() {
    t(&[2]).to_leaf().set_data(&t(&[3]));
}

#[test]
#[should_panic(
    expected = "bce_with_logits: logits of shape [1, 4] and targets of shape [4, 1] differ"
)]
fn bce_with_logits_shapes() {
    let _ = loss::binary_cross_entropy_with_logits(&t(&[1, 4]), &t(&[4, 1]));
}

#[test]
#[should_panic(
    expected = "binary_cross_entropy: probabilities of shape [1, 4] and targets of shape [1, 3] differ"
)]
fn bce_shapes() {
    let _ = loss::binary_cross_entropy(&t(&[1, 4]), &t(&[1, 3]));
}

#[test]
#[should_panic(
    expected = "softmax_cross_entropy: logits of shape [3, 4] and targets of shape [4, 3] differ"
)]
fn softmax_cross_entropy_shapes() {
    let _ = loss::softmax_cross_entropy(&t(&[3, 4]), &t(&[4, 3]), 0);
}

#[test]
#[should_panic(expected = "mse: predictions of shape [2] and targets of shape [3] differ")]
fn mse_shapes() {
    let _ = loss::mse(&t(&[2]), &t(&[3]));
}

#[test]
#[should_panic(expected = "backward: output gradient of shape [3] does not match output shape [2]")]
fn backward_gradient_shape() {
    let y = t(&[2]).to_leaf().exp();
    backward_with(&y, &t(&[3]), BackwardOptions::default());
}

#[test]
#[should_panic(expected = "backward: needs a scalar output or an explicit gradient, got shape [2]")]
fn backward_from_a_vector() {
    t(&[2]).to_leaf().exp().backward();
}

#[test]
#[should_panic(expected = "from_vec: 5 elements cannot have shape [2, 3] (6 elements)")]
fn from_vec_wrong_length() {
    let _ = Tensor::<f32>::from_vec(vec![0.0; 5], &[2, 3]);
}
