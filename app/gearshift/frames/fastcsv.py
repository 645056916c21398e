"""A few columns of a large, plain CSV file, read with numpy instead of line by line.

PresentMon writes a row per frame: an hour at 300 FPS is a million rows and more than
100 MB. Splitting that into Python strings costs seconds and a gigabyte of memory, while
the metrics need three or four columns of it. This module finds the commas and line
ends of the raw bytes with numpy, in chunks of whole lines (on several threads, since
numpy lets go of the interpreter lock while it scans), and turns only the wanted cells
into numbers or short names.

It takes plain files only: every row has the header's number of fields and no cell is
quoted. For anything else it answers None, and the reader falls back to the csv module,
which handles every quirk at its own pace (OCAT's ragged rows, quoted cells).

Numbers are read the way ``float()`` reads them, to within one unit in the last place:
a plain decimal (``-12.345``) is computed from its digits; anything else (``NA``,
``1e-3``, ``inf``) goes through ``float()`` one cell at a time, and text that is no
number becomes NaN, like a missing reading.
"""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gearshift.core.metrics import FrameTimes

CHUNK_BYTES = 4 << 20
"""The bytes one task scans at a time: large enough to amortise numpy's call overhead,
small enough that its comma positions stay a few megabytes."""

NUMBER_WIDTH = 24
"""Cells longer than this are read by ``float()`` (no capture tool writes such a number)."""

NAME_WIDTH = 64
"""Text cells longer than this make the file not plain (an executable's name is shorter)."""

MAX_NAMES = 256
"""More distinct names than this in one chunk: not a capture; let the csv module read it."""

_COMMA, _NEWLINE, _CR, _QUOTE = ord(","), ord("\n"), ord("\r"), ord('"')
_DOT, _MINUS, _ZERO = ord("."), ord("-"), ord("0")
_POWERS = 10.0 ** np.arange(NUMBER_WIDTH + 1)

Bytes = npt.NDArray[np.uint8]
Positions = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Columns:
    """The wanted columns of every row, in file order.

    Attributes:
        numbers: column name -> one float64 per row (NaN where the cell is no number).
        names: column name -> one code per row into ``labels[column]``.
        labels: column name -> the distinct texts of that column, in order of first
            appearance.
        rows: how many rows were read.
    """

    numbers: Mapping[str, FrameTimes]
    names: Mapping[str, npt.NDArray[np.int32]]
    labels: Mapping[str, tuple[str, ...]]
    rows: int


def read_columns(
    stream: io.BufferedIOBase,
    numbers: Mapping[str, int],
    names: Mapping[str, int],
    field_count: int,
) -> Columns | None:
    """Read the wanted columns of the rows from the stream's position to its end.

    The file is read a chunk at a time and never held whole: a few chunks are in
    flight on the worker threads, and what stays is the wanted columns.

    Args:
        stream: a binary file positioned after the header line.
        numbers: numeric columns to read, name -> field index.
        names: text columns to read (process names, swap chains), name -> field index.
        field_count: how many fields every row has (the header's).

    Returns:
        The columns, or None when the file is not plain (a quote, a NUL byte, a row
        with another number of fields, a long text cell, text that is not UTF-8, too
        many distinct names): the caller then reads it with the csv module.
    """
    if field_count < 2:
        return None
    workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    parts: list[_Part] = []
    with ThreadPoolExecutor(workers, thread_name_prefix="gearshift-csv") as pool:
        pending: deque[Future[_Part | None]] = deque()
        for chunk, size in _chunks(stream):
            pending.append(pool.submit(_read_chunk, chunk, size, numbers, names, field_count))
            # Bound the chunks held at once.
            if len(pending) > 2 * workers and not _collect(pending.popleft(), parts):
                _cancel(pending)
                return None
        while pending:
            if not _collect(pending.popleft(), parts):
                _cancel(pending)
                return None
    return _join(parts, numbers, names)


MAX_WORKERS = 4
"""Threads that scan chunks; past a few, memory bandwidth, not the CPU, is the limit."""


def _collect(future: Future[_Part | None], parts: list[_Part]) -> bool:
    part = future.result()
    if part is None:
        return False
    parts.append(part)
    return True


def _cancel(pending: deque[Future[_Part | None]]) -> None:
    for future in pending:
        future.cancel()


