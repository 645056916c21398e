"""The bridge between the core and Qt: core events in, Qt signals out.

The controller owns the running pieces (mode manager, budget monitor, the frame feed
and the stats publisher) and translates core events into Qt signals the widgets
connect to. Widgets call its coroutines through ``qasync.asyncSlot``; it decides
nothing about modes itself, the ModeManager does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from PySide6.QtCore import QObject, Signal

from gearshift.config import Settings
from gearshift.core.actions import ActionBuilder, Journal, Restorer, core_action_builders
from gearshift.core.autoswitch import GamesChanged
from gearshift.core.budget import BudgetMonitor
from gearshift.core.errors import ModeError, ModeTransitionError
from gearshift.core.events import BudgetStatsUpdated, EventBus, ModeChanged, SwitchFailed
from gearshift.core.histogram import FrameHistogram
from gearshift.core.hotkeys import HotkeyAction
from gearshift.core.live import feed_monitor, publish_stats
from gearshift.core.manager import ModeManager, Recovered, SwitchResult
from gearshift.core.modes import DEFAULT_PROFILES, ModeProfile, PerformanceMode
from gearshift.core.presets import PresetChanged
from gearshift.frames.sources import FrameSource
from gearshift.gpu.model import TelemetryUpdated
from gearshift.gpu.service import GpuService
from gearshift.system.processes import ProcessTable
from gearshift.ui.autoswitch import AutoSwitchService
from gearshift.ui.hotkey import HotkeyService
from gearshift.ui.system_side import SystemServices

_log = logging.getLogger(__name__)


class AppController(QObject):
    """Runs the core inside the Qt app and re-announces its events as signals."""

    mode_changed = Signal(object)
    """The active PerformanceMode, after a switch (and once at start)."""

    stats_updated = Signal(object)
    """A BudgetStats snapshot, about ten times a second."""

    switch_failed = Signal(object)
    """A ModeTransitionError: the switch was rolled back."""

    switch_refused = Signal(object)
    """A SwitchResult that changed nothing: cooldown, busy or already active."""

    gpu_updated = Signal(object)
    """A TelemetryUpdated: the GPU readings, about four times a second."""

    preset_changed = Signal(object)
    """A PresetChanged: a mode's preset moved (the card, or the measured frame rate)."""

    recovered = Signal(object)
    """A RecoveryReport: what the start restored from the journal of an earlier run."""

    stopped = Signal()
    """Everything is reverted and no task is left running; the app may exit."""

    def __init__(
        self,
        source: FrameSource,
        manager: ModeManager | None = None,
        monitor: BudgetMonitor | None = None,
        events: EventBus | None = None,
        gpu: Callable[[ModeManager, EventBus], GpuService] | None = None,
        profiles: Mapping[PerformanceMode, ModeProfile] = DEFAULT_PROFILES,
        *,
        hotkey_options: Mapping[str, Any] | None = None,
        process_table: ProcessTable | None = None,
        system_builders: Mapping[str, ActionBuilder] | None = None,
        journal: Journal | None = None,
        restorers: Mapping[str, Restorer] | None = None,
        system: SystemServices | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.events = events or EventBus()
        initial_budget_ms = profiles[PerformanceMode.IMMERSIVE].budget_ms
        self.monitor = monitor or BudgetMonitor(initial_budget_ms)
        self.manager = manager or ModeManager(
            {**(system_builders or {}), **core_action_builders(self.monitor)},
            self.events,
            profiles=profiles,
            journal=journal,
            restorers=restorers,
        )
        self.frame_histogram = FrameHistogram()
        """Every live frame since start, for the metrics endpoint."""
        self.gpu = gpu(self.manager, self.events) if gpu is not None else None
        """The GPU side (telemetry and presets), or None when it was not asked for."""
        self.system = system
        """The D-Bus buses, the GPU control and the other tuning tools, or None; started
        before the manager (whose start restores from the journal through them) and
        closed after it."""
        if system is not None:
            system.follow_gpu(self.gpu)
        self.hotkeys = HotkeyService(self._on_hotkey, **(hotkey_options or {}))
        """The global hotkeys; start_player_controls() starts them."""
        self.autoswitch = AutoSwitchService(self.manager, self.events, table=process_table)
        """Automatic switching for listed games; start_player_controls() starts it."""
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe = [
            self.events.subscribe(ModeChanged, lambda e: self.mode_changed.emit(e.current)),
            self.events.subscribe(SwitchFailed, lambda e: self.switch_failed.emit(e.error)),
            self.events.subscribe(BudgetStatsUpdated, lambda e: self.stats_updated.emit(e.stats)),
            self.events.subscribe(TelemetryUpdated, self.gpu_updated.emit),
            self.events.subscribe(PresetChanged, self.preset_changed.emit),
            self.events.subscribe(GamesChanged, self._follow_games),
            self.events.subscribe(Recovered, lambda e: self.recovered.emit(e.report)),
        ]
        self._stopping = False

    @property
    def mode(self) -> PerformanceMode:
        """The active mode."""
        return self.manager.mode

    async def start(self) -> None:
        """Follow the system's services, apply the initial mode, then start the frame
        feed and the stats publisher."""
        if self.system is not None:
            await self.system.start()
        await self.manager.start()
        self.mode_changed.emit(self.manager.mode)
        self._spawn(
            feed_monitor(self.source.batches(), self.monitor, self.frame_histogram.add),
            "frame feed",
        )
        self._spawn(publish_stats(self.monitor, self.events), "stats publisher")
        if self.gpu is not None:
            self._spawn(self.gpu.run(), "GPU telemetry")
        _log.info("frame source: %s", self.source.label)

    def start_player_controls(self, settings: Settings) -> None:
        """Start the global hotkeys and automatic switching as ``settings`` say."""
        self.hotkeys.start(settings.hotkeys)
        self.autoswitch.start(settings.autoswitch)

    def apply_player_controls(self, old: Settings, new: Settings) -> None:
        """Restart the hotkeys or automatic switching whose settings changed."""
        if new.hotkeys != old.hotkeys and not self._stopping:
            self._spawn(self.hotkeys.restart(new.hotkeys), "hotkey restart")
        if new.autoswitch != old.autoswitch and not self._stopping:
            self._spawn(self.autoswitch.restart(new.autoswitch), "automatic switching restart")

    async def request_mode(self, mode: PerformanceMode, force: bool = False) -> None:
        """Ask for ``mode``; the outcome arrives as a signal, never as an exception."""
        try:
            result = await self.manager.set_mode(mode, force)
        except ModeTransitionError:
            return  # announced through SwitchFailed -> switch_failed
        except ModeError as error:
            _log.info("switch to %s ignored: %s", mode.label, error)
            return
        self._report(result)

    async def toggle(self) -> None:
        """Switch to the mode that is not active."""
        await self.request_mode(self.manager.mode.other)

    async def stop(self) -> None:
        """Revert the active mode, cancel and await every task, then emit ``stopped``."""
        if self._stopping:
            return
        self._stopping = True
        await self.hotkeys.stop()
        await self.autoswitch.stop()  # no automatic switch while the mode is undone
        self.autoswitch.close()
        for task in self._tasks:
            task.cancel()
        # A task that crashed earlier was logged then (_log_crash); waiting on it here
        # must not raise again, or the mode would never be undone.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        failures = await self.manager.stop()
        for failure in failures:
            _log.error("left applied on quit: %s (%s)", failure.step, failure.reason)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        if self.gpu is not None:
            self.gpu.close()
        if self.system is not None:
            await self.system.close()  # last: holds and inhibits end with the buses
        self.stopped.emit()

    async def _on_hotkey(self, action: HotkeyAction) -> None:
        await self.request_mode(action.target(self.manager.mode))

    def _follow_games(self, event: GamesChanged) -> None:
        """The GPU the game renders on is the one to follow."""
        if self.gpu is not None and self.gpu.telemetry is not None:
            self.gpu.telemetry.follow_pids(event.pids)

    def _report(self, result: SwitchResult) -> None:
        if not result.switched:
            _log.info("%s", result.describe())
            self.switch_refused.emit(result)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.ensure_future(work)
        task.add_done_callback(lambda t: _log_crash(t, name))
        self._tasks.append(task)


def _log_crash(task: asyncio.Task[None], name: str) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("%s stopped: %s", name, task.exception(), exc_info=task.exception())
