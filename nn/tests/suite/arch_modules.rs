//! The layers for modern architectures as [`Module`]s: hierarchical names of a transformer
//! block and of a CNN (custom and `Sequential`), freezing a sub-module, train/eval reaching
//! `BatchNorm2d` through a container, a CNN's parameters and running statistics through a
//! checkpoint, `Dropout` on images and sequences, and the three-way gradient check
//! (`check_module`: autodiff, a hand-written backward where one is short, central differences)
//! of a small CNN and a tiny transformer block.

use std::sync::{Arc, Mutex};

use engine::check::NamedTensors;
use engine::ops::conv::Conv2dOptions;
use engine::Tensor;
use nn::attention::{Linear, TransformerBlock};
use nn::check::{check_module, ModuleCheck};
use nn::checkpoint;
use nn::conv::{AvgPool2d, Conv2d, Flatten, MaxPool2d};
use nn::embedding::Embedding;
use nn::layernorm::{BatchNorm2d, LayerNorm};
use nn::{Activation, Dense, Dropout, Init, Module, Param, ParamKind, Sequential, Visitor};
use rand::SeedableRng;

fn t(shape: &[usize], k: f64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i as f64 + 1.0) * 1.618_033_9 + k).sin() * 1.5 + 0.013 * i as f64)
        .collect();
    Tensor::from_vec(data, shape)
}

fn names<T: engine::Float>(params: &[Param<T>]) -> Vec<&str> {
    params.iter().map(|p| p.name.as_str()).collect()
}

/// A small CNN on (m, 2, 6, 6) images: conv 2→3 3×3 pad 1, BatchNorm2d, ReLU, max-pool 2,
/// conv 3→4 3×3, Flatten, Dense 4→3, as a `Sequential`.
fn small_cnn(seed: u64) -> Sequential<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let he = Init::HeNormal;
    Sequential::new(vec![
        Box::new(Conv2d::new(
            2,
            3,
            (3, 3),
            Conv2dOptions::new().padding(1),
            true,
            &he,
            &mut rng,
        )),
        Box::new(BatchNorm2d::new(3, 1e-5, 0.9)),
        Box::new(Activation::Tanh),
        Box::new(MaxPool2d::new(2)),
        Box::new(Conv2d::new(
            3,
            4,
            (3, 3),
            Conv2dOptions::new(),
            true,
            &he,
            &mut rng,
        )),
        Box::new(Flatten),
        Box::new(Dense::new(4, 3, &he, &mut rng)),
    ])
}

#[test]
fn a_cnn_as_a_sequential_keeps_the_course_numbering() {
    let net = small_cnn(1);
    let params = net.parameters();
    assert_eq!(
        names(&params),
        ["W1", "b1", "gamma1", "beta1", "W2", "b2", "W3", "b3"]
    );
    let kinds: Vec<ParamKind> = params.iter().map(|p| p.kind).collect();
    assert_eq!(kinds[0], ParamKind::Weight);
    assert_eq!(kinds[1], ParamKind::Bias);
    assert_eq!(kinds[2], ParamKind::Other);
    assert_eq!(params[0].tensor.shape(), &[3, 2, 3, 3]);
    assert_eq!(params[6].tensor.shape(), &[3, 4]);
    assert_eq!(names(&net.buffers()), ["running_mean1", "running_var1"]);
    // Images in, examples as columns out.
    assert_eq!(net.forward(&t(&[5, 2, 6, 6], 0.1)).shape(), &[3, 5]);
}

/// The same CNN as a custom module: names by field.
struct Cnn {
    conv1: Conv2d<f64>,
    bn: BatchNorm2d<f64>,
    conv2: Conv2d<f64>,
    head: Dense<f64>,
}

impl Module<f64> for Cnn {
    fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
        let h = MaxPool2d::new(2).forward(&self.bn.forward(&self.conv1.forward(x)).tanh());
        self.head.forward(&Flatten.forward(&self.conv2.forward(&h)))
    }
    fn visit(&self, v: &mut Visitor<'_, f64>) {
        v.module("conv1", &self.conv1);
        v.module("bn", &self.bn);
        v.module("conv2", &self.conv2);
        v.module("head", &self.head);
    }
}

