"""MangoHud logs, every layout from 0.4 to the current one.

Layout: a system-information header (``os,cpu,gpu,...``), its values, then the frame
rows, one per log interval, or one per frame when logging ran with a zero interval.
Some builds wrap the system information in banner lines (``v1``, the MangoHud version,
dashed ``SYSTEM INFO`` and ``FRAME METRICS`` lines); they are skipped, and the version
line, when present, is the version guess. The layouts differ in what follows:

- 0.4: no data header at all; four fields a row: fps, CPU load, GPU load, and
  ``elapsed`` in microseconds.
- 0.5: a data header (``fps,cpu_load,...,elapsed``) but no frame-time column;
  ``elapsed`` still in microseconds.
- 0.6: a ``frametime`` column in integer microseconds; ``elapsed`` in nanoseconds.
- 0.7 and later: ``frametime`` in float milliseconds; columns are added over time and
  are found by name.

Units, as MangoHud writes them:

- ``frametime``: the unit is decided from the content: ``fps x frametime`` is about
  1,000 for milliseconds and about 1,000,000 for microseconds. Without a usable ``fps``
  column, integer values of 100 or more are taken as microseconds.
- Without a ``frametime`` column (0.4, 0.5) the frame time is ``1000 / fps``: per row
  of a sampled log, the mean frame time over the interval, which is what the frame
  rate over the interval means.
- ``elapsed``: time since logging started, stamped at the end of each row; nanoseconds
  in the layouts with a ``frametime`` column, microseconds in those without.

A log is sampled (one row per interval) when the typical gap between ``elapsed`` stamps
is more than twice the typical frame time. Each row then lasts the gap to the row
before it; the first row, which has none, lasts the typical gap, and so does a row
whose gap is not positive (a stamp cut off mid-write, a clock that restarted). The
duration is the sum of the rows' durations: for a clean log, ``last elapsed - first
elapsed + one typical gap``, since N rows cover N intervals.

MangoHud writes the system-information values unquoted, so a value that holds a comma
(a GPU named ``AMD Radeon RX 580 (POLARIS10, DRM 3.40.0, LLVM 11.0.1)``) splits into
more fields than the header names. The rows are found by their line, never by counting
fields, so that cannot shift the data; the system information becomes the capture's
metadata only when its fields pair up with the header one to one, since which value
held the comma cannot be told.

MangoHud does not write the game's name into the log, only into the file name
(``<game>_<YYYY-MM-DD_HH-MM-SS>.csv``), so the process is named after the file with the
date stamp removed. The format itself is never detected from the name.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from gearshift.core.errors import EmptyCaptureError, MissingColumnError
from gearshift.core.metrics import FrameTimes
from gearshift.frames.capture import Capture, ProcessFrames, make_process_frames
from gearshift.frames.table import csv_rows, find_column, finite_median, number_column

logger = logging.getLogger(__name__)

FORMAT = "mangohud"

SYSTEM_INFO_PREFIX = "os,cpu,gpu"
FRAME_TIME_COLUMN = "frametime"
FPS_COLUMN = "fps"
ELAPSED_COLUMN = "elapsed"

V04_COLUMNS = ("fps", "cpu_load", "gpu_load", "elapsed")
"""What the four fields of a 0.4 row are, in order; 0.4 writes no header to say so."""

NS_PER_MS = 1_000_000.0
US_PER_MS = 1_000.0
MS_PER_US = 0.001
MS_PER_S = 1_000.0

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
    """A log split into its parts.

    Attributes:
        banner_version: the version line of the banner, e.g. "0.7", if there is one.
        system_info: the system-information header and values, as written.
        header: the data header's cells; for 0.4, which has none, ``V04_COLUMNS``.
        body: the data rows.
        has_header: False for the 0.4 layout.
    """

    banner_version: str | None
    system_info: Mapping[str, str]
    header: Sequence[str]
    body: list[list[str]]
    has_header: bool


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


def _system_info(header_line: str, values_line: str) -> Mapping[str, str]:
    """The system information as metadata, when its fields pair up one to one.

    MangoHud quotes nothing, so the line is split on every comma.
    """
    names = [name.strip() for name in header_line.split(",")]
    values = [value.strip() for value in values_line.split(",")]
    if len(values) != len(names):
        logger.debug("system information has %d values for %d names", len(values), len(names))
        return MappingProxyType({})
    return MappingProxyType({n: v for n, v in zip(names, values, strict=True) if n and v})


def _is_numeric_text(cell: str) -> bool:
    """True for a cell a data row could hold: any number, ``nan`` and ``inf`` included."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _split(path: str, lines: Sequence[str]) -> _Log:
    """Find the data header after the system information, or know it is the 0.4 layout."""
    content = _content(lines)
    if len(content) < 3:
        raise EmptyCaptureError(path, "MangoHud log has no data rows after the system information")

    # Only the data lines are parsed as CSV: a stray quote in a GPU name is no data.
    rows = csv_rows(content[2:])
    if not rows:
        raise EmptyCaptureError(path, "MangoHud log has no data rows after the system information")
    system_info = _system_info(content[0], content[1])
    banner = _banner_version(lines)

    candidate = rows[0]
    if not all(_is_numeric_text(cell) for cell in candidate if cell):
        return _Log(banner, system_info, candidate, rows[1:], has_header=True)
    if len(candidate) != len(V04_COLUMNS):
        raise MissingColumnError(
            path,
            "MangoHud log has no data header (fps,frametime,...) after the system "
            f"information, and its {len(candidate)} fields a row are not the 0.4 layout's 4",
        )
    return _Log(banner, system_info, V04_COLUMNS, rows, has_header=False)


