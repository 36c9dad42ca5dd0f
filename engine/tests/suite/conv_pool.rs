//! Convolution and pooling (`conv2d`, `conv_transpose2d`, `im2col`/`col2im`, `max_pool2d`,
//! `avg_pool2d`, `adaptive_avg_pool2d`): values against direct loop implementations written
//! here from the definitions (a 7-loop convolution, a scatter-form transposed convolution, a
//! window scan for pooling), on odd shapes, strides, paddings, dilations, groups and
//! non-contiguous views.
//! Their derivatives (first and second order, forward mode, f32) are checked by the op table.

use crate::support::{max_abs_diff, t, weights};
use engine::ops::conv::{Conv2dOptions, Pool2dOptions, Window2d};
use engine::{grad, BackwardOptions, Tensor};

/// Direct definition: `y[n, o, i, j] = b[o] + Σ_{c, ki, kj} x[n, g·Cg + c, i·sh + ki·dh - ph,
/// j·sw + kj·dw - pw] · w[o, c, ki, kj]` with `g = o / (C_out/G)`, padding reading 0.
fn naive_conv2d(
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    b: Option<&Tensor<f64>>,
    o: Conv2dOptions,
) -> Tensor<f64> {
    let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
    let (m, c_in, h, wd) = (xs[0], xs[1], xs[2], xs[3]);
    let (c_out, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    let groups = c_in / cg;
    let per_group = c_out / groups;
    let oh = (h + 2 * o.padding.0 - o.dilation.0 * (kh - 1) - 1) / o.stride.0 + 1;
    let ow = (wd + 2 * o.padding.1 - o.dilation.1 * (kw - 1) - 1) / o.stride.1 + 1;
    let mut out = vec![0.0; m * c_out * oh * ow];
    for n in 0..m {
        for co in 0..c_out {
            let g = co / per_group;
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b.at(&[co]));
                    for c in 0..cg {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let ih = (i * o.stride.0 + ki * o.dilation.0) as isize
                                    - o.padding.0 as isize;
                                let iw = (j * o.stride.1 + kj * o.dilation.1) as isize
                                    - o.padding.1 as isize;
                                if ih < 0 || iw < 0 || ih as usize >= h || iw as usize >= wd {
                                    continue;
                                }
                                acc += x.at(&[n, g * cg + c, ih as usize, iw as usize])
                                    * w.at(&[co, c, ki, kj]);
                            }
                        }
                    }
                    out[((n * c_out + co) * oh + i) * ow + j] = acc;
                }
            }
        }
    }
    Tensor::from_vec(out, &[m, c_out, oh, ow])
}

/// Direct scatter form of the transposed convolution: every input element `y[n, ci, i, j]`
/// adds `y · w[ci, co, ki, kj]` at `(i·sh - ph + ki·dh, j·sw - pw + kj·dw)` of output channel
/// `g·(C_out/G) + co`.
fn naive_conv_transpose2d(
    y: &Tensor<f64>,
    w: &Tensor<f64>,
    o: Conv2dOptions,
    out_pad: (usize, usize),
) -> Tensor<f64> {
    let (ys, ws) = (y.shape().to_vec(), w.shape().to_vec());
    let (m, c_in, hy, wy) = (ys[0], ys[1], ys[2], ys[3]);
    let (cog, kh, kw) = (ws[1], ws[2], ws[3]);
    let groups = o.groups;
    let c_out = cog * groups;
    let per_group_in = c_in / groups;
    let h = (hy - 1) * o.stride.0 + o.dilation.0 * (kh - 1) + out_pad.0 + 1 - 2 * o.padding.0;
    let wd = (wy - 1) * o.stride.1 + o.dilation.1 * (kw - 1) + out_pad.1 + 1 - 2 * o.padding.1;
    let mut out = vec![0.0; m * c_out * h * wd];
    for n in 0..m {
        for ci in 0..c_in {
            let g = ci / per_group_in;
            for i in 0..hy {
                for j in 0..wy {
                    let v = y.at(&[n, ci, i, j]);
                    for co in 0..cog {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let oi = (i * o.stride.0 + ki * o.dilation.0) as isize
                                    - o.padding.0 as isize;
                                let oj = (j * o.stride.1 + kj * o.dilation.1) as isize
                                    - o.padding.1 as isize;
                                if oi < 0 || oj < 0 || oi as usize >= h || oj as usize >= wd {
                                    continue;
                                }
                                let c = g * cog + co;
                                out[((n * c_out + c) * h + oi as usize) * wd + oj as usize] +=
                                    v * w.at(&[ci, co, ki, kj]);
                            }
                        }
                    }
                }
            }
        }
    }
    Tensor::from_vec(out, &[m, c_out, h, wd])
}

