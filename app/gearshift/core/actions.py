"""What a mode applies: the Action protocol and the actions the core owns itself.

An action changes one thing and can put it back. ``apply()`` remembers what it found
before changing it; ``revert()`` restores exactly that. Both may be awaited more than
once in a row (apply, revert, apply again) and each apply remembers afresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from gearshift.core.budget import BudgetMonitor
from gearshift.core.modes import FRAME_BUDGET, ActionSpec, ModeProfile

DEFAULT_ACTION_TIMEOUT_S = 5.0
"""How long one apply or revert may take before the switch gives up on it."""


class Action(Protocol):
    """One reversible change a mode makes.

    Attributes:
        name: what it does in the player's terms, e.g. "frame budget 3.33 ms".
        timeout_s: how long apply or revert may take, in seconds.
    """

    name: str
    timeout_s: float

    async def apply(self) -> None:
        """Remember the current state, then change it. Raise if it did not take.

        An apply that raises (or is cancelled) must leave nothing half done, except in
        a RecordedAction: there the manager calls revert() at once instead, which puts
        back what record() read.
        """

    async def revert(self) -> None:
        """Put back the state the last apply() found. Raise if that did not take."""


class RecordedAction(Action, Protocol):
    """An action that changes the machine, so that a crash must not leave it changed.

    Before ``apply()`` changes anything it hands ``record`` (through the manager) what
    it is about to change and the value to restore, and the journal writes that down.
    After a crash, the restorer registered for ``kind`` is given that record and puts
    the machine back without the action object that made it.

    Attributes:
        kind: the action kind the record belongs to, e.g. "cpu_governor"; restorers
            are found by it.
    """

    kind: str

    def record(self) -> Mapping[str, JsonValue]:
        """What apply() is about to change and the value to restore, JSON-ready.

        Read the current state here (it is called right before apply()); the same
        reading must then be what apply() restores on revert.
        """
        ...


JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
"""A value the journal can write as JSON."""

Restorer = Callable[[Mapping[str, JsonValue]], Awaitable[None]]
"""Puts back what one journal record says an action changed, after a crash."""

ActionBuilder = Callable[[ActionSpec, ModeProfile], Action]
"""Makes the action a spec describes, for the mode whose profile lists it.

A builder that finds its action cannot work here (no such device, another daemon owns
the setting) raises ActionUnavailableError; the switch goes on without it.
"""


@dataclass(frozen=True)
class JournalEntry:
    """One applied change the journal still holds.

    Attributes:
        entry_id: unique within the journal; the manager picks it.
        kind: the action kind, to find the restorer by.
        name: the action's name, for telling the player what was restored.
        record: what RecordedAction.record() returned.
    """

    entry_id: str
    kind: str
    name: str
    record: Mapping[str, JsonValue]


class Journal(Protocol):
    """Where a RecordedAction's record is kept while its change is on the machine.

    ``add`` must be durable when it returns (the changes are made right after it);
    entries come back from ``entries`` in the order they were added. Both take many
    entries so that a switch costs two durable writes, not two per action.
    """

    def add(self, entries: Sequence[JournalEntry]) -> None:
        """Write ``entries`` down, durably (one write), before their changes are made."""

    def remove(self, entry_ids: Sequence[str]) -> None:
        """Forget entries whose change was reverted; unknown ids are ignored."""

    def entries(self) -> list[JournalEntry]:
        """What is still applied; raises JournalCorruptError for a broken journal."""
        ...


class MemoryJournal:
    """A journal that lives as long as the process: for tests and for running without
    a state folder. It survives no crash."""

    def __init__(self) -> None:
        self._entries: dict[str, JournalEntry] = {}

    def add(self, entries: Sequence[JournalEntry]) -> None:
        """Keep ``entries``."""
        for entry in entries:
            self._entries[entry.entry_id] = entry

    def remove(self, entry_ids: Sequence[str]) -> None:
        """Drop the entries there are."""
        for entry_id in entry_ids:
            self._entries.pop(entry_id, None)

    def entries(self) -> list[JournalEntry]:
        """The entries, oldest first."""
        return list(self._entries.values())


class FrameBudgetAction:
    """Hands the mode's frame budget to the budget monitor.

    It touches nothing outside Gearshift, so it needs no privilege and cannot be
    refused by the machine; it is the action every mode has.
    """

    def __init__(self, monitor: BudgetMonitor, budget_ms: float) -> None:
        self.name = f"frame budget {budget_ms:.2f} ms"
        self.timeout_s = DEFAULT_ACTION_TIMEOUT_S
        self._monitor = monitor
        self._budget_ms = budget_ms
        self._previous_ms: float | None = None

    async def apply(self) -> None:
        """Measure frame times against this mode's budget from now on."""
        self._previous_ms = self._monitor.budget_ms
        self._monitor.set_budget(self._budget_ms)

    async def revert(self) -> None:
        """Measure against the budget that was in force before apply()."""
        if self._previous_ms is not None:
            self._monitor.set_budget(self._previous_ms)


def core_action_builders(monitor: BudgetMonitor) -> Mapping[str, ActionBuilder]:
    """Builders for the actions the core itself provides, keyed by action kind."""

    def frame_budget(spec: ActionSpec, profile: ModeProfile) -> Action:
        return FrameBudgetAction(monitor, profile.budget_ms)

    return {FRAME_BUDGET: frame_budget}
