"""Colours, icons and number formatting shared by the widgets."""

from __future__ import annotations

from importlib.resources import as_file, files

from PySide6.QtGui import QColor, QIcon

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


def mode_icon(mode: PerformanceMode) -> QIcon:
    """The tray icon for ``mode``."""
    return icon(f"mode-{mode.value}")


def reading(value: float | None, unit: str, digits: int = 1) -> str:
    """A reading with its unit, or N/A when it is missing."""
    if value is None:
        return NOT_AVAILABLE
    return f"{value:.{digits}f} {unit}".rstrip()
