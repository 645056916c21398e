"""The ``gearshift`` command line: start the tray app, or work headless."""

from __future__ import annotations

import argparse
import math
from typing import NoReturn

from gearshift import __version__
from gearshift.control.exitcodes import ExitCode
from gearshift.control.protocol import EVENT_NAMES, MAX_RATE_HZ

FRAME_TIME_VIEWS = ("presented", "displayed")
"""``analyze --view`` choices, the first the default: ``gearshift.frames.capture.VIEWS``,
spelled out so that building the parser (for every ``ctl`` command too) does not import
numpy."""

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
    source.add_argument(
        "--follow",
        metavar="FILE",
        help="also follow PresentMon's CSV output (or a MangoHud log) as it is written: a "
        "file, or - for standard input ('PresentMon --output_stdout | gearshift --follow -'); "
        "without --replay or --demo the app always listens to MangoHud's logs and the "
        "ingest socket",
    )

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_analyze(commands)
    _add_ctl(commands)
    _add_mode_commands(commands)
    gpu = commands.add_parser(
        "gpu",
        help="the NVIDIA GPUs: live readings, what each supports, and the presets",
        description="Read every NVIDIA GPU through NVML (or the fake that "
        "$GEARSHIFT_FAKE_GPU names): its figures, live readings, the controls a mode may "
        "use with a reason for each no, and the preset each mode starts from.",
    )
    gpu.add_argument("--json", action="store_true", help="print JSON instead of text")
    gpu.add_argument(
        "--pin",
        metavar="GPU",
        type=_gpu_pin,
        help="follow this GPU: its index, UUID or PCI bus id (default: the settings' pin)",
    )
    return parser


def _add_analyze(commands: argparse._SubParsersAction[_Parser]) -> None:
    analyze = commands.add_parser(
        "analyze",
        help="print the frame-time metrics of capture files",
        description="Print the frame-time metrics of captures from MangoHud, PresentMon, "
        "OCAT, CapFrameX or MSI Afterburner. One file: a detailed table. Several: side by "
        "side, a column per capture. Exit status 2 when a capture cannot be read (the "
        "others are still analysed), 3 when --process names a process a capture lacks.",
    )
    analyze.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="a capture: MangoHud 0.4+, PresentMon, OCAT, CapFrameX (CSV or JSON) "
        "or MSI Afterburner (.hml); the format comes from the content",
    )
    output = analyze.add_mutually_exclusive_group()
    output.add_argument(
        "--json",
        action="store_true",
        help='print JSON: one file, an object; several, {"captures": [...], "errors": [...]}',
    )
    output.add_argument(
        "--csv",
        action="store_true",
        help="print CSV: a header row of metric names, then a row per capture "
        "(a missing reading is an empty cell)",
    )
    analyze.add_argument(
        "--process",
        metavar="NAME",
        help="the process to analyse in each capture (default: the one with the most "
        "frames, not dwm.exe)",
    )
    analyze.add_argument(
        "--view",
        choices=FRAME_TIME_VIEWS,
        default=FRAME_TIME_VIEWS[0],
        type=str.lower,
        help="presented: time between the game's presents (default); displayed: time "
        "between display changes, frames never shown left out (PresentMon, OCAT, CapFrameX)",
    )
    analyze.add_argument(
        "--exclude-suspect",
        action="store_true",
        help="leave out frames of a second or more that the capture's own time stamps "
        "do not show (they are counted and used by default)",
    )
    analyze.add_argument(
        "--breakdown",
        action="store_true",
        help="also the metrics of every process, and of each swap chain of a process "
        'that presented to several: a table under the metrics, "breakdown" in JSON, '
        "a CSV row each",
    )


