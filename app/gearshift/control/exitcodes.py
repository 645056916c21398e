"""Exit statuses of the ``gearshift`` command, one per kind of outcome."""

import enum


class ExitCode(enum.IntEnum):
    """What the process's exit status means."""

    OK = 0
    """Did what was asked."""

    FAILED = 1
    """Something unexpected went wrong; the message says what."""

    CAPTURE_UNREADABLE = 2
    """A capture file could not be read: unknown format, no frame-time column, empty."""

    PROCESS_NOT_FOUND = 3
    """The capture holds no process with the name given to ``--process``."""

    USAGE = 64
    """The command line itself was wrong (unknown option, missing argument)."""

    NO_DISPLAY = 69
    """The tray app was started where there is no display to show it on."""
