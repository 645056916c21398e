"""The journal file: durable entries, order, corruption kept aside, shared by processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gearshift.core.actions import JournalEntry
from gearshift.core.errors import JournalCorruptError, JournalError
from gearshift.system.atomic import temporary_for
from gearshift.system.journal import STATE_ENV, FileJournal, journal_path


def entry(n: int, kind: str = "cpu_governor") -> JournalEntry:
    return JournalEntry(f"id-{n}", kind, f"change {n}", {"values": {"cpu0": f"v{n}"}})


def test_entries_survive_a_new_journal_object_in_order(tmp_path: Path) -> None:
    first = FileJournal(tmp_path / "journal.json")
    first.add([entry(1), entry(2)])
    first.add([entry(3)])
    first.remove(["id-2", "unknown"])

    again = FileJournal(tmp_path / "journal.json")
    assert again.entries() == [entry(1), entry(3)]
    assert not temporary_for(again.path).exists()


def test_state_folder_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))
    assert journal_path() == tmp_path / "state" / "journal.json"
    FileJournal().add([entry(1)])
    assert json.loads((tmp_path / "state" / "journal.json").read_text())["entries"][0]["id"] == (
        "id-1"
    )


def test_a_missing_journal_is_empty(tmp_path: Path) -> None:
    assert FileJournal(tmp_path / "none" / "journal.json").entries() == []


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"format": "other", "version": 1, "mode": null, "entries": []}',
        b'{"format": "gearshift-journal", "version": 1, "mode": null, "entries": {}}',
        b'{"format": "gearshift-journal", "version": 1, "mode": null, '
        b'"entries": [{"id": 1, "kind": "k", "name": "n", "record": {}}]}',
        b'{"format": "gearshift-journal", "version": 1, "mode": null, '
        b'"entries": [{"id": "1", "kind": "k", "name": "n", "record": {}, "extra": 1}]}',
        b" " * (1024 * 1024 + 10),
    ],
    ids=["truncated", "binary", "array", "format", "entries", "id", "extra-key", "huge"],
)
def test_a_corrupt_journal_is_kept_aside_and_reported_never_trusted(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "journal.json"
    path.write_bytes(content)
    journal = FileJournal(path)

    with pytest.raises(JournalCorruptError) as raised:
        journal.entries()

    kept = list(tmp_path.glob("journal.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == content
    assert str(kept[0]) in str(raised.value) and "by hand" in str(raised.value)
    assert not path.exists()
    assert journal.entries() == []  # it starts afresh


def test_adding_to_a_corrupt_journal_keeps_it_aside_first(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text("garbage")
    journal = FileJournal(path)
    journal.add([entry(1)])
    assert journal.entries() == [entry(1)]
    assert len(list(tmp_path.glob("journal.json.corrupt-*"))) == 1


def test_a_leftover_temporary_file_is_cleaned_up(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "journal.json")
    journal.add([entry(1)])
    temporary_for(journal.path).write_text("half a write")
    assert journal.entries() == [entry(1)]
    assert not temporary_for(journal.path).exists()


def test_an_unwritable_folder_is_a_journal_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JournalError, match="cannot open the switch journal"):
        FileJournal(blocker / "journal.json").add([entry(1)])


def test_mode_is_noted_for_status(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "journal.json")
    assert journal.mode() is None
    journal.note_mode("competitive")
    journal.add([entry(1)])
    assert FileJournal(journal.path).mode() == "competitive"
