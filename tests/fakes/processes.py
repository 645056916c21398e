"""A process table in memory, counting how often each kind of read was made."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gearshift.core.autoswitch import ProcessInfo


@dataclass
class FakeProcessTable:
    """Processes by pid; a zombie is listed but not looked at, as /proc behaves.

    Attributes:
        processes: each process, with its exe and command line (None: unreadable).
        zombies: pids that exited but were not reaped yet.
        looks, names_read, details_read: the reads made, by pid.
    """

    processes: dict[int, ProcessInfo] = field(default_factory=dict)
    zombies: set[int] = field(default_factory=set)
    looks: list[int] = field(default_factory=list)
    details_read: list[int] = field(default_factory=list)
    names_read: list[int] = field(default_factory=list)

    def start(self, pid: int, name: str, started: float, *cmdline: str, exe: str = "") -> None:
        self.processes[pid] = ProcessInfo(
            pid, name, started, exe or f"/usr/bin/{name}", tuple(cmdline) or (name,)
        )
        self.zombies.discard(pid)

    def pids(self) -> set[int]:
        return set(self.processes)

    def look(self, pid: int) -> ProcessInfo | None:
        self.looks.append(pid)
        process = self.processes.get(pid)
        if process is None or pid in self.zombies:
            return None
        return ProcessInfo(pid, process.name, process.started)

    def name(self, pid: int) -> str | None:
        self.names_read.append(pid)
        process = self.processes.get(pid)
        return None if process is None else process.name

    def details(self, process: ProcessInfo) -> ProcessInfo | None:
        self.details_read.append(process.pid)
        found = self.processes.get(process.pid)
        return None if found is None else replace(process, exe=found.exe, cmdline=found.cmdline)
