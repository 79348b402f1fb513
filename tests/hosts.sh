# shellcheck shell=bash
# Two "hosts" on this machine, for the tests that need more than one: each is a network namespace
# (one address on SUBNET.0/24, on a veth pair joining the two, and nothing else) and a UTS
# namespace (a host name of its own), both held by a sleeping process. What runs on a host sees
# only its own network and name, as on a separate machine; the file system is shared, as a
# cluster's is.
#
#   hosts_up PREFIX SUBNET   makes hosts PREFIX-a and PREFIX-b at SUBNET.1 and SUBNET.2 (SUBNET
#                            as "10.77.0"), and the agent $hosts_agent; sets host_name and
#                            host_addr (arrays, hosts 0 and 1)
#   on_host I COMMAND...     runs COMMAND on host I
#   enter_host I             sets entering, the command prefix of on_host (for "$!")
#   host_link I up|down      takes host I's link up or down
#   host_link_rate RATE [BURST LATENCY]
#                            limits the link to RATE (tc's units: 1gbit) each way with a token
#                            bucket (tc qdisc tbf) on both ends, BURST bytes of tokens (default
#                            256kb) and LATENCY of queue (default 20ms); "off" removes the limit.
#                            Prints the qdiscs as tc reports them. (netem, htb and fq_codel are
#                            not in every kernel of our machines; tbf is.)
#   host_processes           what is still running on either host (process ids)
#   host_stacks              what each of those is doing (stacks), for a test's hang report
#   programs_on_host I PATH  the processes on host I that run the program PATH
#   hosts_down               kills what is left on either host and removes the namespaces
#   $hosts_agent HOST COMMAND...   on_host for programs that start remote commands as ssh does
#                            (Open MPI's plm_rsh_agent); HOST is a host's address or name
#
# hosts_up exits 77 (reported as skipped) with "skipped: no network namespaces (why)" where they
# cannot be made: not root, no iproute2 or util-linux, a sandbox that forbids them.

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"  # wait_until
host_name=()
host_addr=()
host_ns=()
host_holder=()
hosts_dir=""
hosts_agent=""

hosts_up() {
  local prefix=$1 subnet=$2 i err
  hosts_dir=$(mktemp -d)
  err="$hosts_dir/err"
  local why=""
  command -v ip > /dev/null || why="no ip command (iproute2)"
  command -v nsenter > /dev/null && command -v unshare > /dev/null || why=${why:-"no nsenter or unshare (util-linux)"}
  [ "$(id -u)" -eq 0 ] || why=${why:-"not root"}
  for i in 0 1; do
    host_name[i]=$prefix-$([ "$i" -eq 0 ] && echo a || echo b)
    host_addr[i]=$subnet.$((i + 1))
    host_ns[i]=${host_name[i]}-$$
    [ -z "$why" ] && { ip netns add "${host_ns[i]}" 2> "$err" || why=$(cat "$err"); }
  done
  if [ -n "$why" ]; then
    hosts_down
    echo "skipped: no network namespaces ($why)"
    exit 77
  fi
  # "ip -n" and "ip netns exec" also remount /sys, which fails where / is not a mount point (a
  # chroot): nsenter enters the network only.
  ip link add "veth-$$-a" netns "${host_ns[0]}" type veth peer name "veth-$$-b" netns "${host_ns[1]}"
  for i in 0 1; do
    local dev
    dev=veth-$$-$([ "$i" -eq 0 ] && echo a || echo b)
    nsenter --net="/run/netns/${host_ns[i]}" ip addr add "${host_addr[i]}/24" dev "$dev"
    nsenter --net="/run/netns/${host_ns[i]}" ip link set lo up
    nsenter --net="/run/netns/${host_ns[i]}" ip link set "$dev" up
    # the host name: a UTS namespace, held by a process that sleeps in both namespaces
    nsenter --net="/run/netns/${host_ns[i]}" unshare --uts sh -c "hostname ${host_name[i]} && exec sleep 1000000" &
    host_holder[i]=$!
    disown "${host_holder[i]}"  # (no "Killed" line from the shell when hosts_down ends it)
  done
  for i in 0 1; do  # the sign that a holder is ready: its host name is set
    wait_until 10 host_named "$i"
  done
  hosts_agent="$hosts_dir/agent"
  cat > "$hosts_agent" << AGENT
#!/bin/sh
# on_host for programs that start commands on a host as ssh does: agent HOST COMMAND...
host=\$1
shift
case "\$host" in
  ${host_addr[0]} | ${host_name[0]}) exec nsenter --net=/run/netns/${host_ns[0]} --uts=/proc/${host_holder[0]}/ns/uts /bin/sh -c "\$*" ;;
  ${host_addr[1]} | ${host_name[1]}) exec nsenter --net=/run/netns/${host_ns[1]} --uts=/proc/${host_holder[1]}/ns/uts /bin/sh -c "\$*" ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
