//! `apps attention`: a small transformer encoder, built from the library's sequence layers
//! (`nn::embedding`, `nn::attention`, `nn::layernorm`), trained with Adam on a synthetic
//! sequence task: sort a sequence of digits (default) or reverse it.
//!
//! Network (sequences are batch-first `(m, T)` token ids; features last):
//! `token embedding (10, d) + learned position embedding (T, d) → blocks × TransformerBlock
//! (pre-norm, d, heads, MLP 4d with GELU, no causal mask) → LayerNorm → Linear d → 10`, giving
//! logits `(m, T, 10)`: position `i` predicts the `i`-th digit of the answer, all at once.
//! The loss is the mean cross-entropy over every position (classes on the last axis).
//!
//! Data: every training mini-batch is freshly drawn (uniform digits) from a generator seeded
//! with `--data-seed + 1`; the held-out set (`--n-test` sequences) is drawn first from
//! `--data-seed`, and any training draw equal to a held-out sequence is drawn again, so the
//! test sequences are never trained on. The reported accuracy is exact-sequence accuracy (every
//! position right); per-token accuracy is reported beside it.
//!
//! The learning rate warms up linearly over the first 5% of the steps, then follows a cosine
//! decay to zero (a common schedule for transformers; not tuned beyond the defaults).
//!
//! Checks ([`tiny_check`]), on a tiny configuration in f64 (2 blocks, 2 heads, d = 8, sequences
//! of 4 digits out of 5, 3 sequences), at its initialization and after a few Adam steps:
//! - autodiff against central differences of the loss for **every** component of every
//!   parameter ([`nn::check::ModuleCheck`]; the network is smooth: GELU, softmax, layer norm);
//! - a Hessian-vector product of the loss ([`engine::hvp`], forward-over-reverse) along a
//!   random direction against central differences of autodiff gradients,
//!   `(∇L(θ + εv) − ∇L(θ − εv)) / 2ε`.
//!
//! Both are reported (text and JSON); a failing check makes the run an error.

use std::collections::HashSet;
use std::time::Instant;

use clap::{Args, ValueEnum};
use engine::check::{relative_difference, CheckConfig};
use engine::random::Sampler;
use engine::{grad, hvp, no_grad, BackwardOptions, Float, Tensor};
use nn::attention::{Linear, MultiHeadAttention, TransformerBlock};
use nn::embedding::Embedding;
use nn::layernorm::LayerNorm;
use nn::optim::{Adam, Optimizer};
use nn::{Init, Module, Param, Visitor};
use rand::SeedableRng;

use super::{AppError, Context};
use crate::plot;
use crate::pyfmt::py_float;
use crate::report::{AutodiffCheck, HvpCheck, RunReport};

/// Number of token values: the digits 0-9.
pub const VOCAB: usize = 10;

/// The synthetic sequence task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SequenceTask {
    /// Output the input digits in ascending order.
    Sort,
    /// Output the input digits in reverse order.
    Reverse,
}

impl SequenceTask {
    /// The name used in run names and JSON.
    pub fn name(self) -> &'static str {
        match self {
            SequenceTask::Sort => "sort",
            SequenceTask::Reverse => "reverse",
        }
    }

    /// The answer to `input`.
    pub fn answer(self, input: &[usize]) -> Vec<usize> {
        let mut out = input.to_vec();
        match self {
            SequenceTask::Sort => out.sort_unstable(),
            SequenceTask::Reverse => out.reverse(),
        }
        out
    }
}

/// `apps attention`.
#[derive(Debug, Args, Clone, PartialEq)]
pub struct AttentionArgs {
    /// The task: `sort` the digits or `reverse` them.
    #[arg(long, value_enum, default_value_t = SequenceTask::Sort)]
    pub task: SequenceTask,
    /// Digits per sequence.
    #[arg(long, default_value_t = 8)]
    pub seq_len: usize,
    /// Model width d.
    #[arg(long, default_value_t = 64)]
    pub d_model: usize,
    /// Attention heads per block (must divide --d-model).
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Transformer blocks.
    #[arg(long, default_value_t = 2)]
    pub num_blocks: usize,
    /// Adam's peak learning rate (after warm-up, before the cosine decay).
    #[arg(long, allow_hyphen_values = true, default_value_t = 0.002)]
    pub learning_rate: f64,
    /// Number of Adam steps (each on a freshly drawn mini-batch).
    #[arg(long, default_value_t = 700)]
    pub num_steps: u64,
    /// Sequences per mini-batch.
    #[arg(long, default_value_t = 64)]
    pub mini_batch_size: usize,
    /// Held-out sequences (never trained on).
    #[arg(long, default_value_t = 2000)]
    pub n_test: usize,
    /// Evaluate on the held-out set (a point of the curves) every N steps (`--print-every`
    /// overrides it).
    #[arg(long, default_value_t = 100)]
    pub eval_every: u64,
    /// Seed of the held-out set (the training stream uses this seed + 1).
    #[arg(long, default_value_t = 1)]
    pub data_seed: u32,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 3)]
    pub init_seed: u32,
    /// Skip the gradient and Hessian-vector checks on the tiny configuration.
    #[arg(long)]
    pub no_check: bool,
    /// Step of the central differences of gradients the Hessian-vector product is checked
    /// against (a large step shows the check failing: the run then ends with an error).
    #[arg(long, allow_hyphen_values = true, default_value_t = HVP_EPSILON)]
    pub hvp_epsilon: f64,
}

