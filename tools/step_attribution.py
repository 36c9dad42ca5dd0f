#!/usr/bin/env python3
"""Share of a workload's training step spent in arithmetic, from a `perf` profile.

Records the workloads benchmark (`benches/workloads.rs`) under `perf record` and attributes
each function's self time either to arithmetic (the product kernels, libm's `exp`/`log1p`, the
elementwise, reduction, loss and optimizer loops, the dropout generator) or to everything else
(the graph, handles, layouts, allocation, the backward traversal, the data path). A replay of a
recorded step (docs/performance.md, part 6) could remove at most "everything else", so
`arithmetic share × step time` bounds the step from below for any change to the graph.

Usage (Linux with perf; the benchmark built by `cargo bench --bench workloads --no-run`):
    python3 tools/step_attribution.py target/release/deps/workloads-HASH W1 W2 W3

Development aid only: nothing in the build, tests or apps needs Python or perf.
"""
import os
import re
import subprocess
import sys
import tempfile

ARITHMETIC = re.compile(
    r"small_gemm::(tile|columns|small_gemm|fused)|matrixmultiply::|log1p|exp|__ieee754"
    r"|zip_map::\{\{closure|map_slice|pairwise_sum|times_sigmoid_minus::|times_relu_mask"
    r"|bce_values|softmax_cross_entropy_value|softmax_cross_entropy_vjp|update_elements::\{\{closure"
    r"|softmax_axis|add_broadcast_into|reduce_axis|sum_to::|fill_keep_mask|fill_uniform"
    r"|next_u64|where_mask::\{\{closure|memset"
)
SETUP = re.compile(r"NumpyRng::random_f64|workloads::main|workloads::data")


def attribute(binary, workload):
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        env = dict(os.environ, FERROGRAD_WORKLOADS=workload + "$")
        subprocess.run(
            ["perf", "record", "-o", data, "-F", "20000", binary, "--bench"],
            env=env, check=True, capture_output=True,
        )
        report = subprocess.run(
            ["perf", "report", "-i", data, "--no-children", "--stdio", "--sort", "sym",
             "-g", "none", "--percent-limit", "0"],
            check=True, capture_output=True, text=True,
        ).stdout
    arithmetic = other = 0.0
    for line in report.splitlines():
        m = re.match(r"\s+([0-9.]+)%\s+\[.\]\s+(.*)", line)
        if not m:
            continue
        share, symbol = float(m.group(1)), m.group(2).strip()
        if SETUP.search(symbol):
            continue
        if ARITHMETIC.search(symbol):
            arithmetic += share
        else:
            other += share
    return arithmetic / (arithmetic + other)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary, workloads = sys.argv[1], sys.argv[2:]
    print("| workload | arithmetic | the rest |")
    print("| --- | ---: | ---: |")
    for w in workloads:
        share = attribute(binary, w)
        print(f"| {w} | {100 * share:.1f}% | {100 * (1 - share):.1f}% |")


if __name__ == "__main__":
    main()
