"""The control API server: protocol v1 on a Unix socket only the user can open.

The socket lives in the user's runtime folder (``$XDG_RUNTIME_DIR/gearshift``, mode
0700) with mode 0600, and every connection's peer credentials are checked as well, so
another user cannot talk to it even where the folder's permissions were loosened.

Each connection is served in order: one request, one response. A subscription adds
events to the same connection. Nothing a client sends can stop the server: every
malformed message gets its error, and only an oversized or cut-off message (after which
the stream cannot be trusted to be in step) closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import os
import socket
import stat
import struct
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from gearshift.control.protocol import (
    MAX_MESSAGE_BYTES,
    ErrorBody,
    ErrorCode,
    Event,
    HealthRequest,
    ProtocolError,
    Request,
    Response,
    StatusRequest,
    SubscribeRequest,
    SubscribeResult,
    SwitchRequest,
    VersionRequest,
    encode,
    parse_request,
)
from gearshift.control.ratelimit import TokenBucket
from gearshift.control.service import ControlService

_log = logging.getLogger(__name__)

SOCKET_ENV = "GEARSHIFT_SOCKET"
"""Overrides the socket's path (tests, or several instances side by side)."""

SOCKET_NAME = "control.sock"


def default_socket_path() -> Path:
    """Where the API socket is: $GEARSHIFT_SOCKET, else the user's runtime folder."""
    override = os.environ.get(SOCKET_ENV)
    if override:
        return Path(override)
    import platformdirs

    with warnings.catch_warnings(record=True) as caught:
        # platformdirs refuses an XDG_RUNTIME_DIR that is missing or not private, falls
        # back to a private folder of its own, and warns: say so in the log instead.
        warnings.simplefilter("always")
        folder = platformdirs.user_runtime_path("gearshift")
    for warning in caught:
        _log.info("%s", warning.message)
    return folder / SOCKET_NAME


@dataclass(frozen=True)
class Limits:
    """How much one client, and all of them together, may ask.

    Attributes:
        requests_per_s, request_burst: any request, per connection.
        switches_per_s, switch_burst: switch requests, per connection.
        all_switches_per_s, all_switch_burst: switch requests from every client together,
            so a script that reconnects for each request is held back too.
        backlog: events and responses queued for a client that is not reading, at most.
        max_clients: connections served at once; more are refused.
    """

    requests_per_s: float = 500.0
    request_burst: int = 1000
    switches_per_s: float = 1.0
    switch_burst: int = 5
    all_switches_per_s: float = 4.0
    all_switch_burst: int = 20
    backlog: int = 256
    max_clients: int = 256


class SocketInUseError(OSError):
    """Another process already answers on the socket path."""


