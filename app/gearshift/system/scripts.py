"""The player's own commands, run when a mode is entered and when it is left.

Each command line is split like a shell would split words (``shlex``) and run without
a shell, one after another, each under a timeout; its output goes to the log line by
line. An enter command that fails (a non-zero status, not found, too slow) fails the
switch, which then rolls back and runs the leave commands of what it undid.

Scripts are not journalled: after a crash the leave commands do not run on their own,
since a command's effect cannot be read back the way a setting can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
from collections.abc import Sequence

from gearshift.core.errors import ActionError

_log = logging.getLogger(__name__)

MAX_LOGGED_LINES = 200
"""Output lines logged per command; the rest is counted, not logged."""


async def run_command(line: str, timeout_s: float) -> None:
    """Run one command line; raise ActionError unless it exits 0 in time."""
    try:
        argv = shlex.split(line)
    except ValueError as error:
        raise ActionError(f"cannot read the script command {line!r}: {error}") from error
    if not argv:
        return
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as error:
        raise ActionError(
            f"cannot start the script {argv[0]!r}: {error.strerror or error}"
        ) from error
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    except (TimeoutError, asyncio.CancelledError) as error:
        _kill_group(process.pid)
        await process.wait()
        if isinstance(error, asyncio.CancelledError):
            raise
        raise ActionError(f"the script {line!r} did not finish within {timeout_s:g} s") from None
    _log_output(argv[0], output)
    if process.returncode != 0:
        raise ActionError(f"the script {line!r} failed with status {process.returncode}")
    _log.info("script %r done", line)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _log_output(program: str, output: bytes) -> None:
    lines = output.decode(errors="replace").splitlines()
    for text in lines[:MAX_LOGGED_LINES]:
        _log.info("%s: %s", program, text)
    if len(lines) > MAX_LOGGED_LINES:
        _log.info("%s: ... %d more lines", program, len(lines) - MAX_LOGGED_LINES)


class ScriptsAction:
    """Runs ``enter`` on apply and ``leave`` on revert.

    Args:
        enter: command lines run when the mode is entered.
        leave: command lines run when it is left.
        timeout_s: how long each command may run.
    """

    def __init__(self, enter: Sequence[str], leave: Sequence[str], timeout_s: float) -> None:
        self.name = f"scripts ({len(enter)} on enter, {len(leave)} on leave)"
        self._enter = tuple(enter)
        self._leave = tuple(leave)
        self._command_timeout_s = timeout_s
        self.timeout_s = timeout_s * max(len(enter), len(leave), 1) + 1.0

    async def apply(self) -> None:
        """Run the enter commands in order; the first failure stops and raises.

        Commands that ran before the failure may have changed things, so the leave
        commands run then too (their own failures are logged), before raising.
        """
        ran_any = False
        try:
            for line in self._enter:
                await run_command(line, self._command_timeout_s)
                ran_any = True
        except (ActionError, asyncio.CancelledError):
            if ran_any:
                await asyncio.shield(self._leave_quietly())
            raise

    async def _leave_quietly(self) -> None:
        try:
            await self.revert()
        except ActionError as error:
            _log.error("after a failed enter script, a leave script failed too: %s", error)

    async def revert(self) -> None:
        """Run every leave command; raise after all ran if any failed."""
        failures = []
        for line in self._leave:
            try:
                await run_command(line, self._command_timeout_s)
            except ActionError as error:
                failures.append(str(error))
        if failures:
            raise ActionError("; ".join(failures))