impl AttentionArgs {
    /// Checks every setting; the error is one line naming the flag and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        let at_least = |flag: &str, v: u64, min: u64| {
            if v >= min {
                Ok(())
            } else {
                Err(format!("{flag} {v}: must be at least {min}"))
            }
        };
        let lr = self.learning_rate;
        if !(lr.is_finite() && lr > 0.0) {
            return Err(format!("--learning-rate {lr}: must be a finite number > 0"));
        }
        let e = self.hvp_epsilon;
        if !(e.is_finite() && e > 0.0) {
            return Err(format!("--hvp-epsilon {e}: must be a finite number > 0"));
        }
        at_least("--seq-len", self.seq_len as u64, 2)?;
        at_least("--d-model", self.d_model as u64, 1)?;
        at_least("--heads", self.heads as u64, 1)?;
        at_least("--num-blocks", self.num_blocks as u64, 1)?;
        at_least("--num-steps", self.num_steps, 1)?;
        at_least("--mini-batch-size", self.mini_batch_size as u64, 1)?;
        at_least("--n-test", self.n_test as u64, 1)?;
        at_least("--eval-every", self.eval_every, 1)?;
        if !self.d_model.is_multiple_of(self.heads) {
            return Err(format!(
                "--heads {}: must divide --d-model {}",
                self.heads, self.d_model
            ));
        }
        // Distinct sequences available for the held-out set, with room left to train on.
        let distinct = (VOCAB as f64).powi(self.seq_len.min(30) as i32);
        if self.n_test as f64 > distinct / 2.0 {
            return Err(format!(
                "--n-test {}: at most half of the {distinct} distinct sequences of length {}",
                self.n_test, self.seq_len
            ));
        }
        Ok(())
    }
}

/// The sequence-to-sequence transformer encoder: token and position embeddings, pre-norm
/// transformer blocks, a final layer norm and a token-wise linear map to the digit logits.
/// Parameters are named `tok.weight`, `pos.weight`, `block1.attn.q.weight`, ...,
/// `ln_f.weight`, `head.weight`, `head.bias`.
pub struct SequenceTransformer<T: Float> {
    /// Token embedding `(VOCAB, d)`.
    pub tok: Embedding<T>,
    /// Learned position embedding `(T, d)`, added to every sequence.
    pub pos: Embedding<T>,
    /// The transformer blocks, in order.
    pub blocks: Vec<TransformerBlock<T>>,
    /// The final normalization.
    pub ln_f: LayerNorm<T>,
    /// Digit logits `d → VOCAB`.
    pub head: Linear<T>,
}

impl<T: Float> SequenceTransformer<T> {
    /// A network for sequences of `seq_len` digits, width `d`, `heads` heads per block,
    /// `blocks` blocks with MLP width `4d`. Drawn in the order token table, position table
    /// (both standard normal, as [`Embedding::new`]), blocks, head.
    pub fn new<S: Sampler + ?Sized>(
        seq_len: usize,
        d: usize,
        heads: usize,
        blocks: usize,
        sampler: &mut S,
    ) -> Self {
        let tok = Embedding::new(VOCAB, d, sampler);
        let pos = Embedding::new(seq_len, d, sampler);
        let blocks = (0..blocks)
            .map(|_| TransformerBlock::new(d, heads, 4 * d, false, sampler))
            .collect();
        SequenceTransformer {
            tok,
            pos,
            blocks,
            ln_f: LayerNorm::new(&[d], 1e-5),
            head: Linear::new(d, VOCAB, &Init::XAVIER_UNIFORM_TANH, sampler),
        }
    }

