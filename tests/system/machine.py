"""A fake machine on disk: a sysfs tree, a MangoHud config and a real child process.

Every system action resolves its paths under the tree's root, so a test can compare
the machine's state before and after a switch byte for byte (``snapshot``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from gearshift.system.builders import SystemContext
from gearshift.system.sysfs import DirectWriter, SystemPaths

CPUS = 4
GOVERNORS = "performance powersave\n"
PREFERENCES = "default performance balance_performance balance_power power\n"
PROFILES = "low-power balanced performance\n"
MANGOHUD_CONF = "# the player's own config\nfps_limit=144,60\nposition=top-left\nfps"


def make_tree(root: Path, cpus: int = CPUS) -> Path:
    """A machine whose CPUs run ``powersave``/``balance_power`` on a balanced profile."""
    for index in range(cpus):
        cpufreq = root / f"sys/devices/system/cpu/cpu{index}/cpufreq"
        cpufreq.mkdir(parents=True)
        (cpufreq / "scaling_governor").write_text("powersave\n")
        (cpufreq / "scaling_available_governors").write_text(GOVERNORS)
        (cpufreq / "energy_performance_preference").write_text("balance_power\n")
        (cpufreq / "energy_performance_available_preferences").write_text(PREFERENCES)
    (root / "sys/devices/system/cpu/cpufreq").mkdir(parents=True)  # not a CPU: ignored
    acpi = root / "sys/firmware/acpi"
    acpi.mkdir(parents=True)
    (acpi / "platform_profile").write_text("balanced\n")
    (acpi / "platform_profile_choices").write_text(PROFILES)
    mangohud = mangohud_path(root)
    mangohud.parent.mkdir(parents=True)
    mangohud.write_text(MANGOHUD_CONF)
    return root


def mangohud_path(root: Path) -> Path:
    """The MangoHud config inside the tree."""
    return root / "home/.config/MangoHud/MangoHud.conf"


def snapshot(root: Path, pids: tuple[int, ...] = ()) -> dict[str, object]:
    """Every file under ``root`` with its bytes, and each process's priorities."""
    state: dict[str, object] = {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
    for pid in pids:
        process = psutil.Process(pid)
        state[f"pid {pid}"] = (process.nice(), tuple(process.ionice()), process.cpu_affinity())
    return state


def context(root: Path, pids: tuple[int, ...] = (), **extra: object) -> SystemContext:
    """The system actions' view of the fake machine: direct writes, no helper."""
    paths = SystemPaths(root)
    return SystemContext(
        paths=paths,
        writer=DirectWriter(paths),
        pids=lambda: pids,
        mangohud_config=mangohud_path(root),
        **extra,  # type: ignore[arg-type]
    )


@contextmanager
def game_process() -> Iterator[int]:
    """A real child process standing in for the game; its pid."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], stdin=subprocess.DEVNULL
    )
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


def can_raise_priority() -> bool:
    """True when this user may lower nice values (root, or RLIMIT_NICE allows)."""
    import resource

    return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_NICE)[0] > 20
