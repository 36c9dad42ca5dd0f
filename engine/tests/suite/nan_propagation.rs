//! NaN is never hidden: every operation that compares gives NumPy's value at NaN (NaN
//! propagates through `relu`, `maximum`, `clamp`, `max`...; `argmax` finds the first NaN), and
//! its gradient there is PyTorch's. Numbers, `±0` and ties included, give exactly what they
//! gave before. Each check runs in f32 and f64.

use engine::{Float, Tensor};

fn t<T: Float>(values: &[f64]) -> Tensor<T> {
    Tensor::from_f64_slice(values, &[values.len()])
}

/// Elementwise equality that treats NaN as equal to NaN and tells `0.0` from `-0.0`.
#[track_caller]
fn assert_same<T: Float>(got: &Tensor<T>, expected: &[f64]) {
    let got = got.to_f64_vec();
    assert_eq!(got.len(), expected.len(), "{got:?} vs {expected:?}");
    for (g, e) in got.iter().zip(expected) {
        let same =
            (g.is_nan() && e.is_nan()) || (g == e && g.is_sign_negative() == e.is_sign_negative());
        assert!(same, "got {got:?}, expected {expected:?}");
    }
}

/// The gradient of `f(x).sum()` with respect to `x`.
fn grad_of<T: Float>(x: &[f64], f: impl Fn(&Tensor<T>) -> Tensor<T>) -> Tensor<T> {
    let x = t::<T>(x).to_leaf();
    f(&x).sum().backward();
    x.grad().expect("x gets a gradient")
}

const NAN: f64 = f64::NAN;

fn relu_propagates_nan<T: Float>() {
    let x = [NAN, -1.0, 0.0, -0.0, 2.0];
    assert_same(&t::<T>(&x).relu(), &[NAN, 0.0, 0.0, 0.0, 2.0]);
    // The course's mask dZ[Z <= 0] = 0: 0 at 0, and the gradient passes at NaN (PyTorch too).
    assert_same(&grad_of::<T>(&x, Tensor::relu), &[1.0, 0.0, 0.0, 0.0, 1.0]);
    // Forward mode agrees with reverse mode.
    let (_, tangent) = engine::jvp(|v| v[0].relu(), &[t::<T>(&x)], &[t::<T>(&[1.0; 5])]);
    assert_same(&tangent, &[1.0, 0.0, 0.0, 0.0, 1.0]);
}

#[test]
fn relu_propagates_nan_f32_f64() {
    relu_propagates_nan::<f32>();
    relu_propagates_nan::<f64>();
}

fn other_activations<T: Float>() {
    let x = [NAN, -2.0, 3.0];
    let slope = T::from_f64(0.5);
    assert_same(&t::<T>(&x).leaky_relu(slope), &[NAN, -1.0, 3.0]);
    assert_same(&grad_of::<T>(&x, |v| v.leaky_relu(slope)), &[0.5, 0.5, 1.0]);
    assert_same(&t::<T>(&x).abs(), &[NAN, 2.0, 3.0]);
    assert_same(&grad_of::<T>(&x, Tensor::abs), &[0.0, -1.0, 1.0]);
    let lo = T::from_f64(-1.0);
    let hi = T::from_f64(1.0);
    assert_same(&t::<T>(&x).clamp(lo, hi), &[NAN, -1.0, 1.0]);
    assert_same(&grad_of::<T>(&x, |v| v.clamp(lo, hi)), &[0.0, 0.0, 0.0]);
    assert_same(
        &t::<T>(&x).sigmoid(),
        &[NAN, 1.0 / (1.0 + 2f64.exp()), 1.0 / (1.0 + (-3f64).exp())]
            .map(|v| T::from_f64(v).as_f64()),
    );
    assert_same(&t::<T>(&[NAN]).tanh(), &[NAN]);
}

#[test]
fn other_activations_propagate_nan_f32_f64() {
    other_activations::<f32>();
    other_activations::<f64>();
}

