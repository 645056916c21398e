"""Frame times from the game running now: MangoHud's log, PresentMon's output and the
ingest socket, all listened to at once; whichever has frames is live.

Three feeds, each looked at ("polled") from one reader thread, so that no file read,
folder scan or socket read ever runs on the event loop that draws the window:

- ``MangoHudFeed`` (``gearshift.frames.follow``) follows the newest log in the folders
  MangoHud's configuration names.
- ``FollowFeed`` (``gearshift.frames.follow``) follows a file or pipe the player names
  with ``--follow``: PresentMon's CSV output, or a MangoHud log.
- ``IngestFeed`` (``gearshift.frames.ingest``): a local socket game engines send their
  frame times to.

``LiveSources`` is the frame source the app runs on: the reader thread puts what each
feed found into a bounded inbox (the oldest frames are dropped, and counted, when the
app falls behind), and the event loop takes the live feed's frames on a fixed tick. A
feed stays live while its frames keep coming; after ``LIVE_TIMEOUT_S`` without any, the
source says it is waiting again, and the first feed to send frames becomes live. Frames
from a feed that is not live are counted and dropped, so two games never mix in one
graph.

The reader sleeps until the next feed is due, or until the ingest socket has a datagram
while nothing else is due: with no game running it wakes about once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import select
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from gearshift.core.metrics import FrameTimes
from gearshift.frames.follow import (
    FollowFeed,
    MangoHudFeed,
    check_follow_target,
    mangohud_log_folders,
)
from gearshift.frames.ingest import IngestFeed, default_address
from gearshift.frames.sources import FeedPoll, Sleep, SourceStatus

_log = logging.getLogger(__name__)

LIVE_TICK_S = 0.1
"""How often the event loop takes the live feed's frames, in seconds: as often as the
statistics are published, so no frame waits long for the graph, and the app wakes no
more than it must while a game runs."""

WAITING_TICK_S = 0.25
"""How often the event loop looks for frames while none come."""

LIVE_TIMEOUT_S = 3.0
"""A feed with no frames for this long is no longer live (MangoHud may log only every
second or so)."""

MAX_QUEUED_FRAMES = 50_000
"""Frames a feed may hold for the event loop; beyond that the oldest are dropped."""

FEED_RETRY_S = 5.0
"""After a feed's look fails unexpectedly, wait this long before the next."""


# ------------------------------------------------------------------------------ feeds


class Feed(Protocol):
    """One live input, looked at from the reader thread only.

    ``open`` runs once before the first look and may raise OSError (the reason is shown
    to the player); ``poll`` returns what arrived since the previous look.
    """

    @property
    def kind(self) -> str:
        """What the feed is: "mangohud", "presentmon" or "ingest"."""
        ...

    @property
    def advice(self) -> str:
        """How a player gets frames to this feed, for the waiting screen."""
        ...

    @property
    def problem(self) -> str | None:
        """What is wrong with the feed's input, in words (a followed file that is no
        capture, datagrams dropped as malformed), or None."""
        ...

    def open(self) -> None:
        """Get ready (bind, note the files that are there). Raises OSError."""
        ...

    def poll(self, now_s: float) -> FeedPoll:
        """What arrived since the previous look."""
        ...

    def interval_s(self) -> float:
        """How long until the next look."""
        ...

    def fileno(self) -> int | None:
        """A descriptor whose readiness should wake the reader early, or None."""
        ...

    def close(self) -> None:
        """Let go of files and sockets."""
        ...


# ---------------------------------------------------------------- the live source


