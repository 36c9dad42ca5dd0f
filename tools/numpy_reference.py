"""NumPy replica of the work `apps all` does (development tool: nothing in the build, the tests or
the apps needs Python). Needs numpy, scipy (reads the .mat file) and scikit-learn (the course's
circles and moons).

    python3 tools/numpy_reference.py [RUNS] [--adam-eps inside|outside] [--no-checks] [--compare]

RUNS is `all` (the default: what `apps all` runs, in its order) or a comma-separated subset of
gradcheck, init, reg, opt, opt-sigmoid, mnist, batchnorm. Each run is the course's own code
(forward, cost, hand-derived backward, update) with the seeds' hyperparameters; stdout gets one
JSON line per run in the apps' `--json` format (run, cost_at, costs, train_acc, test_acc, checks,
seconds; non-finite numbers as null, as serde writes them), then one line with the total wall time
and the BLAS threadpoolctl sees.

Gradient checks: like `apps all`, every training run checks its gradients at the first and the
last update against central differences (eps 1e-7, dropout masks held fixed) of the loss computed
from the logits, over every component (MNIST and batch norm: 40 per parameter, picked as the apps
pick them). The apps also compare autodiff with the hand-derived backprop; NumPy has only the
hand-derived gradients, so that comparison has no counterpart here. `gradcheck` does the course's
1-D and N-D checks (the apps add the autodiff of the same network). `--no-checks` skips the
checks in training runs.

`--compare` also prints, on stderr, how each run's numbers compare with
data/reference/seed_numbers.json (the course's code under NumPy 2.4.6).
Seed 001 writes Adam's epsilon inside the square root (np.sqrt(s_corrected + epsilon), eq. 6.49):
that placement reproduces opt.adam; `--adam-eps outside` is the course notebook's form.
"""
import gzip
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
REF = json.load(open(os.path.join(DATA, "reference", "seed_numbers.json")))
NAMES = ["W1", "b1", "W2", "b2", "W3", "b3"]

# ---------------------------------------------------------------------------------------------
# Data, generated or loaded as the course does (examples are columns)


def circles(seed, n):
    from sklearn.datasets import make_circles
    np.random.seed(seed)
    X, Y = make_circles(n_samples=n, noise=.05)
    return X.T, Y.reshape((1, Y.shape[0]))


def moons():
    from sklearn.datasets import make_moons
    np.random.seed(3)
    X, Y = make_moons(n_samples=300, noise=.2)
    return X.T, Y.reshape((1, Y.shape[0]))


def regularization_2d():
    import scipy.io
    d = scipy.io.loadmat(os.path.join(DATA, "regularization_2d.mat"))
    return d["X"].T, d["y"].T, d["Xval"].T, d["yval"].T


def load_idx(path):
    raw = gzip.open(path).read()
    if raw[3] == 3:  # images: count, rows, columns
        n, r, c = np.frombuffer(raw[4:16], ">u4")
        return np.frombuffer(raw[16:], np.uint8).reshape(n, r * c)
    return np.frombuffer(raw[8:], np.uint8)


def mnist_split(n_train=8000):
    """The bundled official test set: first 8000 images train, last 2000 test; one-hot Y."""
    imgs = load_idx(os.path.join(DATA, "mnist", "t10k-images-idx3-ubyte.gz")).astype(np.float64)
    labels = load_idx(os.path.join(DATA, "mnist", "t10k-labels-idx1-ubyte.gz")).astype(int)
    fac = 0.99 / 255
    X = (imgs * fac + 0.01).T
    one_hot = np.eye(10)[labels].T
    return X[:, :n_train], one_hot[:, :n_train], X[:, n_train:], one_hot[:, n_train:]


# ---------------------------------------------------------------------------------------------
# The course's 3-layer network: LINEAR-RELU-LINEAR-RELU-LINEAR-(SIGMOID|SOFTMAX)

relu = lambda x: np.maximum(0, x)
sigmoid = lambda x: 1 / (1 + np.exp(-x))


def softmax(x):
    t = np.exp(x)
    return t / np.sum(t, axis=0)


