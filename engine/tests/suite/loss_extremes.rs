//! Every loss at infinite and very large logits, in f32 and f64, against the exact values of
//! the mathematics (limits where the logits are infinite), values and gradients. The expected
//! numbers are worked out by hand in the comments, not taken from the code.

use engine::loss::{
    binary_cross_entropy, binary_cross_entropy_with_logits, mse, softmax_cross_entropy,
    softmax_cross_entropy_indices,
};
use engine::{Float, Tensor};

const INF: f64 = f64::INFINITY;

fn row<T: Float>(values: &[f64]) -> Tensor<T> {
    Tensor::from_f64_slice(values, &[1, values.len()])
}

/// Exact equality (infinities included; NaN never equals).
#[track_caller]
fn assert_exact<T: Float>(got: &Tensor<T>, expected: &[f64]) {
    assert_eq!(got.to_f64_vec(), expected, "{}", T::NAME);
}

/// The largest finite value of `T`, as f64.
fn big<T: Float>() -> f64 {
    T::max_value().as_f64()
}

fn bce_with_logits_at_extremes<T: Float>() {
    // Cost per element: -(y log σ(z) + (1-y) log(1-σ(z))).
    // z = +inf: σ = 1, cost (1-y)·inf: 0 for y = 1, inf otherwise.
    // z = -inf: σ = 0, cost y·inf: 0 for y = 0, inf otherwise.
    let z = row::<T>(&[INF, INF, INF, -INF, -INF, -INF]);
    let y = row::<T>(&[1.0, 0.0, 0.5, 0.0, 1.0, 0.5]);
    assert_exact(&z.bce_with_logits(&y), &[0.0, INF, INF, 0.0, INF, INF]);
    // d/dz = σ(z) - y, exact at the limits.
    let p = z.to_leaf();
    p.bce_with_logits(&y).sum().backward();
    assert_exact(&p.grad().unwrap(), &[0.0, 1.0, 0.5, 0.0, -1.0, -0.5]);

    // Large finite logits, up to the type's largest: σ rounds to exactly 0 or 1, the cost is
    // exp(-|z|) (rounds to 0) when the label agrees and |z| + exp(-|z|) (rounds to |z|) when
    // it does not; the gradient σ(z) - y rounds to 0 or ±1.
    let m = big::<T>();
    let z = row::<T>(&[1e30, 1e30, -1e30, -1e30, m, m, -m, -m]);
    let y = row::<T>(&[1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
    let e30 = T::from_f64(1e30).as_f64(); // 1e30 as T stores it
    assert_exact(
        &z.bce_with_logits(&y),
        &[0.0, e30, 0.0, e30, 0.0, m, 0.0, m],
    );
    let p = z.to_leaf();
    p.bce_with_logits(&y).sum().backward();
    assert_exact(
        &p.grad().unwrap(),
        &[0.0, 1.0, 0.0, -1.0, 0.0, 1.0, 0.0, -1.0],
    );

    // The mean over examples, and the probability form, which goes through the logits when
    // the probabilities are a recorded sigmoid: exactly 0 with a zero gradient.
    let z = row::<T>(&[INF, -INF, m, -m]);
    let y = row::<T>(&[1.0, 0.0, 1.0, 0.0]);
    assert_exact(&binary_cross_entropy_with_logits(&z, &y), &[0.0]);
    let p = z.to_leaf();
    binary_cross_entropy(&p.sigmoid(), &y).backward();
    assert_exact(&p.grad().unwrap(), &[0.0, 0.0, 0.0, 0.0]);
    // Probabilities that are constants are floored at e^-100 per log: a saturated wrong
    // prediction costs -log(e^-100 as T stores it), about 100 (PyTorch's BCELoss convention;
    // in f32 e^-100 is subnormal, so its log is near but not at -100), a right one exactly 0.
    let probs = row::<T>(&[1.0, 0.0]);
    assert_exact(&binary_cross_entropy(&probs, &y.narrow(1, 0, 2)), &[0.0]);
    let wrong = binary_cross_entropy(&probs, &row::<T>(&[0.0, 1.0]))
        .item()
        .as_f64();
    let floor = -T::from_f64((-100f64).exp()).ln().as_f64();
    assert!((floor - 100.0).abs() < 0.1, "{floor}");
    // Two equal terms, summed and halved: exact up to one rounding of the sum.
    assert!(
        (wrong - floor).abs() <= 2.0 * T::epsilon().as_f64() * floor,
        "{wrong} vs {floor}"
    );
}

#[test]
fn bce_with_logits_at_infinite_and_large_logits_f32_f64() {
    bce_with_logits_at_extremes::<f32>();
    bce_with_logits_at_extremes::<f64>();
}

fn softmax_cross_entropy_at_extremes<T: Float>() {
    // Classes along axis 0, one example per column. log softmax of a column with one +inf is
    // 0 there and -inf elsewhere; with a -inf it is -inf there and finite elsewhere.
    //   column 0: (inf, 0, -inf), label 0 -> cost 0
    //   column 1: (inf, 0, -inf), label 1 -> cost inf
    //   column 2: (-inf, 0, 0),   label 1 -> cost log 2
    //   column 3: (big, 0, -big), label 0 -> cost 0 (e^-big underflows)
    let m = big::<T>();
    let logits = Tensor::<T>::from_f64_slice(
        &[INF, INF, -INF, m, 0.0, 0.0, 0.0, 0.0, -INF, -INF, 0.0, -m],
        &[3, 4],
    );
    let labels = [0usize, 1, 1, 0];
    let one_hot = Tensor::<T>::from_f64_slice(
        &[1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        &[3, 4],
    );
    let ln2 = T::from_f64(2f64.ln()).as_f64();
    for (name, cost) in [
        ("one-hot", softmax_cross_entropy(&logits, &one_hot, 0)),
        ("indices", softmax_cross_entropy_indices(&logits, &labels)),
    ] {
        assert_eq!(cost.item().as_f64(), INF, "{name} {}", T::NAME);
    }
    // Without the column whose cost is infinite: (0 + log 2 + 0) / 3.
    let keep = [0, 2, 3];
    let logits = logits.index_select(1, &keep);
    let one_hot = one_hot.index_select(1, &keep);
    let labels: Vec<usize> = keep.iter().map(|&k| labels[k]).collect();
    let expected = (T::from_f64(ln2) / T::from_f64(3.0)).as_f64();
    for (name, cost) in [
        ("one-hot", softmax_cross_entropy(&logits, &one_hot, 0)),
        ("indices", softmax_cross_entropy_indices(&logits, &labels)),
    ] {
        let got = cost.item().as_f64();
        // The log of 2 and one division, each rounded once in T: within 2 ulp.
        let ulp = T::epsilon().as_f64() * expected;
        assert!(
            (got - expected).abs() <= 2.0 * ulp,
            "{name} {}: {got}",
            T::NAME
        );
    }
    // Gradient: (softmax(z) - y) / m, which at the limits is exactly
    //   column 0: (1, 0, 0) - (1, 0, 0) = 0;  column 2: (0, 1/2, 1/2) - (0, 1, 0);
    //   column 3: (1, 0, 0) - (1, 0, 0) = 0.
    let third = |v: f64| (T::from_f64(v) / T::from_f64(3.0)).as_f64();
    let expected = [0.0, 0.0, 0.0, 0.0, third(-0.5), 0.0, 0.0, third(0.5), 0.0];
    for name in ["one-hot", "indices"] {
        let z = logits.to_leaf();
        let cost = if name == "one-hot" {
            softmax_cross_entropy(&z, &one_hot, 0)
        } else {
            softmax_cross_entropy_indices(&z, &labels)
        };
        cost.backward();
        let g = z.grad().unwrap().to_f64_vec();
        for (k, (got, want)) in g.iter().zip(&expected).enumerate() {
            // -1/3 + 1/2·(1/3) is rounded a few times: within 4 ulp of the exact value.
            let ulp = T::epsilon().as_f64() * want.abs();
            assert!(
                (got - want).abs() <= 4.0 * ulp,
                "{name} {}: component {k} is {got}, expected {want} (all: {g:?})",
                T::NAME
            );
        }
    }
}

#[test]
fn softmax_cross_entropy_at_infinite_and_large_logits_f32_f64() {
    softmax_cross_entropy_at_extremes::<f32>();
    softmax_cross_entropy_at_extremes::<f64>();
}

fn mse_at_extremes<T: Float>() {
    // (inf - 0)² = inf, and its gradient 2(a - b)/n = inf; (big - 0)² overflows to inf, the
    // correctly rounded value of big²; (-big)² as well.
    let m = big::<T>();
    let a = row::<T>(&[INF, 1.0]);
    let b = row::<T>(&[0.0, 1.0]);
    assert_exact(&mse(&a, &b), &[INF]);
    let p = a.to_leaf();
    mse(&p, &b).backward();
    assert_exact(&p.grad().unwrap(), &[INF, 0.0]);
    assert_exact(&mse(&row::<T>(&[-m]), &row::<T>(&[0.0])), &[INF]);
    // A large error that does not overflow is exact: (2^60)² = 2^120.
    let e = 2f64.powi(60);
    assert_exact(&mse(&row::<T>(&[e]), &row::<T>(&[0.0])), &[2f64.powi(120)]);
}

#[test]
fn mse_at_infinite_and_large_values_f32_f64() {
    mse_at_extremes::<f32>();
    mse_at_extremes::<f64>();
}
