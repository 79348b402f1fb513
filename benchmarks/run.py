#!/usr/bin/python3
"""The measurements of benchmarks/run (which installs and builds first): pnn and its peers on the
seed's workload, the stage breakdown, the sweeps over samples and width against PyTorch and the
OpenBLAS products, the GPU rows where a GPU is; tables on stdout, JSON and PNG plots in the
results folder, and the top of benchmarks/RESULTS.md regenerated.

  benchmarks/run.py BUILD_DIR [--rounds 5] [--quick] [--accuracy] [--results DIR]

Every round runs every program once, in the same order (A B C ... A B C ...); each program
reports the median of its own iterations. A row's figure is the median over rounds (min-max
shown); a ratio is taken within each round, then its median over rounds.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from driver import ENV

here = Path(__file__).resolve().parent
root = here.parent
py = sys.executable

# The seed's workload rows: key -> (label, what it is).
SEED_ROWS = [
    ("pnn_f64", "pnn, Cpu + Local, float64"),
    ("pnn_f32", "pnn, Cpu + Local, float32"),
    ("consumer_f64", "pnn, default consumer build (installed package, no flags), float64"),
    ("consumer_f32", "pnn, default consumer build (installed package, no flags), float32"),
    ("pkg_config_f64", "pnn, default consumer build, g++ -O2 with pkg-config, float64"),
    ("pkg_config_f32", "pnn, default consumer build, g++ -O2 with pkg-config, float32"),
    ("pnn_mpi2", "pnn, Cpu + Mpi, 2 ranks, float64"),
    ("consumer_mpi2", "pnn, default consumer build, Mpi, 2 ranks, float64"),
    ("limit2", "limit: two 2500-row Local runs side by side, float64"),
    ("numpy_mpi2", "numpy + mpi4py, 2 ranks, float64"),
    ("ddp2", "PyTorch DDP (gloo), 2 ranks, float64"),
    ("numpy", "numpy vectorized, float64"),
    ("torch_f64", "PyTorch CPU, float64"),
    ("torch_f32", "PyTorch CPU, float32"),
    ("libtorch_f64", "PyTorch C++ API (libtorch), float64"),
    ("libtorch_f32", "PyTorch C++ API (libtorch), float32"),
    ("tinydnn", "tiny-dnn, float32"),
    ("per_sample", "the seed's per-sample algorithm (Python 3 port), float64"),
    ("products_f64", "limit: the 5 OpenBLAS products alone, float64"),
    ("products_f32", "limit: the 5 OpenBLAS products alone, float32"),
    ("limit_sq_f64", "limit: the iteration's FLOP at OpenBLAS's square-2000 GEMM rate, float64"),
    ("limit_sq_f32", "limit: the iteration's FLOP at OpenBLAS's square-2000 GEMM rate, float32"),
]


def report_lines(text):
    """{(name, precision): (median, min, max)} and [(name, precision, stage, ms)] of a program's output."""
    rows, stages = {}, []
    for line in text.splitlines():
        p = line.split()
        if len(p) == 5 and p[0] != "stage":
            try:
                rows[(p[0], p[1])] = tuple(float(v) for v in p[2:])
            except ValueError:
                pass
        elif len(p) == 5 and p[0] == "stage":
            stages.append((p[1], p[2], p[3], float(p[4])))
    return rows, stages


def execute(cmd, timeout=900):
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"benchmarks/run: {' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return report_lines(done.stdout)


def mpirun(np, *cmd):
    return ["mpirun", "-np", str(np), "--bind-to", "core", *map(str, cmd)]


def side_by_side(cmd, copies=2):
    """The slower median of `copies` runs of cmd started together: the no-communication limit."""
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=ENV) for _ in range(copies)]
    meds = [next(iter(report_lines(p.communicate()[0])[0].values()))[0] for p in procs]
    return max(meds)


