"""The power profile, through power-profiles-daemon's D-Bus API on the system bus.

Gearshift does not overwrite the player's chosen profile. It holds the performance
profile (``HoldProfile``), which the daemon applies on top of the player's choice, and
releases the hold on revert (``ReleaseProfile``); the daemon then goes back to whatever
the player had chosen, even if they changed it meanwhile.

The daemon ties a hold to the D-Bus connection that made it and drops it when that
connection closes. So a crash or a kill -9 releases the hold by itself, and the journal
record of a hold needs no restore work after a crash, only a line in the log.

The daemon answers under ``org.freedesktop.UPower.PowerProfiles`` since version 0.20 and
under ``net.hadess.PowerProfiles`` before (newer versions answer under both).

Where neither name is on the bus, the action is unavailable ("power-profiles-daemon is
not running"); the CPU governor and platform-profile actions in sysfs stand in for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from jeepney import DBusAddress
from jeepney.bus_messages import message_bus

from gearshift.core.actions import DEFAULT_ACTION_TIMEOUT_S, JsonValue
from gearshift.core.errors import ActionError, ActionUnavailableError, TransientActionError
from gearshift.system.dbus import (
    NAME_HAS_NO_OWNER,
    SERVICE_UNKNOWN,
    BusConnection,
    TransientDBusError,
    dbus_error_name,
)

_log = logging.getLogger(__name__)

POWER_PROFILE = "power_profile"
"""The action kind; journal records and profiles name it so."""

APP_ID = "io.github.gearshift"
"""The application id a hold carries, shown by ``powerprofilesctl list-holds``."""

PERFORMANCE = "performance"

NOT_RUNNING = "power-profiles-daemon is not running"


@dataclass(frozen=True)
class DaemonName:
    """Where one version of the daemon answers: bus name, object path and interface."""

    bus_name: str
    path: str

    @property
    def interface(self) -> str:
        """The main interface, named like the bus name."""
        return self.bus_name


UPOWER_NAME = DaemonName(
    "org.freedesktop.UPower.PowerProfiles", "/org/freedesktop/UPower/PowerProfiles"
)
HADESS_NAME = DaemonName("net.hadess.PowerProfiles", "/net/hadess/PowerProfiles")
DAEMON_NAMES = (UPOWER_NAME, HADESS_NAME)
"""Tried in this order: the current name first, the one before 0.20 second."""


@dataclass(frozen=True)
class DaemonInstance:
    """One running daemon: which name it answers under and its unique bus name.

    Calls go to the unique name, so a daemon that restarted between a hold and its
    release is noticed (the unique name is gone with the hold) rather than asked to
    release a cookie it never gave.
    """

    name: DaemonName
    owner: str

    def address(self) -> DBusAddress:
        """The daemon's main object, at its unique name."""
        return DBusAddress(self.name.path, self.owner, self.name.interface)


class PowerProfilesClient:
    """power-profiles-daemon's API, as far as Gearshift uses it.

    Args:
        bus: the system bus connection (the hold lives as long as it stays open).
    """

    def __init__(self, bus: BusConnection) -> None:
        self.bus = bus

    async def find(self) -> DaemonInstance | None:
        """The running daemon, or None when neither of its names is owned."""
        for name in DAEMON_NAMES:
            owner = await self._owner_of(name.bus_name)
            if owner is not None:
                return DaemonInstance(name, owner)
        return None

    async def active_profile(self, daemon: DaemonInstance) -> str:
        """The profile in force now ("power-saver", "balanced", "performance")."""
        value = await self.bus.get_property(
            daemon.address(), "ActiveProfile", "reading the active power profile"
        )
        return str(value)

    async def holds(self, daemon: DaemonInstance) -> list[dict[str, str]]:
        """Every hold the daemon keeps, each as {"Profile", "Reason", "ApplicationId"}."""
        value = await self.bus.get_property(
            daemon.address(), "ActiveProfileHolds", "reading the power profile holds"
        )
        return [{key: str(_plain(entry)) for key, entry in hold.items()} for hold in value]

    async def hold(self, daemon: DaemonInstance, profile: str, reason: str) -> int:
        """Hold ``profile`` for ``reason``; returns the cookie that releases it.

        A hold whose reply never came may still have been made, and its cookie is
        unknown; the connection is closed then, which makes the daemon drop it, so a
        retry cannot leave two holds behind.
        """
        try:
            (cookie,) = await self.bus.method(
                daemon.address(),
                "HoldProfile",
                "sss",
                (profile, reason, APP_ID),
                f"holding the {profile} power profile",
            )
        except TransientDBusError as error:
            if error.dbus_name is None:  # no reply: the hold may exist
                await self.bus.close()
            raise
        except asyncio.CancelledError:  # the switch gave up on it: the same applies
            await self.bus.close()
            raise
        return int(cookie)

    async def release(self, daemon: DaemonInstance, cookie: int) -> None:
        """Release the hold ``cookie`` names."""
        await self.bus.method(
            daemon.address(), "ReleaseProfile", "u", (cookie,), "releasing the power profile"
        )

    async def _owner_of(self, bus_name: str) -> str | None:
        try:
            (owner,) = await self.bus.call(
                message_bus.GetNameOwner(bus_name), f"looking for {bus_name}"
            )
        except ActionError as error:
            if dbus_error_name(error) == NAME_HAS_NO_OWNER:
                return None
            raise
        return str(owner)


