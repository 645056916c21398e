"""Prometheus metrics: switches, rollbacks, the live frame times and the GPU readings.

Off unless the player turns it on. The endpoint listens on 127.0.0.1 unless an address
is set deliberately. Counters follow the core's events; the frame-time histogram counts
every live frame; the rest is read at scrape time, so a reading that is missing (no
frames yet, a GPU value the card does not report) is absent, never 0.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from gearshift.core.budget import BudgetStats
from gearshift.core.events import BudgetStatsUpdated, EventBus, ModeChanged, SwitchFailed
from gearshift.core.histogram import FrameHistogram
from gearshift.core.manager import ModeManager
from gearshift.core.modes import PerformanceMode
from gearshift.gpu.model import READINGS, GpuState, Telemetry

_log = logging.getLogger(__name__)

DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_PORT = 9464
SWITCH_SECONDS_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)


class GearshiftMetrics:
    """Every Gearshift metric, in a registry of its own.

    Args:
        manager: read at scrape time for the mode and the cooldown.
        events: switches, rollbacks and budget statistics arrive here.
        frames: the cumulative histogram the live frame feed also fills.
        gpu: the GPU snapshot now.
    """

    def __init__(
        self,
        manager: ModeManager,
        events: EventBus,
        frames: FrameHistogram,
        gpu: Callable[[], Telemetry] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._manager = manager
        self._stats: BudgetStats | None = None
        self.switches = Counter(
            "gearshift_mode_switches",
            "Completed mode switches, by the mode left and the mode entered.",
            ["from_mode", "to_mode"],
            registry=self.registry,
        )
        self.switch_seconds = Histogram(
            "gearshift_switch_duration_seconds",
            "How long a completed mode switch took.",
            buckets=SWITCH_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.rollbacks = Counter(
            "gearshift_rollbacks",
            "Switches rolled back, by the step that failed.",
            ["step"],
            registry=self.registry,
        )
        self.cooldown = Gauge(
            "gearshift_cooldown_remaining_seconds",
            "Seconds until an unforced switch is accepted.",
            registry=self.registry,
        )
        self.cooldown.set_function(manager.cooldown_left_s)
        self.registry.register(_LiveCollector(self, frames, gpu))
        self._unsubscribe = [
            events.subscribe(ModeChanged, self._on_switch),
            events.subscribe(SwitchFailed, self._on_rollback),
            events.subscribe(BudgetStatsUpdated, self._on_stats),
        ]

    def close(self) -> None:
        """Stop following the core's events."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    @property
    def mode(self) -> PerformanceMode:
        """The active mode."""
        return self._manager.mode

    @property
    def stats(self) -> BudgetStats | None:
        """The newest live statistics."""
        return self._stats

    def _on_switch(self, event: ModeChanged) -> None:
        self.switches.labels(event.previous.value, event.current.value).inc()
        self.switch_seconds.observe(event.duration_s)

    def _on_rollback(self, event: SwitchFailed) -> None:
        self.rollbacks.labels(event.error.report.failed.step).inc()

    def _on_stats(self, event: BudgetStatsUpdated) -> None:
        self._stats = event.stats


