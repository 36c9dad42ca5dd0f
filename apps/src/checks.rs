//! The gradient checks every training app runs at its first and last update: the three-way
//! check of [`nn::check::ModuleCheck`] on the training network itself, comparing reverse-mode
//! autodiff of the network's cost, the seed's hand-derived backprop ([`crate::backprop`]) and
//! central differences (ε = 1e-7) per named parameter in the course's relative difference
//! (6.57).
//!
//! Expected in f64: autodiff vs hand-derived below 1e-12 (the same formulas, rounded
//! differently), autodiff vs numerical below 1e-7 (the truncation and rounding error of central
//! differences). Dropout masks are held fixed (the check replays the mask generator from the
//! state the training pass starts from), so the cost is a deterministic function of the
//! parameters.

use engine::check::{CheckConfig, GradientCheckReport, NamedTensors};
use engine::{no_grad, Tensor};
use nn::check::ModuleCheck;
use nn::{Module, Param, Sequential};

use crate::backprop;
use crate::model::CourseNet;
use crate::report::{AutodiffCheck, Component};

/// How many of the worst components a check reports.
pub const WORST: usize = 3;

/// Condenses the engine's report into what a run reports: overall relative differences (the
/// parameters concatenated into one vector, as the course computes 6.57), per-parameter
/// differences against central differences, and the components that disagree most.
pub fn summarize(update: u64, report: &GradientCheckReport, near_kinks: usize) -> AutodiffCheck {
    let overall = &report.overall;
    let grad_norm = overall.autodiff.iter().map(|g| g * g).sum::<f64>().sqrt();
    let mut worst: Vec<(f64, Component)> = report
        .params
        .iter()
        .flat_map(|p| {
            p.worst.iter().map(move |c| {
                (
                    c.spread(),
                    Component {
                        param: p.name.clone(),
                        index: c.index.clone(),
                        autodiff: c.autodiff,
                        hand_derived: c.hand_written,
                        numerical: c.numerical,
                    },
                )
            })
        })
        .collect();
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    AutodiffCheck {
        update,
        grad_norm,
        vs_hand: overall.autodiff_vs_hand.map(|a| a.relative_difference),
        max_abs_vs_hand: overall.autodiff_vs_hand.map(|a| a.max_abs_error),
        vs_numerical: overall.autodiff_vs_numerical.relative_difference,
        max_abs_vs_numerical: overall.autodiff_vs_numerical.max_abs_error,
        per_param_vs_numerical: report
            .params
            .iter()
            .map(|p| (p.name.clone(), p.autodiff_vs_numerical.relative_difference))
            .collect(),
        near_kinks,
        worst: worst.into_iter().take(WORST).map(|(_, c)| c).collect(),
        relative_meaningful: grad_norm >= crate::report::NEGLIGIBLE_GRADIENT,
        // Filled in by `crate::train::fit`, which knows the batch.
        examples: 0,
        batch_examples: 0,
    }
}

/// The three-way check of a course network `model` at its current parameter values, on the
/// batch `(x, y)`, with the dropout masks the next training forward pass will draw: the check
/// replays the mask generator from its current state before every pass it makes, and leaves it
/// in that state.
pub fn course_check(
    net: &CourseNet,
    update: u64,
    model: &Sequential<f64>,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
) -> AutodiffCheck {
    let state = net.mask_state();
    let replay = || net.set_mask_state(&state);
    let loss =
        |logits: &Tensor<f64>, y: &Tensor<f64>, params: &[Param<f64>]| net.cost(logits, y, params);

    // The hand-derived side draws the masks itself, as the seed's code does
    // (`D = np.random.rand(n, m) < keep_prob` layer by layer), from the same generator state.
    let m = x.shape()[1];
    let hidden = &net.dims[1..net.dims.len() - 1];
    let keep_prob = net.dropout.map_or(1.0, |d| d.keep_prob);
    let masks: Option<Vec<Tensor<f64>>> = net.dropout.map(|d| {
        let mut rng = state.clone();
        hidden
            .iter()
            .map(|&n| rng.rand::<f64>(&[n, m]).lt_scalar(d.keep_prob))
            .collect()
    });
    let hand = |p: &NamedTensors<f64>| {
        let list: Vec<Tensor<f64>> = p.tensors().cloned().collect();
        let cache = backprop::forward(x, &list, net.output, masks.as_deref(), keep_prob);
        NamedTensors::from_layers(&backprop::backward(y, &cache, &list, net.lambd, keep_prob))
    };
    let report = ModuleCheck::new(model, x, y, &loss)
        .hand_written(&hand)
        .before_forward(&replay)
        .config(CheckConfig::default())
        .run();
    replay();
    let list: Vec<Tensor<f64>> = model
        .parameters()
        .iter()
        .map(|p| p.tensor.detach())
        .collect();
    summarize(update, &report, count_near_kinks(x, &list))
}

