"""NumPy replica of the course code the apps reproduce (development tool; nothing in the build,
tests or apps needs Python).

Used to pin down which formula variants produced ../data/reference/seed_numbers.json and to time
the NumPy reference for the README's wall-time comparison:
    python3 tools/numpy_reference.py [init|reg|opt|mnist|all] [--adam-eps inside|outside]
Prints one JSON line per run in the apps' `--json` format.
"""
import gzip, json, sys, time, os
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
REF = json.load(open(os.path.join(DATA, "reference", "seed_numbers.json")))

relu = lambda x: np.maximum(0, x)
sigmoid = lambda x: 1 / (1 + np.exp(-x))

def softmax(x):
    t = np.exp(x)
    return t / np.sum(t, axis=0)

def bce(a3, Y):
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
    return 1. / m * np.nansum(logprobs)

def forward3(X, p, out="sigmoid", keep_prob=1.0, seed=None):
    Z1 = np.dot(p["W1"], X) + p["b1"]; A1 = relu(Z1); D1 = D2 = None
    if keep_prob < 1:
        np.random.seed(seed)
        D1 = np.random.rand(A1.shape[0], A1.shape[1]) < keep_prob
        A1 = np.multiply(A1, D1); A1 = A1 / keep_prob
    Z2 = np.dot(p["W2"], A1) + p["b2"]; A2 = relu(Z2)
    if keep_prob < 1:
        D2 = np.random.rand(A2.shape[0], A1.shape[1]) < keep_prob
        A2 = np.multiply(A2, D2); A2 = A2 / keep_prob
    Z3 = np.dot(p["W3"], A2) + p["b3"]
    A3 = sigmoid(Z3) if out == "sigmoid" else softmax(Z3)
    return A3, (A1, A2, D1, D2)

def acc_binary(X, Y, p):
    a3, _ = forward3(X, p)
    return float(np.mean((a3 > 0.5)[0, :] == Y[0, :]))

def init_run(how, iters=15000):
    tr = REF["init"]["dataset"]; X = np.array(tr["train_X"]); Y = np.array(tr["train_Y"])
    Xt = np.array(tr["test_X"]); Yt = np.array(tr["test_Y"])
    dims = [2, 10, 5, 1]; p = {}
    if how != "zeros":
        np.random.seed(3)
    for l in range(1, 4):
        if how == "zeros":
            p["W%d" % l] = np.zeros((dims[l], dims[l - 1]))
        elif how == "random":
            p["W%d" % l] = np.random.randn(dims[l], dims[l - 1]) * 10
        else:
            p["W%d" % l] = np.random.randn(dims[l], dims[l - 1]) * np.sqrt(2.0 / dims[l - 1])
        p["b%d" % l] = np.zeros((dims[l], 1))
    m = X.shape[1]; costs = []
    for i in range(iters):
        a3, (a1, a2, _, _) = forward3(X, p)
        cost = bce(a3, Y)
        dz3 = 1. / m * (a3 - Y); dW3 = np.dot(dz3, a2.T); db3 = np.sum(dz3, axis=1, keepdims=True)
        da2 = np.dot(p["W3"].T, dz3); dz2 = np.multiply(da2, np.int64(a2 > 0))
        dW2 = np.dot(dz2, a1.T); db2 = np.sum(dz2, axis=1, keepdims=True)
        da1 = np.dot(p["W2"].T, dz2); dz1 = np.multiply(da1, np.int64(a1 > 0))
        dW1 = np.dot(dz1, X.T); db1 = np.sum(dz1, axis=1, keepdims=True)
        g = dict(W1=dW1, b1=db1, W2=dW2, b2=db2, W3=dW3, b3=db3)
        for k in p:
            p[k] = p[k] - 0.01 * g[k]
        if i % 1000 == 0:
            costs.append(cost)
    return dict(run="init-" + how, costs=costs, train_acc=acc_binary(X, Y, p), test_acc=acc_binary(Xt, Yt, p))

def load_mat():
    import scipy.io
    d = scipy.io.loadmat(os.path.join(DATA, "regularization_2d.mat"))
    return d["X"].T, d["y"].T, d["Xval"].T, d["yval"].T

