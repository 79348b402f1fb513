#!/usr/bin/python3
"""The seed's workload with PyTorch DistributedDataParallel over gloo, as a PyTorch user would
run it on CPUs: each rank holds its share of the 5000 rows, autograd computes its gradient, DDP
averages the gradients across ranks (gloo allreduce) during backward, and every rank updates.
One thread per rank. Launched by mpirun (rank and size from Open MPI's environment) or torchrun.
Rank 0 prints "torch_ddp PRECISION median_ms min_ms max_ms".

  mpirun -np 2 torch_ddp_seed.py [--repeats 40] [--precision double|float] [--port 29511]
"""
import argparse
import os

import torch
import torch.distributed as dist

from timing import report, time_steps


class Seed(torch.nn.Module):
    def __init__(self, n, h, k, dtype, g):
        super().__init__()
        self.w1 = torch.nn.Parameter((torch.rand(h, n + 1, generator=g, dtype=dtype) * 2 - 1) * 0.12)
        self.w2 = torch.nn.Parameter((torch.rand(k, h + 1, generator=g, dtype=dtype) * 2 - 1) * 0.12)

    def forward(self, x):
        a1 = torch.sigmoid(torch.addmm(self.w1[:, 0], x, self.w1[:, 1:].t()))
        return torch.addmm(self.w2[:, 0], a1, self.w2[:, 1:].t())


def run(dtype, m, n, h, k, repeats, rank, size):
    lo, hi = rank * m // size, (rank + 1) * m // size
    g = torch.Generator().manual_seed(1)
    x = torch.rand(m, n, generator=g, dtype=dtype)[lo:hi].contiguous()
    y = (torch.arange(m) % k)[lo:hi]
    onehot = torch.nn.functional.one_hot(y, k).to(dtype)
    model = torch.nn.parallel.DistributedDataParallel(Seed(n, h, k, dtype, g))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step():
        opt.zero_grad(set_to_none=True)
        # DDP averages gradients over ranks: the local sum over this rank's rows / m * size gives
        # the global mean gradient after averaging.
        cost = torch.nn.functional.binary_cross_entropy_with_logits(model(x), onehot, reduction="sum") * (size / m)
        cost.backward()
        opt.step()
        cost.item()

    return time_steps(step, repeats, before=dist.barrier)

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=40)
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--precision", choices=["double", "float"], default="double")
    p.add_argument("--port", type=int, default=29511)
    a = p.parse_args()
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("RANK", "0")))
    size = int(os.environ.get("OMPI_COMM_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(a.port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=size)
    dtype = torch.float64 if a.precision == "double" else torch.float32
    stats = run(dtype, a.samples, 400, 25, 10, a.repeats, rank, size)
    if rank == 0:
        report("torch_ddp", "float64" if a.precision == "double" else "float32", stats)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
