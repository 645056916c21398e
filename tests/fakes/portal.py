"""A private D-Bus session bus, and a fake XDG desktop portal on it offering GlobalShortcuts.

The fake speaks the real protocol over a real ``dbus-daemon``: it owns
``org.freedesktop.portal.Desktop``, answers CreateSession and BindShortcuts with a
Request path and then a Response signal on that path (as the portal does), records the
shortcuts bound, and emits Activated when a test presses a shortcut. It runs on a
thread with jeepney's blocking connection.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from jeepney import (
    DBusAddress,
    HeaderFields,
    MessageType,
    new_error,
    new_method_return,
    new_signal,
)
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

PORTAL_BUS = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"


@contextmanager
def private_session_bus() -> Iterator[str]:
    """A dbus-daemon of its own for the test; yields its address, stops it after."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        raise FileNotFoundError("dbus-daemon is missing (apt-get install dbus)")
    process = subprocess.Popen(
        [daemon, "--session", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        if not address:
            raise RuntimeError("dbus-daemon printed no address")
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@dataclass
class FakePortal:
    """The portal's behaviour, set by the test before start().

    Attributes:
        offers_shortcuts: False makes it a portal without the GlobalShortcuts interface.
        bind_response: the Response code for BindShortcuts: 0 bound, 1 cancelled by the
            user, 2 refused.
        trigger_prefix: what the desktop shows before the preferred trigger.
    """

    address: str
    offers_shortcuts: bool = True
    bind_response: int = 0
    trigger_prefix: str = "Press "
    bound: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    _outgoing: queue.Queue[object] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        """Own the portal's name and answer calls on a thread."""
        self._thread = threading.Thread(target=self._serve, name="fake-portal", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake portal did not start")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def activate(self, shortcut_id: str, session: str | None = None) -> None:
        """Emit Activated for ``shortcut_id`` in the last session (as a key press would)."""
        handle = session or self.sessions[-1]
        emitter = DBusAddress(PORTAL_PATH, interface=SHORTCUTS)
        body = (handle, shortcut_id, 123456, {})
        self._outgoing.put(new_signal(emitter, "Activated", "osta{sv}", body))

    def close_session(self) -> None:
        """Close the last session from the desktop's side."""
        emitter = DBusAddress(self.sessions[-1], interface="org.freedesktop.portal.Session")
        self._outgoing.put(new_signal(emitter, "Closed", "a{sv}", ({},)))

    # --------------------------------------------------------------------- serving

    def _serve(self) -> None:
        with open_dbus_connection(self.address) as connection:
            connection.send_and_get_reply(message_bus.RequestName(PORTAL_BUS), timeout=5)
            self._ready.set()
            while not self._stop.is_set():
                while not self._outgoing.empty():
                    connection.send(self._outgoing.get())
                try:
                    message = connection.receive(timeout=0.02)
                except TimeoutError:
                    continue
                if message.header.message_type is MessageType.method_call:
                    for reply in self._answer(message):
                        connection.send(reply)

    def _answer(self, message: object) -> list[object]:
        fields = message.header.fields  # type: ignore[attr-defined]
        member = fields.get(HeaderFields.member)
        interface = fields.get(HeaderFields.interface)
        sender = fields[HeaderFields.sender]
        if interface == "org.freedesktop.DBus.Properties" and member == "Get":
            wanted_interface, name = message.body  # type: ignore[attr-defined]
            if wanted_interface == SHORTCUTS and name == "version" and self.offers_shortcuts:
                return [new_method_return(message, "v", (("u", 1),))]
            return [new_error(message, "org.freedesktop.DBus.Error.UnknownInterface")]
        if interface == SHORTCUTS and self.offers_shortcuts and member == "CreateSession":
            (options,) = message.body  # type: ignore[attr-defined]
            request = _request_path(sender, options["handle_token"][1])
            session = (
                f"{PORTAL_PATH}/session/{_unique(sender)}/{options['session_handle_token'][1]}"
            )
            self.sessions.append(session)
            results = {"session_handle": ("s", session)}
            return [new_method_return(message, "o", (request,)), _response(request, 0, results)]
        if interface == SHORTCUTS and self.offers_shortcuts and member == "BindShortcuts":
            _session, shortcuts, _parent, options = message.body  # type: ignore[attr-defined]
            request = _request_path(sender, options["handle_token"][1])
            bound = []
            for shortcut_id, properties in shortcuts:
                plain = {key: value[1] for key, value in properties.items()}
                self.bound.append((shortcut_id, plain))
                shown = self.trigger_prefix + plain.get("preferred_trigger", "")
                bound.append(
                    (
                        shortcut_id,
                        {
                            "description": ("s", plain["description"]),
                            "trigger_description": ("s", shown),
                        },
                    )
                )
            results = {"shortcuts": ("a(sa{sv})", bound)} if self.bind_response == 0 else {}
            reply = new_method_return(message, "o", (request,))
            return [reply, _response(request, self.bind_response, results)]
        if interface == "org.freedesktop.portal.Session" and member == "Close":
            self.closed.append(fields[HeaderFields.path])
            return [new_method_return(message)]
        return [new_error(message, "org.freedesktop.DBus.Error.UnknownMethod")]


def _unique(sender: str) -> str:
    return sender.lstrip(":").replace(".", "_")


def _request_path(sender: str, token: str) -> str:
    return f"{PORTAL_PATH}/request/{_unique(sender)}/{token}"


def _response(request: str, code: int, results: dict[str, object]) -> object:
    emitter = DBusAddress(request, interface="org.freedesktop.portal.Request")
    return new_signal(emitter, "Response", "ua{sv}", (code, results))