def _add_ctl(commands: argparse._SubParsersAction[_Parser]) -> None:
    ctl = commands.add_parser(
        "ctl",
        help="drive the running app: status, switch, watch, health",
        description="Talk to the running Gearshift over its local control socket.",
    )
    ctl.add_argument(
        "--socket",
        metavar="PATH",
        help="the control socket (default: $GEARSHIFT_SOCKET, "
        "else gearshift/control.sock in the runtime folder)",
    )
    actions = ctl.add_subparsers(
        dest="ctl_command", metavar="ACTION", required=True, parser_class=_Parser
    )
    json_help = "print JSON instead of text"
    status = actions.add_parser("status", help="mode, cooldown, live frame statistics")
    status.add_argument("--json", action="store_true", help=json_help)
    switch = actions.add_parser("switch", help="switch to a mode (or toggle)")
    switch.add_argument(
        "mode",
        type=str.lower,
        choices=("immersive", "competitive", "toggle"),
        metavar="MODE",
        help="immersive, competitive or toggle",
    )
    switch.add_argument("--force", action="store_true", help="switch even during the cooldown")
    switch.add_argument("--json", action="store_true", help=json_help)
    watch = actions.add_parser("watch", help="print events as they happen, until Ctrl+C")
    watch.add_argument(
        "--events",
        type=_event_list,
        default=list(EVENT_NAMES),
        metavar="LIST",
        help=f"comma-separated, from {','.join(EVENT_NAMES)} (default: all)",
    )
    watch.add_argument(
        "--rate",
        type=_rate,
        default=1.0,
        metavar="HZ",
        help=f"budget statistics per second, above 0 and at most {MAX_RATE_HZ:g} (default: 1)",
    )
    watch.add_argument("--json", action="store_true", help="print each event as a JSON line")
    health = actions.add_parser("health", help="each subsystem: ok, degraded or unavailable")
    health.add_argument("--json", action="store_true", help=json_help)
    version = actions.add_parser("version", help="the running app's version")
    version.add_argument("--json", action="store_true", help=json_help)


def _add_mode_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    switch = commands.add_parser(
        "switch",
        help="switch modes: through the running app, else in-process",
        description="Switch to a mode. With the tray app running the app switches (exit "
        "4 in its cooldown, 5 busy, 6 rolled back); without it the changes that outlive "
        "the command (CPU governor, energy-performance preference, platform profile, "
        "MangoHud's fps_limit) are applied in-process and journalled, and 'gearshift "
        "switch immersive' or 'gearshift restore' puts them back.",
    )
    switch.add_argument(
        "mode",
        type=str.lower,
        choices=("immersive", "competitive"),
        metavar="MODE",
        help="immersive or competitive",
    )
    switch.add_argument("--force", action="store_true", help="switch even during the cooldown")
    switch.add_argument("--json", action="store_true", help="print JSON (through the app)")
    status = commands.add_parser(
        "status", help="the mode, what is applied, and the journal's state"
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of text")
    commands.add_parser(
        "restore",
        help="put back what the journal says is still applied (after a crash)",
        description="Restore every change the switch journal still holds, newest first, "
        "and say what was restored. Exit 11 when a change could not be restored (it stays "
        "in the journal), 12 when the journal was corrupt (it is kept aside, nothing in it "
        "is trusted), 5 while the app runs (it restores on quit).",
    )


def _event_list(text: str) -> list[str]:
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in EVENT_NAMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a list of events: use one or more of {','.join(EVENT_NAMES)}"
        )
    return list(dict.fromkeys(names))


def _gpu_pin(text: str) -> str:
    pin = text.strip()
    if not pin or len(pin) > 64 or not pin.isprintable():
        shown = repr(text) if len(text) <= 64 else f"{text[:64]!r}..."
        raise argparse.ArgumentTypeError(
            f"{shown} is not a GPU: give its index, UUID or PCI bus id (one line, at most "
            "64 characters)"
        )
    return pin


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = math.nan
    if not 0 < rate <= MAX_RATE_HZ:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a rate: give a number above 0 and at most {MAX_RATE_HZ:g}"
        )
    return rate
