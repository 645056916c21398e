"""Helpers that drive a real X server for the tests under ``tests/x11``.

The harness is an Xvfb display with ``trayer`` as the system-tray host, started by
``scripts/setup.sh test``. These helpers look at it with ``xwininfo``, act on it with
``xdotool`` and photograph it with ImageMagick's ``import``; the one question those tools
cannot answer, "who owns the tray selection?", goes to libX11 through ctypes.

Coordinates are absolute pixels from the top-left corner of the root window. Every wait
polls with a deadline; nothing sleeps blindly.

Run as a script, ``python tests/x11/xtools.py wait-tray [SECONDS]`` exits 0 as soon as a
tray host owns ``_NET_SYSTEM_TRAY_S0`` on $DISPLAY, and 1 if none does in time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

T = TypeVar("T")

X_TOOLS = {
    "xdotool": "xdotool",
    "xwininfo": "x11-utils",
    "import": "imagemagick",
}
"""The command-line tools the harness runs, each with the Debian package that has it."""

REQUIRED_ENV = "GEARSHIFT_X11_REQUIRED"
"""When this is "1" (CI sets it), a missing harness fails the test instead of skipping it."""

TOOL_TIMEOUT_S = 10.0
"""How long one xdotool or xwininfo call may take before the test gives up on it."""

# One line of `xwininfo -tree`, e.g.
#      0x400007 "tray.py": ("tray.py" "tray.py")  22x30+0+0  +1257+1
# indentation, id, name or "(has no name)", WM_CLASS strings, size+relative, +absolute.
_TREE_LINE = re.compile(
    r"^(?P<indent> *)(?P<id>0x[0-9a-f]+) (?:\(has no name\)|\"(?P<name>.*)\"): "
    r"\((?P<wm_class>.*)\)\s+(?P<width>\d+)x(?P<height>\d+)\+-?\d+\+-?\d+"
    r"\s+\+(?P<x>-?\d+)\+(?P<y>-?\d+)\s*$"
)
_TREE_TOP_INDENT = 5
"""xwininfo indents the first level of children by five spaces and each level below by 3."""


@dataclass(frozen=True)
class Window:
    """One X window as xwininfo saw it; position and size in pixels, position absolute."""

    window_id: int
    name: str | None
    wm_class: tuple[str, ...]
    """WM_CLASS as (instance, class), or empty when the window has none."""
    x: int
    y: int
    width: int
    height: int
    depth: int
    """Nesting below the window that was listed: 1 for its children, 2 for theirs."""

    @property
    def centre(self) -> tuple[int, int]:
        """The middle pixel of the window, where a click lands."""
        return self.x + self.width // 2, self.y + self.height // 2

    @property
    def has_area(self) -> bool:
        """Whether the window is bigger than the 1x1 placeholders X toolkits leave around."""
        return self.width > 1 and self.height > 1


def require_x11() -> None:
    """Skip the calling test unless $DISPLAY is set and the X tools are installed.

    With $GEARSHIFT_X11_REQUIRED=1 the test fails instead, so CI cannot go green by
    skipping everything.
    """
    problems = []
    if not os.environ.get("DISPLAY"):
        problems.append("DISPLAY is not set")

    missing = [
        f"{tool} ({package})" for tool, package in X_TOOLS.items() if not shutil.which(tool)
    ]
    if missing:
        problems.append("missing tools: " + ", ".join(missing))

    if problems:
        refuse(
            "real-X test needs an X server with a tray: "
            + "; ".join(problems)
            + " (start one with `bash scripts/setup.sh test`)"
        )


def refuse(reason: str) -> NoReturn:
    """Skip with the reason, or fail with it when the harness is required."""
    if os.environ.get(REQUIRED_ENV) == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout_s: float = 10.0,
    interval_s: float = 0.05,
    what: str = "a condition",
) -> T:
    """Poll `predicate` until it returns something truthy, and return that.

    Raises:
        TimeoutError: `timeout_s` seconds passed first; the message names `what`.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value

        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)


