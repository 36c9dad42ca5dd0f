//! The seeds' two training loops on the engine's autodiff: full-batch gradient descent (the
//! initialization and regularization assignments) and shuffled mini-batches with GD, momentum
//! or Adam (optimization, MNIST). Costs are reported at the seeds' cadence, and autodiff is
//! checked against the hand-derived backprop and numerical gradients at the first and the last
//! update.

use engine::random::NumpyRng;
use engine::Tensor;

use crate::backprop::Output;
use crate::checks::{self, LossSpec};
use crate::net::{self, Mlp};
use crate::report::{AutodiffCheck, Progress, Reporter};

/// How dropout masks are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutConfig {
    /// Probability of keeping a hidden unit.
    pub keep_prob: f64,
    /// Seed of the mask draws.
    pub seed: u32,
    /// `false`: reseed before every forward pass, as the seed's code does (the same masks every
    /// iteration); `true`: seed once and draw new masks every iteration.
    pub fresh: bool,
}

/// Draws the hidden layers' 0/1 masks in layer order: `D = rand(n_l, m) < keep_prob`.
fn draw_masks(rng: &mut NumpyRng, hidden: &[usize], m: usize, keep_prob: f64) -> Vec<Tensor<f64>> {
    hidden
        .iter()
        .map(|&n| {
            let u: Tensor<f64> = rng.rand(&[n, m]);
            u.lt_scalar(keep_prob)
        })
        .collect()
}

/// What a training loop produced.
#[derive(Clone, Debug, Default)]
pub struct Trained {
    /// The iterations (or epochs) the costs were reported at.
    pub cost_at: Vec<u64>,
    /// The reported costs.
    pub costs: Vec<f64>,
    /// Autodiff checks at the first and the last update.
    pub checks: Vec<AutodiffCheck>,
}

/// Settings of a full-batch gradient-descent run.
#[derive(Clone, Debug)]
pub struct FullBatch {
    /// Name shown in progress lines.
    pub name: String,
    /// Learning rate α.
    pub learning_rate: f64,
    /// Number of iterations.
    pub iterations: u64,
    /// Report the cost when `i % print_every == 0`.
    pub print_every: u64,
    /// L2 strength λ (0: none).
    pub lambd: f64,
    /// Dropout on the hidden layers.
    pub dropout: Option<DropoutConfig>,
    /// Most components per parameter differenced numerically in the checks.
    pub check_limit: usize,
}

/// The update `W := W - α dW` of the seeds' `update_parameters`, in place.
fn gd_update(params: &[Tensor<f64>], learning_rate: f64) {
    for p in params {
        let g = p.grad().expect("every parameter gets a gradient").to_vec();
        p.update_data(|w| {
            for (w, g) in w.iter_mut().zip(&g) {
                *w -= learning_rate * g;
            }
        });
    }
}

fn hidden_sizes(net: &Mlp) -> Vec<usize> {
    (0..net.layers() - 1)
        .map(|l| net.params[2 * l].shape()[0])
        .collect()
}

fn autodiff_grads(net: &Mlp) -> Vec<Tensor<f64>> {
    net.params
        .iter()
        .map(|p| p.grad().expect("every parameter gets a gradient"))
        .collect()
}

/// Full-batch gradient descent on `(x, y)` (the initialization and regularization loops):
/// forward, cost (with the L2 term when λ > 0), backward, update; the cost is the one computed
/// before the update of iteration `i`, reported when `i % print_every == 0`.
pub fn full_batch(
    net: &mut Mlp,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    cfg: &FullBatch,
    reporter: &Reporter,
) -> Trained {
    let m = y.shape()[1];
    let hidden = hidden_sizes(net);
    let mut rng = cfg.dropout.map(|d| NumpyRng::new(d.seed));
    let mut out = Trained::default();
    let mut progress = Progress::default();
    for i in 0..cfg.iterations {
        let masks = match (cfg.dropout, rng.as_mut()) {
            (Some(d), Some(rng)) => {
                if !d.fresh {
                    rng.seed(d.seed);
                }
                Some(draw_masks(rng, &hidden, m, d.keep_prob))
            }
            _ => None,
        };
        let spec = LossSpec {
            output: net.output,
            lambd: cfg.lambd,
            dropout: masks.as_deref().zip(cfg.dropout.map(|d| d.keep_prob)),
        };
        let cost = checks::course_loss(&net.params, x, y, spec);
        for p in &net.params {
            p.zero_grad();
        }
        cost.backward();
        if i == 0 || i + 1 == cfg.iterations {
            let grads = autodiff_grads(net);
            out.checks.push(checks::check_course_network(
                i,
                &net.params,
                &grads,
                x,
                y,
                spec,
                1e-7,
                cfg.check_limit,
            ));
        }
        gd_update(&net.params, cfg.learning_rate);
        if i % cfg.print_every == 0 {
            let c = cost.item();
            out.cost_at.push(i);
            out.costs.push(c);
            reporter.cost("iteration", i, c);
        }
        progress.tick(reporter, || {
            format!("  [{}] iteration {}/{}", cfg.name, i + 1, cfg.iterations)
        });
    }
    out
}