fn custom_cnn(seed: u64) -> Cnn {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let he = Init::HeNormal;
    Cnn {
        conv1: Conv2d::new(
            2,
            3,
            (3, 3),
            Conv2dOptions::new().padding(1),
            true,
            &he,
            &mut rng,
        ),
        bn: BatchNorm2d::new(3, 1e-5, 0.9),
        conv2: Conv2d::new(3, 4, (3, 3), Conv2dOptions::new(), false, &he, &mut rng),
        head: Dense::new(4, 3, &he, &mut rng),
    }
}

#[test]
fn a_custom_cnn_has_hierarchical_names_and_modes_reach_batch_norm_2d() {
    let net = custom_cnn(2);
    let params = net.parameters();
    assert_eq!(
        names(&params),
        [
            "conv1.weight",
            "conv1.bias",
            "bn.gamma",
            "bn.beta",
            "conv2.weight",
            "head.weight",
            "head.bias"
        ]
    );
    assert_eq!(net.conv1.weight.name().as_deref(), Some("conv1.weight"));
    assert_eq!(names(&net.buffers()), ["bn.running_mean", "bn.running_var"]);
    // Training mode moves the running statistics; evaluation mode, set on the container,
    // reaches the BatchNorm2d inside and freezes them.
    let x = t(&[4, 2, 6, 6], 0.3);
    net.forward(&x);
    let after_train = net.bn.running_mean().to_vec();
    assert_ne!(after_train, [0.0; 3]);
    net.set_training(false);
    assert!(!net.is_training());
    let y1 = net.forward(&x);
    assert_eq!(net.bn.running_mean().to_vec(), after_train);
    assert_eq!(net.forward(&x).to_vec(), y1.to_vec());
    // ... and a Sequential's switch reaches it too.
    let seq = small_cnn(1);
    seq.set_training(false);
    seq.forward(&x);
    assert!(seq.buffers()[0].tensor.to_vec().iter().all(|&v| v == 0.0));
}

fn tiny_block(seed: u64) -> TransformerBlock<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    TransformerBlock::new(4, 2, 8, true, &mut rng)
}

#[test]
fn a_transformer_block_names_its_parameters_hierarchically() {
    let block = tiny_block(3);
    let params = block.parameters();
    assert_eq!(
        names(&params),
        [
            "ln1.weight",
            "ln1.bias",
            "attn.q.weight",
            "attn.q.bias",
            "attn.k.weight",
            "attn.k.bias",
            "attn.v.weight",
            "attn.v.bias",
            "attn.out.weight",
            "attn.out.bias",
            "ln2.weight",
            "ln2.bias",
            "mlp.fc1.weight",
            "mlp.fc1.bias",
            "mlp.fc2.weight",
            "mlp.fc2.bias"
        ]
    );
    assert_eq!(params[12].tensor.shape(), &[8, 4]);
    assert_eq!(block.attn.q.weight.name().as_deref(), Some("attn.q.weight"));
    // Only the projections' and the MLP's matrices are penalised.
    let penalised: Vec<&str> = params
        .iter()
        .filter(|p| p.kind == ParamKind::Weight)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        penalised,
        [
            "attn.q.weight",
            "attn.k.weight",
            "attn.v.weight",
            "attn.out.weight",
            "mlp.fc1.weight",
            "mlp.fc2.weight"
        ]
    );
    // In a Sequential, a block keeps its names under its position.
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let seq = Sequential::new(vec![
        Box::new(Linear::new(3, 4, &Init::HeNormal, &mut rng)),
        Box::new(LayerNorm::new(&[4], 1e-5)),
        Box::new(tiny_block(5)),
    ]);
    let seq_names: Vec<String> = seq.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(seq_names[..4], ["W1", "b1", "weight1", "bias1"]);
    assert_eq!(seq_names[4], "2.ln1.weight");
    assert_eq!(seq_names[6], "2.attn.q.weight");
    assert_eq!(seq.forward(&t(&[2, 3, 3], 0.2)).shape(), &[2, 3, 4]);
}

