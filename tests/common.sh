# shellcheck shell=bash
# What the shell tests share: a check that reports and remembers a failure, and waiting for a
# sign (a line in a log, a file, a process gone) instead of a fixed time, so that a slow start
# (mpirun can take seconds where /etc/hosts is missing) or a loaded machine fails nothing.
failed=0
check() {  # check CONDITION-EXIT-STATUS DESCRIPTION
  if [ "$1" -eq 0 ]; then echo "ok: $2"; else echo "FAILED: $2"; failed=1; fi
}

# wait_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (status 0) or
# SECONDS have passed (status 1).
wait_until() {
  local limit=$(( $1 * 10 )) i
  shift
  for ((i = 0; i < limit; ++i)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# lines_in FILE PATTERN N: whether FILE has at least N lines matching PATTERN (grep -E).
lines_in() { [ "$(grep -Ec "$2" "$1" 2> /dev/null)" -ge "$3" ]; }

# running PID...: whether any of them is still running (a zombie waiting to be reaped is not).
running() {
  local pid state
  for pid in "$@"; do
    state=$(ps -o stat= -p "$pid" 2> /dev/null | tr -d ' ')
    [ -n "$state" ] && [ "${state#Z}" = "$state" ] && return 0
  done
  return 1
}
gone() { ! running "$@"; }
