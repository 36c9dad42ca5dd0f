//! Attention for sequence models: [`MultiHeadAttention`] (scaled dot-product, optional causal
//! mask) and the pre-norm [`TransformerBlock`], plus the token-wise [`Linear`] map they use.
//!
//! Layout at this seam: sequences are batch-first `(m, T, d)` with features on the LAST axis,
//! as PyTorch's `batch_first=True`. The dense layers elsewhere in this crate keep the course's
//! examples-as-columns layout `(n_features, m)`; inside a sequence model every token is a row,
//! so [`Linear`] computes `x·Wᵀ + b` on the last axis with `W` still stored `(n_out, n_in)` and
//! `b` as `(n_out,)`.
//!
//! Every layer is a [`Module`] with nested names: a [`Linear`] reports `weight` and `bias`,
//! a [`MultiHeadAttention`] its projections `q`, `k`, `v`, `out`, and a [`TransformerBlock`]
//! `ln1`, `attn`, `ln2` and its MLP `mlp.fc1`, `mlp.fc2`, so a block's parameters are
//! `attn.q.weight`, `mlp.fc1.bias`, ... (PyTorch's style of names), ready for freezing by
//! prefix, checkpoints and per-parameter gradient checks.
//!
//! Everything is written with engine operations (matmul, softmax, masked_fill, layer norm,
//! GELU), so these layers are differentiable to second order: Hessian-vector products of a
//! loss through a transformer work.

use engine::random::Sampler;
use engine::{Float, Tensor};

use crate::init::Init;
use crate::layernorm::LayerNorm;
use crate::module::{Module, ParamKind, Visitor};

/// A token-wise affine map on the last axis: `y = x·Wᵀ + b`, `W` of shape `(n_out, n_in)`.
pub struct Linear<T: Float> {
    /// `W`, shape `(n_out, n_in)`.
    pub weight: Tensor<T>,
    /// `b`, shape `(n_out,)`.
    pub bias: Tensor<T>,
}

impl<T: Float> Linear<T> {
    /// `W` drawn by `init` (fans `n_in`, `n_out`), `b` zeros.
    pub fn new<S: Sampler + ?Sized>(
        n_in: usize,
        n_out: usize,
        init: &Init,
        sampler: &mut S,
    ) -> Self {
        Linear {
            weight: init
                .weight::<T, S>(n_out, n_in, sampler)
                .to_leaf()
                .named("weight"),
            bias: Tensor::zeros(&[n_out]).to_leaf().named("bias"),
        }
    }
}

impl<T: Float> Module<T> for Linear<T> {
    /// `x·Wᵀ + b` for `x` of shape `(..., n_in)`.
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let n_in = self.weight.shape()[1];
        assert!(
            x.ndim() >= 2 && x.shape()[x.ndim() - 1] == n_in,
            "Linear::forward: W of shape {:?} takes inputs of shape (..., {n_in}) (features last), \
             got shape {:?}",
            self.weight.shape(),
            x.shape()
        );
        x.matmul(&self.weight.t()) + &self.bias
    }

    /// `weight` (penalised) and `bias`.
    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.param("weight", &self.weight, ParamKind::Weight);
        v.param("bias", &self.bias, ParamKind::Bias);
    }

    fn describe(&self) -> String {
        let s = self.weight.shape();
        format!("Linear({} -> {})", s[1], s[0])
    }
}

/// The causal mask of a length-`t` sequence: 1 above the diagonal (a position may not attend to
/// later ones), 0 elsewhere; shape `(t, t)`.
pub fn causal_mask<T: Float>(t: usize) -> Tensor<T> {
    let data = (0..t * t)
        .map(|k| if k % t > k / t { T::one() } else { T::zero() })
        .collect();
    Tensor::from_vec(data, &[t, t])
}

/// Multi-head scaled dot-product self-attention on `(m, T, d)` sequences:
/// `softmax(Q·Kᵀ/√d_head + mask)·V` per head, heads concatenated and mixed by `W_o`.
pub struct MultiHeadAttention<T: Float> {
    /// Query projection `d → d`.
    pub q: Linear<T>,
    /// Key projection `d → d`.
    pub k: Linear<T>,
    /// Value projection `d → d`.
    pub v: Linear<T>,
    /// Output projection `d → d`.
    pub out: Linear<T>,
    /// Number of heads (divides `d`).
    pub heads: usize,
    /// Whether position `i` attends only to positions `≤ i`.
    pub causal: bool,
}

impl<T: Float> MultiHeadAttention<T> {
    /// `heads` heads over model width `d`; projections drawn Xavier-uniform (gain 1).
    #[track_caller]
    pub fn new<S: Sampler + ?Sized>(d: usize, heads: usize, causal: bool, sampler: &mut S) -> Self {
        assert!(
            heads > 0 && d.is_multiple_of(heads),
            "MultiHeadAttention::new: {heads} heads do not divide width {d}"
        );
        let init = Init::XAVIER_UNIFORM_TANH;
        MultiHeadAttention {
            q: Linear::new(d, d, &init, sampler),
            k: Linear::new(d, d, &init, sampler),
            v: Linear::new(d, d, &init, sampler),
            out: Linear::new(d, d, &init, sampler),
            heads,
            causal,
        }
    }

