"""A fake action that behaves like a real one: it changes a value and can put it back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from gearshift.core.actions import Action, ActionBuilder
from gearshift.core.modes import ActionSpec, ModeProfile, PerformanceMode


@dataclass
class FakeMachine:
    """Stands in for the machine: named settings, and a log of every change made.


    Failures and hangs are keyed by action name ("key=value"), so a test can make
    Competitive's value fail while Immersive's value for the same key still works.
    """

    settings: dict[str, object] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    fail_apply: set[str] = field(default_factory=set)
    fail_revert: set[str] = field(default_factory=set)
    hang: set[str] = field(default_factory=set)
    apply_delay_s: float = 0.0


class FakeSettingAction:
    """Sets ``machine.settings[key] = value`` and restores what was there before."""

    def __init__(self, machine: FakeMachine, key: str, value: object, timeout_s: float) -> None:
        self.name = f"{key}={value}"
        self.timeout_s = timeout_s
        self._machine = machine
        self._key = key
        self._value = value
        self._previous: object = None

    async def apply(self) -> None:
        """Record the current value, then set ours, unless told to fail or hang."""
        await self._maybe_stall()
        if self.name in self._machine.fail_apply:
            raise OSError(f"{self._key} refused the change")
        self._previous = self._machine.settings.get(self._key)
        self._machine.settings[self._key] = self._value
        self._machine.log.append(f"apply {self.name}")

    async def revert(self) -> None:
        """Put back the recorded value, unless told to fail."""
        if self.name in self._machine.fail_revert:
            raise OSError(f"{self._key} could not be restored")
        self._machine.settings[self._key] = self._previous
        self._machine.log.append(f"revert {self.name}")

    async def _maybe_stall(self) -> None:
        if self._machine.apply_delay_s:
            await asyncio.sleep(self._machine.apply_delay_s)
        if self.name in self._machine.hang:
            await asyncio.sleep(3600)


def fake_builders(machine: FakeMachine, timeout_s: float = 1.0) -> dict[str, ActionBuilder]:
    """A builder for the ``setting`` action kind; params: key, and a value per mode."""

    def setting(spec: ActionSpec, profile: ModeProfile) -> Action:
        key = str(spec.params["key"])
        return FakeSettingAction(machine, key, spec.params[profile.mode.value], timeout_s)

    return {"setting": setting}


def setting_spec(key: str, immersive: object, competitive: object) -> ActionSpec:
    """A fake action that sets ``key`` to one value per mode."""
    return ActionSpec(
        "setting",
        {
            "key": key,
            PerformanceMode.IMMERSIVE.value: immersive,
            PerformanceMode.COMPETITIVE.value: competitive,
        },
    )