    /// The logits `(m, T, VOCAB)` and every block's attention weights `(m, heads, T, T)`.
    #[track_caller]
    pub fn forward_with_weights(&self, ids: &Tensor<T>) -> (Tensor<T>, Vec<Tensor<T>>) {
        let t = self.pos.weight.shape()[0];
        assert!(
            ids.ndim() == 2 && ids.shape()[1] == t,
            "SequenceTransformer::forward: sequences of {t} ids (m, {t}), got shape {:?}",
            ids.shape()
        );
        let mut x = self.tok.forward(ids) + &self.pos.weight;
        let mut weights = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let (y, w) = block.forward_with_weights(&x);
            x = y;
            weights.push(w);
        }
        (self.head.forward(&self.ln_f.forward(&x)), weights)
    }

    /// The same architecture with the parameters `values` (in [`Module::parameters`] order):
    /// a functional view of the network, for Hessian-vector products and for a wider copy.
    #[track_caller]
    pub fn with_parameters<U: Float>(&self, values: &[Tensor<U>]) -> SequenceTransformer<U> {
        let mut it = values.iter().cloned();
        let mut next = || it.next().expect("with_parameters: too few tensors");
        let linear = |n: &mut dyn FnMut() -> Tensor<U>| Linear {
            weight: n(),
            bias: n(),
        };
        let tok = Embedding { weight: next() };
        let pos = Embedding { weight: next() };
        let mut blocks = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            let ln1 = LayerNorm {
                weight: next(),
                bias: next(),
                eps: b.ln1.eps,
            };
            let attn = MultiHeadAttention {
                q: linear(&mut next),
                k: linear(&mut next),
                v: linear(&mut next),
                out: linear(&mut next),
                heads: b.attn.heads,
                causal: b.attn.causal,
            };
            let ln2 = LayerNorm {
                weight: next(),
                bias: next(),
                eps: b.ln2.eps,
            };
            blocks.push(TransformerBlock {
                ln1,
                attn,
                ln2,
                fc1: linear(&mut next),
                fc2: linear(&mut next),
            });
        }
        let ln_f = LayerNorm {
            weight: next(),
            bias: next(),
            eps: self.ln_f.eps,
        };
        let head = linear(&mut next);
        assert!(
            it.next().is_none(),
            "with_parameters: more tensors than parameters"
        );
        SequenceTransformer {
            tok,
            pos,
            blocks,
            ln_f,
            head,
        }
    }
}

impl<T: Float> Module<T> for SequenceTransformer<T> {
    /// The digit logits `(m, T, VOCAB)` for token ids `(m, T)` (whole numbers in `[0, 10)`).
    #[track_caller]
    fn forward(&self, ids: &Tensor<T>) -> Tensor<T> {
        self.forward_with_weights(ids).0
    }

    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.module("tok", &self.tok);
        v.module("pos", &self.pos);
        for (i, b) in self.blocks.iter().enumerate() {
            v.module(&format!("block{}", i + 1), b);
        }
        v.module("ln_f", &self.ln_f);
        v.module("head", &self.head);
    }

    fn describe(&self) -> String {
        format!(
            "SequenceTransformer({} blocks of {})",
            self.blocks.len(),
            self.blocks.first().map_or(String::new(), |b| b.describe())
        )
    }
}

/// Mean cross-entropy of the logits `(m, T, VOCAB)` against the answer digits (row-major).
pub fn cost<T: Float>(logits: &Tensor<T>, answers: &[usize]) -> Tensor<T> {
    logits.cross_entropy_indices(answers, -1, Default::default())
}

/// A uniform digit in `[0, vocab)`.
fn digit<S: Sampler + ?Sized>(sampler: &mut S, vocab: usize) -> usize {
    ((sampler.uniform() * vocab as f64) as usize).min(vocab - 1)
}

/// `n` sequences of `len` digits in `[0, vocab)`, row-major, none of them in `exclude`.
pub fn draw_sequences<S: Sampler + ?Sized>(
    sampler: &mut S,
    n: usize,
    len: usize,
    vocab: usize,
    exclude: &HashSet<Vec<usize>>,
) -> Vec<usize> {
    let mut out = Vec::with_capacity(n * len);
    while out.len() < n * len {
        let s: Vec<usize> = (0..len).map(|_| digit(sampler, vocab)).collect();
        if !exclude.contains(&s) {
            out.extend(s);
        }
    }
    out
}

/// The answers to the row-major `inputs` of sequences of `len` digits.
fn answers(task: SequenceTask, inputs: &[usize], len: usize) -> Vec<usize> {
    inputs.chunks(len).flat_map(|s| task.answer(s)).collect()
}

