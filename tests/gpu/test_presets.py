"""Presets: the card's tier from a table of real cards, and moving on measured frames."""

from __future__ import annotations

import numpy as np
import pytest

from gearshift.core.budget import BudgetMonitor, BudgetStats
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from gearshift.core.presets import Preset, PresetTuner, Trend
from gearshift.gpu.model import GpuInfo
from gearshift.gpu.presets import PresetAdvisor, card_tier, start_preset
from tests.fakes.clock import FakeClock

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE
KEPLER, PASCAL, TURING, AMPERE, ADA, HOPPER, BLACKWELL = 2, 4, 6, 7, 8, 9, 10
L, M, H, U = Preset.LOW, Preset.MEDIUM, Preset.HIGH, Preset.ULTRA

REAL_CARDS = [
    # name, architecture, memory (GB), default power limit (W), tier: published figures
    ("GeForce MX450", TURING, 2, 25, L),
    ("GeForce RTX 3050 Laptop GPU", AMPERE, 4, 60, M),
    ("GeForce RTX 4050 Laptop GPU", ADA, 6, 60, M),
    ("GeForce RTX 4070 Laptop GPU", ADA, 8, 55, H),
    ("GeForce RTX 4090 Laptop GPU", ADA, 16, 150, H),
    ("GeForce GTX 1050 Ti", PASCAL, 4, 75, L),
    ("GeForce GTX 1060 6GB", PASCAL, 6, 120, L),
    ("GeForce GTX 1080 Ti", PASCAL, 11, 250, H),
    ("GeForce RTX 2060", TURING, 6, 160, M),
    ("GeForce RTX 2080 SUPER", TURING, 8, 250, H),
    ("GeForce RTX 3060", AMPERE, 12, 170, H),
    ("GeForce RTX 3080", AMPERE, 10, 320, H),
    ("GeForce RTX 4080 SUPER", ADA, 16, 320, U),
    ("GeForce RTX 4090", ADA, 24, 450, U),
    ("GeForce RTX 5080", BLACKWELL, 16, 360, U),
    ("RTX A2000", AMPERE, 6, 70, L),
    ("Quadro P4000", PASCAL, 8, 105, L),
    ("RTX 6000 Ada Generation", ADA, 48, 300, U),
    ("Tesla T4", TURING, 16, 70, L),
    ("Tesla K80", KEPLER, 12, 150, L),
    ("A100 80GB PCIe", AMPERE, 80, 300, H),
    ("H100 PCIe", HOPPER, 80, 350, U),
]


def card(name: str, generation: int | None, memory_gb: float, watts: float | None) -> GpuInfo:
    return GpuInfo(
        index=0,
        name=f"NVIDIA {name}",
        uuid=f"GPU-{abs(hash(name)):x}",
        pci_bus_id=None,
        brand=None,
        architecture=None,
        generation=generation,
        memory_total_mib=memory_gb * 1024,
        power_default_w=watts,
        power_limit_w=watts,
        power_min_w=None,
        power_max_w=None,
        max_graphics_clock_mhz=None,
        max_sm_clock_mhz=None,
        max_memory_clock_mhz=None,
        display_active=True,
        mig_enabled=None,
    )


@pytest.mark.parametrize(
    ("name", "generation", "memory_gb", "watts", "tier"),
    REAL_CARDS,
    ids=[row[0] for row in REAL_CARDS],
)
def test_real_cards_land_in_their_tier(
    name: str, generation: int, memory_gb: float, watts: float, tier: Preset
) -> None:
    assert card_tier(card(name, generation, memory_gb, watts)).preset is tier


def test_the_tier_explains_itself_and_what_held_it_down() -> None:
    laptop = card_tier(card("GeForce RTX 4090 Laptop GPU", ADA, 16, 150))
    assert laptop.why == "GeForce RTX 4090 Laptop GPU, 16 GB, 150 W"
    assert laptop.capped_by == "a laptop part"
    small = card_tier(card("GeForce RTX 4050 Laptop GPU", ADA, 6, 60))
    assert small.capped_by == "6 GB of memory"


def test_a_card_with_unknown_figures_falls_back_on_its_memory() -> None:
    tier = card_tier(card("Future GPU", None, 16, None))
    assert tier.preset is H and tier.index is None
    assert "tier from memory" in tier.why


def test_competitive_starts_one_level_below_immersive() -> None:
    assert start_preset(U, IMM) is U and start_preset(U, COMP) is H
    assert start_preset(L, COMP) is L
    assert [p.quality_level for p in Preset] == [0, 1, 2, 3]


# ----------------------------------------------------------------------- the tuner


def stats(avg_fps: float, over_budget_pct: float, frames: int = 600) -> BudgetStats:
    return BudgetStats(
        budget_ms=1000 / 60,
        frames=frames,
        window_s=10.0,
        avg_fps=avg_fps,
        low1_fps=avg_fps * 0.8,
        p99_ms=1000 / avg_fps,
        over_budget_pct=over_budget_pct,
        recent_ms=np.empty(0),
    )


