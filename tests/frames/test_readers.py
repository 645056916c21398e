"""The capture readers against real captures from other people's tools (../shared/captures).

Each file there is normal input; every one must have an expectation below, so a capture
added to the folder without one fails here until someone says what it should read as.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from gearshift.core.errors import ProcessNotFoundError
from gearshift.frames.capture import Capture
from gearshift.frames.registry import read_capture


@dataclass(frozen=True)
class Expected:
    format: str
    version: str
    sampled: bool
    frames: dict[str, int]
    default: str


EXPECTED: dict[str, Expected | type[Exception]] = {
    "mangohud_0.4_issue287_excerpt.csv": Expected(
        "mangohud",
        "0.4",
        True,
        {"mangohud_0.4_issue287_excerpt": 5},
        "mangohud_0.4_issue287_excerpt",
    ),
    "mangohud_0.8_overwatch_rx9070xt_run1.csv": Expected(
        "mangohud",
        "0.8",
        True,
        {"mangohud_0.8_overwatch_rx9070xt_run1": 298},
        "mangohud_0.8_overwatch_rx9070xt_run1",
    ),
    "ocat_MetroExodus_rtx2080ti.csv": Expected(
        "ocat", "1.x", False, {"MetroExodus.exe": 2502}, "MetroExodus.exe"
    ),
    "presentmon_1x_csgo.csv": Expected("presentmon", "1.x", False, {"csgo.exe": 4265}, "csgo.exe"),
    "presentmon_2x_gold_test_case_5.csv": Expected(
        "presentmon",
        "2.x",
        False,
        {"dwm.exe": 358, "PresentBench.exe": 265, "steamwebhelper.exe": 24},
        "PresentBench.exe",
    ),
    "presentmon_2x_gold_test_case_5_v2metrics.csv": Expected(
        "presentmon",
        "2.x-v2metrics",
        False,
        {"dwm.exe": 358, "PresentBench.exe": 265, "steamwebhelper.exe": 24},
        "PresentBench.exe",
    ),
}


def test_every_shared_capture_reads_as_expected(shared_capture_file: Path) -> None:
    expected = EXPECTED.get(shared_capture_file.name)
    assert expected is not None, f"no expectation for {shared_capture_file.name}; add one"

    if not isinstance(expected, Expected):
        with pytest.raises(expected):
            read_capture(shared_capture_file)
        return

    capture = read_capture(shared_capture_file)
    assert (capture.format, capture.version, capture.sampled) == (
        expected.format,
        expected.version,
        expected.sampled,
    )
    assert {p.name: p.frame_count for p in capture.processes} == expected.frames
    assert capture.select(None).name == expected.default
    for process in capture.processes:
        assert process.dropped_invalid == 0
        assert process.frame_times_ms.size == process.row_durations_ms.size
        assert np.all(process.frame_times_ms > 0)


def read(folder: Path, name: str) -> Capture:
    return read_capture(folder / name)


def test_mangohud_04_frame_times_come_from_fps_and_elapsed_is_microseconds(
    shared_captures: Path,
) -> None:
    capture = read(shared_captures, "mangohud_0.4_issue287_excerpt.csv")
    game = capture.select(None)

    # Rows: fps, cpu load, gpu load, elapsed (us); the first is 88.3473,12,100,169.
    assert game.frame_times_ms.tolist() == pytest.approx(
        [1000 / 88.3473, 1000 / 88.1573, 1000 / 88.2238, 1000 / 87.6796, 1000 / 88.6116]
    )
    # elapsed 169, 100229, 200286, 300346, 400425 us: 100 ms rows, not per frame.
    assert game.row_durations_ms.tolist() == pytest.approx(
        [100.06, 100.06, 100.057, 100.06, 100.079]
    )
    assert game.duration_s == pytest.approx((400425 - 169) / 1e6 + 0.10006)
    # The six system-information names pair up with six values; the empty GPU is left out.
    assert capture.metadata["os"] == "Debian GNU/Linux bullseye/sid"
    assert capture.metadata["kernel"] == "5.6.0-1-amd64"
    assert "gpu" not in capture.metadata


def test_mangohud_08_is_sampled_with_duration_from_elapsed(shared_captures: Path) -> None:
    game = read(shared_captures, "mangohud_0.8_overwatch_rx9070xt_run1.csv").select(None)

    assert game.frame_times_ms[0] == pytest.approx(4.18737)
    assert game.frame_times_ms[-1] == pytest.approx(3.89377)
    # elapsed is in ns: rows 1 and 2 are 333365637 and 433502466, 100.136829 ms apart.
    assert game.row_durations_ms[1] == pytest.approx(100.136829)
    # 298 rows cover 298 intervals of ~100 ms: last - first stamp, plus one typical gap.
    span_s = (30054481137 - 333365637) / 1e9
    assert game.duration_s == pytest.approx(span_s + 0.100070435, abs=1e-6)
    assert game.row_durations_ms[0] == pytest.approx(100.070435)


def test_presentmon_1x_without_final_newline_keeps_last_frame(shared_captures: Path) -> None:
    csgo = read(shared_captures, "presentmon_1x_csgo.csv").select("csgo.exe")

    assert (shared_captures / "presentmon_1x_csgo.csv").read_bytes()[-1:] != b"\n"
    assert csgo.frame_times_ms[0] == pytest.approx(10.564)
    assert csgo.frame_times_ms[-1] == pytest.approx(6.282)
    assert float(csgo.frame_times_ms.sum()) == pytest.approx(36168.414)
    assert csgo.duration_s is None
    assert np.array_equal(csgo.row_durations_ms, csgo.frame_times_ms)


def test_presentmon_2x_with_bom_and_na_cells(shared_captures: Path) -> None:
    path = shared_captures / "presentmon_2x_gold_test_case_5.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert b",NA," in path.read_bytes()

    capture = read_capture(path)
    bench = capture.select(None)
    assert [p.name for p in capture.processes] == [
        "dwm.exe",
        "PresentBench.exe",
        "steamwebhelper.exe",
    ]
    assert bench.frame_times_ms[0] == pytest.approx(11.0622)
    assert bench.frame_times_ms[-1] == pytest.approx(11.1287)
    assert float(bench.frame_times_ms.sum()) == pytest.approx(2980.1396)


def test_presentmon_2x_newer_metrics_reads_frame_time(shared_captures: Path) -> None:
    bench = read(shared_captures, "presentmon_2x_gold_test_case_5_v2metrics.csv").select(None)
    assert bench.frame_times_ms[0] == pytest.approx(11.0804)
    assert float(bench.frame_times_ms.sum()) == pytest.approx(2980.1326)


def test_ocat_ragged_rows_and_quoted_cells(shared_captures: Path) -> None:
    path = shared_captures / "ocat_MetroExodus_rtx2080ti.csv"
    lines = path.read_text().splitlines()
    assert (lines[0].count(","), lines[2].count(",")) == (28, 16)

    metro = read_capture(path).select(None)
    assert metro.frame_times_ms[0] == pytest.approx(9.681)
    assert metro.frame_times_ms[1] == pytest.approx(12.166)
    assert metro.frame_times_ms[-1] == pytest.approx(9.877)
    assert float(metro.frame_times_ms.sum()) == pytest.approx(25386.433)


def test_process_selection_by_name_ignores_case(shared_captures: Path) -> None:
    capture = read(shared_captures, "presentmon_2x_gold_test_case_5.csv")
    assert capture.select("DWM.EXE").frame_count == 358
    assert capture.select("steamwebhelper.exe").frame_count == 24


def test_unknown_process_names_file_and_choices(shared_captures: Path) -> None:
    capture = read(shared_captures, "presentmon_2x_gold_test_case_5.csv")
    with pytest.raises(ProcessNotFoundError) as caught:
        capture.select("overwatch.exe")
    message = str(caught.value)
    assert "presentmon_2x_gold_test_case_5.csv" in message
    assert "overwatch.exe" in message
    assert "dwm.exe, PresentBench.exe, steamwebhelper.exe" in message


def test_frame_times_are_read_only(shared_captures: Path) -> None:
    csgo = read(shared_captures, "presentmon_1x_csgo.csv").select(None)
    with pytest.raises(ValueError, match="read-only"):
        csgo.frame_times_ms[0] = 1.0
    assert not math.isnan(float(csgo.frame_times_ms.mean()))
