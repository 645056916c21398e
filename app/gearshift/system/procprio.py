"""The game's processes: CPU priority (nice), I/O priority and, optionally, CPU affinity.

The action reads each game process's settings, raises its priority, and on revert puts
back what it read, but only to the same process: a pid whose process has exited (or
been replaced by another with the same pid) is forgotten, not touched.

Without CAP_SYS_NICE a user may only lower a process's priority; a nice value the
kernel would refuse is left as it was, and the log says why, instead of failing the
whole switch over it.
"""

from __future__ import annotations

import logging
import os
import resource
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import psutil

from gearshift.core.actions import JsonValue, Restorer
from gearshift.core.errors import ActionError

_log = logging.getLogger(__name__)

IO_CLASSES: Mapping[str, int] = {
    "realtime": psutil.IOPRIO_CLASS_RT,
    "best-effort": psutil.IOPRIO_CLASS_BE,
    "idle": psutil.IOPRIO_CLASS_IDLE,
}
"""The I/O scheduling classes a profile may name."""

Pids = Callable[[], Iterable[int]]
"""The game's process ids now (from automatic switching's process watcher)."""


def nice_floor() -> int:
    """The lowest nice value this user may set (CAP_SYS_NICE or RLIMIT_NICE allowing)."""
    if os.geteuid() == 0:
        return -20
    soft, _hard = resource.getrlimit(resource.RLIMIT_NICE)
    if soft == resource.RLIM_INFINITY:
        return -20
    return max(-20, 20 - int(soft))


class ProcessPriorityAction:
    """Raises the game processes' CPU and I/O priority (and pins them, if asked).

    Args:
        pids: the game's processes; read when the switch applies the action.
        nice: the nice value to set, or None to leave it.
        io_class: "best-effort", "idle" or "realtime", or None to leave the I/O priority.
        io_level: the level within the class, 0 (highest) to 7.
        cpus: the CPUs to pin the processes to, or None to leave the affinity.
    """

    kind = "process_priority"
    timeout_s = 2.0

    def __init__(
        self,
        pids: Pids,
        nice: int | None = None,
        io_class: str | None = None,
        io_level: int = 0,
        cpus: Sequence[int] | None = None,
    ) -> None:
        parts = [f"nice {nice}" if nice is not None else None]
        parts.append(f"I/O {io_class} {io_level}" if io_class else None)
        parts.append(f"CPUs {','.join(map(str, cpus))}" if cpus else None)
        self.name = "game priority (" + ", ".join(p for p in parts if p) + ")"
        self._pids = pids
        self._nice = nice
        self._io_class = io_class
        self._io_level = io_level
        self._cpus = list(cpus) if cpus else None
        self._previous: list[dict[str, JsonValue]] | None = None

    def record(self) -> Mapping[str, JsonValue]:
        """Read each game process's priority now: what revert() puts back."""
        found: list[dict[str, JsonValue]] = []
        for pid in sorted(set(self._pids())):
            try:
                found.append(_read(psutil.Process(pid)))
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
            except psutil.AccessDenied as error:
                raise ActionError(f"cannot read the priority of process {pid}: {error}") from error
        self._previous = found
        return {"processes": list(found)}

    async def apply(self) -> None:
        """Set the profile's priority on every process record() found alive."""
        if self._previous is None:
            self.record()
        assert self._previous is not None
        floor = nice_floor()
        for state in self._previous:
            process = _same_process(state)
            if process is None:
                continue
            try:
                self._set(process, state, floor)
            except psutil.NoSuchProcess:
                continue
            except psutil.AccessDenied as error:
                raise ActionError(
                    f"not allowed to change the priority of process {state['pid']}: {error}"
                ) from error

    async def revert(self) -> None:
        """Put back what record() read, on the processes still alive."""
        if self._previous is None:
            return
        await restore_priorities({"processes": list(self._previous)})
        self._previous = None

    def _set(self, process: psutil.Process, state: Mapping[str, Any], floor: int) -> None:
        if self._nice is not None:
            current = int(state["nice"])
            wanted = max(self._nice, min(floor, current)) if self._nice < current else self._nice
            if wanted == current and self._nice < current:
                _log.info(
                    "process %s keeps nice %d: %d needs CAP_SYS_NICE or a higher RLIMIT_NICE",
                    process.pid,
                    current,
                    self._nice,
                )
            elif wanted != current:
                process.nice(wanted)
        if self._io_class is not None:
            process.ionice(IO_CLASSES[self._io_class], self._io_level)
        if self._cpus is not None:
            process.cpu_affinity(self._cpus)


def _read(process: psutil.Process) -> dict[str, JsonValue]:
    with process.oneshot():
        io = process.ionice()
        return {
            "pid": process.pid,
            "created": process.create_time(),
            "nice": process.nice(),
            "io": [int(io.ioclass), int(io.value)],
            "cpus": list(process.cpu_affinity() or []),
        }


def _same_process(state: Mapping[str, Any]) -> psutil.Process | None:
    """The process ``state`` was read from, if it still runs; None once it exited."""
    try:
        process = psutil.Process(int(state["pid"]))
        if abs(process.create_time() - float(state["created"])) > 0.01:
            return None
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    return process


async def restore_priorities(record: Mapping[str, JsonValue]) -> None:
    """Put back the priorities a record holds; exited processes are forgotten."""
    processes = record.get("processes")
    if not isinstance(processes, list):
        raise ActionError(f"the journal record {dict(record)!r} lists no processes")
    refused: list[str] = []
    for state in processes:
        if not isinstance(state, dict):
            raise ActionError(f"the journal record {dict(record)!r} is not a process list")
        process = _same_process(state)
        if process is None:
            continue
        try:
            saved: dict[str, Any] = state
            io_class, io_level = saved["io"]
            process.ionice(int(io_class), int(io_level))
            process.nice(int(saved["nice"]))
            if saved.get("cpus"):
                process.cpu_affinity([int(c) for c in saved["cpus"]])
        except psutil.NoSuchProcess:
            continue
        except psutil.AccessDenied:
            refused.append(str(state.get("pid")))
    if refused:
        raise ActionError(
            f"not allowed to restore the priority of process {', '.join(refused)}: "
            "it keeps the higher one until it exits"
        )


RESTORER: Restorer = restore_priorities
