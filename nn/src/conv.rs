//! Convolution layers on batch-first images `(m, C, H, W)` (PyTorch's layout), and
//! [`Flatten`], the seam between images and the examples-as-columns dense layers.
//!
//! Every layer is a [`Module`]: filters and biases are reported as `weight` and `bias`
//! (PyTorch's names), so a convolution inside a custom model is `conv1.weight`, and inside a
//! [`Sequential`](crate::Sequential) it is numbered like a dense layer (`W1`, `b1`: the course's
//! convolutional networks number their filters `W1`, `W2` too). Pools and [`Flatten`] have no
//! parameters and can sit anywhere in a `Sequential`. Written on engine operations only, so every
//! layer is differentiable to any order.

use engine::ops::conv::{Conv2dOptions, Pool2dOptions};
use engine::random::Sampler;
use engine::{Float, Tensor};

use crate::init::Init;
use crate::module::{Module, ParamKind, Visitor};

/// Fans of a convolution filter bank `(C_out, C_in/groups, kH, kW)`: each output sees
/// `fan_in = C_in/groups · kH · kW` inputs, each input reaches `fan_out = C_out/groups · kH · kW`
/// outputs (so He and Xavier initializers scale as PyTorch's do for convolutions).
pub fn conv_fans(weight_shape: &[usize], groups: usize) -> (usize, usize) {
    let taps = weight_shape[2] * weight_shape[3];
    (
        weight_shape[1] * taps,
        weight_shape[0] / groups.max(1) * taps,
    )
}

/// A 2-D convolution layer: filters `(C_out, C_in/groups, kH, kW)` and a bias `(C_out,)`.
pub struct Conv2d<T: Float> {
    /// Filters, a leaf requiring gradients.
    pub weight: Tensor<T>,
    /// Bias per output channel, if the layer has one.
    pub bias: Option<Tensor<T>>,
    /// Stride, padding, dilation, groups.
    pub options: Conv2dOptions,
}

impl<T: Float> Conv2d<T> {
    /// A layer from `c_in` to `c_out` channels with a `kernel` of `(kH, kW)`; filters drawn by
    /// `init` with the convolution's fans (see [`conv_fans`]; [`Init::HeNormal`] for ReLU
    /// networks), bias zeros.
    #[track_caller]
    pub fn new<S: Sampler + ?Sized>(
        c_in: usize,
        c_out: usize,
        kernel: (usize, usize),
        options: Conv2dOptions,
        bias: bool,
        init: &Init,
        sampler: &mut S,
    ) -> Self {
        let g = options.groups;
        assert!(
            g > 0 && c_in.is_multiple_of(g) && c_out.is_multiple_of(g),
            "Conv2d::new: {c_in} input and {c_out} output channels do not split into {g} groups"
        );
        let shape = [c_out, c_in / g, kernel.0, kernel.1];
        let (fan_in, fan_out) = conv_fans(&shape, g);
        let weight = init.sample::<T, S>(&shape, fan_in, fan_out, sampler);
        let bias = bias.then(|| Tensor::zeros(&[c_out]));
        Self::from_parameters(weight, bias, options)
    }

    /// A layer holding copies of the given filters and bias as fresh leaves.
    pub fn from_parameters(
        weight: Tensor<T>,
        bias: Option<Tensor<T>>,
        options: Conv2dOptions,
    ) -> Self {
        Conv2d {
            weight: weight.to_leaf().named("weight"),
            bias: bias.map(|b| b.to_leaf().named("bias")),
            options,
        }
    }
}

impl<T: Float> Module<T> for Conv2d<T> {
    /// `conv2d(x, W) + b` for images `x` of shape `(m, C_in, H, W)`.
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.conv2d(&self.weight, self.bias.as_ref(), self.options)
    }

    /// `weight` (penalised) and `bias` when present.
    fn visit(&self, v: &mut Visitor<'_, T>) {
        v.param("weight", &self.weight, ParamKind::Weight);
        if let Some(b) = &self.bias {
            v.param("bias", b, ParamKind::Bias);
        }
    }

    fn describe(&self) -> String {
        let s = self.weight.shape();
        format!(
            "Conv2d({} -> {}, {}x{})",
            s[1] * self.options.groups,
            s[0],
            s[2],
            s[3]
        )
    }
}

/// Max pooling over `kernel` windows moved by `stride` (first maximal element on ties).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2d {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows.
    pub stride: (usize, usize),
    /// Padding, never picked (at most half the kernel).
    pub padding: (usize, usize),
    /// Step between the window's taps.
    pub dilation: (usize, usize),
}

