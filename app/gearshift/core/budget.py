"""Rolling statistics of live frame times against the active mode's frame budget."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gearshift.core.metrics import FrameTimes, as_frame_times, low_fps, over_budget_pct

DEFAULT_WINDOW_S = 10.0
"""How much recent play the statistics cover, in seconds of frame time."""


@dataclass(frozen=True)
class BudgetStats:
    """A frozen snapshot of the rolling window, handed to whoever displays it.

    Readings are None when the window holds no frame yet: missing, not zero.

    Attributes:
        budget_ms: the active mode's frame budget, in milliseconds.
        frames: how many frames the window holds.
        window_s: how much time they cover, in seconds.
        avg_fps: the mean frame rate over the window.
        low1_fps: 1000 / mean of the slowest 1% of frame times.
        p99_ms: the 99th percentile frame time.
        over_budget_pct: percent of frames slower than the budget.
        recent_ms: the window's frame times, oldest first (read-only).
    """

    budget_ms: float
    frames: int
    window_s: float
    avg_fps: float | None
    low1_fps: float | None
    p99_ms: float | None
    over_budget_pct: float | None
    recent_ms: FrameTimes


class BudgetMonitor:
    """Keeps the last ``window_s`` seconds of frame times and summarises them.

    Pushing is O(batch) amortised: frames go into a growing ring of numpy storage and
    the window's start moves forward as old frames fall out. Statistics are computed on
    demand (the app asks about ten times a second), which keeps the per-frame cost tiny
    even at 1000 FPS.
    """

    def __init__(self, budget_ms: float, window_s: float = DEFAULT_WINDOW_S) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self._budget_ms = budget_ms
        self._window_ms = window_s * 1000.0
        self._buffer: FrameTimes = np.empty(4096, dtype=np.float64)
        self._start = 0
        self._end = 0
        self._sum_ms = 0.0

    @property
    def budget_ms(self) -> float:
        """The frame budget the statistics are measured against, in milliseconds."""
        return self._budget_ms

    def set_budget(self, budget_ms: float) -> None:
        """Measure against a new budget from now on (the window is kept)."""
        if not budget_ms > 0:
            raise ValueError(f"a frame budget must be positive, got {budget_ms} ms")
        self._budget_ms = budget_ms

    def push(self, frame_times_ms: object) -> None:
        """Add frame times (ms) in the order they were rendered; bad values are skipped."""
        batch = as_frame_times(frame_times_ms)
        batch = batch[np.isfinite(batch) & (batch > 0)]
        if batch.size == 0:
            return

        self._make_room(batch.size)
        self._buffer[self._end : self._end + batch.size] = batch
        self._end += batch.size
        self._sum_ms += float(batch.sum())
        self._drop_old_frames()

    def clear(self) -> None:
        """Forget every frame, e.g. when the frame source changes."""
        self._start = self._end = 0
        self._sum_ms = 0.0

    def window(self) -> FrameTimes:
        """A read-only copy of the frame times in the window, oldest first."""
        recent = self._buffer[self._start : self._end].copy()
        recent.flags.writeable = False
        return recent

    def stats(self) -> BudgetStats:
        """Summarise the window now."""
        recent = self.window()
        if recent.size == 0:
            return BudgetStats(self._budget_ms, 0, 0.0, None, None, None, None, recent)

        return BudgetStats(
            budget_ms=self._budget_ms,
            frames=int(recent.size),
            window_s=float(recent.sum()) / 1000.0,
            avg_fps=1000.0 / float(recent.mean()),
            low1_fps=low_fps(recent, 0.01),
            p99_ms=float(np.percentile(recent, 99)),
            over_budget_pct=over_budget_pct(recent, self._budget_ms),
            recent_ms=recent,
        )

    def _make_room(self, count: int) -> None:
        if self._end + count <= self._buffer.size:
            return
        live = self._end - self._start
        capacity = self._buffer.size
        while capacity < 2 * (live + count):
            capacity *= 2
        grown = np.empty(capacity, dtype=np.float64)
        grown[:live] = self._buffer[self._start : self._end]
        self._buffer, self._start, self._end = grown, 0, live

    def _drop_old_frames(self) -> None:
        excess_ms = self._sum_ms - self._window_ms
        if excess_ms <= 0:
            return
        live = self._buffer[self._start : self._end]
        first_kept = int(np.searchsorted(np.cumsum(live), excess_ms, side="left")) + 1
        first_kept = min(first_kept, live.size - 1)  # a lone frame longer than the window
        self._start += first_kept
        self._sum_ms = float(live[first_kept:].sum())
