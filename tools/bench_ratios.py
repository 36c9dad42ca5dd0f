#!/usr/bin/env python3
"""Engine-versus-baseline ratios from the criterion results of `cargo bench --bench matmul` and
`cargo bench --bench mlp_step` (reads target/criterion/*/*/*/new/estimates.json; medians).

Usage: python3 tools/bench_ratios.py [target/criterion]
Development aid only: nothing in the build, tests or apps needs Python.
"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")


def median_ns(group, impl, size):
    path = root / group / impl / str(size) / "new" / "estimates.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"]


print(f"{'benchmark':22} {'size':>5} {'engine':>12} {'baseline':>12} {'ratio':>7}  extra")
for dtype in ("f32", "f64"):
    for n in (64, 256, 1024):
        e, r = median_ns(f"matmul_{dtype}", "engine", n), median_ns(f"matmul_{dtype}", "matrixmultiply", n)
        if e and r:
            gflops = lambda t: 2 * n**3 / t
            print(f"{'matmul_' + dtype:22} {n:>5} {e / 1e3:>10.1f}us {r / 1e3:>10.1f}us {e / r:>7.3f}"
                  f"  {gflops(e):.1f} vs {gflops(r):.1f} GFLOP/s")
    for m in (32, 256):
        e, h = median_ns(f"mlp_step_{dtype}", "engine", m), median_ns(f"mlp_step_{dtype}", "hand", m)
        if e and h:
            print(f"{'mlp_step_' + dtype:22} {m:>5} {e / 1e3:>10.1f}us {h / 1e3:>10.1f}us {e / h:>7.3f}")
