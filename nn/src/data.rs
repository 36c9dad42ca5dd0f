//! Data utilities, columns being examples throughout: mini-batches shuffled every epoch (as the
//! course's `random_mini_batches`), per-feature standardization fitted on the training set,
//! stratified train/validation/test splits and k-fold cross-validation.
//!
//! Splits and folds are index lists: select the columns with [`take_columns`].

use std::collections::BTreeMap;

use engine::random::Sampler;
use engine::{Float, Tensor};

/// The columns `indices` of `x` (shape `(n, m)`), in that order: NumPy's `X[:, indices]`.
#[track_caller]
pub fn take_columns<T: Float>(x: &Tensor<T>, indices: &[usize]) -> Tensor<T> {
    assert!(
        x.ndim() == 2,
        "take_columns: needs a matrix (examples are columns), got shape {:?}",
        x.shape()
    );
    x.index_select(1, indices)
}

/// One-hot encoding `(classes, m)` of class labels (the course's `np.eye(classes)[labels].T`).
#[track_caller]
pub fn one_hot<T: Float>(labels: &[usize], classes: usize) -> Tensor<T> {
    let m = labels.len();
    let mut data = vec![T::zero(); classes * m];
    for (i, &c) in labels.iter().enumerate() {
        assert!(
            c < classes,
            "one_hot: label {c} of example {i} out of range for {classes} classes"
        );
        data[c * m + i] = T::one();
    }
    Tensor::from_vec(data, &[classes, m])
}

/// One mini-batch: its columns of `X` and `Y`, and which examples they are.
///
/// `x` and `y` are usually transposed views of example-major buffers (strides `(1, n)`): the
/// values are the course's `X[:, batch]`, read through strides by the operations.
#[derive(Clone, Debug)]
pub struct Batch<T: Float> {
    /// `X{t}`, shape `(n_features, batch)`.
    pub x: Tensor<T>,
    /// `Y{t}`, shape `(n_outputs, batch)`.
    pub y: Tensor<T>,
    /// The example indices (columns of the full data) in this batch, in order.
    pub indices: Vec<usize>,
}

/// A data set split into mini-batches of `batch_size` examples, the last batch keeping the
/// remainder (the course's `random_mini_batches`).
///
/// Internally the data is kept example-major (one contiguous row per example, transposed once
/// in [`MiniBatches::new`]), so that an epoch never copies the whole data set: a batch of
/// shuffled examples is gathered, a contiguous row per example, into a buffer reused from batch
/// to batch, and handed out as its transposed view `(n_features, batch)`; batches in order are
/// views of the data without any copy. The values and their order are exactly those of the
/// course's `random_mini_batches`: `shuffled_X = X[:, permutation]` followed by slicing.
///
/// ```
/// use engine::Tensor;
/// use nn::data::MiniBatches;
/// use rand::SeedableRng;
///
/// let x = Tensor::<f64>::from_vec((0..20).map(f64::from).collect(), &[2, 10]);
/// let y = Tensor::<f64>::from_vec((0..10).map(f64::from).collect(), &[1, 10]);
/// let data = MiniBatches::new(x, y, 4);
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let sizes: Vec<usize> = data.shuffled(&mut rng).map(|b| b.indices.len()).collect();
/// assert_eq!(sizes, [4, 4, 2]);
/// ```
#[derive(Clone, Debug)]
pub struct MiniBatches<T: Float> {
    /// `Xᵀ`, `(m, n_features)`, contiguous: example `i` is row `i`.
    xt: Tensor<T>,
    /// `Yᵀ`, `(m, n_outputs)`, contiguous.
    yt: Tensor<T>,
    /// `X` and `Y` as transposed views of `xt`, `yt` (no copy).
    x: Tensor<T>,
    y: Tensor<T>,
    batch_size: usize,
}

/// `(rows, cols)` row-major `src` transposed into a new contiguous `(cols, rows)` tensor, in
/// tiles so that both sides are read and written a cache line at a time.
fn transposed<T: Float>(src: &Tensor<T>) -> Tensor<T> {
    const TILE: usize = 32;
    let (rows, cols) = (src.shape()[0], src.shape()[1]);
    let data = src.with_data(|d| {
        let mut out = vec![T::zero(); d.len()];
        for r0 in (0..rows).step_by(TILE) {
            for c0 in (0..cols).step_by(TILE) {
                for r in r0..(r0 + TILE).min(rows) {
                    for c in c0..(c0 + TILE).min(cols) {
                        out[c * rows + r] = d[r * cols + c];
                    }
                }
            }
        }
        out
    });
    Tensor::from_vec(data, &[cols, rows])
}

