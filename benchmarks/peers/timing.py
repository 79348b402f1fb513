"""What the peer programs share: timing one training step after warm-ups, and the report line
the drivers read ("name precision median_ms min_ms max_ms", as pnn's benchmark programs print)."""
import time

WARMUPS = 3


def time_steps(step, repeats, before=None):
    """(median, min, max) ms of `repeats` calls of step() after WARMUPS untimed ones; before()
    (a barrier, say) runs untimed ahead of each call."""
    times = []
    for r in range(repeats + WARMUPS):
        if before:
            before()
        start = time.perf_counter()
        step()
        if r >= WARMUPS:
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return times[len(times) // 2], times[0], times[-1]


def report(name, precision, stats):
    med, lo, hi = stats
    print(f"{name} {precision} {med:.4f} {lo:.4f} {hi:.4f}", flush=True)
