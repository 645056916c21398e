"""The tray app as a process: switched to Competitive, killed with SIGKILL, started
again: the start restores the machine from the journal and says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gearshift.control.client import ApiClient, NotRunningError
from tests.appenv import isolated
from tests.system.machine import make_tree, snapshot


def start_app(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gearshift", "--demo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_started(process: subprocess.Popen[str]) -> str:
    """The log up to the line saying the app runs."""
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        if "frame source" in line or not line:
            break
    return "".join(seen)


def switch_when_listening(socket: Path, mode: str) -> bool:
    """Ask the app for ``mode`` once its control API listens; True when it switched."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with ApiClient(socket, 10.0) as client:
                return client.request("switch", mode=mode, force=True).ok
        except NotRunningError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_a_killed_app_is_restored_by_its_next_start(tmp_path: Path) -> None:
    env = isolated(
        {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")},
        "gearshift-crash",
    )
    env.update(QT_QPA_PLATFORM="offscreen", GEARSHIFT_LOG_LEVEL="info")
    root = make_tree(Path(env["GEARSHIFT_SYSTEM_ROOT"]))
    before = snapshot(root)

    first = start_app(env)
    try:
        wait_started(first)
        assert switch_when_listening(Path(env["GEARSHIFT_SOCKET"]), "competitive")
        governor = root / "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"
        assert governor.read_text() == "performance\n"
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    assert snapshot(root) != before  # nothing reverted it: the app was killed

    second = start_app(env)
    try:
        log = wait_started(second)
        assert snapshot(root) == before
        assert "Restored what an earlier run left applied" in log
        assert "CPU governor performance" in log
        second.send_signal(signal.SIGTERM)
        _out, err = second.communicate(timeout=30)
    finally:
        second.kill()
    assert second.returncode == 0, err
    assert snapshot(root) == before
