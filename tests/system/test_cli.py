"""``gearshift switch``, ``status`` and ``restore``: in-process on the fake machine, and
through a running app."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gearshift.__main__ import main
from gearshift.control.cli import build_parser
from gearshift.control.exitcodes import ExitCode
from gearshift.control.modecmd import run_mode_command
from gearshift.core.actions import JournalEntry
from gearshift.core.modes import PerformanceMode
from gearshift.system.journal import STATE_ENV, FileJournal
from gearshift.system.sysfs import ROOT_ENV
from tests.control.rig import ServedApp
from tests.system.machine import context, make_tree, snapshot


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No app running, the journal in a temporary folder; returns the tree's root."""
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))
    monkeypatch.setenv("GEARSHIFT_SOCKET", str(tmp_path / "no-app.sock"))
    monkeypatch.setenv("GEARSHIFT_SETTINGS", str(tmp_path / "settings.toml"))
    monkeypatch.setenv(ROOT_ENV, str(tmp_path / "root"))  # main() never sees the real /
    monkeypatch.setenv("MANGOHUD_CONFIGFILE", str(tmp_path / "MangoHud.conf"))
    no_buses(monkeypatch, tmp_path)
    return make_tree(tmp_path / "root")


def no_buses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """D-Bus addresses that lead nowhere: ``status`` never asks the real buses."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-system-bus'}")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-session-bus'}")


def command(root: Path, *argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    return run_mode_command(args, lambda: context(root))


def test_switch_in_process_applies_journals_and_switching_back_restores(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(env)
    assert command(env, "switch", "competitive") == ExitCode.OK
    out = capsys.readouterr().out
    assert "Switched to Competitive" in out and "CPU governor performance" in out
    assert "skipped power profile" in out  # the app holds that; not in-process
    governor = env / "sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"
    assert governor.read_text() == "performance\n"

    assert command(env, "status", "--json") == ExitCode.OK
    status = json.loads(capsys.readouterr().out)
    assert status["mode"] == "competitive" and status["running"] is False
    assert "CPU governor performance" in status["applied"]

    assert command(env, "switch", "competitive") == ExitCode.OK
    assert "already active" in capsys.readouterr().out

    assert command(env, "switch", "immersive") == ExitCode.OK
    assert "restored CPU governor performance" in capsys.readouterr().out
    assert snapshot(env) == before


def test_restore_puts_back_what_a_switch_left(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(env)
    command(env, "switch", "competitive")
    capsys.readouterr()
    assert command(env, "restore") == ExitCode.OK
    out = capsys.readouterr().out
    assert "restored platform profile performance" in out
    assert snapshot(env) == before
    assert command(env, "restore") == ExitCode.OK
    assert "Nothing to restore" in capsys.readouterr().out


def test_restore_that_cannot_put_something_back_says_so_and_keeps_it(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command(env, "switch", "competitive")
    profile = env / "sys/firmware/acpi/platform_profile"
    profile.unlink()
    profile.mkdir()  # the kernel's file is gone: the restore cannot write it
    capsys.readouterr()
    assert command(env, "restore") == ExitCode.NOT_RESTORED
    assert "could not restore platform profile performance" in capsys.readouterr().out
    assert command(env, "status") == ExitCode.OK
    assert "1 change(s) applied" in capsys.readouterr().out


def test_a_corrupt_journal_is_kept_aside_and_reported(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "journal.json").write_text("{half")
    assert main(["restore"]) == ExitCode.JOURNAL_CORRUPT
    out = capsys.readouterr().out
    assert "kept as" in out and "by hand" in out
    assert len(list((tmp_path / "state").glob("journal.json.corrupt-*"))) == 1


def test_status_without_the_app(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "Immersive (the app is not running)" in out and "empty" in out
    # Who controls what: the buses lead nowhere here, which it says rather than hangs.
    assert "Tuning    Power profile: " in out
    assert "could not check the system bus" in out
    assert main(["status", "--json"]) == ExitCode.OK
    tools = json.loads(capsys.readouterr().out)["tuning_tools"]
    assert "GPU power limit: " in "\n".join(tools["controls"])
    assert any(line.startswith("the session bus") for line in tools["unchecked"])


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ServedApp]:
    with tempfile.TemporaryDirectory(prefix="gs-") as folder:
        socket_path = Path(folder) / "control.sock"
        monkeypatch.setenv("GEARSHIFT_SOCKET", str(socket_path))
        monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))
        monkeypatch.setenv(ROOT_ENV, str(tmp_path / "root"))
        no_buses(monkeypatch, tmp_path)
        app = ServedApp(socket_path)
        yield app
        app.close()


def test_switch_goes_through_the_running_app(
    served: ServedApp, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["switch", "competitive"]) == ExitCode.OK
    assert served.mode is PerformanceMode.COMPETITIVE
    assert "Switched to Competitive" in capsys.readouterr().out
    assert main(["status"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "Competitive" in out and "Journal" in out


def test_restore_is_refused_while_the_app_runs(
    served: ServedApp, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["restore"]) == ExitCode.BUSY
    assert "quit it first" in capsys.readouterr().err


def test_switch_needs_a_known_mode(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["switch", "turbo"])
    assert raised.value.code == ExitCode.USAGE


def test_status_after_a_crashed_app_says_changes_are_left(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {"setting": "governor", "values": {"cpu0": "powersave"}}
    FileJournal().add([JournalEntry("x-1", "cpu_governor", "CPU governor performance", record)])
    assert command(env, "status") == ExitCode.OK
    assert "unknown: an earlier run left changes applied" in capsys.readouterr().out