def init_params(dims, how, seed=3):
    """how: "zeros", ("times", f): randn*f, "he": randn*sqrt(2/n_prev), ("div", c): randn/sqrt(c*n_prev)."""
    np.random.seed(seed)
    p = {}
    for l in range(1, len(dims)):
        shape = (dims[l], dims[l - 1])
        if how == "zeros":
            p["W%d" % l] = np.zeros(shape)
        elif how == "he":
            p["W%d" % l] = np.random.randn(*shape) * np.sqrt(2 / dims[l - 1])
        elif how[0] == "times":
            p["W%d" % l] = np.random.randn(*shape) * how[1]
        else:
            p["W%d" % l] = np.random.randn(*shape) / np.sqrt(how[1] * dims[l - 1])
        p["b%d" % l] = np.zeros((dims[l], 1))
    return p


def draw_masks(seed, n1, n2, m, keep_prob):
    """The regularization notebook's dropout masks, drawn after reseeding (same masks every call)."""
    np.random.seed(seed)
    D1 = np.random.rand(n1, m) < keep_prob
    D2 = np.random.rand(n2, m) < keep_prob
    return D1, D2


def forward(X, p, masks=None, keep_prob=1.0):
    """Returns (Z3, A1, A2, A3); hidden activations after inverted dropout when masks are given."""
    A1 = relu(np.dot(p["W1"], X) + p["b1"])
    if masks is not None:
        A1 = np.multiply(A1, masks[0]); A1 = A1 / keep_prob
    A2 = relu(np.dot(p["W2"], A1) + p["b2"])
    if masks is not None:
        A2 = np.multiply(A2, masks[1]); A2 = A2 / keep_prob
    Z3 = np.dot(p["W3"], A2) + p["b3"]
    A3 = sigmoid(Z3) if Z3.shape[0] == 1 else softmax(Z3)
    return Z3, A1, A2, A3


def course_cost(A3, Y):
    """compute_cost of the notebooks: from probabilities (so log(0) = inf can happen)."""
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        if Y.shape[0] == 1:
            logprobs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
            return 1. / m * np.nansum(logprobs)
        return np.squeeze(-1 / m * np.sum(np.multiply(np.log(A3), Y)))


def l2_cost(p, lambd, m):
    return (1. / m) * (lambd / 2) * (np.sum(np.square(p["W1"])) + np.sum(np.square(p["W2"]))
                                     + np.sum(np.square(p["W3"])))


def backward(X, Y, p, A1, A2, A3):
    """backward_propagation of the initialization and optimization notebooks: 1/m folded into dz3."""
    m = X.shape[1]
    dz3 = 1. / m * (A3 - Y)
    dW3 = np.dot(dz3, A2.T); db3 = np.sum(dz3, axis=1, keepdims=True)
    da2 = np.dot(p["W3"].T, dz3); dz2 = np.multiply(da2, np.int64(A2 > 0))
    dW2 = np.dot(dz2, A1.T); db2 = np.sum(dz2, axis=1, keepdims=True)
    da1 = np.dot(p["W2"].T, dz2); dz1 = np.multiply(da1, np.int64(A1 > 0))
    dW1 = np.dot(dz1, X.T); db1 = np.sum(dz1, axis=1, keepdims=True)
    return dict(W1=dW1, b1=db1, W2=dW2, b2=db2, W3=dW3, b3=db3)


def backward_reg(X, Y, p, A1, A2, A3, lambd=0.0, book=False, masks=None, keep_prob=1.0):
    """backward_propagation(_with_regularization/_with_dropout) of the regularization notebook
    (1/m applied to dW and db). The book writes the L2 term as 1/m*(dZ.A^T + lambd*W), the course
    as 1/m*dZ.A^T + lambd/m*W: the same maths, rounded differently."""
    m = X.shape[1]

    def dW(dZ, A, W):
        if not lambd:
            return 1. / m * np.dot(dZ, A.T)
        if book:
            return 1. / m * (np.dot(dZ, A.T) + lambd * W)
        return 1. / m * np.dot(dZ, A.T) + lambd / m * W

    dZ3 = A3 - Y
    dW3 = dW(dZ3, A2, p["W3"]); db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(p["W3"].T, dZ3)
    if masks is not None:
        dA2 = np.multiply(dA2, masks[1]); dA2 = dA2 / keep_prob
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = dW(dZ2, A1, p["W2"]); db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(p["W2"].T, dZ2)
    if masks is not None:
        dA1 = np.multiply(dA1, masks[0]); dA1 = dA1 / keep_prob
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = dW(dZ1, X, p["W1"]); db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
    return dict(W1=dW1, b1=db1, W2=dW2, b2=db2, W3=dW3, b3=db3)


