"""Automatic switching: Competitive while a listed game runs, the previous mode after.

Three parts, none of which touches the machine:

- ``Game`` says how to recognise a listed game's process from what the process table
  tells (its name, executable path and command line).
- ``AutoSwitchPlan`` is the state machine: fed the running games and the switches that
  happened, it says which mode it wants now and why the mode is what it is.
- ``AutoSwitcher`` runs the plan against the mode manager: it asks a process-table scan
  (a seam; ``gearshift.system.processes`` has the real one) on a fixed period, and
  switches when the plan wants a mode.

The rules, as a player meets them:

- A listed game starts: Competitive. The mode active just before is remembered.
- The last listed game exits: back to the remembered mode, whatever was chosen between.
- A switch by hand (tray, window, hotkey, ``gearshift ctl``) while games run wins over
  those games until they exit; a game that starts after it switches again.
- The cooldown is honoured, not forced: an automatic switch that meets it waits until it
  ends and then happens. The cooldown is there to stop flapping, and a game that crashes
  and restarts at once is exactly that; the wait is at most the cooldown the player set.
- A switch that fails and is rolled back is not retried for the same games (each retry
  would undo and redo the machine's settings again); a new game tries again.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from gearshift.core.errors import ModeError, ModeTransitionError
from gearshift.core.events import EventBus, ModeChanged
from gearshift.core.manager import Lifecycle, ModeManager, SwitchOutcome
from gearshift.core.modes import PerformanceMode

_log = logging.getLogger(__name__)

COMM_LENGTH = 15
"""Linux keeps a process name's first 15 characters; longer names arrive cut short."""

BUSY_RETRY_S = 0.5
"""How soon to try again when another switch was in flight, in seconds."""


def _stem(name: str) -> str:
    """A process name as matched: case folded, without a Windows ".exe" ending."""
    folded = name.strip().casefold()
    return folded[:-4] if folded.endswith(".exe") else folded


def _normalised_path(path: str) -> str:
    slashed = path.replace("\\", "/").rstrip("/")
    has_drive = len(slashed) > 1 and slashed[1] == ":"
    return slashed.casefold() if has_drive else slashed  # Windows paths ignore case


def _base_name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ProcessInfo:
    """What the process table says about one process.

    Attributes:
        pid: the process id.
        name: the process name as the system lists it (cut to 15 characters on Linux).
        started: when it started, in the table's own seconds; with the pid it tells a
            process from a later one that reused the pid.
        exe: the executable's path, or None when it was not read or not readable.
        cmdline: the command line, or None when it was not read or not readable.
    """

    pid: int
    name: str
    started: float
    exe: str | None = None
    cmdline: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Game:
    """One listed game and how its process is recognised.

    The name matches without regard to case or a ".exe" ending, so "cs2" finds both a
    native ``cs2`` and ``cs2.exe`` under Wine or Proton.

    Attributes:
        name: the executable's name, e.g. "cs2" or "cs2.exe".
        path: only when the executable (or the command line's first word) is this path
            or inside this folder; empty for anywhere.
        cmdline: only when the command line contains this text; empty for any.
    """

    name: str
    path: str = ""
    cmdline: str = ""

    @property
    def needs_details(self) -> bool:
        """Whether matching needs the executable path and command line, not just the name."""
        return bool(self.path or self.cmdline)

    def may_be(self, process_name: str) -> bool:
        """Whether a process of this name may be the game (details may still say no).

        A 15-character name may be a longer one cut short by Linux.
        """
        want, got = _stem(self.name), _stem(process_name)
        if want == got:
            return True
        cut_short = len(process_name) >= COMM_LENGTH
        return cut_short and self.name.strip().casefold().startswith(process_name.casefold())

    def matches(self, process: ProcessInfo) -> bool:
        """Whether ``process`` is this game; a detail it needs but lacks means no."""
        names = [process.name]
        if process.cmdline:
            names.append(_base_name(process.cmdline[0]))
        if not any(_stem(name) == _stem(self.name) for name in names):
            if not (len(process.name) >= COMM_LENGTH and self.may_be(process.name)):
                return False
            if process.cmdline is None:  # cut short, and nothing to confirm it with
                return False
            if not any(_stem(name) == _stem(self.name) for name in names[1:]):
                return False
        return self._path_matches(process) and self._cmdline_matches(process)

    def _path_matches(self, process: ProcessInfo) -> bool:
        if not self.path:
            return True
        want = _normalised_path(self.path)
        candidates = [process.exe, *(process.cmdline[:1] if process.cmdline else ())]
        for candidate in candidates:
            if candidate:
                got = _normalised_path(candidate)
                if got == want or got.startswith(want + "/"):
                    return True
        return False

    def _cmdline_matches(self, process: ProcessInfo) -> bool:
        if not self.cmdline:
            return True
        return process.cmdline is not None and self.cmdline in " ".join(process.cmdline)


@dataclass(frozen=True)
class RunningGame:
    """A listed game's running process."""

    pid: int
    started: float
    """When the process started, in the process table's seconds."""
    game: Game

    @property
    def name(self) -> str:
        """The game's name as the player listed it."""
        return self.game.name