class PowerProfileAction:
    """Holds a power profile (performance by default) while the mode is active.

    Args:
        client: the daemon's API.
        profile: the profile to hold.
        reason: why, as ``powerprofilesctl list-holds`` shows it.
    """

    kind = POWER_PROFILE

    def __init__(
        self,
        client: PowerProfilesClient,
        profile: str = PERFORMANCE,
        reason: str = "Gearshift's Competitive mode",
        *,
        timeout_s: float = DEFAULT_ACTION_TIMEOUT_S,
    ) -> None:
        self.name = f"power profile {profile}"
        self.timeout_s = timeout_s
        self.profile = profile
        self.reason = reason
        self._client = client
        self._held: tuple[DaemonInstance, int] | None = None
        self.found_profile: str | None = None
        """The profile in force when apply() began, for the log and the window."""

    @property
    def held(self) -> bool:
        """Whether this action holds a profile now."""
        return self._held is not None

    def record(self) -> Mapping[str, JsonValue]:
        """What apply() changes. The daemon undoes a hold by itself when Gearshift's
        connection closes, so the record is for the player's information only."""
        return {"profile": self.profile, "application_id": APP_ID, "reason": self.reason}

    async def apply(self) -> None:
        """Hold the profile, then check the daemon applied it (or at least lists it).

        Raises:
            ActionUnavailableError: the daemon is not running.
            TransientActionError: it is restarting or did not answer.
            ActionError: it refused the hold, or did not apply it.
        """
        if self._held is not None:
            return  # still held from the last apply: holding twice would stack holds
        daemon = await self._client.find()
        if daemon is None:
            raise ActionUnavailableError(NOT_RUNNING)
        self.found_profile = await self._client.active_profile(daemon)
        cookie = await self._client.hold(daemon, self.profile, self.reason)
        self._held = (daemon, cookie)
        if not await self._took(daemon):
            await self._release_quietly()
            raise ActionError(
                f"power-profiles-daemon accepted the {self.profile} hold but neither "
                f"applied nor listed it (it stayed on {self.found_profile})"
            )
        _log.info(
            "holding the %s power profile (was %s, cookie %d)",
            self.profile,
            self.found_profile,
            cookie,
        )

    async def revert(self) -> None:
        """Release the hold; the daemon returns to the player's own choice.

        A daemon that went away (or restarted) since the hold took the hold with it,
        and a daemon that refuses the cookie but no longer lists the hold has already
        let it go (a retried release whose first reply was lost): both count as
        released.
        """
        if self._held is None:
            return
        daemon, cookie = self._held
        try:
            await self._client.release(daemon, cookie)
        except TransientActionError as error:
            if dbus_error_name(error) != SERVICE_UNKNOWN:
                raise
            _log.info(
                "power-profiles-daemon (%s) is gone, and its hold %d with it", daemon.owner, cookie
            )
        except ActionError:
            if await self._still_listed(daemon):
                raise
            _log.info("the %s power profile hold %d was already released", self.profile, cookie)
        else:
            _log.info("released the %s power profile (cookie %d)", self.profile, cookie)
        self._held = None

    async def _release_quietly(self) -> None:
        """Release a hold that did not take; the failure being reported is that one."""
        try:
            await self.revert()
        except ActionError as error:
            _log.warning("could not release the hold that did not take: %s", error)
            self._held = None  # it ends with the connection at the latest

    async def _still_listed(self, daemon: DaemonInstance) -> bool:
        holds = await self._client.holds(daemon)
        return any(
            hold.get("ApplicationId") == APP_ID
            and hold.get("Profile") == self.profile
            and hold.get("Reason") == self.reason
            for hold in holds
        )

    async def _took(self, daemon: DaemonInstance) -> bool:
        if await self._client.active_profile(daemon) == self.profile:
            return True
        # Another program's power-saver hold wins over ours; ours is still kept.
        holds = await self._client.holds(daemon)
        return any(
            hold.get("ApplicationId") == APP_ID and hold.get("Profile") == self.profile
            for hold in holds
        )


async def restore_power_profile(record: Mapping[str, JsonValue]) -> None:
    """After a crash: nothing to undo, the daemon dropped the hold with the connection."""
    _log.info(
        "the %s power profile hold ended with Gearshift's last run (power-profiles-daemon "
        "releases a hold when its holder's connection closes)",
        record.get("profile", PERFORMANCE),
    )


def _plain(value: object) -> object:
    """A variant's value: jeepney gives an a{sv} entry as (signature, value); a service
    that sends a{ss} instead (some do) gives the value itself."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return value[1]
    return value
