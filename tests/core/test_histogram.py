"""The cumulative frame-time histogram behind the metrics endpoint."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from gearshift.core.histogram import DEFAULT_BOUNDS_MS, FrameHistogram


def test_frames_land_in_buckets_bounds_inclusive() -> None:
    histogram = FrameHistogram((2.0, 5.0, 10.0))
    histogram.add([1.0, 2.0, 2.5, 5.0, 7.0, 10.0, 11.0, 300.0])
    snapshot = histogram.snapshot()
    assert snapshot.cumulative == (2, 4, 6, 8)
    assert snapshot.count == 8
    assert snapshot.sum_ms == pytest.approx(338.5)


def test_counts_accumulate_across_batches() -> None:
    histogram = FrameHistogram()
    for _ in range(3):
        histogram.add(np.full(1000, 3.0))
    snapshot = histogram.snapshot()
    assert snapshot.count == 3000
    assert snapshot.cumulative[DEFAULT_BOUNDS_MS.index(3.33)] == 3000
    assert snapshot.cumulative[DEFAULT_BOUNDS_MS.index(2.0)] == 0


def test_values_that_are_not_frames_are_not_counted() -> None:
    histogram = FrameHistogram((5.0,))
    histogram.add([float("nan"), -1.0, 0.0, float("inf"), 4.0])
    assert histogram.snapshot().cumulative == (1, 1)


def test_both_mode_budgets_are_bucket_edges() -> None:
    assert 3.33 in DEFAULT_BOUNDS_MS and 16.67 in DEFAULT_BOUNDS_MS


@pytest.mark.parametrize("bounds", [(), (5.0, 2.0), (0.0, 1.0), (1.0, 1.0)])
def test_bad_bounds_are_refused(bounds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="ascending"):
        FrameHistogram(bounds)


def test_a_snapshot_taken_while_another_thread_feeds_is_consistent() -> None:
    histogram = FrameHistogram((2.0, 5.0))
    stop = threading.Event()

    def feed() -> None:
        while not stop.is_set():
            histogram.add([1.0, 3.0, 9.0])

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        for _ in range(200):
            snapshot = histogram.snapshot()
            low, mid, total = snapshot.cumulative
            assert total == 3 * low and mid == 2 * low
            assert snapshot.sum_ms == pytest.approx(13.0 * low)
    finally:
        stop.set()
        feeder.join()