AGENT
  chmod +x "$hosts_agent"
}

host_named() { [ "$(nsenter --uts="/proc/${host_holder[$1]}/ns/uts" hostname 2> /dev/null)" = "${host_name[$1]}" ]; }

on_host() {
  enter_host "$1"
  shift
  "${entering[@]}" "$@"
}
# enter_host I: sets the array entering to the command prefix that runs a command on host I, for
# a command started in the background whose own pid ($!) is wanted (on_host ... & gives the
# subshell's).
entering=()
enter_host() {
  entering=(nsenter --net="/run/netns/${host_ns[$1]}" --uts="/proc/${host_holder[$1]}/ns/uts")
}

host_link() {
  nsenter --net="/run/netns/${host_ns[$1]}" ip link set "veth-$$-$([ "$1" -eq 0 ] && echo a || echo b)" "$2"
}

host_link_rate() {
  local i dev
  for i in 0 1; do
    dev="veth-$$-$([ "$i" -eq 0 ] && echo a || echo b)"
    if [ "$1" = off ]; then
      nsenter --net="/run/netns/${host_ns[i]}" tc qdisc del dev "$dev" root 2> /dev/null || true
    else
      nsenter --net="/run/netns/${host_ns[i]}" tc qdisc replace dev "$dev" root tbf rate "$1" burst "${2:-256kb}" latency "${3:-20ms}" || return 1
    fi
    echo "host ${host_name[i]}: $(nsenter --net="/run/netns/${host_ns[i]}" tc qdisc show dev "$dev")"
  done
}

host_processes() {
  local i
  for i in 0 1; do
    [ -n "${host_ns[i]:-}" ] && ip netns pids "${host_ns[i]}" 2> /dev/null | grep -vx "${host_holder[i]:-none}"
  done
}

# programs_on_host I PROGRAM: the processes on host I that run PROGRAM (its full path, argv[0])
programs_on_host() {
  local p
  for p in $(ip netns pids "${host_ns[$1]}" 2> /dev/null); do
    [[ "$(tr '\0' ' ' < "/proc/$p/cmdline" 2> /dev/null)" == "$2 "* ]] && echo "$p"
  done
  return 0
}

# host_stacks: for each process on either host, its command line, state, kernel wait channel and
# stacks (its threads' with gdb where gdb is installed, else the kernel's): what a hang left.
host_stacks() {
  local p
  for p in $(host_processes); do
    echo "-- process $p: $(tr '\0' ' ' < "/proc/$p/cmdline" 2> /dev/null)"
    echo "   state $(ps -o stat= -p "$p" 2> /dev/null), waiting in $(cat "/proc/$p/wchan" 2> /dev/null)"
    if command -v gdb > /dev/null; then
      timeout 30 gdb -p "$p" -batch -ex "thread apply all bt 20" 2>&1 | grep -E '^(Thread|#)'
    else
      cat "/proc/$p/stack" 2> /dev/null
    fi
  done
}

hosts_down() {
  local i pids
  for i in 0 1; do
    [ -n "${host_ns[i]:-}" ] || continue
    pids=$(ip netns pids "${host_ns[i]}" 2> /dev/null)
    [ -n "$pids" ] && kill -9 $pids 2> /dev/null
    ip netns del "${host_ns[i]}" 2> /dev/null
  done
  [ -n "$hosts_dir" ] && rm -rf "$hosts_dir"
  return 0
}
