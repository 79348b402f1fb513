#!/usr/bin/env bash
# Trains across two "hosts" for real: two network namespaces joined by a veth pair, each with
# its own address on 10.77.0.0/24 and nothing else. Open MPI's launcher reaches the second host
# through a small agent that enters its namespace (in place of ssh), and its traffic (the
# daemons' out-of-band channel and the ranks' TCP messages) is restricted to the veth subnet.
# The training is mpi_test's: Mpi on the two hosts must give Local's model.
#
#   multihost_test.sh MPI_TEST_BINARY
#
# Exits 77 (reported as skipped) with "skipped: no network namespaces" where namespaces cannot
# be made (not root, no iproute2, a sandbox that forbids them).
set -u
binary=$(readlink -f "$1")
a=pnn-host-a-$$
b=pnn-host-b-$$
work=$(mktemp -d)

cleanup() {
  # anything still running in the namespaces (a hung daemon or rank): same namespace inode
  for ns in "$a" "$b"; do
    inode=$(stat -L -c %i "/run/netns/$ns" 2>/dev/null) || continue
    for p in /proc/[0-9]*; do
      [ "$(stat -L -c %i "$p/ns/net" 2>/dev/null)" = "$inode" ] && kill -9 "${p#/proc/}" 2>/dev/null
    done
  done
  ip netns del "$a" 2>/dev/null
  ip netns del "$b" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

skip() {
  echo "skipped: no network namespaces ($1)"
  exit 77
}
command -v ip > /dev/null || skip "no ip command (iproute2)"
[ "$(id -u)" -eq 0 ] || skip "not root"
ip netns add "$a" 2> "$work/err" || skip "$(cat "$work/err")"
ip netns add "$b" 2> "$work/err" || skip "$(cat "$work/err")"
set -e
# Enter a namespace's network only (nsenter): "ip -n" and "ip netns exec" also remount /sys,
# which fails where / is not a mount point (a chroot).
in_ns() {
  local ns=$1
  shift
  nsenter --net="/run/netns/$ns" "$@"
}
command -v nsenter > /dev/null || skip "no nsenter (util-linux)"
ip link add "veth-a$$" netns "$a" type veth peer name "veth-b$$" netns "$b"
in_ns "$a" ip addr add 10.77.0.1/24 dev "veth-a$$"
in_ns "$b" ip addr add 10.77.0.2/24 dev "veth-b$$"
for ns in "$a" "$b"; do
  in_ns "$ns" ip link set lo up
done
in_ns "$a" ip link set "veth-a$$" up
in_ns "$b" ip link set "veth-b$$" up

# The remote launcher: Open MPI calls it as "agent HOST COMMAND..." (as it would call ssh).
cat > "$work/agent" <<AGENT
#!/bin/sh
host=\$1
shift
case "\$host" in
  10.77.0.1) ns=$a ;;
  10.77.0.2) ns=$b ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec nsenter --net="/run/netns/\$ns" /bin/sh -c "\$*"
AGENT
chmod +x "$work/agent"

echo "== 2 ranks on 2 hosts (namespaces $a and $b), TCP over the veth pair only"
# rtc ^hwloc: the remote daemon sometimes crashed inside hwloc's shared topology here.
in_ns "$a" env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 \
  timeout 300 mpirun --host 10.77.0.1:1,10.77.0.2:1 -np 2 \
    --mca plm_rsh_agent "$work/agent" --mca plm_rsh_no_tree_spawn 1 \
    --mca oob_tcp_if_include 10.77.0.0/24 --mca btl_tcp_if_include 10.77.0.0/24 --mca btl tcp,self \
    --mca rtc ^hwloc \
    "$binary" -nc -tc="Mpi trains the same model as Local*,reproducible mode*"
echo "multihost_test: passed"
