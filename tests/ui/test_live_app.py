"""The running app on live sources: a growing MangoHud log and the ingest socket move
the window's frame rate; with nothing sending, the window says what to do.

The first tests run the app offscreen in this process (the AppRig's loop, a live
source of the real feeds on files and a socket in tmp_path); the last one starts
``python -m gearshift`` as a player would and asks it through ``gearshift ctl``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from pytestqt.qtbot import QtBot

from gearshift.config import AdvancedSettings, Settings, SettingsStore
from gearshift.control.exitcodes import ExitCode
from gearshift.control.service import ControlService
from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from gearshift.frames.follow import MangoHudFeed
from gearshift.frames.ingest import IngestAddress, IngestFeed
from gearshift.frames.live import INGEST_OFF_NOTE, LiveSources
from gearshift.frames.sources import FrameSource
from gearshift.ui.app import GearshiftApp, follow_ingest_setting
from gearshift.ui.controller import AppController
from tests.appenv import isolated
from tests.fakes.clock import FakeClock
from tests.ui.conftest import AppRig

SYSTEM_INFO = "os,cpu,gpu,ram,kernel,driver\nLinux,Ryzen,Radeon,32,6.1,Mesa\n"
HEADER = "fps,frametime,cpu_load,gpu_load,elapsed\n"


class LiveRig(AppRig):
    """The app as AppRig runs it, on the frame source the test gives."""

    def __init__(self, loop: qasync.QEventLoop, qtbot: QtBot, source: FrameSource) -> None:
        self.loop = loop
        self.qtbot = qtbot
        self.monitor = BudgetMonitor(DEFAULT_PROFILES[PerformanceMode.IMMERSIVE].budget_ms)
        self.events = EventBus()
        self.manager = ModeManager(
            core_action_builders(self.monitor), self.events, clock=FakeClock()
        )
        self.controller = AppController(source, self.manager, self.monitor, self.events)
        self.app = GearshiftApp(self.controller, tray_available=False)
        self.run_task = None


@pytest.fixture
def live_rig(
    loop: qasync.QEventLoop, qtbot: QtBot, tmp_path: Path
) -> Iterator[tuple[LiveRig, Path, Path]]:
    """The app listening to MangoHud logs in tmp_path/logs and a socket in tmp_path."""
    logs = tmp_path / "logs"
    logs.mkdir()
    path = tmp_path / "ingest.sock"
    feeds = [
        MangoHudFeed([logs], pid_of=lambda _name: None, scan_s=0.1),
        IngestFeed(IngestAddress(path), name_of=lambda _pid: "engine"),
    ]
    rig = LiveRig(loop, qtbot, LiveSources(feeds, live_timeout_s=0.5))
    rig.start()
    yield rig, logs, path
    if rig.run_task is not None and not rig.run_task.done():
        rig.quit()


def shown_fps(rig: AppRig) -> float | None:
    """The frame rate the window's source line shows, or None."""
    text = rig.app.window.source_label.text()
    if not text.endswith(" FPS"):
        return None
    return float(text.rsplit(" · ", 1)[1].split()[0])


