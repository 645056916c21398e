"""Replacing a file so that a reader, a crash or a power cut sees it old or new, whole."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

TEMPORARY_SUFFIX = ".gearshift-tmp"
"""The temporary file beside ``path`` is ``.<name>`` plus this: one fixed name, so that
one left by a kill -9 is found and removed by the next write or restore."""


def temporary_for(path: Path) -> Path:
    """The temporary file a write to ``path`` goes through."""
    return path.with_name(f".{path.name}{TEMPORARY_SUFFIX}")


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data``: temporary file, fsync, rename, fsync the folder.

    The file keeps the old file's permissions, or gets ``mode`` when it is new. Writers
    of one path must not run at once (the mode manager's lock sees to that).
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    temporary = temporary_for(path)
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(path.stat().st_mode)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_folder(folder)


def remove_atomically(path: Path) -> None:
    """Remove ``path`` (if there) and flush the folder so the removal survives."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fsync_folder(path.parent)


def remove_leftover(path: Path) -> None:
    """Remove the temporary file an interrupted write to ``path`` left, if any."""
    with contextlib.suppress(FileNotFoundError):
        temporary_for(path).unlink()


def fsync_folder(folder: Path) -> None:
    """Flush the folder's entries (POSIX; Windows has no such call and needs none)."""
    flags = getattr(os, "O_DIRECTORY", None)
    if flags is None:
        return
    descriptor = os.open(folder, os.O_RDONLY | flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
