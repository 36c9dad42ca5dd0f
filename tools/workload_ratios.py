#!/usr/bin/env python3
"""NumPy / ferrograd time ratios of whole training steps, workloads W1-W5 (docs/performance.md).

Runs `cargo bench --bench workloads` (ferrograd through its public API, data path included),
then the course-style NumPy version of each workload on the same data and initial weights
(NumPy's legacy generator seeded as the benchmark seeds ferrograd's NumPy-compatible one), in
the same session, and prints microseconds per optimizer step and the ratio NumPy / ferrograd.
The cost after the warm-up steps must agree between the two (dropout runs draw their masks from
different generators and are not compared).

Usage:
    python3 tools/workload_ratios.py                 # run both, print the table
    python3 tools/workload_ratios.py --rust FILE     # reuse the benchmark's saved output
    FERROGRAD_WORKLOADS=W1,W4 python3 tools/workload_ratios.py

NumPy runs in a child process per thread count, with OPENBLAS_NUM_THREADS (and the other BLAS
thread variables) set before NumPy loads: 1 thread for W1-W4, 2 for W5. One-thread timings are
the thread's CPU time, threaded ones wall-clock time, as in the benchmark.

Development aid only: nothing in the build, tests or apps needs Python.
"""
import json
import os
import subprocess
import sys
import time

SPECS = {
    # name: dims, m, batch, dtype, lr, optimizer, l2 lambda, keep_prob, threads, warmup epochs, epochs
    "W1": ([2, 10, 5, 1], 300, 300, "f64", 0.01, "gd", None, None, 1, 10, 2000),
    "W2": ([2, 20, 5, 1], 211, 211, "f64", 0.3, "gd", None, None, 1, 10, 2000),
    "W2_l2": ([2, 20, 5, 1], 211, 211, "f64", 0.3, "gd", 0.7, None, 1, 10, 2000),
    "W2_dropout": ([2, 20, 5, 1], 211, 211, "f64", 0.3, "gd", None, 0.86, 1, 10, 2000),
    "W3": ([2, 5, 2, 1], 300, 64, "f64", 0.0007, "adam", None, None, 1, 1, 500),
    "W4_f64": ([784, 30, 20, 10], 10000, 32, "f64", 0.001, "gd", None, None, 1, 1, 2),
    "W4_f32": ([784, 30, 20, 10], 10000, 32, "f32", 0.001, "gd", None, None, 1, 1, 2),
    "W5_f32_1t": ([784, 1024, 1024, 10], 12800, 256, "f32", 0.01, "gd", None, None, 1, 1, 1),
    "W5_f32": ([784, 1024, 1024, 10], 12800, 256, "f32", 0.01, "gd", None, None, 2, 1, 1),
}

LABELS = {
    "W1": "W1 [2,10,5,1] m=300 full-batch GD",
    "W2": "W2 [2,20,5,1] m=211 GD",
    "W2_l2": "W2 + L2 (lambda 0.7)",
    "W2_dropout": "W2 + dropout 0.86",
    "W3": "W3 [2,5,2,1] m=300 b=64 Adam",
    "W4_f64": "W4 [784,30,20,10] b=32 f64",
    "W4_f32": "W4 same, f32",
    "W5_f32_1t": "W5 [784,1024,1024,10] b=256 f32",
    "W5_f32": "W5 [784,1024,1024,10] b=256 f32",
}


