//! Matrix products against a naive triple loop, on awkward shapes: 1×1, 1×n, n×1, 7×13·13×5,
//! transposed and otherwise strided operands, batched products with broadcast leading
//! dimensions, in f32 and f64.
//!
//! Tolerances: the triple loop and the blocked gemm add the same products in different orders,
//! so results agree to a few ulps of the row sums: 1e-12 relative in f64, 2e-5 in f32.

use ferrograd::engine::{Float, Tensor};

/// `(…, m, k) · (…, k, n)` by definition, broadcasting the batch dimensions by hand.
fn naive<T: Float>(a: &Tensor<T>, b: &Tensor<T>) -> (Vec<f64>, Vec<usize>) {
    let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
    let (m, k, n) = (sa[sa.len() - 2], sa[sa.len() - 1], sb[sb.len() - 1]);
    let (ba, bb) = (&sa[..sa.len() - 2], &sb[..sb.len() - 2]);
    let nd = ba.len().max(bb.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut v = vec![1; nd - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (pa, pb) = (pad(ba), pad(bb));
    let batch: Vec<usize> = pa.iter().zip(&pb).map(|(&x, &y)| x.max(y)).collect();
    let (va, vb) = (a.to_f64_vec(), b.to_f64_vec());
    let count: usize = batch.iter().product();
    let mut out = Vec::with_capacity(count * m * n);
    for flat in 0..count {
        // Batch multi-index, then each operand's own batch position (size-1 dims stay at 0).
        let mut rest = flat;
        let mut index = vec![0; nd];
        for d in (0..nd).rev() {
            index[d] = rest % batch[d];
            rest /= batch[d];
        }
        let position = |dims: &[usize]| {
            dims.iter().zip(&index).fold(0, |acc, (&size, &i)| {
                acc * size + if size == 1 { 0 } else { i }
            })
        };
        let (oa, ob) = (position(&pa) * m * k, position(&pb) * k * n);
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    s += va[oa + i * k + p] * vb[ob + p * n + j];
                }
                out.push(s);
            }
        }
    }
    let mut shape = batch;
    shape.extend([m, n]);
    (out, shape)
}

fn values<T: Float>(shape: &[usize], salt: usize) -> Tensor<T> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|i| T::from_f64((((i * 37 + salt * 101) % 53) as f64 - 26.0) / 13.0))
        .collect();
    Tensor::from_vec(data, shape)
}

#[track_caller]
fn assert_matches<T: Float>(a: &Tensor<T>, b: &Tensor<T>, tolerance: f64) {
    let got = a.matmul(b);
    let (want, shape) = naive(a, b);
    assert_eq!(
        got.shape(),
        shape.as_slice(),
        "{:?} · {:?}",
        a.shape(),
        b.shape()
    );
    let scale = want.iter().fold(1.0f64, |m, x| m.max(x.abs()));
    for (g, w) in got.to_f64_vec().iter().zip(&want) {
        assert!(
            (g - w).abs() <= tolerance * scale,
            "{:?} · {:?}: {g} vs {w}",
            a.shape(),
            b.shape()
        );
    }
}

fn all_cases<T: Float>(tolerance: f64) {
    let plain: &[(&[usize], &[usize])] = &[
        (&[1, 1], &[1, 1]),
        (&[1, 9], &[9, 1]),
        (&[9, 1], &[1, 9]),
        (&[1, 6], &[6, 4]),
        (&[5, 6], &[6, 1]),
        (&[7, 13], &[13, 5]),
        (&[64, 33], &[33, 17]),
        (&[2, 7, 13], &[2, 13, 5]),
        (&[7, 13], &[3, 13, 5]),
        (&[2, 1, 3, 4], &[5, 4, 6]),
        (&[4, 1, 2, 3], &[1, 3, 3, 2]),
    ];
    for (k, (sa, sb)) in plain.iter().enumerate() {
        assert_matches(&values::<T>(sa, k), &values::<T>(sb, k + 50), tolerance);
    }
    // Transposed operands are views with swapped strides, handed to gemm without a copy.
    let a = values::<T>(&[13, 7], 1);
    let b = values::<T>(&[5, 13], 2);
    assert_matches(&a.t(), &b.t(), tolerance);
    assert_matches(&a.t(), &values::<T>(&[13, 5], 3), tolerance);
    assert_matches(&values::<T>(&[5, 7], 4), &a.t().t().t(), tolerance);
    // Batched transposes, narrowed columns (row stride ≠ width), broadcast views (stride 0).
    let batched = values::<T>(&[3, 4, 6], 5);
    assert_matches(
        &batched.transpose(-1, -2),
        &values::<T>(&[3, 4, 2], 6),
        tolerance,
    );
    let wide = values::<T>(&[6, 10], 7);
    assert_matches(&wide.narrow(1, 3, 4), &values::<T>(&[4, 3], 8), tolerance);
    let row = values::<T>(&[1, 4, 5], 9).broadcast_to(&[3, 4, 5]);
    assert_matches(&values::<T>(&[3, 2, 4], 10), &row, tolerance);
}

#[test]
fn matmul_matches_the_triple_loop_f64() {
    all_cases::<f64>(1e-12);
}

#[test]
fn matmul_matches_the_triple_loop_f32() {
    all_cases::<f32>(2e-5);
}

#[test]
fn transposed_operands_are_not_copied() {
    // A transpose shares its buffer; the product reads it through strides and still matches.
    let a = values::<f64>(&[4, 3], 1);
    let at = a.t();
    assert!(!at.is_contiguous());
    assert_eq!(at.storage_bytes(), a.storage_bytes());
    assert_matches(&at, &a, 1e-12);
}

#[test]
fn empty_inner_dimension_gives_zeros() {
    let a = Tensor::<f64>::zeros(&[3, 0]);
    let b = Tensor::<f64>::zeros(&[0, 2]);
    assert_eq!(a.matmul(&b).to_vec(), vec![0.0; 6]);
}
