"""The app's links to the machine's services: the D-Bus buses, the NVIDIA GPU control and
the other tuning tools found at start-up, behind one object the controller starts first
and closes last.

The mode manager needs its builders and restorers when it is made, but the buses start
asynchronously and the GPU telemetry opens NVML later still. So the builders made here
look those up when a switch builds its actions: before ``start()`` ends, an action
whose service has not been seen goes on to find out for itself; a GPU action asks the
telemetry's latest probe, and is skipped with the telemetry's own reason while there is
none. Every wait on a bus is bounded: a bus that is missing or does not answer makes its
actions skipped with a reason, never a hang.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from gearshift.core.actions import Action, ActionBuilder, JsonValue, Restorer
from gearshift.core.errors import ActionError, ActionUnavailableError
from gearshift.core.modes import (
    GPU_CLOCKS,
    GPU_POWER_LIMIT,
    POWER_PROFILE,
    SCREENSAVER,
    ActionSpec,
    ModeProfile,
)
from gearshift.gpu.control import GpuControl
from gearshift.gpu.errors import GpuError
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.probe import ProbeResult
from gearshift.gpu.service import GpuService
from gearshift.system.daemons import SystemObserver, TuningTools, detect_tuning_tools
from gearshift.system.desktop import DesktopBuses, desktop_action_builders, desktop_restorers
from gearshift.system.gpu_actions import gpu_action_builders, gpu_restorers

_log = logging.getLogger(__name__)

START_TIMEOUT_S = 3.0
"""How long following the services, and then looking for tuning tools, may each take."""

CLOSE_TIMEOUT_S = 2.0
"""How long closing the bus connections may take on quit."""

NO_GPU_SIDE = "GPU telemetry is not running"


class SystemServices:
    """The D-Bus buses, the GPU control and the tuning tools, for the running app.

    Args:
        buses: the system and session bus connections (opened on first use).
        gpu_backend: makes an NVML backend of its own for undoing a GPU change found in
            the journal at start (the telemetry has not opened its own yet then); None
            when GPU telemetry is off.
        observer: where the tuning tools are looked for; by default the buses above,
            the process list and systemd's unit states.
        timeout_s: how long each start-up step may take.
    """

    def __init__(
        self,
        buses: DesktopBuses,
        gpu_backend: Callable[[], NvmlBackend] | None = None,
        *,
        observer: SystemObserver | None = None,
        timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self.buses = buses
        self.tools: TuningTools | None = None
        """Who controls what; None until start() has looked."""
        self.control: GpuControl | None = None
        """The GPU control over the telemetry's backend; made by follow_gpu()."""
        self.timeout_s = timeout_s
        self._gpu_backend = gpu_backend
        self._observer = observer or SystemObserver(buses.system, buses.session)
        self._gpu: GpuService | None = None
        self._unreachable: dict[str, str] = {}
        """Action kind -> why its bus could not be reached at start."""

    def follow_gpu(self, gpu: GpuService | None) -> None:
        """Use ``gpu``'s telemetry: its probe says what the GPU actions may do, and its
        NVML backend (opened when the telemetry starts) makes the changes."""
        self._gpu = gpu
        telemetry = None if gpu is None else gpu.telemetry
        if telemetry is not None and self.control is None:
            self.control = GpuControl(telemetry.backend)

    async def start(self) -> None:
        """Follow the D-Bus services, then look for the other tuning tools; each step
        bounded by ``timeout_s``, and neither raises."""
        try:
            await asyncio.wait_for(self.buses.start(), self.timeout_s)
        except TimeoutError:
            _log.warning("the D-Bus buses did not answer within %g s", self.timeout_s)
        for kind, bus in ((POWER_PROFILE, self.buses.system), (SCREENSAVER, self.buses.session)):
            if bus.is_open:
                continue
            try:  # not open after start(): ask once more, for the reason
                await asyncio.wait_for(bus.list_names(), self.timeout_s)
            except (ActionError, TimeoutError) as error:
                reason = str(error) or f"the D-Bus {bus.label} did not answer"
                self._unreachable[kind] = f"{reason} at start-up"
        try:
            self.tools = await asyncio.wait_for(
                detect_tuning_tools(self._observer), self.timeout_s
            )
        except TimeoutError:
            self.tools = TuningTools(
                unchecked=(f"anything (no answer within {self.timeout_s:g} s)",)
            )
            _log.warning("looking for other tuning tools took over %g s", self.timeout_s)

    async def close(self) -> None:
        """Close the bus connections (ending whatever they still held) and the GPU
        control's thread; bounded, and never raises."""
        try:
            await asyncio.wait_for(self.buses.close(), CLOSE_TIMEOUT_S)
        except Exception as error:  # quitting goes on whatever the bus does
            _log.warning("closing the D-Bus connections: %s", error or type(error).__name__)
        if self.control is not None:
            self.control.close()

    def owner_label(self, kind: str) -> str | None:
        """The tool that controls ``kind``'s setting (e.g. "TuneD"), or None; the shape
        of ``SystemContext.owner``."""
        return None if self.tools is None else self.tools.owner_label(kind)

    def describe(self) -> list[str]:
        """Who controls what, one line a setting (empty until start() has looked)."""
        if self.tools is None:
            return []
        lines = self.tools.describe()
        if self.tools.unchecked:
            lines.append("Could not check " + ", ".join(self.tools.unchecked))
        return lines

    def builders(self) -> Mapping[str, ActionBuilder]:
        """Builders for the D-Bus and GPU actions, keyed by action kind."""

        def late_bound(kind: str) -> ActionBuilder:
            # The GPU control exists once follow_gpu() ran, after the manager was made.
            def build(spec: ActionSpec, profile: ModeProfile) -> Action:
                if self.control is None:
                    self._probes()  # raises with why there is no GPU side
                made = gpu_action_builders(self.control, self._probes, lambda: self.tools)
                return made[kind](spec, profile)

            return build

        def reachable(kind: str, builder: ActionBuilder) -> ActionBuilder:
            def build(spec: ActionSpec, profile: ModeProfile) -> Action:
                reason = self._unreachable.get(kind)
                if reason is not None:
                    raise ActionUnavailableError(reason)
                return builder(spec, profile)

            return build

        desktop = desktop_action_builders(self.buses)
        return {
            **{kind: reachable(kind, builder) for kind, builder in desktop.items()},
            **{kind: late_bound(kind) for kind in (GPU_CLOCKS, GPU_POWER_LIMIT)},
        }

    def restorers(self) -> Mapping[str, Restorer]:
        """Restorers for the D-Bus and GPU actions' journal records, keyed by kind."""
        return {**desktop_restorers(), **self._gpu_restorers()}

    def _probes(self) -> Mapping[int, ProbeResult]:
        gpu = self._gpu
        if gpu is None or gpu.telemetry is None:
            raise ActionUnavailableError(
                NO_GPU_SIDE if gpu is None else gpu.latest.reason or NO_GPU_SIDE
            )
        latest = gpu.latest
        if not latest.available:
            raise ActionUnavailableError(latest.reason or "there is no GPU telemetry")
        return gpu.telemetry.probes

    def _gpu_restorers(self) -> Mapping[str, Restorer]:
        def restorer(kind: str) -> Restorer:
            async def restore(record: Mapping[str, JsonValue]) -> None:
                if self._gpu_backend is None:
                    await gpu_restorers(None)[kind](record)  # raises, with the advice
                    return
                backend = self._gpu_backend()
                try:
                    await asyncio.to_thread(backend.open)
                except GpuError as error:
                    raise ActionError(
                        f"cannot undo a GPU change: {error}; run 'nvidia-smi -rgc' and "
                        "'nvidia-smi -pl <watts>' as root, or reboot"
                    ) from None
                control = GpuControl(backend)
                try:
                    await gpu_restorers(control)[kind](record)
                finally:
                    control.close()
                    await asyncio.to_thread(backend.close)

            return restore

        return {kind: restorer(kind) for kind in (GPU_CLOCKS, GPU_POWER_LIMIT)}
