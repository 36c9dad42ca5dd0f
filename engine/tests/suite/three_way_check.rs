//! The three-way check: autodiff vs hand-written vs numerical. The hand-written backward here is
//! the course's formulas for a dense sigmoid network, written independently of the engine's rules.

use engine::check::{check_gradients, Agreement, CheckConfig, NamedTensors};
use engine::gradcheck::relative_difference;
use engine::{loss, Tensor};

fn data() -> (Tensor<f64>, Tensor<f64>) {
    let x = Tensor::from_vec(vec![0.5, -1.0, 2.0, 1.5, 0.3, -0.7], &[2, 3]);
    let y = Tensor::from_vec(vec![1.0, 0.0, 1.0], &[1, 3]);
    (x, y)
}

fn params() -> NamedTensors<f64> {
    NamedTensors::from([
        (
            "W1",
            Tensor::from_vec(vec![0.2, -0.4, 0.3, 0.1, -0.2, 0.5], &[3, 2]),
        ),
        ("b1", Tensor::from_vec(vec![0.1, 0.0, -0.1], &[3, 1])),
        ("W2", Tensor::from_vec(vec![0.3, -0.6, 0.9], &[1, 3])),
        ("b2", Tensor::from_vec(vec![0.05], &[1, 1])),
    ])
}

/// LINEAR → RELU → LINEAR → SIGMOID with the mean cross-entropy, computed from logits.
fn cost(p: &NamedTensors<f64>, x: &Tensor<f64>, y: &Tensor<f64>) -> Tensor<f64> {
    let a1 = (p["W1"].matmul(x) + &p["b1"]).relu();
    let z2 = p["W2"].matmul(&a1) + &p["b2"];
    loss::binary_cross_entropy_with_logits(&z2, y)
}

/// The course's backward: dZ2 = A2 − Y, dW = dZ·Aᵀ/m, db = Σ dZ/m, dZ1 = W2ᵀdZ2 ⊙ [A1 > 0].
/// `db2_scale` lets a test plant the classic bug of forgetting the 1/m.
fn course_backward(
    p: &NamedTensors<f64>,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    db2_scale: f64,
) -> NamedTensors<f64> {
    let m = 3.0;
    let a1 = (p["W1"].matmul(x) + &p["b1"]).relu();
    let a2 = (p["W2"].matmul(&a1) + &p["b2"]).sigmoid();
    let dz2 = a2 - y;
    let dz1 = p["W2"].t().matmul(&dz2) * a1.gt_scalar(0.0);
    NamedTensors::from([
        ("dZ2", dz2.clone()), // extra entries, as in the course's grads dictionary, are ignored
        ("dW2", dz2.matmul(&a1.t()) / m),
        ("db2", dz2.sum_axis(1, true) / m * db2_scale),
        ("dW1", dz1.matmul(&x.t()) / m),
        ("db1", dz1.sum_axis(1, true) / m),
    ])
}

#[test]
fn correct_hand_written_backward_agrees_three_ways() {
    let (x, y) = data();
    let loss = |p: &NamedTensors<f64>| cost(p, &x, &y);
    let hand = |p: &NamedTensors<f64>| course_backward(p, &x, &y, 1.0);
    let report = check_gradients(&params(), &loss, Some(&hand), CheckConfig::default());
    println!("{report}");
    report.assert_passed();
    assert_eq!(report.params.len(), 4);
    for p in &report.params {
        // Two analytic computations of the same formulas: agreement to rounding.
        assert!(
            p.autodiff_vs_hand.unwrap().relative_difference < 1e-14,
            "{}",
            p.name
        );
        assert!(
            p.autodiff_vs_numerical.relative_difference < 1e-7,
            "{}",
            p.name
        );
    }
    assert!(report.to_string().contains("PASSED"));
}

#[test]
fn a_missing_one_over_m_is_caught_and_located() {
    let (x, y) = data();
    let loss = |p: &NamedTensors<f64>| cost(p, &x, &y);
    let hand = |p: &NamedTensors<f64>| course_backward(p, &x, &y, 3.0);
    let report = check_gradients(&params(), &loss, Some(&hand), CheckConfig::default());
    assert!(!report.passed());
    let failing: Vec<(&str, &str)> = report.failures().iter().map(|f| (f.0, f.1)).collect();
    assert_eq!(
        failing,
        vec![
            ("b2", "hand-written vs numerical"),
            ("b2", "autodiff vs hand-written"),
            ("all", "hand-written vs numerical"),
            ("all", "autodiff vs hand-written"),
        ]
    );
    // Hand = 3 × true: relative difference |3g − g| / (|3g| + |g|) = 1/2 exactly.
    let b2 = report.param("b2").unwrap();
    let d = b2.hand_vs_numerical.unwrap().relative_difference;
    assert!((d - 0.5).abs() < 1e-8, "{d}");
    assert_eq!(b2.worst[0].index, vec![0, 0]);
    let text = report.to_string();
    assert!(
        text.contains("FAILED") && text.contains("b2: hand-written vs numerical"),
        "{text}"
    );
}

