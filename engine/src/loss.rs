//! Loss functions, averaged over examples. Computed from logits wherever possible: the course's
//! large random initialization saturates sigmoids to exactly 0 or 1, where `log(a)` of the
//! probability is `-inf` (NumPy prints a cost of `inf`); from logits the same loss stays finite.

use crate::autograd::{record, Op};
use crate::ops::{resolve_axis, Axis};
use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    /// Elementwise binary cross-entropy of logits `self` against targets in `[0, 1]`:
    /// `max(z, 0) - z·y + log(1 + e^-|z|)`, which equals `-(y log σ(z) + (1-y) log(1-σ(z)))`
    /// and never overflows. Its gradient with respect to `z` is `σ(z) - y`.
    ///
    /// Infinite logits give the limit: `z = +inf` costs `(1-y)·inf`, so exactly 0 for `y = 1`
    /// (the formula would give `inf - inf`), and `z = -inf` costs `y·inf`, 0 for `y = 0`; the
    /// gradient `σ(±inf) - y` is exact. Large finite logits need nothing special (`z - z·y`
    /// cancels exactly for `y = 1`). NaN logits or targets give NaN.
    #[track_caller]
    pub fn bce_with_logits(&self, targets: &Tensor<T>) -> Tensor<T> {
        assert!(
            self.shape() == targets.shape(),
            "bce_with_logits: logits of shape {:?} and targets of shape {:?} differ",
            self.shape(),
            targets.shape()
        );
        let data = bce_with_logits_values(self, targets);
        record(Op::BceWithLogits, &[self, targets], data, self.shape())
    }
}

/// The elementwise loss `max(z, 0) - z·y + log(1 + e^-|z|)` of [`Tensor::bce_with_logits`],
/// with the limits at infinite logits.
fn bce_with_logits_values<T: Float>(logits: &Tensor<T>, targets: &Tensor<T>) -> Vec<T> {
    logits.with_data(|z| targets.with_data(|y| bce_values(z, y)))
}

/// [`bce_with_logits_values`] on the row-major elements, into a pooled buffer.
fn bce_values<T: Float>(z: &[T], y: &[T]) -> Vec<T> {
    let mut out = crate::buffers::take(z.len());
    out.extend(z.iter().zip(y).map(|(&z, &y)| {
        if z.is_infinite() {
            // The cost's limit: the weight of the log that diverges, times inf, and
            // 0 (not 0·inf) when that weight is 0.
            let weight = if z > T::zero() { T::one() - y } else { y };
            if weight == T::zero() {
                T::zero()
            } else {
                weight * T::infinity()
            }
        } else {
            z.max(T::zero()) - z * y + (-z.abs()).exp().ln_1p()
        }
    }));
    out
}

/// Mean binary cross-entropy from logits: the course's cost `-1/m Σ (y log a + (1-y) log(1-a))`
/// with `a = σ(z)`, finite for any `z`. Shapes `(1, m)`.
#[track_caller]
pub fn binary_cross_entropy_with_logits<T: Float>(
    logits: &Tensor<T>,
    targets: &Tensor<T>,
) -> Tensor<T> {
    logits.bce_with_logits(targets).mean()
}

/// Mean binary cross-entropy from probabilities `a`: the course's
/// `-1/m Σ (y log a + (1-y) log(1-a))`, finite where the course's NumPy prints `inf`.
///
/// - When `a` is the recorded output of [`Tensor::sigmoid`] (training, grad mode on), the loss
///   is computed from that sigmoid's logits `z`, as [`binary_cross_entropy_with_logits`] does
///   (and as Keras does): the same mathematics, exact even where `σ(z)` rounds to exactly 0 or
///   1, and the gradient reaching the logits is the stable `(σ(z) - y)/m` rather than
///   `inf·0 = NaN`. The probabilities still get their gradient `∂J/∂a`, computed from `z` so it
///   is exact too: hooks registered on `a` see it, [`Tensor::retain_grad`] stores it and
///   [`grad`](crate::grad) returns it. A hook that *replaces* it changes what reaches `z` by the
///   replacement's difference times `σ'(z)`, as if the gradient had flowed through the sigmoid.
///   The graph shows one `bce_of_sigmoid` node between `z` and the mean.
/// - Otherwise (constants, `no_grad`) each log is floored at -100, as PyTorch's `BCELoss`
///   does: a saturated probability gives a large finite cost (and a zero gradient), not the
///   exact one. Keep the logits when the exact value matters.
#[track_caller]
pub fn binary_cross_entropy<T: Float>(probs: &Tensor<T>, targets: &Tensor<T>) -> Tensor<T> {
    assert!(
        probs.shape() == targets.shape(),
        "binary_cross_entropy: probabilities of shape {:?} and targets of shape {:?} differ",
        probs.shape(),
        targets.shape()
    );
    if let Some(node) = probs.grad_fn() {
        if matches!(node.op(), Op::Sigmoid) {
            let logits = &node.inputs()[0];
            let data = bce_with_logits_values(logits, targets);
            let op = Op::BceOfSigmoid {
                probs: probs.clone(),
            };
            return record(op, &[logits, targets], data, probs.shape()).mean();
        }
    }
    // Flooring the argument (at e^-100) rather than the log keeps the backward finite too:
    // the log's rule divides by its argument, which is then never 0.
    let tiny = Tensor::scalar(T::from_f64((-100.0f64).exp()));
    let log_p = probs.maximum(&tiny).log();
    let log_q = (-probs + T::one()).maximum(&tiny).log();
    -(targets * log_p + (-targets + T::one()) * log_q).mean()
}

