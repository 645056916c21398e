"""What a capture reader hands back: the frame times of each process in one capture file.

A capture is read once into frozen values. Each process's frame times are a read-only
float64 array in milliseconds, with the rows that held no usable frame time (not a
number, ``NA``, zero or negative) already dropped and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from gearshift.core.errors import (
    CaptureError,
    EmptyCaptureError,
    ProcessNotFoundError,
    UnknownFormatError,
)
from gearshift.core.metrics import FrameTimes

logger = logging.getLogger(__name__)

FORMAT_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "mangohud": "MangoHud",
        "presentmon": "PresentMon",
        "ocat": "OCAT",
        "capframex": "CapFrameX",
        "afterburner": "MSI Afterburner",
    }
)
"""Each format's short name, as ``Capture.format`` holds it, and as people write it."""


def format_label(format_name: str) -> str:
    """A format's name as people write it, e.g. "PresentMon" for "presentmon"."""
    return FORMAT_NAMES.get(format_name, format_name)


PRESENTED = "presented"
DISPLAYED = "displayed"
VIEWS = (PRESENTED, DISPLAYED)
"""The two frame-time views: when the game presented each frame (``MsBetweenPresents``
or ``FrameTime``), and when each frame reached the screen (``MsBetweenDisplayChange``,
frames that were dropped and never shown left out)."""

SUSPECT_GAP_MS = 1000.0
"""A frame time this long is checked against the capture's own time stamps."""

COMPOSITOR = "dwm.exe"
"""The Windows compositor: it presents every frame, so it is never the default choice."""


@dataclass(frozen=True, eq=False)
class ProcessFrames:
    """The frame times of one process (or one of its swap chains) in a capture.

    Equality is identity: the arrays inside do not compare as one truth value.

    Attributes:
        name: the process as the capture names it, e.g. "csgo.exe"; a swap chain is
            named by its address, e.g. "0x000001D6C8F7A2B0".
        frame_times_ms: one presented frame time per kept row, in milliseconds;
            read-only.
        row_durations_ms: how long each kept row lasted in real time, in milliseconds;
            the frame time itself for per-frame captures, the gap between log
            timestamps for sampled logs. Same length as ``frame_times_ms``.
        duration_s: the capture's length from its own clock, in seconds, where a
            sampled log has one; None means "sum the frame times".
        dropped_invalid: rows dropped because their frame time was missing, not
            finite, zero or negative.
        displayed_ms: the displayed view, where the capture has it: one time between
            display changes per frame that was shown (dropped frames and invalid
            values left out); None when the capture does not record it.
        suspect: indices into ``frame_times_ms`` of frames of a second or more that
            the capture's own time stamps do not show: the clock between the two rows
            moved far less than the frame time says. Used unless excluded.
        suspect_checked: whether the capture has the time stamps that check for
            suspect frames; without them ``suspect`` is empty because nothing was
            checked, not because nothing was found.
        swap_chains: the same process split by swap chain, when it presented to more
            than one; empty otherwise.
    """

    name: str
    frame_times_ms: FrameTimes
    row_durations_ms: FrameTimes
    duration_s: float | None = None
    dropped_invalid: int = 0
    displayed_ms: FrameTimes | None = None
    suspect: npt.NDArray[np.intp] = field(default_factory=lambda: _NO_INDICES)
    suspect_checked: bool = False
    swap_chains: tuple[ProcessFrames, ...] = ()

    @property
    def frame_count(self) -> int:
        """How many frame times were kept."""
        return int(self.frame_times_ms.size)

    def view(self, view: str = PRESENTED, exclude_suspect: bool = False) -> FrameTimes:
        """The frame times to analyse.

        Args:
            view: ``"presented"`` or ``"displayed"``.
            exclude_suspect: leave out the suspect frames (presented view only: the
                displayed view is already per frame shown).

        Raises:
            ValueError: an unknown view, or the displayed view of a capture that does
                not record it.
        """
        if view == DISPLAYED:
            if self.displayed_ms is None:
                raise ValueError("this capture has no displayed frame times")
            return self.displayed_ms
        if view != PRESENTED:
            raise ValueError(f"unknown view '{view}'; use one of {', '.join(VIEWS)}")
        if exclude_suspect and self.suspect.size:
            kept = np.delete(self.frame_times_ms, self.suspect)
            kept.setflags(write=False)
            return kept
        return self.frame_times_ms


