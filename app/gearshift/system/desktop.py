"""The actions that go through desktop and system services on D-Bus, ready to register.

The app makes one ``DesktopBuses`` at start-up, hands ``desktop_action_builders`` to the
mode manager and ``desktop_restorers`` to the journal's recovery, and closes the buses
last on quit (which also ends any hold or inhibit a failed revert left behind)::

    buses = DesktopBuses.from_environ(os.environ)
    await buses.start()
    builders = {**core_action_builders(monitor), **desktop_action_builders(buses)}
    restorers = {**desktop_restorers(), ...}
    ...
    await buses.close()

Profiles list them as ``ActionSpec("power_profile", {"profile": "performance"})`` and
``ActionSpec("screensaver")``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from gearshift.core.actions import Action, ActionBuilder, Restorer
from gearshift.core.errors import ActionError, ActionUnavailableError
from gearshift.core.modes import ActionSpec, ModeProfile
from gearshift.system.dbus import BusConnection, session_bus_address, system_bus_address
from gearshift.system.power import (
    DAEMON_NAMES,
    PERFORMANCE,
    POWER_PROFILE,
    PowerProfileAction,
    PowerProfilesClient,
    restore_power_profile,
)
from gearshift.system.power import NOT_RUNNING as POWER_NOT_RUNNING
from gearshift.system.screensaver import BUS_NAME as SCREENSAVER_NAME
from gearshift.system.screensaver import NOT_RUNNING as SCREENSAVER_NOT_RUNNING
from gearshift.system.screensaver import (
    SCREENSAVER,
    ScreensaverInhibitAction,
    restore_screensaver,
)

_log = logging.getLogger(__name__)

PROFILES = ("performance", "balanced", "power-saver")
"""The profiles power-profiles-daemon offers."""


@dataclass
class DesktopBuses:
    """The app's system and session bus connections, shared by every D-Bus action.

    Holds and inhibits live as long as these connections: close them last on quit.
    """

    system: BusConnection
    session: BusConnection

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DesktopBuses:
        """Connections (opened on first use) to the buses the environment names."""
        return cls(
            BusConnection(system_bus_address(environ), "system bus"),
            BusConnection(session_bus_address(environ), "session bus"),
        )

    async def start(self) -> None:
        """Follow whether power-profiles-daemon and the screensaver are on their buses,
        so that a builder skips their action (with the reason) while they are not. A
        bus that cannot be reached is logged and left unknown: the action then finds
        out for itself when it applies."""
        watched = (
            (self.system, [name.bus_name for name in DAEMON_NAMES]),
            (self.session, [SCREENSAVER_NAME]),
        )
        for bus, names in watched:
            try:
                await bus.watch(names)
            except ActionError as error:
                _log.info("not following %s: %s", ", ".join(names), error)

    async def close(self) -> None:
        """Close both connections; the services end whatever they still held for us."""
        await self.system.close()
        await self.session.close()


def desktop_action_builders(buses: DesktopBuses) -> Mapping[str, ActionBuilder]:
    """Builders for "power_profile" and "screensaver", keyed by action kind.

    While DesktopBuses.start() follows the services, a builder whose service is not on
    its bus raises ActionUnavailableError ("power-profiles-daemon is not running"), so
    the switch goes on without it; the action's apply() says the same if the service
    vanished in between.

    Neither consults the other tuning tools: the power profile goes through
    power-profiles-daemon's own API, and inhibits from several programs add up.
    """
    client = PowerProfilesClient(buses.system)

    def power_profile(spec: ActionSpec, profile: ModeProfile) -> Action:
        if all(buses.system.owned(name.bus_name) is False for name in DAEMON_NAMES):
            raise ActionUnavailableError(POWER_NOT_RUNNING)
        wanted = str(spec.params.get("profile", PERFORMANCE))
        if wanted not in PROFILES:
            raise ActionError(
                f"power profile '{wanted}' in the {profile.mode.label} profile is not one "
                f"of {', '.join(PROFILES)}"
            )
        reason = str(spec.params.get("reason", f"Gearshift's {profile.mode.label} mode"))
        return PowerProfileAction(client, wanted, reason)

    def screensaver(spec: ActionSpec, profile: ModeProfile) -> Action:
        if buses.session.owned(SCREENSAVER_NAME) is False:
            raise ActionUnavailableError(SCREENSAVER_NOT_RUNNING)
        reason = str(spec.params.get("reason", f"Gearshift's {profile.mode.label} mode"))
        return ScreensaverInhibitAction(buses.session, reason)

    return {POWER_PROFILE: power_profile, SCREENSAVER: screensaver}


def desktop_restorers() -> Mapping[str, Restorer]:
    """Restorers for the D-Bus actions' journal records, keyed by action kind."""
    return {POWER_PROFILE: restore_power_profile, SCREENSAVER: restore_screensaver}
