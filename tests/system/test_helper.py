"""gearshift-helper refuses everything outside its allow-list, in-process and as a
process; a missing pkexec or a dismissed prompt fails the switch cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from gearshift.core.errors import ActionError, ModeTransitionError
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.modes import DEFAULT_PROFILES, ActionSpec, PerformanceMode
from gearshift.system.builders import SystemContext, system_action_builders
from gearshift.system.helper import (
    DONE,
    MAX_REQUEST_BYTES,
    REFUSED,
    ROOT_ENV,
    handle,
    helper_root,
)
from gearshift.system.sysfs import GOVERNOR, DirectWriter, HelperWriter, SystemPaths
from tests.system.machine import make_tree, mangohud_path, snapshot

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "root")


def request(setting: object = "governor", values: object = None, **extra: object) -> bytes:
    body = {"setting": setting, "values": {"cpu0": "performance"} if values is None else values}
    return json.dumps({**body, **extra}).encode()


def test_an_allowed_request_is_applied_and_answered(tree: Path) -> None:
    status, answer = handle(
        request(values={"cpu0": "performance", "cpu3": "performance"}), SystemPaths(tree)
    )
    assert (status, answer) == (
        DONE,
        {"ok": True, "written": {"cpu0": "performance", "cpu3": "performance"}},
    )
    governor = tree / "sys/devices/system/cpu/cpu3/cpufreq/scaling_governor"
    assert governor.read_text() == "performance\n"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (request(setting="scaling_max_freq"), "the setting must be one of"),
        (request(setting=["governor"]), "the setting must be one of"),
        (request(values={"../cpu0": "performance"}), "is not a device"),
        (request(values={"/sys/devices/system/cpu/cpu0": "performance"}), "is not a device"),
        (request(values={"cpu0/../../../../etc": "performance"}), "is not a device"),
        (request(values={"cpu0/": "performance"}), "is not a device"),
        (request(values={"cpu00": "performance"}), "is not a device"),
        (request(values={"cpu-1": "performance"}), "is not a device"),
        (request(values={"cpu99": "performance"}), "has no CPU governor here"),
        (request(values={"acpi": "performance"}), "is not a device"),
        (request(setting="platform_profile", values={"cpu0": "performance"}), "is not a device"),
        (request(values={"cpu0": "performance; rm -rf /"}), "is not a value the kernel offers"),
        (request(values={"cpu0": "userspace"}), "is not a value the kernel offers"),
        (request(values={"cpu0": 1}), "is not a value the kernel offers"),
        (request(values={}), "must map 1 to"),
        (request(values=["cpu0"]), "must map 1 to"),
        (request(path="/etc/passwd"), "exactly"),
        (b'{"setting": "governor"}', "exactly"),
        (b"[]", "exactly"),
        (b"governor=performance", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b" " * (MAX_REQUEST_BYTES + 1), "larger than"),
    ],
)
def test_anything_outside_the_allow_list_is_refused_and_nothing_written(
    tree: Path, data: bytes, reason: str
) -> None:
    before = snapshot(tree)
    status, answer = handle(data, SystemPaths(tree))
    assert status == REFUSED and answer["ok"] is False
    assert reason in answer["error"]
    assert snapshot(tree) == before


def test_one_bad_device_refuses_the_whole_request(tree: Path) -> None:
    before = snapshot(tree)
    status, _ = handle(request(values={"cpu0": "performance", "cpu1": "bogus"}), SystemPaths(tree))
    assert status == REFUSED and snapshot(tree) == before


def test_a_symlink_out_of_the_tree_is_refused(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "scaling_governor").write_text("powersave\n")
    (outside / "scaling_available_governors").write_text("performance powersave\n")
    cpufreq = tree / "sys/devices/system/cpu/cpu1/cpufreq"
    shutil.rmtree(cpufreq)
    cpufreq.symlink_to(outside)
    status, answer = handle(request(values={"cpu1": "performance"}), SystemPaths(tree))
    assert status == REFUSED and "has no CPU governor here" in answer["error"]
    assert (outside / "scaling_governor").read_text() == "powersave\n"


def test_a_write_the_kernel_refuses_is_reported(tree: Path) -> None:
    governor = tree / "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"
    governor.unlink()
    governor.mkdir()  # the file exists but cannot be written as one
    (governor / "x").write_text("")
    status, answer = handle(request(), SystemPaths(tree))
    assert status == REFUSED  # not a regular file: refused before writing
    assert "has no CPU governor" in answer["error"]


def test_the_root_override_is_ignored_as_root_and_under_pkexec() -> None:
    env = {ROOT_ENV: "/tmp/x"}
    assert helper_root(env, euid=1000) == Path("/tmp/x")
    assert helper_root(env, euid=0) == Path("/")
    assert helper_root({**env, "PKEXEC_UID": "1000"}, euid=1000) == Path("/")
    assert helper_root({}, euid=1000) == Path("/")


def _as_a_user() -> list[str]:
    """The prefix that runs a command as a non-root user, so the root override is
    honoured: nothing as a user; as root, a user namespace whose uid is 1000 (files it
    writes still belong to root outside, so the temporary tree stays readable)."""
    if os.geteuid() != 0:
        return []
    prefix = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"cannot leave root here to test the helper: {probe.stderr.decode()}")
    return prefix


def _helper_command(root: Path) -> list[str]:
    return [
        *_as_a_user(),
        "env",
        f"{ROOT_ENV}={root}",
        f"PYTHONPATH={REPO / 'app'}",
        sys.executable,
        "-m",
        "gearshift.system.helper",
    ]


def test_the_helper_process_applies_an_allowed_request(tree: Path) -> None:
    done = subprocess.run(_helper_command(tree), input=request(), capture_output=True, timeout=30)
    assert done.returncode == DONE, done.stderr
    assert json.loads(done.stdout) == {"ok": True, "written": {"cpu0": "performance"}}
    governor = tree / "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"
    assert governor.read_text() == "performance\n"


@pytest.mark.parametrize(
    "data",
    [
        request(values={"cpu0/../../../../../../tmp/evil": "performance"}),
        b"x" * (MAX_REQUEST_BYTES * 4),
        request(setting="governor", values={"cpu0": "performance"}, shell="id"),
    ],
    ids=["path-trick", "oversized", "unknown-key"],
)
def test_the_helper_process_refuses_with_a_json_answer(tree: Path, data: bytes) -> None:
    before = snapshot(tree)
    done = subprocess.run(_helper_command(tree), input=data, capture_output=True, timeout=30)
    assert done.returncode == REFUSED
    assert json.loads(done.stdout)["ok"] is False
    assert snapshot(tree) == before


def test_the_helper_run_as_root_ignores_the_override(tree: Path) -> None:
    """Started as root, a root override would let a caller write anywhere: ignored.

    The request asks for a governor only the temporary tree offers, so the real
    machine (if this runs as root on one with cpufreq) refuses it and nothing changes.
    """
    if os.geteuid() != 0:
        pytest.skip("needs root to show the override is ignored as root")
    cpufreq = tree / "sys/devices/system/cpu/cpu0/cpufreq"
    (cpufreq / "scaling_available_governors").write_text("gearshift-test powersave\n")
    command = _helper_command(tree)[len(_as_a_user()) :]
    data = request(values={"cpu0": "gearshift-test"})
    done = subprocess.run(command, input=data, capture_output=True, timeout=30)
    assert done.returncode == REFUSED, done.stdout
    assert (cpufreq / "scaling_governor").read_text() == "powersave\n"


def test_the_helper_writer_drives_the_helper_process(tree: Path) -> None:
    writer = HelperWriter(_helper_command(tree), timeout_s=30)
    asyncio.run(writer.write(GOVERNOR, {"cpu1": "performance"}))
    governor = tree / "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor"
    assert governor.read_text() == "performance\n"
    with pytest.raises(ActionError, match=r"the helper refused: .*not a value the kernel offers"):
        asyncio.run(writer.write(GOVERNOR, {"cpu1": "ondemand"}))


def _fake_pkexec(folder: Path, status: int) -> Path:
    program = folder / f"pkexec-{status}"
    program.write_text(f"#!/bin/sh\ncat >/dev/null\nexit {status}\n")
    program.chmod(0o755)
    return program


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (126, "the administrator password prompt was dismissed"),
        (127, "pkexec did not authorize the helper"),
        (None, "is not installed"),
    ],
    ids=["cancelled", "not-authorized", "pkexec-missing"],
)
def test_pkexec_missing_or_cancelled_fails_the_switch_and_rolls_back(
    tree: Path, tmp_path: Path, status: int | None, reason: str
) -> None:
    """The files are not writable 'as the user' here, so every sysfs write needs the
    helper; the governor's write is refused after the EPP was written directly."""
    program = _fake_pkexec(tmp_path, status) if status is not None else tmp_path / "no-pkexec"
    paths = SystemPaths(tree)

    helper = HelperWriter((str(program), "gearshift-helper"), timeout_s=10)

    class GovernorNeedsRoot:
        async def write(self, setting, values) -> None:  # type: ignore[no-untyped-def]
            writer = helper if setting is GOVERNOR else DirectWriter(paths)
            await writer.write(setting, values)

    context = SystemContext(
        paths=paths, writer=GovernorNeedsRoot(), mangohud_config=mangohud_path(tree)
    )
    competitive = replace(
        DEFAULT_PROFILES[PerformanceMode.COMPETITIVE],
        actions=(
            ActionSpec("cpu_epp", {"value": "performance"}),
            ActionSpec("cpu_governor", {"value": "performance"}),
        ),
    )
    profiles = {**DEFAULT_PROFILES, PerformanceMode.COMPETITIVE: competitive}
    before = snapshot(tree)

    async def scenario() -> ModeTransitionError:
        manager = ModeManager(system_action_builders(context), EventBus(), profiles=profiles)
        await manager.start()
        with pytest.raises(ModeTransitionError) as raised:
            await manager.set_mode(PerformanceMode.COMPETITIVE)
        assert manager.mode is PerformanceMode.IMMERSIVE
        return raised.value

    error = asyncio.run(scenario())
    assert reason in str(error)
    assert error.report.reverted == ("energy-performance preference performance",)
    assert snapshot(tree) == before
