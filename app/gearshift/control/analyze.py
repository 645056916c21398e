"""``gearshift analyze FILE``: the frame-time metrics of one capture, as a table or JSON.

Exit statuses: 0 when the metrics were printed, 2 when the capture cannot be read (the
reason on one stderr line), 3 when ``--process`` names a process the capture lacks.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Iterator

from gearshift.control.exitcodes import ExitCode
from gearshift.core.errors import CaptureError, ProcessNotFoundError
from gearshift.core.metrics import STUTTER_FACTOR, FrameMetrics, compute_metrics
from gearshift.core.modes import DEFAULT_PROFILES, default_budgets_ms
from gearshift.frames.capture import Capture, ProcessFrames, format_label
from gearshift.frames.registry import read_capture

logger = logging.getLogger(__name__)

LABEL_WIDTH = 34
"""Width of the label column in the table."""


def run_analyze(args: argparse.Namespace) -> int:
    """Print the metrics of ``args.file``; return the exit status.

    Args:
        args: the parsed command line: ``file``, ``json`` and ``process``.
    """
    try:
        capture = read_capture(args.file)
        frames = capture.select(args.process)
    except ProcessNotFoundError as exc:
        return _fail(exc, ExitCode.PROCESS_NOT_FOUND)
    except CaptureError as exc:
        return _fail(exc, ExitCode.CAPTURE_UNREADABLE)

    metrics = compute_metrics(frames.frame_times_ms, default_budgets_ms(), frames.duration_s)
    logger.debug("analysed %s: %d frames of %s", capture.path, metrics.frames, frames.name)
    if args.json:
        print(
            json.dumps(
                _finite_or_null(metrics_json(capture, frames, metrics)), indent=2, allow_nan=False
            )
        )
    else:
        print("\n".join(table_lines(capture, frames, metrics)))
    return int(ExitCode.OK)


def _fail(error: CaptureError, status: ExitCode) -> int:
    line = " ".join(str(error).splitlines())
    print(f"gearshift: {line}", file=sys.stderr)
    return int(status)


def metrics_json(
    capture: Capture, frames: ProcessFrames, metrics: FrameMetrics
) -> dict[str, object]:
    """The metrics as a JSON-ready object; times in ms, rates in FPS, duration in s."""
    return {
        "frames": metrics.frames,
        "duration_s": metrics.duration_s,
        "avg_fps": metrics.avg_fps,
        "p50_ms": metrics.p50_ms,
        "p95_ms": metrics.p95_ms,
        "p99_ms": metrics.p99_ms,
        "p999_ms": metrics.p999_ms,
        "p1_fps": metrics.p1_fps,
        "p01_fps": metrics.p01_fps,
        "low1_fps": metrics.low1_fps,
        "low01_fps": metrics.low01_fps,
        "stutter_frames": metrics.stutter_frames,
        "over_budget_pct": {mode.value: pct for mode, pct in metrics.over_budget_pct.items()},
        "source": {
            "format": capture.format,
            "version": capture.version,
            "process": frames.name,
            "path": capture.path,
        },
        "sampled": capture.sampled,
    }


def _finite_or_null(value: object) -> object:
    """``value`` with every infinite or NaN float replaced by None (JSON null).

    Frame times at the edge of what a float holds (1e-310 ms, 1e308 ms) overflow the
    rates derived from them; JSON has no Infinity, and a reading that cannot be
    stated is missing, not a number.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    return value


def _row(label: str, value: str) -> str:
    return f"  {label:<{LABEL_WIDTH}}{value}"


def table_lines(capture: Capture, frames: ProcessFrames, metrics: FrameMetrics) -> list[str]:
    """The metrics as a table for people: the source first, then every metric."""
    return [*_source_lines(capture, frames), "", "Metrics", *_metric_lines(metrics, capture)]


def _unit(capture: Capture) -> str:
    return "samples" if capture.sampled else "frames"


def _source_lines(capture: Capture, frames: ProcessFrames) -> Iterator[str]:
    yield f"Capture  {capture.path}"
    name = format_label(capture.format)
    yield f"Format   {name} {capture.version} (version guessed from the layout)"
    if capture.sampled:
        yield "Rows     one per log interval (sampled), not one per frame"
    else:
        yield "Rows     one per frame"
    yield f"Process  {frames.name}"
    if frames.dropped_invalid:
        yield f"Dropped  {frames.dropped_invalid} rows with no usable frame time"

    yield ""
    yield "Processes in the capture (* = analysed)"
    width = max(len(p.name) for p in capture.processes)
    for process in capture.processes:
        mark = "*" if process is frames else " "
        line = f"  {mark} {process.name:<{width}}  {process.frame_count:>8} {_unit(capture)}"
        if process.dropped_invalid:
            line += f", {process.dropped_invalid} invalid dropped"
        yield line


def _reading(value: float, digits: int, unit: str) -> str:
    return f"{value:.{digits}f} {unit}" if math.isfinite(value) else "N/A"


def _metric_lines(metrics: FrameMetrics, capture: Capture) -> Iterator[str]:
    yield _row(_unit(capture), f"{metrics.frames}")
    yield _row("duration", _reading(metrics.duration_s, 2, "s"))
    yield _row("average", _reading(metrics.avg_fps, 1, "FPS"))
    yield _row("frame time p50 (median)", _reading(metrics.p50_ms, 2, "ms"))
    yield _row("frame time p95", _reading(metrics.p95_ms, 2, "ms"))
    yield _row("frame time p99", _reading(metrics.p99_ms, 2, "ms"))
    yield _row("frame time p99.9", _reading(metrics.p999_ms, 2, "ms"))
    yield _row("1% percentile (1000 / p99)", _reading(metrics.p1_fps, 1, "FPS"))
    yield _row("0.1% percentile (1000 / p99.9)", _reading(metrics.p01_fps, 1, "FPS"))
    yield _row("1% low", _reading(metrics.low1_fps, 1, "FPS"))
    yield _row("0.1% low", _reading(metrics.low01_fps, 1, "FPS"))
    yield _row(f"stutters (> {STUTTER_FACTOR:g}x mean)", f"{metrics.stutter_frames}")
    for mode, pct in metrics.over_budget_pct.items():
        budget_ms = DEFAULT_PROFILES[mode].budget_ms
        count = round(pct * metrics.frames / 100.0)
        label = f"over {mode.label} budget ({budget_ms:.2f} ms)"
        yield _row(label, f"{pct:.2f} % ({count} of {metrics.frames})")
