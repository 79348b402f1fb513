#!/usr/bin/python3
"""What checkpoints cost (issue 6's speed targets), interleaved rounds on this machine:
1. saving a 784-1024-1024-10 float32 checkpoint with momentum (about 15 MB) against plain
   write + fsync of as many bytes (benchmarks/checkpoint_cost);
2. mnist_nn's throughput on full Fashion-MNIST with a checkpoint every 100 updates against
   none: the example's defaults (784-25-10, full batch, float64), and the accuracy benchmark's
   settings (784-256-10, batch 256, float32).

  benchmarks/checkpoint_cost.py BUILD_DIR [--rounds 5] [--data-dir DIR] [--dir FOLDER]

BUILD_DIR must hold benchmarks/checkpoint_cost and examples/mnist_nn. Ratios are taken within
each round, then their median (min-max) over rounds.
"""
import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from driver import ENV, parse


def mnist_seconds(binary, args):
    out = subprocess.run([str(binary), *args], check=True, capture_output=True, text=True, env=ENV).stdout
    m = re.search(r"\((\d+) iterations, ([0-9.]+) s\)", out)
    return float(m.group(2)) / int(m.group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build_dir")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--dir", default=str(Path(__file__).resolve().parents[1] / "build"),
                   help="folder on the disk to measure (default: the repository's build folder)")
    a = p.parse_args()
    build = Path(a.build_dir)
    folder = tempfile.mkdtemp(dir=a.dir, prefix="pnn-ckpt-cost-")
    ckpt = str(Path(folder) / "run.ckpt")
    configs = {
        "defaults (784-25-10, full batch, float64), 200 updates": ["--iterations", "200"],
        "784-256-10, batch 256, float32, 3000 updates": ["--iterations", "3000", "--hidden", "256", "--batch-size", "256",
                                                         "--learning-rate", "2", "--precision", "float"],
    }
    base = ["--data-dir", a.data_dir, "--train-samples", "0", "--test-samples", "1", "--print-every", "0"]
    save, plain = [], []
    runs = {name: {"none": [], "every100": []} for name in configs}
    for r in range(a.rounds):
        rows = parse(subprocess.run([str(build / "benchmarks" / "checkpoint_cost"), "--dir", folder], check=True,
                                    capture_output=True, text=True, env=ENV).stdout)
        save.append(rows[("save_checkpoint", "float32")])
        plain.append(rows[("write_fsync", "float32")])
        for name, args in configs.items():
            runs[name]["none"].append(mnist_seconds(build / "examples" / "mnist_nn", base + args))
            runs[name]["every100"].append(mnist_seconds(build / "examples" / "mnist_nn",
                                                        base + args + ["--checkpoint", ckpt, "--checkpoint-every", "100"]))
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

    def spread(xs, d=2):
        return f"{statistics.median(xs):.{d}f} ({min(xs):.{d}f}-{max(xs):.{d}f})"

    ratio = [s / w for s, w in zip(save, plain)]
    print("| 784-1024-1024-10 float32 with momentum (14.9 MB) | ms, median (min-max) over rounds |")
    print("|---|---|")
    print(f"| save_checkpoint | {spread(save, 1)} |")
    print(f"| write + fsync of the same bytes | {spread(plain, 1)} |")
    print(f"| **save / write + fsync** (target ≤ 1.5) | {spread(ratio)} |")
    print()
    print("| mnist_nn on full Fashion-MNIST | ms per update, none | ms per update, checkpoint every 100 | "
          "throughput lost (target ≤ 2%) |")
    print("|---|---|---|---|")
    for name in configs:
        none, every = runs[name]["none"], runs[name]["every100"]
        lost = [100 * (e / n - 1) for n, e in zip(none, every)]
        print(f"| {name} | {spread([1e3 * x for x in none], 3)} | {spread([1e3 * x for x in every], 3)} | "
              f"{statistics.median(lost):+.2f}% ({min(lost):+.2f} to {max(lost):+.2f}) |")
    Path(ckpt).unlink(missing_ok=True)
    Path(folder).rmdir()


if __name__ == "__main__":
    main()
