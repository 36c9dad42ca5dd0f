//! Losses where the course's NumPy code breaks down: its large random initialization drives
//! sigmoid outputs to exactly 0 or 1, `np.log(0)` makes the printed cost `inf`, and the
//! gradient through `log` is `inf·0 = NaN`. Ours stay finite and, from logits, exact.

use ferrograd::engine::{grad, loss, no_grad, BackwardOptions, Tensor};

/// `-(y log σ(z) + (1-y) log(1-σ(z)))` evaluated stably in plain f64: `log(1 + e^-z) + (1-y)z`
/// for `z ≥ 0`, `log(1 + e^z) - yz` otherwise.
fn exact_bce(z: f64, y: f64) -> f64 {
    if z >= 0.0 {
        (-z).exp().ln_1p() + (1.0 - y) * z
    } else {
        z.exp().ln_1p() - y * z
    }
}

const LOGITS: [f64; 5] = [40.0, -800.0, 800.0, 3.0, -0.5];
const TARGETS: [f64; 5] = [0.0, 1.0, 1.0, 1.0, 0.0];

#[test]
fn the_course_formula_is_infinite_here() {
    // What the notebook computes, to show the inputs really saturate.
    let a = 1.0 / (1.0 + (-40.0f64).exp());
    assert_eq!(a, 1.0);
    let cost = -(0.0 * a.ln() + (1.0 - 0.0) * (1.0 - a).ln());
    assert!(cost.is_infinite());
}

#[test]
fn bce_from_logits_is_finite_and_exact_at_saturation() {
    let z = Tensor::<f64>::parameter(LOGITS.to_vec(), &[1, 5]);
    let y = Tensor::from_vec(TARGETS.to_vec(), &[1, 5]);
    let want: f64 = LOGITS
        .iter()
        .zip(&TARGETS)
        .map(|(&z, &y)| exact_bce(z, y))
        .sum::<f64>()
        / 5.0;
    let cost = loss::binary_cross_entropy_with_logits(&z, &y);
    assert!(
        (cost.item() - want).abs() <= 1e-15 * want,
        "{} vs {want}",
        cost.item()
    );
    let g = grad(&cost, &[&z], BackwardOptions::default())
        .remove(0)
        .to_vec();
    for ((&g, &z), &y) in g.iter().zip(&LOGITS).zip(&TARGETS) {
        let want = (1.0 / (1.0 + (-z).exp()) - y) / 5.0;
        assert!((g - want).abs() <= 1e-17, "dz at {z}: {g} vs {want}");
    }
}

#[test]
fn bce_from_a_recorded_sigmoid_uses_its_logits() {
    let z = Tensor::<f64>::parameter(LOGITS.to_vec(), &[1, 5]);
    let y = Tensor::from_vec(TARGETS.to_vec(), &[1, 5]);
    let a = z.sigmoid();
    assert!(a.to_vec().contains(&1.0) && a.to_vec().contains(&0.0));
    let from_probs = loss::binary_cross_entropy(&a, &y);
    let from_logits = loss::binary_cross_entropy_with_logits(&z, &y);
    assert_eq!(from_probs.item(), from_logits.item());
    let g = grad(&from_probs, &[&z], BackwardOptions::default()).remove(0);
    assert!(g.to_vec().iter().all(|x| x.is_finite()));
    assert_eq!(
        g.to_vec(),
        grad(&from_logits, &[&z], BackwardOptions::default())[0].to_vec()
    );
}

#[test]
fn bce_from_constant_probabilities_is_floored_and_finite() {
    // Without the sigmoid's logits the exact value is lost; each log is floored at -100.
    let p = Tensor::<f64>::parameter(vec![1.0, 0.0, 0.5], &[1, 3]);
    let y = Tensor::from_vec(vec![0.0, 1.0, 1.0], &[1, 3]);
    let cost = loss::binary_cross_entropy(&p, &y);
    let want = (100.0 + 100.0 + 2f64.ln()) / 3.0;
    assert!((cost.item() - want).abs() < 1e-12, "{}", cost.item());
    let g = grad(&cost, &[&p], BackwardOptions::default())
        .remove(0)
        .to_vec();
    assert!(g.iter().all(|x| x.is_finite()), "{g:?}");
    // dL/dp = -(y/p - (1-y)/(1-p))/m at the unsaturated element.
    assert!((g[2] - (-2.0 / 3.0)).abs() < 1e-12);
    // Under no_grad the sigmoid leaves no logits behind: floored, but still finite (f32 too).
    let z = Tensor::<f32>::from_vec(vec![40.0, -200.0], &[1, 2]);
    let c = no_grad(|| loss::binary_cross_entropy(&z.sigmoid(), &Tensor::zeros(&[1, 2])));
    assert!(c.item().is_finite());
}

#[test]
fn softmax_cross_entropy_is_finite_for_huge_logits() {
    let z = Tensor::<f64>::parameter(vec![1000.0, -1000.0, -1000.0, 1000.0], &[2, 2]);
    // Column 0 labelled 1 (wrong by 2000), column 1 labelled 1 (right).
    let cost = loss::softmax_cross_entropy_indices(&z, &[1, 1]);
    assert_eq!(cost.item(), 1000.0);
    let g = grad(&cost, &[&z], BackwardOptions::default())
        .remove(0)
        .to_vec();
    assert_eq!(g, vec![0.5, 0.0, -0.5, 0.0]);
    let one_hot = Tensor::from_vec(vec![0.0, 0.0, 1.0, 1.0], &[2, 2]);
    assert_eq!(loss::softmax_cross_entropy(&z, &one_hot, 0).item(), 1000.0);
}

#[test]
fn mse_matches_its_definition() {
    let a = Tensor::<f64>::from_vec(vec![1.0, 2.0, 4.0], &[3, 1]);
    let b = Tensor::<f64>::from_vec(vec![0.0, 2.0, 1.0], &[3, 1]);
    assert_eq!(loss::mse(&a, &b).item(), 10.0 / 3.0);
}
