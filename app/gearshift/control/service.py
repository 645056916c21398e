"""What the control API can ask of the running app, in protocol terms.

The server speaks the wire; this speaks the core: it reads the mode manager, the budget
monitor and the health checks the app registers, runs switches, and turns core events
into protocol events. It imports no Qt and owns no socket, so the tray app, tests and
benchmarks all drive the same object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal

from gearshift import __version__
from gearshift.control.protocol import (
    PROTOCOL_VERSION,
    ErrorBody,
    ErrorCode,
    Event,
    EventName,
    FrameStats,
    GpuStatus,
    HealthResult,
    ModeChangedData,
    ProtocolError,
    StatusResult,
    SubsystemHealth,
    SwitchFailedData,
    SwitchRequest,
    SwitchResultBody,
    VersionResult,
)
from gearshift.core.budget import BudgetMonitor, BudgetStats
from gearshift.core.errors import ModeError, ModeTransitionError
from gearshift.core.events import BudgetStatsUpdated, EventBus, ModeChanged, SwitchFailed
from gearshift.core.manager import Lifecycle, ModeManager, SwitchOutcome
from gearshift.core.modes import PerformanceMode
from gearshift.frames.sources import SourceStatus
from gearshift.gpu.model import GpuState, Telemetry
from gearshift.gpu.service import GpuService
from gearshift.system.daemons import TuningTools

_log = logging.getLogger(__name__)

HealthCheck = Callable[[], SubsystemHealth]
"""Reports one subsystem's health now."""

NO_GPU = GpuStatus(available=False, reason="GPU telemetry is not running in this app")
NO_HOTKEY = SubsystemHealth(
    state="unavailable",
    reason="the global hotkeys run in the tray app, which did not report them; bind "
    "'gearshift ctl switch toggle' in the desktop's keyboard shortcut settings",
)
"""Until the tray app registers the hotkeys' own health check (it replaces this one)."""


def _now() -> datetime:
    return datetime.now().astimezone()