def _run_tool(args: Sequence[str]) -> str:
    """Run an X tool, return its stdout; a failing tool raises with its stderr attached."""
    done = subprocess.run(
        list(args), capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def window_tree(window_id: int | None = None) -> list[Window]:
    """Every window below `window_id` (the root window when None), outermost first."""
    target = ["-root"] if window_id is None else ["-id", hex(window_id)]
    windows = []
    for line in _run_tool(["xwininfo", "-tree", *target]).splitlines():
        match = _TREE_LINE.match(line)
        if match is None:
            continue

        indent = len(match["indent"])
        windows.append(
            Window(
                window_id=int(match["id"], 16),
                name=match["name"],
                wm_class=tuple(re.findall(r'"([^"]*)"', match["wm_class"])),
                x=int(match["x"]),
                y=int(match["y"]),
                width=int(match["width"]),
                height=int(match["height"]),
                depth=(indent - _TREE_TOP_INDENT) // 3 + 1,
            )
        )
    return windows


def is_viewable(window_id: int) -> bool:
    """Whether the window and all its ancestors are mapped, so it can be seen and clicked."""
    try:
        info = _run_tool(["xwininfo", "-id", hex(window_id)])
    except RuntimeError:
        return False  # the window went away between listing and asking
    return "Map State: IsViewable" in info


def top_level_windows(wm_class: str) -> list[Window]:
    """Viewable children of the root whose WM_CLASS instance or class is `wm_class`."""
    return [
        window
        for window in window_tree()
        if window.depth == 1 and wm_class in window.wm_class and is_viewable(window.window_id)
    ]


def tray_host() -> Window | None:
    """trayer's panel, the window tray icons get embedded in, if it is on screen.

    trayer also keeps an unmapped main window and a hidden 10x10 selection owner; the
    panel is the viewable one whose WM_CLASS is ("panel", "trayer").
    """
    for window in top_level_windows("trayer"):
        if window.wm_class[:1] == ("panel",):
            return window
    return None


def tray_icons(host: Window) -> list[Window]:
    """The icon windows embedded in the tray host, each with its on-screen geometry.

    trayer wraps every icon in a socket window of its own, so the icons are the host's
    grandchildren. An icon reads 0x0 or 1x1 until the host has embedded and sized it.
    """
    return [window for window in window_tree(host.window_id) if window.depth == 2]


def find_tray_icon(wm_class: str) -> Window | None:
    """The embedded, sized tray icon whose WM_CLASS instance or class is `wm_class`.

    Qt names an icon window's WM_CLASS after the script (instance) and the application
    name (class). The panel is looked up afresh, because trayer moves and widens it as
    icons come and go. Poll this with `wait_until`: an icon has no size until embedded.
    """
    host = tray_host()
    if host is None:
        return None
    for icon in tray_icons(host):
        if wm_class in icon.wm_class and icon.has_area:
            return icon
    return None


def tray_selection_owner() -> int | None:
    """The window owning ``_NET_SYSTEM_TRAY_S0`` on $DISPLAY, or None if the tray is free.

    Asked straight from libX11: no command-line tool prints selection owners, and Qt's
    ``isSystemTrayAvailable()`` needs a whole QApplication first.
    """
    library_name = ctypes.util.find_library("X11")
    if library_name is None:
        return None

    xlib = ctypes.CDLL(library_name)
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XInternAtom.restype = ctypes.c_ulong
    xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    xlib.XGetSelectionOwner.restype = ctypes.c_ulong
    xlib.XGetSelectionOwner.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]

    display = xlib.XOpenDisplay(None)
    if not display:
        return None
    try:
        atom = xlib.XInternAtom(display, b"_NET_SYSTEM_TRAY_S0", 0)
        owner = int(xlib.XGetSelectionOwner(display, atom))
    finally:
        xlib.XCloseDisplay(display)
    return owner or None


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """End a child process politely (SIGTERM), then firmly if it does not go in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def click(window: Window, button: int = 1) -> None:
    """Move the pointer to the window's centre and click: 1 left, 2 middle, 3 right."""
    x, y = window.centre

    # No `mousemove --sync`: it waits for the pointer to move, forever if it is already
    # there. The X server handles one client's fake motion and click in order anyway.
    _run_tool(["xdotool", "mousemove", str(x), str(y), "click", str(button)])


def press_keys(*keys: str, delay_ms: int = 60) -> None:
    """Type X key names (``Down``, ``Return``, ``ctrl+q``) into the focused window."""
    _run_tool(["xdotool", "key", "--delay", str(delay_ms), *keys])


def screenshot(path: Path) -> Path:
    """Save the whole screen as an image at `path` (format from the suffix) and return it."""
    _run_tool(["import", "-window", "root", str(path)])
    return path


def mean_colour(window: Window) -> tuple[int, int, int]:
    """The average colour of the window's pixels on screen, as (red, green, blue)."""
    shot = screenshot(Path(tempfile.gettempdir()) / f"icon-{os.getpid()}.png")
    geometry = f"{window.width}x{window.height}+{window.x}+{window.y}"
    text = _run_tool(
        ["convert", str(shot), "-crop", geometry, "-scale", "1x1!", "-depth", "8", "txt:-"]
    )
    shot.unlink()
    hex_colour = text.split("#", 2)[-1][:6]
    return int(hex_colour[0:2], 16), int(hex_colour[2:4], 16), int(hex_colour[4:6], 16)


def _wait_tray_main(argv: list[str]) -> int:
    """``wait-tray [SECONDS]``: exit 0 once the tray selection has an owner, else 1."""
    if not argv or argv[0] != "wait-tray" or len(argv) > 2:
        print("usage: xtools.py wait-tray [SECONDS]", file=sys.stderr)
        return 64

    timeout_s = float(argv[1]) if len(argv) == 2 else 10.0
    try:
        owner = wait_until(tray_selection_owner, timeout_s=timeout_s, what="a tray host")
    except TimeoutError as error:
        print(f"no system tray on DISPLAY={os.environ.get('DISPLAY')}: {error}", file=sys.stderr)
        return 1
    print(f"tray selection _NET_SYSTEM_TRAY_S0 owned by window {owner:#x}")
    return 0


if __name__ == "__main__":
    sys.exit(_wait_tray_main(sys.argv[1:]))
