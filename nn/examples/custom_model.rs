//! A custom model end to end, with progress output: a residual block with batch norm on the
//! two-moons data, AdamW with a parameter group, warmup + cosine learning rate, gradient
//! clipping, a three-way gradient check of the model by parameter name, then a checkpoint,
//! a resumption into fresh objects, and a comparison with a run that never stopped.
//!
//! `cargo run --release -p nn --example custom_model`

use engine::random::NumpyRng;
use engine::{no_grad, Tensor};
use nn::check::ModuleCheck;
use nn::checkpoint::{load_training, save_training, TrainingState};
use nn::data::MiniBatches;
use nn::datasets::make_moons;
use nn::optim::{clip_grad_norm, AdamW, Optimizer, ParamGroup};
use nn::schedule::{Schedule, WarmupCosine};
use nn::{loss, BatchNorm, Dense, Init, Module, Param, Visitor};

/// `x + l2(relu(bn(l1(x))))`.
struct Block {
    l1: Dense<f64>,
    bn: BatchNorm<f64>,
    l2: Dense<f64>,
}

impl Module<f64> for Block {
    fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
        let h = self.bn.forward(&self.l1.forward(x)).relu();
        x + &self.l2.forward(&h)
    }
    fn visit(&self, v: &mut Visitor<'_, f64>) {
        v.module("l1", &self.l1);
        v.module("bn", &self.bn);
        v.module("l2", &self.l2);
    }
    fn describe(&self) -> String {
        format!(
            "Block(x + {}, {}, {})",
            self.l1.describe(),
            self.bn.describe(),
            self.l2.describe()
        )
    }
}

/// Input layer, residual block, output logits.
struct Classifier {
    input: Dense<f64>,
    block: Block,
    output: Dense<f64>,
}

impl Classifier {
    fn new(hidden: usize, seed: u32) -> Self {
        let mut rng = NumpyRng::new(seed);
        let model = Classifier {
            input: Dense::new(2, hidden, &Init::HeNormal, &mut rng),
            block: Block {
                l1: Dense::new(hidden, hidden, &Init::HeNormal, &mut rng),
                bn: BatchNorm::new(hidden, 1e-5, 0.9),
                l2: Dense::new(hidden, hidden, &Init::HeNormal, &mut rng),
            },
            output: Dense::new(hidden, 1, &Init::HeNormal, &mut rng),
        };
        // Writes the full names into the tensors before the first forward pass.
        model.parameters();
        model
    }
}

impl Module<f64> for Classifier {
    fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
        let h = self.input.forward(x).relu();
        self.output.forward(&self.block.forward(&h))
    }
    fn visit(&self, v: &mut Visitor<'_, f64>) {
        v.module("input", &self.input);
        v.module("block", &self.block);
        v.module("output", &self.output);
    }
}

const HIDDEN: usize = 16;
const EPOCHS: u64 = 60;
const BATCH: usize = 64;

fn optimizer() -> AdamW<f64> {
    AdamW::new(0.03)
        .with_weight_decay(0.01)
        .with_group(ParamGroup::new(&["output."]).learning_rate_factor(0.5))
}

fn cost(out: &Tensor<f64>, y: &Tensor<f64>, _: &[Param<f64>]) -> Tensor<f64> {
    loss::bce_with_logits(out, y)
}

fn accuracy(model: &Classifier, x: &Tensor<f64>, y: &Tensor<f64>) -> f64 {
    model.set_training(false);
    let z = no_grad(|| model.forward(x)).to_vec();
    model.set_training(true);
    let labels = y.to_vec();
    let hits = z
        .iter()
        .zip(&labels)
        .filter(|(z, l)| (**z > 0.0) == (**l > 0.5))
        .count();
    hits as f64 / labels.len() as f64
}

