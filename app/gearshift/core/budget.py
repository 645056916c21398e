"""Rolling statistics of live frame times against the active mode's frame budget.

The monitor answers the same questions as ``gearshift analyze`` (see
``gearshift.core.metrics`` for the definitions) about the last few seconds of play, ten
times a second, while a game may render 1000 frames a second. It never sorts the whole
window again to do so:

- the frames are kept in an append-only store, with running (prefix) sums of the frame
  times, of their squared distance from a reference and of the jumps between
  consecutive frames, so the mean, the standard deviation and the variability of any
  window are a subtraction away;
- the window's frame times are also kept in ascending order, and each refresh only
  takes out the frames that left and puts in the frames that arrived since the last
  one, so percentiles, lows, the extremes and the share over budget are exact lookups.

The percentiles are therefore exact: the same values ``np.percentile`` gives for the
window, not an estimate from a histogram.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gearshift.core.metrics import (
    BUDGET_TOLERANCE_MS,
    STUTTER_FACTOR,
    FrameTimes,
    as_frame_times,
    percentile_of_sorted,
)

DEFAULT_WINDOW_S = 10.0
"""How much recent play the statistics cover, in seconds of frame time."""

INITIAL_CAPACITY = 4096
"""Frames the store holds before it first grows (4 seconds at 1000 FPS)."""

TRIM_BATCH_ABOVE = 4096
"""A batch longer than this is cut to the frames that can still be in the window before
it is stored, so pushing a whole recording at once does not grow the store to its size."""


@dataclass(frozen=True)
class BudgetStats:
    """A frozen snapshot of the rolling window, handed to whoever displays it.

    Readings are None when the window holds no frame yet: missing, not zero. They are
    also None where a reading cannot be stated as a number (frame times so long that
    their sum overflows), and ``variability_ms`` is None for a single frame.

    Attributes:
        budget_ms: the active mode's frame budget, in milliseconds.
        frames: how many frames the window holds.
        window_s: how much time they cover, in seconds.
        avg_fps: the mean frame rate over the window.
        low1_fps: 1000 / mean of the slowest 1% of frame times.
        p99_ms: the 99th percentile frame time.
        over_budget_pct: percent of frames slower than the budget.
        recent_ms: the window's frame times, oldest first (read-only; later pushes
            never change it).
        p50_ms: the median frame time.
        p95_ms: the 95th percentile frame time.
        p999_ms: the 99.9th percentile frame time.
        low01_fps: 1000 / mean of the slowest 0.1% of frame times.
        min_ms: the shortest frame time.
        max_ms: the longest frame time.
        stddev_ms: the population standard deviation of the frame times.
        variability_ms: the mean absolute difference between consecutive frame times.
        stutter_frames: frames longer than STUTTER_FACTOR x the mean frame time.
    """

    budget_ms: float
    frames: int
    window_s: float
    avg_fps: float | None
    low1_fps: float | None
    p99_ms: float | None
    over_budget_pct: float | None
    recent_ms: FrameTimes
    p50_ms: float | None = None
    p95_ms: float | None = None
    p999_ms: float | None = None
    low01_fps: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    stddev_ms: float | None = None
    variability_ms: float | None = None
    stutter_frames: int | None = None


_NO_FRAMES: FrameTimes = np.empty(0, dtype=np.float64)
_NO_FRAMES.setflags(write=False)


class BudgetMonitor:
    """Keeps the last ``window_s`` seconds of frame times and summarises them.

    The window holds the most recent frames whose times add up to at most ``window_s``
    (at least one frame, even one longer than the window).

    Costs, for a window of n frames:

    - ``push`` appends the batch to the store: a few numpy calls, whatever its size.
    - ``stats`` folds in what arrived since the last call: running sums over the new
      frames, a binary search per frame that left or arrived to find it in the ordered
      copy, and one move of that copy in memory (about n x 8 bytes, at memory speed),
      then O(1) lookups and the mean of the slowest 1%. A full sort happens only
      when more than half the window changed since the last call (the first call, or
      after a pause in asking).
    - The store grows to about four windows' worth of frames and is compacted, with its
      running sums recomputed from scratch, each time it fills, so rounding error does
      not build up over an hour of play.

    Not thread-safe: the app feeds and reads it from the one event loop.
    """

    def __init__(self, budget_ms: float, window_s: float = DEFAULT_WINDOW_S) -> None:
        if not (window_s > 0 and math.isfinite(window_s * 1000.0)):
            raise ValueError(f"window_s must be positive and finite, got {window_s}")
        self._budget_ms = budget_ms
        self._window_ms = window_s * 1000.0
        self._store = _FrameStore(INITIAL_CAPACITY)
        self._start = 0
        self._end = 0
        self._ordered = _OrderedWindow()

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
        if batch.size == 0:
            return
        # Two reductions instead of a mask in the usual case; NaN fails both tests.
        if not (batch.min() > 0.0 and batch.max() < math.inf):
            batch = batch[np.isfinite(batch) & (batch > 0.0)]
            if batch.size == 0:
                return
        if batch.size > TRIM_BATCH_ABOVE:
            batch = _tail_within(batch, self._window_ms)

        self._make_room(batch.size)
        self._store.frames[self._end : self._end + batch.size] = batch
        self._end += batch.size

    def clear(self) -> None:
        """Forget every frame, e.g. when the frame source changes."""
        self._start = self._end
        self._ordered.reset(self._end)

    def window(self) -> FrameTimes:
        """The frame times in the window, oldest first; read-only and never changed later."""
        self._sync()
        recent = self._store.frames[self._start : self._end]
        recent.flags.writeable = False
        return recent

    def stats(self) -> BudgetStats:
        """Summarise the window now."""
        recent = self.window()
        if recent.size == 0:
            return BudgetStats(self._budget_ms, 0, 0.0, None, None, None, None, _NO_FRAMES)
        with np.errstate(all="ignore"):
            return self._summary(recent)

    def _summary(self, recent: FrameTimes) -> BudgetStats:
        count = int(recent.size)
        ordered = self._ordered.values
        total_ms, spread_ms2, jumps_ms = self._store.sums(self._start, self._end)
        mean_ms = total_ms / count
        offset_ms = mean_ms - self._store.reference_ms
        variance_ms2 = spread_ms2 / count - offset_ms * offset_ms  # inf, not OverflowError
        p50, p95, p99, p999 = (percentile_of_sorted(ordered, p) for p in (50, 95, 99, 99.9))

        return BudgetStats(
            budget_ms=self._budget_ms,
            frames=count,
            window_s=total_ms / 1000.0,
            avg_fps=_finite(1000.0 / mean_ms),
            low1_fps=_finite(_low_fps(ordered, 0.01)),
            p99_ms=p99,
            over_budget_pct=100.0 * self._over_budget(ordered) / count,
            recent_ms=recent,
            p50_ms=p50,
            p95_ms=p95,
            p999_ms=p999,
            low01_fps=_finite(_low_fps(ordered, 0.001)),
            min_ms=float(ordered[0]),
            max_ms=float(ordered[-1]),
            stddev_ms=_finite(math.sqrt(max(variance_ms2, 0.0))),
            variability_ms=_finite(jumps_ms / (count - 1)) if count > 1 else None,
            stutter_frames=_count_above(ordered, STUTTER_FACTOR * mean_ms),
        )

    def _over_budget(self, ordered: FrameTimes) -> int:
        return _count_above(ordered, self._budget_ms + BUDGET_TOLERANCE_MS)

    def _sync(self) -> None:
        """Bring the running sums, the window's start and the ordered copy up to date."""
        self._store.index_up_to(self._end)
        self._start = self._store.first_in_window(self._start, self._end, self._window_ms)
        self._ordered.follow(self._store.frames, self._start, self._end)

    def _make_room(self, count: int) -> None:
        if self._end + count <= self._store.capacity:
            return
        self._sync()
        live = self._end - self._start
        capacity = max(INITIAL_CAPACITY, 1 << (2 * (live + count) - 1).bit_length())
        self._store = self._store.moved(self._start, self._end, capacity)
        self._ordered.moved_by(-self._start)
        self._start, self._end = 0, live


