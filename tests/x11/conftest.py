"""Real-X tests: every test in this folder is marked ``x11`` and needs the tray harness.

``scripts/setup.sh test`` runs them under Xvfb with trayer as the tray host; the
offscreen stage deselects them with ``-m "not x11"``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Generator
from pathlib import Path

import pytest

from tests.x11.xtools import (
    Window,
    refuse,
    require_x11,
    screenshot,
    stop_process,
    tray_host,
    tray_selection_owner,
    wait_until,
)

_HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests under this folder ``x11`` before ``-m`` selects by marker.

    A conftest's collection hook sees every collected test, not just this folder's.
    """
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.x11)


@pytest.fixture
def tray() -> Window:
    """trayer's panel on $DISPLAY, once it owns the tray selection and is on screen.

    Skips (fails under $GEARSHIFT_X11_REQUIRED=1) when there is no display, a tool is
    missing or no trayer panel shows up. Another tray host, such as a developer's own
    desktop, is not used, so these tests never click around a real session.
    """
    require_x11()
    try:
        wait_until(tray_selection_owner, timeout_s=5.0, what="the tray selection owner")
        return wait_until(tray_host, timeout_s=5.0, what="trayer's panel")
    except TimeoutError as error:
        refuse(f"no trayer system tray on DISPLAY: {error}")


@pytest.fixture
def private_xvfb(tray: Window) -> Generator[tuple[str, subprocess.Popen[bytes]], None, None]:
    """A second, throw-away Xvfb (display name, process) that a test may kill."""
    number = next(n for n in range(150, 200) if not Path(f"/tmp/.X{n}-lock").exists())
    xvfb = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: Path(f"/tmp/.X11-unix/X{number}").exists(), what="a private Xvfb")
        yield f":{number}", xvfb
    finally:
        stop_process(xvfb)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Photograph the screen when a real-X test fails, before teardown closes its windows.

    The picture goes in the test's ``tmp_path`` (when it asked for one), and the failure
    report names the file.
    """
    report = yield
    if not (report.when == "call" and report.failed and item.path.is_relative_to(_HERE)):
        return report

    workdir = getattr(item, "funcargs", {}).get("tmp_path")
    if not isinstance(workdir, Path) or not os.environ.get("DISPLAY"):
        return report

    try:
        outcome = f"saved to {screenshot(workdir / 'failure.png')}"
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
        outcome = f"could not be taken: {error}"
    report.sections.append(("screen at failure", outcome))
    return report
