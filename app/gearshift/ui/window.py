"""The main window: the mode, a toggle, the live graph and the live statistics."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gearshift.core.budget import BudgetStats
from gearshift.core.modes import ModeProfile
from gearshift.gpu.model import GpuReadings, Telemetry
from gearshift.ui.gpu_panel import GpuPanel
from gearshift.ui.graph import FrameTimeGraph
from gearshift.ui.style import MODE_COLOURS, icon, reading

WidgetT = TypeVar("WidgetT", bound=QWidget)


def _named(widget: WidgetT, name: str) -> WidgetT:
    """``widget`` with its object name set, so tests and style sheets can find it."""
    widget.setObjectName(name)
    return widget


class MainWindow(QMainWindow):
    """Shows the state; asks for changes through signals, never decides them."""

    toggle_requested = Signal()
    """The player pressed the toggle button."""

    close_requested = Signal()
    """The player closed the window (the app decides whether that means quit)."""

    def __init__(self, source_label: str) -> None:
        super().__init__()
        self.setWindowTitle("Gearshift")
        self.setWindowIcon(icon("gearshift"))
        self.resize(860, 680)

        self.mode_label = _named(QLabel(), "modeLabel")
        self.target_label = _named(QLabel(), "targetLabel")
        self.toggle_button = _named(QPushButton(), "toggleButton")
        self.toggle_button.clicked.connect(self.toggle_requested)
        self.source_label = _named(QLabel(f"Frame source: {source_label}"), "sourceLabel")
        self.graph = FrameTimeGraph()
        self.avg_fps = _named(QLabel(), "avgFps")
        self.low1_fps = _named(QLabel(), "low1Fps")
        self.over_budget = _named(QLabel(), "overBudget")
        self.p99 = _named(QLabel(), "p99")
        self.gpu = GpuPanel()

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(self._heading())
        layout.addWidget(self.source_label)
        layout.addWidget(self.graph, stretch=3)
        layout.addLayout(self._stats_row())
        layout.addWidget(self.gpu, stretch=2)
        self.setCentralWidget(central)
        self.show_stats(None)

    def show_mode(self, profile: ModeProfile, preset: str | None = None) -> None:
        """Show ``profile``'s mode as the active one, with its preset (the profile's
        own when ``preset`` is None)."""
        colour = MODE_COLOURS[profile.mode].name()
        self.mode_label.setText(
            f"<span style='font-size:18pt; font-weight:600; color:{colour}'>"
            f"{profile.mode.label}</span>"
        )
        self.target_label.setText(
            f"target {profile.fps_range_label} · budget {profile.budget_ms:.2f} ms · "
            f"preset {preset or profile.preset}"
        )
        self.toggle_button.setText(f"Switch to {profile.mode.other.label}")
        self.graph.set_mode_colour(MODE_COLOURS[profile.mode])

    def show_stats(self, stats: BudgetStats | None) -> None:
        """Show the rolling statistics; missing readings read N/A."""
        if stats is not None:
            self.graph.show_stats(stats)
            self.gpu.graph.setXRange(*self.graph.viewRange()[0], padding=0)
        get = (lambda name: getattr(stats, name)) if stats else (lambda name: None)
        self.avg_fps.setText(f"Avg: {reading(get('avg_fps'), 'FPS')}")
        self.low1_fps.setText(f"1% low: {reading(get('low1_fps'), 'FPS')}")
        self.over_budget.setText(f"Over budget: {reading(get('over_budget_pct'), '%')}")
        self.p99.setText(f"99th pct: {reading(get('p99_ms'), 'ms', 2)}")

    def show_gpu(self, telemetry: Telemetry, history: tuple[GpuReadings, ...]) -> None:
        """Show the GPU telemetry (or why there is none)."""
        self.gpu.show_telemetry(telemetry, history)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Hand the decision to the app: hide to the tray, or quit."""
        event.ignore()
        self.close_requested.emit()

    def _heading(self) -> QHBoxLayout:
        heading = QHBoxLayout()
        names = QVBoxLayout()
        names.addWidget(self.mode_label)
        names.addWidget(self.target_label)
        heading.addLayout(names, stretch=1)
        heading.addWidget(self.toggle_button)
        return heading

    def _stats_row(self) -> QGridLayout:
        row = QGridLayout()
        for column, label in enumerate((self.avg_fps, self.low1_fps, self.over_budget, self.p99)):
            label.setStyleSheet("font-size: 12pt")
            row.addWidget(label, 0, column)
        return row
