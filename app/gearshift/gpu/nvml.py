"""The NVML adapter: the one module that talks to NVIDIA's management library.

Everything NVML answers is turned into Gearshift's own values here, once:

- a reading the card does not give (NOT_SUPPORTED, NO_DATA, DEPRECATED, a function
  the library lacks) becomes None, shown as N/A;
- a GPU that stops answering (GPU_IS_LOST, UNKNOWN) raises GpuDeviceError, so the
  sampler can mark that one GPU lost and keep the others;
- a library that cannot start raises GpuUnavailableError with what would fix it.

The library is passed in: ``pynvml`` in the app, ``gearshift.gpu.fake.FakeNvml`` in
tests and demos. Both are called through the same function names, so the fake runs
this adapter's real code.

Notes:
    NVML calls block (a lost GPU can hold one for seconds), so callers run them on a
    worker thread, never on the event loop.
"""

from __future__ import annotations

import enum
import logging
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pynvml

from gearshift.gpu.errors import (
    GpuControlError,
    GpuDeviceError,
    GpuUnavailableError,
    Unavailability,
)
from gearshift.gpu.model import DriverInfo, GpuInfo, GpuProcess, GpuReadings, MigInstance

_log = logging.getLogger(__name__)

NvmlLibrary = Any
"""pynvml, or a fake with the same function names (pynvml ships no type hints)."""

MIB = 1024.0 * 1024.0

PID_MAX = 4_194_304
"""The largest process id Linux can hand out (PID_MAX_LIMIT on 64-bit kernels)."""

_MISSING = frozenset(
    {
        pynvml.NVML_ERROR_NOT_SUPPORTED,
        pynvml.NVML_ERROR_NO_DATA,
        pynvml.NVML_ERROR_DEPRECATED,
        pynvml.NVML_ERROR_FUNCTION_NOT_FOUND,
        pynvml.NVML_ERROR_NOT_FOUND,
        pynvml.NVML_ERROR_NO_PERMISSION,
        pynvml.NVML_ERROR_INVALID_ARGUMENT,
        pynvml.NVML_ERROR_NOT_READY,
        pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH,
    }
)
"""Answers that mean 'this reading is not available here', not 'this GPU is gone'."""

_GONE_WORDS = {
    pynvml.NVML_ERROR_GPU_IS_LOST: "it fell off the bus (GPU is lost); check the card "
    "and its power, then restart the machine",
    pynvml.NVML_ERROR_UNKNOWN: "NVML answered 'unknown error'",
    pynvml.NVML_ERROR_GPU_NOT_FOUND: "NVML no longer finds it",
    pynvml.NVML_ERROR_TIMEOUT: "it did not answer in time",
    pynvml.NVML_ERROR_RESET_REQUIRED: "it needs a reset (nvidia-smi -r, or a reboot)",
    pynvml.NVML_ERROR_IRQ_ISSUE: "its interrupts are not arriving",
    pynvml.NVML_ERROR_UNINITIALIZED: "NVML was shut down under it",
}
"""Answers that mean the GPU itself stopped answering, with what to tell the player."""

_CONTROL_WORDS = {
    pynvml.NVML_ERROR_NO_PERMISSION: "it needs root (Gearshift's privileged helper)",
    pynvml.NVML_ERROR_NOT_SUPPORTED: "this card or driver does not support it",
    pynvml.NVML_ERROR_INVALID_ARGUMENT: "the value is outside what the card accepts",
    pynvml.NVML_ERROR_FUNCTION_NOT_FOUND: "this driver's NVML lacks the function",
}
"""Why a change was refused, in words, by NVML's answer."""