def _chunks(stream: io.BufferedIOBase) -> Iterator[tuple[Bytes, int]]:
    """Runs of whole lines about CHUNK_BYTES long, each in a buffer of its own with
    room after it (see :func:`_words`), and how many bytes of it are lines."""
    carry = b""
    while True:
        # Whole 8-byte words, so that the buffer can be read as words (_words).
        buffer = np.zeros((len(carry) + CHUNK_BYTES + _SLACK) // 8 * 8, dtype=np.uint8)
        buffer[: len(carry)] = np.frombuffer(carry, dtype=np.uint8)
        read = stream.readinto(buffer.data[len(carry) : len(carry) + CHUNK_BYTES])
        filled = len(carry) + (read or 0)
        if filled == 0:
            return
        if not read:  # the end of the file: the last line, with or without a newline
            yield buffer, filled
            return
        last_newline = int(np.flatnonzero(buffer[:filled] == _NEWLINE)[-1:].sum(initial=-1))
        if last_newline < 0:  # a line longer than a chunk: not a capture's row
            carry = buffer[:filled].tobytes()
            continue
        carry = buffer[last_newline + 1 : filled].tobytes()
        yield buffer, last_newline + 1


_SLACK = 64
"""Bytes after a chunk's lines that reading 8-byte words past a cell may touch."""


@dataclass(frozen=True)
class _Part:
    numbers: dict[str, FrameTimes]
    codes: dict[str, npt.NDArray[np.int32]]
    labels: dict[str, list[str]]
    rows: int


def _read_chunk(
    chunk: Bytes, size: int, numbers: Mapping[str, int], names: Mapping[str, int], field_count: int
) -> _Part | None:
    lines = chunk[:size]
    if np.any(lines == _QUOTE) or np.any(lines == 0):
        return None
    line_ends = np.flatnonzero(chunk[:size] == _NEWLINE)
    if size and chunk[size - 1] != _NEWLINE:  # the last line of a file without a newline
        line_ends = np.append(line_ends, size)
    line_starts, line_ends = _lines(chunk, line_ends)
    rows = line_ends.size
    commas = np.flatnonzero(chunk[:size] == _COMMA)
    if commas.size != rows * (field_count - 1):
        return None
    grid = commas.reshape(rows, field_count - 1)
    if rows and not (
        np.all(grid[:, 0] >= line_starts) and np.all(grid[:, -1] < line_ends)
    ):  # some line holds another number of commas, balanced by a neighbour
        return None
    # A CR before the newline belongs to no cell.
    line_ends = line_ends - (chunk[np.maximum(line_ends - 1, 0)] == _CR)

    def cell(index: int) -> tuple[Positions, Positions]:
        starts = line_starts if index == 0 else grid[:, index - 1] + 1
        ends = line_ends if index == field_count - 1 else grid[:, index]
        return starts, ends

    parsed = {name: parse_numbers(chunk, *cell(index)) for name, index in numbers.items()}
    codes: dict[str, npt.NDArray[np.int32]] = {}
    labels: dict[str, list[str]] = {}
    for name, index in names.items():
        coded = _code_names(chunk, *cell(index))
        if coded is None:
            return None
        codes[name], labels[name] = coded
    return _Part(parsed, codes, labels, rows)


def _lines(chunk: Bytes, line_ends: Positions) -> tuple[Positions, Positions]:
    """Where each line starts and ends, without the empty ones (nothing, or a lone CR,
    between two newlines), which the csv reader skips too."""
    starts = np.empty_like(line_ends)
    if line_ends.size:
        starts[0] = 0
        starts[1:] = line_ends[:-1] + 1
    lengths = line_ends - starts
    keep = (lengths > 1) | ((lengths == 1) & (chunk[starts] != _CR))
    return starts[keep], line_ends[keep]


def _words(chunk: Bytes, positions: Positions) -> npt.NDArray[np.uint64]:
    """The 8 bytes from each position as one little-endian number (the first byte is
    the lowest), from the two aligned words around it: two reads, not eight."""
    aligned = chunk.view("<u8")  # little-endian whatever the machine
    word = positions >> 3
    shift = ((positions & 7) * 8).astype(np.uint64)
    low = aligned[word] >> shift
    high = (aligned[word + 1] << (np.uint64(56) - shift)) << np.uint64(8)
    joined: npt.NDArray[np.uint64] = low | high
    return joined


def _byte(words: list[npt.NDArray[np.uint64]], offset: int) -> npt.NDArray[np.uint64]:
    """The byte at ``offset`` within cells whose words were read with :func:`_words`."""
    return (words[offset >> 3] >> np.uint64(8 * (offset & 7))) & np.uint64(0xFF)


def parse_numbers(chunk: Bytes, starts: Positions, ends: Positions) -> FrameTimes:
    """The cells as float64: plain decimals from their digits, the rest by ``float()``.

    A plain decimal is read left to right, one character position for all rows at a
    time: the digits make one integer (exact up to 15 digits), which is then divided
    by ten to the power of the digits after the dot.
    """
    lengths = ends - starts
    rows = lengths.size
    width = min(int(lengths.max()), NUMBER_WIDTH) if rows else 0
    words = [_words(chunk, starts + 8 * k) for k in range((width + 7) // 8)]
    negative = (lengths > 1) & (chunk[starts] == _MINUS)
    mantissa = np.zeros(rows)
    digit_count = np.zeros(rows, dtype=np.int16)
    after_dot = np.zeros(rows, dtype=np.int16)
    dots = np.zeros(rows, dtype=np.int16)
    other = (lengths == 0) | (lengths > NUMBER_WIDTH)
    for offset in range(width):
        inside = offset < lengths
        if offset == 0:
            inside &= ~negative
        byte = _byte(words, offset)
        digit = byte - np.uint64(_ZERO)  # wraps below '0', so one comparison tells
        is_digit = inside & (digit <= 9)
        is_dot = inside & (byte == _DOT)
        other |= inside & ~is_digit & ~is_dot
        mantissa = np.where(is_digit, mantissa * 10.0 + digit, mantissa)
        digit_count += is_digit
        after_dot += is_digit & (dots > 0)
        dots += is_dot
    values = mantissa / _POWERS[np.minimum(after_dot, NUMBER_WIDTH)]
    values = np.where(negative, -values, values)
    not_plain = other | (dots > 1) | (digit_count == 0) | (digit_count > 15)
    for row in np.flatnonzero(not_plain):
        values[row] = _float_or_nan(chunk[starts[row] : ends[row]].tobytes())
    return values


def _float_or_nan(cell: bytes) -> float:
    try:
        return float(cell)
    except ValueError:
        return float("nan")


def _code_names(
    chunk: Bytes, starts: Positions, ends: Positions
) -> tuple[npt.NDArray[np.int32], list[str]] | None:
    """Number the distinct texts of a column in order of first appearance.

    Rows are told apart by a key of their length, first eight and last eight bytes;
    for texts longer than sixteen bytes the bytes in between are then compared too, so
    two names that share both ends are never taken for one.
    """
    rows = starts.size
    codes = np.full(rows, -1, dtype=np.int32)
    if rows == 0:
        return codes, []
    lengths = ends - starts
    if int(lengths.max()) > NAME_WIDTH:
        return None
    keys = [lengths.astype(np.uint64), _first_eight(chunk, starts, lengths)]
    if int(lengths.max()) > 8:
        tails = np.maximum(ends - 8, starts)
        keys.append(_first_eight(chunk, tails, ends - tails))
    labels: list[str] = []
    unassigned = np.ones(rows, dtype=bool)
    while True:
        first = int(np.argmax(unassigned))
        if not unassigned[first]:
            return codes, labels
        if len(labels) == MAX_NAMES:
            return None
        same = unassigned.copy()
        for key in keys:  # one flat comparison per key: no copies of the rows
            same &= key == key[first]
        group = np.flatnonzero(same)
        for offset in range(8, int(lengths[first]) - 8):
            differs = chunk[starts[group] + offset] != chunk[starts[first] + offset]
            group = group[~differs]
        codes[group] = len(labels)
        unassigned[group] = False
        try:
            text = chunk[starts[first] : ends[first]].tobytes().decode("utf-8")
        except UnicodeDecodeError:
            return None  # Windows-1252, say: the csv path decodes it
        labels.append(text.strip())  # the csv reader strips cells too


def _first_eight(chunk: Bytes, starts: Positions, lengths: Positions) -> npt.NDArray[np.uint64]:
    """Up to eight bytes of each cell as one number; bytes past the cell's end are 0."""
    keep = np.minimum(lengths, 8).astype(np.uint64) * np.uint64(8)
    mask = np.where(keep == 64, ~np.uint64(0), (np.uint64(1) << (keep & np.uint64(63))) - 1)
    return _words(chunk, starts) & mask


def _join(parts: Sequence[_Part], numbers: Mapping[str, int], names: Mapping[str, int]) -> Columns:
    """Put the chunks back together, renumbering each chunk's names into one list."""
    joined_numbers = {
        name: np.concatenate([p.numbers[name] for p in parts]) if parts else np.empty(0)
        for name in numbers
    }
    joined_codes: dict[str, npt.NDArray[np.int32]] = {}
    joined_labels: dict[str, tuple[str, ...]] = {}
    for name in names:
        labels: list[str] = []
        recoded = []
        for part in parts:
            mapping = np.array(
                [_index_of(labels, label) for label in part.labels[name]], dtype=np.int32
            )
            recoded.append(mapping[part.codes[name]] if mapping.size else part.codes[name])
        joined_codes[name] = np.concatenate(recoded) if recoded else np.empty(0, np.int32)
        joined_labels[name] = tuple(labels)
    return Columns(joined_numbers, joined_codes, joined_labels, sum(p.rows for p in parts))


def _index_of(labels: list[str], label: str) -> int:
    if label not in labels:
        labels.append(label)
    return labels.index(label)
