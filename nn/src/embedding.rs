//! Token embeddings: a table `(num_embeddings, dim)` whose rows are looked up by index.
//!
//! [`Embedding`] is a [`Module`] with one parameter, `weight` (PyTorch's name). Its
//! [`Module::forward`] takes the ids as a tensor of whole numbers (what a
//! [`Sequential`](crate::Sequential) passes along); [`Embedding::lookup`] takes them as
//! `usize`s directly.

use engine::random::Sampler;
use engine::{Float, Tensor};

use crate::init::Init;
use crate::module::{Module, ParamKind, Visitor};

/// An embedding table. The gradient of a row used several times in a batch is the sum of its
/// uses' (the engine's `index_select` backward adds repeated indices).
pub struct Embedding<T: Float> {
    /// The table `(num_embeddings, dim)`, a leaf requiring gradients.
    pub weight: Tensor<T>,
}

impl<T: Float> Embedding<T> {
    /// A table drawn from the standard normal distribution (PyTorch's default for
    /// embeddings).
    pub fn new<S: Sampler + ?Sized>(num_embeddings: usize, dim: usize, sampler: &mut S) -> Self {
        let w = Init::ScaledNormal(1.0).sample::<T, S>(
            &[num_embeddings, dim],
            dim,
            num_embeddings,
            sampler,
        );
        Embedding {
            weight: w.to_leaf().named("weight"),
        }
    }

    /// Rows for `ids` (row-major, of shape `shape`), giving `(*shape, dim)`: for token ids of
    /// shape `(m, T)`, the batch-first sequence `(m, T, dim)`.
    #[track_caller]
    pub fn lookup(&self, ids: &[usize], shape: &[usize]) -> Tensor<T> {
        self.weight.embedding(ids, shape)
    }
}

impl<T: Float> Module<T> for Embedding<T> {
    /// Rows for the ids held by `ids` (whole numbers in `[0, num_embeddings)`), giving
    /// `(*ids.shape(), dim)`. No gradient flows to `ids`.
    ///
    /// Panics, naming the offending value, if an id is not a whole number in range.
    #[track_caller]
    fn forward(&self, ids: &Tensor<T>) -> Tensor<T> {
        let n = self.weight.shape()[0];
        let idx: Vec<usize> = ids
            .to_vec()
            .into_iter()
            .map(|v| {
                let f = v.as_f64();
                assert!(
                    f >= 0.0 && f.fract() == 0.0 && f < n as f64,
                    "Embedding::forward: ids of shape {:?} must be whole numbers in [0, {n}) \
                     for a table of shape {:?}, got {f}",
                    ids.shape(),
                    self.weight.shape()
                );
                f as usize
            })
            .collect();
        self.lookup(&idx, ids.shape())
    }

    /// The table `weight` (penalised, as a weight).
    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.param("weight", &self.weight, ParamKind::Weight);
    }

    fn describe(&self) -> String {
        let s = self.weight.shape();
        format!("Embedding({}, {})", s[0], s[1])
    }
}
