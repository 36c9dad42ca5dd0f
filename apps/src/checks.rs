//! Three-way gradient checks run inside every app: the engine's autodiff gradients against the
//! seed's hand-derived backprop ([`crate::backprop`]) and against central differences.
//!
//! Expected in f64: autodiff vs hand-derived below 1e-12 (the same formulas, rounded
//! differently), autodiff vs numerical below 1e-7 (the truncation and rounding error of central
//! differences with ε = 1e-7). Dropout masks are held fixed, so the loss is a deterministic
//! function of the parameters.

use engine::gradcheck::{compare_gradients, relative_difference};
use engine::{no_grad, Tensor};

use crate::backprop::{self, Output};
use crate::net;
use crate::report::{AutodiffCheck, WorstComponent};

/// Central differences of the scalar `loss` at `params` for the components `indices[i]` of
/// parameter `i` (the course's formula (6.56): `(J(θ+ε) - J(θ-ε)) / 2ε`).
pub fn numerical_components(
    loss: &dyn Fn(&[Tensor<f64>]) -> f64,
    params: &[Tensor<f64>],
    indices: &[Vec<usize>],
    epsilon: f64,
) -> Vec<Vec<f64>> {
    no_grad(|| {
        let mut point: Vec<Tensor<f64>> = params.iter().map(|p| p.detach().contiguous()).collect();
        let mut out = Vec::with_capacity(params.len());
        for (i, idx) in indices.iter().enumerate() {
            let base = params[i].to_vec();
            let shape = params[i].shape().to_vec();
            let mut values = base.clone();
            let mut g = Vec::with_capacity(idx.len());
            for &k in idx {
                values[k] = base[k] + epsilon;
                point[i] = Tensor::from_vec(values.clone(), &shape);
                let plus = loss(&point);
                values[k] = base[k] - epsilon;
                point[i] = Tensor::from_vec(values.clone(), &shape);
                let minus = loss(&point);
                values[k] = base[k];
                g.push((plus - minus) / (2.0 * epsilon));
            }
            point[i] = Tensor::from_vec(base, &shape);
            out.push(g);
        }
        out
    })
}

/// Which components to difference: all of them when a parameter has at most `limit`, else about
/// `limit` spread by the golden ratio (numerical gradients of MNIST's 24k weights would take
/// minutes). Even strides are avoided on purpose: on `W1` of MNIST a stride of 588 lands on
/// border pixels, constant over every image, where batch norm makes the gradient exactly zero.
pub fn sample_indices(numel: usize, limit: usize) -> Vec<usize> {
    if numel <= limit {
        return (0..numel).collect();
    }
    let golden = 0.618_033_988_749_894_9_f64;
    let mut picked: Vec<usize> = (0..limit)
        .map(|j| (((j as f64 + 0.5) * golden).fract() * numel as f64) as usize)
        .collect();
    picked.sort_unstable();
    picked.dedup();
    picked
}

/// What a course network's loss is made of, for the checks.
#[derive(Clone, Copy, Debug)]
pub struct LossSpec<'a> {
    /// Output layer.
    pub output: Output,
    /// L2 strength (0 for none).
    pub lambd: f64,
    /// Dropout masks of the hidden layers and the keep probability, held fixed.
    pub dropout: Option<(&'a [Tensor<f64>], f64)>,
}

/// The seed's cost for `params` on `(x, y)`: mean cross-entropy (from logits) plus the L2
/// penalty, dropout masks fixed.
pub fn course_loss(
    params: &[Tensor<f64>],
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    spec: LossSpec<'_>,
) -> Tensor<f64> {
    let z = net::logits_of(params, x, spec.dropout);
    let mut cost = net::cross_entropy(spec.output, &z, y);
    if spec.lambd > 0.0 {
        cost = cost + net::l2_penalty(params, spec.lambd, y.shape()[1]);
    }
    cost
}

/// Compares `autodiff` (gradients of [`course_loss`] at `params`) with the hand-derived backprop
/// and with central differences (at most `numeric_limit` components per parameter).
#[allow(clippy::too_many_arguments)]
pub fn check_course_network(
    iteration: u64,
    params: &[Tensor<f64>],
    autodiff: &[Tensor<f64>],
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    spec: LossSpec<'_>,
    epsilon: f64,
    numeric_limit: usize,
) -> AutodiffCheck {
    let names = net::param_names(params.len() / 2);
    let values: Vec<Tensor<f64>> = params.iter().map(Tensor::detach).collect();
    let keep_prob = spec.dropout.map_or(1.0, |d| d.1);
    let cache = backprop::forward(
        x,
        &values,
        spec.output,
        spec.dropout.map(|d| d.0),
        keep_prob,
    );
    let hand = backprop::backward(y, &cache, &values, spec.lambd, keep_prob);
    let vs_hand = compare_gradients(&names, autodiff, &hand, 0);
    let max_abs_vs_hand = vs_hand
        .inputs
        .iter()
        .map(|i| i.max_abs_error)
        .fold(0.0, f64::max);

    let loss = |p: &[Tensor<f64>]| course_loss(p, x, y, spec).item();
    let indices: Vec<Vec<usize>> = values
        .iter()
        .map(|p| sample_indices(p.numel(), numeric_limit))
        .collect();
    let numeric = numerical_components(&loss, &values, &indices, epsilon);
    let near_kinks = count_near_kinks(x, &values);
    let mut report = three_way_report(
        iteration,
        &names,
        autodiff,
        &indices,
        &numeric,
        vs_hand.relative_difference,
    );
    report.max_abs_vs_hand = max_abs_vs_hand;
    report.near_kinks = near_kinks;
    report
}