def predict(X, p):
    """The course's predict: probability > 0.5 (sigmoid) or argmax over the rows (softmax)."""
    A3 = forward(X, p)[3]
    return (A3 > 0.5)[0] if A3.shape[0] == 1 else np.argmax(A3, axis=0)


def accuracy(X, Y, p):
    labels = Y[0] if Y.shape[0] == 1 else np.argmax(Y, axis=0)
    return float(np.mean(predict(X, p) == labels))


# ---------------------------------------------------------------------------------------------
# Gradient checks at the first and the last update (what the apps do in every training run)


def cross_entropy_from_logits(Z, Y):
    """Mean cross-entropy computed from the logits, finite where the course's cost is inf."""
    m = Y.shape[1]
    if Y.shape[0] == 1:
        return np.sum(np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))) / m
    z = Z - np.max(Z, axis=0)
    return -np.sum(Y * (z - np.log(np.sum(np.exp(z), axis=0)))) / m


def sample_indices(numel, limit):
    """All components, or `limit` of them spread by the golden ratio (as apps/src/checks.rs)."""
    if limit is None or numel <= limit:
        return range(numel)
    golden = 0.6180339887498949
    return sorted({int(((j + 0.5) * golden) % 1.0 * numel) for j in range(limit)})


def relative_difference(a, b):
    """The course's difference (6.57): ||a - b|| / (||a|| + ||b||)."""
    a, b = np.asarray(a), np.asarray(b)
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / den) if den > 0 else 0.0


def numerical_gradient(loss, p, limit=None, eps=1e-7):
    """Central differences (6.56) of loss(p) for the sampled components of every parameter:
    {name: (indices, values)}. Perturbs p in place and restores each component exactly."""
    out = {}
    for k in p:
        indices = list(sample_indices(p[k].size, limit))
        values = []
        for i in indices:
            old = p[k].flat[i]
            p[k].flat[i] = old + eps; plus = loss(p)
            p[k].flat[i] = old - eps; minus = loss(p)
            p[k].flat[i] = old
            values.append((plus - minus) / (2 * eps))
        out[k] = (indices, values)
    return out


def gradient_check(iteration, loss, p, grads, limit=None):
    """grads against central differences of loss at p, over the sampled components."""
    numeric = numerical_gradient(loss, p, limit)
    analytic = [grads[k].flat[i] for k, (idx, _) in numeric.items() for i in idx]
    values = [v for _, vals in numeric.values() for v in vals]
    # Like the apps, report the gradient's norm: at rounding level (the zero initialization's
    # symmetric network) the relative difference compares noise with noise.
    grad_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads.values())))
    return {"iteration": iteration, "grad_norm": grad_norm,
            "vs_numerical": relative_difference(analytic, values)}


# ---------------------------------------------------------------------------------------------
# The two training loops


def full_batch(p, step, iterations, lr, every=1000, checks=True):
    """Full-batch gradient descent. step(p) -> (cost, grads, loss_for_check)."""
    costs, cost_at, done = [], [], []
    for i in range(iterations):
        cost, grads, check_loss = step(p)
        if checks and (i == 0 or i == iterations - 1):
            done.append(gradient_check(i, check_loss, p, grads))
        for k in p:
            p[k] = p[k] - lr * grads[k]
        if i % every == 0:
            cost_at.append(i); costs.append(cost)
    return cost_at, costs, done


