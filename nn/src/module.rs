//! The module abstraction every layer implements: a forward pass on a batch whose examples are
//! columns, the named parameters an optimizer updates, buffers a checkpoint keeps, and a
//! train/eval switch.
//!
//! # Naming parameters: a visitor with scopes
//!
//! A module reports what it holds through [`Module::visit`]: its own tensors
//! ([`Visitor::param`], [`Visitor::buffer`]), its train/eval switch ([`Visitor::mode`]) and its
//! children ([`Visitor::module`]), each child under a scope name. The visitor joins the scopes
//! with dots, so a custom model never types a parameter name:
//!
//! ```
//! use engine::Tensor;
//! use nn::{Activation, BatchNorm, Dense, Init, Module, Visitor};
//! use rand::SeedableRng;
//!
//! struct Block { l1: Dense<f64>, bn: BatchNorm<f64>, l2: Dense<f64> }
//!
//! impl Module<f64> for Block {
//!     fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
//!         let h = self.bn.forward(&self.l1.forward(x)).relu();
//!         x + &self.l2.forward(&h) // a residual connection
//!     }
//!     fn visit(&self, v: &mut Visitor<f64>) {
//!         v.module("l1", &self.l1);
//!         v.module("bn", &self.bn);
//!         v.module("l2", &self.l2);
//!     }
//! }
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let block = Block {
//!     l1: Dense::new(4, 4, &Init::HeNormal, &mut rng),
//!     bn: BatchNorm::new(4, 1e-5, 0.9),
//!     l2: Dense::new(4, 4, &Init::HeNormal, &mut rng),
//! };
//! let names: Vec<String> = block.parameters().into_iter().map(|p| p.name).collect();
//! assert_eq!(names, ["l1.weight", "l1.bias", "bn.gamma", "bn.beta", "l2.weight", "l2.bias"]);
//! // The tensors carry the same names, so traces, DOT graphs and check reports show them.
//! assert_eq!(block.l2.weight.name().as_deref(), Some("l2.weight"));
//! block.set_training(false); // reaches the batch norm through `visit`
//! assert!(!block.bn.is_training());
//! ```
//!
//! Why this design rather than the alternatives:
//!
//! - **A path-scoped parameter store** (a builder handing out `store.sub("l1")` scopes, as
//!   tch's `VarStore` or candle's `VarBuilder`) names tensors at birth, but every layer
//!   constructor must take a scope, a layer cannot be built on its own and moved into a model,
//!   and the model's parameter list lives in the store, apart from the model: freezing an
//!   encoder or checking one block means filtering the store by prefix strings.
//! - **A derive macro** (`#[derive(Module)]`) writes the same `visit` body from the field names,
//!   but needs a proc-macro crate (`syn`, `quote`) in the build, cannot see which fields are
//!   modules without attributes, and hides what is visited. The body it would write is one
//!   line per child, which the visitor keeps explicit and greppable.
//! - **The visitor** keeps layers plain values (build them anywhere, move them into any model),
//!   derives every parameter list, buffer list and mode switch from one method, and gives
//!   names that are unique by construction (a struct's field names are unique; a name reported
//!   twice is a programmer error and [`Module::parameters`] panics naming it).
//!
//! The full names are written into the tensors themselves ([`Tensor::set_name`]) each time the
//! parameters are listed ([`Module::parameters`], [`Module::buffers`], and so the optimizers'
//! and the checkpoint's first use), so backward traces, DOT exports, anomaly reports and
//! gradient-check reports name `encoder.l1.weight`, like the checkpoint does. Call
//! [`Module::parameters`] once after building a model to have them before its first forward
//! pass.
//!
//! # Sharing a model
//!
//! [`Module::forward`] takes `&self`: the train/eval switch is a [`Mode`] (an atomic flag),
//! batch norm's running statistics are updated in place, and dropout's generator is behind a
//! mutex. A model can therefore be used from an `Fn` closure (a loss for a gradient check) and
//! shared between threads. Parameters are shared handles ([`Tensor`] clones share the buffer),
//! so the [`Param`]s returned by [`Module::parameters`] are the module's own tensors: an
//! optimizer updating them in place (with [`Tensor::update_data`]) updates the module.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use engine::random::Sampler;
use engine::{Float, Tensor};

/// What a parameter is, which decides whether weight penalties and weight decay apply to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A weight matrix: penalised by L2/L1 and weight decay.
    Weight,
    /// A bias: never penalised (the course's penalties sum over `W` only).
    Bias,
    /// Anything else (batch-norm scale and shift, running statistics): never penalised.
    Other,
}

