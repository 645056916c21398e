"""MSI Afterburner hardware-monitoring logs (``.hml``, often saved as ``.csv``).

Every line is a typed record: a two-digit type, a ``dd-mm-yyyy HH:MM:SS`` time stamp,
then the record's fields, comma-separated and space-padded to a fixed width:

- ``00``: the log's header, ``Hardware monitoring log v1.6``; one each time logging
  (re)starts, so a file can hold several sessions, and a session can be empty.
- ``01``: the name of a GPU being monitored.
- ``02``: the names of the monitored readings, one a column (``GPU temperature``,
  ``Framerate``, ``Frametime``, ...). Names repeat when a reading exists twice (two
  GPUs), and a new ``02`` record replaces the names for the rows after it.
- ``03``: one per column: its index, unit, range and display format; not needed here.
- ``80``: one sample: the reading of each named column, ``N/A`` where there is none
  (no 3D application running, a sensor that reads nothing).

Afterburner names no process, so the one series is named after the file. Each ``80``
record is a poll of the readings (once a second by default), not a frame, so the
capture is sampled. Its frame time is the ``Frametime`` column in milliseconds, or,
without one, ``1000 / Framerate``; where a name repeats, the first column of that name
with any reading is used. The file is Windows text with CRLF line ends, its units
(``°C``) in Windows-1252, which the shared text reader handles.

The time stamps have one-second resolution, so the time a row covers is the polling
period, estimated per session as the span of its stamps over its rows less one (1 s
for a session of one row). The capture's duration is the time covered by the rows that
hold a frame time: seconds with ``N/A`` (no game running) do not count. Lines that are
not records (cut off mid-write, say) are skipped and counted in the log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

import numpy as np

from gearshift.core.errors import EmptyCaptureError, MissingColumnError
from gearshift.core.metrics import FrameTimes
from gearshift.frames.capture import Capture, make_process_frames
from gearshift.frames.table import to_number

logger = logging.getLogger(__name__)

FORMAT = "afterburner"

LOG_HEADER = "00"
GPU_NAME = "01"
COLUMN_NAMES = "02"
COLUMN_INFO = "03"
SAMPLE = "80"

FRAME_TIME_NAMES = ("Frametime", "Frame time")
FRAME_RATE_NAMES = ("Framerate", "Frame rate")

DEFAULT_POLL_S = 1.0
"""Afterburner's default polling period, taken for a session of a single row."""

MS_PER_S = 1000.0

_RECORD = re.compile(
    r"\s*(?P<type>\d{2})\s*,\s*"
    r"(?P<day>\d{1,2})[-./](?P<month>\d{1,2})[-./](?P<year>\d{4})\s+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2})\s*,(?P<fields>.*)"
)
_LOG_VERSION = re.compile(r"hardware monitoring log\s+v?(\d+(?:\.\d+)*)", re.IGNORECASE)
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class _Record:
    type: str
    stamp_s: float
    """Seconds since 1970 on the clock of the machine that logged; NaN if impossible."""
    fields: list[str]


@dataclass
class _Session:
    """The rows that share one ``02`` record's column names."""

    names: list[str] | None
    stamps_s: list[float] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def _stamp_s(match: re.Match[str]) -> float:
    try:
        stamp = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
        )
    except ValueError:  # a 31st of February: the stamp is unusable, the row is not
        return float("nan")
    return (stamp - _EPOCH).total_seconds()


def _record(line: str) -> _Record | None:
    match = _RECORD.fullmatch(line)
    if match is None:
        return None
    cells = [cell.strip() for cell in match["fields"].split(",")]
    return _Record(match["type"], _stamp_s(match), cells)


def sniff(first_lines: Sequence[str]) -> bool:
    """True when the file starts with Afterburner's typed, time-stamped records."""
    content = [line for line in first_lines if line.strip()]
    if not content or _record(content[0]) is None:
        return False
    records = [r for r in (_record(line) for line in content) if r is not None]
    return any(r.type == COLUMN_NAMES or _log_version(r) is not None for r in records)


def _log_version(record: _Record) -> str | None:
    """The log format's version a ``00`` record names, e.g. "1.6"."""
    if record.type != LOG_HEADER:
        return None
    match = _LOG_VERSION.search(",".join(record.fields))
    return match.group(1) if match else None


def _records(path: str, lines: Sequence[str]) -> Iterator[_Record]:
    skipped = 0
    for line in lines:
        record = _record(line) if line.strip() else None
        if record is not None:
            yield record
        elif line.strip():
            skipped += 1
    if skipped:
        logger.info("%s: skipped %d lines that are not Afterburner records", path, skipped)


@dataclass
class _Log:
    version: str | None = None
    gpus: list[str] = field(default_factory=list)
    sessions: list[_Session] = field(default_factory=list)