def mini_batch(X, Y, p, optimizer, lr, epochs, batch, every, epoch_cost="last", check_limit=None,
               checks=True, adam_eps="inside", beta=0.9, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Seed 001's model(): before each epoch np.random.seed(seed += 1) and a permutation, batches
    of `batch`, one update per batch. Reports the last batch's cost (or the epoch's average)."""
    v = {k: np.zeros(w.shape) for k, w in p.items()}
    s = {k: np.zeros(w.shape) for k, w in p.items()}
    m = X.shape[1]
    last_step = epochs * math.ceil(m / batch) - 1
    t = 0; seed = 10; step = 0
    costs, cost_at, done = [], [], []
    for epoch in range(epochs):
        seed = seed + 1
        np.random.seed(seed)
        perm = list(np.random.permutation(m))
        sX = X[:, perm]; sY = Y[:, perm].reshape((Y.shape[0], m))
        total = 0.0
        for k in range(0, m, batch):
            mX = sX[:, k:k + batch]; mY = sY[:, k:k + batch]
            _, A1, A2, A3 = forward(mX, p)
            cost = course_cost(A3, mY)
            total += cost * mX.shape[1]
            g = backward(mX, mY, p, A1, A2, A3)
            if checks and step in (0, last_step):
                loss = lambda q: cross_entropy_from_logits(forward(mX, q)[0], mY)
                done.append(gradient_check(step, loss, p, g, check_limit))
            if optimizer == "adam":
                t = t + 1
            for key in p:
                if optimizer == "gd":
                    p[key] = p[key] - lr * g[key]
                elif optimizer == "momentum":
                    v[key] = beta * v[key] + (1 - beta) * g[key]
                    p[key] = p[key] - lr * v[key]
                else:
                    v[key] = beta1 * v[key] + (1 - beta1) * g[key]
                    v_corrected = v[key] / (1 - np.power(beta1, t))
                    s[key] = beta2 * s[key] + (1 - beta2) * np.power(g[key], 2)
                    s_corrected = s[key] / (1 - np.power(beta2, t))
                    if adam_eps == "inside":
                        p[key] = p[key] - lr * v_corrected / np.sqrt(s_corrected + epsilon)
                    else:
                        p[key] = p[key] - lr * v_corrected / (np.sqrt(s_corrected) + epsilon)
            step += 1
        if epoch % every == 0:
            cost_at.append(epoch)
            costs.append(float(cost) if epoch_cost == "last" else total / m)
    return cost_at, costs, done


def report(run, cost_at, costs, checks, train_acc, test_acc=None):
    out = dict(run=run, cost_at=cost_at, costs=[float(c) for c in costs], train_acc=train_acc)
    if test_acc is not None:
        out["test_acc"] = test_acc
    out["checks"] = checks
    return out


# ---------------------------------------------------------------------------------------------
# The assignments, as `apps all` runs them


def gradcheck_runs(checks=True):
    """The course's 1-D check and gradient_check_n on its [4,5,3,1] test case, with the planted
    bugs (dW2 doubled, db1 four times too large) and fixed."""
    x, theta, eps = 2, 4, 1e-7
    gradapprox = ((theta + eps) * x - (theta - eps) * x) / (2 * eps)
    one_d = abs(x - gradapprox) / (abs(x) + abs(gradapprox))

    np.random.seed(1)
    X = np.random.randn(4, 3); Y = np.array([1, 1, 0]).reshape(1, 3)
    p = {k: np.random.randn(*s) for k, s in
         zip(NAMES, [(5, 4), (5, 1), (3, 5), (3, 1), (1, 3), (1, 1)])}
    cost = lambda q: course_cost(forward(X, q)[3], Y)
    _, A1, A2, A3 = forward(X, p)
    fixed = backward_reg(X, Y, p, A1, A2, A3)  # the same as backward_propagation_n
    buggy = dict(fixed, W2=fixed["W2"] * 2, b1=fixed["b1"] * 4)

    numeric = numerical_gradient(cost, p)  # every component, as gradient_check_n's loop

    def check(grads):
        per = [("d" + k, relative_difference(grads[k].reshape(-1), numeric[k][1])) for k in NAMES]
        grad = np.concatenate([grads[k].reshape(-1) for k in NAMES])
        approx = np.concatenate([numeric[k][1] for k in NAMES])
        return {"difference": relative_difference(grad, approx), "per_gradient": per,
                "wrong": sorted(k for k, d in per if d > 1e-4)}

    yield {"run": "gradcheck", "one_d_difference": one_d, "buggy": check(buggy), "fixed": check(fixed)}


def init_runs(checks=True):
    X, Y = circles(1, 300)
    Xt, Yt = circles(2, 100)
    for name, how in (("zeros", "zeros"), ("random", ("times", 10)), ("he", "he")):
        p = init_params([2, 10, 5, 1], how)

        def step(p):
            _, A1, A2, A3 = forward(X, p)
            loss = lambda q: cross_entropy_from_logits(forward(X, q)[0], Y)
            return course_cost(A3, Y), backward(X, Y, p, A1, A2, A3), loss
        cost_at, costs, done = full_batch(p, step, 15000, 0.01, checks=checks)
        yield report("init-" + name, cost_at, costs, done, accuracy(X, Y, p), accuracy(Xt, Yt, p))


def reg_runs(checks=True):
    X, Y, Xt, Yt = regularization_2d()
    m = X.shape[1]
    variants = (("book", [2, 20, 5, 1], 0.5, 4, [(0, 1), (0.1, 1), (0, 0.8), (0.1, 0.9)]),
                ("course", [2, 20, 3, 1], 1.0, 1, [(0, 1), (0.7, 1), (0, 0.86), (0.7, 0.86)]))
    for variant, dims, c, dropout_seed, configurations in variants:
        for lambd, keep_prob in configurations:
            p = init_params(dims, ("div", c))

            def step(p):
                masks = draw_masks(dropout_seed, dims[1], dims[2], m, keep_prob) if keep_prob < 1 else None
                _, A1, A2, A3 = forward(X, p, masks, keep_prob)
                cost = course_cost(A3, Y)
                if lambd:
                    cost = cost + l2_cost(p, lambd, m)
                grads = backward_reg(X, Y, p, A1, A2, A3, lambd, variant == "book", masks, keep_prob)
                loss = lambda q: (cross_entropy_from_logits(forward(X, q, masks, keep_prob)[0], Y)
                                  + l2_cost(q, lambd, m))
                return cost, grads, loss
            cost_at, costs, done = full_batch(p, step, 30000, 0.3, checks=checks)
            run = "reg-%s-l2=%g-keep=%g" % (variant, lambd, keep_prob)
            yield report(run, cost_at, costs, done, accuracy(X, Y, p), accuracy(Xt, Yt, p))


def opt_runs(sigmoid=False, checks=True, adam_eps="inside"):
    """Seed 001 section 6.9.2 ([2,5,2,2] softmax, 1000 epochs, the last batch's cost every 100)
    or, with sigmoid, the course notebook's [2,5,2,1] (lr 0.0007, 10000 epochs, the epoch's
    average cost every 1000)."""
    X, labels = moons()
    Y = labels if sigmoid else np.eye(2)[labels[0]].T
    for optimizer in ("gd", "momentum", "adam"):
        p = init_params([2, 5, 2, 1] if sigmoid else [2, 5, 2, 2], "he")
        if sigmoid:
            lr, epochs, every, epoch_cost = 0.0007, 10000, 1000, "average"
        else:
            lr, epochs, every, epoch_cost = (0.01 if optimizer == "adam" else 0.1), 1000, 100, "last"
        cost_at, costs, done = mini_batch(X, Y, p, optimizer, lr, epochs, 64, every, epoch_cost,
                                          checks=checks, adam_eps=adam_eps)
        run = "opt-" + optimizer + ("-sigmoid" if sigmoid else "")
        yield report(run, cost_at, costs, done, accuracy(X, Y, p))


def mnist_runs(checks=True):
    Xtr, Ytr, Xte, Yte = mnist_split()
    p = init_params([784, 30, 20, 10], "he")
    cost_at, costs, done = mini_batch(Xtr, Ytr, p, "gd", 0.001, 100, 32, 10, check_limit=40, checks=checks)
    yield report("mnist", cost_at, costs, done, accuracy(Xtr, Ytr, p), accuracy(Xte, Yte, p))


# Batch normalization (seed 001 section 6.6.2; no exercise in the seed, so this follows `apps
# batchnorm` and nn::BatchNorm): Dense -> BatchNorm -> ReLU for the hidden layers, softmax
# cross-entropy from the logits, plain GD at lr 0.5 for 10 epochs, cost of every epoch's last batch.
BN_EPS, BN_MOMENTUM = 1e-5, 0.9


def bn_forward(X, p, bn, running=None):
    """bn=False: the plain network. With bn and running=None, batch statistics (training mode);
    with running = {"mean1": .., "var1": .., ...}, the running estimates (evaluation mode)."""
    A, caches = X, []
    for l in (1, 2):
        Z = np.dot(p["W%d" % l], A) + p["b%d" % l]
        cache = None
        if bn:
            if running is None:
                mu = np.mean(Z, axis=1, keepdims=True); centered = Z - mu
                var = np.mean(np.square(centered), axis=1, keepdims=True)
                inv_std = 1 / np.sqrt(var + BN_EPS); x_hat = centered * inv_std
                cache = (x_hat, inv_std, mu, var)
            else:
                x_hat = (Z - running["mean%d" % l]) / np.sqrt(running["var%d" % l] + BN_EPS)
            Z = p["gamma%d" % l] * x_hat + p["beta%d" % l]
        caches.append((A, Z, cache))
        A = relu(Z)
    return np.dot(p["W3"], A) + p["b3"], A, caches


def log_softmax(Z):
    z = Z - np.max(Z, axis=0)
    return z - np.log(np.sum(np.exp(z), axis=0))


def bn_loss(X, Y, p):
    """The batch-norm network's loss in training mode (running estimates untouched)."""
    return -np.sum(Y * log_softmax(bn_forward(X, p, True)[0])) / X.shape[1]


