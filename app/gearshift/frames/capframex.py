"""CapFrameX captures: its CSV export and its own JSON sessions.

CapFrameX records with PresentMon and saves in two layouts, told apart by content:

- CSV: a block of ``//Key=Value`` lines (game, process, date, CPU, GPU, driver,
  comment, ...) and then PresentMon's table, header first. The block becomes the
  capture's metadata, as written (older CapFrameX swapped ``GameName`` and
  ``ProcessName``, so the process is taken from the table's ``Application`` column, as
  for PresentMon). The table is read as PresentMon's, column-wise when it is plain.
- JSON: ``{"Hash": ..., "Info": {...}, "Runs": [...]}``. ``Info`` holds what the CSV
  block holds (its scalar fields become the metadata); each run holds ``CaptureData``,
  parallel arrays of one value per frame (``TimeInSeconds``, ``MsBetweenPresents``,
  ``MsBetweenDisplayChange``, ``Dropped`` as booleans or 0/1, ...), plus sensor data
  that is not read here. Any value may be null, and so may a whole array.

A session with several runs (CapFrameX's "aggregated" records) gives one series per
run, named ``<process> run 1``, ``<process> run 2``, ...; the process is ``Info``'s
``ProcessName``, else its ``GameName``. An array whose length differs from
``MsBetweenPresents`` no longer lines up with the frames, so it is left out (the
displayed view or the suspect check is then missing for that run) rather than paired
with the wrong frames.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

from gearshift.core.errors import EmptyCaptureError, MalformedCaptureError, MissingColumnError
from gearshift.core.metrics import FrameTimes
from gearshift.frames.capture import Capture, ProcessFrames, make_process_frames
from gearshift.frames.presentmon import read_present_stream, read_present_table
from gearshift.frames.table import csv_rows, to_number

logger = logging.getLogger(__name__)

FORMAT = "capframex"

COMMENT_MARKER = "//"
"""How a line of the CSV's information block starts."""

JSON_KEYS = ('"Runs"', '"Info"', '"CaptureData"')
"""Keys of which at least one shows in the first lines of a CapFrameX session."""

FRAME_TIME_ARRAY = "MsBetweenPresents"
DISPLAYED_ARRAY = "MsBetweenDisplayChange"
DROPPED_ARRAY = "Dropped"
TIME_ARRAY = "TimeInSeconds"

MAX_COMMENT_BYTES = 1 << 16
"""The longest ``//Key=Value`` line read column-wise; a longer one goes row by row."""

SNIFF_LINES = 12
"""How many of its first lines ``parse`` looks at to tell JSON from CSV."""

UNNAMED_PROCESS = "(unnamed)"
"""The name given to runs when the session names no process or game."""


def _first_content(first_lines: Sequence[str]) -> str:
    return next((line.strip() for line in first_lines if line.strip()), "")


def _is_json(first_lines: Sequence[str]) -> bool:
    return _first_content(first_lines).startswith("{") and any(
        key in line for line in first_lines for key in JSON_KEYS
    )


def _is_comment(line: str) -> bool:
    text = line.strip()
    return text.startswith(COMMENT_MARKER) and "=" in text


def sniff(first_lines: Sequence[str]) -> bool:
    """True when the file starts with CapFrameX's ``//Key=Value`` block or is its JSON."""
    return _is_comment(_first_content(first_lines)) or _is_json(first_lines)


def parse(path: str, lines: Sequence[str]) -> Capture:
    """Read a CapFrameX capture, CSV or JSON, from its lines.

    Raises:
        MalformedCaptureError: JSON that does not parse (cut off, say) or is not shaped
            like a CapFrameX session.
        MissingColumnError: no frame-time column or array.
        EmptyCaptureError: no frame table after the information block, or no run.
    """
    if _is_json(lines[:SNIFF_LINES]):
        return _parse_json(path, "\n".join(lines))
    return _parse_csv(path, lines)


# --- CSV -------------------------------------------------------------------------------


def _csv_version(header: Sequence[str], frame_time_column: str) -> str:
    return "csv"


def _add_comment(metadata: dict[str, str], text: str) -> None:
    """Record one ``//Key=Value`` line; the value is all after the first ``=``."""
    key, _, value = text[len(COMMENT_MARKER) :].partition("=")
    if key.strip() and value.strip():
        metadata[key.strip()] = value.strip()


def _parse_csv(path: str, lines: Sequence[str]) -> Capture:
    metadata: dict[str, str] = {}
    table_start = len(lines)
    for index, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        if not text.startswith(COMMENT_MARKER):
            table_start = index
            break
        _add_comment(metadata, text)

    rows = csv_rows(lines[table_start:])
    if not rows:
        raise EmptyCaptureError(path, "CapFrameX capture has its information block but no frames")
    capture = read_present_table(path, rows, FORMAT, _csv_version)
    return dataclasses.replace(capture, metadata=MappingProxyType(metadata))


