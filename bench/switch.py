"""How long a mode switch takes in-process.

1. The core's own action only: the floor every system action adds to; the control
   API's overhead is measured against it.
2. A full Competitive switch on the fake machine: every system action that needs no
   privilege (platform profile, energy-performance preference and governor on a
   temporary sysfs tree of 16 CPUs, a real child process's priority, MangoHud's
   fps_limit), each journalled in a real file with fsync. Goal: median under 20 ms,
   99th percentile under 50 ms, for entering Competitive.

    .venv/bin/python bench/switch.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from gearshift.system.builders import system_action_builders, system_restorers
from gearshift.system.journal import FileJournal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the fake machine

from tests.system.machine import context, game_process, make_tree

SWITCHES = 2000
FULL_SWITCHES = 300


async def measure() -> list[float]:
    monitor = BudgetMonitor(budget_ms=16.67)
    manager = ModeManager(core_action_builders(monitor), EventBus(), cooldown_s=0.0)
    await manager.start()
    durations_s = []
    for _ in range(SWITCHES):
        started = time.perf_counter()
        result = await manager.toggle()
        durations_s.append(time.perf_counter() - started)
        assert result.switched
    await manager.stop()
    return durations_s


async def measure_full(folder: Path, pid: int) -> tuple[list[float], list[float], int]:
    """Entering and leaving Competitive on the fake machine; also the actions applied."""
    ctx = context(make_tree(folder / "root", cpus=16), (pid,))
    monitor = BudgetMonitor(budget_ms=16.67)
    manager = ModeManager(
        {**system_action_builders(ctx), **core_action_builders(monitor)},
        EventBus(),
        profiles=DEFAULT_PROFILES,
        cooldown_s=0.0,
        journal=FileJournal(folder / "state" / "journal.json"),
        restorers=system_restorers(ctx),
    )
    await manager.start()
    entering_s, leaving_s = [], []
    applied = 0
    for _ in range(FULL_SWITCHES):
        started = time.perf_counter()
        assert (await manager.set_mode(PerformanceMode.COMPETITIVE)).switched
        entering_s.append(time.perf_counter() - started)
        applied = len(manager.applied)
        started = time.perf_counter()
        assert (await manager.set_mode(PerformanceMode.IMMERSIVE)).switched
        leaving_s.append(time.perf_counter() - started)
    await manager.stop()
    return entering_s, leaving_s, applied


def _figures(label: str, durations_s: list[float], unit: str = "ms") -> str:
    scale = 1e3 if unit == "ms" else 1e6
    values = sorted(d * scale for d in durations_s)
    p99 = values[int(len(values) * 0.99)]
    return (
        f"{label}: median {statistics.median(values):.2f} {unit}, p99 {p99:.2f} {unit}, "
        f"max {values[-1]:.2f} {unit}"
    )


def main() -> None:
    print(_figures(f"{SWITCHES} switches, core action only", asyncio.run(measure()), "us"))
    with tempfile.TemporaryDirectory(prefix="gearshift-bench-") as folder, game_process() as pid:
        entering, leaving, applied = asyncio.run(measure_full(Path(folder), pid))
    print(f"{FULL_SWITCHES} full switches on the fake machine ({applied} actions, journalled):")
    print("  " + _figures("Immersive -> Competitive", entering))
    print("  " + _figures("Competitive -> Immersive", leaving))


if __name__ == "__main__":
    main()
