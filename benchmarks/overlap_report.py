#!/usr/bin/python3
"""benchmarks/overlap.sh's JSON (one line a link rate) as a Markdown table and a plot of the
step's time against the link's rate: overlap on (every step), overlap off, the default (trial
steps that keep the faster order), the overlap limit and PyTorch DDP's best bucket size.

  overlap_report.py OVERLAP_JSON PNG    (prints the Markdown table)
"""
import json
import sys


def label(link):
    return "unlimited" if link == "off" else link.replace("gbit", " Gbit/s").replace("mbit", " Mbit/s")


def main():
    path, png = sys.argv[1:3]
    rows = [json.loads(l) for l in open(path) if l.strip()]
    print("| link (tbf each way) | overlap on | overlap off | default (trials) | forward | forward + backward "
          "| bare allreduce | limit | on / limit | off / limit | default / limit | DDP (gloo), by bucket "
          "| on / DDP's best | default / DDP's best |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ddp = r.get("ddp_ms", {})
        best = min(ddp.values()) if ddp else None
        vs_ddp = f"{r['on'] / best:.2f}×" if best else "n/a"
        auto_vs_ddp = f"{r['auto'] / best:.2f}×" if best else "n/a"
        ddp_cells = ", ".join(f"{v:.1f} ({mb} MB)" for mb, v in ddp.items()) or "not run"
        kept = f"overlapped in {r['auto_overlapped']} of {r['rounds']} rounds"
        print(f"| {label(r['link'])} | {r['on']:.1f} | {r['off']:.1f} | {r['auto']:.1f} ({kept}) | {r['forward']:.1f} "
              f"| {r['fwd_bwd']:.1f} | {r['allreduce']:.1f} | {r['limit']:.1f} | {r['on_over_limit']:.2f}× "
              f"| {r['off_over_limit']:.2f}× | {r['auto_over_limit']:.2f}× | {ddp_cells} | {vs_ddp} | {auto_vs_ddp} |")
    print()
    print("Times in ms per step, medians over rounds; `tc` reported:")
    for r in rows:
        for line in r.get("tc", []):
            print(f"- {label(r['link'])}: `{line}`")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(7, 4))
    series = [("overlap on, every step", [r["on"] for r in rows], "o-"), ("overlap off", [r["off"] for r in rows], "s-"),
              ("default: trial steps keep the faster", [r["auto"] for r in rows], "D:"),
              ("limit: forward + max(backward, allreduce)", [r["limit"] for r in rows], "k--")]
    if all(r.get("ddp_ms") for r in rows):
        series.append(("PyTorch DDP (gloo), best bucket", [min(r["ddp_ms"].values()) for r in rows], "^-"))
    for name, ys, style in series:
        ax.plot(list(x), ys, style, label=name)
    ax.set_xticks(list(x), [label(r["link"]) for r in rows])
    ax.set_xlabel("link rate between the two hosts")
    ax.set_ylabel("ms per step (2 ranks)")
    head = rows[0]
    ax.set_title(f"{head.get('net', '784-1024-1024-10')} float32, {head.get('rows_per_rank', '?')} rows a rank, bucket {head.get('bucket_bytes', 0) >> 10} KiB")
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    main()
