"""``gearshift analyze FILE [FILE...]``: the frame-time metrics of captures.

One file prints a detailed table: where the frames came from, what was dropped or is
suspect, every process in the capture, then every metric. Several files print side by
side, one column per capture and a row per metric: the table a player posts to compare
two runs. ``--json`` is for scripts (one file: one object; several: an object with a
list), ``--csv`` for spreadsheets (a header row of metric names, then a row per
capture). ``--breakdown`` adds the metrics of every process, and of each swap chain of a
process that presented to more than one.

Exit statuses: 0 when every capture was analysed; 2 when one cannot be read (the reason
on one stderr line), including a capture with no displayed frame times asked for
``--view displayed``; 3 when ``--process`` names a process a capture lacks. With several
files the others are still analysed and printed, each failure gets its own stderr line,
and 2 wins over 3.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from gearshift.control.exitcodes import ExitCode
from gearshift.core.errors import (
    CaptureError,
    EmptyCaptureError,
    MissingColumnError,
    ProcessNotFoundError,
)
from gearshift.core.metrics import STUTTER_FACTOR, FrameMetrics, FrameTimes, compute_metrics
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode, default_budgets_ms
from gearshift.frames.capture import (
    DISPLAYED,
    PRESENTED,
    SUSPECT_GAP_MS,
    Capture,
    ProcessFrames,
    format_label,
)
from gearshift.frames.registry import read_capture

logger = logging.getLogger(__name__)

LABEL_WIDTH = 34
"""Width of the label column in the tables."""

TABLE_WIDTH = 99
"""Side by side, a table wider than this numbers its columns and names them above."""

PROCESS_CELL_WIDTH = 20
"""A process name longer than this is shortened in a numbered side-by-side table."""

VIEW_WORDS = {
    PRESENTED: "presented (time between the game's presents)",
    DISPLAYED: "displayed (time between display changes, frames never shown left out)",
}
"""Each frame-time view, as the table names it."""


@dataclass(frozen=True)
class AnalyzeOptions:
    """What to analyse in each capture.

    Attributes:
        process: the process to analyse, or None for the capture's default.
        view: ``"presented"`` or ``"displayed"``.
        exclude_suspect: leave suspect frames out (presented view only).
        breakdown: also analyse every process and swap chain.
    """

    process: str | None = None
    view: str = PRESENTED
    exclude_suspect: bool = False
    breakdown: bool = False


@dataclass(frozen=True)
class Part:
    """One process, or one swap chain of a process, for the breakdown.

    Attributes:
        process: the process's name.
        swap_chain: the swap chain's address, or None for the whole process.
        frames: its frames.
        metrics: its metrics in the chosen view; None when it has no usable frame there.
    """

    process: str
    swap_chain: str | None
    frames: ProcessFrames
    metrics: FrameMetrics | None


@dataclass(frozen=True)
class Analysis:
    """One capture, analysed.

    Attributes:
        capture: the capture as read.
        frames: the process analysed.
        options: what was asked.
        metrics: the metrics of that process in the chosen view.
        parts: the breakdown (every process, then its swap chains); empty unless asked.
    """

    capture: Capture
    frames: ProcessFrames
    options: AnalyzeOptions
    metrics: FrameMetrics
    parts: tuple[Part, ...] = ()

    @property
    def suspect_excluded(self) -> bool:
        """True when the suspect frames were left out of the metrics."""
        return self.options.exclude_suspect and self.options.view == PRESENTED

    @property
    def not_displayed(self) -> int | None:
        """Rows whose frame never reached the screen (or has no usable display time).

        None when the capture does not record the displayed view.
        """
        return _not_displayed(self.frames)


def run_analyze(args: argparse.Namespace) -> int:
    """Print the metrics of ``args.files``; return the exit status.

    Args:
        args: the parsed command line: ``files``, ``json``, ``csv``, ``process``,
            ``view``, ``exclude_suspect`` and ``breakdown``.
    """
    options = AnalyzeOptions(args.process, args.view, args.exclude_suspect, args.breakdown)
    analyses: list[Analysis] = []
    failures: list[CaptureError] = []
    for path in args.files:
        try:
            analyses.append(analyse(path, options))
        except CaptureError as exc:
            _report(exc)
            failures.append(exc)

    if analyses:
        print(_render(args, analyses, failures, several=len(args.files) > 1))
    return int(_status(failures))


def analyse(path: str, options: AnalyzeOptions) -> Analysis:
    """Read one capture and compute its metrics.

    Raises:
        ProcessNotFoundError: ``options.process`` is not in the capture.
        MissingColumnError: the displayed view was asked of a capture without it.
        CaptureError: the capture cannot be read, or has no usable frame in the view.
    """
    capture = read_capture(path)
    frames = capture.select(options.process)
    times = _view(capture, frames, options)
    if times.size == 0:
        raise EmptyCaptureError(
            capture.path, f"process '{frames.name}' has no frame left in the {options.view} view"
        )
    metrics = _metrics(times, frames)
    logger.debug("analysed %s: %d frames of %s", capture.path, metrics.frames, frames.name)
    parts = tuple(_parts(capture, options)) if options.breakdown else ()
    return Analysis(capture, frames, options, metrics, parts)


def _view(capture: Capture, frames: ProcessFrames, options: AnalyzeOptions) -> FrameTimes:
    try:
        return frames.view(options.view, options.exclude_suspect)
    except ValueError:
        raise MissingColumnError(
            capture.path,
            f"this {format_label(capture.format)} capture records no displayed frame times "
            "(no MsBetweenDisplayChange column); analyse it with --view presented",
        ) from None


def _metrics(times: FrameTimes, frames: ProcessFrames) -> FrameMetrics:
    # A sampled log's own clock gives its length; frames left out do not shorten it.
    return compute_metrics(times, default_budgets_ms(), frames.duration_s)


def _parts(capture: Capture, options: AnalyzeOptions) -> Iterator[Part]:
    for process in capture.processes:
        yield _part(process.name, None, process, options)
        for chain in process.swap_chains:
            yield _part(process.name, chain.name, chain, options)


def _part(process: str, chain: str | None, frames: ProcessFrames, options: AnalyzeOptions) -> Part:
    try:
        times = frames.view(options.view, options.exclude_suspect)
    except ValueError:
        return Part(process, chain, frames, None)
    metrics = _metrics(times, frames) if times.size else None
    return Part(process, chain, frames, metrics)


def _not_displayed(frames: ProcessFrames) -> int | None:
    if frames.displayed_ms is None:
        return None
    rows = frames.frame_count + frames.dropped_invalid
    return max(rows - int(frames.displayed_ms.size), 0)


def _report(error: CaptureError) -> None:
    line = " ".join(str(error).splitlines())
    print(f"gearshift: {line}", file=sys.stderr)


def _status(failures: Sequence[CaptureError]) -> ExitCode:
    if any(not isinstance(f, ProcessNotFoundError) for f in failures):
        return ExitCode.CAPTURE_UNREADABLE
    if failures:
        return ExitCode.PROCESS_NOT_FOUND
    return ExitCode.OK


def _render(
    args: argparse.Namespace,
    analyses: Sequence[Analysis],
    failures: Sequence[CaptureError],
    *,
    several: bool,
) -> str:
    if args.json:
        if several:
            document: object = {
                "captures": [analysis_json(a) for a in analyses],
                "errors": [{"path": f.path, "message": str(f)} for f in failures],
            }
        else:
            document = analysis_json(analyses[0])
        return json.dumps(_finite_or_null(document), indent=2, allow_nan=False)
    if args.csv:
        return csv_text(analyses)
    if several:
        return "\n".join(comparison_lines(analyses))
    return "\n".join(table_lines(analyses[0]))


# --------------------------------------------------------------------------- JSON


def metrics_json(metrics: FrameMetrics | None) -> dict[str, object]:
    """The metrics as a JSON-ready object; times in ms, rates in FPS, duration in s.

    Every reading is null when ``metrics`` is None (nothing to measure).
    """
    return {key: None if metrics is None else read(metrics) for key, read in METRIC_KEYS}


def analysis_json(analysis: Analysis) -> dict[str, object]:
    """One capture's analysis as a JSON-ready object (see the module's docstring)."""
    capture, frames = analysis.capture, analysis.frames
    document: dict[str, object] = {
        **metrics_json(analysis.metrics),
        "source": {
            "format": capture.format,
            "version": capture.version,
            "process": frames.name,
            "path": capture.path,
        },
        "sampled": capture.sampled,
        "view": analysis.options.view,
        "dropped": {"invalid": frames.dropped_invalid, "not_displayed": analysis.not_displayed},
        "suspect": {
            "frames": int(frames.suspect.size) if frames.suspect_checked else None,
            "excluded": analysis.suspect_excluded,
        },
        "swap_chains": len(frames.swap_chains),
        "metadata": dict(capture.metadata),
    }
    if analysis.options.breakdown:
        document["breakdown"] = [_part_json(part) for part in analysis.parts]
    return document


def _part_json(part: Part) -> dict[str, object]:
    return {
        "process": part.process,
        "swap_chain": part.swap_chain,
        **metrics_json(part.metrics),
        "dropped": {
            "invalid": part.frames.dropped_invalid,
            "not_displayed": _not_displayed(part.frames),
        },
        "suspect": {
            "frames": int(part.frames.suspect.size) if part.frames.suspect_checked else None
        },
    }


METRIC_KEYS: tuple[tuple[str, Callable[[FrameMetrics], object]], ...] = (
    ("frames", lambda m: m.frames),
    ("duration_s", lambda m: m.duration_s),
    ("avg_fps", lambda m: m.avg_fps),
    ("p50_ms", lambda m: m.p50_ms),
    ("p95_ms", lambda m: m.p95_ms),
    ("p99_ms", lambda m: m.p99_ms),
    ("p999_ms", lambda m: m.p999_ms),
    ("p1_fps", lambda m: m.p1_fps),
    ("p01_fps", lambda m: m.p01_fps),
    ("low1_fps", lambda m: m.low1_fps),
    ("low01_fps", lambda m: m.low01_fps),
    ("stutter_frames", lambda m: m.stutter_frames),
    ("min_ms", lambda m: m.min_ms),
    ("max_ms", lambda m: m.max_ms),
    ("stddev_ms", lambda m: m.stddev_ms),
    ("variability_ms", lambda m: m.variability_ms),
    ("over_budget_pct", lambda m: {mode.value: pct for mode, pct in m.over_budget_pct.items()}),
)
"""Each metric's JSON key and how to read it."""


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
    if isinstance(value, list):
        return [_finite_or_null(item) for item in value]
    return value