def numpy_workload(name):
    import numpy as np

    dims, m, batch, dt, lr, opt, l2, keep_prob, threads, warmup, epochs = SPECS[name]
    dtype = np.float32 if dt == "f32" else np.float64
    L = len(dims) - 1
    binary = dims[-1] == 1
    np.random.seed(1)
    X = np.random.rand(dims[0], m)
    if binary:
        X = X * 2 - 1
        Y = (np.random.rand(1, m) < 0.5).astype(dtype)
    else:
        labels = (np.random.rand(m) * dims[-1]).astype(np.int64)
        Y = np.eye(dims[-1], dtype=dtype)[labels].T.copy()
    X = X.astype(dtype)
    np.random.seed(2)
    params = {}
    for l in range(1, L + 1):
        a = np.sqrt(6.0 / dims[l - 1])
        params["W" + str(l)] = np.random.uniform(-a, a, (dims[l], dims[l - 1])).astype(dtype)
        params["b" + str(l)] = np.zeros((dims[l], 1), dtype=dtype)
    np.random.seed(3)
    adam = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    t_adam = [0]

    def random_mini_batches(X, Y, size):
        mm = X.shape[1]
        permutation = list(np.random.permutation(mm))
        shuffled_X = X[:, permutation]
        shuffled_Y = Y[:, permutation].reshape((Y.shape[0], mm))
        out = []
        for k in range(0, mm, size):
            out.append((shuffled_X[:, k:k + size], shuffled_Y[:, k:k + size]))
        return out

    def step(Xb, Yb):
        mb = Xb.shape[1]
        caches = []
        A = Xb
        for l in range(1, L):
            Z = np.dot(params["W" + str(l)], A) + params["b" + str(l)]
            A_prev = A
            A = np.maximum(0, Z)
            D = None
            if keep_prob is not None:
                D = np.random.rand(A.shape[0], A.shape[1]) < keep_prob
                A = A * D
                A = A / keep_prob
            caches.append((A_prev, Z, D))
        ZL = np.dot(params["W" + str(L)], A) + params["b" + str(L)]
        caches.append((A, ZL, None))
        if binary:
            AL = 1 / (1 + np.exp(-ZL))
            logprobs = np.multiply(-np.log(AL), Yb) + np.multiply(-np.log(1 - AL), 1 - Yb)
            cost = 1.0 / mb * np.nansum(logprobs)
        else:
            e = np.exp(ZL - np.max(ZL, axis=0, keepdims=True))
            AL = e / np.sum(e, axis=0, keepdims=True)
            cost = -np.sum(Yb * np.log(AL)) / mb
        if l2 is not None:
            cost = cost + (1.0 / mb) * (l2 / 2) * sum(
                np.sum(np.square(params["W" + str(l)])) for l in range(1, L + 1))
        grads = {}
        dZ = AL - Yb
        for l in range(L, 0, -1):
            A_prev, _, _ = caches[l - 1]
            W = params["W" + str(l)]
            grads["W" + str(l)] = 1.0 / mb * np.dot(dZ, A_prev.T)
            if l2 is not None:
                grads["W" + str(l)] = grads["W" + str(l)] + l2 / mb * W
            grads["b" + str(l)] = 1.0 / mb * np.sum(dZ, axis=1, keepdims=True)
            if l > 1:
                dA = np.dot(W.T, dZ)
                _, Z, D = caches[l - 2]
                if D is not None:
                    dA = dA * D
                    dA = dA / keep_prob
                dZ = np.multiply(dA, np.int64(Z > 0))
        if opt == "gd":
            for k in params:
                params[k] = params[k] - lr * grads[k]
        else:
            t_adam[0] += 1
            t = t_adam[0]
            beta1, beta2, eps = 0.9, 0.999, 1e-8
            for k in params:
                v, s = adam[k]
                v = beta1 * v + (1 - beta1) * grads[k]
                s = beta2 * s + (1 - beta2) * np.square(grads[k])
                adam[k] = (v, s)
                v_corr = v / (1 - beta1 ** t)
                s_corr = s / (1 - beta2 ** t)
                params[k] = params[k] - lr * v_corr / np.sqrt(s_corr + eps)
        return float(cost)

    full = batch >= m

    def epoch():
        batches = [(X, Y)] if full else random_mini_batches(X, Y, batch)
        cost = None
        for Xb, Yb in batches:
            cost = step(Xb, Yb)
        return cost, len(batches)

    for _ in range(warmup):
        check, _ = epoch()
    clock = time.thread_time if threads == 1 else time.perf_counter
    times = []
    for _ in range(3):
        t0 = clock()
        steps = 0
        for _ in range(epochs):
            _, n = epoch()
            steps += n
        times.append((clock() - t0) * 1e6 / steps)
    times.sort()
    return times[1], check


