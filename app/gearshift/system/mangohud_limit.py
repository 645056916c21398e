"""MangoHud's frame-rate limit: ``fps_limit`` in the config file MangoHud reads.

MangoHud watches its config file and picks up a change while the game runs, so the
action rewrites that file (atomically: MangoHud never reads half of it). Only the
``fps_limit`` lines change; every other line the player wrote stays as it is. Revert
puts the file back byte for byte when nothing else touched it since, and otherwise puts
back only the old ``fps_limit`` line (or takes ours out when there was none).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from gearshift.core.actions import JsonValue, Restorer
from gearshift.core.errors import ActionError
from gearshift.system.atomic import remove_atomically, remove_leftover, write_atomically

CONFIG_ENV = "MANGOHUD_CONFIGFILE"
MAX_CONFIG_BYTES = 64 * 1024
"""A MangoHud config larger than this is not edited (it would bloat the journal)."""

_FPS_LINE = re.compile(r"^[ \t]*fps_limit[ \t]*=.*$", re.MULTILINE)


def config_path(env: Mapping[str, str], home: Path, app: str | None = None) -> Path:
    """The config file MangoHud reads, in MangoHud's own order.

    $MANGOHUD_CONFIGFILE; else the game's own ``<app>.conf`` when it exists; else
    ``MangoHud.conf`` in $XDG_CONFIG_HOME (or ~/.config).
    """
    explicit = env.get(CONFIG_ENV)
    if explicit:
        return Path(explicit)
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    folder = config_home / "MangoHud"
    if app:
        per_app = folder / f"{app}.conf"
        if per_app.is_file():
            return per_app
    return folder / "MangoHud.conf"


def with_limit(text: str | None, fps: int) -> str:
    """``text`` with every ``fps_limit`` line set to ``fps`` (added at the end if none)."""
    line = f"fps_limit={fps}"
    if text is None:
        return line + "\n"
    if _FPS_LINE.search(text):
        return _FPS_LINE.sub(lambda _match: line, text)
    separator = "" if not text or text.endswith("\n") else "\n"
    return f"{text}{separator}{line}\n"


def without_our_limit(current: str, original: str | None) -> str | None:
    """Undo only our ``fps_limit`` in ``current``: the original line(s) back, or none."""
    old_lines = _FPS_LINE.findall(original or "")
    if old_lines:
        return _FPS_LINE.sub(lambda _match: old_lines[-1], current)
    kept = "".join(line for line in current.splitlines(keepends=True) if not _FPS_LINE.match(line))
    return kept if kept or original is not None else None


class FpsLimitAction:
    """Sets MangoHud's ``fps_limit`` (0: no limit) and puts the old one back.

    Args:
        path: the config file (see ``config_path``).
        fps: the limit, in frames per second; 0 turns the limit off.
    """

    kind = "fps_limit"
    timeout_s = 2.0

    def __init__(self, path: Path, fps: int) -> None:
        self.name = f"MangoHud fps_limit {fps}" if fps else "MangoHud fps_limit off"
        self._path = path
        self._fps = fps
        self._record: dict[str, JsonValue] | None = None

    def record(self) -> Mapping[str, JsonValue]:
        """Read the file now; what to write, and what to put back."""
        original = _read(self._path)
        # No file is no limit already: nothing to create for "off".
        nothing_to_do = original is None and self._fps == 0
        written = None if nothing_to_do else with_limit(original, self._fps)
        self._record = {"path": str(self._path), "original": original, "written": written}
        return dict(self._record)

    async def apply(self) -> None:
        """Write the new limit; MangoHud picks it up from the file."""
        if self._record is None:
            self.record()
        assert self._record is not None
        written = self._record["written"]
        if isinstance(written, str) and written != self._record["original"]:
            _write(self._path, written)

    async def revert(self) -> None:
        """Put back the file, or at least its old ``fps_limit``."""
        if self._record is None:
            return
        await restore_limit(self._record)
        self._record = None


async def restore_limit(record: Mapping[str, JsonValue]) -> None:
    """Undo what a record says the action wrote (the journal restorer too)."""
    path, original, written = record.get("path"), record.get("original"), record.get("written")
    if not isinstance(path, str) or not all(
        v is None or isinstance(v, str) for v in (original, written)
    ):
        raise ActionError(f"the journal record {dict(record)!r} is not a MangoHud change")
    file = Path(path)
    remove_leftover(file)
    if written is None or written == original:
        return
    current = _read(file)
    if current == original:
        return
    if current == written or current is None:
        restored: str | None = original if isinstance(original, str) else None
    else:
        restored = without_our_limit(current, original if isinstance(original, str) else None)
    if restored is None:
        remove_atomically(file)
    else:
        _write(file, restored)


def _read(path: Path) -> str | None:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ActionError(f"cannot read {path}: {error.strerror or error}") from error
    if len(data) > MAX_CONFIG_BYTES:
        raise ActionError(f"{path} is over {MAX_CONFIG_BYTES // 1024} KiB: not editing it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ActionError(f"{path} is not UTF-8 text: not editing it") from error


def _write(path: Path, text: str) -> None:
    try:
        write_atomically(path, text.encode("utf-8"), mode=0o644)
    except OSError as error:
        raise ActionError(f"cannot write {path}: {error.strerror or error}") from error


def default_path(app: str | None = None) -> Path:
    """The config file for this user's environment."""
    return config_path(os.environ, Path.home(), app)


RESTORER: Restorer = restore_limit