def test_the_window_waits_with_what_to_do_then_follows_log_and_socket(
    live_rig: tuple[LiveRig, Path, Path],
) -> None:
    rig, logs, path = live_rig
    window = rig.app.window
    rig.wait_for(lambda: window.waiting_label.isVisible())
    waiting = window.waiting_label.text()
    assert "waiting for frames" in window.source_label.text()
    assert "MangoHud" in waiting and str(logs) in waiting and str(path) in waiting

    # A game starts logging with MangoHud, one row a frame at 200 FPS.
    log = logs / "cs2_2025-11-30_20-10-00.csv"
    log.write_text(SYSTEM_INFO + HEADER)
    elapsed_ns = 0
    for _ in range(40):
        rows = []
        for _frame in range(20):
            elapsed_ns += 5_000_000
            rows.append(f"200.0,5.0,20,90,{elapsed_ns}\n")
        with log.open("a") as out:
            out.write("".join(rows))
        rig.qtbot.wait(25)
        if shown_fps(rig) is not None:
            break
    rig.wait_for(lambda: "MangoHud log cs2_2025-11-30_20-10-00.csv" in window.source_label.text())
    assert shown_fps(rig) == pytest.approx(200, abs=1)
    assert not window.waiting_label.isVisible()
    rig.wait_for(lambda: "200" in window.avg_fps.text())

    # The log stops; an engine sends its frames at 500 FPS to the socket.
    def window_fps() -> float:
        return float(window.avg_fps.text().split()[1])

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
        end = time.monotonic() + 5
        while "ingest socket: engine" not in window.source_label.text() or window_fps() < 300:
            assert time.monotonic() < end, (window.source_label.text(), window.avg_fps.text())
            out.sendto(b"GS1 0 " + b"2.0 " * 10, str(path))
            rig.qtbot.wait(10)
    assert shown_fps(rig) == pytest.approx(500, abs=1)

    service = ControlService(
        rig.manager,
        rig.events,
        rig.monitor,
        source_label="unused",
        source_status=rig.controller.source.status,
    )
    health = service.health().subsystems["frames"]
    assert health.state == "ok" and health.reason is not None
    assert health.reason.startswith("live: ingest socket: engine")
    assert service.status().frames.source.startswith("ingest socket: engine")


def test_the_ingest_setting_turns_the_socket_off_and_on(tmp_path: Path) -> None:
    path = tmp_path / "ingest.sock"
    source = LiveSources(
        [IngestFeed(IngestAddress(path))], threaded=False, off_notes={"ingest": INGEST_OFF_NOTE}
    )
    store = SettingsStore.in_memory(Settings(advanced=AdvancedSettings(ingest_socket=False)))
    follow_ingest_setting(source, store)
    source.poll_feeds(0.0)
    assert not path.exists()
    assert source.status().problems == (INGEST_OFF_NOTE,)
    assert "advanced.ingest_socket" in INGEST_OFF_NOTE
    store.save(Settings())
    source.poll_feeds(0.1)
    assert path.exists() and source.status().problems == ()
    source.stop()
    assert not path.exists()