/// The ids as a tensor `(n, len)`.
fn ids<T: Float>(inputs: &[usize], len: usize) -> Tensor<T> {
    Tensor::from_vec(
        inputs.iter().map(|&i| T::from_f64(i as f64)).collect(),
        &[inputs.len() / len, len],
    )
}

/// Exact-sequence and per-token accuracy of `net` on `inputs` against `targets`, in chunks of
/// 500 sequences without recording a graph.
fn accuracy<T: Float>(
    net: &SequenceTransformer<T>,
    inputs: &[usize],
    targets: &[usize],
    len: usize,
) -> (f64, f64) {
    no_grad(|| {
        let (mut exact, mut tokens) = (0usize, 0usize);
        let n = inputs.len() / len;
        for start in (0..n).step_by(500) {
            let end = (start + 500).min(n);
            let x = ids::<T>(&inputs[start * len..end * len], len);
            let predicted = net.forward(&x).argmax_axis(2usize);
            for (p, y) in predicted
                .chunks(len)
                .zip(targets[start * len..end * len].chunks(len))
            {
                let right = p.iter().zip(y).filter(|(a, b)| a == b).count();
                tokens += right;
                exact += usize::from(right == len);
            }
        }
        (exact as f64 / n as f64, tokens as f64 / (n * len) as f64)
    })
}

