"""Finding the other tuning tools, and who controls what: through a fake observer, and
the real observer against a private bus, a real child process and a unit state tree."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from gearshift.core.errors import ActionError
from gearshift.core.modes import CPU_EPP, CPU_GOVERNOR, GPU_CLOCKS, PLATFORM_PROFILE, POWER_PROFILE
from gearshift.system.daemons import (
    GPU_POWER_LIMIT,
    SESSION,
    SYSTEM,
    SystemObserver,
    TuningTools,
    detect_tuning_tools,
)
from gearshift.system.dbus import BusConnection
from tests.fakes import dbus_services


class FakeObserver:
    """A machine with the given bus names, processes and active units."""

    def __init__(
        self,
        system: Iterable[str] = (),
        session: Iterable[str] | None = (),
        processes: Iterable[str] = (),
        units: Iterable[str] = (),
    ) -> None:
        self.names = {SYSTEM: frozenset(system), SESSION: session}
        self.processes = frozenset(processes)
        self.units = frozenset(units)

    async def bus_names(self, bus: str) -> frozenset[str]:
        names = self.names[bus]
        if names is None:
            raise ActionError(f"cannot reach the D-Bus {bus} bus (no such socket)")
        return frozenset(names)

    def process_names(self) -> frozenset[str]:
        return self.processes

    def active_units(self, units: Iterable[str]) -> frozenset[str]:
        return frozenset(units) & self.units


def _detect(observer: FakeObserver) -> TuningTools:
    return asyncio.run(detect_tuning_tools(observer))


def test_a_machine_with_nothing_else_leaves_every_setting_to_gearshift() -> None:
    tools = _detect(FakeObserver(processes=["systemd", "bash"]))
    assert tools.found == ()
    assert all(owner is None for owner in tools.controls().values())
    assert tools.skip_reason(CPU_GOVERNOR) is None
    assert tools.summary() == "no other tuning tool found"
    assert "CPU governor: Gearshift (no other tool found)" in tools.describe()


def test_tuned_and_power_profiles_daemon_split_the_cpu_settings() -> None:
    tools = _detect(
        FakeObserver(system=["org.freedesktop.UPower.PowerProfiles", "com.redhat.tuned"])
    )
    assert [f.tool.key for f in tools.found] == ["power-profiles-daemon", "tuned"]
    assert tools.found[1].evidence == "D-Bus name com.redhat.tuned"
    assert tools.owner_label(CPU_GOVERNOR) == "TuneD"
    assert tools.owner_label(POWER_PROFILE) == "power-profiles-daemon"
    assert tools.owner_label(PLATFORM_PROFILE) == "power-profiles-daemon"
    assert tools.owner_label(CPU_EPP) == "power-profiles-daemon"  # listed first
    assert tools.owner_of(GPU_CLOCKS) is None
    assert tools.skip_reason(CPU_GOVERNOR) == (
        "TuneD controls the cpu governor; Gearshift leaves it alone"
    )
    assert "TuneD (CPU governor, Energy-performance preference)" in tools.summary()


def test_the_old_daemon_name_counts_too() -> None:
    tools = _detect(FakeObserver(system=["net.hadess.PowerProfiles"]))
    assert tools.running("power-profiles-daemon")


def test_tools_without_a_bus_name_are_found_by_process_or_unit() -> None:
    tools = _detect(FakeObserver(processes=["auto-cpufreq", "lact"], units=["tlp.service"]))
    found = {f.tool.key: f.evidence for f in tools.found}
    assert found == {
        "auto-cpufreq": "process auto-cpufreq",
        "tlp": "systemd unit tlp.service",
        "lact": "process lact",
    }
    assert tools.owner_label(CPU_GOVERNOR) == "auto-cpufreq"
    assert tools.owner_label(GPU_CLOCKS) == "LACT"
    assert tools.owner_label(GPU_POWER_LIMIT) == "LACT"
    assert "GPU clocks: LACT" in tools.describe()


def test_gamemode_on_the_session_bus_owns_the_governor_while_a_game_runs() -> None:
    tools = _detect(FakeObserver(session=["com.feralinteractive.GameMode"]))
    reason = tools.skip_reason(CPU_GOVERNOR)
    assert reason is not None and reason.startswith("GameMode controls the cpu governor")
    assert "while a game is registered with it" in reason


def test_a_bus_that_cannot_be_reached_is_named_not_fatal() -> None:
    tools = _detect(FakeObserver(session=None, processes=["tuned"]))
    assert tools.running("tuned") and not tools.running("gamemode")
    assert tools.unchecked == (
        "the session bus (cannot reach the D-Bus session bus (no such socket))",
    )
    assert tools.summary().endswith(
        "could not check the session bus (cannot reach the D-Bus session bus (no such socket))"
    )


# ---------------------------------------------------------------------- the real observer


def test_the_unit_state_files_tell_which_units_are_active(tmp_path: Path) -> None:
    units = tmp_path / "run" / "systemd" / "units"
    units.mkdir(parents=True)
    (units / "invocation:tlp.service").symlink_to("0123456789abcdef")
    observer = SystemObserver(
        BusConnection(None, "system bus"), BusConnection(None, "session bus"), tmp_path
    )
    assert observer.active_units(["tlp.service", "tuned.service"]) == {"tlp.service"}


def test_a_script_daemon_is_found_by_its_script_name(tmp_path: Path) -> None:
    script = tmp_path / "auto-cpufreq"
    script.write_text(
        "import sys, time\nsys.stdout.write('up\\n'); sys.stdout.flush()\ntime.sleep(30)\n"
    )
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "up\n"
        observer = SystemObserver(
            BusConnection(None, "system bus"), BusConnection(None, "session bus"), tmp_path
        )
        assert "auto-cpufreq" in observer.process_names()
        tools = asyncio.run(detect_tuning_tools(observer))
        assert tools.running("auto-cpufreq")
        assert tools.unchecked == (
            "the system bus (there is no D-Bus system bus here)",
            "the session bus (there is no D-Bus session bus here)",
        )
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


@pytest.mark.skipif(dbus_services.missing_reason() is not None, reason="no D-Bus mocks here")
def test_the_observer_reads_names_off_the_buses(tmp_path: Path) -> None:
    with dbus_services.private_buses() as buses:
        screensaver = dbus_services.start_screensaver(buses)
        ppd = dbus_services.start_power_profiles(buses)
        try:

            async def scenario() -> TuningTools:
                observer = SystemObserver(
                    BusConnection(buses.system, "system bus"),
                    BusConnection(buses.session, "session bus"),
                    tmp_path,
                )
                assert "org.freedesktop.ScreenSaver" in await observer.bus_names(SESSION)
                tools = await detect_tuning_tools(observer)
                await observer.close()
                return tools

            tools = asyncio.run(scenario())
            assert tools.running("power-profiles-daemon")
            assert tools.found[0].evidence == "D-Bus name org.freedesktop.UPower.PowerProfiles"
        finally:
            ppd.stop()
            screensaver.stop()


def test_the_health_report_shows_who_controls_what() -> None:
    from gearshift.control.service import ControlService
    from gearshift.core.actions import core_action_builders
    from gearshift.core.budget import BudgetMonitor
    from gearshift.core.events import EventBus
    from gearshift.core.manager import ModeManager

    found: list[TuningTools | None] = [None]

    async def scenario() -> None:
        monitor = BudgetMonitor(16.67)
        events = EventBus()
        manager = ModeManager(core_action_builders(monitor), events)
        await manager.start()
        service = ControlService(
            manager, events, monitor, source_label="test", tuning_tools=lambda: found[0]
        )
        assert service.health().subsystems["system"].reason == (
            "still looking for other tuning tools"
        )
        found[0] = await detect_tuning_tools(FakeObserver(system=["com.redhat.tuned"]))
        system = service.health().subsystems["system"]
        assert system.state == "ok"
        assert system.reason == (
            "other tuning tools: TuneD (CPU governor, Energy-performance preference)"
        )
        service.close()
        await manager.stop()

    asyncio.run(scenario())
