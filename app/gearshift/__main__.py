"""Entry point: ``gearshift`` and ``python -m gearshift``."""

from __future__ import annotations

import logging
import os
import sys

from gearshift.control.cli import build_parser


def configure_logging(level_name: str | None, default: str) -> None:
    """One stderr handler; level from the option, else $GEARSHIFT_LOG_LEVEL, else default."""
    name = (level_name or os.environ.get("GEARSHIFT_LOG_LEVEL") or default).upper()
    logging.basicConfig(
        level=getattr(logging, name, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the process's exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    headless = args.command is not None
    if headless and (args.replay or args.demo):
        parser.error(f"--replay and --demo start the tray app; they do not go with {args.command}")
    # Headless commands print results on stdout and keep stderr for one-line errors.
    configure_logging(args.log_level, default="warning" if headless else "info")

    if args.command == "analyze":
        from gearshift.control.analyze import run_analyze

        return run_analyze(args)

    from gearshift.ui.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
