"""Crash safety: kill -9 a process that is switching modes, then restore and compare.

``python -m tests.system.crashrig ROOT STATE`` is the victim: it starts a mode manager
over the fake machine at ROOT (tests/system/machine.py) with the journal in STATE, says
"ready", and switches Immersive <-> Competitive until it is killed. ``crash_once`` kills
it at a random moment, restores from the journal in-process as ``gearshift restore``
would, and says whether the machine is back to its state before, byte for byte.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from gearshift.system.builders import system_action_builders, system_restorers
from gearshift.system.journal import FileJournal
from tests.system.machine import context

REPO = Path(__file__).resolve().parents[2]


def manager_for(root: Path, state: Path) -> ModeManager:
    """The manager the victim and the restorer both build: every file-backed action."""
    ctx = context(root)
    builders = {**system_action_builders(ctx), **core_action_builders(BudgetMonitor(16.7))}
    return ModeManager(
        builders,
        EventBus(),
        profiles=DEFAULT_PROFILES,
        cooldown_s=0,
        journal=FileJournal(state / "journal.json"),
        restorers=system_restorers(ctx),
    )


async def _switch_forever(root: Path, state: Path) -> None:
    manager = manager_for(root, state)
    await manager.start()
    print("ready", flush=True)
    while True:
        await manager.set_mode(PerformanceMode.COMPETITIVE)
        await manager.set_mode(PerformanceMode.IMMERSIVE)


async def restore(root: Path, state: Path) -> tuple[str, ...]:
    """What ``gearshift restore`` does: put back what the journal holds."""
    report = await manager_for(root, state).recover()
    if report.failed or report.corrupt:
        raise AssertionError(report.describe())
    return report.restored


def snapshot_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def crash_once(
    root: Path, state: Path, rng: random.Random, max_delay_s: float = 0.05
) -> tuple[bool, int]:
    """Start the victim, kill it after a random delay, restore.

    Returns whether the machine is back as it was, and how many changes the journal
    had to restore (0 when the kill came while nothing was applied).
    """
    before = snapshot_files(root)
    victim = subprocess.Popen(
        [sys.executable, "-m", "tests.system.crashrig", str(root), str(state)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'app'}"},
    )
    try:
        assert victim.stdout is not None
        if victim.stdout.readline().strip() != b"ready":
            raise AssertionError("the switching process did not start")
        time.sleep(rng.uniform(0, max_delay_s))
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        if victim.stdout is not None:
            victim.stdout.close()
    restored = asyncio.run(restore(root, state))
    return snapshot_files(root) == before, len(restored)


if __name__ == "__main__":
    asyncio.run(_switch_forever(Path(sys.argv[1]), Path(sys.argv[2])))