ARCHITECTURES = {
    pynvml.NVML_DEVICE_ARCH_KEPLER: "Kepler",
    pynvml.NVML_DEVICE_ARCH_MAXWELL: "Maxwell",
    pynvml.NVML_DEVICE_ARCH_PASCAL: "Pascal",
    pynvml.NVML_DEVICE_ARCH_VOLTA: "Volta",
    pynvml.NVML_DEVICE_ARCH_TURING: "Turing",
    pynvml.NVML_DEVICE_ARCH_AMPERE: "Ampere",
    pynvml.NVML_DEVICE_ARCH_ADA: "Ada Lovelace",
    pynvml.NVML_DEVICE_ARCH_HOPPER: "Hopper",
    pynvml.NVML_DEVICE_ARCH_BLACKWELL: "Blackwell",
    getattr(pynvml, "NVML_DEVICE_ARCH_RUBIN", 13): "Rubin",
}
"""NVML's architecture numbers (also their order, Kepler 2 to Blackwell 10) by name."""

BRANDS = {
    pynvml.NVML_BRAND_GEFORCE: "GeForce",
    pynvml.NVML_BRAND_GEFORCE_RTX: "GeForce",
    pynvml.NVML_BRAND_TITAN: "Titan",
    pynvml.NVML_BRAND_TITAN_RTX: "Titan",
    pynvml.NVML_BRAND_QUADRO: "Quadro",
    pynvml.NVML_BRAND_QUADRO_RTX: "Quadro",
    pynvml.NVML_BRAND_NVIDIA_RTX: "NVIDIA RTX",
    pynvml.NVML_BRAND_TESLA: "Tesla",
    pynvml.NVML_BRAND_NVIDIA: "NVIDIA",
    pynvml.NVML_BRAND_NVS: "NVS",
    pynvml.NVML_BRAND_GRID: "GRID",
}

DRIVER_MODELS = {
    pynvml.NVML_DRIVER_WDDM: "WDDM",
    pynvml.NVML_DRIVER_WDM: "TCC",
    pynvml.NVML_DRIVER_MCDM: "MCDM",
}

THROTTLE_REASONS = (
    (pynvml.nvmlClocksEventReasonGpuIdle, "idle"),
    (pynvml.nvmlClocksEventReasonApplicationsClocksSetting, "application clocks setting"),
    (pynvml.nvmlClocksEventReasonSwPowerCap, "power cap"),
    (pynvml.nvmlClocksEventReasonHwSlowdown, "hardware slowdown"),
    (pynvml.nvmlClocksEventReasonSyncBoost, "sync boost"),
    (pynvml.nvmlClocksEventReasonSwThermalSlowdown, "thermal limit"),
    (pynvml.nvmlClocksEventReasonHwThermalSlowdown, "hardware thermal slowdown"),
    (pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown, "power brake"),
    (pynvml.nvmlClocksEventReasonDisplayClockSetting, "display clock setting"),
)
"""Clock-event (throttle) reason bits and the words players read for them."""

_POWER_FIELDS = (
    pynvml.NVML_FI_DEV_POWER_INSTANT,
    pynvml.NVML_FI_DEV_POWER_CURRENT_LIMIT,
    pynvml.NVML_FI_DEV_MEMORY_TEMP,
)
"""Readings fetched in one batched field-value call: power now (mW), the power limit in
force (mW), memory temperature (°C)."""


def decode_throttle_reasons(mask: int) -> tuple[str, ...]:
    """The clock-event bit mask in words; unknown bits are named by their value."""
    words = [word for bit, word in THROTTLE_REASONS if mask & bit]
    known = 0
    for bit, _ in THROTTLE_REASONS:
        known |= bit
    unknown = mask & ~known
    if unknown:
        words.append(f"reason 0x{unknown:x}")
    return tuple(words)


class Outcome(enum.Enum):
    """How NVML answered a question about a control, for the capability probe."""

    SUPPORTED = "supported"
    """It answered: the card has the feature."""

    NOT_SUPPORTED = "not_supported"
    """NOT_SUPPORTED: this card or driver lacks it."""

    DEPRECATED = "deprecated"
    """DEPRECATED: this NVML no longer offers it."""

    NO_PERMISSION = "no_permission"
    """NO_PERMISSION: it exists, but not for this user."""

    OTHER = "other"
    """Any other answer."""


