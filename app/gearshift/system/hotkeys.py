"""Listening for global hotkeys: pynput on X11 and Windows, the desktop portal on Wayland.

Each way of listening is a HotkeyListener. ``start()`` binds the combinations and
returns how the desktop shows each one, or raises HotkeyError saying, in words, why that
way does not work here; ``on_press`` is then called on the event loop's thread for
every press. ``listener_order()`` says which ways to try in this session, best first.

- pynput watches the X server's key events through the RECORD extension, on a thread of
  its own; the press is handed to the event loop with ``call_soon_threadsafe``. It does
  not take the key away from the focused window. Under Wayland it would only see the
  keys typed into XWayland windows, so it is not used there.
- The XDG desktop portal's GlobalShortcuts interface (D-Bus, through jeepney) asks the
  desktop to bind the shortcuts; the desktop may show a dialog first, and may bind a
  different combination than the one preferred. GNOME's portal may also want a host app
  to register an application id first (org.freedesktop.host.portal.Registry); that is
  not done, because Gearshift's desktop entry is not named after such an id.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from jeepney import DBusAddress, MatchRule, Properties, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.asyncio import DBusRouter, open_dbus_connection
from jeepney.low_level import HeaderFields
from jeepney.wrappers import DBusErrorResponse, unwrap_msg

from gearshift.core.errors import HotkeyError
from gearshift.core.hotkeys import Binding, HotkeyAction

_log = logging.getLogger(__name__)

OnPress = Callable[[HotkeyAction], None]
"""Called on the event loop's thread with the action of the hotkey pressed."""

READY_TIMEOUT_S = 5.0
"""How long pynput may take to connect to the X server and start listening, in seconds."""

REPLY_TIMEOUT_S = 5.0
"""How long the portal may take to answer a call, in seconds."""

BIND_TIMEOUT_S = 300.0
"""How long the portal's bind may take: the desktop may show a dialog the player answers."""


class HotkeyListener(Protocol):
    """One way of listening for global hotkeys."""

    name: str
    """How the player reads this way, e.g. "X11 (pynput)"."""

    async def start(
        self, bindings: Sequence[Binding], on_press: OnPress
    ) -> dict[HotkeyAction, str]:
        """Bind and listen; returns each bound action's combination as the desktop shows
        it. Raises HotkeyError with the reason this way does not work here."""

    async def stop(self) -> None:
        """Stop listening and release what start() took; safe to call twice."""

    def problem(self) -> str | None:
        """Why listening stopped working after a good start, or None while it works."""


def is_wayland(environ: Mapping[str, str]) -> bool:
    """Whether this is a Wayland session (the app itself may still run on XWayland)."""
    return bool(environ.get("WAYLAND_DISPLAY")) or environ.get("XDG_SESSION_TYPE") == "wayland"


def listener_order(
    environ: Mapping[str, str], platform: str = sys.platform
) -> tuple[tuple[str, ...], str | None]:
    """The ways worth trying here, best first ("pynput", "portal"), and when there are
    none, why not."""
    if platform == "win32" or platform == "darwin":
        return ("pynput",), None
    if is_wayland(environ):
        return ("portal",), None
    if environ.get("DISPLAY"):
        return ("pynput", "portal"), None
    return (), "no X11 display and no Wayland session: nothing to listen for keys on"


# ----------------------------------------------------------------------------- pynput