/// The learning rate at `step` of `steps`: linear warm-up over the first 5%, then cosine decay
/// to zero.
fn learning_rate(peak: f64, step: u64, steps: u64) -> f64 {
    let warmup = (steps / 20).max(1);
    if step < warmup {
        peak * (step + 1) as f64 / warmup as f64
    } else {
        let progress = (step - warmup) as f64 / (steps - warmup).max(1) as f64;
        peak * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// The tiny configuration of the checks.
pub struct TinyConfig {
    /// Digits per sequence.
    pub seq_len: usize,
    /// Distinct digits (`< VOCAB`; the output layer still has [`VOCAB`] classes).
    pub digits: usize,
    /// Width.
    pub d: usize,
    /// Heads.
    pub heads: usize,
    /// Blocks.
    pub blocks: usize,
    /// Sequences in the checked batch.
    pub batch: usize,
    /// Adam steps between the first and the second check.
    pub steps: u64,
}

/// 2 blocks, 2 heads, d = 8, 3 sequences of 4 digits in `[0, 5)`, 30 Adam steps.
pub const TINY: TinyConfig = TinyConfig {
    seq_len: 4,
    digits: 5,
    d: 8,
    heads: 2,
    blocks: 2,
    batch: 3,
    steps: 30,
};

/// Default step of the central differences of gradients in the Hessian-vector check
/// (`--hvp-epsilon`): the `ε²` truncation and the rounding error `~1e-16·|∇L|/ε` are both
/// around 1e-10 here.
pub const HVP_EPSILON: f64 = 1e-5;

/// The Hessian-vector check passes below this relative difference (the course's formula over
/// all parameters): central differences of gradients agree to ~1e-9 with the exact product.
pub const HVP_TOLERANCE: f64 = 1e-6;

/// Autodiff against central differences on every component, and the Hessian-vector product
/// against central differences of gradients with step `hvp_epsilon`, for `net` on the batch
/// `(inputs, targets)`. Returns both checks and whether the gradient check passed.
pub fn check_at(
    update: u64,
    net: &SequenceTransformer<f64>,
    inputs: &[usize],
    targets: &[usize],
    len: usize,
    direction_seed: u64,
    hvp_epsilon: f64,
) -> (AutodiffCheck, HvpCheck, bool) {
    let x = ids::<f64>(inputs, len);
    let y = Tensor::<f64>::zeros(&[1]);
    let ce = |out: &Tensor<f64>, _: &Tensor<f64>, _: &[Param<f64>]| cost(out, targets);
    let report = nn::check::ModuleCheck::new(net, &x, &y, &ce)
        .config(CheckConfig::for_type::<f64>())
        .run();
    let mut summary = crate::checks::summarize(update, &report, 0);
    summary.examples = inputs.len() / len;
    summary.batch_examples = summary.examples;

    let values: Vec<Tensor<f64>> = net.parameters().iter().map(|p| p.tensor.detach()).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(direction_seed);
    let directions: Vec<Tensor<f64>> = values
        .iter()
        .map(|v| Tensor::sample_normal(v.shape(), &mut rng))
        .collect();
    let loss_of = |ps: &[Tensor<f64>]| cost(&net.with_parameters(ps).forward(&x), targets);
    let exact: Vec<f64> = hvp(loss_of, &values, &directions)
        .iter()
        .flat_map(Tensor::to_vec)
        .collect();
    let gradient_at = |shift: f64| -> Vec<f64> {
        let leaves: Vec<Tensor<f64>> = values
            .iter()
            .zip(&directions)
            .map(|(v, d)| (v + d * shift).detach().to_leaf())
            .collect();
        let refs: Vec<&Tensor<f64>> = leaves.iter().collect();
        let loss = loss_of(&leaves);
        grad(&loss, &refs, BackwardOptions::default())
            .iter()
            .flat_map(Tensor::to_vec)
            .collect()
    };
    let (plus, minus) = (gradient_at(hvp_epsilon), gradient_at(-hvp_epsilon));
    let numerical: Vec<f64> = plus
        .iter()
        .zip(&minus)
        .map(|(p, m)| (p - m) / (2.0 * hvp_epsilon))
        .collect();
    let rel = relative_difference(&exact, &numerical);
    let hvp_check = HvpCheck {
        update,
        components: exact.len(),
        epsilon: hvp_epsilon,
        hv_norm: exact.iter().map(|v| v * v).sum::<f64>().sqrt(),
        relative_difference: rel,
        max_abs_difference: exact
            .iter()
            .zip(&numerical)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max),
        passed: rel < HVP_TOLERANCE,
    };
    (summary, hvp_check, report.passed())
}

/// The checks on the tiny configuration: at initialization (seed `seed`) and after
/// [`TinyConfig::steps`] Adam steps on its batch, the Hessian-vector products against
/// differences of gradients with step `hvp_epsilon`. Returns the gradient checks, the
/// Hessian-vector checks and the names of the failing checks (empty when all pass).
pub fn tiny_check(
    task: SequenceTask,
    tiny: &TinyConfig,
    seed: u64,
    hvp_epsilon: f64,
) -> (Vec<AutodiffCheck>, Vec<HvpCheck>, Vec<String>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let net =
        SequenceTransformer::<f64>::new(tiny.seq_len, tiny.d, tiny.heads, tiny.blocks, &mut rng);
    let inputs = draw_sequences(
        &mut rng,
        tiny.batch,
        tiny.seq_len,
        tiny.digits,
        &HashSet::new(),
    );
    let targets = answers(task, &inputs, tiny.seq_len);
    let (mut grads, mut hvps, mut failed) = (vec![], vec![], vec![]);
    let mut check = |update: u64, net: &SequenceTransformer<f64>| {
        let (g, h, ok) = check_at(
            update,
            net,
            &inputs,
            &targets,
            tiny.seq_len,
            seed + update,
            hvp_epsilon,
        );
        if !ok {
            failed.push(format!("gradient check at update {update}"));
        }
        if !h.passed {
            failed.push(format!("Hessian-vector check at update {update}"));
        }
        grads.push(g);
        hvps.push(h);
    };
    check(0, &net);
    let params = net.parameters();
    let mut adam = Adam::new(0.01);
    let x = ids::<f64>(&inputs, tiny.seq_len);
    for _ in 0..tiny.steps {
        let loss = cost(&net.forward(&x), &targets);
        adam.zero_grad(&params);
        loss.backward();
        adam.step(&params);
    }
    check(tiny.steps, &net);
    (grads, hvps, failed)
}

/// RGB of an attention weight in `[0, 1]`: white to dark blue.
fn heat(w: f64) -> [u8; 3] {
    let w = w.clamp(0.0, 1.0);
    let mix = |lo: f64, hi: f64| (lo + (hi - lo) * w).round() as u8;
    [mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0)]
}

