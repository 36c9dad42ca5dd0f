//! Convolution and pooling over batch-first images `(m, C, H, W)`, as PyTorch lays them out:
//! `conv2d` and `conv_transpose2d` (stride, padding, dilation, groups), `max_pool2d`,
//! `avg_pool2d`, `adaptive_avg_pool2d`, and the two linear primitives they are built from,
//! `im2col` and its adjoint `col2im`.
//!
//! Why this structure: a convolution is a matrix product between the filters and the column
//! matrix of the receptive fields (`im2col`), so it runs on the same gemm kernel as `matmul`.
//! `im2col` and `col2im` are linear and each other's adjoint, so each one's backward rule and
//! forward-mode rule is the other one (or itself) applied to the incoming gradient or tangent;
//! everything else is `matmul`, `reshape` and `permute`. The gradient of `conv2d` with respect
//! to its input is therefore exactly `conv_transpose2d` of the incoming gradient, with respect
//! to the filters it is a product of the gradient and the column matrix, and every derivative
//! is again made of differentiable operations: convolutions are differentiable to any order.
//!
//! Max pooling picks, per window, the first maximal element in row-major window order (as
//! PyTorch does; a NaN wins, so it propagates) and is then a `gather` of those elements, whose
//! adjoint `scatter_add` routes each window's gradient to that one element. Average pooling
//! is the mean of the column matrix's taps; windows overlapping the padding divide by the full
//! window size (PyTorch's default `count_include_pad=True`).

pub use crate::kernels_conv::Window2d;

use crate::autograd::{record, Op};
use crate::kernels_conv::{self, out_len};
use crate::{Float, Tensor};

/// Settings of [`Tensor::conv2d`] and [`Tensor::conv_transpose2d`], per spatial axis
/// `(vertical, horizontal)`. The default is stride 1, no padding, dilation 1, one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dOptions {
    /// Step between windows.
    pub stride: (usize, usize),
    /// Zeros added on each side of the input.
    pub padding: (usize, usize),
    /// Step between kernel taps.
    pub dilation: (usize, usize),
    /// Channel groups: input and output channels are split into this many groups and group
    /// `g` of the outputs sees only group `g` of the inputs.
    pub groups: usize,
}

impl Default for Conv2dOptions {
    fn default() -> Self {
        Conv2dOptions {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

impl Conv2dOptions {
    /// Stride 1, no padding, dilation 1, one group.
    pub fn new() -> Self {
        Self::default()
    }
    /// The same stride along both axes.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = (s, s);
        self
    }
    /// The same padding along both axes.
    pub fn padding(mut self, p: usize) -> Self {
        self.padding = (p, p);
        self
    }
    /// The same dilation along both axes.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = (d, d);
        self
    }
    /// The number of channel groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
}

/// Settings of [`Tensor::max_pool2d_with`] and [`Tensor::avg_pool2d_with`], per spatial axis
/// `(vertical, horizontal)`. [`Pool2dOptions::new`] gives PyTorch's defaults: stride equal to
/// the kernel, no padding, dilation 1, padding counted in averages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dOptions {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows.
    pub stride: (usize, usize),
    /// Implicit padding on each side: never picked by max pooling, zeros for average pooling.
    pub padding: (usize, usize),
    /// Step between the window's taps.
    pub dilation: (usize, usize),
    /// Whether average pooling divides by the whole window (padding counted as zeros, PyTorch's
    /// default) or by the number of taps that fall inside the image.
    pub count_include_pad: bool,
}

impl Pool2dOptions {
    /// The sliding window of these settings over images of `shape`, panicking naming `op`
    /// when they do not fit.
    #[track_caller]
    fn window(&self, op: &str, shape: &[usize]) -> Window2d {
        Window2d::new(
            op,
            shape,
            self.kernel,
            self.stride,
            self.padding,
            self.dilation,
        )
    }

