"""The capability probe: what a card supports, for every control and reading, and why not.

The probe asks the card once (at start-up and when asked again) and keeps a yes or no
for each control a mode may use and each reading, with a reason in words for every no.
The settings window greys out what is ruled out and shows the reason; a mode never
tries an action the probe ruled out.

The rules, in order, for each control:

- locked graphics clocks: Volta or newer, and root (or the privileged helper);
- locked memory clocks: Ampere or newer, a list of memory clocks to lock to, and root;
- power limit: a settable range, not a laptop part (its firmware owns the limit), root;
- application clocks: the card answers for them (GeForce cards and newer drivers
  answer 'not supported' or 'deprecated'), and root unless NVML lifted that restriction;
- persistence mode: Linux only, the card answers for it, and root.
"""

from __future__ import annotations

from dataclasses import dataclass

from gearshift.gpu.model import READINGS, GpuInfo, GpuProcess, GpuReadings
from gearshift.gpu.nvml import ControlFacts, Outcome

VOLTA = 5
AMPERE = 7
"""NVML's architecture numbers for the generations the rules name."""

NEEDS_PRIVILEGE = (
    "needs root or Gearshift's privileged helper, which is not installed yet (Gearshift "
    "never runs as root)"
)


@dataclass(frozen=True)
class Capability:
    """One control or reading, and whether this card has it.

    Attributes:
        key: a stable name, e.g. "locked_graphics_clocks" or "fan_pct".
        label: what players read, e.g. "Locked graphics clocks".
        supported: whether Gearshift can use it on this card now.
        reason: why not, in words (None when supported).
    """

    key: str
    label: str
    supported: bool
    reason: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    """What one card supports.

    Attributes:
        gpu: the card.
        controls: each control a mode may use.
        readings: each reading.
    """

    gpu: GpuInfo
    controls: tuple[Capability, ...]
    readings: tuple[Capability, ...]

    def control(self, key: str) -> Capability:
        """The control called ``key``; KeyError if there is none."""
        for capability in self.controls:
            if capability.key == key:
                return capability
        raise KeyError(key)

    def allows(self, key: str) -> bool:
        """Whether the control called ``key`` may be used (False for unknown keys)."""
        return any(c.key == key and c.supported for c in self.controls)


def probe(
    gpu: GpuInfo,
    facts: ControlFacts,
    sample: GpuReadings | None,
    processes: tuple[GpuProcess, ...] = (),
    *,
    helper_available: bool = False,
) -> ProbeResult:
    """Decide what ``gpu`` supports from what NVML said about it.

    Args:
        gpu: the card.
        facts: NVML's answers about its controls.
        sample: one sample of its readings (None: the readings are unknown).
        processes: its process list, to tell whether per-process memory is reported.
        helper_available: whether the privileged helper can run root-only changes.
    """
    privileged = facts.privileged or helper_available
    controls = (
        _locked_graphics_clocks(gpu, privileged),
        _locked_memory_clocks(gpu, facts, privileged),
        _power_limit(gpu, facts, privileged),
        _application_clocks(gpu, facts, privileged),
        _persistence_mode(gpu, facts, privileged),
    )
    return ProbeResult(gpu, controls, _readings(gpu, sample, processes))


def _control(key: str, label: str, reason: str | None) -> Capability:
    return Capability(key, label, reason is None, reason)


def _locked_graphics_clocks(gpu: GpuInfo, privileged: bool) -> Capability:
    reason = None
    if gpu.generation is None:
        reason = "the card's architecture is unknown, and locking needs Volta or newer"
    elif gpu.generation < VOLTA:
        reason = f"needs Volta or newer; this card is {gpu.architecture}"
    elif not privileged:
        reason = NEEDS_PRIVILEGE
    return _control("locked_graphics_clocks", "Locked graphics clocks", reason)


