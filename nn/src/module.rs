//! The module abstraction every layer implements: a forward pass on a batch whose examples are
//! columns, the named parameters an optimizer updates, and a train/eval switch.
//!
//! Parameters are shared handles ([`Tensor`] clones share the buffer), so the [`Param`]s returned
//! by [`Module::parameters`] are the module's own tensors: an optimizer updating them in place
//! (with [`Tensor::update_data`]) updates the module.

use std::fmt;
use std::sync::{Arc, Mutex};

use engine::random::Sampler;
use engine::{Float, Tensor};

/// What a parameter is, which decides whether weight penalties and weight decay apply to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A weight matrix: penalised by L2/L1 (6.10)-(6.12) and weight decay.
    Weight,
    /// A bias: never penalised (the seeds' penalties sum over `W` only).
    Bias,
    /// Anything else (batch-norm scale and shift, running statistics): never penalised.
    Other,
}

/// A named tensor of a model, as the seeds' parameter dictionaries hold them (`W1`, `b1`, ...).
#[derive(Clone)]
pub struct Param<T: Float> {
    /// The dictionary key: `W1`, `b1`, `gamma2`, ...
    pub name: String,
    /// The tensor itself (a shared handle: updating it updates the module).
    pub tensor: Tensor<T>,
    /// Whether penalties apply.
    pub kind: ParamKind,
}

impl<T: Float> Param<T> {
    /// A parameter named `name` of the given kind.
    pub fn new(name: impl Into<String>, tensor: Tensor<T>, kind: ParamKind) -> Self {
        Param {
            name: name.into(),
            tensor,
            kind,
        }
    }

    /// A weight (penalised).
    pub fn weight(name: impl Into<String>, tensor: Tensor<T>) -> Self {
        Self::new(name, tensor, ParamKind::Weight)
    }

    /// A bias (not penalised).
    pub fn bias(name: impl Into<String>, tensor: Tensor<T>) -> Self {
        Self::new(name, tensor, ParamKind::Bias)
    }

    /// The accumulated gradient of the tensor, if a backward pass reached it.
    pub fn grad(&self) -> Option<Tensor<T>> {
        self.tensor.grad()
    }
}

impl<T: Float> fmt::Debug for Param<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Param")
            .field("name", &self.name)
            .field("shape", &self.tensor.shape())
            .field("kind", &self.kind)
            .finish()
    }
}

/// Looks a parameter up by name (`"W2"`).
pub fn find_param<'a, T: Float>(params: &'a [Param<T>], name: &str) -> Option<&'a Param<T>> {
    params.iter().find(|p| p.name == name)
}

/// A random source shared between a layer and the code that owns it. Dropout keeps one so that
/// an application can reseed the generator before every forward pass (as the course's code does
/// with `np.random.seed`) while the layer sits inside a [`Sequential`](crate::Sequential).
pub type SharedSampler = Arc<Mutex<dyn Sampler + Send>>;

/// Wraps a sampler for sharing (`Arc<Mutex<_>>`), returning the typed handle the caller keeps;
/// it coerces to [`SharedSampler`] when handed to a layer.
pub fn shared<S: Sampler + Send + 'static>(sampler: S) -> Arc<Mutex<S>> {
    Arc::new(Mutex::new(sampler))
}

/// A layer or a network: forward on a batch, named parameters, train/eval mode.
///
/// Layout: inputs are `(n_features, m)` with one example per column; outputs likewise.
///
/// ```
/// use nn::{Activation, Dense, Module, Sequential};
/// use nn::init::Init;
/// use engine::Tensor;
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let mut net = Sequential::<f64>::new(vec![
///     Box::new(Dense::new(2, 3, &Init::HeNormal, &mut rng)),
///     Box::new(Activation::Relu),
///     Box::new(Dense::new(3, 1, &Init::HeNormal, &mut rng)),
/// ]);
/// let x = Tensor::<f64>::zeros(&[2, 5]); // 2 features, 5 examples
/// assert_eq!(net.forward(&x).shape(), &[1, 5]);
/// let names: Vec<String> = net.parameters().into_iter().map(|p| p.name).collect();
/// assert_eq!(names, ["W1", "b1", "W2", "b2"]);
/// ```
pub trait Module<T: Float> {
    /// The layer's output for a batch `x` of shape `(n_features, m)`. Records the graph when
    /// grad mode is on; wrap in [`engine::no_grad`] for evaluation.
    ///
    /// Panics, naming the layer and both shapes, if `x` does not fit the layer; the panic
    /// points at the caller's line, also through a [`Sequential`](crate::Sequential).
    #[track_caller]
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T>;

    /// The learnable parameters, named as the seeds' dictionaries (`W`, `b` for a lone layer;
    /// `W1`, `b1`, `W2`, ... once numbered by a [`Sequential`](crate::Sequential)).
    fn parameters(&self) -> Vec<Param<T>>;

    /// Non-learnable state that belongs in a checkpoint (batch norm's running statistics).
    /// Optimizers never see these.
    fn buffers(&self) -> Vec<Param<T>> {
        Vec::new()
    }

    /// Switches between training (dropout active, batch statistics) and evaluation (identity
    /// dropout, running statistics).
    fn set_training(&mut self, training: bool);

    /// Short description for printing a model (`Dense(2 -> 3)`).
    fn describe(&self) -> String {
        String::from("Module")
    }
}

impl<T: Float, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn forward(&mut self, x: &Tensor<T>) -> Tensor<T> {
        (**self).forward(x)
    }
    fn parameters(&self) -> Vec<Param<T>> {
        (**self).parameters()
    }
    fn buffers(&self) -> Vec<Param<T>> {
        (**self).buffers()
    }
    fn set_training(&mut self, training: bool) {
        (**self).set_training(training)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}
