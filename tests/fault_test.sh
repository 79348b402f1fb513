#!/usr/bin/env bash
# Faults under mpirun must end the job, not hang it:
#   1. bad input on one rank only (its share of the rows lies past the end of the file): the job
#      ends within seconds, non-zero, that rank's message printed once;
#   2. a rank killed with SIGKILL in the middle of training: the job ends, non-zero, and no
#      process of it is left;
#   3. a /dev/shm too small for the sum through shared memory (pnn/comm/node_sum.hpp): the job
#      sums with MPI_Allreduce instead and trains the same model (in a mount namespace of its
#      own with a 16 MB /dev/shm; skipped where one cannot be made).
#
#   fault_test.sh MNIST_NN_DATA_PARALLELISM_BINARY
set -u
binary=$(readlink -f "$1")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
source "$(dirname "$0")/common.sh"

echo "== 1. rank 1's rows [35000, 70000) lie past the end of the 60000-row file"
timeout 120 mpirun -np 2 --oversubscribe "$binary" --train-samples 70000 --iterations 5 --print-every 0 > "$log" 2>&1
status=$?
cat "$log"
[ "$status" -ne 0 ] && [ "$status" -ne 124 ]; check $? "the job failed (status $status) rather than hanging"
count=$(grep -c "expected a sample range within 0..60000, found \[35000, 70000)" "$log")
[ "$count" -eq 1 ]; check $? "the failing rank's message was printed once (found $count times)"

echo "== 2. SIGKILL to rank 1 while training"
# The progress lines (rank 0's, one per update) are the sign that training is under way; the
# timeout only ends a job that hangs (an update takes seconds under the sanitizers). The log is
# emptied here, before the job starts, so that no line of section 1 can be taken for the sign.
: > "$log"
timeout 300 mpirun -np 2 --oversubscribe "$binary" --train-samples 20000 --iterations 100000 --print-every 1 \
  > "$log" 2>&1 &
runner=$!
job_mpirun() { runner_mpirun=$(pgrep -P "$runner" -x mpirun); [ -n "$runner_mpirun" ]; }  # timeout's child
wait_until 30 job_mpirun; check $? "mpirun started"
victim=""
ranks=""
find_ranks() {  # this job's ranks: the binary, launched by this mpirun (its parent)
  ranks=""
  victim=""
  local pid
  for pid in $(pgrep -f "^$binary"); do
    [ "$(ps -o ppid= -p "$pid" | tr -d ' ')" = "${runner_mpirun:-none}" ] || continue
    ranks="$ranks $pid"
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then victim=$pid; fi
  done
  [ -n "$victim" ]
}
wait_until 60 find_ranks; check $? "found rank 1's process"
wait_until 240 lines_in "$log" '^iteration' 2; check $? "training is under way"
[ -n "$victim" ] && kill -9 "$victim"
wait "$runner"
status=$?
tail -5 "$log"
[ "$status" -ne 0 ] && [ "$status" -ne 124 ]; check $? "the job failed (status $status) rather than hanging"
# shellcheck disable=SC2086
wait_until 10 gone $ranks $runner_mpirun
left=""
for pid in $ranks $runner_mpirun; do running "$pid" && left="$left $pid"; done
[ -z "$left" ]; check $? "no process of the job is left (left:${left:- none})"
echo "== 3. a 16 MB /dev/shm, where the sum through shared memory needs 30 MB"
# 784-1024-1024-10 floats: 1.86 M parameters, two slots a rank of 7.4 MB. With 2 ranks each sum
# adds two values, which rounds alike in any order: the costs must be the same to the last digit.
small_run=(mpirun -np 2 --oversubscribe "$binary" --train-samples 2000 --hidden 1024 1024 --precision float
  --iterations 3 --print-every 1 --overlap off)
# (--propagation unchanged and /dev made private first: in a chroot, unshare's default, making
# / private, fails; no mount may reach the machine's own /dev/shm)
small_shm='mount --make-rprivate /dev && mount -t tmpfs -o size=16m pnn-small-shm /dev/shm'
if unshare -m --propagation unchanged sh -c "$small_shm" 2> /dev/null; then
  timeout 300 "${small_run[@]}" > "$log" 2>&1
  check $? "the run with the usual /dev/shm"
  grep '^iteration' "$log" > "$log.usual"
  # shellcheck disable=SC2016
  timeout 300 unshare -m --propagation unchanged sh -c "$small_shm"' && exec "$@"' sh "${small_run[@]}" > "$log" 2>&1
  status=$?
  [ "$status" -eq 0 ]; check $? "the run with a 16 MB /dev/shm ended well (status $status)"
  grep '^iteration' "$log" > "$log.small"
  [ -s "$log.usual" ] && cmp -s "$log.usual" "$log.small"; check $? "the same costs both ways"
  [ "$status" -eq 0 ] || cat "$log"
  rm -f "$log.usual" "$log.small"
else
  echo "skipped: no mount namespace of its own (needs root, and /dev a mount point)"
fi
exit $failed
