"""How long a mode switch takes in-process, with the core's own action only.

This is the floor every later system action adds to; the control API's overhead is
measured against it.

    .venv/bin/python bench/switch.py
"""

from __future__ import annotations

import asyncio
import statistics
import time

from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager

SWITCHES = 2000


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


def main() -> None:
    durations_us = sorted(d * 1e6 for d in asyncio.run(measure()))
    p99_us = durations_us[int(len(durations_us) * 0.99)]
    print(
        f"{SWITCHES} switches: median {statistics.median(durations_us):.1f} us, "
        f"p99 {p99_us:.1f} us, max {durations_us[-1]:.1f} us"
    )


if __name__ == "__main__":
    main()
