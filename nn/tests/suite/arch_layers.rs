//! The layers for modern architectures (`nn::conv`, `nn::layernorm`, `nn::embedding`,
//! `nn::attention`): values against direct loop implementations written here, the
//! image/column seam of `Flatten`, running statistics, causality of masked attention, and
//! first- and second-order gradient checks (and a forward-mode check) through each layer.

// The reference implementations index like the formulas they transcribe.
#![allow(clippy::needless_range_loop)]

use engine::check::{check_jvp, JvpCheckConfig};
use engine::gradcheck::{gradcheck, gradgradcheck, GradcheckConfig};
use engine::ops::conv::Conv2dOptions;
use engine::Tensor;
use nn::attention::{Linear, MultiHeadAttention, TransformerBlock};
use nn::conv::{conv_fans, AvgPool2d, Conv2d, Flatten, MaxPool2d};
use nn::embedding::Embedding;
use nn::init::Init;
use nn::layernorm::{BatchNorm2d, LayerNorm};
use nn::Dense;
use nn::Module;
use rand::SeedableRng;

fn t(shape: &[usize], k: f64) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i as f64 + 1.0) * 1.618_033_9 + k).sin() * 1.5 + 0.013 * i as f64)
        .collect();
    Tensor::from_vec(data, shape)
}

fn weights(shape: &[usize]) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| ((i as f64 * 0.754_877_666 + 0.3).fract() - 0.45) * 2.0)
        .collect();
    Tensor::from_vec(data, shape)
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Relative difference every parameter's gradient must stay under. The check is per
/// parameter, so a parameter with small gradients (attention's query and key projections, about
/// 1e-2) sees the rounding of the central differences, about 1e-16·|f|/ε, relative to its own
/// size: the step is ε = 1e-6 (truncation error ε²·f''' stays near 1e-12) rather than 1e-7, as
/// in the engine's op table; a wrong rule still gives differences of order 1e-1.
const TOL: f64 = 1e-7;

/// The gradient-check settings of these tests (see [`TOL`]).
fn config() -> GradcheckConfig {
    GradcheckConfig::default().epsilon(1e-6).relative(TOL)
}

#[test]
fn conv2d_layer_is_the_conv2d_op_with_conv_fans() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let opts = Conv2dOptions::new().padding(1).groups(2);
    let layer = Conv2d::<f64>::new(4, 6, (3, 3), opts, true, &Init::HeNormal, &mut rng);
    assert_eq!(layer.weight.shape(), &[6, 2, 3, 3]);
    assert_eq!(conv_fans(layer.weight.shape(), 2), (18, 27));
    let x = t(&[2, 4, 5, 5], 0.3);
    let y = layer.forward(&x);
    let want = x.conv2d(&layer.weight, layer.bias.as_ref(), opts);
    assert_eq!(y.to_vec(), want.to_vec());
    let names: Vec<String> = layer.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["weight", "bias"]);
    // He normal with fan-in 18: sample variance of 20 000 draws within 5% of 2/18.
    let big = Conv2d::<f64>::new(
        18,
        1000,
        (1, 1),
        Conv2dOptions::new(),
        false,
        &Init::HeNormal,
        &mut rng,
    );
    let v = big.weight.to_vec();
    let var = v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
    assert!((var / (2.0 / 18.0) - 1.0).abs() < 0.05, "variance {var}");
}

#[test]
fn flatten_bridges_images_to_examples_as_columns() {
    let x = t(&[3, 2, 2, 3], 0.1); // 3 images of 2 channels, 2x3 pixels
    let cols = Flatten.forward(&x);
    assert_eq!(cols.shape(), &[12, 3]);
    for n in 0..3 {
        for c in 0..2 {
            for h in 0..2 {
                for w in 0..3 {
                    assert_eq!(cols.at(&[(c * 2 + h) * 3 + w, n]), x.at(&[n, c, h, w]));
                }
            }
        }
    }
    assert_eq!(Flatten.unflatten(&cols, (2, 2, 3)).to_vec(), x.to_vec());
    // Straight into a dense layer, whose examples are columns.
    let dense = Dense::from_parameters(t(&[4, 12], 0.5), t(&[4, 1], 0.9));
    assert_eq!(dense.forward(&cols).shape(), &[4, 3]);
}

