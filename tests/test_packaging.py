"""The files Gearshift ships beside its code, and the ways it installs.

The desktop entry and AppStream metainfo against Debian's validators, the icons and
their rendered hicolor PNGs, the desktop-integration installer, and a wheel installed
as a player's pip would install it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ElementTree
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from tests.appenv import isolated

REPO = Path(__file__).resolve().parents[1]
DESKTOP_ENTRY = REPO / "packaging" / "gearshift.desktop"
METAINFO = REPO / "packaging" / "io.github.gearshift.Gearshift.metainfo.xml"
ICONS = sorted((REPO / "resources" / "icons").glob("*.svg"))
SVG_ROOT = "{http://www.w3.org/2000/svg}svg"


def _load_render_icons() -> object:
    spec = importlib.util.spec_from_file_location(
        "render_icons", REPO / "packaging" / "render-icons.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_icons = _load_render_icons()
THEMED = render_icons.themed_files()  # type: ignore[attr-defined]


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
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(REPO / "app").parts)
        for init in (REPO / "app").rglob("__init__.py")
    } | {"gearshift.resources"}
    assert on_disk == set(setuptools["packages"])


def test_metainfo_passes_appstreamcli_validate() -> None:
    validator = shutil.which("appstreamcli")
    if validator is None:
        pytest.skip("appstreamcli is missing (apt-get install appstream)")
    done = subprocess.run(
        [validator, "validate", "--no-net", str(METAINFO)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_metainfo_has_screenshot_release_and_content_rating() -> None:
    root = ElementTree.parse(METAINFO).getroot()
    assert root.findtext("id") == "io.github.gearshift.Gearshift"
    assert root.findtext("launchable") == DESKTOP_ENTRY.name
    assert root.find("screenshots/screenshot/image") is not None
    assert (REPO / "docs" / "screenshot.png").is_file()
    assert root.find("content_rating").get("type", "").startswith("oars")
    release = root.find("releases/release")
    assert release is not None and release.get("version") == version("gearshift")


@pytest.mark.parametrize(
    ("svg", "target", "size_px"), THEMED, ids=[f"{t[1].name}@{t[2]}" for t in THEMED]
)
def test_hicolor_icons_are_rendered_and_up_to_date(
    qapp: object, svg: Path, target: Path, size_px: int | None
) -> None:
    assert target.is_file(), "run: .venv/bin/python packaging/render-icons.py"
    if size_px is None:
        assert target.read_bytes() == svg.read_bytes()
        return
    committed = QImage(str(target)).convertToFormat(QImage.Format.Format_ARGB32)
    fresh = render_icons.render(svg, size_px)
    assert (committed.width(), committed.height()) == (size_px, size_px)
    assert _mean_channel_difference(committed, fresh) < 2.0, "icon changed: re-render it"


def _mean_channel_difference(a: QImage, b: QImage) -> float:
    pixels_a = bytes(a.constBits())[: a.sizeInBytes()]
    pixels_b = bytes(b.convertToFormat(a.format()).constBits())[: a.sizeInBytes()]
    return sum(abs(x - y) for x, y in zip(pixels_a, pixels_b, strict=True)) / len(pixels_a)


def test_desktop_install_and_uninstall_leave_nothing_behind(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    (prefix / "share" / "applications").mkdir(parents=True)
    theirs = prefix / "share" / "applications" / "someone-else.desktop"
    theirs.write_text("[Desktop Entry]\n")
    script = REPO / "packaging" / "install-desktop.sh"

    run = ["bash", str(script), "--prefix", str(prefix), "--exec", "/opt/gs/gearshift"]
    subprocess.run(run, check=True, capture_output=True, timeout=60)
    share = prefix / "share"
    entry = share / "applications" / "gearshift.desktop"
    assert "Exec=/opt/gs/gearshift" in entry.read_text().splitlines()
    assert (share / "metainfo" / METAINFO.name).is_file()
    assert (share / "icons/hicolor/48x48/apps/gearshift.png").is_file()
    assert (share / "icons/hicolor/scalable/status/gearshift-mode-competitive.svg").is_file()
    installed = (share / "gearshift" / "installed-files").read_text().splitlines()
    assert len(installed) == 3 + len(THEMED)  # entry, metainfo, polkit policy, icons

    subprocess.run(
        ["bash", str(script), "--prefix", str(prefix), "--uninstall"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    left = sorted(p for p in prefix.rglob("*") if p.is_file())
    assert [p for p in left if "gearshift" in p.name.lower()] == []
    assert theirs.is_file()
    assert not (share / "gearshift").exists()


@pytest.mark.parametrize(
    ("program", "exec_line"),
    [
        ("/opt/my games/gearshift", 'Exec="/opt/my games/gearshift"'),
        ("/opt/a|b&c/gearshift", 'Exec="/opt/a|b&c/gearshift"'),
        ("/opt/100%/gearshift", "Exec=/opt/100%%/gearshift"),
        ("/opt/$HOME/gearshift", 'Exec="/opt/\\\\$HOME/gearshift"'),
    ],
)
def test_desktop_install_quotes_any_program_path(
    tmp_path: Path, program: str, exec_line: str
) -> None:
    script = REPO / "packaging" / "install-desktop.sh"
    subprocess.run(
        ["bash", str(script), "--prefix", str(tmp_path), "--exec", program],
        check=True,
        capture_output=True,
        timeout=60,
    )
    entry = tmp_path / "share" / "applications" / "gearshift.desktop"
    lines = entry.read_text().splitlines()
    assert exec_line in lines
    assert "TryExec=" + program in lines
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(entry)], capture_output=True, text=True, timeout=60
        )
        assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("arguments", [["--exec", ""], ["--prefix", ""], ["--bogus"]])
def test_desktop_install_refuses_bad_arguments(tmp_path: Path, arguments: list[str]) -> None:
    script = REPO / "packaging" / "install-desktop.sh"
    run = subprocess.run(
        ["bash", str(script), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert run.returncode == 64
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".local").exists()


def test_wheel_installs_and_runs_outside_the_source_tree(tmp_path: Path) -> None:
    """Built and installed as pip would for a player: not editable, resources inside."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("gearshift-*.whl"))
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target), "QT_QPA_PLATFORM": "offscreen"}
    probe = (
        "import gearshift, importlib.resources as r;"
        "print(gearshift.__file__);"
        "print(sorted(p.name for p in r.files('gearshift.resources').joinpath('icons')"
        ".iterdir()))"
    )
    where = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert where.stdout.splitlines()[0].startswith(str(target)), where.stdout + where.stderr
    assert "mode-competitive-on-dark.svg" in where.stdout

    version_run = subprocess.run(
        [sys.executable, "-m", "gearshift", "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version_run.stdout.strip() == f"gearshift {version('gearshift')}"
    app = subprocess.Popen(
        [sys.executable, "-m", "gearshift", "--demo"],
        env=isolated(env, "gearshift-wheel-test"),
        stderr=subprocess.PIPE,
        text=True,
    )
    assert app.stderr is not None
    line = ""
    while "frame source" not in line and app.poll() is None:
        line = app.stderr.readline()
    app.terminate()
    _out, err = app.communicate(timeout=30)
    assert "frame source: Demo (simulated)" in line, err
    assert app.returncode == 0, err
