"""Fault injection: every action failing, timing out, or failing to revert, at every
position of the Competitive switch; afterwards the machine is as it was, byte for byte.

The machine is the fake one on disk (tests/system/machine.py) with the real system
actions on it, a real child process as the game, and the journal in a real file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from gearshift.core.actions import Action, ActionBuilder, JsonValue, core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.errors import ActionError, ModeTransitionError, TransientActionError
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager, RetryPolicy
from gearshift.core.modes import DEFAULT_PROFILES, ActionSpec, ModeProfile, PerformanceMode
from gearshift.system.builders import system_action_builders, system_restorers
from gearshift.system.journal import FileJournal
from tests.system.machine import context, game_process, make_tree, snapshot

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE
KINDS = (
    "frame_budget",
    "platform_profile",
    "cpu_epp",
    "cpu_governor",
    "process_priority",
    "fps_limit",
    "scripts",
)
APPLY_FAULTS = ("fails", "fails_part_way", "times_out", "stays_busy")


class Faulty:
    """Wraps a real action and injects the fault the test names for its kind."""

    def __init__(
        self, inner: Action, kind: str, faults: dict[str, str], competitive: bool
    ) -> None:
        self.inner = inner
        self._competitive = competitive
        self.name = inner.name
        self.timeout_s = 0.2
        self._spec_kind = kind
        self._faults = faults
        recorded = getattr(inner, "kind", None)
        if recorded is not None:
            self.kind = recorded

    def record(self) -> Mapping[str, JsonValue]:
        return self.inner.record()  # type: ignore[attr-defined,no-any-return]

    def _fault(self) -> str | None:
        return self._faults.get(self._spec_kind) if self._competitive else None

    async def apply(self) -> None:
        fault = self._fault()
        if fault == "fails":
            raise ActionError("injected: refused")
        if fault == "stays_busy":
            raise TransientActionError("injected: busy")
        await self.inner.apply()
        try:
            if fault == "fails_part_way":
                raise ActionError("injected: failed after changing things")
            if fault == "times_out":
                await asyncio.sleep(30)
        except BaseException:
            # The Action contract: an apply that raises leaves nothing half done,
            # unless it is a RecordedAction, whose revert the manager then calls.
            if not hasattr(self, "kind"):
                await self.inner.revert()
            raise

    async def revert(self) -> None:
        if self._fault() == "revert_fails":
            raise ActionError("injected: cannot put it back")
        await self.inner.revert()


class Rig:
    def __init__(self, root: Path, state: Path, pid: int) -> None:
        self.root = root
        self.pid = pid
        self.faults: dict[str, str] = {}
        self.flag = root / "script-flag"
        self.context = context(
            root,
            (pid,),
            enter_scripts=(f"sh -c 'echo on > {self.flag}'",),
            leave_scripts=(f"rm -f {self.flag}",),
            script_timeout_s=5,
        )
        self.journal = FileJournal(state / "journal.json")

    def manager(self) -> ModeManager:
        real = {
            **system_action_builders(self.context),
            **core_action_builders(BudgetMonitor(16.7)),
        }
        builders = {kind: self._wrap(real[kind], kind) for kind in KINDS}
        specs = {spec.kind: spec for spec in DEFAULT_PROFILES[COMP].actions}
        competitive = replace(
            DEFAULT_PROFILES[COMP],
            actions=tuple(
                specs.get(kind, ActionSpec(kind))
                if kind != "fps_limit"
                else ActionSpec(kind, {"fps": 480})
                for kind in KINDS
            ),
        )
        return ModeManager(
            builders,
            EventBus(),
            profiles={**DEFAULT_PROFILES, COMP: competitive},
            cooldown_s=0,
            journal=self.journal,
            restorers=system_restorers(self.context),
            retry=RetryPolicy(attempts=3, backoff_s=0.001),
        )

    def _wrap(self, builder: ActionBuilder, kind: str) -> ActionBuilder:
        def build(spec: ActionSpec, profile: ModeProfile) -> Action:
            return Faulty(builder(spec, profile), kind, self.faults, profile.mode is COMP)

        return build

    def state(self) -> dict[str, object]:
        return snapshot(self.root, (self.pid,))


@pytest.fixture(scope="module")
def game() -> Iterator[int]:
    with game_process() as pid:
        yield pid


@pytest.fixture
def rig(tmp_path: Path, game: int) -> Rig:
    return Rig(make_tree(tmp_path / "root"), tmp_path / "state", game)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.mark.parametrize("fault", APPLY_FAULTS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_apply_anywhere_leaves_the_machine_as_it_was(
    rig: Rig, kind: str, fault: str
) -> None:
    async def scenario() -> None:
        manager = rig.manager()
        await manager.start()
        before = rig.state()
        rig.faults[kind] = fault
        with pytest.raises(ModeTransitionError) as raised:
            await manager.set_mode(COMP)
        assert raised.value.report.complete, raised.value
        assert manager.mode is IMM
        assert rig.state() == before
        assert rig.journal.entries() == []

    run(scenario())


def test_the_whole_switch_applies_and_reverts_byte_for_byte(rig: Rig) -> None:
    async def scenario() -> None:
        manager = rig.manager()
        await manager.start()
        before = rig.state()
        await manager.set_mode(COMP)
        assert len(manager.applied) == len(KINDS)
        assert rig.state() != before and rig.flag.exists()
        assert len(rig.journal.entries()) == 5  # frame budget and scripts are not
        await manager.set_mode(IMM)
        assert rig.state() == before and rig.journal.entries() == []

    run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_revert_when_leaving_keeps_competitive_whole(rig: Rig, kind: str) -> None:
    async def scenario() -> None:
        manager = rig.manager()
        await manager.start()
        before = rig.state()
        await manager.set_mode(COMP)
        competitive = rig.state()

        rig.faults[kind] = "revert_fails"
        with pytest.raises(ModeTransitionError):
            await manager.set_mode(IMM)
        assert manager.mode is COMP and rig.state() == competitive

        rig.faults.clear()
        await manager.set_mode(IMM)
        assert rig.state() == before

    run(scenario())


JOURNALLED = ("platform_profile", "cpu_epp", "cpu_governor", "process_priority", "fps_limit")


@pytest.mark.parametrize("kind", JOURNALLED)
def test_a_rollback_that_cannot_revert_is_finished_by_the_next_start(rig: Rig, kind: str) -> None:
    """The step after ``kind`` fails, and ``kind`` cannot be undone: the rollback is
    incomplete, the journal still holds it, and the next start restores it."""
    following = KINDS[KINDS.index(kind) + 1]

    async def scenario() -> None:
        manager = rig.manager()
        await manager.start()
        before = rig.state()
        rig.faults.update({kind: "revert_fails", following: "fails"})
        with pytest.raises(ModeTransitionError) as raised:
            await manager.set_mode(COMP)
        assert not raised.value.report.complete
        assert raised.value.report.not_reverted[0].reason == "injected: cannot put it back"
        assert rig.state() != before

        rig.faults.clear()
        restarted = rig.manager()  # the next start of Gearshift
        await restarted.start()
        assert restarted.recovery is not None and len(restarted.recovery.restored) == 1
        assert rig.state() == before and rig.journal.entries() == []

    run(scenario())
