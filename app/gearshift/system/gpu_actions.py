"""The NVIDIA GPU actions: locked graphics clocks and the power limit, through NVML.

A mode uses them only where the capability probe said yes (Volta or newer for locked
clocks, a settable range and not a laptop for the power limit, and root for both);
otherwise the builder refuses with the probe's own reason, and the switch goes on
without them. Where LACT runs, it owns the GPU's clocks and power limit, and these
actions step aside with that reason.

Gearshift never runs as root, so on a normal desktop the probe says "needs root" and
these actions are skipped. Routing them through the privileged helper is not done:
the helper's allow-list has no GPU requests yet, and adding them means validating a
GPU index and a clock or wattage range there.

Profiles list them as ``ActionSpec("gpu_clocks", {"min_mhz": 2400, "max_mhz": 2800})``
and ``ActionSpec("gpu_power_limit", {"watts": 400})``; ``gpu`` picks the GPU by NVML
index (the first probed GPU when absent).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from gearshift.core.actions import (
    DEFAULT_ACTION_TIMEOUT_S,
    Action,
    ActionBuilder,
    JsonValue,
    Restorer,
)
from gearshift.core.errors import ActionError, ActionUnavailableError
from gearshift.core.modes import GPU_CLOCKS, GPU_POWER_LIMIT, ActionSpec, ModeProfile
from gearshift.gpu.control import GpuControl
from gearshift.gpu.errors import GpuError
from gearshift.gpu.model import GpuInfo
from gearshift.gpu.probe import ProbeResult
from gearshift.system.daemons import TuningTools

_log = logging.getLogger(__name__)

_T = TypeVar("_T")

LOCKED_CLOCKS_CONTROL = "locked_graphics_clocks"
POWER_LIMIT_CONTROL = "power_limit"
"""The probe's keys for the two controls."""

POWER_LIMIT_TOLERANCE_W = 1.0
"""How far the limit read back may be from the one set: NVML rounds to the card's steps."""


class LockedClocksAction:
    """Locks one GPU's graphics clock into a range while the mode is active.

    NVML cannot read a lock back, so revert resets the clocks to floating (see
    gearshift.gpu.control's notes).
    """

    kind = GPU_CLOCKS

    def __init__(
        self,
        control: GpuControl,
        gpu: GpuInfo,
        min_mhz: int,
        max_mhz: int,
        *,
        timeout_s: float = DEFAULT_ACTION_TIMEOUT_S,
    ) -> None:
        self.name = f"GPU {gpu.index} clocks locked to {min_mhz}-{max_mhz} MHz"
        self.timeout_s = timeout_s
        self.gpu = gpu
        self.min_mhz = min_mhz
        self.max_mhz = max_mhz
        self._control = control
        self._locked = False

    def record(self) -> Mapping[str, JsonValue]:
        """The GPU and the range; restoring means unlocking."""
        return {
            "gpu_uuid": self.gpu.uuid,
            "gpu_index": self.gpu.index,
            "min_mhz": self.min_mhz,
            "max_mhz": self.max_mhz,
        }

    async def apply(self) -> None:
        """Lock the clocks; raises ActionError if the GPU refuses."""
        await _gpu_call(
            self._control.lock_graphics_clocks(self.gpu.index, self.min_mhz, self.max_mhz)
        )
        self._locked = True
        _log.info("%s", self.name)

    async def revert(self) -> None:
        """Unlock the clocks (nothing to do when apply() did not lock them)."""
        if not self._locked:
            return
        await _gpu_call(self._control.reset_graphics_clocks(self.gpu.index))
        self._locked = False
        _log.info("GPU %d clocks float again", self.gpu.index)