class PynputListener:
    """Global hotkeys through pynput: X11's RECORD extension, or Windows' keyboard hook."""

    name = "X11 (pynput)" if sys.platform.startswith("linux") else "pynput"

    def __init__(self, ready_timeout_s: float = READY_TIMEOUT_S) -> None:
        self._ready_timeout_s = ready_timeout_s
        self._listener: Any = None
        self._stopping = False

    async def start(
        self, bindings: Sequence[Binding], on_press: OnPress
    ) -> dict[HotkeyAction, str]:
        """Connect and listen; the blocking parts run on a worker thread."""
        loop = asyncio.get_running_loop()

        def press(action: HotkeyAction) -> Callable[[], None]:
            def on_pynput_thread() -> None:
                loop.call_soon_threadsafe(on_press, action)

            return on_pynput_thread

        hotkeys = {binding.combo.pynput(): press(binding.action) for binding in bindings}
        starting = loop.run_in_executor(None, self._start_blocking, hotkeys)
        try:
            self._listener = await asyncio.shield(starting)
        except asyncio.CancelledError:
            # Stopped while the worker thread was still starting pynput: stop the
            # listener it starts, or its presses would go on arriving.
            starting.add_done_callback(_stop_started_listener)
            raise
        return {binding.action: binding.combo.text for binding in bindings}

    def _start_blocking(self, hotkeys: dict[str, Callable[[], None]]) -> Any:
        _check_x_record()
        try:
            from pynput import keyboard  # on Linux this connects to the X server
        except ImportError as error:
            raise HotkeyError(f"pynput cannot listen here: {_first_line(error)}") from None

        listener = keyboard.GlobalHotKeys(hotkeys)
        listener.daemon = True
        listener.start()
        # pynput's wait() has no timeout and never returns when the start failed; its
        # _ready flag is what wait() waits on.
        deadline_s = time.monotonic() + self._ready_timeout_s
        while not getattr(listener, "_ready", True):
            if not listener.is_alive():
                raise HotkeyError("pynput's listener stopped as it started")
            if time.monotonic() > deadline_s:
                raise HotkeyError(
                    f"pynput did not start listening within {self._ready_timeout_s:g} s"
                )
            time.sleep(0.01)
        return listener

    async def stop(self) -> None:
        """Stop pynput's thread (it stops on its own when the X connection closes)."""
        listener, self._listener = self._listener, None
        self._stopping = True
        if listener is not None and listener.is_alive():
            listener.stop()  # pynput's stop only asks; it does not block
            await asyncio.get_running_loop().run_in_executor(None, listener.join, 2.0)

    def problem(self) -> str | None:
        """Set when pynput's thread ended without being asked (the X server went away)."""
        if self._listener is None or self._stopping or self._listener.is_alive():
            return None
        return "the hotkey listener stopped: the connection to the X server closed"


def _stop_started_listener(starting: asyncio.Future[Any]) -> None:
    if not starting.cancelled() and starting.exception() is None:
        starting.result().stop()


def _check_x_record() -> None:
    """Refuse, in words, an X server pynput cannot listen on (before pynput prints a
    traceback from its own thread)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        from Xlib import display as xdisplay
        from Xlib.error import DisplayError
    except ImportError:
        raise HotkeyError("python-xlib is missing, which pynput needs on Linux") from None
    try:
        connection = xdisplay.Display()
    except (DisplayError, OSError) as error:
        raise HotkeyError(f"cannot connect to the X server: {_first_line(error)}") from None
    try:
        if not connection.has_extension("RECORD"):
            raise HotkeyError("the X server has no RECORD extension, which pynput listens through")
    finally:
        connection.close()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# ----------------------------------------------------------------------------- portal

PORTAL_BUS = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"

_RESPONSES = {
    1: "you cancelled the shortcuts in the desktop's dialog",
    2: "the desktop portal refused the shortcuts",
}


def session_bus_address(environ: Mapping[str, str]) -> str | None:
    """The session bus's address: $DBUS_SESSION_BUS_ADDRESS, else the usual socket."""
    address = environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return f"unix:path={os.path.join(runtime, 'bus')}"
    return None


