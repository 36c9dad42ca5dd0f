//! Reductions over several axes at once (`sum_axes`, `mean_axes`, `var_axes`, `max_axes`,
//! `min_axes`, `logsumexp_axes`; negative axes count from the end), and shape utilities for
//! modern architectures: `stack`, constant `pad`, `masked_fill`, `flatten_dims`, `expand` and
//! `repeat`.
//!
//! All are compositions of recorded engine operations (permute, reshape, one-axis reductions,
//! concat, broadcast, where), so their backward and forward-mode rules, and derivatives of any
//! order, follow from those operations' rules; no new derivative needs auditing here.
//! A multi-axis reduction moves the reduced axes last, merges them into one (a view when the
//! tensor is dense and the axes already trail) and reduces that axis once, so `max_axes`
//! splits the gradient evenly between all tied maxima, exactly as `max` over everything does.

use crate::layout::Shape;
use crate::ops::resolve_axis;
use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    /// Resolves `axes` (negative from the end, no repeats) and returns the tensor with the
    /// reduced axes merged into one trailing axis, plus the output shape with and without
    /// `keepdim`.
    #[track_caller]
    fn merge_reduced(&self, op: &str, axes: &[isize]) -> (Tensor<T>, Shape, Shape) {
        let shape = self.shape();
        let mut reduced = vec![false; shape.len()];
        for &a in axes {
            let a = resolve_axis(op, a, shape);
            assert!(
                !reduced[a],
                "{op}: axis {a} listed twice in {axes:?} for shape {shape:?}"
            );
            reduced[a] = true;
        }
        let kept: Vec<usize> = (0..shape.len()).filter(|&a| !reduced[a]).collect();
        let gone: Vec<usize> = (0..shape.len()).filter(|&a| reduced[a]).collect();
        let order: Vec<usize> = kept.iter().chain(&gone).copied().collect();
        let mut merged: Shape = kept.iter().map(|&a| shape[a]).collect();
        merged.push(gone.iter().map(|&a| shape[a]).product());
        let moved = if order.iter().enumerate().all(|(i, &a)| i == a) {
            self.clone()
        } else {
            self.permute(&order)
        };
        let keep: Shape = (0..shape.len())
            .map(|a| if reduced[a] { 1 } else { shape[a] })
            .collect();
        let drop: Shape = kept.iter().map(|&a| shape[a]).collect();
        (moved.reshape(&merged), keep, drop)
    }

    #[track_caller]
    fn reduce_axes(
        &self,
        op: &str,
        axes: &[isize],
        keepdim: bool,
        f: impl Fn(&Tensor<T>, usize) -> Tensor<T>,
    ) -> Tensor<T> {
        if axes.is_empty() {
            return self.clone();
        }
        let (merged, keep, drop) = self.merge_reduced(op, axes);
        let last = merged.ndim() - 1;
        let out = f(&merged, last);
        out.reshape(if keepdim { &keep } else { &drop })
    }

    /// Sum over every axis in `axes` (negative counts from the end; an empty list reduces
    /// nothing, as NumPy's `axis=()`); with `keepdim` the reduced axes stay with size 1.
    #[track_caller]
    pub fn sum_axes(&self, axes: &[isize], keepdim: bool) -> Tensor<T> {
        self.reduce_axes("sum_axes", axes, keepdim, |t, a| t.sum_axis(a, false))
    }

    /// Mean over every axis in `axes` (see [`Tensor::sum_axes`]).
    #[track_caller]
    pub fn mean_axes(&self, axes: &[isize], keepdim: bool) -> Tensor<T> {
        self.reduce_axes("mean_axes", axes, keepdim, |t, a| t.mean_axis(a, false))
    }

    /// Largest element over `axes`; the gradient is shared evenly between tied maxima.
    #[track_caller]
    pub fn max_axes(&self, axes: &[isize], keepdim: bool) -> Tensor<T> {
        self.reduce_axes("max_axes", axes, keepdim, |t, a| t.max_axis(a, false))
    }

    /// Smallest element over `axes`; the gradient is shared evenly between tied minima.
    #[track_caller]
    pub fn min_axes(&self, axes: &[isize], keepdim: bool) -> Tensor<T> {
        self.reduce_axes("min_axes", axes, keepdim, |t, a| t.min_axis(a, false))
    }

    /// Variance over `axes`: the mean squared deviation from the mean over the same axes,
    /// divided by `n - 1` instead of `n` when `unbiased` (`n` = elements per reduced group).
    #[track_caller]
    pub fn var_axes(&self, axes: &[isize], keepdim: bool, unbiased: bool) -> Tensor<T> {
        if axes.is_empty() {
            return self.zeros_like_recorded();
        }
        let n: usize = axes
            .iter()
            .map(|&a| self.shape()[resolve_axis("var_axes", a, self.shape())])
            .product();
        let centered = self - self.mean_axes(axes, true);
        let denom = if unbiased { n.saturating_sub(1) } else { n };
        centered.square().sum_axes(axes, keepdim) / T::from_f64(denom as f64)
    }

    /// `log Σ e^x` over `axes`, shifted by the (constant) maximum so it never overflows: the
    /// shift cancels in the value and in every derivative, whose gradient is the softmax over
    /// the reduced elements. Rows of `-inf` give `-inf`, a `+inf` gives `+inf`.
    #[track_caller]
    pub fn logsumexp_axes(&self, axes: &[isize], keepdim: bool) -> Tensor<T> {
        if axes.is_empty() {
            return self.clone();
        }
        let shift = crate::no_grad(|| self.detach().max_axes(axes, true));
        let shift = Tensor::from_vec(
            shift
                .to_vec()
                .into_iter()
                .map(|m| if m.is_finite() { m } else { T::zero() })
                .collect(),
            shift.shape(),
        );
        let lse = (self - &shift).exp().sum_axes(axes, true).log() + &shift;
        if keepdim {
            lse
        } else {
            let drop: Shape = lse
                .shape()
                .iter()
                .enumerate()
                .filter(|&(a, _)| {
                    !axes
                        .iter()
                        .any(|&r| resolve_axis("logsumexp_axes", r, self.shape()) == a)
                })
                .map(|(_, &d)| d)
                .collect();
            lse.reshape(&drop)
        }
    }

    /// `0·self`, recorded (the variance over no axes).
    fn zeros_like_recorded(&self) -> Tensor<T> {
        self * T::zero()
    }

    /// Joins tensors of one shape along a new axis at position `axis` (0..=ndim).
    #[track_caller]
    pub fn stack(parts: &[&Tensor<T>], axis: usize) -> Tensor<T> {
        assert!(!parts.is_empty(), "stack: needs at least one tensor");
        let first = parts[0].shape();
        assert!(
            axis <= first.len(),
            "stack: axis {axis} out of range for stacking shape {first:?}"
        );
        for p in parts {
            assert!(
                p.shape() == first,
                "stack: shapes {first:?} and {:?} differ",
                p.shape()
            );
        }
        let lifted: Vec<Tensor<T>> = parts.iter().map(|p| p.unsqueeze(axis)).collect();
        let refs: Vec<&Tensor<T>> = lifted.iter().collect();
        Tensor::concat(&refs, axis)
    }

    /// Pads with the constant `value`: `pads[a] = (before, after)` elements on each side of
    /// axis `a`, one pair per axis (NumPy's `np.pad(x, pads, constant_values=value)`).
    #[track_caller]
    pub fn pad(&self, pads: &[(usize, usize)], value: T) -> Tensor<T> {
        assert!(
            pads.len() == self.ndim(),
            "pad: {} (before, after) pairs for shape {:?}; give one per axis",
            pads.len(),
            self.shape()
        );
        let mut out = self.clone();
        for (axis, &(before, after)) in pads.iter().enumerate() {
            if before == 0 && after == 0 {
                continue;
            }
            let block = |n: usize| {
                let mut s: Shape = out.shape().into();
                s[axis] = n;
                Tensor::full(&s, value)
            };
            let (b, a) = (block(before), block(after));
            out = Tensor::concat(&[&b, &out, &a], axis);
        }
        out
    }

    /// `value` where `mask` is nonzero, `self` elsewhere; `mask` broadcasts to `self`'s shape
    /// and is a constant (a causal mask, say). Gradients flow to `self` where the mask is 0.
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor<T>, value: T) -> Tensor<T> {
        assert!(
            mask.detach().broadcast_to_checked(self.shape()),
            "masked_fill: mask of shape {:?} does not broadcast to shape {:?}",
            mask.shape(),
            self.shape()
        );
        Tensor::where_mask(mask, &Tensor::scalar(value), self)
    }

    fn broadcast_to_checked(&self, shape: &[usize]) -> bool {
        self.layout().broadcast_to(shape).is_some()
    }

    /// Merges axes `start..=end` (negative counts from the end) into one, as PyTorch's
    /// `flatten(start_dim, end_dim)`. A view when the tensor is dense.
    #[track_caller]
    pub fn flatten_dims(&self, start: isize, end: isize) -> Tensor<T> {
        if self.ndim() == 0 {
            return self.reshape(&[1]);
        }
        let s = resolve_axis("flatten_dims", start, self.shape());
        let e = resolve_axis("flatten_dims", end, self.shape());
        assert!(
            s <= e,
            "flatten_dims: start axis {start} comes after end axis {end} for shape {:?}",
            self.shape()
        );
        let shape = self.shape();
        let mut out: Shape = shape[..s].into();
        out.push(shape[s..=e].iter().product());
        out.extend_from_slice(&shape[e + 1..]);
        self.reshape(&out)
    }

    /// `self` broadcast to `shape` without copying (PyTorch's `expand`, NumPy's
    /// `broadcast_to`): a view whose gradient sums over the stretched axes.
    #[track_caller]
    pub fn expand(&self, shape: &[usize]) -> Tensor<T> {
        self.broadcast_to(shape)
    }

    /// Tiles `self` `reps[a]` times along each axis (NumPy's `np.tile`, PyTorch's `repeat`);
    /// `reps` may be longer than the number of axes, adding leading axes. A broadcast view
    /// copied once into the tiled layout; the gradient sums the tiles.
    #[track_caller]
    pub fn repeat(&self, reps: &[usize]) -> Tensor<T> {
        assert!(
            reps.len() >= self.ndim(),
            "repeat: {} repetition counts for shape {:?}; give at least one per axis",
            reps.len(),
            self.shape()
        );
        let lead = reps.len() - self.ndim();
        let shape: Shape = std::iter::repeat_n(1, lead)
            .chain(self.shape().iter().copied())
            .collect();
        // (d0, d1, ...) -> (1, d0, 1, d1, ...) -> (r0, d0, r1, d1, ...) -> (r0·d0, r1·d1, ...)
        let interleaved: Shape = shape.iter().flat_map(|&d| [1, d]).collect();
        let stretched: Shape = shape.iter().zip(reps).flat_map(|(&d, &r)| [r, d]).collect();
        let tiled: Shape = shape.iter().zip(reps).map(|(&d, &r)| d * r).collect();
        self.reshape(&interleaved)
            .broadcast_to(&stretched)
            .reshape(&tiled)
    }
}
