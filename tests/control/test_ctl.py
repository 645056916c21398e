"""``gearshift ctl`` as a script runs it: a process, its output and its exit status."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gearshift.control.exitcodes import ExitCode
from gearshift.control.server import Limits
from tests.appenv import isolated
from tests.control.rig import ServedApp
from tests.fakes.actions import FakeMachine


def ctl(socket_path: Path, *args: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gearshift", "ctl", "--socket", str(socket_path), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def one_line_error(run: subprocess.CompletedProcess[str]) -> str:
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    return run.stderr


class RunningApp:
    """The real tray app, offscreen, with a demo feed and its own control socket."""

    def __init__(self) -> None:
        self.env = isolated(
            {
                **os.environ,
                "QT_QPA_PLATFORM": "offscreen",
                "GEARSHIFT_LOG_LEVEL": "info",
                "GEARSHIFT_FAKE_GPU": "rtx4070-laptop",
            },
            "gearshift-ctl-test",
        )
        self.socket_path = Path(self.env["GEARSHIFT_SOCKET"])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gearshift", "--demo"],
            env=self.env,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while not self.socket_path.exists():
            assert self.process.poll() is None, self.process.stderr.read()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the control socket never appeared"
            time.sleep(0.05)

    def quit(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        _out, err = self.process.communicate(timeout=30)
        return err


@pytest.fixture(scope="module")
def app() -> Iterator[RunningApp]:
    running = RunningApp()
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def test_status_of_the_running_app(app: RunningApp) -> None:
    run = ctl(app.socket_path, "status")
    assert run.returncode == ExitCode.OK, run.stderr
    lines = dict(line.split(None, 1) for line in run.stdout.splitlines())
    assert lines["Mode"].startswith("Immersive")
    assert lines["Target"] == "60-120 FPS, budget 16.67 ms"
    assert lines["GPU"].startswith(
        "GPU 0 NVIDIA GeForce RTX 4070 Laptop GPU (the only NVIDIA GPU): gpu utilisation 0 %,"
    )
    assert "fan N/A" in lines["GPU"]  # a laptop GPU reports no fan
    assert lines["Preset"].startswith("high (GeForce RTX 4070 Laptop GPU, 8 GB, 55 W: high")


def test_switch_then_cooldown_then_force(app: RunningApp) -> None:
    switched = ctl(app.socket_path, "switch", "competitive")
    assert switched.returncode == ExitCode.OK, switched.stderr
    assert switched.stdout.startswith("Switched to Competitive in ")

    refused = ctl(app.socket_path, "switch", "Immersive")
    assert refused.returncode == ExitCode.COOLDOWN
    assert "Cooling down" in one_line_error(refused)
    assert refused.stderr.rstrip().endswith("force (gearshift ctl switch --force) switches now")

    forced = ctl(app.socket_path, "switch", "immersive", "--force", "--json")
    assert forced.returncode == ExitCode.OK
    assert json.loads(forced.stdout)["outcome"] == "switched"

    status = json.loads(ctl(app.socket_path, "status", "--json").stdout)
    assert status["mode"] == "immersive"
    assert status["frames"]["frames"] > 0  # the demo feed is live
    gpu = status["gpu"]
    assert gpu["available"] is True and gpu["name"] == "NVIDIA GeForce RTX 4070 Laptop GPU"
    assert gpu["readings"]["temperature_c"] == 42 and gpu["readings"]["fan_pct"] is None


def test_health_json_lists_the_tray(app: RunningApp) -> None:
    run = ctl(app.socket_path, "health", "--json")
    assert run.returncode == ExitCode.OK
    subsystems = json.loads(run.stdout)["subsystems"]
    assert subsystems["tray"]["state"] == "unavailable"  # offscreen has no tray
    assert subsystems["frames"]["state"] == "ok"
    assert subsystems["gpu"]["state"] == "ok"
    # The app looked for other tuning tools; its buses point at nothing in tests.
    system = subsystems["system"]
    assert system["state"] == "ok"
    assert "could not check the system bus" in system["reason"]


def test_watch_streams_events_until_interrupted(app: RunningApp) -> None:
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gearshift",
            "ctl",
            "--socket",
            str(app.socket_path),
            "watch",
            "--json",
            "--rate",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watcher.stdout is not None
    first = json.loads(watcher.stdout.readline())
    assert first["event"] == "budget"
    assert ctl(app.socket_path, "switch", "toggle", "--force").returncode == ExitCode.OK
    events = [json.loads(watcher.stdout.readline()) for _ in range(8)]
    watcher.send_signal(signal.SIGINT)
    _out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == ExitCode.OK, err
    assert "mode_changed" in [e["event"] for e in events]


def test_after_quit_ctl_says_not_running_and_the_socket_is_gone(app: RunningApp) -> None:
    err = app.quit()
    assert app.process.returncode == 0, err
    assert not app.socket_path.exists()
    run = ctl(app.socket_path, "status")
    assert run.returncode == ExitCode.NOT_RUNNING
    assert "not running" in one_line_error(run)


def test_a_busy_switch_exits_busy(socket_path: Path) -> None:
    served = ServedApp(socket_path, machine=FakeMachine(apply_delay_s=1.5))
    try:
        slow = threading.Thread(target=ctl, args=(socket_path, "switch", "competitive"))
        slow.start()
        time.sleep(0.6)
        run = ctl(socket_path, "switch", "immersive")
        slow.join(30)
    finally:
        served.close()
    assert run.returncode == ExitCode.BUSY
    assert "Busy" in one_line_error(run)


def test_a_rolled_back_switch_exits_rolled_back(socket_path: Path) -> None:
    served = ServedApp(socket_path, machine=FakeMachine(fail_apply={"governor=performance"}))
    try:
        run = ctl(socket_path, "switch", "competitive")
    finally:
        served.close()
    assert run.returncode == ExitCode.ROLLED_BACK
    assert "governor=performance" in one_line_error(run)


def test_a_rate_limited_switch_exits_rate_limited(socket_path: Path) -> None:
    served = ServedApp(socket_path, limits=Limits(all_switches_per_s=0.1, all_switch_burst=1))
    try:
        assert ctl(socket_path, "switch", "toggle").returncode == ExitCode.OK
        run = ctl(socket_path, "switch", "toggle")
    finally:
        served.close()
    assert run.returncode == ExitCode.RATE_LIMITED
    assert "try again in" in one_line_error(run)


def test_an_app_speaking_another_protocol_exits_bad_request(socket_path: Path) -> None:
    socket_path.parent.mkdir(mode=0o700)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(socket_path))
    listener.listen()

    def answer_once() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.makefile("rb").readline()
            error = {
                "code": "unsupported_version",
                "message": 'protocol version 1 is not spoken here: use "v": 2',
                "fields": ["v"],
            }
            connection.sendall(
                json.dumps({"v": 1, "id": 1, "ok": False, "error": error}).encode() + b"\n"
            )

    server = threading.Thread(target=answer_once)
    server.start()
    try:
        run = ctl(socket_path, "status")
    finally:
        server.join(10)
        listener.close()
    assert run.returncode == ExitCode.BAD_REQUEST
    assert "protocol version" in one_line_error(run)


def test_no_app_exits_not_running(socket_path: Path) -> None:
    run = ctl(socket_path, "health")
    assert run.returncode == ExitCode.NOT_RUNNING
    assert str(socket_path) in one_line_error(run)


@pytest.mark.parametrize(
    "args",
    [
        ["switch", "fast"],
        ["switch"],
        ["watch", "--rate", "0"],
        ["watch", "--rate", "nan"],
        ["watch", "--events", "frames"],
        ["reboot"],
    ],
)
def test_usage_mistakes_exit_64_before_connecting(socket_path: Path, args: list[str]) -> None:
    run = ctl(socket_path, *args)
    assert run.returncode == ExitCode.USAGE
    assert run.stderr.count("\n") == 1
