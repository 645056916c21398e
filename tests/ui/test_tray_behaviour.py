"""The tray, its absence, its late arrival, start minimised, and notifications."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import qasync
from pytestqt.qtbot import QtBot

from gearshift.config import Settings, SettingsStore
from gearshift.core.modes import PerformanceMode
from gearshift.ui import app as app_module
from gearshift.ui.tray import TrayIcon
from tests.ui.conftest import AppRig

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE


class FakeTray:
    """Stands in for the desktop's answer to "is there a system tray?"."""

    def __init__(self, present: bool) -> None:
        self.present = present

    def __call__(self) -> bool:
        return self.present


@pytest.fixture
def fast_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "TRAY_WATCH_MS", 20)


@pytest.fixture
def notes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The tray notifications shown, as (title, message)."""
    shown: list[tuple[str, str]] = []

    def record(_tray: TrayIcon, title: str, message: str, warning: bool = False) -> None:
        shown.append((title, message))

    monkeypatch.setattr(TrayIcon, "notify", record)
    return shown


def rig_with(
    loop: qasync.QEventLoop, qtbot: QtBot, tray: bool, settings: Settings, **options: object
) -> AppRig:
    return AppRig(loop, qtbot, tray=tray, settings=SettingsStore.in_memory(settings), **options)


def start_quietly(rig: AppRig) -> None:
    """Start without waiting for the window (which start minimised does not show)."""
    rig.run_task = asyncio.ensure_future(rig.app.run())
    rig.wait_for(lambda: rig.manager.lifecycle.value == "ready")


@pytest.fixture
def finish() -> Iterator[list[AppRig]]:
    rigs: list[AppRig] = []
    yield rigs
    for rig in rigs:
        if rig.run_task is not None and not rig.run_task.done():
            rig.quit()


MINIMISED = Settings.model_validate({"general": {"start_minimised": True}})


def test_without_a_tray_the_window_says_how_to_get_one(rig: AppRig) -> None:
    assert rig.app.tray is None and rig.app.window.isVisible()
    notice = rig.app.window.notice_label.text()
    assert "No system tray here" in notice and "AppIndicator" in notice
    assert rig.app.window.notice_label.isVisible()


def test_a_tray_that_appears_later_gets_the_icon(
    loop: qasync.QEventLoop, qtbot: QtBot, fast_watch: None, finish: list[AppRig]
) -> None:
    desktop = FakeTray(present=False)
    rig = rig_with(loop, qtbot, False, Settings(), tray_probe=desktop)
    finish.append(rig)
    rig.start()
    assert rig.app.tray is None
    rig.run(rig.manager.set_mode(COMP))
    desktop.present = True
    rig.wait_for(lambda: rig.app.tray is not None)
    assert rig.app.tray is not None
    assert rig.app.tray.mode_actions[COMP].isChecked()  # it shows the mode in force
    assert not rig.app.window.notice_label.isVisible()
    rig.app.tray.settings_action.trigger()
    assert rig.app.settings_window is not None and rig.app.settings_window.isVisible()


def test_a_tray_that_goes_away_brings_the_hidden_window_back(
    loop: qasync.QEventLoop, qtbot: QtBot, fast_watch: None, finish: list[AppRig]
) -> None:
    desktop = FakeTray(present=True)
    rig = rig_with(loop, qtbot, True, MINIMISED, tray_probe=desktop)
    finish.append(rig)
    start_quietly(rig)
    assert not rig.app.window.isVisible()
    desktop.present = False
    rig.wait_for(rig.app.window.isVisible)


def test_start_minimised_with_a_tray_leaves_only_the_icon(
    loop: qasync.QEventLoop, qtbot: QtBot, finish: list[AppRig]
) -> None:
    rig = rig_with(loop, qtbot, True, MINIMISED)
    finish.append(rig)
    start_quietly(rig)
    assert rig.app.tray is not None and rig.app.tray.icon.isVisible()
    assert not rig.app.window.isVisible()
    rig.app.tray.show_window_requested.emit()
    assert rig.app.window.isVisible()


def test_start_minimised_without_a_tray_still_shows_the_window(
    loop: qasync.QEventLoop, qtbot: QtBot, finish: list[AppRig]
) -> None:
    rig = rig_with(loop, qtbot, False, MINIMISED)
    finish.append(rig)
    rig.start()  # waits for the window: it is the only way in
    assert rig.app.window.isVisible()


def test_switches_refusals_and_rollbacks_notify(
    tray_rig: AppRig, notes: list[tuple[str, str]]
) -> None:
    tray_rig.app.toggle()
    tray_rig.wait_for(lambda: tray_rig.manager.mode is COMP)
    tray_rig.wait_for(lambda: ("Gearshift", "Switched to Competitive") in notes)
    tray_rig.app.toggle()
    tray_rig.wait_for(lambda: any("Cooling down" in message for _, message in notes))
    tray_rig.clock.advance(10)
    tray_rig.machine.fail_apply.add("governor=powersave")
    tray_rig.app.toggle()
    tray_rig.wait_for(lambda: any("rolled back" in title for title, _ in notes))
    assert len(notes) == 3  # the start itself was not announced


def test_notifications_turned_off_show_none(
    loop: qasync.QEventLoop, qtbot: QtBot, notes: list[tuple[str, str]], finish: list[AppRig]
) -> None:
    quiet = Settings.model_validate({"general": {"notifications": False}})
    rig = rig_with(loop, qtbot, True, quiet)
    finish.append(rig)
    rig.start()
    rig.app.toggle()
    rig.wait_for(lambda: rig.manager.mode is COMP)
    rig.app.toggle()
    rig.wait_for(lambda: "Cooling down" in rig.app.window.statusBar().currentMessage())
    rig.clock.advance(10)
    rig.machine.fail_apply.add("governor=powersave")
    rig.app.toggle()
    rig.wait_for(lambda: rig.app.dialogs != [])
    assert notes == []

    rig.app.apply_settings(Settings())  # turned back on, from the settings window
    rig.clock.advance(10)
    rig.machine.fail_apply.clear()
    rig.app.toggle()
    rig.wait_for(lambda: ("Gearshift", "Switched to Immersive") in notes)
