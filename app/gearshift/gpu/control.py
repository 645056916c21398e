"""GPU changes a mode makes (locked graphics clocks, the power limit), off the event loop.

``GpuControl`` runs the NVML adapter's setters on one worker thread of its own: NVML
calls block, and a GPU that is falling off the bus can hold one for seconds, so they
never run on the event loop, and the action's timeout bounds how long a switch waits.
It uses the same NvmlBackend (already opened) as the telemetry.

Notes:
    NVML has no call that reads back a graphics clock lock, so Gearshift cannot tell
    a lock someone else set (``nvidia-smi -lgc``) from none: undoing its own lock
    resets the clocks to floating, which also clears such an earlier lock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from typing import TypeVar

from gearshift.gpu.errors import GpuControlError
from gearshift.gpu.model import GpuInfo
from gearshift.gpu.nvml import NvmlBackend

_T = TypeVar("_T")


class GpuControl:
    """Makes and undoes GPU changes through an opened NvmlBackend.

    Args:
        backend: the NVML adapter (opened by the telemetry, or by the caller).
    """

    def __init__(self, backend: NvmlBackend) -> None:
        self.backend = backend
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="gearshift-gpu-control"
        )

    def power_limit_w_now(self, index: int) -> float | None:
        """The power limit in force on GPU ``index``, in watts, read at once (blocking:
        one NVML read, for an action's journal record)."""
        limit_mw = self.backend.power_limit_mw(index)
        return None if limit_mw is None else limit_mw / 1000.0

    async def power_limit_w(self, index: int) -> float | None:
        """The power limit in force on GPU ``index``, in watts (None: N/A)."""
        return await self._run(self.power_limit_w_now, index)

    async def set_power_limit_w(self, index: int, watts: float) -> None:
        """Set GPU ``index``'s power limit, in watts. Raises GpuControlError if refused,
        GpuDeviceError if the GPU stopped answering."""
        await self._run(self.backend.set_power_limit_mw, index, round(watts * 1000))

    async def lock_graphics_clocks(self, index: int, min_mhz: int, max_mhz: int) -> None:
        """Lock GPU ``index``'s graphics clock to ``min_mhz``..``max_mhz``."""
        await self._run(self.backend.set_locked_clocks_mhz, index, min_mhz, max_mhz)

    async def reset_graphics_clocks(self, index: int) -> None:
        """Let GPU ``index``'s graphics clock float again."""
        await self._run(self.backend.reset_locked_clocks, index)

    def find(self, uuid: str | None, index: int) -> GpuInfo:
        """The GPU with ``uuid`` (where given), else the one at ``index``; for restoring
        after a crash, when GPU indexes may have moved. Blocking."""
        if uuid is not None:
            for candidate in range(self.backend.count()):
                info = self.backend.describe(candidate)
                if info.uuid == uuid:
                    return info
            raise GpuControlError(index, "the restore", f"no GPU with UUID {uuid} is here now")
        return self.backend.describe(index)

    async def find_async(self, uuid: str | None, index: int) -> GpuInfo:
        """find(), on the worker thread."""
        return await self._run(self.find, uuid, index)

    def close(self) -> None:
        """Stop the worker thread without waiting on a call stuck in the driver."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, call: Callable[..., _T], *args: object) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(call, *args))
