"""The control API served for real, on a Unix socket, from a loop on its own thread.

Tests talk to it the way scripts do: through ApiClient or raw bytes on the socket,
from the test's thread, while the server's loop runs the mode manager over a fake
machine.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from gearshift.control.client import ApiClient
from gearshift.control.server import ApiServer, Limits
from gearshift.control.service import ControlService
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import BudgetStatsUpdated, EventBus, ModeChanged
from gearshift.core.manager import ModeManager
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from tests.fakes.actions import FakeMachine, fake_builders, setting_spec

ResultT = TypeVar("ResultT")


class ServedApp:
    """A started mode manager and an API server for it, until close()."""

    def __init__(
        self,
        socket_path: Path,
        *,
        cooldown_s: float = 0.0,
        limits: Limits | None = None,
        machine: FakeMachine | None = None,
    ) -> None:
        self.machine = machine or FakeMachine()
        self.socket_path = socket_path
        self.history: list[ModeChanged] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.call(self._start(cooldown_s, limits or Limits()))

    async def _start(self, cooldown_s: float, limits: Limits) -> None:
        self.events = EventBus()
        self.events.subscribe(ModeChanged, self.history.append)
        self.monitor = BudgetMonitor(16.67)
        specs = (setting_spec("governor", "powersave", "performance"),)
        profiles = {mode: replace(p, actions=specs) for mode, p in DEFAULT_PROFILES.items()}
        self.manager = ModeManager(
            fake_builders(self.machine, timeout_s=2.0),
            self.events,
            profiles=profiles,
            cooldown_s=cooldown_s,
        )
        await self.manager.start()
        self.service = ControlService(
            self.manager, self.events, self.monitor, source_label="test frames"
        )
        self.server = ApiServer(self.service, self.socket_path, limits)
        await self.server.start()

    def call(self, work: Coroutine[Any, Any, ResultT], timeout_s: float = 30.0) -> ResultT:
        """Run ``work`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout_s)

    def soon(self, work: Coroutine[Any, Any, Any]) -> Any:
        """Start ``work`` on the server's loop without waiting (a future)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    def push_frames(self, frames_ms: list[float]) -> None:
        """Feed frames and publish statistics, as the live loops do."""

        async def push() -> None:
            self.monitor.push(frames_ms)
            self.events.publish(BudgetStatsUpdated(self.monitor.stats()))

        self.call(push())

    def client(self, timeout_s: float | None = 10.0) -> ApiClient:
        """A connected client."""
        client = ApiClient(self.socket_path, timeout_s)
        client.connect()
        return client

    @property
    def mode(self) -> PerformanceMode:
        """The active mode."""
        return self.manager.mode

    def close(self) -> None:
        """Close the server and stop the loop."""

        async def stop() -> None:
            await self.server.close()
            await self.manager.stop()
            self.service.close()

        self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
