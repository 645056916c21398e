"""A switching process killed with SIGKILL at random moments; the journal restores all.

CI runs a handful; bench/crash.py runs hundreds and prints the tally.
"""

from __future__ import annotations

import random
from pathlib import Path

from tests.system.crashrig import crash_once
from tests.system.machine import make_tree

RUNS = 5


def test_killed_mid_switch_the_machine_is_restored_every_time(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "root")
    rng = random.Random(5)
    results = [crash_once(root, tmp_path / "state", rng) for _ in range(RUNS)]
    assert [whole for whole, _ in results] == [True] * RUNS
    # Nearly all of a switching cycle has changes applied: the kills did land there.
    assert sum(restored for _, restored in results) > 0
