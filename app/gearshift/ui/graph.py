"""The live frame-time graph: recent frame times against the active mode's budget."""

from __future__ import annotations

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

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

    def set_mode_colour(self, colour: QColor) -> None:
        """Draw the budget line in the active mode's colour."""
        self.budget_line.setPen(pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine))

    def show_stats(self, stats: BudgetStats) -> None:
        """Redraw from a stats snapshot."""
        self.budget_line.setValue(stats.budget_ms)
        times_s, frames_ms = _thinned(stats.recent_ms)
        self.curve.setData(times_s, frames_ms)
        worst_ms = float(stats.recent_ms.max()) if stats.recent_ms.size else 0.0
        top_ms = max(stats.budget_ms * 2.0, worst_ms * 1.1)  # every hitch stays readable
        self.setYRange(0.0, top_ms, padding=0)
        self.setXRange(-max(stats.window_s, 1.0), 0.0, padding=0)


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