def test_the_app_started_plainly_listens_and_the_socket_moves_its_frame_rate(
    tmp_path: Path,
) -> None:
    """``python -m gearshift`` with no source option: waiting, then live on the socket
    beside the control socket, as ``gearshift ctl`` reports."""
    env = isolated(dict(os.environ), "gearshift-live-test")
    env.update(
        QT_QPA_PLATFORM="offscreen",
        GEARSHIFT_MANGOHUD_DIR=str(tmp_path),
        GEARSHIFT_LOG_LEVEL="info",
    )
    ingest = Path(env["GEARSHIFT_SOCKET"]).parent / "ingest.sock"
    app = subprocess.Popen(
        [sys.executable, "-m", "gearshift"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        health = wait_for_ctl(env, "health", lambda h: "frames" in h["subsystems"])
        frames = health["subsystems"]["frames"]
        assert frames["state"] == "degraded"
        assert (
            frames["reason"].startswith("waiting for frames") and str(ingest) in frames["reason"]
        )

        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
            end = time.monotonic() + 10
            status: dict = {}
            while time.monotonic() < end:
                for _ in range(5):
                    out.sendto(b"GS1 0 4.0 4.0", str(ingest))
                status = ctl(env, "status")
                if (status["frames"]["avg_fps"] or 0) > 0:
                    break
                time.sleep(0.02)
        assert status["frames"]["avg_fps"] == pytest.approx(250)
        assert status["frames"]["source"].endswith(f"(pid {os.getpid()})")
    finally:
        app.terminate()
        _out, err = app.communicate(timeout=30)
    assert app.returncode == 0, err
    assert "frames from ingest socket" in err and "Traceback" not in err
    assert not ingest.exists()


def ctl(env: dict[str, str], action: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "gearshift", "ctl", action, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(done.stdout) if done.returncode == 0 else {}


def wait_for_ctl(env: dict[str, str], action: str, ready: object, timeout_s: float = 30) -> dict:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        answer = ctl(env, action)
        if answer and ready(answer):  # type: ignore[operator]
            return answer
        time.sleep(0.1)
    raise AssertionError(f"gearshift ctl {action} did not answer in {timeout_s} s")


def test_the_graph_draws_on_the_stats_schedule_and_not_while_hidden(rig: AppRig) -> None:
    """At the demo's ~144 FPS the graph is drawn about ten times a second, not once a
    frame; hidden (to the tray), it is not drawn at all while the statistics go on."""
    window = rig.app.window
    drawn: list[int] = []
    draw = window.graph.show_stats
    window.graph.show_stats = lambda stats: (drawn.append(stats.frames), draw(stats))[1]

    def frames_seen() -> int:
        return rig.controller.frame_histogram.snapshot().count

    rig.wait_for(lambda: len(drawn) >= 1)
    drawn.clear()
    frames_before, start_s = frames_seen(), time.monotonic()
    rig.qtbot.wait(600)
    span_s = time.monotonic() - start_s
    assert frames_seen() - frames_before > 50
    assert 3 <= len(drawn) <= 12 * span_s + 1  # the 10 Hz schedule, not 144 a second

    window.hide()
    drawn.clear()
    frames_before = frames_seen()
    rig.qtbot.wait(400)
    assert drawn == [] and frames_seen() > frames_before


PRESENTMON_HEADER = "Application,ProcessID,SwapChainAddress,Runtime,MsBetweenPresents\n"


def app_env(tmp_path: Path, name: str) -> dict[str, str]:
    env = isolated(dict(os.environ), name)
    env.update(
        QT_QPA_PLATFORM="offscreen",
        GEARSHIFT_MANGOHUD_DIR=str(tmp_path),
        GEARSHIFT_LOG_LEVEL="info",
    )
    return env


def test_presentmon_piped_into_the_app_is_followed(tmp_path: Path) -> None:
    """``PresentMon --output_stdout | gearshift --follow -``, with this test as PresentMon."""
    env = app_env(tmp_path, "gearshift-follow-test")
    app = subprocess.Popen(
        [sys.executable, "-m", "gearshift", "--follow", "-"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert app.stdin is not None
    try:
        wait_for_ctl(env, "health", lambda h: "frames" in h["subsystems"])
        app.stdin.write(PRESENTMON_HEADER)
        status: dict = {}
        end = time.monotonic() + 10
        while not (status.get("frames") or {}).get("avg_fps") and time.monotonic() < end:
            rows = "dwm.exe,900,0x1,DXGI,16.667\n" + "cs2.exe,4242,0x2,DXGI,3.125\n" * 20
            app.stdin.write(rows)
            app.stdin.flush()
            status = ctl(env, "status")
        assert status["frames"]["avg_fps"] == pytest.approx(320)
        assert status["frames"]["source"] == "PresentMon (standard input): cs2.exe"
    finally:
        app.stdin.close()
        app.terminate()
        app.wait(timeout=30)
    assert app.stderr is not None
    err = app.stderr.read()
    app.stderr.close()
    assert app.returncode == 0, err
    assert "frames from PresentMon (standard input): cs2.exe" in err


def test_follow_refuses_a_terminal_or_a_folder_in_one_line(tmp_path: Path) -> None:
    env = app_env(tmp_path, "gearshift-follow-refused")
    primary, secondary = os.openpty()
    try:
        terminal = subprocess.run(
            [sys.executable, "-m", "gearshift", "--follow", "-"],
            env=env,
            stdin=secondary,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        os.close(primary)
        os.close(secondary)
    folder = subprocess.run(
        [sys.executable, "-m", "gearshift", "--follow", str(tmp_path)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    for refused, words in ((terminal, "standard input is a terminal"), (folder, "is a folder")):
        assert refused.returncode == ExitCode.USAGE
        assert refused.stderr.count("\n") == 1 and words in refused.stderr
        assert "Traceback" not in refused.stderr
