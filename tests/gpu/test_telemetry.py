"""GPU telemetry through the fake NVML library: readings, faults, following the game."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace

import pynvml
import pytest

from gearshift.gpu.errors import GpuUnavailableError, Unavailability
from gearshift.gpu.fake import MODELS, FakeMachine, FakeNvml
from gearshift.gpu.model import READINGS, GpuState
from gearshift.gpu.nvml import NvmlBackend, decode_throttle_reasons
from gearshift.gpu.telemetry import GpuTelemetry, match_pin
from tests.fakes.clock import FakeClock

TWO_ANSWERING = replace(MODELS["dual-lost"], lost=frozenset())
"""A desktop with two cards that both answer (the RTX 4080 SUPER and an RTX 3060)."""


def sampler_on(
    machine: str | FakeMachine, clock: FakeClock | None = None, **options: object
) -> tuple[GpuTelemetry, FakeNvml]:
    clock = clock or FakeClock()
    library = FakeNvml(machine, clock)
    sampler = GpuTelemetry(NvmlBackend(library, is_root=False), clock=clock, **options)  # type: ignore[arg-type]
    return sampler, library


# --------------------------------------------------------------------------- readings


def test_every_reading_of_a_desktop_card_has_its_value_and_unit() -> None:
    sampler, _ = sampler_on("rtx4080super")
    telemetry = sampler.open()
    gpu = telemetry.followed_gpu
    assert gpu is not None and gpu.readings is not None
    info = gpu.info
    assert info.name == "NVIDIA GeForce RTX 4080 SUPER"
    assert info.architecture == "Ada Lovelace" and info.brand == "GeForce"
    assert info.pci_bus_id == "00000000:01:00.0"
    assert info.memory_total_mib == 16376
    assert (info.power_default_w, info.power_min_w, info.power_max_w) == (320, 150, 400)
    assert info.max_graphics_clock_mhz == 3165 and info.max_memory_clock_mhz == 11501
    assert info.display_active is True and info.mig_enabled is None
    assert telemetry.driver is not None and telemetry.driver.driver_version == "595.71.05"
    assert telemetry.driver.cuda_version == "13.2"
    readings = gpu.readings.numbers()
    missing = {key for key, value in readings.items() if value is None}
    assert missing == {"memory_temperature_c"}  # GDDR: no memory temperature
    assert gpu.readings.throttle_reasons is not None


@pytest.mark.parametrize(
    ("model", "missing"),
    [
        ("rtx4070-laptop", {"fan_pct", "memory_temperature_c"}),
        ("rtx2080super", {"memory_temperature_c"}),
        ("a100-mig", {"utilization_gpu_pct", "utilization_memory_pct", "fan_pct"}),
    ],
)
def test_readings_a_card_lacks_are_none_never_zero(model: str, missing: set[str]) -> None:
    sampler, _ = sampler_on(model)
    gpu = sampler.open().followed_gpu
    assert gpu is not None and gpu.readings is not None
    readings = gpu.readings.numbers()
    assert {key for key, value in readings.items() if value is None} == missing
    assert set(readings) == {spec.key for spec in READINGS}


def test_power_falls_back_to_the_single_call_where_field_values_are_not_supported() -> None:
    sampler, _ = sampler_on("rtx4070-laptop")  # its driver answers no power field values
    gpu = sampler.open().followed_gpu
    assert gpu is not None and gpu.readings is not None
    assert gpu.readings.power_w == pytest.approx(1.97)
    assert gpu.readings.power_limit_w == pytest.approx(61.24)  # above the 55 W default


def test_throttle_reasons_are_words() -> None:
    assert decode_throttle_reasons(0) == ()
    assert decode_throttle_reasons(0x1 | 0x4) == ("idle", "power cap")
    assert decode_throttle_reasons(0x40) == ("hardware thermal slowdown",)
    assert decode_throttle_reasons(0x8000_0000_0000) == ("reason 0x800000000000",)


def test_a_mig_card_lists_its_instances_with_their_own_memory() -> None:
    sampler, _ = sampler_on("a100-mig")
    gpu = sampler.open().followed_gpu
    assert gpu is not None and gpu.readings is not None
    assert gpu.info.mig_enabled is True
    names = [m.name for m in gpu.info.mig_instances]
    assert names == [f"NVIDIA A100 80GB PCIe MIG {p}" for p in ("3g.40gb", "2g.20gb", "1g.10gb")]
    assert [m.gpu_instance_id for m in gpu.info.mig_instances] == [1, 5, 13]
    live = gpu.readings.mig_instances
    assert [m.memory_used_mib for m in live] == [12288, 1024, 0]
    assert [m.memory_total_mib for m in live] == [40192, 19968, 9728]


def test_history_is_bounded() -> None:
    clock = FakeClock()
    sampler, _ = sampler_on("rtx4080super", clock, interval_s=0.25, history_s=1.0)
    sampler.open()
    for _ in range(20):
        clock.advance(0.25)
        sampler.sample()
    assert len(sampler.history) == 4
    assert sampler.history[-1].at_s == clock.now_s


# ----------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("model", "kind", "words"),
    [
        ("no-driver", Unavailability.NO_LIBRARY, "libnvidia-ml"),
        ("driver-not-loaded", Unavailability.NO_DRIVER, "modprobe nvidia"),
        ("version-mismatch", Unavailability.VERSION_MISMATCH, "reboot"),
        ("no-permission", Unavailability.NO_PERMISSION, "/dev/nvidiactl"),
    ],
)
def test_nvml_that_cannot_start_is_one_line_saying_what_would_fix_it(
    model: str, kind: Unavailability, words: str
) -> None:
    library = FakeNvml(model)
    with pytest.raises(GpuUnavailableError) as raised:
        NvmlBackend(library).open()
    assert raised.value.kind is kind
    assert words in str(raised.value) and "\n" not in str(raised.value)

    sampler, _ = sampler_on(model)
    telemetry = sampler.open()  # the app goes on without telemetry
    assert not telemetry.available and telemetry.reason == str(raised.value)
    assert sampler.sample() is telemetry


def test_the_real_library_on_this_machine_answers_or_says_why() -> None:
    """pynvml itself: on a machine with an NVIDIA GPU it reads the card; elsewhere it says
    in words why there is no telemetry."""
    backend = NvmlBackend()
    try:
        backend.open()
    except GpuUnavailableError as error:
        assert error.kind in (Unavailability.NO_LIBRARY, Unavailability.NO_DRIVER)
        assert str(error).startswith("no GPU telemetry: ")
        return
    try:
        count = backend.count()
        info = backend.describe(0)
        readings = backend.sample(0, 0.0)
        assert count >= 1 and info.name and info.uuid
        assert readings.temperature_c is None or 0 < readings.temperature_c < 120
    finally:
        backend.close()


def test_a_lost_gpu_is_marked_and_the_other_keeps_reporting() -> None:
    sampler, _ = sampler_on("dual-lost")
    telemetry = sampler.open()
    first, second = telemetry.gpus
    assert first.state is GpuState.OK and first.readings is not None
    assert second.state is GpuState.LOST and second.readings is None
    assert second.problem is not None and "fell off the bus" in second.problem
    assert not second.info.identified  # it never answered, so only its index is known
    assert second.info.label == "GPU 1"
    assert telemetry.followed == 0


def test_a_lost_gpu_is_retried_with_back_off_then_comes_back() -> None:
    clock = FakeClock()
    sampler, library = sampler_on("dual-lost", clock)
    sampler.open()

    tries_at: list[float] = []
    original = library.nvmlDeviceGetHandleByIndex

    def counting(index: int) -> object:
        if index == 1:
            tries_at.append(clock.now_s)
        return original(index)

    library.nvmlDeviceGetHandleByIndex = counting  # type: ignore[method-assign]
    start_s = clock.now_s
    for _ in range(int(40 / 0.25)):  # 40 s at four samples a second
        clock.advance(0.25)
        sampler.sample()
    gaps = [round(b - a, 2) for a, b in zip([start_s, *tries_at], tries_at, strict=False)]
    assert gaps == [1.0, 2.0, 4.0, 8.0, 16.0]  # doubling, never a tight loop

    library.recover(1)
    clock.advance(33.0)  # the next try, 32 s after the last
    telemetry = sampler.sample()
    second = telemetry.gpus[1]
    assert second.state is GpuState.OK
    assert second.info.name == "NVIDIA GeForce RTX 3060"  # described now that it answers
    assert second.readings is not None and second.readings.temperature_c == 35


def test_an_unknown_error_marks_that_gpu_lost_until_it_answers_again() -> None:
    clock = FakeClock()
    sampler, library = sampler_on(TWO_ANSWERING, clock)
    sampler.open()
    library.fail_next(1, calls=1, code=pynvml.NVML_ERROR_UNKNOWN)
    clock.advance(0.25)
    telemetry = sampler.sample()
    assert telemetry.gpus[1].state is GpuState.LOST
    assert telemetry.gpus[1].problem == "NVML answered 'unknown error'"
    assert telemetry.gpus[0].state is GpuState.OK
    clock.advance(1.0)
    assert sampler.sample().gpus[1].state is GpuState.OK


def test_process_entries_no_process_can_have_are_dropped() -> None:
    library = FakeNvml("rtx4080super")
    library.garbage_processes = True  # bindings older than the driver
    backend = NvmlBackend(library)
    backend.open()
    backend.describe(0)
    pids = [p.pid for p in backend.processes(0)]
    assert pids == [2165, 2496, 2620, 2954, 3527, 5021, 5022]


def test_per_process_memory_is_none_under_wddm() -> None:
    library = FakeNvml("rtx2080super")
    backend = NvmlBackend(library)
    backend.open()
    backend.describe(0)
    processes = backend.processes(0)
    assert processes and all(p.used_memory_mib is None for p in processes)


# --------------------------------------------------------------- which GPU is followed


def test_the_game_s_gpu_is_followed_when_its_process_is_listed() -> None:
    clock = FakeClock()
    sampler, library = sampler_on(TWO_ANSWERING, clock)
    assert sampler.open().followed == 0  # the 4080 SUPER drives the display
    game_pid = os.getpid()
    library.add_process(1, game_pid)
    sampler.follow_pids({game_pid})
    clock.advance(0.25)
    telemetry = sampler.sample()
    assert telemetry.followed == 1
    assert telemetry.followed_why == f"the game (pid {game_pid}) renders on it"


def test_a_hybrid_laptop_says_when_the_game_is_not_on_the_nvidia_gpu() -> None:
    sampler, _ = sampler_on("rtx4070-laptop")
    sampler.open()
    sampler.follow_pids({os.getpid()})
    telemetry = sampler.sample()
    assert telemetry.followed == 0  # still the numbers of the only NVIDIA GPU, named so
    assert telemetry.followed_why is not None
    assert "not on an NVIDIA GPU" in telemetry.followed_why
    assert "integrated" in telemetry.followed_why


@pytest.mark.parametrize(
    "pin", ["1", "GPU-3060dead", "3060dead-0000", "00000000:02:00.0", "02:00.0"]
)
def test_a_gpu_pinned_by_index_uuid_or_bus_id_is_followed(pin: str) -> None:
    sampler, _ = sampler_on(TWO_ANSWERING, pin=pin)
    telemetry = sampler.open()
    assert (telemetry.followed, telemetry.followed_why) == (1, "pinned in the settings")


def test_a_pin_naming_no_gpu_falls_back_and_says_so() -> None:
    sampler, _ = sampler_on(TWO_ANSWERING, pin="7")
    telemetry = sampler.open()
    assert telemetry.followed == 0
    assert telemetry.followed_why == (
        "it drives the display; the pinned GPU '7' is not on this machine, or has never answered"
    )


def test_short_or_empty_pins_match_nothing() -> None:
    sampler, _ = sampler_on(TWO_ANSWERING)
    infos = [g.info for g in sampler.open().gpus]
    assert match_pin("", infos) is None
    assert match_pin("GPU", infos) is None  # too short to be a UUID
    assert match_pin("0:00.0", infos) is None  # the end of a bus id must be whole


# --------------------------------------------------------------------------- schedule


def test_the_schedule_is_fixed_and_skips_missed_ticks() -> None:
    clock = FakeClock()
    sampler, library = sampler_on("rtx4080super", clock, interval_s=0.25)
    sleeps: list[float] = []
    published: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 3))
        clock.advance(seconds)
        if len(sleeps) == 3:
            clock.advance(0.6)  # a stall: the ticks at +0.25 and +0.5 are missed
        if len(sleeps) == 6:
            raise asyncio.CancelledError

    def publish(telemetry: object) -> None:
        published.append(clock.now_s)

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(sampler.run(publish, sleep=sleep))
    assert sleeps[:3] == [0.25, 0.25, 0.25]
    assert sleeps[3] == pytest.approx(0.15)  # to the next tick still ahead, not a burst
    assert sleeps[4] == 0.25
    assert len(published) == 1 + 5  # the first sample at open, then one a tick
    deadline_s = time.monotonic() + 5
    while library.initialised and time.monotonic() < deadline_s:
        time.sleep(0.01)
    assert not library.initialised  # NVML was shut down on the way out


def test_a_sampler_whose_pool_was_shut_under_it_ends_quietly() -> None:
    """The X server going away kills the Qt loop; at exit the sampler's pool is already
    shut when the abandoned task is finally closed, and that must not raise."""
    sampler, _ = sampler_on("rtx4080super", interval_s=0.25)

    async def sleep(seconds: float) -> None:
        assert sampler._executor is not None
        sampler._executor.shutdown(wait=True)
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(sampler.run(lambda telemetry: None, sleep=sleep))


@pytest.mark.parametrize("pin", ["²", "①", "1²", "9" * 5000, "x" * 65, "GPU-3060"])
def test_pins_that_are_no_gpu_match_nothing_and_never_raise(pin: str) -> None:
    sampler, _ = sampler_on(TWO_ANSWERING)
    infos = [g.info for g in sampler.open().gpus]
    assert match_pin(pin, infos) is None  # "GPU-3060": 4 UUID characters are too few


def test_the_history_holds_one_gpu_s_readings_only() -> None:
    clock = FakeClock()
    sampler, library = sampler_on(TWO_ANSWERING, clock)
    sampler.open()
    for _ in range(4):
        clock.advance(0.25)
        sampler.sample()
    library.add_process(1, 4242)
    sampler.follow_pids({4242})
    clock.advance(0.25)
    assert sampler.sample().followed == 1
    assert [r.power_limit_w for r in sampler.history] == [170.0]  # the 3060's, alone


@pytest.mark.parametrize("interval_s", [0.0, -1.0, 1e-7, float("nan"), float("inf"), 11.0])
def test_an_impossible_interval_is_refused(interval_s: float) -> None:
    with pytest.raises(ValueError, match="interval_s must be from"):
        GpuTelemetry(NvmlBackend(FakeNvml("rtx4080super")), interval_s=interval_s)


def test_the_fake_refuses_a_gpu_it_does_not_have() -> None:
    library = FakeNvml("rtx4080super")
    for index in (-1, 1):
        with pytest.raises(ValueError, match="GPUs 0 to 0"):
            library.lose(index)
    with pytest.raises(ValueError, match="calls must be 1 or more"):
        library.fail_next(0, 0)
