"""The window's GPU panel and presets, offscreen, on the fake NVML library."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest
import qasync
from pytestqt.qtbot import QtBot

from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.metrics import FrameTimes
from gearshift.core.modes import PerformanceMode
from gearshift.gpu.fake import FakeNvml
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.presets import PresetAdvisor
from gearshift.gpu.service import GpuService
from gearshift.gpu.telemetry import GpuTelemetry
from gearshift.ui.controller import AppController
from tests.ui.conftest import AppRig, GpuFactory, started


def fake_gpu(model: str, pin: str | None = None) -> GpuFactory:
    def make(manager: ModeManager, events: EventBus) -> GpuService:
        library = FakeNvml(model)
        telemetry = GpuTelemetry(NvmlBackend(library), interval_s=0.05, pin=pin)
        advisor = PresetAdvisor(time.monotonic, manager.profiles)
        return GpuService(telemetry, manager, events, advisor)

    return make


@pytest.fixture
def gpu_model() -> tuple[str, str | None]:
    return "rtx4080super", None


@pytest.fixture
def gpu_rig(
    loop: qasync.QEventLoop, qtbot: QtBot, gpu_model: tuple[str, str | None]
) -> Iterator[AppRig]:
    yield from started(loop, qtbot, tray=False, gpu=fake_gpu(*gpu_model))


def test_the_panel_names_the_gpu_and_shows_its_readings(gpu_rig: AppRig) -> None:
    panel = gpu_rig.app.window.gpu
    gpu_rig.wait_for(lambda: panel.title.text().startswith("GPU 0"))
    assert panel.title.text() == "GPU 0: GeForce RTX 4080 SUPER (it drives the display)"
    curve = panel.graph.curves["temperature_c"]
    gpu_rig.wait_for(lambda: curve.getData()[0] is not None and len(curve.getData()[0]) > 3)
    line = panel.readings.text()
    assert line.startswith("Util ") and "°C" in line and "of 320 W" in line
    assert panel.graph.isVisibleTo(gpu_rig.app.window)


def test_the_card_sets_each_mode_s_preset(gpu_rig: AppRig, qtbot: QtBot) -> None:
    window = gpu_rig.app.window
    gpu_rig.wait_for(lambda: "preset ultra" in window.target_label.text())
    assert "GeForce RTX 4080 SUPER, 16 GB, 320 W" in window.target_label.toolTip()
    gpu_rig.run(gpu_rig.controller.request_mode(PerformanceMode.COMPETITIVE))
    gpu_rig.wait_for(lambda: "preset high" in window.target_label.text())


@pytest.mark.parametrize("gpu_model", [("rtx4070-laptop", None)])
def test_a_reading_the_card_lacks_reads_n_a(gpu_rig: AppRig) -> None:
    panel = gpu_rig.app.window.gpu
    gpu_rig.wait_for(lambda: "Fan" in panel.readings.text())
    assert "Fan N/A" in panel.readings.text()
    assert "Fan 0" not in panel.readings.text()


@pytest.mark.parametrize("gpu_model", [("no-driver", None)])
def test_no_telemetry_says_why_and_hides_the_graph(gpu_rig: AppRig) -> None:
    panel = gpu_rig.app.window.gpu
    gpu_rig.wait_for(lambda: "libnvidia-ml" in panel.title.text())
    assert panel.title.text().startswith("GPU: no GPU telemetry: ")
    assert not panel.graph.isVisibleTo(gpu_rig.app.window)
    assert "preset high" in gpu_rig.app.window.target_label.text()  # the default


@pytest.mark.parametrize("gpu_model", [("dual-lost", "1")])
def test_a_lost_gpu_that_is_pinned_says_it_is_not_answering(gpu_rig: AppRig) -> None:
    panel = gpu_rig.app.window.gpu
    gpu_rig.wait_for(lambda: "not answering" in panel.readings.text())
    assert panel.title.text().startswith("GPU 1 (pinned in the settings)")
    assert "fell off the bus" in panel.readings.text()


class CrashingNvml(FakeNvml):
    """A library that starts, then fails in a way no NVML error code describes."""

    def nvmlDeviceGetTemperature(self, handle: object, sensor: int) -> int:  # noqa: N802
        if self.initialised and self.calls > 200:
            raise RuntimeError("the driver returned garbage")
        return super().nvmlDeviceGetTemperature(handle, sensor)  # type: ignore[arg-type]


def crashing_gpu(manager: ModeManager, events: EventBus) -> GpuService:
    telemetry = GpuTelemetry(NvmlBackend(CrashingNvml("rtx4080super")), interval_s=0.02)
    return GpuService(telemetry, manager, events, PresetAdvisor(time.monotonic, manager.profiles))


def test_a_crashed_sampler_says_so_and_the_app_still_quits_and_reverts(
    loop: qasync.QEventLoop, qtbot: QtBot
) -> None:
    rig = next(started(loop, qtbot, tray=False, gpu=crashing_gpu))
    panel = rig.app.window.gpu
    rig.wait_for(lambda: "stopped after an error" in panel.title.text())
    assert "the driver returned garbage" in panel.title.text()
    gpu = rig.controller.gpu
    assert gpu is not None and not gpu.latest.available
    rig.run(rig.controller.request_mode(PerformanceMode.COMPETITIVE))
    assert rig.quit() == 0
    assert rig.machine.settings["governor"] is None  # undone on the way out


class DyingSource:
    label = "a feed that dies"

    async def batches(self) -> AsyncIterator[FrameTimes]:
        raise RuntimeError("the capture vanished")
        yield np.empty(0)  # pragma: no cover - makes this an async generator


def test_a_task_that_crashed_does_not_stop_the_mode_being_undone(
    loop: qasync.QEventLoop, qtbot: QtBot
) -> None:
    rig = AppRig(loop, qtbot, tray=False)
    controller = AppController(DyingSource(), rig.manager, rig.monitor, rig.controller.events)
    rig.run(controller.start())
    rig.run(controller.request_mode(PerformanceMode.COMPETITIVE))
    assert rig.machine.settings["governor"] == "performance"
    rig.run(controller.stop())
    assert rig.machine.settings["governor"] is None


def no_gpu(manager: ModeManager, events: EventBus) -> GpuService:
    advisor = PresetAdvisor(time.monotonic, manager.profiles)
    return GpuService(None, manager, events, advisor, adjust_presets=False)


def test_telemetry_turned_off_says_so_even_though_it_was_said_before_the_window_showed(
    loop: qasync.QEventLoop, qtbot: QtBot
) -> None:
    rig = next(started(loop, qtbot, tray=False, gpu=no_gpu))
    title = rig.app.window.gpu.title.text()
    assert title == "GPU: GPU telemetry is turned off in the settings ([gpu] enabled)"
    assert rig.quit() == 0
