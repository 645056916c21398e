"""What a mode applies: the Action protocol and the actions the core owns itself.

An action changes one thing and can put it back. ``apply()`` remembers what it found
before changing it; ``revert()`` restores exactly that. Both may be awaited more than
once in a row (apply, revert, apply again) and each apply remembers afresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
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
        """Remember the current state, then change it. Raise if it did not take."""

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
"""Makes the action a spec describes, for the mode whose profile lists it."""


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
