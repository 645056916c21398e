"""The files Gearshift ships beside its code: the desktop entry and the icons."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from importlib.resources import files
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DESKTOP_ENTRY = REPO / "packaging" / "gearshift.desktop"
ICONS = sorted((REPO / "resources" / "icons").glob("*.svg"))
SVG_ROOT = "{http://www.w3.org/2000/svg}svg"


def test_desktop_entry_passes_desktop_file_validate() -> None:
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is missing (apt-get install desktop-file-utils)")

    # Hints (advice such as "more than one main category") print but exit 0; only
    # errors fail validation.
    done = subprocess.run(
        [validator, str(DESKTOP_ENTRY)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_desktop_entry_names_the_command_and_icon() -> None:
    lines = DESKTOP_ENTRY.read_text(encoding="utf-8").splitlines()

    assert "Exec=gearshift" in lines
    assert "Icon=gearshift" in lines
    assert (REPO / "resources" / "icons" / "gearshift.svg") in ICONS


@pytest.mark.parametrize("icon", ICONS, ids=[icon.name for icon in ICONS])
def test_icon_is_svg_with_a_viewbox(icon: Path) -> None:
    root = ElementTree.parse(icon).getroot()

    assert root.tag == SVG_ROOT
    view_box = root.get("viewBox", "").split()
    assert len(view_box) == 4, f"{icon.name}: viewBox {root.get('viewBox')!r}"
    assert float(view_box[2]) > 0 and float(view_box[3]) > 0


def test_tray_icons_for_both_modes_exist() -> None:
    names = {icon.name for icon in ICONS}

    assert {"gearshift.svg", "mode-immersive.svg", "mode-competitive.svg"} <= names


def test_icons_are_found_through_the_installed_package() -> None:
    installed = files("gearshift.resources").joinpath("icons")

    assert sorted(entry.name for entry in installed.iterdir() if entry.name.endswith(".svg")) == [
        icon.name for icon in ICONS
    ]


def test_every_package_is_listed_for_the_wheel() -> None:
    """pyproject lists packages by hand (resources/ lives outside app/); none may be missed."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ])
    on_disk = {
        ".".join(init.parent.relative_to(root / "app").parts)
        for init in (root / "app").rglob("__init__.py")
    } | {"gearshift.resources"}
    assert on_disk == listed
