//! [`check_module`]: the three-way gradient check (reverse-mode autodiff, an optional
//! hand-written backward, central differences) of any [`Module`] on a batch, per parameter
//! under its full name, without rebuilding the model.
//!
//! The engine's [`check_gradients`](engine::check::check_gradients) differentiates a function
//! of named tensors. The model's forward pass reads its own parameter tensors, so the loss
//! given to the engine writes the values it receives into those tensors and runs the model:
//!
//! - for central differences (called without recording) it returns the loss directly;
//! - for autodiff it returns a scalar equal in gradient to the model's: the loss's gradient
//!   with respect to the model's tensors is taken by reverse mode ([`engine::grad`]) and
//!   attached to the engine's fresh leaves as `Σ ⟨leaf, g⟩` (whose gradient is exactly `g`).
//!
//! Frozen parameters ([`Param::freeze`]) are not checked: they have no gradient.
//!
//! The parameters' values and gradients, the buffers (batch norm's running statistics, which
//! every training-mode forward pass moves) and nothing else are restored afterwards. A model
//! with dropout must draw the same mask on every pass: give a
//! [`before_forward`](ModuleCheck::before_forward) hook that resets its generator, or check in
//! evaluation mode.

use engine::check::{CheckConfig, GradientCheckReport, NamedTensors};
use std::cell::RefCell;

use engine::autograd::is_grad_enabled;
use engine::tensor::TensorId;
use engine::{no_grad, BackwardOptions, Float, Tensor};

use crate::module::{Module, Param};

/// A loss of the model's output, the targets and the model's parameters (for penalties), as
/// [`Trainer::fit`](crate::train::Trainer::fit) takes it.
pub type ModuleLoss<'a, T> = dyn Fn(&Tensor<T>, &Tensor<T>, &[Param<T>]) -> Tensor<T> + 'a;

/// A hand-written backward: the parameters' values by name in, their gradients by name out
/// (`encoder.l1.weight` or `dencoder.l1.weight`; `W1` or `dW1`).
pub type ModuleBackward<'a, T> = dyn Fn(&NamedTensors<T>) -> NamedTensors<T> + 'a;

/// The settings of one [`check_module`] run; [`ModuleCheck::run`] runs it.
///
/// ```
/// use engine::Tensor;
/// use nn::check::ModuleCheck;
/// use nn::{loss, Activation, BatchNorm, Dense, Init, Module, Sequential};
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(2);
/// let model = Sequential::<f64>::new(vec![
///     Box::new(Dense::new(3, 4, &Init::HeNormal, &mut rng)),
///     Box::new(BatchNorm::new(4, 1e-5, 0.9)),
///     Box::new(Activation::Tanh),
///     Box::new(Dense::new(4, 1, &Init::HeNormal, &mut rng)),
/// ]);
/// let x = Tensor::<f64>::from_vec((0..15).map(|k| (k as f64).sin()).collect(), &[3, 5]);
/// let y = Tensor::<f64>::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0], &[1, 5]);
/// let loss = |out: &Tensor<f64>, y: &Tensor<f64>, _: &[nn::Param<f64>]| loss::bce_with_logits(out, y);
/// let report = ModuleCheck::new(&model, &x, &y, &loss).run();
/// report.assert_passed();
/// assert!(report.param("gamma1").is_some());
/// ```
pub struct ModuleCheck<'a, T: Float, M: Module<T> + ?Sized> {
    model: &'a M,
    x: &'a Tensor<T>,
    y: &'a Tensor<T>,
    loss: &'a ModuleLoss<'a, T>,
    hand_written: Option<&'a ModuleBackward<'a, T>>,
    before_forward: Option<&'a (dyn Fn() + 'a)>,
    config: CheckConfig,
}

