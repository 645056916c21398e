"""What the running app itself costs while a game runs: CPU and peak memory of the
Gearshift process fed 500 frames a second through the ingest socket.

    .venv/bin/python bench/overhead.py                 # 60 s a phase, as the goal says
    .venv/bin/python bench/overhead.py --seconds 15    # a quicker look

Two phases, each a fresh ``python -m gearshift`` with its own settings, control socket
and ingest socket (nothing of the user's is touched):

- hidden: started minimised to the tray (``general.start_minimised``), so only the tray
  icon shows; the graph must not draw at all;
- shown: the window open, the frame-time graph and the GPU panel drawing.

The bench plays a game engine: one datagram a frame (the most work for the app) at
``--fps`` for ``--seconds``, after a few seconds of warm-up that are not measured. The
app's CPU time (every thread, user and system) over the measured span is divided by the
span: 1.0 % means a hundredth of one core. Peak memory is the kernel's high-water mark
of the app's resident set (VmHWM), start-up included.

A tray needs a real X server: on Linux with Xvfb and trayer installed the phases run on
a private Xvfb (display :131 to :139) with trayer as the tray host, and both are
stopped afterwards. Without them the app runs offscreen, where there is no tray, so the
hidden phase is N/A. The X server's own work (compositing the window) is not counted:
it is the desktop's cost, not Gearshift's.

How often the app must wake to read the socket depends on the kernel's datagram queue,
``net.unix.max_dgram_qlen``: 10 by the kernel's default, 512 where systemd sets it (most
desktop distributions). As root, a private network namespace measures the latter
without touching the machine's own setting:

    unshare -n sh -c 'echo 512 > /proc/sys/net/unix/max_dgram_qlen && \
        .venv/bin/python bench/overhead.py'

Goals: hidden under 1 % of one core, shown under 5 %, under 200 MB resident.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from gearshift.frames.ingest import unix_queue_datagrams

ROOT = Path(__file__).resolve().parents[1]
DISPLAYS = range(131, 140)
WARM_UP_S = 5.0
GOALS = {"hidden": 1.0, "shown": 5.0}
"""CPU goals, percent of one core."""
RSS_GOAL_MB = 200.0


@dataclass(frozen=True)
class Phase:
    """One measured run of the app."""

    name: str
    batch: int
    cpu_pct: float
    peak_rss_mb: float
    app_fps: float | None
    source: str
    sent: int
    refused: int
    minimised: bool


class Sender(threading.Thread):
    """Sends frames at a steady rate, ``batch`` to a datagram, never blocking (as a game
    should: a full queue refuses the datagram, which is counted)."""

    def __init__(self, path: Path, fps: float, batch: int = 1) -> None:
        super().__init__(name="bench-sender", daemon=True)
        self.path = str(path)
        self.period_s = batch / fps
        self.frame = ("GS1 0" + f" {1000.0 / fps:.3f}" * batch).encode()
        self.sent = 0
        self.refused = 0
        self._halt = threading.Event()

    def run(self) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
            out.setblocking(False)
            start_s = time.monotonic()
            due = 0
            while not self._halt.is_set():
                elapsed_s = time.monotonic() - start_s
                while due * self.period_s <= elapsed_s:
                    try:
                        out.sendto(self.frame, self.path)
                        self.sent += 1
                    except (BlockingIOError, ConnectionRefusedError, FileNotFoundError):
                        self.refused += 1
                    due += 1
                time.sleep(max(0.0, due * self.period_s - (time.monotonic() - start_s)))

    def stop(self) -> None:
        self._halt.set()
        self.join()


def isolated_env(folder: Path, minimised: bool, display: str | None) -> dict[str, str]:
    """The app's environment: its own settings, sockets and an empty MangoHud folder."""
    settings = folder / "settings.toml"
    settings.write_text(f"version = 2\n[general]\nstart_minimised = {str(minimised).lower()}\n")
    (folder / "mangohud").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEARSHIFT_", "QT_"))}
    env.update(
        GEARSHIFT_INSTANCE=f"bench-overhead-{os.getpid()}-{folder.name}",
        GEARSHIFT_SOCKET=str(folder / "run" / "control.sock"),
        GEARSHIFT_SETTINGS=str(settings),
        GEARSHIFT_MANGOHUD_DIR=str(folder / "mangohud"),
        GEARSHIFT_LOG_LEVEL="info",
    )
    if display is None:
        env["QT_QPA_PLATFORM"] = "offscreen"
        env.pop("DISPLAY", None)
    else:
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        env.pop("WAYLAND_DISPLAY", None)
    return env