fn maximum_and_minimum<T: Float>() {
    let a = t::<T>(&[NAN, 1.0, 2.0, 1.0, NAN]);
    let b = t::<T>(&[1.0, NAN, 1.0, 1.0, NAN]);
    // np.maximum / np.minimum: NaN in either operand, in either position, gives NaN.
    assert_same(&a.maximum(&b), &[NAN, NAN, 2.0, 1.0, NAN]);
    assert_same(&a.minimum(&b), &[NAN, NAN, 1.0, 1.0, NAN]);
    // PyTorch's rule: the larger operand gets dy, ties split it, and at NaN both get it.
    for (op, ga, gb) in [
        (
            "maximum",
            [1.0, 1.0, 1.0, 0.5, 1.0],
            [1.0, 1.0, 0.0, 0.5, 1.0],
        ),
        (
            "minimum",
            [1.0, 1.0, 0.0, 0.5, 1.0],
            [1.0, 1.0, 1.0, 0.5, 1.0],
        ),
    ] {
        let (pa, pb) = (a.to_leaf(), b.to_leaf());
        let y = if op == "maximum" {
            pa.maximum(&pb)
        } else {
            pa.minimum(&pb)
        };
        y.sum().backward();
        assert_same(&pa.grad().unwrap(), &ga);
        assert_same(&pb.grad().unwrap(), &gb);
        // Forward mode: the tangent is da·mask_a + db·mask_b with the same masks.
        let (_, tangent) = engine::jvp(
            |v| {
                if op == "maximum" {
                    v[0].maximum(&v[1])
                } else {
                    v[0].minimum(&v[1])
                }
            },
            &[a.clone(), b.clone()],
            &[t::<T>(&[1.0; 5]), t::<T>(&[10.0; 5])],
        );
        let expected: Vec<f64> = ga.iter().zip(&gb).map(|(x, y)| x + 10.0 * y).collect();
        assert_same(&tangent, &expected);
    }
}

#[test]
fn maximum_and_minimum_propagate_nan_f32_f64() {
    maximum_and_minimum::<f32>();
    maximum_and_minimum::<f64>();
}

