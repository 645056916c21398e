"""The process table, read cheaply enough to look for games every few seconds.

Linux can announce every process start and exit (the netlink process connector), but
only to root, and Gearshift runs as the player; so this polls, with psutil, at the
settings' ``autoswitch.poll_s``. Each look lists the pids (one directory read of
/proc) and compares the set with the last one; only new pids have their name read, and
only a name that may be a listed game has its executable path and command line read.
The listed games found are checked each look, so a game that exited (or left a zombie
behind, or whose pid was reused) is noticed. ``bench/autoswitch.py`` measures the cost.

Two things a pid-set comparison alone would miss are covered:

- A launcher forks, then execs the game in the same pid (``sh -c``, ``gamemoderun``):
  a process younger than RECHECK_S has its name (only the name: /proc/PID/comm) read
  again on each look, and is looked at afresh when it changed.
- Linux cuts names to 15 characters: such a name is confirmed from the command line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

import psutil

from gearshift.core.autoswitch import COMM_LENGTH, Game, ProcessInfo, RunningGame, match_game

_log = logging.getLogger(__name__)

T = TypeVar("T")

_STARTTIME_FIELD = 19
"""The start time's index among /proc/PID/stat's fields after the name (field 22 of the
whole line, in clock ticks since boot)."""

_ENDED_STATES = frozenset({b"Z", b"X", b"x"})
"""Zombie and dead: the process ended, only its entry is left."""

RECHECK_S = 10.0
"""A process younger than this (seconds) has its name read again on each look, in case it
was a launcher that has since become the game by exec (wrappers exec within a second)."""

SCAN_TIMEOUT_S = 5.0
"""How long one look may take before the caller gives up on it, in seconds."""


class ProcessTable(Protocol):
    """The seam: what the watcher needs from the system's process table."""

    def pids(self) -> set[int]:
        """Every process id now."""

    def look(self, pid: int) -> ProcessInfo | None:
        """The process's name and start time; None when it is gone or a zombie."""

    def name(self, pid: int) -> str | None:
        """Only the process's name, as cheaply as the system allows; None when gone."""

    def details(self, process: ProcessInfo) -> ProcessInfo | None:
        """``process`` with its executable path and command line (None where they cannot
        be read); None when it is gone."""


class PsutilProcessTable:
    """The real process table, through psutil (and /proc directly on Linux).

    On Linux a look reads /proc/PID/stat once with plain os calls: it holds the name,
    the state and the start time, and costs about a twentieth of asking psutil for the
    same three (bench/autoswitch.py measured 160 us a process through psutil).
    """

    def __init__(self) -> None:
        self._linux = sys.platform.startswith("linux")
        self._boot_s = psutil.boot_time() if self._linux else 0.0
        self._tick_s = 1.0 / os.sysconf("SC_CLK_TCK") if self._linux else 0.0

    def pids(self) -> set[int]:
        """Every process id now (one read of /proc's listing on Linux)."""
        return set(psutil.pids())

    def look(self, pid: int) -> ProcessInfo | None:
        """Name and start time, read together; None for a gone or zombie process."""
        if self._linux:
            return self._look_in_proc(pid)
        try:
            process = psutil.Process(pid)
            with process.oneshot():
                if process.status() == psutil.STATUS_ZOMBIE:
                    return None
                return ProcessInfo(pid, process.name(), process.create_time())
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None
        except psutil.AccessDenied:
            return None  # not even the name: nothing to match on

    def name(self, pid: int) -> str | None:
        """The name from /proc/PID/comm on Linux (one small read), else from psutil."""
        if not self._linux:
            try:
                return str(psutil.Process(pid).name())
            except psutil.Error:
                return None
        try:
            handle = os.open(f"/proc/{pid}/comm", os.O_RDONLY)
        except OSError:
            return None
        try:
            return os.read(handle, 64).rstrip(b"\n").decode("utf-8", errors="replace")
        except OSError:
            return None
        finally:
            os.close(handle)

    def _look_in_proc(self, pid: int) -> ProcessInfo | None:
        try:
            handle = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        except OSError:
            return None
        try:
            stat = os.read(handle, 4096)
        except OSError:  # the process ended between the open and the read
            return None
        finally:
            os.close(handle)

        # "PID (NAME) STATE PPID ... STARTTIME ...": the name may hold spaces and
        # parentheses, so the fields are counted from the last ")".
        head, _, tail = stat.rpartition(b")")
        fields = tail.split()
        if len(fields) < _STARTTIME_FIELD + 1 or b"(" not in head:
            return None
        if fields[0] in _ENDED_STATES:
            return None
        name = head.split(b"(", 1)[1].decode("utf-8", errors="replace")
        started_s = self._boot_s + int(fields[_STARTTIME_FIELD]) * self._tick_s
        return ProcessInfo(pid, name, started_s)

    def details(self, process: ProcessInfo) -> ProcessInfo | None:
        """Adds the executable and command line; an unreadable one stays None."""
        try:
            handle = psutil.Process(process.pid)
            exe = _readable(handle.exe)
            cmdline = _readable(handle.cmdline)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None
        return ProcessInfo(
            process.pid,
            process.name,
            process.started,
            exe or None,
            None if cmdline is None else tuple(cmdline),
        )


