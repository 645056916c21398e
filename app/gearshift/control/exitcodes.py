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

    COOLDOWN = 4
    """``ctl switch``: refused, the last switch was too recent (--force skips that)."""

    BUSY = 5
    """``ctl switch``: refused, another switch was in flight or the app is not ready."""

    ROLLED_BACK = 6
    """``ctl switch``: a step failed and the switch was rolled back."""

    NOT_RUNNING = 7
    """``ctl``: Gearshift is not running, or quit while being asked."""

    BAD_REQUEST = 8
    """``ctl``: the app refused the request as malformed (a version mismatch, say)."""

    RATE_LIMITED = 9
    """``ctl``: too many requests; the message says when to try again."""

    NO_GPU = 10
    """``gpu``: no GPU telemetry here (no NVIDIA driver, a version mismatch, no permission)."""

    NOT_RESTORED = 11
    """``restore``: a change the journal holds could not be put back; it stays journalled."""

    JOURNAL_CORRUPT = 12
    """``restore``/``switch``: the journal was corrupt; it was kept aside, nothing restored."""

    USAGE = 64
    """The command line itself was wrong (unknown option, missing argument)."""

    NO_DISPLAY = 69
    """The tray app was started where there is no display to show it on."""
