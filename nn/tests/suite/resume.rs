//! Resumable training: train N steps, save model, buffers and optimizer state, load them into
//! fresh objects, train M more steps, and the parameters are bit-identical to N + M steps
//! without stopping, for every optimizer.

use engine::Tensor;
use nn::checkpoint::{load_training, save_training, CheckpointError, TrainingState};
use nn::optim::{clip_grad_norm, Adam, AdamW, Gd, Momentum, Optimizer, ParamGroup, RmsProp};
use nn::schedule::{Schedule, WarmupCosine};
use nn::{loss, Activation, BatchNorm, Dense, Init, Module, Sequential, Visitor};
use rand::SeedableRng;

/// A residual block with batch norm (buffers) and a course-numbered head.
struct Net {
    stem: Dense<f64>,
    bn: BatchNorm<f64>,
    inner: Dense<f64>,
    head: Sequential<f64>,
}

impl Module<f64> for Net {
    fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
        let h = self.bn.forward(&self.stem.forward(x)).relu();
        let h = &h + &self.inner.forward(&h).tanh();
        self.head.forward(&h)
    }
    fn visit(&self, v: &mut Visitor<'_, f64>) {
        v.module("stem", &self.stem);
        v.module("bn", &self.bn);
        v.module("inner", &self.inner);
        v.module("head", &self.head);
    }
}

fn net(seed: u64) -> Net {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    Net {
        stem: Dense::new(2, 6, &Init::HeNormal, &mut rng),
        bn: BatchNorm::new(6, 1e-5, 0.9),
        inner: Dense::new(6, 6, &Init::HeNormal, &mut rng),
        head: Sequential::mlp(
            &[6, 4, 1],
            Activation::Relu,
            Activation::Identity,
            &Init::HeNormal,
            &mut rng,
        ),
    }
}

fn data() -> (Tensor<f64>, Tensor<f64>) {
    let m = 48;
    let x: Vec<f64> = (0..2 * m)
        .map(|k| ((k * 7919) % 97) as f64 / 24.0 - 2.0)
        .collect();
    let y: Vec<f64> = (0..m)
        .map(|j| f64::from(u8::from(x[j] * x[m + j] > 0.0)))
        .collect();
    (Tensor::from_vec(x, &[2, m]), Tensor::from_vec(y, &[1, m]))
}

const BATCH: usize = 16;
const SCHEDULE: WarmupCosine = WarmupCosine {
    max: 0.05,
    min: 0.001,
    warmup: 3,
    total: 20,
};

/// Steps `from..to`: the batch, the learning rate and everything else depend only on the step.
fn train(model: &Net, opt: &mut dyn Optimizer<f64>, from: usize, to: usize) {
    let (x, y) = data();
    let m = x.shape()[1];
    for step in from..to {
        opt.set_learning_rate(SCHEDULE.learning_rate(step));
        let start = (step * BATCH) % m;
        let cols: Vec<usize> = (start..start + BATCH).collect();
        let (xb, yb) = (x.index_select(1, &cols), y.index_select(1, &cols));
        let params = model.parameters();
        opt.zero_grad(&params);
        let cost =
            loss::bce_with_logits(&model.forward(&xb), &yb) + loss::squared_weights(&params) * 1e-3;
        cost.backward();
        clip_grad_norm(&params, 0.5);
        opt.step(&params);
    }
}

fn bits(model: &Net) -> Vec<(String, Vec<u64>)> {
    model
        .parameters()
        .into_iter()
        .chain(model.buffers())
        .map(|p| {
            (
                p.name,
                p.tensor.to_vec().iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

/// Builds a fresh optimizer with its settings.
type Make = fn() -> Box<dyn Optimizer<f64>>;

fn optimizers() -> Vec<(&'static str, Make)> {
    vec![
        ("gd", || Box::new(Gd::new(0.05).with_weight_decay(1e-3))),
        ("momentum", || Box::new(Momentum::new(0.05, 0.9))),
        ("rmsprop", || Box::new(RmsProp::new(0.05, 0.9))),
        ("adam", || Box::new(Adam::new(0.05))),
        ("adamw", || {
            Box::new(
                AdamW::new(0.05)
                    .with_weight_decay(0.1)
                    .with_group(ParamGroup::new(&["head."]).learning_rate_factor(0.5)),
            )
        }),
    ]
}

#[test]
fn resuming_from_a_checkpoint_is_bit_identical_for_every_optimizer() {
    let (n, m) = (7, 6);
    let dir = tempfile::tempdir().unwrap();
    for (name, make) in optimizers() {
        let straight = net(1);
        let mut opt = make();
        train(&straight, opt.as_mut(), 0, n + m);

        let first = net(1);
        let mut opt = make();
        train(&first, opt.as_mut(), 0, n);
        let path = dir.path().join(format!("{name}.safetensors"));
        let state = TrainingState {
            epoch: 0,
            schedule_position: n as u64,
        };
        save_training(&path, &first, opt.as_ref(), state).unwrap();

        // Fresh objects: another initialization, a new optimizer with no state.
        let resumed = net(99);
        assert_ne!(bits(&resumed), bits(&first));
        let mut fresh = make();
        let loaded = load_training(&path, &resumed, fresh.as_mut()).unwrap();
        assert_eq!(loaded, state);
        assert_eq!(fresh.step_count(), n as u64, "{name}");
        assert_eq!(
            fresh.state(),
            opt.state(),
            "{name}: optimizer state restored"
        );
        assert_eq!(bits(&resumed), bits(&first), "{name}: model restored");
        train(
            &resumed,
            fresh.as_mut(),
            loaded.schedule_position as usize,
            n + m,
        );

        assert_eq!(
            bits(&resumed),
            bits(&straight),
            "{name}: resumed run differs"
        );
        assert_eq!(fresh.state(), {
            let mut o = make();
            train(&net(1), o.as_mut(), 0, n + m);
            o.state()
        });
    }
}

#[test]
fn the_state_matters_a_model_only_resume_differs() {
    // Without the optimizer's buffers the continuation is another run: the test above can fail.
    let (n, m) = (7, 6);
    let straight = net(1);
    let mut opt = Adam::new(0.05);
    train(&straight, &mut opt, 0, n + m);
    let first = net(1);
    let mut opt = Adam::new(0.05);
    train(&first, &mut opt, 0, n);
    let mut fresh = Adam::new(0.05);
    train(&first, &mut fresh, n, n + m);
    assert_ne!(bits(&first), bits(&straight));
}

#[test]
fn a_checkpoint_of_another_optimizer_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("adam.safetensors");
    let a = net(1);
    let mut opt = Adam::new(0.05);
    train(&a, &mut opt, 0, 2);
    save_training(&path, &a, &opt, TrainingState::default()).unwrap();
    let b = net(2);
    let before = bits(&b);
    let mut momentum = Momentum::new(0.1, 0.9);
    let err = load_training(&path, &b, &mut momentum).unwrap_err();
    assert!(matches!(err, CheckpointError::Training { .. }), "{err}");
    assert!(
        err.to_string().contains("\"adam\" cannot be loaded"),
        "{err}"
    );
    assert_eq!(bits(&b), before);
    assert_eq!(momentum.step_count(), 0);
    // A model without the parameters the optimizer state names is refused too.
    let other = Dense::<f64>::new(
        2,
        6,
        &Init::HeNormal,
        &mut rand::rngs::StdRng::seed_from_u64(0),
    );
    assert!(load_training(&path, &other, &mut Adam::new(0.1)).is_err());
}
