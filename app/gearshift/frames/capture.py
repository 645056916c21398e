"""What a capture reader hands back: the frame times of each process in one capture file.

A capture is read once into frozen values. Each process's frame times are a read-only
float64 array in milliseconds, with the rows that held no usable frame time (not a
number, ``NA``, zero or negative) already dropped and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from gearshift.core.errors import (
    CaptureError,
    EmptyCaptureError,
    ProcessNotFoundError,
    UnknownFormatError,
)
from gearshift.core.metrics import FrameTimes

logger = logging.getLogger(__name__)

FORMAT_NAMES: Mapping[str, str] = MappingProxyType(
    {"mangohud": "MangoHud", "presentmon": "PresentMon", "ocat": "OCAT"}
)
"""Each format's short name, as ``Capture.format`` holds it, and as people write it."""


def format_label(format_name: str) -> str:
    """A format's name as people write it, e.g. "PresentMon" for "presentmon"."""
    return FORMAT_NAMES.get(format_name, format_name)


COMPOSITOR = "dwm.exe"
"""The Windows compositor: it presents every frame, so it is never the default choice."""


@dataclass(frozen=True, eq=False)
class ProcessFrames:
    """The frame times of one process in a capture.

    Equality is identity: the arrays inside do not compare as one truth value.

    Attributes:
        name: the process as the capture names it, e.g. "csgo.exe".
        frame_times_ms: one frame time per kept row, in milliseconds; read-only.
        row_durations_ms: how long each kept row lasted in real time, in milliseconds;
            the frame time itself for per-frame captures, the gap between log
            timestamps for sampled logs. Same length as ``frame_times_ms``.
        duration_s: the capture's length from its own clock, in seconds, where a
            sampled log has one; None means "sum the frame times".
        dropped_invalid: rows dropped because their frame time was missing, not
            finite, zero or negative.
    """

    name: str
    frame_times_ms: FrameTimes
    row_durations_ms: FrameTimes
    duration_s: float | None = None
    dropped_invalid: int = 0

    @property
    def frame_count(self) -> int:
        """How many frame times were kept."""
        return int(self.frame_times_ms.size)


@dataclass(frozen=True)
class Capture:
    """One capture file, read.

    Attributes:
        path: the file it was read from.
        format: the tool that wrote it: "mangohud", "presentmon" or "ocat".
        version: the tool's version as guessed from the layout, e.g. "0.8", "1.x",
            "2.x", "2.x-v2metrics"; a guess, shown to people, never branched on.
        sampled: True when each row summarises a log interval rather than one frame.
        processes: every process in the file, in order of first appearance.
    """

    path: str
    format: str
    version: str
    sampled: bool
    processes: tuple[ProcessFrames, ...]

    def select(self, process: str | None = None) -> ProcessFrames:
        """The process to analyse.

        Args:
            process: a process name, matched exactly, else without regard to case
                when that leaves one candidate; None picks the
                process with the most frames that is not the compositor (dwm.exe),
                or the compositor when it is all there is.

        Raises:
            ProcessNotFoundError: no process has that name; the message lists them.
            EmptyCaptureError: the chosen process has no usable frame time.
        """
        chosen = self._default() if process is None else self._named(process)
        if chosen.frame_count == 0:
            raise EmptyCaptureError(
                self.path,
                f"process '{chosen.name}' has no usable frame time "
                f"({chosen.dropped_invalid} rows dropped as invalid)",
            )
        return chosen

    def _default(self) -> ProcessFrames:
        if not self.processes:
            raise EmptyCaptureError(self.path, "the capture holds no process")
        games = [p for p in self.processes if p.name.casefold() != COMPOSITOR]
        return max(games or self.processes, key=lambda p: p.frame_count)

    def _named(self, process: str) -> ProcessFrames:
        for candidate in self.processes:
            if candidate.name == process:
                return candidate
        alike = [p for p in self.processes if p.name.casefold() == process.casefold()]
        if len(alike) == 1:
            return alike[0]
        available = ", ".join(p.name for p in self.processes) or "none"
        if alike:
            reason = f"'{process}' matches several processes but for case; give one of"
        else:
            reason = f"no process '{process}' in this capture; it holds:"
        raise ProcessNotFoundError(self.path, f"{reason} {available}")


def _read_only(values: Sequence[float] | FrameTimes) -> FrameTimes:
    array = np.array(values, dtype=np.float64).reshape(-1)
    array.setflags(write=False)
    return array


def make_process_frames(
    name: str,
    frame_times_ms: Sequence[float] | FrameTimes,
    row_durations_ms: Sequence[float] | FrameTimes | None = None,
    duration_s: float | None = None,
) -> ProcessFrames:
    """Build a process's frames, dropping rows whose frame time is not usable.

    Args:
        name: the process name.
        frame_times_ms: one frame time per row in milliseconds; NaN marks a missing cell.
        row_durations_ms: how long each row lasted, in milliseconds; None for a
            per-frame capture, where each row lasts its frame time.
        duration_s: the capture's length from its own clock, or None.

    Returns:
        The frames, with invalid rows dropped from both arrays and counted.

    Raises:
        ValueError: the two arrays differ in length.
    """
    times = np.asarray(frame_times_ms, dtype=np.float64).reshape(-1)
    durations = times if row_durations_ms is None else np.asarray(row_durations_ms, np.float64)
    if durations.shape != times.shape:
        raise ValueError(f"{name}: {durations.size} row durations for {times.size} frame times")
    keep = np.isfinite(times) & (times > 0.0)
    dropped = int(times.size - np.count_nonzero(keep))
    if dropped:
        logger.debug("%s: dropped %d invalid frame times", name, dropped)

    return ProcessFrames(
        name=name,
        frame_times_ms=_read_only(times[keep]),
        row_durations_ms=_read_only(durations[keep]),
        duration_s=duration_s,
        dropped_invalid=dropped,
    )


def _has_content(text: str) -> bool:
    return any(not c.isspace() for c in text)


def read_capture_text(path: str | Path) -> str:
    """A capture file's text, byte-order mark stripped, line ends as written.

    UTF-8 is expected; UTF-16 with a byte-order mark (what Windows PowerShell's ``>``
    writes) is read too, and text that is not valid UTF-8 is read as Windows-1252 /
    Latin-1, which older Windows tools write process names in.

    Raises:
        CaptureError: the file cannot be opened, or is not a regular file (a pipe or
            a device could block or never end); the message carries the reason.
        UnknownFormatError: the file is binary (a NUL byte outside UTF-16 text).
        EmptyCaptureError: the file is empty or blank.
    """
    try:
        if not Path(path).is_file() and Path(path).exists():
            raise CaptureError(path, "not a regular file; give the path of a capture file")
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise CaptureError(path, f"cannot read the file: {reason}") from None

    text = _decode(path, data)
    if not _has_content(text):
        raise EmptyCaptureError(path, "the file is empty")
    logger.debug("read %d bytes from %s", len(data), path)
    return text


def _decode(path: str | Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UnknownFormatError(path, "broken UTF-16 text; save it as UTF-8") from None
    if b"\0" in data:
        raise UnknownFormatError(path, "binary file, not a frame-time capture")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
