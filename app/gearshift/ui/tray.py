"""The tray icon: the mode at a glance, a click to toggle, a menu for the rest."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from gearshift.core.budget import BudgetStats
from gearshift.core.modes import PerformanceMode
from gearshift.ui.style import icon, mode_icon_name, panel_is_dark, reading


class TrayIcon(QObject):
    """Wraps QSystemTrayIcon; reports what the player asked for through signals."""

    toggle_requested = Signal()
    mode_requested = Signal(object)
    """A PerformanceMode picked from the menu."""
    show_window_requested = Signal()
    settings_requested = Signal()
    quit_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.icon = QSystemTrayIcon()
        self.menu = QMenu()
        self.menu.setObjectName("trayMenu")
        self.mode_actions = self._mode_actions()
        self.menu.addSeparator()
        self.show_action = self.menu.addAction("Show window")
        self.show_action.triggered.connect(self.show_window_requested)
        self.settings_action = self.menu.addAction("Settings…")
        self.settings_action.setObjectName("settings")
        self.settings_action.triggered.connect(self.settings_requested)
        self.quit_action = self.menu.addAction("Quit")
        self.quit_action.triggered.connect(self.quit_requested)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        # A double click arrives as a click first; the toggle waits out the double-click
        # interval so that a double click only opens the window.
        self._pending_toggle = QTimer(self)
        self._pending_toggle.setSingleShot(True)
        self._pending_toggle.timeout.connect(self.toggle_requested)
        self._mode = PerformanceMode.IMMERSIVE
        self._fps_text = ""
        self._why: tuple[PerformanceMode, str] | None = None
        self.dark_panel = panel_is_dark()
        self.icon_name = ""
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_colour_scheme)
        self.show_mode(self._mode)

    def show(self) -> None:
        """Put the icon in the tray."""
        self.icon.show()

    def hide(self) -> None:
        """Take the icon out of the tray."""
        self._pending_toggle.stop()
        self.icon.hide()

    def show_mode(self, mode: PerformanceMode) -> None:
        """Colour the icon and tick the menu entry for ``mode``."""
        self._mode = mode
        self._update_icon()
        self.mode_actions[mode].setChecked(True)
        self._update_tooltip()

    def follow_panel(self, dark_panel: bool) -> None:
        """Use the icon variant drawn for a dark or a light panel."""
        self.dark_panel = dark_panel
        self._update_icon()

    def show_stats(self, stats: BudgetStats) -> None:
        """Put the live frame rate in the tooltip."""
        if stats.avg_fps is None:
            text = "FPS: N/A (no frames yet)"
        else:
            text = f"{stats.avg_fps:.0f} FPS, 1% low {reading(stats.low1_fps, 'FPS', 0)}"
        if text != self._fps_text:
            self._fps_text = text
            self._update_tooltip()

    def show_reason(self, mode: PerformanceMode, why: str | None) -> None:
        """Say in the tooltip why ``mode`` is active ("cs2 is running"); None says nothing.

        The reason is shown only while that mode is the one active.
        """
        self._why = None if why is None else (mode, why)
        self._update_tooltip()

    def notify(self, title: str, message: str, warning: bool = False) -> None:
        """A desktop notification from the tray icon."""
        kind = (
            QSystemTrayIcon.MessageIcon.Warning
            if warning
            else (QSystemTrayIcon.MessageIcon.Information)
        )
        self.icon.showMessage(title, message, kind, 6000)

    def tooltip(self) -> str:
        """What hovering the icon shows."""
        return self.icon.toolTip()

    def _update_icon(self) -> None:
        self.icon_name = mode_icon_name(self._mode, self.dark_panel)
        self.icon.setIcon(icon(self.icon_name))

    def _on_colour_scheme(self) -> None:
        self.follow_panel(panel_is_dark())

    def _update_tooltip(self) -> None:
        lines = [f"Gearshift: {self._mode.label}"]
        if self._why is not None and self._why[0] is self._mode:
            lines[0] += f" — {self._why[1]}"
        if self._fps_text:
            lines.append(self._fps_text)
        self.icon.setToolTip("\n".join(lines))

    def _mode_actions(self) -> dict[PerformanceMode, QAction]:
        group = QActionGroup(self.menu)
        group.setExclusive(True)
        actions = {}
        for mode in PerformanceMode:
            action = self.menu.addAction(mode.label)
            action.setCheckable(True)
            action.setObjectName(f"mode-{mode.value}")
            group.addAction(action)
            action.triggered.connect(lambda _checked=False, m=mode: self._on_mode_picked(m))
            actions[mode] = action
        return actions

    def _on_mode_picked(self, mode: PerformanceMode) -> None:
        self.mode_actions[self._mode].setChecked(True)  # until the switch really happens
        self.mode_requested.emit(mode)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is QSystemTrayIcon.ActivationReason.Trigger:
            self._pending_toggle.start(QApplication.doubleClickInterval())
        elif reason is QSystemTrayIcon.ActivationReason.DoubleClick:
            self._pending_toggle.stop()
            self.show_window_requested.emit()
