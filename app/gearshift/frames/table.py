"""The CSV handling every capture reader shares: rows, columns by name, numeric cells.

Capture tools disagree on the case of column names (``MsBetweenPresents`` and
``msBetweenPresents``), on how a missing reading is written (``NA``, ``N/A``, empty)
and on whether every row has every field, so all of that is settled here once.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence

import numpy as np

from gearshift.core.metrics import FrameTimes


def csv_rows(lines: Iterable[str]) -> list[list[str]]:
    """Parse lines as CSV: quoted cells unquoted, cells stripped, blank lines skipped.

    No capture tool writes a cell that spans lines, so one that does means a quote
    was opened and never closed; reading on would swallow the rest of the file.

    Raises:
        csv.Error: a quote is never closed, or a cell is absurdly long.
    """
    reader = csv.reader(lines)
    rows = []
    lines_read = 0
    for row in reader:
        if reader.line_num - lines_read > 1:
            raise csv.Error(f"a quote opened on line {lines_read + 1} is never closed")
        lines_read = reader.line_num
        cells = [cell.strip() for cell in row]
        if any(cells):
            rows.append(cells)
    return rows


def first_row(line: str) -> list[str]:
    """One line parsed as a CSV row, cells stripped."""
    return next(iter(csv_rows([line])), [])


def find_column(header: Sequence[str], *names: str) -> int | None:
    """The index of the first of ``names`` found in ``header``, ignoring case.

    Args:
        header: the header row's cells.
        names: the names to look for, most preferred first.

    Returns:
        The column index, or None when none of the names is there.
    """
    folded = [cell.strip().casefold() for cell in header]
    for name in names:
        if name.casefold() in folded:
            return folded.index(name.casefold())
    return None


def to_number(cell: str) -> float:
    """A cell as a float; NaN for a missing reading (``NA``, empty) or any other text."""
    try:
        return float(cell)
    except ValueError:
        return math.nan


def is_number(cell: str) -> bool:
    """True when the cell reads as a finite number."""
    return math.isfinite(to_number(cell))


def number_column(rows: Sequence[Sequence[str]], index: int) -> FrameTimes:
    """One column as float64; NaN where a cell is missing, not a number, or the row
    is too short to reach the column (OCAT's ragged rows)."""
    values = [to_number(row[index]) if index < len(row) else math.nan for row in rows]
    return np.array(values, dtype=np.float64)


def finite_median(values: FrameTimes, fallback: float) -> float:
    """The median of the finite values, or ``fallback`` when there is none."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else fallback
