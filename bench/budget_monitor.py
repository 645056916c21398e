"""How much the live statistics cost at 1000 FPS.

Feeds a BudgetMonitor the way the app does (a batch every 20 ms) with 1000 FPS frame
times, asks for a statistics snapshot ten times a second, and prints the cost of each
and the share of one CPU core the whole takes.

    .venv/bin/python bench/budget_monitor.py
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from gearshift.core.budget import BudgetMonitor

FPS = 1000
BATCH_S = 0.02
STATS_PER_S = 10
SIMULATED_S = 120


def main() -> None:
    rng = np.random.default_rng(1)
    frames_per_batch = int(FPS * BATCH_S)
    batches = [rng.gamma(16.0, 1.0 / 16.0, frames_per_batch) for _ in range(1000)]
    monitor = BudgetMonitor(budget_ms=1000 / 300)
    for batch in batches[:500]:  # fill the 10 s window first
        monitor.push(batch)

    pushes = int(SIMULATED_S / BATCH_S)
    started = time.perf_counter()
    for i in range(pushes):
        monitor.push(batches[i % len(batches)])
    push_s = (time.perf_counter() - started) / pushes

    snapshots = SIMULATED_S * STATS_PER_S
    started = time.perf_counter()
    for _ in range(snapshots):
        stats = monitor.stats()
    stats_s = (time.perf_counter() - started) / snapshots

    tracemalloc.start()
    monitor.stats()
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    per_second_s = push_s / BATCH_S + stats_s * STATS_PER_S
    print(f"window: {stats.frames} frames ({stats.window_s:.1f} s at {FPS} FPS)")
    print(
        f"push of one {frames_per_batch}-frame batch: {push_s * 1e6:.1f} us "
        f"({push_s / frames_per_batch * 1e9:.0f} ns a frame)"
    )
    print(f"one statistics snapshot: {stats_s * 1e3:.3f} ms")
    print(
        f"at {FPS} FPS with {STATS_PER_S} snapshots a second: "
        f"{per_second_s * 100:.2f} % of one CPU core"
    )
    print(f"peak memory of one snapshot: {peak_bytes / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
