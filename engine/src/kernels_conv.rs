//! Buffer kernels of the convolution and pooling operations: `im2col` (unfold every receptive
//! field of a batch of images into a column), its adjoint `col2im` (fold columns back, adding
//! overlaps), and the window scan of max pooling.
//!
//! The column matrix of an `(m, C, H, W)` batch has one row per `(c, ki, kj)` filter tap and one
//! column per `(n, oh, ow)` output position: shape `(C·kH·kW, m·OH·OW)`. Both kernels work by
//! whole rows or whole image planes, each output element summed in a fixed order, so results
//! are reproducible bit for bit. They run on the calling thread, as the gemm kernel does; the
//! row/plane split is where threads would go.

use crate::Float;

/// Where a 2-D sliding window reads: the input extent, kernel size, stride, padding and
/// dilation, per spatial axis as `(vertical, horizontal)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window2d {
    /// Images in the batch.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Input height and width.
    pub input: (usize, usize),
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Step between windows.
    pub stride: (usize, usize),
    /// Implicit zeros added on each side.
    pub padding: (usize, usize),
    /// Step between kernel taps.
    pub dilation: (usize, usize),
}

/// Output length of a sliding window along one axis, or `None` when the window does not fit.
pub(crate) fn out_len(
    input: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Option<usize> {
    let span = dilation
        .checked_mul(kernel.checked_sub(1)?)?
        .checked_add(1)?;
    let padded = input.checked_add(padding.checked_mul(2)?)?;
    if stride == 0 || padded < span {
        return None;
    }
    Some((padded - span) / stride + 1)
}

impl Window2d {
    /// Output height and width; the caller has validated the geometry.
    pub fn output(&self) -> (usize, usize) {
        let f = |i: usize| {
            out_len(
                [self.input.0, self.input.1][i],
                [self.kernel.0, self.kernel.1][i],
                [self.stride.0, self.stride.1][i],
                [self.padding.0, self.padding.1][i],
                [self.dilation.0, self.dilation.1][i],
            )
            .expect("window geometry validated by the caller")
        };
        (f(0), f(1))
    }

    /// Shape of the column matrix: `(C·kH·kW, m·OH·OW)`.
    pub fn cols_shape(&self) -> [usize; 2] {
        let (oh, ow) = self.output();
        [
            self.channels * self.kernel.0 * self.kernel.1,
            self.batch * oh * ow,
        ]
    }

    /// Shape of the images: `(m, C, H, W)`.
    pub fn image_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.input.0, self.input.1]
    }

    /// For kernel column `kj`: the range of output columns `ow` whose input column
    /// `ow·sw + kj·dw - pw` lies inside the image (the rest read padding).
    fn valid_cols(&self, kj: usize, ow_len: usize) -> (usize, usize) {
        valid_range(
            kj * self.dilation.1,
            self.padding.1,
            self.stride.1,
            self.input.1,
            ow_len,
        )
    }

    fn valid_rows(&self, ki: usize, oh_len: usize) -> (usize, usize) {
        valid_range(
            ki * self.dilation.0,
            self.padding.0,
            self.stride.0,
            self.input.0,
            oh_len,
        )
    }
}

