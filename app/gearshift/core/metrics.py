"""Frame-time metrics players trust, computed from a series of frame times.

Definitions, over the frame times t (milliseconds) of n frames:

- avg_fps = 1000 / mean(t)
- pXX_ms = the XXth percentile of t, linear interpolation between closest ranks
- p1_fps = 1000 / p99_ms, p01_fps = 1000 / p999_ms
- low1_fps = 1000 / mean of the ceil(n / 100) largest t; low01_fps with ceil(n / 1000)
- stutter_frames = how many t exceed STUTTER_FACTOR x mean(t)
- over_budget_pct[mode] = percent of t greater than that mode's budget, by more than
  BUDGET_TOLERANCE_MS
- min_ms, max_ms = the shortest and the longest t
- stddev_ms = the population standard deviation of t: sqrt(mean((t - mean(t))^2))
- variability_ms = mean(|t[i] - t[i-1]|) over the n - 1 pairs of consecutive frames, in
  the order they were rendered: how much the frame time jumps from one frame to the
  next, which a steady average and a low deviation can hide (alternating 5 ms and
  15 ms frames feel worse than a slow drift between them); None for a single frame.
  For a sampled log, where each t averages a log interval, it is the jump between
  consecutive intervals

Every sum is taken in float64 with numpy's pairwise summation, and every order
statistic with a selection (``np.partition``), never a full sort, so an hour at
1000 FPS (3.6 million frames) costs linear time and a few temporary arrays of its size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gearshift.core.modes import PerformanceMode

STUTTER_FACTOR = 2.5
"""A frame stutters when it takes more than this many times the mean frame time."""

BUDGET_TOLERANCE_MS = 0.005
"""How far past the budget a frame must be to count as over it, in milliseconds.

Budgets are 1000 / FPS (16.6667 ms at 60 FPS) while capture tools write frame times
rounded to a thousandth of a millisecond: without this, a game locked at exactly 60 FPS
(16.667 ms frames) would read as over its 60 FPS budget two frames in three.
"""

FrameTimes = npt.NDArray[np.float64]
"""A one-dimensional array of frame times in milliseconds."""


@dataclass(frozen=True)
class FrameMetrics:
    """The metrics of one frame-time series. Times in ms, rates in FPS."""

    frames: int
    duration_s: float
    avg_fps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    p1_fps: float
    p01_fps: float
    low1_fps: float
    low01_fps: float
    stutter_frames: int
    over_budget_pct: Mapping[PerformanceMode, float]
    min_ms: float
    max_ms: float
    stddev_ms: float
    variability_ms: float | None


def as_frame_times(values: object) -> FrameTimes:
    """``values`` as a one-dimensional float64 frame-time array (copied only if needed)."""
    return np.asarray(values, dtype=np.float64).reshape(-1)


def low_fps(frame_times_ms: FrameTimes, fraction: float) -> float:
    """1000 / the mean of the ceil(n * fraction) largest frame times."""
    count = math.ceil(frame_times_ms.size * fraction)
    worst = np.partition(frame_times_ms, frame_times_ms.size - count)[-count:]
    return 1000.0 / float(worst.mean())


def percentile_of_sorted(sorted_ms: FrameTimes, pct: float) -> float:
    """The ``pct``th percentile of an ascending, non-empty series, by linear interpolation.

    The same definition as ``np.percentile``'s default, read straight from a series
    that is already sorted (the live monitor keeps one), so it costs O(1).
    """
    rank = (sorted_ms.size - 1) * (pct / 100.0)
    below = min(math.floor(rank), sorted_ms.size - 1)
    above = min(below + 1, sorted_ms.size - 1)
    low, high = float(sorted_ms[below]), float(sorted_ms[above])
    weight = rank - below
    # Interpolate from the nearer end, as numpy does, so the two agree to the last bit.
    if weight < 0.5:
        return low + (high - low) * weight
    return high - (high - low) * (1.0 - weight)


def variability_ms(frame_times_ms: FrameTimes) -> float | None:
    """The mean absolute difference of consecutive frame times; None for one frame."""
    if frame_times_ms.size < 2:
        return None
    steps = np.diff(frame_times_ms)
    np.abs(steps, out=steps)
    return float(steps.mean())


def over_budget_pct(frame_times_ms: FrameTimes, budget_ms: float) -> float:
    """Percent of frames that took longer than ``budget_ms`` (beyond the tolerance)."""
    over = frame_times_ms > budget_ms + BUDGET_TOLERANCE_MS
    return 100.0 * float(np.count_nonzero(over)) / frame_times_ms.size


def compute_metrics(
    frame_times_ms: FrameTimes,
    budgets_ms: Mapping[PerformanceMode, float],
    duration_s: float | None = None,
) -> FrameMetrics:
    """The metrics of a non-empty series of positive frame times.

    Args:
        frame_times_ms: the frame times, in milliseconds.
        budgets_ms: each mode's frame budget, in milliseconds.
        duration_s: the capture's length in seconds when it is known from elsewhere
            (a sampled log's elapsed column); else the sum of the frame times.

    Raises:
        ValueError: when the series is empty or holds a frame time that is not a
            positive, finite number (readers drop and count those before this).
    """
    t = as_frame_times(frame_times_ms)
    if t.size == 0:
        raise ValueError("no frame times to compute metrics from")
    if not bool(np.all(np.isfinite(t) & (t > 0))):
        raise ValueError("frame times must be positive and finite")

    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return _metrics_of(t, budgets_ms, duration_s)


def _metrics_of(
    t: FrameTimes, budgets_ms: Mapping[PerformanceMode, float], duration_s: float | None
) -> FrameMetrics:
    mean_ms = float(t.mean())
    p50, p95, p99, p999 = (float(v) for v in np.percentile(t, [50, 95, 99, 99.9]))

    return FrameMetrics(
        frames=int(t.size),
        duration_s=float(t.sum()) / 1000.0 if duration_s is None else duration_s,
        avg_fps=1000.0 / mean_ms,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        p999_ms=p999,
        p1_fps=1000.0 / p99,
        p01_fps=1000.0 / p999,
        low1_fps=low_fps(t, 0.01),
        low01_fps=low_fps(t, 0.001),
        stutter_frames=int(np.count_nonzero(t > STUTTER_FACTOR * mean_ms)),
        over_budget_pct={mode: over_budget_pct(t, b) for mode, b in budgets_ms.items()},
        min_ms=float(t.min()),
        max_ms=float(t.max()),
        stddev_ms=float(t.std()),
        variability_ms=variability_ms(t),
    )