class PortalListener:
    """Global hotkeys through the XDG desktop portal's GlobalShortcuts (D-Bus).

    Args:
        address: the session bus's address (None: no session bus).
        reply_timeout_s: how long a call may take.
        bind_timeout_s: how long binding may take (the desktop's dialog included).
    """

    name = "desktop portal (GlobalShortcuts)"

    def __init__(
        self,
        address: str | None,
        *,
        reply_timeout_s: float = REPLY_TIMEOUT_S,
        bind_timeout_s: float = BIND_TIMEOUT_S,
    ) -> None:
        self._address = address
        self._reply_timeout_s = reply_timeout_s
        self._bind_timeout_s = bind_timeout_s
        self._connection: Any = None
        self._router: Any = None
        self._session: str | None = None
        self._listening: asyncio.Task[None] | None = None
        self._problem: str | None = None
        self.version: int | None = None
        """The portal's GlobalShortcuts interface version, once started."""

    async def start(
        self, bindings: Sequence[Binding], on_press: OnPress
    ) -> dict[HotkeyAction, str]:
        """Open a portal session, bind the shortcuts, listen for their activation."""
        await self._connect()
        try:
            self.version = await self._version()
            self._session = await self._create_session()
            listening = await self._subscribe(bindings, on_press)
            bound = await self._bind(bindings)
        except BaseException:
            await self.stop()
            raise
        self._listening = listening
        return bound

    async def stop(self) -> None:
        """Close the portal session and the bus connection."""
        listening, self._listening = self._listening, None
        if listening is not None:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
        if self._session is not None and self._router is not None:
            close = new_method_call(DBusAddress(self._session, PORTAL_BUS, SESSION), "Close")
            try:
                await asyncio.wait_for(
                    self._router.send_and_get_reply(close), self._reply_timeout_s
                )
            except Exception as error:  # closing is best effort; the bus drops it anyway
                _log.debug("portal session close: %s", error)
        self._session = None
        router, self._router = self._router, None
        connection, self._connection = self._connection, None
        if router is not None:
            await router.__aexit__(None, None, None)
        if connection is not None:
            await connection.close()

    def problem(self) -> str | None:
        """Set when the desktop closed the session after a good start."""
        return self._problem

    # ----------------------------------------------------------------------- steps

    async def _connect(self) -> None:
        if self._address is None:
            raise HotkeyError("no D-Bus session bus to reach the desktop portal through")
        try:
            connection = await asyncio.wait_for(
                open_dbus_connection(self._address), self._reply_timeout_s
            )
        except (OSError, EOFError, RuntimeError, ValueError, TimeoutError) as error:
            raise HotkeyError(
                f"cannot reach the D-Bus session bus ({_first_line(error)})"
            ) from None
        self._connection = connection
        self._router = DBusRouter(connection)

    async def _call(self, message: Any, timeout_s: float | None = None) -> Any:
        reply = await asyncio.wait_for(
            self._router.send_and_get_reply(message), timeout_s or self._reply_timeout_s
        )
        return unwrap_msg(reply)

    async def _version(self) -> int:
        portal = DBusAddress(PORTAL_PATH, PORTAL_BUS, SHORTCUTS)
        try:
            (variant,) = await self._call(Properties(portal).get("version"))
        except DBusErrorResponse as error:
            if error.name == "org.freedesktop.DBus.Error.ServiceUnknown":
                raise HotkeyError("no desktop portal is running on the session bus") from None
            raise HotkeyError(
                f"the desktop portal offers no global shortcuts ({error.name})"
            ) from None
        except TimeoutError:
            raise HotkeyError("the desktop portal did not answer") from None
        return int(variant[1])

    async def _create_session(self) -> str:
        portal = DBusAddress(PORTAL_PATH, PORTAL_BUS, SHORTCUTS)
        token = _token()
        options = {"handle_token": ("s", token), "session_handle_token": ("s", _token())}
        message = new_method_call(portal, "CreateSession", "a{sv}", (options,))
        results = await self._request(message, token, self._reply_timeout_s)
        session = results.get("session_handle")
        if session is None:
            raise HotkeyError("the desktop portal made no shortcuts session")
        return str(session[1])

    async def _bind(self, bindings: Sequence[Binding]) -> dict[HotkeyAction, str]:
        portal = DBusAddress(PORTAL_PATH, PORTAL_BUS, SHORTCUTS)
        shortcuts = [
            (
                binding.action.value,
                {
                    "description": ("s", binding.action.description),
                    "preferred_trigger": ("s", binding.combo.portal_trigger()),
                },
            )
            for binding in bindings
        ]
        token = _token()
        body = (self._session, shortcuts, "", {"handle_token": ("s", token)})
        message = new_method_call(portal, "BindShortcuts", "oa(sa{sv})sa{sv}", body)
        results = await self._request(message, token, self._bind_timeout_s)

        preferred = {binding.action.value: binding.combo.text for binding in bindings}
        bound: dict[HotkeyAction, str] = {}
        for shortcut_id, properties in results.get("shortcuts", ("", []))[1]:
            if shortcut_id in preferred:
                shown = properties.get("trigger_description", ("s", ""))[1]
                bound[HotkeyAction(shortcut_id)] = shown or preferred[shortcut_id]
        if not bound:
            raise HotkeyError("the desktop bound none of the shortcuts")
        return bound

    async def _request(self, message: Any, token: str, timeout_s: float) -> dict[str, Any]:
        """Make a portal call that answers through a Request object's Response signal.

        The signal is subscribed to before the call, at the path the portal will use, so
        an answer that comes at once is not missed.
        """
        sender = self._router.unique_name.lstrip(":").replace(".", "_")
        path = f"{PORTAL_PATH}/request/{sender}/{token}"
        rule = MatchRule(type="signal", interface=REQUEST, member="Response", path=path)
        with self._router.filter(rule) as responses:
            await self._add_match(rule)
            try:
                await self._call(message)
                signal = await asyncio.wait_for(responses.get(), timeout_s)
            except TimeoutError:
                raise HotkeyError("the desktop portal did not answer in time") from None
            finally:
                await self._remove_match(rule)
        code, results = signal.body
        if code != 0:
            raise HotkeyError(_RESPONSES.get(code, f"the desktop portal answered {code}"))
        return dict(results)

    async def _subscribe(
        self, bindings: Sequence[Binding], on_press: OnPress
    ) -> asyncio.Task[None]:
        actions = {binding.action.value: binding.action for binding in bindings}
        activated = MatchRule(
            type="signal", interface=SHORTCUTS, member="Activated", path=PORTAL_PATH
        )
        closed = MatchRule(type="signal", interface=SESSION, member="Closed", path=self._session)
        queue: asyncio.Queue[Any] = asyncio.Queue(32)
        handles = [self._router.filter(rule, queue=queue) for rule in (activated, closed)]
        for rule in (activated, closed):
            await self._add_match(rule)

        async def listen() -> None:
            try:
                while True:
                    signal = await queue.get()
                    if signal.header.fields.get(HeaderFields.member) == "Closed":
                        self._problem = "the desktop closed the shortcuts session"
                        _log.warning("%s", self._problem)
                        return
                    session, shortcut_id, *_ = signal.body
                    if session == self._session and shortcut_id in actions:
                        on_press(actions[shortcut_id])
            finally:
                for handle in handles:
                    handle.close()

        return asyncio.ensure_future(listen())

    async def _add_match(self, rule: Any) -> None:
        await self._call(message_bus.AddMatch(rule))

    async def _remove_match(self, rule: Any) -> None:
        try:
            await self._call(message_bus.RemoveMatch(rule))
        except Exception as error:  # the connection may be going; nothing to undo then
            _log.debug("portal RemoveMatch: %s", error)


def _token() -> str:
    """A fresh token for a portal request or session path element."""
    return f"gearshift_{secrets.token_hex(8)}"


def make_listener(kind: str, environ: Mapping[str, str]) -> HotkeyListener:
    """The listener named by listener_order()."""
    if kind == "pynput":
        return PynputListener()
    if kind == "portal":
        return PortalListener(session_bus_address(environ))
    raise ValueError(f"unknown hotkey listener '{kind}'")