impl<'a, T: Float, M: Module<T> + ?Sized> ModuleCheck<'a, T, M> {
    /// A check of `loss(model(x), y, params)` with the engine's default settings for `T`.
    pub fn new(
        model: &'a M,
        x: &'a Tensor<T>,
        y: &'a Tensor<T>,
        loss: &'a ModuleLoss<'a, T>,
    ) -> Self {
        ModuleCheck {
            model,
            x,
            y,
            loss,
            hand_written: None,
            before_forward: None,
            config: CheckConfig::for_type::<T>(),
        }
    }

    /// Adds a hand-written backward as the third opinion.
    pub fn hand_written(mut self, backward: &'a ModuleBackward<'a, T>) -> Self {
        self.hand_written = Some(backward);
        self
    }

    /// Runs `hook` before every forward pass (e.g. to reset a dropout generator so that every
    /// pass draws the same mask).
    pub fn before_forward(mut self, hook: &'a (dyn Fn() + 'a)) -> Self {
        self.before_forward = Some(hook);
        self
    }

    /// Other settings (ε, tolerances, how many worst components).
    pub fn config(mut self, config: CheckConfig) -> Self {
        self.config = config;
        self
    }

    /// Runs the check; the model is left as it was.
    #[track_caller]
    pub fn run(self) -> GradientCheckReport {
        check_module_with(self)
    }
}

/// The three-way check of `loss(model(x), y, params)` at the model's current parameters, with
/// an optional hand-written backward; see [`ModuleCheck`] for hooks and settings.
#[track_caller]
pub fn check_module<T: Float, M: Module<T> + ?Sized>(
    model: &M,
    x: &Tensor<T>,
    y: &Tensor<T>,
    loss: &ModuleLoss<'_, T>,
    hand_written: Option<&ModuleBackward<'_, T>>,
) -> GradientCheckReport {
    let mut check = ModuleCheck::new(model, x, y, loss);
    check.hand_written = hand_written;
    check.run()
}

/// A tensor of the model with the value and gradient it had before the check.
struct Saved<T: Float> {
    tensor: Tensor<T>,
    value: Tensor<T>,
    grad: Option<Tensor<T>>,
}

/// Restores values and gradients of the model's tensors when dropped, also on a panic.
struct Restore<T: Float> {
    saved: Vec<Saved<T>>,
}

impl<T: Float> Drop for Restore<T> {
    fn drop(&mut self) {
        for s in &self.saved {
            s.tensor.set_data(&s.value);
            s.tensor.set_grad(s.grad.clone());
        }
    }
}

#[track_caller]
fn check_module_with<T: Float, M: Module<T> + ?Sized>(
    c: ModuleCheck<'_, T, M>,
) -> GradientCheckReport {
    let all = c.model.parameters();
    let buffers = c.model.buffers();
    let params: Vec<Param<T>> = all.iter().filter(|p| !p.is_frozen()).cloned().collect();
    assert!(
        !params.is_empty(),
        "check_module: the model has no parameter to check (all {} are frozen)",
        all.len()
    );
    let _restore = Restore {
        saved: params
            .iter()
            .chain(&buffers)
            .map(|p| Saved {
                tensor: p.tensor.clone(),
                value: Tensor::from_vec(p.tensor.to_vec(), p.tensor.shape()),
                grad: p.tensor.grad(),
            })
            .collect(),
    };
    let values: NamedTensors<T> = params
        .iter()
        .map(|p| (p.name.clone(), p.tensor.detach()))
        .collect();
    // Central differences change one parameter per call and hand the others over unchanged
    // (the same tensors): only copy values that come from a tensor not copied before.
    let written: RefCell<Vec<Option<TensorId>>> = RefCell::new(vec![None; params.len()]);
    let run_model = |given: &NamedTensors<T>| -> Tensor<T> {
        let mut written = written.borrow_mut();
        for (p, last) in params.iter().zip(written.iter_mut()) {
            let value = &given[p.name.as_str()];
            if *last != Some(value.id()) {
                assert!(
                    value.shape() == p.tensor.shape(),
                    "check_module: {} has shape {:?}, the value given has shape {:?}",
                    p.name,
                    p.tensor.shape(),
                    value.shape()
                );
                // One copy, straight from the given buffer into the parameter's.
                *last = Some(value.id());
                let value = value.contiguous();
                value.with_data(|v| p.tensor.update_data(|d| d.copy_from_slice(v)));
            }
        }
        drop(written);
        if let Some(hook) = c.before_forward {
            hook();
        }
        (c.loss)(&c.model.forward(c.x), c.y, &all)
    };
    let loss = |given: &NamedTensors<T>| -> Tensor<T> {
        if !is_grad_enabled() {
            return run_model(given);
        }
        let out = run_model(given);
        let refs: Vec<&Tensor<T>> = params.iter().map(|p| &p.tensor).collect();
        let grads = engine::grad(&out, &refs, BackwardOptions::default());
        // The value is irrelevant to the engine's autodiff (only the gradient is compared);
        // Σ ⟨leaf, g⟩ has gradient g with respect to each leaf, exactly.
        let mut surrogate = out.detach();
        for (p, g) in params.iter().zip(grads) {
            let leaf = &given[p.name.as_str()];
            surrogate = surrogate + (leaf * &g.detach()).sum() - no_grad(|| (leaf * &g).sum());
        }
        surrogate
    };
    engine_check(&values, &loss, c.hand_written, c.config)
}

