"""The settings window: every setting a player changes, checked as it is typed.

The window edits a copy. Apply (or OK) builds one ``Settings`` from every field,
validates it as a whole with the same pydantic model that reads the file, and hands it
to the app, which writes it in one atomic save and puts it in effect; nothing is saved
field by field. While a field is refused, Apply and OK are off and the reason, with the
allowed range, is shown under the tabs. Restore Defaults fills the fields with the
defaults; they too take effect only on Apply.

The window decides nothing about modes or files: it shows what it is given (the
settings, the GPU probe, why autostart or the hotkeys cannot work here) and asks the
app to apply.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gearshift.config import (
    COOLDOWN_RANGE_S,
    FPS_CEILING_MAX,
    FPS_FLOOR_RANGE,
    ProfileSettings,
    Settings,
    mode_profiles,
    validation_messages,
)
from gearshift.core.errors import GearshiftError, HotkeyError
from gearshift.core.hotkeys import KeyCombo, parse_key_sequence
from gearshift.core.modes import (
    CPU_EPP,
    CPU_GOVERNOR,
    FPS_LIMIT,
    GPU_CLOCKS,
    GPU_POWER_LIMIT,
    PLATFORM_PROFILE,
    POWER_PROFILE,
    PROCESS_PRIORITY,
    SCREENSAVER,
    SCRIPTS,
    ModeProfile,
    PerformanceMode,
)
from gearshift.core.presets import Preset
from gearshift.gpu.probe import ProbeResult
from gearshift.ui.style import MODE_COLOURS, icon

ERROR_COLOUR = "#c62828"
WARNING_COLOUR = "#9a6700"

ApplySettings = Callable[[Settings], None]
"""Saves and puts in effect a validated Settings; raises GearshiftError with one line."""


# ------------------------------------------------------------------- what a mode does


@dataclass(frozen=True)
class ActionRow:
    """One action a mode could apply, as the Profiles tab lists it.

    Attributes:
        label: the action in the player's terms.
        values: what each mode applies, in PerformanceMode's order; "—" for nothing.
        available: whether the modes apply it on this machine.
        why: what it does, or why it is greyed out.
    """

    label: str
    values: tuple[str, ...]
    available: bool
    why: str


GPU_CONTROLS = (
    ("locked_graphics_clocks", "Locked graphics clocks"),
    ("locked_memory_clocks", "Locked memory clocks"),
    ("power_limit", "GPU power limit"),
    ("application_clocks", "Application clocks"),
    ("persistence_mode", "Persistence mode"),
)
"""The GPU controls a mode may use, keyed as the capability probe names them."""

GPU_ACTION_CONTROLS = {GPU_CLOCKS: "locked_graphics_clocks", GPU_POWER_LIMIT: "power_limit"}
"""The GPU action kinds, and the probe's key for the control each one uses."""

ACTION_KINDS: Mapping[str, tuple[str, str]] = {
    POWER_PROFILE: ("Power profile", "held through power-profiles-daemon's D-Bus API"),
    PLATFORM_PROFILE: ("Platform profile", "the ACPI platform profile in sysfs"),
    CPU_EPP: ("Energy-performance preference", "every CPU's preference in sysfs"),
    CPU_GOVERNOR: ("CPU governor", "every CPU's cpufreq governor in sysfs"),
    GPU_CLOCKS: ("Locked graphics clocks", "the NVIDIA GPU's graphics clock, through NVML"),
    GPU_POWER_LIMIT: ("GPU power limit", "the NVIDIA GPU's power limit, through NVML"),
    PROCESS_PRIORITY: ("Game process priority", "the game's nice value and I/O priority"),
    FPS_LIMIT: ("FPS limit", "fps_limit in MangoHud's config file"),
    SCREENSAVER: ("Screensaver and idle", "inhibited through the desktop's D-Bus API"),
    SCRIPTS: ("Enter and leave scripts", "the commands in the settings' [scripts]"),
}
"""Each system action kind as players read it, and what it changes."""

LINUX_ONLY = "Linux only"
UNCHANGED = "unchanged"
"""What a mode that does not list an action applies: the machine as it was."""


