"""``gearshift analyze``: the JSON contract, the table, and one clear line per failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gearshift.__main__ import main
from gearshift.control.exitcodes import ExitCode

JSON_KEYS = {
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
    "over_budget_pct",
    "source",
    "sampled",
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


def test_mangohud_04_exits_2(shared_captures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_captures / "mangohud_0.4_issue287_excerpt.csv"
    assert_one_line_failure(capsys, ["analyze", str(path)], 2, "0.4 layout")


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