/// A named tensor of a model: `W1`, `b1` in a course network, `encoder.l1.weight` in a custom
/// one.
#[derive(Clone)]
pub struct Param<T: Float> {
    /// The full, unique name: the dictionary key and the checkpoint key.
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

    /// Freezes the parameter: backward computes no gradient for it (its tensor stops requiring
    /// gradients, and the gradient it holds is cleared), so no optimizer updates it.
    pub fn freeze(&self) {
        self.tensor.set_requires_grad(false);
        self.tensor.zero_grad();
    }

    /// Undoes [`Param::freeze`].
    pub fn unfreeze(&self) {
        self.tensor.set_requires_grad(true);
    }

    /// Whether the parameter is frozen (its tensor does not require gradients).
    pub fn is_frozen(&self) -> bool {
        !self.tensor.requires_grad()
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

/// A layer's train/eval switch: an atomic flag, so that the mode can change through `&self`
/// while the model is shared. Starts in training mode.
#[derive(Debug)]
pub struct Mode(AtomicBool);

impl Default for Mode {
    fn default() -> Self {
        Mode(AtomicBool::new(true))
    }
}

impl Clone for Mode {
    fn clone(&self) -> Self {
        Mode(AtomicBool::new(self.is_training()))
    }
}

impl Mode {
    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Switches between training (`true`) and evaluation (`false`).
    pub fn set(&self, training: bool) {
        self.0.store(training, Ordering::Relaxed);
    }
}

/// What a module reports to a [`Visitor`], with its full name.
pub enum Entry<'a, T: Float> {
    /// A learnable parameter.
    Param(Param<T>),
    /// Non-learnable state kept in checkpoints (batch norm's running statistics).
    Buffer(Param<T>),
    /// A train/eval switch.
    Mode(&'a Mode),
}

/// Walks a module tree, prefixing every name with the scopes entered on the way (joined by
/// dots). Built by [`Module`]'s provided methods; a module only calls its methods.
pub struct Visitor<'s, T: Float> {
    prefix: String,
    sink: &'s mut dyn FnMut(Entry<'_, T>),
    /// Only the train/eval switches are wanted ([`Module::set_training`], called every epoch):
    /// tensors are not reported, so no name is formatted and no handle cloned.
    modes_only: bool,
}