    /// A `kernel` window moved by its own size, no padding, dilation 1, padding counted.
    pub fn new(kernel: (usize, usize)) -> Self {
        Pool2dOptions {
            kernel,
            stride: kernel,
            padding: (0, 0),
            dilation: (1, 1),
            count_include_pad: true,
        }
    }
    /// The same settings with `stride`.
    pub fn stride(mut self, stride: (usize, usize)) -> Self {
        self.stride = stride;
        self
    }
    /// The same settings with `padding`.
    pub fn padding(mut self, padding: (usize, usize)) -> Self {
        self.padding = padding;
        self
    }
    /// The same settings with `dilation`.
    pub fn dilation(mut self, dilation: (usize, usize)) -> Self {
        self.dilation = dilation;
        self
    }
    /// The same settings, averaging over the taps inside the image only (`false`) or over the
    /// whole window (`true`).
    pub fn count_include_pad(mut self, include: bool) -> Self {
        self.count_include_pad = include;
        self
    }
}

impl Window2d {
    /// The window of a `kernel` sliding over images of `image_shape` `(m, C, H, W)`; panics
    /// naming `op` when the geometry is impossible (zero stride or dilation, a kernel larger
    /// than the padded input).
    #[track_caller]
    pub fn new(
        op: &str,
        image_shape: &[usize],
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
    ) -> Self {
        assert!(
            image_shape.len() == 4,
            "{op}: needs batch-first images (m, C, H, W), got shape {image_shape:?}"
        );
        let ok = |i: usize, k: usize, s: usize, p: usize, d: usize| {
            k > 0 && d > 0 && out_len(i, k, s, p, d).is_some()
        };
        assert!(
            ok(image_shape[2], kernel.0, stride.0, padding.0, dilation.0)
                && ok(image_shape[3], kernel.1, stride.1, padding.1, dilation.1),
            "{op}: kernel {kernel:?} with stride {stride:?}, padding {padding:?} and dilation \
             {dilation:?} does not fit images of shape {image_shape:?}"
        );
        Window2d {
            batch: image_shape[0],
            channels: image_shape[1],
            input: (image_shape[2], image_shape[3]),
            kernel,
            stride,
            padding,
            dilation,
        }
    }
}

impl<T: Float> Tensor<T> {
    /// Unfolds images `(m, C, H, W)` into the column matrix `(C·kH·kW, m·OH·OW)` of `window`:
    /// row `(c, ki, kj)`, column `(n, oh, ow)` holds
    /// `x[n, c, oh·sh + ki·dh - ph, ow·sw + kj·dw - pw]` (0 in the padding). Linear; its
    /// adjoint is [`Tensor::col2im`].
    #[track_caller]
    pub fn im2col(&self, window: &Window2d) -> Tensor<T> {
        assert!(
            self.shape() == window.image_shape(),
            "im2col: images of shape {:?} do not match the window's {:?}",
            self.shape(),
            window.image_shape()
        );
        let data = self.with_data(|d| kernels_conv::im2col(d, window));
        record(
            Op::Im2Col { window: *window },
            &[self],
            data,
            &window.cols_shape(),
        )
    }

    /// Folds a column matrix `(C·kH·kW, m·OH·OW)` back into images `(m, C, H, W)`, adding
    /// overlapping windows' contributions: the adjoint of [`Tensor::im2col`].
    #[track_caller]
    pub fn col2im(&self, window: &Window2d) -> Tensor<T> {
        assert!(
            self.shape() == window.cols_shape(),
            "col2im: columns of shape {:?} do not match the window's {:?}",
            self.shape(),
            window.cols_shape()
        );
        let data = self.with_data(|d| kernels_conv::col2im(d, window));
        record(
            Op::Col2Im { window: *window },
            &[self],
            data,
            &window.image_shape(),
        )
    }