#[test]
fn freezing_the_attention_leaves_the_rest_trainable() {
    let block = tiny_block(6);
    assert_eq!(block.freeze("attn."), 8);
    let x = t(&[2, 3, 4], 0.7);
    block.forward(&x).square().sum().backward();
    for p in block.parameters() {
        let frozen = p.name.starts_with("attn.");
        assert_eq!(p.is_frozen(), frozen, "{}", p.name);
        assert_eq!(p.grad().is_none(), frozen, "{}", p.name);
    }
    assert_eq!(block.unfreeze("attn.q."), 2);
    block.parameters().iter().for_each(|p| p.tensor.zero_grad());
    block.forward(&x).square().sum().backward();
    assert!(block.attn.q.weight.grad().is_some());
    assert!(block.attn.k.weight.grad().is_none());
}

#[test]
fn a_cnn_round_trips_through_a_checkpoint() {
    let dir = std::env::temp_dir().join(format!("ferrograd-arch-modules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cnn.safetensors");
    let trained = custom_cnn(7);
    // Move the running statistics away from their initial values.
    trained.forward(&t(&[3, 2, 6, 6], 0.5));
    checkpoint::save_module(&path, &trained).unwrap();
    let fresh = custom_cnn(8);
    assert_ne!(
        fresh.conv1.weight.to_vec(),
        trained.conv1.weight.to_vec(),
        "different seeds draw different filters"
    );
    checkpoint::load_module(&path, &fresh).unwrap();
    for (a, b) in fresh
        .parameters()
        .iter()
        .chain(&fresh.buffers())
        .zip(trained.parameters().iter().chain(&trained.buffers()))
    {
        assert_eq!(a.name, b.name);
        assert_eq!(a.tensor.to_vec(), b.tensor.to_vec(), "{}", a.name);
    }
    trained.set_training(false);
    fresh.set_training(false);
    let x = t(&[2, 2, 6, 6], 0.9);
    assert_eq!(fresh.forward(&x).to_vec(), trained.forward(&x).to_vec());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dropout_works_on_images_and_sequences() {
    for shape in [&[2usize, 3, 4, 5][..], &[3, 4, 6][..]] {
        let rng = Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(1)));
        let drop = Dropout::<f64>::new(0.7, rng);
        let x = t(shape, 0.4);
        let y = drop.forward(&x);
        assert_eq!(y.shape(), shape);
        let mask = drop.last_mask().unwrap();
        assert_eq!(mask.shape(), shape);
        let (xv, yv, mv) = (x.to_vec(), y.to_vec(), mask.to_vec());
        let kept = mv.iter().filter(|&&d| d == 1.0).count();
        assert!(mv.iter().all(|&d| d == 0.0 || d == 1.0));
        // Some units dropped, most kept (keep_prob 0.7 of 120 or 72 units).
        assert!(
            kept > mv.len() / 2 && kept < mv.len(),
            "{kept} of {}",
            mv.len()
        );
        for k in 0..xv.len() {
            assert_eq!(yv[k], xv[k] * mv[k] / 0.7);
        }
        // The backward pass applies the same mask.
        let leaf = x.to_leaf();
        let y = drop.forward(&leaf);
        let mask = drop.last_mask().unwrap().to_vec();
        y.sum().backward();
        let g = leaf.grad().unwrap().to_vec();
        for k in 0..g.len() {
            assert_eq!(g[k], mask[k] / 0.7);
        }
        drop.set_training(false);
        assert_eq!(drop.forward(&x).to_vec(), xv);
    }
}

/// Cross-entropy of logits `(3, m)` (classes on axis 0) against fixed classes.
fn ce(out: &Tensor<f64>, _: &Tensor<f64>, _: &[Param<f64>]) -> Tensor<f64> {
    let m = out.shape()[1];
    let labels: Vec<usize> = (0..m).map(|k| (k * 2 + 1) % 3).collect();
    out.cross_entropy_indices(&labels, 0, Default::default())
}