    /// The output and the attention weights `(m, heads, T, T)` (row `i` of a head: how much
    /// position `i` draws from each position), for plotting attention maps.
    #[track_caller]
    pub fn forward_with_weights(&self, x: &Tensor<T>) -> (Tensor<T>, Tensor<T>) {
        let d = self.q.weight.shape()[0];
        assert!(
            x.ndim() == 3 && x.shape()[2] == d,
            "MultiHeadAttention::forward: width {d} takes sequences (m, T, {d}), got shape {:?}",
            x.shape()
        );
        let (m, t, h) = (x.shape()[0], x.shape()[1], self.heads);
        let dh = d / h;
        // (m, T, d) -> (m, h, T, d_head)
        let split = |y: Tensor<T>| y.reshape(&[m, t, h, dh]).permute(&[0, 2, 1, 3]);
        let q = split(self.q.forward(x));
        let k = split(self.k.forward(x));
        let v = split(self.v.forward(x));
        let mut scores = q.matmul(&k.transpose(-2, -1)) * T::from_f64(1.0 / (dh as f64).sqrt());
        if self.causal {
            scores = scores.masked_fill(&causal_mask(t), T::neg_infinity());
        }
        let weights = scores.softmax(-1);
        let heads = weights
            .matmul(&v)
            .permute(&[0, 2, 1, 3])
            .reshape(&[m, t, d]);
        (self.out.forward(&heads), weights)
    }
}

impl<T: Float> Module<T> for MultiHeadAttention<T> {
    /// The attended sequence `(m, T, d)` for `x` of shape `(m, T, d)`.
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        self.forward_with_weights(x).0
    }

    /// The projections under `q`, `k`, `v` and `out` (`q.weight`, ..., `out.bias`).
    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.module("q", &self.q);
        v.module("k", &self.k);
        v.module("v", &self.v);
        v.module("out", &self.out);
    }

    fn describe(&self) -> String {
        format!(
            "MultiHeadAttention(d = {}, heads = {}{})",
            self.q.weight.shape()[0],
            self.heads,
            if self.causal { ", causal" } else { "" }
        )
    }
}

/// A pre-norm transformer block on `(m, T, d)` sequences:
/// `x + attn(LN₁(x))`, then `+ W₂·GELU(W₁·LN₂(·))` with a hidden width `mlp` (usually `4d`).
pub struct TransformerBlock<T: Float> {
    /// Normalization before attention.
    pub ln1: LayerNorm<T>,
    /// Self-attention.
    pub attn: MultiHeadAttention<T>,
    /// Normalization before the MLP.
    pub ln2: LayerNorm<T>,
    /// MLP expansion `d → mlp`.
    pub fc1: Linear<T>,
    /// MLP projection `mlp → d`.
    pub fc2: Linear<T>,
}

impl<T: Float> TransformerBlock<T> {
    /// A block of width `d`, `heads` heads, MLP width `mlp`; `causal` masks future positions.
    pub fn new<S: Sampler + ?Sized>(
        d: usize,
        heads: usize,
        mlp: usize,
        causal: bool,
        sampler: &mut S,
    ) -> Self {
        TransformerBlock {
            ln1: LayerNorm::new(&[d], 1e-5),
            attn: MultiHeadAttention::new(d, heads, causal, sampler),
            ln2: LayerNorm::new(&[d], 1e-5),
            fc1: Linear::new(d, mlp, &Init::HeNormal, sampler),
            fc2: Linear::new(mlp, d, &Init::XAVIER_UNIFORM_TANH, sampler),
        }
    }
}

impl<T: Float> TransformerBlock<T> {
    /// The block's output `(m, T, d)` and its attention weights `(m, heads, T, T)` (see
    /// [`MultiHeadAttention::forward_with_weights`]), for plotting attention maps.
    #[track_caller]
    pub fn forward_with_weights(&self, x: &Tensor<T>) -> (Tensor<T>, Tensor<T>) {
        let (attended, weights) = self.attn.forward_with_weights(&self.ln1.forward(x));
        let x = x + attended;
        let hidden = self.fc1.forward(&self.ln2.forward(&x)).gelu();
        (&x + self.fc2.forward(&hidden), weights)
    }
}

impl<T: Float> Module<T> for TransformerBlock<T> {
    /// The block's output `(m, T, d)`.
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        self.forward_with_weights(x).0
    }

    /// `ln1`, `attn` (`attn.q.weight`, ...), `ln2`, and the MLP's layers under `mlp`
    /// (`mlp.fc1.weight`, ..., `mlp.fc2.bias`), in the order the forward pass uses them.
    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.module("ln1", &self.ln1);
        v.module("attn", &self.attn);
        v.module("ln2", &self.ln2);
        v.scope("mlp", |v| {
            v.module("fc1", &self.fc1);
            v.module("fc2", &self.fc2);
        });
    }

    fn describe(&self) -> String {
        format!(
            "TransformerBlock({}, mlp {})",
            self.attn.describe(),
            self.fc1.weight.shape()[0]
        )
    }
}
