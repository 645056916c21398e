"""The game watcher: against real child processes named as games, and against a table in
memory for what real processes cannot stage (a reused pid, how many reads a look costs)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from gearshift.core.autoswitch import Game, RunningGame
from gearshift.system.processes import (
    RECHECK_S,
    GameWatcher,
    PsutilProcessTable,
    ThreadedScan,
)
from tests.fakes.processes import FakeProcessTable

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="names and zombies as Linux shows them"
)


class Games:
    """Starts copies of /bin/sleep under game names; ends them all afterwards."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.children: list[subprocess.Popen[bytes]] = []

    def executable(self, name: str) -> Path:
        path = self.folder / name
        if not path.exists():
            shutil.copy2("/bin/sleep", path)
        return path

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        child = subprocess.Popen([str(self.executable(name)), *(args or ("60",))])
        self.children.append(child)
        return child

    def start_through_shell(self, name: str, delay_s: float) -> subprocess.Popen[bytes]:
        """A launcher that becomes the game by exec after ``delay_s``: same pid."""
        script = f"sleep {delay_s}; exec '{self.executable(name)}' 60"
        child = subprocess.Popen(["/bin/sh", "-c", script])
        self.children.append(child)
        return child

    def stop_all(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=10)


@pytest.fixture
def games(tmp_path: Path) -> Iterator[Games]:
    started = Games(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def pids(found: tuple[RunningGame, ...]) -> set[int]:
    return {game.pid for game in found}


def scan_until(
    watcher: GameWatcher, done: Callable[[tuple[RunningGame, ...]], bool], timeout_s: float = 5
) -> tuple[RunningGame, ...]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = watcher.scan()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_started_game_is_found_and_its_exit_noticed_even_as_a_zombie(games: Games) -> None:
    watcher = GameWatcher([Game("cs2"), Game("dota2")])
    assert watcher.scan() == ()

    cs2 = games.start("cs2")
    other = games.start("notagame")
    found = scan_until(watcher, lambda f: cs2.pid in pids(f))
    assert [(g.pid, g.name) for g in found] == [(cs2.pid, "cs2")]
    assert other.pid not in pids(found)

    cs2.kill()  # not reaped yet: the pid stays listed as a zombie
    assert scan_until(watcher, lambda f: not f) == ()
    assert cs2.poll() is not None


def test_names_match_without_case_or_exe_and_long_names_are_confirmed(games: Games) -> None:
    long_name = "averyverylonggamename"  # Linux keeps "averyverylongga"
    watcher = GameWatcher([Game("CS2.exe"), Game(long_name), Game("averyverylonggaXX")])
    cs2 = games.start("cs2")
    long_game = games.start(long_name)

    found = scan_until(watcher, lambda f: len(f) == 2)
    assert {(g.pid, g.name) for g in found} == {(cs2.pid, "CS2.exe"), (long_game.pid, long_name)}


def test_path_and_command_line_narrow_the_match(games: Games, tmp_path: Path) -> None:
    watcher = GameWatcher(
        [
            Game("cs2", path="/nowhere"),
            Game("cs2", cmdline="61"),
            Game("dota2", path=str(tmp_path)),
            Game("dota2", cmdline="-vulkan"),
        ]
    )
    cs2 = games.start("cs2", "60")
    dota = games.start("dota2", "60")

    found = scan_until(watcher, lambda f: len(f) >= 1, timeout_s=1)
    assert [(g.pid, g.game) for g in found] == [(dota.pid, Game("dota2", path=str(tmp_path)))]
    assert cs2.pid not in pids(watcher.scan())


def test_a_launcher_that_becomes_the_game_by_exec_is_found(games: Games) -> None:
    watcher = GameWatcher([Game("cs2")])
    launcher = games.start_through_shell("cs2", delay_s=0.3)
    assert launcher.pid not in pids(watcher.scan())  # still "sh"

    found = scan_until(watcher, lambda f: launcher.pid in pids(f))
    assert pids(found) == {launcher.pid}


def test_set_games_looks_at_every_process_again(games: Games) -> None:
    watcher = GameWatcher([Game("dota2")])
    cs2 = games.start("cs2")
    scan_until(watcher, lambda f: False, timeout_s=0.2)
    watcher.set_games([Game("cs2")])
    assert pids(scan_until(watcher, lambda f: bool(f))) == {cs2.pid}


def test_threaded_scan_runs_off_the_event_loop(games: Games) -> None:
    cs2 = games.start("cs2")
    scan = ThreadedScan(GameWatcher([Game("cs2")]))

    async def look() -> tuple[RunningGame, ...]:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            found = await scan()
            if found:
                return found
            await asyncio.sleep(0.05)
        return ()

    try:
        assert pids(asyncio.run(look())) == {cs2.pid}
    finally:
        scan.close()


def test_the_real_table_reads_details_or_says_none() -> None:
    table = PsutilProcessTable()
    me = table.look(os.getpid())
    assert me is not None and me.exe is None and me.cmdline is None
    detailed = table.details(me)
    assert detailed is not None and detailed.cmdline and detailed.exe
    assert table.look(2**22 + 12345) is None  # above any pid Linux hands out


# ------------------------------------------------------------ the table in memory


def test_a_look_reads_names_of_new_pids_only() -> None:
    table = FakeProcessTable()
    old_s = 1000.0
    for pid in range(100, 400):
        table.start(pid, f"daemon{pid}", old_s)
    watcher = GameWatcher([Game("cs2")], table, clock=lambda: old_s + RECHECK_S + 1)

    watcher.scan()
    assert len(table.looks) == 300
    table.looks.clear()
    watcher.scan()
    assert table.looks == []  # nothing new, no game: no process was read at all

    table.start(500, "cs2", old_s + RECHECK_S)
    assert [g.pid for g in watcher.scan()] == [500]
    assert table.looks == [500] and table.details_read == []  # the name was enough
    table.looks.clear()
    watcher.scan()
    assert table.looks == [500]  # the game itself: still the same process?


def test_details_are_read_only_for_names_that_may_be_a_game() -> None:
    table = FakeProcessTable()
    table.start(1, "bash", 10.0)
    table.start(2, "cs2", 10.0, "cs2", "-vulkan", exe="/games/cs2")
    table.start(3, "cs2", 10.0, "cs2", exe="/usr/games/cs2")
    watcher = GameWatcher([Game("cs2", path="/games")], table, clock=lambda: 1000.0)
    assert [g.pid for g in watcher.scan()] == [2]
    assert sorted(table.details_read) == [2, 3]


def test_a_reused_pid_is_a_new_process() -> None:
    table = FakeProcessTable()
    now_s = 5000.0
    table.start(42, "cs2", 1000.0)
    watcher = GameWatcher([Game("cs2")], table, clock=lambda: now_s)
    assert [g.started for g in watcher.scan()] == [1000.0]

    table.start(42, "bash", 4999.0)  # cs2 exited and bash got its pid between two looks
    assert watcher.scan() == ()
    table.start(42, "cs2", 4999.5)  # and again (bash is young, so read): a new cs2
    assert [g.started for g in watcher.scan()] == [4999.5]


def test_young_processes_have_their_name_read_again_until_they_settle() -> None:
    table = FakeProcessTable()
    now = [1000.0]
    table.start(7, "sh", 999.0)
    table.start(8, "bash", 999.0)
    watcher = GameWatcher([Game("cs2")], table, clock=lambda: now[0])
    watcher.scan()
    table.looks.clear()

    now[0] += RECHECK_S / 2
    assert watcher.scan() == ()
    assert sorted(table.names_read) == [7, 8] and table.looks == []  # names only

    table.processes[7] = replace(table.processes[7], name="cs2")  # exec: same pid and start
    assert [g.pid for g in watcher.scan()] == [7]
    assert table.looks == [7]

    now[0] += RECHECK_S
    table.names_read.clear()
    watcher.scan()
    watcher.scan()
    assert table.names_read == []  # settled: bash is not read again
