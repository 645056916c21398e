"""The Prometheus endpoint, scraped over HTTP and read with prometheus-client's parser."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from gearshift.control.metrics import GearshiftMetrics, MetricsEndpoint
from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.errors import ModeTransitionError
from gearshift.core.events import BudgetStatsUpdated, EventBus
from gearshift.core.histogram import FrameHistogram
from gearshift.core.manager import ModeManager
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from gearshift.gpu.fake import FakeNvml
from gearshift.gpu.model import Telemetry
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.telemetry import GpuTelemetry
from tests.fakes.actions import FakeMachine, fake_builders, setting_spec

COMP = PerformanceMode.COMPETITIVE


class Rig:
    def __init__(self, gpu: Telemetry | None = None) -> None:
        self.events = EventBus()
        self.monitor = BudgetMonitor(16.67)
        self.manager = ModeManager(core_action_builders(self.monitor), self.events, cooldown_s=0)
        asyncio.run(self.manager.start())
        self.frames = FrameHistogram()
        self.metrics = GearshiftMetrics(
            self.manager, self.events, self.frames, (lambda: gpu) if gpu else None
        )
        self.endpoint = MetricsEndpoint(self.metrics, port=0)
        self.endpoint.start()

    def scrape(self) -> dict[str, list[Sample]]:
        with urllib.request.urlopen(self.endpoint.url, timeout=10) as answer:
            text = answer.read().decode()
        return {f.name: f.samples for f in text_string_to_metric_families(text)}


@pytest.fixture
def rig() -> Iterator[Rig]:
    rig = Rig()
    yield rig
    rig.endpoint.stop()
    rig.metrics.close()


def _fan_manager(machine: FakeMachine, events: EventBus) -> ModeManager:
    """A started manager whose modes set a fake fan; ``machine`` decides what fails."""
    profiles = {
        m: replace(p, actions=(setting_spec("fan", "auto", "max"),))
        for m, p in DEFAULT_PROFILES.items()
    }
    manager = ModeManager(fake_builders(machine), events, profiles=profiles, cooldown_s=0)
    asyncio.run(manager.start())
    return manager


def value(samples: list[Sample], name: str, /, **labels: str) -> float:
    matches = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(matches) == 1, (name, labels, samples)
    return matches[0]


def test_the_endpoint_is_loopback_only_by_default(rig: Rig) -> None:
    assert rig.endpoint.address == "127.0.0.1"
    assert rig.endpoint.url.startswith("http://127.0.0.1:")


def test_switches_durations_and_the_current_mode_are_exported(rig: Rig) -> None:
    asyncio.run(rig.manager.set_mode(COMP))
    asyncio.run(rig.manager.set_mode(PerformanceMode.IMMERSIVE))
    asyncio.run(rig.manager.set_mode(COMP))
    families = rig.scrape()
    switches = families["gearshift_mode_switches"]
    assert (
        value(
            switches, "gearshift_mode_switches_total", from_mode="immersive", to_mode="competitive"
        )
        == 2
    )
    assert (
        value(
            switches, "gearshift_mode_switches_total", from_mode="competitive", to_mode="immersive"
        )
        == 1
    )
    durations = families["gearshift_switch_duration_seconds"]
    assert value(durations, "gearshift_switch_duration_seconds_count") == 3
    mode = families["gearshift_mode"]
    assert value(mode, "gearshift_mode", mode="competitive") == 1
    assert value(mode, "gearshift_mode", mode="immersive") == 0


def test_rollbacks_are_counted_by_the_failing_step() -> None:
    events = EventBus()
    machine = FakeMachine(fail_apply={"fan=max"})
    manager = _fan_manager(machine, events)
    metrics = GearshiftMetrics(manager, events, FrameHistogram())
    endpoint = MetricsEndpoint(metrics, port=0)
    endpoint.start()
    try:
        for _ in range(2):
            with pytest.raises(ModeTransitionError):
                asyncio.run(manager.set_mode(COMP))
        with urllib.request.urlopen(endpoint.url, timeout=10) as answer:
            text = answer.read().decode()
    finally:
        endpoint.stop()
    families = {f.name: f.samples for f in text_string_to_metric_families(text)}
    assert value(families["gearshift_rollbacks"], "gearshift_rollbacks_total", step="fan=max") == 2


def test_live_readings_are_absent_until_frames_arrive_then_exported(rig: Rig) -> None:
    families = rig.scrape()
    assert "gearshift_live_fps" not in families  # missing, never 0
    assert (
        value(families["gearshift_frame_time_seconds"], "gearshift_frame_time_seconds_count") == 0
    )

    frames = [2.0] * 90 + [20.0] * 10
    rig.monitor.push(frames)
    rig.frames.add(frames)
    rig.events.publish(BudgetStatsUpdated(rig.monitor.stats()))
    families = rig.scrape()
    histogram = families["gearshift_frame_time_seconds"]
    assert value(histogram, "gearshift_frame_time_seconds_count") == 100
    assert value(histogram, "gearshift_frame_time_seconds_bucket", le="0.002") == 90
    assert value(histogram, "gearshift_frame_time_seconds_bucket", le="0.01667") == 90
    assert value(histogram, "gearshift_frame_time_seconds_bucket", le="0.025") == 100
    assert value(histogram, "gearshift_frame_time_seconds_sum") == pytest.approx(0.38)
    assert value(
        families["gearshift_live_over_budget_ratio"], "gearshift_live_over_budget_ratio"
    ) == pytest.approx(0.10)
    assert value(
        families["gearshift_frame_budget_seconds"], "gearshift_frame_budget_seconds"
    ) == pytest.approx(0.01667, abs=1e-4)


def _scrape_fake_gpu(model: str) -> dict[str, list[Sample]]:
    sampler = GpuTelemetry(NvmlBackend(FakeNvml(model), is_root=False))
    rig = Rig(sampler.open())
    try:
        return rig.scrape()
    finally:
        rig.endpoint.stop()
        sampler.close()


def test_gpu_readings_in_base_units_and_those_the_card_lacks_absent() -> None:
    families = _scrape_fake_gpu("rtx4070-laptop")  # a laptop GPU: no fan reading
    labels = {"gpu": "0", "name": "GeForce RTX 4070 Laptop GPU"}
    assert (
        value(
            families["gearshift_gpu_temperature_celsius"],
            "gearshift_gpu_temperature_celsius",
            **labels,
        )
        == 42
    )
    assert value(
        families["gearshift_gpu_power_watts"], "gearshift_gpu_power_watts", **labels
    ) == pytest.approx(1.97)
    assert (
        value(
            families["gearshift_gpu_graphics_clock_hertz"],
            "gearshift_gpu_graphics_clock_hertz",
            **labels,
        )
        == 210e6
    )
    assert (
        value(
            families["gearshift_gpu_memory_used_bytes"],
            "gearshift_gpu_memory_used_bytes",
            **labels,
        )
        == 0
    )
    assert value(families["gearshift_gpu_up"], "gearshift_gpu_up", **labels) == 1
    assert (
        value(
            families["gearshift_gpu_clock_event_active"],
            "gearshift_gpu_clock_event_active",
            reason="idle",
            **labels,
        )
        == 1
    )
    assert "gearshift_gpu_fan_speed_ratio" not in families
    assert "gearshift_gpu_memory_temperature_celsius" not in families


def test_a_lost_gpu_is_down_and_has_no_readings() -> None:
    families = _scrape_fake_gpu("dual-lost")
    assert (
        value(
            families["gearshift_gpu_up"],
            "gearshift_gpu_up",
            gpu="0",
            name="GeForce RTX 4080 SUPER",
        )
        == 1
    )
    assert value(families["gearshift_gpu_up"], "gearshift_gpu_up", gpu="1", name="") == 0
    temperatures = families["gearshift_gpu_temperature_celsius"]
    assert [s.labels["gpu"] for s in temperatures] == ["0"]


def test_a_taken_port_is_an_oserror_not_a_crash(rig: Rig) -> None:
    second = MetricsEndpoint(rig.metrics, port=rig.endpoint.port)
    with pytest.raises(OSError):
        second.start()


def test_the_grafana_dashboard_asks_only_for_metrics_that_exist() -> None:
    """Every gearshift_ series the shipped dashboard queries is one a scrape has."""
    repo = Path(__file__).resolve().parents[2]
    dashboard = json.loads((repo / "packaging" / "grafana-dashboard.json").read_text())
    queried = set(re.findall(r"gearshift_\w+", json.dumps(dashboard["panels"])))

    events = EventBus()
    machine = FakeMachine(fail_apply={"fan=max"})
    manager = _fan_manager(machine, events)
    monitor = BudgetMonitor(16.67)
    monitor.push([5.0] * 100)
    metrics = GearshiftMetrics(manager, events, FrameHistogram())
    events.publish(BudgetStatsUpdated(monitor.stats()))
    with pytest.raises(ModeTransitionError):
        asyncio.run(manager.set_mode(COMP))
    machine.fail_apply.clear()
    asyncio.run(manager.set_mode(COMP))
    text = generate_latest(metrics.registry).decode()
    exported = {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }
    assert queried and queried <= exported, queried - exported
