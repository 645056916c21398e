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
them, because the ``Application`` column is what players pick a game by; the split by
``SwapChainAddress`` is kept beside it for the per-swap-chain breakdown.

The displayed view is ``MsBetweenDisplayChange`` (``DisplayedTime`` in the newer metric
set), without the frames that were dropped (``Dropped`` is 1, or the display time is
0 or ``NA``). ``TimeInSeconds``, where the layout has it, flags suspect frames: a frame
time of a second or more that the time stamps do not show. Only the frame-time column
is required; the others are used when they are there.

A large file that is plain CSV (no quotes, every row complete) is read column-wise
with numpy (:mod:`gearshift.frames.fastcsv`); anything else row by row.

OCAT writes the same columns plus system-information ones, so its reader reuses
:func:`read_present_table`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gearshift.core.errors import EmptyCaptureError, MissingColumnError
from gearshift.core.metrics import FrameTimes
from gearshift.frames import fastcsv
from gearshift.frames.capture import Capture, ProcessFrames, format_label, make_process_frames
from gearshift.frames.table import csv_rows, find_column, first_row, number_column

logger = logging.getLogger(__name__)

FORMAT = "presentmon"

FRAME_TIME_COLUMNS = ("MsBetweenPresents", "FrameTime")
"""Where a PresentMon-style capture keeps the frame time, most preferred first."""

DISPLAYED_COLUMNS = ("MsBetweenDisplayChange", "DisplayedTime")
"""Where it keeps the time between display changes, most preferred first."""

DROPPED_COLUMN = "Dropped"
TIME_COLUMN = "TimeInSeconds"
SWAP_CHAIN_COLUMN = "SwapChainAddress"

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


def parse_stream(path: str, stream: io.BufferedIOBase) -> Capture | None:
    """Read a plain PresentMon capture column-wise from a binary file at its start;
    None when the file is not plain CSV and must be read row by row with :func:`parse`.

    Raises:
        MissingColumnError: no ``MsBetweenPresents`` or ``FrameTime`` column.
        EmptyCaptureError: a header and no frame row.
    """
    return read_present_stream(path, stream, FORMAT, guess_version)


@dataclass(frozen=True)
class _Layout:
    """Where the columns a capture needs are, by index into the header."""

    frame: int
    application: int | None
    displayed: int | None
    dropped: int | None
    time: int | None
    swap_chain: int | None

    @classmethod
    def of(cls, path: str, header: Sequence[str], format_name: str) -> _Layout:
        frame = find_column(header, *FRAME_TIME_COLUMNS)
        if frame is None:
            expected = " or ".join(FRAME_TIME_COLUMNS)
            raise MissingColumnError(
                path, f"{format_label(format_name)} capture has no frame-time column ({expected})"
            )
        return cls(
            frame=frame,
            application=find_column(header, APPLICATION_COLUMN),
            displayed=find_column(header, *DISPLAYED_COLUMNS),
            dropped=find_column(header, DROPPED_COLUMN),
            time=find_column(header, TIME_COLUMN),
            swap_chain=find_column(header, SWAP_CHAIN_COLUMN),
        )

    def numbers(self) -> dict[str, int]:
        wanted = {"frame": self.frame, "displayed": self.displayed}
        wanted |= {"dropped": self.dropped, "time": self.time}
        return {name: index for name, index in wanted.items() if index is not None}

    def names(self) -> dict[str, int]:
        wanted = {"application": self.application, "swap_chain": self.swap_chain}
        return {name: index for name, index in wanted.items() if index is not None}


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
    layout = _Layout.of(path, header, format_name)
    if not body:
        raise EmptyCaptureError(path, "the capture has a header but no frame rows")
    numbers = {name: number_column(body, index) for name, index in layout.numbers().items()}
    codes, labels = {}, {}
    for name, index in layout.names().items():
        codes[name], labels[name] = _code_cells(body, index)
    columns = fastcsv.Columns(numbers, codes, labels, len(body))
    return _capture(path, header, layout, columns, format_name, version_guess)


def read_present_stream(
    path: str, stream: io.BufferedIOBase, format_name: str, version_guess: VersionGuess
) -> Capture | None:
    """:func:`read_present_table` for a plain file, read column-wise from its start;
    None when it is not plain.

    Raises:
        MissingColumnError: no frame-time column.
        EmptyCaptureError: a header and no frame row.
    """
    header = first_row(stream.readline(HEADER_BYTES).decode("utf-8-sig", "replace"))
    layout = _Layout.of(path, header, format_name)
    columns = fastcsv.read_columns(stream, layout.numbers(), layout.names(), len(header))
    if columns is None:
        return None
    if columns.rows == 0:
        raise EmptyCaptureError(path, "the capture has a header but no frame rows")
    return _capture(path, header, layout, columns, format_name, version_guess)


HEADER_BYTES = 1 << 16
"""The longest header line read column-wise; PresentMon 2.x's is under 1 KB."""


def _code_cells(
    body: Sequence[Sequence[str]], index: int
) -> tuple[npt.NDArray[np.int32], tuple[str, ...]]:
    """One text column as codes into its distinct values ("" where a row is too short)."""
    seen: dict[str, int] = {}
    codes = [seen.setdefault(row[index] if index < len(row) else "", len(seen)) for row in body]
    return np.array(codes, dtype=np.int32), tuple(seen)


def _capture(
    path: str,
    header: Sequence[str],
    layout: _Layout,
    columns: fastcsv.Columns,
    format_name: str,
    version_guess: VersionGuess,
) -> Capture:
    processes = _split_by_process(columns)
    logger.debug("%s: %d rows, %d processes", path, columns.rows, len(processes))
    return Capture(
        path=path,
        format=format_name,
        version=version_guess(header, header[layout.frame]),
        sampled=False,
        processes=processes,
    )


def _split_by_process(columns: fastcsv.Columns) -> tuple[ProcessFrames, ...]:
    """One ProcessFrames per application name, in order of first appearance; rows of
    the same name are kept in file order, whatever their process id."""
    if "application" in columns.names:
        codes, labels = columns.names["application"], columns.labels["application"]
    else:
        codes, labels = np.zeros(columns.rows, dtype=np.int32), ("",)
    processes = []
    for code, label in enumerate(labels):
        rows = np.flatnonzero(codes == code)
        if rows.size:
            name = label or UNNAMED_PROCESS
            processes.append(_frames(name, columns, rows, _swap_chains(columns, rows)))
    return tuple(processes)


def _swap_chains(
    columns: fastcsv.Columns, rows: npt.NDArray[np.intp]
) -> tuple[ProcessFrames, ...]:
    if "swap_chain" not in columns.names:
        return ()
    codes = columns.names["swap_chain"][rows]
    present = np.unique(codes)
    if present.size < 2:
        return ()
    labels = columns.labels["swap_chain"]
    return tuple(
        _frames(labels[code] or UNNAMED_PROCESS, columns, rows[codes == code])
        for code in sorted(present, key=lambda c: int(np.argmax(codes == c)))
    )


def _frames(
    name: str,
    columns: fastcsv.Columns,
    rows: npt.NDArray[np.intp],
    swap_chains: tuple[ProcessFrames, ...] = (),
) -> ProcessFrames:
    def column(key: str) -> FrameTimes | None:
        values = columns.numbers.get(key)
        return None if values is None else values[rows]

    frame_times = column("frame")
    assert frame_times is not None  # the layout requires it
    return make_process_frames(
        name,
        frame_times,
        displayed_ms=column("displayed"),
        dropped=column("dropped"),
        time_s=column("time"),
        swap_chains=swap_chains,
    )