def reg_run(variant, lambd=0.0, keep_prob=1.0, iters=30000):
    X, Y, Xt, Yt = load_mat()
    dims = [2, 20, 5, 1] if variant == "book" else [2, 20, 3, 1]
    np.random.seed(3); p = {}
    for l in range(1, 4):
        r = np.random.randn(dims[l], dims[l - 1])
        p["W%d" % l] = r / np.sqrt(0.5 * dims[l - 1]) if variant == "book" else r / np.sqrt(dims[l - 1])
        p["b%d" % l] = np.zeros((dims[l], 1))
    seed = 4 if variant == "book" else 1
    m = X.shape[1]; costs = []
    for i in range(iters):
        a3, (A1, A2, D1, D2) = forward3(X, p, keep_prob=keep_prob, seed=seed)
        cost = bce(a3, Y)
        if lambd:
            cost = cost + (1. / m) * (lambd / 2) * (np.sum(np.square(p["W1"])) + np.sum(np.square(p["W2"])) + np.sum(np.square(p["W3"])))
        dZ3 = a3 - Y
        def dW(dZ, A, W):
            if not lambd:
                return 1. / m * np.dot(dZ, A.T)
            if variant == "book":
                return 1. / m * (np.dot(dZ, A.T) + lambd * W)
            return 1. / m * np.dot(dZ, A.T) + lambd / m * W
        dW3 = dW(dZ3, A2, p["W3"]); db3 = 1. / m * np.sum(dZ3, axis=1, keepdims=True)
        dA2 = np.dot(p["W3"].T, dZ3)
        if keep_prob < 1:
            dA2 = np.multiply(dA2, D2); dA2 = dA2 / keep_prob
        dZ2 = np.multiply(dA2, np.int64(A2 > 0))
        dW2 = dW(dZ2, A1, p["W2"]); db2 = 1. / m * np.sum(dZ2, axis=1, keepdims=True)
        dA1 = np.dot(p["W2"].T, dZ2)
        if keep_prob < 1:
            dA1 = np.multiply(dA1, D1); dA1 = dA1 / keep_prob
        dZ1 = np.multiply(dA1, np.int64(A1 > 0))
        dW1 = dW(dZ1, X, p["W1"]); db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)
        g = dict(W1=dW1, b1=db1, W2=dW2, b2=db2, W3=dW3, b3=db3)
        for k in p:
            p[k] = p[k] - 0.3 * g[k]
        if i % 1000 == 0:
            costs.append(cost)
    return dict(run="reg-%s-l2=%g-keep=%g" % (variant, lambd, keep_prob), costs=costs,
                train_acc=acc_binary(X, Y, p), test_acc=acc_binary(Xt, Yt, p))

def minibatch_train(X, Y, dims, optimizer, lr, epochs, batch, every, adam_eps="inside", beta=0.9, b1=0.9, b2=0.999, eps=1e-8):
    np.random.seed(3); p = {}
    for l in range(1, len(dims)):
        p["W%d" % l] = np.random.randn(dims[l], dims[l - 1]) * np.sqrt(2 / dims[l - 1])
        p["b%d" % l] = np.zeros((dims[l], 1))
    v = {k: np.zeros(w.shape) for k, w in p.items()}; s = {k: np.zeros(w.shape) for k, w in p.items()}
    t = 0; seed = 10; costs = []; m = X.shape[1]
    for i in range(epochs):
        seed = seed + 1
        np.random.seed(seed)
        perm = list(np.random.permutation(m))
        sX = X[:, perm]; sY = Y[:, perm].reshape((Y.shape[0], m))
        for k in range(0, m, batch):
            mX = sX[:, k:k + batch]; mY = sY[:, k:k + batch]; mb = mX.shape[1]
            a3, (a1, a2, _, _) = forward3(mX, p, out="softmax" if Y.shape[0] > 1 else "sigmoid")
            if Y.shape[0] == 1:
                cost = 1. / mb * np.sum(np.multiply(-np.log(a3), mY) + np.multiply(-np.log(1 - a3), 1 - mY))
            else:
                cost = np.squeeze(-1 / mb * np.sum(np.multiply(np.log(a3), mY)))
            dz3 = 1. / mb * (a3 - mY); dW3 = np.dot(dz3, a2.T); db3 = np.sum(dz3, axis=1, keepdims=True)
            da2 = np.dot(p["W3"].T, dz3); dz2 = np.multiply(da2, np.int64(a2 > 0))
            dW2 = np.dot(dz2, a1.T); db2 = np.sum(dz2, axis=1, keepdims=True)
            da1 = np.dot(p["W2"].T, dz2); dz1 = np.multiply(da1, np.int64(a1 > 0))
            dW1 = np.dot(dz1, mX.T); db1 = np.sum(dz1, axis=1, keepdims=True)
            g = dict(W1=dW1, b1=db1, W2=dW2, b2=db2, W3=dW3, b3=db3)
            if optimizer == "adam":
                t = t + 1
            for key in p:
                if optimizer == "gd":
                    p[key] = p[key] - lr * g[key]
                elif optimizer == "momentum":
                    v[key] = beta * v[key] + (1 - beta) * g[key]
                    p[key] = p[key] - lr * v[key]
                else:
                    v[key] = b1 * v[key] + (1 - b1) * g[key]
                    vc = v[key] / (1 - np.power(b1, t))
                    s[key] = b2 * s[key] + (1 - b2) * np.power(g[key], 2)
                    sc = s[key] / (1 - np.power(b2, t))
                    if adam_eps == "inside":
                        p[key] = p[key] - lr * vc / np.sqrt(sc + eps)
                    else:
                        p[key] = p[key] - lr * vc / (np.sqrt(sc) + eps)
        if i % every == 0:
            costs.append(float(cost))
    return p, costs