def ctl(env: dict[str, str], action: str) -> dict | None:
    done = subprocess.run(
        [sys.executable, "-m", "gearshift", "ctl", action, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(done.stdout) if done.returncode == 0 else None


def wait_until_listening(env: dict[str, str], ingest: Path, app: subprocess.Popen[str]) -> None:
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if app.poll() is not None:
            raise SystemExit(f"the app exited with {app.returncode} before it listened")
        if ingest.exists() and ctl(env, "health") is not None:
            return
        time.sleep(0.2)
    raise SystemExit("the app did not open its ingest socket within 60 s")


def peak_rss_mb(process: psutil.Process) -> float:
    """The kernel's high-water mark of the resident set (Linux), else the RSS now."""
    status = Path(f"/proc/{process.pid}/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return process.memory_info().rss / 2**20


def run_phase(name: str, seconds: float, fps: float, display: str | None, batch: int = 1) -> Phase:
    minimised = name == "hidden"
    with tempfile.TemporaryDirectory(prefix="gs-") as scratch:
        folder = Path(scratch)
        env = isolated_env(folder, minimised, display)
        ingest = folder / "run" / "ingest.sock"
        log = (folder / "app.log").open("w+")
        app = subprocess.Popen(
            [sys.executable, "-m", "gearshift"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        try:
            wait_until_listening(env, ingest, app)
            process = psutil.Process(app.pid)
            sender = Sender(ingest, fps, batch)
            sender.start()
            time.sleep(WARM_UP_S)
            before = process.cpu_times()
            start_s = time.monotonic()
            time.sleep(seconds)
            after = process.cpu_times()
            span_s = time.monotonic() - start_s
            sender.stop()
            status = ctl(env, "status") or {}
            peak = peak_rss_mb(process)
        finally:
            app.terminate()
            app.wait(timeout=30)
        log.seek(0)
        minimised_here = "started minimised to the tray" in log.read()
        log.close()
    used_s = (after.user + after.system) - (before.user + before.system)
    frames = status.get("frames") or {}
    return Phase(
        name,
        batch,
        100.0 * used_s / span_s,
        peak,
        frames.get("avg_fps"),
        frames.get("source", "N/A"),
        sender.sent,
        sender.refused,
        minimised_here,
    )


@contextlib.contextmanager
def private_x() -> Iterator[str | None]:
    """A private Xvfb with trayer as tray host, or None when either is missing."""
    if not (sys.platform.startswith("linux") and shutil.which("Xvfb") and shutil.which("trayer")):
        yield None
        return
    number = next((n for n in DISPLAYS if not Path(f"/tmp/.X{n}-lock").exists()), None)
    if number is None:
        yield None
        return
    display = f":{number}"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    trayer = None
    try:
        end = time.monotonic() + 15
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if time.monotonic() > end:
                raise SystemExit(f"Xvfb did not start on {display}")
            time.sleep(0.05)
        env = {**os.environ, "DISPLAY": display}
        trayer = subprocess.Popen(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            [sys.executable, "tests/x11/xtools.py", "wait-tray", "15"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        yield display
    finally:
        for process in (trayer, xvfb):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured span a phase")
    parser.add_argument("--fps", type=float, default=500.0, help="frames a second sent")
    parser.add_argument(
        "--batch",
        default="1,10",
        help="frames a datagram, a run for each of a comma-separated list (default 1,10: "
        "one datagram a frame, then one every 20 ms as docs/ingest.md advises above 100 FPS)",
    )
    args = parser.parse_args()

    with private_x() as display:
        where = f"xcb on a private Xvfb {display} with trayer" if display else "offscreen"
        print(
            f"Gearshift's own cost: ingest socket fed {args.fps:g} FPS, {args.seconds:g} s "
            f"measured a phase after {WARM_UP_S:g} s warm-up; {where}; datagram queue "
            f"{unix_queue_datagrams()}"
        )
        phases = []
        for batch in (int(part) for part in args.batch.split(",")):
            for name in ("hidden", "shown"):
                if name == "hidden" and display is None:
                    print("hidden: N/A (no tray here: needs Xvfb and trayer)")
                    continue
                phases.append(run_phase(name, args.seconds, args.fps, display, batch))

    report(phases)


def report(phases: list[Phase]) -> None:
    """One line a phase: the figures, the goals, and what the app saw."""
    print(
        f"{'phase':<7} {'frames a datagram':>17} {'CPU, % of a core':>17} {'peak RSS':>9}"
        f" {'app saw':>8} {'sent':>6} {'refused':>7}  goals met"
    )
    for phase in phases:
        fps = "N/A" if phase.app_fps is None else f"{phase.app_fps:.0f}"
        cpu_goal = GOALS[phase.name]
        met = [
            f"CPU < {cpu_goal:g}%: {'yes' if phase.cpu_pct < cpu_goal else 'NO'}",
            f"RSS < {RSS_GOAL_MB:g} MB: {'yes' if phase.peak_rss_mb < RSS_GOAL_MB else 'NO'}",
        ]
        print(
            f"{phase.name:<7} {phase.batch:>17} {phase.cpu_pct:>16.2f}%"
            f" {phase.peak_rss_mb:>6.0f} MB {fps:>4} FPS {phase.sent:>6} {phase.refused:>7}"
            f"  {', '.join(met)}"
        )
        if phase.name == "hidden" and not phase.minimised:
            print("  note: the app did not start minimised, so its window was shown")
    if phases:
        print(f"source the app followed: {phases[-1].source}")


if __name__ == "__main__":
    main()