#[test]
fn pooling_layers_call_the_ops() {
    let x = t(&[2, 3, 6, 4], 0.2);
    assert_eq!(
        MaxPool2d::new(2).forward(&x).to_vec(),
        x.max_pool2d((2, 2), (2, 2), (0, 0)).to_vec()
    );
    assert_eq!(
        AvgPool2d::new(2).forward(&x).to_vec(),
        x.avg_pool2d((2, 2), (2, 2), (0, 0)).to_vec()
    );
}

#[test]
fn layer_norm_normalizes_each_token_and_passes_gradient_checks() {
    let x = t(&[2, 3, 5], 0.4);
    let ln = LayerNorm::<f64>::new(&[5], 1e-5);
    let y = ln.forward(&x);
    for a in 0..2 {
        for b in 0..3 {
            let row: Vec<f64> = (0..5).map(|k| x.at(&[a, b, k])).collect();
            let mean = row.iter().sum::<f64>() / 5.0;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 5.0;
            for k in 0..5 {
                let want = (row[k] - mean) / (var + 1e-5).sqrt();
                assert!((y.at(&[a, b, k]) - want).abs() < 1e-14);
            }
        }
    }
    let w = weights(&[2, 3, 5]);
    let f = |v: &[Tensor<f64>]| {
        let ln = LayerNorm {
            weight: v[1].clone(),
            bias: v[2].clone(),
            eps: 1e-5,
        };
        (ln.forward(&v[0].transpose(1, 2)) * &w).sum()
    };
    let inputs = [t(&[2, 5, 3], 0.4), t(&[5], 0.8) + 1.0, t(&[5], 0.1)];
    let r = gradcheck(&f, &inputs, config());
    assert!(r.passed(), "{r}");
    let r = gradgradcheck(&f, &inputs, config());
    assert!(r.passed(), "{r}");
}

#[test]
fn batch_norm_2d_uses_per_channel_batch_statistics_and_tracks_running_ones() {
    let x = t(&[3, 2, 4, 3], 0.6);
    let bn = BatchNorm2d::<f64>::new(2, 1e-5, 0.9);
    let y = bn.forward(&x);
    let n = 3 * 4 * 3;
    for c in 0..2 {
        let mut vals = vec![];
        for a in 0..3 {
            for h in 0..4 {
                for w in 0..3 {
                    vals.push(x.at(&[a, c, h, w]));
                }
            }
        }
        let mean = vals.iter().sum::<f64>() / n as f64;
        let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        let mut k = 0;
        for a in 0..3 {
            for h in 0..4 {
                for w in 0..3 {
                    let want = (vals[k] - mean) / (var + 1e-5).sqrt();
                    assert!((y.at(&[a, c, h, w]) - want).abs() < 1e-14);
                    k += 1;
                }
            }
        }
        assert!((bn.running_mean().at(&[c]) - 0.1 * mean).abs() < 1e-15);
        let unbiased = var * n as f64 / (n - 1) as f64;
        assert!((bn.running_var().at(&[c]) - (0.9 + 0.1 * unbiased)).abs() < 1e-15);
    }
    bn.set_training(false);
    let eval = bn.forward(&x);
    let (rm, rv) = (bn.running_mean(), bn.running_var());
    let want = (&x - rm.reshape(&[1, 2, 1, 1])) / (rv.reshape(&[1, 2, 1, 1]) + 1e-5).sqrt();
    assert!(max_abs_diff(&eval.to_vec(), &want.to_vec()) < 1e-14);

    let w = weights(&[3, 2, 4, 3]);
    let f = |v: &[Tensor<f64>]| {
        let mut bn = BatchNorm2d::<f64>::new(2, 1e-5, 0.9);
        bn.gamma = v[1].clone();
        bn.beta = v[2].clone();
        (bn.forward(&v[0]) * &w).sum()
    };
    let inputs = [x.clone(), t(&[2], 0.3) + 1.5, t(&[2], 0.7)];
    let r = gradcheck(&f, &inputs, config());
    assert!(r.passed(), "{r}");
    let r = gradgradcheck(&f, &inputs, config());
    assert!(r.passed(), "{r}");
}

#[test]
#[should_panic(expected = "Embedding::forward: ids of shape [2] must be whole numbers in [0, 10)")]
fn embedding_refuses_an_id_out_of_range() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let e = Embedding::<f64>::new(10, 4, &mut rng);
    e.forward(&Tensor::from_vec(vec![1.0, 10.0], &[2]));
}

