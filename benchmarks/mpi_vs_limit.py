#!/usr/bin/python3
"""pnn::Mpi on 2 ranks against what this machine allows and against the peers on 2 ranks.

  benchmarks/mpi_vs_limit.py BUILD_DIR [--rounds 7] [--repeats 40] [--json FILE]
                             [--fashion DIR] [--fashion-repeats 5]

1. The seed's workload (5000 x 400, net 400-25-10, float64, full batch, one thread per rank):
   pnn on 2 ranks; the limit: two independent 2500-row Local runs side by side (no communication
   at all), the slower one; numpy + mpi4py and PyTorch DDP (gloo) on 2 ranks; and each of the
   three on 1 rank, for their speedups.
2. The reduction stage of pnn (gradient and cost, one MPI_Allreduce), against the same stage with
   a bare MPI_Allreduce of the gradient's bytes in its place, and against a bare MPI_Allreduce in
   a loop of its own (see seed_mpi.cpp).
3. Full Fashion-MNIST (60000 x 784, net 784-256-10, float32, full batch), when --fashion names its
   folder: pnn on 2 ranks against two 30000-row Local runs side by side.

Every round runs every program once, in the same order (A B C ... A B C ...); each program reports
the median of its iterations. Ratios are taken per round, then their median (min-max) reported.
"""
import json
import statistics
import subprocess
import sys
from pathlib import Path

from driver import ENV, arguments, parse, run

here = Path(__file__).resolve().parent


def side_by_side(cmd, copies=2):
    """The slower median of `copies` runs of cmd started together."""
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=ENV) for _ in range(copies)]
    outs = [parse(p.communicate()[0]) for p in procs]
    return max(o[("pnn", next(iter(o))[1])] for o in outs)


def mpirun(np, *cmd):
    return ["mpirun", "-np", str(np), "--bind-to", "core", *cmd]


def main():
    a = arguments(__doc__, extra=lambda p: (p.add_argument("--fashion"),
                                            p.add_argument("--fashion-repeats", type=int, default=5)))
    bench = Path(a.build_dir) / "benchmarks"
    reps = ["--repeats", str(a.repeats)]
    py = sys.executable
    programs = {
        "pnn_2": mpirun(2, str(bench / "seed_mpi"), *reps, "--precision", "double"),
        "pnn_1": [str(bench / "seed_iteration"), "--precision", "double", "--products", "0", *reps],
        "numpy_mpi_2": mpirun(2, py, str(here / "peers" / "numpy_mpi_seed.py"), *reps),
        "numpy_mpi_1": mpirun(1, py, str(here / "peers" / "numpy_mpi_seed.py"), *reps),
        "torch_ddp_2": mpirun(2, py, str(here / "peers" / "torch_ddp_seed.py"), *reps),
        "torch_ddp_1": mpirun(1, py, str(here / "peers" / "torch_ddp_seed.py"), *reps),
    }
    half = [str(bench / "seed_iteration"), "--samples", "2500", "--precision", "double", "--products", "0", *reps]
    if a.fashion:
        fr = ["--repeats", str(a.fashion_repeats), "--data-dir", a.fashion, "--hidden", "256", "--precision", "float"]
        fashion_mpi = mpirun(2, str(bench / "seed_mpi"), *fr, "--samples", "60000", "--reduction-rounds", "0")
        fashion_half = [str(bench / "seed_iteration"), *fr, "--samples", "30000", "--products", "0"]
    s = {k: [] for k in ("pnn_2", "pnn_1", "limit", "numpy_mpi_2", "numpy_mpi_1", "torch_ddp_2", "torch_ddp_1",
                         "reduction", "bare_in_loop", "bare_hot", "fashion_2", "fashion_limit")}
    for r in range(a.rounds):
        for name, cmd in programs.items():
            rows = run(cmd)
            s[name].append(next(v for (n, _), v in rows.items() if n in ("pnn_mpi", "pnn", "numpy_mpi", "torch_ddp")))
            if name == "pnn_2":
                s["reduction"].append(rows[("pnn_mpi_reduction", "float64")])
                s["bare_in_loop"].append(rows[("bare_in_loop", "float64")])
                s["bare_hot"].append(rows[("bare_allreduce", "float64")])
        s["limit"].append(side_by_side(half))
        if a.fashion:
            s["fashion_2"].append(run(fashion_mpi)[("pnn_mpi", "float32")])
            s["fashion_limit"].append(side_by_side(fashion_half))
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)

    med = statistics.median

    def row(label, xs, digits=2):
        print(f"| {label} | {med(xs):.{digits}f} | {min(xs):.{digits}f}-{max(xs):.{digits}f} |")

    def ratio(x, y):
        return [p / q for p, q in zip(s[x], s[y])]

    print("| seed's workload, 2 ranks (float64) | median | min-max over rounds |")
    print("|---|---|---|")
    row("pnn Mpi, ms per iteration", s["pnn_2"])
    row("limit: slower of two 2500-row Local runs side by side, ms", s["limit"])
    row("numpy + mpi4py, ms", s["numpy_mpi_2"])
    row("PyTorch DDP (gloo), ms", s["torch_ddp_2"])
    row("**pnn / limit**", ratio("pnn_2", "limit"))
    row("**pnn / numpy + mpi4py**", ratio("pnn_2", "numpy_mpi_2"))
    row("**pnn / PyTorch DDP**", ratio("pnn_2", "torch_ddp_2"))
    row("speedup over 1 rank: pnn", ratio("pnn_1", "pnn_2"))
    row("speedup over 1 rank: numpy + mpi4py", ratio("numpy_mpi_1", "numpy_mpi_2"))
    row("speedup over 1 rank: PyTorch DDP", ratio("torch_ddp_1", "torch_ddp_2"))
    print()
    print("| reduction of the seed's gradient, 2 ranks | median | min-max over rounds |")
    print("|---|---|---|")
    row("pnn's reduction stage, ms per iteration", s["reduction"], 3)
    row("bare MPI_Allreduce in the same place of the loop, ms", s["bare_in_loop"], 3)
    row("bare MPI_Allreduce in a loop of its own (hot caches), ms", s["bare_hot"], 3)
    row("**pnn / bare in the loop**", ratio("reduction", "bare_in_loop"))
    row("pnn / bare in its own loop", ratio("reduction", "bare_hot"))
    if a.fashion:
        print()
        print("| full Fashion-MNIST, 784-256-10, float32, 2 ranks | median | min-max over rounds |")
        print("|---|---|---|")
        row("pnn Mpi, ms per iteration", s["fashion_2"], 1)
        row("limit: slower of two 30000-row Local runs side by side, ms", s["fashion_limit"], 1)
        row("**pnn / limit**", ratio("fashion_2", "fashion_limit"))
    if a.json:
        Path(a.json).write_text(json.dumps(s, indent=2))


if __name__ == "__main__":
    main()