/// Mean softmax cross-entropy from logits `(classes, m)` against one-hot targets of the same
/// shape, with classes along `axis` (0 in the course's layout): `-1/m Σ y ⊙ log softmax(z)`.
///
/// Terms with target 0 count 0 even where `log softmax(z)` is `-inf` (a `-inf` logit, or a
/// `+inf` one elsewhere in the column), the convention `0·log 0 = 0` that makes the exact
/// cost finite there; the gradient is then `softmax(z) - y`'s limit. On finite logits the
/// result is the plain formula's, bit for bit.
///
/// Recorded as one operation ([`Op::SoftmaxCrossEntropy`]) whose value and gradients are those
/// of the formula `mean(-sum_axis(where(y = 0, 0, y · log_softmax(z))))` to the last bit
/// (`engine/tests/suite/fused_rules.rs`): one node and one backward rule instead of seven.
#[track_caller]
pub fn softmax_cross_entropy<T: Float>(
    logits: &Tensor<T>,
    one_hot: &Tensor<T>,
    axis: impl Axis,
) -> Tensor<T> {
    assert!(
        logits.shape() == one_hot.shape(),
        "softmax_cross_entropy: logits of shape {:?} and targets of shape {:?} differ",
        logits.shape(),
        one_hot.shape()
    );
    let axis = resolve_axis("softmax_cross_entropy", axis, logits.shape());
    let (value, log_softmax) = softmax_cross_entropy_value(logits, one_hot, axis);
    record(
        Op::SoftmaxCrossEntropy {
            axis,
            log_softmax: Tensor::dense(log_softmax, logits.shape()),
        },
        &[logits, one_hot],
        vec![value],
        &[],
    )
}

/// The value of [`softmax_cross_entropy`], computed as the formula
/// `mean(-sum_axis(where(y = 0, 0, y · log_softmax(z))))` computes it, rounding for rounding:
/// the same log-softmax kernel, per example a sum over the classes in order from +0, negated,
/// and the mean's pairwise sum divided by the number of examples. Where `y = 0` the term is 0
/// (`y·log p` is ±0 or NaN there). Also returns the log-softmax, for the gradient.
fn softmax_cross_entropy_value<T: Float>(
    logits: &Tensor<T>,
    one_hot: &Tensor<T>,
    axis: usize,
) -> (T, Vec<T>) {
    use crate::kernels::{pairwise_sum, reduce_axis_of, softmax_axis, split_at_axis};
    let ls = softmax_axis(logits, axis, true);
    let terms: Vec<T> = one_hot.with_data(|y| {
        y.iter()
            .zip(&ls)
            .map(|(&y, &l)| if y == T::zero() { T::zero() } else { y * l })
            .collect()
    });
    let mut per_example = reduce_axis_of(
        &terms,
        split_at_axis(logits.shape(), axis),
        T::zero(),
        |a, b| a + b,
    );
    for sum in per_example.iter_mut() {
        *sum = -*sum;
    }
    let value = pairwise_sum(&per_example) / T::from_f64(per_example.len() as f64);
    (value, ls)
}

/// Mean softmax cross-entropy from logits `(classes, m)` (classes along axis 0) against class
/// indices, one per example.
#[track_caller]
pub fn softmax_cross_entropy_indices<T: Float>(logits: &Tensor<T>, classes: &[usize]) -> Tensor<T> {
    assert!(
        logits.ndim() == 2 && classes.len() == logits.shape()[1],
        "softmax_cross_entropy_indices: logits of shape {:?} and {} class indices do not match",
        logits.shape(),
        classes.len()
    );
    let picked = logits
        .log_softmax(0)
        .gather(0, classes, &[1, classes.len()]);
    -picked.mean()
}

/// Mean squared error `1/n Σ (a - b)²` over all elements.
#[track_caller]
pub fn mse<T: Float>(predictions: &Tensor<T>, targets: &Tensor<T>) -> Tensor<T> {
    assert!(
        predictions.shape() == targets.shape(),
        "mse: predictions of shape {:?} and targets of shape {:?} differ",
        predictions.shape(),
        targets.shape()
    );
    (predictions - targets).square().mean()
}
