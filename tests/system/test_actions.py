"""Each system action on the fake machine: read, apply, verify, revert to what was read."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from gearshift.core.errors import ActionError, ActionUnavailableError
from gearshift.core.modes import DEFAULT_PROFILES, ActionSpec, PerformanceMode
from gearshift.system.builders import system_action_builders, system_restorers
from gearshift.system.mangohud_limit import FpsLimitAction, config_path, with_limit
from gearshift.system.procprio import ProcessPriorityAction
from gearshift.system.scripts import ScriptsAction
from gearshift.system.sysfs import (
    EPP,
    GOVERNOR,
    PLATFORM_PROFILE,
    AutoWriter,
    DirectWriter,
    SysfsAction,
    SystemPaths,
    devices,
)
from tests.system.machine import (
    can_raise_priority,
    context,
    game_process,
    make_tree,
    mangohud_path,
    snapshot,
)

COMP = DEFAULT_PROFILES[PerformanceMode.COMPETITIVE]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "root")


@pytest.mark.parametrize(
    ("setting", "value", "first_file"),
    [
        (GOVERNOR, "performance", "sys/devices/system/cpu/cpu3/cpufreq/scaling_governor"),
        (EPP, "performance", "sys/devices/system/cpu/cpu0/cpufreq/energy_performance_preference"),
        (PLATFORM_PROFILE, "performance", "sys/firmware/acpi/platform_profile"),
    ],
)
def test_a_sysfs_setting_applies_everywhere_and_reverts_byte_for_byte(
    tree: Path, setting, value: str, first_file: str
) -> None:
    paths = SystemPaths(tree)
    before = snapshot(tree)
    action = SysfsAction(setting, value, paths, DirectWriter(paths))

    record = action.record()
    run(action.apply())
    assert (tree / first_file).read_text() == f"{value}\n"
    assert record["setting"] == setting.name
    run(action.revert())

    assert snapshot(tree) == before


def test_cpus_are_found_in_index_order_and_only_cpus(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, cpus=12)
    assert devices(SystemPaths(tree), GOVERNOR) == [f"cpu{i}" for i in range(12)]


def test_a_value_that_does_not_stick_fails_the_apply(tree: Path) -> None:
    class Stubborn(DirectWriter):
        async def write(self, setting, values) -> None:  # type: ignore[no-untyped-def]
            pass  # another daemon puts its value straight back

    paths = SystemPaths(tree)
    action = SysfsAction(GOVERNOR, "performance", paths, Stubborn(paths))
    action.record()
    with pytest.raises(ActionError, match="another program may be setting it"):
        run(action.apply())


def test_a_value_the_kernel_does_not_offer_is_skipped_with_a_reason(tree: Path) -> None:
    builders = system_action_builders(context(tree))
    with pytest.raises(ActionUnavailableError, match="'schedutil' is not offered on cpu0"):
        builders["cpu_governor"](ActionSpec("cpu_governor", {"value": "schedutil"}), COMP)


def test_a_machine_without_the_setting_skips_it(tmp_path: Path) -> None:
    builders = system_action_builders(context(tmp_path))
    with pytest.raises(ActionUnavailableError, match="no platform profile"):
        builders["platform_profile"](ActionSpec("platform_profile", {"value": "x"}), COMP)


def test_a_setting_another_daemon_owns_is_left_to_it(tree: Path) -> None:
    owned = context(tree, owner=lambda kind: "tuned" if kind == "cpu_governor" else None)
    builders = system_action_builders(owned)
    with pytest.raises(ActionUnavailableError, match="tuned controls the CPU governor"):
        builders["cpu_governor"](ActionSpec("cpu_governor", {"value": "performance"}), COMP)


def test_the_sysfs_restorer_writes_back_a_journal_record(tree: Path) -> None:
    ctx = context(tree)
    before = snapshot(tree)
    action = SysfsAction(EPP, "performance", ctx.paths, DirectWriter(ctx.paths))
    record = action.record()
    run(action.apply())
    run(system_restorers(ctx)["cpu_epp"](record))
    assert snapshot(tree) == before


def test_a_bad_journal_record_is_refused_by_the_restorer(tree: Path) -> None:
    restore = system_restorers(context(tree))["cpu_governor"]
    with pytest.raises(ActionError, match="not a sysfs setting"):
        run(restore({"setting": "../../etc/passwd", "values": {}}))


# ------------------------------------------------------------------ game processes


def test_game_priority_applies_to_a_real_process_and_is_put_back() -> None:
    with game_process() as pid:
        before = snapshot(Path("/nonexistent"), (pid,))
        action = ProcessPriorityAction(
            lambda: [pid], nice=-5, io_class="best-effort", io_level=0, cpus=[0]
        )
        action.record()
        run(action.apply())
        process = psutil.Process(pid)
        assert process.ionice().ioclass == psutil.IOPRIO_CLASS_BE
        assert process.ionice().value == 0 and process.cpu_affinity() == [0]
        if can_raise_priority():
            assert process.nice() == -5
        run(action.revert())
        assert snapshot(Path("/nonexistent"), (pid,)) == before


def test_a_game_that_exited_is_forgotten_not_an_error() -> None:
    with game_process() as pid:
        action = ProcessPriorityAction(lambda: [pid], nice=5)
        action.record()
        run(action.apply())
    run(action.revert())  # the process is gone: nothing to put back, nothing raised


def test_no_game_running_changes_nothing() -> None:
    action = ProcessPriorityAction(lambda: [], nice=-5)
    assert action.record() == {"processes": []}
    run(action.apply())
    run(action.revert())


def test_without_privilege_a_higher_priority_is_skipped_with_a_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("gearshift.system.procprio.nice_floor", lambda: 20)
    with game_process() as pid, caplog.at_level(logging.INFO):
        action = ProcessPriorityAction(lambda: [pid], nice=-5)
        action.record()
        run(action.apply())
        assert psutil.Process(pid).nice() == 0
        run(action.revert())
    assert "needs CAP_SYS_NICE" in caplog.text


# ------------------------------------------------------------------------ MangoHud


@pytest.mark.parametrize(
    "original",
    [
        "# the player's own config\nfps_limit=144,60\nposition=top-left\nfps",
        "fps\ngpu_stats\n",
        "",
        "  fps_limit = 90 \nfps_limit=30\n",
        None,
    ],
    ids=["limit-no-newline", "no-limit", "empty", "two-limits", "no-file"],
)
def test_fps_limit_touches_only_its_line_and_reverts_byte_for_byte(
    tmp_path: Path, original: str | None
) -> None:
    path = tmp_path / "MangoHud" / "MangoHud.conf"
    if original is not None:
        path.parent.mkdir()
        path.write_text(original)
    action = FpsLimitAction(path, 240)
    action.record()
    run(action.apply())
    text = path.read_text()
    assert "fps_limit=240" in text.splitlines()
    others = [line for line in (original or "").splitlines() if "fps_limit" not in line]
    assert [line for line in text.splitlines() if "fps_limit" not in line] == others

    run(action.revert())
    assert (path.read_text() if path.exists() else None) == original
    assert sorted(p.name for p in path.parent.iterdir()) == (
        [path.name] if original is not None else []
    )


def test_fps_limit_off_without_a_config_creates_none(tmp_path: Path) -> None:
    path = tmp_path / "MangoHud.conf"
    action = FpsLimitAction(path, 0)
    action.record()
    run(action.apply())
    assert not path.exists()


def test_fps_limit_revert_keeps_what_the_player_added_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "MangoHud.conf"
    path.write_text("fps\nfps_limit=144\n")
    action = FpsLimitAction(path, 0)
    action.record()
    run(action.apply())
    path.write_text(path.read_text() + "cpu_temp\n")
    run(action.revert())
    assert path.read_text() == "fps\nfps_limit=144\ncpu_temp\n"


def test_fps_limit_finds_the_config_mangohud_reads(tmp_path: Path) -> None:
    assert config_path({"MANGOHUD_CONFIGFILE": "/x/y.conf"}, tmp_path) == Path("/x/y.conf")
    assert config_path({}, tmp_path) == tmp_path / ".config/MangoHud/MangoHud.conf"
    assert config_path({"XDG_CONFIG_HOME": "/c"}, tmp_path) == Path("/c/MangoHud/MangoHud.conf")
    per_app = tmp_path / ".config/MangoHud/game.conf"
    per_app.parent.mkdir(parents=True)
    per_app.write_text("")
    assert config_path({}, tmp_path, "game") == per_app
    assert with_limit("a\\1\nfps_limit=1\n", 0) == "a\\1\nfps_limit=0\n"


def test_fps_limit_in_the_tree_through_the_builder(tree: Path) -> None:
    before = snapshot(tree)
    action = system_action_builders(context(tree))["fps_limit"](
        ActionSpec("fps_limit", {"fps": 500}), COMP
    )
    action.record()  # type: ignore[attr-defined]
    run(action.apply())
    assert "fps_limit=500" in mangohud_path(tree).read_text()
    run(action.revert())
    assert snapshot(tree) == before


# ------------------------------------------------------------------------- scripts


def test_scripts_run_on_enter_and_leave_and_their_output_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flag = tmp_path / "flag"
    action = ScriptsAction(
        [f"sh -c 'echo entering; echo on > {flag}'"], [f"rm {flag}"], timeout_s=5
    )
    with caplog.at_level(logging.INFO):
        run(action.apply())
        assert flag.read_text() == "on\n"
        run(action.revert())
    assert not flag.exists()
    assert "sh: entering" in caplog.text


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("false", "failed with status 1"),
        ("no-such-program-anywhere", "cannot start the script"),
        ("sleep 5", "did not finish within 0.2 s"),
        ("echo 'unclosed", "cannot read the script command"),
    ],
)
def test_a_failing_enter_script_fails_the_apply(command: str, reason: str) -> None:
    action = ScriptsAction([command], [], timeout_s=0.2)
    with pytest.raises(ActionError, match=reason):
        run(action.apply())


def test_no_scripts_set_is_skipped_with_a_reason(tree: Path) -> None:
    with pytest.raises(ActionUnavailableError, match="no enter or leave scripts"):
        system_action_builders(context(tree))["scripts"](ActionSpec("scripts"), COMP)


def test_an_enter_script_failing_part_way_runs_the_leave_scripts(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    action = ScriptsAction([f"touch {flag}", "false"], [f"rm -f {flag}"], timeout_s=5)
    with pytest.raises(ActionError, match="failed with status 1"):
        run(action.apply())
    assert not flag.exists()


def test_files_the_user_cannot_write_go_through_the_helper(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, dict[str, str]]] = []

    class Helper:
        async def write(self, setting, values) -> None:  # type: ignore[no-untyped-def]
            sent.append((setting.name, dict(values)))

    writer = AutoWriter(SystemPaths(tree), helper=Helper())
    run(writer.write(GOVERNOR, {"cpu0": "performance"}))
    assert sent == []  # writable: written directly
    assert (tree / "sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").read_text() == (
        "performance\n"
    )

    monkeypatch.setattr("gearshift.system.sysfs.os.access", lambda path, mode: False)
    run(writer.write(GOVERNOR, {"cpu0": "powersave", "cpu1": "performance"}))
    assert sent == [("governor", {"cpu0": "powersave", "cpu1": "performance"})]


def test_fps_limit_uses_the_running_games_own_config_when_it_has_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MANGOHUD_CONFIGFILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with game_process() as pid:
        name = psutil.Process(pid).name()
        own = tmp_path / "MangoHud" / f"{name}.conf"
        own.parent.mkdir()
        own.write_text("fps\n")
        ctx = replace(context(tmp_path, (pid,)), mangohud_config=None)
        action = system_action_builders(ctx)["fps_limit"](
            ActionSpec("fps_limit", {"fps": 240}), COMP
        )
        action.record()  # type: ignore[attr-defined]
        run(action.apply())
        assert own.read_text() == "fps\nfps_limit=240\n"
        run(action.revert())
        assert own.read_text() == "fps\n"