impl<T: Float> MiniBatches<T> {
    /// Batches of `batch_size` columns of `x` `(n_features, m)` and `y` `(n_outputs, m)`.
    ///
    /// Copies the data once, transposed (examples become contiguous rows); `x` and `y` are
    /// not kept.
    #[track_caller]
    pub fn new(x: Tensor<T>, y: Tensor<T>, batch_size: usize) -> Self {
        assert!(
            x.ndim() == 2 && y.ndim() == 2 && x.shape()[1] == y.shape()[1],
            "MiniBatches::new: X {:?} and Y {:?} must be matrices with the same number of \
             columns (examples)",
            x.shape(),
            y.shape()
        );
        assert!(
            batch_size > 0,
            "MiniBatches::new: batch_size must be positive"
        );
        let (xt, yt) = (transposed(&x), transposed(&y));
        MiniBatches {
            x: xt.t(),
            y: yt.t(),
            xt,
            yt,
            batch_size,
        }
    }

    /// Batches of `batch_size` examples from data stored example-major: `xt` is
    /// `(m, n_features)` and `yt` `(m, n_outputs)`, one row per example (the layout of most data
    /// files, MNIST's included). Takes the buffers without copying them when they are dense;
    /// batches are the same as [`MiniBatches::new`] on `xt.t()` and `yt.t()`.
    #[track_caller]
    pub fn from_rows(xt: Tensor<T>, yt: Tensor<T>, batch_size: usize) -> Self {
        assert!(
            xt.ndim() == 2 && yt.ndim() == 2 && xt.shape()[0] == yt.shape()[0],
            "MiniBatches::from_rows: X {:?} and Y {:?} must be matrices with the same number \
             of rows (examples)",
            xt.shape(),
            yt.shape()
        );
        assert!(
            batch_size > 0,
            "MiniBatches::from_rows: batch_size must be positive"
        );
        let (xt, yt) = (xt.detach().contiguous(), yt.detach().contiguous());
        MiniBatches {
            x: xt.t(),
            y: yt.t(),
            xt,
            yt,
            batch_size,
        }
    }

    /// Number of examples `m`.
    pub fn num_examples(&self) -> usize {
        self.xt.shape()[0]
    }

    /// Examples per full batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Batches per epoch: `ceil(m / batch_size)`.
    pub fn num_batches(&self) -> usize {
        self.num_examples().div_ceil(self.batch_size)
    }

    /// All of `X` `(n_features, m)` (a transposed view of the example-major copy).
    pub fn x(&self) -> &Tensor<T> {
        &self.x
    }

    /// All of `Y` `(n_outputs, m)` (a transposed view of the example-major copy).
    pub fn y(&self) -> &Tensor<T> {
        &self.y
    }

    /// One epoch in the order of `sampler.permutation(m)`: the course's
    /// `permutation = list(np.random.permutation(m))` followed by slicing.
    pub fn shuffled<S: Sampler + ?Sized>(&self, sampler: &mut S) -> Epoch<'_, T> {
        let order = sampler.permutation(self.num_examples());
        self.with_order(order)
    }

    /// One epoch in a given order, which must be a permutation of `0..m`.
    #[track_caller]
    pub fn with_permutation(&self, permutation: &[usize]) -> Epoch<'_, T> {
        let m = self.num_examples();
        let mut seen = vec![false; m];
        let valid = permutation.len() == m
            && permutation
                .iter()
                .all(|&i| i < m && !std::mem::replace(&mut seen[i], true));
        assert!(
            valid,
            "MiniBatches::with_permutation: not a permutation of 0..{m} (length {})",
            permutation.len()
        );
        self.with_order(permutation.to_vec())
    }

    /// One epoch without shuffling.
    pub fn in_order(&self) -> Epoch<'_, T> {
        self.with_order((0..self.num_examples()).collect())
    }

    fn with_order(&self, order: Vec<usize>) -> Epoch<'_, T> {
        Epoch {
            data: self,
            order,
            buffers: None,
            next: 0,
        }
    }
}

