"""Bad input for every reader: one CaptureError naming the file, never anything else.

Each layout in formats.py gets the same damage: an empty, binary, truncated or
oversized file, a header without the frame-time column, text where frame times should
be. A few go through ``python -m gearshift analyze`` as a player would run it: exit
status 2, one line on stderr naming the file and the reason, no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gearshift.core.errors import (
    CaptureError,
    EmptyCaptureError,
    MalformedCaptureError,
    MissingColumnError,
    UnknownFormatError,
)
from gearshift.frames import capture as capture_module
from gearshift.frames.registry import read_capture
from tests.frames.formats import GOOD_CELLS, LAYOUTS, Layout

TWO_GB = 2_000_000_000

by_layout = pytest.mark.parametrize("layout", LAYOUTS, ids=[layout.name for layout in LAYOUTS])


def write(tmp_path: Path, data: str | bytes, name: str = "capture.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def sparse(tmp_path: Path, start: str, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk: ``start`` and then a hole."""
    path = write(tmp_path, start)
    os.truncate(path, size)
    return path


def refusal(path: Path) -> CaptureError:
    with pytest.raises(CaptureError) as caught:
        read_capture(path).select(None)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return caught.value


@by_layout
def test_each_layout_reads_as_written(tmp_path: Path, layout: Layout) -> None:
    capture = read_capture(write(tmp_path, layout.write(GOOD_CELLS)))
    assert capture.format == layout.format
    frames = capture.select(None).frame_times_ms.tolist()
    assert frames == pytest.approx(layout.expected_ms(GOOD_CELLS))


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b"\xff\xfe"])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    assert isinstance(refusal(write(tmp_path, data)), EmptyCaptureError)


@by_layout
def test_binary_file_that_starts_like_a_capture(tmp_path: Path, layout: Layout) -> None:
    data = layout.write(GOOD_CELLS).encode("utf-8")
    corrupted = data[: len(data) // 2] + b"\x00\x00\x8a\x13" + data[len(data) // 2 :]
    error = refusal(write(tmp_path, corrupted))
    assert isinstance(error, UnknownFormatError) and "binary" in error.reason


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
        bytes(range(1, 256)) * 4,  # no NUL byte, still not text anyone wrote
    ],
    ids=["png", "zip", "noise"],
)
def test_binary_file(tmp_path: Path, data: bytes) -> None:
    assert isinstance(refusal(write(tmp_path, data)), UnknownFormatError)


@pytest.mark.parametrize(
    "text",
    [
        "time,value\n1,2\n",
        "<html><body>404</body></html>\n",
        '{"frames": [1, 2, 3]}\n',
        "[1, 2, 3]\n",
        "80 is not a record\n",
        "Application\n",
    ],
)
def test_unknown_format_lists_every_known_one(tmp_path: Path, text: str) -> None:
    error = refusal(write(tmp_path, text))
    assert isinstance(error, UnknownFormatError)
    assert "MangoHud, PresentMon, OCAT, CapFrameX, MSI Afterburner" in error.reason


WITH_HEADERS = [layout for layout in LAYOUTS if layout.without_frame_time is not None]
"""The layouts with a header to take the frame-time column from (all but MangoHud 0.4)."""


@pytest.mark.parametrize("layout", WITH_HEADERS, ids=[layout.name for layout in WITH_HEADERS])
def test_header_without_frame_time_column(tmp_path: Path, layout: Layout) -> None:
    assert layout.without_frame_time is not None
    assert isinstance(refusal(write(tmp_path, layout.without_frame_time)), MissingColumnError)


@by_layout
def test_text_in_the_frame_time_column_is_dropped_and_counted(
    tmp_path: Path, layout: Layout
) -> None:
    cells = ["8.1", "fast", "8.3", "", "N/A", "8.2"]
    frames = read_capture(write(tmp_path, layout.write(cells))).select(None)
    assert frames.frame_times_ms.tolist() == pytest.approx(layout.expected_ms(cells))
    assert frames.dropped_invalid == 3