def bn_loss_and_grads(X, Y, p, bn):
    Z3, A2, caches = bn_forward(X, p, bn)
    m = X.shape[1]
    log_probs = log_softmax(Z3)
    loss = -np.sum(Y * log_probs) / m
    g = {}
    dZ = (np.exp(log_probs) - Y) / m
    g["W3"] = np.dot(dZ, A2.T); g["b3"] = np.sum(dZ, axis=1, keepdims=True)
    dA = np.dot(p["W3"].T, dZ)
    for l in (2, 1):
        A_prev, Z, cache = caches[l - 1]
        dZ = dA * (Z > 0)
        if bn:  # equations 6.33-6.38
            x_hat, inv_std, _, _ = cache
            g["gamma%d" % l] = np.sum(dZ * x_hat, axis=1, keepdims=True)
            g["beta%d" % l] = np.sum(dZ, axis=1, keepdims=True)
            dx_hat = dZ * p["gamma%d" % l]
            dZ = inv_std / m * (m * dx_hat - np.sum(dx_hat, axis=1, keepdims=True)
                                - x_hat * np.sum(dx_hat * x_hat, axis=1, keepdims=True))
        g["W%d" % l] = np.dot(dZ, A_prev.T); g["b%d" % l] = np.sum(dZ, axis=1, keepdims=True)
        dA = np.dot(p["W%d" % l].T, dZ)
    return loss, g, caches


