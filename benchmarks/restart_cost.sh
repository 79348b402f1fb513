#!/usr/bin/env bash
# What a restart costs: pnn-launch runs the data-parallel example (the seed's net on 5000
# Fashion-MNIST images, full batch, the reproducible mode, a checkpoint every 500 updates) to
# update 3000, once uninterrupted and once with a rank killed (SIGKILL) past the middle; the
# restart's cost is the interrupted run's extra wall time. The target (issue 13): at most the
# time since the last checkpoint at the kill (the work redone) plus 10 s of start-up. Each pair is
# measured ROUNDS times, interleaved; the figures are medians. The launcher uses a hostfile (this
# host), so that each restart also probes the host, as on a cluster.
#
#   benchmarks/restart_cost.sh [--rounds N] [--build DIR]   (default 3 rounds, build/cmake)
#
# Needs the example built (cmake --build DIR --target mnist_nn_data_parallelism) and Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3
build=build/cmake
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "restart_cost: unknown option $1" >&2; exit 2 ;;
  esac
done
dp=$(readlink -f "$build/examples/mnist_nn_data_parallelism")
[ -x "$dp" ] || { echo "restart_cost: $dp not built" >&2; exit 1; }
launch=$(readlink -f bin/pnn-launch)
source tests/common.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "localhost slots=2" > "$work/hosts"
run=("$dp" --train-samples 5000 --hidden 25 --reproducible-block 256 --until-update 3000 --checkpoint-every 500
  --print-every 100)
now() { date +%s.%N; }

# one run; with "kill", a rank is killed once the progress reaches update 2300
one_run() {
  local kind=$1 ckpt="$work/$1.ckpt" start end
  rm -f "$ckpt"
  start=$(now)
  "$launch" --max-restarts 1 --hostfile "$work/hosts" -- "${run[@]}" --checkpoint "$ckpt" \
    > "$work/$kind.out" 2> "$work/$kind.err" &
  local launcher=$!
  if [ "$kind" = kill ]; then
    wait_until 600 lines_in "$work/$kind.out" '^iteration 2300,' 1
    local victim
    victim=$(pgrep -f "^$dp " | tail -1)
    kill_time=$(now)
    echo "$kill_time - $(stat -c %.Y "$ckpt")" | bc -l > "$work/since"  # (this runs in a subshell)
    kill -9 "$victim"
  fi
  wait "$launcher" || { cat "$work/$kind.err"; exit 1; }
  end=$(now)
  echo "$end - $start" | bc -l
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf "CPU: %s, %s cores; %s\n" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" "$(date -u +%F)"
printf "%-6s %14s %14s %12s %16s %10s %s\n" round uninterrupted interrupted "cost (s)" "since ckpt (s)" "limit (s)" verdict
: > "$work/costs"
: > "$work/limits"
for ((r = 1; r <= rounds; ++r)); do
  straight=$(one_run straight)
  interrupted=$(one_run kill)
  cmp -s "$work/straight.ckpt" "$work/kill.ckpt" || { echo "restart_cost: the checkpoints differ" >&2; exit 1; }
  cost=$(echo "$interrupted - $straight" | bc -l)
  since_checkpoint=$(cat "$work/since")
  limit=$(echo "$since_checkpoint + 10" | bc -l)
  verdict=$(echo "$cost <= $limit" | bc -l | sed 's/1/met/; s/0/MISSED/')
  printf "%-6s %14.2f %14.2f %12.2f %16.2f %10.2f %s\n" "$r" "$straight" "$interrupted" "$cost" "$since_checkpoint" "$limit" "$verdict"
  echo "$cost" >> "$work/costs"
  echo "$limit" >> "$work/limits"
done
printf "median: cost %.2f s, limit %.2f s (time since the last checkpoint + 10 s); final checkpoints equal, byte for byte\n" \
  "$(median < "$work/costs")" "$(median < "$work/limits")"