class PowerLimitAction:
    """Sets one GPU's power limit while the mode is active, and puts the old one back.

    Args:
        control: the GPU control.
        gpu: the card.
        watts: the limit to set, in watts.
    """

    kind = GPU_POWER_LIMIT

    def __init__(
        self,
        control: GpuControl,
        gpu: GpuInfo,
        watts: float,
        *,
        timeout_s: float = DEFAULT_ACTION_TIMEOUT_S,
    ) -> None:
        self.name = f"GPU {gpu.index} power limit {watts:g} W"
        self.timeout_s = timeout_s
        self.gpu = gpu
        self.watts = watts
        self._control = control
        self._recorded_w: float | None = None
        self._previous_w: float | None = None

    def record(self) -> Mapping[str, JsonValue]:
        """The GPU, the limit to set and the one in force now (read here), in watts."""
        self._recorded_w = self._control.power_limit_w_now(self.gpu.index)
        return {
            "gpu_uuid": self.gpu.uuid,
            "gpu_index": self.gpu.index,
            "limit_w": self.watts,
            "restore_w": self._recorded_w,
        }

    async def apply(self) -> None:
        """Set the limit and read it back; raises ActionError if it did not take."""
        found_w = self._recorded_w
        self._recorded_w = None
        if found_w is None:
            found_w = await _gpu_call(self._control.power_limit_w(self.gpu.index))
        if found_w is None:
            raise ActionError(f"GPU {self.gpu.index} does not report its power limit")
        await _gpu_call(self._control.set_power_limit_w(self.gpu.index, self.watts))
        self._previous_w = found_w
        now_w = await _gpu_call(self._control.power_limit_w(self.gpu.index))
        if now_w is None or abs(now_w - self.watts) > POWER_LIMIT_TOLERANCE_W:
            await self.revert()
            raise ActionError(
                f"GPU {self.gpu.index} accepted a {self.watts:g} W power limit but enforces "
                f"{'an unknown one' if now_w is None else f'{now_w:g} W'}"
            )
        _log.info("%s (was %g W)", self.name, found_w)

    async def revert(self) -> None:
        """Put back the limit apply() found."""
        if self._previous_w is None:
            return
        await _gpu_call(self._control.set_power_limit_w(self.gpu.index, self._previous_w))
        _log.info("GPU %d power limit back to %g W", self.gpu.index, self._previous_w)
        self._previous_w = None


async def _gpu_call(call: Awaitable[_T]) -> _T:
    """Await a GPU control call; the GPU side's errors become the action's."""
    try:
        return await call
    except GpuError as error:
        raise ActionError(str(error)) from error


GpuProbes = Callable[[], Mapping[int, ProbeResult]]
"""What each GPU supports, by NVML index, from the latest probe (GpuTelemetry.probes)."""


def gpu_action_builders(
    control: GpuControl | None,
    probes: GpuProbes,
    tools: Callable[[], TuningTools | None] = lambda: None,
    *,
    no_control_reason: str = "there is no NVIDIA GPU control here (NVML is not available)",
) -> Mapping[str, ActionBuilder]:
    """Builders for "gpu_clocks" and "gpu_power_limit", keyed by action kind.

    Each raises ActionUnavailableError, with the reason, where the action cannot be
    used: no NVML, the probe said no (its reason, e.g. "needs root..."), or another
    tool (LACT) owns the setting. A value outside the card's range is an ActionError.

    Args:
        control: the GPU control, or None when NVML is not available.
        probes: the latest capability probe of each GPU.
        tools: the tuning tools found at start-up (None before detection ended).
        no_control_reason: what to say when ``control`` is None.
    """

    def card(spec: ActionSpec, capability: str, setting: str) -> tuple[GpuControl, GpuInfo]:
        if control is None:
            raise ActionUnavailableError(no_control_reason)
        found = tools()
        reason = None if found is None else found.skip_reason(setting)
        if reason is not None:
            raise ActionUnavailableError(reason)
        result = _probe_for(spec, probes())
        if not result.allows(capability):
            why = result.control(capability).reason or "the probe ruled it out"
            raise ActionUnavailableError(f"{result.gpu.label}: {why}")
        return control, result.gpu

    def gpu_clocks(spec: ActionSpec, profile: ModeProfile) -> Action:
        gpu_control, gpu = card(spec, LOCKED_CLOCKS_CONTROL, GPU_CLOCKS)
        top = gpu.max_graphics_clock_mhz
        max_mhz = _whole(spec.params.get("max_mhz", top), "max_mhz", profile)
        min_mhz = _whole(spec.params.get("min_mhz", max_mhz), "min_mhz", profile)
        if not 0 < min_mhz <= max_mhz or (top is not None and max_mhz > top):
            raise ActionError(
                f"GPU clocks {min_mhz}-{max_mhz} MHz in the {profile.mode.label} profile: "
                f"{gpu.label} accepts 1-{'?' if top is None else f'{top:g}'} MHz, lowest first"
            )
        return LockedClocksAction(gpu_control, gpu, min_mhz, max_mhz)

    def gpu_power_limit(spec: ActionSpec, profile: ModeProfile) -> Action:
        gpu_control, gpu = card(spec, POWER_LIMIT_CONTROL, GPU_POWER_LIMIT)
        watts = _number(spec.params.get("watts", gpu.power_max_w), "watts", profile)
        low, high = gpu.power_min_w, gpu.power_max_w
        if low is not None and high is not None and not low <= watts <= high:
            raise ActionError(
                f"GPU power limit {watts:g} W in the {profile.mode.label} profile: "
                f"{gpu.label} accepts {low:g}-{high:g} W"
            )
        return PowerLimitAction(gpu_control, gpu, watts)

    return {GPU_CLOCKS: gpu_clocks, GPU_POWER_LIMIT: gpu_power_limit}


