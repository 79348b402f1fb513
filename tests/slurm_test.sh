#!/usr/bin/env bash
# Slurm for real: a cluster of two nodes on this machine (tests/hosts.sh's two hosts; slurmctld
# and one slurmd on the first, a slurmd on the second; munge for their credentials), with the
# launch lines of docs/mpi.md run through it:
#   1. srun --mpi=pmix starts the ranks itself (4 ranks, 2 a node): mpi_test's local rank and
#      reproducible-mode cases, then the data-parallel example, whose checkpoint must be mnist_nn's
#      (Local's), byte for byte;
#   2. an sbatch script that runs mpirun inside the allocation: the same checks. There every rank
#      inherits SLURM_LOCALID 0 from its daemon, so pnn must take Open MPI's local rank;
#   3. pnn-launch inside a batch job (srun --mpi=pmix on the allocation's nodes): a rank is
#      killed, the job restarts with --resume and ends with the uninterrupted run's checkpoint;
#   4. every daemon is stopped and nothing is left running.
#
#   slurm_test.sh MPI_TEST_BINARY MNIST_NN_BINARY MNIST_NN_DATA_PARALLELISM_BINARY PNN_LAUNCH
#
# Exits 77 (reported as skipped) with "skipped: no Slurm (why)" where Slurm is not installed or
# its daemons cannot run here, and "skipped: no network namespaces" where hosts.sh cannot work.
set -u
# slurmd 22.05 starts its cgroup plugin whatever ProctrackType says, and fails without a cgroup
# file system at /sys/fs/cgroup; a chroot (as CI's fresh Debian root, /sys bound without the
# mounts under it) or a container may have none there. The test then gives its daemons one, in a
# mount namespace of its own (no mount of the machine's is touched): the cgroup v1 hierarchies
# this kernel has (/proc/cgroups) and systemd's named one, as Debian 12 mounts them, or cgroup2
# where the kernel has no v1 hierarchy. Found when the test said "skipped: no Slurm" in a fresh
# root on 2026-12-06.
if [ -z "${PNN_SLURM_CGROUPS:-}" ] && ! mountpoint -q /sys/fs/cgroup && [ "$(id -u)" -eq 0 ] &&
  command -v unshare > /dev/null && mountpoint -q /sys; then
  exec env PNN_SLURM_CGROUPS=1 unshare -m --propagation unchanged "$BASH" "$0" "$@"
fi
if [ -n "${PNN_SLURM_CGROUPS:-}" ]; then
  if mount --make-rprivate /sys && mount -t tmpfs -o mode=755 pnn-cgroups /sys/fs/cgroup; then
    v1=$(awk '!/^#/ && $2 != 0 && $4 == 1 { print $1 }' /proc/cgroups)
    for c in $v1; do
      mkdir -p "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" 2> /dev/null
    done
    if [ -n "$v1" ]; then
      mkdir -p /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd 2> /dev/null
    else
      umount /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup 2> /dev/null
    fi
    echo "(cgroup file systems for slurmd mounted in this test's own mount namespace)"
  fi
fi
mpi_test=$(readlink -f "$1")
nn=$(readlink -f "$2")
dp=$(readlink -f "$3")
launch=$(readlink -f "$4")
here=$(dirname "$(readlink -f "$0")")
source "$here/common.sh"
source "$here/hosts.sh"
work=$(mktemp -d)
daemons=()  # pid files
munged_pid=""

stop_daemons() {
  local f
  for f in "${daemons[@]}"; do [ -s "$f" ] && kill "$(cat "$f")" 2> /dev/null; done
  for f in "${daemons[@]}"; do
    [ -s "$f" ] && wait_until 10 gone "$(cat "$f")"
    [ -s "$f" ] && kill -9 "$(cat "$f")" 2> /dev/null
  done
  return 0
}
cleanup() {
  stop_daemons
  hosts_down
  rm -rf "$work"
}
trap cleanup EXIT
skip() {
  echo "skipped: no Slurm ($1)"
  exit 77
}
for program in munged slurmctld slurmd srun sbatch sinfo scontrol; do
  command -v "$program" > /dev/null || skip "no $program: apt-get install slurm-wlm munge"
done
hosts_up pnn-node 10.78.0
node=("${host_name[@]}")

# munge: one daemon, its socket and key in the work folder (the nodes share this machine's
# file system, as a cluster's nodes share a key).
mkdir -p "$work/munge"
head -c 1024 /dev/urandom > "$work/munge/munge.key"
chmod 600 "$work/munge/munge.key"
daemons+=("$work/munge/munged.pid")
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/socket" --pid-file="$work/munge/munged.pid" \
  --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed" 2> "$work/err" ||
  skip "munged did not start: $(cat "$work/err")"
munged_pid=$(cat "$work/munge/munged.pid")  # (munged removes the file when it stops)

