"""Other tuning tools on the machine, and which setting each of them controls.

Gearshift is not the only program that tunes a gaming PC. power-profiles-daemon,
TuneD, GameMode, auto-cpufreq, TLP and LACT each write some of the settings a mode
changes, and two programs writing one setting fight: each undoes the other, and the
player sees neither work. So at start-up Gearshift looks for them (by their D-Bus
names where they have one, else by process name, else by their systemd unit being
active) and keeps a small map, setting -> the tool that owns it. An action for a
setting another tool owns either goes through that tool's API (the power profile goes
through power-profiles-daemon) or is skipped with a reason the player can read::

    tools = await detect_tuning_tools(SystemObserver.from_environ(os.environ))
    reason = tools.skip_reason(CPU_GOVERNOR)
    if reason is not None:
        raise ActionUnavailableError(reason)

The machine is looked at through ``Observer``, a seam tests fill with fakes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psutil

from gearshift.core.errors import ActionError
from gearshift.core.modes import (
    CPU_EPP,
    CPU_GOVERNOR,
    GPU_CLOCKS,
    GPU_POWER_LIMIT,
    PLATFORM_PROFILE,
    POWER_PROFILE,
)
from gearshift.system.dbus import BusConnection, session_bus_address, system_bus_address

_log = logging.getLogger(__name__)

SETTING_LABELS: Mapping[str, str] = {
    POWER_PROFILE: "Power profile",
    CPU_GOVERNOR: "CPU governor",
    CPU_EPP: "Energy-performance preference",
    PLATFORM_PROFILE: "Platform profile",
    GPU_CLOCKS: "GPU clocks",
    GPU_POWER_LIMIT: "GPU power limit",
}
"""Each setting as players read it, in the order the window lists them; the settings
other tools may own are named by the action kinds that change them."""

SYSTEM = "system"
SESSION = "session"


@dataclass(frozen=True)
class TuningTool:
    """A program that tunes the machine, how to find it, and what it controls.

    Attributes:
        key: a stable name, e.g. "tuned".
        label: its name as players know it, e.g. "TuneD".
        bus_names: (bus, name) pairs it owns on D-Bus while it runs.
        processes: its process names (a script's name for Python programs).
        units: its systemd units; an active one counts as running (TLP is a one-shot
            unit with no process left running).
        owns: the settings it writes (SETTING_LABELS' keys).
        note: when it writes them, where that is not 'always'.
    """

    key: str
    label: str
    bus_names: tuple[tuple[str, str], ...] = ()
    processes: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    owns: tuple[str, ...] = ()
    note: str | None = None


POWER_PROFILES_DAEMON = TuningTool(
    "power-profiles-daemon",
    "power-profiles-daemon",
    bus_names=(
        (SYSTEM, "org.freedesktop.UPower.PowerProfiles"),
        (SYSTEM, "net.hadess.PowerProfiles"),
    ),
    processes=("power-profiles-daemon",),
    units=("power-profiles-daemon.service",),
    owns=(POWER_PROFILE, PLATFORM_PROFILE, CPU_EPP),
    note="Gearshift holds its performance profile through its API",
)
TUNED = TuningTool(
    "tuned",
    "TuneD",
    bus_names=((SYSTEM, "com.redhat.tuned"),),
    processes=("tuned",),
    units=("tuned.service",),
    owns=(CPU_GOVERNOR, CPU_EPP),
)
GAMEMODE = TuningTool(
    "gamemode",
    "GameMode",
    bus_names=((SESSION, "com.feralinteractive.GameMode"),),
    processes=("gamemoded",),
    owns=(CPU_GOVERNOR,),
    note="while a game is registered with it",
)
AUTO_CPUFREQ = TuningTool(
    "auto-cpufreq",
    "auto-cpufreq",
    processes=("auto-cpufreq",),
    units=("auto-cpufreq.service",),
    owns=(CPU_GOVERNOR, CPU_EPP, PLATFORM_PROFILE),
)
TLP = TuningTool(
    "tlp",
    "TLP",
    units=("tlp.service",),
    owns=(CPU_GOVERNOR, CPU_EPP, PLATFORM_PROFILE),
    note="at start-up and whenever the power source changes",
)
LACT = TuningTool(
    "lact",
    "LACT",
    processes=("lact",),
    units=("lactd.service",),
    owns=(GPU_CLOCKS, GPU_POWER_LIMIT),
)

TOOLS: tuple[TuningTool, ...] = (
    POWER_PROFILES_DAEMON,
    TUNED,
    GAMEMODE,
    AUTO_CPUFREQ,
    TLP,
    LACT,
)
"""Every tool looked for; where two own one setting, the first here is named."""


@dataclass(frozen=True)
class Found:
    """A tool found running, and how it was found ("D-Bus name com.redhat.tuned")."""

    tool: TuningTool
    evidence: str


@dataclass(frozen=True)
class TuningTools:
    """The tools found at start-up, and who controls what.

    Attributes:
        found: the tools found running, in TOOLS' order.
        unchecked: what could not be looked at, in words ("the session bus: ...");
            a tool found only that way may have been missed.
    """

    found: tuple[Found, ...] = ()
    unchecked: tuple[str, ...] = field(default_factory=tuple)

    def running(self, key: str) -> bool:
        """Whether the tool called ``key`` was found."""
        return any(entry.tool.key == key for entry in self.found)

    def owner_of(self, setting: str) -> TuningTool | None:
        """The tool that controls ``setting``, or None when Gearshift may write it."""
        for entry in self.found:
            if setting in entry.tool.owns:
                return entry.tool
        return None

    def owner_label(self, setting: str) -> str | None:
        """The name of the tool that controls ``setting`` (e.g. "TuneD"), or None; the
        shape the system actions' ``SystemContext.owner`` takes."""
        owner = self.owner_of(setting)
        return None if owner is None else owner.label

    def controls(self) -> dict[str, TuningTool | None]:
        """Every setting -> the tool that controls it (None: nobody but Gearshift)."""
        return {setting: self.owner_of(setting) for setting in SETTING_LABELS}

    def skip_reason(self, setting: str) -> str | None:
        """Why an action must leave ``setting`` alone, or None when it may write it."""
        owner = self.owner_of(setting)
        if owner is None:
            return None
        label = SETTING_LABELS.get(setting, setting).lower()
        when = f" ({owner.note})" if owner.note else ""
        return f"{owner.label} controls the {label}{when}; Gearshift leaves it alone"

    def describe(self) -> list[str]:
        """One line a setting, for the window and ``gearshift status``."""
        lines = []
        for setting, owner in self.controls().items():
            shown = "Gearshift (no other tool found)" if owner is None else owner.label
            if owner is not None and owner.note:
                shown += f" ({owner.note})"
            lines.append(f"{SETTING_LABELS[setting]}: {shown}")
        return lines

    def summary(self) -> str:
        """One line: which tools run and what they control."""
        if not self.found:
            text = "no other tuning tool found"
        else:
            parts = [
                f"{entry.tool.label} ({', '.join(SETTING_LABELS[s] for s in entry.tool.owns)})"
                for entry in self.found
            ]
            text = "other tuning tools: " + "; ".join(parts)
        if self.unchecked:
            text += "; could not check " + ", ".join(self.unchecked)
        return text


class Observer(Protocol):
    """What the machine shows of the programs running on it."""

    async def bus_names(self, bus: str) -> frozenset[str]:
        """The names owned on the "system" or "session" bus; raises ActionError when
        that bus cannot be reached."""
        ...

    def process_names(self) -> frozenset[str]:
        """The names of the running processes (a script's name for interpreters)."""
        ...

    def active_units(self, units: Iterable[str]) -> frozenset[str]:
        """Those of ``units`` systemd has active now."""
        ...


async def detect_tuning_tools(observer: Observer) -> TuningTools:
    """Look for every tool in TOOLS through ``observer``; never raises for a bus or a
    process list it cannot read, it names them in ``unchecked`` instead."""
    unchecked: list[str] = []
    names: dict[str, frozenset[str]] = {}
    for bus in (SYSTEM, SESSION):
        try:
            names[bus] = await observer.bus_names(bus)
        except ActionError as error:
            names[bus] = frozenset()
            unchecked.append(f"the {bus} bus ({error})")
    try:
        processes = await asyncio.to_thread(observer.process_names)
    except (OSError, psutil.Error) as error:
        processes = frozenset()
        unchecked.append(f"the process list ({error})")
    units = observer.active_units(unit for tool in TOOLS for unit in tool.units)

    found = []
    for tool in TOOLS:
        evidence = _evidence(tool, names, processes, units)
        if evidence is not None:
            found.append(Found(tool, evidence))
    tools = TuningTools(tuple(found), tuple(unchecked))
    _log.info("%s", tools.summary())
    return tools


def _evidence(
    tool: TuningTool,
    names: Mapping[str, frozenset[str]],
    processes: frozenset[str],
    units: frozenset[str],
) -> str | None:
    for bus, name in tool.bus_names:
        if name in names.get(bus, frozenset()):
            return f"D-Bus name {name}"
    for process in tool.processes:
        if process in processes:
            return f"process {process}"
    for unit in tool.units:
        if unit in units:
            return f"systemd unit {unit}"
    return None


INTERPRETERS = frozenset({"python", "python3", "perl", "sh", "bash"})
"""Process names behind which the program's real name is the script's."""


class SystemObserver:
    """The real machine: D-Bus names through jeepney, processes through psutil, and
    systemd's per-unit state files under /run.

    Args:
        system_bus: the system bus connection.
        session_bus: the session bus connection.
        root: where the file system starts; tests point it at a temporary tree.
    """

    def __init__(
        self, system_bus: BusConnection, session_bus: BusConnection, root: Path = Path("/")
    ) -> None:
        self._buses = {SYSTEM: system_bus, SESSION: session_bus}
        self._root = root

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SystemObserver:
        """Connections of its own to the buses the environment names (closed by
        ``close()``; detection is a one-off)."""
        return cls(
            BusConnection(system_bus_address(environ), "system bus"),
            BusConnection(session_bus_address(environ), "session bus"),
        )

    async def bus_names(self, bus: str) -> frozenset[str]:
        """The names owned on ``bus`` now."""
        return await self._buses[bus].list_names()

    def process_names(self) -> frozenset[str]:
        """Every running process's name, and its script's for interpreters."""
        names: set[str] = set()
        for process in psutil.process_iter(["name", "cmdline"]):
            info = process.info
            name = info.get("name") or ""
            names.add(name)
            cmdline = info.get("cmdline") or []
            if cmdline:
                names.add(os.path.basename(cmdline[0]))
            base = name.rstrip("0123456789.")
            if base in INTERPRETERS and len(cmdline) > 1:
                names.add(os.path.basename(cmdline[1]))
        names.discard("")
        return frozenset(names)

    def active_units(self, units: Iterable[str]) -> frozenset[str]:
        """Units systemd has active: it keeps a link /run/systemd/units/invocation:<unit>
        (pointing at the invocation id, so dangling) for every unit while it is active,
        one-shot units that remain after exit included."""
        folder = self._root / "run" / "systemd" / "units"
        return frozenset(unit for unit in units if os.path.lexists(folder / f"invocation:{unit}"))

    async def close(self) -> None:
        """Close the bus connections."""
        for bus in self._buses.values():
            await bus.close()