/// The thin adapter to the engine's three-way check, so that a change of its signature or
/// settings type is one edit here.
fn engine_check<T: Float>(
    values: &NamedTensors<T>,
    loss: &dyn Fn(&NamedTensors<T>) -> Tensor<T>,
    hand_written: Option<&ModuleBackward<'_, T>>,
    config: CheckConfig,
) -> GradientCheckReport {
    engine::check::check_gradients(values, loss, hand_written, config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::Visitor;
    use crate::{loss, Activation, BatchNorm, Dense, Dropout, Init, Sequential};
    use engine::random::NumpyRng;
    use rand::SeedableRng;
    use std::sync::{Arc, Mutex};

    struct Residual {
        inner: Dense<f64>,
        bn: BatchNorm<f64>,
        out: Dense<f64>,
    }
    impl Module<f64> for Residual {
        fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
            let h = x + &self.bn.forward(&self.inner.forward(x)).tanh();
            self.out.forward(&h)
        }
        fn visit(&self, v: &mut Visitor<'_, f64>) {
            v.module("inner", &self.inner);
            v.module("bn", &self.bn);
            v.module("out", &self.out);
        }
    }

    fn data() -> (Tensor<f64>, Tensor<f64>) {
        let x = Tensor::from_vec((0..18).map(|k| (k as f64 * 0.37).sin()).collect(), &[3, 6]);
        let y = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0], &[1, 6]);
        (x, y)
    }

    fn residual() -> Residual {
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        Residual {
            inner: Dense::new(3, 3, &Init::HeNormal, &mut rng),
            bn: BatchNorm::new(3, 1e-5, 0.9),
            out: Dense::new(3, 1, &Init::HeNormal, &mut rng),
        }
    }

    #[test]
    fn a_custom_module_passes_by_name_and_is_left_untouched() {
        let m = residual();
        let (x, y) = data();
        let before: Vec<Vec<f64>> = m
            .parameters()
            .iter()
            .chain(&m.buffers())
            .map(|p| p.tensor.to_vec())
            .collect();
        let l2 = |out: &Tensor<f64>, y: &Tensor<f64>, p: &[Param<f64>]| {
            loss::bce_with_logits(out, y) + loss::squared_weights(p) * 0.1
        };
        let report = check_module(&m, &x, &y, &l2, None);
        report.assert_passed();
        let names: Vec<&str> = report.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "inner.weight",
                "inner.bias",
                "bn.gamma",
                "bn.beta",
                "out.weight",
                "out.bias"
            ]
        );
        let after: Vec<Vec<f64>> = m
            .parameters()
            .iter()
            .chain(&m.buffers())
            .map(|p| p.tensor.to_vec())
            .collect();
        assert_eq!(before, after, "values and running statistics restored");
        assert!(m.parameters().iter().all(|p| p.grad().is_none()));
    }

    #[test]
    fn the_autodiff_side_is_the_models_gradient() {
        // The check's autodiff must equal a plain backward through the model.
        let m = residual();
        let (x, y) = data();
        let bce =
            |out: &Tensor<f64>, y: &Tensor<f64>, _: &[Param<f64>]| loss::bce_with_logits(out, y);
        let report = check_module(&m, &x, &y, &bce, None);
        let snapshot: Vec<Vec<f64>> = m.buffers().iter().map(|p| p.tensor.to_vec()).collect();
        loss::bce_with_logits(&m.forward(&x), &y).backward();
        for p in m.parameters() {
            assert_eq!(
                report.param(&p.name).unwrap().autodiff,
                p.grad().unwrap().to_vec(),
                "{}",
                p.name
            );
        }
        drop(snapshot);
    }

    #[test]
    fn a_wrong_hand_written_backward_is_named() {
        // out = W x + b, J = Σ out²: dW = 2 out xᵀ, db = 2 Σ out; the hand side doubles db.
        let d = Dense::<f64>::from_parameters(
            Tensor::from_vec(vec![0.3, -0.5, 0.8], &[1, 3]),
            Tensor::from_vec(vec![0.1], &[1, 1]),
        );
        let net = Sequential::new(vec![Box::new(d)]);
        let (x, y) = data();
        let sq = |out: &Tensor<f64>, _: &Tensor<f64>, _: &[Param<f64>]| out.square().sum();
        let xr = &x;
        let hand = move |p: &NamedTensors<f64>| {
            let out = p["W1"].matmul(xr) + &p["b1"];
            NamedTensors::from([
                ("dW1", (&out * 2.0).matmul(&xr.t())),
                ("db1", (&out * 4.0).sum_axis(1, true)),
            ])
        };
        let report = ModuleCheck::new(&net, &x, &y, &sq)
            .hand_written(&hand)
            .run();
        let failures: Vec<&str> = report.failures().iter().map(|f| f.0).collect();
        assert!(
            failures.contains(&"b1") && !failures.contains(&"W1"),
            "{report}"
        );
        assert!(
            report
                .param("W1")
                .unwrap()
                .autodiff_vs_hand
                .unwrap()
                .relative_difference
                < 1e-14
        );
    }

    #[test]
    fn dropout_with_a_reset_generator_passes() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let masks = Arc::new(Mutex::new(NumpyRng::new(3)));
        let net = Sequential::<f64>::new(vec![
            Box::new(Dense::new(3, 5, &Init::HeNormal, &mut rng)),
            Box::new(Activation::Tanh),
            Box::new(Dropout::new(0.6, masks.clone())),
            Box::new(Dense::new(5, 1, &Init::HeNormal, &mut rng)),
        ]);
        let (x, y) = data();
        let bce =
            |out: &Tensor<f64>, y: &Tensor<f64>, _: &[Param<f64>]| loss::bce_with_logits(out, y);
        let reset = || masks.lock().unwrap().seed(3);
        ModuleCheck::new(&net, &x, &y, &bce)
            .before_forward(&reset)
            .run()
            .assert_passed();
    }

    #[test]
    fn frozen_parameters_are_not_checked() {
        let m = residual();
        m.freeze("inner.");
        let (x, y) = data();
        let bce =
            |out: &Tensor<f64>, y: &Tensor<f64>, _: &[Param<f64>]| loss::bce_with_logits(out, y);
        let report = check_module(&m, &x, &y, &bce, None);
        report.assert_passed();
        let names: Vec<&str> = report.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["bn.gamma", "bn.beta", "out.weight", "out.bias"]);
    }
}
