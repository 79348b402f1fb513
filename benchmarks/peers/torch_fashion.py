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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--learning-rate", type=float, default=2.0)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    load = lambda split: (torch.from_numpy(idx(f"{a.data_dir}/{split}-images-idx3-ubyte.gz").reshape(-1, 784)
                                           .astype(np.float32) / 255.0),
                          torch.from_numpy(idx(f"{a.data_dir}/{split}-labels-idx1-ubyte.gz").astype(np.int64)))
    x, y = load("train")
    xt, yt = load("t10k")
    onehot = torch.nn.functional.one_hot(y, 10).float()
    model = torch.nn.Sequential(torch.nn.Linear(784, a.hidden), torch.nn.Sigmoid(), torch.nn.Linear(a.hidden, 10))
    with torch.no_grad():
        for prm in model.parameters():
            prm.uniform_(-0.12, 0.12)
    opt = torch.optim.SGD(model.parameters(), lr=a.learning_rate)
    m = x.shape[0]
    start = time.perf_counter()
    for epoch in range(a.epochs):
        order = torch.randperm(m)
        for lo in range(0, m, a.batch_size):
            b = order[lo:lo + a.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x[b]), onehot[b], reduction="sum") / len(b)
            loss.backward()
            opt.step()
    per_epoch = (time.perf_counter() - start) / a.epochs
    with torch.no_grad():
        accuracy = (model(xt).argmax(dim=1) == yt).float().mean().item() * 100
    print(f"torch_fashion {accuracy:.2f} {per_epoch:.3f}", flush=True)


if __name__ == "__main__":
    main()