def gpu_restorers(control: GpuControl | None) -> Mapping[str, Restorer]:
    """Restorers for the GPU actions' journal records, keyed by action kind.

    They find the GPU by its UUID (indexes can move between boots) and unlock its
    clocks or put its power limit back. Without NVML they raise ActionError saying
    what the player can run instead.
    """

    def require() -> GpuControl:
        if control is None:
            raise ActionError(
                "NVML is not available to undo a GPU change; run 'nvidia-smi -rgc' and "
                "'nvidia-smi -pl <watts>' as root, or reboot"
            )
        return control

    async def gpu_clocks(record: Mapping[str, JsonValue]) -> None:
        gpu_control = require()
        gpu = await _gpu_call(gpu_control.find_async(_uuid(record), _index(record)))
        await _gpu_call(gpu_control.reset_graphics_clocks(gpu.index))
        _log.info("restored: %s clocks float again", gpu.label)

    async def gpu_power_limit(record: Mapping[str, JsonValue]) -> None:
        gpu_control = require()
        restore_w = record.get("restore_w")
        if not isinstance(restore_w, int | float) or isinstance(restore_w, bool):
            raise ActionError(f"the journal holds no power limit to restore ({restore_w!r})")
        gpu = await _gpu_call(gpu_control.find_async(_uuid(record), _index(record)))
        await _gpu_call(gpu_control.set_power_limit_w(gpu.index, float(restore_w)))
        _log.info("restored: %s power limit back to %g W", gpu.label, restore_w)

    return {GPU_CLOCKS: gpu_clocks, GPU_POWER_LIMIT: gpu_power_limit}


def _probe_for(spec: ActionSpec, probes: Mapping[int, ProbeResult]) -> ProbeResult:
    if not probes:
        raise ActionUnavailableError("no NVIDIA GPU has been probed (GPU telemetry is off)")
    wanted = spec.params.get("gpu")
    index = min(probes) if wanted is None else wanted
    if not isinstance(index, int) or index not in probes:
        raise ActionUnavailableError(
            f"there is no GPU {wanted} here (GPUs: {', '.join(map(str, sorted(probes)))})"
        )
    return probes[index]


def _number(value: object, key: str, profile: ModeProfile) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ActionError(
        f"'{key}' in the {profile.mode.label} profile must be a number, not {value!r}"
    )


def _whole(value: object, key: str, profile: ModeProfile) -> int:
    return round(_number(value, key, profile))


def _uuid(record: Mapping[str, JsonValue]) -> str | None:
    uuid = record.get("gpu_uuid")
    return uuid if isinstance(uuid, str) else None


def _index(record: Mapping[str, JsonValue]) -> int:
    index = record.get("gpu_index")
    return index if isinstance(index, int) and not isinstance(index, bool) else 0
