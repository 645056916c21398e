"""The settings window in the running app: every field checked as typed, saved as one."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from gearshift.config import (
    LoadedSettings,
    Settings,
    SettingsStore,
    load_settings,
    save_settings,
)
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from gearshift.gpu.fake import FakeNvml
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.probe import NEEDS_PRIVILEGE, ProbeResult
from gearshift.gpu.telemetry import GpuTelemetry
from gearshift.ui import app as app_module
from gearshift.ui.autostart import XdgAutostart
from gearshift.ui.settings_window import SettingsWindow, action_rows, hotkey_issues
from tests.ui.conftest import AppRig

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE
OK, APPLY = QDialogButtonBox.StandardButton.Ok, QDialogButtonBox.StandardButton.Apply


class SettingsRig(AppRig):
    """The app with its settings in a file under tmp_path and autostart in a folder there."""

    def __init__(self, loop, qtbot: QtBot, folder: Path, tray: bool = True) -> None:
        self.path = folder / "config" / "settings.toml"
        self.autostart = XdgAutostart(
            folder / "autostart", ["/usr/bin/python3", "-m", "gearshift"]
        )
        self.store = SettingsStore(load_settings(self.path))
        super().__init__(loop, qtbot, tray=tray, settings=self.store, autostart=self.autostart)

    def open(self) -> SettingsWindow:
        """Open the settings window as the tray menu does."""
        assert self.app.tray is not None
        self.app.tray.settings_action.trigger()
        window = self.app.settings_window
        assert window is not None and window.isVisible()
        return window

    def saved(self) -> dict:
        return tomllib.loads(self.path.read_text())


@pytest.fixture
def srig(loop: qasync.QEventLoop, qtbot: QtBot, tmp_path: Path) -> Iterator[SettingsRig]:
    rig = SettingsRig(loop, qtbot, tmp_path)
    rig.start()
    yield rig
    if rig.run_task is not None and not rig.run_task.done():
        rig.quit()


def type_into(qtbot: QtBot, box, text: str) -> None:
    """Select what the spin box holds and type ``text`` over it, as a player would."""
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), text)


def can_apply(window: SettingsWindow) -> bool:
    return window.buttons.button(APPLY).isEnabled() and window.buttons.button(OK).isEnabled()


# ---------------------------------------------------------------------------- opening


def test_the_tray_menu_and_the_window_button_open_the_same_window(
    srig: SettingsRig, qtbot: QtBot
) -> None:
    window = srig.open()
    assert window.windowTitle() == "Gearshift settings"
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "General",
        "Hotkeys",
        "Profiles",
        "Games",
        "Advanced",
    ]
    window.hide()
    qtbot.mouseClick(srig.app.window.settings_button, Qt.MouseButton.LeftButton)
    assert srig.app.settings_window is window and window.isVisible()
    assert f"Saved in {srig.path}" in window.saved_label.text()


# --------------------------------------------------------------------------- cooldown


@pytest.mark.parametrize("typed", ["-1", "10000", "600.5"])
def test_a_cooldown_out_of_range_is_refused_with_the_range(
    srig: SettingsRig, qtbot: QtBot, typed: str
) -> None:
    window = srig.open()
    type_into(qtbot, window.cooldown, typed)
    assert window.errors == [f"Cooldown: {float(typed):g} s is refused; allowed: 0 to 600 s"]
    assert "0 to 600 s" in window.problems.text()
    assert not can_apply(window)
    assert not window.apply()
    assert srig.manager.cooldown_s == 5.0 and not srig.path.exists()


def test_a_cooldown_is_applied_at_once_and_saved(srig: SettingsRig, qtbot: QtBot) -> None:
    window = srig.open()
    type_into(qtbot, window.cooldown, "42")
    assert window.cooldown_slider.value() == 42 and window.errors == []
    qtbot.mouseClick(window.buttons.button(APPLY), Qt.MouseButton.LeftButton)
    assert srig.manager.cooldown_s == 42.0
    assert srig.saved()["general"]["cooldown_s"] == 42.0
    assert load_settings(srig.path).settings.general.cooldown_s == 42.0
    assert f"Saved to {srig.path}" in window.saved_label.text()

    srig.run(srig.manager.set_mode(COMP))
    srig.clock.advance(30)
    refused = srig.run(srig.manager.set_mode(IMM))
    assert refused.cooldown_left_s == pytest.approx(12.0)


def test_the_slider_and_the_spin_box_move_together(srig: SettingsRig) -> None:
    window = srig.open()
    window.cooldown_slider.setValue(600)
    assert window.cooldown.value() == 600.0
    window.cooldown.setValue(0.0)
    assert window.cooldown_slider.value() == 0


def test_the_cooldown_from_the_file_is_in_force_at_start(
    loop: qasync.QEventLoop, qtbot: QtBot, tmp_path: Path
) -> None:
    path = tmp_path / "config" / "settings.toml"
    save_settings(Settings.model_validate({"general": {"cooldown_s": 0.0}}), path)
    rig = SettingsRig(loop, qtbot, tmp_path, tray=False)
    rig.start()
    try:
        assert rig.manager.cooldown_s == 0.0
        rig.run(rig.manager.set_mode(COMP))
        assert rig.run(rig.manager.set_mode(IMM)).switched  # no cooldown at all
    finally:
        rig.quit()


# ---------------------------------------------------------------------------- hotkeys


def test_a_recorded_combination_is_saved(srig: SettingsRig, qtbot: QtBot) -> None:
    window = srig.open()
    window.tabs.setCurrentIndex(1)
    window.toggle_hotkey.setFocus()
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
    qtbot.keyClick(window.toggle_hotkey, Qt.Key.Key_K, modifiers)
    portable = QKeySequence.SequenceFormat.PortableText
    assert window.toggle_hotkey.keySequence().toString(portable) == "Ctrl+Alt+K"
    assert window.apply()
    assert srig.saved()["hotkeys"]["toggle"] == "Ctrl+Alt+K"
    assert srig.store.settings.hotkeys.toggle == "Ctrl+Alt+K"


@pytest.mark.parametrize(
    ("enter", "toggle", "refusal"),
    [
        ("Ctrl+Alt+F3", "", "Enter Competitive: 'Ctrl+Alt+F3' switches to a text console"),
        ("Ctrl+Shift+F10", "Ctrl+Alt+F12", "Toggle: 'Ctrl+Alt+F12' switches to a text console"),
        ("Ctrl+Shift+F10", "Ctrl+Shift+F10", "Toggle: Ctrl+Shift+F10 is already Enter Compet"),
        ("K", "", "Enter Competitive: 'K' would fire while typing"),
    ],
)
def test_hotkeys_that_cannot_work_are_refused(
    srig: SettingsRig, enter: str, toggle: str, refusal: str
) -> None:
    window = srig.open()
    window.enter_hotkey.setKeySequence(QKeySequence(enter))
    window.toggle_hotkey.setKeySequence(QKeySequence(toggle))
    assert any(error.startswith(refusal) for error in window.errors), window.errors
    assert not can_apply(window)


def test_a_desktop_shortcut_is_allowed_with_a_warning(srig: SettingsRig) -> None:
    window = srig.open()
    window.toggle_hotkey.setKeySequence(QKeySequence("Alt+Tab"))
    assert window.errors == []
    assert window.warnings == ["Toggle: Alt+Tab switches windows; the hotkey would take it over"]
    assert can_apply(window) and window.apply()
    assert srig.saved()["hotkeys"]["toggle"] == "Alt+Tab"


def test_hotkeys_turned_off_and_cleared_are_saved(srig: SettingsRig) -> None:
    window = srig.open()
    window.hotkeys_enabled.setChecked(False)
    window.enter_hotkey.clear()
    assert window.apply()
    assert srig.saved()["hotkeys"] == {"enabled": False, "enter_competitive": "", "toggle": ""}


def test_hotkey_issues_put_refusals_first() -> None:
    issues = hotkey_issues("Alt+F4", "Ctrl+Alt+F1")
    assert [issue.refused for issue in issues] == [True, False]
    assert hotkey_issues("Ctrl+Shift+F10", "") == []


def test_the_hotkey_status_reaches_the_window(srig: SettingsRig) -> None:
    srig.app.show_hotkey_status("No global hotkeys here: bind gearshift ctl switch toggle")
    window = srig.open()
    assert "bind gearshift ctl switch toggle" in window.hotkey_status.text()


# --------------------------------------------------------------------------- profiles


def test_a_profile_is_checked_as_typed_and_saved(srig: SettingsRig, qtbot: QtBot) -> None:
    window = srig.open()
    competitive = window.profile_fields[COMP]
    type_into(qtbot, competitive.fps_min, "5")
    assert window.errors == ["Competitive FPS floor: 5 FPS is refused; allowed: 10 to 1000 FPS"]
    type_into(qtbot, competitive.fps_min, "240")
    assert competitive.budget.text() == "4.17 ms"
    assert window.action_table.item(0, 2).text() == "4.17 ms"
    competitive.preset.setCurrentIndex(competitive.preset.findData("low"))

    immersive = window.profile_fields[IMM]
    type_into(qtbot, immersive.fps_max, "50")
    assert window.errors == [
        "Immersive: the FPS ceiling 50 is below the floor 60: raise it, or set 0 for no ceiling"
    ]
    type_into(qtbot, immersive.fps_max, "0")
    assert immersive.fps_max.text() == "none" or window.errors == []
    assert window.apply()
    saved = srig.saved()["profiles"]
    assert saved["competitive"] == {"fps_min": 240.0, "fps_max": 0.0, "preset": "low"}
    assert saved["immersive"]["fps_max"] == 0.0
    # The running modes keep their targets until the next start, as the tab says.
    assert srig.manager.profile_of(COMP).fps_min == DEFAULT_PROFILES[COMP].fps_min


def probed(machine: str, root: bool) -> ProbeResult:
    sampler = GpuTelemetry(NvmlBackend(FakeNvml(machine), is_root=root))
    sampler.open()
    return sampler.probes[0]


def test_actions_the_card_rules_out_are_greyed_with_the_probes_reason(qtbot: QtBot) -> None:
    laptop = probed("rtx4070-laptop", root=True)
    window = SettingsWindow(Settings(), lambda _settings: None, probe=laptop)
    qtbot.addWidget(window)
    rows = {
        window.action_table.item(row, 0).text(): row
        for row in range(window.action_table.rowCount())
    }
    power = window.action_table.item(rows["GPU power limit"], 3)
    assert not power.flags() & Qt.ItemFlag.ItemIsEnabled
    assert "laptop's firmware sets its power limit" in power.text()
    assert "laptop's firmware" in power.toolTip()
    clocks = window.action_table.item(rows["Locked graphics clocks"], 3)
    assert clocks.text() == "the NVIDIA GPU's graphics clock, through NVML"
    assert clocks.flags() & Qt.ItemFlag.ItemIsEnabled
    assert window.action_table.item(rows["Locked graphics clocks"], 1).text() == "unchanged"
    assert window.action_table.item(rows["Locked graphics clocks"], 2).text() == "top clock"
    budget = window.action_table.item(rows["Frame budget"], 0)
    assert budget.flags() & Qt.ItemFlag.ItemIsEnabled


def test_action_rows_say_why_for_every_case() -> None:
    no_root = probed("rtx4080super", root=False)
    rows = {row.label: row for row in action_rows(DEFAULT_PROFILES, no_root, None)}
    assert rows["Frame budget"].available and rows["Frame budget"].values == (
        "16.67 ms",
        "3.33 ms",
    )
    assert rows["Locked graphics clocks"].why == NEEDS_PRIVILEGE
    assert not rows["Locked graphics clocks"].available
    assert not rows["GPU power limit"].available
    # The system actions list each mode's values; nothing said they cannot run here.
    assert rows["CPU governor"].available
    assert rows["CPU governor"].values == ("unchanged", "performance")
    assert rows["Power profile"].values == ("unchanged", "performance")
    assert rows["FPS limit"].values == ("unchanged", "no limit")
    assert rows["Game process priority"].values[1] == "nice -5, I/O best-effort 0"

    # What the running app's builders said wins: a daemon's ownership, a missing bus.
    told = {"cpu_governor": "TuneD controls the cpu governor; Gearshift leaves it alone"}
    owned = {row.label: row for row in action_rows(DEFAULT_PROFILES, None, None, unavailable=told)}
    assert not owned["CPU governor"].available
    assert owned["CPU governor"].why.startswith("TuneD controls")
    assert owned["Screensaver and idle"].available

    no_gpu = {row.label: row for row in action_rows(DEFAULT_PROFILES, None, "no NVIDIA driver")}
    assert no_gpu["GPU power limit"].why == "no NVIDIA driver"
    windows = {r.label: r for r in action_rows(DEFAULT_PROFILES, None, None, platform="win32")}
    assert windows["CPU governor"].why.startswith("Linux only")


# ------------------------------------------------------------------------------ games


def test_games_are_added_edited_removed_and_saved(srig: SettingsRig, qtbot: QtBot) -> None:
    window = srig.open()
    window.tabs.setCurrentIndex(3)
    qtbot.mouseClick(window.add_game, Qt.MouseButton.LeftButton)
    assert window.errors == ["Game 1 name: must not be empty"]
    window.games.item(0, 0).setText("cs2")
    window.games.item(0, 1).setText("/games/cs2/cs2")
    qtbot.mouseClick(window.add_game, Qt.MouseButton.LeftButton)
    window.games.item(1, 0).setText("valorant.exe")
    window.games.item(1, 2).setText("-league")
    qtbot.mouseClick(window.add_game, Qt.MouseButton.LeftButton)
    window.games.item(2, 0).setText("cs2")
    window.games.item(2, 1).setText("/games/cs2/cs2")
    assert window.errors == ["Games: 'cs2' is listed twice with the same path and text"]
    window.games.selectRow(2)
    qtbot.mouseClick(window.remove_game, Qt.MouseButton.LeftButton)
    assert window.errors == [] and window.games.rowCount() == 2
    window.autoswitch_enabled.setChecked(False)
    assert window.apply()
    saved = srig.saved()["autoswitch"]
    assert saved["enabled"] is False
    assert saved["games"] == [
        {"name": "cs2", "path": "/games/cs2/cs2", "cmdline": ""},
        {"name": "valorant.exe", "path": "", "cmdline": "-league"},
    ]
    assert srig.store.settings.autoswitch.games[1].cmdline == "-league"


# ---------------------------------------------------------- general and advanced boxes


def test_the_boxes_are_saved(srig: SettingsRig) -> None:
    window = srig.open()
    window.start_minimised.setChecked(True)
    window.notifications.setChecked(False)
    window.adjust_presets.setChecked(False)
    window.ingest_socket.setChecked(False)
    assert window.apply()
    saved = srig.saved()
    assert saved["general"]["start_minimised"] is True
    assert saved["general"]["notifications"] is False
    assert saved["gpu"]["adjust_presets"] is False
    assert saved["advanced"]["ingest_socket"] is False
    assert srig.store.settings.general.notifications is False


def test_start_at_login_writes_and_removes_the_autostart_entry(srig: SettingsRig) -> None:
    window = srig.open()
    window.start_at_login.setChecked(True)
    assert window.apply()
    assert srig.autostart.path.is_file() and srig.saved()["general"]["start_at_login"] is True
    window.start_at_login.setChecked(False)
    assert window.apply()
    assert not srig.autostart.path.exists()
    assert srig.saved()["general"]["start_at_login"] is False


def test_an_autostart_entry_that_cannot_be_written_saves_nothing(
    srig: SettingsRig, tmp_path: Path
) -> None:
    (tmp_path / "autostart").write_text("a file where the folder should be")
    window = srig.open()
    window.start_at_login.setChecked(True)
    window.cooldown.setValue(9.0)
    assert not window.apply()
    assert window.errors[0].startswith("cannot write the autostart entry")
    assert not srig.path.exists() and srig.manager.cooldown_s == 5.0


def test_a_save_that_fails_takes_the_autostart_entry_back(
    loop: qasync.QEventLoop, qtbot: QtBot, tmp_path: Path
) -> None:
    (tmp_path / "config").write_text("a file where the settings folder should be")
    rig = SettingsRig(loop, qtbot, tmp_path)
    rig.start()
    try:
        window = rig.open()
        window.start_at_login.setChecked(True)
        window.cooldown.setValue(9.0)
        assert not window.apply()
        assert window.errors[0].startswith("cannot save the settings to")
        assert not rig.autostart.path.exists()
        assert rig.manager.cooldown_s == 5.0 and window.isVisible()
    finally:
        rig.quit()


def test_autostart_that_cannot_work_here_is_greyed_with_why(qtbot: QtBot) -> None:
    window = SettingsWindow(
        Settings(), lambda _s: None, autostart_unavailable="not built for Windows yet"
    )
    qtbot.addWidget(window)
    assert not window.start_at_login.isEnabled()
    assert window.start_at_login.toolTip() == "not built for Windows yet"


# ----------------------------------------------------------- cancel, reset, bad files


def test_cancel_forgets_the_edits(srig: SettingsRig) -> None:
    window = srig.open()
    window.cooldown.setValue(77.0)
    window.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    assert not window.isVisible() and not srig.path.exists()
    assert srig.open().cooldown.value() == 5.0


def test_ok_applies_and_closes(srig: SettingsRig) -> None:
    window = srig.open()
    window.cooldown.setValue(12.0)
    window.buttons.button(OK).click()
    assert not window.isVisible() and srig.manager.cooldown_s == 12.0


def test_restore_defaults_fills_defaults_and_applies_only_on_apply(srig: SettingsRig) -> None:
    custom = Settings.model_validate(
        {
            "general": {"cooldown_s": 30.0, "notifications": False},
            "autoswitch": {"games": ({"name": "cs2"},)},
            "metrics": {"enabled": True, "port": 9100},
            "gpu": {"pin": "1", "adjust_presets": False},
        }
    )
    srig.app.apply_settings(custom)
    window = srig.open()
    assert window.cooldown.value() == 30.0 and window.games.rowCount() == 1
    window.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).click()
    assert window.cooldown.value() == 5.0 and window.games.rowCount() == 0
    assert window.notifications.isChecked() and window.adjust_presets.isChecked()
    assert srig.store.settings == custom  # nothing applied yet
    assert window.apply()
    after = srig.store.settings
    assert after.general == Settings().general and after.autoswitch == Settings().autoswitch
    assert after.metrics.port == 9100 and after.gpu.pin == "1"  # not in the window: kept
    assert srig.manager.cooldown_s == 5.0


def test_a_corrupt_file_is_kept_aside_and_both_windows_say_where(
    loop: qasync.QEventLoop, qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[general]\ncooldown_s = 'soon'\n")
    monkeypatch.setenv("GEARSHIFT_SETTINGS", str(path))
    store = app_module.load_app_settings()
    backup = tmp_path / "settings.toml.bak"
    assert backup.read_text() == "[general]\ncooldown_s = 'soon'\n" and not path.exists()
    assert store.settings == Settings()

    rig = AppRig(loop, qtbot, tray=True, settings=store)
    rig.start()
    try:
        notice = rig.app.window.notice_label.text()
        assert "general.cooldown_s" in notice and f"the old file is kept as {backup}" in notice
        rig.app.open_settings()
        window = rig.app.settings_window
        assert window is not None and window.notice.isVisible()
        assert f"kept as {backup}" in window.notice.text()
        window.cooldown.setValue(8.0)
        assert window.apply()
        assert load_settings(path).settings.general.cooldown_s == 8.0
        assert backup.read_text() == "[general]\ncooldown_s = 'soon'\n"
    finally:
        rig.quit()


def test_settings_that_cannot_be_moved_aside_are_kept_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[gpu\n")
    monkeypatch.setenv("GEARSHIFT_SETTINGS", str(path))

    def cannot_move(_loaded: LoadedSettings) -> LoadedSettings:
        raise app_module.SettingsError("settings file X is broken, and it cannot be moved aside")

    monkeypatch.setattr(app_module, "set_aside", cannot_move)
    store = app_module.load_app_settings()
    assert not store.persist
    assert store.problem is not None and "last until Gearshift quits" in store.problem
    store.save(Settings.model_validate({"general": {"cooldown_s": 1.0}}))
    assert path.read_text() == "[gpu\n"
