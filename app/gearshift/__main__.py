"""Entry point: ``gearshift`` and ``python -m gearshift``."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from gearshift.control.cli import LOG_LEVELS, build_parser
from gearshift.control.exitcodes import ExitCode

LOG_LEVEL_ENV = "GEARSHIFT_LOG_LEVEL"


def configure_logging(level_name: str | None, default: str) -> None:
    """One stderr handler; level from the option, else $GEARSHIFT_LOG_LEVEL, else default.

    A $GEARSHIFT_LOG_LEVEL that names no level is reported in one line and ignored.
    """
    from_env = os.environ.get(LOG_LEVEL_ENV, "").strip().lower()
    if from_env and from_env not in LOG_LEVELS:
        print(
            f"gearshift: ignoring {LOG_LEVEL_ENV}={from_env!r}: use one of "
            f"{', '.join(LOG_LEVELS)}",
            file=sys.stderr,
        )
        from_env = ""
    name = level_name or from_env or default
    logging.basicConfig(
        level=logging.getLevelNamesMapping()[name.upper()],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the process's exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    headless = args.command is not None
    if headless and (args.replay is not None or args.demo or args.follow is not None):
        parser.error(
            f"--replay, --demo and --follow start the tray app; they do not go with {args.command}"
        )
    if args.replay == "":
        parser.error("--replay needs the path of a capture file")
    if args.follow == "":
        parser.error("--follow needs a file, or - for standard input")
    # Headless commands print results on stdout and keep stderr for one-line errors.
    configure_logging(args.log_level, default="warning" if headless else "info")

    if args.command == "analyze":
        from gearshift.control.analyze import run_analyze

        return _printing_safely(lambda: run_analyze(args))
    if args.command == "gpu":
        from gearshift.control.gpureport import run_gpu

        return _printing_safely(lambda: run_gpu(args))
    if args.command == "ctl":
        from gearshift.control.ctl import run_ctl

        return _printing_safely(lambda: run_ctl(args))
    if args.command in ("switch", "status", "restore"):
        from gearshift.control.modecmd import run_mode_command

        return _printing_safely(lambda: run_mode_command(args))

    from gearshift.ui.app import run_app

    return run_app(args)


def _printing_safely(command: Callable[[], int]) -> int:
    """Run a command that prints, turning a closed or full stdout into one line.

    ``gearshift analyze F | head -1`` closes the pipe early: that is the reader's
    choice, not an error, so it exits quietly (stdout is pointed at /dev/null so the
    interpreter's own flush at exit does not fail again).
    """
    if sys.stdout is None:  # started with standard output closed (">&-")
        print("gearshift: standard output is closed: nothing can be printed", file=sys.stderr)
        return ExitCode.FAILED
    try:
        status = command()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except OSError as error:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"gearshift: cannot write the output: {error.strerror or error}", file=sys.stderr)
        return ExitCode.FAILED
    return status


if __name__ == "__main__":
    sys.exit(main())