/// Window scan: per window, the first maximal element in row-major order (padding skipped),
/// its value and its flat position in the input.
fn naive_max_pool(
    x: &Tensor<f64>,
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
) -> (Tensor<f64>, Vec<usize>) {
    naive_max_pool_dilated(x, k, s, p, (1, 1))
}

/// [`naive_max_pool`] with the window's taps `d` apart.
fn naive_max_pool_dilated(
    x: &Tensor<f64>,
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    d: (usize, usize),
) -> (Tensor<f64>, Vec<usize>) {
    let xs = x.shape().to_vec();
    let (m, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
    let oh = (h + 2 * p.0 - d.0 * (k.0 - 1) - 1) / s.0 + 1;
    let ow = (w + 2 * p.1 - d.1 * (k.1 - 1) - 1) / s.1 + 1;
    let (mut vals, mut pos) = (vec![], vec![]);
    for n in 0..m {
        for ch in 0..c {
            for i in 0..oh {
                for j in 0..ow {
                    let mut best: Option<(f64, usize)> = None;
                    for ki in 0..k.0 {
                        for kj in 0..k.1 {
                            let ih = (i * s.0 + ki * d.0) as isize - p.0 as isize;
                            let iw = (j * s.1 + kj * d.1) as isize - p.1 as isize;
                            if ih < 0 || iw < 0 || ih as usize >= h || iw as usize >= w {
                                continue;
                            }
                            let v = x.at(&[n, ch, ih as usize, iw as usize]);
                            if best.is_none() || v > best.unwrap().0 {
                                best =
                                    Some((v, ((n * c + ch) * h + ih as usize) * w + iw as usize));
                            }
                        }
                    }
                    vals.push(best.unwrap().0);
                    pos.push(best.unwrap().1);
                }
            }
        }
    }
    (Tensor::from_vec(vals, &[m, c, oh, ow]), pos)
}

/// Window average with padding counted as zeros (divides by the full window size).
fn naive_avg_pool(
    x: &Tensor<f64>,
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
) -> Tensor<f64> {
    naive_avg_pool_counting(x, k, s, p, true)
}

/// Window average dividing by the full window size (`include_pad`) or by the number of
/// taps inside the image.
fn naive_avg_pool_counting(
    x: &Tensor<f64>,
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    include_pad: bool,
) -> Tensor<f64> {
    let xs = x.shape().to_vec();
    let (m, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
    let oh = (h + 2 * p.0 - k.0) / s.0 + 1;
    let ow = (w + 2 * p.1 - k.1) / s.1 + 1;
    let mut out = vec![];
    for n in 0..m {
        for ch in 0..c {
            for i in 0..oh {
                for j in 0..ow {
                    let (mut acc, mut inside) = (0.0, 0);
                    for ki in 0..k.0 {
                        for kj in 0..k.1 {
                            let ih = (i * s.0 + ki) as isize - p.0 as isize;
                            let iw = (j * s.1 + kj) as isize - p.1 as isize;
                            if ih >= 0 && iw >= 0 && (ih as usize) < h && (iw as usize) < w {
                                acc += x.at(&[n, ch, ih as usize, iw as usize]);
                                inside += 1;
                            }
                        }
                    }
                    let count = if include_pad { k.0 * k.1 } else { inside };
                    out.push(acc / count as f64);
                }
            }
        }
    }
    Tensor::from_vec(out, &[m, c, oh, ow])
}

/// Odd shapes and every option, including combinations PyTorch users hit: strided, padded,
/// dilated, grouped and depthwise convolutions, rectangular kernels.
fn configs() -> Vec<(&'static str, [usize; 4], [usize; 4], Conv2dOptions)> {
    let o = Conv2dOptions::new;
    vec![
        ("plain 3x3", [2, 3, 7, 6], [4, 3, 3, 3], o()),
        (
            "stride 2, padding 1",
            [2, 3, 7, 6],
            [5, 3, 3, 3],
            o().stride(2).padding(1),
        ),
        (
            "rect kernel, mixed stride/padding",
            [1, 2, 6, 7],
            [3, 2, 2, 3],
            Conv2dOptions {
                stride: (2, 1),
                padding: (1, 2),
                ..o()
            },
        ),
        (
            "dilation 2",
            [2, 2, 7, 7],
            [3, 2, 3, 2],
            o().dilation(2).padding(1),
        ),
        (
            "groups 2",
            [2, 4, 5, 6],
            [6, 2, 3, 3],
            o().groups(2).padding(1),
        ),
        (
            "depthwise",
            [1, 3, 5, 5],
            [3, 1, 3, 3],
            o().groups(3).stride(2),
        ),
        ("1x1", [3, 5, 4, 3], [2, 5, 1, 1], o()),
        (
            "everything",
            [2, 4, 8, 7],
            [4, 2, 3, 2],
            Conv2dOptions {
                stride: (2, 3),
                padding: (2, 1),
                dilation: (1, 2),
                groups: 2,
            },
        ),
    ]
}

#[test]
fn conv2d_matches_the_seven_loop_convolution() {
    for (name, xs, ws, opts) in configs() {
        let (x, w, b) = (t(&xs, 0.1), t(&ws, 0.7), t(&[ws[0]], 1.3));
        let got = x.conv2d(&w, Some(&b), opts);
        let want = naive_conv2d(&x, &w, Some(&b), opts);
        assert_eq!(got.shape(), want.shape(), "{name}");
        let err = max_abs_diff(&got.to_vec(), &want.to_vec());
        // Sums of at most 36 products of values below 1.6 in magnitude: rounding stays far
        // below 1e-12 in f64, whatever the summation order.
        assert!(err < 1e-12, "{name}: max |err| {err:e}");
        let no_bias = x.conv2d(&w, None, opts);
        let err = max_abs_diff(
            &no_bias.to_vec(),
            &naive_conv2d(&x, &w, None, opts).to_vec(),
        );
        assert!(err < 1e-12, "{name} without bias: max |err| {err:e}");
    }
}

#[test]
fn conv2d_reads_non_contiguous_views() {
    let opts = Conv2dOptions::new().padding(1).stride(2);
    // A transposed and narrowed view of the images, a permuted view of the filters.
    let base = t(&[2, 3, 8, 9], 0.4);
    let x = base.transpose(2, 3).narrow(2, 1, 7);
    let w = t(&[3, 3, 3, 4], 0.9).permute(&[3, 0, 1, 2]).narrow(0, 0, 4);
    assert!(!x.is_contiguous() && !w.is_contiguous());
    let got = x.conv2d(&w, None, opts);
    let want = naive_conv2d(&x, &w, None, opts);
    assert!(max_abs_diff(&got.to_vec(), &want.to_vec()) < 1e-12);
}

#[test]
fn conv_transpose2d_matches_the_scatter_form_and_is_the_adjoint_of_conv2d() {
    for (name, xs, ws, opts) in configs() {
        let x = t(&xs, 0.2);
        let w = t(&ws, 0.5);
        let y = x.conv2d(&w, None, opts);
        let g = weights(y.shape());
        // Output padding recovers the exact input size when the stride drops rows or columns.
        let dropped = |i: usize| {
            let (hx, k, s, p, d) = (
                [xs[2], xs[3]][i],
                [ws[2], ws[3]][i],
                [opts.stride.0, opts.stride.1][i],
                [opts.padding.0, opts.padding.1][i],
                [opts.dilation.0, opts.dilation.1][i],
            );
            (hx + 2 * p - d * (k - 1) - 1) % s
        };
        let out_pad = (dropped(0), dropped(1));
        let xt = g.conv_transpose2d(&w, None, opts, out_pad);
        assert_eq!(xt.shape(), x.shape(), "{name}");
        let want = naive_conv_transpose2d(&g, &w, opts, out_pad);
        let err = max_abs_diff(&xt.to_vec(), &want.to_vec());
        assert!(err < 1e-12, "{name}: max |err| {err:e}");
        // ⟨conv2d(x, w), g⟩ = ⟨x, conv_transpose2d(g, w)⟩
        let lhs = (&y * &g).sum().item();
        let rhs = (&x * &xt).sum().item();
        assert!(
            (lhs - rhs).abs() < 1e-11 * (1.0 + lhs.abs()),
            "{name}: {lhs} vs {rhs}"
        );
    }
}

#[test]
fn conv2d_input_gradient_is_conv_transpose2d_of_the_incoming_gradient() {
    let opts = Conv2dOptions {
        stride: (2, 1),
        padding: (1, 1),
        dilation: (1, 1),
        groups: 2,
    };
    let x = t(&[2, 4, 7, 6], 0.3).to_leaf();
    let w = t(&[6, 2, 3, 3], 0.8).to_leaf();
    let y = x.conv2d(&w, None, opts);
    let g = weights(y.shape());
    let grads = grad(&(&y * &g).sum(), &[&x, &w], BackwardOptions::default());
    let via_transpose = g.conv_transpose2d(&w.detach(), None, opts, (0, 0));
    assert!(max_abs_diff(&grads[0].to_vec(), &via_transpose.to_vec()) < 1e-13);
    // dL/dw[o, c, ki, kj] = Σ g[n, o, i, j]·x[n, g·Cg + c, i·s + ki - p, j·s + kj - p], by loops.
    let (xv, gv) = (x.detach(), &g);
    let mut want = vec![0.0; 6 * 2 * 3 * 3];
    for o in 0..6 {
        let grp = o / 3;
        for c in 0..2 {
            for ki in 0..3 {
                for kj in 0..3 {
                    let mut acc = 0.0;
                    for n in 0..2 {
                        for i in 0..gv.shape()[2] {
                            for j in 0..gv.shape()[3] {
                                let ih = (i * 2 + ki) as isize - 1;
                                let iw = (j + kj) as isize - 1;
                                if ih < 0 || iw < 0 || ih >= 7 || iw >= 6 {
                                    continue;
                                }
                                acc += gv.at(&[n, o, i, j])
                                    * xv.at(&[n, grp * 2 + c, ih as usize, iw as usize]);
                            }
                        }
                    }
                    want[((o * 2 + c) * 3 + ki) * 3 + kj] = acc;
                }
            }
        }
    }
    assert!(max_abs_diff(&grads[1].to_vec(), &want) < 1e-12);
}

#[test]
fn conv_transpose2d_matches_the_scatter_form_on_strided_grouped_cases() {
    let cases = [
        (
            "stride 2, output padding 1",
            [2, 4, 3, 4],
            [4, 3, 3, 3],
            Conv2dOptions::new().stride(2).padding(1),
            (1, 1),
        ),
        (
            "groups 2, dilation 2",
            [1, 4, 4, 3],
            [4, 1, 2, 3],
            Conv2dOptions::new().groups(2).dilation(2),
            (0, 1),
        ),
    ];
    for (name, ys, ws, opts, out_pad) in cases {
        let (y, w) = (t(&ys, 0.4), t(&ws, 0.9));
        let want = naive_conv_transpose2d(&y, &w, opts, out_pad);
        let got = y.conv_transpose2d(&w, None, opts, out_pad);
        assert!(
            max_abs_diff(&got.to_vec(), &want.to_vec()) < 1e-12,
            "{name}"
        );
    }
}

#[test]
fn im2col_reads_every_receptive_field_and_col2im_is_its_adjoint() {
    let x = t(&[2, 3, 5, 6], 0.3);
    let win = Window2d::new("test", x.shape(), (2, 3), (2, 1), (1, 1), (2, 1));
    let cols = x.im2col(&win);
    let (oh, ow) = win.output();
    assert_eq!(cols.shape(), &[3 * 2 * 3, 2 * oh * ow]);
    for c in 0..3 {
        for ki in 0..2 {
            for kj in 0..3 {
                for n in 0..2 {
                    for i in 0..oh {
                        for j in 0..ow {
                            let ih = (i * 2 + ki * 2) as isize - 1;
                            let iw = (j + kj) as isize - 1;
                            let want = if ih < 0 || iw < 0 || ih >= 5 || iw >= 6 {
                                0.0
                            } else {
                                x.at(&[n, c, ih as usize, iw as usize])
                            };
                            assert_eq!(
                                cols.at(&[(c * 2 + ki) * 3 + kj, (n * oh + i) * ow + j]),
                                want
                            );
                        }
                    }
                }
            }
        }
    }
    let r = weights(cols.shape());
    let lhs = (&cols * &r).sum().item();
    let rhs = (&x * r.col2im(&win)).sum().item();
    assert!(
        (lhs - rhs).abs() < 1e-12 * (1.0 + lhs.abs()),
        "{lhs} vs {rhs}"
    );
}

#[test]
fn max_pool2d_matches_the_window_scan() {
    let cases = [
        ([2, 3, 7, 6], (2, 2), (2, 2), (0, 0)),
        ([1, 2, 7, 7], (3, 3), (2, 2), (1, 1)),
        ([2, 1, 5, 8], (3, 2), (1, 3), (1, 0)),
    ];
    for (xs, k, s, p) in cases {
        let x = t(&xs, 0.5);
        let (want, _) = naive_max_pool(&x, k, s, p);
        let got = x.max_pool2d(k, s, p);
        assert_eq!(got.shape(), want.shape());
        assert_eq!(got.to_vec(), want.to_vec(), "{xs:?} {k:?} {s:?} {p:?}");
    }
}

#[test]
fn max_pool2d_ties_send_the_gradient_to_the_first_maximal_element() {
    // Every window of this 4x4 image holds its maximum twice or more.
    let data = vec![
        1.0, 3.0, 3.0, 0.0, //
        3.0, 2.0, 0.0, 3.0, //
        5.0, 5.0, 1.0, 1.0, //
        5.0, 5.0, 1.0, 1.0,
    ];
    let x = Tensor::<f64>::from_vec(data, &[1, 1, 4, 4]).to_leaf();
    let y = x.max_pool2d((2, 2), (2, 2), (0, 0));
    assert_eq!(y.to_vec(), vec![3.0, 3.0, 5.0, 1.0]);
    let g = grad(&y.sum(), &[&x], BackwardOptions::default()).remove(0);
    let (_, first) = naive_max_pool(&x.detach(), (2, 2), (2, 2), (0, 0));
    assert_eq!(first, vec![1, 2, 8, 10]);
    let mut want = vec![0.0; 16];
    for p in first {
        want[p] = 1.0;
    }
    assert_eq!(g.to_vec(), want);
}

#[test]
fn max_pool2d_propagates_nan() {
    let mut data: Vec<f64> = (0..16).map(f64::from).collect();
    data[5] = f64::NAN;
    let x = Tensor::<f64>::from_vec(data, &[1, 1, 4, 4]);
    let y = x.max_pool2d((2, 2), (2, 2), (0, 0)).to_vec();
    assert!(y[0].is_nan());
    assert_eq!(&y[1..], &[7.0, 13.0, 15.0]);
}

#[test]
fn avg_pool2d_matches_the_window_average() {
    let cases = [
        ([2, 3, 7, 6], (2, 2), (2, 2), (0, 0)),
        ([1, 2, 7, 7], (3, 3), (2, 2), (1, 1)),
        ([2, 1, 5, 8], (3, 2), (1, 3), (1, 1)),
    ];
    for (xs, k, s, p) in cases {
        let x = t(&xs, 0.5);
        let got = x.avg_pool2d(k, s, p);
        let want = naive_avg_pool(&x, k, s, p);
        assert_eq!(got.shape(), want.shape());
        assert!(max_abs_diff(&got.to_vec(), &want.to_vec()) < 1e-15);
    }
}

#[test]
fn adaptive_avg_pool2d_averages_equal_bins() {
    let x = t(&[2, 3, 6, 4], 0.7);
    let global = x.adaptive_avg_pool2d((1, 1));
    assert_eq!(global.shape(), &[2, 3, 1, 1]);
    for n in 0..2 {
        for c in 0..3 {
            let mut acc = 0.0;
            for i in 0..6 {
                for j in 0..4 {
                    acc += x.at(&[n, c, i, j]);
                }
            }
            assert!((global.at(&[n, c, 0, 0]) - acc / 24.0).abs() < 1e-15);
        }
    }
    let bins = x.adaptive_avg_pool2d((3, 2));
    let want = naive_avg_pool(&x, (2, 2), (2, 2), (0, 0));
    assert!(max_abs_diff(&bins.to_vec(), &want.to_vec()) < 1e-15);
}

#[test]
fn max_pool2d_with_dilation_matches_the_window_scan() {
    let cases = [
        ([2, 2, 7, 8], (2, 2), (1, 1), (0, 0), (2, 3)),
        ([1, 3, 9, 7], (3, 2), (2, 1), (1, 1), (2, 2)),
    ];
    for (xs, k, s, p, d) in cases {
        let x = t(&xs, 0.5);
        let (want, _) = naive_max_pool_dilated(&x, k, s, p, d);
        let got = x.max_pool2d_with(Pool2dOptions::new(k).stride(s).padding(p).dilation(d));
        assert_eq!(got.shape(), want.shape(), "{xs:?} {d:?}");
        assert_eq!(got.to_vec(), want.to_vec(), "{xs:?} {d:?}");
    }
}

#[test]
fn avg_pool2d_can_leave_the_padding_out_of_the_average() {
    let cases = [
        ([2, 3, 7, 6], (3, 3), (2, 2), (1, 1)),
        ([1, 2, 5, 8], (3, 2), (1, 3), (1, 1)),
    ];
    for (xs, k, s, p) in cases {
        let x = t(&xs, 0.25);
        let opts = Pool2dOptions::new(k).stride(s).padding(p);
        for include in [true, false] {
            let got = x.avg_pool2d_with(opts.count_include_pad(include));
            let want = naive_avg_pool_counting(&x, k, s, p, include);
            assert_eq!(got.shape(), want.shape());
            assert!(
                max_abs_diff(&got.to_vec(), &want.to_vec()) < 1e-15,
                "{xs:?} include_pad {include}"
            );
        }
    }
    // A corner window of a padded 3x3 over ones: 4 of its 9 taps are inside.
    let ones = Tensor::<f64>::ones(&[1, 1, 4, 4]);
    let opts = Pool2dOptions::new((3, 3)).stride((1, 1)).padding((1, 1));
    assert_eq!(ones.avg_pool2d_with(opts).at(&[0, 0, 0, 0]), 4.0 / 9.0);
    let excluded = ones.avg_pool2d_with(opts.count_include_pad(false));
    assert!(excluded.to_vec().iter().all(|&v| v == 1.0));
}

/// Adaptive average pooling by PyTorch's bins, element by element.
fn naive_adaptive_avg_pool(x: &Tensor<f64>, out: (usize, usize)) -> Vec<f64> {
    let xs = x.shape().to_vec();
    let bin = |i: usize, len: usize, n: usize| (i * len / n, ((i + 1) * len).div_ceil(n));
    let mut y = vec![];
    for n in 0..xs[0] {
        for c in 0..xs[1] {
            for i in 0..out.0 {
                for j in 0..out.1 {
                    let (r0, r1) = bin(i, xs[2], out.0);
                    let (c0, c1) = bin(j, xs[3], out.1);
                    let mut acc = 0.0;
                    for r in r0..r1 {
                        for q in c0..c1 {
                            acc += x.at(&[n, c, r, q]);
                        }
                    }
                    y.push(acc / ((r1 - r0) * (c1 - c0)) as f64);
                }
            }
        }
    }
    y
}

#[test]
fn adaptive_avg_pool2d_takes_any_output_size_with_pytorchs_bins() {
    let x = t(&[2, 3, 7, 5], 0.9);
    for out in [(3, 2), (4, 4), (7, 1), (2, 5), (9, 6), (1, 3)] {
        let got = x.adaptive_avg_pool2d(out);
        assert_eq!(got.shape(), &[2, 3, out.0, out.1]);
        let want = naive_adaptive_avg_pool(&x, out);
        assert!(max_abs_diff(&got.to_vec(), &want) < 1e-14, "output {out:?}");
    }
    // Bins of 7 rows into 3: [0, 3), [2, 5), [4, 7): sizes 3, 3, 3, overlapping by one.
    let rows = Tensor::<f64>::from_vec((0..7).map(f64::from).collect(), &[1, 1, 7, 1]);
    assert_eq!(
        rows.adaptive_avg_pool2d((3, 1)).to_vec(),
        vec![1.0, 3.0, 5.0]
    );
}

#[test]
#[should_panic(
    expected = "conv2d: images of shape [2, 3, 5, 5] and filters of shape [4, 2, 3, 3] do not fit 1 group(s)"
)]
fn conv2d_names_both_shapes_on_a_channel_mismatch() {
    let _ = t(&[2, 3, 5, 5], 0.0).conv2d(&t(&[4, 2, 3, 3], 0.0), None, Conv2dOptions::new());
}

#[test]
#[should_panic(expected = "does not fit images of shape [1, 1, 2, 2]")]
fn conv2d_refuses_a_kernel_larger_than_the_padded_input() {
    let _ = t(&[1, 1, 2, 2], 0.0).conv2d(&t(&[1, 1, 3, 3], 0.0), None, Conv2dOptions::new());
}
