"""The GPU side of the running app: telemetry and presets, announced on the event bus.

``GpuService`` runs the sampler, keeps each mode's preset (the card's tier, then the
measured frame rate), and publishes ``TelemetryUpdated`` and ``PresetChanged`` on the
core's event bus, where the window, the control API and the metrics read them. It holds
no Qt; the tray app, tests and benchmarks drive the same object.
"""

from __future__ import annotations

import logging

from gearshift.core.events import BudgetStatsUpdated, EventBus, ModeChanged
from gearshift.core.manager import ModeManager
from gearshift.core.modes import PerformanceMode
from gearshift.core.presets import Preset, PresetChanged
from gearshift.gpu.model import GpuReadings, Telemetry, TelemetryUpdated
from gearshift.gpu.presets import PresetAdvisor
from gearshift.gpu.telemetry import NOT_STARTED, GpuTelemetry

_log = logging.getLogger(__name__)


class GpuService:
    """GPU telemetry and each mode's preset, for the running app.

    Args:
        telemetry: the sampler, or None when GPU telemetry is turned off.
        manager: the mode manager, read for the active mode.
        events: where TelemetryUpdated and PresetChanged are published, and where the
            live frame statistics arrive.
        advisor: each mode's preset.
        adjust_presets: whether the measured frame rate moves the presets.
        off_reason: why there is no telemetry when ``telemetry`` is None.
    """

    def __init__(
        self,
        telemetry: GpuTelemetry | None,
        manager: ModeManager,
        events: EventBus,
        advisor: PresetAdvisor,
        *,
        adjust_presets: bool = True,
        off_reason: str = "GPU telemetry is turned off in the settings ([gpu] enabled)",
    ) -> None:
        self.telemetry = telemetry
        self.advisor = advisor
        self._manager = manager
        self._events = events
        self._adjust = adjust_presets
        self._off = Telemetry(available=False, reason=off_reason)
        self._followed_uuid: str | None = None
        self._stopped: Telemetry | None = None
        self._unsubscribe = [
            events.subscribe(BudgetStatsUpdated, self._on_stats),
            events.subscribe(ModeChanged, self._on_mode_changed),
        ]

    @property
    def latest(self) -> Telemetry:
        """The newest snapshot (unavailable, with the reason, when there is none)."""
        if self.telemetry is None:
            return self._off
        return self._stopped or self.telemetry.latest

    def history(self) -> tuple[GpuReadings, ...]:
        """The followed GPU's recent readings, oldest first (empty with no telemetry)."""
        return () if self.telemetry is None else tuple(self.telemetry.history)

    def preset(self, mode: PerformanceMode) -> Preset:
        """The preset ``mode`` uses now."""
        return self.advisor.preset(mode)

    def explain(self) -> str:
        """Why each mode has its preset, in one line."""
        why = self.advisor.explain(self._manager.mode)
        if not self._adjust:
            why += "; the measured frame rate does not move presets ([gpu] adjust_presets)"
        return why

    async def run(self) -> None:
        """Sample until cancelled; returns at once when there is no telemetry."""
        if self.telemetry is None:
            self._events.publish(TelemetryUpdated(self._off))
            return
        if self.telemetry.latest is NOT_STARTED:
            try:
                await self.telemetry.run(self._on_telemetry)
            except Exception as error:  # the app goes on without GPU telemetry
                _log.exception("GPU telemetry stopped")
                self._stopped = Telemetry(
                    available=False,
                    reason=f"GPU telemetry stopped after an error ({error}); restart "
                    "Gearshift to try again",
                )
                self._events.publish(TelemetryUpdated(self._stopped))
                return
        if not self.latest.available:
            _log.warning("%s", self.latest.reason)

    def close(self) -> None:
        """Stop following the event bus."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _on_telemetry(self, telemetry: Telemetry) -> None:
        followed = telemetry.followed_gpu
        info = followed.info if followed is not None and followed.info.uuid else None
        uuid = None if info is None else info.uuid
        if uuid != self._followed_uuid:
            self._followed_uuid = uuid
            tier = self.advisor.use_gpu(info)
            if tier is not None:
                why = self.advisor.explain()
                _log.info("presets from the card: %s", why)
                for mode in PerformanceMode:
                    self._events.publish(PresetChanged(mode, self.advisor.preset(mode), why))
        self._events.publish(TelemetryUpdated(telemetry, self.history()))

    def _on_stats(self, event: BudgetStatsUpdated) -> None:
        if not self._adjust:
            return
        mode = self._manager.mode
        moved = self.advisor.observe(mode, event.stats)
        if moved is not None:
            why = self.advisor.explain(mode)
            _log.info("%s preset now %s: %s", mode.label, moved.value, why)
            self._events.publish(PresetChanged(mode, moved, why))

    def _on_mode_changed(self, event: ModeChanged) -> None:
        self.advisor.tuners[event.current].hold_off()