def machine():
    """The CPU as /proc/cpuinfo names it: model name, vendor, family, model and stepping (lscpu's
    model name alone can be a bare "Intel(R) Xeon(R) Processor"), and the vector flags that decide
    pnn's kernel level."""
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if ":" in line:
                k, v = (x.strip() for x in line.split(":", 1))
                info.setdefault(k, v)
    except OSError:
        pass
    model = info.get("model name", platform.processor() or platform.machine())
    flags = set(info.get("flags", "").split())
    vector = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16", "avx512_fp16",
                          "amx_tile") if f in flags]
    cpu = (f"{model} ({info.get('vendor_id', '?')}, family {info.get('cpu family', '?')}, model {info.get('model', '?')}, "
           f"stepping {info.get('stepping', '?')}; {' '.join(vector) or 'no AVX2'})")
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def commit():
    def git(*a):
        return subprocess.run(["git", *a], cwd=root, capture_output=True, text=True).stdout.strip()
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + (" (with uncommitted changes)" if dirty else "")


def gpu_present(bench):
    if not (bench / "seed_cuda").exists() or not shutil.which("nvidia-smi"):
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0


class Samples:
    """Per-round values of each key."""

    def __init__(self):
        self.v = {}

    def add(self, key, value):
        self.v.setdefault(key, []).append(value)

    def has(self, key):
        return key in self.v

    def med(self, key):
        return statistics.median(self.v[key])

    def ratio(self, a, b):
        return [x / y for x, y in zip(self.v[a], self.v[b])]


def spread(xs, digits=2):
    return f"{statistics.median(xs):.{digits}f} ({min(xs):.{digits}f}-{max(xs):.{digits}f})"


def verdict(value, limit):
    return "met" if value <= limit else f"**not met** (by {value / limit:.2f}x)"


