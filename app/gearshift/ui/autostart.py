"""Start at login: the platform's autostart entry, written or removed with the setting.

On Linux (and the BSDs) that is an XDG autostart desktop entry,
``$XDG_CONFIG_HOME/autostart/gearshift.desktop``, which every freedesktop session reads
at login. The entry starts Gearshift the way this install was started: the standalone
binary when frozen, else this Python with ``-m gearshift``. Other platforms get an
``Autostart`` that says why it cannot, so the settings window can grey the box out; a
Windows one (the ``Run`` registry key) would slot in behind the same protocol.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from gearshift.config import write_atomically
from gearshift.core.errors import GearshiftError

_log = logging.getLogger(__name__)

ENTRY_NAME = "gearshift.desktop"


class AutostartError(GearshiftError):
    """The autostart entry could not be written or removed; the message says where."""


class Autostart(Protocol):
    """Whether Gearshift starts at login, and the switch for it.

    Attributes:
        unavailable: why this platform has no autostart here, or None when it has.
        location: where the entry lives, in words, for the settings window.
    """

    unavailable: str | None
    location: str

    def is_enabled(self) -> bool:
        """Whether Gearshift is set to start at login now."""

    def set_enabled(self, enabled: bool) -> None:
        """Start Gearshift at login, or stop doing so. Raises AutostartError."""


def launch_command() -> list[str]:
    """The command that starts this Gearshift: the standalone binary, or Python -m."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "gearshift"]


def desktop_exec(arguments: Sequence[str]) -> str:
    """``arguments`` as a desktop entry's Exec value (the Desktop Entry spec's quoting).

    An argument with a space or a reserved character is put in double quotes, with ``"``
    ``\\`` `````` ``$`` escaped inside them; ``%`` is doubled, since Exec gives it a
    meaning; and, because Exec is a string value, every backslash is written twice.
    """
    quoted = []
    for argument in arguments:
        text = argument.replace("%", "%%")
        if not text or any(c in text for c in " \t\n\"'\\><~|&;$*?#()`"):
            escaped = "".join("\\" + c if c in '"`$\\' else c for c in text)
            text = f'"{escaped}"'
        quoted.append(text)
    return " ".join(quoted).replace("\\", "\\\\").replace("\n", "\\n")


def desktop_entry(command: Sequence[str]) -> str:
    """The autostart entry that runs ``command`` at login."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.4\n"
        "Name=Gearshift\n"
        "Comment=Switch your gaming PC between Immersive and Competitive performance modes\n"
        f"Exec={desktop_exec(command)}\n"
        "Icon=gearshift\n"
        "Terminal=false\n"
        "Categories=Game;\n"
        "StartupNotify=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


class XdgAutostart:
    """The XDG autostart entry in the user's config folder.

    Args:
        folder: the autostart folder ($XDG_CONFIG_HOME/autostart when None).
        command: what the entry runs (this install's command when None).
    """

    unavailable: str | None = None

    def __init__(self, folder: Path | None = None, command: Sequence[str] | None = None) -> None:
        self.path = (folder or _xdg_autostart_folder()) / ENTRY_NAME
        self.command = list(command or launch_command())
        self.location = str(self.path)

    def is_enabled(self) -> bool:
        """Whether the entry is there (a desktop's own startup-apps tool may remove it)."""
        return self.path.is_file()

    def set_enabled(self, enabled: bool) -> None:
        """Write the entry, or remove it; a missing entry is already off."""
        try:
            if enabled:
                write_atomically(self.path, desktop_entry(self.command).encode("utf-8"))
                _log.info("starts at login: wrote %s", self.path)
            else:
                self.path.unlink(missing_ok=True)
                _log.info("no longer starts at login: removed %s", self.path)
        except OSError as error:
            verb = "write" if enabled else "remove"
            reason = error.strerror or str(error)
            raise AutostartError(
                f"cannot {verb} the autostart entry {self.path}: {reason}"
            ) from None


class NoAutostart:
    """A platform Gearshift cannot start itself on at login (yet)."""

    location = ""

    def __init__(self, unavailable: str) -> None:
        self.unavailable: str | None = unavailable

    def is_enabled(self) -> bool:
        """Never: nothing was written."""
        return False

    def set_enabled(self, enabled: bool) -> None:
        """Refuse to turn it on, with the reason; turning it off is already done."""
        if enabled:
            raise AutostartError(f"cannot start Gearshift at login: {self.unavailable}")


def autostart_for_platform() -> Autostart:
    """The autostart mechanism of the platform this runs on."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return XdgAutostart()
    if sys.platform == "win32":
        return NoAutostart(
            "not built for Windows yet (it would be the Run key under HKEY_CURRENT_USER); "
            "add Gearshift to the Startup folder by hand"
        )
    return NoAutostart(f"not built for this platform ({sys.platform})")


def _xdg_autostart_folder() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if config and Path(config).is_absolute() else Path.home() / ".config"
    return base / "autostart"