/// The batches of one epoch, built as they are requested.
pub struct Epoch<'a, T: Float> {
    data: &'a MiniBatches<T>,
    order: Vec<usize>,
    /// Example-major `(batch, n)` buffers for `X` and `Y` of a full shuffled batch, reused from
    /// batch to batch. Refilling one goes through [`Tensor::update_data`], which writes in
    /// place when the previous batch's views are gone and copies on write when the caller (or a
    /// graph) still holds them, so a batch already handed out never changes.
    buffers: Option<(Tensor<T>, Tensor<T>)>,
    next: usize,
}

impl<T: Float> Epoch<'_, T> {
    /// The order of the examples in this epoch.
    pub fn order(&self) -> &[usize] {
        &self.order
    }
}

/// Copies rows `rows` of the example-major `src` (row length `width`) into `dst`, in order.
/// A large batch is copied in parts on the engine's threads (a copy is the same bits however
/// it is split): it reads rows scattered over the whole data set, and two cores fetch them
/// from memory faster than one.
fn gather_rows<T: Float>(src: &Tensor<T>, rows: &[usize], dst: &mut [T]) {
    /// Batches of at least this many elements are copied in parts of at least half of it.
    const PARALLEL_ELEMENTS: usize = 1 << 15;
    /// Elements of a row copied before moving to the next row of a group.
    const PIECE: usize = 64;
    let width = src.shape()[1].max(1);
    src.with_data(|s| {
        // Rows are copied four at a time, a piece of each in turn: four streams from memory
        // in flight at once instead of one (~12% faster than row after row on 784-wide f64
        // rows scattered over MNIST's 63 MB).
        let copy = |(out, rows): (&mut [T], &[usize])| {
            if width < PIECE {
                // Rows of a few features: element by element, no call to `memcpy` per row.
                for (out, &i) in out.chunks_exact_mut(width).zip(rows) {
                    for (o, &v) in out.iter_mut().zip(&s[i * width..(i + 1) * width]) {
                        *o = v;
                    }
                }
                return;
            }
            for (out, rows) in out.chunks_mut(4 * width).zip(rows.chunks(4)) {
                for start in (0..width).step_by(PIECE) {
                    let end = (start + PIECE).min(width);
                    for (out, &i) in out.chunks_exact_mut(width).zip(rows) {
                        out[start..end].copy_from_slice(&s[i * width + start..i * width + end]);
                    }
                }
            }
        };
        let per_part = (PARALLEL_ELEMENTS / 2).div_ceil(width);
        if dst.len() < PARALLEL_ELEMENTS || rows.len() < 2 * per_part {
            copy((dst, rows));
            return;
        }
        let parts: Vec<(&mut [T], &[usize])> = dst
            .chunks_mut(per_part * width)
            .zip(rows.chunks(per_part))
            .collect();
        engine::threads::for_each_item(parts, copy);
    });
}

impl<T: Float> Iterator for Epoch<'_, T> {
    type Item = Batch<T>;

    fn next(&mut self) -> Option<Batch<T>> {
        if self.next >= self.order.len() {
            return None;
        }
        let start = self.next;
        let end = (start + self.data.batch_size).min(self.order.len());
        self.next = end;
        let rows = &self.order[start..end];
        let len = end - start;
        let consecutive = rows.iter().enumerate().all(|(k, &i)| i == start + k);
        let (xt, yt) = (&self.data.xt, &self.data.yt);
        let (x, y) = if consecutive {
            // Batches in the data's own order are views: no copy at all.
            (xt.narrow(0, start, len).t(), yt.narrow(0, start, len).t())
        } else if len == self.data.batch_size {
            let (bx, by) = self.buffers.get_or_insert_with(|| {
                (
                    Tensor::zeros(&[len, xt.shape()[1]]),
                    Tensor::zeros(&[len, yt.shape()[1]]),
                )
            });
            bx.update_data(|d| gather_rows(xt, rows, d));
            by.update_data(|d| gather_rows(yt, rows, d));
            (bx.t(), by.t())
        } else {
            // The remainder batch (once per epoch) gets its own buffers.
            let mut dx = vec![T::zero(); len * xt.shape()[1]];
            let mut dy = vec![T::zero(); len * yt.shape()[1]];
            gather_rows(xt, rows, &mut dx);
            gather_rows(yt, rows, &mut dy);
            (
                Tensor::from_vec(dx, &[len, xt.shape()[1]]).t(),
                Tensor::from_vec(dy, &[len, yt.shape()[1]]).t(),
            )
        };
        Some(Batch {
            x,
            y,
            indices: rows.to_vec(),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.next).div_ceil(self.data.batch_size);
        (left, Some(left))
    }
}