#[test]
fn the_overall_row_is_the_course_metric_on_the_concatenated_vector() {
    let (x, y) = data();
    let loss = |p: &NamedTensors<f64>| cost(p, &x, &y);
    let report = check_gradients(&params(), &loss, None, CheckConfig::default());
    let concat = |f: &dyn Fn(&engine::check::ParamCheck) -> Vec<f64>| -> Vec<f64> {
        report.params.iter().flat_map(f).collect()
    };
    let a = concat(&|p| p.autodiff.clone());
    let n = concat(&|p| p.numerical.clone());
    assert_eq!(a.len(), 13);
    assert_eq!(
        report.overall.autodiff_vs_numerical.relative_difference,
        relative_difference(&a, &n)
    );
    assert!(report.overall.hand_vs_numerical.is_none());
    report.assert_passed();
}

#[test]
fn parameters_keep_their_grad_untouched() {
    let (x, y) = data();
    let p = params().map(|_, t| t.to_leaf());
    let loss = |q: &NamedTensors<f64>| cost(q, &x, &y);
    check_gradients(&p, &loss, None, CheckConfig::default()).assert_passed();
    assert!(p.tensors().all(|t| t.grad().is_none()));
}

#[test]
fn course_list_layout_and_plain_names_work_too() {
    let (x, y) = data();
    let list: Vec<Tensor<f64>> = params().tensors().cloned().collect();
    let p = NamedTensors::from_layers(&list);
    assert_eq!(p.names().collect::<Vec<_>>(), ["W1", "b1", "W2", "b2"]);
    let loss = |q: &NamedTensors<f64>| cost(q, &x, &y);
    // Gradients named like the parameters (no `d` prefix) are found as well.
    let hand = |q: &NamedTensors<f64>| {
        let g = course_backward(q, &x, &y, 1.0);
        q.map(|name, _| g[&format!("d{name}")].clone())
    };
    check_gradients(&p, &loss, Some(&hand), CheckConfig::default()).assert_passed();
}

#[test]
#[should_panic(expected = "no gradient for \"b2\"")]
fn a_missing_hand_gradient_is_named() {
    let (x, y) = data();
    let loss = |p: &NamedTensors<f64>| cost(p, &x, &y);
    let hand = |p: &NamedTensors<f64>| {
        let mut g = NamedTensors::new();
        for (name, t) in course_backward(p, &x, &y, 1.0).iter() {
            if name != "db2" {
                g.insert(name, t.clone());
            }
        }
        g
    };
    check_gradients(&params(), &loss, Some(&hand), CheckConfig::default());
}

#[test]
#[should_panic(expected = "the loss must be a scalar")]
fn a_non_scalar_loss_is_refused() {
    let p = NamedTensors::from([("w", Tensor::<f64>::ones(&[2]))]);
    check_gradients(&p, &|q| q["w"].square(), None, CheckConfig::default());
}

#[test]
fn zero_gradients_with_rounding_noise_pass_but_nan_never_does() {
    let config = CheckConfig::default();
    let noise = Agreement::between(&[0.0, 0.0], &[3e-10, -1e-9]);
    assert_eq!(noise.relative_difference, 1.0);
    assert!(noise.passes(&config.tolerance));
    let nan = Agreement::between(&[f64::NAN, 1.0], &[1.0, 1.0]);
    assert!(nan.max_abs_error.is_nan());
    assert!(!nan.passes(&config.tolerance));
}

#[test]
fn f32_settings_still_catch_a_wrong_gradient() {
    let x = Tensor::<f32>::from_vec(vec![0.5, -1.0, 2.0, 1.5, 0.3, -0.7], &[2, 3]);
    let p = NamedTensors::from([("w", Tensor::<f32>::from_vec(vec![0.3, -0.2], &[1, 2]))]);
    let loss = |q: &NamedTensors<f32>| q["w"].matmul(&x).tanh().sum();
    let right = |q: &NamedTensors<f32>| {
        let t = q["w"].matmul(&x).tanh();
        NamedTensors::from([("dw", (-t.square() + 1.0).matmul(&x.t()))])
    };
    // Forgets the derivative of tanh.
    let wrong =
        |_: &NamedTensors<f32>| NamedTensors::from([("dw", Tensor::ones(&[1, 3]).matmul(&x.t()))]);
    let config = CheckConfig::for_type::<f32>();
    check_gradients(&p, &loss, Some(&right), config).assert_passed();
    assert!(!check_gradients(&p, &loss, Some(&wrong), config).passed());
}
