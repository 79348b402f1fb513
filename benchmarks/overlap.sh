#!/usr/bin/env bash
# The overlapped reduction across an emulated cluster link: two "hosts" (tests/hosts.sh: network
# namespaces joined by a veth pair), the link limited each way by tc's token bucket (tbf) on both
# ends, one rank on each host. For each rate, benchmarks/overlap_step's interleaved rounds: a step
# with overlap, with overlap off, the computation alone (forward; forward + backward) and a bare
# MPI_Allreduce of the gradient's bytes; the ratio of each step to the overlap limit
# forward + max(backward, allreduce) of the same round, medians over rounds. The tbf settings
# (rate, burst, latency) are printed with every figure, as tc reports them.
#
#   benchmarks/overlap.sh BUILD_DIR [--rates "1gbit 10gbit off"] [--rounds N] [--steps S]
#                         [--rows R] [--bucket-bytes B] [--json FILE] [--no-ddp]
#
# The peer, interleaved round by round: PyTorch DDP over gloo (peers/torch_ddp_overlap.py) on
# the same link, net and rows, with its default 25 MB buckets and with 4 MB and 1 MB.
#
# Needs root (namespaces, tc). Measure on a quiet machine.
set -euo pipefail
build=$(readlink -f "$1")
shift
rates="1gbit 10gbit off"
json=""
rounds=5
ddp=true
ddp_buckets="25 4 1"
args=()
peer_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --rates) rates=$2; shift 2 ;;
    --json) json=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --no-ddp) ddp=false; shift ;;
    --rows|--steps) args+=("$1" "$2"); peer_args+=("$1" "$2"); shift 2 ;;
    *) args+=("$1" "$2"); shift 2 ;;
  esac
done
# DDP's default bucket (25 MB: the whole 7.4 MB gradient in one) and smaller ones, tuned
/usr/bin/python3 -c "import torch" 2> /dev/null || { echo "overlap.sh: no PyTorch (python3-torch): DDP left out"; ddp=false; }
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tests/hosts.sh"
trap hosts_down EXIT
hosts_up pnn-bench 10.80.0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
two_hosts=(--host 10.80.0.1:1,10.80.0.2:1 -np 2
  --mca plm_rsh_agent "$hosts_agent" --mca plm_rsh_no_tree_spawn 1
  --mca oob_tcp_if_include 10.80.0.0/24 --mca btl_tcp_if_include 10.80.0.0/24 --mca btl tcp,self
  --mca rtc ^hwloc)
out=$(mktemp)
for rate in $rates; do
  echo "== link: $rate (tbf burst 256kb latency 20ms each way)"
  host_link_rate "$rate" 256kb 20ms | tee "$out.tc"
  : > "$out.runs"
  for round in $(seq "$rounds"); do  # pnn and DDP interleaved, round by round
    on_host 0 mpirun "${two_hosts[@]}" "$build/benchmarks/overlap_step" --rounds 1 "${args[@]}" | tee -a "$out.runs"
    if $ddp; then
      for mb in $ddp_buckets; do
        on_host 0 mpirun "${two_hosts[@]}" /usr/bin/python3 "$here/peers/torch_ddp_overlap.py" --master 10.80.0.1 \
          --bucket-mb "$mb" "${peer_args[@]}" | tee -a "$out.runs"
      done
    fi
  done
  python3 - "$rate" "$out.runs" "$out.tc" "$json" <<'PY'
import json, statistics, sys
rate, runs, tc, path = sys.argv[1:5]
lines = [json.loads(l) for l in open(runs) if l.startswith("{")]
head, rounds = lines[0], [l for l in lines if "round" in l]
med = lambda k: statistics.median(r[k] for r in rounds)
limit = [r["forward"] + max(r["fwd_bwd"] - r["forward"], r["allreduce"]) for r in rounds]
ratio = lambda k: statistics.median(r[k] / l for r, l in zip(rounds, limit))
ddp = {}
for l in lines:
    if "ddp" in l: ddp.setdefault(str(l["ddp_bucket_mb"]), []).append(l["ddp"])
res = dict(head, link=rate, tc=open(tc).read().strip().splitlines(), rounds=len(rounds),
           **{k: med(k) for k in ("on", "off", "auto", "forward", "fwd_bwd", "allreduce")},
           auto_overlapped=sum(r["auto_overlaps"] for r in rounds),
           limit=statistics.median(limit), on_over_limit=ratio("on"), off_over_limit=ratio("off"),
           auto_over_limit=ratio("auto"),
           ddp_ms={mb: statistics.median(v) for mb, v in ddp.items()})
print(f"link {rate}: step with overlap {res['on']:.1f} ms, without {res['off']:.1f} ms; forward {res['forward']:.1f}, "
      f"forward+backward {res['fwd_bwd']:.1f}, bare allreduce {res['allreduce']:.1f}; overlap limit {res['limit']:.1f} ms: "
      f"on {res['on_over_limit']:.2f}x, off {res['off_over_limit']:.2f}x the limit (medians of {len(rounds)} rounds); "
      f"the default (trial steps) {res['auto']:.1f} ms, {res['auto_over_limit']:.2f}x, overlapped in "
      f"{res['auto_overlapped']} of {len(rounds)} rounds")
if ddp:
    best = min(res["ddp_ms"], key=res["ddp_ms"].get)
    print(f"  PyTorch DDP (gloo): " + ", ".join(f"{t:.1f} ms with {mb} MB buckets" for mb, t in res["ddp_ms"].items())
          + f"; pnn with overlap takes {res['on'] / res['ddp_ms'][best]:.2f}x DDP's best ({best} MB), "
          f"the default {res['auto'] / res['ddp_ms'][best]:.2f}x")
if path:
    with open(path, "a") as f: f.write(json.dumps(res) + "\n")
PY
done
host_link_rate off > /dev/null
rm -f "$out" "$out.tc" "$out.runs"
