"""compute_metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from gearshift.core.metrics import compute_metrics, percentile_of_sorted
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


# ----------------------------------------------------- spread: extremes, deviation, variability


def test_extremes_deviation_and_variability_by_hand() -> None:
    # t = 10, 20, 10, 40: mean 20; squared deviations 100, 0, 100, 400 -> variance 150;
    # consecutive jumps 10, 10, 30 -> variability 50 / 3.
    m = compute_metrics(np.array([10.0, 20.0, 10.0, 40.0]), default_budgets_ms())
    assert (m.min_ms, m.max_ms) == (10.0, 40.0)
    assert m.stddev_ms == pytest.approx(150**0.5)
    assert m.variability_ms == pytest.approx(50 / 3)


def test_variability_tells_alternating_frames_from_a_slow_drift() -> None:
    # The same 500 frames of 5 ms and 500 of 15 ms: same mean, same deviation, same
    # percentiles; alternating they jump 10 ms every frame, in two runs almost never.
    alternating = np.tile([5.0, 15.0], 500)
    two_runs = np.sort(alternating)
    a = compute_metrics(alternating, default_budgets_ms())
    b = compute_metrics(two_runs, default_budgets_ms())
    assert a.stddev_ms == pytest.approx(b.stddev_ms) == pytest.approx(5.0)
    assert a.variability_ms == pytest.approx(10.0)
    assert b.variability_ms == pytest.approx(10.0 / 999)


def test_a_single_frame_has_no_variability_and_no_spread() -> None:
    m = compute_metrics(np.array([7.5]), default_budgets_ms())
    assert m.variability_ms is None
    assert m.stddev_ms == 0.0
    assert m.min_ms == m.max_ms == m.p99_ms == 7.5


def test_an_hour_at_1000_fps_is_exact() -> None:
    # 3.6 million frames alternating 0.9 and 1.1 ms: every metric is known exactly.
    t = np.tile(np.array([0.9, 1.1], dtype=np.float32), 1_800_000)  # float32 in, float64 used
    m = compute_metrics(t, default_budgets_ms())
    exact = pytest.approx
    assert m.frames == 3_600_000
    assert m.duration_s == exact(3600.0, rel=1e-7)  # float32 0.9 and 1.1 are off by 1e-8
    assert m.avg_fps == exact(1000.0, rel=1e-7)
    assert m.p50_ms == exact(1.0, rel=1e-7)
    assert (m.min_ms, m.max_ms) == (float(np.float32(0.9)), float(np.float32(1.1)))
    assert m.stddev_ms == exact(0.1, rel=1e-6)
    assert m.variability_ms == exact(0.2, rel=1e-6)
    assert m.low01_fps == exact(1000 / 1.1, rel=1e-7)
    assert m.over_budget_pct[PerformanceMode.COMPETITIVE] == 0.0


@pytest.mark.parametrize("size", [1, 2, 3, 10, 1001])
def test_percentile_of_sorted_equals_numpy(size: int) -> None:
    rng = np.random.default_rng(size)
    t = np.sort(rng.gamma(4.0, 2.0, size))
    for pct in (0, 1, 33.3, 50, 95, 99, 99.9, 100):
        assert percentile_of_sorted(t, pct) == pytest.approx(
            float(np.percentile(t, pct)), rel=1e-15, abs=0
        )