def predict_multi(X, p):
    a3, _ = forward3(X, p, out="softmax")
    return np.argmax(a3, axis=0)

def opt_run(optimizer, adam_eps):
    d = REF["opt"]["dataset"]; X = np.array(d["X"]); labels = np.array(d["Y"]).astype(int)
    Y = np.eye(2)[labels.reshape(-1)].T
    lr = REF["opt"][optimizer]["lr"]
    p, costs = minibatch_train(X, Y, [2, 5, 2, 2], optimizer, lr, 1000, 64, 100, adam_eps)
    return dict(run="opt-" + optimizer, costs=costs, train_acc=float(np.mean(predict_multi(X, p) == labels[0])))

def load_idx(path):
    raw = gzip.open(path).read()
    if raw[2] == 8 and raw[3] == 3:
        n, r, c = np.frombuffer(raw[4:16], ">u4")
        return np.frombuffer(raw[16:], np.uint8).reshape(n, r * c)
    n = np.frombuffer(raw[4:8], ">u4")[0]
    return np.frombuffer(raw[8:], np.uint8)

def mnist_run(scaling="fac"):
    imgs = load_idx(os.path.join(DATA, "mnist", "t10k-images-idx3-ubyte.gz")).astype(np.float64)
    labels = load_idx(os.path.join(DATA, "mnist", "t10k-labels-idx1-ubyte.gz")).astype(int)
    fac = 0.99 / 255
    x = imgs * fac + 0.01 if scaling == "fac" else imgs * 0.99 / 255 + 0.01
    X = x.T; n = 8000
    Xtr, Xte = X[:, :n], X[:, n:]; ltr, lte = labels[:n], labels[n:]
    Y = np.eye(10)[ltr].T
    p, costs = minibatch_train(Xtr, Y, [784, 30, 20, 10], "gd", 0.001, 100, 32, 10)
    return dict(run="mnist", costs=costs, train_acc=float(np.mean(predict_multi(Xtr, p) == ltr)),
                test_acc=float(np.mean(predict_multi(Xte, p) == lte)))

if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    # Seed 001 writes Adam's epsilon inside the square root (np.sqrt(s_corrected + epsilon), eq. 6.49):
    # that placement reproduces opt.adam of seed_numbers.json; "outside" is the course notebook's form.
    adam_eps = sys.argv[sys.argv.index("--adam-eps") + 1] if "--adam-eps" in sys.argv else "inside"
    start = time.time()
    runs = []
    if what in ("init", "all"):
        runs += [lambda h=h: init_run(h) for h in ("zeros", "random", "he")]
    if what in ("reg", "all"):
        runs += [lambda: reg_run("book"), lambda: reg_run("book", lambd=0.1), lambda: reg_run("book", keep_prob=0.8),
                 lambda: reg_run("book", lambd=0.1, keep_prob=0.9), lambda: reg_run("course"),
                 lambda: reg_run("course", lambd=0.7), lambda: reg_run("course", keep_prob=0.86)]
    if what in ("opt", "all"):
        runs += [lambda o=o: opt_run(o, adam_eps) for o in ("momentum", "gd", "adam")]
    if what in ("mnist", "all"):
        runs += [lambda: mnist_run(sys.argv[2] if len(sys.argv) > 2 and what == "mnist" else "fac")]
    for r in runs:
        t0 = time.time(); out = r(); out["seconds"] = round(time.time() - t0, 2)
        print(json.dumps(out), flush=True)
    print(json.dumps({"total_seconds": round(time.time() - start, 2)}))
