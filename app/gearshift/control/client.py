"""A blocking client of the control API, for ``gearshift ctl`` and for scripts."""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import ValidationError

from gearshift.control.protocol import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    Event,
    Response,
    parse_response,
)


class NotRunningError(ConnectionError):
    """Nothing answers on the socket: Gearshift is not running (for this user)."""


class ConnectionLostError(ConnectionError):
    """The app closed the connection, or sent something that is not protocol v1."""


class ApiClient:
    """One connection to the app. Use as a context manager.

    Args:
        path: the socket's path.
        timeout_s: how long to wait for a response (None: forever, for watching).
    """

    def __init__(self, path: Path, timeout_s: float | None = 30.0) -> None:
        self.path = path
        self._timeout_s = timeout_s
        self._socket: socket.socket | None = None
        self._file: Any = None
        self._ids = itertools.count(1)
        self._pending_events: list[Event] = []

    def __enter__(self) -> ApiClient:
        if self._socket is None:
            self.connect()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection. Raises NotRunningError when nothing answers."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self._timeout_s)
        try:
            sock.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError) as error:
            sock.close()
            raise NotRunningError(
                f"Gearshift is not running (nothing answers on {self.path}): start it "
                "with 'gearshift'"
            ) from error
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self._file = sock.makefile("rb")

    def close(self) -> None:
        """Close the connection."""
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def request(self, op: str, **fields: object) -> Response:
        """Send one request and wait for its response (events meanwhile are kept).

        ``id`` among ``fields`` sets the request's id; by default the client numbers them.
        """
        request_id = fields.pop("id") if "id" in fields else next(self._ids)
        self.send_raw(
            json.dumps({"v": PROTOCOL_VERSION, "id": request_id, "op": op, **fields}).encode()
            + b"\n"
        )
        while True:
            message = self.receive()
            if isinstance(message, Event):
                self._pending_events.append(message)
                continue
            if message.id in (request_id, None):
                return message

    def events(self) -> Iterator[Event]:
        """Events of this connection's subscription, as they come, until it closes."""
        while self._pending_events:
            yield self._pending_events.pop(0)
        while True:
            message = self.receive()
            if isinstance(message, Event):
                yield message
            elif not message.ok and message.error is not None:
                raise ConnectionLostError(message.error.message)

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (tests use this for malformed messages)."""
        if self._socket is None:
            raise ConnectionLostError("not connected")
        self._socket.sendall(data)

    def receive(self) -> Response | Event:
        """The next message from the app."""
        if self._file is None:
            raise ConnectionLostError("not connected")
        line = self._file.readline(MAX_MESSAGE_BYTES + 1)
        if not line:
            raise ConnectionLostError("Gearshift closed the connection")
        try:
            return parse_response(line)
        except (ValueError, ValidationError) as error:
            raise ConnectionLostError(
                f"Gearshift answered something that is not protocol v1: {error}"
            ) from None
