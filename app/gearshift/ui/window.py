"""The main window: the mode, a toggle, the live graph and the live statistics."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import Qt, Signal
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
from gearshift.frames.sources import SourceStatus
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

    settings_requested = Signal()
    """The player pressed the Settings button."""

    def __init__(self, source_label: str) -> None:
        super().__init__()
        self.setWindowTitle("Gearshift")
        self.setWindowIcon(icon("gearshift"))
        self.resize(860, 680)

        self.mode_label = _named(QLabel(), "modeLabel")
        self.target_label = _named(QLabel(), "targetLabel")
        self.controls_label = _named(QLabel(), "controlsLabel")
        self.controls_label.setWordWrap(True)
        self.controls_label.setTextFormat(Qt.TextFormat.PlainText)
        self.controls_label.hide()
        self.toggle_button = _named(QPushButton(), "toggleButton")
        self.toggle_button.clicked.connect(self.toggle_requested)
        self.settings_button = _named(QPushButton("Settings…"), "settingsButton")
        self.settings_button.clicked.connect(self.settings_requested)
        self.notice_label = _named(QLabel(), "noticeLabel")
        self.notice_label.setWordWrap(True)
        self.notice_label.setStyleSheet(
            "border: 1px solid #9a6700; border-radius: 4px; padding: 6px"
        )
        self.notice_label.hide()
        self.source_label = _named(QLabel(f"Frame source: {source_label}"), "sourceLabel")
        self.waiting_label = _named(QLabel(), "waitingLabel")
        self.waiting_label.setWordWrap(True)
        self.waiting_label.setTextFormat(Qt.TextFormat.PlainText)
        self.waiting_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.waiting_label.hide()
        self.graph = FrameTimeGraph()
        self.avg_fps = _named(QLabel(), "avgFps")
        self.low1_fps = _named(QLabel(), "low1Fps")
        self.over_budget = _named(QLabel(), "overBudget")
        self.p99 = _named(QLabel(), "p99")
        self.gpu = GpuPanel()
        self._gpu_x_range: tuple[float, float] | None = None

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.notice_label)
        layout.addLayout(self._heading())
        layout.addWidget(self.source_label)
        layout.addWidget(self.waiting_label)
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
            if self._gpu_x_range != self.graph.x_range:  # the same time axis, moved seldom
                self._gpu_x_range = self.graph.x_range
                self.gpu.graph.setXRange(*self.graph.x_range, padding=0)
        get = (lambda name: getattr(stats, name)) if stats else (lambda name: None)
        self.avg_fps.setText(f"Avg: {reading(get('avg_fps'), 'FPS')}")
        self.low1_fps.setText(f"1% low: {reading(get('low1_fps'), 'FPS')}")
        self.over_budget.setText(f"Over budget: {reading(get('over_budget_pct'), '%')}")
        self.p99.setText(f"99th pct: {reading(get('p99_ms'), 'ms', 2)}")

    def show_source(self, status: SourceStatus) -> None:
        """Say which frame source is live and its frame rate, or that the app waits for
        frames and what brings them (the socket's path among it, selectable)."""
        if status.state == "live":
            fps = "" if status.fps is None else f" · {status.fps:.0f} FPS"
            source = f"Frame source: {status.label}{fps}"
        else:
            source = f"Frame source: {status.label}"
        waiting = _waiting_text(status)
        if self.source_label.text() != source:
            self.source_label.setText(source)
        if self.waiting_label.text() != waiting:
            self.waiting_label.setText(waiting)
        self.waiting_label.setVisible(bool(waiting))

    def show_gpu(self, telemetry: Telemetry, history: tuple[GpuReadings, ...]) -> None:
        """Show the GPU telemetry (or why there is none)."""
        self.gpu.show_telemetry(telemetry, history)

    def show_controls(self, summary: str, lines: list[str]) -> None:
        """Say under the mode which other tuning tools run (``summary``), with who
        controls each setting (``lines``) as the tooltip; an empty summary hides it."""
        self.controls_label.setText(summary[:1].upper() + summary[1:])
        self.controls_label.setToolTip("\n".join(lines))
        self.controls_label.setVisible(bool(summary))

    def show_notices(self, notices: list[str]) -> None:
        """Show what the player should know above everything (none hides the box)."""
        self.notice_label.setText("\n".join(notices))
        self.notice_label.setVisible(bool(notices))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Hand the decision to the app: hide to the tray, or quit."""
        event.ignore()
        self.close_requested.emit()

    def _heading(self) -> QHBoxLayout:
        heading = QHBoxLayout()
        names = QVBoxLayout()
        names.addWidget(self.mode_label)
        names.addWidget(self.target_label)
        names.addWidget(self.controls_label)
        heading.addLayout(names, stretch=1)
        heading.addWidget(self.toggle_button)
        heading.addWidget(self.settings_button)
        return heading

    def _stats_row(self) -> QGridLayout:
        row = QGridLayout()
        for column, label in enumerate((self.avg_fps, self.low1_fps, self.over_budget, self.p99)):
            label.setStyleSheet("font-size: 12pt")
            row.addWidget(label, 0, column)
        return row


def _waiting_text(status: SourceStatus) -> str:
    """What to do while no frames come, one line each; empty while frames come."""
    if status.state != "waiting":
        return ""
    lines = ["No game is sending frame times yet. To see one:"]
    lines += [f"• {advice[:1].upper()}{advice[1:]}" for advice in status.advice]
    lines += [f"Note: {problem}" for problem in status.problems]
    return "\n".join(lines)
