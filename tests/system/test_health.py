"""The control API's health shows the circuit breaker and the skipped actions."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from gearshift.control.service import ControlService
from gearshift.core.actions import Action
from gearshift.core.budget import BudgetMonitor
from gearshift.core.errors import ActionError, ModeTransitionError
from gearshift.core.events import EventBus
from gearshift.core.manager import BreakerPolicy, ModeManager
from gearshift.core.modes import DEFAULT_PROFILES, ActionSpec, ModeProfile, PerformanceMode

COMP = PerformanceMode.COMPETITIVE


class Refused:
    kind = "power_profile"
    name = "power profile performance"
    timeout_s = 1.0

    async def apply(self) -> None:
        raise ActionError("power-profiles-daemon is restarting")

    async def revert(self) -> None:
        pass


def test_a_kind_cut_off_by_the_breaker_degrades_the_system_actions_health() -> None:
    def build(spec: ActionSpec, profile: ModeProfile) -> Action:
        return Refused()

    competitive = replace(DEFAULT_PROFILES[COMP], actions=(ActionSpec("power_profile"),))
    events = EventBus()
    manager = ModeManager(
        {"power_profile": build},
        events,
        profiles={**DEFAULT_PROFILES, COMP: competitive},
        cooldown_s=0,
        breaker=BreakerPolicy(failures=2),
    )
    service = ControlService(manager, events, BudgetMonitor(16.7), source_label="test")

    async def scenario() -> None:
        await manager.start()
        assert service.health().subsystems["system_actions"].state == "ok"
        for _ in range(2):
            with pytest.raises(ModeTransitionError):
                await manager.set_mode(COMP)
        health = service.health().subsystems["system_actions"]
        assert health.state == "degraded"
        assert "power profile: cut off for 300 s more" in (health.reason or "")
        assert "restarting" in (health.reason or "")

        assert (await manager.set_mode(COMP)).switched  # without it, and says so
        assert "power profile" in (service.health().subsystems["system_actions"].reason or "")

    asyncio.run(scenario())
    service.close()