def action_rows(
    profiles: Mapping[PerformanceMode, ModeProfile],
    probe: ProbeResult | None,
    no_gpu_reason: str | None,
    platform: str = sys.platform,
    unavailable: Mapping[str, str] | None = None,
) -> list[ActionRow]:
    """What the modes apply, with each mode's values, and what they cannot here, each
    with the reason.

    Args:
        profiles: the modes' profiles.
        probe: the followed GPU's capabilities, or None.
        no_gpu_reason: why there is no probe.
        platform: sys.platform's value.
        unavailable: action kind -> why the running app would go without it now (its
            builder said so, another tool owns the setting, the probe said no); None
            when not known, and then only the probe and the platform are consulted.
    """
    budgets = tuple(f"{profiles[mode].budget_ms:.2f} ms" for mode in PerformanceMode)
    rows = [
        ActionRow(
            "Frame budget", budgets, True, "Gearshift's own: frame times are measured against it"
        )
    ]
    kinds = [
        spec.kind
        for mode in PerformanceMode
        for spec in profiles[mode].actions
        if spec.kind in ACTION_KINDS
    ]
    for kind in dict.fromkeys(kinds):  # each once, in the profiles' order
        label, what = ACTION_KINDS[kind]
        values = tuple(_values(profiles[mode], kind) for mode in PerformanceMode)
        why = _why_not(kind, probe, no_gpu_reason, platform, unavailable)
        rows.append(ActionRow(label, values, why is None, what if why is None else why))
    used = {GPU_ACTION_CONTROLS[kind] for kind in kinds if kind in GPU_ACTION_CONTROLS}
    nothing = tuple("—" for _mode in PerformanceMode)
    for key, label in GPU_CONTROLS:
        if key in used:
            continue
        if probe is None:
            why = no_gpu_reason or "no NVIDIA GPU telemetry here"
        elif not probe.allows(key):
            why = probe.control(key).reason or "the card does not allow it"
        else:
            why = "the card allows it, but no mode uses it"
        rows.append(ActionRow(label, nothing, False, why))
    return rows


def _why_not(
    kind: str,
    probe: ProbeResult | None,
    no_gpu_reason: str | None,
    platform: str,
    unavailable: Mapping[str, str] | None,
) -> str | None:
    """Why ``kind`` is not applied here, or None when it is."""
    control = GPU_ACTION_CONTROLS.get(kind)
    if control is None and not platform.startswith("linux") and kind != SCRIPTS:
        return f"{LINUX_ONLY} ({ACTION_KINDS[kind][1]})"
    if unavailable is not None:
        return unavailable.get(kind)
    if control is None:
        return None
    if probe is None:
        return no_gpu_reason or "no NVIDIA GPU telemetry here"
    if not probe.allows(control):
        return probe.control(control).reason or "the card does not allow it"
    return None


def _values(profile: ModeProfile, kind: str) -> str:
    """What ``profile`` applies for ``kind``, in words, or UNCHANGED."""
    specs = [spec for spec in profile.actions if spec.kind == kind]
    if not specs:
        return UNCHANGED
    params = specs[0].params
    if kind == POWER_PROFILE:
        return str(params.get("profile", "performance"))
    if kind in (PLATFORM_PROFILE, CPU_EPP, CPU_GOVERNOR):
        return str(params.get("value", "?"))
    if kind == GPU_CLOCKS:
        if "max_mhz" not in params:
            return "top clock"
        return f"{params.get('min_mhz', params['max_mhz'])}-{params['max_mhz']} MHz"
    if kind == GPU_POWER_LIMIT:
        return f"{params['watts']} W" if "watts" in params else "card's maximum"
    if kind == PROCESS_PRIORITY:
        parts = [f"nice {params.get('nice', 0)}"]
        if "io_class" in params:
            parts.append(f"I/O {params['io_class']} {params.get('io_level', '')}".strip())
        if "cpus" in params:
            parts.append(f"CPUs {params['cpus']}")
        return ", ".join(parts)
    if kind == FPS_LIMIT:
        fps = params.get("fps", 0)
        return "no limit" if not fps else f"{fps} FPS"
    if kind == SCREENSAVER:
        return "inhibited"
    if kind == SCRIPTS:
        return "enter script"
    return ", ".join(f"{key} {value}" for key, value in params.items()) or "on"


# ----------------------------------------------------------------------------- hotkeys

