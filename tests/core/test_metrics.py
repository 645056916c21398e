"""compute_metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from gearshift.core.metrics import compute_metrics
from gearshift.core.modes import PerformanceMode, default_budgets_ms

IMMERSIVE = PerformanceMode.IMMERSIVE
COMPETITIVE = PerformanceMode.COMPETITIVE


def test_one_to_a_thousand_ms() -> None:
    # t = 1, 2, ..., 1000 ms. Percentile p sits at rank (n - 1) * p / 100 in the sorted
    # series, i.e. at value 1 + 999 * p / 100.
    m = compute_metrics(np.arange(1.0, 1001.0), default_budgets_ms())

    assert m.frames == 1000
    assert m.duration_s == pytest.approx(500.5)  # sum = 1000 * 1001 / 2 ms
    assert m.avg_fps == pytest.approx(1000 / 500.5)
    assert m.p50_ms == pytest.approx(500.5)
    assert m.p95_ms == pytest.approx(950.05)
    assert m.p99_ms == pytest.approx(990.01)
    assert m.p999_ms == pytest.approx(999.001)
    assert m.p1_fps == pytest.approx(1000 / 990.01)
    assert m.p01_fps == pytest.approx(1000 / 999.001)
    assert m.low1_fps == pytest.approx(1000 / 995.5)  # mean of 991..1000
    assert m.low01_fps == pytest.approx(1.0)  # the single worst frame, 1000 ms
    assert m.stutter_frames == 0  # nothing above 2.5 x 500.5 ms
    # Immersive budget 16.67 ms: frames 17..1000; Competitive 3.33 ms: frames 4..1000.
    assert m.over_budget_pct == {IMMERSIVE: pytest.approx(98.4), COMPETITIVE: pytest.approx(99.7)}


def test_steady_game_with_ten_hitches() -> None:
    # 990 frames of 10 ms and 10 of 40 ms: mean 10.3 ms, stutter threshold 25.75 ms.
    t = np.concatenate((np.full(990, 10.0), np.full(10, 40.0)))
    m = compute_metrics(np.random.default_rng(1).permutation(t), default_budgets_ms())

    assert m.avg_fps == pytest.approx(1000 / 10.3)
    assert (m.p50_ms, m.p95_ms) == (10.0, 10.0)
    assert m.p99_ms == pytest.approx(10.3)  # rank 989.01: 10 + 0.01 * (40 - 10)
    assert m.p999_ms == pytest.approx(40.0)
    assert m.low1_fps == pytest.approx(25.0)  # the 10 worst are all 40 ms
    assert m.low01_fps == pytest.approx(25.0)
    assert m.stutter_frames == 10
    assert m.over_budget_pct[IMMERSIVE] == pytest.approx(1.0)
    assert m.over_budget_pct[COMPETITIVE] == pytest.approx(100.0)


def test_lows_average_ceil_n_over_100_worst_frames() -> None:
    # n = 150: ceil(1.5) = 2 worst frames (30 and 50 ms) -> 40 ms -> 25 FPS. Rounding
    # down would give 20 FPS; ceil(0.15) = 1 frame for the 0.1% low -> 50 ms -> 20 FPS.
    t = np.concatenate((np.full(148, 10.0), [30.0, 50.0]))
    m = compute_metrics(t, default_budgets_ms())
    assert m.low1_fps == pytest.approx(25.0)
    assert m.low01_fps == pytest.approx(20.0)


def test_a_frame_exactly_at_the_stutter_threshold_is_not_a_stutter() -> None:
    # mean = 80 / 5 = 16 ms; 2.5 x 16 = 40 ms exactly: "exceeds" means strictly longer.
    m = compute_metrics(np.array([10.0, 10.0, 10.0, 10.0, 40.0]), default_budgets_ms())
    assert m.stutter_frames == 0


def test_duration_from_elsewhere_wins_over_the_sum() -> None:
    m = compute_metrics(np.array([4.0, 4.0]), default_budgets_ms(), duration_s=0.2)
    assert m.duration_s == 0.2
    assert m.avg_fps == pytest.approx(250.0)


def test_empty_series_is_refused() -> None:
    with pytest.raises(ValueError, match="no frame times"):
        compute_metrics(np.array([]), default_budgets_ms())


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_or_non_finite_frame_times_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="positive and finite"):
        compute_metrics(np.array([5.0, bad]), default_budgets_ms())


def test_a_game_locked_at_the_budget_rate_is_not_over_budget() -> None:
    locked_60 = np.array([16.667, 16.666, 16.667] * 100)  # as PresentMon rounds 1000/60
    locked_300 = np.array([3.333, 3.334, 3.333] * 100)
    budgets = default_budgets_ms()
    assert compute_metrics(locked_60, budgets).over_budget_pct[PerformanceMode.IMMERSIVE] == 0
    assert compute_metrics(locked_300, budgets).over_budget_pct[PerformanceMode.COMPETITIVE] == 0
    slower = np.array([16.68] * 10)
    assert compute_metrics(slower, budgets).over_budget_pct[PerformanceMode.IMMERSIVE] == 100