def match_game(games: Sequence[Game], process: ProcessInfo) -> RunningGame | None:
    """The first listed game ``process`` is, as a RunningGame, or None."""
    for game in games:
        if game.matches(process):
            return RunningGame(process.pid, process.started, game)
    return None


def describe_games(games: Iterable[RunningGame]) -> str:
    """The games' names for a sentence: "cs2", "cs2 and dota2", "a, b and c"."""
    names = list(dict.fromkeys(game.name for game in games))
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _running(games: Sequence[RunningGame], *, short: bool = False) -> str:
    """ "cs2 is running", "cs2 and dota2 are running"; short: "cs2 runs", "... run"."""
    names = describe_games(games)
    plural = len({game.name for game in games}) > 1
    if short:
        return f"{names} {'run' if plural else 'runs'}"
    return f"{names} {'are' if plural else 'is'} running"


# ------------------------------------------------------------------------------ events


@dataclass(frozen=True)
class GamesChanged:
    """The listed games running now changed; ``pids`` are their process ids."""

    games: tuple[RunningGame, ...]

    @property
    def pids(self) -> frozenset[int]:
        """The running games' process ids (for process actions and the GPU to follow)."""
        return frozenset(game.pid for game in self.games)


@dataclass(frozen=True)
class AutoSwitched:
    """Gearshift switched to ``mode`` by itself; ``why`` says so in words."""

    mode: PerformanceMode
    why: str


@dataclass(frozen=True)
class ModeReason:
    """Why the active mode is what it is, in words ("cs2 is running"), or None when
    nothing worth saying happened (the mode Gearshift started in)."""

    mode: PerformanceMode
    why: str | None


# ------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Want:
    """A switch the plan asks for, and why."""

    mode: PerformanceMode
    why: str


class Driver(enum.Enum):
    """Who made the last switch."""

    NOBODY = "nobody"
    """No switch since start."""

    AUTOMATIC = "automatic"
    """Automatic switching, for a game that started or exited."""

    BY_HAND = "by_hand"
    """The player: tray, window, hotkey or ``gearshift ctl``."""


class AutoSwitchPlan:
    """The automatic-switching state machine; no clock, no I/O, no mode manager.

    A session starts when the first listed game is seen and remembers the mode active
    then; it ends once that mode is back after the last game exited (or the player
    switched by hand in the meantime).
    """

    def __init__(self) -> None:
        self._games: dict[int, RunningGame] = {}
        self._previous: PerformanceMode | None = None
        """The mode to return to; None outside a session."""
        self._covered: set[int] = set()
        """Games the player's switch by hand (or a failed switch) left alone."""
        self._hand_in_session = False
        self._failed = False
        self._exited: tuple[RunningGame, ...] = ()
        self._driver = Driver.NOBODY

    @property
    def games(self) -> tuple[RunningGame, ...]:
        """The listed games running, oldest pid first."""
        return tuple(self._games[pid] for pid in sorted(self._games))

    @property
    def in_session(self) -> bool:
        """Whether games run, or a return to the previous mode is still due."""
        return self._previous is not None

    def observe(self, games: Iterable[RunningGame], mode: PerformanceMode) -> bool:
        """Take the games running now; returns whether the set changed."""
        now = {game.pid: game for game in games}
        if now.keys() == self._games.keys():
            return False

        gone = [self._games[pid] for pid in self._games if pid not in now]
        if gone:
            self._exited = tuple(gone)
        if now and self._previous is None:
            self._previous = mode
        self._games = now
        self._covered &= now.keys()
        if not self._covered:
            self._failed = False
        return True

    def decide(self, mode: PerformanceMode) -> Want | None:
        """The switch wanted while ``mode`` is active, or None.

        A session whose return is complete ends here.
        """
        if self._previous is None:
            return None
        if self._games:
            uncovered = [g for pid, g in self._games.items() if pid not in self._covered]
            if uncovered and mode is not PerformanceMode.COMPETITIVE:
                return Want(PerformanceMode.COMPETITIVE, _running(uncovered))
            return None
        if mode is not self._previous:
            return Want(self._previous, f"{describe_games(self._exited)} exited")
        self._end_session()
        return None

    def switched_by_hand(self) -> None:
        """The player switched: that wins over the games running now."""
        self._driver = Driver.BY_HAND
        if self._games:
            self._covered = set(self._games)
            self._hand_in_session = True
            self._failed = False
        elif self._previous is not None:
            self._end_session()  # the player chose; no return is due any more

    def switched_automatically(self) -> None:
        """The switch the plan wanted happened."""
        self._driver = Driver.AUTOMATIC

    def switch_failed(self) -> None:
        """The switch the plan wanted was rolled back: leave these games alone."""
        if self._games:
            self._covered = set(self._games)
            self._failed = True
        else:
            self._end_session()

    def why(self, mode: PerformanceMode) -> str | None:
        """Why ``mode`` is active, in words, or None when nothing is worth saying."""
        games = self.games
        if games and self._failed:
            return f"{_running(games)}, but the switch to Competitive was rolled back"
        if games and self._hand_in_session and self._driver is Driver.BY_HAND:
            return f"switched by hand while {_running(games, short=True)}"
        if games and mode is PerformanceMode.COMPETITIVE:
            return _running(games)
        if games:
            return f"{_running(games)}; Competitive is next"
        if self._previous is not None and mode is not self._previous:
            return f"{describe_games(self._exited)} exited; {self._previous.label} is next"
        if self._driver is Driver.AUTOMATIC:
            return f"{describe_games(self._exited)} exited"
        if self._driver is Driver.BY_HAND:
            return "switched by hand"
        return None

    def _end_session(self) -> None:
        self._previous = None
        self._covered = set()
        self._hand_in_session = False
        self._failed = False


