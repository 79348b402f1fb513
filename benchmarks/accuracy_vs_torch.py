#!/usr/bin/python3
"""Fashion-MNIST side by side (issue 5): the seed's model (784-256-10 sigmoid, the seed's cost),
batch-256 SGD at learning rate 2.0, 20 epochs, float32, one thread, trained by pnn's mnist_nn
and by PyTorch (benchmarks/peers/torch_fashion.py), alternating (pnn, torch, pnn, ...).
Round r seeds both with r (pnn's initial weights and shuffle, PyTorch's generator): one seed
moves the test accuracy by a point or more, so the two are compared over seeds, by their means.

  benchmarks/accuracy_vs_torch.py BUILD_DIR [--rounds 5] [--epochs 20] [--data-dir DIR]

Prints each run's test accuracy and seconds per epoch, the mean accuracies and median times.
"""
import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

from driver import ENV

here = Path(__file__).resolve().parent


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build_dir")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    a = p.parse_args()
    steps = a.epochs * ((60000 + 255) // 256)
    pnn = [str(Path(a.build_dir) / "examples" / "mnist_nn"), "--data-dir", a.data_dir, "--train-samples", "0",
           "--test-samples", "0", "--hidden", "256", "--batch-size", "256", "--learning-rate", "2",
           "--iterations", str(steps), "--precision", "float", "--print-every", "0"]
    torch = [sys.executable, str(here / "peers" / "torch_fashion.py"), "--data-dir", a.data_dir,
             "--epochs", str(a.epochs)]
    runs = {"pnn": [], "torch": []}
    for r in range(a.rounds):
        seed = ["--seed", str(r + 1)]
        out = subprocess.run(pnn + seed + ["--shuffle-seed", str(r + 1)], check=True, capture_output=True, text=True, env=ENV).stdout
        acc = float(re.search(r"test accuracy ([0-9.]+)%", out).group(1))
        total = float(re.search(r"iterations, ([0-9.]+) s\)", out).group(1))
        runs["pnn"].append((acc, total / a.epochs))
        fields = subprocess.run(torch + seed, check=True, capture_output=True, text=True, env=ENV).stdout.split()
        runs["torch"].append((float(fields[1]), float(fields[2])))
        print(f"round {r + 1}: pnn {runs['pnn'][-1]}, torch {runs['torch'][-1]}", file=sys.stderr)
    print("| program | test accuracy % per seed 1.. | mean accuracy % | s per epoch (median, min-max) |")
    print("|---|---|---|---|")
    for name, label in (("pnn", "pnn mnist_nn"), ("torch", "PyTorch")):
        accs = [x[0] for x in runs[name]]
        secs = [x[1] for x in runs[name]]
        print(f"| {label} | {', '.join(f'{v:.2f}' for v in accs)} | {statistics.mean(accs):.2f} | "
              f"{statistics.median(secs):.3f} ({min(secs):.3f}-{max(secs):.3f}) |")
    gap = statistics.mean(x[0] for x in runs["pnn"]) - statistics.mean(x[0] for x in runs["torch"])
    ratio = [p[1] / t[1] for p, t in zip(runs["pnn"], runs["torch"])]
    print(f"\npnn - PyTorch, mean test accuracy: {gap:+.2f} points; pnn / PyTorch time per epoch: "
          f"{statistics.median(ratio):.2f} (median over rounds, {min(ratio):.2f}-{max(ratio):.2f})")


if __name__ == "__main__":
    main()