    /// 2-D convolution (cross-correlation, as in PyTorch) of images `(m, C_in, H, W)` with
    /// filters `(C_out, C_in/groups, kH, kW)` and an optional bias `(C_out,)`, giving
    /// `(m, C_out, OH, OW)` with `OH = (H + 2ph - dh·(kH - 1) - 1)/sh + 1` (same for `OW`).
    ///
    /// Computed as one gemm per group between the filters and the `im2col` column matrix.
    #[track_caller]
    pub fn conv2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        options: Conv2dOptions,
    ) -> Tensor<T> {
        let (xs, ws) = (self.shape(), weight.shape());
        assert!(
            xs.len() == 4 && ws.len() == 4,
            "conv2d: needs images (m, C_in, H, W) and filters (C_out, C_in/groups, kH, kW), got \
             shapes {xs:?} and {ws:?}"
        );
        let g = options.groups;
        assert!(
            g > 0 && ws[0] % g == 0 && xs[1] == ws[1] * g,
            "conv2d: images of shape {xs:?} and filters of shape {ws:?} do not fit {g} group(s) \
             (need C_in = filters' dim 1 × groups and C_out divisible by groups)"
        );
        let window = Window2d::new(
            "conv2d",
            xs,
            (ws[2], ws[3]),
            options.stride,
            options.padding,
            options.dilation,
        );
        let (m, c_out) = (xs[0], ws[0]);
        let (oh, ow) = window.output();
        let taps = ws[1] * ws[2] * ws[3];
        let cols = self.im2col(&window).reshape(&[g, taps, m * oh * ow]);
        let y = weight
            .reshape(&[g, c_out / g, taps])
            .matmul(&cols)
            .reshape(&[c_out, m, oh * ow])
            .permute(&[1, 0, 2])
            .reshape(&[m, c_out, oh, ow]);
        match bias {
            None => y,
            Some(b) => {
                assert!(
                    b.shape() == [c_out],
                    "conv2d: bias of shape {:?} does not fit {c_out} output channels",
                    b.shape()
                );
                y + b.reshape(&[1, c_out, 1, 1])
            }
        }
    }

    /// Transposed 2-D convolution of `(m, C_in, H, W)` with filters
    /// `(C_in, C_out/groups, kH, kW)` (PyTorch's layout) and an optional bias `(C_out,)`: the
    /// adjoint of [`Tensor::conv2d`] with the same filters and options, which is also the
    /// gradient of `conv2d` with respect to its input. The output is
    /// `(m, C_out, (H - 1)·sh - 2ph + dh·(kH - 1) + output_padding.0 + 1, ...)`;
    /// `output_padding` (below the stride or the dilation) picks among the input sizes a
    /// strided `conv2d` maps to the same output size.
    #[track_caller]
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor<T>,
        bias: Option<&Tensor<T>>,
        options: Conv2dOptions,
        output_padding: (usize, usize),
    ) -> Tensor<T> {
        let (ys, ws) = (self.shape(), weight.shape());
        assert!(
            ys.len() == 4 && ws.len() == 4,
            "conv_transpose2d: needs images (m, C_in, H, W) and filters (C_in, C_out/groups, kH, \
             kW), got shapes {ys:?} and {ws:?}"
        );
        let g = options.groups;
        assert!(
            g > 0 && ys[1] == ws[0] && ws[0] % g == 0,
            "conv_transpose2d: images of shape {ys:?} and filters of shape {ws:?} do not fit {g} \
             group(s) (need C_in = filters' dim 0, divisible by groups)"
        );
        let (s, p, d) = (options.stride, options.padding, options.dilation);
        assert!(
            (output_padding.0 < s.0.max(d.0)) && (output_padding.1 < s.1.max(d.1)),
            "conv_transpose2d: output padding {output_padding:?} must be below the stride {s:?} \
             or the dilation {d:?}"
        );
        let size = |i: usize, s: usize, p: usize, d: usize, k: usize, op: usize| {
            (i.checked_sub(1)? * s + d * (k - 1) + op + 1).checked_sub(2 * p)
        };
        let (h, w) = match (
            size(ys[2], s.0, p.0, d.0, ws[2], output_padding.0),
            size(ys[3], s.1, p.1, d.1, ws[3], output_padding.1),
        ) {
            (Some(h), Some(w)) if ws[2] > 0 && ws[3] > 0 => (h, w),
            _ => panic!(
                "conv_transpose2d: filters of shape {ws:?} with options {options:?} give no \
                 output for images of shape {ys:?}"
            ),
        };
        let (m, c_in, c_out) = (ys[0], ys[1], ws[1] * g);
        let window = Window2d::new(
            "conv_transpose2d",
            &[m, c_out, h, w],
            (ws[2], ws[3]),
            s,
            p,
            d,
        );
        // With stride 1 and dilation > 1, output padding makes the window produce more outputs
        // than `self` has; those extra outputs read nothing, so `self` is padded with zeros.
        let (oh, ow) = window.output();
        debug_assert!(oh >= ys[2] && ow >= ys[3]);
        let padded;
        let y = if (oh, ow) == (ys[2], ys[3]) {
            self
        } else {
            padded = self.pad(
                &[(0, 0), (0, 0), (0, oh - ys[2]), (0, ow - ys[3])],
                T::zero(),
            );
            &padded
        };
        let taps = ws[1] * ws[2] * ws[3];
        let l = oh * ow;
        let grads = y
            .reshape(&[m, c_in, l])
            .permute(&[1, 0, 2])
            .reshape(&[g, c_in / g, m * l]);
        let cols = weight
            .reshape(&[g, c_in / g, taps])
            .transpose(-2, -1)
            .matmul(&grads)
            .reshape(&window.cols_shape());
        let x = cols.col2im(&window);
        match bias {
            None => x,
            Some(b) => {
                assert!(
                    b.shape() == [c_out],
                    "conv_transpose2d: bias of shape {:?} does not fit {c_out} output channels",
                    b.shape()
                );
                x + b.reshape(&[1, c_out, 1, 1])
            }
        }
    }

    /// Max pooling of images `(m, C, H, W)` over `kernel` windows moved by `stride`, with
    /// `padding` that is never picked: [`Tensor::max_pool2d_with`] with those settings.
    #[track_caller]
    pub fn max_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Tensor<T> {
        self.max_pool2d_with(Pool2dOptions::new(kernel).stride(stride).padding(padding))
    }

    /// Max pooling of images `(m, C, H, W)` with `options` (padding at most half the kernel,
    /// as PyTorch requires, and never picked; dilation spreads the window's taps). Each output
    /// is the first maximal element of its window in row-major order (a NaN wins); the
    /// gradient goes to that element alone, so ties do not split it (PyTorch's choice too).
    #[track_caller]
    pub fn max_pool2d_with(&self, options: Pool2dOptions) -> Tensor<T> {
        let Pool2dOptions {
            kernel, padding, ..
        } = options;
        assert!(
            padding.0 <= kernel.0 / 2 && padding.1 <= kernel.1 / 2,
            "max_pool2d: padding {padding:?} must be at most half the kernel {kernel:?}"
        );
        let window = options.window("max_pool2d", self.shape());
        let (oh, ow) = window.output();
        let (m, c) = (window.batch, window.channels);
        let (h, w) = window.input;
        let index = self.with_data(|d| kernels_conv::max_pool_argmax(d, &window));
        self.reshape(&[m * c, h * w])
            .gather(1, &index, &[m * c, oh * ow])
            .reshape(&[m, c, oh, ow])
    }

    /// Average pooling of images `(m, C, H, W)` over `kernel` windows moved by `stride`, with
    /// zero `padding` counted in the average: [`Tensor::avg_pool2d_with`] with those settings.
    #[track_caller]
    pub fn avg_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Tensor<T> {
        self.avg_pool2d_with(Pool2dOptions::new(kernel).stride(stride).padding(padding))
    }

    /// Average pooling of images `(m, C, H, W)` with `options`: each output is the sum of its
    /// window's taps divided by the window size (`count_include_pad`, padding counted as zeros)
    /// or by the number of taps inside the image. Dilation is allowed (PyTorch's average
    /// pooling has none; it reads the taps as max pooling does).
    #[track_caller]
    pub fn avg_pool2d_with(&self, options: Pool2dOptions) -> Tensor<T> {
        let window = options.window("avg_pool2d", self.shape());
        let (oh, ow) = window.output();
        let (m, c) = (window.batch, window.channels);
        let (kh, kw) = options.kernel;
        let taps = self.im2col(&window).reshape(&[c, kh * kw, m * oh * ow]);
        let pooled = if options.count_include_pad {
            taps.mean_axis(1, false)
        } else {
            // The same count for every image and channel: a constant row over (n, oh, ow).
            let inside = kernels_conv::taps_inside(&window);
            let counts: Vec<T> = (0..m)
                .flat_map(|_| inside.iter().map(|&k| T::from_f64(k as f64)))
                .collect();
            taps.sum_axis(1, false) / Tensor::from_vec(counts, &[m * oh * ow])
        };
        pooled
            .reshape(&[c, m, oh, ow])
            .permute(&[1, 0, 2, 3])
            .contiguous()
    }

    /// Adaptive average pooling of images `(m, C, H, W)` to `(m, C, OH, OW)`, with PyTorch's
    /// bins: output row `i` averages input rows `⌊i·H/OH⌋ .. ⌈(i+1)·H/OH⌉` (the same for
    /// columns), so bins may differ in size and overlap by one when `OH` does not divide `H`,
    /// and `OH > H` repeats rows. `(1, 1)` is the global average.
    ///
    /// When the output divides the input this is `avg_pool2d` with kernel = stride =
    /// `(H/OH, W/OW)`; otherwise the bins are separable, and the pooling is the product
    /// `A_h · x · A_wᵀ` with constant averaging matrices (row `i` of `A_h` holds `1/len` over
    /// bin `i`), so it is linear and differentiable to any order.
    #[track_caller]
    pub fn adaptive_avg_pool2d(&self, output: (usize, usize)) -> Tensor<T> {
        let s = self.shape();
        assert!(
            s.len() == 4,
            "adaptive_avg_pool2d: needs images (m, C, H, W), got shape {s:?}"
        );
        assert!(
            output.0 > 0 && output.1 > 0 && s[2] > 0 && s[3] > 0,
            "adaptive_avg_pool2d: output size {output:?} and input size {:?} must be positive",
            (s[2], s[3])
        );
        if output == (1, 1) {
            return self.mean_axes(&[2, 3], true);
        }
        if s[2].is_multiple_of(output.0) && s[3].is_multiple_of(output.1) {
            let k = (s[2] / output.0, s[3] / output.1);
            return self.avg_pool2d(k, k, (0, 0));
        }
        let rows = adaptive_bins::<T>(s[2], output.0);
        let cols = adaptive_bins::<T>(s[3], output.1);
        rows.matmul(self).matmul(&cols.t())
    }
}

/// The `(out, len)` averaging matrix of adaptive pooling along one axis: row `i` holds
/// `1/(end - start)` over PyTorch's bin `⌊i·len/out⌋ .. ⌈(i+1)·len/out⌉`.
fn adaptive_bins<T: Float>(len: usize, out: usize) -> Tensor<T> {
    let mut a = vec![T::zero(); out * len];
    for i in 0..out {
        // i·len < out·len, which fits: both factors are sizes of tensors that exist.
        let start = i * len / out;
        let end = ((i + 1) * len).div_ceil(out);
        let weight = T::from_f64(1.0 / (end - start) as f64);
        for v in &mut a[i * len + start..i * len + end] {
            *v = weight;
        }
    }
    Tensor::from_vec(a, &[out, len])
}
