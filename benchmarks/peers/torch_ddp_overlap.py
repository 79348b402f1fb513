#!/usr/bin/python3
"""The peer of benchmarks/overlap_step: PyTorch DistributedDataParallel over gloo on the same
net (784-1024-1024-10 sigmoid units, float32, the seed's cross-entropy), the same rows per rank,
one thread per rank. DDP sums the gradient in buckets during backward (its overlap). Launched
by mpirun (rank and size from Open MPI's environment); gloo goes over the host's veth link
(GLOO_SOCKET_IFNAME, found as the one veth interface of the host's network namespace).
Prints one JSON line: {"ddp_bucket_mb": B, "ddp": median ms per step}.

  mpirun -np 2 torch_ddp_overlap.py --master ADDR [--rows 1536] [--hidden 1024,1024]
                                    [--steps 5] [--bucket-mb 25]
"""
import argparse
import json
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--master", default="127.0.0.1")
    p.add_argument("--port", type=int, default=29533)
    p.add_argument("--rows", type=int, default=1536)
    p.add_argument("--hidden", default="1024,1024")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--bucket-mb", type=float, default=25)
    a = p.parse_args()
    rank = int(os.environ["OMPI_COMM_WORLD_RANK"])
    size = int(os.environ["OMPI_COMM_WORLD_SIZE"])
    veths = [name for _, name in socket.if_nameindex() if name.startswith("veth")]
    if len(veths) == 1:
        os.environ["GLOO_SOCKET_IFNAME"] = veths[0]
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = a.master, str(a.port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=size)
    sizes = [784] + [int(h) for h in a.hidden.split(",")] + [10]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.Sigmoid())
    torch.manual_seed(1)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Sequential(*layers), bucket_cap_mb=a.bucket_mb)
    g = torch.Generator().manual_seed(2 + rank)
    x = torch.rand(a.rows, 784, generator=g)
    onehot = torch.nn.functional.one_hot(torch.arange(a.rows) % 10, 10).float()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        cost = torch.nn.functional.binary_cross_entropy_with_logits(model(x), onehot, reduction="sum") / a.rows
        cost.backward()
        opt.step()
        cost.item()

    for _ in range(2):  # warm-up
        step()
    dist.barrier()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    dist.barrier()
    ms = (time.perf_counter() - start) * 1e3 / a.steps
    if rank == 0:
        print(json.dumps({"ddp_bucket_mb": a.bucket_mb, "ddp": round(ms, 3)}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
