"""Many clients at once on loopback: 50 watching, 20 switching, for a bounded time."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

from gearshift.control.client import ApiClient
from gearshift.control.protocol import ErrorCode, Event
from gearshift.control.server import Limits
from gearshift.core.modes import PerformanceMode
from tests.control.rig import ServedApp

SUBSCRIBERS = 50
SWITCHERS = 20
DURATION_S = 3.0


def test_fifty_watchers_and_twenty_switchers_keep_one_consistent_history(
    socket_path: Path,
) -> None:
    # Generous per-client limits, so the clients really contend for the manager; the
    # all-clients switch limit still applies and must not starve anyone.
    limits = Limits(
        switches_per_s=20.0, switch_burst=20, all_switches_per_s=50.0, all_switch_burst=50
    )
    app = ServedApp(socket_path, limits=limits)
    stop = threading.Event()
    seen: list[list[Event]] = [[] for _ in range(SUBSCRIBERS)]
    answers: list[dict[str, int]] = [{} for _ in range(SWITCHERS)]
    latencies: list[float] = []
    failures: list[BaseException] = []
    ready = threading.Barrier(SUBSCRIBERS + SWITCHERS + 1)

    def watch(index: int) -> None:
        try:
            with ApiClient(app.socket_path, timeout_s=10.0) as client:
                assert client.request("subscribe", events=["mode_changed"]).ok
                ready.wait()
                for event in client.events():
                    seen[index].append(event)
                    if stop.is_set() and len(seen[index]) >= len(app.history):
                        break
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    def switch(index: int) -> None:
        try:
            with ApiClient(app.socket_path, timeout_s=10.0) as client:
                ready.wait()
                target = ("competitive", "immersive")[index % 2]
                while not stop.is_set():
                    started = time.perf_counter()
                    response = client.request("switch", mode=target, force=True)
                    latencies.append(time.perf_counter() - started)
                    code = "ok" if response.ok else str(response.error.code)  # type: ignore[union-attr]
                    answers[index][code] = answers[index].get(code, 0) + 1
                    if response.error is not None and response.error.retry_after_s:
                        time.sleep(min(response.error.retry_after_s, 0.2))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(SUBSCRIBERS)]
    threads += [threading.Thread(target=switch, args=(i,)) for i in range(SWITCHERS)]
    for thread in threads:
        thread.start()
    ready.wait(timeout=30)
    time.sleep(DURATION_S)
    stop.set()
    for thread in threads[SUBSCRIBERS:]:
        thread.join(30)
    # One more switch makes every watcher wake up and see the end of the history.
    with ApiClient(app.socket_path) as client:
        client.request("switch", mode="toggle", force=True)
    for thread in threads[:SUBSCRIBERS]:
        thread.join(30)
    history = list(app.history)
    app.close()

    assert not failures, failures[:3]
    assert not any(thread.is_alive() for thread in threads)
    # The manager's history is a chain: each switch leaves the mode the last one entered.
    assert len(history) > 10
    for earlier, later in itertools.pairwise(history):
        assert later.previous is earlier.current
    assert history[0].previous is PerformanceMode.IMMERSIVE
    # Every watcher saw exactly that history, in order.
    expected = [(e.previous.value, e.current.value) for e in history]
    for events in seen:
        assert [(e.data["previous"], e.data["current"]) for e in events] == expected
    # No switcher starved: each got answers all along, and the ones refused were
    # refused with a reason a script can act on.
    allowed = {"ok", str(ErrorCode.BUSY), str(ErrorCode.RATE_LIMITED)}
    for counts in answers:
        assert sum(counts.values()) >= 5, counts
        assert set(counts) <= allowed, counts
    assert max(latencies) < 5.0
