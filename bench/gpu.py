"""What GPU telemetry costs: one sample of every reading, and the app's CPU at 4 a second.

Both run through the fake NVML library, so they measure Gearshift's own Python (the
adapter, the sampler, the snapshot), not the driver: on a real card each NVML call
also spends time in the driver, which only a machine with an NVIDIA GPU can measure
(run this same script there with GEARSHIFT_BENCH_REAL=1 to use the real library).

    .venv/bin/python bench/gpu.py [SECONDS]      # default: 30 s of sampling at 4 Hz

Goals: under 0.5 ms of Python per sample; telemetry under 0.5% of one core.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time

from gearshift.gpu.fake import FakeNvml
from gearshift.gpu.nvml import NvmlBackend
from gearshift.gpu.telemetry import GpuTelemetry

MODEL = "rtx4080super"
SAMPLES = 5000


def backend() -> tuple[NvmlBackend, FakeNvml | None]:
    if os.environ.get("GEARSHIFT_BENCH_REAL") == "1":
        return NvmlBackend(), None
    library = FakeNvml(MODEL)
    return NvmlBackend(library), library


def per_sample_cost() -> None:
    adapter, library = backend()
    adapter.open()
    adapter.describe(0)
    for _ in range(100):  # warm up
        adapter.sample(0, 0.0)
    calls_before = library.calls if library else 0
    times_ms = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        adapter.sample(0, 0.0)
        times_ms.append((time.perf_counter() - started) * 1e3)
    calls = (library.calls - calls_before) / SAMPLES if library else float("nan")
    adapter.close()
    times_ms.sort()
    print(f"one sample of every reading ({'real NVML' if library is None else 'fake ' + MODEL})")
    print(
        f"  median {statistics.median(times_ms):.3f} ms, p99 "
        f"{times_ms[int(len(times_ms) * 0.99)]:.3f} ms, {calls:.0f} NVML calls "
        "(goal: under 0.5 ms of Python)"
    )

    sampler = GpuTelemetry(backend()[0])
    sampler.open()
    started = time.perf_counter()
    for _ in range(SAMPLES):
        sampler.sample()
    round_ms = (time.perf_counter() - started) * 1e3 / SAMPLES
    sampler.close()
    print(f"  a whole sampling round (sample, snapshot, history): {round_ms:.3f} ms")


def cpu_at_four_hertz(seconds: float) -> None:
    sampler = GpuTelemetry(backend()[0], interval_s=0.25)
    published = []

    async def run() -> None:
        task = asyncio.ensure_future(sampler.run(published.append))
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    cpu_before = time.process_time()
    wall_before = time.perf_counter()
    asyncio.run(run())
    cpu_s = time.process_time() - cpu_before
    wall_s = time.perf_counter() - wall_before
    print(f"telemetry at 4 samples a second for {wall_s:.0f} s ({len(published)} snapshots)")
    print(
        f"  {cpu_s * 1e3:.0f} ms of CPU: {100 * cpu_s / wall_s:.3f}% of one core "
        "(goal: under 0.5%)"
    )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    per_sample_cost()
    cpu_at_four_hertz(seconds)


if __name__ == "__main__":
    main()
