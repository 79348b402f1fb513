#!/usr/bin/env bash
# One benchmark program at two commits, interleaved: HEAD's working tree against an earlier
# commit (the one before a change, say), same flags, same machine, same run. Builds TARGET in
# BUILD (this checkout) and in BUILD/against-COMMIT (a git worktree of COMMIT), then runs
#   [LAUNCHER...] old/TARGET ARGS...   and   [LAUNCHER...] new/TARGET ARGS...
# alternately, ROUNDS times each, and prints every line they print prefixed with "before" or
# "after" and the round. Rows in seed_iteration's format ("NAME PRECISION median min max")
# are then summarised: the median over rounds of each row's median, and after / before.
#
#   benchmarks/against_commit.sh BUILD COMMIT TARGET ROUNDS [--launch "mpirun -np 2"] -- ARGS...
#
# Measure on a quiet machine: nothing else building or running.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 BUILD COMMIT TARGET ROUNDS [--launch CMD] -- ARGS..." >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "$1") commit=$2 target=$3 rounds=$4
shift 4
launch=()
if [ "${1:-}" = --launch ]; then read -r -a launch <<< "$2"; shift 2; fi
[ "${1:-}" = -- ] && shift
old_src="$build/against-$commit/src" old_build="$build/against-$commit/build"
configure() {  # SOURCE BUILD: a Release build of the benchmarks, as benchmarks/run makes it
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPNN_BUILD_TESTS=OFF -DPNN_NATIVE=OFF \
    -DPNN_BUILD_EXAMPLES=OFF -DPNN_BUILD_BENCHMARKS=ON > "$2.configure.log" 2>&1 || { cat "$2.configure.log"; exit 1; }
  cmake --build "$2" -j "${PNN_JOBS:-$(nproc)}" --target "$target" > "$2.build.log" 2>&1 || { tail -30 "$2.build.log"; exit 1; }
}
if [ ! -d "$old_src" ]; then
  mkdir -p "$(dirname "$old_src")"
  git -C "$here" worktree add --detach "$old_src" "$commit" > /dev/null
fi
configure "$old_src" "$old_build"
configure "$here" "$build"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
echo "# $(git -C "$here" rev-parse --short HEAD)$(git -C "$here" diff --quiet HEAD || echo +changes) against $(git -C "$old_src" rev-parse --short HEAD): $target ${*}"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores, $(date -u '+%F %H:%M UTC')"
out=$(mktemp)
for round in $(seq "$rounds"); do
  "${launch[@]}" "$old_build/benchmarks/$target" "$@" | sed "s/^/before $round /" | tee -a "$out"
  "${launch[@]}" "$build/benchmarks/$target" "$@" | sed "s/^/after $round /" | tee -a "$out"
done
python3 - "$out" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 6:
        try: rows[(f[2], f[3], f[0])].append(float(f[4]))
        except ValueError: pass
for (name, precision, side) in sorted(k for k in rows if k[2] == "before"):
    b, a = rows[(name, precision, "before")], rows.get((name, precision, "after"), [])
    if not a: continue
    mb, ma = statistics.median(b), statistics.median(a)
    print(f"{name} {precision}: before {mb:.3f} ms, after {ma:.3f} ms, after/before {ma / mb:.3f} "
          f"(medians of {len(b)} and {len(a)} runs; after/before per round "
          f"{min(x / y for x, y in zip(a, b)):.3f}-{max(x / y for x, y in zip(a, b)):.3f})")
PY
rm -f "$out"
