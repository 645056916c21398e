"""The two loops that keep the live statistics moving: feed frames in, publish stats out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable

from gearshift.core.budget import BudgetMonitor
from gearshift.core.events import BudgetStatsUpdated, EventBus
from gearshift.core.metrics import FrameTimes

_log = logging.getLogger(__name__)

STATS_INTERVAL_S = 0.1
"""How often the rolling statistics are published: ten times a second."""


async def feed_monitor(
    batches: AsyncIterable[FrameTimes],
    monitor: BudgetMonitor,
    *also: Callable[[FrameTimes], None],
) -> None:
    """Push every batch a frame source yields into the monitor, until it ends.

    ``also`` receives each batch too (the metrics' frame-time histogram, for one).
    """
    async for batch in batches:
        monitor.push(batch)
        for sink in also:
            sink(batch)
    _log.info("frame source ended")


async def publish_stats(
    monitor: BudgetMonitor,
    events: EventBus,
    interval_s: float = STATS_INTERVAL_S,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Publish BudgetStatsUpdated on a fixed schedule, skipping ticks that were missed.

    A slow tick does not make the next ones come faster to catch up: the schedule
    moves on to the next tick still in the future.
    """
    next_tick_s = clock()
    while True:
        events.publish(BudgetStatsUpdated(monitor.stats()))
        next_tick_s += interval_s
        now_s = clock()
        if now_s > next_tick_s:
            missed = int((now_s - next_tick_s) / interval_s) + 1
            next_tick_s += missed * interval_s
        await sleep(next_tick_s - now_s)
