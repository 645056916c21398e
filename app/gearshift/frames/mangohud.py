"""MangoHud logs, 0.6 and later.

Layout: a system-information header (``os,cpu,gpu,...``), its values, then the data
header (``fps,frametime,...,elapsed``) and one row per log interval, or one per frame
when logging ran with a zero interval. Some builds wrap the system information in
banner lines (``v1``, the MangoHud version, dashed ``SYSTEM INFO`` and ``FRAME METRICS``
lines); they are skipped, and the version line, when present, is the version guess.

Units, as MangoHud writes them:

- ``frametime``: milliseconds (float) from 0.7, integer microseconds in 0.6. The unit is
  decided from the content: ``fps x frametime`` is about 1,000 for milliseconds and
  about 1,000,000 for microseconds. Without a usable ``fps`` column, integer values of
  100 or more are taken as microseconds.
- ``elapsed``: nanoseconds since logging started, stamped at the end of each row.

A log is sampled (one row per interval) when the typical gap between ``elapsed`` stamps
is more than twice the typical frame time. Each row then lasts the gap to the row
before it; the first row, which has none, lasts the typical gap, and so does a row
whose gap is not positive (a stamp cut off mid-write, a clock that restarted). The
duration is the sum of the rows' durations: for a clean log, ``last elapsed - first
elapsed + one typical gap``, since N rows cover N intervals.

MangoHud does not write the game's name into the log, only into the file name
(``<game>_<YYYY-MM-DD_HH-MM-SS>.csv``), so the process is named after the file with the
date stamp removed. The format itself is never detected from the name.

The 0.4 layout (no data header; fps, CPU load, GPU load and elapsed only) has no
frame-time column, so it is refused with a message that says so; reading its fps
column would need a reader for sampled frame rates, which does not exist yet.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gearshift.core.errors import EmptyCaptureError, MissingColumnError
from gearshift.core.metrics import FrameTimes
from gearshift.frames.capture import Capture, ProcessFrames, make_process_frames
from gearshift.frames.table import (
    csv_rows,
    find_column,
    finite_median,
    is_number,
    number_column,
)

logger = logging.getLogger(__name__)

FORMAT = "mangohud"

SYSTEM_INFO_PREFIX = "os,cpu,gpu"
FRAME_TIME_COLUMN = "frametime"

NS_PER_MS = 1_000_000.0
MS_PER_US = 0.001

FPS_TIMES_FRAMETIME_SPLIT = math.sqrt(1_000.0 * 1_000_000.0)
"""fps x frametime above this means microseconds, below it milliseconds."""

MIN_MICROSECONDS = 100.0
"""Without an fps column, integer frame times this large are taken as microseconds."""

SAMPLED_GAP_RATIO = 2.0
"""A log is sampled when its typical elapsed gap exceeds this many typical frame times."""

_VERSION_LINE = re.compile(r"v?(\d+)\.(\d+)[\w.+-]*")
_LOG_FORMAT_LINE = re.compile(r"v\d+")
_DATE_STAMP = re.compile(r"_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class _Log:
    """A log split into its parts: the banner's version, the data header and rows."""

    banner_version: str | None
    header: list[str]
    body: list[list[str]]


def _is_banner(line: str) -> bool:
    text = line.strip()
    if not text or "," in text:
        return False
    return (
        text.startswith("-")
        or _LOG_FORMAT_LINE.fullmatch(text) is not None
        or _VERSION_LINE.fullmatch(text) is not None
    )


def _content(lines: Sequence[str]) -> list[str]:
    return [line for line in lines if line.strip() and not _is_banner(line)]


def sniff(first_lines: Sequence[str]) -> bool:
    """True when the file starts with MangoHud's system-information header."""
    content = _content(first_lines)
    return bool(content) and content[0].strip().casefold().startswith(SYSTEM_INFO_PREFIX)


def _banner_version(lines: Sequence[str]) -> str | None:
    for line in lines:
        match = _VERSION_LINE.fullmatch(line.strip()) if _is_banner(line) else None
        if match:
            return f"{match.group(1)}.{match.group(2)}"
    return None


def _split(path: str, lines: Sequence[str]) -> _Log:
    """Find the data header after the system information, or say why there is none."""
    rows = csv_rows(_content(lines))
    if len(rows) < 3:
        raise EmptyCaptureError(path, "MangoHud log has no data rows after the system information")

    candidate = rows[2]
    if all(is_number(cell) for cell in candidate if cell):
        raise MissingColumnError(path, _no_header_reason(candidate))
    return _Log(_banner_version(lines), candidate, rows[3:])