/// The optimizers of the optimization assignment, written as the seed's update functions.
#[derive(Clone, Debug)]
pub enum Optimizer {
    /// `W := W - α dW`.
    Gd,
    /// `v := β v + (1-β) dW; W := W - α v`.
    Momentum {
        /// β.
        beta: f64,
        /// Velocities, one per parameter.
        v: Vec<Vec<f64>>,
    },
    /// Adam with bias correction and ε inside the square root, as seed 001 writes it
    /// (`W - α v̂ / sqrt(ŝ + ε)`, equation 6.49); the reference numbers were produced so.
    Adam {
        /// β₁.
        beta1: f64,
        /// β₂.
        beta2: f64,
        /// ε.
        epsilon: f64,
        /// Steps taken (`t`).
        t: u64,
        /// First moments.
        v: Vec<Vec<f64>>,
        /// Second moments.
        s: Vec<Vec<f64>>,
    },
}

impl Optimizer {
    /// Momentum with zero velocities for `params`.
    pub fn momentum(beta: f64, params: &[Tensor<f64>]) -> Self {
        Optimizer::Momentum {
            beta,
            v: params.iter().map(|p| vec![0.0; p.numel()]).collect(),
        }
    }

    /// Adam with zero moments for `params`.
    pub fn adam(beta1: f64, beta2: f64, epsilon: f64, params: &[Tensor<f64>]) -> Self {
        Optimizer::Adam {
            beta1,
            beta2,
            epsilon,
            t: 0,
            v: params.iter().map(|p| vec![0.0; p.numel()]).collect(),
            s: params.iter().map(|p| vec![0.0; p.numel()]).collect(),
        }
    }

    /// One update of every parameter from its gradient.
    pub fn step(&mut self, params: &[Tensor<f64>], lr: f64) {
        match self {
            Optimizer::Gd => gd_update(params, lr),
            Optimizer::Momentum { beta, v } => {
                let beta = *beta;
                for (p, v) in params.iter().zip(v) {
                    let g = p.grad().expect("gradient").to_vec();
                    for (v, g) in v.iter_mut().zip(&g) {
                        *v = beta * *v + (1.0 - beta) * g;
                    }
                    p.update_data(|w| {
                        for (w, v) in w.iter_mut().zip(v.iter()) {
                            *w -= lr * v;
                        }
                    });
                }
            }
            Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
                t,
                v,
                s,
            } => {
                *t += 1;
                let (b1, b2, eps) = (*beta1, *beta2, *epsilon);
                // np.power(beta, t): a real power, not repeated multiplication.
                let c1 = 1.0 - b1.powf(*t as f64);
                let c2 = 1.0 - b2.powf(*t as f64);
                for ((p, v), s) in params.iter().zip(v).zip(s) {
                    let g = p.grad().expect("gradient").to_vec();
                    let mut delta = vec![0.0; g.len()];
                    for k in 0..g.len() {
                        v[k] = b1 * v[k] + (1.0 - b1) * g[k];
                        let v_corrected = v[k] / c1;
                        s[k] = b2 * s[k] + (1.0 - b2) * (g[k] * g[k]);
                        let s_corrected = s[k] / c2;
                        delta[k] = lr * v_corrected / (s_corrected + eps).sqrt();
                    }
                    p.update_data(|w| {
                        for (w, d) in w.iter_mut().zip(&delta) {
                            *w -= d;
                        }
                    });
                }
            }
        }
    }
}

/// How the cost of an epoch is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochCost {
    /// The cost of the epoch's last mini-batch (seed 001's loop).
    LastBatch,
    /// The sum of the per-example losses over the epoch divided by `m` (the course notebook's
    /// `cost_total / m`).
    Average,
}

/// Settings of a mini-batch run.
#[derive(Clone, Debug)]
pub struct MiniBatch {
    /// Name shown in progress lines.
    pub name: String,
    /// Learning rate α.
    pub learning_rate: f64,
    /// Number of epochs.
    pub epochs: u64,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Report the cost when `epoch % print_every == 0`.
    pub print_every: u64,
    /// Which cost an epoch reports.
    pub epoch_cost: EpochCost,
    /// Most components per parameter differenced numerically in the checks.
    pub check_limit: usize,
}

