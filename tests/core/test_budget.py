"""BudgetMonitor: the rolling window and its statistics."""

import contextlib
import functools
import math
from pathlib import Path

import numpy as np
import pytest

from gearshift.core.budget import BudgetMonitor, BudgetStats
from gearshift.core.metrics import compute_metrics
from gearshift.core.modes import PerformanceMode
from gearshift.frames.registry import read_capture


def test_empty_window_reports_missing_not_zero() -> None:
    stats = BudgetMonitor(budget_ms=16.67).stats()
    assert stats.frames == 0
    assert stats.avg_fps is None and stats.low1_fps is None
    assert stats.p99_ms is None and stats.over_budget_pct is None


def test_window_keeps_only_the_last_seconds() -> None:
    monitor = BudgetMonitor(budget_ms=16.67, window_s=1.0)
    monitor.push(np.full(100, 20.0))  # 2 s of 20 ms frames
    stats = monitor.stats()
    assert stats.frames == 50
    assert stats.window_s == pytest.approx(1.0)
    monitor.push(np.full(200, 5.0))  # 1 s of 5 ms frames replaces them all
    assert monitor.stats().frames == 200
    assert monitor.stats().avg_fps == pytest.approx(200.0)


def test_statistics_match_hand_computed_values() -> None:
    monitor = BudgetMonitor(budget_ms=10.0, window_s=100.0)
    frames = [5.0] * 98 + [20.0, 40.0]
    monitor.push(frames)
    stats = monitor.stats()
    assert stats.avg_fps == pytest.approx(1000 / (sum(frames) / 100))
    assert stats.low1_fps == pytest.approx(1000 / 40.0)  # ceil(100/100) = 1 worst frame
    assert stats.over_budget_pct == pytest.approx(2.0)
    monitor.set_budget(30.0)
    assert monitor.stats().over_budget_pct == pytest.approx(1.0)


def test_bad_values_are_skipped_and_bad_budget_refused() -> None:
    monitor = BudgetMonitor(budget_ms=10.0)
    monitor.push([5.0, 0.0, -1.0, math.nan, math.inf, 7.0])
    assert monitor.stats().frames == 2
    with pytest.raises(ValueError, match="positive"):
        monitor.set_budget(0)


def test_many_small_pushes_at_1000_fps_stay_bounded() -> None:
    monitor = BudgetMonitor(budget_ms=3.33, window_s=2.0)
    for _ in range(500):  # 10 s at 1000 FPS, 20 frames a push
        monitor.push(np.full(20, 1.0))
    assert monitor.stats().frames == 2000
    assert monitor.window().flags.writeable is False


def test_a_frame_longer_than_the_window_is_kept_alone() -> None:
    monitor = BudgetMonitor(budget_ms=10.0, window_s=1.0)
    monitor.push([5.0, 5.0, 3000.0])
    assert monitor.stats().frames == 1


def test_stats_publish_on_a_fixed_schedule_skipping_missed_ticks() -> None:
    import asyncio

    from gearshift.core.events import BudgetStatsUpdated, EventBus
    from gearshift.core.live import publish_stats
    from tests.fakes.clock import FakeClock

    clock = FakeClock(start_s=0.0)
    waits: list[float] = []
    bus = EventBus()
    seen: list[BudgetStatsUpdated] = []
    bus.subscribe(BudgetStatsUpdated, seen.append)

    async def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        clock.advance(seconds + (0.25 if len(waits) == 2 else 0.0))  # one slow tick
        if len(waits) == 4:
            raise asyncio.CancelledError

    async def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await publish_stats(BudgetMonitor(10.0), bus, 0.1, clock=clock, sleep=sleep)

    asyncio.run(run())
    assert waits == [0.1, 0.1, 0.05, 0.1]  # 0.25 s late: ticks at 0.3, 0.4 skipped
    assert len(seen) == 4 and seen[0].stats.frames == 0


# --------------------------------------------- the same statistics as analyze, kept by difference


def window_of(history: np.ndarray, window_s: float) -> np.ndarray:
    """The newest frames whose times fit in the window (at least one), from scratch."""
    from_newest_ms = np.cumsum(history[::-1])
    fitting = int(np.searchsorted(from_newest_ms, window_s * 1000.0, side="right"))
    return history[history.size - max(fitting, 1) :]


def assert_matches_exact(stats: BudgetStats, window: np.ndarray) -> None:
    """Every reading equals the analyze metrics of the same frames, to rounding."""
    budget = {PerformanceMode.COMPETITIVE: stats.budget_ms}
    exact = compute_metrics(window, budget)
    close = functools.partial(pytest.approx, rel=1e-9, abs=1e-12)
    assert stats.frames == exact.frames
    assert stats.window_s == close(exact.duration_s)
    assert stats.avg_fps == close(exact.avg_fps)
    for mine, theirs in (
        (stats.p50_ms, exact.p50_ms),
        (stats.p95_ms, exact.p95_ms),
        (stats.p99_ms, exact.p99_ms),
        (stats.p999_ms, exact.p999_ms),
    ):
        assert mine == pytest.approx(theirs, rel=1e-12)  # exact, not estimated
    assert stats.low1_fps == close(exact.low1_fps)
    assert stats.low01_fps == close(exact.low01_fps)
    assert (stats.min_ms, stats.max_ms) == (exact.min_ms, exact.max_ms)
    assert stats.stddev_ms == close(exact.stddev_ms)
    if exact.variability_ms is None:
        assert stats.variability_ms is None
    else:
        assert stats.variability_ms == close(exact.variability_ms)
    assert stats.over_budget_pct == exact.over_budget_pct[PerformanceMode.COMPETITIVE]
    assert stats.stutter_frames == exact.stutter_frames
    np.testing.assert_array_equal(stats.recent_ms, window)


