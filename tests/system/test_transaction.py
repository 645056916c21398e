"""The transaction around each action: journal, retries, circuit breaker, skipping."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace

import pytest

from gearshift.core.actions import Action, ActionBuilder, JsonValue, MemoryJournal
from gearshift.core.errors import (
    ActionError,
    ActionUnavailableError,
    JournalCorruptError,
    ModeError,
    ModeTransitionError,
    TransientActionError,
)
from gearshift.core.events import EventBus
from gearshift.core.manager import BreakerPolicy, ModeManager, Recovered, RetryPolicy
from gearshift.core.modes import DEFAULT_PROFILES, ActionSpec, ModeProfile, PerformanceMode
from tests.fakes.clock import FakeClock

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE


class Machine:
    """Settings by key, and scripted faults: raise these errors on the next applies."""

    def __init__(self) -> None:
        self.settings: dict[str, str] = {}
        self.apply_faults: dict[str, list[Exception]] = {}
        self.applies: list[str] = []


class Recorded:
    """A recorded action over ``Machine``: what the real system actions look like."""

    timeout_s = 0.5

    def __init__(self, machine: Machine, kind: str, value: str) -> None:
        self.kind = kind
        self.name = f"{kind}={value}"
        self._machine = machine
        self._value = value
        self._previous: str | None = None

    def record(self) -> Mapping[str, JsonValue]:
        self._previous = self._machine.settings.get(self.kind)
        return {"key": self.kind, "value": self._previous}

    async def apply(self) -> None:
        self._machine.applies.append(self.name)
        faults = self._machine.apply_faults.get(self.kind)
        if faults:
            raise faults.pop(0)
        self._machine.settings[self.kind] = self._value

    async def revert(self) -> None:
        if self._previous is None:
            self._machine.settings.pop(self.kind, None)
        else:
            self._machine.settings[self.kind] = self._previous


def restorer(machine: Machine):  # type: ignore[no-untyped-def]
    async def restore(record: Mapping[str, JsonValue]) -> None:
        key, value = str(record["key"]), record["value"]
        if value is None:
            machine.settings.pop(key, None)
        else:
            machine.settings[key] = str(value)

    return restore


KINDS = ("alpha", "beta", "gamma")


def build(machine: Machine) -> dict[str, ActionBuilder]:
    def make(spec: ActionSpec, profile: ModeProfile) -> Action:
        return Recorded(machine, spec.kind, str(spec.params[profile.mode.value]))

    return dict.fromkeys(KINDS, make)


def profiles(kinds: tuple[str, ...] = KINDS) -> dict[PerformanceMode, ModeProfile]:
    comp = tuple(ActionSpec(k, {"competitive": f"{k}-on", "immersive": ""}) for k in kinds)
    return {
        IMM: replace(DEFAULT_PROFILES[IMM], actions=()),
        COMP: replace(DEFAULT_PROFILES[COMP], actions=comp),
    }


class Rig:
    def __init__(self, kinds: tuple[str, ...] = KINDS, journal: MemoryJournal | None = None):
        self.machine = Machine()
        self.clock = FakeClock()
        self.journal = journal if journal is not None else MemoryJournal()
        self.bus = EventBus()
        self.recovered: list[Recovered] = []
        self.bus.subscribe(Recovered, self.recovered.append)
        self.manager = self.new_manager(kinds)

    def new_manager(self, kinds: tuple[str, ...] = KINDS) -> ModeManager:
        return ModeManager(
            build(self.machine),
            self.bus,
            profiles=profiles(kinds),
            cooldown_s=0,
            clock=self.clock,
            journal=self.journal,
            restorers=dict.fromkeys(KINDS, restorer(self.machine)),
            retry=RetryPolicy(attempts=3, backoff_s=0.1),
            breaker=BreakerPolicy(failures=2, window_s=60, cool_off_s=300),
            sleep=self.clock.sleep,
        )


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_each_change_is_journalled_while_applied_and_forgotten_once_reverted() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.manager.start()
        assert rig.journal.entries() == []
        await rig.manager.set_mode(COMP)
        assert [e.kind for e in rig.journal.entries()] == list(KINDS)
        assert rig.journal.entries()[0].record == {"key": "alpha", "value": None}
        await rig.manager.set_mode(IMM)
        assert rig.journal.entries() == [] and rig.machine.settings == {}

    run(scenario())


def test_start_restores_what_a_crashed_run_left_and_says_so() -> None:
    async def scenario() -> None:
        rig = Rig()
        rig.machine.settings["beta"] = "mine"
        await rig.manager.start()
        await rig.manager.set_mode(COMP)
        # The process dies here: no stop(). A new manager over the same journal...
        fresh = rig.new_manager()
        await fresh.start()
        assert rig.machine.settings == {"beta": "mine"}
        assert fresh.recovery is not None
        assert fresh.recovery.restored == ("gamma=gamma-on", "beta=beta-on", "alpha=alpha-on")
        assert "left applied: gamma=gamma-on" in fresh.recovery.describe()
        assert [type(e) for e in rig.recovered] == [Recovered]
        assert rig.journal.entries() == []

    run(scenario())


def test_a_corrupt_journal_is_reported_and_nothing_is_restored() -> None:
    class Corrupt(MemoryJournal):
        def entries(self):  # type: ignore[no-untyped-def]
            raise JournalCorruptError("j.json", "j.json.corrupt-1", "not JSON")

    async def scenario() -> None:
        rig = Rig(journal=Corrupt())
        await rig.manager.start()
        assert rig.manager.recovery is not None
        assert "kept as j.json.corrupt-1" in (rig.manager.recovery.corrupt or "")
        assert rig.recovered[0].report.corrupt

    run(scenario())


def test_an_entry_without_a_restorer_stays_and_is_reported() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.manager.start()
        await rig.manager.set_mode(COMP)
        fresh = rig.new_manager()
        fresh._restorers.pop("beta")  # a kind this build no longer knows
        report = await fresh.recover()
        assert [f.step for f in report.failed] == ["beta=beta-on"]
        assert "nothing here restores beta" in report.describe()
        assert [e.kind for e in rig.journal.entries()] == ["beta"]

    run(scenario())


def test_recover_is_refused_while_a_mode_is_active() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.manager.start()
        with pytest.raises(ModeError, match="stop first"):
            await rig.manager.recover()

    run(scenario())


def test_a_transient_failure_is_retried_with_back_off() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.manager.start()
        rig.machine.apply_faults["beta"] = [
            TransientActionError("busy"),
            TransientActionError("busy"),
        ]
        started = rig.clock()
        assert (await rig.manager.set_mode(COMP)).switched
        assert rig.machine.applies.count("beta=beta-on") == 3
        assert rig.clock() - started == pytest.approx(0.1 + 0.2)  # 0.1 s, then doubled

    run(scenario())


def test_retries_are_bounded_then_the_switch_rolls_back() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.manager.start()
        rig.machine.apply_faults["beta"] = [TransientActionError("busy")] * 5
        with pytest.raises(ModeTransitionError, match="busy") as raised:
            await rig.manager.set_mode(COMP)
        assert rig.machine.applies.count("beta=beta-on") == 3
        assert raised.value.report.reverted == ("alpha=alpha-on",)
        assert rig.machine.settings == {} and rig.journal.entries() == []

    run(scenario())


def test_a_permanent_failure_is_not_retried() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.manager.start()
        rig.machine.apply_faults["alpha"] = [ActionError("refused")]
        with pytest.raises(ModeTransitionError, match="refused"):
            await rig.manager.set_mode(COMP)
        assert rig.machine.applies == ["alpha=alpha-on"]

    run(scenario())


def test_the_circuit_breaker_cuts_a_failing_kind_off_then_lets_it_back() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.manager.start()
        for _ in range(2):
            rig.machine.apply_faults["gamma"] = [ActionError("daemon gone")]
            with pytest.raises(ModeTransitionError):
                await rig.manager.set_mode(COMP)
        cut = rig.manager.cut_off()
        assert set(cut) == {"gamma"} and "daemon gone" in cut["gamma"] and "300 s" in cut["gamma"]

        assert (await rig.manager.set_mode(COMP)).switched  # without gamma
        assert rig.manager.applied == ("alpha=alpha-on", "beta=beta-on")
        assert rig.manager.skipped[0].kind == "gamma"
        assert "cut off" in rig.manager.skipped[0].reason

        await rig.manager.set_mode(IMM)
        rig.clock.advance(301)
        assert rig.manager.cut_off() == {}
        await rig.manager.set_mode(COMP)
        assert "gamma=gamma-on" in rig.manager.applied

    run(scenario())


def test_failures_outside_the_window_do_not_trip_the_breaker() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.manager.start()
        for _ in range(2):
            rig.machine.apply_faults["gamma"] = [ActionError("flaky")]
            with pytest.raises(ModeTransitionError):
                await rig.manager.set_mode(COMP)
            rig.clock.advance(61)
        assert rig.manager.cut_off() == {}

    run(scenario())


def test_kinds_without_a_builder_or_unavailable_are_skipped_with_a_reason() -> None:
    async def scenario() -> None:
        rig = Rig(kinds=("alpha", "gpu_clocks", "beta"))

        def unavailable(spec: ActionSpec, profile: ModeProfile) -> Action:
            raise ActionUnavailableError("no platform profile here")

        rig.manager._builders = {**build(rig.machine), "beta": unavailable}
        await rig.manager.start()
        assert (await rig.manager.set_mode(COMP)).switched
        assert rig.manager.applied == ("alpha=alpha-on",)
        assert [(s.kind, s.reason) for s in rig.manager.skipped] == [
            ("gpu_clocks", "gpu clocks is not supported on this machine"),
            ("beta", "no platform profile here"),
        ]

    run(scenario())


def test_stop_reverts_and_empties_the_journal() -> None:
    async def scenario() -> None:
        rig = Rig()
        await rig.manager.start()
        await rig.manager.set_mode(COMP)
        assert await rig.manager.stop() == []
        assert rig.journal.entries() == [] and rig.machine.settings == {}

    run(scenario())