/// Mini-batch training as seed 001's `model`: before epoch `i` the seed `10 + i + 1` shuffles
/// the columns (`np.random.seed(seed); np.random.permutation(m)`), the shuffled set is cut into
/// batches of `batch_size` (the last one smaller), and every batch makes one update.
pub fn mini_batch(
    net: &mut Mlp,
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    optimizer: &mut Optimizer,
    cfg: &MiniBatch,
    reporter: &Reporter,
) -> Trained {
    let m = y.shape()[1];
    let mut rng = NumpyRng::new(0);
    let mut seed: u32 = 10;
    let mut out = Trained::default();
    let mut progress = Progress::default();
    let batches_per_epoch = m.div_ceil(cfg.batch_size) as u64;
    let last_step = cfg.epochs * batches_per_epoch - 1;
    let mut step = 0u64;
    for epoch in 0..cfg.epochs {
        seed += 1;
        rng.seed(seed);
        let order = rng.permutation(m);
        let sx = x.index_select(1, &order);
        let sy = y.index_select(1, &order);
        let mut last_cost = 0.0;
        let mut total = 0.0;
        for start in (0..m).step_by(cfg.batch_size) {
            let len = cfg.batch_size.min(m - start);
            let bx = sx.narrow(1, start, len).contiguous();
            let by = sy.narrow(1, start, len).contiguous();
            let spec = LossSpec {
                output: net.output,
                lambd: 0.0,
                dropout: None,
            };
            let cost = checks::course_loss(&net.params, &bx, &by, spec);
            for p in &net.params {
                p.zero_grad();
            }
            cost.backward();
            if step == 0 || step == last_step {
                let grads = autodiff_grads(net);
                out.checks.push(checks::check_course_network(
                    step,
                    &net.params,
                    &grads,
                    &bx,
                    &by,
                    spec,
                    1e-7,
                    cfg.check_limit,
                ));
            }
            optimizer.step(&net.params, cfg.learning_rate);
            last_cost = cost.item();
            total += last_cost * len as f64;
            step += 1;
        }
        if epoch % cfg.print_every == 0 {
            let c = match cfg.epoch_cost {
                EpochCost::LastBatch => last_cost,
                EpochCost::Average => total / m as f64,
            };
            out.cost_at.push(epoch);
            out.costs.push(c);
            reporter.cost("epoch", epoch, c);
        }
        progress.tick(reporter, || {
            format!("  [{}] epoch {}/{}", cfg.name, epoch + 1, cfg.epochs)
        });
    }
    out
}

/// The course's initializations: `W[l]` drawn with `randn(n_l, n_{l-1})` after seeding with
/// `seed`, layer by layer, then scaled; biases zero.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CourseInit {
    /// All zeros (draws nothing).
    Zeros,
    /// `randn * factor` (the course's "random" uses 10).
    Times(f64),
    /// `randn * np.sqrt(2 / n_prev)` (He).
    He,
    /// `randn / np.sqrt(c * n_prev)` (the regularization exercise: c = 0.5 book, 1 course).
    DividedBySqrt(f64),
}

/// Initial parameters `[W1, b1, ...]` for layer sizes `dims`.
pub fn course_init(dims: &[usize], init: CourseInit, seed: u32) -> Vec<Tensor<f64>> {
    let mut rng = NumpyRng::new(seed);
    let mut out = vec![];
    for l in 1..dims.len() {
        let shape = [dims[l], dims[l - 1]];
        let n_prev = dims[l - 1] as f64;
        let w = match init {
            CourseInit::Zeros => Tensor::zeros(&shape),
            CourseInit::Times(f) => rng.randn::<f64>(&shape) * f,
            CourseInit::He => rng.randn::<f64>(&shape) * (2.0 / n_prev).sqrt(),
            CourseInit::DividedBySqrt(c) => rng.randn::<f64>(&shape) / (c * n_prev).sqrt(),
        };
        out.push(w);
        out.push(Tensor::zeros(&[dims[l], 1]));
    }
    out
}

/// Train and test accuracies of `net` as the course's `predict` computes them.
pub fn accuracies(
    net: &Mlp,
    train: (&Tensor<f64>, &Tensor<f64>),
    test: Option<(&Tensor<f64>, &Tensor<f64>)>,
) -> (f64, Option<f64>) {
    let acc = |x: &Tensor<f64>, y: &Tensor<f64>| net::accuracy(&net.predict(x), &net::labels_of(y));
    (acc(train.0, train.1), test.map(|(x, y)| acc(x, y)))
}

/// The output layer that matches targets `y`: one row is sigmoid, several are softmax.
pub fn output_for(y: &Tensor<f64>) -> Output {
    if y.shape()[0] == 1 {
        Output::Sigmoid
    } else {
        Output::Softmax
    }
}