def batchnorm_runs(checks=True, lr=0.5, epochs=10, batch=32):
    Xtr, Ytr, Xte, Yte = mnist_split()
    m = Xtr.shape[1]
    for bn in (False, True):
        p = init_params([784, 30, 20, 10], "he")
        running = {}
        if bn:
            for l, n in ((1, 30), (2, 20)):
                p["gamma%d" % l] = np.ones((n, 1)); p["beta%d" % l] = np.zeros((n, 1))
                running["mean%d" % l] = np.zeros((n, 1)); running["var%d" % l] = np.ones((n, 1))
        last_step = epochs * math.ceil(m / batch) - 1
        seed, step, cost_at, costs, done = 10, 0, [], [], []
        for epoch in range(epochs):
            seed += 1
            np.random.seed(seed)
            perm = np.random.permutation(m)
            sX, sY = Xtr[:, perm], Ytr[:, perm]
            for k in range(0, m, batch):
                mX, mY = sX[:, k:k + batch], sY[:, k:k + batch]
                loss, g, caches = bn_loss_and_grads(mX, mY, p, bn)
                if bn:  # running estimates (6.40, 6.41): unbiased batch variance
                    mb = mX.shape[1]
                    for l in (1, 2):
                        _, _, (_, _, mu, var) = caches[l - 1]
                        running["mean%d" % l] = BN_MOMENTUM * running["mean%d" % l] + (1 - BN_MOMENTUM) * mu
                        running["var%d" % l] = (BN_MOMENTUM * running["var%d" % l]
                                                + (1 - BN_MOMENTUM) * (mb / (mb - 1) * var))
                    if checks and step in (0, last_step):
                        done.append(gradient_check(step, lambda q: bn_loss(mX, mY, q), p, g, 40))
                for key in p:
                    p[key] = p[key] - lr * g[key]
                step += 1
            cost_at.append(epoch); costs.append(loss)

        def acc(X, Y):
            Z3 = bn_forward(X, p, bn, running if bn else None)[0]
            return float(np.mean(np.argmax(Z3, axis=0) == np.argmax(Y, axis=0)))
        yield report("batchnorm-" + ("bn" if bn else "plain"), cost_at, costs, done,
                     acc(Xtr, Ytr), acc(Xte, Yte))


# ---------------------------------------------------------------------------------------------
# Comparison with data/reference/seed_numbers.json