class ControlService:
    """The running app as the control API sees it.

    Args:
        manager: the mode manager; switches go through it.
        events: the core's event bus, for subscriptions.
        monitor: the budget monitor, read for status until stats are published.
        source_label: the live frame source, as shown to the player.
        has_source: False when no frame source was chosen at all.
        source_status: what the frame source is doing now (which feed is live, or
            that it waits); when given, it names the source instead of
            ``source_label`` and decides the ``frames`` health.
        gpu: the GPU side (telemetry and presets); unavailable when None.
        health_checks: more subsystems' health (the tray, the hotkey), by name.
        tuning_tools: the other tuning tools found at start-up (None until the search
            ends), shown as the ``system`` health: who controls what.
        clock: wall-clock time for timestamps people read.
    """

    def __init__(
        self,
        manager: ModeManager,
        events: EventBus,
        monitor: BudgetMonitor,
        *,
        source_label: str,
        has_source: bool = True,
        source_status: Callable[[], SourceStatus] | None = None,
        gpu: GpuService | None = None,
        health_checks: Mapping[str, HealthCheck] | None = None,
        tuning_tools: Callable[[], TuningTools | None] | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._manager = manager
        self._events = events
        self._monitor = monitor
        self._source_label = source_label
        self._has_source = has_source
        self._source_status = source_status
        self._gpu = gpu
        self._extra_checks = dict(health_checks or {})
        self._tuning_tools = tuning_tools
        self._clock = clock
        self._since = clock()
        self._stats: BudgetStats | None = None
        self._unsubscribe = [
            events.subscribe(ModeChanged, self._on_mode_changed),
            events.subscribe(BudgetStatsUpdated, self._on_stats),
        ]

    def close(self) -> None:
        """Stop listening to the core."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def add_health_check(self, name: str, check: HealthCheck) -> None:
        """Report ``name``'s health too (replacing an earlier check of that name)."""
        self._extra_checks[name] = check

    # ------------------------------------------------------------------------ requests

    def status(self) -> StatusResult:
        """The app's state now."""
        manager = self._manager
        profile = manager.profile
        target = manager.switching_to
        return StatusResult(
            mode=_name(manager.mode),
            since=self._since,
            switching_to=_name(target) if target is not None else None,
            applied=manager.applied,
            cooldown_s=manager.cooldown_s,
            cooldown_left_s=round(manager.cooldown_left_s(), 3),
            preset=profile.preset if self._gpu is None else self._gpu.preset(manager.mode).value,
            preset_why=None if self._gpu is None else self._gpu.explain(),
            budget_ms=profile.budget_ms,
            fps_min=profile.fps_min,
            fps_max=profile.fps_max,
            frames=self.frame_stats(),
            gpu=self.gpu_status(),
        )

    def gpu_status(self) -> GpuStatus:
        """The followed GPU's readings now, or why there are none."""
        return NO_GPU if self._gpu is None else gpu_status(self._gpu.latest)

    def frame_stats(self) -> FrameStats:
        """The latest published live statistics (computed now if none was yet)."""
        stats = self._stats if self._stats is not None else self._monitor.stats()
        return frame_stats(stats, self._source_name())

    async def switch(self, request: SwitchRequest) -> SwitchResultBody:
        """Run a switch. Raises ProtocolError for cooldown, busy, rollback, not ready."""
        manager = self._manager
        mode = manager.mode.other if request.mode == "toggle" else PerformanceMode(request.mode)
        try:
            result = await manager.set_mode(mode, force=request.force)
        except ModeTransitionError as error:
            report = error.report
            raise ProtocolError(
                ErrorBody(
                    code=ErrorCode.ROLLED_BACK,
                    message=str(error),
                    failed_step=report.failed.step,
                    reverted=report.reverted,
                    not_reverted=tuple(f.step for f in report.not_reverted),
                ),
                request.id,
            ) from None
        except ModeError as error:
            raise ProtocolError(
                ErrorBody(code=ErrorCode.NOT_READY, message=f"not switching now: {error}"),
                request.id,
            ) from None

        if result.outcome is SwitchOutcome.COOLDOWN:
            raise ProtocolError(
                ErrorBody(
                    code=ErrorCode.COOLDOWN,
                    message=f"{result.describe()}; "
                    "force (gearshift ctl switch --force) switches now",
                    retry_after_s=round(result.cooldown_left_s or 0.0, 3),
                ),
                request.id,
            )
        if result.outcome is SwitchOutcome.BUSY:
            raise ProtocolError(
                ErrorBody(code=ErrorCode.BUSY, message=f"{result.describe()}; try again"),
                request.id,
            )
        outcome: Literal["switched", "already_active"] = (
            "switched" if result.outcome is SwitchOutcome.SWITCHED else "already_active"
        )
        duration_ms = None if result.duration_s is None else result.duration_s * 1e3
        return SwitchResultBody(
            outcome=outcome, mode=_name(result.active), duration_ms=duration_ms
        )

    def health(self) -> HealthResult:
        """Each subsystem's health; overall ``ok`` when all are, else ``degraded`` (the
        app itself runs, whatever a subsystem lacks)."""
        subsystems = {
            "frames": self._frames_health(),
            "gpu": self._gpu_health(),
            "system_actions": self._actions_health(),
            "hotkey": NO_HOTKEY,
        }
        if self._tuning_tools is not None:
            subsystems["system"] = _tuning_tools_health(self._tuning_tools())
        for name, check in self._extra_checks.items():
            try:
                subsystems[name] = check()
            except Exception as error:  # a broken check must not break health itself
                _log.exception("health check %s failed", name)
                subsystems[name] = SubsystemHealth(
                    state="degraded", reason=f"its health check failed: {error}"
                )
        all_ok = all(health.state == "ok" for health in subsystems.values())
        return HealthResult(state="ok" if all_ok else "degraded", subsystems=subsystems)

    @staticmethod
    def version() -> VersionResult:
        """The app's and the protocol's versions."""
        return VersionResult(app=__version__, protocol=PROTOCOL_VERSION, protocols=(1,))

    # -------------------------------------------------------------------------- events

    def subscribe(
        self, names: tuple[EventName, ...], deliver: Callable[[Event], None]
    ) -> Callable[[], None]:
        """Deliver the chosen events as protocol events; returns an unsubscribe."""
        undo: list[Callable[[], None]] = []
        if "mode_changed" in names:
            undo.append(
                self._events.subscribe(ModeChanged, lambda e: deliver(self._mode_event(e)))
            )
        if "switch_failed" in names:
            undo.append(
                self._events.subscribe(SwitchFailed, lambda e: deliver(self._failed_event(e)))
            )
        if "budget" in names:
            undo.append(
                self._events.subscribe(
                    BudgetStatsUpdated, lambda e: deliver(self._budget_event(e.stats))
                )
            )

        def unsubscribe() -> None:
            for step in undo:
                step()

        return unsubscribe

    def _mode_event(self, event: ModeChanged) -> Event:
        data = ModeChangedData(
            previous=_name(event.previous),
            current=_name(event.current),
            forced=event.forced,
            duration_ms=event.duration_s * 1e3,
        )
        return Event(event="mode_changed", at=self._clock(), data=data.model_dump(mode="json"))

    def _failed_event(self, event: SwitchFailed) -> Event:
        report = event.error.report
        data = SwitchFailedData(
            target=_name(event.target),
            message=str(event.error),
            failed_step=report.failed.step,
            reverted=report.reverted,
            not_reverted=tuple(f.step for f in report.not_reverted),
        )
        return Event(event="switch_failed", at=self._clock(), data=data.model_dump(mode="json"))

    def _budget_event(self, stats: BudgetStats) -> Event:
        data = frame_stats(stats, self._source_name())
        return Event(event="budget", at=self._clock(), data=data.model_dump(mode="json"))

    # -------------------------------------------------------------------------- health

    def _source_name(self) -> str:
        return self._source_label if self._source_status is None else self._source_status().label

    def _frames_health(self) -> SubsystemHealth:
        if self._source_status is not None:
            return _live_health(self._source_status())
        if not self._has_source:
            return SubsystemHealth(
                state="degraded",
                reason="no live frame source: start Gearshift with --replay FILE or --demo",
            )
        if self.frame_stats().frames == 0:
            return SubsystemHealth(
                state="degraded", reason=f"no frames lately from {self._source_label}"
            )
        return SubsystemHealth(state="ok")

    def _gpu_health(self) -> SubsystemHealth:
        gpu = self.gpu_status()
        if not gpu.available:
            return SubsystemHealth(state="unavailable", reason=gpu.reason)
        if gpu.state == "lost":
            return SubsystemHealth(
                state="degraded",
                reason=f"GPU {gpu.index} ({gpu.followed_why}) is not answering: {gpu.problem}; "
                "tried again with back-off",
            )
        if gpu.lost:
            lost = ", ".join(str(index) for index in gpu.lost)
            return SubsystemHealth(
                state="degraded",
                reason=f"GPU {lost} not answering (tried again with back-off); "
                f"readings from GPU {gpu.index} ({gpu.followed_why})",
            )
        return SubsystemHealth(state="ok")

    def _actions_health(self) -> SubsystemHealth:
        manager = self._manager
        if manager.lifecycle is not Lifecycle.READY:
            return SubsystemHealth(
                state="unavailable", reason=f"the mode manager is {manager.lifecycle.value}"
            )
        cut_off = manager.cut_off()
        if cut_off:
            return SubsystemHealth(
                state="degraded",
                reason="; ".join(
                    f"{kind.replace('_', ' ')}: {why}" for kind, why in cut_off.items()
                ),
            )
        if manager.skipped:
            skipped = "; ".join(f"{s.kind.replace('_', ' ')}: {s.reason}" for s in manager.skipped)
            return SubsystemHealth(state="ok", reason=f"skipped {skipped}")
        return SubsystemHealth(state="ok")

    def _on_mode_changed(self, _event: ModeChanged) -> None:
        self._since = self._clock()

    def _on_stats(self, event: BudgetStatsUpdated) -> None:
        self._stats = event.stats


def _tuning_tools_health(tools: TuningTools | None) -> SubsystemHealth:
    """The ``system`` health: which other tuning tools run and what they control. They
    are not a fault (Gearshift leaves their settings to them), so it stays ``ok``."""
    if tools is None:
        return SubsystemHealth(state="ok", reason="still looking for other tuning tools")
    return SubsystemHealth(state="ok", reason=tools.summary())


def _live_health(status: SourceStatus) -> SubsystemHealth:
    """The ``frames`` health from the frame source's status: which source is live, or
    that it waits and what would bring frames."""
    problems = "; ".join(status.problems)
    if status.state == "live":
        if problems:
            return SubsystemHealth(state="ok", reason=f"live: {status.label} ({problems})")
        return SubsystemHealth(state="ok", reason=f"live: {status.label}")
    if status.state == "none":
        return SubsystemHealth(state="degraded", reason=f"no frame source: {status.label}")
    todo = "; or ".join(status.advice) or "no live source can listen"
    reason = f"waiting for frames: {todo}"
    return SubsystemHealth(
        state="degraded", reason=f"{reason} ({problems})" if problems else reason
    )


def frame_stats(stats: BudgetStats, source: str) -> FrameStats:
    """A BudgetStats snapshot in protocol form."""
    return FrameStats(
        source=source,
        window_s=stats.window_s,
        frames=stats.frames,
        budget_ms=stats.budget_ms,
        avg_fps=stats.avg_fps,
        low1_fps=stats.low1_fps,
        p99_ms=stats.p99_ms,
        over_budget_pct=stats.over_budget_pct,
    )


def gpu_status(telemetry: Telemetry) -> GpuStatus:
    """A GPU snapshot in protocol form: the followed GPU, and which are lost."""
    if not telemetry.available:
        return GpuStatus(available=False, reason=telemetry.reason)
    lost = tuple(g.info.index for g in telemetry.gpus if g.state is GpuState.LOST)
    followed = telemetry.followed_gpu
    if followed is None:
        return GpuStatus(available=True, gpus=len(telemetry.gpus), lost=lost)
    readings = followed.readings
    return GpuStatus(
        available=True,
        index=followed.info.index,
        name=followed.info.name or None,
        uuid=followed.info.uuid,
        followed_why=telemetry.followed_why,
        state="ok" if followed.state is GpuState.OK else "lost",
        problem=followed.problem,
        readings={} if readings is None else readings.numbers(),
        performance_state=None if readings is None else readings.performance_state,
        throttle_reasons=None if readings is None else readings.throttle_reasons,
        gpus=len(telemetry.gpus),
        lost=lost,
    )


def _name(mode: PerformanceMode) -> Literal["immersive", "competitive"]:
    return "immersive" if mode is PerformanceMode.IMMERSIVE else "competitive"
