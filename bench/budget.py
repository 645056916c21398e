"""What the live statistics cost at 1000 FPS over a 60 s window.

Plays ten simulated minutes at 1000 FPS into a BudgetMonitor with a 60 s window the way
the app does: a batch of frames every 20 ms (the frame sources' tick) and a statistics
refresh ten times a second. It prints:

- frames ingested a second (frames pushed / time spent in ``push``), and the frames a
  second it takes when pushed as fast as they come while refreshing every 0.1 s of
  real time, so the work ``push`` leaves to the next refresh is counted too;
- the cost of one refresh (mean, 99th percentile, worst), against computing the same
  statistics from scratch over the window each time (``compute_metrics``, which selects
  rather than sorts: the cheapest way without a kept order);
- the share of one CPU core the whole takes in real time, and the peak memory of one
  refresh;
- push throughput for other batch sizes (1 frame a push is the worst case: a game
  engine sending one datagram a frame).

It also checks that the monitor's statistics equal those computed from scratch.

Goals: at least 2,000,000 frames a second ingested; under 1 ms a refresh.

    .venv/bin/python bench/budget.py
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from gearshift.core.budget import BudgetMonitor, BudgetStats
from gearshift.core.metrics import FrameMetrics, FrameTimes, compute_metrics
from gearshift.core.modes import PerformanceMode

FPS = 1000
WINDOW_S = 60.0
PUSH_EVERY_S = 0.02
REFRESHES_PER_S = 10
SIMULATED_S = 600
BUDGET_MS = 1000 / 300
GOAL_FRAMES_PER_S = 2_000_000
GOAL_REFRESH_MS = 1.0


def play_frames(seconds: float, rng: np.random.Generator) -> FrameTimes:
    """Frame times around 1 ms (1000 FPS) with a hitch of 5 to 30 ms every ~500 frames."""
    count = int(seconds * FPS)
    frames = rng.gamma(25.0, 1.0 / 25.0, count)
    hitches = rng.random(count) < 1 / 500
    frames[hitches] = rng.uniform(5.0, 30.0, int(hitches.sum()))
    return frames


def run_steady(frames: FrameTimes) -> tuple[float, list[float], BudgetMonitor]:
    """Push in 20 ms batches, refresh every 100 ms; return push time and refresh times."""
    monitor = BudgetMonitor(BUDGET_MS, WINDOW_S)
    per_push = int(FPS * PUSH_EVERY_S)
    pushes_per_refresh = int(1 / (PUSH_EVERY_S * REFRESHES_PER_S))
    warm = int(WINDOW_S * FPS)
    monitor.push(frames[:warm])  # fill the window first
    monitor.stats()

    push_s = 0.0
    refresh_s: list[float] = []
    clock = time.perf_counter
    batches = frames[warm:].reshape(-1, pushes_per_refresh, per_push)
    for refresh in batches:
        started = clock()
        for batch in refresh:
            monitor.push(batch)
        pushed = clock()
        monitor.stats()
        refreshed = clock()
        push_s += pushed - started
        refresh_s.append(refreshed - pushed)
    return push_s, refresh_s, monitor


def from_scratch_s(window: FrameTimes, repeats: int = 50) -> float:
    """Seconds to compute the same statistics over the window without a kept order."""
    budgets = {PerformanceMode.COMPETITIVE: BUDGET_MS}
    started = time.perf_counter()
    for _ in range(repeats):
        compute_metrics(window, budgets)
    return (time.perf_counter() - started) / repeats


def flood_rate(frames: FrameTimes, wall_s: float = 2.0) -> float:
    """Frames a second pushed as fast as they come, refreshing every 0.1 s of real time.

    The ceiling of what the monitor takes while the app refreshes ten times a second:
    each refresh folds in everything pushed since the one before.
    """
    monitor = BudgetMonitor(BUDGET_MS, WINDOW_S)
    per_push = int(FPS * PUSH_EVERY_S)
    chunk = 1000 * per_push  # pushes between looks at the clock
    batches = list(frames[: frames.size // chunk * chunk].reshape(-1, 1000, per_push))
    clock = time.perf_counter
    started = clock()
    next_refresh = started + 1 / REFRESHES_PER_S
    pushed = 0
    while clock() - started < wall_s:
        for batch in batches[(pushed // chunk) % len(batches)]:
            monitor.push(batch)
        pushed += chunk
        if clock() >= next_refresh:
            monitor.stats()
            next_refresh += 1 / REFRESHES_PER_S
    return pushed / (clock() - started)


def push_rate(frames: FrameTimes, per_push: int) -> float:
    """Frames a second pushed ``per_push`` at a time, with no refresh."""
    monitor = BudgetMonitor(BUDGET_MS, WINDOW_S)
    batches = [frames[i : i + per_push] for i in range(0, min(frames.size, 200_000), per_push)]
    started = time.perf_counter()
    for batch in batches:
        monitor.push(batch)
    return sum(b.size for b in batches) / (time.perf_counter() - started)


def largest_difference(stats: BudgetStats, exact: FrameMetrics) -> float:
    """The largest relative difference between the monitor's readings and exact ones."""
    pairs = [
        (stats.p50_ms, exact.p50_ms),
        (stats.p95_ms, exact.p95_ms),
        (stats.p99_ms, exact.p99_ms),
        (stats.p999_ms, exact.p999_ms),
        (stats.low1_fps, exact.low1_fps),
        (stats.low01_fps, exact.low01_fps),
        (stats.min_ms, exact.min_ms),
        (stats.max_ms, exact.max_ms),
        (stats.stddev_ms, exact.stddev_ms),
        (stats.variability_ms, exact.variability_ms),
        (stats.avg_fps, exact.avg_fps),
        (stats.over_budget_pct, exact.over_budget_pct[PerformanceMode.COMPETITIVE]),
    ]
    worst = 0.0
    for mine, theirs in pairs:
        assert mine is not None and theirs is not None
        worst = max(worst, abs(mine - theirs) / max(abs(theirs), 1e-300))
    return worst


