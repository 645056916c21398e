"""How long a Competitive switch takes with its D-Bus actions against real D-Bus services.

Each switch into Competitive holds the performance profile from a python-dbusmock
power-profiles-daemon on a private system bus and inhibits a python-dbusmock
screensaver on a private session bus; each switch back releases both. The mode manager
journals each action on disk (fsync'd) before applying it, as the app does; a second
run keeps the journal in memory, to show what the D-Bus round trips cost alone. Goal:
median under 20 ms and 99th percentile under 50 ms for a Competitive switch.

    .venv/bin/python bench/dbus_switch.py [round trips]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

from gearshift.core.actions import Journal, MemoryJournal, core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.modes import (
    FRAME_BUDGET,
    POWER_PROFILE,
    SCREENSAVER,
    ActionSpec,
    ModeProfile,
    PerformanceMode,
)
from gearshift.system.desktop import DesktopBuses, desktop_action_builders, desktop_restorers
from gearshift.system.journal import FileJournal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fakes
from tests.fakes import dbus_services

SWITCHES = 300
"""Round trips by default: each is one switch into Competitive and one back."""

PROFILES = MappingProxyType(
    {
        PerformanceMode.IMMERSIVE: ModeProfile(
            PerformanceMode.IMMERSIVE, 60.0, 120.0, "high", (ActionSpec(FRAME_BUDGET),)
        ),
        PerformanceMode.COMPETITIVE: ModeProfile(
            PerformanceMode.COMPETITIVE,
            300.0,
            None,
            "medium",
            (
                ActionSpec(FRAME_BUDGET),
                ActionSpec(POWER_PROFILE, {"profile": "performance"}),
                ActionSpec(SCREENSAVER),
            ),
        ),
    }
)


async def measure(
    buses: dbus_services.Buses, journal: Journal, switches: int
) -> tuple[list[float], list[float]]:
    """Seconds each switch into Competitive took, and each switch back."""
    desktop = DesktopBuses.from_environ(
        {"DBUS_SYSTEM_BUS_ADDRESS": buses.system, "DBUS_SESSION_BUS_ADDRESS": buses.session}
    )
    await desktop.start()
    monitor = BudgetMonitor(budget_ms=16.67)
    manager = ModeManager(
        {**core_action_builders(monitor), **desktop_action_builders(desktop)},
        EventBus(),
        profiles=PROFILES,
        cooldown_s=0.0,
        journal=journal,
        restorers=desktop_restorers(),
    )
    await manager.start()
    into, back = [], []
    for _ in range(switches):
        for mode, durations in (
            (PerformanceMode.COMPETITIVE, into),
            (PerformanceMode.IMMERSIVE, back),
        ):
            started = time.perf_counter()
            result = await manager.set_mode(mode)
            durations.append(time.perf_counter() - started)
            assert result.switched, result
            assert not manager.skipped, manager.skipped
    await manager.stop()
    await desktop.close()
    return into, back


def _line(label: str, durations_s: list[float]) -> str:
    ms = sorted(d * 1e3 for d in durations_s)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (
        f"{label}: median {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms, "
        f"max {ms[-1]:.2f} ms ({len(ms)} switches)"
    )


def main() -> None:
    switches = int(sys.argv[1]) if len(sys.argv) > 1 else SWITCHES
    missing = dbus_services.missing_reason()
    if missing is not None:
        raise SystemExit(f"cannot run the D-Bus mocks: {missing}")
    with dbus_services.private_buses() as buses, tempfile.TemporaryDirectory() as folder:
        ppd = dbus_services.start_power_profiles(buses)
        screensaver = dbus_services.start_screensaver(buses)
        try:
            on_disk = FileJournal(Path(folder) / "journal.json")
            for label, journal in (("journal on disk", on_disk), ("journal in memory", None)):
                into, back = asyncio.run(measure(buses, journal or MemoryJournal(), switches))
                assert dbus_services.holds(ppd) == [] and dbus_services.inhibits(screensaver) == 0
                print(f"{label}:")
                print(_line("  Immersive -> Competitive (hold + inhibit)", into))
                print(_line("  Competitive -> Immersive (release + uninhibit)", back))
        finally:
            screensaver.stop()
            ppd.stop()


if __name__ == "__main__":
    main()
