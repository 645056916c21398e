"""Screensaver and idle inhibit, through ``org.freedesktop.ScreenSaver`` on the session bus.

While a mode with this action is active, the desktop neither blanks the screen nor
counts the player idle (a game played with a controller sends no key presses the
desktop sees). ``Inhibit`` returns a cookie and ``UnInhibit`` ends it.

GNOME, KDE, Xfce and the other desktops that offer this interface end an inhibit when
the connection that asked for it closes, so a crash or the app's exit ends it too; the
journal record needs no restore work after a crash, only a line in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from jeepney import DBusAddress
from jeepney.bus_messages import message_bus

from gearshift.core.actions import DEFAULT_ACTION_TIMEOUT_S, JsonValue
from gearshift.core.errors import ActionError, ActionUnavailableError
from gearshift.system.dbus import (
    NAME_HAS_NO_OWNER,
    SERVICE_UNKNOWN,
    BusConnection,
    TransientDBusError,
    dbus_error_name,
)

_log = logging.getLogger(__name__)

SCREENSAVER = "screensaver"
"""The action kind; journal records and profiles name it so."""

BUS_NAME = "org.freedesktop.ScreenSaver"
OBJECT_PATH = "/org/freedesktop/ScreenSaver"
INTERFACE = "org.freedesktop.ScreenSaver"

APP_NAME = "Gearshift"
"""The application name an inhibit carries, as the desktop lists it."""

NOT_RUNNING = (
    "no screensaver service (org.freedesktop.ScreenSaver) is on the session bus; the "
    "desktop may blank the screen during play"
)


class ScreensaverInhibitAction:
    """Keeps the screen on and the session from going idle while the mode is active.

    Args:
        bus: the session bus connection (the inhibit lives as long as it stays open).
        reason: why, as the desktop shows it.
    """

    kind = SCREENSAVER

    def __init__(
        self,
        bus: BusConnection,
        reason: str = "Gearshift's Competitive mode: a game is being played",
        *,
        timeout_s: float = DEFAULT_ACTION_TIMEOUT_S,
    ) -> None:
        self.name = "screensaver and idle inhibit"
        self.timeout_s = timeout_s
        self.reason = reason
        self._bus = bus
        self._inhibit: tuple[str, int] | None = None

    @property
    def inhibiting(self) -> bool:
        """Whether this action holds an inhibit now."""
        return self._inhibit is not None

    def record(self) -> Mapping[str, JsonValue]:
        """What apply() changes; the desktop undoes it by itself when Gearshift's
        connection closes, so the record is for the player's information only."""
        return {"application": APP_NAME, "reason": self.reason}

    async def apply(self) -> None:
        """Ask the screensaver to stay off; it answers with the cookie that ends it.

        Raises:
            ActionUnavailableError: no screensaver service is on the session bus.
            TransientActionError: it is restarting or did not answer.
            ActionError: it refused.
        """
        if self._inhibit is not None:
            return  # still inhibited from the last apply
        owner = await self._owner()
        if owner is None:
            raise ActionUnavailableError(NOT_RUNNING)
        try:
            (cookie,) = await self._bus.method(
                DBusAddress(OBJECT_PATH, owner, INTERFACE),
                "Inhibit",
                "ss",
                (APP_NAME, self.reason),
                "inhibiting the screensaver",
            )
        except TransientDBusError as error:
            if error.dbus_name is None:  # no reply: an inhibit with an unknown cookie
                await self._bus.close()  # may exist; closing the connection ends it
            raise
        except asyncio.CancelledError:  # the switch gave up on it: the same applies
            await self._bus.close()
            raise
        self._inhibit = (owner, int(cookie))
        _log.info("screensaver inhibited (cookie %d)", int(cookie))

    async def revert(self) -> None:
        """End the inhibit; a screensaver that went away took it with it."""
        if self._inhibit is None:
            return
        owner, cookie = self._inhibit
        try:
            await self._bus.method(
                DBusAddress(OBJECT_PATH, owner, INTERFACE),
                "UnInhibit",
                "u",
                (cookie,),
                "ending the screensaver inhibit",
            )
        except ActionError as error:
            if dbus_error_name(error) != SERVICE_UNKNOWN:
                raise
            _log.info("the screensaver service (%s) is gone, and its inhibit with it", owner)
        else:
            _log.info("screensaver inhibit ended (cookie %d)", cookie)
        self._inhibit = None

    async def _owner(self) -> str | None:
        try:
            (owner,) = await self._bus.call(
                message_bus.GetNameOwner(BUS_NAME), f"looking for {BUS_NAME}"
            )
        except ActionError as error:
            if dbus_error_name(error) == NAME_HAS_NO_OWNER:
                return None
            raise
        return str(owner)


async def restore_screensaver(record: Mapping[str, JsonValue]) -> None:
    """After a crash: nothing to undo, the desktop ended the inhibit with the connection."""
    _log.info(
        "the screensaver inhibit ended with Gearshift's last run (the desktop ends an "
        "inhibit when its holder's connection closes)"
    )
