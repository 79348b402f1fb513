#!/usr/bin/python3
"""The seed's workload with numpy + mpi4py, as its data-parallel program would be written today:
each rank holds its share of the 5000 rows, computes its cost and gradient vectorized (numpy,
one BLAS thread), and one Allreduce of the flat gradient sums them; every rank then updates.
Run under mpirun; rank 0 prints "numpy_mpi PRECISION median_ms min_ms max_ms".

  mpirun -np 2 numpy_mpi_seed.py [--repeats 40] [--precision double|float]
"""
import argparse

import numpy as np
from mpi4py import MPI

from timing import report, time_steps


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def run(dtype, m, n, h, k, repeats, comm):
    rank, size = comm.Get_rank(), comm.Get_size()
    lo, hi = rank * m // size, (rank + 1) * m // size  # this rank's rows
    rng = np.random.default_rng(1)
    x = rng.random((m, n)).astype(dtype)[lo:hi]
    y = (np.arange(m) % k)[lo:hi]
    onehot = np.eye(k, dtype=dtype)[y]
    theta = ((rng.random(h * (n + 1) + k * (h + 1)) * 2 - 1) * 0.12).astype(dtype)  # one flat buffer
    w1 = theta[: h * (n + 1)].reshape(h, n + 1)
    w2 = theta[h * (n + 1):].reshape(k, h + 1)
    grad = np.empty(theta.size + 1, dtype=np.float64 if dtype == np.float64 else dtype)
    g1 = grad[: h * (n + 1)].reshape(h, n + 1)
    g2 = grad[h * (n + 1): -1].reshape(k, h + 1)
    lr = 0.1

    def step():
        a1 = sigmoid(x @ w1[:, 1:].T + w1[:, 0])
        a2 = sigmoid(a1 @ w2[:, 1:].T + w2[:, 0])
        cost = -np.sum(onehot * np.log(a2) + (1 - onehot) * np.log(1 - a2))
        d2 = a2 - onehot
        d1 = (d2 @ w2[:, 1:]) * a1 * (1 - a1)
        g2[:, 0] = d2.sum(axis=0)
        g2[:, 1:] = d2.T @ a1
        g1[:, 0] = d1.sum(axis=0)
        g1[:, 1:] = d1.T @ x
        grad[-1] = cost
        comm.Allreduce(MPI.IN_PLACE, grad, op=MPI.SUM)  # gradient and cost, one message
        theta[:] -= (lr / m) * grad[:-1]

    return time_steps(step, repeats, before=comm.Barrier)

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=40)
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--precision", choices=["double", "float"], default="double")
    a = p.parse_args()
    dtype = np.float64 if a.precision == "double" else np.float32
    comm = MPI.COMM_WORLD
    stats = run(dtype, a.samples, 400, 25, 10, a.repeats, comm)
    if comm.Get_rank() == 0:
        report("numpy_mpi", "float64" if dtype == np.float64 else "float32", stats)


if __name__ == "__main__":
    main()
