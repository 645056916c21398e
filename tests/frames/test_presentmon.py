"""PresentMon's columns beyond the frame time: the displayed view, dropped frames,
suspect frames, swap chains, reduced and v1-metrics layouts, and the column-wise path.

The small captures here are written by hand from PresentMon's column descriptions.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from gearshift.frames import presentmon
from gearshift.frames.capture import ProcessFrames, read_capture_text
from gearshift.frames.registry import read_capture

BENCH = Path(__file__).resolve().parents[2] / "bench"


def write(tmp_path: Path, text: str, name: str = "capture.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def careful(path: Path) -> tuple[ProcessFrames, ...]:
    """The row-by-row reading, which the column-wise one must match."""
    return presentmon.parse(str(path), read_capture_text(path).splitlines()).processes


def assert_same_frames(fast: ProcessFrames, slow: ProcessFrames) -> None:
    assert fast.name == slow.name
    np.testing.assert_array_equal(fast.frame_times_ms, slow.frame_times_ms)
    assert (fast.displayed_ms is None) == (slow.displayed_ms is None)
    if fast.displayed_ms is not None and slow.displayed_ms is not None:
        np.testing.assert_array_equal(fast.displayed_ms, slow.displayed_ms)
    np.testing.assert_array_equal(fast.suspect, slow.suspect)
    assert fast.dropped_invalid == slow.dropped_invalid
    assert [c.name for c in fast.swap_chains] == [c.name for c in slow.swap_chains]
    for a, b in zip(fast.swap_chains, slow.swap_chains, strict=True):
        np.testing.assert_array_equal(a.frame_times_ms, b.frame_times_ms)


@pytest.mark.parametrize(
    "name",
    [
        "presentmon_1x_csgo.csv",
        "presentmon_2x_gold_test_case_5.csv",
        "presentmon_2x_gold_test_case_5_v2metrics.csv",
    ],
)
def test_the_column_wise_path_reads_the_shared_captures_as_the_careful_one(
    shared_captures: Path, name: str
) -> None:
    path = shared_captures / name
    with path.open("rb") as stream:
        fast = presentmon.parse_stream(str(path), stream)
    assert fast is not None
    slow = careful(path)
    assert len(fast.processes) == len(slow)
    for a, b in zip(fast.processes, slow, strict=True):
        assert_same_frames(a, b)


def test_a_generated_hour_of_frames_reads_the_same_both_ways(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import presentmon_gen
    finally:
        sys.path.remove(str(BENCH))
    path = tmp_path / "generated.csv"
    presentmon_gen.write(path, 20_000)
    capture = read_capture(path)
    slow = careful(path)
    for a, b in zip(capture.processes, slow, strict=True):
        assert_same_frames(a, b)
    game = capture.select(None)
    assert game.name == "game.exe" and game.frame_count == 20_000
    assert game.displayed_ms is not None
    assert game.displayed_ms.size == 20_000 - len(range(3, 20_000, 7))  # the dropped ones


def test_the_displayed_view_leaves_out_dropped_frames(shared_captures: Path) -> None:
    csgo = read_capture(shared_captures / "presentmon_1x_csgo.csv").select(None)
    assert csgo.displayed_ms is not None
    # Half the frames were dropped: they have no display time of their own.
    assert 0 < csgo.displayed_ms.size < csgo.frame_count
    assert np.all(csgo.displayed_ms > 0)
    assert csgo.view("displayed") is csgo.displayed_ms


V1_HEADER = (
    "Application,ProcessID,SwapChainAddress,Runtime,SyncInterval,PresentFlags,Dropped,"
    "TimeInSeconds,msBetweenPresents,msBetweenDisplayChange,msInPresentAPI"
)


def test_v1_metrics_lower_case_names_and_dropped_column(tmp_path: Path) -> None:
    rows = [
        "game.exe,10,0xA,DXGI,0,512,0,1.000000,4.000,4.000,0.1",
        "game.exe,10,0xA,DXGI,0,512,1,1.004000,4.000,0.000,0.1",
        "game.exe,10,0xA,DXGI,0,512,0,1.008000,4.000,8.000,0.1",
    ]
    capture = read_capture(write(tmp_path, "\n".join([V1_HEADER, *rows]) + "\n"))
    assert capture.version == "2.x-v1metrics"
    game = capture.select(None)
    assert game.view().tolist() == [4.0, 4.0, 4.0]
    assert game.view("displayed").tolist() == [4.0, 8.0]


def test_a_frame_the_time_stamps_do_not_show_is_suspect(tmp_path: Path) -> None:
    rows = [
        "game.exe,10,0xA,DXGI,0,512,0,1.000000,4.000,4.000,0.1",
        "game.exe,10,0xA,DXGI,0,512,0,1.004000,1500.000,4.000,0.1",  # the clock saw 4 ms
        "game.exe,10,0xA,DXGI,0,512,0,2.504000,1500.000,4.000,0.1",  # a real stall
        "game.exe,10,0xA,DXGI,0,512,0,2.508000,4.000,4.000,0.1",
    ]
    game = read_capture(write(tmp_path, "\n".join([V1_HEADER, *rows]) + "\n")).select(None)
    assert game.suspect.tolist() == [1]
    assert game.view().tolist() == [4.0, 1500.0, 1500.0, 4.0]  # used unless excluded
    assert game.view(exclude_suspect=True).tolist() == [4.0, 1500.0, 4.0]


def test_a_reduced_column_set_needs_only_the_frame_time(tmp_path: Path) -> None:
    text = "Application,ProcessID,MsBetweenPresents\ngame.exe,1,5.0\ngame.exe,1,6.0\n"
    game = read_capture(write(tmp_path, text)).select(None)
    assert game.view().tolist() == [5.0, 6.0]
    assert game.displayed_ms is None and game.swap_chains == ()
    with pytest.raises(ValueError, match="no displayed frame times"):
        game.view("displayed")


def test_swap_chains_of_one_process_are_split_in_order_of_appearance(tmp_path: Path) -> None:
    text = (
        "Application,ProcessID,SwapChainAddress,MsBetweenPresents\n"
        "game.exe,1,0xB,5.0\ngame.exe,1,0xA,6.0\ngame.exe,1,0xB,7.0\nother.exe,2,0xC,9.0\n"
    )
    capture = read_capture(write(tmp_path, text))
    game = capture.select("game.exe")
    assert game.view().tolist() == [5.0, 6.0, 7.0]
    assert [(c.name, c.view().tolist()) for c in game.swap_chains] == [
        ("0xB", [5.0, 7.0]),
        ("0xA", [6.0]),
    ]
    assert capture.select("other.exe").swap_chains == ()


def test_rows_out_of_time_order_across_processes_stay_in_file_order(tmp_path: Path) -> None:
    text = (
        "Application,ProcessID,TimeInSeconds,MsBetweenPresents\n"
        "a.exe,1,2.0,1.0\nb.exe,2,1.0,2.0\na.exe,1,2.1,3.0\nb.exe,2,1.1,4.0\n"
    )
    capture = read_capture(write(tmp_path, text))
    assert [p.name for p in capture.processes] == ["a.exe", "b.exe"]
    assert capture.select("b.exe").view().tolist() == [2.0, 4.0]
