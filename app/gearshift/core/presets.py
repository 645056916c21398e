"""Quality presets, and moving between them on what the frame times show.

A preset is the quality a mode asks of the game: low, medium, high or ultra. Each has a
quality level (0 to 3) that a game integration can read. Which preset a mode starts
from comes from the card (see ``gearshift.gpu.presets``); while the game runs, a
``PresetTuner`` moves it up when the frame rate sits far above the mode's target and
down when frames keep missing the budget, with enough hysteresis that it never flaps.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from gearshift.core.budget import BudgetStats
from gearshift.core.modes import ModeProfile, PerformanceMode


class Preset(enum.Enum):
    """A quality preset, lowest first."""

    LOW = "low"
    """Lowest quality: for weak cards, or the highest frame rates."""

    MEDIUM = "medium"
    """Between: most settings at their middle value."""

    HIGH = "high"
    """High quality on a capable card."""

    ULTRA = "ultra"
    """Everything at its highest: for the strongest cards."""

    @property
    def label(self) -> str:
        """The preset's name as players read it."""
        return self.value.capitalize()

    @property
    def quality_level(self) -> int:
        """0 (low) to 3 (ultra): the number a game integration reads."""
        return list(Preset).index(self)

    def stepped(self, steps: int) -> Preset:
        """The preset ``steps`` levels up (down when negative), kept within low..ultra."""
        order = list(Preset)
        return order[max(0, min(len(order) - 1, self.quality_level + steps))]


class Trend(enum.Enum):
    """What one statistics snapshot says about the preset."""

    UP = "up"
    """The frame rate is far above the target: there is room for more quality."""

    DOWN = "down"
    """Frames keep missing the budget: less quality would hold the target."""

    STEADY = "steady"
    """Neither: the preset fits."""


@dataclass(frozen=True)
class PresetChanged:
    """A mode's preset moved (published on the core's event bus).

    Attributes:
        mode: the mode whose preset moved.
        preset: its preset now.
        why: one line saying why, for the window and the log.
    """

    mode: PerformanceMode
    preset: Preset
    why: str


@dataclass(frozen=True)
class TunerPolicy:
    """When the tuner moves the preset.

    Attributes:
        headroom_ratio: move up when the average FPS is at least this many times the
            mode's ceiling (its floor times ``open_headroom_ratio`` when it has none).
        open_headroom_ratio: the same for a mode with no ceiling, against its floor.
        over_budget_pct: move down when more than this percent of frames miss the budget.
        sustain_s: a trend must hold this long, in seconds, before the preset moves.
        hold_s: after a move, no further move for this long, in seconds.
        min_frames: snapshots with fewer frames than this say nothing.
    """

    headroom_ratio: float = 1.25
    open_headroom_ratio: float = 1.5
    over_budget_pct: float = 5.0
    sustain_s: float = 10.0
    hold_s: float = 30.0
    min_frames: int = 60


class PresetTuner:
    """Moves one mode's preset on its measured frame rate, with hysteresis.

    Feed it the live statistics while its mode is active. A trend (up or down) must
    hold on every snapshot for ``sustain_s`` before the preset moves one level, and
    after a move nothing moves for ``hold_s``. Up and down have separate thresholds
    (far above the target, versus frames over budget), so a frame rate sitting between
    them leaves the preset alone.

    Args:
        profile: the mode's profile (its target frame rates).
        start: the preset to start from.
        clock: monotonic seconds.
        policy: the thresholds.
    """

    def __init__(
        self,
        profile: ModeProfile,
        start: Preset,
        clock: Callable[[], float],
        policy: TunerPolicy | None = None,
    ) -> None:
        self.profile = profile
        self.preset = start
        self.policy = policy or TunerPolicy()
        self.measured_fps: float | None = None
        """The last average frame rate seen with enough frames, or None."""
        self.last_move: str | None = None
        """Why the preset last moved, in words, or None while it never has."""
        self._clock = clock
        self._trend = Trend.STEADY
        self._trend_since_s: float | None = None
        self._moved_at_s: float | None = None

    def reset(self, start: Preset) -> None:
        """Start again from ``start`` (the card's preset changed, say)."""
        self.preset = start
        self._moved_at_s = None
        self.last_move = None
        self.hold_off()

    def hold_off(self) -> None:
        """Forget the trend so far (its mode just became active): the next move needs a
        trend sustained from now."""
        self._trend, self._trend_since_s = Trend.STEADY, None

    def trend_of(self, stats: BudgetStats) -> Trend:
        """What ``stats`` alone says, without the hysteresis."""
        policy = self.policy
        if stats.frames < policy.min_frames or stats.avg_fps is None:
            return Trend.STEADY
        if stats.over_budget_pct is not None and stats.over_budget_pct > policy.over_budget_pct:
            return Trend.DOWN
        profile = self.profile
        if profile.fps_max is not None:
            roomy_fps = profile.fps_max * policy.headroom_ratio
        else:
            roomy_fps = profile.fps_min * policy.open_headroom_ratio
        return Trend.UP if stats.avg_fps >= roomy_fps else Trend.STEADY

    def observe(self, stats: BudgetStats) -> Preset | None:
        """Take one snapshot; returns the new preset when it moved, else None."""
        now_s = self._clock()
        if stats.frames >= self.policy.min_frames and stats.avg_fps is not None:
            self.measured_fps = stats.avg_fps
        trend = self.trend_of(stats)
        if trend is not self._trend:
            self._trend, self._trend_since_s = trend, now_s
        if trend is Trend.STEADY or self._trend_since_s is None:
            return None
        if now_s - self._trend_since_s < self.policy.sustain_s:
            return None
        if self._moved_at_s is not None and now_s - self._moved_at_s < self.policy.hold_s:
            return None

        moved = self.preset.stepped(1 if trend is Trend.UP else -1)
        if moved is self.preset:
            return None  # already at the end of the range
        if trend is Trend.UP:
            why = f"the frame rate held {stats.avg_fps:.0f} FPS, far above the target"
        else:
            missed = f"{stats.over_budget_pct:.0f}% of frames"
            why = f"{missed} missed the {stats.budget_ms:.2f} ms budget"
        self.last_move = (
            f"moved from {self.preset.value} to {moved.value}: {why} for "
            f"{self.policy.sustain_s:g} s"
        )
        self.preset = moved
        self._moved_at_s = now_s
        self._trend_since_s = now_s  # the next move needs a fresh sustained trend
        return moved

    def describe(self) -> str | None:
        """'measured 142 FPS against a 300 FPS target' (and the last move, if any), or
        None before any frames."""
        if self.measured_fps is None:
            return None
        profile = self.profile
        target = (
            f"a {profile.fps_min:g} FPS target"
            if profile.fps_max is None
            else f"a {profile.fps_min:g}-{profile.fps_max:g} FPS target"
        )
        measured = f"measured {self.measured_fps:.0f} FPS against {target}"
        return measured if self.last_move is None else f"{measured}; {self.last_move}"