def run_numpy_child(names):
    for name in names:
        us, check = numpy_workload(name)
        print("RESULT " + json.dumps({"name": name, "us_per_step": us, "check_cost": check}), flush=True)


def parse(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("RESULT "):
            r = json.loads(line[len("RESULT "):])
            out[r["name"]] = r
    return out


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--numpy-child":
        run_numpy_child(sys.argv[2].split(","))
        return
    selected = os.environ.get("FERROGRAD_WORKLOADS")
    names = [n for n in SPECS if not selected or any(n.startswith(s) for s in selected.split(","))]
    if len(sys.argv) > 2 and sys.argv[1] == "--rust":
        rust_text = open(sys.argv[2]).read()
    else:
        proc = subprocess.run(["cargo", "bench", "--bench", "workloads"], check=True,
                              stdout=subprocess.PIPE, text=True)
        rust_text = proc.stdout
    rust = parse(rust_text)
    numpy = {}
    for threads in sorted({SPECS[n][8] for n in names}):
        group = [n for n in names if SPECS[n][8] == threads]
        env = dict(os.environ)
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
        proc = subprocess.run([sys.executable, __file__, "--numpy-child", ",".join(group)],
                              check=True, stdout=subprocess.PIPE, text=True, env=env)
        numpy.update(parse(proc.stdout))
    print(f"| workload | threads | ferrograd µs/step | NumPy µs/step | ratio NumPy/ferrograd | cost after warm-up (ferrograd / NumPy) |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for n in names:
        if n not in rust or n not in numpy:
            continue
        r, p = rust[n], numpy[n]
        if r.get("dropout"):
            agree = "different mask generators"
        else:
            rel = abs(r["check_cost"] - p["check_cost"]) / max(abs(p["check_cost"]), 1e-300)
            agree = f"{r['check_cost']:.6g} / {p['check_cost']:.6g} (rel. diff {rel:.1e})"
        print(f"| {LABELS[n]} | {SPECS[n][8]} | {r['us_per_step']:.1f} | {p['us_per_step']:.1f} | "
              f"{p['us_per_step'] / r['us_per_step']:.2f}x | {agree} |")
    threaded = [n for n in names if n in rust and SPECS[n][8] > 1]
    if threaded:
        print()
        for n in threaded:
            print(f"{LABELS[n]} at {SPECS[n][8]} threads: ferrograd's process CPU time "
                  f"{rust[n]['process_cpu_us_per_step']:.1f} µs per step (all threads), wall "
                  f"{rust[n]['us_per_step']:.1f} µs")
    peaks = {k: rust[k] for k in ("peak_sgemm", "peak_dgemm") if k in rust}
    if peaks:
        print()
        print("| product rate (GFLOP/s) | 1 thread | 2 threads |")
        print("| --- | ---: | ---: |")
        for k, v in peaks.items():
            print(f"| matrixmultiply {k[5:]} 1024^3 | {v['gflops_1t']:.1f} | {v['gflops_2t']:.1f} |")
        print()
        print("| workload | GFLOP per step | ferrograd GFLOP/s | share of the gemm peak at its threads |")
        print("| --- | ---: | ---: | ---: |")
        for n in names:
            if n not in rust or not n.startswith(("W4", "W5")):
                continue
            dims, batch, dt, threads = SPECS[n][0], SPECS[n][2], SPECS[n][3], SPECS[n][8]
            mats = [dims[l] * dims[l - 1] for l in range(1, len(dims))]
            # forward W·A, backward dW = dZ·Aᵀ, and dA = Wᵀ·dZ for every layer but the first
            flops = 2 * batch * (2 * sum(mats) + sum(mats[1:]))
            rate = flops / (rust[n]["us_per_step"] * 1e3)
            key = "peak_sgemm" if dt == "f32" else "peak_dgemm"
            share = ""
            if key in peaks:
                peak = peaks[key]["gflops_1t" if threads == 1 else "gflops_2t"]
                share = f"{100 * rate / peak:.0f}%"
            print(f"| {LABELS[n]} ({threads} thread{'s' if threads > 1 else ''}) | {flops / 1e9:.4f} | {rate:.1f} | {share} |")


if __name__ == "__main__":
    main()
