"""D-Bus for the system actions: one connection per bus, calls with a timeout, and every
D-Bus failure sorted once into 'try again' and 'give up'.

The actions that talk to services (the power profile, the screensaver inhibit) share a
``BusConnection`` per bus and keep it open while the app runs. That matters beyond
speed: power-profiles-daemon and the screensaver tie a hold or an inhibit to the
connection that asked for it, and drop it when that connection closes. So a held
profile lasts exactly as long as the app, and a crash or a kill releases it.

Errors, as the mode manager needs them:

- TransientActionError: the service is restarting or busy (ServiceUnknown while a
  service restarts, NoReply, Timeout, the connection dropped); retrying may work.
- ActionUnavailableError: no bus to talk to at all; the action cannot work here.
- ActionError: the service refused the request; retrying will not change that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from jeepney import DBusAddress, MatchRule, Message, Properties, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.asyncio import DBusConnection, DBusRouter, open_dbus_connection
from jeepney.io.common import RouterClosed
from jeepney.wrappers import DBusErrorResponse, unwrap_msg

from gearshift.core.errors import ActionError, ActionUnavailableError, TransientActionError
from gearshift.system.hotkeys import session_bus_address as session_bus_address

_log = logging.getLogger(__name__)

DEFAULT_REPLY_TIMEOUT_S = 2.0
"""How long one D-Bus call may wait for its reply, in seconds."""

SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket"
"""Where the system bus listens when $DBUS_SYSTEM_BUS_ADDRESS does not say otherwise."""

SERVICE_UNKNOWN = "org.freedesktop.DBus.Error.ServiceUnknown"
NAME_HAS_NO_OWNER = "org.freedesktop.DBus.Error.NameHasNoOwner"

TRANSIENT_ERRORS = frozenset(
    {
        SERVICE_UNKNOWN,
        NAME_HAS_NO_OWNER,
        "org.freedesktop.DBus.Error.NoReply",
        "org.freedesktop.DBus.Error.Timeout",
        "org.freedesktop.DBus.Error.TimedOut",
        "org.freedesktop.DBus.Error.Disconnected",
        "org.freedesktop.DBus.Error.LimitsExceeded",
        "org.freedesktop.DBus.Error.NoMemory",
    }
)
"""D-Bus error names that mean 'not now' rather than 'no': the service is restarting,
busy, or the bus is short of resources."""


def system_bus_address(environ: Mapping[str, str]) -> str:
    """The system bus's address: $DBUS_SYSTEM_BUS_ADDRESS, else the standard socket."""
    return environ.get("DBUS_SYSTEM_BUS_ADDRESS") or f"unix:path={SYSTEM_BUS_SOCKET}"


class DBusCallError(ActionError):
    """A service refused a call; ``dbus_name`` is the D-Bus error name it answered."""

    def __init__(self, message: str, dbus_name: str) -> None:
        self.dbus_name = dbus_name
        super().__init__(message)


class TransientDBusError(TransientActionError):
    """A call failed for a reason that may pass; ``dbus_name`` is the D-Bus error name
    (None when no service answered: a timeout, a dropped connection)."""

    def __init__(self, message: str, dbus_name: str | None = None) -> None:
        self.dbus_name = dbus_name
        super().__init__(message)


def dbus_error_name(error: BaseException) -> str | None:
    """The D-Bus error name behind ``error``, or None when it carries none."""
    if isinstance(error, DBusCallError | TransientDBusError):
        return error.dbus_name
    return None


def error_for(error: DBusErrorResponse, doing: str) -> ActionError:
    """The action error for a D-Bus error reply to ``doing`` (e.g. "holding the
    performance profile"): transient for the names in TRANSIENT_ERRORS."""
    detail = _first_line(error.data[0]) if error.data else ""
    text = f"{doing} failed: {error.name}" + (f" ({detail})" if detail else "")
    if error.name in TRANSIENT_ERRORS:
        return TransientDBusError(text, error.name)
    return DBusCallError(text, error.name)


