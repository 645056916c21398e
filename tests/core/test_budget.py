"""BudgetMonitor: the rolling window and its statistics."""

import contextlib
import math

import numpy as np
import pytest

from gearshift.core.budget import BudgetMonitor


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