def reference_for(run):
    """(costs, train_acc, test_acc, stable_costs, stable_accuracy) of the reference, or None."""
    if run.startswith("init-"):
        r = REF["init"][run[5:]]; costs = r["costs_every_1000"]
    elif run.startswith("reg-"):
        variant, l2, keep = run[4:].split("-")
        lambd, keep_prob = l2.split("=")[1], keep.split("=")[1]
        key = variant + ("_l2_" + lambd if lambd != "0" else "") + ("_dropout_" + keep_prob if keep_prob != "1" else "")
        if lambd == "0" and keep_prob == "1":
            key = variant + "_plain"
        if key not in REF["reg"]:
            return None
        r = REF["reg"][key]; costs = r["costs_every_1000"]
    elif run in ("opt-gd", "opt-momentum", "opt-adam"):
        r = REF["opt"][run[4:]]; costs = r["costs_every_100_epochs"]
    elif run == "mnist":
        r = REF["mnist"]; costs = r["costs_every_10_epochs"]
    else:
        return None
    return costs, r["train_acc"], r.get("test_acc"), r["stable_costs"], r["stable_accuracy"]


def compare(out):
    """One line on stderr: how the run's numbers compare with the reference."""
    if out["run"] == "gradcheck":
        gc = REF["gc"]
        pairs = [("1-D", out["one_d_difference"], gc["one_d_difference"]),
                 ("buggy", out["buggy"]["difference"], gc["n_d_difference_buggy"]),
                 ("fixed", out["fixed"]["difference"], gc["n_d_difference_correct"])]
        text = ", ".join("%s %r (reference %r)" % (n, a, b) for n, a, b in pairs)
        print("  compare gradcheck: %s; wrong: %s" % (text, out["buggy"]["wrong"]), file=sys.stderr)
        return
    ref = reference_for(out["run"])
    if ref is None:
        print("  compare %s: not in the reference" % out["run"], file=sys.stderr)
        return
    costs, train_acc, test_acc, stable, stable_acc = ref
    rel = [0.0 if (math.isinf(a) and a == b) else abs(a - b) / abs(b) for a, b in zip(out["costs"], costs)]
    within = next((i for i, r in enumerate(rel) if not r <= 1e-9), len(rel))
    accs = "train_acc %s %r" % ("==" if out["train_acc"] == train_acc else "!= reference", train_acc)
    if test_acc is not None:
        accs += ", test_acc %s %r" % ("==" if out["test_acc"] == test_acc else "!= reference", test_acc)
    print("  compare %s: first %d/%d costs within 1e-9 (stable prefix %d: max rel %.1e; all: max rel %.1e);"
          " %s%s" % (out["run"], within, len(costs), stable, max(rel[:stable]), max(rel), accs,
                     "" if stable_acc else " (accuracy not stable)"), file=sys.stderr)


# ---------------------------------------------------------------------------------------------


def finite_or_none(x):
    """serde_json writes non-finite floats as null; do the same."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_none(v) for v in x]
    return x


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for i in threadpool_info() if i.get("user_api") == "blas"]


def main(argv):
    what = argv[0] if argv and not argv[0].startswith("--") else "all"
    adam_eps = argv[argv.index("--adam-eps") + 1] if "--adam-eps" in argv else "inside"
    checks = "--no-checks" not in argv
    runs = {
        "gradcheck": lambda: gradcheck_runs(checks),
        "init": lambda: init_runs(checks),
        "reg": lambda: reg_runs(checks),
        "opt": lambda: opt_runs(False, checks, adam_eps),
        "opt-sigmoid": lambda: opt_runs(True, checks, adam_eps),
        "mnist": lambda: mnist_runs(checks),
        "batchnorm": lambda: batchnorm_runs(checks),
    }
    chosen = list(runs) if what == "all" else what.split(",")
    unknown = [c for c in chosen if c not in runs]
    if unknown:
        sys.exit("unknown run %s: choose all or some of %s" % (", ".join(unknown), ", ".join(runs)))
    start = time.perf_counter()
    for name in chosen:
        t0 = time.perf_counter()
        for out in runs[name]():
            out["seconds"] = round(time.perf_counter() - t0, 2)
            print(json.dumps(finite_or_none(out)), flush=True)
            if "--compare" in argv:
                compare(out)
            t0 = time.perf_counter()
    print(json.dumps({"total_seconds": round(time.perf_counter() - start, 2), "runs": chosen,
                      "checks": checks, "blas": blas_info()}))


if __name__ == "__main__":
    main(sys.argv[1:])
