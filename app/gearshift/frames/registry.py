"""Read any capture Gearshift knows, choosing the reader from the file's content.

Each reader module offers ``sniff(first_lines) -> bool``, a cheap look at the first
lines, and ``parse(path, lines) -> Capture``. The first reader whose sniff says yes
parses the file; the file name and extension are never consulted, because players
rename captures and tools disagree on extensions. A reader of formats that run to
millions of rows may also offer ``parse_stream(path, binary_file) -> Capture | None``,
which reads a plain UTF-8 file column-wise, a chunk at a time, without holding it whole
or splitting it into lines, and answers None to hand the file back to ``parse``.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gearshift.core.errors import MalformedCaptureError, UnknownFormatError
from gearshift.frames import afterburner, capframex, mangohud, ocat, presentmon
from gearshift.frames.capture import (
    Capture,
    check_capture_file,
    decode_capture,
    format_label,
    read_capture_bytes,
)

logger = logging.getLogger(__name__)

SNIFF_LINES = 12
"""How many lines a reader gets to recognise its format."""


@dataclass(frozen=True)
class CaptureReader:
    """One format's reader.

    Attributes:
        format: the format's short name, as ``Capture.format`` records it.
        sniff: True when the first lines look like this format.
        parse: reads the whole file from its path (for messages) and lines.
    """

    format: str
    sniff: Callable[[Sequence[str]], bool]
    parse: Callable[[str, Sequence[str]], Capture]
    parse_stream: Callable[[str, io.BufferedIOBase], Capture | None] | None = None


READERS: tuple[CaptureReader, ...] = (
    CaptureReader(mangohud.FORMAT, mangohud.sniff, mangohud.parse),
    CaptureReader(presentmon.FORMAT, presentmon.sniff, presentmon.parse, presentmon.parse_stream),
    CaptureReader(ocat.FORMAT, ocat.sniff, ocat.parse),
    CaptureReader(capframex.FORMAT, capframex.sniff, capframex.parse, capframex.parse_stream),
    CaptureReader(afterburner.FORMAT, afterburner.sniff, afterburner.parse),
)
"""Every reader, tried in this order. No two sniffs say yes to the same first lines:
PresentMon and OCAT need a header that starts with ``Application``, MangoHud its
``os,cpu,gpu`` line, CapFrameX ``//Key=Value`` lines or a JSON object, Afterburner
typed records with time stamps."""


def known_formats() -> str:
    """The formats Gearshift reads, as people write them, e.g. "MangoHud, PresentMon"."""
    labels = dict.fromkeys(format_label(reader.format) for reader in READERS)
    return ", ".join(labels)


def reader_for(path: str, lines: Sequence[str]) -> CaptureReader:
    """The reader whose format the first lines show.

    Raises:
        UnknownFormatError: no reader recognises the content.
    """
    head = [line for line in lines[: SNIFF_LINES * 2] if line.strip()][:SNIFF_LINES]
    for reader in READERS:
        if reader.sniff(head):
            return reader
    raise UnknownFormatError(
        path, f"not a frame-time capture Gearshift knows (it reads {known_formats()} captures)"
    )


def _without_cut_off_last_line(path: str, lines: list[str]) -> list[str]:
    """Drop a last line that stops mid-row, as a tool killed while writing leaves it.

    A file may end without a newline and still be whole; only a last line with fewer
    fields than the line before it counts as cut off. A JSON document is left whole: it
    says itself whether it was cut off, and its lines are no rows.
    """
    if len(lines) < 2 or lines[-1].count(",") >= lines[-2].count(","):
        return lines
    if next((line for line in lines if line.strip()), "").lstrip().startswith(("{", "[")):
        return lines
    logger.info("%s: ignored its last line, which stops part-way through a row", path)
    return lines[:-1]


PLAIN_HEAD_BYTES = 1 << 16
"""How much of a file is decoded to choose its reader before the column-wise path."""


def _read_plain(name: str) -> Capture | None:
    """The capture read column-wise, when its reader can and the file is plain UTF-8;
    else None. A cut-off last line makes the file not plain (too few fields)."""
    with open(name, "rb") as stream:
        head = stream.read(PLAIN_HEAD_BYTES)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\0" in head:
            return None  # UTF-16, or binary: the careful path says which
        lines = head.decode("utf-8-sig", errors="replace").splitlines()
        try:
            reader = reader_for(name, lines[:-1] if len(lines) > 1 else lines)
        except UnknownFormatError:
            return None  # the careful path says so, after its own checks
        if reader.parse_stream is None:
            return None
        stream.seek(0)
        return reader.parse_stream(name, stream)


def read_capture(path: str | Path) -> Capture:
    """Read a capture file, whatever tool wrote it.

    Raises:
        CaptureError: the file cannot be read; the subclass says why (unknown format,
            missing frame-time column, no frames), and the message names the file.
    """
    name = str(path)
    check_capture_file(name)
    try:
        capture = _read_plain(name)
    except (OSError, csv.Error):  # a stray CR in the header, say
        capture = None  # the careful path reports it
    if capture is not None:
        return capture
    text = decode_capture(name, read_capture_bytes(name))
    lines = text.splitlines()
    if not text.endswith(("\n", "\r")):
        lines = _without_cut_off_last_line(name, lines)
    try:
        reader = reader_for(name, lines)
    except csv.Error as error:  # a line longer than any capture's, say
        raise MalformedCaptureError(name, f"malformed CSV: {error}") from None
    try:
        capture = reader.parse(name, lines)
    except csv.Error as error:
        raise MalformedCaptureError(name, f"malformed CSV: {error}") from None
    logger.debug(
        "%s: %s %s, %d processes", name, capture.format, capture.version, len(capture.processes)
    )
    return capture
