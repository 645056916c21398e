"""Whole switches through the mode manager with the D-Bus actions against python-dbusmock
services: the services' state after a switch there and back (or a failed one) equals
their state before, and a transient failure is retried without leaving a hold behind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from types import MappingProxyType

import pytest

from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.errors import ModeTransitionError
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
from gearshift.system.dbus import BusConnection
from gearshift.system.desktop import DesktopBuses, desktop_action_builders, desktop_restorers
from tests.fakes import dbus_services
from tests.fakes.dbus_services import (
    Buses,
    MockService,
    active_profile,
    holds,
    inhibits,
    start_power_profiles,
    start_screensaver,
)

_MISSING = dbus_services.missing_reason()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")

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
            # The inhibit first, so that a failing hold has something to roll back.
            (ActionSpec(FRAME_BUDGET), ActionSpec(SCREENSAVER), ActionSpec(POWER_PROFILE)),
        ),
    }
)


@pytest.fixture(scope="module")
def buses() -> Iterator[Buses]:
    with dbus_services.private_buses() as private:
        yield private


@pytest.fixture
def services(buses: Buses) -> Iterator[tuple[MockService, MockService]]:
    ppd, screensaver = start_power_profiles(buses), start_screensaver(buses)
    yield ppd, screensaver
    screensaver.stop()
    ppd.stop()


def _state(services: tuple[MockService, MockService]) -> tuple[str, list[dict[str, str]], int]:
    ppd, screensaver = services
    return active_profile(ppd), holds(ppd), inhibits(screensaver)


async def _manager(buses: Buses, reply_timeout_s: float = 2.0) -> tuple[ModeManager, DesktopBuses]:
    desktop = DesktopBuses(
        BusConnection(buses.system, "system bus", reply_timeout_s=reply_timeout_s),
        BusConnection(buses.session, "session bus", reply_timeout_s=reply_timeout_s),
    )
    await desktop.start()
    monitor = BudgetMonitor(16.67)
    manager = ModeManager(
        {**core_action_builders(monitor), **desktop_action_builders(desktop)},
        EventBus(),
        profiles=PROFILES,
        cooldown_s=0.0,
        restorers=desktop_restorers(),
    )
    await manager.start()
    return manager, desktop


def test_a_switch_there_and_back_leaves_the_services_as_they_were(
    buses: Buses, services: tuple[MockService, MockService]
) -> None:
    before = _state(services)

    async def scenario() -> None:
        manager, desktop = await _manager(buses)
        await manager.set_mode(PerformanceMode.COMPETITIVE)
        assert manager.skipped == ()
        assert _state(services)[0] == "performance" and _state(services)[2] == 1
        await manager.set_mode(PerformanceMode.IMMERSIVE)
        assert _state(services) == before
        await manager.stop()
        await desktop.close()

    asyncio.run(scenario())
    assert _state(services) == before


def test_the_daemon_dying_mid_switch_rolls_the_switch_back(
    buses: Buses, services: tuple[MockService, MockService]
) -> None:
    ppd, screensaver = services
    ppd.replace_method(ppd.name, "HoldProfile", "sss", "u", "os._exit(3)")

    async def scenario() -> None:
        manager, desktop = await _manager(buses)
        with pytest.raises(ModeTransitionError) as caught:
            await manager.set_mode(PerformanceMode.COMPETITIVE)
        # Retried as transient; the retry found no daemon any more.
        assert "power-profiles-daemon is not running" in str(caught.value)
        assert caught.value.report.complete
        assert manager.mode is PerformanceMode.IMMERSIVE
        assert inhibits(screensaver) == 0
        await manager.stop()
        await desktop.close()

    asyncio.run(scenario())


def test_a_hold_whose_reply_came_late_is_retried_without_leaving_two_holds(
    buses: Buses, services: tuple[MockService, MockService]
) -> None:
    ppd, _screensaver = services
    before = _state(services)
    # The first hold answers after the caller gave up; later ones at once.
    ppd.replace_method(
        ppd.name,
        "HoldProfile",
        "sss",
        "u",
        "slow = not getattr(self, 'was_slow', False)\n"
        "self.was_slow = True\n"
        "time.sleep(0.4 if slow else 0)\n"
        "ret = self.hold_profile(self, *args)",
    )

    async def scenario() -> None:
        manager, desktop = await _manager(buses, reply_timeout_s=0.2)
        await manager.set_mode(PerformanceMode.COMPETITIVE)
        assert manager.skipped == ()
        deadline = time.monotonic() + 5
        while len(holds(ppd)) != 1:  # the late hold's holder had disconnected: dropped
            assert time.monotonic() < deadline, holds(ppd)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        assert len(holds(ppd)) == 1
        # The connection was closed and reopened; the daemon is still followed.
        assert desktop.system.owned(ppd.name) is True
        await manager.set_mode(PerformanceMode.IMMERSIVE)
        assert _state(services) == before
        await manager.stop()
        await desktop.close()

    asyncio.run(scenario())