@dataclass(frozen=True)
class Capture:
    """One capture file, read.

    Attributes:
        path: the file it was read from.
        format: the tool that wrote it, one of the keys of ``FORMAT_NAMES``.
        version: the tool's version as guessed from the layout, e.g. "0.8", "1.x",
            "2.x", "2.x-v2metrics"; a guess, shown to people, never branched on.
        sampled: True when each row summarises a log interval rather than one frame.
        processes: every process in the file, in order of first appearance.
        metadata: what the tool wrote about the run besides frame times (game, GPU,
            driver, comment, ...), as written; empty when it wrote nothing. Read-only.
    """

    path: str
    format: str
    version: str
    sampled: bool
    processes: tuple[ProcessFrames, ...]
    metadata: Mapping[str, str] = field(default_factory=lambda: _NO_METADATA, hash=False)

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


_NO_METADATA: Mapping[str, str] = MappingProxyType({})

_NO_INDICES: npt.NDArray[np.intp] = np.empty(0, dtype=np.intp)
_NO_INDICES.setflags(write=False)


def _read_only(values: Sequence[float] | FrameTimes) -> FrameTimes:
    array = np.array(values, dtype=np.float64).reshape(-1)
    array.setflags(write=False)
    return array


def make_process_frames(
    name: str,
    frame_times_ms: Sequence[float] | FrameTimes,
    row_durations_ms: Sequence[float] | FrameTimes | None = None,
    duration_s: float | None = None,
    *,
    displayed_ms: Sequence[float] | FrameTimes | None = None,
    dropped: Sequence[float] | FrameTimes | None = None,
    time_s: Sequence[float] | FrameTimes | None = None,
    swap_chains: tuple[ProcessFrames, ...] = (),
) -> ProcessFrames:
    """Build a process's frames, dropping rows whose frame time is not usable.

    Args:
        name: the process name.
        frame_times_ms: one presented frame time per row in milliseconds; NaN marks a
            missing cell.
        row_durations_ms: how long each row lasted, in milliseconds; None for a
            per-frame capture, where each row lasts its frame time.
        duration_s: the capture's length from its own clock, or None.
        displayed_ms: per row, the time between display changes (``MsBetweenDisplayChange``),
            or None when the capture lacks the column.
        dropped: per row, 1 where the frame was dropped (never shown), 0 where it was
            shown; None when unknown (every frame with a display time counts as shown).
        time_s: per row, the capture's own time stamp in seconds (``TimeInSeconds``),
            used to flag suspect frames; None when the capture has none.
        swap_chains: the process split by swap chain (see ``ProcessFrames``).

    Returns:
        The frames, with invalid rows dropped from every array and counted.

    Raises:
        ValueError: the arrays differ in length.
    """
    times = np.asarray(frame_times_ms, dtype=np.float64).reshape(-1)
    durations = times if row_durations_ms is None else np.asarray(row_durations_ms, np.float64)
    _same_length(name, times, durations, "row durations")
    keep = np.isfinite(times) & (times > 0.0)
    dropped_count = int(times.size - np.count_nonzero(keep))
    if dropped_count:
        logger.debug("%s: dropped %d invalid frame times", name, dropped_count)

    return ProcessFrames(
        name=name,
        frame_times_ms=_read_only(times[keep]),
        row_durations_ms=_read_only(durations[keep]),
        duration_s=duration_s,
        dropped_invalid=dropped_count,
        displayed_ms=_displayed(name, times, displayed_ms, dropped),
        suspect=_suspect(name, times, time_s, keep),
        suspect_checked=time_s is not None,
        swap_chains=swap_chains,
    )


def _same_length(name: str, times: FrameTimes, other: FrameTimes, what: str) -> None:
    if other.shape != times.shape:
        raise ValueError(f"{name}: {other.size} {what} for {times.size} frame times")


def _displayed(
    name: str,
    times: FrameTimes,
    displayed_ms: Sequence[float] | FrameTimes | None,
    dropped: Sequence[float] | FrameTimes | None,
) -> FrameTimes | None:
    if displayed_ms is None:
        return None
    shown = np.asarray(displayed_ms, dtype=np.float64).reshape(-1)
    _same_length(name, times, shown, "display times")
    keep = np.isfinite(shown) & (shown > 0.0)
    if dropped is not None:
        flags = np.asarray(dropped, dtype=np.float64).reshape(-1)
        _same_length(name, times, flags, "dropped flags")
        keep &= ~(flags > 0)  # NaN (unknown) counts as shown
    return _read_only(shown[keep])


