"""Environment for running the app as a process without touching the user's own."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def isolated(env: dict[str, str], name: str) -> dict[str, str]:
    """``env`` with this app's instance name, control socket, settings and machine its own.

    The socket goes in a fresh short folder (AF_UNIX paths must stay under 108 bytes);
    the settings file named does not exist, so the defaults apply.
    """
    folder = Path(tempfile.mkdtemp(prefix="gs-"))
    return {
        **env,
        "GEARSHIFT_INSTANCE": f"{name}-{os.getpid()}-{folder.name}",
        "GEARSHIFT_SOCKET": str(folder / "run" / "control.sock"),
        "GEARSHIFT_SETTINGS": str(folder / "settings.toml"),
        # The journal, the machine's files and MangoHud's config: a switch in a test
        # must never change the real machine (nor ask for a password).
        "GEARSHIFT_STATE_DIR": str(folder / "state"),
        "GEARSHIFT_SYSTEM_ROOT": str(folder / "machine"),
        "MANGOHUD_CONFIGFILE": str(folder / "MangoHud.conf"),
        # No D-Bus at all (a socket that is not there): the power profile hold and the
        # screensaver inhibit are skipped with that reason, at once. A test that wants
        # them sets its private buses' addresses after this.
        "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={folder / 'no-system-bus'}",
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={folder / 'no-session-bus'}",
    }
