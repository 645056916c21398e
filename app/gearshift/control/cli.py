"""The ``gearshift`` command line: start the tray app, or work headless."""

from __future__ import annotations

import argparse
from typing import NoReturn

from gearshift import __version__
from gearshift.control.exitcodes import ExitCode

LOG_LEVELS = ("debug", "info", "warning", "error")
"""The log levels --log-level and $GEARSHIFT_LOG_LEVEL accept, in any case."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake exits with ExitCode.USAGE, not argparse's 2.

    Status 2 is taken by unreadable captures, so scripts can tell the two apart.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: app options, plus one sub-command per headless task."""
    parser = _Parser(
        prog="gearshift",
        description="Switch a gaming PC between Immersive and Competitive performance modes.",
    )
    parser.add_argument("--version", action="version", version=f"gearshift {__version__}")
    parser.add_argument(
        "--log-level",
        default=None,
        choices=LOG_LEVELS,
        type=str.lower,
        help="how much to log to stderr (default: info, or $GEARSHIFT_LOG_LEVEL)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--replay", metavar="FILE", help="replay a frame-time capture in real time, looping"
    )
    source.add_argument(
        "--demo", action="store_true", help="show a simulated frame-time feed (labelled so)"
    )

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    analyze = commands.add_parser(
        "analyze", help="print the frame-time metrics of a capture file"
    )
    analyze.add_argument("file", metavar="FILE", help="a MangoHud, PresentMon or OCAT capture")
    analyze.add_argument("--json", action="store_true", help="print JSON instead of a table")
    analyze.add_argument(
        "--process",
        metavar="NAME",
        help="the process to analyse (default: the one with the most frames, not dwm.exe)",
    )
    return parser
