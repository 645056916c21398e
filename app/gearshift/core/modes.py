"""The two performance modes and the profile each one applies."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class PerformanceMode(enum.Enum):
    """What the machine is tuned for."""

    IMMERSIVE = "immersive"
    """Quality first: 60 to 120 FPS, balanced power."""

    COMPETITIVE = "competitive"
    """Latency first: 300 FPS and up, everything that lowers latency turned on."""

    @property
    def label(self) -> str:
        """The mode's name as players read it."""
        return self.value.capitalize()

    @property
    def other(self) -> PerformanceMode:
        """The mode a toggle goes to from this one."""
        if self is PerformanceMode.IMMERSIVE:
            return PerformanceMode.COMPETITIVE
        return PerformanceMode.IMMERSIVE

    @classmethod
    def parse(cls, text: str) -> PerformanceMode:
        """Read a mode from its name, in any case; ValueError names the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown mode '{text}': choose one of {choices}") from None


@dataclass(frozen=True)
class ActionSpec:
    """One action a mode applies: its kind, and the values it applies with.

    The kind names a builder registered with the mode manager; the parameters are
    handed to that builder together with the mode's profile.
    """

    kind: str
    params: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ModeProfile:
    """What a mode aims for and what it does to the machine.

    Attributes:
        mode: the mode this profile belongs to.
        fps_min: the lowest frame rate the mode aims for, in frames per second.
        fps_max: the highest, or None when there is no ceiling.
        preset: the quality preset's name (a ``Preset`` value) when no GPU says
            better; the card and the measured frame rate refine it while the app runs.
        actions: what the mode applies, in order; undone in reverse.
    """

    mode: PerformanceMode
    fps_min: float
    fps_max: float | None
    preset: str
    actions: tuple[ActionSpec, ...]

    @property
    def budget_ms(self) -> float:
        """The frame budget in milliseconds: the frame time at the FPS floor."""
        return 1000.0 / self.fps_min

    @property
    def fps_range_label(self) -> str:
        """The target frame rates as players write them, e.g. '60-120 FPS'."""
        if self.fps_max is None:
            return f"{self.fps_min:g}+ FPS"
        return f"{self.fps_min:g}-{self.fps_max:g} FPS"


FRAME_BUDGET = "frame_budget"
"""The action kind that hands the mode's frame budget to the budget monitor."""

POWER_PROFILE = "power_profile"
"""Hold a power-profiles-daemon profile (params: profile)."""
PLATFORM_PROFILE = "platform_profile"
"""The ACPI platform profile in sysfs (params: value)."""
CPU_EPP = "cpu_epp"
"""Every CPU's energy-performance preference in sysfs (params: value)."""
CPU_GOVERNOR = "cpu_governor"
"""Every CPU's frequency governor in sysfs (params: value)."""
GPU_CLOCKS = "gpu_clocks"
"""Lock the NVIDIA GPU's graphics clocks (params: min_mhz, max_mhz, gpu; by default the
card's top clock, from the probe)."""
GPU_POWER_LIMIT = "gpu_power_limit"
"""The NVIDIA GPU's power limit (params: watts, gpu; by default the card's maximum)."""
PROCESS_PRIORITY = "process_priority"
"""The game's processes' priority (params: nice, io_class, io_level, cpus)."""
FPS_LIMIT = "fps_limit"
"""MangoHud's fps_limit (params: fps; 0 is no limit)."""
SCREENSAVER = "screensaver"
"""Inhibit the screensaver and idle (params: none)."""
SCRIPTS = "scripts"
"""The player's enter and leave commands (params: none; from the settings)."""

COMPETITIVE_ACTIONS = (
    ActionSpec(FRAME_BUDGET),
    ActionSpec(POWER_PROFILE, MappingProxyType({"profile": "performance"})),
    ActionSpec(PLATFORM_PROFILE, MappingProxyType({"value": "performance"})),
    # EPP before the governor: intel_pstate refuses EPP changes (EBUSY) while the
    # governor is "performance", so leaving must put the governor back first.
    ActionSpec(CPU_EPP, MappingProxyType({"value": "performance"})),
    ActionSpec(CPU_GOVERNOR, MappingProxyType({"value": "performance"})),
    ActionSpec(GPU_CLOCKS),
    ActionSpec(
        PROCESS_PRIORITY,
        MappingProxyType({"nice": -5, "io_class": "best-effort", "io_level": 0}),
    ),
    ActionSpec(FPS_LIMIT, MappingProxyType({"fps": 0})),
    ActionSpec(SCREENSAVER),
    ActionSpec(SCRIPTS),
)
"""What Competitive changes, in order; leaving undoes it in reverse."""

DEFAULT_PROFILES: Mapping[PerformanceMode, ModeProfile] = MappingProxyType(
    {
        # Immersive changes nothing but the budget: leaving Competitive reverts each of
        # its changes to what the machine had before, which is Immersive's state.
        PerformanceMode.IMMERSIVE: ModeProfile(
            mode=PerformanceMode.IMMERSIVE,
            fps_min=60.0,
            fps_max=120.0,
            preset="high",
            actions=(ActionSpec(FRAME_BUDGET),),
        ),
        PerformanceMode.COMPETITIVE: ModeProfile(
            mode=PerformanceMode.COMPETITIVE,
            fps_min=300.0,
            fps_max=None,
            preset="medium",
            actions=COMPETITIVE_ACTIONS,
        ),
    }
)
"""The built-in profiles; user overrides are layered on top of these elsewhere."""


def default_budgets_ms() -> dict[PerformanceMode, float]:
    """Each mode's frame budget in milliseconds, from the built-in profiles."""
    return {mode: profile.budget_ms for mode, profile in DEFAULT_PROFILES.items()}
