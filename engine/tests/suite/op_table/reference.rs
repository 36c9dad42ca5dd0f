//! Naive loop references for the op table: each operation recomputed in f64 with explicit
//! index loops, independent of the engine's kernels (strides, broadcasting iterators, matmul
//! library), so a kernel that moves an element to the wrong place disagrees with it.

#![allow(dead_code)]

/// A dense row-major array of f64.
#[derive(Clone, Debug)]
pub struct Arr {
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f64>,
}

/// Every multi-index of `shape`, row-major.
pub fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|mut flat| {
            let mut idx = vec![0; shape.len()];
            for (i, &d) in shape.iter().enumerate().rev() {
                idx[i] = flat % d;
                flat /= d;
            }
            idx
        })
        .collect()
}

impl Arr {
    /// The array whose element at each index is `f(index)`.
    pub fn from_fn(shape: &[usize], mut f: impl FnMut(&[usize]) -> f64) -> Arr {
        Arr {
            shape: shape.to_vec(),
            data: indices(shape).iter().map(|i| f(i)).collect(),
        }
    }

    /// The element at `idx`.
    pub fn get(&self, idx: &[usize]) -> f64 {
        assert_eq!(idx.len(), self.shape.len());
        let mut flat = 0;
        for (i, &d) in self.shape.iter().enumerate() {
            assert!(idx[i] < d);
            flat = flat * d + idx[i];
        }
        self.data[flat]
    }

    /// The element that broadcasting sends to output index `out` (trailing dimensions aligned,
    /// size-1 dimensions repeated).
    pub fn get_broadcast(&self, out: &[usize]) -> f64 {
        let lead = out.len() - self.shape.len();
        let idx: Vec<usize> = (0..self.shape.len())
            .map(|i| if self.shape[i] == 1 { 0 } else { out[lead + i] })
            .collect();
        self.get(&idx)
    }
}

/// NumPy's broadcast shape.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        if i + s.len() < n {
            1
        } else {
            s[i + s.len() - n]
        }
    };
    (0..n).map(|i| dim(a, i).max(dim(b, i))).collect()
}

/// `f` applied to every element.
pub fn map(a: &Arr, f: impl Fn(f64) -> f64) -> Arr {
    Arr {
        shape: a.shape.clone(),
        data: a.data.iter().map(|&x| f(x)).collect(),
    }
}

/// `f` applied elementwise with broadcasting.
pub fn zip(a: &Arr, b: &Arr, f: impl Fn(f64, f64) -> f64) -> Arr {
    let shape = broadcast_shape(&a.shape, &b.shape);
    Arr::from_fn(&shape, |i| f(a.get_broadcast(i), b.get_broadcast(i)))
}

/// Folds the elements along `axis` (all when `None`) with `f`, starting from the first.
pub fn reduce(a: &Arr, axis: Option<usize>, keepdim: bool, f: impl Fn(f64, f64) -> f64) -> Arr {
    match axis {
        None => {
            let v = a.data[1..].iter().fold(a.data[0], |acc, &x| f(acc, x));
            let shape = if keepdim {
                vec![1; a.shape.len()]
            } else {
                vec![]
            };
            Arr {
                shape,
                data: vec![v],
            }
        }
        Some(ax) => {
            let mut kept = a.shape.clone();
            kept[ax] = 1;
            let out = Arr::from_fn(&kept, |i| {
                let mut j = i.to_vec();
                let mut acc = a.get(&j);
                for k in 1..a.shape[ax] {
                    j[ax] = k;
                    acc = f(acc, a.get(&j));
                }
                acc
            });
            if keepdim {
                out
            } else {
                let mut shape = a.shape.clone();
                shape.remove(ax);
                Arr {
                    shape,
                    data: out.data,
                }
            }
        }
    }
}

/// Mean along `axis` (all when `None`).
pub fn mean(a: &Arr, axis: Option<usize>, keepdim: bool) -> Arr {
    let n = axis.map_or(a.data.len(), |ax| a.shape[ax]) as f64;
    map(&reduce(a, axis, keepdim, |x, y| x + y), |s| s / n)
}

/// Softmax along `axis`, each slice shifted by its maximum.
pub fn softmax(a: &Arr, axis: usize) -> Arr {
    let e = log_softmax(a, axis);
    map(&e, f64::exp)
}

/// Log-softmax along `axis`: `x − max − log Σ e^(x − max)`.
pub fn log_softmax(a: &Arr, axis: usize) -> Arr {
    Arr::from_fn(&a.shape, |i| {
        let mut j = i.to_vec();
        let slice: Vec<f64> = (0..a.shape[axis])
            .map(|k| {
                j[axis] = k;
                a.get(&j)
            })
            .collect();
        let m = slice.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = slice.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
        a.get(i) - m - lse
    })
}

/// Matrix product with broadcast batch dimensions.
pub fn matmul(a: &Arr, b: &Arr) -> Arr {
    let (ra, rb) = (a.shape.len(), b.shape.len());
    let (n, k, m) = (a.shape[ra - 2], a.shape[ra - 1], b.shape[rb - 1]);
    assert_eq!(k, b.shape[rb - 2]);
    let batch = broadcast_shape(&a.shape[..ra - 2], &b.shape[..rb - 2]);
    let mut shape = batch.clone();
    shape.extend([n, m]);
    let pick = |x: &Arr, out_batch: &[usize], r: usize, c: usize| {
        let lead = out_batch.len() - (x.shape.len() - 2);
        let mut idx: Vec<usize> = (0..x.shape.len() - 2)
            .map(|i| {
                if x.shape[i] == 1 {
                    0
                } else {
                    out_batch[lead + i]
                }
            })
            .collect();
        idx.extend([r, c]);
        x.get(&idx)
    };
    Arr::from_fn(&shape, |i| {
        let (bi, r, c) = (&i[..i.len() - 2], i[i.len() - 2], i[i.len() - 1]);
        (0..k).map(|t| pick(a, bi, r, t) * pick(b, bi, t, c)).sum()
    })
}