/// What `--check bounded` allows a check to cost, in parameter components times examples:
/// the complete check evaluates the loss twice per component on its examples. The course runs
/// stay within it (the MNIST network's 24,380 components on batches of 32 are 780,160), so they
/// are checked on their whole batch; a larger batch is checked on its first
/// `CHECK_BUDGET / components` examples (at least one).
pub const CHECK_BUDGET: usize = 1_000_000;

/// How many examples of an `m`-example batch a check of `components` parameter components
/// runs on.
pub fn check_examples(scope: crate::cli::CheckScope, components: usize, m: usize) -> usize {
    match scope {
        crate::cli::CheckScope::Full => m,
        crate::cli::CheckScope::Bounded => {
            (CHECK_BUDGET / components.max(1)).clamp(1, m.max(1)).min(m)
        }
    }
}

/// The first `k` columns (examples) of `t`.
pub fn first_columns(t: &Tensor<f64>, k: usize) -> Tensor<f64> {
    let (rows, m) = (t.shape()[0], t.shape()[1]);
    if k >= m {
        return t.clone();
    }
    let data = t.contiguous().with_data(|d| {
        (0..rows)
            .flat_map(|r| d[r * m..r * m + k].iter().copied())
            .collect()
    });
    Tensor::from_vec(data, &[rows, k])
}

/// Hidden pre-activations `Z[l]` (before ReLU) with `|z| < 1e-6`, without dropout, for
/// parameters `[W1, b1, W2, b2, ...]` of a dense ReLU network. Perturbing a parameter by ε can
/// cross such a kink, where central differences average the two one-sided slopes.
pub fn count_near_kinks(x: &Tensor<f64>, params: &[Tensor<f64>]) -> usize {
    no_grad(|| {
        let mut a = x.clone();
        let mut count = 0;
        for l in 0..params.len() / 2 - 1 {
            let z = params[2 * l].matmul(&a) + &params[2 * l + 1];
            count += z.to_vec().iter().filter(|v| v.abs() < 1e-6).count();
            a = z.relu();
        }
        count
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DropoutConfig, Output};
    use engine::check::check_gradients;
    use nn::Init;

    #[test]
    fn a_small_network_agrees_three_ways_with_l2_and_dropout() {
        let x = Tensor::from_vec((0..12).map(|k| (k as f64 * 0.9).sin()).collect(), &[3, 4]);
        let y = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[1, 4]);
        for (lambd, dropout) in [
            (0.0, None),
            (
                0.7,
                Some(DropoutConfig {
                    keep_prob: 0.8,
                    seed: 1,
                    fresh: true,
                }),
            ),
        ] {
            let net = CourseNet::new(&[3, 4, 1], Output::Sigmoid, lambd, dropout);
            let model = net.init(Init::ScaledNormal(0.9), 5);
            net.before_forward();
            let c = course_check(&net, 0, &model, &x, &y);
            assert_eq!(c.near_kinks, 0);
            assert!(c.vs_hand.unwrap() < 1e-12, "{c:?}");
            assert!(c.vs_numerical < 1e-7, "{c:?}");
            assert_eq!(c.per_param_vs_numerical.len(), 4);
            assert_eq!(c.worst.len(), WORST);
        }
    }

    #[test]
    fn a_wrong_hand_derived_gradient_shows_in_the_summary() {
        let x = Tensor::from_vec((0..6).map(|k| k as f64 * 0.3 - 0.5).collect(), &[2, 3]);
        let params = NamedTensors::from([
            ("W1", Tensor::from_vec(vec![0.4, -0.2], &[1, 2])),
            ("b1", Tensor::from_vec(vec![0.1], &[1, 1])),
        ]);
        let loss = |p: &NamedTensors<f64>| (p["W1"].matmul(&x) + &p["b1"]).square().sum();
        // The right gradient of W1, but db1 doubled.
        let hand = |p: &NamedTensors<f64>| {
            let z = p["W1"].matmul(&x) + &p["b1"];
            NamedTensors::from([
                ("dW1", (&z * 2.0).matmul(&x.t())),
                ("db1", (&z * 4.0).sum_axis(1, true)),
            ])
        };
        let report = check_gradients(&params, &loss, Some(&hand), CheckConfig::default());
        let c = summarize(7, &report, 0);
        assert_eq!(c.update, 7);
        assert!(c.vs_hand.unwrap() > 0.1, "{c:?}");
        assert!(c.vs_numerical < 1e-7, "{c:?}");
        assert_eq!(c.worst[0].param, "b1");
    }
}
