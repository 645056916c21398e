"""The bridge between the core and Qt: core events in, Qt signals out.

The controller owns the running pieces (mode manager, budget monitor, the frame feed
and the stats publisher) and translates core events into Qt signals the widgets
connect to. Widgets call its coroutines through ``qasync.asyncSlot``; it decides
nothing about modes itself, the ModeManager does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.errors import ModeError, ModeTransitionError
from gearshift.core.events import BudgetStatsUpdated, EventBus, ModeChanged, SwitchFailed
from gearshift.core.histogram import FrameHistogram
from gearshift.core.live import feed_monitor, publish_stats
from gearshift.core.manager import ModeManager, SwitchResult
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from gearshift.core.presets import PresetChanged
from gearshift.frames.sources import FrameSource
from gearshift.gpu.model import TelemetryUpdated
from gearshift.gpu.service import GpuService

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

    stopped = Signal()
    """Everything is reverted and no task is left running; the app may exit."""

    def __init__(
        self,
        source: FrameSource,
        manager: ModeManager | None = None,
        monitor: BudgetMonitor | None = None,
        events: EventBus | None = None,
        gpu: Callable[[ModeManager, EventBus], GpuService] | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.events = events or EventBus()
        initial_budget_ms = DEFAULT_PROFILES[PerformanceMode.IMMERSIVE].budget_ms
        self.monitor = monitor or BudgetMonitor(initial_budget_ms)
        self.manager = manager or ModeManager(core_action_builders(self.monitor), self.events)
        self.frame_histogram = FrameHistogram()
        """Every live frame since start, for the metrics endpoint."""
        self.gpu = gpu(self.manager, self.events) if gpu is not None else None
        """The GPU side (telemetry and presets), or None when it was not asked for."""
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe = [
            self.events.subscribe(ModeChanged, lambda e: self.mode_changed.emit(e.current)),
            self.events.subscribe(SwitchFailed, lambda e: self.switch_failed.emit(e.error)),
            self.events.subscribe(BudgetStatsUpdated, lambda e: self.stats_updated.emit(e.stats)),
            self.events.subscribe(TelemetryUpdated, self.gpu_updated.emit),
            self.events.subscribe(PresetChanged, self.preset_changed.emit),
        ]
        self._stopping = False

    @property
    def mode(self) -> PerformanceMode:
        """The active mode."""
        return self.manager.mode

    async def start(self) -> None:
        """Apply the initial mode, then start the frame feed and the stats publisher."""
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
        self.stopped.emit()

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
