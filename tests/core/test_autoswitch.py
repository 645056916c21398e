"""Automatic switching: recognising a game's process, the plan's states, the switcher
against a real ModeManager on a fake clock and a fake process list."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

import pytest

from gearshift.core.autoswitch import (
    AutoSwitched,
    AutoSwitcher,
    AutoSwitchPlan,
    Game,
    GamesChanged,
    ModeReason,
    ProcessInfo,
    RunningGame,
    Want,
    describe_games,
    match_game,
)
from gearshift.core.events import EventBus, ModeChanged, SwitchFailed
from gearshift.core.manager import ModeManager
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from tests.fakes.actions import FakeMachine, fake_builders, setting_spec
from tests.fakes.clock import FakeClock

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE
CS2, DOTA = Game("cs2"), Game("dota2")


def proc(pid: int, name: str, exe: str | None = None, *cmdline: str) -> ProcessInfo:
    return ProcessInfo(pid, name, 100.0 + pid, exe, tuple(cmdline) if cmdline else None)


def running(pid: int, game: Game = CS2) -> RunningGame:
    return RunningGame(pid, 100.0 + pid, game)


# ------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("game", "process", "expected"),
    [
        (CS2, proc(1, "cs2"), True),
        (CS2, proc(1, "CS2"), True),
        (CS2, proc(1, "cs2.exe"), True),  # Wine and Proton name the process after the .exe
        (Game("cs2.exe"), proc(1, "cs2"), True),
        (CS2, proc(1, "cs2-launcher"), False),
        (CS2, proc(1, "csgo"), False),
        # Linux cuts names to 15 characters; the command line confirms the full name.
        (
            Game("RocketLeague.exe"),
            proc(1, "RocketLeague.ex", None, "Z:\\RL\\RocketLeague.exe"),
            True,
        ),
        (Game("RocketLeague.exe"), proc(1, "RocketLeague.ex"), False),
        (Game("RocketLeague.exe"), proc(1, "RocketLeague.ex", None, "RocketLeague.exy"), False),
        # A path: the executable, or the command line's first word, at it or inside it.
        (Game("cs2", path="/games/cs2"), proc(1, "cs2", "/games/cs2/bin/cs2"), True),
        (Game("cs2", path="/games/cs2/bin/cs2"), proc(1, "cs2", "/games/cs2/bin/cs2"), True),
        (Game("cs2", path="/games/cs2"), proc(1, "cs2", "/games/cs2-beta/cs2"), False),
        (Game("cs2", path="/games/cs2"), proc(1, "cs2", None), False),  # unreadable: no
        (
            Game("cs2.exe", path="C:\\Games\\CS2"),
            proc(1, "cs2.exe", "/usr/bin/wine64", "c:\\games\\cs2\\cs2.exe"),
            True,
        ),
        # A command-line text.
        (Game("cs2", cmdline="-insecure"), proc(1, "cs2", None, "cs2", "-insecure"), True),
        (Game("cs2", cmdline="-insecure"), proc(1, "cs2", None, "cs2", "-vulkan"), False),
        (Game("cs2", cmdline="-insecure"), proc(1, "cs2"), False),
    ],
)
def test_a_game_is_recognised_by_name_path_and_command_line(
    game: Game, process: ProcessInfo, expected: bool
) -> None:
    assert game.matches(process) is expected


def test_may_be_lets_only_plausible_names_through() -> None:
    assert CS2.may_be("cs2.exe") and not CS2.may_be("bash")
    assert Game("RocketLeague.exe").may_be("RocketLeague.ex")
    assert not Game("RocketLeague.exe").may_be("Rocket")  # short names are not cut


def test_match_game_takes_the_first_listed_match() -> None:
    found = match_game([DOTA, CS2, Game("cs2.exe")], proc(7, "cs2"))
    assert found == RunningGame(7, 107.0, CS2)
    assert match_game([DOTA], proc(7, "cs2")) is None


def test_game_names_read_as_a_sentence() -> None:
    assert describe_games([]) == ""
    assert describe_games([running(1)]) == "cs2"
    assert describe_games([running(1), running(2)]) == "cs2"
    three = [running(1), running(2, DOTA), running(3, Game("val"))]
    assert describe_games(three) == "cs2, dota2 and val"


# ----------------------------------------------------------------------------- plan


def test_a_game_enters_competitive_and_its_exit_returns_to_the_previous_mode() -> None:
    plan = AutoSwitchPlan()
    assert plan.decide(IMM) is None and plan.why(IMM) is None

    assert plan.observe([running(10)], IMM)
    assert plan.decide(IMM) == Want(COMP, "cs2 is running")
    assert plan.why(IMM) == "cs2 is running; Competitive is next"
    plan.switched_automatically()
    assert plan.decide(COMP) is None
    assert plan.why(COMP) == "cs2 is running"
    assert not plan.observe([running(10)], COMP)  # nothing changed

    assert plan.observe([], COMP)
    assert plan.decide(COMP) == Want(IMM, "cs2 exited")
    assert plan.why(COMP) == "cs2 exited; Immersive is next"
    plan.switched_automatically()
    assert plan.decide(IMM) is None
    assert not plan.in_session
    assert plan.why(IMM) == "cs2 exited"


def test_already_competitive_means_no_switch_either_way() -> None:
    plan = AutoSwitchPlan()
    plan.observe([running(10)], COMP)
    assert plan.decide(COMP) is None
    plan.observe([], COMP)
    assert plan.decide(COMP) is None
    assert not plan.in_session


def test_the_return_goes_to_the_mode_before_the_first_game_whatever_came_between() -> None:
    plan = AutoSwitchPlan()
    plan.observe([running(10)], IMM)
    plan.switched_automatically()
    plan.observe([running(10), running(11, DOTA)], COMP)  # a second game: same session
    plan.observe([running(11, DOTA)], COMP)
    assert plan.decide(COMP) is None  # one game still runs
    assert plan.why(COMP) == "dota2 is running"
    plan.observe([], COMP)
    assert plan.decide(COMP) == Want(IMM, "dota2 exited")


def test_a_switch_by_hand_wins_until_those_games_exit() -> None:
    plan = AutoSwitchPlan()
    plan.observe([running(10)], IMM)
    plan.switched_automatically()
    plan.switched_by_hand()  # the player went back to Immersive mid-game
    assert plan.decide(IMM) is None
    assert plan.why(IMM) == "switched by hand while cs2 runs"

    plan.observe([running(10), running(11, DOTA)], IMM)  # a new game switches again
    assert plan.decide(IMM) == Want(COMP, "dota2 is running")

    plan.switched_automatically()
    plan.observe([], COMP)
    assert plan.decide(COMP) == Want(IMM, "cs2 and dota2 exited")


def test_a_switch_by_hand_while_the_return_waits_cancels_the_return() -> None:
    plan = AutoSwitchPlan()
    plan.observe([running(10)], IMM)
    plan.switched_automatically()
    plan.observe([], COMP)
    assert plan.decide(COMP) == Want(IMM, "cs2 exited")
    plan.switched_by_hand()
    assert plan.decide(COMP) is None
    assert not plan.in_session
    assert plan.why(COMP) == "switched by hand"


def test_a_rolled_back_switch_is_not_retried_for_the_same_games() -> None:
    plan = AutoSwitchPlan()
    plan.observe([running(10)], IMM)
    plan.switch_failed()
    assert plan.decide(IMM) is None
    assert plan.why(IMM) == "cs2 is running, but the switch to Competitive was rolled back"

    plan.observe([running(10), running(11, DOTA)], IMM)
    assert plan.decide(IMM) == Want(COMP, "dota2 is running")


def test_a_pid_reused_by_the_same_game_is_a_new_game() -> None:
    plan = AutoSwitchPlan()
    plan.observe([running(10)], IMM)
    plan.switched_by_hand()
    plan.observe([], IMM)
    plan.observe([RunningGame(10, 999.0, CS2)], IMM)
    assert plan.decide(IMM) == Want(COMP, "cs2 is running")


# ------------------------------------------------------------------------- switcher


class FakeScan:
    """The process list a test sets; raises ``error`` when one is set."""

    def __init__(self) -> None:
        self.games: list[RunningGame] = []
        self.error: Exception | None = None
        self.looks = 0

    async def __call__(self) -> Sequence[RunningGame]:
        self.looks += 1
        if self.error is not None:
            raise self.error
        return list(self.games)


class Rig:
    """A started ModeManager (fake machine, fake clock) and an AutoSwitcher over it."""

    def __init__(self, cooldown_s: float = 5.0) -> None:
        self.clock = FakeClock()
        self.machine = FakeMachine()
        self.bus = EventBus()
        spec = setting_spec("governor", "powersave", "performance")
        profiles = {m: replace(p, actions=(spec,)) for m, p in DEFAULT_PROFILES.items()}
        self.manager = ModeManager(
            fake_builders(self.machine),
            self.bus,
            profiles=profiles,
            cooldown_s=cooldown_s,
            clock=self.clock,
        )
        self.scan = FakeScan()
        self.sleeps: list[float] = []
        self.switcher = AutoSwitcher(
            self.manager, self.bus, self.scan, poll_s=2.0, sleep=self._sleep
        )
        self.published: list[object] = []
        for kind in (GamesChanged, AutoSwitched, ModeReason, SwitchFailed, ModeChanged):
            self.bus.subscribe(kind, self.published.append)

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def of(self, kind: type) -> list[object]:
        return [event for event in self.published if isinstance(event, kind)]

    async def start(self) -> Rig:
        await self.manager.start()
        # run() subscribes to ModeChanged; the test steps by hand instead of looping.
        self.bus.subscribe(ModeChanged, self.switcher._on_mode_changed)
        return self


def test_switcher_enters_competitive_for_a_game_and_returns_after_it() -> None:
    async def scenario() -> None:
        rig = await Rig().start()
        await rig.switcher.step()
        assert rig.manager.mode is IMM and rig.sleeps == [2.0]

        rig.scan.games = [running(4242)]
        await rig.switcher.step()
        assert rig.manager.mode is COMP
        assert rig.machine.settings["governor"] == "performance"
        assert rig.of(GamesChanged)[-1].pids == frozenset({4242})
        assert rig.of(AutoSwitched) == [AutoSwitched(COMP, "cs2 is running")]
        assert rig.of(ModeReason)[-1] == ModeReason(COMP, "cs2 is running")

        rig.scan.games = []
        await rig.switcher.step()  # 2 s since the switch: the cooldown still runs
        assert rig.manager.mode is COMP
        assert rig.switcher.why() == "cs2 exited; Immersive is next in 3 s (cooldown)"
        assert rig.sleeps[-1] == pytest.approx(2.0)
        await rig.switcher.step()
        assert rig.sleeps[-1] == pytest.approx(1.0)  # wakes when the cooldown ends
        await rig.switcher.step()
        assert rig.manager.mode is IMM
        assert rig.of(AutoSwitched)[-1] == AutoSwitched(IMM, "cs2 exited")
        assert rig.of(ModeReason)[-1] == ModeReason(IMM, "cs2 exited")
        assert rig.of(GamesChanged)[-1].pids == frozenset()

    asyncio.run(scenario())


def test_switcher_waits_out_the_cooldown_then_switches() -> None:
    async def scenario() -> None:
        rig = await Rig(cooldown_s=30.0).start()
        await rig.manager.set_mode(COMP)
        rig.clock.advance(31)
        await rig.manager.set_mode(IMM)  # by hand: a 30 s cooldown starts now
        rig.clock.advance(25)

        rig.scan.games = [running(7)]
        await rig.switcher.step()
        assert rig.manager.mode is IMM
        assert rig.switcher.why() == "cs2 is running; Competitive is next in 5 s (cooldown)"
        while rig.manager.mode is IMM:
            await rig.switcher.step()
        assert rig.clock() >= rig.manager.cooldown_s  # not forced
        assert rig.of(AutoSwitched) == [AutoSwitched(COMP, "cs2 is running")]
        assert [change.forced for change in rig.of(ModeChanged)] == [False, False, False]

    asyncio.run(scenario())


def test_a_switch_by_hand_while_the_game_runs_is_left_alone() -> None:
    async def scenario() -> None:
        rig = await Rig(cooldown_s=0.0).start()
        rig.scan.games = [running(7)]
        await rig.switcher.step()
        assert rig.manager.mode is COMP

        await rig.manager.set_mode(IMM)  # tray, window, hotkey or gearshift ctl
        for _ in range(3):
            await rig.switcher.step()
        assert rig.manager.mode is IMM
        assert rig.of(ModeReason)[-1] == ModeReason(IMM, "switched by hand while cs2 runs")

        rig.scan.games = []  # the game exits: the return is to Immersive, already there
        await rig.switcher.step()
        assert rig.manager.mode is IMM
        assert len(rig.of(AutoSwitched)) == 1

    asyncio.run(scenario())


def test_a_rolled_back_automatic_switch_is_announced_once_and_not_retried() -> None:
    async def scenario() -> None:
        rig = await Rig(cooldown_s=0.0).start()
        rig.machine.fail_apply.add("governor=performance")
        rig.scan.games = [running(7)]
        for _ in range(4):
            await rig.switcher.step()
        assert rig.manager.mode is IMM
        assert len(rig.of(SwitchFailed)) == 1
        assert "rolled back" in (rig.switcher.why() or "")

    asyncio.run(scenario())


def test_a_failing_look_is_logged_once_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        rig = await Rig().start()
        rig.scan.error = PermissionError("/proc is not readable")
        with caplog.at_level(logging.WARNING, "gearshift.core.autoswitch"):
            for _ in range(3):
                await rig.switcher.step()
        assert rig.switcher.scan_problem == "/proc is not readable"
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "/proc is not readable" in warnings[0].getMessage()

        rig.scan.error = None
        rig.scan.games = [running(7)]
        await rig.switcher.step()
        assert rig.switcher.scan_problem is None
        assert rig.manager.mode is COMP

    asyncio.run(scenario())


def test_run_ends_when_the_manager_stops() -> None:
    async def scenario() -> None:
        rig = await Rig().start()
        scan, manager = rig.scan, rig.manager

        async def sleep(_seconds: float) -> None:
            if scan.looks >= 3:
                await manager.stop()

        switcher = AutoSwitcher(manager, rig.bus, scan, poll_s=1, sleep=sleep)
        await asyncio.wait_for(switcher.run(), 5)
        assert scan.looks == 3

    asyncio.run(scenario())
