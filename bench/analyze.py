"""`gearshift analyze` on a million PresentMon frames, against pandas and pyarrow.

Writes a 1,000,000-frame PresentMon 1.x CSV (bench/presentmon_gen.py), then times, each
in a fresh process and best of a few runs:

- Gearshift: reading the capture and computing every metric (what `analyze` does
  before it prints), and the peak resident memory of `gearshift analyze FILE`;
- the obvious baseline: pandas.read_csv of the file, then numpy percentiles of the
  game's frame times;
- a bare parse with pyarrow's CSV reader (no metrics at all).

Goals (issue 3): at least 3x faster than the pandas baseline, within 1.5x of the bare
pyarrow parse, under 300 MB resident. pandas and pyarrow are benchmark-only
dependencies: `.venv/bin/pip install pandas pyarrow`.

    .venv/bin/python bench/analyze.py [--frames N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import presentmon_gen

GEARSHIFT = """
import time
from gearshift.core.metrics import compute_metrics
from gearshift.core.modes import default_budgets_ms
from gearshift.frames.registry import read_capture
started = time.perf_counter()
frames = read_capture(PATH).select(None)
metrics = compute_metrics(frames.frame_times_ms, default_budgets_ms(), frames.duration_s)
print(time.perf_counter() - started, metrics.frames)
"""

PANDAS = """
import time
import numpy as np
import pandas as pd
started = time.perf_counter()
table = pd.read_csv(PATH)
times = table.loc[table["Application"] == "game.exe", "MsBetweenPresents"].to_numpy()
np.percentile(times, [50, 95, 99, 99.9])
print(time.perf_counter() - started, times.size)
"""

PYARROW = """
import time
import pyarrow.csv as pc
started = time.perf_counter()
table = pc.read_csv(PATH)
print(time.perf_counter() - started, table.num_rows)
"""


def timed(program: str, path: Path, runs: int) -> float:
    """The best wall time of ``program`` over ``runs`` fresh processes, in seconds."""
    best = float("inf")
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", program.replace("PATH", repr(str(path)))],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        best = min(best, float(output[0]))
    return best


def peak_rss_mb(path: Path) -> float:
    """The peak resident memory of `gearshift analyze FILE`, in MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(
        [sys.executable, "-m", "gearshift", "analyze", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kb <= before:
        print("  (the peak is no higher than an earlier child's; run alone for a figure)")
    return peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gearshift-bench-") as folder:
        path = Path(folder) / "presentmon_1x.csv"
        presentmon_gen.write(path, args.frames)
        size_mb = path.stat().st_size / 1e6
        print(f"capture: {args.frames:,} game frames, {size_mb:.0f} MB, {os.cpu_count()} CPUs")
        rss_mb = peak_rss_mb(path)  # first, so no other child's peak hides it
        ours = timed(GEARSHIFT, path, args.runs)
        pandas = timed(PANDAS, path, args.runs)
        arrow = timed(PYARROW, path, args.runs)
    print(f"gearshift read + metrics   {ours * 1000:8.0f} ms")
    print(f"pandas read_csv + numpy    {pandas * 1000:8.0f} ms   ({pandas / ours:.2f}x ours)")
    print(f"pyarrow bare parse         {arrow * 1000:8.0f} ms   (ours is {ours / arrow:.2f}x it)")
    print(f"gearshift analyze peak RSS {rss_mb:8.0f} MB")
    print(
        f"goals: >= 3x faster than pandas: {'met' if pandas / ours >= 3 else 'missed'}; "
        f"within 1.5x of pyarrow: {'met' if ours / arrow <= 1.5 else 'missed'}; "
        f"under 300 MB: {'met' if rss_mb < 300 else 'missed'}"
    )


if __name__ == "__main__":
    main()