class _FrameStore:
    """Frames in arrival order, append-only, with running sums over them.

    Positions already written are never written again (a compaction makes a new
    store), so a view of the window stays valid for whoever holds it.

    ``elapsed[i]`` is the sum of ``frames[:i]``; ``spread[i]`` the sum of the squared
    distances of ``frames[:i]`` from ``reference_ms`` (near the mean, so that the
    variance does not come from subtracting two large, nearly equal sums); ``jumps[i]``
    the sum of ``|frames[j] - frames[j - 1]|`` for 0 < j < i.
    """

    def __init__(self, capacity: int, reference_ms: float | None = None) -> None:
        self.frames: FrameTimes = np.empty(capacity, dtype=np.float64)
        self.elapsed: FrameTimes = np.zeros(capacity + 1, dtype=np.float64)
        self.spread: FrameTimes = np.zeros(capacity + 1, dtype=np.float64)
        self.jumps: FrameTimes = np.zeros(capacity + 1, dtype=np.float64)
        self.indexed = 0
        self._reference_ms = reference_ms

    @property
    def capacity(self) -> int:
        """How many frames fit."""
        return int(self.frames.size)

    @property
    def reference_ms(self) -> float:
        """The value ``spread`` measures distances from (0 until a frame arrives)."""
        return 0.0 if self._reference_ms is None else self._reference_ms

    def index_up_to(self, end: int) -> None:
        """Extend the running sums over ``frames[indexed:end]``."""
        start = self.indexed
        if end <= start:
            return
        new = self.frames[start:end]
        if self._reference_ms is None:
            self._reference_ms = float(new[0])
        with np.errstate(over="ignore", invalid="ignore"):
            _extend(self.elapsed, start, new)
            deviations = new - self._reference_ms
            np.multiply(deviations, deviations, out=deviations)
            _extend(self.spread, start, deviations)
            first_jump = max(start, 1)
            steps = np.diff(self.frames[first_jump - 1 : end])
            np.abs(steps, out=steps)
            _extend(self.jumps, first_jump, steps)
        self.indexed = end

    def first_in_window(self, start: int, end: int, window_ms: float) -> int:
        """The new start: past the oldest frames, until the rest fit in ``window_ms``."""
        if end - start < 2:
            return start
        target_ms = self.elapsed[end] - window_ms
        if self.elapsed[start] >= target_ms:
            return start
        later = self.elapsed[start + 1 : end + 1]
        first_kept = start + 1 + int(np.searchsorted(later, target_ms, side="left"))
        return min(first_kept, end - 1)  # a lone frame longer than the window stays

    def sums(self, start: int, end: int) -> tuple[float, float, float]:
        """Over ``frames[start:end]``: the total, the squared spread and the jumps."""
        return (
            float(self.elapsed[end] - self.elapsed[start]),
            float(self.spread[end] - self.spread[start]),
            float(self.jumps[end] - self.jumps[min(start + 1, end)]),
        )

    def moved(self, start: int, end: int, capacity: int) -> _FrameStore:
        """A new store holding ``frames[start:end]``, its sums computed afresh."""
        live = self.frames[start:end]
        with np.errstate(all="ignore"):
            mean_ms = float(live.mean()) if live.size else math.nan
        store = _FrameStore(capacity, mean_ms if math.isfinite(mean_ms) else None)
        store.frames[: live.size] = live
        store.index_up_to(live.size)
        return store


