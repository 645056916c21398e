"""ModeManager: cooldown, force, concurrency, rollback at every step."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.errors import ModeError, ModeTransitionError
from gearshift.core.events import EventBus, ModeChanged, SwitchFailed
from gearshift.core.manager import Lifecycle, ModeManager, SwitchOutcome
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from tests.fakes.actions import FakeMachine, fake_builders, setting_spec
from tests.fakes.clock import FakeClock

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE
KEYS = ("governor", "power", "clocks")


def profiles_with(keys: tuple[str, ...] = KEYS) -> dict[PerformanceMode, object]:
    specs = tuple(setting_spec(k, f"{k}-imm", f"{k}-comp") for k in keys)
    return {mode: replace(p, actions=specs) for mode, p in DEFAULT_PROFILES.items()}


class Rig:
    """A started manager over a fake machine, with its events recorded."""

    def __init__(self, keys: tuple[str, ...] = KEYS, cooldown_s: float = 5.0) -> None:
        self.machine = FakeMachine()
        self.clock = FakeClock()
        self.bus = EventBus()
        self.events: list[object] = []
        self.bus.subscribe(ModeChanged, self.events.append)
        self.bus.subscribe(SwitchFailed, self.events.append)
        self.manager = ModeManager(
            fake_builders(self.machine, timeout_s=0.2),
            self.bus,
            profiles=profiles_with(keys),  # type: ignore[arg-type]
            cooldown_s=cooldown_s,
            clock=self.clock,
        )

    async def started(self) -> Rig:
        await self.manager.start()
        self.machine.log.clear()
        return self


def run(coro):
    return asyncio.run(coro)


def test_start_applies_initial_mode_and_switch_applies_target() -> None:
    async def scenario() -> Rig:
        rig = await Rig().started()
        assert rig.machine.settings == {k: f"{k}-imm" for k in KEYS}
        result = await rig.manager.set_mode(COMP)
        assert result.outcome is SwitchOutcome.SWITCHED and result.active is COMP
        return rig

    rig = run(scenario())
    assert rig.manager.mode is COMP
    assert rig.machine.settings == {k: f"{k}-comp" for k in KEYS}
    assert rig.machine.log == [
        "revert clocks=clocks-imm",
        "revert power=power-imm",
        "revert governor=governor-imm",
        "apply governor=governor-comp",
        "apply power=power-comp",
        "apply clocks=clocks-comp",
    ]
    assert [type(e) for e in rig.events] == [ModeChanged]


def test_already_active_changes_nothing() -> None:
    async def scenario() -> None:
        rig = await Rig().started()
        result = await rig.manager.set_mode(IMM)
        assert result.outcome is SwitchOutcome.ALREADY_ACTIVE
        assert rig.machine.log == [] and rig.events == []

    run(scenario())


def test_cooldown_refuses_with_seconds_left_and_force_skips_it() -> None:
    async def scenario() -> None:
        rig = await Rig(cooldown_s=5.0).started()
        await rig.manager.set_mode(COMP)
        rig.clock.advance(2.0)

        refused = await rig.manager.set_mode(IMM)
        assert refused.outcome is SwitchOutcome.COOLDOWN
        assert refused.cooldown_left_s == pytest.approx(3.0)
        assert rig.manager.mode is COMP
        assert "3.0 s" in refused.describe()

        forced = await rig.manager.set_mode(IMM, force=True)
        assert forced.switched and rig.manager.mode is IMM

        rig.clock.advance(5.0)
        assert rig.manager.cooldown_left_s() == 0.0
        assert (await rig.manager.toggle()).switched

    run(scenario())


def test_cooldown_is_not_started_by_a_failed_switch() -> None:
    async def scenario() -> None:
        rig = await Rig().started()
        rig.machine.fail_apply.add("power=power-comp")
        with pytest.raises(ModeTransitionError):
            await rig.manager.set_mode(COMP)
        rig.machine.fail_apply.clear()
        assert (await rig.manager.set_mode(COMP)).switched

    run(scenario())


def test_conflicting_concurrent_requests_one_wins_other_busy() -> None:
    async def scenario() -> None:
        rig = await Rig().started()
        rig.machine.apply_delay_s = 0.01
        await rig.manager.set_mode(COMP)
        rig.clock.advance(10)
        rig.machine.log.clear()

        to_imm = asyncio.create_task(rig.manager.set_mode(IMM))
        await asyncio.sleep(0)  # let the first take the lock
        back_to_comp = await rig.manager.set_mode(COMP)
        first = await to_imm

        assert first.switched and back_to_comp.outcome is SwitchOutcome.BUSY
        assert "in progress" in back_to_comp.describe()
        reverts = [line for line in rig.machine.log if line.startswith("revert")]
        applies = [line for line in rig.machine.log if line.startswith("apply")]
        assert rig.machine.log == reverts + applies  # one transaction, not interleaved

    run(scenario())


def test_same_target_requested_twice_settles_as_already_active() -> None:
    async def scenario() -> None:
        rig = await Rig().started()
        rig.machine.apply_delay_s = 0.01
        results = await asyncio.gather(*(rig.manager.set_mode(COMP) for _ in range(5)))
        outcomes = sorted(r.outcome.value for r in results)
        assert outcomes == ["already_active"] * 4 + ["switched"]
        assert sum(1 for e in rig.events if isinstance(e, ModeChanged)) == 1

    run(scenario())


@pytest.mark.parametrize("failing", KEYS)
def test_rollback_at_every_step_restores_old_mode(failing: str) -> None:
    async def scenario() -> ModeTransitionError:
        rig = await Rig().started()
        before = dict(rig.machine.settings)
        rig.machine.fail_apply.add(f"{failing}={failing}-comp")
        with pytest.raises(ModeTransitionError) as caught:
            await rig.manager.set_mode(COMP)
        assert rig.manager.mode is IMM
        assert rig.machine.settings == before
        assert isinstance(rig.events[-1], SwitchFailed)
        return caught.value

    error = run(scenario())
    report = error.report
    assert report.failed.step == f"{failing}={failing}-comp"
    assert "refused the change" in report.failed.reason
    assert report.complete
    applied_before = KEYS[: KEYS.index(failing)]
    # Undone in reverse: the entered steps first, then the left steps redone.
    expected = [f"{k}={k}-comp" for k in reversed(applied_before)]
    expected += [f"undo {k}={k}-imm" for k in KEYS]
    assert list(report.reverted) == expected
    assert f"switch to Competitive failed at '{failing}={failing}-comp'" in str(error)


def test_failure_while_undoing_the_old_mode_rolls_back_too() -> None:
    async def scenario() -> ModeTransitionError:
        rig = await Rig().started()
        rig.machine.fail_revert.add("power=power-imm")
        with pytest.raises(ModeTransitionError) as caught:
            await rig.manager.set_mode(COMP)
        assert rig.machine.settings == {k: f"{k}-imm" for k in KEYS}
        return caught.value

    error = run(scenario())
    assert error.report.failed.step == "undo power=power-imm"
    assert error.report.reverted == ("undo clocks=clocks-imm",)


def test_revert_failure_is_reported_not_hidden() -> None:
    async def scenario() -> ModeTransitionError:
        rig = await Rig().started()
        rig.machine.fail_apply.add("clocks=clocks-comp")
        rig.machine.fail_revert.add("power=power-comp")
        with pytest.raises(ModeTransitionError) as caught:
            await rig.manager.set_mode(COMP)
        return caught.value

    error = run(scenario())
    assert not error.report.complete
    assert [f.step for f in error.report.not_reverted] == ["power=power-comp"]
    assert "could not be restored" in error.report.not_reverted[0].reason
    assert "could not restore power=power-comp" in str(error)


def test_a_hanging_step_times_out_and_rolls_back() -> None:
    async def scenario() -> ModeTransitionError:
        rig = await Rig().started()
        rig.machine.hang.add("clocks=clocks-comp")
        with pytest.raises(ModeTransitionError) as caught:
            await rig.manager.set_mode(COMP)
        assert rig.manager.mode is IMM
        return caught.value

    error = run(scenario())
    assert "did not finish within 0.2 s" in error.report.failed.reason


def test_stop_reverts_active_mode_and_refuses_later_switches() -> None:
    async def scenario() -> None:
        rig = await Rig().started()
        await rig.manager.set_mode(COMP)
        failures = await rig.manager.stop()
        assert failures == []
        assert rig.machine.settings == {k: None for k in KEYS}
        assert rig.manager.lifecycle is Lifecycle.STOPPED
        with pytest.raises(ModeError, match="stopped"):
            await rig.manager.set_mode(IMM)

    run(scenario())


def test_switch_before_start_is_refused_with_the_state() -> None:
    async def scenario() -> None:
        with pytest.raises(ModeError, match="while the mode manager is new"):
            await Rig().manager.set_mode(COMP)

    run(scenario())


def test_cancelled_switch_rolls_back_before_cancelling() -> None:
    async def scenario() -> None:
        rig = await Rig().started()
        rig.machine.hang.add("clocks=clocks-comp")
        task = asyncio.create_task(rig.manager.set_mode(COMP))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert rig.machine.settings == {k: f"{k}-imm" for k in KEYS}
        assert rig.manager.mode is IMM

    run(scenario())


def test_frame_budget_action_moves_the_monitor_budget() -> None:
    async def scenario() -> None:
        monitor = BudgetMonitor(budget_ms=50.0)
        manager = ModeManager(core_action_builders(monitor), EventBus(), clock=FakeClock())
        await manager.start()
        assert monitor.budget_ms == pytest.approx(1000 / 60)
        await manager.set_mode(COMP)
        assert monitor.budget_ms == pytest.approx(1000 / 300)
        await manager.stop()
        assert monitor.budget_ms == 50.0

    run(scenario())