def _locked_memory_clocks(gpu: GpuInfo, facts: ControlFacts, privileged: bool) -> Capability:
    reason = None
    if gpu.generation is None or gpu.generation < AMPERE:
        reason = f"needs Ampere or newer; this card is {gpu.architecture or 'of unknown age'}"
    elif facts.memory_clock_list is not Outcome.SUPPORTED:
        reason = "the card lists no memory clocks to lock to"
    elif not privileged:
        reason = NEEDS_PRIVILEGE
    return _control("locked_memory_clocks", "Locked memory clocks", reason)


def _power_limit(gpu: GpuInfo, facts: ControlFacts, privileged: bool) -> Capability:
    reason = None
    if gpu.is_laptop:
        reason = (
            "not supported on this laptop GPU: the laptop's firmware sets its power limit "
            "(and Dynamic Boost moves it)"
        )
    elif not facts.power_limit_range:
        reason = "the card reports no power-limit range to set within"
    elif not privileged:
        reason = NEEDS_PRIVILEGE
    return _control("power_limit", "Power limit", reason)


def _application_clocks(gpu: GpuInfo, facts: ControlFacts, privileged: bool) -> Capability:
    reason = None
    answer = facts.application_clocks
    if answer is Outcome.DEPRECATED:
        reason = (
            "deprecated by this driver for this card: locked clocks replace application clocks"
        )
    elif answer is not Outcome.SUPPORTED:
        on_geforce = gpu.brand == "GeForce"
        reason = "not supported on GeForce cards" if on_geforce else "not supported on this card"
    elif facts.application_clocks_need_root is not False and not privileged:
        reason = NEEDS_PRIVILEGE
    return _control("application_clocks", "Application clocks", reason)


def _persistence_mode(gpu: GpuInfo, facts: ControlFacts, privileged: bool) -> Capability:
    reason = None
    if gpu.driver_model is not None:
        reason = f"Linux only: Windows drivers ({gpu.driver_model}) have no persistence mode"
    elif facts.persistence_mode is not Outcome.SUPPORTED:
        reason = "not supported on this card"
    elif not privileged:
        reason = NEEDS_PRIVILEGE
    return _control("persistence_mode", "Persistence mode", reason)


def _readings(
    gpu: GpuInfo, sample: GpuReadings | None, processes: tuple[GpuProcess, ...]
) -> tuple[Capability, ...]:
    entries = [(spec.key, spec.label) for spec in READINGS] + [
        ("performance_state", "Performance state"),
        ("throttle_reasons", "Throttle reasons"),
    ]
    found = []
    for key, label in entries:
        value = None if sample is None else getattr(sample, key)
        reason = None if value is not None else _missing_reason(gpu, key, sample)
        found.append(Capability(key, label, reason is None, reason))
    found.append(_process_memory(gpu, processes))
    return tuple(found)


def _missing_reason(gpu: GpuInfo, key: str, sample: GpuReadings | None) -> str:
    if sample is None:
        return "no sample was taken (the GPU did not answer)"
    if key.startswith("utilization") and gpu.mig_enabled:
        return "not reported for the whole card in MIG mode: each MIG instance has its own"
    if key == "fan_pct" and gpu.is_laptop:
        return "laptop GPUs leave the fans to the laptop's own controller"
    if key == "fan_pct":
        return "the card reports no fan (passively cooled, or the fans are the case's)"
    if key == "memory_temperature_c":
        return "only cards with HBM memory report it; GDDR cards do not"
    return "this card or driver does not report it (NVML answers 'not supported')"


def _process_memory(gpu: GpuInfo, processes: tuple[GpuProcess, ...]) -> Capability:
    label = "Memory per process"
    if gpu.driver_model == "WDDM":
        return Capability(
            "process_memory", label, False, "not available in Windows' WDDM driver model"
        )
    if processes and all(p.used_memory_mib is None for p in processes):
        return Capability("process_memory", label, False, "the driver does not report it")
    return Capability("process_memory", label, True)
