"""The capability probe: a yes or a no with a reason, for every control and reading."""

from __future__ import annotations

from dataclasses import replace

import pynvml
import pytest

from gearshift.gpu.fake import MODELS, FakeMachine, FakeNvml
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.probe import NEEDS_PRIVILEGE, ProbeResult
from gearshift.gpu.telemetry import GpuTelemetry


def probed(machine: str | FakeMachine, root: bool = False) -> ProbeResult:
    sampler = GpuTelemetry(NvmlBackend(FakeNvml(machine), is_root=root))
    sampler.open()
    return sampler.probes[0]


def reasons(result: ProbeResult) -> dict[str, str | None]:
    return {c.key: c.reason for c in result.controls}


def test_a_current_desktop_card_as_root_can_use_every_modern_control() -> None:
    result = probed("rtx4080super", root=True)
    assert reasons(result) == {
        "locked_graphics_clocks": None,
        "locked_memory_clocks": None,
        "power_limit": None,
        "application_clocks": "deprecated by this driver for this card: locked clocks "
        "replace application clocks",
        "persistence_mode": None,
    }
    assert result.allows("locked_graphics_clocks")
    assert not result.allows("application_clocks") and not result.allows("no such control")


def test_without_root_or_the_helper_every_setting_says_so() -> None:
    result = probed("rtx4080super", root=False)
    for key in ("locked_graphics_clocks", "locked_memory_clocks", "power_limit"):
        assert result.control(key).reason == NEEDS_PRIVILEGE
    assert "helper" in NEEDS_PRIVILEGE and "root" in NEEDS_PRIVILEGE


def test_a_laptop_gpu_cannot_have_its_power_limit_set() -> None:
    result = probed("rtx4070-laptop", root=True)
    assert reasons(result) == {
        "locked_graphics_clocks": None,
        "locked_memory_clocks": "the card lists no memory clocks to lock to",
        "power_limit": "not supported on this laptop GPU: the laptop's firmware sets its "
        "power limit (and Dynamic Boost moves it)",
        "application_clocks": "not supported on GeForce cards",
        "persistence_mode": "Linux only: Windows drivers (WDDM) have no persistence mode",
    }


def test_an_older_card_is_told_which_generation_a_control_needs() -> None:
    turing = probed("rtx2080super", root=True)
    assert turing.control("locked_memory_clocks").reason == (
        "needs Ampere or newer; this card is Turing"
    )
    pascal_card = replace(
        MODELS["rtx2080super"].cards[0],
        name="NVIDIA GeForce GTX 1080 Ti",
        architecture=pynvml.NVML_DEVICE_ARCH_PASCAL,
    )
    pascal = probed(replace(MODELS["rtx2080super"], cards=(pascal_card,)), root=True)
    assert pascal.control("locked_graphics_clocks").reason == (
        "needs Volta or newer; this card is Pascal"
    )


def test_a_data_centre_card_offers_application_clocks() -> None:
    result = probed("a100-mig", root=True)
    assert all(c.supported for c in result.controls)


@pytest.mark.parametrize(
    ("model", "key", "words"),
    [
        ("rtx4070-laptop", "fan_pct", "laptop's own controller"),
        ("a100-mig", "fan_pct", "reports no fan"),
        ("a100-mig", "utilization_gpu_pct", "MIG mode"),
        ("rtx4080super", "memory_temperature_c", "HBM"),
        ("rtx2080super", "process_memory", "WDDM"),
    ],
)
def test_each_missing_reading_has_a_reason(model: str, key: str, words: str) -> None:
    readings = {c.key: c for c in probed(model).readings}
    assert not readings[key].supported
    assert words in (readings[key].reason or "")


def test_readings_the_card_gives_are_supported() -> None:
    readings = {c.key: c for c in probed("rtx4080super").readings}
    supported = {key for key, c in readings.items() if c.supported}
    assert supported == set(readings) - {"memory_temperature_c"}
    assert all(c.reason is None for c in readings.values() if c.supported)