/// 3×5 pixel glyphs of the digits 0-9, rows top down, 3 bits per row (most significant left).
const GLYPHS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// The attention maps of one sequence as a PNG: one panel per (block, head), blocks as rows and
/// heads as columns; in a panel, row `i` is query position `i` and column `j` key position `j`,
/// darker for more weight. The input digits label the columns (above) and the rows (left),
/// and the answer digits label the rows on the right.
pub fn attention_png(weights: &[Vec<Vec<f64>>], input: &[usize], answer: &[usize]) -> Vec<u8> {
    const CELL: usize = 24;
    const SCALE: usize = 3;
    const LABEL: usize = 5 * SCALE + 6;
    const GAP: usize = 16;
    let t = input.len();
    let heads = weights.first().map_or(0, Vec::len);
    let panel_w = LABEL + t * CELL + LABEL;
    let panel_h = LABEL + t * CELL;
    let width = GAP + heads * (panel_w + GAP);
    let height = GAP + weights.len() * (panel_h + GAP);
    let mut rgb = vec![255u8; 3 * width * height];
    let mut put = |x: usize, y: usize, c: [u8; 3]| {
        let k = 3 * (y * width + x);
        rgb[k..k + 3].copy_from_slice(&c);
    };
    let glyph = |put: &mut dyn FnMut(usize, usize, [u8; 3]), d: usize, x0: usize, y0: usize| {
        for (r, bits) in GLYPHS[d % 10].iter().enumerate() {
            for c in 0..3 {
                if bits & (4 >> c) != 0 {
                    for dy in 0..SCALE {
                        for dx in 0..SCALE {
                            put(x0 + c * SCALE + dx, y0 + r * SCALE + dy, [0, 0, 0]);
                        }
                    }
                }
            }
        }
    };
    for (b, block) in weights.iter().enumerate() {
        for (h, map) in block.iter().enumerate() {
            let x0 = GAP + h * (panel_w + GAP);
            let y0 = GAP + b * (panel_h + GAP);
            let (gx, gy) = (x0 + LABEL, y0 + LABEL);
            for i in 0..t {
                for j in 0..t {
                    let c = heat(map[i * t + j]);
                    for dy in 0..CELL {
                        for dx in 0..CELL {
                            put(gx + j * CELL + dx, gy + i * CELL + dy, c);
                        }
                    }
                }
            }
            for (k, (&d, &a)) in input.iter().zip(answer).enumerate() {
                let centre = (CELL - 3 * SCALE) / 2;
                glyph(&mut put, d, gx + k * CELL + centre, y0 + 2);
                let mid = (CELL - 5 * SCALE) / 2;
                glyph(&mut put, d, x0 + 4, gy + k * CELL + mid);
                glyph(&mut put, a, gx + t * CELL + 6, gy + k * CELL + mid);
            }
        }
    }
    plot::png_rgb(width as u32, height as u32, &rgb)
}

