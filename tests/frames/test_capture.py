"""The capture model: which process is analysed by default, and how rows are kept."""

from __future__ import annotations

import pytest

from gearshift.core.errors import EmptyCaptureError, ProcessNotFoundError
from gearshift.frames.capture import Capture, ProcessFrames, make_process_frames


def process(name: str, frames: int) -> ProcessFrames:
    return make_process_frames(name, [10.0] * frames)


def capture(*processes: ProcessFrames) -> Capture:
    return Capture("run.csv", "presentmon", "2.x", sampled=False, processes=processes)


def test_default_is_the_busiest_process_that_is_not_the_compositor() -> None:
    chosen = capture(process("DWM.exe", 900), process("launch.exe", 20), process("game.exe", 500))
    assert chosen.select(None).name == "game.exe"


def test_default_falls_back_to_the_compositor_when_alone() -> None:
    assert capture(process("dwm.exe", 5)).select(None).name == "dwm.exe"


def test_default_tie_goes_to_the_first_in_the_file() -> None:
    assert capture(process("a.exe", 3), process("b.exe", 3)).select(None).name == "a.exe"


def test_named_process_ignores_case() -> None:
    assert capture(process("Game.exe", 3)).select("gAME.EXE").name == "Game.exe"


def test_unknown_process_lists_what_is_there() -> None:
    with pytest.raises(ProcessNotFoundError) as caught:
        capture(process("a.exe", 3), process("dwm.exe", 3)).select("c.exe")
    assert str(caught.value) == (
        "run.csv: no process 'c.exe' in this capture; it holds: a.exe, dwm.exe"
    )


def test_capture_without_processes_is_empty() -> None:
    with pytest.raises(EmptyCaptureError):
        capture().select(None)


def test_dropped_rows_leave_durations_aligned() -> None:
    frames = make_process_frames(
        "game.exe", [4.0, float("nan"), 5.0, 0.0], row_durations_ms=[100.0, 101.0, 102.0, 103.0]
    )
    assert frames.frame_times_ms.tolist() == [4.0, 5.0]
    assert frames.row_durations_ms.tolist() == [100.0, 102.0]
    assert frames.dropped_invalid == 2
    assert not frames.row_durations_ms.flags.writeable


def test_per_frame_rows_last_their_frame_time() -> None:
    frames = make_process_frames("game.exe", [4.0, -1.0, 6.0])
    assert frames.row_durations_ms.tolist() == [4.0, 6.0]
    assert frames.duration_s is None
