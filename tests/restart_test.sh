#!/usr/bin/env bash
# pnn-launch on two hosts (tests/hosts.sh's, 2 slots each, mpirun reaching the second through the
# hosts' agent): the data-parallel example in the reproducible mode, --until-update, a checkpoint
# every 20 updates; each final checkpoint must be, byte for byte, that of an uninterrupted run
# (mnist_nn's, Local):
#   1. a rank on the second host is killed (SIGKILL) after a checkpoint: the launcher restarts
#      the job with --resume on both hosts, and training finishes;
#   2. the second host's link goes down mid-training: pnn's watchdog ends the job, the second
#      host does not answer the launcher's probe, and the job resumes on the first host alone,
#      on 2 ranks instead of 4;
#   3. SIGTERM to the launcher: the job saves and stops, and is not restarted; a usage error
#      (status 2) is not restarted either;
# and after each, nothing is left running on either host.
#
#   restart_test.sh PNN_LAUNCH MNIST_NN_BINARY MNIST_NN_DATA_PARALLELISM_BINARY
#
# Exits 77 (reported as skipped) with "skipped: no network namespaces" where hosts.sh cannot work.
set -u
launch=$(readlink -f "$1")
nn=$(readlink -f "$2")
dp=$(readlink -f "$3")
here=$(dirname "$(readlink -f "$0")")
source "$here/common.sh"
source "$here/hosts.sh"
work=$(mktemp -d)
cleanup() {
  hosts_down
  rm -rf "$work"
}
trap cleanup EXIT
hosts_up pnn-restart 10.79.0
printf '%s slots=2\n%s slots=2\n' "${host_addr[0]}" "${host_addr[1]}" > "$work/hosts"
# mpirun's options, in its environment (pnn-launch passes them on, and its probes use them):
# the hosts' agent in place of ssh, TCP on the hosts' subnet only. rtc ^hwloc: the remote
# daemon sometimes crashed inside hwloc's shared topology here.
export OMPI_MCA_plm_rsh_agent=$hosts_agent OMPI_MCA_plm_rsh_no_tree_spawn=1 OMPI_MCA_rtc=^hwloc \
  OMPI_MCA_oob_tcp_if_include=10.79.0.0/24 OMPI_MCA_btl_tcp_if_include=10.79.0.0/24 OMPI_MCA_btl=tcp,self
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

updates=200
settings=(--train-samples 1000 --hidden 16 --reproducible-block 64)
"$nn" "${settings[@]}" --iterations "$updates" --print-every 0 --checkpoint "$work/straight.ckpt" > /dev/null
check $? "the uninterrupted run (mnist_nn, Local)"
run=("$dp" "${settings[@]}" --until-update "$updates" --checkpoint-every 20 --print-every 10 --watchdog 5)

nothing_on_hosts() { [ -z "$(host_processes)" ]; }
nothing_left() {
  wait_until 20 nothing_on_hosts
  local left
  left=$(host_processes | tr '\n' ' ')
  [ -z "$left" ]; check $? "nothing is left running on either host (left: ${left:-none})"
}
# the sign: a checkpoint written and 3 more progress lines since the job (re)started
under_way() { [ -e "$1" ] && lines_in "$2" '^iteration' 3; }

# until_failure NAME FAILURE...: pnn-launch on the first host, the job writing NAME.ckpt (and its
# output to NAME.out and .err); once training is under way, runs FAILURE; then waits for the
# launcher, whose status it leaves in status.
until_failure() {
  local name=$1
  shift
  on_host 0 "$launch" --max-restarts 2 --hostfile "$work/hosts" --probe-seconds 10 -- "${run[@]}" \
    --checkpoint "$work/$name.ckpt" > "$work/$name.out" 2> "$work/$name.err" &
  local launcher=$!
  wait_until 240 under_way "$work/$name.ckpt" "$work/$name.out"; check $? "training is under way on 4 ranks"
  "$@"
  wait "$launcher"
  status=$?
}
kill_a_rank() {
  local victim
  victim=$(programs_on_host 1 "$dp" | head -1)
  [ -n "$victim" ]; check $? "a rank runs on ${host_name[1]} (pid ${victim:-none})"
  [ -n "$victim" ] && kill -9 "$victim"
}

echo "== 1. a rank on ${host_name[1]} is killed"
until_failure kill kill_a_rank
grep "^pnn-launch" "$work/kill.err"
[ "$status" -eq 0 ]; check $? "the launcher ends with status 0 (found $status)"
grep -q "restart 1 of 2, from $work/kill.ckpt" "$work/kill.err"; check $? "it restarted once, from the checkpoint"
grep -q "resuming from $work/kill.ckpt" "$work/kill.out"; check $? "the program resumed"
[ "$(grep -c "starting .* on 2 host(s): .*, 4 rank(s)" "$work/kill.err")" -eq 2 ]; check $? "both times on both hosts, 4 ranks"
cmp -s "$work/kill.ckpt" "$work/straight.ckpt"; check $? "the final checkpoint is the uninterrupted run's, byte for byte"
nothing_left

echo "== 2. ${host_name[1]}'s link goes down"
until_failure cut host_link 1 down
grep "^pnn-launch\|^pnn: rank" "$work/cut.err"
[ "$status" -eq 0 ]; check $? "the launcher ends with status 0 (found $status)"
grep -q "host ${host_addr[1]} does not answer" "$work/cut.err"; check $? "it finds ${host_name[1]} gone"
grep -q "starting .* on 1 host(s): ${host_addr[0]}, 2 rank(s)" "$work/cut.err"; check $? "it restarts on ${host_name[0]} alone, 2 ranks"
cmp -s "$work/cut.ckpt" "$work/straight.ckpt"; check $? "the final checkpoint is the uninterrupted run's, byte for byte, on fewer ranks"
nothing_left
host_link 1 up

echo "== 3. SIGTERM to the launcher; a usage error"
enter_host 0  # (pnn-launch's own pid in $!, for the signal)
"${entering[@]}" "$launch" --max-restarts 2 --hostfile "$work/hosts" -- "$dp" "${settings[@]}" --until-update 100000000 \
  --print-every 10 --checkpoint "$work/term.ckpt" > "$work/term.out" 2> "$work/term.err" &
launcher=$!
wait_until 240 lines_in "$work/term.out" '^iteration' 3; check $? "training is under way"
kill -TERM "$launcher"
wait "$launcher"
status=$?
grep "^pnn-launch" "$work/term.err"
[ "$status" -ne 0 ]; check $? "the launcher ends non-zero (status $status)"
grep -q "stopping, as asked" "$work/term.err" && ! grep -q "restart 1" "$work/term.err"; check $? "and is not restarted"
grep -q "stopped by SIGTERM after" "$work/term.err" && [ -e "$work/term.ckpt" ]; check $? "the job saved its checkpoint"
nothing_left
on_host 0 "$launch" --max-restarts 2 --hostfile "$work/hosts" -- "$dp" --no-such-flag --checkpoint "$work/usage.ckpt" \
  > /dev/null 2> "$work/usage.err"
status=$?
[ "$status" -eq 2 ] && grep -q "status 2 (a usage error.*not restarting" "$work/usage.err"; check $? "a usage error: status 2, not restarted"
"$launch" --max-restarts 1 -- "$dp" > /dev/null 2> "$work/usage.err"
[ $? -eq 2 ] && grep -q "expected --checkpoint PATH" "$work/usage.err"; check $? "a program without --checkpoint is refused"
nothing_left
[ "$failed" -eq 0 ] && echo "restart_test: passed"
exit $failed