# --------------------------------------------------------------------------- CSV

CSV_SOURCE_COLUMNS = (
    "path",
    "format",
    "version",
    "process",
    "swap_chain",
    "analysed",
    "view",
    "sampled",
    "dropped_invalid",
    "not_displayed",
    "suspect_frames",
    "suspect_excluded",
)
"""The CSV's first columns: which frames a row measures. The metrics follow."""


def csv_columns() -> list[str]:
    """The CSV header: the source columns, then one per metric (a column per mode for
    the share over budget)."""
    metric_columns = [key for key, _ in METRIC_KEYS if key != "over_budget_pct"]
    budget_columns = [f"over_budget_pct_{mode.value}" for mode in PerformanceMode]
    return [*CSV_SOURCE_COLUMNS, *metric_columns, *budget_columns]


def csv_text(analyses: Iterable[Analysis]) -> str:
    """The analyses as CSV: a row per capture, or with the breakdown a row per process
    and swap chain (``analysed`` marks the process the table reports). A missing
    reading is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_columns())
    for analysis in analyses:
        for row in _csv_rows(analysis):
            writer.writerow(_csv_cell(value) for value in row)
    return out.getvalue().rstrip("\n")


def _csv_rows(analysis: Analysis) -> Iterator[list[object]]:
    if not analysis.options.breakdown:
        yield _csv_row(analysis, analysis.frames.name, None, analysis.frames, analysis.metrics)
        return
    for part in analysis.parts:
        yield _csv_row(analysis, part.process, part.swap_chain, part.frames, part.metrics)


def _csv_row(
    analysis: Analysis,
    process: str,
    swap_chain: str | None,
    frames: ProcessFrames,
    metrics: FrameMetrics | None,
) -> list[object]:
    capture = analysis.capture
    analysed = swap_chain is None and frames is analysis.frames
    source = [
        capture.path,
        capture.format,
        capture.version,
        process,
        swap_chain,
        analysed,
        analysis.options.view,
        capture.sampled,
        frames.dropped_invalid,
        _not_displayed(frames),
        int(frames.suspect.size) if frames.suspect_checked else None,
        analysis.suspect_excluded,
    ]
    readings = [None if metrics is None else read(metrics) for key, read in METRIC_KEYS[:-1]]
    budgets = [
        None if metrics is None else metrics.over_budget_pct.get(m) for m in PerformanceMode
    ]
    return [*source, *readings, *budgets]


def _csv_cell(value: object) -> object:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


# --------------------------------------------------------------------------- tables


def _row(label: str, value: str) -> str:
    return f"  {label:<{LABEL_WIDTH}}{value}"


def table_lines(analysis: Analysis) -> list[str]:
    """One capture's analysis as a table for people: the source, then every metric."""
    lines = [*_source_lines(analysis), "", "Metrics"]
    rows = metric_rows(analysis.metrics, _unit(analysis.capture))
    lines += [_row(label, value) for label, value in rows]
    if analysis.parts:
        lines += ["", *_breakdown_lines(analysis)]
    return lines


