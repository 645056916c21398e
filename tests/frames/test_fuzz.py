"""Mutated captures of every layout: a reader either reads one or raises a CaptureError.

Seeds are the real captures in ../shared/captures (their first lines, so each example
stays quick), the hand-made fixtures and one capture per layout from formats.py.
Hypothesis cuts, splices, duplicates and overwrites their bytes with the tokens
capture files are made of, a bounded number of times per layout. Whatever comes out,
``read_capture`` and ``select`` may only raise the documented read error, and what they
return must hold: positive, finite frame times and one duration per frame time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gearshift.core.errors import CaptureError
from gearshift.frames.capture import DISPLAYED, PRESENTED
from gearshift.frames.registry import read_capture
from tests.conftest import SHARED_CAPTURES
from tests.frames.formats import GOOD_CELLS, LAYOUTS, fixture_files

SEED_LINES = 40
"""How many lines of a real capture a seed keeps."""

EXAMPLES_PER_GROUP = 60
"""Mutated files tried per group of seeds; seven groups take a few seconds together."""

TOKENS = (
    b",",
    b",,",
    b"\n",
    b"\r\n",
    b"\r",
    b'"',
    b"NA",
    b"N/A",
    b"nan",
    b"-nan",
    b"inf",
    b"-1",
    b"0",
    b"0.000",
    b"1e308",
    b"1e-320",
    b"99999999999999999999999",
    b"null",
    b"true",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"//",
    b"=",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xe9",
    b"\xc3",
    b"\xe2\x80\xa8",
    b"80, 31-02-2024 25:61:61, ",
    b"02, 01-01-2024 00:00:00, Frametime",
    b"os,cpu,gpu",
    b"fps,frametime,elapsed",
    b"Application,ProcessID,MsBetweenPresents",
    b'"Runs": [',
    b'{"CaptureData": {"MsBetweenPresents": [1, null]}}',
)


def _real_seeds() -> list[bytes]:
    if not SHARED_CAPTURES.is_dir():
        return []
    seeds = []
    for path in sorted(SHARED_CAPTURES.iterdir()):
        if path.suffix == ".md":
            continue
        lines = path.read_bytes().splitlines(keepends=True)
        seeds.append(b"".join(lines[:SEED_LINES]))
    return seeds


def _seed_groups() -> dict[str, list[bytes]]:
    groups: dict[str, list[bytes]] = {}
    for layout in LAYOUTS:
        groups.setdefault(layout.format, []).append(layout.write(GOOD_CELLS).encode("utf-8"))
    for path in fixture_files():
        format_name = path.name.split("_", 1)[0]
        groups.setdefault(format_name, []).append(path.read_bytes())
    for seed in _real_seeds():
        groups.setdefault("shared", []).append(seed)
    return groups


SEED_GROUPS = _seed_groups()


Edit = tuple[str, float, int, bytes]
"""One change to a seed: its kind, where (a fraction of the length), how many bytes, and
the bytes it puts in."""

EDITS = st.tuples(
    st.sampled_from(["cut", "delete", "insert", "overwrite", "repeat"]),
    st.floats(0.0, 1.0),
    st.integers(0, 64),
    st.sampled_from(TOKENS) | st.binary(max_size=8),
)


def mutate(seed: bytes, edits: list[Edit]) -> bytes:
    """The seed with the edits applied in turn."""
    data = bytearray(seed)
    for kind, where, span, token in edits:
        at = int(where * len(data))
        if kind == "cut":
            del data[at:]
        elif kind == "delete":
            del data[at : at + span]
        elif kind == "insert":
            data[at:at] = token
        elif kind == "overwrite":
            data[at : at + len(token)] = token
        else:
            data[at:at] = data[at : at + span] * (1 + span % 3)
    return bytes(data)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """One file that every example overwrites (Hypothesis runs many per test call)."""
    with tempfile.TemporaryDirectory(prefix="gearshift-fuzz-") as folder:
        yield Path(folder) / "capture.csv"


def _check(path: Path) -> None:
    try:
        capture = read_capture(path)
        chosen = capture.select(None)
    except CaptureError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error)
        return
    for frames in (*capture.processes, chosen):
        assert np.all(np.isfinite(frames.frame_times_ms)) and np.all(frames.frame_times_ms > 0)
        assert frames.row_durations_ms.shape == frames.frame_times_ms.shape
        assert frames.view(PRESENTED).size == frames.frame_count
        if frames.displayed_ms is not None:
            assert np.all(frames.view(DISPLAYED) > 0)
        assert np.all(frames.suspect < max(frames.frame_count, 1))


@pytest.mark.parametrize("group", sorted(SEED_GROUPS))
def test_mutated_captures_raise_only_capture_errors(group: str, scratch: Path) -> None:
    seeds = SEED_GROUPS[group]

    @settings(
        max_examples=EXAMPLES_PER_GROUP,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(seed=st.integers(0, len(seeds) - 1), edits=st.lists(EDITS, min_size=1, max_size=4))
    def read_mutated(seed: int, edits: list[Edit]) -> None:
        scratch.write_bytes(mutate(seeds[seed], edits))
        _check(scratch)

    read_mutated()
