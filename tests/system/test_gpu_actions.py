"""The GPU actions through the fake NVML: locked clocks and the power limit applied,
verified and reverted; skipped with the probe's reason where it said no; restored
after a crash from the journal record alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping

import pynvml
import pytest

from gearshift.core.errors import ActionError, ActionUnavailableError
from gearshift.core.modes import GPU_CLOCKS, ActionSpec, ModeProfile, PerformanceMode
from gearshift.gpu.control import GpuControl
from gearshift.gpu.fake import FakeNvml
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.probe import NEEDS_PRIVILEGE, ProbeResult
from gearshift.gpu.telemetry import GpuTelemetry
from gearshift.system.daemons import GPU_POWER_LIMIT, LACT, Found, TuningTools
from gearshift.system.gpu_actions import (
    LockedClocksAction,
    PowerLimitAction,
    gpu_action_builders,
    gpu_restorers,
)

COMPETITIVE = ModeProfile(PerformanceMode.COMPETITIVE, 300.0, None, "medium", ())


class Machine:
    """A fake NVIDIA machine, probed, with the control the actions use."""

    def __init__(self, model: str, *, root: bool, nvml_root: bool | None = None) -> None:
        self.nvml = FakeNvml(model, root=root if nvml_root is None else nvml_root)
        backend = NvmlBackend(self.nvml, is_root=root)
        self.telemetry = GpuTelemetry(backend)
        self.telemetry.open()
        self.control = GpuControl(backend)

    def probes(self) -> Mapping[int, ProbeResult]:
        return self.telemetry.probes

    def close(self) -> None:
        self.control.close()
        self.telemetry.close()


@pytest.fixture
def machines() -> Iterator[list[Machine]]:
    made: list[Machine] = []
    yield made
    for machine in made:
        machine.close()


def _machine(machines: list[Machine], model: str, **kwargs: bool) -> Machine:
    machine = Machine(model, **kwargs)
    machines.append(machine)
    return machine


def test_clocks_lock_and_unlock_where_the_probe_allows(machines: list[Machine]) -> None:
    machine = _machine(machines, "rtx4080super", root=True)
    builders = gpu_action_builders(machine.control, machine.probes)
    action = builders[GPU_CLOCKS](
        ActionSpec(GPU_CLOCKS, {"min_mhz": 2400, "max_mhz": 2800}), COMPETITIVE
    )
    assert isinstance(action, LockedClocksAction)
    assert action.record() == {
        "gpu_uuid": "GPU-4080a5e1-0000-4000-8000-000000000001",
        "gpu_index": 0,
        "min_mhz": 2400,
        "max_mhz": 2800,
    }

    async def scenario() -> None:
        await action.apply()
        assert machine.nvml.locked_clocks_mhz(0) == (2400, 2800)
        readings = machine.telemetry.sample().gpus[0].readings
        assert readings is not None and readings.clock_graphics_mhz is not None
        assert 2400 <= readings.clock_graphics_mhz <= 2800
        await action.revert()
        assert machine.nvml.locked_clocks_mhz(0) is None
        await action.revert()  # not locked: nothing to do

    asyncio.run(scenario())


def test_without_parameters_the_clocks_lock_at_the_cards_top_clock(
    machines: list[Machine],
) -> None:
    machine = _machine(machines, "rtx5080", root=True)
    action = gpu_action_builders(machine.control, machine.probes)[GPU_CLOCKS](
        ActionSpec(GPU_CLOCKS), COMPETITIVE
    )
    assert action.name == "GPU 0 clocks locked to 3090-3090 MHz"


def test_the_power_limit_is_set_read_back_and_put_back(machines: list[Machine]) -> None:
    machine = _machine(machines, "rtx4080super", root=True)
    builders = gpu_action_builders(machine.control, machine.probes)
    action = builders[GPU_POWER_LIMIT](ActionSpec(GPU_POWER_LIMIT), COMPETITIVE)
    assert isinstance(action, PowerLimitAction) and action.watts == 400.0
    assert action.record()["restore_w"] == 320.0

    async def scenario() -> None:
        await action.apply()
        assert machine.nvml.power_limit_mw(0) == 400_000
        await action.revert()
        assert machine.nvml.power_limit_mw(0) == 320_000
        await action.apply()  # again, without a record: reads the limit itself
        assert machine.nvml.power_limit_mw(0) == 400_000
        await action.revert()
        assert machine.nvml.power_limit_mw(0) == 320_000

    asyncio.run(scenario())


def test_without_root_both_actions_are_skipped_with_the_probes_reason(
    machines: list[Machine],
) -> None:
    machine = _machine(machines, "rtx4080super", root=False)
    builders = gpu_action_builders(machine.control, machine.probes)
    for kind in (GPU_CLOCKS, GPU_POWER_LIMIT):
        with pytest.raises(ActionUnavailableError) as caught:
            builders[kind](ActionSpec(kind), COMPETITIVE)
        assert str(caught.value) == f"GPU 0: GeForce RTX 4080 SUPER: {NEEDS_PRIVILEGE}"


def test_a_laptop_gpu_keeps_its_firmwares_power_limit(machines: list[Machine]) -> None:
    machine = _machine(machines, "rtx4070-laptop", root=True)
    with pytest.raises(ActionUnavailableError, match="laptop's firmware sets its power limit"):
        gpu_action_builders(machine.control, machine.probes)[GPU_POWER_LIMIT](
            ActionSpec(GPU_POWER_LIMIT), COMPETITIVE
        )


def test_values_outside_the_cards_range_are_refused_before_anything_changes(
    machines: list[Machine],
) -> None:
    machine = _machine(machines, "rtx4080super", root=True)
    builders = gpu_action_builders(machine.control, machine.probes)
    with pytest.raises(ActionError, match="accepts 150-400 W"):
        builders[GPU_POWER_LIMIT](ActionSpec(GPU_POWER_LIMIT, {"watts": 600}), COMPETITIVE)
    with pytest.raises(ActionError, match="accepts 1-3165 MHz"):
        builders[GPU_CLOCKS](ActionSpec(GPU_CLOCKS, {"max_mhz": 4000}), COMPETITIVE)
    with pytest.raises(ActionError, match="must be a number"):
        builders[GPU_CLOCKS](ActionSpec(GPU_CLOCKS, {"max_mhz": "fast"}), COMPETITIVE)
    with pytest.raises(ActionUnavailableError, match="there is no GPU 3 here"):
        builders[GPU_CLOCKS](ActionSpec(GPU_CLOCKS, {"gpu": 3}), COMPETITIVE)
    assert machine.nvml.locked_clocks_mhz(0) is None
    assert machine.nvml.power_limit_mw(0) == 320_000


def test_lact_owning_the_gpu_makes_both_actions_step_aside(machines: list[Machine]) -> None:
    machine = _machine(machines, "rtx4080super", root=True)
    tools = TuningTools((Found(LACT, "process lact"),))
    builders = gpu_action_builders(machine.control, machine.probes, lambda: tools)
    with pytest.raises(ActionUnavailableError, match="LACT controls the gpu clocks"):
        builders[GPU_CLOCKS](ActionSpec(GPU_CLOCKS), COMPETITIVE)
    with pytest.raises(ActionUnavailableError, match="LACT controls the gpu power limit"):
        builders[GPU_POWER_LIMIT](ActionSpec(GPU_POWER_LIMIT), COMPETITIVE)


def test_without_nvml_the_actions_say_so() -> None:
    builders = gpu_action_builders(None, dict, no_control_reason="no NVIDIA driver here")
    with pytest.raises(ActionUnavailableError, match="no NVIDIA driver here"):
        builders[GPU_CLOCKS](ActionSpec(GPU_CLOCKS), COMPETITIVE)
    with pytest.raises(ActionError, match="nvidia-smi -rgc"):
        asyncio.run(gpu_restorers(None)[GPU_CLOCKS]({"gpu_index": 0}))


def test_a_gpu_that_refuses_at_apply_time_fails_the_action(machines: list[Machine]) -> None:
    # The probe was told root, but the library refuses: the helper went away, say.
    machine = _machine(machines, "rtx4080super", root=True, nvml_root=False)
    action = gpu_action_builders(machine.control, machine.probes)[GPU_CLOCKS](
        ActionSpec(GPU_CLOCKS), COMPETITIVE
    )
    with pytest.raises(
        ActionError, match=r"GPU 0 refused locking its graphics clock .*needs root"
    ):
        asyncio.run(action.apply())


def test_a_gpu_lost_during_the_change_fails_the_action(machines: list[Machine]) -> None:
    machine = _machine(machines, "rtx4080super", root=True)
    action = gpu_action_builders(machine.control, machine.probes)[GPU_POWER_LIMIT](
        ActionSpec(GPU_POWER_LIMIT), COMPETITIVE
    )
    assert isinstance(action, PowerLimitAction)
    action_record = action.record()
    assert action_record["restore_w"] == 320.0
    machine.nvml.fail_next(0, 1, pynvml.NVML_ERROR_GPU_IS_LOST)
    with pytest.raises(ActionError, match="GPU 0 is not answering"):
        asyncio.run(action.apply())
    assert machine.nvml.power_limit_mw(0) == 320_000


def test_after_a_crash_the_records_alone_restore_the_gpu(machines: list[Machine]) -> None:
    machine = _machine(machines, "rtx4080super", root=True)
    builders = gpu_action_builders(machine.control, machine.probes)
    clocks = builders[GPU_CLOCKS](ActionSpec(GPU_CLOCKS), COMPETITIVE)
    power = builders[GPU_POWER_LIMIT](ActionSpec(GPU_POWER_LIMIT, {"watts": 350}), COMPETITIVE)
    assert isinstance(clocks, LockedClocksAction) and isinstance(power, PowerLimitAction)
    records = {GPU_CLOCKS: clocks.record(), GPU_POWER_LIMIT: power.record()}

    async def crash() -> None:
        await clocks.apply()
        await power.apply()

    asyncio.run(crash())
    assert machine.nvml.locked_clocks_mhz(0) == (3165, 3165)
    assert machine.nvml.power_limit_mw(0) == 350_000

    restorers = gpu_restorers(machine.control)  # a new run: only the records are left

    async def restore() -> None:
        for kind, record in records.items():
            await restorers[kind](record)

    asyncio.run(restore())
    assert machine.nvml.locked_clocks_mhz(0) is None
    assert machine.nvml.power_limit_mw(0) == 320_000

    with pytest.raises(ActionError, match="no GPU with UUID GPU-gone"):
        asyncio.run(restorers[GPU_CLOCKS]({"gpu_uuid": "GPU-gone", "gpu_index": 0}))
    with pytest.raises(ActionError, match="no power limit to restore"):
        asyncio.run(restorers[GPU_POWER_LIMIT]({"gpu_index": 0, "restore_w": None}))