DESKTOP_SHORTCUTS = {
    "Alt+Tab": "switches windows",
    "Alt+Shift+Tab": "switches windows",
    "Alt+F2": "opens the run-a-command box (GNOME, KDE)",
    "Alt+F4": "closes the window",
    "Alt+Space": "opens the window menu",
    "Ctrl+Alt+L": "locks the screen",
    "Ctrl+Alt+T": "opens a terminal (GNOME, Ubuntu)",
    "Ctrl+Alt+Left": "switches workspaces",
    "Ctrl+Alt+Right": "switches workspaces",
    "Ctrl+Alt+Up": "switches workspaces",
    "Ctrl+Alt+Down": "switches workspaces",
    "Ctrl+Esc": "opens the start menu",
    "Ctrl+Shift+Esc": "opens the task manager (Windows)",
    "Meta+D": "shows the desktop",
    "Meta+L": "locks the screen",
    "Meta+Tab": "switches windows or workspaces",
    "Print": "takes a screenshot",
    "Ctrl+C": "copies in most applications",
    "Ctrl+V": "pastes in most applications",
    "Ctrl+X": "cuts in most applications",
    "Ctrl+Z": "undoes in most applications",
    "Ctrl+S": "saves in most applications",
    "Ctrl+W": "closes a tab in most applications",
    "Ctrl+Q": "quits most applications",
}
"""Combinations a desktop or most applications already use, and what they do. They are
allowed with a warning: a global hotkey takes them away from everything else."""

HOTKEY_LABELS = {"enter_competitive": "Enter Competitive", "toggle": "Toggle"}


@dataclass(frozen=True)
class HotkeyIssue:
    """Something wrong with a hotkey, as the window shows it.

    Attributes:
        field: "enter_competitive" or "toggle".
        message: one line saying what is wrong and what to do.
        refused: True when it cannot be applied, False for a warning.
    """

    field: str
    message: str
    refused: bool


def hotkey_issues(enter_competitive: str, toggle: str) -> list[HotkeyIssue]:
    """What is wrong with this pair of hotkeys (empty is off): refusals first.

    Refused: what the hotkey parser refuses (Ctrl+Alt+F1 to F12 switch consoles, keys
    typing would fire, names it does not know) and both hotkeys on one combination.
    Warned: combinations the desktop or most applications already use.
    """
    issues: list[HotkeyIssue] = []
    combos: dict[str, KeyCombo] = {}
    for field, text in (("enter_competitive", enter_competitive), ("toggle", toggle)):
        label = HOTKEY_LABELS[field]
        if not text.strip():
            continue
        try:
            combo = combos[field] = parse_key_sequence(text)
        except HotkeyError as error:
            issues.append(HotkeyIssue(field, f"{label}: {error}", refused=True))
            continue
        taken = DESKTOP_SHORTCUTS.get(combo.text)
        if taken is not None:
            message = f"{label}: {combo.text} {taken}; the hotkey would take it over"
            issues.append(HotkeyIssue(field, message, refused=False))
    both = combos.get("enter_competitive")
    if both is not None and both == combos.get("toggle"):
        message = f"Toggle: {both.text} is already Enter Competitive's; give each its own"
        issues.append(HotkeyIssue("toggle", message, refused=True))
    return sorted(issues, key=lambda issue: not issue.refused)


# -------------------------------------------------------------------------- the fields


class RangeSpinBox(QDoubleSpinBox):
    """A spin box that lets a number outside its range be typed, so it can be refused
    with the range shown, instead of swallowing the keystroke without a word."""

    def __init__(self, low: float, high: float, unit: str, decimals: int = 0) -> None:
        super().__init__()
        self.unit = unit
        self.setRange(low, high)
        self.setDecimals(decimals)
        self.setSuffix(f" {unit}")
        self.setKeyboardTracking(True)

    def validate(self, text: str, pos: int) -> QValidator.State:  # type: ignore[override]
        """Acceptable inside the range; a number outside it stays, to be refused."""
        number = self.typed_number(text)
        if number is None:
            bare = self._bare(text)
            partial = bare in ("", "-", "+", ".", "-.")
            return QValidator.State.Intermediate if partial else QValidator.State.Invalid
        inside = self.minimum() <= number <= self.maximum()
        return QValidator.State.Acceptable if inside else QValidator.State.Intermediate

    def typed_number(self, text: str | None = None) -> float | None:
        """The number in the box as typed (None when it is not a number)."""
        try:
            return float(self._bare(self.lineEdit().text() if text is None else text))
        except ValueError:
            return None

    def refusal(self, label: str) -> str | None:
        """Why the typed text is refused, naming the allowed range, or None."""
        number = self.typed_number()
        allowed = f"allowed: {self._range_text()}"
        if number is None:
            return f"{label}: type a number ({allowed})"
        if not self.minimum() <= number <= self.maximum():
            return f"{label}: {number:g} {self.unit} is refused; {allowed}"
        return None

    def _range_text(self) -> str:
        low = self.specialValueText() or f"{self.minimum():g}"
        return f"{low} to {self.maximum():g} {self.unit}"

    def _bare(self, text: str) -> str:
        special = self.specialValueText()
        if special and text.strip() == special:
            return f"{self.minimum():g}"
        return text.removesuffix(self.suffix()).strip().replace(",", ".")


