"""CapFrameX captures: its CSV export and its JSON sessions.

No real CapFrameX capture is shared, so the fixtures in fixtures/ are hand-made from
the format description in ../shared/captures/README.md (a ``//Key=Value`` block before
PresentMon 1.x columns; ``Info`` plus ``Runs[].CaptureData`` parallel arrays with
nulls); fixtures/README.md lists the quirks each one holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gearshift.core.errors import EmptyCaptureError, MalformedCaptureError, MissingColumnError
from gearshift.frames import capframex
from gearshift.frames.capture import DISPLAYED
from gearshift.frames.registry import read_capture

FIXTURES = Path(__file__).parent / "fixtures"
CSV = FIXTURES / "capframex_Cyberpunk2077.csv"
SESSION = FIXTURES / "capframex_Cyberpunk2077_aggregated.json"


def session() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(SESSION.read_text(encoding="utf-8"))
    return loaded


def write_json(tmp_path: Path, value: object, name: str = "session.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def test_csv_reads_the_table_and_keeps_the_block_as_metadata() -> None:
    assert CSV.read_bytes().count(b"\r\n") == 35
    capture = read_capture(CSV)

    game = capture.select(None)
    assert (capture.format, capture.version, capture.sampled) == ("capframex", "csv", False)
    assert [p.name for p in capture.processes] == ["Cyberpunk2077.exe"]
    assert game.frame_count == 16
    assert game.frame_times_ms[7] == pytest.approx(17.221)
    assert float(game.frame_times_ms.sum()) == pytest.approx(143.012)
    # The value keeps what follows the first '=', commas and all.
    assert capture.metadata["Comment"] == "1440p, DLSS=Quality, RT Ultra"
    assert capture.metadata["GPU"] == "NVIDIA GeForce RTX 4070"
    assert capture.metadata["GameName"] == "Cyberpunk2077.exe"
    assert "Driver Package" not in capture.metadata  # written with no value


def test_csv_displayed_view_leaves_out_the_dropped_frame() -> None:
    game = read_capture(CSV).select(None)
    shown = game.view(DISPLAYED)
    assert shown.size == 15
    assert 0.0 not in shown.tolist()


def test_csv_block_without_a_table_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "cx.csv"
    path.write_text("//GameName=Doom\n//ProcessName=doom.exe\n", encoding="utf-8")
    with pytest.raises(EmptyCaptureError, match="no frames"):
        read_capture(path)


def test_csv_table_without_frame_time_names_the_column(tmp_path: Path) -> None:
    path = tmp_path / "cx.csv"
    path.write_text("//GameName=Doom\nApplication,ProcessID\ndoom.exe,12\n", encoding="utf-8")
    with pytest.raises(MissingColumnError, match="CapFrameX capture has no frame-time column"):
        read_capture(path)


def test_json_gives_each_run_its_own_series() -> None:
    capture = read_capture(SESSION)

    assert (capture.format, capture.version, capture.sampled) == ("capframex", "1.7.2.0", False)
    first, second = capture.processes
    assert (first.name, second.name) == ("Cyberpunk2077.exe run 1", "Cyberpunk2077.exe run 2")
    # Run 1: the null frame time is dropped and counted; Dropped is booleans.
    assert first.frame_times_ms.tolist() == [8.412, 8.398, 8.289, 8.44, 8.358, 8.341, 8.34]
    assert first.dropped_invalid == 1
    assert first.view(DISPLAYED).tolist() == [8.333, 8.334, 8.333, 16.667, 8.333, 8.334, 8.333]
    # Run 2: Dropped is 0/1; the null display time is left out of the displayed view.
    assert second.view(DISPLAYED).size == 7
    assert capture.select(None) is second  # the run with the most frames


def test_json_flags_the_frame_its_time_stamps_do_not_show() -> None:
    second = read_capture(SESSION).processes[1]
    # 1500 ms between presents, but TimeInSeconds moved 6 microseconds.
    assert second.suspect.tolist() == [3]
    assert 1500.0 not in second.view(exclude_suspect=True).tolist()
    assert 1500.0 in second.view().tolist()


def test_json_info_becomes_metadata_without_its_nulls() -> None:
    metadata = read_capture(SESSION).metadata
    assert metadata["Comment"] == "Dogtown loop, 1440p, DLSS=Quality"
    assert metadata["ProcessName"] == "Cyberpunk2077.exe"
    assert "DriverPackage" not in metadata and "ResizableBar" not in metadata


def test_json_single_run_is_named_after_the_process(tmp_path: Path) -> None:
    data = session()
    runs = data["Runs"]
    assert isinstance(runs, list)
    data["Runs"] = runs[1:]
    capture = read_capture(write_json(tmp_path, data))
    assert [p.name for p in capture.processes] == ["Cyberpunk2077.exe"]


def test_json_on_one_line_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    path.write_text(json.dumps(session(), separators=(",", ":")), encoding="utf-8-sig")
    assert read_capture(path).processes[0].frame_count == 7


def test_json_indented_without_final_newline_is_not_cut(tmp_path: Path) -> None:
    data = session()
    path = tmp_path / "session.json"
    # The last line, "}", has fewer commas than the one before: a CSV row cut short
    # would look like that, a JSON document does not.
    text = '{"Info": ' + json.dumps(data["Info"]) + ',\n"Runs": ' + json.dumps(data["Runs"])
    path.write_text(text + "\n}", encoding="utf-8")
    assert len(read_capture(path).processes) == 2


def test_json_arrays_that_do_not_line_up_are_left_out(tmp_path: Path) -> None:
    data = session()
    runs = data["Runs"]
    assert isinstance(runs, list)
    runs[1]["CaptureData"]["MsBetweenDisplayChange"] = [8.3, 8.3]
    runs[1]["CaptureData"]["TimeInSeconds"] = [0.0]
    second = read_capture(write_json(tmp_path, data)).processes[1]
    assert second.displayed_ms is None
    assert second.suspect.size == 0
    assert second.frame_count == 8


def test_json_text_and_odd_values_in_an_array_are_not_numbers(tmp_path: Path) -> None:
    data = session()
    runs = data["Runs"]
    assert isinstance(runs, list)
    runs[1]["CaptureData"]["MsBetweenPresents"] = [8.3, "8.4", "fast", {}, [1], True, None, 1e999]
    frames = read_capture(write_json(tmp_path, data)).processes[1]
    assert frames.frame_times_ms.tolist() == [8.3, 8.4, 1.0]
    assert frames.dropped_invalid == 5


def test_json_without_frame_times_names_the_array(tmp_path: Path) -> None:
    data = session()
    for run in data["Runs"]:  # type: ignore[attr-defined]
        del run["CaptureData"]["MsBetweenPresents"]
    with pytest.raises(MissingColumnError, match="MsBetweenPresents"):
        read_capture(write_json(tmp_path, data))


def test_json_with_no_runs_is_empty(tmp_path: Path) -> None:
    with pytest.raises(EmptyCaptureError, match="no run"):
        read_capture(write_json(tmp_path, {"Info": {"ProcessName": "x.exe"}, "Runs": []}))


def test_json_not_shaped_like_a_session_is_malformed(tmp_path: Path) -> None:
    with pytest.raises(MalformedCaptureError, match="no 'Runs' list"):
        read_capture(write_json(tmp_path, {"Info": {"ProcessName": "x.exe"}, "Runs": 3}))


def test_json_cut_off_says_so(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    text = SESSION.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(MalformedCaptureError, match="looks cut off"):
        read_capture(path)


def test_json_frame_times_are_read_only() -> None:
    frames = read_capture(SESSION).processes[0]
    with pytest.raises(ValueError, match="read-only"):
        frames.frame_times_ms[0] = 1.0
    assert np.all(frames.frame_times_ms > 0)


def test_csv_read_column_wise_matches_row_by_row() -> None:
    with CSV.open("rb") as stream:
        streamed = capframex.parse_stream(str(CSV), stream)
    rows = capframex.parse(str(CSV), CSV.read_text(encoding="utf-8").splitlines())

    assert streamed is not None
    assert dict(streamed.metadata) == dict(rows.metadata)
    (fast,), (slow,) = streamed.processes, rows.processes
    assert fast.frame_times_ms.tolist() == slow.frame_times_ms.tolist()
    assert fast.view(DISPLAYED).tolist() == slow.view(DISPLAYED).tolist()


def test_csv_with_a_windows_1252_comment_is_read_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "cx.csv"
    text = CSV.read_text(encoding="utf-8").replace("RT Ultra", "caf\u00e9 district")
    path.write_bytes(text.encode("cp1252"))
    with path.open("rb") as stream:
        assert capframex.parse_stream(str(path), stream) is None

    capture = read_capture(path)
    assert capture.metadata["Comment"] == "1440p, DLSS=Quality, caf\u00e9 district"
    assert capture.select(None).frame_count == 16


def test_json_is_left_to_the_row_by_row_reader() -> None:
    with SESSION.open("rb") as stream:
        assert capframex.parse_stream(str(SESSION), stream) is None
