"""The fake cards answer as the real ones did: checked against real nvidia-smi captures.

The captures live in ../shared/telemetry; the tests are skipped when it is absent. Each
check reads one field of ``nvidia-smi -q`` and compares it with what the fake library
answers through the real adapter, so a fake that drifts from the card it copies fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gearshift.gpu.fake import FakeNvml
from gearshift.gpu.model import GpuInfo, GpuReadings
from gearshift.gpu.nvml import NvmlBackend
from tests.fakes.clock import FakeClock

SHARED_TELEMETRY = Path(__file__).resolve().parents[2] / ".." / "shared" / "telemetry"

CAPTURES = {
    "rtx4080super": ("nvsmi_capture_linux_rtx4080super_595.71.05.txt", "# load :: query (-q)"),
    "rtx2080super": ("nvsmi_capture_windows_rtx2080super_591.86.txt", "# load :: query (-q)"),
    "rtx4070-laptop": ("nvsmi_q_rtx4070_laptop_wsl2_566.36.md", "nvidia-smi -q -i 0\n"),
}
"""Each fake model, the capture it copies, and where that capture's full ``-q`` starts."""


def query_fields(text: str) -> dict[str, str]:
    """``nvidia-smi -q`` as {"Section/Key": value}; the first occurrence of each wins."""
    fields: dict[str, str] = {}
    sections: list[tuple[int, str]] = []
    for line in text.splitlines():
        match = re.match(r"^( *)(\S.*?)(?:\s+:\s?(.*))?\s*$", line)
        if not match or line.strip().startswith(("#", "=", "`")):
            continue
        indent, key, value = len(match[1]), match[2].strip(), match[3]
        while sections and sections[-1][0] >= indent:
            sections.pop()
        if value is None or value == "":
            sections.append((indent, key))
            continue
        path = "/".join([*(name for depth, name in sections if depth > 0), key])
        fields.setdefault(path, value.strip())
    return fields


def capture(model: str) -> dict[str, str]:
    name, start = CAPTURES[model]
    path = SHARED_TELEMETRY / name
    if not path.is_file():
        pytest.skip(f"no shared telemetry capture at {path.resolve()}")
    text = path.read_text(encoding="utf-8")
    return query_fields(text[text.index(start) :])


def fake(model: str, load: bool) -> tuple[GpuInfo, GpuReadings]:
    clock = FakeClock(start_s=15.0 if load else 0.0)  # the top and the bottom of the cycle
    backend = NvmlBackend(FakeNvml(model, clock))
    backend.open()
    return backend.describe(0), backend.sample(0, clock.now_s)


def mhz(value: float | None) -> str:
    return "N/A" if value is None else f"{value:.0f} MHz"


def watts(value: float | None) -> str:
    return "N/A" if value is None else f"{value:.2f} W"


@pytest.mark.parametrize("model", list(CAPTURES))
def test_the_card_s_figures_match_its_capture(model: str) -> None:
    fields = capture(model)
    info, _ = fake(model, load=model != "rtx4070-laptop")
    assert fields["Product Name"] == info.name
    assert fields["Product Architecture"] == info.architecture
    assert fields["Product Brand"] == info.brand
    assert fields["FB Memory Usage/Total"] == f"{info.memory_total_mib:.0f} MiB"
    assert fields["GPU Power Readings/Default Power Limit"] == watts(info.power_default_w)
    assert fields["GPU Power Readings/Min Power Limit"] == watts(info.power_min_w)
    assert fields["GPU Power Readings/Max Power Limit"] == watts(info.power_max_w)
    assert fields["Max Clocks/Graphics"] == mhz(info.max_graphics_clock_mhz)
    assert fields["Max Clocks/Memory"] == mhz(info.max_memory_clock_mhz)
    assert fields["PCI/Bus Id"] == info.pci_bus_id
    assert fields["Display Active"] == ("Enabled" if info.display_active else "Disabled")
    model_name = fields.get("Driver Model/Current", "N/A")
    assert model_name == (info.driver_model or "N/A")


@pytest.mark.parametrize("model", list(CAPTURES))
def test_the_live_readings_and_the_n_a_ones_match_the_capture(model: str) -> None:
    fields = capture(model)
    _, readings = fake(model, load=model != "rtx4070-laptop")
    assert fields["Clocks/Graphics"] == mhz(readings.clock_graphics_mhz)
    assert fields["Clocks/Memory"] == mhz(readings.clock_memory_mhz)
    assert fields["Temperature/GPU Current Temp"] == f"{readings.temperature_c:.0f} C"
    fan = fields["Fan Speed"]
    assert fan == ("N/A" if readings.fan_pct is None else f"{readings.fan_pct:.0f} %")
    memory_temp = fields["Temperature/Memory Current Temp"]
    assert (memory_temp == "N/A") == (readings.memory_temperature_c is None)
    assert fields["Performance State"] == f"P{readings.performance_state}"
    idle = fields["Clocks Event Reasons/Idle"] == "Active"
    assert idle == ("idle" in (readings.throttle_reasons or ()))
    assert fields["FB Memory Usage/Used"] == f"{readings.memory_used_mib:.0f} MiB"


def test_power_draw_matches_each_capture() -> None:
    desktop = capture("rtx4080super")
    _, readings = fake("rtx4080super", load=True)
    assert desktop["GPU Power Readings/Instantaneous Power Draw"] == watts(readings.power_w)
    windows = capture("rtx2080super")
    _, readings = fake("rtx2080super", load=True)
    assert windows["GPU Power Readings/Instantaneous Power Draw"] == watts(readings.power_w)
    assert windows["GPU Power Readings/Average Power Draw"] == "N/A"
    laptop = capture("rtx4070-laptop")
    _, readings = fake("rtx4070-laptop", load=False)
    assert laptop["GPU Power Readings/Power Draw"] == watts(readings.power_w)
    assert laptop["GPU Power Readings/Current Power Limit"] == watts(readings.power_limit_w)


def test_the_windows_capture_has_no_per_process_memory_and_neither_has_the_fake() -> None:
    name, _ = CAPTURES["rtx2080super"]
    path = SHARED_TELEMETRY / name
    if not path.is_file():
        pytest.skip(f"no shared telemetry capture at {path.resolve()}")
    assert "Used GPU Memory               : Not available in WDDM driver model" in (
        path.read_text(encoding="utf-8")
    )
    backend = NvmlBackend(FakeNvml("rtx2080super"))
    backend.open()
    backend.describe(0)
    assert all(p.used_memory_mib is None for p in backend.processes(0))