class _Inbox:
    """What the reader thread found for one feed, until the event loop takes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: deque[FrameTimes] = deque()
        self._count = 0
        self.dropped = 0
        """Frames dropped, oldest first, because the event loop fell behind."""
        self.label = ""
        self.pid: int | None = None

    def put(self, poll: FeedPoll) -> None:
        with self._lock:
            self.label, self.pid = poll.label, poll.pid
            if poll.frames_ms.size == 0:
                return
            self._chunks.append(poll.frames_ms)
            self._count += poll.frames_ms.size
            while self._count > MAX_QUEUED_FRAMES:
                excess = self._count - MAX_QUEUED_FRAMES
                oldest = self._chunks[0]
                if oldest.size <= excess:
                    self._chunks.popleft()
                    removed = oldest.size
                else:
                    self._chunks[0] = oldest[excess:]
                    removed = excess
                self._count -= removed
                self.dropped += removed

    def take(self) -> tuple[FrameTimes, str, int | None]:
        with self._lock:
            chunks = list(self._chunks)
            self._chunks.clear()
            self._count = 0
            label, pid = self.label, self.pid
        frames = np.concatenate(chunks) if chunks else np.empty(0)
        return frames, label, pid


@dataclass
class _FeedState:
    """The live source's view of one feed.

    ``enabled`` is set on the event loop; the reader thread opens and closes the feed
    to match, and owns ``opened``, ``due_s`` and ``failed``. The other fields belong to
    the event loop.
    """

    feed: Feed
    enabled: bool = True
    opened: bool = False
    inbox: _Inbox = field(default_factory=_Inbox)
    due_s: float = 0.0
    failed: str | None = None
    """Why the feed could not start, or why a look at it failed for good."""
    last_frames_s: float = -math.inf
    label: str = ""
    pid: int | None = None
    ignored: int = 0
    """Frames dropped because another feed was live."""

    @property
    def working(self) -> bool:
        return self.enabled and self.opened and self.failed is None


WAITING_LABEL = "waiting for frames"


class LiveSources:
    """Every live feed at once; the one whose frames come is live.

    Args:
        feeds: the feeds to listen to.
        hints: more lines for the waiting screen, after the feeds' own advice.
        off_notes: for a kind of feed, what to say while it is turned off (the ingest
            socket, say, which the settings can turn off).
        disabled: kinds of feed turned off from the start.
        tick_s: how often the event loop takes the live feed's frames.
        live_timeout_s: how long a live feed may send nothing before it is no longer live.
        clock, sleep: the monotonic clock and the event loop's sleep (seams for tests).
        threaded: run the reader thread; tests that drive ``poll_feeds`` themselves
            turn it off.
    """

    def __init__(
        self,
        feeds: Sequence[Feed],
        *,
        hints: Sequence[str] = (),
        off_notes: Mapping[str, str] | None = None,
        disabled: Iterable[str] = (),
        tick_s: float = LIVE_TICK_S,
        live_timeout_s: float = LIVE_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        threaded: bool = True,
    ) -> None:
        self.label = WAITING_LABEL
        self._live_timeout_s = live_timeout_s
        off = set(disabled)
        self._states = [_FeedState(feed, enabled=feed.kind not in off) for feed in feeds]
        self._hints = tuple(hints)
        self._off_notes = dict(off_notes or {})
        self._tick_s = tick_s
        self._clock = clock
        self._sleep = sleep
        self._threaded = threaded
        self._live: _FeedState | None = None
        self._recent: deque[tuple[float, int, float]] = deque()
        self._stop = threading.Event()
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None
        self._started = False

    @property
    def feeds(self) -> tuple[Feed, ...]:
        """Every feed listened to."""
        return tuple(state.feed for state in self._states)

    @property
    def pid(self) -> int | None:
        """The live game's process id, when its feed knows it (for the GPU to follow)."""
        return None if self._live is None else self._live.pid

    def enable(self, kind: str, enabled: bool) -> None:
        """Turn the feeds of ``kind`` on or off (the reader opens or closes them)."""
        for state in self._states:
            if state.feed.kind == kind and state.enabled != enabled:
                _log.info("%s feed turned %s", kind, "on" if enabled else "off")
                state.failed = None  # turned on again: try again
                state.enabled = enabled
        self._wake_reader()

    def status(self) -> SourceStatus:
        """Which feed is live, or that the source waits, and what the player can do."""
        problems = tuple(self._problems())
        if self._live is None:
            advice = [s.feed.advice for s in self._states if s.enabled and s.failed is None]
            return SourceStatus(
                "waiting", WAITING_LABEL, advice=(*advice, *self._hints), problems=problems
            )
        return SourceStatus(
            "live",
            self._live.label,
            kind=self._live.feed.kind,
            pid=self._live.pid,
            fps=self._fps(),
            problems=problems,
        )

    def counters(self) -> dict[str, int]:
        """Frames dropped on the way: ``queued`` (the app fell behind) and ``ignored``
        (another feed was live), each summed over the feeds."""
        return {
            "queued": sum(state.inbox.dropped for state in self._states),
            "ignored": sum(state.ignored for state in self._states),
        }

    async def batches(self) -> AsyncIterator[FrameTimes]:
        """The live feed's frames, a batch per tick, until cancelled.

        Ticks keep a fixed schedule from the first call: a late tick does not push the
        later ones back, and missed ones are skipped rather than caught up.
        """
        self.start()
        next_s = self._clock()
        try:
            while True:
                step_s = self._tick_s if self._live else max(self._tick_s, WAITING_TICK_S)
                now_s = self._clock()
                next_s += step_s * max(1, math.ceil((now_s - next_s) / step_s + 1e-9))
                await self._sleep(next_s - now_s)
                if not self._threaded:
                    self.poll_feeds(self._clock())
                batch = self.hand_over(self._clock())
                if batch.size:
                    yield batch
        finally:
            self.stop()

    def start(self) -> None:
        """Start the reader thread, which opens the feeds: scanning folders and binding
        a socket are file-system work, kept off the event loop like every read."""
        if self._started:
            return
        self._started = True
        if self._threaded:
            self._wake = socket.socketpair()
            self._wake[0].setblocking(False)
            self._thread = threading.Thread(
                target=self._read_feeds, name="gearshift-live", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the reader (without waiting long on a stuck read) and close the feeds."""
        self._stop.set()
        self._wake_reader()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            if self._thread.is_alive():
                _log.warning("the live frame reader did not stop within 1 s; leaving it")
                return
        for state in self._states:
            self._close(state)
        if self._wake is not None:
            for end in self._wake:
                end.close()
            self._wake = None

    def poll_feeds(self, now_s: float) -> None:
        """Open or close feeds as turned on or off, then look at every feed that is due
        (the reader thread's work, one round)."""
        for state in self._states:
            self._sync(state)
            if not state.working or now_s < state.due_s:
                continue
            try:
                poll = state.feed.poll(now_s)
            except OSError as error:  # a file went away under the read: try again later
                _log.warning("reading the %s feed failed: %s", state.feed.kind, _reason(error))
                state.due_s = now_s + FEED_RETRY_S
                continue
            except Exception as error:  # one feed's fault must not stop the others
                _log.exception("the %s feed stopped", state.feed.kind)
                state.failed = f"the {state.feed.kind} feed stopped: {error}"
                continue
            state.inbox.put(poll)
            state.due_s = now_s + (0.0 if poll.more else state.feed.interval_s())

    def hand_over(self, now_s: float) -> FrameTimes:
        """Take what the feeds found; return the live feed's frames."""
        arrived: dict[int, FrameTimes] = {}
        for index, state in enumerate(self._states):
            frames, state.label, state.pid = state.inbox.take()
            if frames.size:
                state.last_frames_s = now_s
                arrived[index] = frames
        self._choose_live(now_s)

        batch = np.empty(0)
        for index, frames in arrived.items():
            if self._live is self._states[index]:
                batch = frames
            else:
                self._states[index].ignored += frames.size
        self._note_rate(now_s, batch)
        self.label = WAITING_LABEL if self._live is None else self._live.label
        return batch

    def _sync(self, state: _FeedState) -> None:
        if state.enabled and not state.opened and state.failed is None:
            try:
                state.feed.open()
            except (OSError, ValueError) as error:
                state.failed = _reason(error)
                _log.warning("%s feed not started: %s", state.feed.kind, state.failed)
                return
            state.opened, state.due_s = True, 0.0
        elif not state.enabled and state.opened:
            self._close(state)

    def _close(self, state: _FeedState) -> None:
        if state.opened:
            state.feed.close()
            state.opened = False

    def _choose_live(self, now_s: float) -> None:
        live = self._live
        timeout_s = self._live_timeout_s
        if live is not None and live.enabled and now_s - live.last_frames_s <= timeout_s:
            return
        fresh = [s for s in self._states if s.enabled and now_s - s.last_frames_s <= timeout_s]
        chosen = max(fresh, key=lambda s: s.last_frames_s, default=None)
        if chosen is not live:
            if chosen is None:
                _log.info("no frames for %.1f s: waiting for frames", timeout_s)
            else:
                _log.info("frames from %s", chosen.label)
            self._recent.clear()
        self._live = chosen

    def _note_rate(self, now_s: float, batch: FrameTimes) -> None:
        if batch.size:
            self._recent.append((now_s, batch.size, float(batch.sum())))
        while self._recent and now_s - self._recent[0][0] > 1.0:
            self._recent.popleft()

    def _fps(self) -> float | None:
        frames = sum(count for _, count, _ in self._recent)
        total_ms = sum(span for _, _, span in self._recent)
        return 1000.0 * frames / total_ms if total_ms > 0 else None

    def _problems(self) -> list[str]:
        problems = []
        for state in self._states:
            problem: str | None
            if not state.enabled:
                off = f"the {state.feed.kind} feed is turned off"
                problem = self._off_notes.get(state.feed.kind, off)
            else:
                problem = state.failed or state.feed.problem
            if problem and problem not in problems:
                problems.append(problem)
        return problems

    def _wake_reader(self) -> None:
        if self._wake is not None:
            with contextlib.suppress(OSError):
                self._wake[1].send(b"x")

    def _read_feeds(self) -> None:
        """The reader thread: look at each feed when due, sleep until the next is."""
        assert self._wake is not None
        wake = self._wake[0].fileno()
        while not self._stop.is_set():
            self.poll_feeds(time.monotonic())
            working = [s for s in self._states if s.working]
            waiting = [fd for s in working if (fd := s.feed.fileno()) is not None]
            next_s = min((s.due_s for s in working), default=math.inf)
            timeout_s = min(max(0.0, next_s - time.monotonic()), 1.0)
            try:
                ready, _, _ = select.select([wake, *waiting], [], [], timeout_s)
            except (OSError, ValueError):  # a feed was closed under the wait
                ready = []
            if wake in ready:
                with contextlib.suppress(OSError):
                    self._wake[0].recv(64)
            for state in working:
                if state.feed.fileno() in ready:
                    state.due_s = 0.0


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return str(error)


INGEST_OFF_NOTE = "the ingest socket is turned off in the settings (advanced.ingest_socket)"
PRESENTMON_HINT = (
    "run PresentMon into Gearshift: PresentMon --output_stdout | gearshift --follow -"
)


def live_sources(
    *,
    ingest: bool = True,
    follow: str | None = None,
    env: Mapping[str, str] | None = None,
) -> LiveSources:
    """The app's live source: MangoHud's logs, the ingest socket (off when ``ingest``
    is False, until turned on with ``enable("ingest", True)``), and the file or pipe
    ``--follow`` names.

    Raises:
        ValueError: $GEARSHIFT_INGEST_SOCKET names no usable address, or ``follow``
            names what can never give frames (see ``check_follow_target``).
    """
    env = os.environ if env is None else env
    feeds: list[Feed] = [MangoHudFeed(lambda: mangohud_log_folders(env))]
    if follow is not None:
        check_follow_target(follow, _stdin_fd())
        feeds.append(FollowFeed(follow, stdin=_stdin_fd()))
    feeds.append(IngestFeed(default_address(env)))
    return LiveSources(
        feeds,
        hints=() if follow is not None else (PRESENTMON_HINT,),
        off_notes={IngestFeed.kind: INGEST_OFF_NOTE},
        disabled=() if ingest else (IngestFeed.kind,),
    )


def _stdin_fd() -> int:
    return sys.stdin.fileno() if sys.stdin is not None else -1
