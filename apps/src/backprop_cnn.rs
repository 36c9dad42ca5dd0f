//! The textbook backpropagation of the `apps cnn` network, written out as loops over plain
//! `f64` buffers: the hand-derived reference its autodiff gradients are checked against (as
//! [`crate::backprop`] is for the dense networks).
//!
//! Network: `conv 1→6 5×5 pad 2 → ReLU → max-pool 2 → conv 6→16 5×5 → ReLU → max-pool 2 →
//! flatten (400, m) → W₃ (120) → ReLU → W₄ (84) → ReLU → W₅ (10) → softmax cross-entropy`
//! (mean over the batch).
//!
//! The rules, for a convolution `Y[n,o,i,j] = b[o] + Σ_{c,p,q} W[o,c,p,q]·X[n,c,i+p-P,j+q-P]`:
//! `dW[o,c,p,q] = Σ_{n,i,j} dY[n,o,i,j]·X[n,c,i+p-P,j+q-P]`, `db[o] = Σ_{n,i,j} dY[n,o,i,j]`,
//! `dX[n,c,i+p-P,j+q-P] += dY[n,o,i,j]·W[o,c,p,q]` (padding positions dropped). Max pooling
//! routes each window's gradient to the element that was chosen (the first maximal one);
//! ReLU passes it where the pre-activation is positive; the dense layers are
//! `dW = dZ·Aᵀ`, `db = Σ_n dZ`, `dA = Wᵀ·dZ`; and softmax cross-entropy gives
//! `dZ = (softmax(Z) − Y)/m`.

/// Shape of a batch of images: `(m, C, H, W)`.
type Dims = (usize, usize, usize, usize);

/// `(Y, shape of Y)` of a stride-1 convolution with zero padding `pad`.
fn conv_forward(
    x: &[f64],
    xd: Dims,
    w: &[f64],
    wd: Dims,
    b: &[f64],
    pad: usize,
) -> (Vec<f64>, Dims) {
    let (m, c, h, wi) = xd;
    let (co, _, kh, kw) = wd;
    let (oh, ow) = (h + 2 * pad - kh + 1, wi + 2 * pad - kw + 1);
    let mut y = vec![0.0; m * co * oh * ow];
    for n in 0..m {
        for o in 0..co {
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = b[o];
                    for ch in 0..c {
                        for p in 0..kh {
                            for q in 0..kw {
                                let (r, s) = (i + p, j + q);
                                if r < pad || s < pad || r - pad >= h || s - pad >= wi {
                                    continue;
                                }
                                acc += w[((o * c + ch) * kh + p) * kw + q]
                                    * x[((n * c + ch) * h + r - pad) * wi + s - pad];
                            }
                        }
                    }
                    y[((n * co + o) * oh + i) * ow + j] = acc;
                }
            }
        }
    }
    (y, (m, co, oh, ow))
}