def feed(tuner: PresetTuner, clock: FakeClock, snapshot: BudgetStats, seconds: float) -> list:
    moves = []
    for _ in range(round(seconds * 8)):
        clock.advance(0.125)  # eight snapshots a second, exact in binary
        moved = tuner.observe(snapshot)
        if moved is not None:
            moves.append((clock.now_s - 1000, moved))
    return moves


def test_sustained_headroom_moves_up_only_after_the_sustain_time() -> None:
    clock = FakeClock()
    tuner = PresetTuner(DEFAULT_PROFILES[IMM], M, clock)
    assert tuner.trend_of(stats(200, 0)) is Trend.UP  # 200 >= 120 x 1.25
    moves = feed(tuner, clock, stats(200, 0), 45)
    assert moves == [(10.125, H), (40.125, U)]  # then held 30 s before the next move


def test_frames_over_budget_move_down() -> None:
    clock = FakeClock()
    tuner = PresetTuner(DEFAULT_PROFILES[COMP], H, clock)
    assert feed(tuner, clock, stats(250, 20), 11) == [(10.125, M)]
    assert tuner.describe() == (
        "measured 250 FPS against a 300 FPS target; moved from high to medium: 20% of "
        "frames missed the 16.67 ms budget for 10 s"
    )


def test_a_frame_rate_between_the_thresholds_leaves_the_preset_alone() -> None:
    clock = FakeClock()
    tuner = PresetTuner(DEFAULT_PROFILES[IMM], H, clock)
    assert feed(tuner, clock, stats(130, 1), 60) == []  # above 120, below 150, few misses


def test_a_flapping_frame_rate_never_moves_the_preset() -> None:
    clock = FakeClock()
    tuner = PresetTuner(DEFAULT_PROFILES[IMM], H, clock)
    moves = []
    for second in range(120):
        snapshot = stats(200, 0) if second % 8 < 4 else stats(50, 30)
        moves += feed(tuner, clock, snapshot, 1)
    assert moves == []


def test_too_few_frames_say_nothing() -> None:
    clock = FakeClock()
    tuner = PresetTuner(DEFAULT_PROFILES[IMM], H, clock)
    assert feed(tuner, clock, stats(500, 0, frames=10), 30) == []
    assert tuner.describe() is None


def test_the_preset_stays_within_low_and_ultra() -> None:
    clock = FakeClock()
    tuner = PresetTuner(DEFAULT_PROFILES[IMM], U, clock)
    assert feed(tuner, clock, stats(400, 0), 60) == []
    tuner.reset(L)
    assert feed(tuner, clock, stats(30, 90), 60) == []


def test_live_statistics_from_the_budget_monitor_drive_the_tuner() -> None:
    clock = FakeClock()
    tuner = PresetTuner(DEFAULT_PROFILES[COMP], M, clock)
    monitor = BudgetMonitor(DEFAULT_PROFILES[COMP].budget_ms)
    monitor.push(np.full(5000, 1.5))  # 667 FPS, well above 300 x 1.5
    assert feed(tuner, clock, monitor.stats(), 11) == [(10.125, H)]


# ----------------------------------------------------------------------- the advisor


def test_the_advisor_starts_each_mode_from_the_card_and_explains_it() -> None:
    clock = FakeClock()
    advisor = PresetAdvisor(clock)
    assert (
        advisor.explain()
        == "no GPU figures: high for Immersive, medium for Competitive (the defaults)"
    )
    advisor.use_gpu(card("GeForce RTX 4070 Laptop GPU", ADA, 8, 55))
    assert (advisor.preset(IMM), advisor.preset(COMP)) == (H, M)
    feed(advisor.tuners[COMP], clock, stats(142, 60), 1)
    assert advisor.explain(COMP) == (
        "GeForce RTX 4070 Laptop GPU, 8 GB, 55 W: high for Immersive, medium for "
        "Competitive; measured 142 FPS against a 300 FPS target"
    )


def test_the_card_s_answer_is_cached_for_its_time_to_live() -> None:
    clock = FakeClock()
    advisor = PresetAdvisor(clock, ttl_s=60)
    gpu = card("GeForce RTX 4080 SUPER", ADA, 16, 320)
    first = advisor.use_gpu(gpu)
    feed(advisor.tuners[IMM], clock, stats(30, 80), 11)  # measured: down to high
    assert advisor.preset(IMM) is H
    assert advisor.use_gpu(gpu) is first and advisor.preset(IMM) is H  # kept
    clock.advance(60)
    again = advisor.use_gpu(gpu)
    assert again is not first and again == first
    assert advisor.preset(IMM) is U  # worked out afresh from the card


@pytest.mark.parametrize(
    ("memory_gb", "watts"), [(0, 320), (-1, 320), (16, 0), (16, -320), (float("nan"), 320)]
)
def test_figures_that_cannot_be_real_are_unknown_not_used(memory_gb: float, watts: float) -> None:
    tier = card_tier(card("GeForce RTX 4080 SUPER", ADA, memory_gb, watts))
    assert "nan" not in tier.why and "-" not in tier.why and " 0 " not in tier.why
    assert tier.capped_by is None or "0 GB" not in tier.capped_by


def test_a_generation_newer_than_any_known_counts_as_the_newest() -> None:
    assert card_tier(card("Next GPU", 13, 16, 360)).preset is U
