"""A cumulative frame-time histogram: every frame since start, counted into fixed buckets.

The rolling BudgetMonitor forgets frames after its window; this keeps counting, which is
what a metrics scraper needs to compute rates and quantiles over any period it likes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gearshift.core.metrics import FrameTimes, as_frame_times

DEFAULT_BOUNDS_MS: tuple[float, ...] = (
    1.0,
    2.0,
    3.33,
    4.17,
    5.0,
    6.94,
    8.33,
    11.11,
    16.67,
    20.0,
    25.0,
    33.33,
    50.0,
    100.0,
    250.0,
)
"""Upper bucket bounds in ms: 1000, 500, 300, 240, 200, 144, 120, 90, 60, 50, 40, 30,
20, 10 and 4 FPS, so both modes' budgets (3.33 and 16.67 ms) are bucket edges."""


@dataclass(frozen=True)
class HistogramSnapshot:
    """The histogram at one moment.

    Attributes:
        bounds_ms: each bucket's upper bound, ascending; a last +Inf bucket is implied.
        cumulative: frames at or under each bound, then the total (the +Inf bucket).
        sum_ms: the sum of every frame time counted.
    """

    bounds_ms: tuple[float, ...]
    cumulative: tuple[int, ...]
    sum_ms: float

    @property
    def count(self) -> int:
        """How many frames were counted."""
        return self.cumulative[-1]


class FrameHistogram:
    """Counts frame times into buckets; safe to read from another thread while fed.

    Non-finite and non-positive frame times are not frames and are not counted.
    """

    def __init__(self, bounds_ms: Sequence[float] = DEFAULT_BOUNDS_MS) -> None:
        bounds = np.asarray(bounds_ms, dtype=np.float64)
        if bounds.size == 0 or not np.all(np.diff(bounds) > 0) or bounds[0] <= 0:
            raise ValueError(f"bucket bounds must be positive and ascending, got {bounds_ms}")
        self._bounds = bounds
        self._counts = np.zeros(bounds.size + 1, dtype=np.int64)
        self._sum_ms = 0.0
        self._lock = threading.Lock()

    def add(self, frame_times_ms: FrameTimes | Sequence[float]) -> None:
        """Count a batch of frame times (ms)."""
        frames = as_frame_times(frame_times_ms)
        frames = frames[np.isfinite(frames) & (frames > 0)]
        if frames.size == 0:
            return
        # side="left": a frame exactly on a bound belongs to that bound's bucket (le).
        buckets = np.searchsorted(self._bounds, frames, side="left")
        counts = np.bincount(buckets, minlength=self._counts.size)
        total = float(frames.sum())
        with self._lock:
            self._counts += counts
            self._sum_ms += total

    def snapshot(self) -> HistogramSnapshot:
        """A consistent copy of the counts so far."""
        with self._lock:
            counts = self._counts.copy()
            sum_ms = self._sum_ms
        cumulative = tuple(int(c) for c in np.cumsum(counts))
        return HistogramSnapshot(tuple(float(b) for b in self._bounds), cumulative, sum_ms)
