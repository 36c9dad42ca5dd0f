//! Token embeddings: a table `(num_embeddings, dim)` whose rows are looked up by index.

use engine::random::Sampler;
use engine::{Float, Tensor};

use crate::init::Init;
use crate::module::Param;

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
            weight: w.requires_grad().named("W"),
        }
    }

    /// Rows for `ids` (row-major, of shape `shape`), giving `(*shape, dim)`: for token ids of
    /// shape `(m, T)`, the batch-first sequence `(m, T, dim)`.
    #[track_caller]
    pub fn forward(&self, ids: &[usize], shape: &[usize]) -> Tensor<T> {
        self.weight.embedding(ids, shape)
    }

    /// The table (a weight).
    pub fn parameters(&self) -> Vec<Param<T>> {
        vec![Param::weight("W", self.weight.clone())]
    }
}
