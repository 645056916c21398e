"""OCAT captures: PresentMon's columns with system-information columns added.

OCAT writes the system information (motherboard, OS, processor, GPU, clocks and a
comment, several of them quoted) only on the first data row; every later row stops
after the PresentMon columns, so rows are shorter than the header. The frame time is
``MsBetweenPresents``, as in PresentMon 1.x, which every row reaches.
"""

from __future__ import annotations

from collections.abc import Sequence

from gearshift.frames.capture import Capture
from gearshift.frames.presentmon import (
    has_system_info,
    header_of,
    is_present_header,
    read_present_table,
)
from gearshift.frames.table import csv_rows

FORMAT = "ocat"

VERSION = "1.x"
"""OCAT writes no version into the file; its releases are numbered 1.x."""


def sniff(first_lines: Sequence[str]) -> bool:
    """True when the file starts like an OCAT capture."""
    header = header_of(first_lines)
    return is_present_header(header) and has_system_info(header)


def _version(header: Sequence[str], frame_time_column: str) -> str:
    return VERSION


def parse(path: str, lines: Sequence[str]) -> Capture:
    """Read an OCAT capture from its lines.

    Raises:
        MissingColumnError: no ``MsBetweenPresents`` column.
        EmptyCaptureError: a header and no frame row.
    """
    return read_present_table(path, csv_rows(lines), FORMAT, _version)