# Slurm: every file it writes under the work folder, one spool and tmp folder a node (%n);
# CPUs=2 a node whatever this machine has (config_overrides), so that 2 ranks a node fit.
for n in "${node[@]}"; do mkdir -p "$work/spool/$n" "$work/tmp/$n"; done
export SLURM_CONF="$work/slurm.conf"
cat > "$SLURM_CONF" << CONF
ClusterName=pnn-test
SlurmctldHost=${node[0]}(${host_addr[0]})
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/%n
TmpFS=$work/tmp/%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd-%n.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd-%n.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
InactiveLimit=0
KillWait=5
NodeName=${node[0]} NodeAddr=${host_addr[0]} CPUs=2 State=UNKNOWN
NodeName=${node[1]} NodeAddr=${host_addr[1]} CPUs=2 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
mkdir -p "$work/state"
daemons+=("$work/slurmctld.pid" "$work/slurmd-${node[0]}.pid" "$work/slurmd-${node[1]}.pid")
on_host 0 slurmctld -i 2> "$work/err" || skip "slurmctld did not start: $(cat "$work/err")"
on_host 0 slurmd 2> "$work/err" || skip "slurmd did not start on ${node[0]}: $(cat "$work/err")"
on_host 1 slurmd 2> "$work/err" || skip "slurmd did not start on ${node[1]}: $(cat "$work/err")"
both_idle() { [ "$(on_host 0 sinfo -h -N -o %T 2> /dev/null | grep -c '^idle')" -eq 2 ]; }
if ! wait_until 60 both_idle; then
  on_host 0 sinfo -N 2>&1
  tail -5 "$work"/*.log
  skip "the two nodes did not come up within 60 s"
fi
echo "ok: a Slurm cluster of two nodes (${node[*]}) is up"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
settings=(--train-samples 2000 --hidden 16 --iterations 20 --print-every 0 --reproducible-block 64)
"$nn" "${settings[@]}" --checkpoint "$work/local.ckpt" > /dev/null
check $? "mnist_nn (Local) trains the reference model"
cases="local_rank is*,reproducible mode*"

echo "== 1. srun --mpi=pmix -N 2 --ntasks-per-node=2"
(cd "$work" && on_host 0 timeout -k 5 300 srun --mpi=pmix -N 2 --ntasks-per-node=2 "$mpi_test" -nc -tc="$cases" \
  > "$work/srun-test.log" 2>&1)
check $? "mpi_test's local rank and reproducible cases pass under srun"
grep -q "of 2 on its host" "$work/srun-test.log"
ok=$?
check $ok "srun puts 2 ranks on each host"
[ $ok -eq 0 ] || cat "$work/srun-test.log"
(cd "$work" && on_host 0 timeout -k 5 300 srun --mpi=pmix -N 2 --ntasks-per-node=2 \
  "$dp" "${settings[@]}" --checkpoint "$work/srun.ckpt" > "$work/srun.log" 2>&1)
check $? "the data-parallel example runs under srun"
grep -q "4 ranks" "$work/srun.log"; check $? "on 4 ranks"
cmp -s "$work/local.ckpt" "$work/srun.ckpt"; check $? "its model is Local's, byte for byte"

echo "== 2. sbatch, with mpirun inside the allocation"
cat > "$work/job.sh" << JOB
#!/bin/sh
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=2
mpirun $mpi_test -nc -tc="$cases" > $work/sbatch-test.log 2>&1 || exit 1
mpirun $dp ${settings[*]} --checkpoint $work/sbatch.ckpt
JOB
(cd "$work" && on_host 0 timeout -k 5 300 sbatch --wait -o "$work/sbatch.log" "$work/job.sh" > /dev/null)
check $? "the batch job ends with status 0"
grep -q "of 2 on its host" "$work/sbatch-test.log"
ok=$?
check $ok "mpirun puts 2 ranks on each host, with local ranks 0 and 1"
[ $ok -eq 0 ] || cat "$work/sbatch-test.log" "$work/sbatch.log"
grep -q "4 ranks" "$work/sbatch.log"; check $? "the example runs on 4 ranks"
cmp -s "$work/local.ckpt" "$work/sbatch.ckpt"; check $? "its model is Local's, byte for byte"

echo "== 3. pnn-launch in a batch job: a rank killed, the job restarted with srun"
updates=200
restart=(--train-samples 1000 --hidden 16 --reproducible-block 64)
"$nn" "${restart[@]}" --iterations $updates --print-every 0 --checkpoint "$work/straight.ckpt" > /dev/null
cat > "$work/launch.sh" << JOB
#!/bin/sh
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=2
$launch --max-restarts 1 -- $dp ${restart[*]} --until-update $updates --checkpoint-every 20 --print-every 10 \
  --checkpoint $work/launch.ckpt > $work/launch.out
JOB
(cd "$work" && on_host 0 timeout -k 5 300 sbatch --wait -o "$work/launch.log" "$work/launch.sh" > /dev/null) &
job=$!
under_way() { [ -e "$work/launch.ckpt" ] && lines_in "$work/launch.out" '^iteration' 3; }
wait_until 240 under_way; check $? "training is under way"
victim=$(programs_on_host 1 "$dp" | head -1)
[ -n "$victim" ]; check $? "a rank runs on ${node[1]} (pid ${victim:-none})"
[ -n "$victim" ] && kill -9 "$victim"
wait "$job"
check $? "the batch job ends with status 0"
grep "^pnn-launch" "$work/launch.log"
[ "$(grep -c "starting .* on 2 host(s): ${node[*]}, 4 rank(s)" "$work/launch.log")" -eq 2 ]
check $? "pnn-launch started it twice on the allocation's 2 nodes, 4 ranks"
grep -q "resuming from $work/launch.ckpt" "$work/launch.out"; check $? "the second time resuming"
cmp -s "$work/straight.ckpt" "$work/launch.ckpt"; check $? "the final checkpoint is the uninterrupted run's, byte for byte"

echo "== 4. stopping the cluster"
stop_daemons
nothing_on_hosts() { [ -z "$(host_processes)" ]; }
wait_until 10 nothing_on_hosts
left=$(host_processes | tr '\n' ' ')
[ -z "$left" ]; check $? "every daemon stopped, nothing left running on either node (left: ${left:-none})"
! running "$munged_pid"; check $? "munged stopped"
[ "$failed" -eq 0 ] && echo "slurm_test: passed"
exit $failed
