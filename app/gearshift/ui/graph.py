"""The live frame-time graph: recent frame times against the active mode's budget.

It redraws when the app hands it a statistics snapshot, on the app's fixed schedule
(ten times a second), never once per frame, and the app hands it none while the window
is hidden. Its axes move only when what they show changes: the time span in whole
seconds, the height in steps of half the budget. Redrawing axes (their labels above
all) costs more than the curve, so a range set anew on every snapshot would make the
graph several times dearer to keep up.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem

from gearshift.core.budget import BudgetStats

LEFT_AXIS_PX = 52
"""The left axis's width, the same on every graph that shares the time axis, so their
times line up."""

MAX_POINTS = 4000
"""More points than this are thinned before drawing; the peaks are kept."""


class FrameTimeGraph(pg.PlotWidget):
    """Frame times (ms) over the last seconds, newest on the right at 0 s."""

    def __init__(self) -> None:
        super().__init__(background="#16181d")
        self.setObjectName("frameTimeGraph")
        self.setMinimumHeight(240)
        item = self.getPlotItem()
        item.setLabel("left", "frame time", units="ms")
        item.getAxis("left").setWidth(LEFT_AXIS_PX)
        item.setLabel("bottom", "time", units="s")
        item.showGrid(x=True, y=True, alpha=0.15)
        cache_axes(item)
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        self.curve = item.plot(pen=pg.mkPen("#c8d0dc", width=1))
        self.budget_line = pg.InfiniteLine(
            angle=0,
            movable=False,
            label="budget {value:.2f} ms",
            labelOpts={"position": 0.08, "color": "#f0f0f0", "fill": (22, 24, 29, 220)},
        )
        item.addItem(self.budget_line)
        self.x_range: tuple[float, float] = (math.nan, math.nan)
        """The time span shown now, in seconds (newest at 0)."""
        self._top_ms = math.nan

    def set_mode_colour(self, colour: QColor) -> None:
        """Draw the budget line in the active mode's colour."""
        self.budget_line.setPen(pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine))

    def show_stats(self, stats: BudgetStats) -> None:
        """Redraw from a stats snapshot."""
        if self.budget_line.value() != stats.budget_ms:
            self.budget_line.setValue(stats.budget_ms)
        times_s, frames_ms = _thinned(stats.recent_ms)
        self.curve.setData(times_s, frames_ms)

        worst_ms = float(stats.recent_ms.max()) if stats.recent_ms.size else 0.0
        top_ms = _top_ms(stats.budget_ms, worst_ms)
        if top_ms != self._top_ms:
            self._top_ms = top_ms
            self.setYRange(0.0, top_ms, padding=0)
        span_s = float(max(1, math.ceil(stats.window_s - 0.05)))
        if self.x_range != (-span_s, 0.0):
            self.x_range = (-span_s, 0.0)
            self.setXRange(-span_s, 0.0, padding=0)


def cache_axes(item: pg.PlotItem) -> None:
    """Keep each axis, grid lines and labels, as a picture until the axis changes.

    An axis that draws the grid covers the whole plot, so each new curve would make it
    draw its lines and labels again: most of the graph's cost. Cached, it is copied.
    """
    for name in ("left", "bottom"):
        item.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def _top_ms(budget_ms: float, worst_ms: float) -> float:
    """The graph's height: twice the budget, or above the worst frame so every hitch
    stays readable, rounded up to a step of half the budget so it seldom moves."""
    step_ms = budget_ms / 2.0
    wanted_ms = max(budget_ms * 2.0, worst_ms * 1.1)
    return math.ceil(wanted_ms / step_ms - 1e-9) * step_ms


def _thinned(frames_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times (s, newest at 0) and frame times, thinned to MAX_POINTS keeping peaks."""
    ends_s = np.cumsum(frames_ms) / 1000.0
    times_s = ends_s - (ends_s[-1] if ends_s.size else 0.0)
    if frames_ms.size <= MAX_POINTS:
        return times_s, frames_ms
    bucket = int(np.ceil(frames_ms.size / (MAX_POINTS // 2)))
    usable = (frames_ms.size // bucket) * bucket
    start = frames_ms.size - usable
    buckets_ms = frames_ms[start:].reshape(-1, bucket)
    bucket_times_s = times_s[start:].reshape(-1, bucket)[:, -1]
    highs, lows = buckets_ms.max(axis=1), buckets_ms.min(axis=1)
    return np.repeat(bucket_times_s, 2), np.column_stack((lows, highs)).reshape(-1)
