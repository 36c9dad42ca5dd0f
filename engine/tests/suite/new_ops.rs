//! The elementwise, reduction, shape and indexing ops added for modern architectures: values
//! against known constants and direct loop implementations written here, accuracy at large
//! |x|. Their derivatives (first and second order, forward mode, f32) are checked by the op
//! table (`op_table/rows.rs`).

use crate::support::{max_abs_diff, t};
use engine::ops::embedding::{CrossEntropyOptions, Reduction};
use engine::{grad, BackwardOptions, Tensor};

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
}

fn scalar_op(x: f64, f: impl Fn(&Tensor<f64>) -> Tensor<f64>) -> f64 {
    f(&Tensor::scalar(x)).item()
}

/// Derivative of an elementwise op at one point, by reverse mode.
fn derivative_at(x: f64, f: impl Fn(&Tensor<f64>) -> Tensor<f64>) -> f64 {
    let leaf = Tensor::scalar(x).to_leaf();
    grad(&f(&leaf), &[&leaf], BackwardOptions::default())[0].item()
}

// ----- elementwise --------------------------------------------------------------------------

#[test]
fn erf_and_erfc_match_tabulated_values_to_the_last_bits() {
    // Values to 17+ significant digits (Abramowitz & Stegun table 7.1 extended; any
    // arbitrary-precision library gives the same digits).
    let erf = [
        (1e-10, 1.128_379_167_095_512_6e-10),
        (0.5, 0.520_499_877_813_046_5),
        (1.0, 0.842_700_792_949_714_9),
        (1.5, 0.966_105_146_475_310_7),
        (2.0, 0.995_322_265_018_952_7),
        (3.0, 0.999_977_909_503_001_4),
        (-1.0, -0.842_700_792_949_714_9),
    ];
    for (x, want) in erf {
        let got = scalar_op(x, Tensor::erf);
        // libm's erf is within 1 ulp; two ulps of slack for the table's rounding.
        assert!(
            close(got, want, 4.5e-16),
            "erf({x}) = {got:e}, want {want:e}"
        );
    }
    let erfc = [
        (5.0, 1.537_459_794_428_035e-12),
        (10.0, 2.088_487_583_762_545e-45),
        (-2.0, 1.995_322_265_018_952_7),
    ];
    for (x, want) in erfc {
        let got = scalar_op(x, Tensor::erfc);
        assert!(
            close(got, want, 1e-15),
            "erfc({x}) = {got:e}, want {want:e}"
        );
    }
}

#[test]
fn erf_agrees_with_its_maclaurin_series() {
    // erf x = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1)), summed until the terms vanish; for
    // |x| ≤ 1.5 the largest term is below 2, so the sum loses less than 1e-15.
    for k in -30..=30 {
        let x = k as f64 * 0.05;
        let (mut term, mut sum, mut n): (f64, f64, f64) = (x, 0.0, 0.0);
        while term.abs() > 1e-20 * sum.abs().max(1e-300) || n < 2.0 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x * x / n;
        }
        let want = sum * std::f64::consts::FRAC_2_SQRT_PI;
        let got = scalar_op(x, Tensor::erf);
        assert!(
            (got - want).abs() < 2e-16 + 1e-15 * want.abs(),
            "erf({x}): {got:e} vs {want:e}"
        );
    }
}