def comparison_lines(analyses: Sequence[Analysis]) -> list[str]:
    """Several analyses side by side: a column per capture, a row per metric.

    Columns are headed by the files' names; when that would make the table wider than
    ``TABLE_WIDTH``, by numbers, with a legend above naming each file and process.
    """
    columns = [dict(_comparison_cells(a)) for a in analyses]
    labels = list(columns[0])
    headers = _column_names([a.capture.path for a in analyses])
    legend: list[str] = []
    if _table_width(headers, columns) > TABLE_WIDTH:
        legend = [f"#{i}  {a.capture.path}, {a.frames.name}" for i, a in enumerate(analyses, 1)]
        legend.append("")
        headers = [f"#{i}" for i in range(1, len(analyses) + 1)]
        for column in columns:
            column["process"] = _shortened(column["process"], PROCESS_CELL_WIDTH)
    widths = _widths(headers, columns)
    lines = [*legend, _columns_line("", headers, widths)]
    for label in labels:
        lines.append(_columns_line(label, [column[label] for column in columns], widths))
    for analysis, header in zip(analyses, headers, strict=True):
        if analysis.parts:
            lines += ["", f"{header} {analysis.capture.path}:", *_breakdown_lines(analysis)]
    return lines


def _widths(headers: Sequence[str], columns: Sequence[dict[str, str]]) -> list[int]:
    return [max(len(h), *map(len, c.values())) for h, c in zip(headers, columns, strict=True)]