/// Output dimension `i` is input dimension `dims[i]`.
pub fn permute(a: &Arr, dims: &[usize]) -> Arr {
    let shape: Vec<usize> = dims.iter().map(|&d| a.shape[d]).collect();
    Arr::from_fn(&shape, |i| {
        let mut j = vec![0; dims.len()];
        for (o, &d) in dims.iter().enumerate() {
            j[d] = i[o];
        }
        a.get(&j)
    })
}

/// The same values under a new shape.
pub fn reshape(a: &Arr, shape: &[usize]) -> Arr {
    Arr {
        shape: shape.to_vec(),
        data: a.data.clone(),
    }
}

/// Broadcast to `shape`.
pub fn broadcast_to(a: &Arr, shape: &[usize]) -> Arr {
    Arr::from_fn(shape, |i| a.get_broadcast(i))
}

/// Sums `a` down to `shape` (the reverse of broadcasting).
pub fn sum_to(a: &Arr, shape: &[usize]) -> Arr {
    let mut out = Arr::from_fn(shape, |_| 0.0);
    let lead = a.shape.len() - shape.len();
    for i in indices(&a.shape) {
        let j: Vec<usize> = (0..shape.len())
            .map(|d| if shape[d] == 1 { 0 } else { i[lead + d] })
            .collect();
        let mut flat = 0;
        for (d, &s) in shape.iter().enumerate() {
            flat = flat * s + j[d];
        }
        out.data[flat] += a.get(&i);
    }
    out
}

/// Entries `start..start + len` of `axis`.
pub fn narrow(a: &Arr, axis: usize, start: usize, len: usize) -> Arr {
    let mut shape = a.shape.clone();
    shape[axis] = len;
    Arr::from_fn(&shape, |i| {
        let mut j = i.to_vec();
        j[axis] += start;
        a.get(&j)
    })
}

/// The parts joined along `axis`.
pub fn concat(parts: &[Arr], axis: usize) -> Arr {
    let mut shape = parts[0].shape.clone();
    shape[axis] = parts.iter().map(|p| p.shape[axis]).sum();
    Arr::from_fn(&shape, |i| {
        let mut j = i.to_vec();
        for p in parts {
            if j[axis] < p.shape[axis] {
                return p.get(&j);
            }
            j[axis] -= p.shape[axis];
        }
        unreachable!()
    })
}

/// Slices of `axis` picked by `idx`.
pub fn index_select(a: &Arr, axis: usize, idx: &[usize]) -> Arr {
    let mut shape = a.shape.clone();
    shape[axis] = idx.len();
    Arr::from_fn(&shape, |i| {
        let mut j = i.to_vec();
        j[axis] = idx[i[axis]];
        a.get(&j)
    })
}

/// Zeros of length `size` along `axis` with slice `k` of `a` added at `idx[k]`.
pub fn index_add(a: &Arr, axis: usize, idx: &[usize], size: usize) -> Arr {
    let mut shape = a.shape.clone();
    shape[axis] = size;
    Arr::from_fn(&shape, |i| {
        (0..idx.len())
            .filter(|&k| idx[k] == i[axis])
            .map(|k| {
                let mut j = i.to_vec();
                j[axis] = k;
                a.get(&j)
            })
            .sum()
    })
}

/// `y[i] = a[i with axis replaced by index[i]]`, `index` row-major of `shape`.
pub fn gather(a: &Arr, axis: usize, index: &[usize], shape: &[usize]) -> Arr {
    let at = Arr {
        shape: shape.to_vec(),
        data: index.iter().map(|&k| k as f64).collect(),
    };
    Arr::from_fn(shape, |i| {
        let mut j = i.to_vec();
        j[axis] = at.get(i) as usize;
        a.get(&j)
    })
}

/// Zeros of `shape` with `a[i]` added at `i` with axis replaced by `index[i]`.
pub fn scatter_add(a: &Arr, axis: usize, index: &[usize], shape: &[usize]) -> Arr {
    let mut out = Arr::from_fn(shape, |_| 0.0);
    for (flat, i) in indices(&a.shape).into_iter().enumerate() {
        let mut j = i.clone();
        j[axis] = index[flat];
        let mut o = 0;
        for (d, &s) in shape.iter().enumerate() {
            o = o * s + j[d];
        }
        out.data[o] += a.get(&i);
    }
    out
}

/// The error function by its Maclaurin series `2/√π Σ (-1)ⁿ x^(2n+1) / (n!(2n+1))`, summed
/// until the terms vanish: accurate to a few roundings for the table's |x| ≤ 2.
pub fn erf(x: f64) -> f64 {
    assert!(
        x.abs() <= 2.5,
        "the series reference is meant for |x| <= 2.5"
    );
    let (mut term, mut sum, mut n) = (x, x, 0.0);
    while term.abs() > 1e-18 * sum.abs() {
        n += 1.0;
        term *= -x * x / n;
        sum += term / (2.0 * n + 1.0);
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}
