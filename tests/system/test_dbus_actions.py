"""The power-profile hold and the screensaver inhibit against python-dbusmock services
on private buses: apply, verify, revert, the service absent, dying mid-switch, and the
hold or inhibit ending when Gearshift's connection closes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gearshift.core.errors import ActionError, ActionUnavailableError, TransientActionError
from gearshift.core.modes import ActionSpec, ModeProfile, PerformanceMode
from gearshift.system.dbus import BusConnection
from gearshift.system.desktop import DesktopBuses, desktop_action_builders, desktop_restorers
from gearshift.system.power import APP_ID, PowerProfileAction, PowerProfilesClient
from gearshift.system.screensaver import ScreensaverInhibitAction
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

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def buses() -> Iterator[Buses]:
    with dbus_services.private_buses() as private:
        yield private


@pytest.fixture
def ppd(buses: Buses) -> Iterator[MockService]:
    service = start_power_profiles(buses)
    yield service
    service.stop()


@pytest.fixture
def screensaver(buses: Buses) -> Iterator[MockService]:
    service = start_screensaver(buses)
    yield service
    service.stop()


def _power(buses: Buses, timeout_s: float = 2.0) -> tuple[BusConnection, PowerProfileAction]:
    bus = BusConnection(buses.system, "system bus", reply_timeout_s=timeout_s)
    return bus, PowerProfileAction(PowerProfilesClient(bus))


def _wait_until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "the service did not get there in time"
        time.sleep(0.01)


# ------------------------------------------------------------------------ power profile


def test_holding_performance_switches_the_profile_and_releasing_restores_it(
    buses: Buses, ppd: MockService
) -> None:
    async def scenario() -> None:
        bus, action = _power(buses)
        await action.apply()
        assert active_profile(ppd) == "performance"
        assert [h["ApplicationId"] for h in holds(ppd)] == [APP_ID]
        assert action.found_profile == "balanced"

        await action.revert()
        assert active_profile(ppd) == "balanced"
        assert holds(ppd) == []

        await action.apply()  # a second round remembers afresh
        assert active_profile(ppd) == "performance"
        await action.revert()
        await action.revert()  # nothing held: nothing to do
        assert holds(ppd) == []
        await bus.close()

    asyncio.run(scenario())


def test_the_daemon_before_0_20_answers_under_its_old_name(buses: Buses) -> None:
    legacy = start_power_profiles(buses, legacy=True)
    try:

        async def scenario() -> None:
            bus, action = _power(buses)
            await action.apply()
            assert active_profile(legacy) == "performance"
            await action.revert()
            assert active_profile(legacy) == "balanced"
            await bus.close()

        asyncio.run(scenario())
    finally:
        legacy.stop()


def test_a_power_saver_hold_of_another_program_wins_but_ours_is_listed(
    buses: Buses, ppd: MockService
) -> None:
    ppd.call(ppd.name, "HoldProfile", "power-saver", "battery low", "org.example.other")

    async def scenario() -> None:
        bus, action = _power(buses)
        await action.apply()  # verified by the listed hold, not the active profile
        assert active_profile(ppd) == "power-saver"
        assert {h["ApplicationId"] for h in holds(ppd)} == {APP_ID, "org.example.other"}
        await action.revert()
        assert [h["ApplicationId"] for h in holds(ppd)] == ["org.example.other"]
        await bus.close()

    asyncio.run(scenario())


def test_without_the_daemon_the_action_is_unavailable(buses: Buses) -> None:
    async def scenario() -> None:
        bus, action = _power(buses)
        with pytest.raises(ActionUnavailableError, match="power-profiles-daemon is not running"):
            await action.apply()
        assert not action.held
        await action.revert()  # nothing was held
        await bus.close()

    asyncio.run(scenario())


def test_without_a_system_bus_the_action_is_unavailable(tmp_path: Path) -> None:
    async def scenario() -> None:
        bus = BusConnection(f"unix:path={tmp_path / 'no-bus'}", "system bus")
        with pytest.raises(ActionUnavailableError, match="cannot reach the D-Bus system bus"):
            await PowerProfileAction(PowerProfilesClient(bus)).apply()

    asyncio.run(scenario())


def test_the_daemon_dying_during_the_hold_is_transient(buses: Buses, ppd: MockService) -> None:
    ppd.replace_method(ppd.name, "HoldProfile", "sss", "u", "os._exit(3)")

    async def scenario() -> None:
        bus, action = _power(buses)
        with pytest.raises(TransientActionError, match="NoReply"):
            await action.apply()
        assert not action.held
        ppd.process.wait(timeout=5)
        # The retry finds no daemon at all now: that is not worth retrying again.
        with pytest.raises(ActionUnavailableError):
            await action.apply()
        await bus.close()

    asyncio.run(scenario())


def test_a_daemon_that_does_not_answer_in_time_is_transient(
    buses: Buses, ppd: MockService
) -> None:
    ppd.replace_method(ppd.name, "HoldProfile", "sss", "u", "time.sleep(0.5); ret = 1")

    async def scenario() -> None:
        bus, action = _power(buses, timeout_s=0.1)
        with pytest.raises(TransientActionError, match=r"no reply within 0\.1 s"):
            await action.apply()
        await bus.close()

    asyncio.run(scenario())


def test_a_refused_hold_is_a_permanent_error(buses: Buses, ppd: MockService) -> None:
    ppd.replace_method(
        ppd.name,
        "HoldProfile",
        "sss",
        "u",
        "raise dbus.exceptions.DBusException('no performance driver', "
        "name='org.freedesktop.UPower.PowerProfiles.Error.InvalidProfile')",
    )

    async def scenario() -> None:
        bus, action = _power(buses)
        with pytest.raises(ActionError, match="InvalidProfile") as caught:
            await action.apply()
        assert not isinstance(caught.value, TransientActionError)
        await bus.close()

    asyncio.run(scenario())


def test_a_hold_the_daemon_neither_applies_nor_lists_fails_the_action(
    buses: Buses, ppd: MockService
) -> None:
    ppd.replace_method(ppd.name, "HoldProfile", "sss", "u", "ret = dbus.UInt32(41)")

    async def scenario() -> None:
        bus, action = _power(buses)
        with pytest.raises(ActionError, match="neither applied nor listed"):
            await action.apply()
        assert not action.held
        await bus.close()

    asyncio.run(scenario())


def test_a_daemon_restarted_since_the_hold_took_the_hold_with_it(buses: Buses) -> None:
    first = start_power_profiles(buses)

    async def scenario() -> None:
        bus, action = _power(buses)
        await action.apply()
        first.stop()
        second = start_power_profiles(buses)
        try:
            await action.revert()  # the old daemon is gone, and its hold too
            assert not action.held
            assert holds(second) == [] and active_profile(second) == "balanced"
        finally:
            second.stop()
        await bus.close()

    asyncio.run(scenario())


def test_a_hold_already_released_counts_as_released(buses: Buses, ppd: MockService) -> None:
    async def scenario() -> None:
        bus, action = _power(buses)
        await action.apply()
        ppd.call(ppd.name, "ReleaseProfile", 1)  # the first release's reply was lost, say
        await action.revert()  # the daemon refuses cookie 1 now, and lists no hold
        assert not action.held
        await bus.close()

    asyncio.run(scenario())


def test_a_refused_release_of_a_hold_still_listed_fails_the_revert(
    buses: Buses, ppd: MockService
) -> None:
    async def scenario() -> None:
        bus, action = _power(buses)
        await action.apply()
        ppd.replace_method(
            ppd.name,
            "ReleaseProfile",
            "u",
            "",
            "raise dbus.exceptions.DBusException('busy', name='org.example.Error.Busy')",
        )
        with pytest.raises(ActionError, match=r"org\.example\.Error\.Busy"):
            await action.revert()
        assert action.held and active_profile(ppd) == "performance"
        await bus.close()  # the hold ends with the connection all the same

    asyncio.run(scenario())
    _wait_until(lambda: holds(ppd) == [])


def test_closing_the_connection_releases_the_hold(buses: Buses, ppd: MockService) -> None:
    async def scenario() -> None:
        bus, action = _power(buses)
        await action.apply()
        await bus.close()

    asyncio.run(scenario())
    _wait_until(lambda: holds(ppd) == [])
    assert active_profile(ppd) == "balanced"


_HOLD_AND_WAIT = """
import asyncio, sys
from gearshift.system.dbus import BusConnection
from gearshift.system.power import PowerProfileAction, PowerProfilesClient