impl MaxPool2d {
    /// Non-overlapping `k×k` windows (stride `k`, no padding), the usual downsampling.
    pub fn new(k: usize) -> Self {
        MaxPool2d {
            kernel: (k, k),
            stride: (k, k),
            padding: (0, 0),
            dilation: (1, 1),
        }
    }
}

impl<T: Float> Module<T> for MaxPool2d {
    /// Pools images `(m, C, H, W)`.
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.max_pool2d_with(
            Pool2dOptions::new(self.kernel)
                .stride(self.stride)
                .padding(self.padding)
                .dilation(self.dilation),
        )
    }

    /// No parameters, no mode.
    fn visit(&self, _v: &mut Visitor<'_, T>) {}

    fn describe(&self) -> String {
        format!("MaxPool2d({:?}, stride {:?})", self.kernel, self.stride)
    }
}

/// Average pooling over `kernel` windows moved by `stride`; padding counts as zeros unless
/// `count_include_pad` is false.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool2d {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows.
    pub stride: (usize, usize),
    /// Zero padding.
    pub padding: (usize, usize),
    /// Whether the padding counts in the averages (PyTorch's default) or only the taps inside
    /// the image do.
    pub count_include_pad: bool,
}

impl AvgPool2d {
    /// Non-overlapping `k×k` windows (stride `k`, no padding).
    pub fn new(k: usize) -> Self {
        AvgPool2d {
            kernel: (k, k),
            stride: (k, k),
            padding: (0, 0),
            count_include_pad: true,
        }
    }
}

impl<T: Float> Module<T> for AvgPool2d {
    /// Pools images `(m, C, H, W)`.
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.avg_pool2d_with(
            Pool2dOptions::new(self.kernel)
                .stride(self.stride)
                .padding(self.padding)
                .count_include_pad(self.count_include_pad),
        )
    }

    /// No parameters, no mode.
    fn visit(&self, _v: &mut Visitor<'_, T>) {}

    fn describe(&self) -> String {
        format!("AvgPool2d({:?}, stride {:?})", self.kernel, self.stride)
    }
}

/// Adaptive average pooling to a fixed output size `(OH, OW)` whatever the input's, with
/// PyTorch's bins (see [`Tensor::adaptive_avg_pool2d`]); `(1, 1)` is global average pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdaptiveAvgPool2d {
    /// Output height and width.
    pub output: (usize, usize),
}

impl AdaptiveAvgPool2d {
    /// Pools to `output`.
    pub fn new(output: (usize, usize)) -> Self {
        AdaptiveAvgPool2d { output }
    }
}

impl<T: Float> Module<T> for AdaptiveAvgPool2d {
    /// Pools images `(m, C, H, W)` to `(m, C, OH, OW)`.
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.adaptive_avg_pool2d(self.output)
    }

    /// No parameters, no mode.
    fn visit(&self, _v: &mut Visitor<'_, T>) {}

    fn describe(&self) -> String {
        format!("AdaptiveAvgPool2d({:?})", self.output)
    }
}

/// The seam between convolutional and dense layers: images `(m, C, H, W)` (batch-first, as
/// PyTorch) become the examples-as-columns matrix `(C·H·W, m)` that [`Dense`](crate::Dense)
/// layers take. Row `(c·H + h)·W + w` of the output is pixel `(c, h, w)`: each column is one
/// image flattened in PyTorch's `flatten(1)` order, so weights ported from PyTorch's
/// `Linear(C·H·W, n)` apply as they are. The result is a transposed view (no copy); `Dense`'s
/// matrix product reads it through its strides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flatten;

impl<T: Float> Module<T> for Flatten {
    /// `(m, C, H, W)` (or any `(m, ...)`) to `(C·H·W, m)`.
    #[track_caller]
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        assert!(
            x.ndim() >= 2,
            "Flatten::forward: needs a batch-first tensor (m, ...), got shape {:?}",
            x.shape()
        );
        x.flatten_dims(1, -1).t()
    }

    /// No parameters, no mode.
    fn visit(&self, _v: &mut Visitor<'_, T>) {}

    fn describe(&self) -> String {
        String::from("Flatten")
    }
}

impl Flatten {
    /// The reverse seam: columns `(C·H·W, m)` back to images `(m, C, H, W)`.
    #[track_caller]
    pub fn unflatten<T: Float>(&self, x: &Tensor<T>, image: (usize, usize, usize)) -> Tensor<T> {
        let (c, h, w) = image;
        assert!(
            x.ndim() == 2 && x.shape()[0] == c * h * w,
            "Flatten::unflatten: columns of shape {:?} do not hold images of {image:?}",
            x.shape()
        );
        x.t().reshape(&[x.shape()[1], c, h, w])
    }
}
