"""The GPU side of the running app: events on the bus, presets that move, the API's view."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from gearshift.control.service import ControlService
from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import BudgetStatsUpdated, EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.modes import PerformanceMode
from gearshift.core.presets import Preset, PresetChanged, TunerPolicy
from gearshift.gpu.fake import FakeNvml
from gearshift.gpu.model import TelemetryUpdated
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.presets import PresetAdvisor
from gearshift.gpu.service import GpuService
from gearshift.gpu.telemetry import GpuTelemetry
from tests.fakes.clock import FakeClock

IMM, COMP = PerformanceMode.IMMERSIVE, PerformanceMode.COMPETITIVE
QUICK = TunerPolicy(sustain_s=1.0, hold_s=5.0)


class Side:
    """A started mode manager, a GpuService on a fake card, and what the bus carried."""

    def __init__(self, model: str | None, *, adjust: bool = True) -> None:
        self.clock = FakeClock()
        self.events = EventBus()
        self.monitor = BudgetMonitor(16.67)
        self.manager = ModeManager(
            core_action_builders(self.monitor), self.events, cooldown_s=0, clock=self.clock
        )
        asyncio.run(self.manager.start())
        telemetry = (
            None
            if model is None
            else GpuTelemetry(NvmlBackend(FakeNvml(model), is_root=False), interval_s=0.01)
        )
        advisor = PresetAdvisor(self.clock, self.manager.profiles, policy=QUICK)
        self.service = GpuService(
            telemetry, self.manager, self.events, advisor, adjust_presets=adjust
        )
        self.changes: list[PresetChanged] = []
        self.updates: list[TelemetryUpdated] = []
        self.events.subscribe(PresetChanged, self.changes.append)
        self.events.subscribe(TelemetryUpdated, self.updates.append)
        self.control = ControlService(
            self.manager, self.events, self.monitor, source_label="test", gpu=self.service
        )

    def run_for(self, updates: int) -> None:
        """Run the service until it has published ``updates`` snapshots."""

        async def scenario() -> None:
            task = asyncio.ensure_future(self.service.run())
            while len(self.updates) < updates and not task.done():
                await asyncio.sleep(0.005)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        asyncio.run(scenario())

    def play(self, fps: float, seconds: float) -> None:
        """Publish live statistics of a game at ``fps`` for ``seconds``."""
        self.monitor.push(np.full(2000, 1000.0 / fps))
        for _ in range(round(seconds * 8)):
            self.clock.advance(0.125)
            self.events.publish(BudgetStatsUpdated(self.monitor.stats()))


def test_the_card_s_presets_are_announced_once_then_snapshots_flow() -> None:
    side = Side("rtx4080super")
    side.run_for(updates=5)
    assert [(c.mode, c.preset) for c in side.changes] == [(IMM, Preset.ULTRA), (COMP, Preset.HIGH)]
    assert side.changes[0].why.startswith("GeForce RTX 4080 SUPER, 16 GB, 320 W: ultra")
    assert all(u.telemetry.available for u in side.updates)
    assert 1 <= len(side.updates[-1].history) <= len(side.updates)


def test_a_high_frame_rate_moves_the_active_mode_s_preset_up() -> None:
    side = Side("rtx4070-laptop")
    side.run_for(updates=1)
    side.changes.clear()
    side.play(fps=200, seconds=1.5)  # far above Immersive's 120 FPS ceiling
    assert [(c.mode, c.preset) for c in side.changes] == [(IMM, Preset.ULTRA)]
    assert "measured 200 FPS against a 60-120 FPS target" in side.changes[0].why
    assert side.control.status().preset == "ultra"
    assert side.control.status().preset_why == side.changes[0].why


def test_turned_off_adjustment_keeps_the_card_s_presets() -> None:
    side = Side("rtx4070-laptop", adjust=False)
    side.run_for(updates=1)
    side.changes.clear()
    side.play(fps=200, seconds=3)
    assert side.changes == []
    assert side.service.preset(IMM) is Preset.HIGH


def test_a_mode_switch_restarts_the_trend_of_the_mode_entered() -> None:
    side = Side("rtx4080super")
    side.run_for(updates=1)
    side.changes.clear()
    side.play(fps=80, seconds=0.9)  # not yet a move for Competitive: it is not active
    asyncio.run(side.manager.set_mode(COMP))
    side.play(fps=80, seconds=0.9)  # frames over 3.33 ms, but not for a whole second yet
    assert side.changes == []
    side.play(fps=80, seconds=0.5)
    assert [(c.mode, c.preset) for c in side.changes] == [(COMP, Preset.MEDIUM)]


def test_the_api_status_and_health_carry_the_gpu() -> None:
    side = Side("dual-lost")
    side.run_for(updates=2)
    gpu = side.control.status().gpu
    assert gpu.available and gpu.index == 0 and gpu.state == "ok"
    assert gpu.name == "NVIDIA GeForce RTX 4080 SUPER"
    assert gpu.readings["memory_temperature_c"] is None
    assert gpu.gpus == 2 and gpu.lost == (1,)
    health = side.control.health().subsystems["gpu"]
    assert health.state == "degraded"
    assert health.reason is not None and health.reason.startswith("GPU 1 not answering")


@pytest.mark.parametrize(
    ("model", "words"),
    [("no-driver", "libnvidia-ml"), (None, "turned off in the settings")],
)
def test_no_telemetry_is_unavailable_with_its_reason(model: str | None, words: str) -> None:
    side = Side(model)
    side.run_for(updates=1)
    assert side.updates and not side.updates[0].telemetry.available
    health = side.control.health().subsystems["gpu"]
    assert health.state == "unavailable" and words in (health.reason or "")
    assert side.control.status().preset == "high"  # the profile's, with no card
