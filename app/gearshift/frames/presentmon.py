"""PresentMon captures: one row per present, every traced process in one file.

Layouts taken, told apart by their columns:

- 1.x: ``MsBetweenPresents``, ``Runtime``, ``TimeInSeconds``.
- 2.x, default metrics: ``MsBetweenPresents``, ``PresentRuntime``, ``FrameType``.
- 2.x, newer metric set: ``FrameTime`` instead of ``MsBetweenPresents``.
- 2.x with ``--v1_metrics``: the 1.x layout with lower-case ``ms`` names
  (``msBetweenPresents``); names are matched without regard to case anyway.

The frame time is the time between two presents of the process. Rows of several
processes are interleaved and not in time order; they are split by the
``Application`` column and kept in file order within each process. A process that
presents to several swap chains (dwm.exe often does) gets one series holding all of
them, because the ``Application`` column is what players pick a game by.

OCAT writes the same columns plus system-information ones, so its reader reuses
:func:`read_present_table`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from gearshift.core.errors import EmptyCaptureError, MissingColumnError
from gearshift.frames.capture import Capture, ProcessFrames, format_label, make_process_frames
from gearshift.frames.table import csv_rows, find_column, first_row, number_column

logger = logging.getLogger(__name__)

FORMAT = "presentmon"

FRAME_TIME_COLUMNS = ("MsBetweenPresents", "FrameTime")
"""Where a PresentMon-style capture keeps the frame time, most preferred first."""

APPLICATION_COLUMN = "Application"

SYSTEM_INFO_COLUMNS = ("Motherboard", "Processor", "System RAM", "Base Driver Version")
"""Columns OCAT adds to PresentMon's; plain PresentMon never writes them."""

UNNAMED_PROCESS = "(unnamed)"
"""The name given to rows whose ``Application`` cell is empty."""

VersionGuess = Callable[[Sequence[str], str], str]
"""Guesses a tool version from the header cells and the frame-time column's name."""


def header_of(first_lines: Sequence[str]) -> list[str]:
    """The header cells: the first non-blank line of the file, parsed as CSV."""
    for line in first_lines:
        if line.strip():
            return first_row(line)
    return []


def is_present_header(header: Sequence[str]) -> bool:
    """True for a PresentMon-style header: ``Application`` first, then ``ProcessID``."""
    return (
        len(header) > 1
        and header[0].casefold() == APPLICATION_COLUMN.casefold()
        and find_column(header, "ProcessID") is not None
    )


def has_system_info(header: Sequence[str]) -> bool:
    """True when the header carries OCAT's system-information columns."""
    return find_column(header, *SYSTEM_INFO_COLUMNS) is not None


def sniff(first_lines: Sequence[str]) -> bool:
    """True when the file starts like a PresentMon capture (and not like OCAT's)."""
    header = header_of(first_lines)
    return is_present_header(header) and not has_system_info(header)


def guess_version(header: Sequence[str], frame_time_column: str) -> str:
    """The PresentMon version the layout points to: "1.x", "2.x", "2.x-v2metrics" or
    "2.x-v1metrics"."""
    if frame_time_column.casefold() == "frametime":
        return "2.x-v2metrics"
    if frame_time_column.startswith("ms"):
        return "2.x-v1metrics"
    if find_column(header, "PresentRuntime", "FrameType") is not None:
        return "2.x"
    return "1.x"


def parse(path: str, lines: Sequence[str]) -> Capture:
    """Read a PresentMon capture from its lines.

    Raises:
        MissingColumnError: no ``MsBetweenPresents`` or ``FrameTime`` column.
        EmptyCaptureError: a header and no frame row.
    """
    return read_present_table(path, csv_rows(lines), FORMAT, guess_version)


def read_present_table(
    path: str, rows: Sequence[Sequence[str]], format_name: str, version_guess: VersionGuess
) -> Capture:
    """Read a PresentMon-style table: a header row, then one row per present.

    Args:
        path: the file, for messages.
        rows: every CSV row, the header first; rows may be shorter than the header.
        format_name: the format to record, e.g. "presentmon" or "ocat".
        version_guess: turns the header into a version guess.

    Raises:
        MissingColumnError: no frame-time column.
        EmptyCaptureError: a header and no frame row.
    """
    header, body = rows[0], rows[1:]
    frame_column = find_column(header, *FRAME_TIME_COLUMNS)
    if frame_column is None:
        expected = " or ".join(FRAME_TIME_COLUMNS)
        raise MissingColumnError(
            path, f"{format_label(format_name)} capture has no frame-time column ({expected})"
        )
    if not body:
        raise EmptyCaptureError(path, "the capture has a header but no frame rows")

    app_column = find_column(header, APPLICATION_COLUMN)
    processes = _split_by_process(body, app_column, frame_column)
    logger.debug("%s: %d rows, %d processes", path, len(body), len(processes))
    return Capture(
        path=path,
        format=format_name,
        version=version_guess(header, header[frame_column]),
        sampled=False,
        processes=processes,
    )


def _split_by_process(
    body: Sequence[Sequence[str]], app_column: int | None, frame_column: int
) -> tuple[ProcessFrames, ...]:
    groups: dict[str, list[Sequence[str]]] = {}
    for row in body:
        name = row[app_column] if app_column is not None and app_column < len(row) else ""
        groups.setdefault(name or UNNAMED_PROCESS, []).append(row)
    return tuple(
        make_process_frames(name, number_column(rows, frame_column))
        for name, rows in groups.items()
    )
