#!/usr/bin/python3
"""Runs the seed's workload (one full-batch iteration, 5000 x 400, net 400-25-10, one thread) for
pnn and PyTorch, interleaved (pnn, torch, pnn, torch, ...), and prints the medians and the ratio
pnn / PyTorch per precision, with the BLAS products' sum as the limit.

  benchmarks/seed_vs_peers.py BUILD_DIR [--rounds 7] [--repeats 40] [--json FILE]

Every round runs each program once; each program reports the median of --repeats iterations.
The ratio is taken per round (same minute, same machine state), then its median over rounds.
"""
import json
import os
import platform
import statistics
import sys
from pathlib import Path

from driver import arguments, run

here = Path(__file__).resolve().parent


def main():
    a = arguments(__doc__)
    pnn = [str(Path(a.build_dir) / "benchmarks" / "seed_iteration"), "--repeats", str(a.repeats)]
    torch = [sys.executable, str(here / "peers" / "torch_seed.py"), "--repeats", str(a.repeats)]
    samples = {}
    for r in range(a.rounds):
        for cmd in (pnn, torch):
            for key, ms in run(cmd).items():
                samples.setdefault(key, []).append(ms)
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    result = {"machine": f"{platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "rounds": a.rounds, "repeats": a.repeats, "rows": []}
    print(f"| precision | pnn ms | PyTorch ms | BLAS products ms | pnn / PyTorch (median, min-max) | pnn / products |")
    print(f"|---|---|---|---|---|---|")
    for precision in ("float64", "float32"):
        p_ms = samples[("pnn", precision)]
        t_ms = samples[("torch", precision)]
        b_ms = samples[("blas_products", precision)]
        ratios = [x / y for x, y in zip(p_ms, t_ms)]
        limit = [x / y for x, y in zip(p_ms, b_ms)]
        row = {"precision": precision, "pnn_ms": statistics.median(p_ms), "torch_ms": statistics.median(t_ms),
               "blas_products_ms": statistics.median(b_ms), "ratio_torch": statistics.median(ratios),
               "ratio_torch_min": min(ratios), "ratio_torch_max": max(ratios),
               "ratio_products": statistics.median(limit)}
        result["rows"].append(row)
        print(f"| {precision} | {row['pnn_ms']:.2f} | {row['torch_ms']:.2f} | {row['blas_products_ms']:.2f} | "
              f"{row['ratio_torch']:.2f} ({row['ratio_torch_min']:.2f}-{row['ratio_torch_max']:.2f}) | "
              f"{row['ratio_products']:.2f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
