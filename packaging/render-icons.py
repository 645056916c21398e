"""Render the SVG icons in resources/icons into the hicolor PNG sizes desktops ask for.

    .venv/bin/python packaging/render-icons.py

Writes packaging/icons/hicolor/<size>x<size>/{apps,status}/*.png and copies the SVGs to
packaging/icons/hicolor/scalable/. The output is committed, so installing needs no Qt;
run this again after changing an icon (a test fails while the PNGs are out of date).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "resources" / "icons"
THEME = REPO / "packaging" / "icons" / "hicolor"
SIZES_PX = (16, 22, 24, 32, 48, 64, 128, 256)
"""The sizes desktops look up in the hicolor theme: panels, menus, launchers, stores."""

THEME_NAMES = {
    "gearshift.svg": ("apps", "gearshift"),
    "mode-immersive.svg": ("status", "gearshift-mode-immersive"),
    "mode-immersive-on-dark.svg": ("status", "gearshift-mode-immersive-on-dark"),
    "mode-competitive.svg": ("status", "gearshift-mode-competitive"),
    "mode-competitive-on-dark.svg": ("status", "gearshift-mode-competitive-on-dark"),
}
"""Each shipped SVG's place and name in the theme: the app icon, and each mode state."""


def render(svg: Path, size_px: int) -> QImage:
    """The SVG drawn on a transparent square of ``size_px``."""
    image = QImage(size_px, size_px, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(svg)).render(painter)
    painter.end()
    return image


def themed_files() -> list[tuple[Path, Path, int | None]]:
    """(source SVG, theme path, size or None for scalable) for every file to write."""
    out = []
    for svg_name, (context, name) in THEME_NAMES.items():
        svg = SOURCE / svg_name
        out.append((svg, THEME / "scalable" / context / f"{name}.svg", None))
        for size_px in SIZES_PX:
            out.append((svg, THEME / f"{size_px}x{size_px}" / context / f"{name}.png", size_px))
    return out


def main() -> int:
    """Write every themed icon; returns the exit status."""
    app = QGuiApplication(sys.argv[:1])
    for svg, target, size_px in themed_files():
        target.parent.mkdir(parents=True, exist_ok=True)
        if size_px is None:
            shutil.copyfile(svg, target)
        elif not render(svg, size_px).save(str(target)):
            print(f"render-icons: could not write {target}", file=sys.stderr)
            return 1
    print(f"wrote {len(themed_files())} icons under {THEME.relative_to(REPO)}")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
