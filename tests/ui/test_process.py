"""The app as a process: no display, a bad capture, a clean quit on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gearshift.control.exitcodes import ExitCode
from tests.appenv import isolated


def gearshift(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gearshift", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env = isolated(env, "gearshift-test")
    env.update(extra)
    return env


def test_no_display_says_so_in_one_line(tmp_path: Path) -> None:
    process = gearshift(env=clean_env(tmp_path))
    _out, err = process.communicate(timeout=30)
    assert process.returncode == ExitCode.NO_DISPLAY
    assert err.count("\n") == 1 and "no display" in err and "gearshift analyze" in err


def test_display_with_no_x_server_behind_it_says_so(tmp_path: Path) -> None:
    process = gearshift("--demo", env=clean_env(tmp_path, DISPLAY=":187"))
    _out, err = process.communicate(timeout=30)
    assert process.returncode == ExitCode.NO_DISPLAY
    assert err.count("\n") == 1 and "no X server answers on DISPLAY=:187" in err


def test_unreadable_replay_exits_2_without_traceback(tmp_path: Path) -> None:
    capture = tmp_path / "notes.csv"
    capture.write_text("hello,world\n1,2\n")
    env = clean_env(tmp_path, QT_QPA_PLATFORM="offscreen")
    process = gearshift("--replay", str(capture), env=env)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == ExitCode.CAPTURE_UNREADABLE
    assert "Traceback" not in err and str(capture) in err


def test_sigterm_quits_cleanly_after_reverting(tmp_path: Path) -> None:
    env = clean_env(tmp_path, QT_QPA_PLATFORM="offscreen", GEARSHIFT_LOG_LEVEL="info")
    process = gearshift("--demo", env=env)
    try:
        deadline = time.monotonic() + 30
        assert process.stderr is not None
        line = ""
        while "frame source" not in line and time.monotonic() < deadline:
            line = process.stderr.readline()
        time.sleep(2.0)  # long enough for many graph redraws
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "quitting" in err and "stopped; 0 action(s) could not be undone" in err
    assert "Traceback" not in err and "Fatal" not in err


@pytest.mark.parametrize("argv", [["--bogus"], ["analyze"], ["analyze", "x.csv", "--bogus"]])
def test_usage_mistakes_exit_64_with_one_line(argv: list[str], tmp_path: Path) -> None:
    process = gearshift(*argv, env=clean_env(tmp_path))
    _out, err = process.communicate(timeout=30)
    assert process.returncode == ExitCode.USAGE
    assert err.count("\n") == 1 and "--help" in err
