"""Colours, icons and number formatting shared by the widgets."""

from __future__ import annotations

from importlib.resources import as_file, files

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette

from gearshift.core.modes import PerformanceMode

MODE_COLOURS = {
    PerformanceMode.IMMERSIVE: QColor("#1f9e9a"),
    PerformanceMode.COMPETITIVE: QColor("#e0482f"),
}
"""Each mode's colour, used by the tray icon, the window heading and the graph."""

NOT_AVAILABLE = "N/A"
"""What a missing reading shows as: never 0."""


def icon(name: str) -> QIcon:
    """An icon shipped in gearshift.resources/icons, e.g. ``icon("gearshift")``."""
    resource = files("gearshift.resources").joinpath("icons", f"{name}.svg")
    with as_file(resource) as path:
        return QIcon(str(path))


def mode_icon_name(mode: PerformanceMode, dark_panel: bool) -> str:
    """The tray icon's file name for ``mode`` on a dark or light panel."""
    return f"mode-{mode.value}-on-dark" if dark_panel else f"mode-{mode.value}"


def panel_is_dark() -> bool:
    """Best guess of whether the tray icon sits on a dark panel.

    Qt cannot see the panel itself. The desktop's colour scheme (Qt 6.5 and later) is
    the closest thing it reports; where the desktop says nothing, the lightness of the
    window palette stands in for it.
    """
    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme is Qt.ColorScheme.Dark:
        return True
    if scheme is Qt.ColorScheme.Light:
        return False
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def reading(value: float | None, unit: str, digits: int = 1) -> str:
    """A reading with its unit, or N/A when it is missing."""
    if value is None:
        return NOT_AVAILABLE
    return f"{value:.{digits}f} {unit}".rstrip()
