"""What Gearshift knows about a GPU, as frozen values the UI, the CLI and the API render.

Every reading carries its unit in its name. A reading the card does not give is None,
shown as N/A: never 0, never an error.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class DriverInfo:
    """The driver and library versions NVML reports (None where it does not)."""

    driver_version: str | None
    nvml_version: str | None
    cuda_version: str | None


@dataclass(frozen=True)
class MigInstance:
    """One MIG instance of a card in MIG mode, with the readings NVML gives per instance.

    Attributes:
        index: the instance's slot on its card.
        uuid: the instance's own UUID ("MIG-...").
        name: what NVML calls it, e.g. "NVIDIA A100 80GB PCIe MIG 3g.40gb".
        gpu_instance_id: the GPU instance it lives in.
        compute_instance_id: its compute instance within that GPU instance.
        memory_total_mib: its share of the card's memory, in MiB.
        memory_used_mib: how much of that is in use now, in MiB.
    """

    index: int
    uuid: str | None
    name: str | None
    gpu_instance_id: int | None
    compute_instance_id: int | None
    memory_total_mib: float | None
    memory_used_mib: float | None


@dataclass(frozen=True)
class GpuInfo:
    """What does not change while the app runs: the card's identity and limits.

    Attributes:
        index: NVML's index of the card.
        name: the product name, e.g. "NVIDIA GeForce RTX 4080 SUPER".
        uuid: "GPU-..." (None if not reported).
        pci_bus_id: e.g. "00000000:01:00.0".
        brand: "GeForce", "Tesla", "Quadro", ... (None if unknown).
        architecture: "Ada Lovelace", "Turing", ... (None if unknown).
        generation: the architecture's order, Kepler 2 to Blackwell 10 (NVML's numbering).
        memory_total_mib: framebuffer memory, in MiB.
        power_default_w / power_limit_w / power_min_w / power_max_w: the board's power
            limits, in watts: default, in force at start, and the range it may be set in.
        max_graphics_clock_mhz / max_sm_clock_mhz / max_memory_clock_mhz: in MHz.
        display_active: whether the card drives a display now.
        mig_enabled: MIG mode (None on cards without MIG).
        mig_instances: the MIG instances, when MIG mode is on.
        driver_model: "WDDM", "TCC" or "MCDM" on Windows; None on Linux.
    """

    index: int
    name: str
    uuid: str | None
    pci_bus_id: str | None
    brand: str | None
    architecture: str | None
    generation: int | None
    memory_total_mib: float | None
    power_default_w: float | None
    power_limit_w: float | None
    power_min_w: float | None
    power_max_w: float | None
    max_graphics_clock_mhz: float | None
    max_sm_clock_mhz: float | None
    max_memory_clock_mhz: float | None
    display_active: bool | None
    mig_enabled: bool | None
    mig_instances: tuple[MigInstance, ...] = ()
    driver_model: str | None = None

    @property
    def is_laptop(self) -> bool:
        """True for a laptop (mobile) part, which NVIDIA names so."""
        lowered = self.name.lower()
        return any(word in lowered for word in ("laptop", "mobile", "max-q"))

    @property
    def memory_gib(self) -> float | None:
        """Framebuffer memory in GiB."""
        return None if self.memory_total_mib is None else self.memory_total_mib / 1024.0

    @property
    def short_name(self) -> str:
        """The name without the 'NVIDIA ' prefix, as players say it ("" when unknown)."""
        return self.name.removeprefix("NVIDIA ").strip()

    @property
    def identified(self) -> bool:
        """False for a GPU that has never answered: only its index is known."""
        return bool(self.name)

    @property
    def label(self) -> str:
        """'GPU 0: GeForce RTX 4080 SUPER', or 'GPU 1' when its name is unknown."""
        return f"GPU {self.index}: {self.short_name}" if self.name else f"GPU {self.index}"


@dataclass(frozen=True)
class GpuReadings:
    """One sample of the live readings; None where the card gives none.

    Attributes:
        at_s: when it was taken, on the monotonic clock, in seconds.
        utilization_gpu_pct / utilization_memory_pct: busy share of the last sample
            period, in percent.
        clock_graphics_mhz / clock_sm_mhz / clock_memory_mhz: in MHz.
        temperature_c / memory_temperature_c: in degrees Celsius.
        power_w: board power draw now, in watts.
        power_limit_w: the power limit in force now, in watts (laptops move it).
        fan_pct: fan speed, in percent of its maximum.
        memory_used_mib: framebuffer memory in use, in MiB.
        performance_state: P-state, 0 (fastest) to 15; None when unknown.
        throttle_reasons: why the clocks are held back now, in words ("idle", "power
            cap"); empty when nothing holds them back; None when not reported.
        mig_instances: per-instance readings on a card in MIG mode.
    """

    at_s: float
    utilization_gpu_pct: float | None = None
    utilization_memory_pct: float | None = None
    clock_graphics_mhz: float | None = None
    clock_sm_mhz: float | None = None
    clock_memory_mhz: float | None = None
    temperature_c: float | None = None
    memory_temperature_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    fan_pct: float | None = None
    memory_used_mib: float | None = None
    performance_state: int | None = None
    throttle_reasons: tuple[str, ...] | None = None
    mig_instances: tuple[MigInstance, ...] = ()

    def numbers(self) -> dict[str, float | None]:
        """Every numeric reading by name (units in the names), None where missing."""
        return {spec.key: getattr(self, spec.key) for spec in READINGS}


@dataclass(frozen=True)
class ReadingSpec:
    """How one numeric reading is named and shown everywhere.

    Attributes:
        key: the GpuReadings field, with its unit in the name.
        label: the name players read.
        unit: the unit shown after the number.
        metric: the Prometheus metric name, in base units.
        to_metric: what the reading is multiplied by to give the metric's unit.
        digits: decimals shown.
    """

    key: str
    label: str
    unit: str
    metric: str
    to_metric: float = 1.0
    digits: int = 0


READINGS: tuple[ReadingSpec, ...] = (
    ReadingSpec(
        "utilization_gpu_pct", "GPU utilisation", "%", "gearshift_gpu_utilization_ratio", 0.01
    ),
    ReadingSpec(
        "utilization_memory_pct",
        "Memory utilisation",
        "%",
        "gearshift_gpu_memory_utilization_ratio",
        0.01,
    ),
    ReadingSpec(
        "clock_graphics_mhz", "Graphics clock", "MHz", "gearshift_gpu_graphics_clock_hertz", 1e6
    ),
    ReadingSpec("clock_sm_mhz", "SM clock", "MHz", "gearshift_gpu_sm_clock_hertz", 1e6),
    ReadingSpec(
        "clock_memory_mhz", "Memory clock", "MHz", "gearshift_gpu_memory_clock_hertz", 1e6
    ),
    ReadingSpec("temperature_c", "Temperature", "°C", "gearshift_gpu_temperature_celsius"),
    ReadingSpec(
        "memory_temperature_c",
        "Memory temperature",
        "°C",
        "gearshift_gpu_memory_temperature_celsius",
    ),
    ReadingSpec("power_w", "Power draw", "W", "gearshift_gpu_power_watts", digits=1),
    ReadingSpec("power_limit_w", "Power limit", "W", "gearshift_gpu_power_limit_watts", digits=1),
    ReadingSpec("fan_pct", "Fan", "%", "gearshift_gpu_fan_speed_ratio", 0.01),
    ReadingSpec(
        "memory_used_mib", "Memory used", "MiB", "gearshift_gpu_memory_used_bytes", 1024.0**2
    ),
)
"""Every numeric reading, in the order they are shown."""


@dataclass(frozen=True)
class GpuProcess:
    """A process using a GPU, as NVML lists it.

    Attributes:
        pid: the process id.
        used_memory_mib: its framebuffer memory in MiB (None under Windows' WDDM).
        kind: "graphics" (renders) or "compute".
    """

    pid: int
    used_memory_mib: float | None
    kind: str


class GpuState(enum.Enum):
    """Whether one GPU answers."""

    OK = "ok"
    """Answering; its readings are current."""

    LOST = "lost"
    """Not answering (fell off the bus, or 'unknown error'); retried with back-off."""


@dataclass(frozen=True)
class GpuSnapshot:
    """One GPU as the sampler last saw it.

    Attributes:
        info: the card.
        state: whether it answers.
        readings: the latest sample, or None before the first (or while lost).
        problem: why it is lost, in words; None when OK.
        retry_in_s: for a lost GPU, seconds until it is tried again.
    """

    info: GpuInfo
    state: GpuState
    readings: GpuReadings | None
    problem: str | None = None
    retry_in_s: float | None = None


@dataclass(frozen=True)
class Telemetry:
    """Everything the GPU side knows now, frozen for whoever renders it.

    Attributes:
        available: False when there is no GPU telemetry at all (see ``reason``).
        reason: why not, in words with what would enable it; None when available.
        driver: driver and library versions.
        gpus: every GPU found.
        followed: the index of the GPU whose readings go beside the frame times.
        followed_why: why that one, in words ("pinned in settings").
    """

    available: bool
    reason: str | None = None
    driver: DriverInfo | None = None
    gpus: tuple[GpuSnapshot, ...] = ()
    followed: int | None = None
    followed_why: str | None = None

    @property
    def followed_gpu(self) -> GpuSnapshot | None:
        """The followed GPU's snapshot, or None."""
        for gpu in self.gpus:
            if gpu.info.index == self.followed:
                return gpu
        return None


@dataclass(frozen=True)
class TelemetryUpdated:
    """A new GPU snapshot (published on the core's event bus, four times a second).

    Attributes:
        telemetry: every GPU now.
        history: the followed GPU's recent readings, oldest first (bounded).
    """

    telemetry: Telemetry
    history: tuple[GpuReadings, ...] = ()