# ----------------------------------------------------------------------- the runner

Scan = Callable[[], Awaitable[Sequence[RunningGame]]]
"""Looks at the process table once and returns the listed games running."""


class AutoSwitcher:
    """Runs an AutoSwitchPlan against the mode manager.

    Args:
        manager: switches go through it, as every other switch does.
        events: where GamesChanged, AutoSwitched and ModeReason are published, and
            where ModeChanged tells switches by hand from its own.
        scan: the process-table look (the seam).
        poll_s: seconds between looks.
        sleep: asyncio.sleep; tests pass a fake.
    """

    def __init__(
        self,
        manager: ModeManager,
        events: EventBus,
        scan: Scan,
        *,
        poll_s: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.plan = AutoSwitchPlan()
        self.poll_s = poll_s
        self._manager = manager
        self._events = events
        self._scan = scan
        self._sleep = sleep
        self._switching = False
        self._waiting_s: float | None = None
        self._last_reason: ModeReason | None = None
        self.scan_problem: str | None = None
        """Why the last look at the process table failed, or None when it worked."""

    @property
    def games(self) -> tuple[RunningGame, ...]:
        """The listed games running, as of the last look."""
        return self.plan.games

    @property
    def switching(self) -> bool:
        """Whether this switcher's own switch is in flight."""
        return self._switching

    def why(self) -> str | None:
        """Why the active mode is what it is, in words (None: nothing worth saying)."""
        why = self.plan.why(self._manager.mode)
        if why is not None and why.endswith("is next") and self._waiting_s is not None:
            why += f" in {self._waiting_s:.0f} s (cooldown)"
        return why

    async def run(self) -> None:
        """Look, decide and switch every ``poll_s`` until the manager stops."""
        unsubscribe = self._events.subscribe(ModeChanged, self._on_mode_changed)
        try:
            while self._manager.lifecycle is not Lifecycle.STOPPED:
                await self.step()
        finally:
            unsubscribe()

    async def step(self) -> None:
        """One look and what follows from it, then the wait until the next."""
        games = await self._look()
        if games is not None and self.plan.observe(games, self._manager.mode):
            _log.info("listed games running: %s", describe_games(games) or "none")
            self._events.publish(GamesChanged(self.plan.games))
        wait_s = await self._drive()
        self._publish_reason()
        await self._sleep(wait_s)

    async def _look(self) -> Sequence[RunningGame] | None:
        try:
            games = await self._scan()
        except Exception as error:  # a failing look is reported once, then retried
            if self.scan_problem is None:
                _log.warning("could not look for running games: %s", error)
            self.scan_problem = str(error) or type(error).__name__
            return None
        if self.scan_problem is not None:
            _log.info("looking for running games works again")
        self.scan_problem = None
        return games

    async def _drive(self) -> float:
        """Switch if the plan wants to; returns how long to wait before the next look."""
        manager = self._manager
        want = self.plan.decide(manager.mode)
        self._waiting_s = None
        if want is None or manager.lifecycle is not Lifecycle.READY:
            return self.poll_s
        left_s = manager.cooldown_left_s()
        if left_s > 0:
            self._waiting_s = left_s
            return min(self.poll_s, left_s)

        self._switching = True
        try:
            result = await manager.set_mode(want.mode)
        except ModeTransitionError:
            self.plan.switch_failed()  # the rollback itself was announced by the manager
            return self.poll_s
        except ModeError as error:
            _log.info("automatic switch to %s not made: %s", want.mode.label, error)
            return self.poll_s
        finally:
            self._switching = False

        if result.switched:
            _log.info("switched to %s automatically: %s", want.mode.label, want.why)
            self._events.publish(AutoSwitched(want.mode, want.why))
        elif result.outcome is SwitchOutcome.COOLDOWN and result.cooldown_left_s:
            self._waiting_s = result.cooldown_left_s
            return min(self.poll_s, result.cooldown_left_s)
        elif result.outcome is SwitchOutcome.BUSY:
            return min(self.poll_s, BUSY_RETRY_S)
        return self.poll_s

    def _on_mode_changed(self, _event: ModeChanged) -> None:
        if self._switching:
            self.plan.switched_automatically()
        else:
            self.plan.switched_by_hand()
        self._publish_reason()

    def _publish_reason(self) -> None:
        reason = ModeReason(self._manager.mode, self.why())
        if reason != self._last_reason:
            self._last_reason = reason
            self._events.publish(reason)