impl<T: Float> ExactSizeIterator for Epoch<'_, T> {}

/// Per-feature standardization: `z = (x - μ) / s` with the mean `μ = 1/m Σ x` and the
/// population standard deviation `s = sqrt(1/m Σ (x - μ)²)` of each feature (row) over the
/// training examples.
/// Fit on the training set only, then apply the same `μ` and `s` to validation and test data.
///
/// Features with `s = 0` (constant on the training set) are only centred (divided by 1).
///
/// ```
/// use engine::Tensor;
/// use nn::data::Standardizer;
/// let train = Tensor::<f64>::from_vec2(vec![vec![1.0, 3.0], vec![10.0, 10.0]]);
/// let st = Standardizer::fit(&train);
/// assert_eq!(st.transform(&train).to_vec2(), vec![vec![-1.0, 1.0], vec![0.0, 0.0]]);
/// let test = Tensor::<f64>::from_vec2(vec![vec![5.0], vec![11.0]]);
/// assert_eq!(st.transform(&test).to_vec(), [3.0, 1.0]);
/// ```
#[derive(Clone, Debug)]
pub struct Standardizer<T: Float> {
    /// `μ`, shape `(n_features, 1)`.
    pub mean: Tensor<T>,
    /// `s`, shape `(n_features, 1)` (1 where the feature was constant).
    pub scale: Tensor<T>,
}

impl<T: Float> Standardizer<T> {
    /// Fits `μ` and `s` on `x` `(n_features, m)`.
    #[track_caller]
    pub fn fit(x: &Tensor<T>) -> Self {
        assert!(
            x.ndim() == 2 && x.shape()[1] > 0,
            "Standardizer::fit: needs a (n_features, m) matrix with m > 0, got shape {:?}",
            x.shape()
        );
        let (n, m) = (x.shape()[0], x.shape()[1]);
        let rows = x.to_vec2();
        let mut mean = Vec::with_capacity(n);
        let mut scale = Vec::with_capacity(n);
        for row in &rows {
            let mu = row.iter().fold(0.0, |a, v| a + v.as_f64()) / m as f64;
            let var = row
                .iter()
                .fold(0.0, |a, v| a + (v.as_f64() - mu) * (v.as_f64() - mu))
                / m as f64;
            let s = var.sqrt();
            mean.push(T::from_f64(mu));
            scale.push(T::from_f64(if s > 0.0 { s } else { 1.0 }));
        }
        Standardizer {
            mean: Tensor::from_vec(mean, &[n, 1]),
            scale: Tensor::from_vec(scale, &[n, 1]),
        }
    }

    /// `(x - μ) / s` for data with the fitted number of features.
    #[track_caller]
    pub fn transform(&self, x: &Tensor<T>) -> Tensor<T> {
        self.check(x, "transform");
        (x - &self.mean) / &self.scale
    }

    /// `z · s + μ`, undoing [`Standardizer::transform`].
    #[track_caller]
    pub fn inverse_transform(&self, z: &Tensor<T>) -> Tensor<T> {
        self.check(z, "inverse_transform");
        z * &self.scale + &self.mean
    }

    /// Fits on `x` and transforms it.
    pub fn fit_transform(x: &Tensor<T>) -> (Self, Tensor<T>) {
        let s = Self::fit(x);
        let z = s.transform(x);
        (s, z)
    }

    #[track_caller]
    fn check(&self, x: &Tensor<T>, op: &str) {
        assert!(
            x.ndim() == 2 && x.shape()[0] == self.mean.shape()[0],
            "Standardizer::{op}: fitted on {} features, got shape {:?}",
            self.mean.shape()[0],
            x.shape()
        );
    }
}

/// Example indices of a train/validation/test partition (each list ascending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Training examples.
    pub train: Vec<usize>,
    /// Validation examples.
    pub validation: Vec<usize>,
    /// Test examples.
    pub test: Vec<usize>,
}