def _no_header_reason(first_data_row: Sequence[str]) -> str:
    if len(first_data_row) == 4:
        return (
            "MangoHud 0.4 layout: no data header and no frame-time column (only fps, "
            "CPU load, GPU load and elapsed); reading this layout is not supported yet"
        )
    return "MangoHud log has no data header (fps,frametime,...) after the system information"


def _frametime_in_us(raw: FrameTimes, fps: FrameTimes | None) -> bool:
    """Whether the raw frame times are microseconds (0.6) rather than milliseconds."""
    if fps is not None:
        product = raw * fps
        typical = finite_median(np.where(product > 0, product, np.nan), math.nan)
        if math.isfinite(typical):
            return typical > FPS_TIMES_FRAMETIME_SPLIT

    finite = raw[np.isfinite(raw)]
    integral = bool(np.all(finite == np.round(finite)))
    return integral and finite_median(finite, 0.0) >= MIN_MICROSECONDS


def _guess_version(log: _Log, in_us: bool) -> str:
    if log.banner_version is not None:
        return log.banner_version
    if in_us:
        return "0.6"
    if find_column(log.header, "process_rss") is not None:
        return "0.8"
    return "0.7"


@dataclass(frozen=True)
class _Timing:
    sampled: bool
    row_durations_ms: FrameTimes | None = None
    duration_s: float | None = None


def _timing(frame_times_ms: FrameTimes, elapsed_ms: FrameTimes | None) -> _Timing:
    """Decide whether rows are log intervals, and if so how long each one lasted."""
    if elapsed_ms is None or elapsed_ms.size < 2:
        return _Timing(sampled=False)

    gaps_ms = np.diff(elapsed_ms)
    typical_gap_ms = finite_median(np.where(gaps_ms > 0, gaps_ms, np.nan), math.nan)
    typical_frame_ms = finite_median(
        np.where(frame_times_ms > 0, frame_times_ms, np.nan), math.nan
    )
    if not typical_gap_ms > SAMPLED_GAP_RATIO * typical_frame_ms:
        return _Timing(sampled=False)

    durations_ms = np.concatenate(([typical_gap_ms], gaps_ms))
    usable = np.isfinite(durations_ms) & (durations_ms > 0)
    row_durations_ms = np.where(usable, durations_ms, typical_gap_ms)
    # Summing the rows, not last minus first stamp: a stamp cut off mid-write or a
    # clock that restarts part-way then costs one interval, not the whole duration.
    return _Timing(True, row_durations_ms, float(row_durations_ms.sum()) / 1000.0)


def process_name(path: str) -> str:
    """The game's name as MangoHud puts it in the file name, without the date stamp."""
    return _DATE_STAMP.sub("", Path(path).stem) or Path(path).stem


def parse(path: str, lines: Sequence[str]) -> Capture:
    """Read a MangoHud log from its lines.

    Raises:
        MissingColumnError: no ``frametime`` column, or the 0.4 layout.
        EmptyCaptureError: the preamble and header but no data row.
    """
    log = _split(path, lines)
    frame_column = find_column(log.header, FRAME_TIME_COLUMN)
    if frame_column is None:
        raise MissingColumnError(path, f"MangoHud log has no '{FRAME_TIME_COLUMN}' column")
    if not log.body:
        raise EmptyCaptureError(path, "the capture has a header but no frame rows")

    frames, in_us, timing = _read_frames(path, log, frame_column)
    logger.debug("%s: %d rows, sampled=%s", path, len(log.body), timing.sampled)
    return Capture(
        path=path,
        format=FORMAT,
        version=_guess_version(log, in_us),
        sampled=timing.sampled,
        processes=(frames,),
    )


def _optional_column(log: _Log, name: str) -> FrameTimes | None:
    index = find_column(log.header, name)
    return None if index is None else number_column(log.body, index)


def _read_frames(path: str, log: _Log, frame_column: int) -> tuple[ProcessFrames, bool, _Timing]:
    raw = number_column(log.body, frame_column)
    in_us = _frametime_in_us(raw, _optional_column(log, "fps"))
    frame_times_ms = raw * MS_PER_US if in_us else raw

    elapsed_ns = _optional_column(log, "elapsed")
    elapsed_ms = None if elapsed_ns is None else elapsed_ns / NS_PER_MS
    timing = _timing(frame_times_ms, elapsed_ms)

    frames = make_process_frames(
        process_name(path), frame_times_ms, timing.row_durations_ms, timing.duration_s
    )
    return frames, in_us, timing
