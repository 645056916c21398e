"""Starts and stops the control API and the metrics endpoint beside the running app."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from gearshift.config import Settings
from gearshift.control.metrics import GearshiftMetrics, MetricsEndpoint
from gearshift.control.protocol import SubsystemHealth
from gearshift.control.server import ApiServer, default_socket_path
from gearshift.control.service import ControlService, HealthCheck
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import EventBus
from gearshift.core.histogram import FrameHistogram
from gearshift.core.manager import ModeManager
from gearshift.frames.sources import SourceStatus
from gearshift.gpu.service import GpuService
from gearshift.system.daemons import TuningTools

_log = logging.getLogger(__name__)


class ControlPlane:
    """The API server and the metrics endpoint, as the settings ask.

    Neither failing to start stops the app: the reason is logged once and shown by the
    ``health`` operation (and a missing API socket by ``gearshift ctl`` itself).
    """

    def __init__(
        self,
        settings: Settings,
        manager: ModeManager,
        events: EventBus,
        monitor: BudgetMonitor,
        frames: FrameHistogram,
        *,
        source_label: str,
        has_source: bool,
        source_status: Callable[[], SourceStatus] | None = None,
        gpu: GpuService | None = None,
        health_checks: Mapping[str, HealthCheck] | None = None,
        socket_path: Path | None = None,
        tuning_tools: Callable[[], TuningTools | None] | None = None,
    ) -> None:
        self.settings = settings
        self.service = ControlService(
            manager,
            events,
            monitor,
            source_label=source_label,
            has_source=has_source,
            source_status=source_status,
            gpu=gpu,
            health_checks=health_checks,
            tuning_tools=tuning_tools,
        )
        self.server: ApiServer | None = None
        self.endpoint: MetricsEndpoint | None = None
        self._socket_path = socket_path
        self._manager = manager
        self._events = events
        self._frames = frames
        self._gpu = gpu
        self._metrics: GearshiftMetrics | None = None
        self.problems: dict[str, str] = {}

    async def start(self) -> None:
        """Start what the settings turn on; log a problem instead of failing."""
        if self.settings.api.enabled:
            server = ApiServer(self.service, self._socket_path or default_socket_path())
            try:
                await server.start()
                self.server = server
            except OSError as error:
                self._problem("control_api", f"control API not started: {_reason(error)}")
        else:
            self._problem("control_api", "control API turned off in the settings ([api])")
        metrics = self.settings.metrics
        if metrics.enabled:
            gpu = self._gpu
            self._metrics = GearshiftMetrics(
                self._manager,
                self._events,
                self._frames,
                None if gpu is None else (lambda: gpu.latest),
            )
            endpoint = MetricsEndpoint(self._metrics, metrics.address, metrics.port)
            try:
                endpoint.start()
                self.endpoint = endpoint
            except OSError as error:
                self._problem(
                    "metrics",
                    f"metrics endpoint not started on {metrics.address}:{metrics.port}: "
                    f"{_reason(error)}",
                )

    async def stop(self) -> None:
        """Close the API (removing its socket) and the metrics endpoint."""
        if self.server is not None:
            await self.server.close()
            self.server = None
        if self.endpoint is not None:
            self.endpoint.stop()
            self.endpoint = None
        if self._metrics is not None:
            self._metrics.close()
        self.service.close()

    def abandon(self) -> None:
        """After the event loop died under the app: remove the socket, stop the endpoint."""
        if self.server is not None:
            self.server.path.unlink(missing_ok=True)
            self.server = None
        if self.endpoint is not None:
            self.endpoint.stop()
            self.endpoint = None

    def _problem(self, subsystem: str, reason: str) -> None:
        _log.warning("%s", reason)
        self.problems[subsystem] = reason
        health = SubsystemHealth(state="unavailable", reason=reason)
        self.service.add_health_check(subsystem, lambda: health)


def _reason(error: OSError) -> str:
    text = error.strerror or str(error)
    return f"{text}: {error.filename}" if error.filename else text
