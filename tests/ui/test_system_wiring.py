"""The app's system side wired in: the D-Bus actions and the tuning-tool detection run
inside the app against python-dbusmock services on private buses, and a missing bus
makes its actions skipped with the reason, at once."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from gearshift.control.exitcodes import ExitCode
from gearshift.control.service import ControlService
from gearshift.core.errors import ActionUnavailableError
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.modes import (
    DEFAULT_PROFILES,
    GPU_CLOCKS,
    POWER_PROFILE,
    SCREENSAVER,
    PerformanceMode,
)
from gearshift.gpu.fake import FakeNvml
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.presets import PresetAdvisor
from gearshift.gpu.probe import NEEDS_PRIVILEGE
from gearshift.gpu.service import GpuService
from gearshift.gpu.telemetry import GpuTelemetry
from gearshift.system.daemons import SystemObserver
from gearshift.system.dbus import BusConnection
from gearshift.system.desktop import DesktopBuses
from gearshift.ui.app import LOST_DISPLAY_UNDO_S, _undo_after_losing_qt
from gearshift.ui.system_side import SystemServices
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
from tests.ui.conftest import AppRig, GpuFactory

COMP = PerformanceMode.COMPETITIVE
_MISSING = dbus_services.missing_reason()
needs_dbus = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")


class NoProcesses(SystemObserver):
    """The private buses' names, but neither this machine's processes nor its units,
    so that what runs on the host running the tests changes nothing."""

    def process_names(self) -> frozenset[str]:
        return frozenset()


def services_on(system: str | None, session: str | None, root: Path) -> SystemServices:
    buses = DesktopBuses(
        BusConnection(system, "system bus"), BusConnection(session, "session bus")
    )
    observer = NoProcesses(buses.system, buses.session, root=root)
    return SystemServices(buses, observer=observer, timeout_s=2.0)


@pytest.fixture(scope="module")
def buses() -> Iterator[Buses]:
    if _MISSING is not None:
        pytest.skip(_MISSING)
    with dbus_services.private_buses() as private:
        yield private


@pytest.fixture
def desktop(buses: Buses) -> Iterator[tuple[MockService, MockService]]:
    ppd, screensaver = start_power_profiles(buses), start_screensaver(buses)
    yield ppd, screensaver
    screensaver.stop()
    ppd.stop()


@needs_dbus
def test_competitive_holds_the_profile_and_inhibits_until_quit(
    loop: qasync.QEventLoop,
    qtbot: QtBot,
    buses: Buses,
    desktop: tuple[MockService, MockService],
    tmp_path: Path,
) -> None:
    ppd, screensaver = desktop
    services = services_on(buses.system, buses.session, tmp_path)
    rig = AppRig(
        loop,
        qtbot,
        tray=False,
        builders=services.builders(),
        controller_options={"system": services, "restorers": services.restorers()},
    )
    rig.start()
    try:
        # Started before the mode: the services are followed, the tools looked for.
        assert services.buses.system.owned(ppd.name) is True
        assert services.tools is not None
        assert services.tools.running("power-profiles-daemon")
        summary = rig.app.window.controls_label.text()
        assert summary.startswith("Other tuning tools: power-profiles-daemon")
        assert "Power profile: power-profiles-daemon" in rig.app.window.controls_label.toolTip()
        health = ControlService(
            rig.manager,
            rig.controller.events,
            rig.monitor,
            source_label="demo",
            tuning_tools=lambda: services.tools,
        ).health()
        system = health.subsystems["system"]
        assert system.state == "ok" and "power-profiles-daemon (Power profile" in (
            system.reason or ""
        )

        rig.run(rig.controller.request_mode(COMP))
        assert rig.controller.mode is COMP
        applied = rig.manager.applied
        assert any(name.startswith("power profile") for name in applied), applied
        assert active_profile(ppd) == "performance" and len(holds(ppd)) == 1
        assert inhibits(screensaver) == 1
        skipped = {entry.kind: entry.reason for entry in rig.manager.skipped}
        assert skipped[GPU_CLOCKS] == "GPU telemetry is not running"
        assert POWER_PROFILE not in skipped and SCREENSAVER not in skipped
    finally:
        assert rig.quit() == 0
    # Quitting undid the mode, then closed the buses.
    assert active_profile(ppd) == "balanced" and holds(ppd) == []
    assert inhibits(screensaver) == 0
    assert not services.buses.system.is_open and not services.buses.session.is_open


def test_missing_buses_skip_their_actions_with_the_reason_at_once(tmp_path: Path) -> None:
    nowhere = f"unix:path={tmp_path / 'no-bus'}"
    services = services_on(nowhere, nowhere, tmp_path)
    builders = services.builders()
    profile = DEFAULT_PROFILES[COMP]
    spec = {spec.kind: spec for spec in profile.actions}

    async def run() -> None:
        started = time.monotonic()
        await services.start()
        assert time.monotonic() - started < 1.0
        for kind in (POWER_PROFILE, SCREENSAVER):
            with pytest.raises(ActionUnavailableError, match="cannot reach the D-Bus"):
                builders[kind](spec[kind], profile)
        with pytest.raises(ActionUnavailableError, match="GPU telemetry is not running"):
            builders[GPU_CLOCKS](spec[GPU_CLOCKS], profile)
        assert services.tools is not None
        assert "could not check the system bus" in services.tools.summary()
        await services.close()

    asyncio.run(run())


# jeepney's open_dbus_connection, cut off by the timeout halfway through its handshake,
# leaves its socket for the garbage collector (a ResourceWarning), not open.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_bus_that_never_answers_is_bounded(tmp_path: Path) -> None:
    """A socket that accepts but never speaks D-Bus: start-up waits a bounded time."""
    path = tmp_path / "mute.sock"
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket,sys,time\n"
            "s=socket.socket(socket.AF_UNIX);s.bind(sys.argv[1]);s.listen(4)\n"
            "c=[s.accept() for _ in range(4)]\ntime.sleep(60)",
            str(path),
        ]
    )
    try:
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        mute = f"unix:path={path}"
        services = services_on(mute, None, tmp_path)
        services.timeout_s = 0.3

        async def run() -> float:
            started = time.monotonic()
            await services.start()
            await services.close()
            return time.monotonic() - started

        assert asyncio.run(run()) < 3.0
        assert services.tools is not None
        reason = services.builders()[POWER_PROFILE]
        with pytest.raises(ActionUnavailableError):
            reason(DEFAULT_PROFILES[COMP].actions[1], DEFAULT_PROFILES[COMP])
    finally:
        server.kill()
        server.wait(timeout=5)


# The first loop's connections are left to the garbage collector, as they are when the
# X server goes away and the process exits right after.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@needs_dbus
def test_losing_qt_undoes_and_closes_the_buses_without_waiting_on_the_dead_loop(
    loop: qasync.QEventLoop,
    qtbot: QtBot,
    buses: Buses,
    desktop: tuple[MockService, MockService],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _ppd, screensaver = desktop
    services = services_on(buses.system, buses.session, tmp_path)
    rig = AppRig(
        loop,
        qtbot,
        tray=False,
        builders=services.builders(),
        controller_options={"system": services},
    )
    rig.start()
    rig.run(rig.controller.request_mode(COMP))
    assert inhibits(screensaver) == 1

    started = time.monotonic()
    assert _undo_after_losing_qt(rig.app) == ExitCode.FAILED
    assert time.monotonic() - started < LOST_DISPLAY_UNDO_S
    err = capsys.readouterr().err
    assert "the display connection was lost; undid Competitive mode's changes" in err
    assert not services.buses.system.is_open and not services.buses.session.is_open
    # With the X server gone, the Qt loop and the first connections' tasks die together;
    # here the loop lives on, so end those tasks as its death would.
    orphans = [
        task
        for task in asyncio.all_tasks(loop)
        if task.get_coro().__qualname__ in ("DBusRouter._receiver", "BusConnection._follow_owners")
    ]
    for task in orphans:
        task.cancel()
    rig.wait_for(lambda: all(task.done() for task in orphans))
    orphans.clear()
    del task
    gc.collect()  # their sockets go now, inside this test, not at the end of the run
    assert rig.quit() == 0


def gpu_on(library: FakeNvml, is_root: bool) -> GpuFactory:
    def make(manager: ModeManager, events: EventBus) -> GpuService:
        telemetry = GpuTelemetry(NvmlBackend(library, is_root=is_root), interval_s=0.05)
        return GpuService(
            telemetry, manager, events, PresetAdvisor(time.monotonic, manager.profiles)
        )

    return make


@pytest.mark.parametrize("root", [True, False], ids=["root", "user"])
def test_competitive_locks_the_gpu_clocks_through_the_telemetry_s_nvml(
    loop: qasync.QEventLoop, qtbot: QtBot, tmp_path: Path, root: bool
) -> None:
    library = FakeNvml("rtx4080super", root=root)
    nowhere = f"unix:path={tmp_path / 'no-bus'}"
    services = services_on(nowhere, nowhere, tmp_path)
    rig = AppRig(
        loop,
        qtbot,
        tray=False,
        gpu=gpu_on(library, root),
        builders=services.builders(),
        controller_options={"system": services},
    )
    rig.start()
    try:
        gpu = rig.controller.gpu
        assert gpu is not None
        rig.wait_for(lambda: gpu.latest.available)
        rig.run(rig.controller.request_mode(COMP))
        skipped = {entry.kind: entry.reason for entry in rig.manager.skipped}
        if root:
            assert GPU_CLOCKS not in skipped
            assert library._cards[0].locked_clocks_mhz is not None
        else:  # the probe's own reason, as the settings window shows it
            assert skipped[GPU_CLOCKS].endswith(NEEDS_PRIVILEGE)
            assert library._cards[0].locked_clocks_mhz is None
        assert "cannot reach the D-Bus" in skipped[POWER_PROFILE]
        # The settings window greys out what the app goes without, with the same reason.
        rig.app.open_settings()
        window = rig.app.settings_window
        assert window is not None
        table = window.action_table
        reasons = {
            table.item(row, 0).text(): table.item(row, 3) for row in range(table.rowCount())
        }
        clocks, power = reasons["Locked graphics clocks"], reasons["Power profile"]
        assert bool(clocks.flags() & Qt.ItemFlag.ItemIsEnabled) is root
        assert not power.flags() & Qt.ItemFlag.ItemIsEnabled
        assert power.text() == skipped[POWER_PROFILE]
        rig.run(rig.controller.request_mode(COMP.other, force=True))
        assert rig.controller.mode is COMP.other
        assert library._cards[0].locked_clocks_mhz is None
    finally:
        assert rig.quit() == 0
