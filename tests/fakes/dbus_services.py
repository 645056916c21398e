"""Private D-Bus buses with python-dbusmock services on them, for tests and benchmarks.

``private_buses()`` starts a system bus and a session bus of their own (never the
machine's) and yields their addresses; ``start_power_profiles`` and
``start_screensaver`` put a mock power-profiles-daemon or screensaver on one of them,
loaded with ``tests/fakes/dbus_template.py`` so that they behave like the real
services (a hold switches the active profile; a hold or an inhibit ends when its
holder's connection closes). The test reads the services' state with dbus-python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEMPLATE = str(Path(__file__).with_name("dbus_template.py"))

UPOWER_PPD = ("org.freedesktop.UPower.PowerProfiles", "/org/freedesktop/UPower/PowerProfiles")
HADESS_PPD = ("net.hadess.PowerProfiles", "/net/hadess/PowerProfiles")
SCREENSAVER = ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver")
MOCK_IFACE = "org.freedesktop.DBus.Mock"


def missing_reason() -> str | None:
    """Why the D-Bus mocks cannot run here, or None when they can."""
    if shutil.which("dbus-daemon") is None:
        return "dbus-daemon is missing (apt-get install dbus)"
    try:
        import dbus  # noqa: F401
        import dbusmock  # noqa: F401
    except ImportError as error:
        return f"python-dbusmock is not installed ({error}); pip install python-dbusmock"
    return None


@dataclass
class Buses:
    """The addresses of the private system and session buses."""

    system: str
    session: str


@contextmanager
def private_buses() -> Iterator[Buses]:
    """A private system bus and session bus; the environment points at them meanwhile
    (dbusmock's helpers read it), and is put back after."""
    from dbusmock import BusType, PrivateDBus

    saved = {key: os.environ.get(key) for key in _BUS_VARIABLES}
    system, session = PrivateDBus(BusType.SYSTEM), PrivateDBus(BusType.SESSION)
    try:
        system.start()
        session.start()
        yield Buses(system.address, session.address)
    finally:
        session.stop()
        system.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_BUS_VARIABLES = ("DBUS_SYSTEM_BUS_ADDRESS", "DBUS_SESSION_BUS_ADDRESS")


class MockService:
    """One dbusmock process serving one well-known name on a private bus."""

    def __init__(
        self, address: str, system: bool, name: str, path: str, parameters: dict[str, Any]
    ) -> None:
        import dbus

        self.address = address
        self.name = name
        self.path = path
        environment = dict(os.environ)
        variable = "DBUS_SYSTEM_BUS_ADDRESS" if system else "DBUS_SESSION_BUS_ADDRESS"
        environment[variable] = address
        kind = "--system" if system else "--session"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dbusmock", kind, name, path, name],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.bus = dbus.bus.BusConnection(address)
        self._wait_for_name()
        self.object = self.bus.get_object(name, path)
        self.mock = dbus.Interface(self.object, MOCK_IFACE)
        self.mock.AddTemplate(TEMPLATE, dbus.Dictionary(parameters, signature="sv"))

    def get(self, interface: str, prop: str) -> Any:
        """A property of the service's main object."""
        return self.object.Get(interface, prop, dbus_interface="org.freedesktop.DBus.Properties")

    def call(self, interface: str, method: str, *args: Any) -> Any:
        """Call a method on the service's main object."""
        return self.object.get_dbus_method(method, interface)(*args)

    def replace_method(self, interface: str, method: str, in_sig: str, out_sig: str, code: str):
        """Make ``method`` run ``code`` from now on (a fault, say)."""
        self.mock.AddMethod(interface, method, in_sig, out_sig, code)

    def stop(self) -> None:
        """End the service, as a crash of the daemon would."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        self.bus.close()

    def _wait_for_name(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.bus.name_has_owner(self.name):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dbusmock service for {self.name} did not start")
            time.sleep(0.01)


def start_power_profiles(
    buses: Buses, *, legacy: bool = False, active: str = "balanced"
) -> MockService:
    """A mock power-profiles-daemon on the private system bus."""
    name, path = HADESS_PPD if legacy else UPOWER_PPD
    parameters = {"service": "power_profiles", "legacy": legacy, "ActiveProfile": active}
    return MockService(buses.system, True, name, path, parameters)


def start_screensaver(buses: Buses) -> MockService:
    """A mock desktop screensaver on the private session bus."""
    name, path = SCREENSAVER
    return MockService(buses.session, False, name, path, {"service": "screensaver"})


def active_profile(service: MockService) -> str:
    """The mock daemon's active profile now."""
    return str(service.get(service.name, "ActiveProfile"))


def holds(service: MockService) -> list[dict[str, str]]:
    """The mock daemon's holds now."""
    return [
        {str(k): str(v) for k, v in hold.items()}
        for hold in service.get(service.name, "ActiveProfileHolds")
    ]


def inhibits(service: MockService) -> int:
    """How many inhibits the mock screensaver keeps now."""
    return int(service.call(SCREENSAVER[0], "CountInhibits"))
