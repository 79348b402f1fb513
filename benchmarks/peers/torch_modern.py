#!/usr/bin/python3
"""Fashion-MNIST in PyTorch with issue 12's modern settings, as pnn's mnist_nn trains them:
784-256-128-10, ReLU units, softmax with categorical cross-entropy, AdamW (lr 1e-3, weight decay
0.01, the biases in a group of weight decay 0, as pnn), shuffled mini-batches of 128, float32,
one thread. PyTorch's own nn.Linear initialisation (Kaiming-uniform with a = sqrt(5), biases
U(±1/sqrt(fan_in))), not pnn's He/Glorot: each library as a user gets it.
Also times the library's matrix products of one epoch alone (torch.mm on the same shapes).
Prints "torch_modern test_accuracy_percent seconds_per_epoch products_seconds_per_epoch".

  torch_modern.py [--data-dir DIR] [--epochs 10] [--seed 1] [--batch-size 128]
"""
import time

import numpy as np
import torch

from torch_fashion import parser, prepare, train

SIZES = [784, 256, 128, 10]


def products_per_epoch(m, batch):
    """Seconds for one epoch's products alone: per batch, forward x W^T for each layer, the weight
    gradients delta^T a, and delta W for every layer but the first."""
    g = torch.Generator().manual_seed(0)
    a = [torch.rand(batch, n, generator=g) for n in SIZES]
    w = [torch.rand(SIZES[l + 1], SIZES[l], generator=g) for l in range(3)]
    d = [torch.rand(batch, SIZES[l + 1], generator=g) for l in range(3)]
    steps = (m + batch - 1) // batch
    start = time.perf_counter()
    for _ in range(steps):
        for l in range(3):
            torch.mm(a[l], w[l].t())
            torch.mm(d[l].t(), a[l])
            if l > 0:
                torch.mm(d[l], w[l])
    return time.perf_counter() - start


def main():
    a = parser(epochs=10, batch_size=128).parse_args()
    x, y, xt, yt = prepare(a)
    layers = []
    for l in range(3):
        layers.append(torch.nn.Linear(SIZES[l], SIZES[l + 1]))
        if l < 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    weights = [prm for name, prm in model.named_parameters() if name.endswith("weight")]
    biases = [prm for name, prm in model.named_parameters() if name.endswith("bias")]
    opt = torch.optim.AdamW([{"params": weights, "weight_decay": 0.01}, {"params": biases, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    accuracy, per_epoch = train(model, opt, lambda out, b: torch.nn.functional.cross_entropy(out, y[b]), (x, y, xt, yt), a)
    print(f"torch_modern {accuracy:.2f} {per_epoch:.3f} {products_per_epoch(x.shape[0], a.batch_size):.3f}", flush=True)


if __name__ == "__main__":
    main()
