"""The control API's speed: status requests a second, and what it adds to a switch.

The app side runs in a process of its own (a real ModeManager with the core's action,
the ControlService and the ApiServer on a Unix socket), as the tray app would; the
clients are ApiClient, as ``gearshift ctl`` and scripts use.

    .venv/bin/python bench/api.py

Goals (issue 7): at least 2,000 status requests a second, and under 5 ms added to a
switch compared with the same switch made in-process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path

from gearshift.control.client import ApiClient
from gearshift.control.server import ApiServer, Limits
from gearshift.control.service import ControlService
from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import EventBus
from gearshift.core.live import publish_stats
from gearshift.core.manager import ModeManager

STATUS_SECONDS = 3.0
SWITCHES = 1000
UNLIMITED = Limits(
    requests_per_s=1e9,
    request_burst=10**9,
    switches_per_s=1e9,
    switch_burst=10**9,
    all_switches_per_s=1e9,
    all_switch_burst=10**9,
)


def _manager() -> tuple[ModeManager, EventBus, BudgetMonitor]:
    events = EventBus()
    monitor = BudgetMonitor(16.67)
    monitor.push([4.0] * 2500)  # a full window, so status carries real statistics
    return ModeManager(core_action_builders(monitor), events, cooldown_s=0.0), events, monitor


def serve(path: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    """The app side: runs until terminated."""

    async def main() -> None:
        manager, events, monitor = _manager()
        await manager.start()
        service = ControlService(manager, events, monitor, source_label="bench")
        server = ApiServer(service, Path(path), UNLIMITED)
        await server.start()
        # As in the app: statistics are published ten times a second and status reads
        # the latest, rather than computing them per request.
        publisher = asyncio.create_task(publish_stats(monitor, events))
        ready.set()
        await asyncio.Event().wait()
        publisher.cancel()

    asyncio.run(main())


def status_rate(path: Path, clients: int) -> float:
    """Status requests answered a second, with ``clients`` connections asking at once."""
    counts = [0] * clients
    stop = threading.Event()

    def ask(index: int) -> None:
        with ApiClient(path) as client:
            while not stop.is_set():
                assert client.request("status").ok
                counts[index] += 1

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(STATUS_SECONDS)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(counts) / STATUS_SECONDS


def api_switch_ms(path: Path) -> list[float]:
    with ApiClient(path) as client:
        durations = []
        for _ in range(SWITCHES):
            started = time.perf_counter()
            response = client.request("switch", mode="toggle")
            durations.append((time.perf_counter() - started) * 1e3)
            assert response.ok, response.error
    return durations


def in_process_switch_ms() -> list[float]:
    async def measure() -> list[float]:
        manager, _events, _monitor = _manager()
        await manager.start()
        durations = []
        for _ in range(SWITCHES):
            started = time.perf_counter()
            result = await manager.toggle()
            durations.append((time.perf_counter() - started) * 1e3)
            assert result.switched
        return durations

    return asyncio.run(measure())


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"median {statistics.median(values):.3f} ms, p99 {p99:.3f} ms"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gs-bench-") as folder:
        path = Path(folder) / "run" / "control.sock"
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        app = context.Process(target=serve, args=(str(path), ready), daemon=True)
        app.start()
        if not ready.wait(30):
            raise SystemExit("the app side did not start")
        try:
            one = status_rate(path, 1)
            eight = status_rate(path, 8)
            through_api = api_switch_ms(path)
        finally:
            app.terminate()
            app.join()
    in_process = in_process_switch_ms()
    added = statistics.median(through_api) - statistics.median(in_process)

    print(f"status, 1 client:   {one:,.0f} requests/s  (goal: at least 2,000)")
    print(f"status, 8 clients:  {eight:,.0f} requests/s")
    print(f"switch in-process:  {summary(in_process)}")
    print(f"switch through API: {summary(through_api)}")
    print(f"added by the API:   {added:.3f} ms at the median  (goal: under 5 ms)")


if __name__ == "__main__":
    main()
