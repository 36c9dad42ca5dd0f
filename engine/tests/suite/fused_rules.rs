//! Fused backward rules give the same bits as the unfused formulas they replace.
//!
//! ReLU's gradient `g · (1 - [x <= 0])` is computed in one pass over the input and the
//! upstream gradient instead of the operations of the formula, and the logits' gradient of the binary cross-entropy `g · (σ(z) - y)` in
//! one pass instead of three; the gradients must be the same to the last bit, signed zeros,
//! infinities and NaN included.

use engine::{Float, Tensor};

/// The elements' bits (as f64, which holds every f32 exactly), row-major.
fn bits<T: Float>(t: &Tensor<T>) -> Vec<u64> {
    t.to_vec().iter().map(|v| v.as_f64().to_bits()).collect()
}

#[test]
fn relu_gradient_matches_the_unfused_mask_bit_for_bit() {
    let values = [
        -2.5,
        -0.0,
        0.0,
        1e-300,
        -1e-300,
        3.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.7,
    ];
    let upstream = [1.5, -2.0, -3.0, 4.0, -0.5, -1.25, 2.0, -7.0, 8.0, -0.0];
    let x = Tensor::from_vec(values.to_vec(), &[2, 5]).to_leaf();
    let w = Tensor::from_vec(upstream.to_vec(), &[2, 5]);
    (x.relu() * &w).sum().backward();
    let got = x.grad().expect("x requires grad").to_vec();

    // The formula the rule used before fusing: ds · (1 - [x <= 0]).
    let plain = Tensor::from_vec(values.to_vec(), &[2, 5]);
    let mask = -plain.le_scalar(0.0) + 1.0;
    let want = (&w * &mask).to_vec();

    assert_eq!(got.len(), want.len());
    for (i, (g, e)) in got.iter().zip(&want).enumerate() {
        assert_eq!(
            g.to_bits(),
            e.to_bits(),
            "element {i}: x = {}, upstream = {}: got {g}, unfused {e}",
            values[i],
            upstream[i]
        );
    }
    // And the mask itself: 1 where x > 0 or NaN, 0 elsewhere.
    let expected_mask = [0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0];
    assert_eq!(mask.to_vec(), expected_mask.to_vec());
}

/// Large enough for the fused pass to be split across the engine's threads: the same bits as
/// the unfused formula at one and at two threads.
#[test]
fn relu_gradient_split_across_threads_matches_the_unfused_mask() {
    let (rows, cols) = (300, 400);
    let value = |i: usize| ((i * 7919) % 1001) as f32 / 100.0 - 5.0;
    let values: Vec<f32> = (0..rows * cols).map(value).collect();
    let upstream: Vec<f32> = (0..rows * cols).map(|i| value(i + 17) * 0.5).collect();
    let plain = Tensor::from_vec(values.clone(), &[rows, cols]);
    let w = Tensor::from_vec(upstream, &[rows, cols]);
    let want = bits(&(&w * &(-plain.le_scalar(0.0) + 1.0)));
    assert!(want.contains(&0) && want.iter().any(|&b| f64::from_bits(b) > 0.0));
    for threads in [1, 2] {
        engine::set_num_threads(threads);
        let x = Tensor::from_vec(values.clone(), &[rows, cols]).to_leaf();
        (x.relu() * &w).sum().backward();
        let got = bits(&x.grad().unwrap());
        assert!(got == want, "{threads} threads: the fused gradient differs");
    }
    engine::set_num_threads(0);
}

#[test]
fn relu_second_order_still_flows_through_the_upstream_gradient() {
    // d/dw of (d/dx sum(relu(x)·w)) = mask: the fused mask is a constant and the product with
    // the upstream gradient stays recorded under create_graph.
    let x = Tensor::from_vec(vec![-1.0, 2.0, 0.0, 3.0], &[4]).to_leaf();
    let w = Tensor::from_vec(vec![0.5, -1.5, 2.0, 4.0], &[4]).to_leaf();
    let y = (x.relu() * &w).sum();
    let gx = engine::autograd::grad(
        &y,
        &[&x],
        engine::autograd::BackwardOptions { create_graph: true },
    );
    gx[0].sum().backward();
    assert_eq!(w.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 1.0]);
}