fn reductions<T: Float>() {
    let x = Tensor::<T>::from_f64_slice(&[1.0, NAN, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    // np.max / np.min propagate NaN; np.argmax returns the first NaN.
    assert_same(&x.max(), &[NAN]);
    assert_same(&x.min(), &[NAN]);
    assert_same(&x.max_axis(1, false), &[NAN, 6.0]);
    assert_same(&x.min_axis(1, false), &[NAN, 4.0]);
    assert_same(&x.max_axis(0, false), &[4.0, NAN, 6.0]);
    assert_same(&x.min_axis(0, true), &[1.0, NAN, 3.0]);
    assert_eq!(x.argmax(), 1);
    assert_eq!(x.argmax_axis(1), vec![1, 2]);
    let first = Tensor::<T>::from_f64_slice(&[NAN, 9.0, NAN], &[3]);
    assert_eq!(first.argmax(), 0);
    // Gradients: a slice whose maximum is NaN gets NaN (PyTorch's amax); other slices as
    // before, including ties shared evenly.
    let p = Tensor::<T>::from_f64_slice(&[1.0, NAN, 3.0, 6.0, 5.0, 6.0], &[2, 3]).to_leaf();
    p.max_axis(1, false).sum().backward();
    assert_same(&p.grad().unwrap(), &[NAN, NAN, NAN, 0.5, 0.0, 0.5]);
    let q = t::<T>(&[1.0, NAN]).to_leaf();
    q.min().backward();
    assert_same(&q.grad().unwrap(), &[NAN, NAN]);
    // Sums, means and variances propagate NaN by arithmetic.
    assert_same(&x.sum(), &[NAN]);
    assert_same(&x.mean_axis(1, false), &[NAN, 5.0]);
    assert_same(
        &x.var_axis(1, false, false),
        &[NAN, 2.0 / 3.0].map(|v| T::from_f64(v).as_f64()),
    );
}

#[test]
fn reductions_propagate_nan_f32_f64() {
    reductions::<f32>();
    reductions::<f64>();
}

fn softmax_with_nan_and_inf<T: Float>() {
    let inf = f64::INFINITY;
    // Columns (axis 0): a NaN; one +inf; two +inf; a -inf.
    let x = Tensor::<T>::from_f64_slice(&[NAN, inf, inf, -inf, 0.0, 0.0, inf, 0.0], &[2, 4]);
    assert_same(&x.softmax(0), &[NAN, 1.0, NAN, 0.0, NAN, 0.0, NAN, 1.0]);
    assert_same(
        &x.log_softmax(0),
        &[NAN, 0.0, NAN, -inf, NAN, -inf, NAN, 0.0],
    );
    // One +inf: the limit's gradient is finite (softmax is constant near it).
    let z = Tensor::<T>::from_f64_slice(&[inf, 0.0, -1.0], &[3, 1]).to_leaf();
    (z.softmax(0) * Tensor::from_f64_slice(&[1.0, 2.0, 3.0], &[3, 1]))
        .sum()
        .backward();
    assert_same(&z.grad().unwrap(), &[0.0, 0.0, 0.0]);
}

#[test]
fn softmax_with_nan_and_inf_f32_f64() {
    softmax_with_nan_and_inf::<f32>();
    softmax_with_nan_and_inf::<f64>();
}

fn comparisons_and_where<T: Float>() {
    let a = t::<T>(&[NAN, 1.0]);
    let one = t::<T>(&[1.0, 1.0]);
    // IEEE (and NumPy): every comparison with NaN is false.
    for mask in [
        a.gt(&one),
        a.lt(&one),
        a.ge(&one),
        a.le(&one),
        a.eq_mask(&one),
    ] {
        assert_eq!(mask.to_f64_vec()[0], 0.0);
    }
    // A NaN mask selects `a` (NumPy's truthiness); the unselected NaN does not leak.
    let chosen = Tensor::where_mask(
        &t::<T>(&[NAN, 0.0]),
        &t::<T>(&[5.0, NAN]),
        &t::<T>(&[7.0, 8.0]),
    );
    assert_same(&chosen, &[5.0, 8.0]);
}

#[test]
fn comparisons_and_where_with_nan_f32_f64() {
    comparisons_and_where::<f32>();
    comparisons_and_where::<f64>();
}

/// A two-layer ReLU network with a NaN in one example's input: that example's output, the cost
/// and the weights' gradients are NaN; the other examples' outputs stay finite.
fn mlp_with_a_nan_input<T: Float>() {
    let x = Tensor::<T>::from_f64_slice(&[0.5, NAN, -1.0, 2.0, 0.25, 1.5], &[2, 3]);
    let w1 = Tensor::<T>::from_f64_slice(&[1.0, -1.0, 0.5, 2.0, -0.5, 0.25], &[3, 2]).to_leaf();
    let b1 = Tensor::<T>::from_f64_slice(&[0.1, -0.2, 0.3], &[3, 1]).to_leaf();
    let w2 = Tensor::<T>::from_f64_slice(&[1.0, -2.0, 0.5], &[1, 3]).to_leaf();
    let out = w2.matmul(&(w1.matmul(&x) + &b1).relu()).sigmoid();
    let values = out.to_f64_vec();
    assert!(
        values[1].is_nan(),
        "the NaN example's output is NaN: {values:?}"
    );
    assert!(values[0].is_finite() && values[2].is_finite(), "{values:?}");
    let y = Tensor::<T>::from_f64_slice(&[1.0, 0.0, 1.0], &[1, 3]);
    let cost = engine::loss::mse(&out, &y);
    assert!(cost.item().is_nan());
    cost.backward();
    for p in [&w1, &b1, &w2] {
        assert!(p.grad().unwrap().to_f64_vec().iter().any(|g| g.is_nan()));
    }
}

#[test]
fn mlp_with_a_nan_input_gives_nan_f32_f64() {
    mlp_with_a_nan_input::<f32>();
    mlp_with_a_nan_input::<f64>();
}
