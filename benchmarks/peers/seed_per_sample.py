#!/usr/bin/python3
"""The seed's own algorithm, ported to Python 3 for timing (its mnist-nn.py, written anew here):
the forward pass is vectorised, but the cost is summed in a Python loop over samples and units
(math.log per term) and backpropagation runs one sample at a time (a column delta per sample,
outer products accumulated into the Theta gradients). One full-batch iteration of the seed's
workload (5000 x 400, 400-25-10, float64), numpy with one BLAS thread.
Prints "seed_per_sample float64 median_ms min_ms max_ms".

  seed_per_sample.py [--repeats 3] [--samples 5000]
"""
import argparse
import math

import numpy as np

from timing import report, time_steps


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def with_bias(a, axis):
    return np.insert(a, 0, 1.0, axis=axis)


def cost_and_gradient(theta1, theta2, x, y, k):
    m = x.shape[0]
    a1 = with_bias(x, 1)                               # m x 401
    a2 = with_bias(sigmoid(a1 @ theta1.T), 1)          # m x 26
    a3 = sigmoid(a2 @ theta2.T)                        # m x 10
    cost = 0.0
    for i in range(m):                                 # the seed's cost: one term at a time
        for unit in range(k):
            target = 1.0 if unit == y[i] else 0.0
            cost += -target * math.log(a3[i, unit]) - (1 - target) * math.log(1 - a3[i, unit])
    g1 = np.zeros_like(theta1)
    g2 = np.zeros_like(theta2)
    for i in range(m):                                 # backpropagation, one sample at a time
        target = np.zeros((k, 1))
        target[y[i], 0] = 1.0
        d3 = a3[i:i + 1].T - target                    # 10 x 1
        z2 = with_bias(theta1 @ a1[i:i + 1].T, 0)      # 26 x 1
        s = sigmoid(z2)
        d2 = ((theta2.T @ d3) * s * (1 - s))[1:]       # 25 x 1
        g1 += d2 @ a1[i:i + 1]
        g2 += d3 @ a2[i:i + 1]
    return cost / m, g1 / m, g2 / m


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--samples", type=int, default=5000)
    a = p.parse_args()
    rng = np.random.default_rng(1)
    m, n, h, k = a.samples, 400, 25, 10
    x = rng.random((m, n))
    y = np.arange(m) % k
    theta1 = (rng.random((h, n + 1)) * 2 - 1) * 0.12
    theta2 = (rng.random((k, h + 1)) * 2 - 1) * 0.12

    def step():
        _, g1, g2 = cost_and_gradient(theta1, theta2, x, y, k)
        theta1[...] -= 0.1 * g1
        theta2[...] -= 0.1 * g2

    report("seed_per_sample", "float64", time_steps(step, a.repeats))


if __name__ == "__main__":
    main()