#[test]
fn bce_gradient_matches_the_unfused_formula_bit_for_bit() {
    let logits = [
        -2.5,
        -0.0,
        0.0,
        40.0,
        -40.0,
        800.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.7,
        1e-300,
        -745.5,
    ];
    let targets = [1.0, 0.0, 1.0, 1.0, 0.0, 0.3, 1.0, 0.0, 1.0, 0.5, 0.0, 1.0];
    let upstream = [
        1.5, -2.0, -3.0, 4.0, -0.5, -1.25, 2.0, -7.0, 8.0, -0.0, 0.1, 3.0,
    ];
    let z = Tensor::from_vec(logits.to_vec(), &[3, 4]).to_leaf();
    let y = Tensor::from_vec(targets.to_vec(), &[3, 4]);
    let w = Tensor::from_vec(upstream.to_vec(), &[3, 4]);
    (z.bce_with_logits(&y) * &w).sum().backward();
    let got = bits(&z.grad().unwrap());
    // The formula the rule used before fusing, g · (σ(z) - y): three operations, on constants.
    let want: Vec<u64> = (&w * (z.detach().sigmoid() - &y))
        .to_vec()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    assert_eq!(got, want);

    // f32 too.
    let z32 =
        Tensor::<f32>::from_vec(logits.iter().map(|&v| v as f32).collect(), &[3, 4]).to_leaf();
    let y32 = Tensor::<f32>::from_vec(targets.iter().map(|&v| v as f32).collect(), &[3, 4]);
    let w32 = Tensor::<f32>::from_vec(upstream.iter().map(|&v| v as f32).collect(), &[3, 4]);
    (z32.bce_with_logits(&y32) * &w32).sum().backward();
    let want32 = &w32 * (z32.detach().sigmoid() - &y32);
    let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(z32.grad().unwrap().to_vec()), bits(want32.to_vec()));
}

/// `matmul_add` against `matmul` then `+`, values and gradients, bit for bit: a bias column,
/// a bias row, a transposed operand, and an output large enough to be split across threads.
#[test]
fn matmul_add_matches_matmul_then_add_bit_for_bit() {
    fn check<T: Float>(a: &[usize], b: &[usize], c: &[usize], transpose_a: bool) {
        let make = |shape: &[usize], seed: usize| {
            let n: usize = shape.iter().product();
            let v = (0..n)
                .map(|i| T::from_f64((((i * 7919 + seed * 104_729) % 1000) as f64 - 500.0) / 77.0))
                .collect();
            Tensor::from_vec(v, shape).to_leaf()
        };
        let (x, y, z) = (make(a, 1), make(b, 2), make(c, 3));
        let xa = if transpose_a {
            x.transpose(-2, -1)
        } else {
            x.clone()
        };
        let fused = xa.matmul_add(&y, &z);
        let plain = xa.matmul(&y) + &z;
        let bits = |t: &Tensor<T>| {
            t.to_vec()
                .iter()
                .map(|v| v.as_f64().to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&fused), bits(&plain), "values, {a:?}·{b:?} + {c:?}");
        let w = make(fused.shape(), 4);
        let mut grads = Vec::new();
        for out in [&fused, &plain] {
            for t in [&x, &y, &z] {
                t.zero_grad();
            }
            (out * &w).sum().backward();
            grads.push([&x, &y, &z].map(|t| bits(&t.grad().unwrap())));
        }
        assert_eq!(grads[0], grads[1], "gradients, {a:?}·{b:?} + {c:?}");
    }
    check::<f64>(&[3, 4], &[4, 5], &[3, 1], false);
    check::<f64>(&[4, 3], &[4, 5], &[5], true);
    check::<f32>(&[3, 4], &[4, 5], &[3, 5], false);
    check::<f64>(&[256, 64], &[64, 256], &[256, 1], false);
    engine::set_num_threads(2);
    check::<f32>(&[256, 64], &[64, 256], &[256, 1], false);
    engine::set_num_threads(0);
}

/// The matrix product's reverse rule reads the transposed operand through its permuted layout
/// (no view tensor): the gradients must be the bits of the formula written with views,
/// `g·Bᵀ` and `Aᵀ·g`, for dense and transposed operands.
#[test]
fn matmul_gradients_match_the_formula_with_transposed_views_bit_for_bit() {
    fn check<T: Float>(a_shape: [usize; 2], b_shape: [usize; 2], transposed: bool) {
        let make = |shape: [usize; 2], seed: usize| {
            let n = shape[0] * shape[1];
            let v = (0..n)
                .map(|i| T::from_f64((((i * 7919 + seed * 104_729) % 997) as f64 - 498.0) / 61.0))
                .collect();
            let stored = if transposed {
                [shape[1], shape[0]]
            } else {
                shape
            };
            Tensor::from_vec(v, &stored).to_leaf()
        };
        let (x, y) = (make(a_shape, 1), make(b_shape, 2));
        let view = |t: &Tensor<T>| if transposed { t.t() } else { t.clone() };
        let (a, b) = (view(&x), view(&y));
        let product = a.matmul(&b);
        let w = {
            let n = product.numel();
            let v = (0..n)
                .map(|i| T::from_f64(((i * 31) % 17) as f64 - 8.5))
                .collect();
            Tensor::from_vec(v, product.shape())
        };
        (&product * &w).sum().backward();
        let bits = |t: &Tensor<T>| {
            t.to_vec()
                .iter()
                .map(|v| v.as_f64().to_bits())
                .collect::<Vec<_>>()
        };
        let (a, b) = (a.detach(), b.detach());
        let want_a = w.matmul(&b.transpose(-2, -1));
        let want_b = a.transpose(-2, -1).matmul(&w);
        // The leaves' gradients are those of the views, transposed back when the views are.
        let got_a = if transposed {
            x.grad().unwrap().t()
        } else {
            x.grad().unwrap()
        };
        let got_b = if transposed {
            y.grad().unwrap().t()
        } else {
            y.grad().unwrap()
        };
        assert_eq!(bits(&got_a), bits(&want_a), "dA, {a_shape:?}·{b_shape:?}");
        assert_eq!(bits(&got_b), bits(&want_b), "dB, {a_shape:?}·{b_shape:?}");
    }
    for transposed in [false, true] {
        check::<f64>([5, 2], [2, 64], transposed);
        check::<f64>([1, 5], [5, 300], transposed);
        check::<f32>([30, 70], [70, 32], transposed);
        check::<f64>([120, 300], [300, 90], transposed);
    }
}

