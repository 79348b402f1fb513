#!/usr/bin/python3
"""What stage timing costs: the seed's workload (one full-batch iteration, 5000 x 400, net
400-25-10, one thread) built with stage timing compiled in but switched off (seed_iteration,
as every user gets it) against the same program with it compiled out (seed_iteration_untimed,
PNN_STAGE_TIMING=0), and with it switched on.

  benchmarks/stage_timing_cost.py BUILD_DIR [--rounds 7] [--repeats 40] [--json FILE]

Each round runs both programs, the one first that went second in the round before; ratios are
taken per round, then their median (min-max). Two binaries differ in code layout as well, and
this machine's speed drifts by several percent from minute to minute: read a ratio near 1 within
the min-max spread as "nothing measurable".
"""
import json
import statistics
import sys
from pathlib import Path

from driver import arguments, run


def main():
    a = arguments(__doc__)
    bench = Path(a.build_dir) / "benchmarks"
    common = ["--repeats", str(a.repeats), "--products", "0"]
    timed = [str(bench / "seed_iteration"), *common, "--recording", "1"]
    untimed = [str(bench / "seed_iteration_untimed"), *common]
    s = {}
    for r in range(a.rounds):
        order = (("in", timed), ("out", untimed))
        for name, cmd in order if r % 2 == 0 else order[::-1]:
            for (what, precision), ms in run(cmd).items():
                s.setdefault(f"{name} {what} {precision}", []).append(ms)
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    med = statistics.median
    print("| precision | compiled out, ms | compiled in and off, ms | off / out (median, min-max) | on, ms | on / out |")
    print("|---|---|---|---|---|---|")
    for p in ("float64", "float32"):
        out, off, on = s[f"out pnn {p}"], s[f"in pnn {p}"], s[f"in pnn_recording {p}"]
        r_off = [x / y for x, y in zip(off, out)]
        r_on = [x / y for x, y in zip(on, out)]
        print(f"| {p} | {med(out):.3f} | {med(off):.3f} | {med(r_off):.3f} ({min(r_off):.3f}-{max(r_off):.3f}) | "
              f"{med(on):.3f} | {med(r_on):.3f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(s, indent=2))


if __name__ == "__main__":
    main()
