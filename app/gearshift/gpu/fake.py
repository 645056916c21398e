"""A fake NVML library with real cards' figures, for tests, demos and benchmarks.

``FakeNvml`` answers the same function names as pynvml, with the same return shapes,
and raises pynvml's own error for the same code the real library would: a reading a
card does not give raises NOT_SUPPORTED, a lost GPU raises GPU_IS_LOST on every call,
a machine without the driver fails ``nvmlInit`` with LIBRARY_NOT_FOUND. The adapter in
``gearshift.gpu.nvml`` runs unchanged on top of it, so tests exercise the real code.

The cards (``MODELS``) are built from real figures:

- ``rtx4080super``: a GeForce RTX 4080 SUPER on Linux, driver 595.71.05, from a real
  nvidia-smi capture (idle and under an NVENC load).
- ``rtx5080``: the current generation (Blackwell). Its name, memory, power and clocks
  are NVIDIA's published figures; which readings say N/A is taken from the 4080
  SUPER's capture on the same driver, as no capture of this card was at hand, and its
  readings under load are illustrative (a game at full load), not measured.
- ``rtx4070-laptop``: a laptop GPU on Windows (WSL2), driver 566.36, from a real
  capture: no fan reading, a power limit above its default (Dynamic Boost), idle only.
- ``rtx2080super``: an older GeForce under Windows' WDDM driver model, driver 591.86,
  from a real capture: no average power, no memory temperature, no per-process memory.
- ``a100-mig``: a data-centre A100 80GB PCIe in MIG mode with three instances, from
  NVIDIA's published figures (no capture was at hand); its utilisation is per instance
  only, as NVML reports it in MIG mode.
- ``dual-lost``: a desktop with the RTX 4080 SUPER and an RTX 3060 that has fallen off
  the bus (GPU_IS_LOST on every call) until ``recover(1)``.
- ``no-driver``, ``driver-not-loaded``, ``version-mismatch``, ``no-permission``: the
  ways NVML fails to start.

Set ``GEARSHIFT_FAKE_GPU`` to one of these names to run the app or ``gearshift gpu`` on
the fake.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import pynvml

from gearshift.gpu.nvml import NvmlBackend

MIB = 1024 * 1024

FAKE_GPU_ENV = "GEARSHIFT_FAKE_GPU"
"""Names the fake model the app and the CLI use instead of the real library."""

LOAD_CYCLE_S = 30.0
"""A fake card with load figures swings from idle to load and back over this period."""


@dataclass(frozen=True)
class FakeState:
    """The live readings of one state of a card (idle, or under load).

    Units as NVML returns them: percent, MHz, °C, milliwatts, MiB.
    """

    utilization_gpu: int
    utilization_memory: int
    clock_graphics: int
    clock_sm: int
    clock_memory: int
    temperature: int
    power_mw: int
    fan_pct: int | None
    memory_used_mib: int
    pstate: int
    clock_events: int


@dataclass(frozen=True)
class FakeMig:
    """One MIG instance: its profile name, ids and memory."""

    profile: str
    gpu_instance_id: int
    compute_instance_id: int
    memory_total_mib: int
    memory_used_mib: int


@dataclass(frozen=True)
class FakeCard:
    """A card's figures, and which of NVML's answers it does not give.

    ``unsupported`` names the pynvml functions (or ``field:<id>`` field values) that
    answer NOT_SUPPORTED, ``deprecated`` those that answer DEPRECATED.
    """

    name: str
    uuid: str
    pci_bus_id: str
    brand: int
    architecture: int
    memory_total_mib: int
    power_default_mw: int
    power_limit_mw: int
    power_min_mw: int
    power_max_mw: int
    max_clocks: tuple[int, int, int]
    display_active: bool
    idle: FakeState
    load: FakeState | None = None
    unsupported: frozenset[str] = frozenset()
    deprecated: frozenset[str] = frozenset()
    driver_model: int | None = None
    persistence: bool | None = None
    mig: tuple[FakeMig, ...] | None = None
    processes: tuple[tuple[int, str, int | None], ...] = ()
    memory_clocks: tuple[int, ...] = ()


@dataclass(frozen=True)
class FakeMachine:
    """What one fake machine has: driver versions and cards, or a start-up failure."""

    driver_version: str
    nvml_version: str
    cuda_version: int
    cards: tuple[FakeCard, ...] = ()
    init_error: int | None = None
    lost: frozenset[int] = frozenset()


_GEFORCE_N_A = frozenset(
    {
        "nvmlDeviceGetMigMode",
        "nvmlDeviceGetMaxMigDeviceCount",
        "nvmlDeviceGetDriverModel",
        f"field:{pynvml.NVML_FI_DEV_MEMORY_TEMP}",
    }
)
"""What a desktop GeForce on Linux does not report (from the 4080 SUPER's capture)."""

_GEFORCE_DEPRECATED = frozenset({"nvmlDeviceGetApplicationsClock"})
"""Application clocks answer 'deprecated' on GeForce cards with current drivers."""

_RTX4080_SUPER = FakeCard(
    name="NVIDIA GeForce RTX 4080 SUPER",
    uuid="GPU-4080a5e1-0000-4000-8000-000000000001",
    pci_bus_id="00000000:01:00.0",
    brand=pynvml.NVML_BRAND_GEFORCE,
    architecture=pynvml.NVML_DEVICE_ARCH_ADA,
    memory_total_mib=16376,
    power_default_mw=320_000,
    power_limit_mw=320_000,
    power_min_mw=150_000,
    power_max_mw=400_000,
    max_clocks=(3165, 3165, 11501),
    display_active=True,
    idle=FakeState(0, 23, 210, 210, 405, 43, 27_740, 0, 596, 8, 0x1),
    load=FakeState(7, 2, 2805, 2805, 11251, 45, 86_410, 0, 1474, 2, 0x0),
    unsupported=_GEFORCE_N_A,
    deprecated=_GEFORCE_DEPRECATED,
    persistence=False,
    processes=(
        (2165, "graphics", 25),
        (2496, "graphics", 200),
        (2620, "graphics", 4),
        (2954, "graphics", 120),
        (3527, "graphics", 3),
        (5021, "compute", 360),
        (5022, "compute", 503),
    ),
    memory_clocks=(11501, 11251, 810, 405),
)

_RTX5080 = replace(
    _RTX4080_SUPER,
    name="NVIDIA GeForce RTX 5080",
    uuid="GPU-5080b1ac-0000-4000-8000-000000000002",
    architecture=pynvml.NVML_DEVICE_ARCH_BLACKWELL,
    memory_total_mib=16303,
    power_default_mw=360_000,
    power_limit_mw=360_000,
    power_min_mw=150_000,
    power_max_mw=400_000,
    max_clocks=(3090, 3090, 15001),
    idle=FakeState(0, 20, 180, 180, 405, 38, 22_000, 0, 540, 8, 0x1),
    load=FakeState(98, 61, 2617, 2617, 15001, 66, 330_000, 47, 9800, 1, 0x4),
    memory_clocks=(15001, 810, 405),
)

_RTX4070_LAPTOP = FakeCard(
    name="NVIDIA GeForce RTX 4070 Laptop GPU",
    uuid="GPU-1b724e78-eef5-4163-d43c-e4da15d41176",
    pci_bus_id="00000000:01:00.0",
    brand=pynvml.NVML_BRAND_GEFORCE,
    architecture=pynvml.NVML_DEVICE_ARCH_ADA,
    memory_total_mib=8188,
    power_default_mw=55_000,
    power_limit_mw=61_240,
    power_min_mw=5_000,
    power_max_mw=140_000,
    max_clocks=(3105, 3105, 8001),
    display_active=False,
    idle=FakeState(0, 0, 210, 210, 405, 42, 1_970, None, 0, 8, 0x1),
    unsupported=(_GEFORCE_N_A - {"nvmlDeviceGetDriverModel"})
    | {
        "nvmlDeviceGetFanSpeed",
        f"field:{pynvml.NVML_FI_DEV_POWER_INSTANT}",
        f"field:{pynvml.NVML_FI_DEV_POWER_CURRENT_LIMIT}",
        "nvmlDeviceGetApplicationsClock",
        "nvmlDeviceGetSupportedMemoryClocks",
    },
    deprecated=frozenset(),
    driver_model=pynvml.NVML_DRIVER_WDDM,
    persistence=True,
)

_RTX2080_SUPER = FakeCard(
    name="NVIDIA GeForce RTX 2080 SUPER",
    uuid="GPU-2080c0de-0000-4000-8000-000000000003",
    pci_bus_id="00000000:0C:00.0",
    brand=pynvml.NVML_BRAND_GEFORCE,
    architecture=pynvml.NVML_DEVICE_ARCH_TURING,
    memory_total_mib=8192,
    power_default_mw=250_000,
    power_limit_mw=250_000,
    power_min_mw=105_000,
    power_max_mw=350_000,
    max_clocks=(2145, 2145, 7751),
    display_active=False,
    idle=FakeState(0, 0, 300, 300, 405, 40, 38_920, 38, 702, 8, 0x1),
    load=FakeState(7, 3, 2055, 2055, 7500, 45, 97_490, 38, 1296, 2, 0x0),
    unsupported=(_GEFORCE_N_A - {"nvmlDeviceGetDriverModel"}) | {"nvmlDeviceGetPersistenceMode"},
    deprecated=_GEFORCE_DEPRECATED,
    driver_model=pynvml.NVML_DRIVER_WDDM,
    processes=(
        (2056, "graphics", None),
        (4680, "graphics", None),
        (12332, "graphics", None),
        (25704, "compute", None),
        (26660, "compute", None),
    ),
    memory_clocks=(7751, 7501, 810, 405),
)

_A100_MIG = FakeCard(
    name="NVIDIA A100 80GB PCIe",
    uuid="GPU-a100f00d-0000-4000-8000-000000000004",
    pci_bus_id="00000000:17:00.0",
    brand=pynvml.NVML_BRAND_NVIDIA,
    architecture=pynvml.NVML_DEVICE_ARCH_AMPERE,
    memory_total_mib=81920,
    power_default_mw=300_000,
    power_limit_mw=300_000,
    power_min_mw=150_000,
    power_max_mw=300_000,
    max_clocks=(1410, 1410, 1512),
    display_active=False,
    idle=FakeState(0, 0, 210, 210, 1512, 34, 44_000, None, 0, 0, 0x1),
    load=FakeState(0, 0, 1410, 1410, 1512, 61, 231_000, None, 0, 0, 0x0),
    unsupported=frozenset(
        {"nvmlDeviceGetFanSpeed", "nvmlDeviceGetUtilizationRates", "nvmlDeviceGetDriverModel"}
    ),
    persistence=True,
    mig=(
        FakeMig("3g.40gb", 1, 0, 40192, 12_288),
        FakeMig("2g.20gb", 5, 0, 19968, 1_024),
        FakeMig("1g.10gb", 13, 0, 9728, 0),
    ),
    memory_clocks=(1512,),
)

_RTX3060 = FakeCard(
    name="NVIDIA GeForce RTX 3060",
    uuid="GPU-3060dead-0000-4000-8000-000000000005",
    pci_bus_id="00000000:02:00.0",
    brand=pynvml.NVML_BRAND_GEFORCE,
    architecture=pynvml.NVML_DEVICE_ARCH_AMPERE,
    memory_total_mib=12288,
    power_default_mw=170_000,
    power_limit_mw=170_000,
    power_min_mw=100_000,
    power_max_mw=212_000,
    max_clocks=(2100, 2100, 7501),
    display_active=False,
    idle=FakeState(0, 0, 210, 210, 405, 35, 12_000, 0, 250, 8, 0x1),
    unsupported=_GEFORCE_N_A,
    deprecated=_GEFORCE_DEPRECATED,
    persistence=False,
)


def _on_linux_595(*cards: FakeCard, **faults: Any) -> FakeMachine:
    """A machine on the Linux driver the 4080 SUPER's capture was made with."""
    return FakeMachine(
        driver_version="595.71.05",
        nvml_version="13.595.71",
        cuda_version=13020,
        cards=cards,
        **faults,
    )


MODELS: dict[str, FakeMachine] = {
    "rtx5080": _on_linux_595(_RTX5080),
    "rtx4080super": _on_linux_595(_RTX4080_SUPER),
    "rtx4070-laptop": FakeMachine(  # beside an integrated GPU, on Windows (WSL2)
        driver_version="566.36",
        nvml_version="12.566.36",
        cuda_version=12070,
        cards=(_RTX4070_LAPTOP,),
    ),
    "rtx2080super": FakeMachine(  # under Windows' WDDM driver model
        driver_version="591.86",
        nvml_version="13.591.86",
        cuda_version=13010,
        cards=(_RTX2080_SUPER,),
    ),
    "a100-mig": _on_linux_595(_A100_MIG),
    "dual-lost": _on_linux_595(_RTX4080_SUPER, _RTX3060, lost=frozenset({1})),
    # NVML failing to start: no driver (an AMD or Intel machine), a driver installed but
    # not loaded, a driver update without a reboot, no permission on /dev/nvidia*.
    "no-driver": _on_linux_595(init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND),
    "driver-not-loaded": _on_linux_595(init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED),
    "version-mismatch": _on_linux_595(init_error=pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH),
    "no-permission": _on_linux_595(init_error=pynvml.NVML_ERROR_NO_PERMISSION),
}
"""Every fake machine, by the name GEARSHIFT_FAKE_GPU takes."""


@dataclass(frozen=True)
class _Handle:
    card: int
    mig: int | None = None


@dataclass
class _Fault:
    code: int
    calls_left: int | None = None  # None: until cleared


@dataclass
class _CardRuntime:
    card: FakeCard
    fault: _Fault | None = None
    extra_processes: list[tuple[int, str, int | None]] = field(default_factory=list)
    locked_clocks_mhz: tuple[int, int] | None = None
    power_limit_mw: int | None = None  # None: the card's own limit

    @property
    def limit_mw(self) -> int:
        return self.card.power_limit_mw if self.power_limit_mw is None else self.power_limit_mw


def _error(code: int) -> pynvml.NVMLError:
    return pynvml.NVMLError(code)


class FakeNvml:
    """pynvml's functions, answered from a FakeMachine.

    Args:
        machine: the fake machine, or the name of one in MODELS.
        clock: monotonic seconds; readings swing between idle and load with it.
        root: whether the caller runs as root; without it the setters (locked clocks,
            power limit) answer NO_PERMISSION, as the real library does.
    """

    def __init__(
        self,
        machine: FakeMachine | str,
        clock: Callable[[], float] = time.monotonic,
        *,
        root: bool = False,
    ) -> None:
        if isinstance(machine, str):
            machine = fake_machine(machine)
        self.machine = machine
        self.root = root
        self._clock = clock
        self._cards = [_CardRuntime(card) for card in machine.cards]
        for index in machine.lost:
            self._cards[index].fault = _Fault(pynvml.NVML_ERROR_GPU_IS_LOST)
        self.initialised = False
        self.calls = 0
        """How many NVML functions were called, for the cost benchmark."""
        self.garbage_processes = False
        """When True, process lists carry the impossible entries that bindings older
        than the driver produce (a pid of 0, a pid beyond any possible one)."""

    # -------------------------------------------------------------------- fault control

    def lose(self, index: int, code: int = pynvml.NVML_ERROR_GPU_IS_LOST) -> None:
        """From now on, every call on GPU ``index`` fails with ``code``."""
        self._runtime(index).fault = _Fault(code)

    def fail_next(self, index: int, calls: int, code: int = pynvml.NVML_ERROR_UNKNOWN) -> None:
        """The next ``calls`` calls (one or more) on GPU ``index`` fail with ``code``."""
        if calls < 1:
            raise ValueError(f"calls must be 1 or more, got {calls}")
        self._runtime(index).fault = _Fault(code, calls)

    def recover(self, index: int) -> None:
        """GPU ``index`` answers again."""
        self._runtime(index).fault = None

    def add_process(self, index: int, pid: int, kind: str = "graphics") -> None:
        """List process ``pid`` on GPU ``index`` (a game that renders there, say)."""
        self._runtime(index).extra_processes.append((pid, kind, 512))

    def _runtime(self, index: int) -> _CardRuntime:
        if not 0 <= index < len(self._cards):
            raise ValueError(
                f"this fake machine has GPUs 0 to {len(self._cards) - 1}, not {index}"
            )
        return self._cards[index]

    # ------------------------------------------------------------------ system functions

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        self.calls += 1
        if self.machine.init_error is not None:
            raise _error(self.machine.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:  # noqa: N802
        self._require_init()
        self.initialised = False

    def nvmlSystemGetDriverVersion(self) -> str:  # noqa: N802
        self._require_init()
        return self.machine.driver_version

    def nvmlSystemGetNVMLVersion(self) -> str:  # noqa: N802
        self._require_init()
        return self.machine.nvml_version

    def nvmlSystemGetCudaDriverVersion(self) -> int:  # noqa: N802
        self._require_init()
        return self.machine.cuda_version

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        self._require_init()
        return len(self._cards)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:  # noqa: N802
        self._require_init()
        if not 0 <= index < len(self._cards):
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        self._check(_Handle(index), "nvmlDeviceGetHandleByIndex")
        return _Handle(index)

    # ---------------------------------------------------------------- device: identity

    def nvmlDeviceGetName(self, handle: _Handle) -> str:  # noqa: N802
        card = self._check(handle, "nvmlDeviceGetName")
        if handle.mig is not None and card.mig is not None:
            return f"{card.name} MIG {card.mig[handle.mig].profile}"
        return card.name

    def nvmlDeviceGetUUID(self, handle: _Handle) -> str:  # noqa: N802
        card = self._check(handle, "nvmlDeviceGetUUID")
        if handle.mig is not None:
            return f"MIG-{card.uuid.removeprefix('GPU-')[:-2]}{handle.mig:02d}"
        return card.uuid

    def nvmlDeviceGetPciInfo(self, handle: _Handle) -> SimpleNamespace:  # noqa: N802
        card = self._check(handle, "nvmlDeviceGetPciInfo")
        return SimpleNamespace(busId=card.pci_bus_id)

    def nvmlDeviceGetBrand(self, handle: _Handle) -> int:  # noqa: N802
        return self._check(handle, "nvmlDeviceGetBrand").brand

    def nvmlDeviceGetArchitecture(self, handle: _Handle) -> int:  # noqa: N802
        return self._check(handle, "nvmlDeviceGetArchitecture").architecture

    def nvmlDeviceGetDriverModel(self, handle: _Handle) -> list[int]:  # noqa: N802
        card = self._check(handle, "nvmlDeviceGetDriverModel")
        if card.driver_model is None:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return [card.driver_model, card.driver_model]

    def nvmlDeviceGetDisplayActive(self, handle: _Handle) -> int:  # noqa: N802
        return int(self._check(handle, "nvmlDeviceGetDisplayActive").display_active)

    def nvmlDeviceGetPersistenceMode(self, handle: _Handle) -> int:  # noqa: N802
        card = self._check(handle, "nvmlDeviceGetPersistenceMode")
        if card.persistence is None:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return int(card.persistence)

    # ---------------------------------------------------------------- device: limits

    def nvmlDeviceGetPowerManagementLimitConstraints(  # noqa: N802
        self, handle: _Handle
    ) -> list[int]:
        card = self._check(handle, "nvmlDeviceGetPowerManagementLimitConstraints")
        return [card.power_min_mw, card.power_max_mw]

    def nvmlDeviceGetPowerManagementDefaultLimit(self, handle: _Handle) -> int:  # noqa: N802
        return self._check(handle, "nvmlDeviceGetPowerManagementDefaultLimit").power_default_mw

    def nvmlDeviceGetPowerManagementLimit(self, handle: _Handle) -> int:  # noqa: N802
        self._check(handle, "nvmlDeviceGetPowerManagementLimit")
        return self._cards[handle.card].limit_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: _Handle) -> int:  # noqa: N802
        self._check(handle, "nvmlDeviceGetEnforcedPowerLimit")
        return self._cards[handle.card].limit_mw

    def nvmlDeviceGetMaxClockInfo(self, handle: _Handle, clock: int) -> int:  # noqa: N802
        card = self._check(handle, "nvmlDeviceGetMaxClockInfo")
        return _clock_of(card.max_clocks, clock)

    def nvmlDeviceGetApplicationsClock(self, handle: _Handle, clock: int) -> int:  # noqa: N802
        card = self._check(handle, "nvmlDeviceGetApplicationsClock")
        return _clock_of(card.max_clocks, clock)

    def nvmlDeviceGetSupportedMemoryClocks(self, handle: _Handle) -> list[int]:  # noqa: N802
        return list(self._check(handle, "nvmlDeviceGetSupportedMemoryClocks").memory_clocks)

    def nvmlDeviceGetAPIRestriction(self, handle: _Handle, api: int) -> int:  # noqa: N802
        self._check(handle, "nvmlDeviceGetAPIRestriction")
        return int(pynvml.NVML_FEATURE_ENABLED)  # root only, as on every card by default

    # --------------------------------------------------------------- device: live state

    def nvmlDeviceGetUtilizationRates(self, handle: _Handle) -> SimpleNamespace:  # noqa: N802
        card = self._check(handle, "nvmlDeviceGetUtilizationRates")
        if card.mig is not None:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)  # per instance only in MIG mode
        state = self._state(handle)
        return SimpleNamespace(gpu=state.utilization_gpu, memory=state.utilization_memory)

    def nvmlDeviceGetClockInfo(self, handle: _Handle, clock: int) -> int:  # noqa: N802
        self._check(handle, "nvmlDeviceGetClockInfo")
        state = self._state(handle)
        mhz = _clock_of((state.clock_graphics, state.clock_sm, state.clock_memory), clock)
        locked = self._cards[handle.card].locked_clocks_mhz
        if locked is not None and clock != pynvml.NVML_CLOCK_MEM:
            mhz = min(max(mhz, locked[0]), locked[1])
        return mhz

    # ------------------------------------------------------------------ device: control

    def nvmlDeviceSetGpuLockedClocks(  # noqa: N802
        self, handle: _Handle, min_mhz: int, max_mhz: int
    ) -> None:
        card = self._check(handle, "nvmlDeviceSetGpuLockedClocks")
        if card.architecture < pynvml.NVML_DEVICE_ARCH_VOLTA:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        self._require_root()
        if not 0 < min_mhz <= max_mhz or max_mhz > card.max_clocks[0]:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        self._cards[handle.card].locked_clocks_mhz = (min_mhz, max_mhz)

    def nvmlDeviceResetGpuLockedClocks(self, handle: _Handle) -> None:  # noqa: N802
        card = self._check(handle, "nvmlDeviceResetGpuLockedClocks")
        if card.architecture < pynvml.NVML_DEVICE_ARCH_VOLTA:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        self._require_root()
        self._cards[handle.card].locked_clocks_mhz = None

    def nvmlDeviceSetPowerManagementLimit(  # noqa: N802
        self, handle: _Handle, limit_mw: int
    ) -> None:
        card = self._check(handle, "nvmlDeviceSetPowerManagementLimit")
        if "laptop" in card.name.lower():
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        self._require_root()
        if not card.power_min_mw <= limit_mw <= card.power_max_mw:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        self._cards[handle.card].power_limit_mw = int(limit_mw)

    def locked_clocks_mhz(self, index: int) -> tuple[int, int] | None:
        """The graphics clock range GPU ``index`` is locked to, or None (for tests)."""
        return self._runtime(index).locked_clocks_mhz

    def power_limit_mw(self, index: int) -> int:
        """The power limit GPU ``index`` enforces now, in milliwatts (for tests)."""
        return self._runtime(index).limit_mw

    def nvmlDeviceGetTemperature(self, handle: _Handle, sensor: int) -> int:  # noqa: N802
        self._check(handle, "nvmlDeviceGetTemperature")
        return self._state(handle).temperature

    def nvmlDeviceGetFanSpeed(self, handle: _Handle) -> int:  # noqa: N802
        self._check(handle, "nvmlDeviceGetFanSpeed")
        fan = self._state(handle).fan_pct
        if fan is None:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return fan

    def nvmlDeviceGetPowerUsage(self, handle: _Handle) -> int:  # noqa: N802
        self._check(handle, "nvmlDeviceGetPowerUsage")
        return self._state(handle).power_mw

    def nvmlDeviceGetPerformanceState(self, handle: _Handle) -> int:  # noqa: N802
        self._check(handle, "nvmlDeviceGetPerformanceState")
        return self._state(handle).pstate

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: _Handle) -> int:  # noqa: N802
        self._check(handle, "nvmlDeviceGetCurrentClocksEventReasons")
        return self._state(handle).clock_events

    def nvmlDeviceGetMemoryInfo(self, handle: _Handle) -> SimpleNamespace:  # noqa: N802
        card = self._check(handle, "nvmlDeviceGetMemoryInfo")
        if handle.mig is not None and card.mig is not None:
            mig = card.mig[handle.mig]
            total, used = mig.memory_total_mib, mig.memory_used_mib
        else:
            total, used = card.memory_total_mib, self._state(handle).memory_used_mib
            if card.mig is not None:
                used = sum(m.memory_used_mib for m in card.mig)
        return SimpleNamespace(total=total * MIB, used=used * MIB, free=(total - used) * MIB)

    def nvmlDeviceGetFieldValues(  # noqa: N802
        self, handle: _Handle, field_ids: list[int]
    ) -> list[SimpleNamespace]:
        card = self._check(handle, "nvmlDeviceGetFieldValues")
        state = self._state(handle)
        known = {
            pynvml.NVML_FI_DEV_POWER_INSTANT: state.power_mw,
            pynvml.NVML_FI_DEV_POWER_CURRENT_LIMIT: self._cards[handle.card].limit_mw,
            pynvml.NVML_FI_DEV_MEMORY_TEMP: state.temperature + 8,
        }
        values = []
        for field_id in field_ids:
            supported = field_id in known and f"field:{field_id}" not in card.unsupported
            values.append(
                SimpleNamespace(
                    fieldId=field_id,
                    nvmlReturn=pynvml.NVML_SUCCESS
                    if supported
                    else pynvml.NVML_ERROR_NOT_SUPPORTED,
                    valueType=pynvml.NVML_VALUE_TYPE_UNSIGNED_INT,
                    value=SimpleNamespace(uiVal=known.get(field_id, 0) if supported else 0),
                )
            )
        return values

    def nvmlDeviceGetGraphicsRunningProcesses(  # noqa: N802
        self, handle: _Handle
    ) -> list[SimpleNamespace]:
        return self._processes(handle, "graphics", "nvmlDeviceGetGraphicsRunningProcesses")

    def nvmlDeviceGetComputeRunningProcesses(  # noqa: N802
        self, handle: _Handle
    ) -> list[SimpleNamespace]:
        return self._processes(handle, "compute", "nvmlDeviceGetComputeRunningProcesses")

    # ------------------------------------------------------------------ device: MIG

    def nvmlDeviceGetMigMode(self, handle: _Handle) -> list[int]:  # noqa: N802
        card = self._check(handle, "nvmlDeviceGetMigMode")
        enabled = pynvml.NVML_DEVICE_MIG_ENABLE if card.mig else pynvml.NVML_DEVICE_MIG_DISABLE
        return [enabled, enabled]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: _Handle) -> int:  # noqa: N802
        card = self._check(handle, "nvmlDeviceGetMaxMigDeviceCount")
        return 7 if card.mig is not None else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(  # noqa: N802
        self, handle: _Handle, slot: int
    ) -> _Handle:
        card = self._check(handle, "nvmlDeviceGetMigDeviceHandleByIndex")
        if card.mig is None or slot >= len(card.mig):
            raise _error(pynvml.NVML_ERROR_NOT_FOUND)
        return _Handle(handle.card, slot)

    def nvmlDeviceGetGpuInstanceId(self, handle: _Handle) -> int:  # noqa: N802
        return self._mig_of(handle, "nvmlDeviceGetGpuInstanceId").gpu_instance_id

    def nvmlDeviceGetComputeInstanceId(self, handle: _Handle) -> int:  # noqa: N802
        return self._mig_of(handle, "nvmlDeviceGetComputeInstanceId").compute_instance_id

    # ----------------------------------------------------------------------- plumbing

    def _require_init(self) -> None:
        self.calls += 1
        if not self.initialised:
            raise _error(pynvml.NVML_ERROR_UNINITIALIZED)

    def _require_root(self) -> None:
        if not self.root:
            raise _error(pynvml.NVML_ERROR_NO_PERMISSION)

    def _check(self, handle: _Handle, function: str) -> FakeCard:
        """The card behind ``handle``, or the error the real library would raise."""
        self._require_init()
        runtime = self._cards[handle.card]
        fault = runtime.fault
        if fault is not None:
            if fault.calls_left is not None:
                fault.calls_left -= 1
                if fault.calls_left <= 0:
                    runtime.fault = None
            raise _error(fault.code)
        card = runtime.card
        if function in card.unsupported:
            raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)
        if function in card.deprecated:
            raise _error(pynvml.NVML_ERROR_DEPRECATED)
        return card

    def _mig_of(self, handle: _Handle, function: str) -> FakeMig:
        card = self._check(handle, function)
        if handle.mig is None or card.mig is None:
            raise _error(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return card.mig[handle.mig]

    def _state(self, handle: _Handle) -> FakeState:
        """The card's readings now: idle, load, or between, as the cycle goes."""
        card = self._cards[handle.card].card
        if card.load is None:
            return card.idle
        phase = 0.5 - 0.5 * math.cos(2 * math.pi * self._clock() / LOAD_CYCLE_S)
        low, high = card.idle, card.load
        mixed = {
            name: round(getattr(low, name) + (getattr(high, name) - getattr(low, name)) * phase)
            for name in (
                "utilization_gpu",
                "utilization_memory",
                "clock_graphics",
                "clock_sm",
                "clock_memory",
                "temperature",
                "power_mw",
                "memory_used_mib",
            )
        }
        nearer = high if phase >= 0.5 else low
        return replace(
            nearer, **mixed, fan_pct=nearer.fan_pct if low.fan_pct is not None else None
        )

    def _processes(self, handle: _Handle, kind: str, function: str) -> list[SimpleNamespace]:
        self._check(handle, function)
        runtime = self._cards[handle.card]
        entries = [
            SimpleNamespace(pid=pid, usedGpuMemory=None if used is None else used * MIB)
            for pid, each_kind, used in (*runtime.card.processes, *runtime.extra_processes)
            if each_kind == kind
        ]
        if self.garbage_processes:
            entries += [
                SimpleNamespace(pid=0, usedGpuMemory=0),
                SimpleNamespace(pid=3_735_928_559, usedGpuMemory=2**63),
            ]
        return entries


def _clock_of(clocks: tuple[int, int, int], clock: int) -> int:
    if clock == pynvml.NVML_CLOCK_GRAPHICS:
        return clocks[0]
    if clock == pynvml.NVML_CLOCK_SM:
        return clocks[1]
    if clock == pynvml.NVML_CLOCK_MEM:
        return clocks[2]
    raise _error(pynvml.NVML_ERROR_NOT_SUPPORTED)


def fake_machine(name: str) -> FakeMachine:
    """The fake machine called ``name``; ValueError lists the names there are."""
    try:
        return MODELS[name.strip().lower()]
    except KeyError:
        shown = repr(name) if len(name) <= 40 else f"{name[:40]!r}..."
        raise ValueError(
            f"{FAKE_GPU_ENV}={shown} names no fake GPU: use one of {', '.join(MODELS)}"
        ) from None


def backend_from_env(
    environ: Mapping[str, str], clock: Callable[[], float] = time.monotonic
) -> NvmlBackend:
    """The NVML backend to use: the fake that $GEARSHIFT_FAKE_GPU names, else the real
    library. ValueError (naming the models) when the variable names no model."""
    name = environ.get(FAKE_GPU_ENV, "").strip()
    if name:
        # The fake card answers as to a user without root, whoever runs the tests.
        return NvmlBackend(FakeNvml(fake_machine(name), clock), is_root=False)
    return NvmlBackend()
