#!/usr/bin/python3
"""The seed's workload in PyTorch, as a user would write it: one full-batch iteration of a
400-25-10 sigmoid net with the seed's cross-entropy cost, by autograd, on one thread.

Prints "torch PRECISION median_ms min_ms max_ms" per precision, like seed_iteration.
"""
import argparse

import torch

from timing import report, time_steps


def run(dtype, m, n, h, k, repeats, device="cpu"):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(m, n, generator=g, dtype=dtype).to(device)
    y = (torch.arange(m) % k).to(device)
    onehot = torch.nn.functional.one_hot(y, k).to(dtype)
    w1 = ((torch.rand(h, n + 1, generator=g, dtype=dtype) * 2 - 1) * 0.12).to(device).requires_grad_()
    w2 = ((torch.rand(k, h + 1, generator=g, dtype=dtype) * 2 - 1) * 0.12).to(device).requires_grad_()
    lr = 0.1

    def step():
        a1 = torch.sigmoid(torch.addmm(w1[:, 0], x, w1[:, 1:].t()))
        z2 = torch.addmm(w2[:, 0], a1, w2[:, 1:].t())
        cost = torch.nn.functional.binary_cross_entropy_with_logits(z2, onehot, reduction="sum") / m
        w1.grad = None
        w2.grad = None
        cost.backward()
        with torch.no_grad():
            w1.sub_(lr * w1.grad)
            w2.sub_(lr * w2.grad)
        cost.item()  # the cost of every iteration, as pnn's fit records it

    return time_steps(step, repeats)

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--inputs", type=int, default=400)
    p.add_argument("--hidden", type=int, default=25)
    p.add_argument("--precision", choices=["double", "float"])
    p.add_argument("--device", default="cpu", help="cpu, or cuda (the data on the GPU, as pnn::Cuda holds it)")
    a = p.parse_args()
    torch.set_num_threads(1)
    for name, dtype in (("float64", torch.float64), ("float32", torch.float32)):
        if a.precision and name != {"double": "float64", "float": "float32"}[a.precision]:
            continue
        label = "torch" if a.device == "cpu" else "torch_" + a.device
        report(label, name, run(dtype, a.samples, a.inputs, a.hidden, 10, a.repeats, a.device))


if __name__ == "__main__":
    main()
