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
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from qasync import QEventLoop, asyncSlot

from gearshift.config import GpuSettings, load_settings
from gearshift.control.exitcodes import ExitCode
from gearshift.control.protocol import SubsystemHealth
from gearshift.control.runtime import ControlPlane
from gearshift.core.budget import BudgetStats
from gearshift.core.errors import CaptureError, ModeTransitionError
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager, SwitchOutcome, SwitchResult
from gearshift.core.modes import PerformanceMode
from gearshift.core.presets import PresetChanged
from gearshift.frames.registry import read_capture
from gearshift.frames.sources import DemoSource, FrameSource, NoSource, ReplaySource
from gearshift.gpu.fake import backend_from_env
from gearshift.gpu.model import TelemetryUpdated
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.presets import PresetAdvisor
from gearshift.gpu.service import GpuService
from gearshift.gpu.telemetry import GpuTelemetry
from gearshift.ui.controller import AppController
from gearshift.ui.dialogs import RollbackDialog, wait_closed
from gearshift.ui.single_instance import SingleInstance
from gearshift.ui.tray import TrayIcon
from gearshift.ui.window import MainWindow
from gearshift.ui.xio import exit_through

_log = logging.getLogger(__name__)

LOST_DISPLAY_UNDO_S = 15.0
"""How long the undo may take once the X server is gone, in seconds."""

NO_DISPLAY_ADVICE = (
    "so the tray app cannot start; headless, use 'gearshift analyze FILE' (see 'gearshift --help')"
)


class GearshiftApp(QObject):
    """Connects the controller's signals to the tray, the window and the dialogs."""

    def __init__(
        self,
        controller: AppController,
        tray_available: bool,
        control: ControlPlane | None = None,
    ) -> None:
        super().__init__()
        self.controller = controller
        self.control = control
        self.window = MainWindow(controller.source.label)
        self.tray = TrayIcon() if tray_available else None
        self.dialogs: list[RollbackDialog] = []
        self._dialog_tasks: set[asyncio.Future[None]] = set()
        self._quit = asyncio.Event()
        self._quitting = False

        controller.mode_changed.connect(self._show_mode)
        controller.stats_updated.connect(self._show_stats)
        controller.switch_failed.connect(self._show_rollback)
        controller.switch_refused.connect(self._show_refusal)
        controller.gpu_updated.connect(self._show_gpu)
        controller.preset_changed.connect(self._show_preset)
        self.window.toggle_requested.connect(self.toggle)
        self.window.close_requested.connect(self._on_window_closed)
        if self.tray is not None:
            self.tray.toggle_requested.connect(self.toggle)
            self.tray.mode_requested.connect(self.request_mode)
            self.tray.show_window_requested.connect(self.show_window)
            self.tray.quit_requested.connect(self.quit)

    async def run(self) -> int:
        """Start the core, show the UI and run until quit; returns the exit status."""
        await self.controller.start()
        if self.control is not None:
            self.control.service.add_health_check("tray", self._tray_health)
            await self.control.start()
        if self.tray is not None:
            self.tray.show()
        else:
            _log.warning("no system tray on this desktop: showing the window instead")
        self.show_window()
        await self._quit.wait()
        return ExitCode.OK

    def show_window(self) -> None:
        """Bring the window up and to the front."""
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
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
        if self.tray is not None:
            self.tray.hide()
        self.window.hide()
        self._quit.set()

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

    def _show_stats(self, stats: BudgetStats) -> None:
        if self.window.isVisible():
            self.window.show_stats(stats)
        if self.tray is not None:
            self.tray.show_stats(stats)

    def _show_gpu(self, update: TelemetryUpdated) -> None:
        if self.window.isVisible():
            self.window.show_gpu(update.telemetry, update.history)

    def _show_preset(self, change: PresetChanged) -> None:
        if change.mode is self.controller.mode:
            self._show_mode(change.mode)
            self.window.target_label.setToolTip(change.why)

    def _show_refusal(self, result: SwitchResult) -> None:
        self.window.statusBar().showMessage(result.describe(), 5000)
        if self.tray is not None and result.outcome is not SwitchOutcome.ALREADY_ACTIVE:
            self.tray.notify("Gearshift", result.describe())

    def _show_rollback(self, error: ModeTransitionError) -> None:
        if self.tray is not None:
            self.tray.notify(f"Switch to {error.target} rolled back", str(error), warning=True)
        dialog = RollbackDialog(error, self.window if self.window.isVisible() else None)
        self.dialogs.append(dialog)
        task = asyncio.ensure_future(self._keep_until_closed(dialog))
        self._dialog_tasks.add(task)
        task.add_done_callback(self._dialog_tasks.discard)

    async def _keep_until_closed(self, dialog: RollbackDialog) -> None:
        await wait_closed(dialog)
        self.dialogs.remove(dialog)
        dialog.deleteLater()

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
    """The frame source the command line asked for. Raises CaptureError for a bad file."""
    if args.demo:
        return DemoSource()
    if args.replay:
        capture = read_capture(args.replay)
        frames = capture.select(None)
        label = f"replay of {Path(args.replay).name} ({frames.name}, {capture.format})"
        return ReplaySource(label, frames.frame_times_ms, frames.row_durations_ms)
    return NoSource()


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

    existing = QApplication.instance()
    # argv[0] names the windows' WM_CLASS; under `python -m` it would be "__main__.py".
    app = existing if isinstance(existing, QApplication) else QApplication(["gearshift"])
    app.setApplicationName("Gearshift")
    app.setDesktopFileName("gearshift")
    app.setQuitOnLastWindowClosed(False)
    instance = SingleInstance()
    if not instance.claim():
        ignored = " (--replay and --demo apply only to a new start: quit it first)"
        chosen = args.replay or args.demo
        print(
            f"gearshift: already running; showed its window{ignored if chosen else ''}",
            file=sys.stderr,
        )
        return ExitCode.OK

    loaded = load_settings()
    if loaded.problem is not None:
        print(f"gearshift: {loaded.problem}", file=sys.stderr)
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    controller = AppController(source, gpu=gpu_factory(loaded.settings.gpu))
    control = ControlPlane(
        loaded.settings,
        controller.manager,
        controller.events,
        controller.monitor,
        controller.frame_histogram,
        source_label=source.label,
        has_source=not isinstance(source, NoSource),
        gpu=controller.gpu,
    )
    gearshift = GearshiftApp(controller, QSystemTrayIcon.isSystemTrayAvailable(), control)
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
        try:
            backend = backend_from_env(os.environ)
        except ValueError as error:
            print(f"gearshift: {error}; using the real NVIDIA library", file=sys.stderr)
            backend = NvmlBackend()
        telemetry = GpuTelemetry(backend, interval_s=1.0 / settings.sample_hz, pin=settings.pin)
        return GpuService(
            telemetry, manager, events, advisor, adjust_presets=settings.adjust_presets
        )

    return make


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

    def undo() -> None:
        try:
            failures = asyncio.run(gearshift.controller.manager.stop())
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
