"""Writes a PresentMon 1.x CSV of any length, for the analyze benchmark.

The rows look like PresentMon 1.x's: a game at about 240 FPS with a spike now and then,
half of one process's frames dropped, the compositor (dwm.exe) interleaved, time
stamps in order within each process, fixed decimals as PresentMon prints them.

    .venv/bin/python bench/presentmon_gen.py OUT.csv [FRAMES]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HEADER = (
    "Application,ProcessID,SwapChainAddress,Runtime,SyncInterval,PresentFlags,"
    "AllowsTearing,PresentMode,Dropped,TimeInSeconds,MsBetweenPresents,"
    "MsBetweenDisplayChange,MsInPresentAPI,MsUntilRenderComplete,MsUntilDisplayed"
)
GAME = "game.exe,4242,0x000001D6C8F7A2B0,DXGI,0,512,1,Hardware: Independent Flip"
COMPOSITOR = "dwm.exe,1036,0x0000021B3C5D1E40,DXGI,1,0,0,Hardware: Legacy Flip"
COMPOSITOR_EVERY = 16
"""One compositor row after this many game rows."""


def frame_times_ms(count: int, seed: int = 7) -> np.ndarray:
    """A game's frame times: about 4.2 ms with jitter and a rare stall."""
    rng = np.random.default_rng(seed)
    times = rng.gamma(shape=40.0, scale=4.2 / 40.0, size=count)
    spikes = rng.random(count) < 0.002
    times[spikes] *= rng.uniform(3.0, 8.0, size=int(spikes.sum()))
    return times


def write(path: Path, frames: int) -> None:
    """Write ``frames`` game rows plus the compositor's rows to ``path``."""
    times = frame_times_ms(frames)
    stamps = 3.0 + np.cumsum(times) / 1000.0
    dropped = (np.arange(frames) % 7) == 3
    with path.open("w", encoding="ascii", newline="\n") as out:
        out.write(HEADER + "\n")
        chunk: list[str] = []
        for i in range(frames):
            shown = 0.0 if dropped[i] else times[i]
            chunk.append(
                f"{GAME},{int(dropped[i])},{stamps[i]:.6f},{times[i]:.3f},{shown:.3f},"
                f"0.112,{times[i] * 0.6:.3f},{times[i] * 1.4:.3f}\n"
            )
            if i % COMPOSITOR_EVERY == COMPOSITOR_EVERY - 1:
                chunk.append(f"{COMPOSITOR},0,{stamps[i]:.6f},16.667,16.667,0.051,0.412,16.702\n")
            if len(chunk) >= 65536:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: presentmon_gen.py OUT.csv [FRAMES]")
    frames = int(sys.argv[2]) if len(sys.argv) == 3 else 1_000_000
    write(Path(sys.argv[1]), frames)


if __name__ == "__main__":
    main()