def _frametime_in_us(raw: FrameTimes, fps: FrameTimes | None) -> bool:
    """Whether the raw frame times are microseconds (0.6) rather than milliseconds."""
    if fps is not None:
        with np.errstate(invalid="ignore", over="ignore"):
            product = raw * fps
            typical = finite_median(np.where(product > 0, product, np.nan), math.nan)
        if math.isfinite(typical):
            return typical > FPS_TIMES_FRAMETIME_SPLIT

    finite = raw[np.isfinite(raw)]
    integral = bool(np.all(finite == np.round(finite)))
    return integral and finite_median(finite, 0.0) >= MIN_MICROSECONDS


def _guess_version(log: _Log, has_frametime: bool, in_us: bool) -> str:
    if log.banner_version is not None:
        return log.banner_version
    if not log.has_header:
        return "0.4"
    if not has_frametime:
        return "0.5"
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

    with np.errstate(invalid="ignore", over="ignore"):
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
    return _Timing(True, row_durations_ms, float(row_durations_ms.sum()) / MS_PER_S)


def process_name(path: str) -> str:
    """The game's name as MangoHud puts it in the file name, without the date stamp."""
    return _DATE_STAMP.sub("", Path(path).stem) or Path(path).stem


def parse(path: str, lines: Sequence[str]) -> Capture:
    """Read a MangoHud log from its lines.

    Raises:
        MissingColumnError: neither a ``frametime`` nor an ``fps`` column, or rows
            with no header that are not the 0.4 layout.
        EmptyCaptureError: the preamble and header but no data row.
    """
    log = _split(path, lines)
    has_frametime = find_column(log.header, FRAME_TIME_COLUMN) is not None
    if not has_frametime and find_column(log.header, FPS_COLUMN) is None:
        raise MissingColumnError(
            path,
            f"MangoHud log has neither a '{FRAME_TIME_COLUMN}' nor an '{FPS_COLUMN}' column "
            "to take frame times from",
        )
    if not log.body:
        raise EmptyCaptureError(path, "the capture has a header but no frame rows")

    frames, in_us, timing = _read_frames(log, process_name(path))
    logger.debug("%s: %d rows, sampled=%s", path, len(log.body), timing.sampled)
    return Capture(
        path=path,
        format=FORMAT,
        version=_guess_version(log, has_frametime, in_us),
        sampled=timing.sampled,
        processes=(frames,),
        metadata=log.system_info,
    )


def _optional_column(log: _Log, name: str) -> FrameTimes | None:
    index = find_column(log.header, name)
    return None if index is None else number_column(log.body, index)


def _frame_times_ms(log: _Log) -> tuple[FrameTimes, bool]:
    """Each row's frame time in milliseconds, and whether it was written in microseconds."""
    fps = _optional_column(log, FPS_COLUMN)
    raw = _optional_column(log, FRAME_TIME_COLUMN)
    if raw is not None:
        in_us = _frametime_in_us(raw, fps)
        return (raw * MS_PER_US if in_us else raw), in_us

    assert fps is not None  # parse() refused a log with neither column
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return MS_PER_S / fps, False  # an fps of 0 gives inf, dropped as invalid


def _read_frames(log: _Log, name: str) -> tuple[ProcessFrames, bool, _Timing]:
    frame_times_ms, in_us = _frame_times_ms(log)

    elapsed = _optional_column(log, ELAPSED_COLUMN)
    has_frametime = find_column(log.header, FRAME_TIME_COLUMN) is not None
    elapsed_ms = None if elapsed is None else elapsed / (NS_PER_MS if has_frametime else US_PER_MS)
    timing = _timing(frame_times_ms, elapsed_ms)

    frames = make_process_frames(name, frame_times_ms, timing.row_durations_ms, timing.duration_s)
    return frames, in_us, timing
