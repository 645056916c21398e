"""The GPU telemetry panel: a graph under the frame times, on the same time axis (the
window keeps the two ranges equal), and a line of readings that always names the GPU the
numbers come from."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gearshift.core.budget import DEFAULT_WINDOW_S
from gearshift.gpu.model import GpuReadings, GpuState, Telemetry
from gearshift.ui.graph import LEFT_AXIS_PX, cache_axes
from gearshift.ui.style import NOT_AVAILABLE, reading

CURVES = (
    ("utilization_gpu_pct", "utilisation %", "#7fd1ff"),
    ("clock_pct", "graphics clock % of max", "#b48cff"),
    ("power_pct", "power % of limit", "#ffb347"),
    ("temperature_c", "temperature °C", "#ff6b6b"),
)
"""What the graph draws: one curve each, all on a 0 to 100 scale."""


class GpuGraph(pg.PlotWidget):
    """The followed GPU's recent readings, newest on the right at 0 s."""

    def __init__(self) -> None:
        super().__init__(background="#16181d")
        self.setObjectName("gpuGraph")
        self.setMinimumHeight(120)
        item = self.getPlotItem()
        item.setLabel("left", "GPU")
        item.getAxis("left").setWidth(LEFT_AXIS_PX)
        item.showGrid(x=True, y=True, alpha=0.15)
        cache_axes(item)
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.addLegend(offset=(8, 4), labelTextSize="8pt", colCount=4)
        self.setYRange(0.0, 110.0, padding=0)
        self.setXRange(-DEFAULT_WINDOW_S, 0.0, padding=0)
        self.curves = {
            key: item.plot(name=name, pen=pg.mkPen(colour, width=1.5))
            for key, name, colour in CURVES
        }

    def show_history(self, history: tuple[GpuReadings, ...], max_clock_mhz: float | None) -> None:
        """Redraw from the readings, oldest first; a missing reading leaves a gap."""
        if not history:
            for curve in self.curves.values():
                curve.setData([], [])
            return
        newest_s = history[-1].at_s
        times_s = np.array([r.at_s - newest_s for r in history])
        columns = {
            "utilization_gpu_pct": [r.utilization_gpu_pct for r in history],
            "clock_pct": [_share(r.clock_graphics_mhz, max_clock_mhz) for r in history],
            "power_pct": [_share(r.power_w, r.power_limit_w) for r in history],
            "temperature_c": [r.temperature_c for r in history],
        }
        for key, values in columns.items():
            data = np.array([np.nan if v is None else v for v in values], dtype=float)
            self.curves[key].setData(times_s, data, connect="finite")


def _share(value: float | None, whole: float | None) -> float | None:
    if value is None or not whole:
        return None
    return 100.0 * value / whole


class GpuPanel(QWidget):
    """The GPU graph and a line of readings, or why there is no GPU telemetry."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("gpuPanel")
        self.graph = GpuGraph()
        self.title = QLabel()
        self.title.setObjectName("gpuTitle")
        self.title.setWordWrap(True)
        self.readings = QLabel()
        self.readings.setObjectName("gpuReadings")
        self.readings.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graph, stretch=1)
        layout.addWidget(self.title)
        layout.addWidget(self.readings)
        self.show_telemetry(
            Telemetry(available=False, reason="GPU telemetry has not started yet"), ()
        )

    def show_telemetry(self, telemetry: Telemetry, history: tuple[GpuReadings, ...]) -> None:
        """Show the followed GPU (named, with why it is the one), or why there is none."""
        followed = telemetry.followed_gpu
        if not telemetry.available or followed is None:
            self.graph.hide()
            self.title.setText(f"GPU: {telemetry.reason or 'no NVIDIA GPU answers'}")
            self.readings.setText("")
            return
        self.graph.show()
        info = followed.info
        lost = [g.info.index for g in telemetry.gpus if g.state is GpuState.LOST]
        others = f" · GPU {', '.join(map(str, lost))} not answering" if lost else ""
        self.title.setText(f"{info.label} ({telemetry.followed_why}){others}")
        if followed.state is GpuState.LOST or followed.readings is None:
            self.readings.setText(f"not answering: {followed.problem or 'no sample yet'}")
            self.graph.show_history((), None)
            return
        self.readings.setText(readings_line(followed.readings))
        self.graph.show_history(history, info.max_graphics_clock_mhz)


def readings_line(r: GpuReadings) -> str:
    """The live readings in one line; each missing one reads N/A."""
    pstate = NOT_AVAILABLE if r.performance_state is None else f"P{r.performance_state}"
    if r.throttle_reasons is None:
        throttle = NOT_AVAILABLE
    else:
        throttle = ", ".join(r.throttle_reasons) or "none"
    power = reading(r.power_w, "W", 0)
    if r.power_limit_w is not None and r.power_w is not None:
        power = f"{power} of {r.power_limit_w:.0f} W"
    return " · ".join(
        (
            f"Util {reading(r.utilization_gpu_pct, '%', 0)}",
            f"Clock {reading(r.clock_graphics_mhz, 'MHz', 0)}",
            f"Memory {reading(r.clock_memory_mhz, 'MHz', 0)}",
            f"Temp {reading(r.temperature_c, '°C', 0)}",
            f"Power {power}",
            f"Fan {reading(r.fan_pct, '%', 0)}",
            pstate,
            f"Throttle: {throttle}",
        )
    )
