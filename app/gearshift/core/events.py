"""Plain events the core announces, and the bus that delivers them.

The UI, the CLI and later the control API subscribe; the core never knows who listens.
Callbacks run synchronously, in the order they subscribed, on the caller's thread.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from gearshift.core.budget import BudgetStats
from gearshift.core.errors import ModeTransitionError
from gearshift.core.modes import PerformanceMode

_log = logging.getLogger(__name__)

EventT = TypeVar("EventT")


@dataclass(frozen=True)
class ModeChanged:
    """A switch completed: ``current`` is now active."""

    previous: PerformanceMode
    current: PerformanceMode
    forced: bool
    duration_s: float


@dataclass(frozen=True)
class SwitchFailed:
    """A switch failed and was rolled back; ``error.report`` says what was restored."""

    target: PerformanceMode
    error: ModeTransitionError


@dataclass(frozen=True)
class BudgetStatsUpdated:
    """New rolling statistics of the live frame times."""

    stats: BudgetStats


class EventBus:
    """Delivers each published event to the callbacks subscribed to its type."""

    def __init__(self) -> None:
        self._subscribers: dict[type, list[Callable[[Any], None]]] = defaultdict(list)

    def subscribe(
        self, event_type: type[EventT], callback: Callable[[EventT], None]
    ) -> Callable[[], None]:
        """Call ``callback`` with every ``event_type`` event; returns an unsubscribe."""
        callbacks = self._subscribers[event_type]
        callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in callbacks:
                callbacks.remove(callback)

        return unsubscribe

    def publish(self, event: object) -> None:
        """Deliver ``event``. A failing subscriber is logged and does not stop the rest."""
        for callback in list(self._subscribers.get(type(event), ())):
            try:
                callback(event)
            except Exception:
                _log.exception("subscriber %r failed on %s", callback, type(event).__name__)