class _LiveCollector(Collector):
    """The metrics read at scrape time: the mode, the live frames, the GPU."""

    def __init__(
        self,
        metrics: GearshiftMetrics,
        frames: FrameHistogram,
        gpu: Callable[[], Telemetry] | None,
    ) -> None:
        self._metrics = metrics
        self._frames = frames
        self._gpu = gpu

    def collect(self) -> Iterator[Metric]:
        mode = GaugeMetricFamily(
            "gearshift_mode", "The active mode: 1 for the active one, 0 else.", labels=["mode"]
        )
        for each in PerformanceMode:
            mode.add_metric([each.value], 1.0 if each is self._metrics.mode else 0.0)
        yield mode

        snapshot = self._frames.snapshot()
        buckets = [
            (_bound(bound_ms), float(count))
            for bound_ms, count in zip(snapshot.bounds_ms, snapshot.cumulative, strict=False)
        ] + [("+Inf", float(snapshot.count))]
        yield HistogramMetricFamily(
            "gearshift_frame_time_seconds",
            "Frame times of the live frame source.",
            buckets=buckets,
            sum_value=snapshot.sum_ms / 1000.0,
        )
        yield from self._budget_metrics(self._metrics.stats)
        yield from self._gpu_metrics()

    @staticmethod
    def _budget_metrics(stats: BudgetStats | None) -> Iterator[Metric]:
        if stats is None:
            return
        yield _gauge(
            "gearshift_frame_budget_seconds",
            "The active mode's frame budget.",
            stats.budget_ms / 1000.0,
        )
        yield _gauge(
            "gearshift_live_window_frames", "Frames in the rolling window.", float(stats.frames)
        )
        readings = (
            ("gearshift_live_fps", "Mean frame rate over the rolling window.", stats.avg_fps),
            (
                "gearshift_live_low1_fps",
                "1% low frame rate over the rolling window.",
                stats.low1_fps,
            ),
            (
                "gearshift_live_frame_time_p99_seconds",
                "99th percentile frame time over the rolling window.",
                None if stats.p99_ms is None else stats.p99_ms / 1000.0,
            ),
            (
                "gearshift_live_over_budget_ratio",
                "Share of frames in the rolling window slower than the budget (0 to 1).",
                None if stats.over_budget_pct is None else stats.over_budget_pct / 100.0,
            ),
        )
        for name, documentation, value in readings:
            if value is not None:
                yield _gauge(name, documentation, value)

    def _gpu_metrics(self) -> Iterator[Metric]:
        """One series per GPU, labelled with its index and name; a reading the card
        does not give has no series at all."""
        if self._gpu is None:
            return
        telemetry = self._gpu()
        if not telemetry.available:
            return
        labels = ["gpu", "name"]
        up = GaugeMetricFamily(
            "gearshift_gpu_up", "1 while the GPU answers, 0 while it is lost.", labels=labels
        )
        families = {
            spec.key: GaugeMetricFamily(spec.metric, f"GPU {spec.label.lower()}.", labels=labels)
            for spec in READINGS
        }
        throttle = GaugeMetricFamily(
            "gearshift_gpu_clock_event_active",
            "1 for each reason the GPU's clocks are held back now.",
            labels=[*labels, "reason"],
        )
        scale = {spec.key: spec.to_metric for spec in READINGS}
        for gpu in telemetry.gpus:
            names = [str(gpu.info.index), gpu.info.short_name]
            up.add_metric(names, 1.0 if gpu.state is GpuState.OK else 0.0)
            if gpu.readings is None:
                continue
            for key, value in gpu.readings.numbers().items():
                if value is not None:
                    families[key].add_metric(names, value * scale[key])
            for reason in gpu.readings.throttle_reasons or ():
                throttle.add_metric([*names, reason], 1.0)
        yield up
        yield from (family for family in families.values() if family.samples)
        if throttle.samples:
            yield throttle


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _bound(bound_ms: float) -> str:
    return repr(bound_ms / 1000.0)


class MetricsEndpoint:
    """The HTTP endpoint Prometheus scrapes, on a thread of its own.

    Args:
        metrics: what it serves.
        address: where it listens; loopback unless set deliberately.
        port: the TCP port; 0 picks a free one (tests).
    """

    def __init__(
        self, metrics: GearshiftMetrics, address: str = DEFAULT_ADDRESS, port: int = DEFAULT_PORT
    ) -> None:
        self._metrics = metrics
        self.address = address
        self.port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen. Raises OSError (port taken, address not on this machine)."""
        server, thread = start_http_server(
            self.port, addr=self.address, registry=self._metrics.registry
        )
        self._server, self._thread = server, thread
        self.port = server.server_port
        where = "" if self.address in ("127.0.0.1", "::1", "localhost") else " (not loopback!)"
        _log.info("metrics on http://%s:%d/metrics%s", self.address, self.port, where)

    def stop(self) -> None:
        """Stop listening and wait for the thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._server = self._thread = None

    @property
    def url(self) -> str:
        """Where to scrape."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/metrics"
