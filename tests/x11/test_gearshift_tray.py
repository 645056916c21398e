"""Gearshift in a real X session: its tray icon embedded in trayer, driven with xdotool.

The app runs as a player would start it (``python -m gearshift --demo``); the tests
click its icon, open its menu, read its log, and look at the icon's pixels.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.appenv import isolated
from tests.x11.xtools import (
    Window,
    click,
    find_tray_icon,
    mean_colour,
    press_keys,
    screenshot,
    stop_process,
    top_level_windows,
    wait_until,
)

APP_CLASS = "Gearshift"
COOLDOWN_S = 5.0
DOUBLE_CLICK_S = 0.6
"""Longer than Qt's default double-click interval (400 ms)."""


class RunningApp:
    """``gearshift --demo`` as a child process, its log in a file."""

    def __init__(self, workdir: Path, display: str | None = None) -> None:
        self.log_path = workdir / "gearshift.log"
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "GEARSHIFT_LOG_LEVEL": "info"}
        if display is not None:
            env["DISPLAY"] = display
        env = isolated(env, "gearshift-x11-test")
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # trayer speaks XEmbed, not D-Bus
        self.env = env
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gearshift", "--demo"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, count: int = 1, timeout_s: float = 10.0) -> None:
        try:
            wait_until(
                lambda: self.log().count(text) >= count or self.process.poll() is not None,
                timeout_s=timeout_s,
                what=f"{text!r} in the app's log",
            )
        except TimeoutError as error:
            pytest.fail(f"{error}; log:\n{self.log()}", pytrace=False)
        assert self.log().count(text) >= count, f"app exited; log:\n{self.log()}"

    def icon(self) -> Window:
        return wait_until(lambda: find_tray_icon(APP_CLASS), what="Gearshift's tray icon")

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def gearshift(tray: Window, tmp_path: Path) -> Iterator[RunningApp]:
    app = RunningApp(tmp_path)
    try:
        app.wait_for_log("frame source: Demo (simulated)", timeout_s=20)
        yield app
    finally:
        app.stop()


def menus() -> list[Window]:
    """Gearshift's open popup menus: its small top-level windows."""
    return [w for w in top_level_windows(APP_CLASS) if w.has_area and w.height < 300]


def open_menu(app: RunningApp) -> None:
    """Right-click the icon until its menu is open (a click landing while a previous
    menu is still closing is swallowed by that menu)."""
    wait_until(lambda: not menus(), what="earlier menus to close")
    for _attempt in range(3):
        click(app.icon(), button=3)
        try:
            wait_until(menus, timeout_s=3.0, what="the tray menu to open")
            return
        except TimeoutError:
            continue
    pytest.fail(f"the tray menu never opened; log:\n{app.log()}", pytrace=False)


def test_icon_is_embedded_and_a_click_toggles_the_mode(
    gearshift: RunningApp, tmp_path: Path
) -> None:
    def icon_is_teal() -> bool:
        red, _, blue = mean_colour(gearshift.icon())
        return blue > red

    icon = gearshift.icon()
    assert icon.width > 1 and icon.height > 1
    wait_until(icon_is_teal, what="the Immersive (teal) icon")

    click(icon)
    gearshift.wait_for_log("switched Immersive -> Competitive")
    wait_until(lambda: not icon_is_teal(), what="the icon to turn Competitive red")
    screenshot(tmp_path / "competitive.png")

    time.sleep(DOUBLE_CLICK_S)  # a second click sooner would be a double-click
    click(gearshift.icon())  # inside the cooldown: refused, and the player is told
    gearshift.wait_for_log("Cooling down: Immersive is possible in")

    time.sleep(COOLDOWN_S)
    click(gearshift.icon())
    gearshift.wait_for_log("switched Competitive -> Immersive")


def test_menu_switches_mode_and_quits_cleanly(gearshift: RunningApp) -> None:
    open_menu(gearshift)
    press_keys("Down", "Down", "Return")  # Immersive, Competitive
    gearshift.wait_for_log("switched Immersive -> Competitive")

    open_menu(gearshift)
    press_keys("Up", "Return")  # from nothing selected, Up lands on the last entry: Quit
    assert gearshift.process.wait(timeout=15) == 0
    log = gearshift.log()
    assert "quitting" in log and "stopped; 0 action(s) could not be undone" in log
    assert "Traceback" not in log


def test_second_start_wakes_the_first_and_exits(gearshift: RunningApp) -> None:
    second = subprocess.run(
        [sys.executable, "-m", "gearshift"],
        env=gearshift.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 0
    assert "already running" in second.stderr
    gearshift.wait_for_log("another start asked for the window")
    assert gearshift.process.poll() is None


def test_losing_the_x_server_still_undoes_the_mode(
    private_xvfb: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    display, xvfb = private_xvfb
    app = RunningApp(tmp_path, display=display)
    app.wait_for_log("frame source: Demo (simulated)", timeout_s=20)
    stop_process(xvfb)
    assert app.process.wait(timeout=20) == 1
    log = app.log()
    assert "stopped; 0 action(s) could not be undone" in log
    assert "the display connection was lost; undid Immersive mode's changes; quit" in log
    assert "Traceback" not in log


XLIB_LOSES_THE_SERVER = """
import ctypes, sys
from PySide6.QtWidgets import QApplication
from gearshift.ui.xio import exit_through
app = QApplication(["xio-test"])
def on_lost():
    print("undone on the way out", flush=True)
    return 7
print("installed" if exit_through(app, on_lost) else "not installed", flush=True)
sys.stdin.readline()  # the test kills the X server, then says go
xlib = ctypes.CDLL("libX11.so.6")
xlib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
xlib.XSync(app.nativeInterface().display(), 0)  # Xlib meets the dead connection
print("Xlib returned", flush=True)
"""


def test_losing_the_x_server_inside_xlib_runs_the_undo_before_exiting(
    private_xvfb: tuple[str, subprocess.Popen[bytes]],
) -> None:
    """Qt usually sees the loss first and the loop ends; this forces the other way in,
    where Xlib itself meets the dead connection and would call exit() at once."""
    display, xvfb = private_xvfb
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    child = subprocess.Popen(
        [sys.executable, "-c", XLIB_LOSES_THE_SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline() == b"installed\n"
    stop_process(xvfb)
    child.stdin.write(b"go\n")
    child.stdin.flush()
    output = child.communicate(timeout=20)[0].decode()
    assert child.returncode == 7, output
    assert "undone on the way out" in output
    assert "Xlib returned" not in output
