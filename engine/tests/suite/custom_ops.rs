//! Custom operations: the checker passes correct backwards and catches wrong ones.

use std::sync::Arc;

use engine::autograd::rules::InputGrads;
use engine::autograd::CustomOp;
use engine::check::{check_custom_op, CustomOpCheck};
use engine::gradcheck::{gradcheck, GradcheckConfig};
use engine::Tensor;

/// softplus(x) = log(1 + eˣ); d/dx = σ(x). `mistake` plants a bug in the backward.
struct Softplus {
    mistake: Mistake,
}

#[derive(Clone, Copy, PartialEq)]
enum Mistake {
    None,
    /// Returns σ(x) without multiplying by the incoming gradient.
    ForgetsIncomingGradient,
    /// Uses σ(x)(1 − σ(x)), the derivative of the sigmoid, by confusion.
    WrongFormula,
    /// Returns a gradient of the output's shape summed to a scalar.
    WrongShape,
}

impl CustomOp<f64> for Softplus {
    fn name(&self) -> &'static str {
        match self.mistake {
            Mistake::None => "softplus",
            Mistake::ForgetsIncomingGradient => "softplus_forgets_g",
            Mistake::WrongFormula => "softplus_wrong_formula",
            Mistake::WrongShape => "softplus_wrong_shape",
        }
    }
    fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
        x[0].relu() + ((-x[0].abs()).exp() + 1.0).log()
    }
    fn backward(&self, x: &[Tensor<f64>], _y: &Tensor<f64>, g: &Tensor<f64>) -> InputGrads<f64> {
        let s = x[0].sigmoid();
        let dx = match self.mistake {
            Mistake::None => g * &s,
            Mistake::ForgetsIncomingGradient => s,
            Mistake::WrongFormula => g * &s * (-&s + 1.0),
            Mistake::WrongShape => (g * &s).sum(),
        };
        vec![Some(dx)].into()
    }
}

/// `a·b + c`, where `c` is treated as a constant offset (no gradient).
struct MulAddConst;

impl CustomOp<f64> for MulAddConst {
    fn name(&self) -> &'static str {
        "mul_add_const"
    }
    fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
        x[0] * x[1] + x[2]
    }
    fn backward(&self, x: &[Tensor<f64>], _y: &Tensor<f64>, g: &Tensor<f64>) -> InputGrads<f64> {
        vec![Some(g * &x[1]), Some(g * &x[0]), None].into()
    }
}

fn softplus(mistake: Mistake) -> Softplus {
    Softplus { mistake }
}

#[test]
fn a_correct_backward_passes() {
    let report = check_custom_op(
        &softplus(Mistake::None),
        &[&[3, 4]],
        CustomOpCheck::default(),
    );
    report.assert_passed();
    assert!(report.report.relative_difference() < 1e-8, "{report}");
}

#[test]
fn a_wrong_formula_is_caught() {
    let report = check_custom_op(
        &softplus(Mistake::WrongFormula),
        &[&[3, 4]],
        CustomOpCheck::default(),
    );
    assert!(!report.passed());
    assert!(report.report.relative_difference() > 0.1, "{report}");
    assert!(report.to_string().contains("FAILED"), "{report}");
}

#[test]
fn forgetting_the_incoming_gradient_is_caught() {
    // With an output gradient of ones this bug would be invisible; the check draws it at random.
    let report = check_custom_op(
        &softplus(Mistake::ForgetsIncomingGradient),
        &[&[5]],
        CustomOpCheck::default(),
    );
    assert!(!report.passed(), "{report}");
}

#[test]
#[should_panic(
    expected = "custom op `softplus_wrong_shape`: backward returned a gradient of shape []"
)]
fn a_wrongly_shaped_gradient_is_refused_with_the_ops_name() {
    check_custom_op(
        &softplus(Mistake::WrongShape),
        &[&[2, 2]],
        CustomOpCheck::default(),
    );
}

#[test]
fn inputs_without_gradient_are_skipped_and_listed() {
    let report = check_custom_op(
        &MulAddConst,
        &[&[2, 3], &[2, 3], &[2, 3]],
        CustomOpCheck::default(),
    );
    report.assert_passed();
    assert_eq!(report.not_differentiable, vec![2]);
    assert_eq!(report.report.params.len(), 2);
}

#[test]
fn the_input_range_is_honoured() {
    /// log x, defined for x > 0 only.
    struct Log;
    impl CustomOp<f64> for Log {
        fn name(&self) -> &'static str {
            "my_log"
        }
        fn forward(&self, x: &[&Tensor<f64>]) -> Tensor<f64> {
            x[0].log()
        }
        fn backward(&self, x: &[Tensor<f64>], _: &Tensor<f64>, g: &Tensor<f64>) -> InputGrads<f64> {
            vec![Some(g / &x[0])].into()
        }
    }
    let outside = check_custom_op(&Log, &[&[6]], CustomOpCheck::default());
    assert!(!outside.passed(), "NaN from negative inputs must not pass");
    check_custom_op(&Log, &[&[6]], CustomOpCheck::default().range(0.5, 3.0)).assert_passed();
}

#[test]
fn a_custom_op_inside_a_larger_graph_gets_correct_gradients() {
    let op: Arc<dyn CustomOp<f64>> = Arc::new(softplus(Mistake::None));
    let w = Tensor::<f64>::from_vec(vec![0.3, -0.8, 1.1, 0.2, -0.5, 0.9], &[2, 3]).named("W");
    let x = Tensor::<f64>::from_vec(vec![1.0, -2.0, 0.5], &[3, 1]).named("x");
    let f = move |v: &[Tensor<f64>]| {
        let z = v[0].matmul(&v[1]);
        Tensor::apply_custom(op.clone(), &[&z]).tanh().sum()
    };
    let report = gradcheck(&f, &[w, x], GradcheckConfig::default());
    assert!(report.passed(), "{report}");
}

#[test]
fn f32_ops_are_checked_with_f32_settings() {
    struct Cube;
    impl CustomOp<f32> for Cube {
        fn name(&self) -> &'static str {
            "cube"
        }
        fn forward(&self, x: &[&Tensor<f32>]) -> Tensor<f32> {
            x[0].powf(3.0)
        }
        fn backward(&self, x: &[Tensor<f32>], _: &Tensor<f32>, g: &Tensor<f32>) -> InputGrads<f32> {
            vec![Some(g * x[0].square() * 3.0)].into()
        }
    }
    check_custom_op(&Cube, &[&[4, 4]], CustomOpCheck::for_type::<f32>()).assert_passed();
}