/// One training run.
pub fn train_run(ctx: &Context, args: &AttentionArgs) -> Result<RunReport, AppError> {
    args.validate().map_err(AppError)?;
    let started = Instant::now();
    let len = args.seq_len;
    let run = format!("attention-{}", args.task.name());
    let mut data_rng = rand::rngs::StdRng::seed_from_u64(u64::from(args.data_seed));
    let test_inputs = draw_sequences(&mut data_rng, args.n_test, len, VOCAB, &HashSet::new());
    let test_targets = answers(args.task, &test_inputs, len);
    let held_out: HashSet<Vec<usize>> = test_inputs.chunks(len).map(<[usize]>::to_vec).collect();
    let mut train_rng = rand::rngs::StdRng::seed_from_u64(u64::from(args.data_seed) + 1);
    let source = vec![format!(
        "{} of {len} uniform digits: {} held-out sequences (seed {}), fresh training batches \
         (seed {}) excluding them",
        args.task.name(),
        args.n_test,
        args.data_seed,
        u64::from(args.data_seed) + 1
    )];
    ctx.reporter.line(&format!("data: {}", source[0]));
    ctx.reporter.line(&format!(
        "== {run}: {} blocks, {} heads, d {}, adam lr {} (warm-up, cosine), {} steps of {} \
         sequences",
        args.num_blocks,
        args.heads,
        args.d_model,
        args.learning_rate,
        args.num_steps,
        args.mini_batch_size
    ));

    let (mut checks, mut hvp_checks, mut failed) = (vec![], vec![], vec![]);
    if !args.no_check {
        let (g, h, f) = tiny_check(
            args.task,
            &TINY,
            u64::from(args.init_seed),
            args.hvp_epsilon,
        );
        for c in &g {
            ctx.reporter
                .progress(&format!("tiny check: {}", crate::report::check_line(c)));
        }
        checks = g;
        hvp_checks = h;
        failed = f;
    }

    // `--print-every` (the shared option) overrides the evaluation cadence.
    let eval_every = ctx.print_every.unwrap_or(args.eval_every);
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(args.init_seed));
    let net =
        SequenceTransformer::<f32>::new(len, args.d_model, args.heads, args.num_blocks, &mut rng);
    let params = net.parameters();
    let mut adam = Adam::new(args.learning_rate);
    let (mut cost_at, mut costs, mut curve) = (vec![], vec![], vec![]);
    let (mut window, mut window_n) = (0.0, 0u64);
    // The training accuracy is measured on the last mini-batches (about --n-test sequences).
    let keep_from = args
        .num_steps
        .saturating_sub(args.n_test.div_ceil(args.mini_batch_size) as u64);
    let mut last_inputs: Vec<usize> = vec![];
    for step in 0..args.num_steps {
        let inputs = draw_sequences(&mut train_rng, args.mini_batch_size, len, VOCAB, &held_out);
        let targets = answers(args.task, &inputs, len);
        adam.set_learning_rate(learning_rate(args.learning_rate, step, args.num_steps));
        let loss = cost(&net.forward(&ids::<f32>(&inputs, len)), &targets);
        adam.zero_grad(&params);
        loss.backward();
        adam.step(&params);
        let value = loss.item().as_f64();
        if !value.is_finite() && !ctx.allow_nonfinite {
            return Err(AppError(format!(
                "{run}: the cost became {value} at step {step}"
            )));
        }
        window += value;
        window_n += 1;
        if step >= keep_from {
            last_inputs.extend(inputs);
        }
        if (step + 1) % eval_every == 0 || step + 1 == args.num_steps {
            let mean = window / window_n as f64;
            (window, window_n) = (0.0, 0);
            let (exact, token) = accuracy(&net, &test_inputs, &test_targets, len);
            cost_at.push(step + 1);
            costs.push(mean);
            curve.push((step + 1, exact, token));
            ctx.reporter.progress(&format!(
                "{run}: step {} mean cost {mean:.6}, held-out exact-sequence accuracy \
                 {exact:.4}, token accuracy {token:.4} ({:.1} s)",
                step + 1,
                started.elapsed().as_secs_f64()
            ));
        }
    }
    let last_targets = answers(args.task, &last_inputs, len);
    let (train_acc, _) = accuracy(&net, &last_inputs, &last_targets, len);
    let (test_acc, token_acc) = accuracy(&net, &test_inputs, &test_targets, len);
    ctx.reporter.line(&format!(
        "{run}: held-out exact-sequence accuracy {} (token accuracy {}) after {} steps (the \
         train accuracy below is on the last {} training sequences)",
        py_float(test_acc),
        py_float(token_acc),
        args.num_steps,
        last_inputs.len() / len
    ));

    let mut plots = vec![];
    if let Some(dir) = ctx.out_dir()? {
        let stem = plot::file_stem(&run);
        let points: Vec<(f64, f64)> = cost_at
            .iter()
            .zip(&costs)
            .map(|(&s, &c)| (s as f64, c))
            .collect();
        let path = dir.join(format!("{stem}-cost.svg"));
        plot::cost_curves(
            &path,
            &format!("{run}: mean cost between evaluations"),
            "step",
            "cost",
            &[plot::Series {
                label: "mean training cost",
                points: &points,
                markers: true,
            }],
        )?;
        plots.push(path.display().to_string());
        let exact: Vec<(f64, f64)> = curve.iter().map(|&(s, e, _)| (s as f64, e)).collect();
        let token: Vec<(f64, f64)> = curve.iter().map(|&(s, _, t)| (s as f64, t)).collect();
        let path = dir.join(format!("{stem}-accuracy.svg"));
        plot::cost_curves(
            &path,
            &format!("{run}: held-out accuracy"),
            "step",
            "accuracy",
            &[
                plot::Series {
                    label: "exact sequence",
                    points: &exact,
                    markers: true,
                },
                plot::Series {
                    label: "per token",
                    points: &token,
                    markers: false,
                },
            ],
        )?;
        plots.push(path.display().to_string());
        // The first held-out sequence's attention maps, every block and head.
        let example = &test_inputs[..len];
        let (_, weights) = no_grad(|| net.forward_with_weights(&ids::<f32>(example, len)));
        let maps: Vec<Vec<Vec<f64>>> = weights
            .iter()
            .map(|w| {
                let v: Vec<f64> = w.to_vec().iter().map(|x| x.as_f64()).collect();
                v.chunks(len * len).map(<[f64]>::to_vec).collect()
            })
            .collect();
        let path = dir.join(format!("{stem}-attention.png"));
        std::fs::write(
            &path,
            attention_png(&maps, example, &args.task.answer(example)),
        )
        .map_err(|e| AppError(format!("writing {}: {e}", path.display())))?;
        plots.push(path.display().to_string());
    }
    let report = RunReport {
        run: run.clone(),
        data: source,
        unit: "step",
        cost_at,
        costs,
        train_acc,
        test_acc: Some(test_acc),
        checks,
        hvp_checks,
        test_acc_curve: curve.iter().map(|&(s, e, _)| (s, e)).collect(),
        plots,
        seconds: started.elapsed().as_secs_f64(),
    };
    if failed.is_empty() {
        Ok(report)
    } else {
        ctx.reporter.run(&report);
        let failures: Vec<String> = failed.iter().map(|f| format!("{f} failed")).collect();
        Err(AppError(format!("{run}: {}", failures.join("; "))))
    }
}

