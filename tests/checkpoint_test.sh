#!/usr/bin/env bash
# The examples' checkpoints, in separate processes, compared byte for byte (a checkpoint holds
# the step, the settings, the weights and the momentum buffer, so equal files are equal runs):
#   1. mnist_nn: 60 updates in one run equal 25, then --resume for 35;
#   2. SIGINT in the middle of training: the update finishes, the checkpoint is saved, the status
#      is 130 and a line says how to go on; resuming gives the uninterrupted run's result;
#   3. the data-parallel example under mpirun: the same split on 2 ranks, and in the
#      reproducible mode a checkpoint written on 4 ranks resumes on 2;
#   4. SIGTERM to mpirun: every rank stops after the same update and the checkpoint resumes;
#   5. usage errors (exit status 2) and a missing checkpoint named in the message.
#
#   checkpoint_test.sh MNIST_NN_BINARY MNIST_NN_DATA_PARALLELISM_BINARY
set -u
nn=$(readlink -f "$1")
dp=$(readlink -f "$2")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
source "$(dirname "$0")/common.sh"
settings=(--train-samples 2000 --test-samples 200 --hidden 16 --batch-size 100 --momentum 0.9 --learning-rate 0.5)
common=("${settings[@]}" --print-every 0)

echo "== 1. mnist_nn: 60 updates against 25 + 35 resumed"
"$nn" "${common[@]}" --iterations 60 --checkpoint "$dir/whole.ckpt" > /dev/null
check $? "the uninterrupted run"
"$nn" "${common[@]}" --iterations 25 --checkpoint "$dir/split.ckpt" --checkpoint-every 10 > /dev/null
"$nn" "${common[@]}" --iterations 35 --checkpoint "$dir/split.ckpt" --resume > "$dir/log"
check $? "the resumed run"
grep -q "resuming from $dir/split.ckpt after update 25" "$dir/log"; check $? "it says where it resumes"
cmp -s "$dir/whole.ckpt" "$dir/split.ckpt"; check $? "the two final checkpoints are the same, byte for byte"
[ "$(ls "$dir")" = "$(printf 'log\nsplit.ckpt\nwhole.ckpt')" ]; check $? "no temporary file is left ($(ls "$dir" | tr '\n' ' '))"
# --until-update: the same command line, fresh and resumed, is the same run (what pnn-launch
# restarts); a checkpoint already past it is a usage error (status 2)
"$nn" "${common[@]}" --until-update 25 --checkpoint "$dir/until.ckpt" > /dev/null
"$nn" "${common[@]}" --until-update 60 --checkpoint "$dir/until.ckpt" --resume > /dev/null
cmp -s "$dir/whole.ckpt" "$dir/until.ckpt"; check $? "--until-update 25, then resumed with --until-update 60, equals 60 updates"
"$nn" "${common[@]}" --until-update 40 --checkpoint "$dir/until.ckpt" --resume > /dev/null 2> "$dir/err"
[ $? -eq 2 ] && grep -q "until-update 40: $dir/until.ckpt is at update 60, past it" "$dir/err"
check $? "--until-update below the checkpoint's update: status 2, says so"
rm -f "$dir/until.ckpt"

echo "== 2. SIGINT while training"
# --print-every 10: the progress lines are the sign that training is under way (the signal is
# sent after 5 of them, whatever the time start-up took).
"$nn" "${settings[@]}" --print-every 10 --iterations 1000000 --checkpoint "$dir/int.ckpt" --checkpoint-every 50 \
  > "$dir/out" 2> "$dir/err" &
pid=$!
wait_until 120 lines_in "$dir/out" '^iteration' 5; check $? "training is under way"
kill -INT "$pid"
wait "$pid"
status=$?
cat "$dir/err"
[ "$status" -eq 130 ]; check $? "status 130 after SIGINT (found $status)"
done_updates=$(sed -n 's/.*stopped by SIGINT after \([0-9]*\) of.*/\1/p' "$dir/err")
grep -q -- "--resume --iterations" "$dir/err"; check $? "a line says how to resume"
[ -n "$done_updates" ] && [ "$done_updates" -gt 0 ]; check $? "it stopped after update ${done_updates:-?}"
"$nn" "${common[@]}" --iterations 20 --checkpoint "$dir/int.ckpt" --resume > /dev/null
"$nn" "${common[@]}" --iterations $((done_updates + 20)) --checkpoint "$dir/straight.ckpt" > /dev/null
cmp -s "$dir/int.ckpt" "$dir/straight.ckpt"; check $? "interrupted + resumed equals the straight run, byte for byte"