#[test]
fn embedding_layer_looks_up_rows() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let e = Embedding::<f64>::new(10, 4, &mut rng);
    let y = e.lookup(&[3, 3, 9, 0], &[2, 2]);
    assert_eq!(y.shape(), &[2, 2, 4]);
    for d in 0..4 {
        assert_eq!(y.at(&[0, 1, d]), e.weight.at(&[3, d]));
        assert_eq!(y.at(&[1, 0, d]), e.weight.at(&[9, d]));
    }
    // As a module, the ids come as a tensor of whole numbers.
    let ids = Tensor::<f64>::from_vec(vec![3.0, 3.0, 9.0, 0.0], &[2, 2]);
    assert_eq!(e.forward(&ids).to_vec(), y.to_vec());
    let names: Vec<String> = e.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["weight"]);
}

/// A multi-head attention layer whose projections are the given tensors (W, b pairs for
/// q, k, v, o).
fn mha_from(v: &[Tensor<f64>], heads: usize, causal: bool) -> MultiHeadAttention<f64> {
    let lin = |i: usize| Linear {
        weight: v[i].clone(),
        bias: v[i + 1].clone(),
    };
    MultiHeadAttention {
        q: lin(0),
        k: lin(2),
        v: lin(4),
        out: lin(6),
        heads,
        causal,
    }
}

fn mha_params(d: usize) -> Vec<Tensor<f64>> {
    (0..4)
        .flat_map(|i| {
            [
                t(&[d, d], i as f64 * 0.37) * 0.5,
                t(&[d], i as f64 + 0.2) * 0.1,
            ]
        })
        .collect()
}

/// Direct attention by loops: per example, head, query i: scores over keys j (≤ i when
/// causal), softmax, weighted values, then the output projection.
fn naive_mha(x: &Tensor<f64>, p: &[Tensor<f64>], heads: usize, causal: bool) -> Vec<f64> {
    let (m, tt, d) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let dh = d / heads;
    let proj = |w: &Tensor<f64>, b: &Tensor<f64>, row: &[f64]| -> Vec<f64> {
        (0..w.shape()[0])
            .map(|o| b.at(&[o]) + (0..row.len()).map(|i| w.at(&[o, i]) * row[i]).sum::<f64>())
            .collect()
    };
    let mut out = vec![];
    for a in 0..m {
        let rows: Vec<Vec<f64>> = (0..tt)
            .map(|i| (0..d).map(|k| x.at(&[a, i, k])).collect())
            .collect();
        let q: Vec<Vec<f64>> = rows.iter().map(|r| proj(&p[0], &p[1], r)).collect();
        let k: Vec<Vec<f64>> = rows.iter().map(|r| proj(&p[2], &p[3], r)).collect();
        let v: Vec<Vec<f64>> = rows.iter().map(|r| proj(&p[4], &p[5], r)).collect();
        for i in 0..tt {
            let mut concat = vec![0.0; d];
            for h in 0..heads {
                let visible = if causal { i + 1 } else { tt };
                let s: Vec<f64> = (0..visible)
                    .map(|j| {
                        (0..dh)
                            .map(|c| q[i][h * dh + c] * k[j][h * dh + c])
                            .sum::<f64>()
                            / (dh as f64).sqrt()
                    })
                    .collect();
                let mx = s.iter().cloned().fold(f64::MIN, f64::max);
                let e: Vec<f64> = s.iter().map(|x| (x - mx).exp()).collect();
                let z: f64 = e.iter().sum();
                for c in 0..dh {
                    concat[h * dh + c] = (0..visible).map(|j| e[j] / z * v[j][h * dh + c]).sum();
                }
            }
            out.extend(proj(&p[6], &p[7], &concat));
        }
    }
    out
}

