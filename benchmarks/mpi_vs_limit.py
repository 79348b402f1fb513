#!/usr/bin/python3
"""The seed's workload on 2 MPI ranks against what this machine allows: two independent Local
runs on half the data (2500 rows each) running at the same time, which is the best any 2-rank
program could do here; and pnn's reduction stage against a bare MPI_Allreduce of the same bytes.

  benchmarks/mpi_vs_limit.py BUILD_DIR [--rounds 7] [--repeats 40] [--json FILE]

Rounds interleave the two (mpirun -np 2 seed_mpi, then the two half-size runs side by side);
ratios are taken per round, then their median (min-max) is reported.
"""
import json
import statistics
import subprocess
import sys
from pathlib import Path

from driver import ENV, arguments, parse, run

def main():
    a = arguments(__doc__)
    bench = Path(a.build_dir) / "benchmarks"
    mpi = ["mpirun", "-np", "2", "--bind-to", "core", str(bench / "seed_mpi"), "--repeats", str(a.repeats),
           "--precision", "double"]
    half = [str(bench / "seed_iteration"), "--samples", "2500", "--precision", "double", "--repeats", str(a.repeats)]
    samples = {"mpi": [], "limit": [], "reduction": [], "bare": []}
    for r in range(a.rounds):
        rows = run(mpi)
        samples["mpi"].append(rows[("pnn_mpi", "float64")])
        samples["reduction"].append(rows[("pnn_mpi_reduction", "float64")])
        samples["bare"].append(rows[("bare_allreduce", "float64")])
        procs = [subprocess.Popen(half, stdout=subprocess.PIPE, text=True, env=ENV) for _ in range(2)]
        outs = [parse(pr.communicate()[0]) for pr in procs]
        samples["limit"].append(max(o[("pnn", "float64")] for o in outs))
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    ratio = [m / l for m, l in zip(samples["mpi"], samples["limit"])]
    red = [x / y for x, y in zip(samples["reduction"], samples["bare"])]
    med = statistics.median
    print("| measure | median | min-max over rounds |")
    print("|---|---|---|")
    print(f"| pnn Mpi, 2 ranks, ms per iteration | {med(samples['mpi']):.2f} | "
          f"{min(samples['mpi']):.2f}-{max(samples['mpi']):.2f} |")
    print(f"| limit: slower of two 2500-row Local runs side by side, ms | {med(samples['limit']):.2f} | "
          f"{min(samples['limit']):.2f}-{max(samples['limit']):.2f} |")
    print(f"| pnn / limit | {med(ratio):.2f} | {min(ratio):.2f}-{max(ratio):.2f} |")
    print(f"| reduction stage, ms per iteration | {med(samples['reduction']):.3f} | "
          f"{min(samples['reduction']):.3f}-{max(samples['reduction']):.3f} |")
    print(f"| bare MPI_Allreduce of the gradient's bytes, ms | {med(samples['bare']):.3f} | "
          f"{min(samples['bare']):.3f}-{max(samples['bare']):.3f} |")
    print(f"| reduction / bare allreduce | {med(red):.2f} | {min(red):.2f}-{max(red):.2f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(samples, indent=2))


if __name__ == "__main__":
    main()
