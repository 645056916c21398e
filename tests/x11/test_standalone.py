"""The standalone build: Gearshift frozen by PyInstaller into one folder, run without Python.

``packaging/build-standalone.sh`` builds build/standalone/gearshift (a later run reuses
that build while nothing that goes into it has changed). The tests then start the frozen
executable the way a player on a machine with no Python would: from an environment that
holds no Python variables, no virtual environment and no PATH to an interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.appenv import isolated
from tests.x11.xtools import (
    Window,
    find_tray_icon,
    mean_colour,
    refuse,
    stop_process,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "packaging" / "build-standalone.sh"
PYINSTALLER = REPO / ".venv" / "bin" / "pyinstaller"
BUNDLE = REPO / "build" / "standalone" / "gearshift"
FROZEN = BUNDLE / "gearshift"

SIZE_LIMIT_MB = 200.0
"""The most the unpacked folder may hold, in MB of 10^6 bytes."""

BUILD_TIMEOUT_S = 420
"""A cold build takes about half a minute on two cores; a reused one, under a second."""

# The first test to ask for the build waits for it, inside its own time limit.
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + 60)

CAPTURE = (
    "Application,ProcessID,MsBetweenPresents\n"
    "game.exe,1,8.0\ngame.exe,1,9.5\ngame.exe,1,7.25\ngame.exe,1,31.0\n"
    "dwm.exe,2,16.6\n"
)
"""A small PresentMon 1.x capture: two processes, one slow frame."""


@dataclass(frozen=True)
class Build:
    """The frozen executable, and what the build script said about making it."""

    executable: Path
    report: str


@pytest.fixture(scope="module")
def build() -> Build:
    """Run the build script once for this module; skip (or fail) without PyInstaller."""
    if not os.access(PYINSTALLER, os.X_OK):
        refuse(
            f"PyInstaller is not installed ({PYINSTALLER.relative_to(REPO)} is missing);"
            ' install it with `.venv/bin/pip install -e ".[dev]"`'
        )

    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{BUILD_SCRIPT.name} exited {done.returncode}:\n{done.stdout}{done.stderr}",
            pytrace=False,
        )
    assert os.access(FROZEN, os.X_OK), f"the build left no executable at {FROZEN}"
    return Build(FROZEN, done.stdout.strip())


def python_free_env(home: Path, **extra: str) -> dict[str, str]:
    """A desktop session's environment on a machine with no Python, as for ``env -i``.

    Nothing from the test run is inherited but the X display and the runtime folder: no
    PYTHONPATH or VIRTUAL_ENV, a PATH on which no interpreter can be found, no
    QT_QPA_PLATFORM (the app must choose xcb by itself), and no DBUS_SESSION_BUS_ADDRESS
    (trayer speaks XEmbed; a session bus would send the icon elsewhere).
    """
    env = {"HOME": str(home), "PATH": "/nonexistent", "LANG": "C.UTF-8"}
    for name in ("DISPLAY", "XDG_RUNTIME_DIR"):
        if name in os.environ:
            env[name] = os.environ[name]
    if "XDG_RUNTIME_DIR" not in env:
        runtime = home / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    env.update(extra)
    return env


def run_frozen(build: Build, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(build.executable), *args],
        env=python_free_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def bundle_size_mb() -> tuple[float, int]:
    """The unpacked folder's size in MB (files only; links add no data) and file count."""
    sizes = [
        path.stat().st_size
        for path in BUNDLE.rglob("*")
        if path.is_file() and not path.is_symlink()
    ]
    return sum(sizes) / 1e6, len(sizes)


def test_version_answers_without_python(build: Build, tmp_path: Path) -> None:
    done = run_frozen(build, tmp_path, "--version")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"gearshift {version('gearshift')}"


