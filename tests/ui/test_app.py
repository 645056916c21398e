"""The window, the tray menu and the rollback dialog, offscreen."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel

from gearshift.core.modes import PerformanceMode
from gearshift.ui.dialogs import RollbackDialog
from tests.ui.conftest import AppRig

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE


def test_window_shows_mode_and_live_stats(rig: AppRig) -> None:
    window = rig.app.window
    assert "Immersive" in window.mode_label.text()
    assert "budget 16.67 ms" in window.target_label.text()
    assert "Demo (simulated)" in window.source_label.text()

    rig.wait_for(lambda: "FPS" in window.avg_fps.text() and "N/A" not in window.avg_fps.text())
    fps = float(window.avg_fps.text().split()[1])
    assert 100 < fps < 200  # the demo hovers around 144 FPS
    assert window.graph.budget_line.value() == pytest.approx(1000 / 60)


def test_stats_read_na_before_any_frame(rig: AppRig) -> None:
    rig.app.window.show_stats(None)
    for label in ("avg_fps", "low1_fps", "over_budget", "p99"):
        assert "N/A" in getattr(rig.app.window, label).text()


def test_toggle_button_switches_and_budget_follows(rig: AppRig, qtbot) -> None:
    window = rig.app.window
    qtbot.mouseClick(window.toggle_button, Qt.MouseButton.LeftButton)
    rig.wait_for(lambda: rig.manager.mode is COMP)
    assert "Competitive" in window.mode_label.text()
    assert window.toggle_button.text() == "Switch to Immersive"
    assert rig.machine.settings["governor"] == "performance"
    rig.wait_for(lambda: window.graph.budget_line.value() == pytest.approx(1000 / 300))


def test_toggle_during_cooldown_says_how_long(rig: AppRig, qtbot) -> None:
    window = rig.app.window
    qtbot.mouseClick(window.toggle_button, Qt.MouseButton.LeftButton)
    rig.wait_for(lambda: rig.manager.mode is COMP)
    rig.clock.advance(1.5)
    qtbot.mouseClick(window.toggle_button, Qt.MouseButton.LeftButton)
    rig.wait_for(lambda: "Cooling down" in window.statusBar().currentMessage())
    assert "3.5 s" in window.statusBar().currentMessage()
    assert rig.manager.mode is COMP


def test_tray_menu_switches_and_quits(tray_rig: AppRig) -> None:
    tray = tray_rig.app.tray
    assert tray is not None
    labels = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert labels == ["Immersive", "Competitive", "Show window", "Settings…", "Quit"]
    assert tray.mode_actions[IMM].isChecked()

    tray.mode_actions[COMP].trigger()
    tray_rig.wait_for(lambda: tray_rig.manager.mode is COMP)
    assert tray.mode_actions[COMP].isChecked()
    assert tray.tooltip().startswith("Gearshift: Competitive")
    tray_rig.wait_for(lambda: "FPS" in tray.tooltip())

    tray.quit_action.trigger()
    assert tray_rig.run(tray_rig.run_task) == 0
    assert tray_rig.machine.settings["governor"] is None  # reverted to before Gearshift
    assert tray_rig.monitor.budget_ms == pytest.approx(1000 / 60)


def test_tray_click_toggles(tray_rig: AppRig) -> None:
    from PySide6.QtWidgets import QSystemTrayIcon

    tray = tray_rig.app.tray
    assert tray is not None
    tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    tray_rig.wait_for(lambda: tray_rig.manager.mode is COMP)
    tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Context)
    assert tray_rig.manager.mode is COMP


def test_tray_double_click_opens_window_without_switching(tray_rig: AppRig) -> None:
    from PySide6.QtWidgets import QSystemTrayIcon

    tray = tray_rig.app.tray
    assert tray is not None
    tray_rig.app.window.hide()
    tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)  # Qt sends both
    tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.DoubleClick)
    tray_rig.wait_for(tray_rig.app.window.isVisible)
    tray_rig.qtbot.wait(600)  # past the double-click interval: no late toggle
    assert tray_rig.manager.mode is IMM


def test_failed_switch_opens_rollback_dialog_without_blocking(rig: AppRig) -> None:
    rig.machine.fail_apply.add("governor=performance")
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)

    rig.app.toggle()
    rig.wait_for(lambda: bool(rig.app.dialogs))
    dialog = rig.app.dialogs[0]
    assert isinstance(dialog, RollbackDialog) and dialog.isVisible()
    before = len(ticks)
    rig.wait_for(lambda: len(ticks) > before + 3)  # the loop keeps running
    timer.stop()

    text = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "governor=performance" in text and "refused the change" in text
    assert "frame budget 3.33 ms" in text  # restored
    assert rig.manager.mode is IMM
    assert rig.monitor.budget_ms == pytest.approx(1000 / 60)

    dialog.reject()
    rig.wait_for(lambda: not rig.app.dialogs)


def test_rollback_dialog_lists_what_could_not_be_restored(rig: AppRig) -> None:
    rig.run(rig.controller.request_mode(COMP))
    rig.clock.advance(10)
    # Entering Immersive fails, and so does putting Competitive's governor back.
    rig.machine.fail_apply.update({"governor=powersave", "governor=performance"})
    rig.app.toggle()
    rig.wait_for(lambda: bool(rig.app.dialogs))
    stuck = rig.app.dialogs[0].findChild(QLabel, "notRestored")
    assert stuck is not None and "undo governor=performance" in stuck.text()
    rig.app.dialogs[0].reject()
    rig.wait_for(lambda: not rig.app.dialogs)


def test_closing_window_without_tray_quits_and_reverts(rig: AppRig) -> None:
    rig.run(rig.controller.request_mode(COMP))
    rig.app.window.close()
    assert rig.run(rig.run_task) == 0
    assert rig.machine.settings["governor"] is None
    pending = [t for t in asyncio.all_tasks(rig.loop) if not t.done()]
    assert pending == []


def test_tray_icon_follows_a_dark_or_light_panel(tray_rig: AppRig) -> None:
    tray = tray_rig.app.tray
    assert tray is not None
    tray.follow_panel(dark_panel=True)
    assert tray.icon_name == "mode-immersive-on-dark"
    tray_rig.run(tray_rig.controller.request_mode(COMP))
    assert tray.icon_name == "mode-competitive-on-dark"
    tray.follow_panel(dark_panel=False)
    assert tray.icon_name == "mode-competitive"
    assert not tray.icon.icon().isNull()
