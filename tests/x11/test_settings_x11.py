"""The settings window in a real X session: opened from the tray menu, and a changed
cooldown that is still in force after Gearshift restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.appenv import isolated
from tests.x11.test_gearshift_tray import RunningApp, open_menu
from tests.x11.xtools import (
    Window,
    press_keys,
    stop_process,
    top_level_windows,
    tray_selection_owner,
    wait_until,
)

SETTINGS_TITLE = "Gearshift settings"


class SettingsApp(RunningApp):
    """``gearshift --demo`` started with a given environment, so a second start finds the
    first one's settings file."""

    def __init__(self, workdir: Path, env: dict[str, str], name: str) -> None:
        self.log_path = workdir / f"{name}.log"
        self.env = env
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gearshift", "--demo"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )


def app_env(workdir: Path) -> dict[str, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "GEARSHIFT_LOG_LEVEL": "info"}
    env["XDG_CONFIG_HOME"] = str(workdir / "config")  # autostart stays in here
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # trayer speaks XEmbed, not D-Bus
    return isolated(env, "gearshift-x11-settings")


def started(workdir: Path, env: dict[str, str], name: str) -> SettingsApp:
    app = SettingsApp(workdir, env, name)
    app.wait_for_log("frame source: Demo (simulated)", timeout_s=20)
    return app


def settings_window() -> Window | None:
    found = [w for w in top_level_windows("Gearshift") if w.name == SETTINGS_TITLE]
    return found[0] if found else None


def open_settings_from_the_menu(app: RunningApp) -> Window:
    open_menu(app)
    press_keys("Up", "Up", "Return")  # from nothing selected: Quit, then Settings…
    return wait_until(settings_window, what="the settings window")


def focus(window: Window) -> None:
    """Give the window the keyboard (no window manager runs to do it on a click)."""
    subprocess.run(
        ["xdotool", "windowfocus", "--sync", str(window.window_id)], check=True, timeout=10
    )


def test_the_tray_menu_opens_the_settings_window(tray: Window, tmp_path: Path) -> None:
    app = started(tmp_path, app_env(tmp_path), "first")
    try:
        window = open_settings_from_the_menu(app)
        assert window.width > 400 and window.height > 300
        focus(window)
        press_keys("Escape")  # Cancel
        wait_until(lambda: settings_window() is None, what="the settings window to close")
        assert "Traceback" not in app.log()
    finally:
        app.stop()


def test_a_changed_cooldown_survives_a_restart(tray: Window, tmp_path: Path) -> None:
    env = app_env(tmp_path)
    settings_file = Path(env["GEARSHIFT_SETTINGS"])
    first = started(tmp_path, env, "first")
    try:
        window = open_settings_from_the_menu(first)
        focus(window)
        press_keys("ctrl+a", "4", "2", "Return")  # the cooldown has the focus; Return is OK
        first.wait_for_log("cooldown now 42 s")
        first.wait_for_log(f"settings saved to {settings_file}")
        wait_until(lambda: settings_window() is None, what="OK to close the window")
    finally:
        first.stop()
    assert first.process.returncode == 0
    assert tomllib.loads(settings_file.read_text())["general"]["cooldown_s"] == 42.0

    second = started(tmp_path, env, "second")
    try:
        status = subprocess.run(
            [sys.executable, "-m", "gearshift", "ctl", "status", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["cooldown_s"] == 42.0
        assert "Traceback" not in second.log()
    finally:
        second.stop()


TRAYER = [
    "trayer",
    "--edge",
    "top",
    "--align",
    "right",
    "--widthtype",
    "request",
    "--height",
    "32",
    "--SetDockType",
    "true",
    "--SetPartialStrut",
    "false",
    "--transparent",
    "false",
    "--monitor",
    "0",
]
"""trayer as scripts/setup.sh starts it for the harness."""


def start_trayer() -> subprocess.Popen[bytes]:
    """A tray host on $DISPLAY."""
    return subprocess.Popen(TRAYER, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main_windows() -> list[Window]:
    return [w for w in top_level_windows("Gearshift") if w.name == "Gearshift"]


def test_a_tray_that_appears_later_gets_the_icon(
    private_xvfb: tuple[str, subprocess.Popen[bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    display, _xvfb = private_xvfb
    monkeypatch.setenv("DISPLAY", display)
    app = started(tmp_path, app_env(tmp_path), "late-tray")
    trayer = None
    try:
        app.wait_for_log("no system tray on this desktop: showing the window instead")
        wait_until(main_windows, what="the window shown instead of a tray icon")
        trayer = start_trayer()
        app.wait_for_log("a system tray appeared: the icon is in it now", timeout_s=15)
        assert app.icon().has_area
    finally:
        app.stop()
        if trayer is not None:
            stop_process(trayer)
    assert "Traceback" not in app.log()


def test_start_minimised_comes_back_when_the_tray_goes(
    private_xvfb: tuple[str, subprocess.Popen[bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    display, _xvfb = private_xvfb
    monkeypatch.setenv("DISPLAY", display)
    env = app_env(tmp_path)
    Path(env["GEARSHIFT_SETTINGS"]).write_text("[general]\nstart_minimised = true\n")
    trayer = start_trayer()
    try:
        wait_until(tray_selection_owner, what="trayer to own the tray")
        app = started(tmp_path, env, "minimised")
        try:
            app.wait_for_log("started minimised to the tray")
            app.icon()
            assert not main_windows()
            stop_process(trayer)
            app.wait_for_log("the system tray went away: showing the window", timeout_s=15)
            wait_until(main_windows, what="the window to come back")
        finally:
            app.stop()
    finally:
        stop_process(trayer)
    assert "Traceback" not in app.log()
