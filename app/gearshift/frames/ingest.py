"""The ingest socket: game engines push their own frame times to Gearshift.

A game sends datagrams to a local socket: a Unix datagram socket in the user's runtime
folder on Linux (mode 0600, so only the same user can send), loopback UDP where Unix
sockets are missing. Each datagram carries the sender's process id and one or more
frame times, as text or binary (``docs/ingest.md`` is the reference for game authors):

- text: ``GS1 <pid> <ms> [<ms> ...]``, ASCII, fields separated by spaces, an optional
  newline at the end;
- binary: the four bytes ``GSB1``, the pid as an unsigned 32-bit little-endian integer,
  then 1 to 1024 frame times as 32-bit little-endian floats, in milliseconds.

Where the kernel says which process sent a datagram (``SO_PASSCRED`` on Linux), that
process id is the one used, not the declared one: a game under Wine or Proton declares
its Windows process id, which means nothing to Linux.

A datagram that does not follow the format is dropped and counted, never half-read. A
flood costs a bounded amount of work: each look reads at most ``MAX_DATAGRAMS_PER_POLL``
datagrams (the rest wait in the kernel's queue, which refuses more once full), and
frames beyond ``MAX_FRAMES_PER_S`` a second are dropped and counted.

Datagrams are read in batches, not one wake-up each: while they come, the next look is
planned for when the kernel's queue (only 10 datagrams by Linux's default) should be
about half full at the rate they come (``IngestFeed.interval_s``).

Only one game is followed at a time: while one sender's frames keep coming, frames from
other processes are dropped and counted; after ``SENDER_SWITCH_S`` of silence the next
sender takes over.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
import socket
import stat
import struct
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import psutil

from gearshift.frames.sources import FeedPoll

_log = logging.getLogger(__name__)

INGEST_ENV = "GEARSHIFT_INGEST_SOCKET"
"""Overrides where the socket is: a path, or ``udp:HOST:PORT`` for loopback UDP."""

CONTROL_SOCKET_ENV = "GEARSHIFT_SOCKET"
"""When the control socket is moved, the ingest socket moves beside it."""

SOCKET_NAME = "ingest.sock"
DEFAULT_UDP_PORT = 47291
"""The loopback UDP port used where Unix sockets are missing."""

TEXT_MAGIC = b"GS1"
BINARY_MAGIC = b"GSB1"
BINARY_HEADER = struct.Struct("<4sI")
MAX_FRAMES_PER_DATAGRAM = 1024
MAX_DATAGRAM_BYTES = 16384
"""Anything longer is cut by the kernel and counted as malformed."""

MAX_FRAME_MS = 60_000.0
"""A frame time above a minute is taken as a mistake, not a frame."""

MAX_PID = 2**31 - 1

MAX_DATAGRAMS_PER_POLL = 64
"""How many datagrams one look reads; at most this many every ``MIN_DRAIN_PAUSE_S``."""

MIN_DRAIN_PAUSE_S = 0.005
MAX_DRAIN_PAUSE_S = 0.1
"""While frames come, the next look waits until the kernel's queue is about half full
at the rate they come (within these bounds), so that datagrams are read in batches
rather than with one wake-up each, yet none is refused for a full queue."""

DEFAULT_QUEUE_DATAGRAMS = 10
"""How many datagrams a Unix socket queues when the system does not say
(``net.unix.max_dgram_qlen``; 10 is Linux's default)."""

UDP_QUEUE_DATAGRAMS = 100
"""Loopback UDP queues by bytes (a couple of hundred small datagrams by default)."""

QUEUE_LENGTH_FILE = Path("/proc/sys/net/unix/max_dgram_qlen")

IDLE_POLL_S = 1.0

IDLE_AFTER_S = 1.0
"""Without a datagram for this long, the reader waits on the socket again."""

RATE_SPAN_S = 0.5
"""The span over which the rate datagrams come at is counted."""
"""With nothing arriving, look this often (a datagram wakes the reader sooner)."""

MAX_FRAMES_PER_S = 5000.0
"""Frames accepted a second (with a second's worth as burst); more are counted as
rate-limited and dropped. No game renders this fast; a flood does."""

SENDER_SWITCH_S = 1.0
"""Another process's frames are taken once the followed one was silent this long."""

FOREIGN = -1
"""Stands for a sender of another user, who is never listened to."""

_UCRED = struct.Struct("iII")
_MSG_TRUNC = int(getattr(socket, "MSG_TRUNC", 0))
_SCM_CREDENTIALS = int(getattr(socket, "SCM_CREDENTIALS", -1))
_NUMBER_BYTES = frozenset(b"0123456789.eE+-")


@dataclass(frozen=True)
class IngestAddress:
    """Where the ingest socket listens.

    Attributes:
        path: the Unix socket's path, or None for UDP.
        host, port: the UDP address when ``path`` is None (port 0 picks a free one).
    """

    path: Path | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_UDP_PORT

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else f"udp:{self.host}:{self.port}"


def default_address(env: Mapping[str, str] | None = None) -> IngestAddress:
    """The ingest socket's address: $GEARSHIFT_INGEST_SOCKET, else beside the control
    socket ($GEARSHIFT_SOCKET), else ``gearshift/ingest.sock`` in the runtime folder;
    loopback UDP where the platform has no Unix sockets.

    Raises:
        ValueError: $GEARSHIFT_INGEST_SOCKET is ``udp:`` with no usable port.
    """
    env = os.environ if env is None else env
    override = env.get(INGEST_ENV, "").strip()
    if override.startswith("udp:"):
        return _udp_address(override)
    if override:
        return IngestAddress(Path(override))
    if not hasattr(socket, "AF_UNIX"):
        return IngestAddress(None)
    control = env.get(CONTROL_SOCKET_ENV, "").strip()
    if control:
        return IngestAddress(Path(control).parent / SOCKET_NAME)
    return IngestAddress(_runtime_folder() / SOCKET_NAME)


def _udp_address(text: str) -> IngestAddress:
    host, _, port = text.removeprefix("udp:").rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(
            f"{INGEST_ENV}={text!r} is not an address: use udp:127.0.0.1:PORT or a path"
        )
    return IngestAddress(None, host or "127.0.0.1", int(port))


def _runtime_folder() -> Path:
    import platformdirs

    with warnings.catch_warnings(record=True) as caught:
        # platformdirs refuses an XDG_RUNTIME_DIR that is missing or not private and
        # falls back to a private folder of its own: say so in the log, not as a warning.
        warnings.simplefilter("always")
        folder = platformdirs.user_runtime_path("gearshift")
    for warning in caught:
        _log.info("%s", warning.message)
    return folder


class Datagram(NamedTuple):
    """One well-formed datagram: the declared pid (0 when unknown) and its frame times
    in milliseconds. Plain floats: a datagram holds a frame or a few, and numpy's cost
    per call would be most of the work at a game's frame rate."""

    pid: int
    frames_ms: list[float]


def parse_datagram(data: bytes) -> Datagram | None:
    """Read one datagram in either format; None when it is malformed in any way."""
    if data.startswith(BINARY_MAGIC):
        return _parse_binary(data)
    if data.startswith(TEXT_MAGIC):
        return _parse_text(data)
    return None


def _parse_binary(data: bytes) -> Datagram | None:
    count, rest = divmod(len(data) - BINARY_HEADER.size, 4)
    if count <= 0 or rest or count > MAX_FRAMES_PER_DATAGRAM:
        return None
    _magic, pid = BINARY_HEADER.unpack_from(data)
    frames = list(struct.unpack_from(f"<{count}f", data, BINARY_HEADER.size))
    return Datagram(pid, frames) if pid <= MAX_PID and _usable(frames) else None


def _parse_text(data: bytes) -> Datagram | None:
    fields = data.split()
    if len(fields) < 3 or fields[0] != TEXT_MAGIC or len(fields) - 2 > MAX_FRAMES_PER_DATAGRAM:
        return None
    pid = fields[1]
    if not (pid.isdigit() and len(pid) <= 10 and int(pid) <= MAX_PID):
        return None
    # float() alone would also take "1_0", "+4" and "nan"; the format is plain decimals.
    if any(not _NUMBER_BYTES.issuperset(field) for field in fields[2:]):
        return None
    try:
        frames = [float(field) for field in fields[2:]]
    except ValueError:  # "1.2.3", "e5"
        return None
    return Datagram(int(pid), frames) if _usable(frames) else None


def _usable(frames: list[float]) -> bool:
    """Every frame time positive and at most ``MAX_FRAME_MS`` (NaN fails both)."""
    return all(0.0 < frame <= MAX_FRAME_MS for frame in frames)


@dataclass(frozen=True)
class IngestCounters:
    """What the socket received since it opened.

    Attributes:
        datagrams: datagrams read.
        frames: frame times handed on.
        malformed: datagrams dropped because they do not follow the format.
        rate_limited: frames dropped because more than ``MAX_FRAMES_PER_S`` came.
        other_senders: frames dropped because another process was being followed.
        foreign: datagrams dropped because another user sent them.
        capped_polls: looks that stopped at ``MAX_DATAGRAMS_PER_POLL`` with more waiting.
    """

    datagrams: int = 0
    frames: int = 0
    malformed: int = 0
    rate_limited: int = 0
    other_senders: int = 0
    foreign: int = 0
    capped_polls: int = 0


class _FrameBucket:
    """A token bucket over frames: ``rate`` a second, a second's worth of burst."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._tokens = rate
        self._last_s: float | None = None

    def take(self, wanted: int, now_s: float) -> int:
        """How many of ``wanted`` frames may pass now."""
        if self._last_s is not None:
            elapsed_s = max(0.0, now_s - self._last_s)
            self._tokens = min(self._rate, self._tokens + elapsed_s * self._rate)
        self._last_s = now_s
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        return granted


class IngestInUseError(OSError):
    """Another process already listens on the ingest socket."""


ProcessName = Callable[[int], str | None]
"""Names a process from its id, or None when there is no such process."""


def process_name(pid: int) -> str | None:
    """The name the system gives process ``pid``, or None when it cannot be read."""
    try:
        return str(psutil.Process(pid).name())
    except (psutil.Error, ValueError):
        return None


class IngestFeed:
    """The ingest socket as a live feed: ``open``, then ``poll`` from one thread.

    Args:
        address: where to listen; ``default_address()`` when None.
        name_of: names a sender's process for the label (a seam for tests).
        max_frames_per_s: the rate limit (``MAX_FRAMES_PER_S``).
        max_datagrams_per_poll: the most one look reads (``MAX_DATAGRAMS_PER_POLL``).
    """

    kind = "ingest"

    def __init__(
        self,
        address: IngestAddress | None = None,
        *,
        name_of: ProcessName = process_name,
        max_frames_per_s: float = MAX_FRAMES_PER_S,
        max_datagrams_per_poll: int = MAX_DATAGRAMS_PER_POLL,
    ) -> None:
        self.address = address if address is not None else default_address()
        self._name_of = name_of
        self._names: dict[int, str | None] = {}
        self._bucket = _FrameBucket(max_frames_per_s)
        self._max_frames_per_s = max_frames_per_s
        self._max_datagrams = max_datagrams_per_poll
        self._socket: socket.socket | None = None
        self._kernel_pids = False
        self._sender: int | None = None
        self._sender_seen_s = -math.inf
        self._active = False
        self._last_datagram_s = -math.inf
        self._rate_window: tuple[float, int] = (-math.inf, 0)
        self._drain_pause_s = MIN_DRAIN_PAUSE_S
        self._queue_datagrams = UDP_QUEUE_DATAGRAMS
        self._counts = dict.fromkeys(IngestCounters.__dataclass_fields__, 0)

    @property
    def counters(self) -> IngestCounters:
        """What was received so far."""
        return IngestCounters(**self._counts)

    @property
    def advice(self) -> str:
        """How a game sends frames here, for the waiting screen."""
        return f"point a game engine at the ingest socket {self.address} (docs/ingest.md)"

    def open(self) -> None:
        """Bind the socket. Raises OSError (IngestInUseError when taken) with a message."""
        if self.address.path is None:
            self._socket = self._bind_udp()
        else:
            self._socket = _bind_unix(self.address.path)
            self._kernel_pids = _pass_credentials(self._socket)
            self._queue_datagrams = unix_queue_datagrams()
        self._socket.setblocking(False)
        _log.info("ingest socket listening on %s", self.address)

    def close(self) -> None:
        """Close the socket and remove its file."""
        if self._socket is None:
            return
        self._socket.close()
        self._socket = None
        path = self.address.path
        if path is not None:
            with contextlib.suppress(OSError):
                if stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()

    @property
    def problem(self) -> str | None:
        """What was dropped so far and why, in words, or None when nothing was."""
        counts = self.counters
        dropped = [
            (counts.malformed, "malformed datagram(s)"),
            (counts.foreign, "datagram(s) from another user"),
            (counts.rate_limited, f"frame(s) beyond {self._max_frames_per_s:g} a second"),
            (counts.other_senders, "frame(s) from a second process"),
        ]
        said = [f"{count} {what}" for count, what in dropped if count]
        return f"the ingest socket dropped {', '.join(said)}" if said else None

    def fileno(self) -> int | None:
        """The socket, for the reader to wait on while nothing arrives; None while
        frames come, so that they are read in batches (see ``interval_s``)."""
        if self._socket is None or self._active:
            return None
        return self._socket.fileno()

    def interval_s(self) -> float:
        """How long to wait before the next look: while datagrams come, until the
        kernel's queue is about half full again at the rate they come."""
        return self._drain_pause_s if self._active else IDLE_POLL_S

    def poll(self, now_s: float) -> FeedPoll:
        """Read what arrived (at most ``MAX_DATAGRAMS_PER_POLL`` datagrams)."""
        frames: list[float] = []
        read = 0
        while self._socket is not None and read < self._max_datagrams:
            received = self._receive()
            if received is None:
                break
            read += 1
            accepted = self._accept(*received, now_s)
            if accepted is not None:
                frames += accepted
        more = read == self._max_datagrams
        self._counts["capped_polls"] += int(more)

        granted = self._bucket.take(len(frames), now_s)
        self._counts["rate_limited"] += len(frames) - granted
        self._counts["frames"] += granted
        self._note_rate(read, now_s)
        frames_ms = np.array(frames[:granted], dtype=np.float64)
        return FeedPoll(frames_ms, self._label(), self._sender, more=more)

    def _note_rate(self, read: int, now_s: float) -> None:
        """Plan the next look from the rate datagrams come at (see ``interval_s``).

        The rate is counted over spans of ``RATE_SPAN_S``; until the first span is
        over (just after a quiet spell) and whenever the queue was nearly full, the
        next look comes soon. After ``IDLE_AFTER_S`` without a datagram the reader
        waits on the socket instead of looking.
        """
        if read:
            self._last_datagram_s = now_s
        self._active = now_s - self._last_datagram_s < IDLE_AFTER_S
        if not self._active:
            self._rate_window = (-math.inf, 0)
            self._drain_pause_s = MIN_DRAIN_PAUSE_S
            return

        started_s, counted = self._rate_window
        if started_s == -math.inf:
            self._rate_window = (now_s, 0)  # this look's datagrams came before the span
        elif now_s - started_s >= RATE_SPAN_S:
            per_s = (counted + read) / (now_s - started_s)
            pause_s = 0.5 * self._queue_datagrams / per_s if per_s > 0 else MAX_DRAIN_PAUSE_S
            self._drain_pause_s = min(max(pause_s, MIN_DRAIN_PAUSE_S), MAX_DRAIN_PAUSE_S)
            self._rate_window = (now_s, 0)
        else:
            self._rate_window = (started_s, counted + read)
        if read >= 0.8 * self._queue_datagrams:
            self._drain_pause_s = MIN_DRAIN_PAUSE_S

    def _accept(self, data: bytes, kernel_pid: int | None, now_s: float) -> list[float] | None:
        """The datagram's frames when it is well formed and from the followed sender."""
        self._counts["datagrams"] += 1
        if kernel_pid == FOREIGN:
            self._counts["foreign"] += 1
            return None
        datagram = parse_datagram(data)
        if datagram is None:
            self._counts["malformed"] += 1
            return None
        pid = kernel_pid if kernel_pid is not None else datagram.pid
        if self._sender != pid and now_s - self._sender_seen_s < SENDER_SWITCH_S:
            self._counts["other_senders"] += len(datagram.frames_ms)
            return None
        if self._sender != pid:
            _log.info("ingest socket: frames from process %s", pid or "(no pid given)")
        self._sender = pid
        self._sender_seen_s = now_s
        return datagram.frames_ms

    def _receive(self) -> tuple[bytes, int | None] | None:
        """One datagram and the sender's pid as the kernel gives it (None where it does
        not, ``FOREIGN`` for another user), or None when no datagram waits."""
        assert self._socket is not None
        try:
            if self._kernel_pids:
                data, ancillary, flags, _ = self._socket.recvmsg(
                    MAX_DATAGRAM_BYTES, socket.CMSG_SPACE(_UCRED.size)
                )
            else:
                data, _ = self._socket.recvfrom(MAX_DATAGRAM_BYTES + 1)
                ancillary, flags = [], 0
        except (BlockingIOError, InterruptedError):
            return None
        except ConnectionError:  # Windows reports an earlier ICMP refusal here
            return b"", None
        if flags & _MSG_TRUNC or len(data) > MAX_DATAGRAM_BYTES:
            data = b""  # cut off: malformed
        return data, _kernel_pid(ancillary)

    def _label(self) -> str:
        pid = self._sender
        if not pid:
            return "ingest socket"
        if pid not in self._names:
            self._names[pid] = self._name_of(pid)
        name = self._names[pid]
        return f"ingest socket: {name} (pid {pid})" if name else f"ingest socket: pid {pid}"

    def _bind_udp(self) -> socket.socket:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind((self.address.host, self.address.port))
        except OSError:
            udp.close()
            raise
        host, port = udp.getsockname()[:2]
        self.address = IngestAddress(None, host, port)
        return udp


def _bind_unix(path: Path) -> socket.socket:
    """A Unix datagram socket bound at ``path``, mode 0600, its folder 0700.

    A socket file nobody answers on (left by a killed instance) is replaced.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise OSError(errno.EEXIST, f"{path} exists and is not a socket; remove it")
        if _answers(path):
            raise IngestInUseError(
                errno.EADDRINUSE, f"another program listens on {path}; quit it or set {INGEST_ENV}"
            )
        path.unlink()
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    old_umask = os.umask(0o177)  # born 0600: no moment when others could send
    try:
        unix.bind(str(path))
    except OSError:
        unix.close()
        raise
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    return unix


def unix_queue_datagrams() -> int:
    """How many datagrams a Unix socket queues before senders are refused."""
    try:
        return max(1, int(QUEUE_LENGTH_FILE.read_text().strip()))
    except (OSError, ValueError):
        return DEFAULT_QUEUE_DATAGRAMS


def _kernel_pid(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    """The sender's pid from its credentials; ``FOREIGN`` for a user other than this one
    (or root); None when the kernel did not say."""
    for level, kind, data in ancillary:
        if kind == _SCM_CREDENTIALS and level == socket.SOL_SOCKET:
            pid, uid, _gid = _UCRED.unpack_from(data)
            return int(pid) if uid in (os.getuid(), 0) else FOREIGN
    return None


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _pass_credentials(unix: socket.socket) -> bool:
    """Ask the kernel to attach each sender's credentials; False where it cannot."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_PASSCRED"):
        return False
    try:
        unix.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    except OSError:
        return False
    return True