/// Stratified train/validation/test split: every class is divided in the given
/// proportions (the rest going to test), so each part keeps the class ratios.
///
/// The sizes of the parts are `round(train_fraction · m)` and `round(validation_fraction · m)`
/// (the test set takes the rest), apportioned to the classes by largest remainder; within a
/// class, examples are assigned in the order of `sampler.permutation(n_class)`, classes taken in
/// increasing label order.
///
/// ```
/// use nn::data::train_val_test_split;
/// use rand::SeedableRng;
/// let labels: Vec<usize> = (0..100).map(|i| usize::from(i % 4 == 0)).collect(); // 25 % ones
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let split = train_val_test_split(&labels, 0.6, 0.2, &mut rng);
/// assert_eq!((split.train.len(), split.validation.len(), split.test.len()), (60, 20, 20));
/// assert_eq!(split.train.iter().filter(|&&i| labels[i] == 1).count(), 15);
/// ```
#[track_caller]
pub fn train_val_test_split<S: Sampler + ?Sized>(
    labels: &[usize],
    train_fraction: f64,
    validation_fraction: f64,
    sampler: &mut S,
) -> Split {
    assert!(
        train_fraction >= 0.0
            && validation_fraction >= 0.0
            && train_fraction + validation_fraction <= 1.0 + 1e-12,
        "train_val_test_split: fractions {train_fraction} and {validation_fraction} must be \
         non-negative and sum to at most 1"
    );
    let m = labels.len();
    let classes = group_by_class(labels, sampler);
    let sizes: Vec<usize> = classes.iter().map(Vec::len).collect();
    let n_train = ((train_fraction * m as f64).round() as usize).min(m);
    let n_val = ((validation_fraction * m as f64).round() as usize).min(m - n_train);
    let train_quota = apportion(n_train, &sizes, &sizes);
    let left: Vec<usize> = sizes.iter().zip(&train_quota).map(|(s, t)| s - t).collect();
    let val_quota = apportion(n_val, &sizes, &left);
    let mut split = Split {
        train: Vec::with_capacity(n_train),
        validation: Vec::with_capacity(n_val),
        test: Vec::with_capacity(m - n_train - n_val),
    };
    for ((members, &t), &v) in classes.iter().zip(&train_quota).zip(&val_quota) {
        split.train.extend_from_slice(&members[..t]);
        split.validation.extend_from_slice(&members[t..t + v]);
        split.test.extend_from_slice(&members[t + v..]);
    }
    split.train.sort_unstable();
    split.validation.sort_unstable();
    split.test.sort_unstable();
    split
}

/// Unstratified train/validation/test split of `m` examples (every example in one class).
pub fn random_split<S: Sampler + ?Sized>(
    m: usize,
    train_fraction: f64,
    validation_fraction: f64,
    sampler: &mut S,
) -> Split {
    train_val_test_split(&vec![0; m], train_fraction, validation_fraction, sampler)
}

/// Indices of each class (increasing label), each shuffled by `sampler.permutation`.
fn group_by_class<S: Sampler + ?Sized>(labels: &[usize], sampler: &mut S) -> Vec<Vec<usize>> {
    let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &c) in labels.iter().enumerate() {
        by_class.entry(c).or_default().push(i);
    }
    by_class
        .into_values()
        .map(|members| {
            let order = sampler.permutation(members.len());
            order.into_iter().map(|k| members[k]).collect()
        })
        .collect()
}