def _suspect(
    name: str,
    times: FrameTimes,
    time_s: Sequence[float] | FrameTimes | None,
    keep: npt.NDArray[np.bool_],
) -> npt.NDArray[np.intp]:
    """Kept frames of a second or more that the time stamps do not show.

    The time stamp of a row is when its present happened, so the stamp gap to the
    process's previous row is the frame time the clock saw. A frame time over
    ``SUSPECT_GAP_MS`` whose stamp gap is under half of it did not happen as written.
    """
    if time_s is None:
        return _NO_INDICES
    stamps = np.asarray(time_s, dtype=np.float64).reshape(-1)
    _same_length(name, times, stamps, "time stamps")
    gaps_ms = np.full(times.shape, np.nan)
    with np.errstate(invalid="ignore", over="ignore"):  # absurd stamps: not finite, not used
        gaps_ms[1:] = np.diff(stamps) * 1000.0
        long_frames = keep & (times >= SUSPECT_GAP_MS)
        unseen = np.isfinite(gaps_ms) & (gaps_ms < times / 2.0)
    rows = np.flatnonzero(long_frames & unseen)
    if rows.size == 0:
        return _NO_INDICES
    kept_index = np.cumsum(keep) - 1  # a row's position among the kept frames
    indices = kept_index[rows].astype(np.intp)
    indices.setflags(write=False)
    return indices


MAX_CAPTURE_BYTES = 3 << 29
"""The largest capture file read: 1.5 GiB. An hour at 1,000 FPS is about 0.4 GB in
PresentMon 1.x's columns and 1 GB in 2.x's; a file past the limit is more than one
sitting, and reading it whole would take several times its size in memory."""


def _refuse_oversized(path: str | Path, size_bytes: int) -> None:
    if size_bytes > MAX_CAPTURE_BYTES:
        raise CaptureError(
            path,
            f"the file is {size_bytes / 1e9:.1f} GB, over the "
            f"{MAX_CAPTURE_BYTES / 2**30:g} GiB a capture may be; "
            "record a shorter capture or split this one",
        )


def _has_content(text: str) -> bool:
    return any(not c.isspace() for c in text)


def read_capture_text(path: str | Path) -> str:
    """A capture file's text, byte-order mark stripped, line ends as written.

    UTF-8 is expected; UTF-16 with a byte-order mark (what Windows PowerShell's ``>``
    writes) is read too, and text that is not valid UTF-8 is read as Windows-1252 /
    Latin-1, which older Windows tools write process names in.

    A file over ``MAX_CAPTURE_BYTES`` is refused from its size alone, before a byte of
    it is read.

    Raises:
        CaptureError: the file cannot be opened, is not a regular file (a pipe or a
            device could block or never end), or is over ``MAX_CAPTURE_BYTES``; the
            message carries the reason.
        UnknownFormatError: the file is binary (a NUL byte outside UTF-16 text).
        EmptyCaptureError: the file is empty or blank.
    """
    return decode_capture(path, read_capture_bytes(path))


def read_capture_bytes(path: str | Path) -> bytes:
    """A capture file's bytes, as :func:`read_capture_text` reads them.

    Raises:
        CaptureError: as for :func:`read_capture_text`, but for the content checks.
    """
    try:
        check_capture_file(path)
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise CaptureError(path, f"cannot read the file: {reason}") from None
    logger.debug("read %d bytes from %s", len(data), path)
    return data


def check_capture_file(path: str | Path) -> None:
    """Refuse, before reading it, a path that is no regular file or is too large.

    Raises:
        CaptureError: it is a folder, pipe or device, is over ``MAX_CAPTURE_BYTES``,
            or cannot be looked at; the message says which.
    """
    try:
        if not Path(path).is_file() and Path(path).exists():
            raise CaptureError(path, "not a regular file; give the path of a capture file")
        _refuse_oversized(path, Path(path).stat().st_size)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise CaptureError(path, f"cannot read the file: {reason}") from None


def decode_capture(path: str | Path, data: bytes) -> str:
    """A capture's bytes as text (see :func:`read_capture_text`).

    Raises:
        UnknownFormatError: the bytes are binary (a NUL byte outside UTF-16 text).
        EmptyCaptureError: there are none, or only blanks.
    """
    text = _decode(path, data)
    if not _has_content(text):
        raise EmptyCaptureError(path, "the file is empty")
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