def _line(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text)")
    return label


def _checkbox(text: str, name: str) -> QCheckBox:
    box = QCheckBox(text)
    box.setObjectName(name)
    return box


# ------------------------------------------------------------------------- the window


class SettingsWindow(QDialog):
    """Edits every setting and asks the app to apply them as one.

    Args:
        settings: the settings in effect.
        apply: saves and puts in effect a validated Settings (see ApplySettings).
        problem: what was wrong with the settings file at start, or None.
        location: where the settings are saved, in words.
        probe: the followed GPU's capabilities, or None without GPU telemetry.
        no_gpu_reason: why there is no probe, in words.
        autostart_unavailable: why start at login cannot work here, or None.
        unavailable: action kind -> why the app goes without it here (see
            action_rows), or None when not known.
    """

    applied = Signal(object)
    """The Settings now in effect, after Apply or OK."""

    def __init__(
        self,
        settings: Settings,
        apply: ApplySettings,
        *,
        problem: str | None = None,
        location: str = "",
        probe: ProbeResult | None = None,
        no_gpu_reason: str | None = None,
        autostart_unavailable: str | None = None,
        unavailable: Mapping[str, str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Gearshift settings")
        self.setWindowIcon(icon("gearshift"))
        self.setObjectName("settingsWindow")
        self._apply_settings = apply
        self._applied = settings
        self._probe = probe
        self._no_gpu_reason = no_gpu_reason
        self._unavailable = unavailable
        self._location = location
        self._loading = False
        self._candidate: Settings | None = None
        self.errors: list[str] = []
        self.warnings: list[str] = []

        self.notice = QLabel()
        self.notice.setObjectName("settingsNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet(
            f"border: 1px solid {WARNING_COLOUR}; border-radius: 4px; padding: 6px"
        )
        self.tabs = QTabWidget()
        self.tabs.addTab(self._general_tab(autostart_unavailable), "General")
        self.tabs.addTab(self._hotkeys_tab(), "Hotkeys")
        self.tabs.addTab(self._profiles_tab(), "Profiles")
        self.tabs.addTab(self._games_tab(), "Games")
        self.tabs.addTab(self._advanced_tab(), "Advanced")
        self.problems = QLabel()
        self.problems.setObjectName("settingsProblems")
        self.problems.setWordWrap(True)
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        self.saved_label = _line(f"Saved in {location}" if location else "")
        self.buttons = self._button_box()

        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.tabs)
        layout.addWidget(self.problems)
        layout.addWidget(self.saved_label)
        layout.addWidget(self.buttons)
        self.resize(760, 640)
        self.show_problem(problem)
        self.load(settings)
        self.cooldown.setFocus()  # the first field, so the keyboard lands somewhere useful

    # ------------------------------------------------------------------ public calls

    def load(self, settings: Settings) -> None:
        """Fill every field from ``settings`` (what is in effect, or the defaults)."""
        self._base = settings
        self._loading = True
        try:
            self._fill(settings)
        finally:
            self._loading = False
        self.revalidate()

    def _fill(self, settings: Settings) -> None:
        general, hotkeys = settings.general, settings.hotkeys
        self.cooldown.setValue(general.cooldown_s)
        self.start_at_login.setChecked(general.start_at_login)
        self.start_minimised.setChecked(general.start_minimised)
        self.notifications.setChecked(general.notifications)
        self.hotkeys_enabled.setChecked(hotkeys.enabled)
        self.enter_hotkey.setKeySequence(QKeySequence(hotkeys.enter_competitive))
        self.toggle_hotkey.setKeySequence(QKeySequence(hotkeys.toggle))
        for mode, fields in self.profile_fields.items():
            fields.load(getattr(settings.profiles, mode.value))
        self.autoswitch_enabled.setChecked(settings.autoswitch.enabled)
        self.games.setRowCount(0)
        for game in settings.autoswitch.games:
            self._add_game_row(game.name, game.path, game.cmdline)
        self.adjust_presets.setChecked(settings.gpu.adjust_presets)
        self.ingest_socket.setChecked(settings.advanced.ingest_socket)

    def show_problem(self, problem: str | None) -> None:
        """Say what was wrong with the settings file (None hides the notice)."""
        self.notice.setText(problem or "")
        self.notice.setVisible(bool(problem))

    def set_hotkey_status(self, text: str) -> None:
        """Say whether the global hotkeys work here, and if not what to bind instead."""
        self.hotkey_status.setText(text)

    def set_probe(
        self,
        probe: ProbeResult | None,
        no_gpu_reason: str | None,
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        """Show what the followed GPU allows and which actions the app goes without,
        with why (either may have changed since the window was made)."""
        self._probe, self._no_gpu_reason = probe, no_gpu_reason
        self._unavailable = unavailable
        self._refresh_actions()

    def candidate(self) -> Settings | None:
        """The settings the fields hold, validated; None while a field is refused."""
        self.revalidate()
        return self._candidate

    def apply(self) -> bool:
        """Validate, then ask the app to save and apply; returns whether it did."""
        settings = self.candidate()
        if settings is None:
            return False
        try:
            self._apply_settings(settings)
        except GearshiftError as error:
            self._show_problems([str(error)], [])
            return False
        self._applied = settings
        self._base = settings
        if self._location:
            self.saved_label.setText(f"Saved to {self._location}")
        self.applied.emit(settings)
        return True

    def restore_defaults(self) -> None:
        """Fill the fields with the defaults (kept settings the window does not show)."""
        defaults = Settings()
        keep = self._base.model_dump(include={"api", "metrics"})
        gpu = {**self._base.gpu.model_dump(), "adjust_presets": defaults.gpu.adjust_presets}
        self.load(Settings.model_validate({**defaults.model_dump(), **keep, "gpu": gpu}))

    def reject(self) -> None:
        """Cancel, Escape and closing: the fields go back to what is in effect."""
        self.load(self._applied)
        super().reject()

    # --------------------------------------------------------------------- the tabs

    def _general_tab(self, autostart_unavailable: str | None) -> QWidget:
        low, high = COOLDOWN_RANGE_S
        self.cooldown = RangeSpinBox(low, high, "s", decimals=1)
        self.cooldown.setObjectName("cooldown")
        self.cooldown_slider = QSlider(Qt.Orientation.Horizontal)
        self.cooldown_slider.setObjectName("cooldownSlider")
        self.cooldown_slider.setRange(int(low), int(high))
        self.cooldown.valueChanged.connect(self._cooldown_to_slider)
        self.cooldown_slider.valueChanged.connect(self._slider_to_cooldown)
        self.cooldown.lineEdit().textEdited.connect(self.revalidate)
        row = QHBoxLayout()
        row.addWidget(self.cooldown_slider, stretch=1)
        row.addWidget(self.cooldown)

        self.start_at_login = _checkbox("Start Gearshift when I log in", "startAtLogin")
        if autostart_unavailable:
            self.start_at_login.setEnabled(False)
            self.start_at_login.setToolTip(autostart_unavailable)
        self.start_minimised = _checkbox("Start minimised to the tray", "startMinimised")
        self.notifications = _checkbox(
            "Notify me of switches, rollbacks and automatic switches", "notifications"
        )
        for box in (self.start_at_login, self.start_minimised, self.notifications):
            box.toggled.connect(self.revalidate)

        form = QFormLayout()
        form.addRow("Cooldown", row)
        form.addRow(
            "",
            _line(
                f"Seconds between switches, {low:g} to {high:g}; a forced switch "
                "skips it. Takes effect as soon as it is applied."
            ),
        )
        form.addRow("", self.start_at_login)
        if autostart_unavailable:
            form.addRow("", _line(f"Start at login: {autostart_unavailable}"))
        form.addRow("", self.start_minimised)
        form.addRow(
            "",
            _line(
                "Only when a tray is there: without one, the window opens "
                "anyway, as it is then the only way in."
            ),
        )
        form.addRow("", self.notifications)
        return _page(form)

    def _hotkeys_tab(self) -> QWidget:
        self.hotkeys_enabled = _checkbox("Use global hotkeys", "hotkeysEnabled")
        self.hotkeys_enabled.toggled.connect(self.revalidate)
        self.enter_hotkey = self._key_edit("enterHotkey")
        self.toggle_hotkey = self._key_edit("toggleHotkey")
        self.hotkey_status = _line("")
        self.hotkey_status.setObjectName("hotkeyStatus")
        form = QFormLayout()
        form.addRow("", self.hotkeys_enabled)
        form.addRow("Enter Competitive", self.enter_hotkey)
        form.addRow("", _line("Pressed again in Competitive, it returns to Immersive."))
        form.addRow("Toggle", self.toggle_hotkey)
        form.addRow(
            "",
            _line(
                "Switches to the mode that is not active. Empty: off. Click a "
                "field and press the combination to record it."
            ),
        )
        form.addRow("", self.hotkey_status)
        return _page(form)

    def _key_edit(self, name: str) -> QKeySequenceEdit:
        edit = QKeySequenceEdit()
        edit.setObjectName(name)
        edit.setMaximumSequenceLength(1)
        edit.setClearButtonEnabled(True)
        edit.keySequenceChanged.connect(self.revalidate)
        return edit

    def _profiles_tab(self) -> QWidget:
        self.profile_fields = {
            mode: ProfileFields(mode, self.revalidate) for mode in PerformanceMode
        }
        row = QHBoxLayout()
        for fields in self.profile_fields.values():
            row.addWidget(fields.box)
        self.action_table = QTableWidget(0, 2 + len(PerformanceMode))
        self.action_table.setObjectName("actions")
        self.action_table.setHorizontalHeaderLabels(
            ["Action", *(mode.label for mode in PerformanceMode), "What it does, or why not"]
        )
        self.action_table.verticalHeader().setVisible(False)
        header = self.action_table.horizontalHeader()
        for column in range(self.action_table.columnCount() - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        # The reasons wrap: rows grow to fit whenever the reason column's width changes.
        header.sectionResized.connect(lambda *_: self.action_table.resizeRowsToContents())
        self.action_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.action_table.setWordWrap(True)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addLayout(row)
        layout.addWidget(self.action_table, stretch=1)
        layout.addWidget(
            _line(
                "Targets and presets take effect at the next start. A greyed-out action "
                "is not applied here; hover it for why."
            )
        )
        return page

    def _games_tab(self) -> QWidget:
        self.autoswitch_enabled = _checkbox(
            "Switch to Competitive while a listed game runs", "autoswitchEnabled"
        )
        self.autoswitch_enabled.toggled.connect(self.revalidate)
        self.games = QTableWidget(0, 3)
        self.games.setObjectName("games")
        self.games.setHorizontalHeaderLabels(
            ["Executable name", "Path (optional)", "Command line contains (optional)"]
        )
        self.games.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.games.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.games.itemChanged.connect(self.revalidate)
        self.add_game = QPushButton("Add game")
        self.add_game.setObjectName("addGame")
        self.add_game.clicked.connect(self._on_add_game)
        self.remove_game = QPushButton("Remove")
        self.remove_game.setObjectName("removeGame")
        self.remove_game.clicked.connect(self._on_remove_games)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_game)
        buttons.addWidget(self.remove_game)
        buttons.addStretch(1)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(self.autoswitch_enabled)
        layout.addWidget(self.games)
        layout.addLayout(buttons)
        layout.addWidget(
            _line(
                "The name as the system lists the process (cs2, or cs2.exe on "
                "Windows). A path or a piece of the command line narrows it "
                "down. When the last listed game exits, the mode before it "
                "comes back."
            )
        )
        return page

    def _advanced_tab(self) -> QWidget:
        self.adjust_presets = _checkbox("Adjust presets while playing", "adjustPresets")
        self.ingest_socket = _checkbox("Engine ingest socket", "ingestSocket")
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(
            _line("Features that are still maturing; turn one off if it gets in the way.")
        )
        layout.addWidget(self.adjust_presets)
        layout.addWidget(
            _line(
                "Lets the measured frame rate move the active mode's preset up "
                "when there is room and down when frames miss the budget "
                "([gpu] adjust_presets). Takes effect at the next start."
            )
        )
        layout.addWidget(self.ingest_socket)
        layout.addWidget(
            _line(
                "Lets a game engine send its own frame times to a local socket "
                "on this machine ([advanced] ingest_socket). Takes effect at once."
            )
        )
        layout.addStretch(1)
        for box in (self.adjust_presets, self.ingest_socket):
            box.toggled.connect(self.revalidate)
        return page

    def _button_box(self) -> QDialogButtonBox:
        standard = QDialogButtonBox.StandardButton
        box = QDialogButtonBox(
            standard.RestoreDefaults | standard.Cancel | standard.Apply | standard.Ok
        )
        box.button(standard.RestoreDefaults).clicked.connect(self.restore_defaults)
        box.button(standard.Apply).clicked.connect(self.apply)
        box.button(standard.Ok).clicked.connect(self._on_ok)
        box.button(standard.Cancel).clicked.connect(self.reject)
        return box

    # ------------------------------------------------------------------ validation

    def revalidate(self, *_: object) -> None:
        """Check every field as it stands; refusals turn Apply and OK off."""
        if self._loading:
            return
        errors = self._typed_refusals()
        issues = hotkey_issues(*self._hotkey_texts())
        errors += [issue.message for issue in issues if issue.refused]
        warnings = [issue.message for issue in issues if not issue.refused]
        self._candidate = None
        if not errors:
            try:
                self._candidate = Settings.model_validate(self._document())
            except ValidationError as error:
                errors = [
                    f"{_label_of(where)}: {_plain(what)}"
                    for where, what in validation_messages(error)
                ]
        self._refresh_actions()
        self._show_problems(errors, warnings)

    def _typed_refusals(self) -> list[str]:
        boxes: list[tuple[RangeSpinBox, str]] = [(self.cooldown, "Cooldown")]
        for mode, fields in self.profile_fields.items():
            boxes += [
                (fields.fps_min, f"{mode.label} FPS floor"),
                (fields.fps_max, f"{mode.label} FPS ceiling"),
            ]
        return [text for box, label in boxes if (text := box.refusal(label))]

    def _hotkey_texts(self) -> tuple[str, str]:
        portable = QKeySequence.SequenceFormat.PortableText
        return (
            self.enter_hotkey.keySequence().toString(portable),
            self.toggle_hotkey.keySequence().toString(portable),
        )

    def _document(self) -> dict[str, Any]:
        """The settings as the fields hold them, over what the window does not show."""
        document = self._base.model_dump()
        enter, toggle = self._hotkey_texts()
        document["general"].update(
            cooldown_s=self.cooldown.value(),
            start_at_login=self.start_at_login.isChecked(),
            start_minimised=self.start_minimised.isChecked(),
            notifications=self.notifications.isChecked(),
        )
        document["hotkeys"].update(
            enabled=self.hotkeys_enabled.isChecked(), enter_competitive=enter, toggle=toggle
        )
        document["profiles"] = {m.value: f.values() for m, f in self.profile_fields.items()}
        document["autoswitch"].update(
            enabled=self.autoswitch_enabled.isChecked(), games=tuple(self._game_rows())
        )
        document["gpu"]["adjust_presets"] = self.adjust_presets.isChecked()
        document["advanced"]["ingest_socket"] = self.ingest_socket.isChecked()
        return document

    def _show_problems(self, errors: Sequence[str], warnings: Sequence[str]) -> None:
        self.errors, self.warnings = list(errors), list(warnings)
        lines = [f"<span style='color:{ERROR_COLOUR}'>{_html(e)}</span>" for e in errors]
        lines += [f"<span style='color:{WARNING_COLOUR}'>{_html(w)}</span>" for w in warnings]
        self.problems.setText("<br>".join(lines))
        self.problems.setVisible(bool(lines))
        standard = QDialogButtonBox.StandardButton
        for button in (standard.Apply, standard.Ok):
            self.buttons.button(button).setEnabled(self._candidate is not None)

    def _refresh_actions(self) -> None:
        for fields in self.profile_fields.values():
            fields.show_budget()
        profiles = mode_profiles(self._candidate or self._base)
        rows = action_rows(
            profiles, self._probe, self._no_gpu_reason, unavailable=self._unavailable
        )
        self.action_table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            for column, text in enumerate((row.label, *row.values, row.why)):
                item = QTableWidgetItem(text)
                item.setToolTip(row.why)
                if not row.available:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                self.action_table.setItem(index, column, item)
        self.action_table.resizeRowsToContents()

    # -------------------------------------------------------------------- handlers

    def _cooldown_to_slider(self, value: float) -> None:
        self.cooldown_slider.blockSignals(True)
        self.cooldown_slider.setValue(round(value))
        self.cooldown_slider.blockSignals(False)
        self.revalidate()

    def _slider_to_cooldown(self, value: int) -> None:
        if round(self.cooldown.value()) != value:
            self.cooldown.setValue(float(value))

    def _on_ok(self) -> None:
        if self.apply():
            self.hide()

    def _on_add_game(self) -> None:
        row = self._add_game_row("", "", "")
        self.games.setCurrentCell(row, 0)
        item = self.games.item(row, 0)
        if item is not None:
            self.games.editItem(item)

    def _on_remove_games(self) -> None:
        rows = sorted({index.row() for index in self.games.selectedIndexes()}, reverse=True)
        for row in rows:
            self.games.removeRow(row)
        self.revalidate()

    def _add_game_row(self, name: str, path: str, cmdline: str) -> int:
        row = self.games.rowCount()
        self.games.blockSignals(True)
        self.games.insertRow(row)
        for column, text in enumerate((name, path, cmdline)):
            self.games.setItem(row, column, QTableWidgetItem(text))
        self.games.blockSignals(False)
        self.revalidate()
        return row

    def _game_rows(self) -> list[dict[str, str]]:
        rows = []
        for row in range(self.games.rowCount()):
            texts = []
            for column in range(3):
                item = self.games.item(row, column)
                texts.append("" if item is None else item.text().strip())
            rows.append(dict(zip(("name", "path", "cmdline"), texts, strict=True)))
        return rows


class ProfileFields:
    """One mode's target, budget, preset and actions, in a group box of its colour."""

    def __init__(self, mode: PerformanceMode, changed: Callable[[], None]) -> None:
        self.mode = mode
        self.box = QGroupBox(mode.label)
        self.box.setObjectName(f"profile-{mode.value}")
        self.box.setStyleSheet(
            f"QGroupBox {{ color: {MODE_COLOURS[mode].name()}; font-weight: 600 }}"
        )
        self.fps_min = RangeSpinBox(*FPS_FLOOR_RANGE, "FPS")
        self.fps_max = RangeSpinBox(0.0, FPS_CEILING_MAX, "FPS")
        self.fps_max.setSpecialValueText("none")
        self.budget = QLabel()
        self.preset = QComboBox()
        for preset in Preset:
            self.preset.addItem(preset.label, preset.value)
        for box in (self.fps_min, self.fps_max):
            box.valueChanged.connect(lambda _value: changed())
            box.lineEdit().textEdited.connect(lambda _text: changed())
        self.preset.currentIndexChanged.connect(lambda _index: changed())

        form = QFormLayout()
        form.addRow("FPS floor", self.fps_min)
        form.addRow("FPS ceiling", self.fps_max)
        form.addRow("Frame budget", self.budget)
        form.addRow("Preset", self.preset)
        form.addRow(
            _line(
                "The preset when no GPU suggests one; the card and the measured "
                "frame rate refine it while the app runs."
            )
        )
        QVBoxLayout(self.box).addLayout(form)

    def load(self, profile: ProfileSettings) -> None:
        """Fill from the mode's settings."""
        self.fps_min.setValue(profile.fps_min)
        self.fps_max.setValue(profile.fps_max)
        self.preset.setCurrentIndex(self.preset.findData(profile.preset))

    def values(self) -> dict[str, Any]:
        """The fields as a ProfileSettings document."""
        return {
            "fps_min": self.fps_min.value(),
            "fps_max": self.fps_max.value(),
            "preset": self.preset.currentData(),
        }

    def show_budget(self) -> None:
        """The frame budget the typed floor gives (N/A while it is not a number)."""
        floor = self.fps_min.typed_number()
        self.budget.setText(f"{1000.0 / floor:.2f} ms" if floor else "N/A")


_LABELS = {
    "general.cooldown_s": "Cooldown",
    "hotkeys": "Hotkeys",
    "profiles.immersive": "Immersive",
    "profiles.competitive": "Competitive",
    "autoswitch.games": "Games",
}


def _label_of(where: str) -> str:
    """A setting's path ("autoswitch.games.1.name") in the window's words."""
    parts = where.split(".")
    if parts[:2] == ["autoswitch", "games"] and len(parts) >= 3 and parts[2].isdigit():
        field = {"name": "name", "path": "path", "cmdline": "command line"}.get(parts[-1], "")
        return f"Game {int(parts[2]) + 1} {field}".strip()
    for prefix, label in _LABELS.items():
        if where == prefix or where.startswith(prefix + "."):
            return label
    return where


def _plain(message: str) -> str:
    """pydantic's wording, where it reads oddly in the window."""
    if message == "String should have at least 1 character":
        return "must not be empty"
    return message


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _page(form: QFormLayout) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addLayout(form)
    layout.addStretch(1)
    return page