/// Splits `total` among classes in proportion to `weights` (largest remainder, ties to the
/// earlier class), never giving a class more than its `capacity`.
fn apportion(total: usize, weights: &[usize], capacity: &[usize]) -> Vec<usize> {
    let sum: usize = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights
        .iter()
        .map(|&w| total as f64 * w as f64 / sum as f64)
        .collect();
    let mut quota: Vec<usize> = exact
        .iter()
        .zip(capacity)
        .map(|(&e, &c)| (e.floor() as usize).min(c))
        .collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let mut missing = total.saturating_sub(quota.iter().sum());
    // Largest remainders first; if capacities bind, keep cycling over classes with room.
    while missing > 0 {
        let mut progressed = false;
        for &k in &order {
            if missing > 0 && quota[k] < capacity[k] {
                quota[k] += 1;
                missing -= 1;
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    quota
}

/// One round of cross-validation: train on `train`, evaluate on `validation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fold {
    /// Training examples (ascending).
    pub train: Vec<usize>,
    /// Held-out examples (ascending).
    pub validation: Vec<usize>,
}

/// K-fold cross-validation: the `m` examples, in the order of
/// `sampler.permutation(m)`, are cut into `k` groups of sizes differing by at most one (the
/// first `m mod k` are one larger); fold `i` validates on group `i` and trains on the others.
///
/// ```
/// use nn::data::k_fold;
/// use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let folds = k_fold(10, 3, &mut rng);
/// let sizes: Vec<usize> = folds.iter().map(|f| f.validation.len()).collect();
/// assert_eq!(sizes, [4, 3, 3]);
/// ```
#[track_caller]
pub fn k_fold<S: Sampler + ?Sized>(m: usize, k: usize, sampler: &mut S) -> Vec<Fold> {
    assert!(
        k >= 2 && k <= m,
        "k_fold: need 2 <= k <= m, got k = {k}, m = {m}"
    );
    let order = sampler.permutation(m);
    let mut group = vec![0; m];
    let (base, extra) = (m / k, m % k);
    let mut start = 0;
    for g in 0..k {
        let len = base + usize::from(g < extra);
        for &i in &order[start..start + len] {
            group[i] = g;
        }
        start += len;
    }
    folds_from_groups(&group, k)
}

/// Stratified k-fold: each class, shuffled by `sampler.permutation`, is dealt to the folds in
/// turn (continuing from class to class), so every fold keeps the class ratios and fold sizes
/// differ by at most one.
#[track_caller]
pub fn stratified_k_fold<S: Sampler + ?Sized>(
    labels: &[usize],
    k: usize,
    sampler: &mut S,
) -> Vec<Fold> {
    let m = labels.len();
    assert!(
        k >= 2 && k <= m,
        "stratified_k_fold: need 2 <= k <= m, got k = {k}, m = {m}"
    );
    let mut group = vec![0; m];
    let mut next = 0;
    for members in group_by_class(labels, sampler) {
        for i in members {
            group[i] = next;
            next = (next + 1) % k;
        }
    }
    folds_from_groups(&group, k)
}

fn folds_from_groups(group: &[usize], k: usize) -> Vec<Fold> {
    (0..k)
        .map(|g| {
            let (validation, train): (Vec<usize>, Vec<usize>) =
                (0..group.len()).partition(|&i| group[i] == g);
            Fold { train, validation }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A sampler whose permutation is fixed, to check slicing against the course's
    /// `random_mini_batches`.
    struct FixedPermutation(Vec<usize>);

    impl Sampler for FixedPermutation {
        fn uniform(&mut self) -> f64 {
            unreachable!()
        }
        fn standard_normal(&mut self) -> f64 {
            unreachable!()
        }
        fn permutation(&mut self, n: usize) -> Vec<usize> {
            assert_eq!(n, self.0.len());
            self.0.clone()
        }
    }

    fn data(m: usize) -> MiniBatches<f64> {
        // X row 0 = index, row 1 = 100 + index; Y = 1000 + index.
        let x: Vec<f64> = (0..m)
            .map(|i| i as f64)
            .chain((0..m).map(|i| 100.0 + i as f64))
            .collect();
        let y: Vec<f64> = (0..m).map(|i| 1000.0 + i as f64).collect();
        MiniBatches::new(
            Tensor::from_vec(x, &[2, m]),
            Tensor::from_vec(y, &[1, m]),
            3,
        )
    }

    #[test]
    fn batches_slice_the_permuted_columns_and_keep_the_remainder() {
        // The course's random_mini_batches with permutation [4, 0, 6, 2, 5, 1, 3], batch 3:
        // columns [4, 0, 6], [2, 5, 1], [3].
        let d = data(7);
        let batches: Vec<Batch<f64>> = d
            .shuffled(&mut FixedPermutation(vec![4, 0, 6, 2, 5, 1, 3]))
            .collect();
        assert_eq!(batches.len(), 3);
        assert_eq!(d.num_batches(), 3);
        assert_eq!(
            batches[0].x.to_vec2(),
            vec![vec![4.0, 0.0, 6.0], vec![104.0, 100.0, 106.0]]
        );
        assert_eq!(batches[1].y.to_vec(), [1002.0, 1005.0, 1001.0]);
        assert_eq!(batches[2].x.to_vec(), [3.0, 103.0]);
        assert_eq!(batches[2].indices, [3]);
        let same: Vec<Vec<usize>> = d
            .with_permutation(&[4, 0, 6, 2, 5, 1, 3])
            .map(|b| b.indices)
            .collect();
        assert_eq!(same, [vec![4, 0, 6], vec![2, 5, 1], vec![3]]);
    }

    #[test]
    fn wide_rows_are_gathered_whole_in_groups_and_pieces() {
        // 150 features: two whole pieces of a row and a part one; batches of 6 rows: a group
        // of four and a part group; X[f, i] = 1000·i + f names its place.
        let (features, m) = (150, 13);
        let x: Vec<f64> = (0..features * m)
            .map(|e| (1000 * (e % m) + e / m) as f64)
            .collect();
        let d = MiniBatches::new(
            Tensor::from_vec(x, &[features, m]),
            Tensor::from_vec((0..m).map(|i| i as f64).collect(), &[1, m]),
            6,
        );
        let order = vec![12, 3, 7, 0, 9, 4, 11, 1, 8, 2, 10, 6, 5];
        for batch in d.shuffled(&mut FixedPermutation(order.clone())) {
            let got = batch.x.to_vec2();
            assert_eq!(got.len(), features);
            for (f, row) in got.iter().enumerate() {
                let want: Vec<f64> = batch
                    .indices
                    .iter()
                    .map(|&i| (1000 * i + f) as f64)
                    .collect();
                assert_eq!(row, &want, "feature {f} of batch {:?}", batch.indices);
            }
        }
    }

    #[test]
    fn every_epoch_covers_every_example_once_and_reshuffles() {
        let d = data(10);
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let first: Vec<usize> = d.shuffled(&mut rng).flat_map(|b| b.indices).collect();
        let second: Vec<usize> = d.shuffled(&mut rng).flat_map(|b| b.indices).collect();
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_ne!(first, second);
        let ordered: Vec<usize> = d.in_order().flat_map(|b| b.indices).collect();
        assert_eq!(ordered, (0..10).collect::<Vec<_>>());
        assert_eq!(d.in_order().len(), 4);
        let last = d.in_order().last().unwrap();
        assert_eq!(last.x.to_vec2(), vec![vec![9.0], vec![109.0]]);
        assert_eq!(last.y.to_vec(), [1009.0]);
    }

    #[test]
    fn a_batch_kept_by_the_caller_never_changes() {
        // Full shuffled batches share a reused buffer; one still held must keep its values.
        let d = data(7);
        let mut epoch = d.with_permutation(&[4, 0, 6, 2, 5, 1, 3]);
        let first = epoch.next().unwrap();
        let second = epoch.next().unwrap();
        assert_eq!(
            first.x.to_vec2(),
            vec![vec![4.0, 0.0, 6.0], vec![104.0, 100.0, 106.0]]
        );
        assert_eq!(first.y.to_vec(), [1004.0, 1000.0, 1006.0]);
        assert_eq!(second.x.to_vec(), [2.0, 5.0, 1.0, 102.0, 105.0, 101.0]);
        drop((first, second));
        // Dropped batches let the buffer be refilled in place; the values are still right.
        let again: Vec<Vec<f64>> = d
            .with_permutation(&[6, 5, 4, 3, 2, 1, 0])
            .map(|b| b.y.to_vec())
            .collect();
        assert_eq!(
            again,
            [
                vec![1006.0, 1005.0, 1004.0],
                vec![1003.0, 1002.0, 1001.0],
                vec![1000.0]
            ]
        );
        assert_eq!(
            d.x().to_vec2()[1],
            (0..7).map(|i| 100.0 + i as f64).collect::<Vec<_>>()
        );
        assert_eq!(d.y().shape(), [1, 7]);
    }

    #[test]
    fn example_major_data_gives_the_same_batches() {
        let d = data(7);
        let rows = MiniBatches::from_rows(d.x().t().contiguous(), d.y().t().contiguous(), 3);
        let order = [4, 0, 6, 2, 5, 1, 3];
        let a: Vec<(Vec<f64>, Vec<f64>)> = d
            .with_permutation(&order)
            .map(|b| (b.x.to_vec(), b.y.to_vec()))
            .collect();
        let b: Vec<(Vec<f64>, Vec<f64>)> = rows
            .with_permutation(&order)
            .map(|b| (b.x.to_vec(), b.y.to_vec()))
            .collect();
        assert_eq!(a, b);
        assert_eq!(a[0].0, [4.0, 0.0, 6.0, 104.0, 100.0, 106.0]);
    }

    #[test]
    #[should_panic(expected = "not a permutation")]
    fn a_repeated_index_is_rejected() {
        let _ = data(3).with_permutation(&[0, 0, 1]);
    }

    #[test]
    fn standardizer_uses_training_statistics() {
        // Row 0: 2, 4, 4, 4, 5, 5, 7, 9 -> μ = 5, s = 2 (population). Row 1 constant 3.
        let train = Tensor::<f64>::from_vec(
            vec![
                2., 4., 4., 4., 5., 5., 7., 9., 3., 3., 3., 3., 3., 3., 3., 3.,
            ],
            &[2, 8],
        );
        let st = Standardizer::fit(&train);
        assert_eq!(st.mean.to_vec(), [5.0, 3.0]);
        assert_eq!(st.scale.to_vec(), [2.0, 1.0]);
        let z = st.transform(&train);
        assert_eq!(z.to_vec2()[0], [-1.5, -0.5, -0.5, -0.5, 0.0, 0.0, 1.0, 2.0]);
        assert_eq!(z.to_vec2()[1], [0.0; 8]);
        let other = Tensor::<f64>::from_vec(vec![11.0, 4.0], &[2, 1]);
        assert_eq!(st.transform(&other).to_vec(), [3.0, 1.0]);
        assert_eq!(
            st.inverse_transform(&st.transform(&other)).to_vec(),
            [11.0, 4.0]
        );
    }

    #[test]
    fn stratified_split_keeps_class_ratios_and_partitions() {
        // 3 classes of 50, 30, 20 examples; 60/20/20 split.
        let labels: Vec<usize> = (0..100)
            .map(|i| {
                if i < 50 {
                    2
                } else if i < 80 {
                    0
                } else {
                    1
                }
            })
            .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let s = train_val_test_split(&labels, 0.6, 0.2, &mut rng);
        let count = |idx: &[usize], c: usize| idx.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!(
            [count(&s.train, 2), count(&s.train, 0), count(&s.train, 1)],
            [30, 18, 12]
        );
        assert_eq!(
            [
                count(&s.validation, 2),
                count(&s.validation, 0),
                count(&s.validation, 1)
            ],
            [10, 6, 4]
        );
        assert_eq!(
            [count(&s.test, 2), count(&s.test, 0), count(&s.test, 1)],
            [10, 6, 4]
        );
        let mut all: Vec<usize> = s
            .train
            .iter()
            .chain(&s.validation)
            .chain(&s.test)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn split_sizes_are_exact_even_when_classes_do_not_divide() {
        // Classes of 7, 7 and 7: 0.6 * 21 = 12.6 -> 13 training examples in total.
        let labels: Vec<usize> = (0..21).map(|i| i % 3).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let s = train_val_test_split(&labels, 0.6, 0.2, &mut rng);
        assert_eq!(
            (s.train.len(), s.validation.len(), s.test.len()),
            (13, 4, 4)
        );
        for c in 0..3 {
            let n = s.train.iter().filter(|&&i| labels[i] == c).count();
            assert!((4..=5).contains(&n), "class {c}: {n}");
        }
        let r = random_split(10, 0.5, 0.5, &mut rng);
        assert_eq!((r.train.len(), r.validation.len(), r.test.len()), (5, 5, 0));
    }

    #[test]
    fn k_fold_partitions_every_example_into_exactly_one_validation_group() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let folds = k_fold(23, 5, &mut rng);
        let mut seen = vec![0; 23];
        for f in &folds {
            assert_eq!(f.train.len() + f.validation.len(), 23);
            assert!(f.train.iter().all(|i| !f.validation.contains(i)));
            for &i in &f.validation {
                seen[i] += 1;
            }
        }
        assert_eq!(seen, vec![1; 23]);
        let sizes: Vec<usize> = folds.iter().map(|f| f.validation.len()).collect();
        assert_eq!(sizes, [5, 5, 5, 4, 4]);
        // With a fixed permutation the groups are its consecutive slices.
        let folds = k_fold(4, 2, &mut FixedPermutation(vec![3, 1, 0, 2]));
        assert_eq!(folds[0].validation, [1, 3]);
        assert_eq!(folds[1].validation, [0, 2]);
    }

    #[test]
    fn stratified_k_fold_balances_classes() {
        let labels: Vec<usize> = (0..40).map(|i| usize::from(i < 10)).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let folds = stratified_k_fold(&labels, 5, &mut rng);
        for f in &folds {
            assert_eq!(f.validation.len(), 8);
            assert_eq!(f.validation.iter().filter(|&&i| labels[i] == 1).count(), 2);
        }
    }

    #[test]
    fn one_hot_puts_classes_on_rows() {
        let y = one_hot::<f64>(&[1, 0, 2, 1], 3);
        assert_eq!(
            y.to_vec2(),
            vec![
                vec![0.0, 1.0, 0.0, 0.0],
                vec![1.0, 0.0, 0.0, 1.0],
                vec![0.0, 0.0, 1.0, 0.0]
            ]
        );
    }
}