@dataclass
class _Client:
    """One connection's state."""

    number: int
    writer: asyncio.StreamWriter
    requests: TokenBucket
    switches: TokenBucket
    outbox: asyncio.Queue[bytes | None]
    unsubscribe: Callable[[], None] | None = None
    budget_period_s: float = 1.0
    budget_due_s: float = 0.0
    dropped_budget_events: int = 0
    closing: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class ApiServer:
    """Serves a ControlService on a Unix socket.

    Args:
        service: what requests are answered from.
        path: the socket's path; its folder is created with mode 0700 if missing.
        limits: rate limits and queue bounds.
        clock: monotonic seconds, for the rate limits.
    """

    def __init__(
        self,
        service: ControlService,
        path: Path,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.path = path
        self.limits = limits or Limits()
        self._clock = clock
        self._all_switches = TokenBucket(
            self.limits.all_switches_per_s, self.limits.all_switch_burst, clock
        )
        self._server: asyncio.Server | None = None
        self._clients: dict[int, _Client] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._count = 0

    @property
    def clients(self) -> int:
        """Connections open now."""
        return len(self._clients)

    async def start(self) -> None:
        """Bind the socket. Raises SocketInUseError or OSError (with a clear message)."""
        _prepare_folder(self.path.parent)
        if _socket_answers(self.path):
            raise SocketInUseError(
                errno.EADDRINUSE,
                f"another Gearshift already answers on {self.path}; quit it or set "
                f"{SOCKET_ENV} to another path",
            )
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(self.path.lstat().st_mode):
                self.path.unlink()  # a stale socket left by a killed instance
        old_umask = os.umask(0o177)  # the socket is born 0600, with no window open
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_MESSAGE_BYTES
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        _log.info("control API listening on %s", self.path)

    async def close(self) -> None:
        """Stop accepting, close every connection, remove the socket."""
        if self._server is not None:
            self._server.close()
            # A connection accepted just now has its handler scheduled but not started;
            # one turn of the loop lets it start and register, so it is closed below.
            await asyncio.sleep(0)
        for client in list(self._clients.values()):
            self._drop(client)
            client.writer.close()
        for task in list(self._handlers):
            task.cancel()
        for task in list(self._handlers):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    # --------------------------------------------------------------------- connections

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        self._count += 1
        limits = self.limits
        client = _Client(
            number=self._count,
            writer=writer,
            requests=TokenBucket(limits.requests_per_s, limits.request_burst, self._clock),
            switches=TokenBucket(limits.switches_per_s, limits.switch_burst, self._clock),
            outbox=asyncio.Queue(limits.backlog),
        )
        refusal = self._refusal(writer)
        if refusal is not None:
            try:
                writer.write(encode(Response(ok=False, error=refusal)))
                await _refuse(reader, writer)
            finally:
                writer.close()  # also when the server closes while the refusal drains
            return

        self._clients[client.number] = client
        sender = asyncio.create_task(self._send(client))
        try:
            await self._read_requests(client, reader)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._drop(client)
            with contextlib.suppress(asyncio.QueueFull):
                client.outbox.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(sender, 1.0)
            sender.cancel()
            for pending in list(client.tasks):
                pending.cancel()
            await _close(writer)

    def _refusal(self, writer: asyncio.StreamWriter) -> ErrorBody | None:
        if len(self._clients) >= self.limits.max_clients:
            return ErrorBody(
                code=ErrorCode.RATE_LIMITED,
                message=f"too many connections (at most {self.limits.max_clients}); "
                "close some and try again",
                limit=f"{self.limits.max_clients} connections",
                retry_after_s=1.0,
            )
        uid = _peer_uid(writer)
        if uid is not None and uid != os.geteuid():
            _log.warning("refused a control connection from user id %d", uid)
            return ErrorBody(
                code=ErrorCode.FORBIDDEN,
                message="this Gearshift belongs to another user; talk to your own",
            )
        return None

    async def _read_requests(self, client: _Client, reader: asyncio.StreamReader) -> None:
        while not client.closing:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                await self._fail(
                    client,
                    ErrorCode.TOO_LARGE,
                    f"a message is at most {MAX_MESSAGE_BYTES} bytes, one line; "
                    "closing the connection",
                )
                return
            except asyncio.IncompleteReadError as error:
                if error.partial.strip():
                    await self._fail(
                        client,
                        ErrorCode.INCOMPLETE,
                        "the connection ended in the middle of a message: end "
                        "each message with a newline",
                    )
                return
            if not line.strip():
                continue  # blank lines are harmless (typing into nc)
            await client.outbox.put(encode(await self._answer(client, line)))

    async def _fail(self, client: _Client, code: ErrorCode, message: str) -> None:
        error = ErrorBody(code=code, message=message)
        await client.outbox.put(encode(Response(ok=False, error=error)))

    async def _send(self, client: _Client) -> None:
        writer = client.writer
        while True:
            message = await client.outbox.get()
            if message is None:
                return
            writer.write(message)
            try:
                await writer.drain()
            except ConnectionError:
                return

    def _drop(self, client: _Client) -> None:
        client.closing = True
        self._clients.pop(client.number, None)
        if client.unsubscribe is not None:
            client.unsubscribe()
            client.unsubscribe = None

    # ------------------------------------------------------------------------ requests

    async def _answer(self, client: _Client, line: bytes) -> Response:
        request_id: int | str | None = None
        try:
            request = parse_request(line)
            request_id = request.id
            self._check_rate(client, request)
            result = await self._dispatch(client, request)
        except ProtocolError as error:
            return Response(id=error.request_id or request_id, ok=False, error=error.body)
        except Exception as error:  # a bug must cost one request, never the server
            _log.exception("control request failed")
            body = ErrorBody(code=ErrorCode.INTERNAL, message=f"internal error: {error}")
            return Response(id=request_id, ok=False, error=body)
        return Response(id=request_id, ok=True, result=result.model_dump(mode="json"))

    def _check_rate(self, client: _Client, request: Request) -> None:
        buckets = [("requests", client.requests)]
        if isinstance(request, SwitchRequest):
            buckets += [
                ("switch requests", client.switches),
                ("switch requests from all clients", self._all_switches),
            ]
        for what, bucket in buckets:
            wait_s = bucket.take()
            if wait_s > 0:
                raise ProtocolError(
                    ErrorBody(
                        code=ErrorCode.RATE_LIMITED,
                        message=f"too many {what} (limit: {bucket.describe()}); try again "
                        f"in {math.ceil(wait_s * 100) / 100:.2f} s",
                        limit=bucket.describe(),
                        retry_after_s=math.ceil(wait_s * 1000) / 1000,
                    ),
                    request.id,
                )

    async def _dispatch(self, client: _Client, request: Request) -> BaseModel:
        service = self.service
        if isinstance(request, StatusRequest):
            return service.status()
        if isinstance(request, SwitchRequest):
            return await service.switch(request)
        if isinstance(request, HealthRequest):
            return service.health()
        if isinstance(request, VersionRequest):
            return service.version()
        assert isinstance(request, SubscribeRequest)
        return self._subscribe(client, request)

    def _subscribe(self, client: _Client, request: SubscribeRequest) -> SubscribeResult:
        if client.unsubscribe is not None:
            client.unsubscribe()  # one subscription per connection: the newest wins
        client.budget_period_s = 1.0 / request.rate_hz
        client.budget_due_s = 0.0
        subscription_id = request.id

        def deliver(event: Event) -> None:
            self._deliver(client, event.model_copy(update={"id": subscription_id}))

        client.unsubscribe = self.service.subscribe(request.events, deliver)
        return SubscribeResult(events=request.events, rate_hz=request.rate_hz)

    def _deliver(self, client: _Client, event: Event) -> None:
        """Queue an event for a subscriber; budget events are thinned to its rate."""
        if client.closing:
            return
        if event.event == "budget":
            now = self._clock()
            if now < client.budget_due_s:
                return
            # Slack of half a publish interval, so that publishing jitter does not make
            # a 10 Hz subscriber of the 10 Hz statistics skip every other one.
            period_s = client.budget_period_s
            client.budget_due_s = now + period_s - min(period_s, 0.1) * 0.5
        try:
            client.outbox.put_nowait(encode(event))
        except asyncio.QueueFull:
            if event.event == "budget":
                client.dropped_budget_events += 1  # a newer snapshot will follow
                return
            self._disconnect_slow(client)

    def _disconnect_slow(self, client: _Client) -> None:
        """A subscriber that stopped reading: it would miss mode changes, so it goes."""
        _log.warning("control client %d stopped reading events; disconnecting it", client.number)
        self._drop(client)
        while not client.outbox.empty():
            client.outbox.get_nowait()
        error = ErrorBody(
            code=ErrorCode.SLOW_CONSUMER,
            message=f"more than {self.limits.backlog} messages waited for this client; "
            "read events as they come",
        )
        client.outbox.put_nowait(encode(Response(ok=False, error=error)))
        client.outbox.put_nowait(None)
        # Closing the stream also ends the request reader of this client.
        task = asyncio.ensure_future(_close_later(client.writer))
        client.tasks.add(task)
        task.add_done_callback(client.tasks.discard)


async def _close_later(writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(1.0)
    writer.close()


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Close a refused connection so that the refusal still reaches the client.

    Closing a Unix socket with unread bytes in it resets the connection, and the peer
    may then lose the answer it has not read yet; so what the client sent is read and
    dropped (for a second at most) before closing.
    """
    with contextlib.suppress(ConnectionError, OSError):
        if writer.can_write_eof():
            writer.write_eof()
    with contextlib.suppress(ConnectionError, OSError, TimeoutError):
        async with asyncio.timeout(1.0):
            while await reader.read(MAX_MESSAGE_BYTES):
                pass
    await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        if writer.can_write_eof():
            writer.write_eof()
    writer.close()
    with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    """The connecting process's user id, where the platform tells (Linux)."""
    sock = writer.get_extra_info("socket")
    if sock is None or not sys.platform.startswith("linux"):
        return None
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return int(uid)


def _prepare_folder(folder: Path) -> None:
    """Create the socket's folder 0700, or check an existing one is ours and private."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.geteuid():
        raise PermissionError(
            errno.EPERM,
            f"{folder} belongs to another user; set {SOCKET_ENV} to a path in a folder of "
            "your own",
        )
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)  # ours, so tighten it rather than refuse


def _socket_answers(path: Path) -> bool:
    """Whether something accepts connections on the socket ``path`` now."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True