def measure_seed(bench, a, s, stages):
    """One round of the seed's workload rows."""
    reps = ["--repeats", str(a.repeats)]
    rows, st = execute([bench / "seed_iteration", *reps, "--stages", "1"])
    s.add("pnn_f64", rows[("pnn", "float64")][0])
    s.add("pnn_f32", rows[("pnn", "float32")][0])
    s.add("products_f64", rows[("blas_products", "float64")][0])
    s.add("products_f32", rows[("blas_products", "float32")][0])
    stages.setdefault("local", []).append(st)
    consumer = bench.parent / "consumer"
    rows, _ = execute([consumer / "seed_iteration", *reps, "--products", "0", "--limit", "1"])
    s.add("consumer_f64", rows[("pnn", "float64")][0])
    s.add("consumer_f32", rows[("pnn", "float32")][0])
    s.add("limit_sq_f64", rows[("limit_square", "float64")][0])
    s.add("limit_sq_f32", rows[("limit_square", "float32")][0])
    rows, _ = execute([consumer / "seed_iteration_pkg_config", *reps, "--products", "0"])
    s.add("pkg_config_f64", rows[("pnn", "float64")][0])
    s.add("pkg_config_f32", rows[("pnn", "float32")][0])
    rows, _ = execute([py, here / "peers" / "torch_seed.py", *reps])
    s.add("torch_f64", rows[("torch", "float64")][0])
    s.add("torch_f32", rows[("torch", "float32")][0])
    if (bench / "libtorch_seed").exists():
        rows, _ = execute([bench / "libtorch_seed", *reps])
        s.add("libtorch_f64", rows[("libtorch", "float64")][0])
        s.add("libtorch_f32", rows[("libtorch", "float32")][0])
    rows, st = execute(mpirun(2, bench / "seed_mpi", *reps, "--precision", "double", "--reduction-rounds", "0",
                              "--stages", "1"))
    s.add("pnn_mpi2", rows[("pnn_mpi", "float64")][0])
    stages.setdefault("mpi2", []).append(st)
    rows, _ = execute(mpirun(2, consumer / "seed_mpi", *reps, "--precision", "double", "--reduction-rounds", "0"))
    s.add("consumer_mpi2", rows[("pnn_mpi", "float64")][0])
    s.add("limit2", side_by_side([str(bench / "seed_iteration"), "--samples", "2500", "--precision", "double",
                                  "--products", "0", *reps]))
    rows, _ = execute(mpirun(2, py, here / "peers" / "numpy_mpi_seed.py", *reps))
    s.add("numpy_mpi2", rows[("numpy_mpi", "float64")][0])
    rows, _ = execute(mpirun(2, py, here / "peers" / "torch_ddp_seed.py", *reps))
    s.add("ddp2", rows[("torch_ddp", "float64")][0])
    rows, _ = execute(mpirun(1, py, here / "peers" / "numpy_mpi_seed.py", *reps))
    s.add("numpy", rows[("numpy_mpi", "float64")][0])
    slow = ["--repeats", str(max(3, a.repeats // 8))]
    if (bench / "tinydnn_seed").exists():
        rows, _ = execute([bench / "tinydnn_seed", *slow])
        s.add("tinydnn", rows[("tinydnn", "float32")][0])
    rows, _ = execute([py, here / "peers" / "seed_per_sample.py", *slow])
    s.add("per_sample", rows[("seed_per_sample", "float64")][0])


def measure_sweep(bench, a, s, points):
    """One round of the sweeps, float32: pnn, its OpenBLAS products and PyTorch at each point."""
    for m, h in points:
        reps = ["--repeats", str(a.sweep_repeats)]
        size = ["--samples", str(m), "--hidden", str(h)]
        rows, _ = execute([bench / "seed_iteration", *reps, *size, "--precision", "float"])
        s.add(("pnn", m, h), rows[("pnn", "float32")][0])
        s.add(("products", m, h), rows[("blas_products", "float32")][0])
        rows, _ = execute([py, here / "peers" / "torch_seed.py", *reps, *size, "--precision", "float"])
        s.add(("torch", m, h), rows[("torch", "float32")][0])


def stage_table(stages):
    """{name: {stage: median ms over rounds}} from each round's stage lines (float64 rows)."""
    out = {}
    for name, rounds in stages.items():
        per = {}
        for st in rounds:
            for _, precision, stage, ms in st:
                if precision == "float64":
                    per.setdefault(stage, []).append(ms)
        out[name] = {k: statistics.median(v) for k, v in per.items()}
    return out


def plots(res, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    # The seed's workload, every row.
    rows = [r for r in res["seed"] if r["median_ms"] is not None]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(rows) + 1.2))
    names = [r["label"] for r in rows][::-1]
    med = [r["median_ms"] for r in rows][::-1]
    err = [[r["median_ms"] - r["min_ms"] for r in rows][::-1], [r["max_ms"] - r["median_ms"] for r in rows][::-1]]
    colors = ["tab:blue" if r["key"].startswith("pnn") else "tab:gray" if "limit" in r["label"] else "tab:orange"
              for r in rows][::-1]
    ax.barh(names, med, xerr=err, color=colors)
    ax.set_xscale("log")
    ax.set_xlabel("ms per iteration, log scale (median over rounds; whiskers: min-max)")
    ax.set_title("The seed's workload: 5000 x 400, net 400-25-10")
    fig.tight_layout()
    fig.savefig(out / "seed.png", dpi=110)
    made.append("seed.png")
    plt.close(fig)
    # Stages, Local against Mpi on 2 ranks.
    st = res["stages"]
    order = ["scatter", "forward", "backprop", "wait", "reduction", "update", "bcast"]
    fig, ax = plt.subplots(figsize=(7, 3))
    for i, (name, label) in enumerate((("local", "Local, 1 rank"), ("mpi2", "Mpi, 2 ranks (rank 0)"))):
        left = 0
        for j, stage in enumerate(order):
            v = st.get(name, {}).get(stage, 0)
            ax.barh(label, v, left=left, color=plt.cm.tab10(j), label=stage if i == 0 else None)
            left += v
    ax.set_xlabel("ms per iteration (float64, stage timing on)")
    ax.set_title("Where an iteration's time goes (the seed's figures 4 to 6)")
    ax.legend(ncol=4, fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "stages.png", dpi=110)
    made.append("stages.png")
    plt.close(fig)
    # Sweeps.
    for axis, xlabel, fname in (("samples", "samples (hidden width 25)", "sweep_samples.png"),
                                ("hidden", "hidden width (5000 samples)", "sweep_hidden.png")):
        pts = [p for p in res["sweep"] if p["axis"] == axis]
        if not pts:
            continue
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
        xs = [p[axis] for p in pts]
        for key, label in (("pnn_ms", "pnn"), ("torch_ms", "PyTorch"), ("products_ms", "OpenBLAS products alone")):
            ax.plot(xs, [p[key] for p in pts], marker="o", label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("ms per iteration, float32")
        ax.legend()
        bx.plot(xs, [p["pnn_over_products"] for p in pts], marker="o", label="pnn / products")
        bx.plot(xs, [p["pnn_over_torch"] for p in pts], marker="s", label="pnn / PyTorch")
        bx.axhline(1.3, color="tab:red", linestyle="--", label="target: 1.3x products")
        bx.set_xscale("log")
        bx.set_xlabel(xlabel)
        bx.set_ylabel("ratio (median over rounds)")
        bx.legend()
        fig.tight_layout()
        fig.savefig(out / fname, dpi=110)
        made.append(fname)
        plt.close(fig)
    return made


def markdown(res):
    """The generated part of RESULTS.md."""
    L = [f"Generated by `benchmarks/run` on {res['date']}. Machine: {res['machine']}. pnn's CPU kernels: "
         f"{res.get('kernels', '?')} (chosen at run time, the same in both builds). Commit {res['commit']}.",
         f"{res['rounds']} rounds, interleaved; {res['repeats']} timed iterations per program run (the slow peers "
         f"{max(3, res['repeats'] // 8)}). One thread per process (OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)).", "",
         "### The seed's workload, one full-batch iteration (5000 × 400, 400-25-10)", "",
         "| program | ms per iteration, median (min-max) over rounds | / PyTorch CPU, same precision |",
         "|---|---|---|"]
    for r in res["seed"]:
        if r["median_ms"] is None:
            L.append(f"| {r['label']} | not measured ({r['why']}) | |")
            continue
        rel = f"{r['vs_torch']:.2f}" if r.get("vs_torch") is not None else ""
        L.append(f"| {r['label']} | {r['median_ms']:.3f} ({r['min_ms']:.3f}-{r['max_ms']:.3f}) | {rel} |")
    L += ["", "| target | ratio, median (min-max) over rounds | |", "|---|---|---|"]
    for t in res["targets"]:
        L.append(f"| {t['what']} | {t['ratio']} | {t['verdict']} |")
    L += ["", "![the seed's workload](plots/seed.png)", "",
          "### Where the time goes: Local against Mpi on 2 ranks (float64, stage timing on)", "",
          "| stage | Local, ms per iteration | Mpi 2 ranks (rank 0), ms per iteration |", "|---|---|---|"]
    for stage in ("scatter", "forward", "backprop", "wait", "reduction", "update", "bcast", "total"):
        lo = res["stages"].get("local", {}).get(stage)
        mp = res["stages"].get("mpi2", {}).get(stage)
        L.append(f"| {stage} | {lo:.3f} | {mp:.3f} |" if lo is not None and mp is not None else f"| {stage} | | |")
    L += ["", "![stages](plots/stages.png)", "",
          "### How cost grows with work, float32 (pnn, PyTorch, and the OpenBLAS products alone)", "",
          "| samples | hidden | pnn ms | PyTorch ms | products ms | pnn / products | pnn / PyTorch |",
          "|---|---|---|---|---|---|---|"]
    seen = set()
    for p in res["sweep"]:
        if (p["samples"], p["hidden"]) in seen:
            continue
        seen.add((p["samples"], p["hidden"]))
        L.append(f"| {p['samples']} | {p['hidden']} | {p['pnn_ms']:.3f} | {p['torch_ms']:.3f} | {p['products_ms']:.3f} | "
                 f"{p['pnn_over_products']:.2f} | {p['pnn_over_torch']:.2f} |")
    worst = max(res["sweep"], key=lambda p: p["pnn_over_products"]) if res["sweep"] else None
    if worst:
        L += ["", f"Target: pnn within 1.3× of the products' sum at every size: worst {worst['pnn_over_products']:.2f}× "
                  f"at {worst['samples']} × {worst['hidden']}: {verdict(worst['pnn_over_products'], 1.3)}."]
    L += ["", "![samples](plots/sweep_samples.png)", "", "![hidden](plots/sweep_hidden.png)", ""]
    if res.get("gpu"):
        L += ["### GPU rows (seed_cuda, PyTorch on the same GPU)", "", "| measure | ms |", "|---|---|"]
        for k, v in res["gpu"].items():
            L.append(f"| {k} | {v:.4f} |")
        L.append("")
    if res.get("accuracy"):
        L += ["### Fashion-MNIST accuracy side by side", "", res["accuracy"], ""]
    return "\n".join(L)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build_dir")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=40)
    p.add_argument("--sweep-repeats", type=int, default=10)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--accuracy", action="store_true")
    p.add_argument("--results")
    a = p.parse_args()
    if a.quick:
        a.rounds, a.repeats, a.sweep_repeats = 1, 5, 2
    bench = Path(a.build_dir).resolve() / "benchmarks"
    date = datetime.date.today().isoformat()
    out = Path(a.results or root / "results" / date)
    out.mkdir(parents=True, exist_ok=True)
    samples_axis = [1000, 5000, 20000, 60000] if a.quick else [1000, 2000, 5000, 10000, 20000, 60000]
    hidden_axis = [25, 256, 1024] if a.quick else [25, 64, 128, 256, 512, 1024]
    # (samples, hidden) points of the two sweeps; 5000 x 25 (the seed's) is on both, measured once.
    axis_points = [("samples", m, 25) for m in samples_axis] + [("hidden", 5000, h) for h in hidden_axis]
    points = sorted({(m, h) for _, m, h in axis_points})

    s, sweep, stages = Samples(), Samples(), {}
    for r in range(a.rounds):
        measure_seed(bench, a, s, stages)
        measure_sweep(bench, a, sweep, points)
        print(f"benchmarks/run: round {r + 1}/{a.rounds} done", file=sys.stderr)

    probe = subprocess.run([bench.parent / "consumer" / "seed_iteration", "--repeats", "1", "--samples", "64",
                            "--products", "0", "--precision", "float"], capture_output=True, text=True, env=ENV)
    kernels = next((l.split()[-1] for l in probe.stdout.splitlines() if l.startswith("# CPU kernels")), "?")
    res = {"date": date, "machine": machine(), "kernels": kernels, "commit": commit(), "rounds": a.rounds, "repeats": a.repeats,
           "seed": [], "targets": [], "sweep": [], "raw": {str(k): v for k, v in {**s.v, **sweep.v}.items()}}
    torch_of = {"float64": "torch_f64", "float32": "torch_f32"}
    for key, label in SEED_ROWS:
        if not s.has(key):
            res["seed"].append({"key": key, "label": label, "median_ms": None,
                                "why": "its library is not installed: scripts/setup --benchmarks"})
            continue
        xs = s.v[key]
        row = {"key": key, "label": label, "median_ms": statistics.median(xs), "min_ms": min(xs), "max_ms": max(xs)}
        precision = "float32" if label.endswith("float32") else "float64"
        if s.has(torch_of[precision]) and key not in torch_of.values():
            row["vs_torch"] = statistics.median(s.ratio(key, torch_of[precision]))
        res["seed"].append(row)

    def target(what, a_key, b_key, limit):
        rs = s.ratio(a_key, b_key)
        res["targets"].append({"what": what, "ratio": spread(rs), "verdict": verdict(statistics.median(rs), limit),
                               "median": statistics.median(rs)})

    target("pnn float64 ≤ 0.8× PyTorch CPU", "pnn_f64", "torch_f64", 0.8)
    target("pnn float32 ≤ 0.8× PyTorch CPU", "pnn_f32", "torch_f32", 0.8)
    target("pnn Mpi 2 ranks ≤ 1.1× the no-communication limit", "pnn_mpi2", "limit2", 1.1)
    target("pnn Mpi 2 ranks ahead of numpy + mpi4py (< 1)", "pnn_mpi2", "numpy_mpi2", 1.0)
    target("pnn Mpi 2 ranks ahead of PyTorch DDP (< 1)", "pnn_mpi2", "ddp2", 1.0)
    # what users get: the default consumer build (issue 11's targets)
    for p, key in (("float64", "f64"), ("float32", "f32")):
        target(f"default consumer build {p} ≤ 0.6× PyTorch CPU", f"consumer_{key}", f"torch_{key}", 0.6)
        target(f"default consumer build {p} ≤ 1.5× the limit at the square-GEMM rate", f"consumer_{key}",
               f"limit_sq_{key}", 1.5)
        target(f"default consumer build {p} within 1.1× pnn's own build", f"consumer_{key}", f"pnn_{key}", 1.1)
        target(f"g++ -O2 with pkg-config {p} ≤ 0.6× PyTorch CPU", f"pkg_config_{key}", f"torch_{key}", 0.6)
        target(f"g++ -O2 with pkg-config {p} within 1.1× pnn's own build", f"pkg_config_{key}", f"pnn_{key}", 1.1)
    target("default consumer build, Mpi 2 ranks, ahead of numpy + mpi4py (< 1)", "consumer_mpi2", "numpy_mpi2", 1.0)
    target("default consumer build, Mpi 2 ranks ≤ 1.1× the no-communication limit", "consumer_mpi2", "limit2", 1.1)
    if s.has("libtorch_f64"):
        target("pnn float64 against libtorch (≤ 0.8×, as against PyTorch)", "pnn_f64", "libtorch_f64", 0.8)
    res["stages"] = stage_table(stages)
    for axis, m, h in axis_points:
        res["sweep"].append({"axis": axis, "samples": m, "hidden": h,
                             "pnn_ms": sweep.med(("pnn", m, h)), "torch_ms": sweep.med(("torch", m, h)),
                             "products_ms": sweep.med(("products", m, h)),
                             "pnn_over_products": statistics.median(sweep.ratio(("pnn", m, h), ("products", m, h))),
                             "pnn_over_torch": statistics.median(sweep.ratio(("pnn", m, h), ("torch", m, h)))})

    if gpu_present(bench):
        rows, _ = execute([bench / "seed_cuda", "--repeats", "50"])
        res["gpu"] = {k[0]: v[0] for k, v in rows.items()}
        trows, _ = execute([py, here / "peers" / "torch_seed.py", "--device", "cuda", "--precision", "float"])
        res["gpu"].update({k[0]: v[0] for k, v in trows.items()})
    if a.accuracy:
        done = subprocess.run([py, here / "accuracy_vs_torch.py", a.build_dir], capture_output=True, text=True, env=ENV)
        res["accuracy"] = done.stdout if done.returncode == 0 else f"failed: {done.stderr[-500:]}"

    res["plots"] = plots(res, out)
    (out / "bench.json").write_text(json.dumps(res, indent=2))
    text = markdown(res)
    (out / "tables.md").write_text(text + "\n")
    print(text)
    # RESULTS.md: the generated part between the markers; its plots beside it.
    plot_dir = here / "plots"
    plot_dir.mkdir(exist_ok=True)
    for f in res["plots"]:
        shutil.copy(out / f, plot_dir / f)
    results = here / "RESULTS.md"
    begin, end = "<!-- benchmarks/run: begin -->", "<!-- benchmarks/run: end -->"
    old = results.read_text()
    generated = f"{begin}\n## Latest run of benchmarks/run\n\n{text}\n{end}"
    if begin in old:
        new = old[:old.index(begin)] + generated + old[old.index(end) + len(end):]
    else:
        head, _, rest = old.partition("\n")
        new = f"{head}\n\n{generated}\n\nThe sections below are earlier, separate measurements.\n{rest}"
    results.write_text(new)
    # ... and the README's headline figures from it
    subprocess.run([sys.executable, str(here / "headline.py")], check=True)
    print(f"\nbenchmarks/run: results in {out}; benchmarks/RESULTS.md and README.md's figures updated", file=sys.stderr)


if __name__ == "__main__":
    main()