#[test]
fn check_module_passes_a_small_cnn_with_a_hand_written_head() {
    let net = custom_cnn(9);
    let x = t(&[3, 2, 6, 6], 0.15);
    let y = Tensor::<f64>::zeros(&[1]);
    // The head is a dense layer on the flattened features: with A the head's input and
    // dZ = (softmax(Z) - Y)/m, dW = dZ·Aᵀ and db = Σ_n dZ. Written out only for the head,
    // with the convolutions frozen (the hand side covers what the check compares).
    net.freeze("conv");
    net.freeze("bn.");
    let features = engine::no_grad(|| {
        let h = MaxPool2d::new(2).forward(&net.bn.forward(&net.conv1.forward(&x)).tanh());
        Flatten.forward(&net.conv2.forward(&h))
    });
    // Batch statistics depend only on the (frozen) convolutions, so every pass of the check
    // feeds the head these same features.
    let m = 3;
    let a = features.clone();
    let hand = move |p: &NamedTensors<f64>| {
        let z = p["head.weight"].matmul(&a) + &p["head.bias"];
        let (zv, mut dz) = (z.to_vec2(), vec![vec![0.0; m]; 3]);
        for n in 0..m {
            let mx = (0..3).map(|k| zv[k][n]).fold(f64::MIN, f64::max);
            let e: Vec<f64> = (0..3).map(|k| (zv[k][n] - mx).exp()).collect();
            let s: f64 = e.iter().sum();
            for k in 0..3 {
                let target = if (n * 2 + 1) % 3 == k { 1.0 } else { 0.0 };
                dz[k][n] = (e[k] / s - target) / m as f64;
            }
        }
        let dz = Tensor::from_vec2(dz);
        NamedTensors::from([
            ("dhead.weight", dz.matmul(&a.t())),
            ("dhead.bias", dz.sum_axis(1, true)),
        ])
    };
    let report = ModuleCheck::new(&net, &x, &y, &ce)
        .hand_written(&hand)
        .run();
    report.assert_passed();
    let checked: Vec<&str> = report.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(checked, ["head.weight", "head.bias"]);
    let hand_diff = report
        .param("head.weight")
        .unwrap()
        .autodiff_vs_hand
        .unwrap()
        .relative_difference;
    assert!(hand_diff < 1e-12, "{report}");

    // Every parameter, autodiff against central differences, through the BatchNorm2d in
    // training mode.
    net.unfreeze("");
    let report = check_module(&net, &x, &y, &ce, None);
    report.assert_passed();
    assert_eq!(report.params.len(), 7);
    // The Sequential version, with its course names.
    let seq = small_cnn(10);
    let report = check_module(&seq, &x, &y, &ce, None);
    report.assert_passed();
    assert!(report.param("W2").is_some() && report.param("gamma1").is_some());
}

/// A tiny sequence model: embedding, a transformer block, mean over time, a linear head.
struct TinyLm {
    embed: Embedding<f64>,
    block: TransformerBlock<f64>,
    head: Linear<f64>,
}

impl Module<f64> for TinyLm {
    fn forward(&self, ids: &Tensor<f64>) -> Tensor<f64> {
        let h = self.block.forward(&self.embed.forward(ids)); // (m, T, d)
        let pooled = h.mean_axis(1, false); // (m, d)
        self.head.forward(&pooled).t() // classes on axis 0: (3, m)
    }
    fn visit(&self, v: &mut Visitor<'_, f64>) {
        v.module("embed", &self.embed);
        v.module("block", &self.block);
        v.module("head", &self.head);
    }
}

#[test]
fn check_module_passes_a_tiny_transformer_block() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let lm = TinyLm {
        embed: Embedding::new(5, 4, &mut rng),
        block: TransformerBlock::new(4, 2, 8, true, &mut rng),
        head: Linear::new(4, 3, &Init::HeNormal, &mut rng),
    };
    let ids = Tensor::<f64>::from_vec(vec![0.0, 3.0, 1.0, 4.0, 4.0, 2.0], &[2, 3]);
    let y = Tensor::<f64>::zeros(&[1]);
    let report = check_module(&lm, &ids, &y, &ce, None);
    report.assert_passed();
    let checked: Vec<&str> = report.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(checked.len(), 1 + 16 + 2);
    assert_eq!(checked[0], "embed.weight");
    assert!(checked.contains(&"block.attn.out.weight"));
    assert!(checked.contains(&"block.mlp.fc2.bias"));
}

#[test]
fn pools_and_flatten_are_parameterless_modules() {
    let layers: Vec<Box<dyn Module<f64>>> = vec![
        Box::new(MaxPool2d::new(2)),
        Box::new(AvgPool2d::new(2)),
        Box::new(Flatten),
    ];
    for l in &layers {
        assert!(l.parameters().is_empty() && l.buffers().is_empty());
    }
    let seq = Sequential::new(layers);
    let y = seq.forward(&t(&[2, 1, 8, 8], 0.3));
    assert_eq!(y.shape(), &[4, 2]);
}
