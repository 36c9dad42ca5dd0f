//! Forward mode beyond single rules (those are checked op by op in the op table,
//! `tests/op_table`): `jacobian` and `hessian` against hand-derived matrices, against each other
//! and against numerical differences; tangent passes from intermediate seeds; custom ops.

use std::sync::Arc;

use engine::autograd::rules::InputGrads;
use engine::autograd::tangent::{hessian, hvp, jacobian, jacobian_reverse, jvp, jvp_graph};
use engine::autograd::CustomOp;
use engine::check::{check_jvp, JvpCheckConfig};
use engine::{grad, loss, BackwardOptions, Tensor};

/// Deterministic, irregular values in roughly [-1.5, 1.5]: no ties, no zeros.
fn t(shape: &[usize], k: f64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i as f64 + 1.0) * 1.618_033_9 + k).sin() * 1.5 + 0.013 * i as f64)
        .collect();
    Tensor::from_vec(data, shape)
}

#[test]
fn a_wrong_tangent_would_be_caught() {
    // The check is not vacuous: comparing J·u with the differences of another function fails.
    let x = vec![t(&[3], 0.0)];
    let (_, ju) = jvp(|v| v[0].sin(), &x, &[Tensor::ones(&[3])]);
    let (_, ju_wrong) = jvp(|v| v[0].cos(), &x, &[Tensor::ones(&[3])]);
    let d = engine::gradcheck::relative_difference(&ju.to_vec(), &ju_wrong.to_vec());
    assert!(d > 0.1);
}

#[test]
fn jacobian_of_a_matrix_vector_product_is_the_matrix() {
    let w = t(&[2, 3], 0.5);
    let x = t(&[3, 1], 0.6);
    let j = jacobian(|x| w.matmul(x), &x); // (2, 1, 3, 1)
    assert_eq!(j.shape(), &[2, 1, 3, 1]);
    assert_eq!(j.to_vec(), w.to_vec());
}

#[test]
fn forward_and_reverse_jacobians_agree() {
    let w = t(&[4, 3], 0.7);
    let f = |x: &Tensor<f64>| w.matmul(x).softmax(0).log() * x.sum();
    let x = t(&[3, 2], 0.8);
    let (jf, jr) = (jacobian(f, &x), jacobian_reverse(f, &x));
    assert_eq!(jf.shape(), &[4, 2, 3, 2]);
    assert_eq!(jf.shape(), jr.shape());
    let d = engine::gradcheck::relative_difference(&jf.to_vec(), &jr.to_vec());
    assert!(d < 1e-14, "{d:e}");
}

#[test]
fn hessian_of_a_quadratic_form_is_the_symmetrised_matrix() {
    // f(x) = xᵀ A x has Hessian A + Aᵀ.
    let a = t(&[3, 3], 0.9);
    let f = |x: &Tensor<f64>| x.t().matmul(&a).matmul(x).sum();
    let h = hessian(f, &t(&[3, 1], 1.0));
    assert_eq!(h.shape(), &[3, 1, 3, 1]);
    let a_v = a.to_vec2();
    let expected: Vec<f64> = (0..3)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|(i, j)| a_v[i][j] + a_v[j][i])
        .collect();
    for (h, e) in h.to_vec().iter().zip(&expected) {
        assert!((h - e).abs() < 1e-14, "{h} vs {e}");
    }
}

#[test]
fn hessian_of_elementwise_functions_is_diagonal() {
    // Σ sin(x): H = diag(−sin x).
    let x = t(&[4], 1.1);
    let h = hessian(|x| x.sin().sum(), &x).to_vec2();
    for (i, xi) in x.to_vec().iter().enumerate() {
        for (j, hij) in h[i].iter().enumerate() {
            let e = if i == j { -xi.sin() } else { 0.0 };
            assert!((hij - e).abs() < 1e-15, "H[{i}][{j}] = {hij}, expected {e}");
        }
    }
}