echo "== 3. the data-parallel example under mpirun"
mpi() { timeout 300 mpirun -np "$1" --oversubscribe "$dp" "${@:2}"; }
mpi 2 "${common[@]}" --iterations 40 --checkpoint "$dir/dp-whole.ckpt" > /dev/null
mpi 2 "${common[@]}" --iterations 15 --checkpoint "$dir/dp-split.ckpt" > /dev/null
mpi 2 "${common[@]}" --iterations 25 --checkpoint "$dir/dp-split.ckpt" --resume > /dev/null
cmp -s "$dir/dp-whole.ckpt" "$dir/dp-split.ckpt"; check $? "2 ranks: 40 updates equal 15 + 25 resumed, byte for byte"
full=(--train-samples 2000 --test-samples 200 --hidden 16 --learning-rate 0.5 --momentum 0.9 --print-every 0
      --reproducible-block 64)
mpi 2 "${full[@]}" --iterations 30 --checkpoint "$dir/r2.ckpt" > /dev/null
mpi 4 "${full[@]}" --iterations 12 --checkpoint "$dir/r4.ckpt" > /dev/null
mpi 2 "${full[@]}" --iterations 18 --checkpoint "$dir/r4.ckpt" --resume > /dev/null
cmp -s "$dir/r2.ckpt" "$dir/r4.ckpt"; check $? "reproducible mode: 12 updates on 4 ranks + 18 on 2 equal 30 on 2, byte for byte"

echo "== 4. SIGTERM to mpirun while training"
# Files of its own: with section 2's out, its 5 old progress lines were the sign before mpirun
# had even started (the shell then signalled its own child, before the exec).
mpirun -np 2 --oversubscribe "$dp" "${settings[@]}" --print-every 10 --iterations 1000000 \
  --checkpoint "$dir/term.ckpt" > "$dir/term.out" 2> "$dir/term.err" &
pid=$!
wait_until 120 lines_in "$dir/term.out" '^iteration' 5; check $? "training is under way on every rank"
kill -TERM "$pid"
wait "$pid"
status=$?
tail -3 "$dir/term.err"
[ "$status" -ne 0 ]; check $? "the job ended non-zero (status $status)"
grep -q "stopped by SIGTERM after" "$dir/term.err"; check $? "rank 0 says it stopped and saved"
done_updates=$(sed -n 's/.*stopped by SIGTERM after \([0-9]*\) of.*/\1/p' "$dir/term.err" | head -1)
mpi 2 "${common[@]}" --iterations 10 --checkpoint "$dir/term.ckpt" --resume > /dev/null
check $? "the checkpoint resumes"
mpi 2 "${common[@]}" --iterations $((${done_updates:-0} + 10)) --checkpoint "$dir/term-straight.ckpt" > /dev/null
cmp -s "$dir/term.ckpt" "$dir/term-straight.ckpt"; check $? "stopped + resumed equals the straight run, byte for byte"

echo "== 5. usage errors"
"$nn" --resume > /dev/null 2> "$dir/err"
[ $? -eq 2 ] && grep -q "requires --checkpoint" "$dir/err"; check $? "--resume without --checkpoint: status 2, says so"
"$nn" --checkpoint-every 5 > /dev/null 2> "$dir/err"
[ $? -eq 2 ]; check $? "--checkpoint-every without --checkpoint: status 2"
"$nn" "${common[@]}" --checkpoint "$dir/none.ckpt" --resume > /dev/null 2> "$dir/err"
[ $? -ne 0 ] && grep -q "$dir/none.ckpt: cannot open the checkpoint" "$dir/err"; check $? "a missing checkpoint is named"
exit $failed