/// Output positions `o` in `lo..hi` whose input position `o·stride + tap - pad` is in
/// `0..size`.
fn valid_range(tap: usize, pad: usize, stride: usize, size: usize, out: usize) -> (usize, usize) {
    // o·stride + tap ≥ pad  ⇔  o ≥ ceil((pad - tap) / stride)
    let lo = if tap >= pad {
        0
    } else {
        (pad - tap).div_ceil(stride)
    };
    // o·stride + tap - pad ≤ size - 1  ⇔  o ≤ (size - 1 + pad - tap) / stride
    let hi = if size + pad > tap {
        ((size - 1 + pad - tap) / stride + 1).min(out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// Unfolds `x` (dense `(m, C, H, W)`) into the `(C·kH·kW, m·OH·OW)` column matrix; padding
/// reads as zeros. The output is written once, front to back (no zero fill first): every
/// output line is a run of padding zeros, a copied (or strided) stretch of an input line, and
/// another run of zeros.
pub(crate) fn im2col<T: Float>(x: &[T], w: &Window2d) -> Vec<T> {
    let (oh_len, ow_len) = w.output();
    let (h, wd) = w.input;
    let (kh, kw) = w.kernel;
    let plane = h * wd;
    let rows = w.channels * kh * kw;
    let mut out: Vec<T> = Vec::with_capacity(rows * w.batch * oh_len * ow_len);
    let zero = T::zero();
    for r in 0..rows {
        let (c, ki, kj) = (r / (kh * kw), (r / kw) % kh, r % kw);
        let (oh_lo, oh_hi) = w.valid_rows(ki, oh_len);
        let (ow_lo, ow_hi) = w.valid_cols(kj, ow_len);
        // First input column read by this tap (meaningful only when ow_lo < ow_hi).
        let start = (ow_lo * w.stride.1 + kj * w.dilation.1).saturating_sub(w.padding.1);
        for n in 0..w.batch {
            let src = &x[(n * w.channels + c) * plane..(n * w.channels + c + 1) * plane];
            out.resize(out.len() + oh_lo * ow_len, zero);
            for oh in oh_lo..oh_hi {
                let ih = oh * w.stride.0 + ki * w.dilation.0 - w.padding.0;
                let line = &src[ih * wd..(ih + 1) * wd];
                out.resize(out.len() + ow_lo, zero);
                if ow_lo < ow_hi {
                    let count = ow_hi - ow_lo;
                    if w.stride.1 == 1 {
                        out.extend_from_slice(&line[start..start + count]);
                    } else {
                        out.extend((0..count).map(|k| line[start + k * w.stride.1]));
                    }
                }
                out.resize(out.len() + (ow_len - ow_hi.max(ow_lo)), zero);
            }
            out.resize(out.len() + (oh_len - oh_hi.max(oh_lo)) * ow_len, zero);
        }
    }
    debug_assert_eq!(out.len(), rows * w.batch * oh_len * ow_len);
    out
}

/// The adjoint of [`im2col`]: folds a `(C·kH·kW, m·OH·OW)` column matrix back into dense
/// `(m, C, H, W)` images, adding the contributions of overlapping windows (reads of padding are
/// dropped). Each image plane is summed in a fixed tap order.
pub(crate) fn col2im<T: Float>(cols: &[T], w: &Window2d) -> Vec<T> {
    let (oh_len, ow_len) = w.output();
    let (h, wd) = w.input;
    let (kh, kw) = w.kernel;
    let plane = h * wd;
    let row_len = w.batch * oh_len * ow_len;
    let mut out = vec![T::zero(); w.batch * w.channels * plane];
    if plane == 0 {
        return out;
    }
    out.chunks_mut(plane).enumerate().for_each(|(p, dst)| {
        let (n, c) = (p / w.channels, p % w.channels);
        for ki in 0..kh {
            let (oh_lo, oh_hi) = w.valid_rows(ki, oh_len);
            for kj in 0..kw {
                let (ow_lo, ow_hi) = w.valid_cols(kj, ow_len);
                if ow_lo >= ow_hi {
                    continue;
                }
                let r = (c * kh + ki) * kw + kj;
                let src = &cols[r * row_len + n * oh_len * ow_len..][..oh_len * ow_len];
                let start = ow_lo * w.stride.1 + kj * w.dilation.1 - w.padding.1;
                for oh in oh_lo..oh_hi {
                    let ih = oh * w.stride.0 + ki * w.dilation.0 - w.padding.0;
                    let line = &mut dst[ih * wd..(ih + 1) * wd];
                    let in_line = &src[oh * ow_len + ow_lo..oh * ow_len + ow_hi];
                    if w.stride.1 == 1 {
                        for (o, &v) in line[start..start + in_line.len()].iter_mut().zip(in_line) {
                            *o += v;
                        }
                    } else {
                        for (k, &v) in in_line.iter().enumerate() {
                            line[start + k * w.stride.1] += v;
                        }
                    }
                }
            }
        }
    });
    out
}

/// For each output position of max pooling over dense `(m, C, H, W)` images, the flat index
/// `ih·W + iw` within its image plane of the element chosen: the first maximal element in
/// row-major window order (as PyTorch), or the first NaN, so NaN propagates. Padding is never
/// chosen. Returned row-major over `(m·C, OH·OW)`.
pub(crate) fn max_pool_argmax<T: Float>(x: &[T], w: &Window2d) -> Vec<usize> {
    let (oh_len, ow_len) = w.output();
    let (h, wd) = w.input;
    let plane = h * wd;
    let per_plane = oh_len * ow_len;
    let mut out = vec![0usize; w.batch * w.channels * per_plane];
    if per_plane == 0 {
        return out;
    }
    out.chunks_mut(per_plane).enumerate().for_each(|(p, dst)| {
        let src = &x[p * plane..(p + 1) * plane];
        for oh in 0..oh_len {
            for ow in 0..ow_len {
                let mut best: Option<(usize, T)> = None;
                'window: for ki in 0..w.kernel.0 {
                    let ih = (oh * w.stride.0 + ki * w.dilation.0) as isize - w.padding.0 as isize;
                    if ih < 0 || ih as usize >= h {
                        continue;
                    }
                    for kj in 0..w.kernel.1 {
                        let iw =
                            (ow * w.stride.1 + kj * w.dilation.1) as isize - w.padding.1 as isize;
                        if iw < 0 || iw as usize >= wd {
                            continue;
                        }
                        let at = ih as usize * wd + iw as usize;
                        let v = src[at];
                        if v.is_nan() {
                            best = Some((at, v));
                            break 'window;
                        }
                        if best.is_none_or(|(_, b)| v > b) {
                            best = Some((at, v));
                        }
                    }
                }
                dst[oh * ow_len + ow] =
                    best.expect("every pooling window holds an input element").0;
            }
        }
    });
    out
}

/// For each output position `(oh, ow)` of `w`, row-major, how many of the window's taps fall
/// inside the image (not in the padding): the divisor of average pooling that leaves padding
/// out.
pub(crate) fn taps_inside(w: &Window2d) -> Vec<usize> {
    let (oh_len, ow_len) = w.output();
    let (h, wd) = w.input;
    // Taps inside along one axis for output index o: those k with 0 <= o·s + k·d - p < n.
    let along = |o: usize, k: usize, s: usize, p: usize, d: usize, n: usize| {
        (0..k)
            .filter(|&t| (o * s + t * d).checked_sub(p).is_some_and(|i| i < n))
            .count()
    };
    let mut out = Vec::with_capacity(oh_len * ow_len);
    for oh in 0..oh_len {
        let rows = along(oh, w.kernel.0, w.stride.0, w.padding.0, w.dilation.0, h);
        for ow in 0..ow_len {
            out.push(rows * along(ow, w.kernel.1, w.stride.1, w.padding.1, w.dilation.1, wd));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_range_matches_a_direct_scan() {
        for tap in 0..7 {
            for pad in 0..4 {
                for stride in 1..4 {
                    for size in 1..6 {
                        let out = 9;
                        let inside: Vec<usize> = (0..out)
                            .filter(|&o| {
                                let i = (o * stride + tap) as isize - pad as isize;
                                i >= 0 && (i as usize) < size
                            })
                            .collect();
                        let (lo, hi) = valid_range(tap, pad, stride, size, out);
                        assert_eq!(
                            (lo..hi).collect::<Vec<_>>(),
                            inside,
                            "{tap} {pad} {stride} {size}"
                        );
                    }
                }
            }
        }
    }
}
