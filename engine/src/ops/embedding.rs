//! Lookups by integer index: `embedding` (rows of a table, for token ids) and cross-entropy
//! from class indices along any axis, with an ignored index and label smoothing.
//!
//! Both are compositions of recorded operations: `embedding` is `index_select` (whose backward,
//! `index_add`, adds the gradients of repeated indices into the same row), and the loss is
//! `log_softmax`, `gather`, `mean_axis` and `where`, so it is stable for any logits and
//! differentiable to any order.

use crate::{Float, Tensor};

/// How per-element losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The mean over the elements that are not ignored (PyTorch's default; `NaN` when every
    /// element is ignored, as there is nothing to average).
    #[default]
    Mean,
    /// The sum over the elements that are not ignored.
    Sum,
    /// No reduction: one loss per target, 0 where ignored.
    None,
}

/// Settings of [`Tensor::cross_entropy_indices`].
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct CrossEntropyOptions {
    /// Targets equal to this index contribute nothing (padding tokens, say).
    pub ignore_index: Option<usize>,
    /// `ε` in `[0, 1]`: the target distribution puts `1 - ε` on the class and spreads `ε`
    /// evenly over all `K` classes, so the loss is `(1 - ε)·(-log p_y) + ε·mean_k(-log p_k)`.
    pub label_smoothing: f64,
    /// How the per-target losses are combined.
    pub reduction: Reduction,
}

impl<T: Float> Tensor<T> {
    /// Rows of the table `self` `(num_embeddings, dim)` picked by `indices` (row-major, of
    /// shape `index_shape`), giving `(*index_shape, dim)`. The gradient of a row used several
    /// times is the sum of its uses'.
    #[track_caller]
    pub fn embedding(&self, indices: &[usize], index_shape: &[usize]) -> Tensor<T> {
        assert!(
            self.ndim() == 2,
            "embedding: the table must be (num_embeddings, dim), got shape {:?}",
            self.shape()
        );
        assert!(
            indices.len() == index_shape.iter().product::<usize>(),
            "embedding: {} indices cannot have shape {index_shape:?}",
            indices.len()
        );
        if let Some(bad) = indices.iter().find(|&&i| i >= self.shape()[0]) {
            panic!(
                "embedding: index {bad} out of range for a table of shape {:?}",
                self.shape()
            );
        }
        let mut shape: Vec<usize> = index_shape.to_vec();
        shape.push(self.shape()[1]);
        self.index_select(0, indices).reshape(&shape)
    }

    /// Cross-entropy between logits `self` and integer class `targets` along `axis` (the
    /// classes; negative counts from the end). `targets` is row-major with `self`'s shape minus
    /// `axis`. Computed from `log_softmax`, so any finite logits give a finite loss.
    #[track_caller]
    pub fn cross_entropy_indices(
        &self,
        targets: &[usize],
        axis: isize,
        options: CrossEntropyOptions,
    ) -> Tensor<T> {
        let axis = crate::ops::resolve_axis("cross_entropy_indices", axis, self.shape());
        let classes = self.shape()[axis];
        let mut target_shape: Vec<usize> = self.shape().to_vec();
        target_shape[axis] = 1;
        assert!(
            targets.len() == target_shape.iter().product::<usize>(),
            "cross_entropy_indices: {} targets for logits of shape {:?} with classes on axis {axis}",
            targets.len(),
            self.shape()
        );
        let eps = options.label_smoothing;
        assert!(
            (0.0..=1.0).contains(&eps),
            "cross_entropy_indices: label smoothing {eps} is not in [0, 1]"
        );
        let ignored = |t: usize| options.ignore_index == Some(t);
        if let Some(bad) = targets.iter().find(|&&t| t >= classes && !ignored(t)) {
            panic!(
                "cross_entropy_indices: target {bad} out of range for {classes} classes (logits \
                 of shape {:?}, axis {axis})",
                self.shape()
            );
        }
        let index: Vec<usize> = targets
            .iter()
            .map(|&t| if ignored(t) { 0 } else { t })
            .collect();
        let keep: Vec<T> = targets
            .iter()
            .map(|&t| if ignored(t) { T::zero() } else { T::one() })
            .collect();
        let count = keep.iter().filter(|&&k| k != T::zero()).count();
        let keep = Tensor::from_vec(keep, &target_shape);

        let log_p = self.log_softmax(axis as isize);
        let picked = -log_p.gather(axis, &index, &target_shape);
        let per_target = if eps > 0.0 {
            let uniform = -log_p.mean_axis(axis, true);
            picked * T::from_f64(1.0 - eps) + uniform * T::from_f64(eps)
        } else {
            picked
        };
        // `where`, not a product with the 0/1 mask: an ignored target's loss may be infinite
        // (a class masked to -inf), and 0·inf would be NaN.
        let per_target = Tensor::where_mask(&keep, &per_target, &Tensor::zeros(&[]));
        match options.reduction {
            Reduction::None => per_target.squeeze(axis as isize),
            Reduction::Sum => per_target.sum(),
            Reduction::Mean => per_target.sum() / T::from_f64(count as f64),
        }
    }
}
