"""The switch journal on disk: what Gearshift changed and how to put it back.

Before a recorded action changes the machine, the mode manager adds its record here;
once the change is reverted, the entry goes. Every change of the file is atomic and
flushed (see ``atomic``), so after a kill -9 or a power cut the file holds every change
still on the machine, and perhaps one already reverted (restoring it again is harmless).

The file is JSON::

    {"format": "gearshift-journal", "version": 1, "mode": "competitive",
     "entries": [{"id": "...", "kind": "cpu_governor", "name": "...", "record": {...}}]}

A file that is not exactly that is never half-trusted: it is renamed to
``journal.json.corrupt-<UTC time>`` and reported, and the journal starts empty.
Processes share the file through an advisory lock (``journal.lock``), so the app and an
in-process ``gearshift switch`` never write over each other's entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gearshift.core.actions import JournalEntry, JsonValue
from gearshift.core.errors import JournalCorruptError, JournalError
from gearshift.system.atomic import remove_leftover, write_atomically

_log = logging.getLogger(__name__)

STATE_ENV = "GEARSHIFT_STATE_DIR"
"""Names the folder the journal lives in, instead of the user's state folder."""

FORMAT = "gearshift-journal"
VERSION = 1
MAX_JOURNAL_BYTES = 1024 * 1024
"""A journal larger than this is not one Gearshift wrote."""


def state_folder() -> Path:
    """Where the journal lives: $GEARSHIFT_STATE_DIR, else the user's state folder."""
    override = os.environ.get(STATE_ENV)
    if override:
        return Path(override)
    import platformdirs

    return platformdirs.user_state_path("gearshift")


def journal_path() -> Path:
    """The journal file in the state folder."""
    return state_folder() / "journal.json"


class FileJournal:
    """The journal in one JSON file (see the module docstring).

    Args:
        path: the journal file; its folder is made when first written.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or journal_path()
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    def add(self, entries: Sequence[JournalEntry]) -> None:
        """Write ``entries`` down; they are on disk when this returns."""
        new_ids = {entry.entry_id for entry in entries}
        with self._locked():
            document = self._load_trusting_nothing()
            kept = [e for e in document["entries"] if e["id"] not in new_ids]
            document["entries"] = kept + [_entry_json(entry) for entry in entries]
            self._write(document)

    def remove(self, entry_ids: Sequence[str]) -> None:
        """Drop the entries ``entry_ids``; unknown ids are ignored."""
        gone = set(entry_ids)
        with self._locked():
            document = self._load_trusting_nothing()
            entries = [e for e in document["entries"] if e["id"] not in gone]
            if len(entries) != len(document["entries"]):
                document["entries"] = entries
                self._write(document)

    def entries(self) -> list[JournalEntry]:
        """The entries still applied, oldest first.

        Raises:
            JournalCorruptError: the file is not a journal; it was kept aside already.
        """
        with self._locked():
            document = self._load()
        return [_entry(item) for item in document["entries"]]

    def mode(self) -> str | None:
        """The mode an in-process switch left active, or None when none was noted."""
        with self._locked():
            try:
                document = self._load()
            except JournalCorruptError:
                return None
        mode = document.get("mode")
        return mode if isinstance(mode, str) else None

    def note_mode(self, mode: str | None) -> None:
        """Note which mode is active, for ``gearshift status`` without the app."""
        with self._locked():
            document = self._load_trusting_nothing()
            document["mode"] = mode
            self._write(document)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise JournalError(
                f"cannot open the switch journal in {self.path.parent}: {error.strerror or error}"
            ) from error
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def _load_trusting_nothing(self) -> dict[str, Any]:
        """The document, or an empty one after keeping a corrupt file aside."""
        try:
            return self._load()
        except JournalCorruptError as error:
            _log.error("%s", error)
            return _empty()

    def _load(self) -> dict[str, Any]:
        remove_leftover(self.path)
        try:
            with self.path.open("rb") as file:
                data = file.read(MAX_JOURNAL_BYTES + 1)
        except FileNotFoundError:
            return _empty()
        except OSError as error:
            raise JournalError(
                f"cannot read the switch journal {self.path}: {error.strerror or error}"
            ) from error
        reason = _fault(data)
        if reason is not None:
            raise JournalCorruptError(str(self.path), str(self._keep_aside()), reason)
        document: dict[str, Any] = json.loads(data)
        return document

    def _keep_aside(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        kept = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        os.replace(self.path, kept)
        return kept

    def _write(self, document: dict[str, Any]) -> None:
        data = json.dumps(document, indent=1, sort_keys=True).encode("utf-8")
        try:
            write_atomically(self.path, data)
        except OSError as error:
            raise JournalError(
                f"cannot write the switch journal {self.path}: {error.strerror or error}"
            ) from error


def _empty() -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "mode": None, "entries": []}


def _fault(data: bytes) -> str | None:
    """Why ``data`` is not a journal, or None when it is one."""
    if len(data) > MAX_JOURNAL_BYTES:
        return f"larger than {MAX_JOURNAL_BYTES} bytes"
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError) as error:
        return f"not JSON: {error}"
    if not isinstance(document, dict):
        return "not a JSON object"
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        return f"not a {FORMAT} version {VERSION} file"
    if not (document.get("mode") is None or isinstance(document.get("mode"), str)):
        return "its mode is not a name"
    entries = document.get("entries")
    if not isinstance(entries, list):
        return "no list of entries"
    for index, item in enumerate(entries):
        if not (
            isinstance(item, dict)
            and set(item) == {"id", "kind", "name", "record"}
            and all(isinstance(item[key], str) for key in ("id", "kind", "name"))
            and isinstance(item["record"], dict)
        ):
            return f"entry {index + 1} is not an id, a kind, a name and a record"
    return None


def _entry_json(entry: JournalEntry) -> dict[str, JsonValue]:
    return {
        "id": entry.entry_id,
        "kind": entry.kind,
        "name": entry.name,
        "record": dict(entry.record),
    }


def _entry(item: Mapping[str, Any]) -> JournalEntry:
    return JournalEntry(item["id"], item["kind"], item["name"], item["record"])