def _read_log(path: str, lines: Sequence[str]) -> _Log:
    log = _Log()
    session: _Session | None = None
    for record in _records(path, lines):
        if record.type == LOG_HEADER:
            log.version = log.version or _log_version(record)
            session = None  # logging restarted: names come again before rows
        elif record.type == GPU_NAME:
            name = ",".join(record.fields).strip()
            if name and name not in log.gpus:
                log.gpus.append(name)
        elif record.type == COLUMN_NAMES:
            session = _Session(names=record.fields)
            log.sessions.append(session)
        elif record.type == SAMPLE:
            if session is None:  # rows with no names: kept, to be counted as unusable
                session = _Session(names=None)
                log.sessions.append(session)
            session.stamps_s.append(record.stamp_s)
            session.rows.append(record.fields)
    return log


def _column(
    names: Sequence[str], rows: Sequence[Sequence[str]], wanted: Sequence[str]
) -> FrameTimes | None:
    """The first column named one of ``wanted`` (ignoring case) that holds a reading."""
    folded = {name.casefold() for name in wanted}
    columns = [i for i, name in enumerate(names) if name.casefold() in folded]
    first: FrameTimes | None = None
    for index in columns:
        values = np.array(
            [to_number(row[index]) if index < len(row) else np.nan for row in rows],
            dtype=np.float64,
        )
        if np.isfinite(values).any():
            return values
        first = values if first is None else first
    return first


def _frame_times_ms(session: _Session) -> FrameTimes | None:
    """A session's frame time per row, or None when it names no frame-time column."""
    if session.names is None:
        return None
    frame_times = _column(session.names, session.rows, FRAME_TIME_NAMES)
    if frame_times is not None:
        return frame_times
    frame_rates = _column(session.names, session.rows, FRAME_RATE_NAMES)
    if frame_rates is None:
        return None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return MS_PER_S / frame_rates  # a frame rate of 0 gives inf, dropped as invalid


def _poll_ms(stamps_s: Sequence[float]) -> float:
    """The polling period of a session, from the span of its one-second stamps."""
    stamps = np.asarray(stamps_s, dtype=np.float64)
    finite = stamps[np.isfinite(stamps)]
    if finite.size < 2 or finite.max() <= finite.min():
        return DEFAULT_POLL_S * MS_PER_S
    return float(finite.max() - finite.min()) / (finite.size - 1) * MS_PER_S


def parse(path: str, lines: Sequence[str]) -> Capture:
    """Read an Afterburner hardware-monitoring log from its lines.

    Raises:
        MissingColumnError: no session logs a ``Frametime`` or ``Framerate`` column.
        EmptyCaptureError: no sample record.
    """
    log = _read_log(path, lines)
    sessions = [s for s in log.sessions if s.rows]
    if not sessions:
        raise EmptyCaptureError(path, "MSI Afterburner log holds no sample (80) records")

    per_session = [_frame_times_ms(session) for session in sessions]
    if all(times is None for times in per_session):
        raise MissingColumnError(
            path,
            "MSI Afterburner log has neither a 'Frametime' nor a 'Framerate' column; "
            "enable one in Afterburner's monitoring settings and log again",
        )

    # A session without the column still had its seconds: its rows count as dropped.
    frame_times = [
        np.full(len(session.rows), np.nan) if times is None else times
        for session, times in zip(sessions, per_session, strict=True)
    ]
    durations = [np.full(len(s.rows), _poll_ms(s.stamps_s)) for s in sessions]
    return _capture(path, log, np.concatenate(frame_times), np.concatenate(durations))


def _capture(
    path: str, log: _Log, frame_times_ms: FrameTimes, durations_ms: FrameTimes
) -> Capture:
    usable = np.isfinite(frame_times_ms) & (frame_times_ms > 0)
    duration_s = float(durations_ms[usable].sum()) / MS_PER_S if usable.any() else None
    frames = make_process_frames(Path(path).stem, frame_times_ms, durations_ms, duration_s)
    logger.debug("%s: %d samples, %d usable", path, frame_times_ms.size, frames.frame_count)
    return Capture(
        path=path,
        format=FORMAT,
        version=f"log v{log.version}" if log.version else "log",
        sampled=True,
        processes=(frames,),
        metadata=_metadata(log),
    )


def _metadata(log: _Log) -> Mapping[str, str]:
    metadata: dict[str, str] = {}
    if log.version:
        metadata["log version"] = log.version
    if len(log.gpus) == 1:
        metadata["GPU"] = log.gpus[0]
    for number, gpu in enumerate(log.gpus if len(log.gpus) > 1 else [], start=1):
        metadata[f"GPU {number}"] = gpu
    return MappingProxyType(metadata)
