"""Tray, hotkey and CLI requests arriving together never interleave a switch's steps."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from gearshift.system.builders import system_action_builders
from gearshift.system.sysfs import DirectWriter, SysfsSetting, SystemPaths
from tests.system.machine import context, make_tree, snapshot

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE


class WatchedWriter:
    """Writes like the real thing, slowly, and notes any write that overlaps another."""

    def __init__(self, paths: SystemPaths) -> None:
        self.inner = DirectWriter(paths)
        self.busy = False
        self.overlaps = 0
        self.log: list[str] = []

    async def write(self, setting: SysfsSetting, values: Mapping[str, str]) -> None:
        if self.busy:
            self.overlaps += 1
        self.busy = True
        try:
            self.log.append(f"{setting.name}={next(iter(values.values()))}")
            await asyncio.sleep(0.001)  # let every other request run meanwhile
            await self.inner.write(setting, values)
        finally:
            self.busy = False


ENTER = ["platform_profile=performance", "epp=performance", "governor=performance"]
LEAVE = ["governor=powersave", "epp=balance_power", "platform_profile=balanced"]


def test_requests_from_every_source_at_once_run_one_whole_switch_at_a_time(
    tmp_path: Path,
) -> None:
    root = make_tree(tmp_path / "root")
    writer = WatchedWriter(SystemPaths(root))
    ctx = replace(context(root), writer=writer)
    builders = {**system_action_builders(ctx), **core_action_builders(BudgetMonitor(16.7))}
    immersive = snapshot(root)
    rng = random.Random(7)

    async def scenario() -> ModeManager:
        manager = ModeManager(builders, EventBus(), profiles=DEFAULT_PROFILES, cooldown_s=0.0)
        await manager.start()

        async def tray() -> None:
            await manager.toggle()

        async def hotkey() -> None:
            await manager.toggle(force=True)

        async def cli() -> None:
            await manager.set_mode(rng.choice([IMM, COMP]), force=True)

        for _ in range(30):
            requests = [tray(), hotkey(), cli(), tray(), cli()]
            rng.shuffle(requests)
            await asyncio.gather(*requests)
        return manager

    manager = asyncio.run(scenario())

    assert writer.overlaps == 0
    # The log is whole switches back to back: three writes entering, three leaving.
    chunks = [writer.log[i : i + 3] for i in range(0, len(writer.log), 3)]
    assert chunks and all(chunk in (ENTER, LEAVE) for chunk in chunks)
    assert all(a != b for a, b in itertools.pairwise(chunks))  # alternating
    expected_last = ENTER if manager.mode is COMP else LEAVE
    assert chunks[-1] == expected_last
    if manager.mode is IMM:
        assert snapshot(root) == immersive
