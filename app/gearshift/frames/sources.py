"""Frame sources: a capture replayed in real time, and a simulated demo feed.

A source is an async iterator of frame-time batches (numpy arrays, milliseconds), each
holding the frames "rendered" since the previous batch, plus a status saying what it is
and whether frames are coming. Both take the monotonic clock and the sleep function as
arguments so tests can drive them without waiting. The sources that follow a running
game (MangoHud logs, PresentMon, the ingest socket) are in ``gearshift.frames.live``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from gearshift.core.metrics import FrameTimes, as_frame_times

DEFAULT_TICK_S = 0.02
"""How often a source hands over a batch, in seconds."""

MAX_CATCH_UP_S = 1.0
"""After a stall longer than this, a replay skips ahead instead of flooding the graph."""

Sleep = Callable[[float], Awaitable[None]]

SourceState = Literal["live", "waiting", "none"]
"""``live``: frames are coming; ``waiting``: listening, but nothing sends frames;
``none``: no source was chosen at all."""


@dataclass(frozen=True)
class SourceStatus:
    """What the frame source is doing now, for the window, the tray and health.

    Attributes:
        state: live, waiting or none (see ``SourceState``).
        label: what is live, in the player's words ("MangoHud log cs2_….csv",
            "Demo (simulated)"), or what the source waits on.
        kind: the kind of source that is live ("mangohud", "presentmon", "ingest",
            "replay", "demo"), or None while waiting.
        pid: the game's process id when the live source knows it, else None.
        fps: the frame rate of the frames handed over in the last second, or None.
        advice: while waiting, what the player can do to get frames, one line each.
        problems: sources that could not start, one line each (the reason in words).
    """

    state: SourceState
    label: str
    kind: str | None = None
    pid: int | None = None
    fps: float | None = None
    advice: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedPoll:
    """What one look at a live feed found (see ``gearshift.frames.live``).

    Attributes:
        frames_ms: the frame times that arrived since the previous look, in render
            order, in milliseconds; empty when none did.
        label: what the feed follows now, in the player's words.
        pid: the game's process id when the feed knows it.
        more: True when more input is probably waiting (a read stopped at its limit),
            so the feed should be looked at again soon.
    """

    frames_ms: FrameTimes
    label: str
    pid: int | None = None
    more: bool = False


class FrameSource(Protocol):
    """Something that produces frame times as the game runs."""

    label: str
    """What the source is, as shown to the player (file name, "Demo (simulated)")."""

    def batches(self) -> AsyncIterator[FrameTimes]:
        """Frame times (ms) in render order, a batch per tick, until cancelled."""
        ...

    def status(self) -> SourceStatus:
        """What the source is doing now; cheap enough to ask ten times a second."""
        ...


class ReplaySource:
    """Plays a recorded capture back at the speed it was recorded, looping.

    A sampled log (one row per log interval, as MangoHud writes with a log interval)
    is played as the frames each row summarises: a 100 ms row whose mean frame time
    is 4 ms becomes 25 frames of 4 ms, so the live graph's time axis and the rolling
    window cover real time.

    Args:
        label: shown to the player.
        frame_times_ms: the capture's frame times, one per row.
        row_durations_ms: how long each row lasted in real time; None for per-frame
            captures, where a row lasts its own frame time.
        loop: start again from the first frame after the last.
    """

    def __init__(
        self,
        label: str,
        frame_times_ms: object,
        row_durations_ms: object | None = None,
        *,
        loop: bool = True,
        tick_s: float = DEFAULT_TICK_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.label = label
        frames = as_frame_times(frame_times_ms)
        if row_durations_ms is not None:
            durations = as_frame_times(row_durations_ms)
            if durations.shape != frames.shape:
                raise ValueError("a replay needs one duration per frame time")
            frames_per_row = np.maximum(1, np.rint(durations / frames)).astype(np.int64)
            frames = np.repeat(frames, frames_per_row)
        if frames.size == 0:
            raise ValueError("a replay needs at least one frame")
        self._frames = frames
        self._ends_ms = np.cumsum(frames)
        self._loop = loop
        self._tick_s = tick_s
        self._clock = clock
        self._sleep = sleep

    def status(self) -> SourceStatus:
        """Always live: a replay has frames from its first tick."""
        return SourceStatus("live", self.label, kind="replay")

    async def batches(self) -> AsyncIterator[FrameTimes]:
        """Yield the rows whose time has come since the previous tick."""
        total_ms = float(self._ends_ms[-1])
        started_s = self._clock()
        played_ms = 0.0  # replay time of the rows handed over so far
        next_row = 0
        while True:
            await self._sleep(self._tick_s)
            now_ms = (self._clock() - started_s) * 1000.0
            if now_ms - played_ms > MAX_CATCH_UP_S * 1000.0:
                skipped_ms = now_ms - played_ms - self._tick_s * 1000.0
                started_s += skipped_ms / 1000.0  # pretend the stall never happened
                now_ms -= skipped_ms

            lap, offset_ms = divmod(now_ms, total_ms)
            if lap >= 1 and not self._loop:
                yield self._frames[next_row:]
                return
            first_row = next_row
            next_row = int(np.searchsorted(self._ends_ms, offset_ms, side="right"))
            if next_row < first_row:  # wrapped into the next lap
                yield np.concatenate((self._frames[first_row:], self._frames[:next_row]))
            else:
                yield self._frames[first_row:next_row]
            played_ms = now_ms


class DemoSource:
    """A simulated game around 144 FPS with occasional hitches, clearly labelled.

    Args:
        seed: for the random generator, so a demo can be repeated exactly.
        base_fps: the frame rate the simulated game hovers around.
    """

    label = "Demo (simulated)"

    def __init__(
        self,
        seed: int | None = None,
        base_fps: float = 144.0,
        *,
        tick_s: float = DEFAULT_TICK_S,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._random = np.random.default_rng(seed)
        self._base_ms = 1000.0 / base_fps
        self._tick_s = tick_s
        self._sleep = sleep
        self._owed_ms = 0.0

    def status(self) -> SourceStatus:
        """Always live, and labelled as simulated."""
        return SourceStatus("live", self.label, kind="demo")

    def next_frames(self, span_ms: float) -> FrameTimes:
        """Frames that would fill ``span_ms`` of play, carrying the remainder over."""
        frames: list[float] = []
        self._owed_ms += span_ms
        while self._owed_ms > 0:
            frame_ms = self._random.gamma(16.0, self._base_ms / 16.0)
            if self._random.random() < 0.004:
                frame_ms *= self._random.uniform(3.0, 6.0)  # a hitch
            frames.append(frame_ms)
            self._owed_ms -= frame_ms
        return as_frame_times(frames)

    async def batches(self) -> AsyncIterator[FrameTimes]:
        """A batch of simulated frames per tick."""
        while True:
            await self._sleep(self._tick_s)
            yield self.next_frames(self._tick_s * 1000.0)


class NoSource:
    """Stands in when no frame source was chosen: yields nothing, says so in its label."""

    label = "none (start with --replay FILE or --demo)"

    def status(self) -> SourceStatus:
        """Never live."""
        return SourceStatus("none", self.label)

    async def batches(self) -> AsyncIterator[FrameTimes]:
        """Never yields; waits until cancelled."""
        await asyncio.Event().wait()
        yield np.empty(0)  # never reached: makes this an async generator
