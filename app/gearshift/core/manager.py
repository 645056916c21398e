"""ModeManager: switches modes as one all-or-nothing transaction.

A switch from mode A to mode B runs these steps in order: undo A's actions (last
applied first), then apply B's actions. If a step raises or overruns its timeout, the
steps already done are undone in reverse order, A stays active, and the switch raises
ModeTransitionError saying which step failed, why, what was restored and what could
not be.

Around each step:

- A RecordedAction's record goes into the journal before it changes anything and
  leaves it once reverted, so that after a crash ``recover()`` (run by ``start()``)
  puts back whatever the journal still holds, through the restorer of its kind.
- A TransientActionError is retried with back-off a bounded number of times; any other
  failure fails the step at once.
- A kind whose applies keep failing is cut off for a while (a circuit breaker): its
  action is skipped, with the reason in ``skipped`` and ``cut_off()``, instead of every
  switch waiting on it again. A kind with no builder here, or whose builder says the
  action is unavailable, is skipped the same way.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeGuard

from gearshift.core.actions import (
    Action,
    ActionBuilder,
    Journal,
    JournalEntry,
    MemoryJournal,
    RecordedAction,
    Restorer,
)
from gearshift.core.errors import (
    ActionTimeoutError,
    ActionUnavailableError,
    JournalCorruptError,
    JournalError,
    ModeError,
    ModeTransitionError,
    RollbackReport,
    StepFailure,
    TransientActionError,
)
from gearshift.core.events import EventBus, ModeChanged, SwitchFailed
from gearshift.core.modes import DEFAULT_PROFILES, ModeProfile, PerformanceMode

_log = logging.getLogger(__name__)

DEFAULT_COOLDOWN_S = 5.0
"""Time that must pass after a switch before the next one, unless forced, in seconds."""

Clock = Callable[[], float]
"""A monotonic clock in seconds."""

Sleep = Callable[[float], Awaitable[None]]
"""Waits the given seconds; tests pass one that lets the time pass at once."""

RESTORE_TIMEOUT_S = 10.0
"""How long one journal entry's restore may take after a crash, in seconds."""


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried.

    Attributes:
        attempts: tries in all, the first included (1: never retry).
        backoff_s: the wait before the second try; it doubles each time after.
        max_backoff_s: the longest wait between two tries.
    """

    attempts: int = 3
    backoff_s: float = 0.05
    max_backoff_s: float = 1.0

    def waits_s(self) -> list[float]:
        """The wait before each retry, in seconds."""
        return [min(self.backoff_s * 2**i, self.max_backoff_s) for i in range(self.attempts - 1)]


@dataclass(frozen=True)
class BreakerPolicy:
    """When an action kind is cut off, and for how long.

    Attributes:
        failures: this many failed applies of one kind ...
        window_s: ... within this many seconds cut the kind off ...
        cool_off_s: ... for this many seconds; after that it is tried again.
    """

    failures: int = 3
    window_s: float = 120.0
    cool_off_s: float = 300.0


@dataclass
class _Breaker:
    failed_at: deque[float] = field(default_factory=deque)
    open_until: float | None = None
    last_reason: str = ""


@dataclass(frozen=True)
class SkippedAction:
    """An action a profile lists that the last switch went without.

    Attributes:
        kind: the action kind.
        reason: one line saying why, for the window and the health report.
    """

    kind: str
    reason: str


@dataclass(frozen=True)
class RecoveryReport:
    """What ``recover()`` found in the journal and put back.

    Attributes:
        restored: the names of the changes restored, in the order restored.
        failed: changes that could not be restored; they stay in the journal.
        corrupt: the line saying the journal was corrupt and kept aside, or None.
    """

    restored: tuple[str, ...] = ()
    failed: tuple[StepFailure, ...] = ()
    corrupt: str | None = None

    @property
    def empty(self) -> bool:
        """True when there was nothing to restore and nothing to report."""
        return not (self.restored or self.failed or self.corrupt)

    def describe(self) -> str:
        """One message for the player; empty when there is nothing to tell."""
        parts = []
        if self.restored:
            parts.append("Restored what an earlier run left applied: " + ", ".join(self.restored))
        if self.failed:
            parts.append(
                "could not restore "
                + "; ".join(f"{f.step} ({f.reason})" for f in self.failed)
                + ": set them back by hand or run 'gearshift restore' again"
            )
        if self.corrupt:
            parts.append(self.corrupt)
        return ". ".join(parts)


@dataclass(frozen=True)
class Recovered:
    """Published when ``recover()`` restored something or found a problem."""

    report: RecoveryReport


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


@dataclass
class _Live:
    """An action of a mode, and its journal entry while it has one.

    ``dirty`` is True from the moment its apply starts until a revert succeeds: while
    it is, the change may be on the machine and the entry must stay journalled.
    """

    action: Action
    entry_id: str | None = None
    dirty: bool = False


@dataclass(frozen=True)
class _Step:
    name: str
    undo_name: str
    do: Callable[[], Awaitable[None]]
    undo: Callable[[], Awaitable[None]]


class ModeManager:
    """Owns the active mode and the actions it applied.

    Args:
        builders: makes each action kind a profile may list.
        events: where ModeChanged, SwitchFailed and Recovered are announced.
        profiles: each mode's profile.
        cooldown_s: seconds between switches unless forced.
        clock: monotonic seconds; tests pass a fake.
        initial: the mode start() applies.
        journal: where recorded actions are written down; in memory when None.
        restorers: puts back a journal entry of each kind after a crash.
        retry: how transient failures are retried.
        breaker: when a failing kind is cut off.
        sleep: waits between retries; tests pass a fake.
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
        journal: Journal | None = None,
        restorers: Mapping[str, Restorer] | None = None,
        retry: RetryPolicy = RetryPolicy(),
        breaker: BreakerPolicy = BreakerPolicy(),
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._builders = builders
        self._events = events
        self._profiles = profiles
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._mode = initial
        self._applied: list[_Live] = []
        self._lock = asyncio.Lock()
        self._target: PerformanceMode | None = None
        self._last_switch_at: float | None = None
        self._lifecycle = Lifecycle.NEW
        self._journal: Journal = journal if journal is not None else MemoryJournal()
        self._restorers = dict(restorers or {})
        self._retry = retry
        self._breaker_policy = breaker
        self._breakers: dict[str, _Breaker] = {}
        self._sleep = sleep
        self._entry_ids = itertools.count(1)
        # Entries outlive the process: a fresh prefix keeps this run's ids apart from
        # those an earlier run left unrestored.
        self._entry_prefix = uuid.uuid4().hex[:12]
        self._skipped: tuple[SkippedAction, ...] = ()
        self._partial: list[StepFailure] = []
        self.recovery: RecoveryReport | None = None
        """What start() or recover() last restored from the journal; None before."""

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
        return tuple(live.action.name for live in self._applied)

    @property
    def skipped(self) -> tuple[SkippedAction, ...]:
        """The actions the active mode's profile lists but the last switch went without."""
        return self._skipped

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

    def unavailable(self, mode: PerformanceMode) -> dict[str, str]:
        """The actions ``mode``'s profile would go without if it were entered now, kind
        -> reason, for showing (the actions are made, never applied)."""
        _built, skipped = self._build(self._profiles[mode])
        return {entry.kind: entry.reason for entry in skipped}

    def cut_off(self) -> dict[str, str]:
        """The action kinds the circuit breaker cut off now, each with a reason."""
        now = self._clock()
        return {
            kind: f"cut off for {breaker.open_until - now:.0f} s more after "
            f"{self._breaker_policy.failures} failures: {breaker.last_reason}"
            for kind, breaker in self._breakers.items()
            if breaker.open_until is not None and breaker.open_until > now
        }

    async def recover(self) -> RecoveryReport:
        """Put back every change the journal still holds, newest first.

        Only before start() or after stop(): while a mode is active its own changes
        are in the journal. A corrupt journal was kept aside by the journal itself;
        nothing in it is trusted, and the report says so.
        """
        if self._lifecycle is Lifecycle.READY:
            raise ModeError("cannot restore the journal while a mode is active: stop first")
        async with self._lock:
            report = await self._recover()
        self.recovery = report
        if not report.empty:
            if report.failed or report.corrupt:
                _log.warning("journal: %s", report.describe())
            else:
                _log.info("journal: %s", report.describe())
            self._events.publish(Recovered(report))
        return report

    async def start(self) -> None:
        """Restore what the journal holds, then apply the initial mode's actions.

        Raises ModeTransitionError if an action fails.
        """
        self._require(Lifecycle.NEW, "start")
        await self.recover()
        async with self._lock:
            self._target = self._mode
            try:
                self._applied, self._skipped = await self._run_transaction(self._mode, [])
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
        A change that could not be undone stays in the journal for the next start.
        """
        if self._lifecycle is Lifecycle.STOPPED:
            return []
        async with self._lock:
            failures = []
            for live in reversed(self._applied):
                try:
                    await self._revert(live)
                except Exception as exc:
                    failures.append(StepFailure(live.action.name, _reason(exc)))
                    _log.error("could not undo '%s' on quit: %s", live.action.name, _reason(exc))
            self._settle(self._applied)
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
            self._applied, self._skipped = await self._run_transaction(mode, self._applied)
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

    # ------------------------------------------------------------------ the transaction

    async def _run_transaction(
        self, mode: PerformanceMode, leaving: list[_Live]
    ) -> tuple[list[_Live], tuple[SkippedAction, ...]]:
        """Undo ``leaving``, apply ``mode``'s actions; all or nothing.

        The journal is written twice at most: once with every entering record, after
        the leaving reverts and before the first entering apply (a record names the
        state the apply will find), and once at the end to drop the entries whose
        change is gone. An entry kept a moment longer only restores what is there.

        Returns what was applied and what was skipped.
        """
        entering, skipped = self._build(self._profiles[mode])
        steps = [
            _Step(
                f"undo {live.action.name}",
                f"redo {live.action.name}",
                _bind(self._revert, live),
                _bind(self._apply, live),
            )
            for live in reversed(leaving)
        ]
        steps.append(_Step("write the switch journal", "", self._journal_step(entering), _noop))
        steps += [
            _Step(
                live.action.name,
                f"undo {live.action.name}",
                _bind(self._apply, live),
                _bind(self._revert, live),
            )
            for live in entering
        ]

        done: list[_Step] = []
        self._partial = []
        try:
            for step in steps:
                try:
                    await step.do()
                except (Exception, asyncio.CancelledError) as exc:
                    report = await _roll_back(done, StepFailure(step.name, _reason(exc)))
                    report = RollbackReport(
                        report.failed,
                        report.reverted,
                        (*self._partial, *report.not_reverted),
                        tuple(s.name for s in steps if s.undo_name),
                    )
                    error = ModeTransitionError(self._mode.label, mode.label, report)
                    if isinstance(exc, asyncio.CancelledError):
                        _log.warning("switch cancelled and rolled back: %s", error)
                        raise
                    raise error from exc
                done.append(step)
        finally:
            self._settle([*leaving, *entering])
        return entering, skipped

    def _journal_step(self, entering: list[_Live]) -> Callable[[], Awaitable[None]]:
        async def write() -> None:
            entries = []
            for live in entering:
                action = live.action
                if _is_recorded(action):
                    entry_id = self._new_entry_id()
                    entries.append(
                        JournalEntry(entry_id, action.kind, action.name, action.record())
                    )
                    live.entry_id = entry_id
            if entries:
                self._journal.add(entries)

        return write

    def _settle(self, lives: list[_Live]) -> None:
        """Drop the journal entries whose change is no longer on the machine."""
        gone = [live for live in lives if live.entry_id is not None and not live.dirty]
        if not gone:
            return
        try:
            self._journal.remove([live.entry_id for live in gone if live.entry_id])
        except JournalError as exc:  # the entries restore what is already there: harmless
            _log.warning("journal: %s", exc)
            return
        for live in gone:
            live.entry_id = None

    def _build(self, profile: ModeProfile) -> tuple[list[_Live], tuple[SkippedAction, ...]]:
        """Make the profile's actions; skip, with a reason, those that cannot run."""
        built: list[_Live] = []
        skipped: list[SkippedAction] = []
        cut_off = self.cut_off()
        for spec in profile.actions:
            builder = self._builders.get(spec.kind)
            reason: str | None = None
            if builder is None:
                reason = f"{spec.kind.replace('_', ' ')} is not supported on this machine"
            elif spec.kind in cut_off:
                reason = cut_off[spec.kind]
            else:
                try:
                    built.append(_Live(builder(spec, profile)))
                except ActionUnavailableError as exc:
                    reason = _reason(exc)
            if reason is not None:
                _log.info("skipping %s: %s", spec.kind, reason)
                skipped.append(SkippedAction(spec.kind, reason))
        return built, tuple(skipped)

    async def _apply(self, live: _Live) -> None:
        """Apply the action with retries (its record is journalled already).

        When a recorded apply fails part-way, its revert is tried at once so that
        nothing it did half is left; if that fails too, the entry stays journalled.
        """
        action = live.action
        live.dirty = True
        try:
            await self._attempt(action.apply, action.name, action.timeout_s)
        except (Exception, asyncio.CancelledError) as exc:
            self._count_failure(action, exc)
            if live.entry_id is not None:
                await self._undo_partial(live)
            raise
        self._count_success(action)

    async def _revert(self, live: _Live) -> None:
        """Revert the action with retries; its entry goes when the transaction ends."""
        action = live.action
        await self._attempt(action.revert, f"undo {action.name}", action.timeout_s)
        live.dirty = False

    async def _undo_partial(self, live: _Live) -> None:
        try:
            await _run_with_timeout(live.action.revert, live.action.name, live.action.timeout_s)
        except Exception as exc:
            failure = StepFailure(f"part of {live.action.name}", _reason(exc))
            self._partial.append(failure)
            _log.error("could not undo what '%s' half did: %s", live.action.name, failure.reason)
            return
        live.dirty = False

    async def _attempt(
        self, call: Callable[[], Awaitable[None]], name: str, timeout_s: float
    ) -> None:
        """Run ``call`` under its timeout, retrying transient failures with back-off."""
        for wait_s in [*self._retry.waits_s(), None]:
            try:
                await _run_with_timeout(call, name, timeout_s)
                return
            except TransientActionError as exc:
                if wait_s is None:
                    raise
                _log.info("'%s' failed for now (%s); again in %.0f ms", name, exc, wait_s * 1e3)
                await self._sleep(wait_s)

    def _count_failure(self, action: Action, exc: BaseException) -> None:
        kind = getattr(action, "kind", None)
        if not isinstance(kind, str) or isinstance(exc, asyncio.CancelledError):
            return
        policy = self._breaker_policy
        breaker = self._breakers.setdefault(kind, _Breaker())
        now = self._clock()
        breaker.failed_at.append(now)
        while breaker.failed_at and breaker.failed_at[0] < now - policy.window_s:
            breaker.failed_at.popleft()
        breaker.last_reason = _reason(exc)
        if len(breaker.failed_at) >= policy.failures:
            breaker.open_until = now + policy.cool_off_s
            breaker.failed_at.clear()
            _log.warning(
                "%s failed %d times in %.0f s: skipped for %.0f s",
                kind,
                policy.failures,
                policy.window_s,
                policy.cool_off_s,
            )

    def _count_success(self, action: Action) -> None:
        kind = getattr(action, "kind", None)
        if isinstance(kind, str):
            self._breakers.pop(kind, None)

    def _new_entry_id(self) -> str:
        return f"{self._entry_prefix}-{next(self._entry_ids)}"

    # -------------------------------------------------------------------- recovery

    async def _recover(self) -> RecoveryReport:
        try:
            entries = self._journal.entries()
        except JournalCorruptError as exc:
            return RecoveryReport(corrupt=str(exc))
        restored: list[str] = []
        failed: list[StepFailure] = []
        done: list[str] = []
        for entry in reversed(entries):
            restorer = self._restorers.get(entry.kind)
            if restorer is None:
                failed.append(
                    StepFailure(entry.name, f"nothing here restores {entry.kind} changes")
                )
                continue
            try:
                await asyncio.wait_for(restorer(entry.record), RESTORE_TIMEOUT_S)
            except TimeoutError:
                failed.append(
                    StepFailure(entry.name, f"did not finish within {RESTORE_TIMEOUT_S:g} s")
                )
                continue
            except Exception as exc:
                failed.append(StepFailure(entry.name, _reason(exc)))
                continue
            done.append(entry.entry_id)
            restored.append(entry.name)
            _log.info("journal: restored %s", entry.name)
        if done:
            self._journal.remove(done)
        return RecoveryReport(tuple(restored), tuple(failed))


def _is_recorded(action: Action) -> TypeGuard[RecordedAction]:
    return isinstance(getattr(action, "kind", None), str) and callable(
        getattr(action, "record", None)
    )


async def _noop() -> None:
    return None


def _bind(
    method: Callable[[_Live], Awaitable[None]], live: _Live
) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        await method(live)

    return call


async def _roll_back(done: list[_Step], failed: StepFailure) -> RollbackReport:
    reverted: list[str] = []
    not_reverted: list[StepFailure] = []
    for step in reversed(done):
        try:
            await step.undo()
            if step.undo_name:  # the journal's own step has nothing to report
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
