#!/usr/bin/python3
"""Fashion-MNIST in PyTorch with the seed's model, as pnn's mnist_nn trains it: a sigmoid
784-H-10 net, weights U(-0.12, 0.12), the seed's cross-entropy (sum over output units, mean
over the batch), plain SGD on shuffled mini-batches, float32, one thread.
Prints "torch_fashion test_accuracy_percent seconds_per_epoch".

  torch_fashion.py [--data-dir DIR] [--hidden 256] [--batch-size 256] [--learning-rate 2.0] [--epochs 20]
"""
import argparse
import gzip
import time

import numpy as np
import torch


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(data_dir, split, dtype=np.float32, count=None):
    """(x in [0, 1], y) of a Fashion-MNIST split ("train" or "t10k"), the first count rows."""
    x = idx(f"{data_dir}/{split}-images-idx3-ubyte.gz")[:count].reshape(-1, 784).astype(dtype) / 255.0
    y = idx(f"{data_dir}/{split}-labels-idx1-ubyte.gz")[:count].astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def parser(epochs, batch_size):
    """The options every Fashion-MNIST peer takes."""
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--seed", type=int, default=1)
    return p


def prepare(a):
    """One thread, the seed, and (x, y, x_test, y_test) in float32."""
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    return (*load(a.data_dir, "train"), *load(a.data_dir, "t10k"))


def train(model, opt, loss, data, a):
    """a.epochs of shuffled mini-batches of a.batch_size (loss(model output, batch indices));
    returns (test accuracy %, seconds per epoch)."""
    x, y, xt, yt = data
    m = x.shape[0]
    start = time.perf_counter()
    for epoch in range(a.epochs):
        order = torch.randperm(m)
        for lo in range(0, m, a.batch_size):
            b = order[lo:lo + a.batch_size]
            opt.zero_grad(set_to_none=True)
            loss(model(x[b]), b).backward()
            opt.step()
    per_epoch = (time.perf_counter() - start) / a.epochs
    with torch.no_grad():
        accuracy = (model(xt).argmax(dim=1) == yt).float().mean().item() * 100
    return accuracy, per_epoch


def main():
    p = parser(epochs=20, batch_size=256)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--learning-rate", type=float, default=2.0)
    a = p.parse_args()
    x, y, xt, yt = prepare(a)
    onehot = torch.nn.functional.one_hot(y, 10).float()
    model = torch.nn.Sequential(torch.nn.Linear(784, a.hidden), torch.nn.Sigmoid(), torch.nn.Linear(a.hidden, 10))
    with torch.no_grad():
        for prm in model.parameters():
            prm.uniform_(-0.12, 0.12)
    opt = torch.optim.SGD(model.parameters(), lr=a.learning_rate)
    loss = lambda out, b: torch.nn.functional.binary_cross_entropy_with_logits(out, onehot[b], reduction="sum") / len(b)
    accuracy, per_epoch = train(model, opt, loss, (x, y, xt, yt), a)
    print(f"torch_fashion {accuracy:.2f} {per_epoch:.3f}", flush=True)


if __name__ == "__main__":
    main()
