"""What the benchmark drivers share: the environment (one BLAS thread, mpirun as root allowed),
the report lines of the benchmark programs ("name precision median_ms min_ms max_ms") and the
common command line."""
import argparse
import os
import subprocess

ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
           OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def parse(text):
    """{(name, precision): median ms} from a program's report lines."""
    rows = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 5:
            rows[(parts[0], parts[1])] = float(parts[2])
    return rows


def run(cmd):
    return parse(subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV).stdout)


def arguments(description, extra=None):
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("build_dir")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--repeats", type=int, default=40)
    p.add_argument("--json")
    if extra:
        extra(p)
    return p.parse_args()
