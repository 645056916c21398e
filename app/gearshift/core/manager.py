"""ModeManager: switches modes as one all-or-nothing transaction.

A switch from mode A to mode B runs these steps in order: undo A's actions (last
applied first), then apply B's actions. If a step raises or overruns its timeout, the
steps already done are undone in reverse order, A stays active, and the switch raises
ModeTransitionError saying which step failed, why, what was restored and what could
not be.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from gearshift.core.actions import Action, ActionBuilder
from gearshift.core.errors import (
    ActionTimeoutError,
    ModeError,
    ModeTransitionError,
    RollbackReport,
    StepFailure,
)
from gearshift.core.events import EventBus, ModeChanged, SwitchFailed
from gearshift.core.modes import DEFAULT_PROFILES, ModeProfile, PerformanceMode

_log = logging.getLogger(__name__)

DEFAULT_COOLDOWN_S = 5.0
"""Time that must pass after a switch before the next one, unless forced, in seconds."""

Clock = Callable[[], float]
"""A monotonic clock in seconds."""


class Lifecycle(enum.Enum):
    """Where the manager is in its life."""

    NEW = "new"
    """Created; no mode applied yet. start() applies the initial mode."""

    READY = "ready"
    """A mode is active and switches are accepted."""

    STOPPED = "stopped"
    """stop() reverted everything; no further switch is accepted."""


class SwitchOutcome(enum.Enum):
    """How a switch request ended, when it did not fail."""

    SWITCHED = "switched"
    """The requested mode is now active."""

    ALREADY_ACTIVE = "already_active"
    """The requested mode was already active; nothing changed."""

    COOLDOWN = "cooldown"
    """Refused: the last switch was too recent. ``cooldown_left_s`` says for how long."""

    BUSY = "busy"
    """Refused: another switch, to the other mode, was in flight."""


@dataclass(frozen=True)
class SwitchResult:
    """What became of a switch request.

    Attributes:
        outcome: see SwitchOutcome.
        requested: the mode that was asked for.
        active: the mode active once the request was settled.
        cooldown_left_s: for COOLDOWN, seconds until a switch is accepted again.
        duration_s: for SWITCHED, how long the transaction took, in seconds.
    """

    outcome: SwitchOutcome
    requested: PerformanceMode
    active: PerformanceMode
    cooldown_left_s: float | None = None
    duration_s: float | None = None

    @property
    def switched(self) -> bool:
        """True when the request changed the mode."""
        return self.outcome is SwitchOutcome.SWITCHED

    def describe(self) -> str:
        """One line for a notification or the CLI."""
        target = self.requested.label
        if self.outcome is SwitchOutcome.SWITCHED:
            return f"Switched to {target}"
        if self.outcome is SwitchOutcome.ALREADY_ACTIVE:
            return f"{target} is already active"
        if self.outcome is SwitchOutcome.COOLDOWN:
            return f"Cooling down: {target} is possible in {self.cooldown_left_s:.1f} s"
        return f"Busy: a switch to {self.active.other.label} is in progress"


@dataclass(frozen=True)
class _Step:
    name: str
    undo_name: str
    do: Callable[[], Awaitable[None]]
    undo: Callable[[], Awaitable[None]]
    timeout_s: float


class ModeManager:
    """Owns the active mode and the actions it applied.

    Args:
        builders: makes each action kind a profile may list.
        events: where ModeChanged and SwitchFailed are announced.
        profiles: each mode's profile.
        cooldown_s: seconds between switches unless forced.
        clock: monotonic seconds; tests pass a fake.
        initial: the mode start() applies.
    """

    def __init__(
        self,
        builders: Mapping[str, ActionBuilder],
        events: EventBus,
        *,
        profiles: Mapping[PerformanceMode, ModeProfile] = DEFAULT_PROFILES,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
        clock: Clock = time.monotonic,
        initial: PerformanceMode = PerformanceMode.IMMERSIVE,
    ) -> None:
        self._builders = builders
        self._events = events
        self._profiles = profiles
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._mode = initial
        self._applied: list[Action] = []
        self._lock = asyncio.Lock()
        self._target: PerformanceMode | None = None
        self._last_switch_at: float | None = None
        self._lifecycle = Lifecycle.NEW

    @property
    def mode(self) -> PerformanceMode:
        """The active mode."""
        return self._mode

    @property
    def profile(self) -> ModeProfile:
        """The active mode's profile."""
        return self._profiles[self._mode]

    @property
    def lifecycle(self) -> Lifecycle:
        """Where the manager is in its life."""
        return self._lifecycle

    @property
    def applied(self) -> tuple[str, ...]:
        """The names of the actions the active mode applied, in the order applied."""
        return tuple(action.name for action in self._applied)

    @property
    def switching_to(self) -> PerformanceMode | None:
        """The mode a switch in flight is heading for, or None when none is."""
        return self._target

    @property
    def profiles(self) -> Mapping[PerformanceMode, ModeProfile]:
        """Every mode's profile."""
        return self._profiles

    def profile_of(self, mode: PerformanceMode) -> ModeProfile:
        """The profile of ``mode``."""
        return self._profiles[mode]

    def cooldown_left_s(self) -> float:
        """Seconds until an unforced switch is accepted; 0 when it is now."""
        if self._last_switch_at is None:
            return 0.0
        return max(0.0, self._last_switch_at + self.cooldown_s - self._clock())

    async def start(self) -> None:
        """Apply the initial mode's actions; raises ModeTransitionError if one fails."""
        self._require(Lifecycle.NEW, "start")
        async with self._lock:
            self._target = self._mode
            try:
                self._applied = await self._run_transaction(self._mode, [])
            finally:
                self._target = None
        self._lifecycle = Lifecycle.READY
        _log.info("started in %s mode", self._mode.label)

    async def set_mode(self, mode: PerformanceMode, force: bool = False) -> SwitchResult:
        """Switch to ``mode``; ``force`` skips the cooldown and nothing else.

        Raises:
            ModeTransitionError: a step failed; the old mode is still active.
            ModeError: the manager is not started or already stopped.
        """
        self._require(Lifecycle.READY, "switch modes")
        if self._lock.locked():
            return await self._while_busy(mode)
        if mode is self._mode:
            return SwitchResult(SwitchOutcome.ALREADY_ACTIVE, mode, self._mode)
        left_s = self.cooldown_left_s()
        if left_s > 0 and not force:
            return SwitchResult(SwitchOutcome.COOLDOWN, mode, self._mode, cooldown_left_s=left_s)

        async with self._lock:
            self._target = mode
            try:
                return await self._switch(mode, force)
            finally:
                self._target = None

    async def toggle(self, force: bool = False) -> SwitchResult:
        """Switch to the mode that is not active."""
        return await self.set_mode(self._mode.other, force)

    async def stop(self) -> list[StepFailure]:
        """Undo the active mode's actions, for quitting; returns the undos that failed.

        Waits for a switch in flight to settle first. Afterwards no switch is accepted.
        """
        if self._lifecycle is Lifecycle.STOPPED:
            return []
        async with self._lock:
            failures = []
            for action in reversed(self._applied):
                try:
                    await _run_with_timeout(action.revert, action.name, action.timeout_s)
                except Exception as exc:
                    failures.append(StepFailure(action.name, _reason(exc)))
                    _log.error("could not undo '%s' on quit: %s", action.name, _reason(exc))
            self._applied = []
            self._lifecycle = Lifecycle.STOPPED
        _log.info("stopped; %d action(s) could not be undone", len(failures))
        return failures

    def _require(self, state: Lifecycle, what: str) -> None:
        if self._lifecycle is not state:
            raise ModeError(
                f"cannot {what} while the mode manager is {self._lifecycle.value}"
                f" (it must be {state.value})"
            )

    async def _while_busy(self, mode: PerformanceMode) -> SwitchResult:
        if self._target is not mode:
            return SwitchResult(SwitchOutcome.BUSY, mode, self._mode)
        async with self._lock:  # the same switch is in flight: settle with it
            pass
        outcome = SwitchOutcome.ALREADY_ACTIVE if self._mode is mode else SwitchOutcome.BUSY
        return SwitchResult(outcome, mode, self._mode)

    async def _switch(self, mode: PerformanceMode, force: bool) -> SwitchResult:
        previous = self._mode
        started_s = self._clock()
        try:
            self._applied = await self._run_transaction(mode, self._applied)
        except ModeTransitionError as error:
            _log.warning("%s", error)
            self._events.publish(SwitchFailed(mode, error))
            raise

        self._mode = mode
        self._last_switch_at = self._clock()
        duration_s = self._last_switch_at - started_s
        _log.info("switched %s -> %s in %.1f ms", previous.label, mode.label, duration_s * 1e3)
        self._events.publish(ModeChanged(previous, mode, force, duration_s))
        return SwitchResult(SwitchOutcome.SWITCHED, mode, mode, duration_s=duration_s)

    async def _run_transaction(self, mode: PerformanceMode, leaving: list[Action]) -> list[Action]:
        """Undo ``leaving``, apply ``mode``'s actions; all or nothing. Returns the applied."""
        profile = self._profiles[mode]
        entering = [self._builders[spec.kind](spec, profile) for spec in profile.actions]
        steps = [
            _Step(f"undo {a.name}", f"redo {a.name}", a.revert, a.apply, a.timeout_s)
            for a in reversed(leaving)
        ] + [_Step(a.name, f"undo {a.name}", a.apply, a.revert, a.timeout_s) for a in entering]

        done: list[_Step] = []
        for step in steps:
            try:
                await _run_with_timeout(step.do, step.name, step.timeout_s)
            except (Exception, asyncio.CancelledError) as exc:
                report = await _roll_back(done, StepFailure(step.name, _reason(exc)))
                error = ModeTransitionError(self._mode.label, mode.label, report)
                if isinstance(exc, asyncio.CancelledError):
                    _log.warning("switch cancelled and rolled back: %s", error)
                    raise
                raise error from exc
            done.append(step)
        return entering


async def _roll_back(done: list[_Step], failed: StepFailure) -> RollbackReport:
    reverted: list[str] = []
    not_reverted: list[StepFailure] = []
    for step in reversed(done):
        try:
            await _run_with_timeout(step.undo, step.undo_name, step.timeout_s)
            reverted.append(step.name)
        except Exception as exc:
            not_reverted.append(StepFailure(step.name, _reason(exc)))
            _log.error("rollback could not undo '%s': %s", step.name, _reason(exc))
    return RollbackReport(failed, tuple(reverted), tuple(not_reverted))


async def _run_with_timeout(
    call: Callable[[], Awaitable[None]], name: str, timeout_s: float
) -> None:
    try:
        await asyncio.wait_for(call(), timeout_s)
    except TimeoutError:
        raise ActionTimeoutError(name, timeout_s) from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "the switch was cancelled"
    return str(exc) or type(exc).__name__
