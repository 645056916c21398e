"""The column-wise CSV reader against the csv module and float(), cell for cell."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gearshift.frames import fastcsv

NUMBERS = {"a": 1, "b": 3}
NAMES = {"name": 0, "chain": 2}
FIELDS = 4


def reference(text: str) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    """What the careful path reads: csv rows, float() or NaN, stripped names."""
    rows = [[c.strip() for c in row] for row in csv.reader(text.splitlines()) if any(row)]
    body = rows[1:]

    def number(cell: str) -> float:
        try:
            return float(cell)
        except ValueError:
            return math.nan

    numbers = {key: [number(row[i]) for row in body] for key, i in NUMBERS.items()}
    names = {key: [row[i] for row in body] for key, i in NAMES.items()}
    return numbers, names


def read(text: str, newline: str = "\n") -> fastcsv.Columns | None:
    stream = io.BytesIO(text.replace("\n", newline).encode())
    stream.readline()  # the header
    return fastcsv.read_columns(stream, NUMBERS, NAMES, FIELDS)


def assert_same(columns: fastcsv.Columns | None, text: str) -> None:
    assert columns is not None
    numbers, names = reference(text)
    for key, expected in numbers.items():
        got = columns.numbers[key]
        np.testing.assert_allclose(got, expected, rtol=2e-16, atol=0, equal_nan=True)
    for key, expected_names in names.items():
        labels = columns.labels[key]
        assert [labels[code] for code in columns.names[key]] == expected_names


number_cells = st.one_of(
    st.integers(0, 7)
    .flatmap(
        lambda places: st.decimals(-1e6, 1e6, places=places, allow_nan=False, allow_infinity=False)
    )
    .map(str),
    st.floats(min_value=0, max_value=1e4, allow_nan=False).map(lambda v: f"{v:.4f}"),
    st.integers(-99999, 99999).map(str),
    st.sampled_from(["NA", "", "1e-3", "-", ".", "5.", ".25", "inf", "x1", "1.2.3", "-0.000"]),
)
name_cells = st.one_of(
    st.sampled_from(["csgo.exe", "dwm.exe", "a", "", "0x000001D6C8F7A2B0", "0x0000021B3C5D1E40"]),
    # Long names that share their first and last eight bytes, and differ between.
    st.sampled_from(["FortniteClient-A-Shipping.exe", "FortniteClient-B-Shipping.exe"]),
    st.text(alphabet="abcXYZ._-0123456789", min_size=1, max_size=40),
)
rows = st.lists(st.tuples(name_cells, number_cells, name_cells, number_cells), max_size=60)


@settings(max_examples=150, deadline=None)
@given(rows=rows, newline=st.sampled_from(["\n", "\r\n"]), final=st.booleans())
def test_every_cell_reads_as_the_csv_module_and_float_read_it(
    rows: list[tuple[str, str, str, str]], newline: str, final: bool
) -> None:
    text = "name,a,chain,b\n" + "\n".join(",".join(row) for row in rows) + ("\n" if final else "")
    assert_same(read(text, newline), text)


def test_chunks_split_on_line_ends_join_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastcsv, "CHUNK_BYTES", 64)
    lines = [f"game{i % 3}.exe,{i * 0.25:.3f},0x{i % 2},{-i}" for i in range(500)]
    text = "name,a,chain,b\n" + "\n".join(lines) + "\n"
    columns = read(text)
    assert_same(columns, text)
    assert columns is not None and columns.labels["name"] == (
        "game0.exe",
        "game1.exe",
        "game2.exe",
    )


def test_blank_lines_are_skipped_as_the_csv_module_skips_them() -> None:
    text = "name,a,chain,b\n\ngame.exe,1.5,0x1,2\n\n\ngame.exe,2.5,0x1,3\n"
    columns = read(text)
    assert_same(columns, text)
    assert columns is not None and columns.rows == 2


@pytest.mark.parametrize(
    "body",
    [
        'game.exe,1.5,"0x1",2\n',  # a quoted cell
        "game.exe,1.5,0x1,2\0\n",  # a NUL byte
        "game.exe,1.5,0x1\n",  # a short row
        "game.exe,1.5,0x1,2,9\n",  # a long row
        "game.exe,1.5,0x1,2,\ngame.exe,1.5,0x1\n",  # a long row balanced by a short one
        "x" * 80 + ",1.5,0x1,2\n",  # a name longer than any executable's
        "game.exe,1.5,0x1,2\ngame.exe,1.5",  # a cut-off last line
    ],
)
def test_a_file_that_is_not_plain_is_handed_back(body: str) -> None:
    assert read("name,a,chain,b\n" + body) is None


def test_names_that_are_not_utf_8_are_handed_back() -> None:
    stream = io.BytesIO(b"name,a,chain,b\ng\xe4me.exe,1.5,0x1,2\n")  # Windows-1252
    stream.readline()
    assert fastcsv.read_columns(stream, NUMBERS, NAMES, FIELDS) is None


def test_a_header_only_file_has_no_rows() -> None:
    columns = read("name,a,chain,b\n")
    assert columns is not None and columns.rows == 0
