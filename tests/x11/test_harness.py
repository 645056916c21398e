"""Proof that the real-X harness works, with a throwaway tray app instead of Gearshift.

A tiny Qt script puts an icon in trayer's panel; the test clicks it like a player would
and reads what the script printed. If this fails, the Gearshift tests here cannot pass
either, and the fault is in the harness (Xvfb, trayer, xdotool), not in the app.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.x11.xtools import (
    Window,
    click,
    find_tray_icon,
    press_keys,
    screenshot,
    stop_process,
    top_level_windows,
    tray_host,
    wait_until,
)

PROBE_NAME = "gearshift-tray-probe"
"""The probe's application name; Qt uses it as the title and WM_CLASS of its windows."""

PROBE_SOURCE = textwrap.dedent(
    f"""
    import sys

    from PySide6.QtGui import QColor, QIcon, QPixmap
    from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

    app = QApplication(sys.argv)
    app.setApplicationName({PROBE_NAME!r})

    pixmap = QPixmap(22, 22)
    pixmap.fill(QColor("teal"))
    icon = QSystemTrayIcon(QIcon(pixmap))

    menu = QMenu()
    menu.addAction("Say menu").triggered.connect(lambda: print("menu", flush=True))
    icon.setContextMenu(menu)

    def on_activated(reason):
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            print("clicked", flush=True)

    icon.activated.connect(on_activated)
    icon.show()
    print("ready", flush=True)
    sys.exit(app.exec())
    """
)


class Probe:
    """The probe script running as a child process, its output going to files."""

    def __init__(self, workdir: Path) -> None:
        script = workdir / "tray_probe.py"
        script.write_text(PROBE_SOURCE, encoding="utf-8")
        self.stdout_path = workdir / "probe.out"
        self.stderr_path = workdir / "probe.err"

        # Qt picks a StatusNotifierItem tray over XEmbed when a D-Bus session offers a
        # watcher; trayer speaks only XEmbed, so keep the probe off any session bus.
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(script)], stdout=stdout, stderr=stderr, env=env
            )

    def lines(self) -> list[str]:
        """What the probe has printed so far, one entry a line."""
        return self.stdout_path.read_text(encoding="utf-8").splitlines()

    def wait_for_line(self, expected: str, timeout_s: float = 10.0) -> None:
        """Wait until the probe prints `expected`; fail with its output if it never does."""
        try:
            wait_until(
                lambda: expected in self.lines() or self.process.poll() is not None,
                timeout_s=timeout_s,
                what=f"the probe to print {expected!r}",
            )
        except TimeoutError as error:
            pytest.fail(f"{error}; {self.describe()}", pytrace=False)

        if expected not in self.lines():
            pytest.fail(f"the probe exited before printing {expected!r}; {self.describe()}")

    def describe(self) -> str:
        """The probe's state and output, for failure messages."""
        stderr = self.stderr_path.read_text(encoding="utf-8", errors="replace").strip()
        return (
            f"exit status {self.process.poll()}, stdout {self.lines()!r}, "
            f"stderr {stderr[-2000:]!r}"
        )

    def stop(self) -> None:
        """End the probe, politely first."""
        stop_process(self.process, grace_s=5)


@pytest.fixture
def probe(tray: Window, tmp_path: Path) -> Iterator[Probe]:
    """The probe, started once the tray is ready, stopped whatever the test does."""
    running = Probe(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def test_probe_icon_is_embedded_and_answers_clicks(
    tray: Window, probe: Probe, tmp_path: Path
) -> None:
    probe.wait_for_line("ready")

    # The icon reads 0x0 until trayer embeds it; clicking before then hits the panel.
    icon = wait_until(lambda: find_tray_icon(PROBE_NAME), what="the probe's icon in the tray")
    assert icon.width > 1 and icon.height > 1

    # trayer widens its panel to fit each new icon, so look at the panel again.
    panel = tray_host()
    assert panel is not None
    assert panel.x <= icon.centre[0] < panel.x + panel.width
    assert panel.y <= icon.centre[1] < panel.y + panel.height

    click(icon, button=1)
    probe.wait_for_line("clicked")

    click(icon, button=3)
    wait_until(
        lambda: [window for window in top_level_windows(PROBE_NAME) if window.has_area],
        what="the probe's context menu to open",
    )
    press_keys("Down", "Return")
    probe.wait_for_line("menu")

    shot = screenshot(tmp_path / "screen.png")
    assert shot.stat().st_size > 0