def _table_width(headers: Sequence[str], columns: Sequence[dict[str, str]]) -> int:
    widths = _widths(headers, columns)
    return 2 + LABEL_WIDTH + sum(widths) + 2 * (len(widths) - 1)


def _shortened(text: str, width: int) -> str:
    """``text``, its middle cut to "..." when longer than ``width``."""
    if len(text) <= width:
        return text
    head = (width - 3 + 1) // 2
    return f"{text[:head]}...{text[len(text) - (width - 3 - head) :]}"


def _columns_line(label: str, cells: Sequence[str], widths: Sequence[int]) -> str:
    row = "  ".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=True))
    return f"  {label:<{LABEL_WIDTH}}{row}".rstrip()


def _column_names(paths: Sequence[str]) -> list[str]:
    """The files' names, or their whole paths when two names are the same."""
    names = [os.path.basename(p) or p for p in paths]
    return names if len(set(names)) == len(names) else list(paths)


def _comparison_cells(analysis: Analysis) -> Iterator[tuple[str, str]]:
    capture, frames = analysis.capture, analysis.frames
    yield "format", f"{format_label(capture.format)} {capture.version}"
    yield "process", frames.name
    yield "view", analysis.options.view
    yield "rows", "sampled" if capture.sampled else "per frame"
    yield "dropped (no usable frame time)", str(frames.dropped_invalid)
    not_displayed = analysis.not_displayed
    yield "never shown", "N/A" if not_displayed is None else str(not_displayed)
    yield "suspect", _suspect_cell(analysis)
    count = f"{analysis.metrics.frames}{' samples' if capture.sampled else ''}"
    yield "frames (samples if sampled)", count
    yield from metric_rows(analysis.metrics)[1:]