async def main():
    action = PowerProfileAction(PowerProfilesClient(BusConnection(sys.argv[1], "system bus")))
    await action.apply()
    print("held", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_a_killed_gearshift_leaves_no_hold_behind(buses: Buses, ppd: MockService) -> None:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'app'}{os.pathsep}{ROOT}")
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AND_WAIT, buses.system],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        assert active_profile(ppd) == "performance"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=5)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    _wait_until(lambda: holds(ppd) == [])
    assert active_profile(ppd) == "balanced"


# ------------------------------------------------------------------------- screensaver


def test_the_inhibit_is_taken_and_ended(buses: Buses, screensaver: MockService) -> None:
    async def scenario() -> None:
        bus = BusConnection(buses.session, "session bus")
        action = ScreensaverInhibitAction(bus)
        await action.apply()
        assert inhibits(screensaver) == 1
        await action.apply()  # already inhibiting: no second inhibit
        assert inhibits(screensaver) == 1
        await action.revert()
        assert inhibits(screensaver) == 0 and not action.inhibiting
        await bus.close()

    asyncio.run(scenario())


def test_without_a_screensaver_the_inhibit_is_unavailable(buses: Buses) -> None:
    async def scenario() -> None:
        bus = BusConnection(buses.session, "session bus")
        with pytest.raises(ActionUnavailableError, match="no screensaver service"):
            await ScreensaverInhibitAction(bus).apply()
        await bus.close()

    asyncio.run(scenario())