@dataclass(frozen=True)
class ControlFacts:
    """What NVML says about the controls a mode may use, before anything is changed.

    Attributes:
        power_limit_range: whether the card reports a power-limit range to set within.
        application_clocks: how NVML answered for application clocks.
        memory_clock_list: how NVML answered for the list of supported memory clocks.
        persistence_mode: how NVML answered for persistence mode.
        application_clocks_need_root: True when NVML restricts setting them to root.
        privileged: whether Gearshift runs with root (it never should; the helper will).
    """

    power_limit_range: bool
    application_clocks: Outcome
    memory_clock_list: Outcome
    persistence_mode: Outcome
    application_clocks_need_root: bool | None
    privileged: bool


def _text(value: object) -> str:
    """NVML strings come as bytes from older bindings and str from newer ones."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _outcome(code: int) -> Outcome:
    if code == pynvml.NVML_ERROR_NOT_SUPPORTED:
        return Outcome.NOT_SUPPORTED
    if code == pynvml.NVML_ERROR_DEPRECATED:
        return Outcome.DEPRECATED
    if code == pynvml.NVML_ERROR_NO_PERMISSION:
        return Outcome.NO_PERMISSION
    return Outcome.OTHER


def unavailable_from(code: int) -> GpuUnavailableError:
    """The start-up failure for NVML error ``code``, in words with what would fix it."""
    if code == pynvml.NVML_ERROR_LIBRARY_NOT_FOUND:
        return GpuUnavailableError(
            Unavailability.NO_LIBRARY,
            "no GPU telemetry: NVIDIA's management library (libnvidia-ml) is not on this "
            "machine; it comes with NVIDIA's driver, so an NVIDIA GPU with that driver "
            "installed enables it (AMD and Intel GPUs are not read yet)",
        )
    if code == pynvml.NVML_ERROR_DRIVER_NOT_LOADED:
        return GpuUnavailableError(
            Unavailability.NO_DRIVER,
            "no GPU telemetry: the NVIDIA kernel driver is not loaded; load it "
            "(modprobe nvidia) or check that the card is seated and powered",
        )
    if code == pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH:
        return GpuUnavailableError(
            Unavailability.VERSION_MISMATCH,
            "no GPU telemetry: the NVIDIA driver was updated but the old one is still "
            "running; reboot to use the new one",
        )
    if code == pynvml.NVML_ERROR_NO_PERMISSION:
        return GpuUnavailableError(
            Unavailability.NO_PERMISSION,
            "no GPU telemetry: no permission to open the NVIDIA device files "
            "(/dev/nvidiactl, /dev/nvidia0); give your user read and write access to "
            "them (often membership of the group that owns them, such as 'video')",
        )
    return GpuUnavailableError(
        Unavailability.OTHER,
        f"no GPU telemetry: NVML could not start ({_error_name(code)})",
    )


def _error_name(code: int) -> str:
    try:
        return str(pynvml.nvmlErrorString(code))
    except Exception:  # the real library may not be loaded to name it
        return f"NVML error {code}"


class NvmlBackend:
    """Reads GPUs through an NVML library.

    Args:
        library: pynvml (the default) or a fake with the same function names.
        is_root: whether this process runs as root; read from the OS by default.
    """

    def __init__(self, library: NvmlLibrary = None, *, is_root: bool | None = None) -> None:
        self._nvml = library if library is not None else pynvml
        self._is_root = _running_as_root() if is_root is None else is_root
        self._handles: dict[int, Any] = {}
        self._mig_handles: dict[int, list[Any]] = {}
        self._memory_total_mib: dict[int, float | None] = {}
        self._open = False
        event_reasons = getattr(self._nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
        self._clock_events = event_reasons or getattr(
            self._nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None
        )

    # ------------------------------------------------------------------- start and stop

    def open(self) -> DriverInfo:
        """Start NVML. Raises GpuUnavailableError with what would fix it."""
        try:
            self._nvml.nvmlInit()
        except pynvml.NVMLError as error:
            raise unavailable_from(error.value) from None
        except OSError as error:  # a library that is there but cannot be loaded
            raise GpuUnavailableError(
                Unavailability.NO_LIBRARY, f"no GPU telemetry: libnvidia-ml cannot load ({error})"
            ) from None
        self._open = True
        cuda = self._quiet(self._nvml.nvmlSystemGetCudaDriverVersion)
        return DriverInfo(
            driver_version=_maybe_text(self._quiet(self._nvml.nvmlSystemGetDriverVersion)),
            nvml_version=_maybe_text(self._quiet(self._nvml.nvmlSystemGetNVMLVersion)),
            cuda_version=None if cuda is None else f"{cuda // 1000}.{cuda % 1000 // 10}",
        )

    def close(self) -> None:
        """Shut NVML down (safe to call twice)."""
        if self._open:
            self._open = False
            self._handles.clear()
            self._mig_handles.clear()
            try:
                self._nvml.nvmlShutdown()
            except pynvml.NVMLError as error:
                _log.debug("nvmlShutdown: %s", error)

    def count(self) -> int:
        """How many GPUs NVML sees. Raises GpuUnavailableError when it sees none."""
        try:
            count = int(self._nvml.nvmlDeviceGetCount())
        except pynvml.NVMLError as error:
            raise unavailable_from(error.value) from None
        if count == 0:
            raise GpuUnavailableError(
                Unavailability.NO_GPU, "no GPU telemetry: the NVIDIA driver finds no GPU"
            )
        return count

    # ------------------------------------------------------------------------- reading

    def describe(self, index: int) -> GpuInfo:
        """The card at ``index``. Raises GpuDeviceError if it does not answer."""
        nvml = self._nvml
        handle = self._handle(index, fresh=True)
        read = self._reader(index)
        name = read(nvml.nvmlDeviceGetName, handle)
        pci = read(nvml.nvmlDeviceGetPciInfo, handle)
        arch = read(nvml.nvmlDeviceGetArchitecture, handle)
        memory = read(nvml.nvmlDeviceGetMemoryInfo, handle)
        limits = read(nvml.nvmlDeviceGetPowerManagementLimitConstraints, handle)
        display = read(nvml.nvmlDeviceGetDisplayActive, handle)
        mig = read(nvml.nvmlDeviceGetMigMode, handle)
        mig_enabled = None if mig is None else bool(mig[0] == pynvml.NVML_DEVICE_MIG_ENABLE)
        total_mib = None if memory is None else memory.total / MIB
        self._memory_total_mib[index] = total_mib
        brand = read(nvml.nvmlDeviceGetBrand, handle)
        driver_model = read(nvml.nvmlDeviceGetDriverModel, handle)
        if isinstance(driver_model, list | tuple):  # (current, pending)
            driver_model = driver_model[0]
        return GpuInfo(
            index=index,
            name=_text(name) if name is not None else f"GPU {index}",
            uuid=_maybe_text(read(nvml.nvmlDeviceGetUUID, handle)),
            pci_bus_id=None if pci is None else _text(pci.busId),
            brand=None if brand is None else BRANDS.get(brand, f"brand {brand}"),
            architecture=None if arch is None else ARCHITECTURES.get(arch),
            generation=arch if arch in ARCHITECTURES else None,
            memory_total_mib=total_mib,
            power_default_w=_watts(read(nvml.nvmlDeviceGetPowerManagementDefaultLimit, handle)),
            power_limit_w=_watts(read(nvml.nvmlDeviceGetPowerManagementLimit, handle)),
            power_min_w=None if limits is None else _watts(limits[0]),
            power_max_w=None if limits is None else _watts(limits[1]),
            max_graphics_clock_mhz=_number(
                read(nvml.nvmlDeviceGetMaxClockInfo, handle, pynvml.NVML_CLOCK_GRAPHICS)
            ),
            max_sm_clock_mhz=_number(
                read(nvml.nvmlDeviceGetMaxClockInfo, handle, pynvml.NVML_CLOCK_SM)
            ),
            max_memory_clock_mhz=_number(
                read(nvml.nvmlDeviceGetMaxClockInfo, handle, pynvml.NVML_CLOCK_MEM)
            ),
            display_active=None if display is None else bool(display),
            mig_enabled=mig_enabled,
            mig_instances=self._mig_instances(index, handle) if mig_enabled else (),
            driver_model=None if driver_model is None else DRIVER_MODELS.get(driver_model),
        )

    def sample(self, index: int, at_s: float) -> GpuReadings:
        """Every live reading of the GPU at ``index``, taken now.

        Raises GpuDeviceError if the GPU does not answer.
        """
        nvml = self._nvml
        handle = self._handle(index)
        read = self._reader(index)
        rates = read(nvml.nvmlDeviceGetUtilizationRates, handle)
        memory = read(nvml.nvmlDeviceGetMemoryInfo, handle)
        power_mw, limit_mw, memory_temp_c = self._power_fields(index, handle)
        pstate = read(nvml.nvmlDeviceGetPerformanceState, handle)
        reasons = None if self._clock_events is None else read(self._clock_events, handle)
        return GpuReadings(
            at_s=at_s,
            utilization_gpu_pct=None if rates is None else float(rates.gpu),
            utilization_memory_pct=None if rates is None else float(rates.memory),
            clock_graphics_mhz=_number(
                read(nvml.nvmlDeviceGetClockInfo, handle, pynvml.NVML_CLOCK_GRAPHICS)
            ),
            clock_sm_mhz=_number(read(nvml.nvmlDeviceGetClockInfo, handle, pynvml.NVML_CLOCK_SM)),
            clock_memory_mhz=_number(
                read(nvml.nvmlDeviceGetClockInfo, handle, pynvml.NVML_CLOCK_MEM)
            ),
            temperature_c=_number(
                read(nvml.nvmlDeviceGetTemperature, handle, pynvml.NVML_TEMPERATURE_GPU)
            ),
            memory_temperature_c=memory_temp_c,
            power_w=_watts(power_mw),
            power_limit_w=_watts(limit_mw),
            fan_pct=_number(read(nvml.nvmlDeviceGetFanSpeed, handle)),
            memory_used_mib=None if memory is None else memory.used / MIB,
            performance_state=(
                None if pstate is None or pstate == pynvml.NVML_PSTATE_UNKNOWN else int(pstate)
            ),
            throttle_reasons=None if reasons is None else decode_throttle_reasons(int(reasons)),
            mig_instances=self._mig_readings(index),
        )

    def processes(self, index: int) -> tuple[GpuProcess, ...]:
        """The processes on the GPU at ``index``, without entries no process can have.

        Bindings older than the driver misread NVML's process records and produce ids
        of 0 or beyond any possible process; those entries are dropped, and a memory
        figure larger than the card is N/A.
        """
        nvml = self._nvml
        handle = self._handle(index)
        read = self._reader(index)
        total_mib = self._memory_total_mib.get(index)
        found: dict[int, GpuProcess] = {}
        lists = (
            ("graphics", nvml.nvmlDeviceGetGraphicsRunningProcesses),
            ("compute", nvml.nvmlDeviceGetComputeRunningProcesses),
        )
        for kind, call in lists:
            for entry in read(call, handle) or ():
                pid = int(getattr(entry, "pid", 0) or 0)
                if not _plausible_pid(pid) or pid in found:
                    continue
                used = getattr(entry, "usedGpuMemory", None)
                used_mib = None if used is None else used / MIB
                if used_mib is not None and total_mib is not None and used_mib > total_mib:
                    used_mib = None
                found[pid] = GpuProcess(pid=pid, used_memory_mib=used_mib, kind=kind)
        return tuple(found.values())

    def control_facts(self, index: int) -> ControlFacts:
        """What NVML says about the controls a mode may use on the GPU at ``index``."""
        nvml = self._nvml
        handle = self._handle(index)
        read = self._reader(index)
        limits = read(nvml.nvmlDeviceGetPowerManagementLimitConstraints, handle)
        restriction = read(
            nvml.nvmlDeviceGetAPIRestriction,
            handle,
            pynvml.NVML_RESTRICTED_API_SET_APPLICATION_CLOCKS,
        )
        return ControlFacts(
            power_limit_range=limits is not None and limits[0] < limits[1],
            application_clocks=self._ask(
                index, nvml.nvmlDeviceGetApplicationsClock, handle, pynvml.NVML_CLOCK_GRAPHICS
            ),
            memory_clock_list=self._ask(index, nvml.nvmlDeviceGetSupportedMemoryClocks, handle),
            persistence_mode=self._ask(index, nvml.nvmlDeviceGetPersistenceMode, handle),
            application_clocks_need_root=None if restriction is None else bool(restriction),
            privileged=self._is_root,
        )

    # ------------------------------------------------------------------------ control

    def power_limit_mw(self, index: int) -> int | None:
        """The power limit set on the GPU at ``index`` now, in milliwatts (None: N/A)."""
        handle = self._handle(index)
        value = self._reader(index)(self._nvml.nvmlDeviceGetPowerManagementLimit, handle)
        return None if value is None else int(value)

    def set_power_limit_mw(self, index: int, limit_mw: int) -> None:
        """Set the GPU's power limit, in milliwatts. Needs root.

        Raises:
            GpuControlError: refused (no permission, not supported, out of range).
            GpuDeviceError: the GPU stopped answering.
        """
        change = f"a power limit of {limit_mw / 1000:g} W"
        self._change(index, change, self._nvml.nvmlDeviceSetPowerManagementLimit, limit_mw)

    def set_locked_clocks_mhz(self, index: int, min_mhz: int, max_mhz: int) -> None:
        """Lock the GPU's graphics clock between ``min_mhz`` and ``max_mhz``. Needs root
        and Volta or newer; raises as set_power_limit_mw does."""
        change = f"locking its graphics clock to {min_mhz}-{max_mhz} MHz"
        self._change(index, change, self._nvml.nvmlDeviceSetGpuLockedClocks, min_mhz, max_mhz)

    def reset_locked_clocks(self, index: int) -> None:
        """Let the GPU's graphics clock float again; raises as set_power_limit_mw does."""
        self._change(
            index, "unlocking its graphics clock", self._nvml.nvmlDeviceResetGpuLockedClocks
        )

    def _change(self, index: int, change: str, call: Callable[..., Any], *args: Any) -> None:
        handle = self._handle(index)
        try:
            call(handle, *args)
        except pynvml.NVMLError as error:
            code = error.value
            if code in _GONE_WORDS:
                raise GpuDeviceError(index, _GONE_WORDS[code]) from None
            raise GpuControlError(
                index, change, _CONTROL_WORDS.get(code, _error_name(code))
            ) from None

    # ------------------------------------------------------------------------ plumbing

    def _handle(self, index: int, fresh: bool = False) -> Any:
        if fresh or index not in self._handles:
            self._handles[index] = self._reader(index, missing_ok=False)(
                self._nvml.nvmlDeviceGetHandleByIndex, index
            )
        return self._handles[index]

    def _reader(self, index: int, missing_ok: bool = True) -> Callable[..., Any]:
        """A caller of NVML functions for GPU ``index``: missing readings become None,
        a GPU that stopped answering raises GpuDeviceError."""

        def read(call: Callable[..., Any], *args: Any) -> Any:
            try:
                return call(*args)
            except pynvml.NVMLError as error:
                code = error.value
                if code in _MISSING and missing_ok:
                    return None
                raise GpuDeviceError(index, _GONE_WORDS.get(code, _error_name(code))) from None

        return read

    def _ask(self, index: int, call: Callable[..., Any], *args: Any) -> Outcome:
        try:
            call(*args)
        except pynvml.NVMLError as error:
            if error.value in _GONE_WORDS:
                raise GpuDeviceError(index, _GONE_WORDS[error.value]) from None
            return _outcome(error.value)
        return Outcome.SUPPORTED

    def _quiet(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (pynvml.NVMLError, AttributeError):
            return None

    def _power_fields(self, index: int, handle: Any) -> tuple[Any, Any, float | None]:
        """Power now (mW), the limit in force (mW) and memory temperature (°C).

        One batched field-value call where the driver offers it; the single calls where
        it does not (older drivers), so the power reading survives either way.
        """
        read = self._reader(index)
        values = read(self._nvml.nvmlDeviceGetFieldValues, handle, list(_POWER_FIELDS))
        batch = {}
        for value in values or ():
            if value.nvmlReturn == pynvml.NVML_SUCCESS:
                batch[value.fieldId] = _field_number(value)
        power_mw = batch.get(pynvml.NVML_FI_DEV_POWER_INSTANT)
        if power_mw is None:
            power_mw = read(self._nvml.nvmlDeviceGetPowerUsage, handle)
        limit_mw = batch.get(pynvml.NVML_FI_DEV_POWER_CURRENT_LIMIT)
        if limit_mw is None:
            limit_mw = read(self._nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
        return power_mw, limit_mw, _number(batch.get(pynvml.NVML_FI_DEV_MEMORY_TEMP))

    def _mig_instances(self, index: int, handle: Any) -> tuple[MigInstance, ...]:
        """Find the card's MIG instances (keeping their handles) and describe each."""
        read = self._reader(index)
        handles = []
        for slot in range(int(read(self._nvml.nvmlDeviceGetMaxMigDeviceCount, handle) or 0)):
            mig = read(self._nvml.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
            if mig is not None:  # an empty slot answers NOT_FOUND
                handles.append(mig)
        self._mig_handles[index] = handles
        return self._mig_readings(index, named=True)

    def _mig_readings(self, index: int, named: bool = False) -> tuple[MigInstance, ...]:
        """Each MIG instance's ids and memory now (its name too when ``named``)."""
        nvml = self._nvml
        read = self._reader(index)
        instances = []
        for slot, mig in enumerate(self._mig_handles.get(index, ())):
            memory = read(nvml.nvmlDeviceGetMemoryInfo, mig)
            instances.append(
                MigInstance(
                    index=slot,
                    uuid=_maybe_text(read(nvml.nvmlDeviceGetUUID, mig)),
                    name=_maybe_text(read(nvml.nvmlDeviceGetName, mig)) if named else None,
                    gpu_instance_id=_int(read(nvml.nvmlDeviceGetGpuInstanceId, mig)),
                    compute_instance_id=_int(read(nvml.nvmlDeviceGetComputeInstanceId, mig)),
                    memory_total_mib=None if memory is None else memory.total / MIB,
                    memory_used_mib=None if memory is None else memory.used / MIB,
                )
            )
        return tuple(instances)


def _running_as_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return bool(geteuid is not None and geteuid() == 0 and sys.platform != "win32")


def _plausible_pid(pid: int) -> bool:
    if sys.platform.startswith("linux"):
        return 0 < pid <= PID_MAX
    return 0 < pid < 2**32


def _maybe_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: object) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _watts(milliwatts: object) -> float | None:
    number = _number(milliwatts)
    return None if number is None else number / 1000.0


_FIELD_UNION_MEMBERS = {
    pynvml.NVML_VALUE_TYPE_DOUBLE: "dVal",
    pynvml.NVML_VALUE_TYPE_UNSIGNED_INT: "uiVal",
    pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG: "ulVal",
    pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: "ullVal",
    pynvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG: "sllVal",
    pynvml.NVML_VALUE_TYPE_SIGNED_INT: "siVal",
    pynvml.NVML_VALUE_TYPE_UNSIGNED_SHORT: "usVal",
}
"""Which member of a field value's union holds its number, by its declared type."""


def _field_number(value: Any) -> float | None:
    """The number in an NVML field value, by its declared type."""
    member = _FIELD_UNION_MEMBERS.get(value.valueType)
    return None if member is None else _number(getattr(value.value, member))