@by_layout
def test_only_text_in_the_frame_time_column_is_refused(tmp_path: Path, layout: Layout) -> None:
    error = refusal(write(tmp_path, layout.write(["fast", "slow", "NA", "n/a"])))
    if layout.name == "mangohud-0.4":
        # With no header, a first row of text reads as a header that names no column.
        assert isinstance(error, MissingColumnError)
        return
    assert isinstance(error, EmptyCaptureError)
    assert "4 rows dropped as invalid" in error.reason


@by_layout
def test_header_and_no_frames(tmp_path: Path, layout: Layout) -> None:
    assert isinstance(refusal(write(tmp_path, layout.write([]))), EmptyCaptureError)


@by_layout
@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.93, 0.999])
def test_cut_off_file_reads_the_whole_rows_or_says_why(
    tmp_path: Path, layout: Layout, fraction: float
) -> None:
    whole = layout.write(GOOD_CELLS)
    cut = whole[: int(len(whole) * fraction)]
    try:
        frames = read_capture(write(tmp_path, cut)).select(None).frame_times_ms.tolist()
    except CaptureError as error:
        assert str(error).startswith(str(tmp_path)) and "\n" not in str(error)
        return
    expected = layout.expected_ms(GOOD_CELLS)
    assert len(frames) <= len(expected)
    assert frames == pytest.approx(expected[: len(frames)])  # no row read half-written


def test_cut_off_json_says_so(tmp_path: Path) -> None:
    layout = next(layout for layout in LAYOUTS if layout.name == "capframex-json")
    whole = layout.write(GOOD_CELLS)
    error = refusal(write(tmp_path, whole[: len(whole) // 2]))
    assert isinstance(error, MalformedCaptureError) and "cut off" in error.reason


@by_layout
def test_two_gigabyte_file_is_refused_before_it_is_read(tmp_path: Path, layout: Layout) -> None:
    path = sparse(tmp_path, layout.write(GOOD_CELLS), TWO_GB)
    error = refusal(path)
    assert "2.0 GB" in error.reason and "1.5 GiB" in error.reason


def test_the_limit_itself_is_read_and_one_byte_more_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = LAYOUTS[2].write(GOOD_CELLS)
    monkeypatch.setattr(capture_module, "MAX_CAPTURE_BYTES", len(text))
    assert read_capture(write(tmp_path, text)).select(None).frame_count == len(GOOD_CELLS)
    assert "over the" in refusal(write(tmp_path, text + "\n")).reason


def afterburner_without_frame_time() -> str:
    text = next(layout for layout in LAYOUTS if layout.name == "afterburner").without_frame_time
    assert text is not None
    return text


CLI_CASES: dict[str, tuple[bytes | None, str]] = {
    "empty": (b"", "the file is empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    "unknown": (b"time,value\n1,2\n", "not a frame-time capture Gearshift knows"),
    "no-frame-time": (
        afterburner_without_frame_time().encode(),
        "neither a 'Frametime' nor a 'Framerate'",
    ),
    "cut-off-json": (b'{"Info": {}, "Runs": [{"CaptureData": {"MsBetweenPresents": [8', "cut off"),
    "text": (LAYOUTS[2].write(["fast", "slow"]).encode(), "no usable frame time"),
    "2GB": (None, "over the 1.5 GiB"),
}
"""What each bad file holds (None: a sparse 2 GB file), and the reason the line gives."""


def test_analyze_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    paths = {}
    for case, (content, _) in CLI_CASES.items():
        folder = tmp_path / case
        folder.mkdir()
        if content is None:
            paths[case] = sparse(folder, LAYOUTS[2].write(GOOD_CELLS), TWO_GB)
        else:
            paths[case] = write(folder, content, "run 1.csv")

    # Started together: each one is an interpreter start-up, and they do not interact.
    runs = {
        case: subprocess.Popen(
            [sys.executable, "-m", "gearshift", "analyze", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for case, path in paths.items()
    }
    for case, run in runs.items():
        out, err = run.communicate(timeout=60)
        reason = CLI_CASES[case][1]
        assert run.returncode == 2, f"{case}: {err}"
        assert out == "", case
        assert err.count("\n") == 1 and "Traceback" not in err, f"{case}: {err}"
        assert err.startswith(f"gearshift: {paths[case]}: "), f"{case}: {err}"
        assert reason in err, f"{case}: {err}"
