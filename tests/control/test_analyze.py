"""``gearshift analyze``: the JSON contract, the table, and one clear line per failure."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gearshift.__main__ import main
from gearshift.control.exitcodes import ExitCode
from gearshift.core.errors import CaptureError
from gearshift.frames.registry import read_capture

METRIC_KEYS = {
    "frames",
    "duration_s",
    "avg_fps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "p999_ms",
    "p1_fps",
    "p01_fps",
    "low1_fps",
    "low01_fps",
    "stutter_frames",
    "min_ms",
    "max_ms",
    "stddev_ms",
    "variability_ms",
    "over_budget_pct",
}
JSON_KEYS = METRIC_KEYS | {
    "source",
    "sampled",
    "view",
    "dropped",
    "suspect",
    "swap_chains",
    "metadata",
}
GOLD = "presentmon_2x_gold_test_case_5.csv"


def analyze_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["analyze", *argv, "--json"]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    result: dict[str, object] = json.loads(out.out)
    return result


def gold_source(folder: Path, process: str) -> dict[str, str]:
    path = str(folder / GOLD)
    return {"format": "presentmon", "version": "2.x", "process": process, "path": path}


def assert_one_line_failure(
    capsys: pytest.CaptureFixture[str], argv: list[str], status: int, *words: str
) -> None:
    assert main(argv) == status
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("gearshift: ") and out.err.count("\n") == 1
    assert "Traceback" not in out.err
    for word in words:
        assert word in out.err


def test_json_has_exactly_the_documented_keys(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = analyze_json(capsys, str(shared_captures / GOLD))

    assert set(result) == JSON_KEYS
    assert result["frames"] == 265
    assert result["sampled"] is False
    assert result["duration_s"] == pytest.approx(2.9801396)
    assert result["over_budget_pct"] == {"immersive": 0.0, "competitive": 100.0}
    assert result["source"] == gold_source(shared_captures, "PresentBench.exe")
    assert result["view"] == "presented"
    assert result["dropped"] == {"invalid": 0, "not_displayed": 87}
    assert result["suspect"] == {"frames": None, "excluded": False}  # 2.x: no TimeInSeconds
    assert result["swap_chains"] == 2


def test_json_for_a_sampled_mangohud_log(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shared_captures / "mangohud_0.8_overwatch_rx9070xt_run1.csv"
    result = analyze_json(capsys, str(path))
    assert result["sampled"] is True
    assert result["frames"] == 298
    assert result["duration_s"] == pytest.approx(29.8212, abs=1e-4)


def test_process_option_picks_the_compositor(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = analyze_json(capsys, str(shared_captures / GOLD), "--process", "DWM.exe")
    assert result["frames"] == 358
    assert result["source"] == gold_source(shared_captures, "dwm.exe")


def test_table_names_source_and_lists_every_process(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(shared_captures / GOLD)]) == 0
    out = capsys.readouterr().out

    assert "PresentMon 2.x" in out
    assert "one per frame" in out
    assert "Process  PresentBench.exe" in out
    for name, count in (("dwm.exe", 358), ("PresentBench.exe", 265), ("steamwebhelper.exe", 24)):
        assert any(name in line and f"{count} frames" in line for line in out.splitlines())
    assert " ms" in out and " FPS" in out
    assert "Dropped" not in out
    assert "View     presented" in out
    assert "Shown    178 of 265 frames reached the screen" in out
    assert "Suspect  not checked" in out  # 2.x has no TimeInSeconds to check against
    assert "Breakdown" not in out


def test_table_shows_a_single_frame_over_budget(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(shared_captures / "ocat_MetroExodus_rtx2080ti.csv")]) == 0
    out = capsys.readouterr().out
    assert "over Immersive budget (16.67 ms)  0.04 % (1 of 2502)" in out


def test_table_counts_dropped_frame_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.csv"
    path.write_text("Application,ProcessID,MsBetweenPresents\ngame.exe,1,8\ngame.exe,1,NA\n")
    assert main(["analyze", str(path)]) == 0
    assert "Dropped  1 rows with no usable frame time" in capsys.readouterr().out


def test_unknown_format_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("a,b\n1,2\n")
    assert_one_line_failure(capsys, ["analyze", str(path)], 2, str(path), "MangoHud")


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gone.csv"
    assert_one_line_failure(capsys, ["analyze", str(path), "--json"], 2, str(path), "No such")


def test_mangohud_04_is_analysed_as_sampled(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shared_captures / "mangohud_0.4_issue287_excerpt.csv"
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert "MangoHud 0.4" in out.out and "sampled" in out.out


def test_unknown_process_exits_3(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["analyze", str(shared_captures / GOLD), "--process", "doom.exe"]
    assert_one_line_failure(capsys, argv, 3, "doom.exe", "PresentBench.exe")


@pytest.mark.parametrize("argv", [["analyze"], ["analyze", "x.csv", "--frobnicate"]])
def test_usage_mistakes_exit_64(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 64
    assert "Traceback" not in capsys.readouterr().err


def test_installed_command_on_a_real_capture(shared_captures: Path) -> None:
    command = Path(sys.executable).with_name("gearshift")
    if not command.exists():
        pytest.skip(f"no installed gearshift command beside {sys.executable}")
    path = shared_captures / "presentmon_1x_csgo.csv"

    done = subprocess.run(
        [str(command), "analyze", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    result = json.loads(done.stdout)
    assert result["frames"] == 4265
    assert result["source"]["process"] == "csgo.exe"
    assert result["duration_s"] == pytest.approx(36.168414)


def test_app_options_with_analyze_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--demo", "analyze", "whatever.csv"])
    assert exited.value.code == ExitCode.USAGE
    assert "do not go with analyze" in capsys.readouterr().err


def test_json_never_holds_infinity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "huge.csv"
    capture.write_text("Application,ProcessID,MsBetweenPresents\ng.exe,1,1e308\ng.exe,1,1e308\n")
    assert main(["analyze", str(capture), "--json"]) == 0
    out = capsys.readouterr().out
    assert "Infinity" not in out and "NaN" not in out
    assert json.loads(out)["duration_s"] is None


# ------------------------------------------------------------- the new metrics, on every format


def test_json_metrics_equal_numpy_on_every_readable_capture(
    shared_capture_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        frames = read_capture(shared_capture_file).select().frame_times_ms
    except CaptureError:
        pytest.skip(f"{shared_capture_file.name} is refused by its reader")
    result = analyze_json(capsys, str(shared_capture_file))

    assert result["min_ms"] == frames.min() and result["max_ms"] == frames.max()
    assert result["stddev_ms"] == pytest.approx(float(np.std(frames)), rel=1e-12)
    steps = np.abs(np.diff(frames))
    assert result["variability_ms"] == pytest.approx(float(steps.mean()), rel=1e-12)
    assert result["p99_ms"] == pytest.approx(float(np.percentile(frames, 99)), rel=1e-12)


def test_table_shows_spread_and_variability(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(shared_captures / "presentmon_1x_csgo.csv")]) == 0
    out = capsys.readouterr().out
    for label in ("shortest frame (min)", "longest frame (max)", "standard deviation"):
        assert re.search(rf"{re.escape(label)} +\d+\.\d\d ms", out), label
    assert re.search(r"frame-to-frame variability +\d+\.\d\d ms", out)


def test_a_single_frame_has_variability_null_and_na(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.csv"
    path.write_text("Application,ProcessID,MsBetweenPresents\ngame.exe,1,8\n")
    result = analyze_json(capsys, str(path))
    assert result["variability_ms"] is None and result["stddev_ms"] == 0.0
    assert main(["analyze", str(path)]) == 0
    assert re.search(r"frame-to-frame variability +N/A", capsys.readouterr().out)


# ------------------------------------------------------------------- views, drops and suspects

SUSPECT_CAPTURE = """\
Application,ProcessID,SwapChainAddress,Dropped,TimeInSeconds,MsBetweenPresents,MsBetweenDisplayChange
game.exe,1,0xA,0,0.010,10.0,10.0
game.exe,1,0xA,0,0.020,10.0,10.0
game.exe,1,0xA,0,0.030,1500.0,10.0
game.exe,1,0xA,1,0.040,10.0,0.0
game.exe,1,0xA,0,0.050,10.0,20.0
game.exe,1,0xA,0,0.060,NA,10.0
game.exe,1,0xB,0,0.070,12.0,10.0
"""
"""Written by hand in PresentMon 1.x's columns: a 1500 ms frame whose time stamp moved
10 ms (suspect), a frame the display dropped, a row with no presented frame time, and a
second swap chain."""


@pytest.fixture
def suspect_capture(tmp_path: Path) -> Path:
    path = tmp_path / "suspect.csv"
    path.write_text(SUSPECT_CAPTURE)
    return path


def test_suspect_frames_are_counted_and_used_unless_excluded(
    suspect_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    used = analyze_json(capsys, str(suspect_capture))
    assert used["frames"] == 6 and used["max_ms"] == 1500.0
    assert used["suspect"] == {"frames": 1, "excluded": False}
    assert used["dropped"] == {"invalid": 1, "not_displayed": 1}

    left_out = analyze_json(capsys, str(suspect_capture), "--exclude-suspect")
    assert left_out["frames"] == 5 and left_out["max_ms"] == 12.0
    assert left_out["suspect"] == {"frames": 1, "excluded": True}

    assert main(["analyze", str(suspect_capture)]) == 0
    out = capsys.readouterr().out
    assert "Suspect  1 frame of 1 s or more" in out and "--exclude-suspect leaves" in out
    assert "Dropped  1 rows with no usable frame time" in out
    assert main(["analyze", str(suspect_capture), "--exclude-suspect"]) == 0
    assert "left out (--exclude-suspect)" in capsys.readouterr().out


def test_displayed_view_leaves_out_frames_never_shown(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(shared_captures / "presentmon_1x_csgo.csv")
    displayed = read_capture(path).select().displayed_ms
    assert displayed is not None
    result = analyze_json(capsys, path, "--view", "displayed")
    assert result["view"] == "displayed"
    assert result["frames"] == displayed.size == 2170
    assert result["dropped"] == {"invalid": 0, "not_displayed": 4265 - 2170}
    assert result["p50_ms"] == pytest.approx(float(np.median(displayed)))

    assert main(["analyze", path, "--view", "DISPLAYED"]) == 0
    out = capsys.readouterr().out
    assert "View     displayed" in out
    assert "Shown    2170 of 4265 frames reached the screen; 2095 frames never shown" in out


def test_displayed_view_of_a_capture_without_it_exits_2(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(shared_captures / "mangohud_0.8_overwatch_rx9070xt_run1.csv")
    argv = ["analyze", path, "--view", "displayed"]
    assert_one_line_failure(capsys, argv, 2, path, "no displayed frame times", "--view presented")


def test_suspect_frames_do_not_enter_the_displayed_view(
    suspect_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = analyze_json(capsys, str(suspect_capture), "--view", "displayed", "--exclude-suspect")
    assert result["frames"] == 6  # 7 rows, one dropped by the display
    assert result["max_ms"] == 20.0
    assert result["suspect"] == {"frames": 1, "excluded": False}


# --------------------------------------------------------------------------- breakdowns


def test_breakdown_lists_every_process_and_swap_chain(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = read_capture(shared_captures / GOLD)
    result = analyze_json(capsys, str(shared_captures / GOLD), "--breakdown")
    parts = result["breakdown"]
    assert isinstance(parts, list)

    expected = []
    for process in capture.processes:
        expected.append((process.name, None, process.frame_count))
        expected += [(process.name, c.name, c.frame_count) for c in process.swap_chains]
    assert [(p["process"], p["swap_chain"], p["frames"]) for p in parts] == expected
    for process in capture.processes:
        chains = [p for p in parts if p["process"] == process.name and p["swap_chain"]]
        assert sum(p["frames"] for p in chains) in (0, process.frame_count)
        for part, chain in zip(chains, process.swap_chains, strict=True):
            assert part["p99_ms"] == pytest.approx(np.percentile(chain.frame_times_ms, 99))
            assert set(part) >= METRIC_KEYS


def test_breakdown_table_indents_swap_chains_under_their_process(
    suspect_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(suspect_capture), "--breakdown"]) == 0
    out = capsys.readouterr().out
    assert "Breakdown by process and swap chain (presented view" in out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Breakdown"))
    rows = [line.split() for line in lines[start + 2 :]]
    assert [row[:2] for row in rows] == [["game.exe", "6"], ["0xA", "5"], ["0xB", "1"]]
    assert lines[start + 3].startswith("    0xA")  # indented under game.exe
    assert rows[2][-1] == "N/A"  # one frame: no variability


# --------------------------------------------------------------------------- several files


def test_several_files_print_side_by_side(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["presentmon_1x_csgo.csv", "ocat_MetroExodus_rtx2080ti.csv"]
    assert main(["analyze", *(str(shared_captures / n) for n in names)]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].split() == names
    rows = {line[:36].strip(): line[36:].split() for line in lines[1:]}
    assert rows["process"] == ["csgo.exe", "MetroExodus.exe"]
    assert rows["frames (samples if sampled)"] == ["4265", "2502"]
    assert rows["never shown"] == ["2095", "0"]
    assert rows["average"] == ["117.9", "FPS", "98.6", "FPS"]
    over = "0.00 % (0 of 4265) 0.04 % (1 of 2502)"
    assert rows["over Immersive budget (16.67 ms)"] == over.split()
    assert all(len(line) <= 99 for line in lines)


def test_wide_side_by_side_tables_number_their_columns(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(p) for p in sorted(shared_captures.glob("*.csv"))]
    assert main(["analyze", *files]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[: len(files)] == [
        f"#{i}  {path}, {read_capture(path).select().name}" for i, path in enumerate(files, 1)
    ]
    assert lines[len(files) + 1].split() == [f"#{i}" for i in range(1, len(files) + 1)]


def test_several_files_as_json(shared_captures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(shared_captures / GOLD), str(shared_captures / "presentmon_1x_csgo.csv")]
    assert main(["analyze", *paths, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"captures", "errors"}
    assert result["errors"] == []
    assert [c["source"]["path"] for c in result["captures"]] == paths
    assert all(set(c) == JSON_KEYS for c in result["captures"])


def test_a_bad_file_among_several_is_reported_and_the_rest_analysed(
    shared_captures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "notes.csv"
    bad.write_text("a,b\n1,2\n")
    good = str(shared_captures / "presentmon_1x_csgo.csv")

    assert main(["analyze", good, str(bad)]) == 2
    out = capsys.readouterr()
    assert out.err.count("\n") == 1 and str(bad) in out.err and "Traceback" not in out.err
    assert out.out.splitlines()[0].split() == ["presentmon_1x_csgo.csv"]

    assert main(["analyze", str(bad), good, "--json"]) == 2
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert [c["source"]["path"] for c in result["captures"]] == [good]
    assert result["errors"] == [{"path": str(bad), "message": out.err.strip()[11:]}]


def test_a_missing_process_among_several_exits_3_unless_a_file_is_unreadable(
    shared_captures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gold, csgo = str(shared_captures / GOLD), str(shared_captures / "presentmon_1x_csgo.csv")
    assert main(["analyze", gold, csgo, "--process", "dwm.exe", "--json"]) == 3
    out = capsys.readouterr()
    assert [c["source"]["process"] for c in json.loads(out.out)["captures"]] == ["dwm.exe"]
    assert csgo in out.err and "dwm.exe" in out.err

    gone = str(tmp_path / "gone.csv")
    assert main(["analyze", gold, csgo, gone, "--process", "dwm.exe"]) == 2
    assert capsys.readouterr().err.count("\n") == 2


def test_every_file_failing_prints_nothing_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--csv"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 2


# --------------------------------------------------------------------------- CSV


def read_csv_output(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, str]]:
    assert main(["analyze", *argv, "--csv"]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    return list(csv.DictReader(io.StringIO(out.out)))


def test_csv_has_a_header_of_metric_names_and_a_row_per_capture(
    shared_captures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(shared_captures / n) for n in ("presentmon_1x_csgo.csv", GOLD)]
    rows = read_csv_output(capsys, *paths)
    assert [r["path"] for r in rows] == paths
    assert set(rows[0]) >= (METRIC_KEYS - {"over_budget_pct"}) | {
        "over_budget_pct_immersive",
        "over_budget_pct_competitive",
    }
    as_json = analyze_json(capsys, paths[0])
    for key in METRIC_KEYS - {"over_budget_pct"}:
        assert float(rows[0][key]) == pytest.approx(as_json[key], rel=1e-12), key
    assert rows[0]["process"] == "csgo.exe" and rows[0]["analysed"] == "true"
    assert rows[0]["not_displayed"] == "2095" and rows[0]["swap_chain"] == ""


def test_csv_leaves_missing_readings_empty_never_zero(
    shared_captures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = tmp_path / "one.csv"
    one.write_text("Application,ProcessID,MsBetweenPresents\ngame.exe,1,8\n")
    mangohud = str(shared_captures / "mangohud_0.8_overwatch_rx9070xt_run1.csv")
    rows = read_csv_output(capsys, str(one), mangohud)
    assert rows[0]["variability_ms"] == "" and rows[0]["stddev_ms"] == "0.0"
    assert rows[1]["not_displayed"] == "" and rows[1]["sampled"] == "true"


def test_csv_breakdown_has_a_row_per_process_and_swap_chain(
    suspect_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = read_csv_output(capsys, str(suspect_capture), "--breakdown")
    assert [(r["process"], r["swap_chain"], r["analysed"], r["frames"]) for r in rows] == [
        ("game.exe", "", "true", "6"),
        ("game.exe", "0xA", "false", "5"),
        ("game.exe", "0xB", "false", "1"),
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "x.csv", "--json", "--csv"],
        ["analyze", "x.csv", "--view", "shown"],
    ],
)
def test_conflicting_or_unknown_options_exit_64(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 64


def test_the_command_line_offers_the_capture_models_views() -> None:
    from gearshift.control.cli import FRAME_TIME_VIEWS
    from gearshift.frames.capture import PRESENTED, VIEWS

    assert FRAME_TIME_VIEWS == VIEWS and FRAME_TIME_VIEWS[0] == PRESENTED