class _OrderedWindow:
    """The window's frame times in ascending order, kept up to date by difference."""

    def __init__(self) -> None:
        self.values: FrameTimes = _NO_FRAMES
        self._from = 0
        self._to = 0

    def reset(self, position: int) -> None:
        """Hold nothing; the next frames to follow start at ``position``."""
        self.values = _NO_FRAMES
        self._from = self._to = position

    def moved_by(self, offset: int) -> None:
        """The store was compacted: the same frames now sit ``offset`` places away."""
        self._from += offset
        self._to += offset

    def follow(self, frames: FrameTimes, start: int, end: int) -> None:
        """Hold ``frames[start:end]``, given that it held ``frames[_from:_to]``."""
        leaving = frames[self._from : max(self._from, min(start, self._to))]
        entering = frames[max(self._to, start) : end]
        changed = leaving.size + entering.size
        if changed == 0:
            return
        if 2 * changed >= end - start:
            self.values = np.sort(frames[start:end])  # cheaper than that many moves
        else:
            self.values = _without(self.values, leaving)
            self.values = _with(self.values, entering)
        self._from, self._to = start, end


def _without(ordered: FrameTimes, leaving: FrameTimes) -> FrameTimes:
    """``ordered`` less one occurrence of each value in ``leaving`` (all present)."""
    if leaving.size == 0:
        return ordered
    gone = np.sort(leaving)
    first = np.searchsorted(ordered, gone, side="left")
    # Equal values that leave together take consecutive places.
    nth_of_equal = np.arange(gone.size) - np.searchsorted(gone, gone, side="left")
    return np.delete(ordered, first + nth_of_equal)


def _with(ordered: FrameTimes, entering: FrameTimes) -> FrameTimes:
    """``ordered`` with the values of ``entering`` put in their places."""
    if entering.size == 0:
        return ordered
    added = np.sort(entering)
    return np.insert(ordered, np.searchsorted(ordered, added, side="left"), added)


def _extend(running: FrameTimes, start: int, values: FrameTimes) -> None:
    """Write the running sums of ``values`` after ``running[start]``."""
    if values.size == 0:
        return
    stop = start + 1 + values.size
    np.cumsum(values, out=running[start + 1 : stop])
    running[start + 1 : stop] += running[start]


def _tail_within(batch: FrameTimes, window_ms: float) -> FrameTimes:
    """The last frames of ``batch`` that can still be in a window of ``window_ms``.

    That is the longest tail that fits, plus two frames: one so that every older frame
    leaves the window, one more so that rounding in the running sums cannot tip it.
    """
    from_newest_ms = np.cumsum(batch[::-1])
    fitting = int(np.searchsorted(from_newest_ms, window_ms, side="right"))
    return batch[-min(batch.size, fitting + 2) :]


def _low_fps(ordered: FrameTimes, fraction: float) -> float:
    worst = ordered[ordered.size - math.ceil(ordered.size * fraction) :]
    return 1000.0 / float(worst.mean())


def _count_above(ordered: FrameTimes, threshold_ms: float) -> int:
    return int(ordered.size - np.searchsorted(ordered, threshold_ms, side="right"))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
