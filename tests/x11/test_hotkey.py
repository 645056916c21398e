"""The global hotkey on a real X server: xdotool presses Ctrl+Shift+F10, pynput hears it
through the RECORD extension, and the running app switches; and pynput's listener on its
own: presses handed to the event loop's thread, and nothing left listening after a stop."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gearshift.core.hotkeys import HotkeyAction, bindings_from_text
from gearshift.system.hotkeys import PynputListener
from tests.x11.test_gearshift_tray import COOLDOWN_S, RunningApp
from tests.x11.xtools import Window, press_keys

ENTER, TOGGLE = HotkeyAction.ENTER_COMPETITIVE, HotkeyAction.TOGGLE


@pytest.fixture
def app(tray: Window, tmp_path: Path) -> Iterator[RunningApp]:
    running = RunningApp(tmp_path)
    try:
        running.wait_for_log("frame source: Demo (simulated)", timeout_s=20)
        yield running
    finally:
        running.stop()


def ctl(app: RunningApp, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "gearshift", "ctl", *args, "--json"],
        env=app.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_ctrl_shift_f10_enters_competitive_and_pressed_again_returns(app: RunningApp) -> None:
    app.wait_for_log("global hotkeys: Ctrl+Shift+F10 enters Competitive", timeout_s=15)
    health = ctl(app, "health")["subsystems"]["hotkey"]  # type: ignore[index]
    assert health["state"] == "ok" and "X11 (pynput)" in health["reason"]

    press_keys("ctrl+shift+F10")
    app.wait_for_log("switched Immersive -> Competitive")
    assert ctl(app, "status")["mode"] == "competitive"
    assert "hotkey Ctrl+Shift+F10 pressed" in app.log()

    press_keys("ctrl+shift+F10")  # inside the cooldown: refused, and the player is told
    app.wait_for_log("Cooling down: Immersive is possible in")

    time.sleep(COOLDOWN_S)
    press_keys("ctrl+shift+F10")
    app.wait_for_log("switched Competitive -> Immersive")
    assert ctl(app, "status")["mode"] == "immersive"
    assert "Traceback" not in app.log()


def _listener_threads() -> list[threading.Thread]:
    """pynput's listener threads (pynput itself is not imported here: on Linux its import
    connects to the X server, and this module is collected without one too)."""
    return [t for t in threading.enumerate() if type(t).__module__.startswith("pynput")]


def test_pynput_listener_hands_presses_to_the_loop_thread_and_stops(tray: Window) -> None:
    bindings, _ = bindings_from_text("Ctrl+Shift+F10", "Meta+G")

    async def scenario() -> list[tuple[HotkeyAction, bool]]:
        loop_thread = threading.get_ident()
        presses: list[tuple[HotkeyAction, bool]] = []
        listener = PynputListener()
        bound = await listener.start(
            bindings, lambda action: presses.append((action, threading.get_ident() == loop_thread))
        )
        assert bound == {ENTER: "Ctrl+Shift+F10", TOGGLE: "Meta+G"}
        press_keys("ctrl+shift+F10", "super+g")
        deadline = time.monotonic() + 5
        while len(presses) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert listener.problem() is None
        await listener.stop()
        press_keys("ctrl+shift+F10")
        await asyncio.sleep(0.3)
        return presses

    assert asyncio.run(scenario()) == [(ENTER, True), (TOGGLE, True)]
    assert not _listener_threads()


def test_pynput_stopped_while_starting_leaves_no_listener_behind(tray: Window) -> None:
    bindings, _ = bindings_from_text("Ctrl+Shift+F10", "")
    presses: list[HotkeyAction] = []

    async def scenario() -> None:
        starting = asyncio.ensure_future(PynputListener().start(bindings, presses.append))
        await asyncio.sleep(0)  # the worker thread is now starting pynput
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await asyncio.sleep(1.0)  # the start finishes on its thread, then stops
        press_keys("ctrl+shift+F10")
        await asyncio.sleep(0.3)

    asyncio.run(scenario())
    assert presses == []
    deadline = time.monotonic() + 5
    while _listener_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _listener_threads()
