"""Environment for running the app as a process without touching the user's own."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def isolated(env: dict[str, str], name: str) -> dict[str, str]:
    """``env`` with this app's instance name, control socket and settings its own.

    The socket goes in a fresh short folder (AF_UNIX paths must stay under 108 bytes);
    the settings file named does not exist, so the defaults apply.
    """
    folder = Path(tempfile.mkdtemp(prefix="gs-"))
    return {
        **env,
        "GEARSHIFT_INSTANCE": f"{name}-{os.getpid()}-{folder.name}",
        "GEARSHIFT_SOCKET": str(folder / "run" / "control.sock"),
        "GEARSHIFT_SETTINGS": str(folder / "settings.toml"),
    }
