"""Replay and demo sources, driven by a fake clock."""

import asyncio

import numpy as np
import pytest

from gearshift.frames.sources import DemoSource, ReplaySource
from tests.fakes.clock import FakeClock


def collect(source, ticks: int) -> list[np.ndarray]:
    async def gather() -> list[np.ndarray]:
        out = []
        stream = source.batches()
        async for batch in stream:
            out.append(batch)
            if len(out) == ticks:
                break
        await stream.aclose()
        return out

    return asyncio.run(gather())


def test_replay_plays_at_recorded_speed() -> None:
    clock = FakeClock(start_s=0.0)  # binary-exact times: no rounding at row edges
    source = ReplaySource("x", np.full(100, 12.5), tick_s=0.0625, clock=clock, sleep=clock.sleep)
    batches = collect(source, 4)
    assert [b.size for b in batches] == [5, 5, 5, 5]  # 62.5 ms ticks of 12.5 ms frames


def test_replay_loops_and_wraps_across_the_end() -> None:
    clock = FakeClock()
    frames = np.arange(1.0, 11.0) * 2  # 10 frames, 110 ms in all
    source = ReplaySource("x", frames, tick_s=0.03, clock=clock, sleep=clock.sleep)
    played = np.concatenate(collect(source, 10))  # 300 ms: more than two laps
    assert played.size >= 20
    assert np.array_equal(played[:20], np.concatenate((frames, frames)))


def test_replay_without_loop_stops_after_last_frame() -> None:
    clock = FakeClock()
    source = ReplaySource(
        "x", [10.0] * 10, loop=False, tick_s=0.04, clock=clock, sleep=clock.sleep
    )
    batches = collect(source, 100)
    assert sum(b.size for b in batches) == 10


def test_sampled_rows_play_as_the_frames_they_summarise() -> None:
    clock = FakeClock(start_s=0.0)
    source = ReplaySource(
        "x", [4.0, 5.0], [100.0, 100.0], tick_s=0.1, clock=clock, sleep=clock.sleep
    )
    first, second = collect(source, 2)
    assert first.size == 25 and set(first) == {4.0}  # a 100 ms row of 4 ms frames
    assert second.size == 20 and set(second) == {5.0}


def test_replay_refuses_mismatched_durations() -> None:
    with pytest.raises(ValueError, match="one duration per frame time"):
        ReplaySource("x", [1.0, 2.0], [1.0])


def test_demo_is_labelled_repeatable_and_near_its_rate() -> None:
    clock = FakeClock()
    first = np.concatenate(collect(DemoSource(seed=7, sleep=clock.sleep), 100))
    again = np.concatenate(collect(DemoSource(seed=7, sleep=clock.sleep), 100))
    assert DemoSource.label == "Demo (simulated)"
    assert np.array_equal(first, again)
    assert 120 < 1000 / first.mean() < 160
    assert first.sum() == pytest.approx(2000, abs=60)  # 100 ticks of 20 ms
