#!/usr/bin/env python3
"""The front door must stay true: checks the README and docs/ against the code.

  readme_test.py SOURCE_DIR WORK_DIR

1. Links: every link in README.md and docs/*.md that is not a web address resolves to a file
   or folder inside the repository (and a #fragment to a heading of that file).
2. Headline figures: README.md's table is the one benchmarks/RESULTS.md's latest run gives
   (benchmarks/headline.py --check).
3. Code: every C++ block of README.md (fenced ```cpp; ```cpp excerpt marks one that is not a
   whole program, left out) is a whole program: pnn is installed into a scratch prefix, each
   block is built as a user would (g++ with pkg-config; mpicxx for one that uses MPI) and run
   (under mpirun -np 2 for MPI), and must exit 0. Blocks that read Fashion-MNIST are built but
   not run where /usr/share/datasets/fashion-mnist is missing, and the test says so.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

FASHION = Path("/usr/share/datasets/fashion-mnist")
failed = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what, flush=True)
    if not ok:
        failed.append(what)


def prose(text):
    """The text outside fenced code blocks (links inside code are not links)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            out.append(re.sub(r"`[^`]*`", "", line))  # nor inside inline code
    return "\n".join(out)


def anchors(path):
    """GitHub's anchors for a Markdown file's headings."""
    names = set()
    for line in prose(path.read_text()).splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            a = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            names.add(a)
    return names


def check_links(src):
    files = [src / "README.md"] + sorted((src / "docs").glob("*.md"))
    check((src / "docs").is_dir() and len(files) > 1, "docs/ holds the documentation")
    bad = []
    count = 0
    for f in files:
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(f.read_text())):
            count += 1
            if re.match(r"[a-z]+://|mailto:", target):
                continue
            path, _, fragment = target.partition("#")
            dest = (f.parent / path).resolve() if path else f.resolve()
            inside = dest == src or src in dest.parents
            if not inside or not dest.exists():
                bad.append(f"{f.relative_to(src)}: {target} ({'outside the repository' if not inside else 'missing'})")
            elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
                bad.append(f"{f.relative_to(src)}: {target} (no heading #{fragment})")
    check(not bad, f"every one of {count} links in README.md and docs/ resolves inside the repository"
          + "".join("\n  " + b for b in bad))


def cpp_blocks(text):
    blocks, current, info = [], None, ""
    for line in text.splitlines():
        stripped = line.strip()
        if current is None and stripped.startswith("```"):
            info = stripped[3:].strip()
            current = []
        elif current is not None and stripped == "```":
            if info.split()[:1] == ["cpp"] and "excerpt" not in info.split()[1:]:
                blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def run(cmd, cwd, env=None, timeout=600):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).strip()


def check_code(src, work):
    blocks = cpp_blocks((src / "README.md").read_text())
    check(len(blocks) >= 2, f"README.md has C++ blocks to build ({len(blocks)})")
    prefix = work / "prefix"
    rc, out = run(["cmake", "-S", str(src), "-B", str(work / "build"), "-G", "Ninja", f"-DCMAKE_INSTALL_PREFIX={prefix}",
                   "-DPNN_BUILD_TESTS=OFF", "-DPNN_BUILD_EXAMPLES=OFF", "-DPNN_BUILD_BENCHMARKS=OFF"], work)
    if rc == 0:
        rc, out = run(["cmake", "--install", str(work / "build")], work)
    check(rc == 0, "pnn installs into a scratch prefix" + ("" if rc == 0 else "\n" + out[-2000:]))
    if rc != 0:
        return
    env = dict(os.environ)
    pc = [str(p.parent) for p in prefix.rglob("pnn.pc")]
    env["PKG_CONFIG_PATH"] = ":".join(pc + [env.get("PKG_CONFIG_PATH", "")])
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1")
    rc, flags = run(["pkg-config", "--cflags", "--libs", "pnn"], work, env)
    check(rc == 0, "pkg-config finds the installed pnn" + ("" if rc == 0 else "\n" + flags))
    if rc != 0:
        return
    for i, code in enumerate(blocks, 1):
        first = next((l for l in code.splitlines() if l.strip().startswith("//") or "int main" in l), "").strip()
        what = f"README.md's C++ block {i} ({first[:70]})"
        if "int main" not in code:
            check(False, f"{what} is a whole program (no main: fence it as ```cpp excerpt if it is not one)")
            continue
        mpi = "pnn::Mpi" in code
        if mpi and not shutil.which("mpicxx"):
            print(f"not built: {what} needs MPI (mpicxx), which is missing (apt-get install libopenmpi-dev)")
            continue
        cpp, exe = work / f"block{i}.cpp", work / f"block{i}"
        cpp.write_text(code)
        compiler = "mpicxx" if mpi else os.environ.get("CXX", "g++")
        rc, out = run([compiler, "-std=c++20", "-O2", str(cpp), "-o", str(exe)] + flags.split(), work, env)
        check(rc == 0, f"{what} builds with {compiler} and pkg-config" + ("" if rc == 0 else "\n" + out[-3000:]))
        if rc != 0:
            continue
        if "fashion-mnist" in code and not (FASHION / "train-images-idx3-ubyte.gz").exists():
            print(f"not run: {what} reads {FASHION}, which is missing (apt-get install dataset-fashion-mnist)")
            continue
        cmd = (["mpirun", "--oversubscribe", "-np", "2", str(exe)] if mpi else [str(exe)])
        rc, out = run(cmd, work, env)
        print("\n".join("  | " + l for l in out.splitlines()[-6:]))
        check(rc == 0, f"{what} runs and exits 0" + ("" if rc == 0 else f" (status {rc})"))


def main():
    src, work = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    check_links(src)
    rc, out = run([sys.executable, str(src / "benchmarks" / "headline.py"), "--check"], work)
    check(rc == 0, "README.md's headline figures are benchmarks/RESULTS.md's latest run's" + ("" if rc == 0 else "\n" + out))
    check_code(src, work)
    print("readme_test: " + ("passed" if not failed else f"{len(failed)} failed"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
