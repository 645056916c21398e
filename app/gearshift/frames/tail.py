"""Following a file or a pipe as another program writes it, a complete line at a time.

A capture tool writes its log a row at a time and may be read between any two bytes: a
last line without its newline is kept back until the rest comes, never handed over half.
A log that is cut short where it stands (truncated) or replaced by a new file of the
same name (rotated) is read again from its start, with ``restarted`` set so that the
reader learns the new file's header; the old file is read to its end first.

Reads never block: files are read as far as they go, pipes are switched to non-blocking
reads, and each read takes at most ``MAX_READ_BYTES``.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

MAX_READ_BYTES = 1 << 20
"""At most this much is read from a file or pipe at one look; more waits for the next."""

MAX_LINE_BYTES = 1 << 16
"""A line longer than this is no capture's line: it is dropped."""

HEAD_BYTES = 1 << 16
"""How much of a log's start is read for its header when following it from its end."""


@dataclass
class TailRead:
    """What one read of a followed file or pipe gave.

    Attributes:
        lines: the complete lines added since the previous read, newline removed.
        head: when a file was opened at its end, its first lines, for its header only.
        restarted: the lines start a new file (first opened, truncated, or replaced),
            so whatever header was learnt before no longer holds.
        more: the read stopped at its size limit; more is waiting.
    """

    lines: list[str] = field(default_factory=list)
    head: list[str] = field(default_factory=list)
    restarted: bool = False
    more: bool = False


class _LineBuffer:
    """Cuts bytes into complete lines, keeping a partly written last line for later."""

    def __init__(self) -> None:
        self._partial = b""
        self.overlong = 0
        """Lines dropped because they ran past ``MAX_LINE_BYTES``."""

    def clear(self) -> None:
        self._partial = b""

    def lines(self, data: bytes) -> list[str]:
        data = self._partial + data
        end = data.rfind(b"\n")
        if end < 0:
            self._partial = self._bounded(data)
            return []
        self._partial = self._bounded(data[end + 1 :])
        return [_text(line) for line in data[:end].split(b"\n")]

    def _bounded(self, partial: bytes) -> bytes:
        if len(partial) <= MAX_LINE_BYTES:
            return partial
        self.overlong += 1
        return b""


def _text(line: bytes) -> str:
    """A line as text; a byte-order mark (Windows tools start files with one) removed."""
    return line.decode("utf-8", errors="replace").rstrip("\r").removeprefix("\ufeff")


class FileTail:
    """Follows a file as another program writes it.

    Args:
        path: the file; it need not exist yet.
        from_end: start at the end of what the file holds now (its first lines are
            still handed over once, as ``head``, for the header); else at its start.
    """

    def __init__(self, path: Path, *, from_end: bool = False) -> None:
        self.path = path
        self._from_end = from_end
        self._file: int | None = None
        self._identity: tuple[int, int] | None = None
        self._pos = 0
        self._buffer = _LineBuffer()
        self._head: list[str] = []
        self._restart = False
        self.restarts = 0
        """How often the file was truncated or replaced while followed."""
        self._open()  # now: "the end" is where the file ends when following starts

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            os.close(self._file)
            self._file = None

    def read(self) -> TailRead:
        """The complete lines added since the previous read."""
        if self._file is None and not self._open():
            return TailRead()
        assert self._file is not None
        result = TailRead(head=self._head, restarted=self._restart)
        self._head, self._restart = [], False

        if os.fstat(self._file).st_size < self._pos:  # truncated where it stands
            self._start_over()
            result.restarted = True
        result.lines, result.more = self._read_some()
        if not result.more and self._replaced():
            # The old file is read to its end; the name's new file comes next time.
            self.close()
            self._buffer.clear()
            self._pos, self._from_end, self._restart = 0, False, True
            self.restarts += 1
        return result

    def _open(self) -> bool:
        try:
            self._file = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            return False
        info = os.fstat(self._file)
        self._identity = (info.st_dev, info.st_ino)
        if self._from_end:
            self._pos = self._end_of_last_line(info.st_size)
            self._head = self._read_head(self._pos)
        else:
            self._pos = 0
        self._restart = True
        return True

    def _start_over(self) -> None:
        self._pos = 0
        self._buffer.clear()
        self.restarts += 1

    def _replaced(self) -> bool:
        """True when the name now leads to another file, or to none."""
        try:
            info = os.stat(self.path)
        except OSError:
            return True
        return (info.st_dev, info.st_ino) != self._identity

    def _read_at(self, offset: int, size: int) -> bytes:
        assert self._file is not None
        os.lseek(self._file, offset, os.SEEK_SET)
        return os.read(self._file, size)

    def _read_some(self) -> tuple[list[str], bool]:
        data = self._read_at(self._pos, MAX_READ_BYTES)
        self._pos += len(data)
        return self._buffer.lines(data), len(data) == MAX_READ_BYTES

    def _end_of_last_line(self, size: int) -> int:
        start = max(0, size - HEAD_BYTES)
        newline = self._read_at(start, size - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        return 0 if start == 0 else size  # one unfinished line, or a huge one

    def _read_head(self, end: int) -> list[str]:
        data = self._read_at(0, min(end, HEAD_BYTES))
        return [_text(line) for line in data[: data.rfind(b"\n") + 1].splitlines()]


class PipeTail:
    """Reads the lines a pipe (PresentMon's standard output, say) delivers.

    The descriptor is switched to non-blocking reads, so a quiet pipe never holds the
    reader; on close it is switched back, or closed when this tail opened it.
    """

    def __init__(self, fd: int, *, owned: bool = False) -> None:
        if fd < 0:
            raise OSError("standard input is closed: give --follow a pipe or a file")
        self._fd: int | None = fd
        self._owned = owned
        self._buffer = _LineBuffer()
        self._started = False
        self.ended = False
        """The writer closed its end (a FIFO may be opened again by a new writer)."""
        os.set_blocking(fd, False)

    def close(self) -> None:
        """Give the descriptor its blocking reads back, or close it if it is ours."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                if self._owned:
                    os.close(self._fd)
                else:
                    os.set_blocking(self._fd, True)
            self._fd = None

    def read(self) -> TailRead:
        """The complete lines delivered since the previous read."""
        result = TailRead(restarted=not self._started)
        self._started = True
        chunks: list[bytes] = []
        size = 0
        while self._fd is not None and size < MAX_READ_BYTES:
            try:
                data = os.read(self._fd, min(65536, MAX_READ_BYTES - size))
            except (BlockingIOError, InterruptedError):
                break
            self.ended = not data
            if not data:
                break
            chunks.append(data)
            size += len(data)
        result.lines = self._buffer.lines(b"".join(chunks))
        result.more = size >= MAX_READ_BYTES
        return result
