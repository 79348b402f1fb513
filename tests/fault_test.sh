#!/usr/bin/env bash
# Faults under mpirun must end the job, not hang it:
#   1. bad input on one rank only (its share of the rows lies past the end of the file): the job
#      ends within seconds, non-zero, that rank's message printed once;
#   2. a rank killed with SIGKILL in the middle of training: the job ends, non-zero, and no
#      process of it is left.
#
#   fault_test.sh MNIST_NN_DATA_PARALLELISM_BINARY
set -u
binary=$(readlink -f "$1")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
check() {  # check CONDITION-EXIT-STATUS DESCRIPTION
  if [ "$1" -eq 0 ]; then echo "ok: $2"; else echo "FAILED: $2"; failed=1; fi
}

echo "== 1. rank 1's rows [35000, 70000) lie past the end of the 60000-row file"
start=$(date +%s)
timeout 120 mpirun -np 2 --oversubscribe "$binary" --train-samples 70000 --iterations 5 --print-every 0 > "$log" 2>&1
status=$?
elapsed=$(( $(date +%s) - start ))
cat "$log"
[ "$status" -ne 0 ] && [ "$status" -ne 124 ]; check $? "the job failed (status $status) rather than hanging"
[ "$elapsed" -le 30 ]; check $? "it ended within 30 s (took $elapsed s)"
count=$(grep -c "expected a sample range within 0..60000, found \[35000, 70000)" "$log")
[ "$count" -eq 1 ]; check $? "the failing rank's message was printed once (found $count times)"

echo "== 2. SIGKILL to rank 1 while training"
timeout 120 mpirun -np 2 --oversubscribe "$binary" --train-samples 0 --iterations 100000 --print-every 0 \
  > "$log" 2>&1 &
runner=$!
sleep 0.5
runner_mpirun=$(pgrep -P "$runner" -x mpirun || pgrep -P "$runner")  # timeout's child
victim=""
ranks=""
for _ in $(seq 1 300); do  # up to 30 s for the ranks to start and load the data
  ranks=""
  for pid in $(pgrep -f "^$binary"); do
    # this job's ranks: the binary, launched by this mpirun (its parent)
    [ "$(ps -o ppid= -p "$pid" | tr -d ' ')" = "$runner_mpirun" ] || continue
    ranks="$ranks $pid"
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$pid; fi
  done
  [ -n "$victim" ] && break
  sleep 0.1
done
[ -n "$victim" ]; check $? "found rank 1's process"
sleep 5  # well into training
start=$(date +%s)
[ -n "$victim" ] && kill -9 "$victim"
wait "$runner"
status=$?
elapsed=$(( $(date +%s) - start ))
tail -5 "$log"
[ "$status" -ne 0 ] && [ "$status" -ne 124 ]; check $? "the job failed (status $status) rather than hanging"
[ "$elapsed" -le 30 ]; check $? "it ended within 30 s of the kill (took $elapsed s)"
sleep 1
left=""
for pid in $ranks $runner_mpirun; do  # still running (a zombie waiting to be reaped is not)
  state=$(ps -o stat= -p "$pid" 2>/dev/null | tr -d ' ')
  [ -n "$state" ] && [ "${state#Z}" = "$state" ] && left="$left $pid($state)"
done
[ -z "$left" ]; check $? "no process of the job is left (left:${left:- none})"
exit $failed