impl<'s, T: Float> Visitor<'s, T> {
    /// A visitor at the root (no prefix) handing every entry to `sink`.
    pub fn new(sink: &'s mut dyn FnMut(Entry<'_, T>)) -> Self {
        Visitor {
            prefix: String::new(),
            sink,
            modes_only: false,
        }
    }

    /// A visitor that reports only [`Entry::Mode`]s.
    fn for_modes(sink: &'s mut dyn FnMut(Entry<'_, T>)) -> Self {
        Visitor {
            modes_only: true,
            ..Visitor::new(sink)
        }
    }

    /// Whether this visitor reports only train/eval switches (and drops tensors unseen), so
    /// a module that visits its children through visitors of its own can skip the naming.
    pub fn modes_only(&self) -> bool {
        self.modes_only
    }

    fn full(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Reports a learnable parameter named `name` within the current scope.
    #[track_caller]
    pub fn param(&mut self, name: &str, tensor: &Tensor<T>, kind: ParamKind) {
        check_segment(name);
        if self.modes_only {
            return;
        }
        let p = Param::new(self.full(name), tensor.clone(), kind);
        (self.sink)(Entry::Param(p));
    }

    /// Reports an entry under a relative name that may hold dots (a container renaming what
    /// its children reported, as [`Sequential`](crate::Sequential) does).
    pub(crate) fn forward_entry(&mut self, relative: &str, p: Param<T>, buffer: bool) {
        if self.modes_only {
            return;
        }
        let p = Param::new(self.full(relative), p.tensor, p.kind);
        (self.sink)(if buffer {
            Entry::Buffer(p)
        } else {
            Entry::Param(p)
        });
    }

    /// Reports a buffer (saved in checkpoints, never updated by optimizers).
    #[track_caller]
    pub fn buffer(&mut self, name: &str, tensor: &Tensor<T>) {
        check_segment(name);
        if self.modes_only {
            return;
        }
        let p = Param::new(self.full(name), tensor.clone(), ParamKind::Other);
        (self.sink)(Entry::Buffer(p));
    }

    /// Reports a train/eval switch ([`Module::set_training`] sets every one it finds).
    pub fn mode(&mut self, mode: &Mode) {
        (self.sink)(Entry::Mode(mode));
    }

    /// Visits a child module under the scope `name`: its parameters become `name.<theirs>`.
    #[track_caller]
    pub fn module<M: Module<T> + ?Sized>(&mut self, name: &str, module: &M) {
        self.scope(name, |v| module.visit(v));
    }

    /// Runs `f` with `name.` appended to the prefix (for tensors grouped without a module).
    #[track_caller]
    pub fn scope(&mut self, name: &str, f: impl FnOnce(&mut Visitor<'_, T>)) {
        check_segment(name);
        let len = self.prefix.len();
        self.prefix.push_str(name);
        self.prefix.push('.');
        f(self);
        self.prefix.truncate(len);
    }
}

/// A name segment is non-empty and holds no dot (dots separate scopes) and no slash (the
/// checkpoint uses slashes to separate optimizer state from parameter names).
#[track_caller]
fn check_segment(name: &str) {
    assert!(
        !name.is_empty() && !name.contains('.') && !name.contains('/'),
        "Visitor: parameter and scope names must be non-empty without '.' or '/', got {name:?}"
    );
}

/// Collects every parameter, buffer or mode of `module` (in visiting order).
fn collect<T: Float, M: Module<T> + ?Sized>(module: &M, mut keep: impl FnMut(Entry<'_, T>)) {
    let mut sink = |e: Entry<'_, T>| keep(e);
    module.visit(&mut Visitor::new(&mut sink));
}

/// Calls `f` on every train/eval switch of `module` (in visiting order), naming nothing.
fn for_each_mode<T: Float, M: Module<T> + ?Sized>(module: &M, mut f: impl FnMut(&Mode)) {
    let mut sink = |e: Entry<'_, T>| {
        if let Entry::Mode(m) = e {
            f(m)
        }
    };
    module.visit(&mut Visitor::for_modes(&mut sink));
}

/// Names each tensor after its parameter and panics on a repeated name; a tensor reported
/// twice (a shared layer) is listed once, under its first name, as PyTorch does.
#[track_caller]
fn finish<T: Float>(list: Vec<Param<T>>, what: &str) -> Vec<Param<T>> {
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        if !ids.insert(p.tensor.id()) {
            continue;
        }
        assert!(
            names.insert(p.name.clone()),
            "Module::{what}: two tensors are named {:?}; give the children distinct scope names",
            p.name
        );
        if p.tensor.name().as_deref() != Some(p.name.as_str()) {
            p.tensor.set_name(&p.name);
        }
        out.push(p);
    }
    out
}

/// A layer or a network: forward on a batch, named parameters, train/eval mode.
///
/// Implement [`Module::forward`] and [`Module::visit`]; the parameter and buffer lists and the
/// mode switch are derived from `visit` (see the [module docs](self)).
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
/// let net = Sequential::<f64>::new(vec![
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
    fn forward(&self, x: &Tensor<T>) -> Tensor<T>;

    /// Reports the module's parameters, buffers, train/eval switches and children to `v`.
    fn visit(&self, v: &mut Visitor<'_, T>);

    /// Short description for printing a model (`Dense(2 -> 3)`).
    fn describe(&self) -> String {
        String::from("Module")
    }

    /// The learnable parameters under their full names (`l1.weight`; `W1`, `b1`, ... in a
    /// [`Sequential`](crate::Sequential)), in visiting order. Writes each name into its tensor.
    ///
    /// Panics if two different tensors get the same name.
    #[track_caller]
    fn parameters(&self) -> Vec<Param<T>> {
        let mut list = Vec::new();
        collect(self, |e| {
            if let Entry::Param(p) = e {
                list.push(p)
            }
        });
        finish(list, "parameters")
    }

    /// Non-learnable state that belongs in a checkpoint (batch norm's running statistics).
    /// Optimizers never see these.
    #[track_caller]
    fn buffers(&self) -> Vec<Param<T>> {
        let mut list = Vec::new();
        collect(self, |e| {
            if let Entry::Buffer(p) = e {
                list.push(p)
            }
        });
        finish(list, "buffers")
    }

    /// Switches every layer between training (dropout active, batch statistics) and
    /// evaluation (identity dropout, running statistics).
    fn set_training(&self, training: bool) {
        for_each_mode(self, |m| m.set(training));
    }

    /// Whether the first switch found is in training mode (`true` for a module without any).
    fn is_training(&self) -> bool {
        let mut first = None;
        for_each_mode(self, |m| {
            first.get_or_insert(m.is_training());
        });
        first.unwrap_or(true)
    }

    /// Freezes the parameters whose full names start with `prefix` (all with `""`): they get
    /// no gradient and no update (see [`Param::freeze`]). Returns how many were frozen.
    fn freeze(&self, prefix: &str) -> usize {
        let params: Vec<Param<T>> = self
            .parameters()
            .into_iter()
            .filter(|p| p.name.starts_with(prefix))
            .collect();
        params.iter().for_each(Param::freeze);
        params.len()
    }

    /// Undoes [`Module::freeze`] for the parameters whose names start with `prefix`.
    fn unfreeze(&self, prefix: &str) -> usize {
        let params: Vec<Param<T>> = self
            .parameters()
            .into_iter()
            .filter(|p| p.name.starts_with(prefix))
            .collect();
        params.iter().for_each(Param::unfreeze);
        params.len()
    }
}