def test_the_inhibit_ends_when_the_app_closes_its_connection(
    buses: Buses, screensaver: MockService
) -> None:
    async def scenario() -> None:
        bus = BusConnection(buses.session, "session bus")
        await ScreensaverInhibitAction(bus).apply()
        assert inhibits(screensaver) == 1
        await bus.close()

    asyncio.run(scenario())
    _wait_until(lambda: inhibits(screensaver) == 0)


def test_a_screensaver_gone_before_the_revert_took_the_inhibit_with_it(buses: Buses) -> None:
    service = start_screensaver(buses)

    async def scenario() -> None:
        bus = BusConnection(buses.session, "session bus")
        action = ScreensaverInhibitAction(bus)
        await action.apply()
        service.stop()
        await action.revert()
        assert not action.inhibiting
        await bus.close()

    asyncio.run(scenario())


# ---------------------------------------------------------------- builders and restorers


def test_builders_make_the_actions_the_profile_names(
    buses: Buses, ppd: MockService, screensaver: MockService
) -> None:
    profile = ModeProfile(PerformanceMode.COMPETITIVE, 300.0, None, "medium", ())

    async def scenario() -> None:
        desktop = DesktopBuses(
            BusConnection(buses.system, "system bus"), BusConnection(buses.session, "session bus")
        )
        builders = desktop_action_builders(desktop)
        power = builders["power_profile"](ActionSpec("power_profile"), profile)
        inhibit = builders["screensaver"](ActionSpec("screensaver"), profile)
        await power.apply()
        await inhibit.apply()
        assert active_profile(ppd) == "performance" and inhibits(screensaver) == 1
        assert holds(ppd)[0]["Reason"] == "Gearshift's Competitive mode"
        await desktop.close()  # quitting without reverting still leaves nothing behind

    asyncio.run(scenario())
    _wait_until(lambda: holds(ppd) == [] and inhibits(screensaver) == 0)

    with pytest.raises(ActionError, match="'turbo' in the Competitive profile"):
        desktop_action_builders(DesktopBuses.from_environ({}))["power_profile"](
            ActionSpec("power_profile", {"profile": "turbo"}), profile
        )


def test_restorers_only_log_as_the_services_already_let_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    restorers = desktop_restorers()
    caplog.set_level("INFO")
    asyncio.run(restorers["power_profile"]({"profile": "performance"}))
    asyncio.run(restorers["screensaver"]({"application": "Gearshift"}))
    assert "performance power profile hold ended" in caplog.text
    assert "screensaver inhibit ended" in caplog.text


def test_builders_skip_a_service_that_is_not_on_its_bus_and_follow_it_coming_back(
    buses: Buses,
) -> None:
    profile = ModeProfile(PerformanceMode.COMPETITIVE, 300.0, None, "medium", ())

    async def scenario() -> None:
        desktop = DesktopBuses(
            BusConnection(buses.system, "system bus"), BusConnection(buses.session, "session bus")
        )
        await desktop.start()
        builders = desktop_action_builders(desktop)
        with pytest.raises(ActionUnavailableError, match="power-profiles-daemon is not running"):
            builders["power_profile"](ActionSpec("power_profile"), profile)
        with pytest.raises(ActionUnavailableError, match="no screensaver service"):
            builders["screensaver"](ActionSpec("screensaver"), profile)

        ppd = await asyncio.to_thread(start_power_profiles, buses, legacy=True)
        try:
            for _ in range(200):
                if desktop.system.owned("net.hadess.PowerProfiles"):
                    break
                await asyncio.sleep(0.01)
            action = builders["power_profile"](ActionSpec("power_profile"), profile)
            await action.apply()
            assert active_profile(ppd) == "performance"
            await action.revert()
        finally:
            await asyncio.to_thread(ppd.stop)
        for _ in range(200):
            if desktop.system.owned("net.hadess.PowerProfiles") is False:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(ActionUnavailableError):
            builders["power_profile"](ActionSpec("power_profile"), profile)
        await desktop.close()

    asyncio.run(scenario())


def test_without_a_session_bus_the_watch_is_left_unknown(tmp_path: Path) -> None:
    async def scenario() -> None:
        desktop = DesktopBuses(
            BusConnection(None, "system bus"),
            BusConnection(f"unix:path={tmp_path / 'none'}", "session bus"),
        )
        await desktop.start()  # logs, does not raise
        assert desktop.session.owned("org.freedesktop.ScreenSaver") is None
        await desktop.close()

    asyncio.run(scenario())