#[test]
fn multi_head_attention_matches_the_direct_loops() {
    let x = t(&[2, 4, 6], 0.5);
    let p = mha_params(6);
    for causal in [false, true] {
        let layer = mha_from(&p, 3, causal);
        let (y, attn) = layer.forward_with_weights(&x);
        assert_eq!(attn.shape(), &[2, 3, 4, 4]);
        let err = max_abs_diff(&y.to_vec(), &naive_mha(&x, &p, 3, causal));
        assert!(err < 1e-13, "causal {causal}: {err:e}");
    }
    // Causal: changing the last token changes nothing before it.
    let layer = mha_from(&p, 3, true);
    let y1 = layer.forward(&x);
    let bumped = Tensor::concat(&[&x.narrow(1, 0, 3), &(x.narrow(1, 3, 1) + 5.0)], 1);
    let y2 = layer.forward(&bumped);
    assert_eq!(y1.narrow(1, 0, 3).to_vec(), y2.narrow(1, 0, 3).to_vec());
    assert_ne!(y1.narrow(1, 3, 1).to_vec(), y2.narrow(1, 3, 1).to_vec());
}

#[test]
fn multi_head_attention_gradients_to_second_order_and_forward_mode() {
    let w = weights(&[2, 3, 4]);
    let f = |v: &[Tensor<f64>]| (mha_from(&v[1..], 2, true).forward(&v[0]) * &w).sum();
    let mut inputs = vec![t(&[2, 3, 4], 0.9)];
    inputs.extend(mha_params(4));
    let r = gradcheck(&f, &inputs, config());
    assert!(r.passed(), "{r}");
    let r = gradgradcheck(&f, &inputs, config());
    assert!(r.passed(), "{r}");
    let j = check_jvp(
        |v| mha_from(&v[1..], 2, true).forward(&v[0]),
        &inputs,
        JvpCheckConfig::default(),
    );
    assert!(j.passed(), "{j}");
}

#[test]
fn transformer_block_gradients_to_second_order_and_forward_mode() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let block = TransformerBlock::<f64>::new(4, 2, 8, true, &mut rng);
    let names: Vec<String> = block.parameters().into_iter().map(|p| p.name).collect();
    assert_eq!(names.len(), 4 + 8 + 4);
    assert_eq!(names[0], "ln1.weight");
    assert_eq!(names[2], "attn.q.weight");
    let params: Vec<Tensor<f64>> = block
        .parameters()
        .into_iter()
        .map(|p| p.tensor.detach())
        .collect();
    let build = |v: &[Tensor<f64>]| {
        let lin = |i: usize| Linear {
            weight: v[i].clone(),
            bias: v[i + 1].clone(),
        };
        TransformerBlock {
            ln1: LayerNorm {
                weight: v[0].clone(),
                bias: v[1].clone(),
                eps: 1e-5,
            },
            attn: mha_from(&v[2..10], 2, true),
            ln2: LayerNorm {
                weight: v[10].clone(),
                bias: v[11].clone(),
                eps: 1e-5,
            },
            fc1: lin(12),
            fc2: lin(14),
        }
    };
    let x = t(&[2, 3, 4], 0.2);
    // The block built from its own parameters computes what the block does.
    let mut all = vec![x.clone()];
    all.extend(params);
    assert!(
        max_abs_diff(
            &build(&all[1..]).forward(&x).to_vec(),
            &block.forward(&x).to_vec()
        ) == 0.0
    );
    let w = weights(&[2, 3, 4]);
    let f = |v: &[Tensor<f64>]| (build(&v[1..]).forward(&v[0]) * &w).sum();
    let r = gradcheck(&f, &all, config());
    assert!(r.passed(), "{r}");
    let r = gradgradcheck(&f, &all, config());
    assert!(r.passed(), "{r}");
    let j = check_jvp(
        |v| build(&v[1..]).forward(&v[0]),
        &all,
        JvpCheckConfig::default(),
    );
    assert!(j.passed(), "{j}");
}

#[test]
fn transformer_block_reports_the_attention_weights_of_its_normalized_input() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let block = TransformerBlock::<f64>::new(6, 3, 12, false, &mut rng);
    let x = t(&[2, 4, 6], 0.7);
    let (y, w) = block.forward_with_weights(&x);
    assert_eq!(y.to_vec(), block.forward(&x).to_vec());
    assert_eq!(w.shape(), &[2, 3, 4, 4]);
    // The weights are those of the attention layer on the pre-norm input, not on `x`.
    let (_, direct) = block.attn.forward_with_weights(&block.ln1.forward(&x));
    assert_eq!(w.to_vec(), direct.to_vec());
    let (_, raw) = block.attn.forward_with_weights(&x);
    assert!(max_abs_diff(&w.to_vec(), &raw.to_vec()) > 1e-3);
    // Each row is a distribution over the positions.
    for row in w.to_vec().chunks(4) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