def test_rolling_statistics_equal_numpy_on_random_play() -> None:
    rng = np.random.default_rng(3)
    monitor = BudgetMonitor(budget_ms=1000 / 300, window_s=2.0)
    history = np.empty(0)
    for step in range(400):
        # Batches of 1 to 300 frames at 200 to 2000 FPS, with hitches, and a refresh
        # after a random number of them: frames enter and leave between refreshes.
        size = int(rng.integers(1, 300))
        batch = rng.gamma(9.0, rng.uniform(0.5, 5.0) / 9.0, size)
        batch[rng.random(size) < 0.01] *= 20
        monitor.push(batch)
        history = np.concatenate((history, batch))
        if step % 97 == 50:
            monitor.set_budget(float(rng.uniform(1.0, 8.0)))
        if rng.random() < 0.3:
            assert_matches_exact(monitor.stats(), window_of(history, 2.0))
    assert_matches_exact(monitor.stats(), window_of(history, 2.0))


def test_rolling_statistics_equal_numpy_on_real_captures(shared_captures: Path) -> None:
    for name in ("presentmon_1x_csgo.csv", "ocat_MetroExodus_rtx2080ti.csv"):
        frames = read_capture(shared_captures / name).select().frame_times_ms
        monitor = BudgetMonitor(budget_ms=1000 / 60, window_s=5.0)
        for start in range(0, frames.size, 20):  # a batch per 20 frames, a refresh per 100
            monitor.push(frames[start : start + 20])
            if start % 100 == 80:
                assert_matches_exact(monitor.stats(), window_of(frames[: start + 20], 5.0))


def test_frames_pushed_between_refreshes_and_gone_before_the_next_are_never_counted() -> None:
    monitor = BudgetMonitor(budget_ms=10.0, window_s=1.0)
    monitor.push(np.full(100, 10.0))
    monitor.stats()
    monitor.push(np.full(500, 30.0))  # enters and leaves between two refreshes
    monitor.push(np.full(50, 4.0))
    stats = monitor.stats()
    assert stats.frames == 50 + 26  # 200 ms of 4 ms frames, then 800 ms of 30 ms ones
    assert_matches_exact(stats, np.concatenate((np.full(26, 30.0), np.full(50, 4.0))))


def test_a_snapshot_never_changes_after_it_was_taken() -> None:
    monitor = BudgetMonitor(budget_ms=10.0, window_s=1.0)
    monitor.push(np.arange(1.0, 30.0))
    earlier = monitor.stats()
    kept = earlier.recent_ms.copy()
    for _ in range(2000):  # enough to compact the store many times over
        monitor.push(np.full(10, 2.5))
    monitor.clear()
    monitor.push([7.0])
    np.testing.assert_array_equal(earlier.recent_ms, kept)
    assert earlier.recent_ms.flags.writeable is False
    assert monitor.stats().frames == 1


def test_clear_forgets_the_jump_to_the_next_frame() -> None:
    monitor = BudgetMonitor(budget_ms=10.0, window_s=10.0)
    monitor.push([1.0, 1.0])
    monitor.clear()
    monitor.push([9.0])
    assert monitor.stats().variability_ms is None  # no pair spans the clear
    monitor.push([5.0])
    assert monitor.stats().variability_ms == 4.0
    assert monitor.stats().stddev_ms == pytest.approx(2.0)


def test_a_whole_recording_pushed_at_once_keeps_only_its_window() -> None:
    rng = np.random.default_rng(5)
    recording = rng.gamma(16.0, 1.0 / 16.0, 1_000_000)  # 1000 s at 1000 FPS
    monitor = BudgetMonitor(budget_ms=3.33, window_s=10.0)
    monitor.push(recording)
    assert_matches_exact(monitor.stats(), window_of(recording, 10.0))


def test_one_frame_reads_as_one_frame() -> None:
    monitor = BudgetMonitor(budget_ms=10.0)
    monitor.push(12.5)
    stats = monitor.stats()
    assert (stats.frames, stats.min_ms, stats.max_ms, stats.p50_ms) == (1, 12.5, 12.5, 12.5)
    assert stats.stddev_ms == 0.0 and stats.variability_ms is None
    assert stats.over_budget_pct == 100.0 and stats.stutter_frames == 0


def test_new_readings_are_missing_while_the_window_is_empty() -> None:
    stats = BudgetMonitor(budget_ms=10.0).stats()
    for reading in (stats.p50_ms, stats.min_ms, stats.max_ms, stats.stddev_ms):
        assert reading is None
    assert stats.variability_ms is None and stats.stutter_frames is None


def test_frames_too_long_to_add_up_do_not_break_the_statistics() -> None:
    monitor = BudgetMonitor(budget_ms=10.0, window_s=1.0)
    monitor.push([1e308, 1e308, 5.0])
    stats = monitor.stats()
    assert stats.frames == 1 and stats.max_ms == 5.0
    monitor = BudgetMonitor(budget_ms=10.0, window_s=1e300)
    monitor.push([1e200, 3e200])
    stats = monitor.stats()  # the squared spread overflows: the deviation is missing
    assert stats.frames == 2 and stats.variability_ms == 2e200
    assert stats.avg_fps == pytest.approx(1000 / 2e200) and stats.stddev_ms is None
    with pytest.raises(ValueError, match="finite"):
        BudgetMonitor(budget_ms=10.0, window_s=math.inf)