class BusConnection:
    """One connection to one bus, opened on first use and reopened after it drops.

    Args:
        address: the bus address (``unix:path=...``), or None when there is no such
            bus here (every call then raises ActionUnavailableError).
        label: the bus as players read it, e.g. "system bus".
        reply_timeout_s: how long a call waits for its reply, in seconds.

    Notes:
        The connection belongs to the event loop it was opened on; used from another
        loop (tests run one loop per test) it is opened afresh there.
    """

    def __init__(
        self,
        address: str | None,
        label: str,
        *,
        reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
    ) -> None:
        self.address = address
        self.label = label
        self.reply_timeout_s = reply_timeout_s
        self._connection: DBusConnection | None = None
        self._router: DBusRouter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening = asyncio.Lock()
        self._owned: dict[str, bool] = {}
        self._watching: asyncio.Task[None] | None = None
        self._watched: tuple[str, ...] = ()
        self._rewatching = False

    @property
    def is_open(self) -> bool:
        """Whether a connection is open now (holds tied to it are alive)."""
        return self._router is not None and not self._router_stopped()

    @property
    def unique_name(self) -> str | None:
        """The bus's name for this connection (":1.42"), or None when not open."""
        return None if self._connection is None else self._connection.unique_name

    async def call(self, message: Message, doing: str) -> tuple[Any, ...]:
        """Send a method call and return its reply's body.

        Raises:
            TransientActionError: no reply in time, the connection dropped, or the
                service answered with a transient error (see TRANSIENT_ERRORS).
            ActionUnavailableError: there is no bus to connect to.
            ActionError: the service refused the call.
        """
        router = await self._router_now()
        if self._watched and self._watching is None and not self._rewatching:
            await self._rewatch()
        try:
            reply = await asyncio.wait_for(
                router.send_and_get_reply(message), self.reply_timeout_s
            )
        except TimeoutError:
            raise TransientDBusError(
                f"{doing} failed: no reply within {self.reply_timeout_s:g} s"
            ) from None
        except (OSError, EOFError, RouterClosed) as error:
            await self.close()
            raise TransientDBusError(
                f"{doing} failed: the {self.label} connection dropped ({_first_line(error)})"
            ) from None
        try:
            return tuple(unwrap_msg(reply))
        except DBusErrorResponse as error:
            raise error_for(error, doing) from None

    async def name_has_owner(self, name: str) -> bool:
        """Whether a service owns ``name`` on this bus now."""
        (owned,) = await self.call(message_bus.NameHasOwner(name), f"asking for {name}")
        return bool(owned)

    async def list_names(self) -> frozenset[str]:
        """Every name owned on this bus now."""
        (names,) = await self.call(message_bus.ListNames(), "listing D-Bus names")
        return frozenset(str(name) for name in names)

    async def get_property(self, address: DBusAddress, name: str, doing: str) -> Any:
        """The value of property ``name`` of the object at ``address``."""
        ((_signature, value),) = await self.call(Properties(address).get(name), doing)
        return value

    async def method(
        self, address: DBusAddress, method: str, signature: str, body: tuple[Any, ...], doing: str
    ) -> tuple[Any, ...]:
        """Call ``method`` on the object at ``address`` with ``body``."""
        message = new_method_call(address, method, signature or None, body)
        return await self.call(message, doing)

    async def watch(self, names: Iterable[str]) -> None:
        """Follow whether ``names`` are owned, for owned(): asks once, then listens to
        the bus's NameOwnerChanged, again after the connection is reopened. Raises as
        call() does when the bus is not there."""
        self._watched = tuple(names)
        self._rewatching = True
        try:
            await self._watch(self._watched)
        finally:
            self._rewatching = False

    async def _rewatch(self) -> None:
        self._rewatching = True
        try:
            await self._watch(self._watched)
        except ActionError as error:  # the call that follows reports the problem
            _log.debug("watching %s again: %s", ", ".join(self._watched), error)
        finally:
            self._rewatching = False

    async def _watch(self, names: tuple[str, ...]) -> None:
        router = await self._router_now()
        queue: asyncio.Queue[Message] = asyncio.Queue(64)
        handles = []
        for name in names:
            rule = MatchRule(
                type="signal",
                sender=message_bus.bus_name,
                interface=message_bus.interface,
                member="NameOwnerChanged",
                path=message_bus.object_path,
            )
            rule.add_arg_condition(0, name)
            handles.append(router.filter(rule, queue=queue))
            await self.call(message_bus.AddMatch(rule), "watching D-Bus names")
            self._owned[name] = await self.name_has_owner(name)
        self._watching = asyncio.ensure_future(self._follow_owners(queue, handles))

    def owned(self, name: str) -> bool | None:
        """Whether a watched name is owned now; None when not watched (or the connection
        was reopened since, and nobody knows)."""
        return self._owned.get(name)

    async def _follow_owners(self, queue: asyncio.Queue[Message], handles: list[Any]) -> None:
        try:
            while True:
                message = await queue.get()
                name, _old_owner, new_owner = message.body
                self._owned[str(name)] = bool(new_owner)
        finally:
            for handle in handles:
                handle.close()

    async def close(self) -> None:
        """Close the connection (safe to call twice): the bus drops what it held. Names
        being watched are watched again when the next call reopens it."""
        watching, self._watching = self._watching, None
        self._owned.clear()
        router, self._router = self._router, None
        connection, self._connection = self._connection, None
        loop, self._loop = self._loop, None
        if loop is not None and loop is not asyncio.get_running_loop():
            return  # the loop it lived on is gone; its socket went with it
        if watching is not None:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        if router is not None:
            try:
                await router.__aexit__(None, None, None)
            except Exception as error:  # the receiver ended with the dropped socket
                _log.debug("%s router: %s", self.label, error)
        if connection is not None:
            try:
                await connection.close()
            except OSError as error:
                _log.debug("%s close: %s", self.label, error)

    async def _router_now(self) -> DBusRouter:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._connection = self._router = None
            self._watching = None
            self._owned.clear()
            self._loop = None
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._router is not None and self._router_stopped():
                await self.close()  # forgets the watched names' owners too
            if self._router is None:
                await self._open(loop)
        assert self._router is not None
        return self._router

    async def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.address is None:
            raise ActionUnavailableError(f"there is no D-Bus {self.label} here")
        try:
            connection = await asyncio.wait_for(
                open_dbus_connection(self.address), self.reply_timeout_s
            )
        except (OSError, EOFError, ValueError, RuntimeError, TimeoutError) as error:
            raise ActionUnavailableError(
                f"cannot reach the D-Bus {self.label} ({_first_line(error)})"
            ) from None
        self._connection = connection
        self._router = DBusRouter(connection)
        self._loop = loop

    def _router_stopped(self) -> bool:
        task = None if self._router is None else getattr(self._router, "_rcv_task", None)
        return task is not None and task.done()


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
