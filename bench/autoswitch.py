"""What watching for games costs: CPU time per minute with 300 processes running.

Starts 300 sleeping children (one of them named as a listed game), then runs automatic
switching as the app does (the game watcher on its worker thread, the switcher on an
asyncio loop, a real ModeManager) and reads this process's CPU time (user + system).
Two figures: the first RECHECK_S seconds, while all 300 are young and have their names
read again on each look (a burst of new processes, as when a game and its helpers
start), then ``--seconds`` with the 300 settled (the steady cost). The goal is under
0.2 % of one core, that is under 0.12 s of CPU a minute, at the default look every 2 s.

    .venv/bin/python bench/autoswitch.py                # 10 s young, then 60 s settled
    .venv/bin/python bench/autoswitch.py --seconds 20 --poll 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gearshift.core.actions import core_action_builders
from gearshift.core.autoswitch import AutoSwitcher, Game
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.modes import PerformanceMode
from gearshift.system.processes import RECHECK_S, GameWatcher, ThreadedScan

GOAL_PCT = 0.2
"""Of one core."""

GAME = "benchgame"


def cpu_s() -> float:
    """This process's CPU time so far, user and system, all threads, in seconds.

    CLOCK_PROCESS_CPUTIME_ID, which the scheduler keeps exactly; getrusage's figures
    are sampled at timer ticks on many kernels, too coarse for a few ms a minute.
    """
    return time.process_time()


def start_children(count: int, folder: Path) -> list[subprocess.Popen[bytes]]:
    """``count`` sleeping processes; the first is named as the listed game."""
    game = folder / GAME
    shutil.copy2("/bin/sleep", game)
    children = [subprocess.Popen([str(game), "3600"])]
    children += [subprocess.Popen(["sleep", "3600"]) for _ in range(count - 1)]
    return children


@dataclass
class Phase:
    """CPU used over a stretch of watching."""

    seconds: float
    cpu_s: float = 0.0
    looks: int = 0

    def line(self, what: str) -> str:
        share_pct = 100.0 * self.cpu_s / self.seconds
        verdict = "within" if share_pct < GOAL_PCT else "OVER"
        return (
            f"{what}: {self.cpu_s * 60.0 / self.seconds * 1e3:.1f} ms CPU per minute = "
            f"{share_pct:.3f} % of one core ({self.looks} looks, "
            f"{self.cpu_s / max(self.looks, 1) * 1e3:.2f} ms a look); "
            f"goal < {GOAL_PCT} %: {verdict}"
        )


async def watch(seconds: float, poll_s: float) -> tuple[Phase, Phase, float]:
    """Watch while the children are young, then for ``seconds`` more; returns both
    phases and the first look's wall time in seconds."""
    monitor = BudgetMonitor(budget_ms=16.67)
    manager = ModeManager(core_action_builders(monitor), EventBus(), cooldown_s=0.0)
    await manager.start()
    watcher = GameWatcher([Game(GAME), Game("cs2"), Game("dota2", path="/games/dota2")])
    first_started = time.perf_counter()
    watcher.scan()  # the first look reads every process once; not part of the steady cost
    first_s = time.perf_counter() - first_started

    scan = ThreadedScan(watcher)
    young, settled = Phase(RECHECK_S), Phase(seconds)
    phase = young

    async def counted() -> object:
        phase.looks += 1
        return await scan()

    switcher = AutoSwitcher(manager, EventBus(), counted, poll_s=poll_s)  # type: ignore[arg-type]
    before_s = cpu_s()
    task = asyncio.ensure_future(switcher.run())
    await asyncio.sleep(young.seconds)
    young.cpu_s, phase, before_s = cpu_s() - before_s, settled, cpu_s()
    await asyncio.sleep(settled.seconds)
    settled.cpu_s = cpu_s() - before_s
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    scan.close()
    assert manager.mode is PerformanceMode.COMPETITIVE, "the game was not found"
    await manager.stop()
    return young, settled, first_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to watch")
    parser.add_argument("--processes", type=int, default=300, help="sleeping children")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between looks")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        print("bench/autoswitch.py starts its processes the Linux way", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="gs-bench-") as folder:
        children = start_children(args.processes, Path(folder))
        try:
            time.sleep(0.5)  # let them all exec
            listed = len(os.listdir("/proc"))
            young, settled, first_s = asyncio.run(watch(args.seconds, args.poll))
        finally:
            for child in children:
                child.kill()
            for child in children:
                child.wait()

    print(f"{args.processes} children ({listed} entries in /proc), a look every {args.poll:g} s")
    print(f"first look (every process read once): {first_s * 1e3:.1f} ms")
    print(young.line(f"first {RECHECK_S:g} s, all {args.processes} young"))
    print(settled.line(f"then {args.seconds:g} s, settled (the steady cost)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