/// `apps attention`.
pub fn run(ctx: &Context, args: &AttentionArgs) -> Result<Vec<RunReport>, AppError> {
    let report = train_run(ctx, args)?;
    ctx.reporter.run(&report);
    Ok(vec![report])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_answer_as_named() {
        assert_eq!(SequenceTask::Sort.answer(&[3, 1, 3, 0]), [0, 1, 3, 3]);
        assert_eq!(SequenceTask::Reverse.answer(&[3, 1, 3, 0]), [0, 3, 1, 3]);
        assert_eq!(answers(SequenceTask::Sort, &[2, 1, 9, 0], 2), [1, 2, 0, 9]);
    }

    #[test]
    fn training_draws_skip_the_held_out_sequences_and_depend_only_on_the_seed() {
        // Sequences of 2 digits out of 2: four possible, two held out.
        let held: HashSet<Vec<usize>> = [vec![0, 0], vec![1, 1]].into_iter().collect();
        let draw = || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            draw_sequences(&mut rng, 50, 2, 2, &held)
        };
        let drawn = draw();
        assert_eq!(drawn.len(), 100);
        for s in drawn.chunks(2) {
            assert!(s == [0, 1] || s == [1, 0], "{s:?}");
        }
        assert_eq!(drawn, draw());
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let all = draw_sequences(&mut rng, 400, 3, 10, &HashSet::new());
        assert!(all.iter().all(|&d| d < 10));
        // Every digit appears (a uniform draw over 1200 digits).
        assert!((0..10).all(|d| all.contains(&d)));
    }

    #[test]
    fn the_learning_rate_warms_up_then_decays_to_zero() {
        let lr = |s| learning_rate(0.01, s, 1000);
        assert!((lr(0) - 0.01 / 50.0).abs() < 1e-15);
        assert!((lr(49) - 0.01).abs() < 1e-15);
        assert!((lr(50) - 0.01).abs() < 1e-15);
        assert!(lr(500) < 0.01 && lr(500) > lr(900));
        assert!(lr(999) < 1e-6);
    }

    #[test]
    fn the_network_rebuilt_from_its_parameters_computes_the_same() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let net = SequenceTransformer::<f64>::new(4, 8, 2, 2, &mut rng);
        let names: Vec<String> = net.parameters().into_iter().map(|p| p.name).collect();
        assert_eq!(names.len(), 2 + 2 * 16 + 2 + 2);
        assert_eq!(names[0], "tok.weight");
        assert_eq!(names[2], "block1.ln1.weight");
        assert_eq!(names[names.len() - 1], "head.bias");
        let values: Vec<Tensor<f64>> = net.parameters().iter().map(|p| p.tensor.detach()).collect();
        let x = ids::<f64>(&[1, 2, 3, 4, 9, 0, 0, 5], 4);
        let (y, w) = net.forward_with_weights(&x);
        assert_eq!(y.shape(), &[2, 4, VOCAB]);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].shape(), &[2, 2, 4, 4]);
        assert_eq!(
            net.with_parameters(&values).forward(&x).to_vec(),
            y.to_vec()
        );
        // A changed value changes the output: the rebuilt network reads the tensors given.
        let mut shifted = values.clone();
        shifted[0] = &shifted[0] + 1.0;
        assert_ne!(
            net.with_parameters(&shifted).forward(&x).to_vec(),
            y.to_vec()
        );
    }

    #[test]
    fn attention_png_has_one_panel_per_block_and_head() {
        let map = vec![vec![0.25; 16]; 3];
        let png = attention_png(&[map.clone(), map], &[1, 2, 3, 4], &[1, 2, 3, 4]);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let be = |k: usize| u32::from_be_bytes(png[k..k + 4].try_into().unwrap());
        // IHDR: width = 16 + 3 panels · (2 labels + 4 cells + 16), height for 2 rows.
        assert_eq!(be(16), 16 + 3 * (2 * 21 + 4 * 24 + 16));
        assert_eq!(be(20), 16 + 2 * (21 + 4 * 24 + 16));
    }
}
