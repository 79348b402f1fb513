#!/usr/bin/python3
"""A golden check of pnn against PyTorch autograd and torch.optim.AdamW (issue 12): the same
initial weights, the same data, k full-batch AdamW updates in float64 in each, and the weights
compared. pnn's mnist_nn writes its initial weights (--iterations 0 --checkpoint) and its weights
after k updates into checkpoints, which this script reads; PyTorch starts from the first and
trains with the biases in a group of weight decay 0.

  benchmarks/golden_vs_torch.py BUILD_DIR [--data-dir DIR] [--samples 2000] [--updates 20]

For each of ReLU / tanh / sigmoid hidden units with a softmax output, and ReLU with the seed's
sigmoid output, prints the largest relative difference of the final weights and of the costs.
"""
import argparse
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from driver import ENV

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from torch_fashion import load  # noqa: E402


def read_checkpoint(path):
    """(sizes, weights as one float64 array) of a version-2 pnn checkpoint of a double net."""
    b = Path(path).read_bytes()
    assert b[:7] == b"PNNCKPT" and struct.unpack_from("<I", b, 8)[0] == 2
    header = struct.unpack_from("<I", b, 12)[0]
    element, layers = struct.unpack_from("<II", b, 16)
    assert element == 8
    sizes = list(struct.unpack_from(f"<{layers}Q", b, 24))
    count = struct.unpack_from("<Q", b, 24 + 8 * layers + (layers - 1) + 8)[0]
    start = 16 + header
    return sizes, np.frombuffer(b, dtype="<f8", count=count, offset=start).copy()


def thetas(sizes, flat):
    out, at = [], 0
    for l in range(len(sizes) - 1):
        rows, cols = sizes[l + 1], sizes[l] + 1
        out.append(flat[at:at + rows * cols].reshape(rows, cols))
        at += rows * cols
    return out


def torch_run(sizes, theta0, x, y, activation, output, updates, lr, wd, lam):
    weights = [torch.tensor(t[:, 1:], dtype=torch.float64, requires_grad=True) for t in theta0]
    biases = [torch.tensor(t[:, 0], dtype=torch.float64, requires_grad=True) for t in theta0]
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    opt = torch.optim.AdamW([{"params": weights, "weight_decay": wd}, {"params": biases, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.999), eps=1e-8)
    m = x.shape[0]
    onehot = torch.nn.functional.one_hot(y, sizes[-1]).double()

    def cost():
        a = x
        for l in range(len(weights)):
            z = a @ weights[l].t() + biases[l]
            a = act(z) if l + 1 < len(weights) else z
        if output == "softmax":
            j = torch.nn.functional.cross_entropy(a, y, reduction="sum") / m
        else:
            j = torch.nn.functional.binary_cross_entropy_with_logits(a, onehot, reduction="sum") / m
        return j + lam / (2 * m) * sum((w * w).sum() for w in weights)

    costs = []
    for _ in range(updates):
        opt.zero_grad()
        j = cost()
        costs.append(j.item())
        j.backward()
        opt.step()
    flat = np.concatenate([np.concatenate([b.detach().numpy()[:, None], w.detach().numpy()], axis=1).ravel()
                           for w, b in zip(weights, biases)])
    return flat, costs


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build_dir")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--updates", type=int, default=20)
    a = p.parse_args()
    torch.set_num_threads(1)
    x, y = load(a.data_dir, "train", np.float64, a.samples)
    lr, wd, lam = 1e-3, 0.01, 0.5
    mnist_nn = str(Path(a.build_dir) / "examples" / "mnist_nn")
    print("| hidden units | output | max relative difference of the weights | of the costs |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for activation, output in (("relu", "softmax"), ("tanh", "softmax"), ("sigmoid", "softmax"), ("relu", "sigmoid")):
            common = [mnist_nn, "--data-dir", a.data_dir, "--train-samples", str(a.samples), "--test-samples", "1",
                      "--hidden", "32", "16", "--activation", activation, "--output", output, "--optimizer", "adam",
                      "--learning-rate", str(lr), "--weight-decay", str(wd), "--lambda", str(lam), "--batch-size", "0",
                      "--precision", "double", "--print-every", "1"]
            start, end = f"{tmp}/start.ckpt", f"{tmp}/end.ckpt"
            subprocess.run(common + ["--iterations", "0", "--checkpoint", start], check=True, capture_output=True, env=ENV)
            out = subprocess.run(common + ["--iterations", str(a.updates), "--checkpoint", end], check=True,
                                 capture_output=True, text=True, env=ENV).stdout
            pnn_costs = [float(v) for v in re.findall(r"iteration \d+, cost ([0-9.]+)", out)]
            sizes, theta0 = read_checkpoint(start)
            _, theta_pnn = read_checkpoint(end)
            theta_torch, torch_costs = torch_run(sizes, thetas(sizes, theta0), x, y, activation, output, a.updates, lr, wd, lam)
            dw = np.abs(theta_pnn - theta_torch).max() / np.abs(theta_torch).max()
            dc = max(abs(p - t) / abs(t) for p, t in zip(pnn_costs, torch_costs))
            print(f"| {activation} | {output} | {dw:.2e} | {dc:.2e} |")


if __name__ == "__main__":
    main()
