"""Automatic switching inside the app: the game watcher and the switcher, as settings say.

The rules are in ``gearshift.core.autoswitch`` and the process table in
``gearshift.system.processes``; this starts and stops them with the settings and turns
their events into Qt signals for the tray (the tooltip's reason, the notification).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from PySide6.QtCore import QObject, Signal

from gearshift.config import AutoSwitchSettings
from gearshift.control.protocol import SubsystemHealth
from gearshift.core.autoswitch import (
    AutoSwitched,
    AutoSwitcher,
    Game,
    GamesChanged,
    ModeReason,
    RunningGame,
)
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.system.processes import GameWatcher, ProcessTable, ThreadedScan

_log = logging.getLogger(__name__)


def games_from_settings(settings: AutoSwitchSettings) -> tuple[Game, ...]:
    """The settings' game list as the core's rules."""
    return tuple(Game(rule.name, rule.path, rule.cmdline) for rule in settings.games)


class AutoSwitchService(QObject):
    """Runs automatic switching while the settings turn it on and list games.

    Args:
        manager: the mode manager the switches go through.
        events: the core's event bus.
        table: the process table (the real one by default; tests may pass a fake).
        sleep: asyncio.sleep; tests may pass a faster one.
    """

    reason_changed = Signal(object)
    """A ModeReason: why the active mode is what it is."""

    auto_switched = Signal(object)
    """An AutoSwitched: Gearshift switched by itself, and why."""

    games_changed = Signal(object)
    """A GamesChanged: the listed games running now (their pids)."""

    def __init__(
        self,
        manager: ModeManager,
        events: EventBus,
        *,
        table: ProcessTable | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__()
        self._manager = manager
        self._events = events
        self._table = table
        self._sleep = sleep
        self.switcher: AutoSwitcher | None = None
        self._scan: ThreadedScan | None = None
        self._task: asyncio.Task[None] | None = None
        self._off_why = "automatic switching is turned off in the settings"
        self._unsubscribe = [
            events.subscribe(ModeReason, self.reason_changed.emit),
            events.subscribe(AutoSwitched, self.auto_switched.emit),
            events.subscribe(GamesChanged, self.games_changed.emit),
        ]

    @property
    def running(self) -> bool:
        """Whether games are being watched for."""
        return self._task is not None and not self._task.done()

    @property
    def switching(self) -> bool:
        """Whether the switch in flight, if any, is an automatic one."""
        return self.switcher is not None and self.switcher.switching

    @property
    def games(self) -> tuple[RunningGame, ...]:
        """The listed games running, as of the last look."""
        return () if self.switcher is None else self.switcher.games

    def start(self, settings: AutoSwitchSettings) -> None:
        """Watch for the listed games, if the settings turn that on and list any."""
        games = games_from_settings(settings)
        if not settings.enabled:
            self._off_why = "automatic switching is turned off in the settings"
            return
        if not games:
            self._off_why = "no games listed for automatic switching"
            return
        self._scan = ThreadedScan(GameWatcher(games, self._table))
        self.switcher = AutoSwitcher(
            self._manager, self._events, self._scan, poll_s=settings.poll_s, sleep=self._sleep
        )
        self._task = asyncio.ensure_future(self.switcher.run())
        self._task.add_done_callback(_log_crash)
        names = ", ".join(game.name for game in games)
        _log.info("watching for %s every %g s", names, settings.poll_s)

    async def stop(self) -> None:
        """Stop watching; the mode stays as it is."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._scan is not None:
            self._scan.close()
            self._scan = None
        if self.switcher is not None:
            self.switcher = None
            self._events.publish(ModeReason(self._manager.mode, None))
            self._events.publish(GamesChanged(()))

    async def restart(self, settings: AutoSwitchSettings) -> None:
        """Watch as changed settings say (the settings window's changes)."""
        await self.stop()
        self.start(settings)

    def close(self) -> None:
        """Stop listening to the core (after stop())."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def health(self) -> SubsystemHealth:
        """Automatic switching's health for the control API."""
        switcher = self.switcher
        if switcher is None or not self.running:
            return SubsystemHealth(state="ok", reason=self._off_why)
        if switcher.scan_problem is not None:
            return SubsystemHealth(
                state="degraded", reason=f"cannot look for games: {switcher.scan_problem}"
            )
        why = switcher.why()
        watching = f"watching for games every {switcher.poll_s:g} s"
        return SubsystemHealth(state="ok", reason=f"{watching}; {why}" if why else watching)


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        error = task.exception()
        _log.error("automatic switching stopped: %s", error, exc_info=error)