def peak_refresh_kib(monitor: BudgetMonitor, frames: FrameTimes) -> float:
    """Peak memory allocated by one refresh after 100 new frames, in KiB."""
    monitor.push(frames[:100])
    tracemalloc.start()
    monitor.stats()
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak_bytes / 1024


def verdict(met: Callable[[], bool]) -> str:
    return "met" if met() else "MISSED"


def main() -> None:
    rng = np.random.default_rng(7)
    frames = play_frames(WINDOW_S + SIMULATED_S, rng)

    push_s, refresh_s, monitor = run_steady(frames)
    pushed = frames.size - int(WINDOW_S * FPS)
    refresh_ms = np.array(refresh_s) * 1000.0
    stats = monitor.stats()
    window = monitor.window()
    scratch_ms = from_scratch_s(np.array(window)) * 1000.0
    exact = compute_metrics(window, {PerformanceMode.COMPETITIVE: BUDGET_MS})
    ingest = pushed / push_s
    cpu_share = (push_s + float(refresh_ms.sum()) / 1000.0) / SIMULATED_S

    print(
        f"{SIMULATED_S} s at {FPS} FPS, {WINDOW_S:.0f} s window ({stats.frames} frames), "
        f"a push every {PUSH_EVERY_S * 1000:.0f} ms, {REFRESHES_PER_S} refreshes a second"
    )
    print(f"ingested: {ingest:,.0f} frames/s in push ({push_s / pushed * 1e9:.0f} ns a frame)")
    print(f"ingested with a refresh every 0.1 s of real time: {flood_rate(frames):,.0f} frames/s")
    print(
        f"refresh: mean {refresh_ms.mean():.3f} ms, p99 {np.percentile(refresh_ms, 99):.3f} ms, "
        f"worst {refresh_ms.max():.3f} ms (from scratch: {scratch_ms:.3f} ms)"
    )
    print(f"share of one CPU core in real time: {cpu_share * 100:.3f} %")
    print(f"peak memory of one refresh: {peak_refresh_kib(monitor, frames):.0f} KiB")
    print(f"largest relative difference from exact: {largest_difference(stats, exact):.1e}")
    for per_push in (1, 20, 100, 1000):
        print(
            f"push {per_push:>4} frames at a time: {push_rate(frames, per_push):>13,.0f} frames/s"
        )
    print(
        f"goal {GOAL_FRAMES_PER_S:,} frames/s ingested: "
        f"{verdict(lambda: ingest >= GOAL_FRAMES_PER_S)}; "
        f"goal under {GOAL_REFRESH_MS:g} ms a refresh: "
        f"{verdict(lambda: float(np.percentile(refresh_ms, 99)) < GOAL_REFRESH_MS)}"
    )


if __name__ == "__main__":
    main()