def _suspect_cell(analysis: Analysis) -> str:
    count = int(analysis.frames.suspect.size)
    if not analysis.frames.suspect_checked:
        return "N/A"
    if count == 0:
        return "0"
    return f"{count} ({'left out' if analysis.suspect_excluded else 'used'})"


def _unit(capture: Capture) -> str:
    return "samples" if capture.sampled else "frames"


def _source_lines(analysis: Analysis) -> Iterator[str]:
    capture, frames = analysis.capture, analysis.frames
    yield f"Capture  {capture.path}"
    name = format_label(capture.format)
    yield f"Format   {name} {capture.version} (version guessed from the layout)"
    if capture.sampled:
        yield "Rows     one per log interval (sampled), not one per frame"
    else:
        yield "Rows     one per frame"
    yield f"Process  {frames.name}"
    yield f"View     {VIEW_WORDS.get(analysis.options.view, analysis.options.view)}"
    if frames.dropped_invalid:
        yield f"Dropped  {frames.dropped_invalid} rows with no usable frame time"
    yield from _shown_lines(analysis)
    yield _suspect_line(analysis)
    yield from _metadata_lines(capture)

    yield ""
    yield "Processes in the capture (* = analysed)"
    width = max(len(p.name) for p in capture.processes)
    for process in capture.processes:
        mark = "*" if process is frames else " "
        line = f"  {mark} {process.name:<{width}}  {process.frame_count:>8} {_unit(capture)}"
        if process.dropped_invalid:
            line += f", {process.dropped_invalid} invalid dropped"
        if process.swap_chains:
            line += f", {len(process.swap_chains)} swap chains"
        yield line


def _shown_lines(analysis: Analysis) -> Iterator[str]:
    not_displayed = analysis.not_displayed
    if not_displayed is None:
        return
    rows = analysis.frames.frame_count + analysis.frames.dropped_invalid
    shown = f"Shown    {rows - not_displayed} of {rows} frames reached the screen"
    if not_displayed == 0:
        yield shown
    elif analysis.options.view == DISPLAYED:
        yield f"{shown}; {_frames(not_displayed)} never shown left out"
    else:
        yield f"{shown}; --view displayed leaves out {_frames(not_displayed)} never shown"


def _frames(count: int) -> str:
    return f"{count} frame" if count == 1 else f"{count} frames"


def _suspect_line(analysis: Analysis) -> str:
    count = int(analysis.frames.suspect.size)
    what = (
        f"Suspect  {_frames(count)} of {SUSPECT_GAP_MS / 1000:g} s or more that the "
        "time stamps do not show"
    )
    if not analysis.frames.suspect_checked:
        return "Suspect  not checked: the capture has no time stamps to check against"
    if count == 0:
        return "Suspect  none"
    if analysis.options.view == DISPLAYED:
        return f"{what}; not in the displayed view"
    if analysis.suspect_excluded:
        return f"{what}; left out (--exclude-suspect)"
    return f"{what}; used (--exclude-suspect leaves them out)"


def _metadata_lines(capture: Capture) -> Iterator[str]:
    label = "About   "
    for key, value in capture.metadata.items():
        yield f"{label} {key}: {value}"
        label = "        "