/// Hidden pre-activations `Z[l]` (before ReLU) with `|z| < 1e-6`, without dropout.
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

/// Builds the report from autodiff values, numerical values at `indices`, and the hand figure.
pub fn three_way_report(
    iteration: u64,
    names: &[String],
    autodiff: &[Tensor<f64>],
    indices: &[Vec<usize>],
    numeric: &[Vec<f64>],
    vs_hand: f64,
) -> AutodiffCheck {
    let mut all_a = vec![];
    let mut all_n = vec![];
    let mut per_param = vec![];
    let mut components = vec![];
    for (((name, grad), idx), num) in names.iter().zip(autodiff).zip(indices).zip(numeric) {
        let g = grad.to_vec();
        let a: Vec<f64> = idx.iter().map(|&k| g[k]).collect();
        per_param.push((name.clone(), relative_difference(&a, num)));
        for ((&k, &av), &nv) in idx.iter().zip(&a).zip(num) {
            components.push(WorstComponent {
                param: name.clone(),
                index: unravel(k, grad.shape()),
                autodiff: av,
                reference: nv,
            });
        }
        all_a.extend(a);
        all_n.extend_from_slice(num);
    }
    components.sort_by(|x, y| {
        let e = |c: &WorstComponent| (c.autodiff - c.reference).abs();
        e(y).total_cmp(&e(x))
    });
    components.truncate(3);
    let grad_norm = autodiff
        .iter()
        .flat_map(|g| g.to_vec())
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt();
    AutodiffCheck {
        iteration,
        grad_norm,
        vs_hand,
        max_abs_vs_hand: 0.0,
        near_kinks: 0,
        vs_numerical: relative_difference(&all_a, &all_n),
        per_param_vs_numerical: per_param,
        worst_vs_numerical: components,
    }
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        index[i] = flat % d;
        flat /= d;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_indices_cover_the_range_evenly() {
        assert_eq!(sample_indices(5, 10), vec![0, 1, 2, 3, 4]);
        let s = sample_indices(23520, 40);
        assert_eq!(s.len(), 40);
        assert!(s.windows(2).all(|w| w[0] < w[1]) && s[39] < 23520);
        // Spread over the columns (pixels), not stuck on a few.
        let mut columns: Vec<usize> = s.iter().map(|k| k % 784).collect();
        columns.dedup();
        assert!(columns.len() > 30);
    }

    #[test]
    fn autodiff_of_a_small_network_agrees_with_hand_and_numerical() {
        let x = Tensor::from_vec((0..12).map(|k| (k as f64 * 0.9).sin()).collect(), &[3, 4]);
        let y = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[1, 4]);
        let values: Vec<Tensor<f64>> = vec![
            Tensor::from_vec(
                (0..12).map(|k| (k as f64 * 1.7).cos() * 0.9).collect(),
                &[4, 3],
            ),
            Tensor::from_vec(vec![0.1, -0.2, 0.05, 0.3], &[4, 1]),
            Tensor::from_vec(vec![0.5, -0.7, 0.9, 0.2], &[1, 4]),
            Tensor::from_vec(vec![0.1], &[1, 1]),
        ];
        let masks = [Tensor::from_vec(
            vec![
                1., 0., 1., 1., 1., 1., 0., 1., 1., 1., 1., 0., 0., 1., 1., 1.,
            ],
            &[4, 4],
        )];
        for (lambd, dropout) in [(0.0, None), (0.7, Some((&masks[..], 0.8)))] {
            let net = net::Mlp::from_params(&values, Output::Sigmoid);
            let spec = LossSpec {
                output: Output::Sigmoid,
                lambd,
                dropout,
            };
            let loss = course_loss(&net.params, &x, &y, spec);
            let refs: Vec<&Tensor<f64>> = net.params.iter().collect();
            let grads = engine::grad(&loss, &refs, Default::default());
            let c = check_course_network(0, &net.params, &grads, &x, &y, spec, 1e-7, 100);
            assert!(c.vs_hand < 1e-12, "{c:?}");
            assert!(c.vs_numerical < 1e-7, "{c:?}");
            // A wrong gradient is caught by both comparisons.
            let mut wrong = grads.clone();
            wrong[2] = &wrong[2] * 2.0;
            let c = check_course_network(0, &net.params, &wrong, &x, &y, spec, 1e-7, 100);
            assert!(c.vs_hand > 1e-3 && c.vs_numerical > 1e-3, "{c:?}");
            assert_eq!(c.worst_vs_numerical[0].param, "W2");
        }
    }
}
