"""Which quality preset each mode starts from on this card, and why.

The card's tier comes from a performance index: its power limit in watts times how much
work its architecture does per watt, with laptop parts credited for running efficiently
at low power. Its memory caps the tier (a 6 GB card is never 'high'), and a laptop part
tops out at 'high' (its cooling holds boost clocks for less time). Immersive (60 to 120
FPS) takes the card's tier; Competitive (300 FPS and up) one level lower.

While the game runs, the measured frame rate moves each mode's preset (see
``gearshift.core.presets.PresetTuner``). The card's answer is cached per card for a
time to live, so status requests do not recompute it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gearshift.core.budget import BudgetStats
from gearshift.core.modes import DEFAULT_PROFILES, ModeProfile, PerformanceMode
from gearshift.core.presets import Preset, PresetTuner, TunerPolicy
from gearshift.gpu.model import GpuInfo

EFFICIENCY = {
    2: 0.35,  # Kepler
    3: 0.5,  # Maxwell
    4: 0.7,  # Pascal
    5: 0.9,  # Volta
    6: 0.9,  # Turing
    7: 1.0,  # Ampere
    8: 1.4,  # Ada Lovelace
    9: 1.3,  # Hopper
    10: 1.5,  # Blackwell
}
"""Relative work per watt of each architecture (NVML's numbering), Ampere = 1."""

LAPTOP_CREDIT = 2.2
"""Laptop parts do more per watt at their low limits than desktop parts at theirs."""

TIER_FLOORS = ((Preset.ULTRA, 400.0), (Preset.HIGH, 160.0), (Preset.MEDIUM, 100.0))
"""The lowest performance index of each tier; below the last, low."""

MEMORY_CAPS_GIB = ((4.0, Preset.LOW), (8.0, Preset.MEDIUM), (12.0, Preset.HIGH))
"""Below this much memory, at most this tier."""

DEFAULT_TTL_S = 3600.0
"""How long a card's answer is kept before it is worked out again, in seconds."""


@dataclass(frozen=True)
class CardTier:
    """A card's tier and how it was reached.

    Attributes:
        preset: the tier, as the preset Immersive starts from.
        index: the performance index (watts × efficiency), or None when unknown.
        why: the card's figures that decided it, e.g. "RTX 4070 Laptop GPU, 8 GB, 55 W".
        capped_by: what held the tier down ("8 GB of memory"), or None.
    """

    preset: Preset
    index: float | None
    why: str
    capped_by: str | None = None


def card_tier(gpu: GpuInfo) -> CardTier:
    """The tier of ``gpu`` from its power limit, architecture, memory and form factor."""
    watts = _figure(gpu.power_default_w) or _figure(gpu.power_limit_w)
    memory_gib = _figure(gpu.memory_gib)
    figures = [gpu.short_name or f"GPU {gpu.index}"]
    if memory_gib is not None:
        figures.append(f"{memory_gib:.0f} GB")
    if watts is not None:
        figures.append(f"{watts:.0f} W")
    why = ", ".join(figures)

    efficiency = None
    if gpu.generation is not None and gpu.generation in EFFICIENCY:
        efficiency = EFFICIENCY[gpu.generation]
    elif gpu.generation is not None and gpu.generation > max(EFFICIENCY):
        efficiency = EFFICIENCY[max(EFFICIENCY)]  # newer than any known: at least as good
    if watts is None or efficiency is None:
        preset = _tier_from_memory(memory_gib)
        return CardTier(preset, None, f"{why} (power or architecture unknown: tier from memory)")

    index = watts * efficiency * (LAPTOP_CREDIT if gpu.is_laptop else 1.0)
    preset = next((tier for tier, floor in TIER_FLOORS if index >= floor), Preset.LOW)
    capped_by = None
    if memory_gib is not None:
        for limit_gib, cap in MEMORY_CAPS_GIB:
            if memory_gib < limit_gib - 0.5 and preset.quality_level > cap.quality_level:
                preset, capped_by = cap, f"{memory_gib:.0f} GB of memory"
                break
    if gpu.is_laptop and preset is Preset.ULTRA:
        preset, capped_by = Preset.HIGH, "a laptop part"
    return CardTier(preset, index, why, capped_by)


def _figure(value: float | None) -> float | None:
    """A figure that can be used: positive and finite; anything else is unknown."""
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return value


def _tier_from_memory(memory_gib: float | None) -> Preset:
    if memory_gib is None:
        return Preset.MEDIUM
    if memory_gib >= 12:
        return Preset.HIGH
    return Preset.MEDIUM if memory_gib >= 6 else Preset.LOW


def start_preset(tier: Preset, mode: PerformanceMode) -> Preset:
    """The preset ``mode`` starts from on a card of ``tier``."""
    return tier if mode is PerformanceMode.IMMERSIVE else tier.stepped(-1)


def default_preset(profile: ModeProfile) -> Preset:
    """The preset a profile names, when no card says better."""
    try:
        return Preset(profile.preset)
    except ValueError:
        return Preset.MEDIUM


class PresetAdvisor:
    """Each mode's preset: from the card (cached with a time to live), then measured.

    Args:
        profiles: each mode's profile (targets and the fallback preset).
        clock: monotonic seconds.
        ttl_s: how long the card's answer is kept.
        policy: when the measured frame rate moves a preset.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        profiles: Mapping[PerformanceMode, ModeProfile] = DEFAULT_PROFILES,
        ttl_s: float = DEFAULT_TTL_S,
        policy: TunerPolicy | None = None,
    ) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._cached: tuple[str, float, CardTier] | None = None
        self._gpu: GpuInfo | None = None
        self.tuners = {
            mode: PresetTuner(profile, default_preset(profile), clock, policy)
            for mode, profile in profiles.items()
        }

    def use_gpu(self, gpu: GpuInfo | None) -> CardTier | None:
        """Take the card the numbers come from; each mode restarts from its tier when
        the card (or its cached answer) changes. Returns the card's tier."""
        self._gpu = gpu
        if gpu is None:
            return None
        key = gpu.uuid or f"{gpu.index}:{gpu.name}"
        now_s = self._clock()
        cached = self._cached
        if cached is not None and cached[0] == key and now_s - cached[1] < self._ttl_s:
            return cached[2]
        tier = card_tier(gpu)
        self._cached = (key, now_s, tier)
        for mode, tuner in self.tuners.items():
            tuner.reset(start_preset(tier.preset, mode))
        return tier

    @property
    def tier(self) -> CardTier | None:
        """The card's tier, or None when no card is known."""
        return None if self._cached is None or self._gpu is None else self._cached[2]

    def preset(self, mode: PerformanceMode) -> Preset:
        """The preset ``mode`` uses now."""
        return self.tuners[mode].preset

    def observe(self, mode: PerformanceMode, stats: BudgetStats) -> Preset | None:
        """Feed the active mode's live statistics; returns its new preset if it moved."""
        return self.tuners[mode].observe(stats)

    def explain(self, active: PerformanceMode | None = None) -> str:
        """One line, e.g. 'RTX 4070 Laptop GPU, 8 GB, 55 W: high for Immersive, medium
        for Competitive; measured 142 FPS against a 300 FPS target'."""
        presets = ", ".join(
            f"{self.preset(mode).value} for {mode.label}" for mode in PerformanceMode
        )
        tier = self.tier
        if tier is None:
            head = f"no GPU figures: {presets} (the defaults)"
        else:
            capped = f" (held down by {tier.capped_by})" if tier.capped_by else ""
            head = f"{tier.why}{capped}: {presets}"
        measured = self.tuners[active].describe() if active is not None else None
        return f"{head}; {measured}" if measured else head