#[test]
fn gelu_variants_match_their_definitions_and_stay_accurate_in_the_far_tails() {
    let s2 = std::f64::consts::SQRT_2;
    for k in -40..=40 {
        let x = k as f64 * 0.1;
        // The series is exact to ~1e-16 while its terms stay small (|x/√2| ≤ 1.5).
        if x.abs() <= 2.0 {
            let exact = x * 0.5 * (1.0 + libm_free_erf(x / s2));
            let got = scalar_op(x, Tensor::gelu);
            assert!(
                (got - exact).abs() < 1e-15,
                "gelu({x}) = {got:e}, want {exact:e}"
            );
        }
        let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
        let approx = 0.5 * x * (1.0 + u.tanh());
        let got = scalar_op(x, Tensor::gelu_tanh);
        assert!(
            (got - approx).abs() < 1e-15,
            "gelu_tanh({x}) = {got:e}, want {approx:e}"
        );
    }
    // Tail values from tables of the normal distribution: Φ(-4) = 3.16712418331199e-5,
    // Φ(-10) = 7.61985302416053e-24 (15 digits). The form 1 + erf(x/√2) would cancel to
    // 0 at -10. Φ's relative condition number is about x² there, so rounding x/√2 alone
    // costs ~x² ulp: 1e-13 covers it with margin at both points.
    let g = scalar_op(-4.0, Tensor::gelu);
    assert!(
        close(g, -4.0 * 3.167_124_183_311_99e-5, 1e-13),
        "gelu(-4) = {g:e}"
    );
    let g = scalar_op(-10.0, Tensor::gelu);
    assert!(
        close(g, -7.619_853_024_160_53e-23, 1e-13),
        "gelu(-10) = {g:e}"
    );
    // Saturation: exactly x and slope 1 far right; far left values and slopes underflow to
    // (signed) zero or stay tiny, never NaN.
    for x in [-800.0, -40.0, 40.0, 800.0] {
        for f in [Tensor::gelu, Tensor::gelu_tanh, Tensor::silu] {
            let y = scalar_op(x, f);
            let dy = derivative_at(x, f);
            assert!(y.is_finite() && dy.is_finite(), "{x}: {y} {dy}");
            if x > 0.0 {
                assert_eq!(y, x);
                assert_eq!(dy, 1.0);
            } else {
                // silu(-40) = -40·e^-40/(1 + e^-40) ≈ -1.7e-16 is the largest of these.
                let bound = if x == -800.0 { 1e-300 } else { 1e-14 };
                assert!(y <= 0.0 && y.abs() < bound, "{x}: {y:e}");
                assert!(dy.abs() < bound, "{x}: {dy:e}");
            }
        }
    }
    let s40 = scalar_op(-40.0, Tensor::silu);
    let want = -40.0 * (-40.0f64).exp() / (1.0 + (-40.0f64).exp());
    assert!(
        close(s40, want, 1e-15),
        "silu(-40) = {s40:e}, want {want:e}"
    );
}

/// erf by its series for small arguments and continued fraction otherwise, written
/// independently of the engine for the GELU comparison (accurate to ~1e-16 on [-3, 3]).
fn libm_free_erf(x: f64) -> f64 {
    if x.abs() > 3.0 {
        return x.signum() * (1.0 - erfc_cf(x.abs()));
    }
    let (mut term, mut sum, mut n) = (x, 0.0, 0.0);
    while n < 200.0 {
        sum += term / (2.0 * n + 1.0);
        n += 1.0;
        term *= -x * x / n;
    }
    sum * std::f64::consts::FRAC_2_SQRT_PI
}