def _readable(read: Callable[[], T]) -> T | None:
    try:
        return read()
    except psutil.AccessDenied:
        return None


class GameWatcher:
    """Finds the listed games' processes; call scan() on each look.

    Thread-safe: scan() may run on a worker thread while set_games() is called from the
    event loop.

    Args:
        games: the listed games.
        table: the process table; the real one by default.
        clock: wall-clock seconds, the unit of process start times.
    """

    def __init__(
        self,
        games: Iterable[Game],
        table: ProcessTable | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table or PsutilProcessTable()
        self._clock = clock
        self._lock = threading.Lock()
        self._games = tuple(games)
        self._known: set[int] = set()
        self._young: dict[int, ProcessInfo] = {}
        """Processes younger than RECHECK_S that are not a game (yet), as last read."""
        self._running: dict[int, RunningGame] = {}

    @property
    def games(self) -> tuple[Game, ...]:
        """The listed games."""
        return self._games

    def set_games(self, games: Iterable[Game]) -> None:
        """Watch for these games instead; the next scan looks at every process again."""
        with self._lock:
            self._games = tuple(games)
            self._known = set()
            self._young = {}
            self._running = {}

    def scan(self) -> tuple[RunningGame, ...]:
        """The listed games running now, oldest pid first."""
        with self._lock:
            pids = self._table.pids()
            to_look = (pids - self._known) | self._renamed_young(pids)
            for pid, game in list(self._running.items()):
                if pid not in pids:
                    del self._running[pid]
                    continue
                now = self._table.look(pid)
                if now is None or now.started != game.started:
                    del self._running[pid]
                    if now is not None:  # the pid was reused: a new process
                        to_look.add(pid)
            for pid in to_look - self._running.keys():
                self._look(pid)
            self._known = pids
            return tuple(self._running[pid] for pid in sorted(self._running))

    def _renamed_young(self, pids: set[int]) -> set[int]:
        """Young processes whose name changed since the last read (an exec)."""
        oldest_s = self._clock() - RECHECK_S
        renamed = set()
        for pid, process in list(self._young.items()):
            if pid not in pids or process.started < oldest_s:
                del self._young[pid]
            elif self._table.name(pid) != process.name:
                renamed.add(pid)
        return renamed

    def _look(self, pid: int) -> None:
        process = self._table.look(pid)
        self._young.pop(pid, None)
        if process is None:
            return
        if self._clock() - process.started < RECHECK_S:
            self._young[pid] = process

        candidates = [game for game in self._games if game.may_be(process.name)]
        if not candidates:
            return
        if len(process.name) >= COMM_LENGTH or any(g.needs_details for g in candidates):
            detailed = self._table.details(process)
            if detailed is None:
                return
            process = detailed
        found = match_game(candidates, process)
        if found is not None:
            self._running[pid] = found
            self._young.pop(pid, None)


class ThreadedScan:
    """Runs a GameWatcher's scan on a worker thread of its own, with a timeout.

    Reading the process table blocks; it must not stall the event loop the window and
    the tray run on.
    """

    def __init__(self, watcher: GameWatcher, timeout_s: float = SCAN_TIMEOUT_S) -> None:
        self.watcher = watcher
        self._timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="gearshift-games")

    async def __call__(self) -> tuple[RunningGame, ...]:
        """One scan; raises TimeoutError when the table did not answer in time."""
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._executor, self.watcher.scan)
        return await asyncio.wait_for(work, self._timeout_s)

    def close(self) -> None:
        """Stop the worker thread without waiting for a scan in progress."""
        self._executor.shutdown(wait=False, cancel_futures=True)