#[test]
fn hessian_of_a_network_loss_matches_differences_of_the_gradient() {
    let x = t(&[2, 5], 1.2);
    let y = Tensor::<f64>::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0], &[1, 5]);
    // W1 (3, 2) flattened with W2 (1, 3): 9 parameters.
    let f = |p: &Tensor<f64>| {
        let w1 = p.narrow(0, 0, 6).reshape(&[3, 2]);
        let w2 = p.narrow(0, 6, 3).reshape(&[1, 3]);
        let z = w2.matmul(&w1.matmul(&x).tanh());
        loss::binary_cross_entropy_with_logits(&z, &y)
    };
    let p = t(&[9], 1.3) * 0.5;
    let h = hessian(f, &p).to_vec2();
    let gradient = |q: &Tensor<f64>| {
        let leaf = q.to_leaf();
        grad(&f(&leaf), &[&leaf], BackwardOptions::default())[0].to_vec()
    };
    let eps = 1e-5;
    for j in 0..9 {
        let mut e = vec![0.0; 9];
        e[j] = eps;
        let e = Tensor::from_vec(e, &[9]);
        let (gp, gm) = (gradient(&(&p + &e)), gradient(&(&p - &e)));
        for i in 0..9 {
            let numeric = (gp[i] - gm[i]) / (2.0 * eps);
            assert!(
                (h[i][j] - numeric).abs() < 1e-8,
                "H[{i}][{j}] = {} vs {numeric}",
                h[i][j]
            );
            assert!((h[i][j] - h[j][i]).abs() < 1e-14, "symmetry at {i},{j}");
        }
    }
    let v = t(&[9], 1.4);
    let hv = hvp(
        |x| f(&x[0]),
        std::slice::from_ref(&p),
        std::slice::from_ref(&v),
    )[0]
    .to_vec();
    for i in 0..9 {
        let expected: f64 = (0..9).map(|j| h[i][j] * v.to_vec()[j]).sum();
        assert!((hv[i] - expected).abs() < 1e-12);
    }
}

#[test]
fn the_tangent_pass_runs_on_a_recorded_graph_from_any_seed() {
    let x = t(&[3], 1.5).to_leaf();
    let h = x.exp(); // seed here: d/dh of Σ h² along u is 2h·u
    let out = h.square().sum();
    let u = t(&[3], 1.6);
    let d = jvp_graph(&out, &[(&h, &u)]).item();
    let expected: f64 = h
        .to_vec()
        .iter()
        .zip(u.to_vec())
        .map(|(h, u)| 2.0 * h * u)
        .sum();
    assert!((d - expected).abs() < 1e-13);
    // A constant output has a zero tangent.
    let c = Tensor::<f64>::ones(&[2]);
    assert_eq!(jvp_graph(&c, &[(&x, &u)]).to_vec(), vec![0.0, 0.0]);
}

/// softplus with and without its own forward-mode rule.
struct Softplus {
    own_jvp: bool,
}

impl CustomOp<f64> for Softplus {
    fn name(&self) -> &'static str {
        if self.own_jvp {
            "softplus_with_jvp"
        } else {
            "softplus"
        }
    }
    fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
        x[0].relu() + ((-x[0].abs()).exp() + 1.0).log()
    }
    fn backward(&self, x: &[Tensor<f64>], _: &Tensor<f64>, g: &Tensor<f64>) -> InputGrads<f64> {
        vec![Some(g * x[0].sigmoid())].into()
    }
    fn jvp(
        &self,
        x: &[Tensor<f64>],
        _: &Tensor<f64>,
        dx: &[Option<Tensor<f64>>],
    ) -> Option<Tensor<f64>> {
        // d softplus(x) = σ(x) dx
        self.own_jvp
            .then(|| dx[0].as_ref().unwrap() * x[0].sigmoid())
    }
}

#[test]
fn custom_ops_get_forward_mode_from_their_rule_or_their_backward() {
    for own_jvp in [false, true] {
        let op: Arc<dyn CustomOp<f64>> = Arc::new(Softplus { own_jvp });
        let f = move |v: &[Tensor<f64>]| Tensor::apply_custom(op.clone(), &[&v[0]]).tanh();
        check_jvp(f, &[t(&[2, 3], 1.7)], JvpCheckConfig::default()).assert_passed();
    }
}

#[test]
#[should_panic(expected = "implement CustomOp::jvp")]
fn a_custom_backward_outside_the_engine_needs_its_own_jvp() {
    struct Opaque;
    impl CustomOp<f64> for Opaque {
        fn name(&self) -> &'static str {
            "opaque"
        }
        fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
            x[0] * 2.0
        }
        fn backward(&self, _: &[Tensor<f64>], _: &Tensor<f64>, g: &Tensor<f64>) -> InputGrads<f64> {
            // Computed on raw numbers: correct values, but nothing recorded.
            let data = g.to_vec().iter().map(|v| v * 2.0).collect();
            vec![Some(Tensor::from_vec(data, g.shape()))].into()
        }
    }
    let op: Arc<dyn CustomOp<f64>> = Arc::new(Opaque);
    jvp(
        |v| Tensor::apply_custom(op.clone(), &[&v[0]]),
        &[t(&[2], 0.0)],
        &[t(&[2], 1.0)],
    );
}

#[test]
fn f32_forward_mode() {
    let x = Tensor::<f32>::from_vec(vec![0.5, -1.0], &[2]);
    let (_, ju) = jvp(
        |v| v[0].tanh(),
        std::slice::from_ref(&x),
        &[Tensor::ones(&[2])],
    );
    for (d, x) in ju.to_vec().iter().zip(x.to_vec()) {
        assert!((d - (1.0 - x.tanh().powi(2))).abs() < 1e-6);
    }
}