impl<T: Float, M: Module<T> + ?Sized> Module<T> for Box<M> {
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        (**self).forward(x)
    }
    fn visit(&self, v: &mut Visitor<'_, T>) {
        (**self).visit(v)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

impl<T: Float, M: Module<T> + ?Sized> Module<T> for Arc<M> {
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        (**self).forward(x)
    }
    fn visit(&self, v: &mut Visitor<'_, T>) {
        (**self).visit(v)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, BatchNorm, Dense, Init, Sequential};
    use rand::SeedableRng;

    struct Encoder {
        l1: Dense<f64>,
        l2: Dense<f64>,
    }
    impl Module<f64> for Encoder {
        fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
            self.l2.forward(&self.l1.forward(x).tanh())
        }
        fn visit(&self, v: &mut Visitor<'_, f64>) {
            v.module("l1", &self.l1);
            v.module("l2", &self.l2);
        }
    }
    struct Model {
        encoder: Encoder,
        head: Sequential<f64>,
        bn: BatchNorm<f64>,
    }
    impl Module<f64> for Model {
        fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
            self.head
                .forward(&self.bn.forward(&self.encoder.forward(x)))
        }
        fn visit(&self, v: &mut Visitor<'_, f64>) {
            v.module("encoder", &self.encoder);
            v.module("bn", &self.bn);
            v.module("head", &self.head);
        }
    }

    fn model() -> Model {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        Model {
            encoder: Encoder {
                l1: Dense::new(3, 4, &Init::HeNormal, &mut rng),
                l2: Dense::new(4, 2, &Init::HeNormal, &mut rng),
            },
            bn: BatchNorm::new(2, 1e-5, 0.9),
            head: Sequential::mlp(
                &[2, 2, 1],
                Activation::Relu,
                Activation::Identity,
                &Init::HeNormal,
                &mut rng,
            ),
        }
    }

    #[test]
    fn nested_modules_get_unique_hierarchical_names_written_into_the_tensors() {
        let m = model();
        let params = m.parameters();
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "encoder.l1.weight",
                "encoder.l1.bias",
                "encoder.l2.weight",
                "encoder.l2.bias",
                "bn.gamma",
                "bn.beta",
                "head.W1",
                "head.b1",
                "head.W2",
                "head.b2"
            ]
        );
        for p in &params {
            assert_eq!(p.tensor.name().as_deref(), Some(p.name.as_str()));
        }
        let kinds: Vec<ParamKind> = params.iter().map(|p| p.kind).collect();
        assert_eq!(kinds[0], ParamKind::Weight);
        assert_eq!(kinds[1], ParamKind::Bias);
        assert_eq!(kinds[4], ParamKind::Other);
        let buffers: Vec<String> = m.buffers().into_iter().map(|p| p.name).collect();
        assert_eq!(buffers, ["bn.running_mean", "bn.running_var"]);
        // The names reach the graph: a backward trace of the model's loss names the weight.
        let x = Tensor::<f64>::from_vec((0..15).map(|k| k as f64 * 0.1).collect(), &[3, 5]);
        let loss = m.forward(&x).sum();
        let dot = loss.to_dot();
        assert!(dot.contains("encoder.l1.weight"), "{dot}");
        // ... and a backward trace labels the weight's input of the matmul with it.
        let trace = loss.backward_traced();
        let labels: Vec<&str> = trace
            .steps
            .iter()
            .flat_map(|s| s.inputs.iter().map(|i| i.label.as_str()))
            .collect();
        assert!(labels.contains(&"encoder.l1.weight"), "{labels:?}");
        assert!(labels.contains(&"head.W2"), "{labels:?}");
    }

    #[test]
    #[should_panic(expected = "two tensors are named \"twice.weight\"")]
    fn a_repeated_scope_name_is_refused() {
        struct Twice(Dense<f64>, Dense<f64>);
        impl Module<f64> for Twice {
            fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
                self.1.forward(&self.0.forward(x))
            }
            fn visit(&self, v: &mut Visitor<'_, f64>) {
                v.module("twice", &self.0);
                v.module("twice", &self.1);
            }
        }
        let d = || Dense::<f64>::from_parameters(Tensor::zeros(&[1, 1]), Tensor::zeros(&[1, 1]));
        Twice(d(), d()).parameters();
    }

    #[test]
    fn a_shared_layer_is_listed_once() {
        struct Tied(Arc<Dense<f64>>, Arc<Dense<f64>>);
        impl Module<f64> for Tied {
            fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
                self.1.forward(&self.0.forward(x))
            }
            fn visit(&self, v: &mut Visitor<'_, f64>) {
                v.module("a", &self.0);
                v.module("b", &self.1);
            }
        }
        let d = Arc::new(Dense::<f64>::from_parameters(
            Tensor::zeros(&[1, 1]),
            Tensor::zeros(&[1, 1]),
        ));
        let names: Vec<String> = Tied(d.clone(), d)
            .parameters()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["a.weight", "a.bias"]);
    }

    #[test]
    fn the_mode_visitor_finds_every_switch_and_reports_no_tensor() {
        let m = model();
        let mut all = 0;
        collect(&m, |e| all += usize::from(matches!(e, Entry::Mode(_))));
        let (mut modes, mut tensors) = (0, 0);
        let mut sink = |e: Entry<'_, f64>| match e {
            Entry::Mode(_) => modes += 1,
            Entry::Param(_) | Entry::Buffer(_) => tensors += 1,
        };
        m.visit(&mut Visitor::for_modes(&mut sink));
        assert!(all > 1);
        assert_eq!((modes, tensors), (all, 0));
    }

    #[test]
    fn modes_reach_every_layer_through_a_shared_reference() {
        let m = model();
        assert!(m.is_training() && m.bn.is_training());
        let shared: &dyn Module<f64> = &m;
        shared.set_training(false);
        assert!(!m.bn.is_training() && !m.head.is_training() && !m.is_training());
        // The model is usable from an `Fn` closure.
        let x = Tensor::<f64>::ones(&[3, 2]);
        let f = || m.forward(&x).sum().item();
        assert_eq!(f(), f());
    }

    #[test]
    fn freezing_stops_gradients_and_listing_names_the_frozen() {
        let m = model();
        assert_eq!(m.freeze("encoder."), 4);
        let x = Tensor::<f64>::from_vec((0..15).map(|k| k as f64 * 0.3).collect(), &[3, 5]);
        m.forward(&x).square().sum().backward();
        for p in m.parameters() {
            assert_eq!(
                p.grad().is_none(),
                p.name.starts_with("encoder."),
                "{}",
                p.name
            );
        }
        assert_eq!(m.unfreeze(""), 10);
        assert!(m.parameters().iter().all(|p| !p.is_frozen()));
    }

    #[test]
    fn an_anomaly_report_names_the_parameter() {
        // W·x overflows to +inf in the matmul: anomaly mode stops there and names its input.
        let enc = Encoder {
            l1: Dense::from_parameters(Tensor::full(&[1, 2], 1e308), Tensor::zeros(&[1, 1])),
            l2: Dense::from_parameters(Tensor::ones(&[1, 1]), Tensor::zeros(&[1, 1])),
        };
        enc.parameters();
        let x = Tensor::<f64>::full(&[2, 1], 10.0);
        let _guard = engine::anomaly::detect_anomaly(true);
        let anomaly = engine::anomaly::catch_anomaly(|| enc.forward(&x)).unwrap_err();
        let report = anomaly.to_string();
        assert!(
            report.contains("input 0: l1.weight, shape [1, 2]"),
            "{report}"
        );
    }
}