/// The softmax cross-entropy as one operation gives the value and the gradients of the formula
/// it replaced, `mean(-sum_axis(where(y = 0, 0, y · log_softmax(z))))`, to the last bit:
/// classes along either axis, soft and one-hot targets, zero and negative-zero targets, huge
/// and infinite logits, dense operands and transposed views (a mini-batch's targets are one).
#[test]
fn softmax_cross_entropy_matches_the_formula_bit_for_bit() {
    fn formula<T: Float>(z: &Tensor<T>, y: &Tensor<T>, axis: usize) -> Tensor<T> {
        let terms = y * z.log_softmax(axis);
        let absent = y.eq_mask(&Tensor::scalar(T::zero()));
        let terms = Tensor::where_mask(&absent, &Tensor::scalar(T::zero()), &terms);
        (-terms.sum_axis(axis, false)).mean()
    }
    /// `transposed`: the operands are transposed views of `shape` reversed (2-D), as a
    /// mini-batch's targets are; the leaves are the stored tensors.
    fn check<T: Float>(z: &[f64], y: &[f64], shape: &[usize], axis: usize, transposed: bool) {
        let make = |v: &[f64]| {
            let v = v.iter().map(|&x| T::from_f64(x)).collect();
            if transposed {
                Tensor::<T>::from_vec(v, &[shape[1], shape[0]]).to_leaf()
            } else {
                Tensor::<T>::from_vec(v, shape).to_leaf()
            }
        };
        let view = |t: &Tensor<T>| if transposed { t.t() } else { t.clone() };
        let mut results = Vec::new();
        for fused in [true, false] {
            let (z, y) = (make(z), make(y));
            let cost = if fused {
                engine::loss::softmax_cross_entropy(&view(&z), &view(&y), axis)
            } else {
                formula(&view(&z), &view(&y), axis)
            };
            (&cost * T::from_f64(0.75)).backward();
            results.push((
                bits(&cost),
                bits(&z.grad().unwrap()),
                bits(&y.grad().unwrap()),
            ));
        }
        assert_eq!(
            results[0].0,
            results[1].0,
            "{} value, {shape:?} axis {axis}",
            T::NAME
        );
        assert_eq!(
            results[0].1,
            results[1].1,
            "{} logits' gradient, {shape:?} axis {axis}",
            T::NAME
        );
        assert_eq!(
            results[0].2,
            results[1].2,
            "{} targets' gradient, {shape:?} axis {axis}",
            T::NAME
        );
    }
    let z = [
        0.3, -1.2, 2.5, 0.0, 1e3, -4.0, 0.7, 1.1, -0.3, 2.0, -7.5, 0.25, 3.0, -2.0, 0.5,
    ];
    let one_hot = [
        0.0, 1.0, 0.0, -0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
    ];
    let soft = [
        0.1, 0.6, 0.3, 0.0, 0.5, 0.5, 0.2, 0.2, 0.6, 0.9, 0.05, 0.05, 0.3, 0.3, 0.4,
    ];
    for y in [&one_hot, &soft] {
        for transposed in [false, true] {
            check::<f64>(&z, y, &[3, 5], 0, transposed);
            check::<f64>(&z, y, &[5, 3], 1, transposed);
            check::<f32>(&z, y, &[3, 5], 0, transposed);
        }
        check::<f64>(&z, y, &[3, 1, 5], 0, false);
    }
    // Infinite logits: the limits, NaN where the formula gives NaN.
    let mut inf = z;
    inf[0] = f64::INFINITY;
    inf[7] = f64::NEG_INFINITY;
    for transposed in [false, true] {
        check::<f64>(&inf, &one_hot, &[3, 5], 0, transposed);
        check::<f64>(&inf, &soft, &[3, 5], 0, transposed);
    }
}
