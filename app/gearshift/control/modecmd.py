"""``gearshift switch``, ``gearshift status`` and ``gearshift restore``.

With the tray app running, ``switch`` and ``status`` go through its control API (the
app holds the D-Bus inhibitors and the power profile hold, which live only as long as
the process that asked for them). Without it they work in-process: the changes that
outlive the process (sysfs, MangoHud's config) are applied and journalled, so the next
``gearshift switch immersive``, ``gearshift restore`` or the app's start puts them back.
``restore`` only runs without the app (the app restores on start and on quit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable

from gearshift.control.client import ApiClient, ConnectionLostError, NotRunningError
from gearshift.control.exitcodes import ExitCode
from gearshift.control.server import default_socket_path
from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.errors import JournalCorruptError, JournalError, ModeTransitionError
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager, RecoveryReport
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from gearshift.system.builders import SystemContext, system_action_builders, system_restorers
from gearshift.system.daemons import SystemObserver, TuningTools, detect_tuning_tools
from gearshift.system.desktop import desktop_restorers
from gearshift.system.journal import FileJournal
from gearshift.system.sysfs import system_paths

ContextFactory = Callable[[], SystemContext]

DETECT_TIMEOUT_S = 2.0
"""How long ``status`` looks for other tuning tools (the buses may not answer)."""


def _default_context() -> SystemContext:
    from gearshift.config import load_settings

    scripts = load_settings().settings.scripts
    return SystemContext(
        paths=system_paths(os.environ),
        enter_scripts=scripts.enter,
        leave_scripts=scripts.leave,
        script_timeout_s=scripts.timeout_s,
    )


def run_mode_command(args: argparse.Namespace, context: ContextFactory = _default_context) -> int:
    """Run ``switch``, ``status`` or ``restore``; returns the exit status."""
    if args.command == "restore":
        if _app_answers():
            return _fail("Gearshift is running: it restores on quit; quit it first", ExitCode.BUSY)
        return asyncio.run(_restore(context()))
    if args.command == "switch":
        via_app = _through_app(args)
        return via_app if via_app is not None else asyncio.run(_switch(args, context()))
    return _status(args)


def _app_answers() -> bool:
    try:
        with ApiClient(default_socket_path(), 5.0) as client:
            return client.request("version").ok
    except (NotRunningError, ConnectionLostError, OSError):
        return False


def _through_app(args: argparse.Namespace) -> int | None:
    """Hand the switch to the running app; None when no app answers."""
    from gearshift.control.ctl import run_ctl

    if not _app_answers():
        return None
    return run_ctl(
        argparse.Namespace(
            socket=None, ctl_command="switch", mode=args.mode, force=args.force, json=args.json
        )
    )


def _manager(context: SystemContext, journal: FileJournal) -> ModeManager:
    builders = {
        **system_action_builders(context),
        **core_action_builders(
            BudgetMonitor(DEFAULT_PROFILES[PerformanceMode.IMMERSIVE].budget_ms)
        ),
    }
    return ModeManager(
        builders,
        EventBus(),
        journal=journal,
        # A power profile hold or an inhibit in the journal ended with the app that held
        # it; these restorers say so instead of reporting a change they cannot undo.
        restorers={**system_restorers(context), **desktop_restorers()},
        cooldown_s=0.0,
    )


async def _switch(args: argparse.Namespace, context: SystemContext) -> int:
    target = PerformanceMode.parse(args.mode)
    journal = FileJournal()
    try:
        active = journal.mode()
        if active == target.value and (target is PerformanceMode.IMMERSIVE or journal.entries()):
            print(f"{target.label} is already active")
            return ExitCode.OK
        manager = _manager(context, journal)
        if target is PerformanceMode.IMMERSIVE:
            report = await manager.recover()
            journal.note_mode(target.value)
            _print_recovery(report, quiet_when_empty=True)
            print(f"Switched to {target.label}")
            return _recovery_status(report)
        await manager.start()
        _print_recovery(manager.recovery, quiet_when_empty=True)
        try:
            result = await manager.set_mode(target, force=True)
        except ModeTransitionError as error:
            return _fail(str(error), ExitCode.ROLLED_BACK)
        journal.note_mode(target.value)
    except JournalError as error:
        return _fail(str(error), ExitCode.FAILED)
    for skipped in manager.skipped:
        print(f"  skipped {skipped.kind.replace('_', ' ')}: {skipped.reason}")
    print(f"{result.describe()} in {(result.duration_s or 0) * 1e3:.1f} ms (in-process)")
    print("  applied: " + (", ".join(manager.applied) or "nothing"))
    return ExitCode.OK


async def _restore(context: SystemContext) -> int:
    journal = FileJournal()
    try:
        report = await _manager(context, journal).recover()
        journal.note_mode(None)
    except JournalError as error:
        return _fail(str(error), ExitCode.FAILED)
    _print_recovery(report, quiet_when_empty=False)
    return _recovery_status(report)


def _status(args: argparse.Namespace) -> int:
    journal = FileJournal()
    try:
        entries = journal.entries()
        state = f"{len(entries)} change(s) applied" if entries else "empty"
    except JournalCorruptError as error:
        entries, state = [], f"corrupt: {error}"
    except JournalError as error:
        return _fail(str(error), ExitCode.FAILED)
    if _app_answers():
        from gearshift.control.ctl import run_ctl

        status = run_ctl(argparse.Namespace(socket=None, ctl_command="status", json=args.json))
        if not args.json:
            print(f"{'Journal':<10}{journal.path}: {state}")
            _print_tuning_tools(asyncio.run(_tuning_tools()))
        return status
    tools = asyncio.run(_tuning_tools())
    mode: str | None = journal.mode() or PerformanceMode.IMMERSIVE.value
    if entries and mode != PerformanceMode.COMPETITIVE.value:
        mode = None  # an earlier run of the app left changes: it did not say which mode
    if args.json:
        print(
            json.dumps(
                {
                    "running": False,
                    "mode": mode,
                    "applied": [e.name for e in entries],
                    "journal": {"path": str(journal.path), "state": state},
                    "tuning_tools": {
                        "found": [entry.tool.key for entry in tools.found],
                        "controls": tools.describe(),
                        "unchecked": list(tools.unchecked),
                    },
                }
            )
        )
        return ExitCode.OK
    rows = [
        (
            "Mode",
            f"{mode.capitalize()} (the app is not running)"
            if mode
            else "unknown: an earlier run left changes applied; 'gearshift restore' "
            "puts them back",
        ),
        ("Applied", ", ".join(e.name for e in entries) or "nothing"),
        ("Journal", f"{journal.path}: {state}"),
    ]
    for label, value in rows:
        print(f"{label:<10}{value}")
    _print_tuning_tools(tools)
    return ExitCode.OK


async def _tuning_tools(timeout_s: float = DETECT_TIMEOUT_S) -> TuningTools:
    """The other tuning tools on this machine, looked for within ``timeout_s``."""
    observer = SystemObserver.from_environ(os.environ)
    try:
        return await asyncio.wait_for(detect_tuning_tools(observer), timeout_s)
    except TimeoutError:
        return TuningTools(unchecked=(f"anything (no answer within {timeout_s:g} s)",))
    finally:
        await observer.close()


def _print_tuning_tools(tools: TuningTools) -> None:
    """Who controls what, one line a setting, under a 'Tuning' heading."""
    lines = tools.describe()
    if tools.unchecked:
        lines.append("could not check " + ", ".join(tools.unchecked))
    for index, line in enumerate(lines):
        print(f"{'Tuning' if index == 0 else '':<10}{line}")


def _print_recovery(report: RecoveryReport | None, *, quiet_when_empty: bool) -> None:
    if report is None or (report.empty and quiet_when_empty):
        return
    if report.empty:
        print("Nothing to restore: the journal is empty")
        return
    for name in report.restored:
        print(f"restored {name}")
    for failure in report.failed:
        print(f"could not restore {failure.step}: {failure.reason}")
    if report.corrupt:
        print(report.corrupt)


def _recovery_status(report: RecoveryReport) -> int:
    if report.corrupt:
        return ExitCode.JOURNAL_CORRUPT
    if report.failed:
        return ExitCode.NOT_RESTORED
    return ExitCode.OK


def _fail(message: str, status: ExitCode) -> int:
    print(f"gearshift: {message}", file=sys.stderr)
    return status
