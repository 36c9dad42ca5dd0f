//! [`NamedTensors`]: tensors under names, in a fixed order, like the course's `parameters` and
//! `grads` dictionaries (`W1`, `b1`, `W2`, ... and `dW1`, `db1`, ...).

use std::ops::Index;

use crate::{Float, Tensor};

/// Tensors under names, in insertion order. Indexing by a missing name panics with the names
/// that exist.
///
/// ```
/// use engine::check::NamedTensors;
/// use engine::Tensor;
///
/// let params = NamedTensors::from([
///     ("W1", Tensor::<f64>::zeros(&[4, 2])),
///     ("b1", Tensor::zeros(&[4, 1])),
/// ]);
/// assert_eq!(params["W1"].shape(), &[4, 2]);
/// assert_eq!(params.names().collect::<Vec<_>>(), ["W1", "b1"]);
/// // The course's list layout [W1, b1, W2, b2, ...] gets the course's names.
/// let layers = NamedTensors::from_layers(&[Tensor::<f64>::zeros(&[3, 2]), Tensor::zeros(&[3, 1])]);
/// assert_eq!(layers.names().collect::<Vec<_>>(), ["W1", "b1"]);
/// ```
#[derive(Clone)]
pub struct NamedTensors<T: Float> {
    entries: Vec<(String, Tensor<T>)>,
}

impl<T: Float> Default for NamedTensors<T> {
    fn default() -> Self {
        NamedTensors {
            entries: Vec::new(),
        }
    }
}

impl<T: Float> NamedTensors<T> {
    /// No tensors.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names `[W1, b1, W2, b2, ...]` in the course's list order (weights and biases of layer
    /// 1, 2, ...); an odd last tensor is a weight.
    pub fn from_layers(tensors: &[Tensor<T>]) -> Self {
        tensors
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let kind = if i % 2 == 0 { "W" } else { "b" };
                (format!("{kind}{}", i / 2 + 1), t.clone())
            })
            .collect()
    }

    /// Adds `tensor` under `name`, replacing a tensor already there (keeping its position).
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor<T>) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = tensor,
            None => self.entries.push((name, tensor)),
        }
    }

    /// Builder form of [`NamedTensors::insert`].
    pub fn with(mut self, name: impl Into<String>, tensor: Tensor<T>) -> Self {
        self.insert(name, tensor);
        self
    }

    /// The tensor under `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor<T>> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// The tensors, in order.
    pub fn tensors(&self) -> impl Iterator<Item = &Tensor<T>> {
        self.entries.iter().map(|(_, t)| t)
    }

    /// `(name, tensor)` pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor<T>)> {
        self.entries.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// How many tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The same names with each tensor transformed.
    pub fn map(&self, mut f: impl FnMut(&str, &Tensor<T>) -> Tensor<T>) -> Self {
        self.iter().map(|(n, t)| (n.to_string(), f(n, t))).collect()
    }

    /// The gradient of parameter `name` among these: the tensor named `name` or, as the
    /// course's `grads` dictionaries name them, `d{name}`.
    pub fn gradient_of(&self, name: &str) -> Option<&Tensor<T>> {
        self.get(name).or_else(|| self.get(&format!("d{name}")))
    }
}

impl<T: Float> Index<&str> for NamedTensors<T> {
    type Output = Tensor<T>;

    #[track_caller]
    fn index(&self, name: &str) -> &Tensor<T> {
        self.get(name).unwrap_or_else(|| {
            panic!(
                "NamedTensors: no tensor named {name:?}; there are {:?}",
                self.names().collect::<Vec<_>>()
            )
        })
    }
}

impl<T: Float, S: Into<String>> FromIterator<(S, Tensor<T>)> for NamedTensors<T> {
    fn from_iter<I: IntoIterator<Item = (S, Tensor<T>)>>(iter: I) -> Self {
        let mut out = NamedTensors::new();
        for (name, t) in iter {
            out.insert(name, t);
        }
        out
    }
}

impl<T: Float, S: Into<String>, const N: usize> From<[(S, Tensor<T>); N]> for NamedTensors<T> {
    fn from(pairs: [(S, Tensor<T>); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<T: Float> std::fmt::Debug for NamedTensors<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(n, t)| (n, t.shape())))
            .finish()
    }
}
