//! The [`Tensor`] handle: a shared, immutable view of a buffer plus the autodiff bookkeeping
//! (whether it requires a gradient, the graph node that produced it, its accumulated gradient).
//!
//! Cloning a tensor clones a handle, not the data. Values never change behind a graph's back:
//! the only mutation is [`Tensor::update_data`] on leaves. It copies on write if another tensor
//! (a view, a detached copy) shares the buffer, and it bumps the leaf's version: a graph that
//! recorded the leaf before the update refuses to run backward (with a message saying so)
//! instead of silently differentiating at the new values.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use rand::Rng;
use rand_distr::{Distribution, StandardNormal, StandardUniform};

use crate::autograd::hooks::PostAccumulateHook;
use crate::autograd::{GradHook, Node};
use crate::layout::{alloc_numel_or_panic, numel_or_panic, Layout, Shape};
use crate::Float;

/// Unique identity of a tensor handle's target, used to key gradients during backward.
pub type TensorId = u64;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// An N-dimensional array of `f32` or `f64` that records the operations applied to it when it
/// requires gradients.
///
/// Examples are columns throughout ferrograd: a data set is `(n_features, m)`, a dense layer's
/// weight `(n_out, n_in)` and bias `(n_out, 1)`.
pub struct Tensor<T: Float>(pub(crate) Arc<Inner<T>>);

pub(crate) struct Inner<T: Float> {
    pub(crate) id: TensorId,
    pub(crate) storage: Storage<T>,
    pub(crate) layout: Layout,
    /// Atomic so that a leaf can be frozen (`set_requires_grad`) through a shared handle.
    pub(crate) requires_grad: AtomicBool,
    pub(crate) node: Option<Node<T>>,
    pub(crate) grad: Mutex<Option<Tensor<T>>>,
    pub(crate) retains_grad: AtomicBool,
    /// Bumped by every in-place update, so backward can tell that a recorded input changed.
    pub(crate) version: AtomicU64,
    /// Hooks and the name: made on first use, so the output of an operation (almost never
    /// hooked or named) is cheap to make and backward checks it with one load.
    pub(crate) extras: OnceLock<Box<Extras<T>>>,
}

impl<T: Float> Drop for Inner<T> {
    /// The last tensor using a buffer gives it back to the thread's pool (`buffers`), from which
    /// the kernels take their outputs. Views share their base's buffer (and so does a buffer
    /// handed to `update_data`'s copy-on-write): only the last holder finds it unique.
    fn drop(&mut self) {
        let storage = match &mut self.storage {
            Storage::Fixed(storage) => storage,
            Storage::Leaf(lock) => lock
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        };
        if let Some(buffer) = Arc::get_mut(storage) {
            crate::buffers::give(std::mem::take(buffer));
        }
    }
}

/// A tensor's buffer. Only leaves are ever written in place or given a new buffer
/// ([`Tensor::update_data`]), so the output of a recorded operation, which is never a leaf, holds
/// its buffer without a lock: reading it (as backward reads the activations of a step) takes
/// none. Which variant a tensor has follows from whether it has a node, decided once in
/// [`Tensor::from_parts`].
pub(crate) enum Storage<T: Float> {
    /// The buffer of an operation's recorded output, the same for the tensor's whole life.
    Fixed(Arc<Vec<T>>),
    /// A leaf's buffer, which [`Tensor::update_data`] may write or replace (copy on write).
    Leaf(RwLock<Arc<Vec<T>>>),
}

/// State most tensors never use (see [`Inner::extras`]).
pub(crate) struct Extras<T: Float> {
    pub(crate) hooks: Mutex<Vec<GradHook<T>>>,
    pub(crate) post_accumulate_hooks: Mutex<Vec<PostAccumulateHook<T>>>,
    pub(crate) name: Mutex<Option<Arc<str>>>,
}

impl<T: Float> Clone for Tensor<T> {
    fn clone(&self) -> Self {
        Tensor(self.0.clone())
    }
}