def _number(value: float | None, digits: int) -> str:
    if value is None or not math.isfinite(value):
        return "N/A"
    return f"{value:.{digits}f}"


def _reading(value: float | None, digits: int, unit: str) -> str:
    number = _number(value, digits)
    return number if number == "N/A" else f"{number} {unit}"


def metric_rows(m: FrameMetrics, count_label: str = "frames") -> list[tuple[str, str]]:
    """Each metric's label and value, as the tables show them."""
    rows = [
        (count_label, f"{m.frames}"),
        ("duration", _reading(m.duration_s, 2, "s")),
        ("average", _reading(m.avg_fps, 1, "FPS")),
        ("frame time p50 (median)", _reading(m.p50_ms, 2, "ms")),
        ("frame time p95", _reading(m.p95_ms, 2, "ms")),
        ("frame time p99", _reading(m.p99_ms, 2, "ms")),
        ("frame time p99.9", _reading(m.p999_ms, 2, "ms")),
        ("1% percentile (1000 / p99)", _reading(m.p1_fps, 1, "FPS")),
        ("0.1% percentile (1000 / p99.9)", _reading(m.p01_fps, 1, "FPS")),
        ("1% low", _reading(m.low1_fps, 1, "FPS")),
        ("0.1% low", _reading(m.low01_fps, 1, "FPS")),
        ("shortest frame (min)", _reading(m.min_ms, 2, "ms")),
        ("longest frame (max)", _reading(m.max_ms, 2, "ms")),
        ("standard deviation", _reading(m.stddev_ms, 2, "ms")),
        ("frame-to-frame variability", _reading(m.variability_ms, 2, "ms")),
        (f"stutters (> {STUTTER_FACTOR:g}x mean)", f"{m.stutter_frames}"),
    ]
    for mode, pct in m.over_budget_pct.items():
        budget_ms = DEFAULT_PROFILES[mode].budget_ms
        count = round(pct * m.frames / 100.0)
        label = f"over {mode.label} budget ({budget_ms:.2f} ms)"
        rows.append((label, f"{pct:.2f} % ({count} of {m.frames})"))
    return rows


BREAKDOWN_COLUMNS: tuple[tuple[str, Callable[[FrameMetrics], str]], ...] = (
    ("frames", lambda m: f"{m.frames}"),
    ("average", lambda m: _number(m.avg_fps, 1)),
    ("p50", lambda m: _number(m.p50_ms, 2)),
    ("p99", lambda m: _number(m.p99_ms, 2)),
    ("1% low", lambda m: _number(m.low1_fps, 1)),
    ("max", lambda m: _number(m.max_ms, 2)),
    ("std dev", lambda m: _number(m.stddev_ms, 2)),
    ("variability", lambda m: _number(m.variability_ms, 2)),
)
"""The breakdown table's columns: a few metrics per process and swap chain (the JSON and
CSV carry them all)."""


def _breakdown_lines(analysis: Analysis) -> list[str]:
    names = [p.process if p.swap_chain is None else f"  {p.swap_chain}" for p in analysis.parts]
    rows = [_breakdown_cells(part.metrics) for part in analysis.parts]
    headers = [header for header, _ in BREAKDOWN_COLUMNS]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    first = max(len("process / swap chain"), *map(len, names))
    view = analysis.options.view
    lines = [f"Breakdown by process and swap chain ({view} view; times in ms, rates in FPS)"]
    lines.append(_aligned("process / swap chain", first, headers, widths))
    lines += [_aligned(name, first, row, widths) for name, row in zip(names, rows, strict=True)]
    return lines


def _breakdown_cells(metrics: FrameMetrics | None) -> list[str]:
    return [read(metrics) if metrics else "N/A" for _, read in BREAKDOWN_COLUMNS]


def _aligned(name: str, first: int, cells: Sequence[str], widths: Sequence[int]) -> str:
    row = "  ".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=True))
    return f"  {name:<{first}}  {row}"