/// Epochs `from..to`; the shuffle is seeded with the epoch and the schedule driven by the
/// step, so training can stop and resume between epochs.
fn train(
    model: &Classifier,
    opt: &mut AdamW<f64>,
    data: &MiniBatches<f64>,
    from: u64,
    to: u64,
    verbose: bool,
) {
    let batches = data.num_batches() as u64;
    let schedule = WarmupCosine::new(0.03, 0.001, 20, (EPOCHS * batches) as usize);
    for epoch in from..to {
        model.set_training(true);
        let order = NumpyRng::new(epoch as u32).permutation(data.num_examples());
        let (mut total, mut max_norm) = (0.0, 0.0f64);
        for (i, batch) in data.with_permutation(&order).enumerate() {
            opt.set_learning_rate(schedule.learning_rate((epoch * batches) as usize + i));
            let params = model.parameters();
            opt.zero_grad(&params);
            let loss = cost(&model.forward(&batch.x), &batch.y, &params);
            loss.backward();
            let norm = clip_grad_norm(&params, 1.0);
            assert!(norm.is_finite(), "epoch {epoch}: gradient norm {norm}");
            max_norm = max_norm.max(norm);
            opt.step(&params);
            total += loss.item() * batch.indices.len() as f64;
        }
        if verbose && (epoch % 10 == 0 || epoch + 1 == to) {
            println!(
                "  epoch {epoch:>3}  mean cost {:.5}  lr {:.5}  largest gradient norm {max_norm:.3}  \
                 train accuracy {:.3}",
                total / data.num_examples() as f64,
                opt.learning_rate(),
                accuracy(model, data.x(), data.y())
            );
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (x, y) = make_moons(600, 0.2, &mut NumpyRng::new(1));
    let (x_test, y_test) = make_moons(400, 0.2, &mut NumpyRng::new(2));
    let data = MiniBatches::new(x.clone(), y.clone(), BATCH);

    let model = Classifier::new(HIDDEN, 3);
    println!(
        "model: input {}, {}, output {}",
        model.input.describe(),
        model.block.describe(),
        model.output.describe()
    );
    println!("parameters:");
    for p in model.parameters() {
        println!("  {:<22} {:?}", p.name, p.tensor.shape());
    }

    let mut opt = optimizer();
    let half = EPOCHS / 2;
    println!("training epochs 0..{half} (AdamW, warmup + cosine, clip_grad_norm 1.0):");
    train(&model, &mut opt, &data, 0, half, true);

    println!("three-way gradient check of the model on 32 examples:");
    let cols: Vec<usize> = (0..32).collect();
    let (xb, yb) = (x.index_select(1, &cols), y.index_select(1, &cols));
    let report = ModuleCheck::new(&model, &xb, &yb, &cost).run();
    print!("{report}");
    report.assert_passed();
    println!(
        "(block.l1.bias feeds batch norm, which subtracts the batch mean: its true gradient is \
         0, so the numerical one is rounding noise, relative difference 1, and it passes on the \
         absolute error)"
    );

    let dir = std::env::temp_dir().join(format!("ferrograd-custom-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("checkpoint.safetensors");
    let batches = data.num_batches() as u64;
    let state = TrainingState {
        epoch: half,
        schedule_position: half * batches,
    };
    save_training(&path, &model, &opt, state)?;
    println!(
        "saved {} ({} bytes): parameters, running statistics, AdamW moments, step {}",
        path.display(),
        std::fs::metadata(&path)?.len(),
        opt.step_count()
    );

    let resumed = Classifier::new(HIDDEN, 99);
    let mut resumed_opt = optimizer();
    let loaded = load_training(&path, &resumed, &mut resumed_opt)?;
    std::fs::remove_dir_all(&dir)?;
    println!(
        "resumed at epoch {} (optimizer step {}):",
        loaded.epoch,
        resumed_opt.step_count()
    );
    train(
        &resumed,
        &mut resumed_opt,
        &data,
        loaded.epoch,
        EPOCHS,
        true,
    );

    let straight = Classifier::new(HIDDEN, 3);
    let mut straight_opt = optimizer();
    train(&straight, &mut straight_opt, &data, 0, EPOCHS, false);
    let identical = resumed
        .parameters()
        .iter()
        .chain(&resumed.buffers())
        .zip(straight.parameters().iter().chain(&straight.buffers()))
        .all(|(a, b)| a.tensor.to_vec() == b.tensor.to_vec());
    println!("resumed run bit-identical to an uninterrupted one: {identical}");
    println!(
        "test accuracy {:.3} on {} unseen points",
        accuracy(&resumed, &x_test, &y_test),
        x_test.shape()[1]
    );
    assert!(identical);
    Ok(())
}