/// `(dW, db, dX)` of [`conv_forward`]; `dX` only when `need_dx`.
#[allow(clippy::too_many_arguments)]
fn conv_backward(
    dy: &[f64],
    yd: Dims,
    x: &[f64],
    xd: Dims,
    w: &[f64],
    wd: Dims,
    pad: usize,
    need_dx: bool,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (m, c, h, wi) = xd;
    let (co, _, kh, kw) = wd;
    let (_, _, oh, ow) = yd;
    let mut dw = vec![0.0; w.len()];
    let mut db = vec![0.0; co];
    let mut dx = vec![0.0; if need_dx { x.len() } else { 0 }];
    for n in 0..m {
        for o in 0..co {
            for i in 0..oh {
                for j in 0..ow {
                    let g = dy[((n * co + o) * oh + i) * ow + j];
                    db[o] += g;
                    for ch in 0..c {
                        for p in 0..kh {
                            for q in 0..kw {
                                let (r, s) = (i + p, j + q);
                                if r < pad || s < pad || r - pad >= h || s - pad >= wi {
                                    continue;
                                }
                                let xi = ((n * c + ch) * h + r - pad) * wi + s - pad;
                                let wk = ((o * c + ch) * kh + p) * kw + q;
                                dw[wk] += g * x[xi];
                                if need_dx {
                                    dx[xi] += g * w[wk];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    (dw, db, dx)
}

/// 2×2 max pooling with stride 2: the pooled values and, per output, the flat input position
/// of the first maximal element of its window.
fn pool_forward(x: &[f64], xd: Dims) -> (Vec<f64>, Vec<usize>, Dims) {
    let (m, c, h, w) = xd;
    let (oh, ow) = (h / 2, w / 2);
    let (mut y, mut at) = (vec![], vec![]);
    for n in 0..m {
        for ch in 0..c {
            for i in 0..oh {
                for j in 0..ow {
                    let mut best = ((n * c + ch) * h + 2 * i) * w + 2 * j;
                    for p in 0..2 {
                        for q in 0..2 {
                            let k = ((n * c + ch) * h + 2 * i + p) * w + 2 * j + q;
                            if x[k] > x[best] {
                                best = k;
                            }
                        }
                    }
                    y.push(x[best]);
                    at.push(best);
                }
            }
        }
    }
    (y, at, (m, c, oh, ow))
}

fn relu(z: &[f64]) -> Vec<f64> {
    z.iter().map(|&v| v.max(0.0)).collect()
}

/// `dZ = dA·[Z > 0]`.
fn relu_backward(da: &[f64], z: &[f64]) -> Vec<f64> {
    da.iter()
        .zip(z)
        .map(|(&g, &v)| if v > 0.0 { g } else { 0.0 })
        .collect()
}

/// `Z = W·A + b` for `W (r, k)`, `A (k, m)` row-major.
fn dense(w: &[f64], b: &[f64], a: &[f64], r: usize, k: usize, m: usize) -> Vec<f64> {
    let mut z = vec![0.0; r * m];
    for i in 0..r {
        for n in 0..m {
            z[i * m + n] = b[i] + (0..k).map(|t| w[i * k + t] * a[t * m + n]).sum::<f64>();
        }
    }
    z
}

/// `(dW, db, dA)` of [`dense`].
fn dense_backward(
    dz: &[f64],
    w: &[f64],
    a: &[f64],
    r: usize,
    k: usize,
    m: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut dw = vec![0.0; r * k];
    let mut db = vec![0.0; r];
    let mut da = vec![0.0; k * m];
    for i in 0..r {
        for n in 0..m {
            let g = dz[i * m + n];
            db[i] += g;
            for t in 0..k {
                dw[i * k + t] += g * a[t * m + n];
                da[t * m + n] += w[i * k + t] * g;
            }
        }
    }
    (dw, db, da)
}

/// Gradients of the mean cross-entropy of the network at `params` (row-major, in the order
/// of the network's parameter list, `W1, b1, W2, b2` (the convolutions), `W3, b3, W4, b4, W5,
/// b5` (the dense layers)) on images
/// `x` of shape `(m, 1, 28, 28)` with class `labels`, in the same order.
pub fn lenet_gradients(params: &[Vec<f64>], x: &[f64], labels: &[usize]) -> Vec<Vec<f64>> {
    let m = labels.len();
    let xd = (m, 1, 28, 28);
    let (w1d, w2d) = ((6, 1, 5, 5), (16, 6, 5, 5));
    // Forward, keeping what backward needs.
    let (z1, z1d) = conv_forward(x, xd, &params[0], w1d, &params[1], 2);
    let (p1, at1, p1d) = pool_forward(&relu(&z1), z1d);
    let (z2, z2d) = conv_forward(&p1, p1d, &params[2], w2d, &params[3], 0);
    let (p2, at2, _) = pool_forward(&relu(&z2), z2d);
    // Flatten: column n holds image n's (c, h, w) values in row-major order.
    let mut a2 = vec![0.0; 400 * m];
    for n in 0..m {
        for f in 0..400 {
            a2[f * m + n] = p2[n * 400 + f];
        }
    }
    let z3 = dense(&params[4], &params[5], &a2, 120, 400, m);
    let a3 = relu(&z3);
    let z4 = dense(&params[6], &params[7], &a3, 84, 120, m);
    let a4 = relu(&z4);
    let z5 = dense(&params[8], &params[9], &a4, 10, 84, m);
    // dZ5 = (softmax(Z5) - Y) / m, column by column.
    let mut dz5 = vec![0.0; 10 * m];
    for n in 0..m {
        let mx = (0..10)
            .map(|k| z5[k * m + n])
            .fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = (0..10).map(|k| (z5[k * m + n] - mx).exp()).collect();
        let s: f64 = e.iter().sum();
        for k in 0..10 {
            let y = if labels[n] == k { 1.0 } else { 0.0 };
            dz5[k * m + n] = (e[k] / s - y) / m as f64;
        }
    }
    let (dw5, db5, da4) = dense_backward(&dz5, &params[8], &a4, 10, 84, m);
    let (dw4, db4, da3) = dense_backward(&relu_backward(&da4, &z4), &params[6], &a3, 84, 120, m);
    let (dw3, db3, da2) = dense_backward(&relu_backward(&da3, &z3), &params[4], &a2, 120, 400, m);
    // Unflatten, then route through the second pooling to the chosen elements.
    let mut dz2 = vec![0.0; z2.len()];
    for n in 0..m {
        for f in 0..400 {
            dz2[at2[n * 400 + f]] += da2[f * m + n];
        }
    }
    let dz2 = relu_backward(&dz2, &z2);
    let (dw2, db2, dp1) = conv_backward(&dz2, z2d, &p1, p1d, &params[2], w2d, 0, true);
    let mut dz1 = vec![0.0; z1.len()];
    for (k, &g) in dp1.iter().enumerate() {
        dz1[at1[k]] += g;
    }
    let dz1 = relu_backward(&dz1, &z1);
    let (dw1, db1, _) = conv_backward(&dz1, z1d, x, xd, &params[0], w1d, 2, false);
    vec![dw1, db1, dw2, db2, dw3, db3, dw4, db4, dw5, db5]
}
