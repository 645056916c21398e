"""The global hotkeys and automatic switching inside the app, offscreen.

Hotkeys go through a fake keyboard listener whose presses arrive from a thread of its
own, as pynput's do (the real listeners are tested in tests/system and tests/x11).
Automatic switching watches REAL child processes: copies of /bin/sleep named as games.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
import qasync
from pytestqt.qtbot import QtBot

from gearshift.config import HotkeySettings, Settings, SettingsStore
from gearshift.core.errors import HotkeyError
from gearshift.core.hotkeys import SHORTCUT_ADVICE, Binding, HotkeyAction
from gearshift.core.modes import PerformanceMode
from gearshift.ui.hotkey import HotkeyService, HotkeyState
from gearshift.ui.tray import TrayIcon
from tests.ui.conftest import AppRig

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE
ENTER, TOGGLE = HotkeyAction.ENTER_COMPETITIVE, HotkeyAction.TOGGLE
GAME = "gsgame"


class FakeKeys:
    """A way of listening that works (or refuses with ``refusal``) like a real one."""

    def __init__(self, name: str, refusal: str | None = None) -> None:
        self.name = name
        self.refusal = refusal
        self.bindings: Sequence[Binding] = ()
        self.stopped = False
        self.broken: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_press: object = None

    async def start(self, bindings: Sequence[Binding], on_press: object) -> dict:
        if self.refusal is not None:
            raise HotkeyError(self.refusal)
        self._loop = asyncio.get_running_loop()
        self._on_press = on_press
        self.bindings = bindings
        return {binding.action: binding.combo.text for binding in bindings}

    async def stop(self) -> None:
        self.stopped = True

    def problem(self) -> str | None:
        return self.broken

    def press(self, action: HotkeyAction) -> None:
        """A key press, handed to the loop from another thread."""
        assert self._loop is not None
        thread = threading.Thread(
            target=self._loop.call_soon_threadsafe, args=(self._on_press, action)
        )
        thread.start()
        thread.join()


class Ways:
    """The listener factory: each kind of way maps to a FakeKeys."""

    def __init__(self, **ways: FakeKeys) -> None:
        self.ways = ways
        self.made: list[str] = []

    def __call__(self, kind: str, _environ: Mapping[str, str]) -> FakeKeys:
        self.made.append(kind)
        return self.ways[kind]


X11 = {"DISPLAY": ":0"}


def service(ways: Ways, environ: Mapping[str, str] = X11) -> tuple[HotkeyService, list]:
    presses: list[HotkeyAction] = []

    async def pressed(action: HotkeyAction) -> None:
        presses.append(action)

    hotkeys = HotkeyService(
        pressed, environ=environ, platform="linux", listeners=ways, qt_platform="xcb"
    )
    return hotkeys, presses


def test_the_first_way_that_works_listens_and_presses_arrive_on_the_loop() -> None:
    pynput, portal = FakeKeys("X11 (pynput)", refusal="no RECORD"), FakeKeys("portal")
    ways = Ways(pynput=pynput, portal=portal)
    hotkeys, presses = service(ways)

    async def scenario() -> None:
        hotkeys.start(HotkeySettings(toggle="Meta+G"))
        assert hotkeys.state is HotkeyState.STARTING
        await hotkeys.started()
        portal.press(TOGGLE)
        portal.press(ENTER)
        while len(presses) < 2:
            await asyncio.sleep(0.01)
        assert hotkeys.state is HotkeyState.LISTENING and hotkeys.way == "portal"
        assert hotkeys.status == (
            "Ctrl+Shift+F10 enters Competitive (again: back to Immersive); "
            "Meta+G switches between the modes, through portal."
        )
        assert hotkeys.health().state == "ok"
        await hotkeys.stop()

    asyncio.run(scenario())
    assert ways.made == ["pynput", "portal"]
    assert [b.combo.text for b in portal.bindings] == ["Ctrl+Shift+F10", "Meta+G"]
    assert presses == [TOGGLE, ENTER]
    assert portal.stopped
    assert hotkeys.state is HotkeyState.OFF and hotkeys.status == "Global hotkeys are stopped."


def test_no_way_working_says_why_for_each_and_what_to_bind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ways = Ways(
        pynput=FakeKeys("X11 (pynput)", refusal="the X server has no RECORD extension"),
        portal=FakeKeys("desktop portal", refusal="no desktop portal is running"),
    )
    hotkeys, _ = service(ways)
    with caplog.at_level(logging.WARNING, "gearshift.ui.hotkey"):
        asyncio.run(_start(hotkeys, HotkeySettings()))

    assert hotkeys.state is HotkeyState.UNAVAILABLE
    assert hotkeys.status == (
        "No global hotkey: X11 (pynput): the X server has no RECORD extension; "
        f"desktop portal: no desktop portal is running. Instead, {SHORTCUT_ADVICE}."
    )
    assert "gearshift ctl switch toggle" in hotkeys.status
    assert hotkeys.health().state == "unavailable"
    assert hotkeys.health().reason == hotkeys.status
    assert [r.getMessage() for r in caplog.records] == [hotkeys.status]


async def _start(hotkeys: HotkeyService, settings: HotkeySettings) -> None:
    hotkeys.start(settings)
    await hotkeys.started()


def test_wayland_without_a_portal_and_a_headless_qt_say_so() -> None:
    ways = Ways(portal=FakeKeys("desktop portal", refusal="no desktop portal is running"))
    hotkeys, _ = service(ways, {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":1"})
    asyncio.run(_start(hotkeys, HotkeySettings()))
    assert ways.made == ["portal"]  # pynput would only hear XWayland windows there
    assert hotkeys.status.startswith("No global hotkey: desktop portal: no desktop portal")

    offscreen = HotkeyService(_ignore, listeners=Ways(), qt_platform="offscreen")
    asyncio.run(_start(offscreen, HotkeySettings()))
    assert offscreen.state is HotkeyState.UNAVAILABLE
    assert "Qt runs on its offscreen platform here" in offscreen.status


async def _ignore(_action: HotkeyAction) -> None:
    return None


def test_off_refused_and_broken_hotkeys_show_in_health() -> None:
    keys = FakeKeys("X11 (pynput)")
    hotkeys, _ = service(Ways(pynput=keys))
    asyncio.run(_start(hotkeys, HotkeySettings(enabled=False)))
    assert hotkeys.state is HotkeyState.OFF
    assert hotkeys.health().state == "unavailable"
    assert "turned off" in (hotkeys.health().reason or "")

    asyncio.run(_start(hotkeys, HotkeySettings(enter_competitive="", toggle="")))
    assert hotkeys.state is HotkeyState.OFF

    asyncio.run(_start(hotkeys, HotkeySettings(enter_competitive="Ctrl+Alt+F3")))
    assert hotkeys.state is HotkeyState.UNAVAILABLE
    assert "text console" in hotkeys.status

    asyncio.run(_start(hotkeys, HotkeySettings(enter_competitive="Ctrl+Alt+F3", toggle="Meta+G")))
    assert hotkeys.state is HotkeyState.LISTENING
    health = hotkeys.health()
    assert health.state == "degraded" and "Not used: enter_competitive hotkey" in (
        health.reason or ""
    )

    keys.broken = "the hotkey listener stopped: the connection to the X server closed"
    health = hotkeys.health()
    assert health.state == "degraded" and health.reason is not None
    assert health.reason.startswith(keys.broken) and SHORTCUT_ADVICE in health.reason


# --------------------------------------------------------------------------- app


@pytest.fixture
def notes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The tray notifications shown, as (title, message)."""
    shown: list[tuple[str, str]] = []

    def record(_tray: TrayIcon, title: str, message: str, warning: bool = False) -> None:
        shown.append((title, message))

    monkeypatch.setattr(TrayIcon, "notify", record)
    return shown