/// erfc x for x > 3 by Lentz's continued fraction.
fn erfc_cf(x: f64) -> f64 {
    // erfc x = e^(-x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + ...)))))
    let mut f = x;
    for k in (1..60).rev() {
        f = x + (k as f64 / 2.0) / f;
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() / f
}

#[test]
fn silu_softplus_log1p_expm1_rsqrt_values() {
    for k in -20..=20 {
        let x = k as f64 * 0.37;
        let silu = x / (1.0 + (-x).exp());
        assert!((scalar_op(x, Tensor::silu) - silu).abs() < 1e-15);
        let softplus = (1.0 + x.exp()).ln();
        assert!((scalar_op(x, Tensor::softplus) - softplus).abs() < 1e-15);
    }
    // softplus: exactly x for large x, e^x (relative accuracy) for very negative x.
    assert_eq!(scalar_op(800.0, Tensor::softplus), 800.0);
    assert_eq!(scalar_op(40.0, Tensor::softplus), 40.0);
    // log1p(e^-30) = e^-30 - e^-60/2 + ...: relative accuracy, not 1 + e^-30 - 1.
    let e30 = (-30.0f64).exp();
    assert!(close(
        scalar_op(-30.0, Tensor::softplus),
        e30 - e30 * e30 / 2.0,
        1e-15
    ));
    assert_eq!(scalar_op(-800.0, Tensor::softplus), 0.0);
    assert_eq!(derivative_at(800.0, Tensor::softplus), 1.0);
    assert_eq!(derivative_at(-800.0, Tensor::softplus), 0.0);
    let big = Tensor::<f32>::from_vec(vec![100.0, -100.0], &[2])
        .softplus()
        .to_vec();
    assert_eq!(big[0], 100.0);
    assert!(big[1] > 0.0 && big[1] < 1e-40);
    // log1p and expm1 keep full relative accuracy where 1 + x rounds.
    assert!(close(scalar_op(1e-10, Tensor::log1p), 1e-10 - 5e-21, 1e-15));
    assert!(close(scalar_op(1e-10, Tensor::expm1), 1e-10 + 5e-21, 1e-15));
    assert!(close(scalar_op(-1e-300, Tensor::expm1), -1e-300, 1e-15));
    assert_eq!(scalar_op(4.0, Tensor::rsqrt), 0.5);
    assert_eq!(scalar_op(0.25, Tensor::rsqrt), 2.0);
}

// ----- reductions over several axes --------------------------------------------------------

/// Direct reduction of a (3, 4, 5) tensor over a set of axes with `f` over the group's values.
fn naive_reduce(x: &Tensor<f64>, axes: &[usize], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let s = x.shape().to_vec();
    let kept: Vec<usize> = (0..3).filter(|a| !axes.contains(a)).collect();
    let kept_sizes: Vec<usize> = kept.iter().map(|&a| s[a]).collect();
    let n_out: usize = kept_sizes.iter().product();
    let mut out = vec![];
    for o in 0..n_out {
        let mut kidx = vec![0; kept.len()];
        let mut r = o;
        for (i, &d) in kept_sizes.iter().enumerate().rev() {
            kidx[i] = r % d;
            r /= d;
        }
        let mut group = vec![];
        for i in 0..s[0] {
            for j in 0..s[1] {
                for k in 0..s[2] {
                    let idx = [i, j, k];
                    if kept.iter().zip(&kidx).all(|(&a, &v)| idx[a] == v) {
                        group.push(x.at(&idx));
                    }
                }
            }
        }
        out.push(f(&group));
    }
    out
}

#[test]
fn multi_axis_reductions_match_direct_loops() {
    let x = t(&[3, 4, 5], 0.3);
    let mean = |g: &[f64]| g.iter().sum::<f64>() / g.len() as f64;
    let var = |g: &[f64], d: f64| {
        let m = mean(g);
        g.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (g.len() as f64 - d)
    };
    let lse = |g: &[f64]| {
        let m = g.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        m + g.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
    };
    for (axes, signed) in [
        (vec![0, 2], vec![0isize, -1]),
        (vec![1], vec![-2]),
        (vec![0, 1, 2], vec![2, 0, 1]),
        (vec![1, 2], vec![-1, 1]),
    ] {
        let close_to = |got: Tensor<f64>, want: Vec<f64>| {
            assert!(max_abs_diff(&got.to_vec(), &want) < 1e-13, "{axes:?}");
        };
        close_to(
            x.sum_axes(&signed, false),
            naive_reduce(&x, &axes, |g| g.iter().sum()),
        );
        close_to(x.mean_axes(&signed, false), naive_reduce(&x, &axes, mean));
        close_to(
            x.var_axes(&signed, false, false),
            naive_reduce(&x, &axes, |g| var(g, 0.0)),
        );
        close_to(
            x.var_axes(&signed, false, true),
            naive_reduce(&x, &axes, |g| var(g, 1.0)),
        );
        close_to(
            x.max_axes(&signed, false),
            naive_reduce(&x, &axes, |g| g.iter().cloned().fold(f64::MIN, f64::max)),
        );
        close_to(
            x.min_axes(&signed, false),
            naive_reduce(&x, &axes, |g| g.iter().cloned().fold(f64::MAX, f64::min)),
        );
        close_to(
            x.logsumexp_axes(&signed, false),
            naive_reduce(&x, &axes, lse),
        );
        let kept = x.sum_axes(&signed, true);
        let want: Vec<usize> = (0..3)
            .map(|a| if axes.contains(&a) { 1 } else { x.shape()[a] })
            .collect();
        assert_eq!(kept.shape(), want.as_slice());
    }
    assert_eq!(x.sum_axes(&[], false).to_vec(), x.to_vec());
}

#[test]
fn logsumexp_never_overflows_and_handles_infinities() {
    let x = Tensor::<f64>::from_vec(
        vec![
            1000.0,
            1000.0,
            -1000.0,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        &[2, 3],
    );
    let y = x.logsumexp_axes(&[1], false).to_vec();
    assert!(close(y[0], 1000.0 + 2f64.ln(), 1e-15));
    assert_eq!(y[1], f64::NEG_INFINITY);
    let x32 = Tensor::<f32>::from_vec(vec![100.0, 100.0], &[2]);
    assert!((x32.logsumexp_axes(&[0], false).item() - (100.0 + 2f32.ln())).abs() < 1e-5);
    // The gradient of logsumexp is the softmax.
    let z = t(&[2, 3, 4], 0.1).to_leaf();
    let g = grad(
        &z.logsumexp_axes(&[0, 2], false).sum(),
        &[&z],
        BackwardOptions::default(),
    )
    .remove(0);
    let e = z.detach().exp();
    let want = &e / e.sum_axes(&[0, 2], true);
    assert!(max_abs_diff(&g.to_vec(), &want.to_vec()) < 1e-15);
}

#[test]
fn max_axes_shares_the_gradient_between_ties() {
    let x = Tensor::<f64>::from_vec(vec![2.0, 1.0, 2.0, 0.0, 2.0, -1.0], &[3, 2]).to_leaf();
    let g = grad(
        &x.max_axes(&[0, 1], false),
        &[&x],
        BackwardOptions::default(),
    )
    .remove(0);
    let third = 1.0 / 3.0;
    assert_eq!(g.to_vec(), vec![third, 0.0, third, 0.0, third, 0.0]);
}

#[test]
#[should_panic(expected = "sum_axes: axis 1 listed twice in [1, -2] for shape [3, 4, 5]")]
fn a_repeated_axis_is_refused() {
    let _ = t(&[3, 4, 5], 0.0).sum_axes(&[1, -2], false);
}

// ----- shape utilities ----------------------------------------------------------------------

#[test]
fn stack_pad_flatten_expand_repeat_values() {
    let a = t(&[2, 3], 0.1);
    let b = t(&[2, 3], 0.5);
    let s = Tensor::stack(&[&a, &b], 1);
    assert_eq!(s.shape(), &[2, 2, 3]);
    for i in 0..2 {
        for j in 0..3 {
            assert_eq!(s.at(&[i, 0, j]), a.at(&[i, j]));
            assert_eq!(s.at(&[i, 1, j]), b.at(&[i, j]));
        }
    }
    let p = a.pad(&[(1, 0), (2, 1)], -7.0);
    assert_eq!(p.shape(), &[3, 6]);
    for i in 0..3 {
        for j in 0..6 {
            let want = if i >= 1 && (2..5).contains(&j) {
                a.at(&[i - 1, j - 2])
            } else {
                -7.0
            };
            assert_eq!(p.at(&[i, j]), want);
        }
    }
    let x = t(&[2, 3, 4, 5], 0.2);
    assert_eq!(x.flatten_dims(1, -1).shape(), &[2, 60]);
    assert_eq!(x.flatten_dims(1, 2).shape(), &[2, 12, 5]);
    assert_eq!(x.flatten_dims(1, -1).to_vec(), x.to_vec());
    let col = t(&[3, 1], 0.3);
    let e = col.expand(&[3, 4]);
    assert!(!e.is_contiguous(), "expand is a view");
    assert_eq!(e.at(&[2, 3]), col.at(&[2, 0]));
    // np.tile(a, (2, 1, 2)) on a (2, 3) array
    let r = a.repeat(&[2, 1, 2]);
    assert_eq!(r.shape(), &[2, 2, 6]);
    for k in 0..2 {
        for i in 0..2 {
            for j in 0..6 {
                assert_eq!(r.at(&[k, i, j]), a.at(&[i, j % 3]));
            }
        }
    }
}

#[test]
fn masked_fill_builds_causal_attention() {
    let n = 4;
    let causal = Tensor::<f64>::from_vec(
        (0..n * n)
            .map(|k| if k % n > k / n { 1.0 } else { 0.0 })
            .collect(),
        &[n, n],
    );
    let scores = t(&[2, n, n], 0.4).to_leaf();
    let p = scores.masked_fill(&causal, f64::NEG_INFINITY).softmax(-1);
    for b in 0..2 {
        for i in 0..n {
            let row: Vec<f64> = (0..n).map(|j| p.at(&[b, i, j])).collect();
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-15);
            assert!(row[i + 1..].iter().all(|&v| v == 0.0));
        }
    }
    let w = crate::support::weights(p.shape());
    let g = grad(&(&p * &w).sum(), &[&scores], BackwardOptions::default()).remove(0);
    for b in 0..2 {
        for i in 0..n {
            for j in i + 1..n {
                assert_eq!(g.at(&[b, i, j]), 0.0, "masked scores get no gradient");
            }
        }
    }
}

// ----- embedding and cross-entropy ----------------------------------------------------------

#[test]
fn embedding_looks_up_rows_and_adds_the_gradients_of_repeated_indices() {
    let table = t(&[5, 3], 0.2).to_leaf();
    let ids = [4, 1, 1, 0, 4, 4];
    let e = table.embedding(&ids, &[2, 3]);
    assert_eq!(e.shape(), &[2, 3, 3]);
    for (k, &id) in ids.iter().enumerate() {
        for d in 0..3 {
            assert_eq!(e.at(&[k / 3, k % 3, d]), table.at(&[id, d]));
        }
    }
    let w = crate::support::weights(e.shape());
    let g = grad(&(&e * &w).sum(), &[&table], BackwardOptions::default()).remove(0);
    let mut want = vec![0.0; 15];
    for (k, &id) in ids.iter().enumerate() {
        for d in 0..3 {
            want[id * 3 + d] += w.at(&[k / 3, k % 3, d]);
        }
    }
    assert!(max_abs_diff(&g.to_vec(), &want) < 1e-15);
}

/// Direct cross-entropy: logits (m, K, L) with classes on axis 1, per position
/// `(1 - ε)(lse - z_y) + ε·(lse - mean_k z_k)`, skipping the ignored targets.
fn naive_cross_entropy(
    z: &Tensor<f64>,
    targets: &[usize],
    ignore: Option<usize>,
    eps: f64,
) -> (Vec<f64>, usize) {
    let s = z.shape().to_vec();
    let (m, k, l) = (s[0], s[1], s[2]);
    let mut per = vec![];
    let mut count = 0;
    for n in 0..m {
        for p in 0..l {
            let y = targets[n * l + p];
            if Some(y) == ignore {
                per.push(0.0);
                continue;
            }
            count += 1;
            let row: Vec<f64> = (0..k).map(|c| z.at(&[n, c, p])).collect();
            let mx = row.iter().cloned().fold(f64::MIN, f64::max);
            let lse = mx + row.iter().map(|v| (v - mx).exp()).sum::<f64>().ln();
            let mean = row.iter().sum::<f64>() / k as f64;
            per.push((1.0 - eps) * (lse - row[y]) + eps * (lse - mean));
        }
    }
    (per, count)
}

#[test]
fn cross_entropy_from_indices_matches_the_direct_formula() {
    let z = t(&[2, 5, 3], 0.7);
    let targets = [4, 0, 2, 1, 9, 3];
    for (ignore, eps) in [(None, 0.0), (Some(9), 0.0), (Some(9), 0.1), (Some(0), 0.25)] {
        let targets: Vec<usize> = targets
            .iter()
            .map(|&t| if t == 9 && ignore != Some(9) { 2 } else { t })
            .collect();
        let (per, count) = naive_cross_entropy(&z, &targets, ignore, eps);
        let opts = |reduction| CrossEntropyOptions {
            ignore_index: ignore,
            label_smoothing: eps,
            reduction,
        };
        let none = z.cross_entropy_indices(&targets, 1, opts(Reduction::None));
        assert_eq!(none.shape(), &[2, 3]);
        assert!(max_abs_diff(&none.to_vec(), &per) < 1e-14);
        let sum: f64 = per.iter().sum();
        assert!(
            (z.cross_entropy_indices(&targets, 1, opts(Reduction::Sum))
                .item()
                - sum)
                .abs()
                < 1e-14
        );
        let mean = z
            .cross_entropy_indices(&targets, -2, opts(Reduction::Mean))
            .item();
        assert!((mean - sum / count as f64).abs() < 1e-14);
    }
}

#[test]
fn cross_entropy_is_finite_for_huge_logits_and_masked_classes() {
    let z = Tensor::<f64>::from_vec(vec![1e4, -1e4, 0.0, f64::NEG_INFINITY], &[1, 4]).to_leaf();
    let loss = z.cross_entropy_indices(&[0], 1, CrossEntropyOptions::default());
    assert_eq!(loss.item(), 0.0);
    let g = grad(&loss, &[&z], BackwardOptions::default()).remove(0);
    assert!(g.to_vec().iter().all(|v| v.is_finite()));
    // An ignored target pointing at nothing valid contributes nothing, not NaN.
    let z2 = Tensor::<f64>::from_vec(vec![f64::NEG_INFINITY, 1.0, 2.0, 0.5], &[2, 2]);
    let loss = z2.cross_entropy_indices(
        &[7, 1],
        1,
        CrossEntropyOptions {
            ignore_index: Some(7),
            ..Default::default()
        },
    );
    // Row 0 is ignored (its class 0 is masked to -inf, so its loss would be infinite);
    // row 1 has target 1: ln(e^2 + e^0.5) - 0.5.
    let want = (2.0f64.exp() + 0.5f64.exp()).ln() - 0.5;
    assert!(
        (loss.item() - want).abs() < 1e-15,
        "{} vs {want}",
        loss.item()
    );
}

#[test]
#[should_panic(expected = "cross_entropy_indices: target 5 out of range for 5 classes")]
fn cross_entropy_refuses_out_of_range_targets() {
    let _ = t(&[2, 5], 0.0).cross_entropy_indices(&[1, 5], 1, CrossEntropyOptions::default());
}
