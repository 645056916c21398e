"""The tray app: builds the Qt side around the core and runs it on qasync's loop."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from qasync import QEventLoop, asyncSlot

from gearshift.config import (
    GpuSettings,
    Settings,
    SettingsError,
    SettingsStore,
    load_settings,
    mode_profiles,
    set_aside,
)
from gearshift.control.exitcodes import ExitCode
from gearshift.control.protocol import SubsystemHealth
from gearshift.control.runtime import ControlPlane
from gearshift.core.autoswitch import AutoSwitched, ModeReason
from gearshift.core.budget import BudgetStats
from gearshift.core.errors import CaptureError, GearshiftError, ModeTransitionError, StepFailure
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager, SwitchOutcome, SwitchResult
from gearshift.core.modes import PerformanceMode
from gearshift.core.presets import PresetChanged
from gearshift.frames.live import LiveSources, live_sources
from gearshift.frames.registry import read_capture
from gearshift.frames.sources import DemoSource, FrameSource, NoSource, ReplaySource
from gearshift.gpu.fake import backend_from_env
from gearshift.gpu.model import TelemetryUpdated
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.presets import PresetAdvisor
from gearshift.gpu.probe import ProbeResult
from gearshift.gpu.service import GpuService
from gearshift.gpu.telemetry import GpuTelemetry
from gearshift.system.builders import SystemContext, system_action_builders, system_restorers
from gearshift.system.desktop import DesktopBuses
from gearshift.system.journal import FileJournal
from gearshift.system.sysfs import system_paths
from gearshift.ui.autostart import Autostart, AutostartError, NoAutostart, autostart_for_platform
from gearshift.ui.controller import AppController
from gearshift.ui.dialogs import RollbackDialog, recent_log_lines, wait_closed
from gearshift.ui.settings_window import SettingsWindow
from gearshift.ui.single_instance import SingleInstance
from gearshift.ui.system_side import SystemServices
from gearshift.ui.tray import TrayIcon
from gearshift.ui.window import MainWindow
from gearshift.ui.xio import exit_through

_log = logging.getLogger(__name__)

LOST_DISPLAY_UNDO_S = 15.0
"""How long the undo may take once the X server is gone, in seconds."""

NO_TRAY_HINT = (
    "No system tray here, so this window is Gearshift's way in, and closing it quits. "
    "On GNOME, the AppIndicator and KStatusNotifierItem Support extension adds a tray; "
    "the icon appears as soon as there is one."
)
TRAY_WATCH_MS = 2000
"""How often to look for a tray that appeared or went away, in milliseconds."""

NO_DISPLAY_ADVICE = (
    "so the tray app cannot start; headless, use 'gearshift analyze FILE' (see 'gearshift --help')"
)


class GearshiftApp(QObject):
    """Connects the controller's signals to the tray, the window and the dialogs.

    Args:
        controller: the core, running inside Qt.
        tray_available: whether a system tray is there at start.
        control: the control API and metrics, or None.
        settings: the settings in effect (in memory only when None).
        autostart: how start at login is done here (unavailable when None).
        tray_probe: asked every few seconds whether a tray is there, so an icon appears
            when a tray does and the window comes back when the tray goes; None
            watches nothing.
    """

    def __init__(
        self,
        controller: AppController,
        tray_available: bool,
        control: ControlPlane | None = None,
        *,
        settings: SettingsStore | None = None,
        autostart: Autostart | None = None,
        tray_probe: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__()
        self.controller = controller
        self.control = control
        self.settings = settings or SettingsStore.in_memory()
        self.autostart = autostart or NoAutostart("not set up in this run")
        self.window = MainWindow(controller.source.label)
        self.tray: TrayIcon | None = None
        self.settings_window: SettingsWindow | None = None
        self.hotkey_status = ""
        self._announced_start = False
        self.dialogs: list[RollbackDialog] = []
        self._dialog_tasks: set[asyncio.Future[None]] = set()
        self._quit = asyncio.Event()
        self._quitting = False

        controller.mode_changed.connect(self._show_mode)
        controller.stats_updated.connect(self._show_stats)
        controller.switch_failed.connect(self._show_rollback)
        controller.recovered.connect(
            lambda report: self.notify(
                "Gearshift restored the machine",
                report.describe(),
                warning=bool(report.failed or report.corrupt),
            )
        )
        controller.switch_refused.connect(self._show_refusal)
        controller.gpu_updated.connect(self._show_gpu)
        controller.preset_changed.connect(self._show_preset)
        controller.mode_changed.connect(self._announce_switch)
        controller.hotkeys.status_changed.connect(self._on_hotkey_status)
        controller.autoswitch.reason_changed.connect(self._show_reason)
        controller.autoswitch.auto_switched.connect(self._show_auto_switch)
        self._reason: ModeReason | None = None
        self.window.toggle_requested.connect(self.toggle)
        self.window.close_requested.connect(self._on_window_closed)
        self.window.settings_requested.connect(self.open_settings)
        if tray_available:
            self._attach_tray()
        self._tray_probe = tray_probe
        self._tray_watch = QTimer(self)
        self._tray_watch.setInterval(TRAY_WATCH_MS)
        self._tray_watch.timeout.connect(self._watch_tray)
        self.controller.manager.cooldown_s = self.settings.settings.general.cooldown_s
        self._unsubscribe_settings = self.settings.subscribe(self._on_settings_changed)
        self._show_notices()

    async def run(self) -> int:
        """Start the core, show the UI and run until quit; returns the exit status."""
        await self.controller.start()
        self._show_tuning_tools()
        self.controller.start_player_controls(self.settings.settings)
        if self.control is not None:
            self.control.service.add_health_check("tray", self._tray_health)
            self.control.service.add_health_check("hotkey", self.controller.hotkeys.health)
            self.control.service.add_health_check("autoswitch", self.controller.autoswitch.health)
            await self.control.start()
        if self.tray is not None:
            self.tray.show()
        else:
            _log.warning("no system tray on this desktop: showing the window instead")
        if self._tray_probe is not None:
            self._tray_watch.start()
        if self.tray is not None and self.settings.settings.general.start_minimised:
            _log.info("started minimised to the tray")
        else:
            self.show_window()
        await self._quit.wait()
        return ExitCode.OK

    def show_window(self) -> None:
        """Bring the window up and to the front."""
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
        self.window.show_source(self.controller.source.status())
        gpu = self.controller.gpu
        if gpu is not None:  # what arrived while the window was hidden
            self.window.show_gpu(gpu.latest, gpu.history())

    @asyncSlot()
    async def toggle(self) -> None:
        """Switch to the mode that is not active."""
        await self.controller.toggle()

    @asyncSlot(object)
    async def request_mode(self, mode: PerformanceMode) -> None:
        """Switch to ``mode``."""
        await self.controller.request_mode(mode)

    @asyncSlot()
    async def quit(self) -> None:
        """Qt slot for shutdown()."""
        await self.shutdown()

    @property
    def quitting(self) -> bool:
        """Whether shutdown() was asked for (else the Qt loop ended under the app)."""
        return self._quitting

    async def shutdown(self) -> None:
        """Revert the active mode, stop every task, then let run() return."""
        self._quitting = True
        _log.info("quitting")
        if self.control is not None:
            await self.control.stop()
        await self.controller.stop()
        for dialog in list(self.dialogs):
            dialog.reject()  # emits finished, which ends its waiting task
        self._tray_watch.stop()
        self._unsubscribe_settings()
        if self.settings_window is not None:
            self.settings_window.hide()
        if self.tray is not None:
            self.tray.hide()
        self.window.hide()
        self._quit.set()

    def open_settings(self) -> None:
        """Open the settings window (or bring it forward), filled with what is in effect."""
        window = self.settings_window
        probe, no_gpu_reason = self._gpu_capabilities()
        unavailable = self._unavailable_actions()
        if window is None:
            window = self.settings_window = SettingsWindow(
                self.settings.settings,
                self.apply_settings,
                problem=self.settings.problem,
                location=str(self.settings.path) if self.settings.persist else "",
                probe=probe,
                no_gpu_reason=no_gpu_reason,
                autostart_unavailable=self.autostart.unavailable,
                unavailable=unavailable,
            )
            window.set_hotkey_status(self.hotkey_status)
        elif not window.isVisible():
            window.load(self.settings.settings)
        window.set_probe(probe, no_gpu_reason, unavailable)
        window.show()
        window.raise_()
        window.activateWindow()

    def apply_settings(self, new: Settings) -> None:
        """Put ``new`` in effect as one change: autostart, then one save, then the rest.

        Raises:
            GearshiftError: the autostart entry or the file could not be written;
                nothing changed (an autostart entry already written is taken back).
        """
        old = self.settings.settings
        login_changed = new.general.start_at_login != old.general.start_at_login
        if login_changed:
            self.autostart.set_enabled(new.general.start_at_login)
        try:
            self.settings.save(new)
        except SettingsError:
            if login_changed:
                try:
                    self.autostart.set_enabled(old.general.start_at_login)
                except AutostartError as error:
                    _log.error("could not take back the autostart change: %s", error)
            raise

    def show_hotkey_status(self, text: str) -> None:
        """Say in the settings window whether the global hotkeys work here."""
        self.hotkey_status = text
        if self.settings_window is not None:
            self.settings_window.set_hotkey_status(text)

    def notify(self, title: str, message: str, warning: bool = False) -> None:
        """A tray notification, unless the player turned notifications off."""
        if self.tray is not None and self.settings.settings.general.notifications:
            self.tray.notify(title, message, warning)

    def _on_settings_changed(self, old: Settings, new: Settings) -> None:
        cooldown_s = new.general.cooldown_s
        if cooldown_s != old.general.cooldown_s:
            self.controller.manager.cooldown_s = cooldown_s
            _log.info("cooldown now %g s", cooldown_s)
        self.controller.apply_player_controls(old, new)

    def _unavailable_actions(self) -> dict[str, str] | None:
        """Every action the modes would go without now, with why (None: not known)."""
        manager = self.controller.manager
        try:
            return {
                kind: reason
                for mode in PerformanceMode
                for kind, reason in manager.unavailable(mode).items()
            }
        except GearshiftError as error:  # a profile's values are refused: said on switching
            _log.info("cannot tell which actions apply here: %s", error)
            return None

    def _show_tuning_tools(self) -> None:
        system = self.controller.system
        tools = None if system is None else system.tools
        if system is None or tools is None:
            return
        self.window.show_controls(tools.summary(), system.describe())

    def _gpu_capabilities(self) -> tuple[ProbeResult | None, str | None]:
        gpu = self.controller.gpu
        if gpu is None:
            return None, "GPU telemetry is not running"
        latest = gpu.latest
        if not latest.available or gpu.telemetry is None:
            return None, latest.reason
        probe = None if latest.followed is None else gpu.telemetry.probes.get(latest.followed)
        return probe, None if probe is not None else "the GPU has not been probed yet"

    def _attach_tray(self) -> None:
        tray = self.tray = TrayIcon()
        tray.toggle_requested.connect(self.toggle)
        tray.mode_requested.connect(self.request_mode)
        tray.show_window_requested.connect(self.show_window)
        tray.settings_requested.connect(self.open_settings)
        tray.quit_requested.connect(self.quit)
        tray.show_mode(self.controller.mode)
        if self._reason is not None:
            tray.show_reason(self._reason.mode, self._reason.why)

    def _watch_tray(self) -> None:
        """A tray that appears gets the icon; one that goes leaves the window showing."""
        assert self._tray_probe is not None
        available = self._tray_probe()
        if available and self.tray is None:
            _log.info("a system tray appeared: the icon is in it now")
            self._attach_tray()
            assert self.tray is not None
            self.tray.show()
            self._show_notices()
        elif not available and self.tray is not None and not self.window.isVisible():
            _log.warning("the system tray went away: showing the window")
            self.show_window()

    def _show_notices(self) -> None:
        notices = [] if self.tray is not None else [NO_TRAY_HINT]
        if self.settings.problem:
            notices.append(f"{self.settings.problem[:1].upper()}{self.settings.problem[1:]}.")
        self.window.show_notices(notices)

    def _announce_switch(self, mode: PerformanceMode) -> None:
        if not self._announced_start:  # the mode the app started in, not a switch
            self._announced_start = True
            return
        if self.controller.autoswitch.switching:
            return  # _show_auto_switch says it, with the reason
        self.notify("Gearshift", f"Switched to {mode.label}")

    def _on_hotkey_status(self) -> None:
        self.show_hotkey_status(self.controller.hotkeys.status)

    def _show_reason(self, reason: ModeReason) -> None:
        self._reason = reason
        if self.tray is not None:
            self.tray.show_reason(reason.mode, reason.why)

    def _show_auto_switch(self, event: AutoSwitched) -> None:
        text = f"{event.mode.label}: {event.why}"
        self.window.statusBar().showMessage(text, 5000)
        self.notify("Gearshift", text)

    def _tray_health(self) -> SubsystemHealth:
        if self.tray is None:
            return SubsystemHealth(
                state="unavailable",
                reason="no system tray on this desktop: the window is the way in (on GNOME, "
                "the AppIndicator extension adds a tray)",
            )
        if not self.tray.icon.isVisible():
            return SubsystemHealth(state="degraded", reason="the tray icon is hidden")
        return SubsystemHealth(state="ok")

    def _show_mode(self, mode: PerformanceMode) -> None:
        gpu = self.controller.gpu
        preset = None if gpu is None else gpu.preset(mode).value
        self.window.show_mode(self.controller.manager.profile_of(mode), preset)
        if self.tray is not None:
            self.tray.show_mode(mode)
        self.window.statusBar().showMessage(f"{mode.label} mode active", 4000)

    def _window_drawn(self) -> bool:
        """Whether the window is on screen: hidden to the tray or minimised, its graphs
        are not drawn at all (they catch up at the next snapshot once shown)."""
        return self.window.isVisible() and not self.window.isMinimized()

    def _show_stats(self, stats: BudgetStats) -> None:
        if self._window_drawn():
            self.window.show_stats(stats)
            self.window.show_source(self.controller.source.status())
        if self.tray is not None:
            self.tray.show_stats(stats)

    def _show_gpu(self, update: TelemetryUpdated) -> None:
        if self._window_drawn():
            self.window.show_gpu(update.telemetry, update.history)

    def _show_preset(self, change: PresetChanged) -> None:
        if change.mode is self.controller.mode:
            self._show_mode(change.mode)
            self.window.target_label.setToolTip(change.why)

    def _show_refusal(self, result: SwitchResult) -> None:
        self.window.statusBar().showMessage(result.describe(), 5000)
        if result.outcome is not SwitchOutcome.ALREADY_ACTIVE:
            self.notify("Gearshift", result.describe())

    def _show_rollback(self, error: ModeTransitionError) -> None:
        self.notify(f"Switch to {error.target} rolled back", str(error), warning=True)
        dialog = RollbackDialog(
            error, self.window if self.window.isVisible() else None, recent_log_lines()
        )
        self.dialogs.append(dialog)
        task = asyncio.ensure_future(self._keep_until_closed(dialog))
        self._dialog_tasks.add(task)
        task.add_done_callback(self._dialog_tasks.discard)

    async def _keep_until_closed(self, dialog: RollbackDialog) -> None:
        result = await wait_closed(dialog)
        self.dialogs.remove(dialog)
        dialog.deleteLater()
        if result == RollbackDialog.RETRY and not self._quitting:
            target = PerformanceMode.parse(dialog.error.target)
            await self.controller.request_mode(target, force=True)

    def _on_window_closed(self) -> None:
        if self.tray is not None and self.tray.icon.isVisible():
            self.window.hide()
        else:
            self.quit()


def display_problem() -> str | None:
    """Why no window can be shown here, in words, or None when one can.

    Qt aborts the whole process when its platform plugin cannot connect, so this asks
    first. Only Linux is checked; Wayland and an explicit QT_QPA_PLATFORM are trusted.
    """
    if not sys.platform.startswith("linux"):
        return None
    if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    display = os.environ.get("DISPLAY")
    if not display:
        return "no display found (DISPLAY and WAYLAND_DISPLAY are unset)"
    if not x_server_answers(display):
        return f"no X server answers on DISPLAY={display}"
    return None


def x_server_answers(display: str, timeout_s: float = 1.0) -> bool:
    """Whether an X server accepts connections for ``display`` (":0", "host:1.0").

    A display name this does not understand counts as answering, and Qt decides.
    """
    host, _, rest = display.rpartition(":")
    number = rest.split(".", 1)[0]
    if not number.isdigit():
        return True

    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        addresses: list[tuple[int, str | tuple[str, int]]] = [
            (socket.AF_UNIX, path),
            (socket.AF_UNIX, "\0" + path),  # the abstract socket many servers also open
        ]
    else:
        addresses = [(socket.AF_INET, (host, 6000 + int(number)))]

    for family, address in addresses:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout_s)
            try:
                probe.connect(address)
            except OSError:
                continue
            return True
    return False


def make_source(args: argparse.Namespace) -> FrameSource:
    """The frame source the command line asked for: a demo, a replay, or else every live
    source at once (``--follow`` adds a file or pipe to them).

    Raises:
        CaptureError: the replay's file cannot be read.
        ValueError: $GEARSHIFT_INGEST_SOCKET names no usable address.
    """
    if args.demo:
        return DemoSource()
    if args.replay:
        capture = read_capture(args.replay)
        frames = capture.select(None)
        label = f"replay of {Path(args.replay).name} ({frames.name}, {capture.format})"
        return ReplaySource(label, frames.frame_times_ms, frames.row_durations_ms)
    return live_sources(follow=getattr(args, "follow", None))


def follow_ingest_setting(source: FrameSource, settings: SettingsStore) -> None:
    """Turn a live source's ingest socket on or off as ``advanced.ingest_socket`` says,
    now and whenever the settings change."""
    if not isinstance(source, LiveSources):
        return
    source.enable("ingest", settings.settings.advanced.ingest_socket)
    settings.subscribe(lambda _old, new: source.enable("ingest", new.advanced.ingest_socket))


def run_app(args: argparse.Namespace) -> int:
    """Run the tray app until the player quits; returns the exit status."""
    problem = display_problem()
    if problem is not None:
        print(f"gearshift: {problem}, {NO_DISPLAY_ADVICE}", file=sys.stderr)
        return ExitCode.NO_DISPLAY
    try:
        source = make_source(args)
    except CaptureError as error:
        print(f"gearshift: {error}", file=sys.stderr)
        return ExitCode.CAPTURE_UNREADABLE
    except ValueError as error:
        print(f"gearshift: {error}", file=sys.stderr)
        return ExitCode.USAGE

    existing = QApplication.instance()
    # argv[0] names the windows' WM_CLASS; under `python -m` it would be "__main__.py".
    app = existing if isinstance(existing, QApplication) else QApplication(["gearshift"])
    app.setApplicationName("Gearshift")
    app.setDesktopFileName("gearshift")
    app.setQuitOnLastWindowClosed(False)
    instance = SingleInstance()
    if not instance.claim():
        ignored = " (--replay, --demo and --follow apply only to a new start: quit it first)"
        chosen = args.replay or args.demo or getattr(args, "follow", None)
        print(
            f"gearshift: already running; showed its window{ignored if chosen else ''}",
            file=sys.stderr,
        )
        return ExitCode.OK

    settings = load_app_settings()
    follow_ingest_setting(source, settings)
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    made: list[AppController] = []  # the game's pids come from its automatic switching
    scripts = settings.settings.scripts
    services = SystemServices(
        DesktopBuses.from_environ(os.environ),
        gpu_backend=(lambda: gpu_backend(os.environ)) if settings.settings.gpu.enabled else None,
    )
    system = SystemContext(
        paths=system_paths(os.environ),
        pids=lambda: [game.pid for game in made[0].autoswitch.games] if made else [],
        enter_scripts=scripts.enter,
        leave_scripts=scripts.leave,
        script_timeout_s=scripts.timeout_s,
        owner=services.owner_label,
    )
    controller = AppController(
        source,
        gpu=gpu_factory(settings.settings.gpu),
        profiles=mode_profiles(settings.settings),
        system_builders={**system_action_builders(system), **services.builders()},
        journal=FileJournal(),
        restorers={**system_restorers(system), **services.restorers()},
        system=services,
    )
    made.append(controller)
    control = ControlPlane(
        settings.settings,
        controller.manager,
        controller.events,
        controller.monitor,
        controller.frame_histogram,
        source_label=source.label,
        has_source=not isinstance(source, NoSource),
        source_status=source.status,
        gpu=controller.gpu,
        tuning_tools=lambda: services.tools,
    )
    gearshift = GearshiftApp(
        controller,
        QSystemTrayIcon.isSystemTrayAvailable(),
        control,
        settings=settings,
        autostart=autostart_for_platform(),
        tray_probe=QSystemTrayIcon.isSystemTrayAvailable,
    )
    instance.woken.connect(gearshift.show_window)
    wake_timer = _quit_on_signals(gearshift)
    exit_through(app, lambda: _undo_after_losing_qt(gearshift))
    try:
        with loop:
            return int(loop.run_until_complete(gearshift.run()))
    except RuntimeError:
        if gearshift.quitting:
            raise
        return _undo_after_losing_qt(gearshift)
    finally:
        wake_timer.stop()
        instance.release()


def load_app_settings() -> SettingsStore:
    """The settings for this run; an unusable file is moved aside and reported.

    When it cannot be moved aside, the settings window's changes are kept in memory
    only, so the file is never overwritten before the player has looked at it.
    """
    loaded = load_settings()
    try:
        loaded = set_aside(loaded)
    except SettingsError as error:
        print(f"gearshift: {error}", file=sys.stderr)
        problem = f"{error}; until then, changes in the settings window last until Gearshift quits"
        return SettingsStore(loaded, persist=False, problem=problem)
    if loaded.problem is not None:
        print(f"gearshift: {loaded.problem}", file=sys.stderr)
    if loaded.migrated_from is not None:
        _log.info("settings file %s is from version %d", loaded.path, loaded.migrated_from)
    return SettingsStore(loaded)


def gpu_factory(settings: GpuSettings) -> Callable[[ModeManager, EventBus], GpuService]:
    """Makes the app's GPU side from the settings ($GEARSHIFT_FAKE_GPU picks a fake card).

    A $GEARSHIFT_FAKE_GPU that names no model is reported, and the real library is used.
    """

    def make(manager: ModeManager, events: EventBus) -> GpuService:
        advisor = PresetAdvisor(time.monotonic, manager.profiles)
        if not settings.enabled:
            return GpuService(
                None, manager, events, advisor, adjust_presets=settings.adjust_presets
            )
        backend = gpu_backend(os.environ, report=True)
        telemetry = GpuTelemetry(backend, interval_s=1.0 / settings.sample_hz, pin=settings.pin)
        return GpuService(
            telemetry, manager, events, advisor, adjust_presets=settings.adjust_presets
        )

    return make


def gpu_backend(environ: Mapping[str, str], *, report: bool = False) -> NvmlBackend:
    """The NVML backend $GEARSHIFT_FAKE_GPU picks (a fake card), else the real library;
    a variable that names no model is printed when ``report`` is set."""
    try:
        return backend_from_env(environ)
    except ValueError as error:
        if report:
            print(f"gearshift: {error}; using the real NVIDIA library", file=sys.stderr)
        return NvmlBackend()


def _undo_after_losing_qt(gearshift: GearshiftApp) -> int:
    """The X server went away under Qt: undo the mode anyway, without Qt.

    This runs after Qt's loop ended, or from inside Xlib while the loop is stuck (see
    ``gearshift.ui.xio``). The mode manager needs no Qt, so its undo runs on a plain
    asyncio loop of its own thread; the frame tasks die with the Qt loop they were on.
    """
    logging.getLogger("qasync").setLevel(logging.CRITICAL)  # the dead loop's task noise
    if gearshift.control is not None:
        gearshift.control.abandon()
    outcome: list[str] = []

    async def stop() -> list[StepFailure]:
        failures = await gearshift.controller.manager.stop()
        if gearshift.controller.system is not None:
            await gearshift.controller.system.close()  # bounded; its buses died with Qt's loop
        return failures

    def undo() -> None:
        try:
            failures = asyncio.run(stop())
        except Exception as error:  # a switch was cut off halfway, say; report it
            outcome.append(f"could not undo {gearshift.controller.mode.label} mode ({error})")
            return
        undone = f"undid {gearshift.controller.mode.label} mode's changes"
        left = f"; could not undo {', '.join(f.step for f in failures)}" if failures else ""
        outcome.append(undone + left)

    worker = threading.Thread(target=undo, name="gearshift-undo", daemon=True)
    worker.start()
    worker.join(LOST_DISPLAY_UNDO_S)
    done = outcome[0] if outcome else f"the undo did not finish in {LOST_DISPLAY_UNDO_S:g} s"
    print(f"gearshift: the display connection was lost; {done}; quit", file=sys.stderr)
    return ExitCode.FAILED


def _quit_on_signals(gearshift: GearshiftApp) -> QTimer:
    """SIGINT and SIGTERM quit cleanly (reverting the mode) instead of killing the app.

    Python runs signal handlers only between bytecodes, and Qt's loop is C++: a timer
    that fires a few times a second gives Python the chance.
    """
    loop = asyncio.get_event_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: loop.call_soon_threadsafe(gearshift.quit))
    timer = QTimer()
    timer.timeout.connect(lambda: None)
    timer.start(250)
    return timer
