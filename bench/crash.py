"""Crash safety at scale: kill -9 a switching process at random moments, many times.

Each run starts a process that switches Immersive <-> Competitive on the fake machine
(a temporary sysfs tree and MangoHud config, every file-backed action, the journal in a
real file), kills it with SIGKILL after a random delay, restores from the journal as
``gearshift restore`` would, and compares the tree with its state before, byte for byte.

    .venv/bin/python bench/crash.py [RUNS]     (default 200)
"""

from __future__ import annotations

import logging
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.system.crashrig import crash_once
from tests.system.machine import make_tree


def main() -> int:
    logging.basicConfig(level=logging.ERROR)  # each restore logs what it restored
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = random.Random()
    whole = mid_switch = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gearshift-crash-") as folder:
        root = make_tree(Path(folder) / "root")
        for _ in range(runs):
            restored_whole, restored = crash_once(root, Path(folder) / "state", rng)
            whole += restored_whole
            mid_switch += restored > 0
    elapsed_s = time.perf_counter() - started
    print(
        f"{runs} kills: machine restored byte for byte {whole}/{runs} times; "
        f"{mid_switch} kills left changes applied for the journal to restore "
        f"({elapsed_s:.0f} s)"
    )
    return 0 if whole == runs else 1


if __name__ == "__main__":
    sys.exit(main())