def started_rig(
    loop: qasync.QEventLoop, qtbot: QtBot, settings: Settings, **controller_options: object
) -> Iterator[AppRig]:
    rig = AppRig(
        loop,
        qtbot,
        tray=True,
        controller_options=controller_options,
        settings=SettingsStore.in_memory(settings),
    )
    rig.start()
    yield rig
    if rig.run_task is not None and not rig.run_task.done():
        rig.quit()


@pytest.fixture
def keys() -> FakeKeys:
    return FakeKeys("X11 (pynput)")


@pytest.fixture
def hotkey_rig(
    loop: qasync.QEventLoop, qtbot: QtBot, keys: FakeKeys, notes: list
) -> Iterator[AppRig]:
    options = {"listeners": Ways(pynput=keys), "environ": X11, "qt_platform": "xcb"}
    yield from started_rig(loop, qtbot, Settings(), hotkey_options=options)


def test_the_hotkey_switches_and_during_the_cooldown_says_how_long(
    hotkey_rig: AppRig, keys: FakeKeys, notes: list[tuple[str, str]]
) -> None:
    rig = hotkey_rig
    rig.wait_for(lambda: rig.controller.hotkeys.state is HotkeyState.LISTENING)
    assert rig.app.hotkey_status == rig.controller.hotkeys.status  # for the settings window

    keys.press(ENTER)
    rig.wait_for(lambda: rig.manager.mode is COMP)
    rig.clock.advance(1.5)
    keys.press(ENTER)  # pressed again: back to Immersive, but the cooldown says not yet
    rig.wait_for(lambda: any("Cooling down" in text for _, text in notes))
    assert ("Gearshift", "Cooling down: Immersive is possible in 3.5 s") in notes
    assert rig.manager.mode is COMP

    rig.clock.advance(5)
    keys.press(ENTER)
    rig.wait_for(lambda: rig.manager.mode is IMM)

    rig.quit()
    assert keys.stopped


