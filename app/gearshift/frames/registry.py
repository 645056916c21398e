"""Read any capture Gearshift knows, choosing the reader from the file's content.

Each reader module offers ``sniff(first_lines) -> bool``, a cheap look at the first
lines, and ``parse(path, lines) -> Capture``. The first reader whose sniff says yes
parses the file; the file name and extension are never consulted, because players
rename captures and tools disagree on extensions.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gearshift.core.errors import MalformedCaptureError, UnknownFormatError
from gearshift.frames import mangohud, ocat, presentmon
from gearshift.frames.capture import Capture, format_label, read_capture_text

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


READERS: tuple[CaptureReader, ...] = (
    CaptureReader(mangohud.FORMAT, mangohud.sniff, mangohud.parse),
    CaptureReader(presentmon.FORMAT, presentmon.sniff, presentmon.parse),
    CaptureReader(ocat.FORMAT, ocat.sniff, ocat.parse),
)
"""Every reader, tried in this order."""


def known_formats() -> str:
    """The formats Gearshift reads, as people write them, e.g. "MangoHud, PresentMon"."""
    return ", ".join(format_label(reader.format) for reader in READERS)


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
        path, f"not a frame-time capture Gearshift knows (it reads {known_formats()} CSV logs)"
    )


def _without_cut_off_last_line(path: str, lines: list[str]) -> list[str]:
    """Drop a last line that stops mid-row, as a tool killed while writing leaves it.

    A file may end without a newline and still be whole; only a last line with fewer
    fields than the line before it counts as cut off.
    """
    if len(lines) < 2 or lines[-1].count(",") >= lines[-2].count(","):
        return lines
    logger.info("%s: ignored its last line, which stops part-way through a row", path)
    return lines[:-1]


def read_capture(path: str | Path) -> Capture:
    """Read a capture file, whatever tool wrote it.

    Raises:
        CaptureError: the file cannot be read; the subclass says why (unknown format,
            missing frame-time column, no frames), and the message names the file.
    """
    name = str(path)
    text = read_capture_text(name)
    lines = text.splitlines()
    if not text.endswith(("\n", "\r")):
        lines = _without_cut_off_last_line(name, lines)
    reader = reader_for(name, lines)
    try:
        capture = reader.parse(name, lines)
    except csv.Error as error:
        raise MalformedCaptureError(name, f"malformed CSV: {error}") from None
    logger.debug(
        "%s: %s %s, %d processes", name, capture.format, capture.version, len(capture.processes)
    )
    return capture