def test_bundle_is_under_the_size_limit(build: Build, capsys: pytest.CaptureFixture[str]) -> None:
    size_mb, files = bundle_size_mb()

    with capsys.disabled():  # the figure belongs in every CI log, not only on failure
        print(f"\n{build.report}\nstandalone bundle: {size_mb:.1f} MB in {files} files")
    largest = sorted(BUNDLE.rglob("*"), key=lambda p: p.lstat().st_size, reverse=True)[:5]
    assert size_mb < SIZE_LIMIT_MB, (
        f"{BUNDLE} holds {size_mb:.1f} MB, over the {SIZE_LIMIT_MB:g} MB limit; largest: "
        + ", ".join(f"{p.relative_to(BUNDLE)} ({p.lstat().st_size / 1e6:.1f} MB)" for p in largest)
    )


def test_a_second_build_reuses_the_first(build: Build) -> None:
    again = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=60, check=True
    )

    assert "reusing" in again.stdout, again.stdout


def test_analyze_gives_what_the_source_tree_gives(build: Build, tmp_path: Path) -> None:
    capture = tmp_path / "capture.csv"
    capture.write_text(CAPTURE, encoding="utf-8")
    from_source = subprocess.run(
        [sys.executable, "-m", "gearshift", "analyze", str(capture), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    frozen = run_frozen(build, tmp_path, "analyze", str(capture), "--json")
    assert frozen.returncode == 0, frozen.stderr
    assert json.loads(frozen.stdout) == json.loads(from_source.stdout)

    missing = run_frozen(build, tmp_path, "analyze", "no-such-capture.csv")
    assert missing.returncode == 2
    assert missing.stderr.startswith("gearshift: ") and missing.stderr.count("\n") == 1


class FrozenApp:
    """``gearshift --demo`` from the standalone folder, its output in a log file."""

    def __init__(self, build: Build, workdir: Path) -> None:
        self.log_path = workdir / "gearshift.log"
        env = isolated(
            python_free_env(workdir, GEARSHIFT_LOG_LEVEL="info"), "gearshift-standalone-test"
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(build.executable), "--demo"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=workdir,
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def started_or_gone(self) -> bool:
        """Whether the demo feed runs, or the process has already ended."""
        return "frame source: Demo (simulated)" in self.log() or self.process.poll() is not None

    def mapped_files(self) -> set[str]:
        """The files the running process has mapped: its executable, libraries, fonts."""
        maps = Path(f"/proc/{self.process.pid}/maps").read_text(encoding="utf-8")
        return {line.split(maxsplit=5)[5] for line in maps.splitlines() if "/" in line}


@pytest.fixture
def frozen_tray_app(tray: Window, build: Build, tmp_path: Path) -> Iterator[FrozenApp]:
    app = FrozenApp(build, tmp_path)
    try:
        yield app
    finally:
        stop_process(app.process)


def test_tray_app_runs_in_trayer_without_python(frozen_tray_app: FrozenApp) -> None:
    app = frozen_tray_app
    try:
        wait_until(app.started_or_gone, timeout_s=30, what="the frozen app's demo feed")
        icon = wait_until(lambda: find_tray_icon("Gearshift"), what="the frozen app's tray icon")
    except TimeoutError as error:
        pytest.fail(f"{error}; log:\n{app.log()}", pytrace=False)
    assert app.process.poll() is None, f"the frozen app exited; log:\n{app.log()}"
    assert icon.wm_class == ("gearshift", "Gearshift")

    # Teal is the Immersive icon drawn from its SVG: proof that the icons were found
    # through importlib.resources and that the SVG plugins made it into the bundle. A
    # missing icon still embeds, as an empty grey square.
    def icon_is_teal() -> bool:
        red, _, blue = mean_colour(find_tray_icon("Gearshift") or icon)
        return blue > red

    wait_until(icon_is_teal, what="the teal Immersive icon")

    # Everything with Python in its name comes from the bundle, not from this machine.
    borrowed = sorted(
        path
        for path in app.mapped_files()
        if "python" in path.lower() and not path.startswith(f"{BUNDLE}/")
    )
    assert not borrowed, f"the frozen app loaded Python from outside {BUNDLE}: {borrowed}"

    app.process.send_signal(signal.SIGTERM)
    assert app.process.wait(timeout=15) == 0, app.log()
    log = app.log()
    assert "stopped; 0 action(s) could not be undone" in log
    assert "Traceback" not in log
    assert "No Icon set" not in log and "Cannot open file" not in log, log