class Games:
    """Copies of /bin/sleep named as games, started and ended by the test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, name: str = GAME) -> subprocess.Popen[bytes]:
        executable = self.folder / name
        if not executable.exists():
            shutil.copy2("/bin/sleep", executable)
        child = subprocess.Popen([str(executable), "60"])
        self.children.append(child)
        return child

    def end(self, child: subprocess.Popen[bytes]) -> None:
        child.kill()
        child.wait(timeout=10)


@pytest.fixture
def games(tmp_path: Path) -> Iterator[Games]:
    if not sys.platform.startswith("linux"):
        pytest.skip("games are started as Linux names them")
    started = Games(tmp_path)
    yield started
    for child in started.children:
        if child.poll() is None:
            started.end(child)


WATCH_GAME = Settings.model_validate({"autoswitch": {"games": [{"name": GAME}], "poll_s": 0.5}})


@pytest.fixture
def auto_rig(loop: qasync.QEventLoop, qtbot: QtBot, notes: list) -> Iterator[AppRig]:
    yield from started_rig(loop, qtbot, WATCH_GAME)


def test_a_game_switches_to_competitive_and_its_exit_switches_back(
    auto_rig: AppRig, games: Games, notes: list[tuple[str, str]]
) -> None:
    rig = auto_rig
    tray = rig.app.tray
    assert tray is not None
    child = games.start()
    rig.wait_for(lambda: rig.manager.mode is COMP)
    rig.wait_for(lambda: "—" in tray.tooltip())
    assert tray.tooltip().startswith(f"Gearshift: Competitive — {GAME} is running")
    assert notes == [("Gearshift", f"Competitive: {GAME} is running")]  # said once, with why
    assert [g.pid for g in rig.controller.autoswitch.games] == [child.pid]
    health = rig.controller.autoswitch.health()
    assert health.state == "ok" and f"{GAME} is running" in (health.reason or "")

    games.end(child)
    rig.wait_for(lambda: "Immersive is next" in tray.tooltip())  # the cooldown still runs
    rig.clock.advance(5)
    rig.wait_for(lambda: rig.manager.mode is IMM)
    rig.wait_for(lambda: tray.tooltip().startswith(f"Gearshift: Immersive — {GAME} exited"))
    assert notes[-1] == ("Gearshift", f"Immersive: {GAME} exited")


def test_a_switch_by_hand_while_the_game_runs_wins(auto_rig: AppRig, games: Games) -> None:
    rig = auto_rig
    tray = rig.app.tray
    assert tray is not None
    games.start()
    rig.wait_for(lambda: rig.manager.mode is COMP)
    rig.clock.advance(6)

    tray.mode_actions[IMM].trigger()
    rig.wait_for(lambda: rig.manager.mode is IMM)
    rig.wait_for(lambda: "switched by hand while" in tray.tooltip())
    assert tray.tooltip().startswith(f"Gearshift: Immersive — switched by hand while {GAME}")
    rig.qtbot.wait(1200)  # two more looks at the processes
    assert rig.manager.mode is IMM


def test_listing_a_game_in_the_settings_starts_watching_for_it(
    loop: qasync.QEventLoop, qtbot: QtBot, games: Games, notes: list
) -> None:
    rig_iter = started_rig(loop, qtbot, Settings())
    rig = next(rig_iter)
    try:
        assert not rig.controller.autoswitch.running
        assert (
            rig.controller.autoswitch.health().reason == "no games listed for automatic switching"
        )
        games.start()
        rig.app.settings.save(WATCH_GAME)
        rig.wait_for(lambda: rig.manager.mode is COMP)
        rig.app.settings.save(Settings())
        rig.wait_for(lambda: not rig.controller.autoswitch.running)
    finally:
        next(rig_iter, None)
