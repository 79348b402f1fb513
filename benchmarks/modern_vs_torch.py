#!/usr/bin/python3
"""Issue 12's targets: a modern net on full Fashion-MNIST, pnn against PyTorch.

  benchmarks/modern_vs_torch.py BUILD_DIR [--rounds 5] [--epochs 10] [--data-dir DIR]
                                [--mpi-rounds 5] [--adam-rounds 5] [--parts 1,2,3]

1. Accuracy and time side by side: 784-256-128-10, ReLU, softmax, AdamW (lr 1e-3, weight decay
   0.01), batch 128, float32, one thread; pnn's mnist_nn and PyTorch (peers/torch_modern.py)
   alternating, round r seeding both with r. Each side's time per epoch is also given as a
   multiple of its library's matrix products of one epoch timed alone (numpy's OpenBLAS, which
   pnn's wide products go to; torch.mm), so the comparison shows where the rest goes.
2. The same settings on 2 ranks (mnist_nn_data_parallelism, 64 rows per rank per update) against
   the no-communication limit: two Local runs of 30000 rows with batch 64, side by side (the
   slower one). Medians of the time per update, one epoch each. Each round runs the 2 ranks with
   the sharded update (the default: each rank updates its own part of the parameters) and with
   --sharded-update off (every rank updates all of them), then the limit. Then the same step
   measured interleaved inside one 2-rank run (overlap_step --modern 1: the data-parallel fit
   and a Local fit of each rank's 30000 rows with batch 64, alternating every 300 updates in the
   same processes), where the host's drift between programs cannot reach the ratio.
3. Adam's fused update on 64 Mi float parameters against the bandwidth limit of its traffic
   (adam_update: θ, gradient, both moments and the mask read, θ and both moments written).
Every ratio is taken per round, then the median (min-max) over rounds is reported.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: the products on one thread
import numpy as np  # noqa: E402

from driver import ENV, parse  # noqa: E402

here = Path(__file__).resolve().parent
SIZES = [784, 256, 128, 10]
TRAIN = 60000


def numpy_products_per_epoch(batch):
    """One epoch's products as pnn's BLAS computes them (numpy float32 on OpenBLAS): per batch,
    forward a W^T for each layer, the weight gradients delta^T a, and delta W but for the first."""
    rng = np.random.default_rng(0)
    a = [rng.random((batch, n), dtype=np.float32) for n in SIZES]
    w = [rng.random((SIZES[l + 1], SIZES[l]), dtype=np.float32) for l in range(3)]
    d = [rng.random((batch, SIZES[l + 1]), dtype=np.float32) for l in range(3)]
    start = time.perf_counter()
    for _ in range((TRAIN + batch - 1) // batch):
        for l in range(3):
            a[l] @ w[l].T
            d[l].T @ a[l]
            if l > 0:
                d[l] @ w[l]
    return time.perf_counter() - start


def median_range(values):
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def verdict(ratios, target):
    """met where the median ratio is at most the target"""
    return "met" if statistics.median(ratios) <= target else "**not met**"


def per_update_ms(text):
    return float(re.search(r"time per iteration: ([0-9.]+) ms median", text).group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build_dir")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--mpi-rounds", type=int, default=5)
    p.add_argument("--adam-rounds", type=int, default=5)
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--parts", default="1,2,3", help="which of the three measurements to run, e.g. 2")
    a = p.parse_args()
    parts = {int(x) for x in a.parts.split(",")}
    build = Path(a.build_dir)
    batch = 128
    per_epoch = (TRAIN + batch - 1) // batch
    modern = ["--data-dir", a.data_dir, "--test-samples", "0", "--hidden", "256", "128", "--activation", "relu",
              "--output", "softmax", "--optimizer", "adam", "--weight-decay", "0.01", "--precision", "float",
              "--print-every", "0"]
    mnist_nn = str(build / "examples" / "mnist_nn")

    if 1 in parts:
        accuracy_and_time(a, mnist_nn, modern, batch, per_epoch)
    if 2 in parts:
        two_ranks_against_limit(a, build, mnist_nn, modern, batch, per_epoch)
    if 3 in parts:
        adam_against_bandwidth(a, build)


def accuracy_and_time(a, mnist_nn, modern, batch, per_epoch):
    """1. accuracy and time per epoch"""
    runs = {"pnn": [], "torch": []}
    for r in range(1, a.rounds + 1):
        out = subprocess.run([mnist_nn, *modern, "--train-samples", "0", "--batch-size", str(batch), "--iterations",
                              str(a.epochs * per_epoch), "--seed", str(r), "--shuffle-seed", str(r)],
                             check=True, capture_output=True, text=True, env=ENV).stdout
        acc = float(re.search(r"test accuracy ([0-9.]+)%", out).group(1))
        total = float(re.search(r"iterations, ([0-9.]+) s\)", out).group(1))
        products = numpy_products_per_epoch(batch)
        runs["pnn"].append((acc, total / a.epochs, products))
        fields = subprocess.run([sys.executable, str(here / "peers" / "torch_modern.py"), "--data-dir", a.data_dir,
                                 "--epochs", str(a.epochs), "--seed", str(r)],
                                check=True, capture_output=True, text=True, env=ENV).stdout.split()
        runs["torch"].append((float(fields[1]), float(fields[2]), float(fields[3])))
        print(f"round {r}: pnn {runs['pnn'][-1]}, torch {runs['torch'][-1]}", file=sys.stderr, flush=True)
    print(f"### Fashion-MNIST 784-256-128-10, ReLU, softmax, AdamW (lr 1e-3, wd 0.01), batch {batch}, "
          f"{a.epochs} epochs, float32, one thread\n")
    print("| program | test accuracy % per seed 1.. | mean % | s per epoch, median (min-max) | "
          "products alone, s per epoch | epoch / products |")
    print("|---|---|---|---|---|---|")
    for name, label in (("pnn", "pnn mnist_nn (He/Glorot init)"), ("torch", "PyTorch (nn.Linear init)")):
        accs = [x[0] for x in runs[name]]
        secs = [x[1] for x in runs[name]]
        prods = [x[2] for x in runs[name]]
        print(f"| {label} | {', '.join(f'{v:.2f}' for v in accs)} | {statistics.mean(accs):.2f} | "
              f"{statistics.median(secs):.3f} ({min(secs):.3f}-{max(secs):.3f}) | {statistics.median(prods):.3f} | "
              f"{median_range([s / q for s, q in zip(secs, prods)])} |")
    gap = statistics.mean(x[0] for x in runs["pnn"]) - statistics.mean(x[0] for x in runs["torch"])
    ratio = [p[1] / t[1] for p, t in zip(runs["pnn"], runs["torch"])]
    print(f"\n| target | result | |\n|---|---|---|")
    print(f"| mean test accuracy within 0.3 points of PyTorch's | {gap:+.2f} points | "
          f"{'met' if abs(gap) <= 0.3 else '**not met**'} |")
    print(f"| time per epoch <= 0.8x PyTorch's | {median_range(ratio)} | "
          f"{verdict(ratio, 0.8)} |")



def two_ranks_against_limit(a, build, mnist_nn, modern, batch, per_epoch):
    """2. two ranks against two Local halves side by side"""
    mpi = ["mpirun", "-np", "2", "--bind-to", "core", str(build / "examples" / "mnist_nn_data_parallelism"), *modern,
           "--train-samples", "0", "--batch-size", str(batch), "--iterations", str(per_epoch)]
    half = [mnist_nn, *modern, "--train-samples", str(TRAIN // 2), "--batch-size", str(batch // 2), "--iterations",
            str(per_epoch)]
    ratios, whole = [], []
    for r in range(a.mpi_rounds):
        two = per_update_ms(subprocess.run(mpi, check=True, capture_output=True, text=True, env=ENV).stdout)
        off = per_update_ms(subprocess.run(mpi + ["--sharded-update", "off"], check=True, capture_output=True,
                                           text=True, env=ENV).stdout)
        procs = [subprocess.Popen(half, stdout=subprocess.PIPE, text=True, env=ENV) for _ in range(2)]
        limit = max(per_update_ms(q.communicate()[0]) for q in procs)
        ratios.append(two / limit)
        whole.append(off / limit)
        print(f"mpi round {r + 1}: 2 ranks {two:.3f} ms (sharded update), {off:.3f} ms (whole update), "
              f"limit {limit:.3f} ms", file=sys.stderr, flush=True)
    print(f"| 2 ranks <= 1.1x the no-communication limit | {median_range(ratios)} | "
          f"{verdict(ratios, 1.1)} |")
    print(f"| (the same with --sharded-update off) | {median_range(whole)} | |")
    interleaved_against_limit(a, build)


def interleaved_against_limit(a, build):
    """2b. the 2-rank step and its limit alternating inside one run"""
    cmd = ["mpirun", "-np", "2", "--bind-to", "core", str(build / "benchmarks" / "overlap_step"), "--hidden", "256,128",
           "--rows", str(TRAIN // 2), "--batch", "128", "--modern", "1", "--steps", "300", "--data-dir", a.data_dir,
           "--rounds", str(2 * a.mpi_rounds)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV).stdout
    rounds = [json.loads(line) for line in out.splitlines() if line.startswith('{"round"')]
    ratios = [r["auto"] / r["alone"] for r in rounds]
    print(f"| the same, interleaved in one run ({len(rounds)} rounds of 300 updates; "
          f"{statistics.median(r['auto'] for r in rounds):.3f} against {statistics.median(r['alone'] for r in rounds):.3f} "
          f"ms) | {median_range(ratios)} | {verdict(ratios, 1.1)} |")


def adam_against_bandwidth(a, build):
    """3. Adam's update against its bandwidth limit"""
    ratios = []
    for r in range(a.adam_rounds):
        rows = parse(subprocess.run([str(build / "benchmarks" / "adam_update"), "--repeats", "5"], check=True,
                                    capture_output=True, text=True, env=ENV).stdout)
        ratios.append(rows[("adam", "float")] / rows[("limit", "float")])
    print(f"| Adam's update <= 1.2x its bandwidth limit (64 Mi float parameters) | {median_range(ratios)} | "
          f"{verdict(ratios, 1.2)} |")


if __name__ == "__main__":
    main()