def parse_stream(path: str, stream: io.BufferedIOBase) -> Capture | None:
    """Read a plain CapFrameX CSV column-wise from a binary file at its start, as
    PresentMon's are read; None for JSON, text that is not UTF-8, or a table that is not
    plain, which :func:`parse` then reads.

    Raises:
        MissingColumnError: no frame-time column.
        EmptyCaptureError: a header and no frame row.
    """
    metadata: dict[str, str] = {}
    while True:
        table_start = stream.tell()
        line = stream.readline(MAX_COMMENT_BYTES)
        if not line.endswith(b"\n"):
            return None  # the file ends in its block, or a line is absurdly long
        try:
            text = line.decode("utf-8-sig" if table_start == 0 else "utf-8").strip()
        except UnicodeDecodeError:
            return None
        if text and not text.startswith(COMMENT_MARKER):
            break
        if text:
            _add_comment(metadata, text)

    if text.startswith("{"):
        return None
    stream.seek(table_start)
    capture = read_present_stream(path, stream, FORMAT, _csv_version)
    if capture is None:
        return None
    return dataclasses.replace(capture, metadata=MappingProxyType(metadata))


# --- JSON ------------------------------------------------------------------------------


def _load_session(path: str, text: str) -> dict[str, object]:
    try:
        # Not strict: a raw control character inside a text value (a comment, say)
        # spoils nothing the frame times depend on.
        session = json.loads(text, strict=False)
    except json.JSONDecodeError as error:
        cut = " (the file looks cut off)" if error.pos >= len(text.rstrip()) else ""
        raise MalformedCaptureError(
            path, f"CapFrameX session is not valid JSON: {error.msg} at line {error.lineno}{cut}"
        ) from None
    except RecursionError:
        raise MalformedCaptureError(path, "CapFrameX session nests too deep to read") from None
    if not isinstance(session, dict):
        raise MalformedCaptureError(path, "CapFrameX session is not a JSON object")
    return session


def _parse_json(path: str, text: str) -> Capture:
    session = _load_session(path, text)
    info = session.get("Info")
    info = info if isinstance(info, dict) else {}
    runs = session.get("Runs")
    if not isinstance(runs, list):
        raise MalformedCaptureError(path, "CapFrameX session has no 'Runs' list")
    capture_data = [_capture_data(run) for run in runs]
    if not capture_data:
        raise EmptyCaptureError(path, "CapFrameX session holds no run")
    if not any(_has_frame_times(data) for data in capture_data):
        raise MissingColumnError(
            path, f"CapFrameX session has no frame-time array ({FRAME_TIME_ARRAY}) in any run"
        )

    process = _process_name(info)
    processes = tuple(
        _run_frames(path, _run_name(process, data, index, len(runs)), data)
        for index, data in enumerate(capture_data)
        if _has_frame_times(data)
    )
    logger.debug("%s: CapFrameX session, %d runs", path, len(processes))
    return Capture(
        path=path,
        format=FORMAT,
        version=_json_version(info),
        sampled=False,
        processes=processes,
        metadata=_info_metadata(info),
    )


def _capture_data(run: object) -> dict[str, object]:
    data = run.get("CaptureData") if isinstance(run, dict) else None
    return data if isinstance(data, dict) else {}


def _has_frame_times(data: Mapping[str, object]) -> bool:
    return isinstance(data.get(FRAME_TIME_ARRAY), list)


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _process_name(info: Mapping[str, object]) -> str:
    return _text(info.get("ProcessName")) or _text(info.get("GameName")) or UNNAMED_PROCESS


def _run_name(process: str, data: Mapping[str, object], index: int, runs: int) -> str:
    name = _text(data.get("ProcessName")) or process
    return f"{name} run {index + 1}" if runs > 1 else name


def _json_version(info: Mapping[str, object]) -> str:
    return _text(info.get("AppVersion")) or "json"


def _info_metadata(info: Mapping[str, object]) -> Mapping[str, str]:
    """``Info``'s scalar fields as text; nulls, empty text and nested values left out."""
    metadata: dict[str, str] = {}
    for key, value in info.items():
        if isinstance(value, bool):
            metadata[key] = "true" if value else "false"
        elif isinstance(value, int | float | str) and str(value).strip():
            metadata[key] = str(value).strip()
    return MappingProxyType(metadata)


def _numbers(values: object) -> FrameTimes | None:
    """A JSON array as float64: null and anything not a number become NaN, booleans 1/0.

    Returns None when the value is not an array at all (missing, null, an object).
    """
    if not isinstance(values, list):
        return None
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return np.array([_number(value) for value in values], dtype=np.float64)


def _number(value: object) -> float:
    if isinstance(value, bool | int | float):
        try:
            return float(value)
        except OverflowError:
            return float("nan")
    if isinstance(value, str):
        return to_number(value)
    return float("nan")


def _aligned(path: str, data: Mapping[str, object], key: str, frames: int) -> FrameTimes | None:
    values = _numbers(data.get(key))
    if values is None or values.ndim != 1:
        return None
    if values.size != frames:
        logger.info(
            "%s: left out %s, which has %d values for %d frames", path, key, values.size, frames
        )
        return None
    return values


def _run_frames(path: str, name: str, data: Mapping[str, object]) -> ProcessFrames:
    frame_times = _numbers(data.get(FRAME_TIME_ARRAY))
    if frame_times is None or frame_times.ndim != 1:
        frame_times = np.empty(0)
    frames = frame_times.size
    return make_process_frames(
        name,
        frame_times,
        displayed_ms=_aligned(path, data, DISPLAYED_ARRAY, frames),
        dropped=_aligned(path, data, DROPPED_ARRAY, frames),
        time_s=_aligned(path, data, TIME_ARRAY, frames),
    )
