"""The errors of the GPU side, in one small tree.

::

    GearshiftError
    └── GpuError                  something about the GPUs went wrong
        ├── GpuUnavailableError   no GPU telemetry at all (no driver, a version
        │                         mismatch after an update, no permission, no GPU)
        ├── GpuDeviceError        one GPU stopped answering; the others go on
        └── GpuControlError       a GPU refused a change (clocks, power limit)

Each ``str()`` is one line for a person that says what would fix it. NVML's own error
codes are turned into these in one place, ``gearshift.gpu.nvml``.
"""

from __future__ import annotations

import enum

from gearshift.core.errors import GearshiftError


class Unavailability(enum.Enum):
    """Why there is no GPU telemetry at all."""

    NO_LIBRARY = "no_library"
    """libnvidia-ml is not installed: no NVIDIA driver (most AMD and Intel machines)."""

    NO_DRIVER = "no_driver"
    """The library is there but the kernel driver is not loaded."""

    VERSION_MISMATCH = "version_mismatch"
    """The driver was updated and the old one still runs: a reboot fixes it."""

    NO_PERMISSION = "no_permission"
    """The user may not open the NVIDIA device files."""

    NO_GPU = "no_gpu"
    """The driver runs but finds no NVIDIA GPU."""

    OTHER = "other"
    """Anything else NVML answered at start-up."""


class GpuError(GearshiftError):
    """Something about the GPUs went wrong."""


class GpuUnavailableError(GpuError):
    """There is no GPU telemetry on this machine now; ``kind`` says why."""

    def __init__(self, kind: Unavailability, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class GpuDeviceError(GpuError):
    """One GPU did not answer (lost from the bus, or NVML's 'unknown error')."""

    def __init__(self, index: int, reason: str) -> None:
        self.index = index
        self.reason = reason
        super().__init__(f"GPU {index} is not answering: {reason}")


class GpuControlError(GpuError):
    """A GPU refused a change: no permission, not supported, or a value out of range."""

    def __init__(self, index: int, change: str, reason: str) -> None:
        self.index = index
        self.change = change
        self.reason = reason
        super().__init__(f"GPU {index} refused {change}: {reason}")
