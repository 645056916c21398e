"""Every error Gearshift raises on purpose, in one tree.

::

    GearshiftError
    ├── ModeError                  a mode switch went wrong
    │   └── ModeTransitionError    a step failed; the switch was rolled back
    ├── ActionError                one action could not apply or revert
    │   ├── ActionTimeoutError     ... because it took longer than its timeout
    │   ├── TransientActionError   ... for now (a busy service); worth retrying
    │   ├── ActionUnavailableError the action cannot be used on this machine
    │   └── JournalError           the switch journal cannot be read or written
    │       └── JournalCorruptError  ... because the file is not a journal
    ├── HotkeyError                a global hotkey cannot be used
    └── CaptureError               a frame-time capture cannot be used
        ├── UnknownFormatError     not a format any reader recognises
        ├── MalformedCaptureError  a known format, but the file is broken part-way
        ├── MissingColumnError     recognised, but the frame-time column is absent
        ├── EmptyCaptureError      no usable frame in it
        └── ProcessNotFoundError   the process asked for is not in the capture

Each error's ``str()`` is one line meant for a person: it names the input and says
what to do. Code that shows errors to players shows exactly that line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath


class GearshiftError(Exception):
    """Base of every error Gearshift raises on purpose."""


class ModeError(GearshiftError):
    """A mode switch went wrong."""


@dataclass(frozen=True)
class StepFailure:
    """One step of a switch that did not do what it should.

    Attributes:
        step: the step's name in the player's terms, e.g. "frame budget 3.33 ms".
        reason: one line saying why.
    """

    step: str
    reason: str


@dataclass(frozen=True)
class RollbackReport:
    """What a failed switch did to put the machine back.

    Attributes:
        failed: the step that failed, and why.
        reverted: steps that were undone, in the order they were undone.
        not_reverted: steps whose undo failed too; the machine may still carry them.
        planned: every step of the switch, in order (empty when not known); those
            after the failed one were not tried.
    """

    failed: StepFailure
    reverted: tuple[str, ...] = ()
    not_reverted: tuple[StepFailure, ...] = field(default_factory=tuple)
    planned: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every applied step was undone."""
        return not self.not_reverted


class ModeTransitionError(ModeError):
    """A switch failed part-way and was rolled back; the old mode is still active."""

    def __init__(self, source: str, target: str, report: RollbackReport) -> None:
        self.source = source
        self.target = target
        self.report = report
        restored = (
            "everything was restored"
            if report.complete
            else ("could not restore " + ", ".join(f.step for f in report.not_reverted))
        )
        super().__init__(
            f"switch to {target} failed at '{report.failed.step}': {report.failed.reason}; "
            f"stayed in {source}, {restored}"
        )


class ActionError(GearshiftError):
    """One action could not apply or revert."""


class ActionTimeoutError(ActionError):
    """An action did not finish within its timeout."""

    def __init__(self, step: str, timeout_s: float) -> None:
        self.step = step
        self.timeout_s = timeout_s
        super().__init__(f"'{step}' did not finish within {timeout_s:g} s")


class TransientActionError(ActionError):
    """An action failed for a reason that may pass (a service busy or restarting).

    The mode manager retries it, with back-off, a bounded number of times; any other
    ActionError fails the switch at once.
    """


class ActionUnavailableError(ActionError):
    """An action cannot be used here: no such device, no builder, another daemon owns
    the setting. The switch goes on without it and shows this line as the reason."""


class JournalError(ActionError):
    """The switch journal cannot be read or written; the message names the file."""


class JournalCorruptError(JournalError):
    """The journal file is not a journal. It was moved aside to ``kept_at`` and none of
    it was trusted; the message says where it went and what to check by hand."""

    def __init__(self, path: str, kept_at: str, reason: str) -> None:
        self.path = path
        self.kept_at = kept_at
        self.reason = reason
        super().__init__(
            f"the switch journal {path} is unreadable ({reason}); it was kept as {kept_at} "
            "and nothing in it was restored: check the CPU governor, power profile and "
            "MangoHud's fps_limit by hand"
        )


class HotkeyError(GearshiftError):
    """A global hotkey cannot be used: the combination is refused, or no way to listen
    for it works here. The message says why and what to do instead."""


class CaptureError(GearshiftError):
    """A frame-time capture cannot be used. The message names the file."""

    def __init__(self, path: str | PurePath, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        shown = self.path if self.path.isprintable() else repr(self.path)
        super().__init__(f"{shown}: {reason}")


class UnknownFormatError(CaptureError):
    """No reader recognises the file."""


class MalformedCaptureError(CaptureError):
    """The format is known, but the file is broken (an unclosed quote, say)."""


class MissingColumnError(CaptureError):
    """The format is known but the column a metric needs is missing."""


class EmptyCaptureError(CaptureError):
    """The file holds no usable frame."""


class ProcessNotFoundError(CaptureError):
    """The process the user asked for is not in the capture."""