impl<T: Float> Tensor<T> {
    /// The one place a tensor is made. It checks (cheaply, in O(ndim)) that the layout lies
    /// inside the buffer, the invariant every kernel relies on, `matmul`'s raw-pointer gemm
    /// included: no later operation on this tensor can read outside its buffer.
    #[track_caller]
    pub(crate) fn from_parts(storage: Arc<Vec<T>>, layout: Layout, node: Option<Node<T>>) -> Self {
        assert!(
            layout.fits_in(storage.len()),
            "tensor: shape {:?} with strides {:?} at offset {} does not fit a buffer of {} elements",
            layout.shape,
            layout.strides,
            layout.offset,
            storage.len()
        );
        let requires_grad = node.is_some();
        let storage = if node.is_some() {
            Storage::Fixed(storage)
        } else {
            Storage::Leaf(RwLock::new(storage))
        };
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            storage,
            layout,
            requires_grad: AtomicBool::new(requires_grad),
            node,
            grad: Mutex::new(None),
            retains_grad: AtomicBool::new(false),
            version: AtomicU64::new(0),
            extras: OnceLock::new(),
        }))
    }

    /// The hooks and name, made empty on first use.
    pub(crate) fn extras(&self) -> &Extras<T> {
        self.0.extras.get_or_init(|| {
            Box::new(Extras {
                hooks: Mutex::new(Vec::new()),
                post_accumulate_hooks: Mutex::new(Vec::new()),
                name: Mutex::new(None),
            })
        })
    }

    /// The hooks and name if any was ever set, without making them.
    pub(crate) fn extras_if_any(&self) -> Option<&Extras<T>> {
        self.0.extras.get().map(|e| &**e)
    }

    /// A dense constant tensor owning `data`.
    #[track_caller]
    pub(crate) fn dense(data: Vec<T>, shape: &[usize]) -> Self {
        Self::from_parts(Arc::new(data), Layout::contiguous(shape), None)
    }

    // ----- constructors -------------------------------------------------------------------

    /// Builds a tensor from row-major `data`; panics if the length does not match the shape.
    #[track_caller]
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Self {
        let n = numel_or_panic("from_vec", shape);
        assert!(
            data.len() == n,
            "from_vec: {} elements cannot have shape {:?} ({} elements)",
            data.len(),
            shape,
            n
        );
        Self::dense(data, shape)
    }

    /// Builds a tensor from f64 values, converting to `T`.
    #[track_caller]
    pub fn from_f64_slice(data: &[f64], shape: &[usize]) -> Self {
        Self::from_vec(data.iter().map(|&x| T::from_f64(x)).collect(), shape)
    }

    /// A 0-dimensional tensor holding one value.
    #[track_caller]
    pub fn scalar(value: T) -> Self {
        Self::dense(vec![value], &[])
    }

    /// All zeros. Panics, naming the shape, if it is too large to allocate (the product of
    /// the dimensions is computed with checked arithmetic and never wraps around).
    #[track_caller]
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full_named("zeros", shape, T::zero())
    }

    /// All ones (panics as [`Tensor::zeros`]).
    #[track_caller]
    pub fn ones(shape: &[usize]) -> Self {
        Self::full_named("ones", shape, T::one())
    }

    /// Every element equal to `value` (panics as [`Tensor::zeros`]).
    #[track_caller]
    pub fn full(shape: &[usize], value: T) -> Self {
        Self::full_named("full", shape, value)
    }

    #[track_caller]
    fn full_named(op: &str, shape: &[usize], value: T) -> Self {
        let n = alloc_numel_or_panic::<T>(op, shape);
        Self::dense(vec![value; n], shape)
    }

    /// Zeros with the shape of `other`.
    #[track_caller]
    pub fn zeros_like(other: &Tensor<T>) -> Self {
        Self::zeros(other.shape())
    }

    /// Ones with the shape of `other`.
    #[track_caller]
    pub fn ones_like(other: &Tensor<T>) -> Self {
        Self::ones(other.shape())
    }

    /// The `n×n` identity matrix.
    #[track_caller]
    pub fn eye(n: usize) -> Self {
        let mut data = vec![T::zero(); alloc_numel_or_panic::<T>("eye", &[n, n])];
        for i in 0..n {
            data[i * n + i] = T::one();
        }
        Self::dense(data, &[n, n])
    }

    /// `start, start + step, ...` up to but excluding `end`, as NumPy's `arange`.
    #[track_caller]
    pub fn arange(start: T, end: T, step: T) -> Self {
        assert!(step != T::zero(), "arange: step must be non-zero");
        let count = ((end - start) / step).ceil().as_f64();
        assert!(
            !count.is_nan() && count < isize::MAX as f64,
            "arange: cannot make {count} elements from {start} to {end} by {step}"
        );
        let count = alloc_numel_or_panic::<T>("arange", &[count.max(0.0) as usize]);
        let data: Vec<T> = (0..count)
            .map(|i| start + T::from_f64(i as f64) * step)
            .collect();
        let n = data.len();
        Self::dense(data, &[n])
    }

    /// `n` evenly spaced values from `start` to `end` inclusive, as NumPy's `linspace`.
    #[track_caller]
    pub fn linspace(start: T, end: T, n: usize) -> Self {
        alloc_numel_or_panic::<T>("linspace", &[n]);
        let data: Vec<T> = match n {
            0 => vec![],
            1 => vec![start],
            _ => {
                let step = (end - start) / T::from_f64((n - 1) as f64);
                (0..n)
                    .map(|i| {
                        if i == n - 1 {
                            end
                        } else {
                            start + T::from_f64(i as f64) * step
                        }
                    })
                    .collect()
            }
        };
        Self::dense(data, &[n])
    }

    /// Uniform samples in `[0, 1)` drawn from `rng`, in row-major order.
    #[track_caller]
    pub fn rand<R: Rng + ?Sized>(shape: &[usize], rng: &mut R) -> Self
    where
        StandardUniform: Distribution<T>,
    {
        let n = alloc_numel_or_panic::<T>("rand", shape);
        Self::dense((0..n).map(|_| rng.sample(StandardUniform)).collect(), shape)
    }

    /// Standard normal samples drawn from `rng`, in row-major order.
    #[track_caller]
    pub fn randn<R: Rng + ?Sized>(shape: &[usize], rng: &mut R) -> Self
    where
        StandardNormal: Distribution<T>,
    {
        let n = alloc_numel_or_panic::<T>("randn", shape);
        Self::dense((0..n).map(|_| rng.sample(StandardNormal)).collect(), shape)
    }

    /// Builds a matrix from rows (tests and small examples).
    #[track_caller]
    pub fn from_vec2(rows: Vec<Vec<T>>) -> Self {
        let r = rows.len();
        let c = rows.first().map_or(0, Vec::len);
        assert!(
            rows.iter().all(|row| row.len() == c),
            "from_vec2: rows have different lengths"
        );
        Self::dense(rows.into_iter().flatten().collect(), &[r, c])
    }

    /// Builds a 3-D tensor from nested vectors (tests and small examples).
    #[track_caller]
    pub fn from_vec3(blocks: Vec<Vec<Vec<T>>>) -> Self {
        let b = blocks.len();
        let r = blocks.first().map_or(0, Vec::len);
        let c = blocks.first().and_then(|x| x.first()).map_or(0, Vec::len);
        assert!(
            blocks
                .iter()
                .all(|m| m.len() == r && m.iter().all(|row| row.len() == c)),
            "from_vec3: ragged input"
        );
        Self::dense(blocks.into_iter().flatten().flatten().collect(), &[b, r, c])
    }

    // ----- leaves and gradients -------------------------------------------------------------

    /// A new leaf that requires gradients (a parameter), holding a copy of this tensor's values;
    /// `self` is unchanged. See [`Tensor::requires_grad`] for the query.
    #[track_caller]
    pub fn to_leaf(&self) -> Self {
        let t = Self::from_parts(
            Arc::new(self.to_vec()),
            Layout::contiguous(self.shape()),
            None,
        );
        t.0.requires_grad.store(true, Ordering::Relaxed);
        t
    }

    /// A leaf parameter built from data and a shape.
    #[track_caller]
    pub fn parameter(data: Vec<T>, shape: &[usize]) -> Self {
        Self::from_vec(data, shape).to_leaf()
    }

    /// Whether gradients flow to or through this tensor (a leaf made by [`Tensor::to_leaf`] or
    /// [`Tensor::parameter`], or the result of an operation on one).
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Turns gradient tracking of a leaf on or off in place (freezing a parameter: graphs built
    /// afterwards do not record it and backward computes no gradient for it). Graphs already
    /// recorded keep what they saw.
    #[track_caller]
    pub fn set_requires_grad(&self, requires_grad: bool) {
        assert!(
            self.is_leaf(),
            "set_requires_grad: only leaves can be frozen or unfrozen (shape {:?})",
            self.shape()
        );
        self.0.requires_grad.store(requires_grad, Ordering::Relaxed);
    }

    /// Whether this tensor is a leaf (created by the user, not by an operation).
    pub fn is_leaf(&self) -> bool {
        self.0.node.is_none()
    }

    /// The same values with no graph history: gradients stop here. Shares the buffer.
    pub fn detach(&self) -> Self {
        Self::from_parts(self.storage(), self.0.layout.clone(), None)
    }

    /// The gradient accumulated by `backward` (leaves, and non-leaves after
    /// [`Tensor::retain_grad`]).
    pub fn grad(&self) -> Option<Tensor<T>> {
        self.0.grad.lock().unwrap().clone()
    }

    /// Clears the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.0.grad.lock().unwrap() = None;
    }

    /// Sets (or with `None` clears) the stored gradient.
    pub fn set_grad(&self, grad: Option<Tensor<T>>) {
        *self.0.grad.lock().unwrap() = grad;
    }

    /// Asks `backward` to store this non-leaf tensor's gradient in [`Tensor::grad`].
    pub fn retain_grad(&self) {
        self.0.retains_grad.store(true, Ordering::Relaxed);
    }

    /// Gives the tensor a name shown in graph exports and gradient reports (e.g. `"W1"`).
    pub fn set_name(&self, name: &str) {
        *self.extras().name.lock().unwrap() = Some(name.into());
    }

    /// Builder form of [`Tensor::set_name`].
    pub fn named(self, name: &str) -> Self {
        self.set_name(name);
        self
    }

    /// The tensor's name, if one was set.
    pub fn name(&self) -> Option<Arc<str>> {
        self.extras_if_any()
            .and_then(|e| e.name.lock().unwrap().clone())
    }

    /// Identity used to key gradients; equal for clones of the same handle.
    pub fn id(&self) -> TensorId {
        self.0.id
    }

    /// Whether two handles point at the same tensor.
    pub fn same(&self, other: &Tensor<T>) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    // ----- shape and data access ------------------------------------------------------------

    /// The dimensions, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.0.layout.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }

    /// Size of dimension `axis`.
    #[track_caller]
    pub fn dim(&self, axis: usize) -> usize {
        assert!(
            axis < self.ndim(),
            "dim: axis {axis} out of range for shape {:?}",
            self.shape()
        );
        self.shape()[axis]
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.0.layout
    }

    pub(crate) fn storage(&self) -> Arc<Vec<T>> {
        match &self.0.storage {
            Storage::Fixed(storage) => Arc::clone(storage),
            Storage::Leaf(lock) => lock.read().unwrap().clone(),
        }
    }

    /// Whether this tensor's buffer is `storage` (without cloning the handle to compare it).
    pub(crate) fn shares_storage(&self, storage: &Arc<Vec<T>>) -> bool {
        match &self.0.storage {
            Storage::Fixed(own) => Arc::ptr_eq(own, storage),
            Storage::Leaf(lock) => Arc::ptr_eq(&lock.read().unwrap(), storage),
        }
    }

    pub(crate) fn node(&self) -> Option<&Node<T>> {
        self.0.node.as_ref()
    }

    /// Whether the elements sit densely in row-major order.
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    /// The elements in row-major order.
    pub fn to_vec(&self) -> Vec<T> {
        let storage = self.storage();
        let layout = &self.0.layout;
        if layout.is_contiguous() {
            return storage[layout.offset..layout.offset + layout.numel()].to_vec();
        }
        crate::kernels::gather_view(&storage, layout)
    }

    /// Runs `f` on the row-major elements without copying when the tensor is contiguous.
    pub fn with_data<R>(&self, f: impl FnOnce(&[T]) -> R) -> R {
        let layout = &self.0.layout;
        let range = layout.offset..layout.offset + layout.numel();
        if layout.is_contiguous() {
            match &self.0.storage {
                Storage::Fixed(storage) => f(&storage[range]),
                // A handle, not the lock, is held while `f` runs: `f` may update this leaf.
                Storage::Leaf(lock) => {
                    let storage = lock.read().unwrap().clone();
                    f(&storage[range])
                }
            }
        } else {
            f(&self.to_vec())
        }
    }

    /// The elements converted to f64, row-major.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        self.to_vec().into_iter().map(Float::as_f64).collect()
    }

    /// A matrix's rows as nested vectors.
    #[track_caller]
    pub fn to_vec2(&self) -> Vec<Vec<T>> {
        assert!(
            self.ndim() == 2,
            "to_vec2: needs a matrix, got shape {:?}",
            self.shape()
        );
        let c = self.shape()[1];
        let data = self.to_vec();
        if c == 0 {
            return vec![vec![]; self.shape()[0]];
        }
        data.chunks(c).map(<[T]>::to_vec).collect()
    }

    /// A 3-D tensor's blocks as nested vectors.
    #[track_caller]
    pub fn to_vec3(&self) -> Vec<Vec<Vec<T>>> {
        assert!(
            self.ndim() == 3,
            "to_vec3: needs a 3-D tensor, got shape {:?}",
            self.shape()
        );
        let (b, r, c) = (self.shape()[0], self.shape()[1], self.shape()[2]);
        let data = self.to_vec();
        (0..b)
            .map(|i| {
                (0..r)
                    .map(|j| data[(i * r + j) * c..(i * r + j + 1) * c].to_vec())
                    .collect()
            })
            .collect()
    }

    /// The value of a one-element tensor.
    #[track_caller]
    pub fn item(&self) -> T {
        assert!(
            self.numel() == 1,
            "item: needs exactly one element, got shape {:?}",
            self.shape()
        );
        self.to_vec()[0]
    }

    /// The element at a multi-index.
    #[track_caller]
    pub fn at(&self, index: &[usize]) -> T {
        let layout = &self.0.layout;
        assert!(
            index.len() == layout.shape.len()
                && index.iter().zip(&layout.shape).all(|(i, d)| i < d),
            "at: index {index:?} out of range for shape {:?}",
            layout.shape
        );
        let pos = index
            .iter()
            .zip(&layout.strides)
            .fold(layout.offset as isize, |acc, (&i, &s)| acc + i as isize * s);
        self.storage()[pos as usize]
    }

    /// A dense row-major copy (or this tensor if it already is one), recorded in the graph.
    #[track_caller]
    pub fn contiguous(&self) -> Tensor<T> {
        if self.is_contiguous() && self.0.layout.offset == 0 && self.storage().len() == self.numel()
        {
            return self.clone();
        }
        self.reshape(self.shape())
    }

    /// Overwrites a leaf's values in place (optimizer updates). Copies on write if the buffer is
    /// shared with views, so no view ever changes; a graph that recorded this leaf can no longer
    /// run backward (see [`Tensor::version`]): update after backward, as optimizers do.
    #[track_caller]
    pub fn update_data(&self, f: impl FnOnce(&mut [T])) {
        assert!(
            self.is_leaf(),
            "update_data: only leaves can be updated in place (shape {:?})",
            self.shape()
        );
        let layout = &self.0.layout;
        assert!(
            layout.is_contiguous() && layout.offset == 0,
            "update_data: the leaf must be dense (shape {:?})",
            layout.shape
        );
        let Storage::Leaf(lock) = &self.0.storage else {
            unreachable!("a leaf's buffer is a Storage::Leaf (Tensor::from_parts)")
        };
        let mut storage = lock.write().unwrap();
        let buffer = Arc::make_mut(&mut storage);
        f(&mut buffer[..layout.numel()]);
        self.0.version.fetch_add(1, Ordering::Relaxed);
    }

    /// How many times [`Tensor::update_data`] has changed this tensor. Graph nodes remember
    /// their inputs' versions; backward checks them.
    pub fn version(&self) -> u64 {
        self.0.version.load(Ordering::Relaxed)
    }

    /// Replaces a leaf's values with those of `values` (same shape).
    #[track_caller]
    pub fn set_data(&self, values: &Tensor<T>) {
        assert!(
            values.shape() == self.shape(),
            "set_data: shape {:?} cannot replace shape {:?}",
            values.shape(),
            self.shape()
        );
        let v = values.to_vec();
        self.update_data(|d| d.copy_from_slice(&v));
    }

    /// Converts the element type (a constant: the graph is not followed across precisions).
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor::dense(
            self.to_vec()
                .into_iter()
                .map(|x| U::from_f64(x.as_f64()))
                .collect(),
            self.shape(),
        )
    }

    /// Bytes held by this tensor's buffer.
    pub fn storage_bytes(&self) -> usize {
        self.storage().len() * std::mem::size_of::<T>()
    }

    pub(crate) fn shape_vec(&self) -> Shape {
        self.0.layout.shape.clone()
    }
}
