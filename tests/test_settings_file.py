"""The settings file over time: saving, migrating old files, keeping bad ones, crashes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gearshift.config as config
from gearshift.config import (
    GameRule,
    LoadedSettings,
    Settings,
    SettingsError,
    SettingsStore,
    load_settings,
    save_settings,
    set_aside,
)

V1_FILE = """\
version = 1

[metrics]
enabled = true
port = 9100

[gpu]
pin = "01:00.0"
adjust_presets = false
"""
"""What Gearshift 0.1 wrote: version 1, with api, metrics and gpu only."""


def customised() -> Settings:
    """Settings with something changed in every section the window edits."""
    return Settings.model_validate(
        {
            "general": {"cooldown_s": 42.5, "start_minimised": True, "notifications": False},
            "hotkeys": {"enter_competitive": "Ctrl+Shift+F9", "toggle": "Meta+F8"},
            "profiles": {"competitive": {"fps_min": 240.0, "preset": "low"}},
            "autoswitch": {
                "games": (
                    {"name": "cs2", "path": "/games/cs2/cs2", "cmdline": "-novid"},
                    {"name": "valorant.exe"},
                )
            },
            "advanced": {"ingest_socket": False},
            "gpu": {"adjust_presets": False},
        }
    )


def test_saved_settings_load_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "settings.toml"
    assert save_settings(customised(), path) == path
    text = path.read_text()
    assert text.startswith("# Gearshift's settings.")
    assert tomllib.loads(text)["version"] == 2
    loaded = load_settings(path)
    assert loaded.problem is None and loaded.migrated_from is None
    assert loaded.settings == customised()


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s),
    cmdline=st.text(max_size=40),
)
def test_any_game_text_survives_the_round_trip(tmp_path_factory, name: str, cmdline: str) -> None:
    path = tmp_path_factory.mktemp("rt") / "settings.toml"
    wanted = Settings.model_validate(
        {"autoswitch": {"games": ({"name": name, "cmdline": cmdline},)}}
    )
    save_settings(wanted, path)
    assert load_settings(path).settings == wanted


def test_a_version_1_file_is_migrated_and_keeps_its_values(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(V1_FILE)
    loaded = load_settings(path)
    assert loaded.problem is None
    assert loaded.migrated_from == 1
    assert loaded.settings.version == 2
    assert (loaded.settings.metrics.enabled, loaded.settings.metrics.port) == (True, 9100)
    assert loaded.settings.gpu.pin == "01:00.0" and not loaded.settings.gpu.adjust_presets
    assert loaded.settings.general == Settings().general
    assert path.read_text() == V1_FILE  # reading never writes

    save_settings(loaded.settings, path)
    again = load_settings(path)
    assert again.migrated_from is None and again.settings == loaded.settings


def test_a_file_without_a_version_is_read_as_version_1(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[api]\nenabled = false\n")
    loaded = load_settings(path)
    assert loaded.migrated_from == 1 and loaded.settings.api.enabled is False


def test_a_future_layout_change_adds_one_migration_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version 3 that renamed [advanced] ingest_socket: a v1 file takes both steps."""
    steps: list[int] = []

    def from_v1(document: dict) -> dict:
        steps.append(1)
        return {**document, "version": 2, "advanced": {"engine_socket": False}}

    def from_v2(document: dict) -> dict:
        steps.append(2)
        advanced = dict(document.get("advanced", {}))
        advanced["ingest_socket"] = advanced.pop("engine_socket")
        return {**document, "version": 3, "advanced": advanced}

    monkeypatch.setattr(config, "SETTINGS_VERSION", 3)
    monkeypatch.setattr(config, "MIGRATIONS", {1: from_v1, 2: from_v2})
    path = tmp_path / "settings.toml"
    path.write_text(V1_FILE)
    loaded = load_settings(path)
    assert steps == [1, 2]
    assert loaded.problem is None and loaded.migrated_from == 1
    assert loaded.settings.version == 3 and loaded.settings.advanced.ingest_socket is False


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("version = 3\n", "was written by a newer Gearshift (settings version 3; this one reads"),
        ("version = 'two'\n", "has an invalid version 'two'"),
        ("version = 0\n", "has an invalid version 0"),
        ("version = true\n", "has an invalid version True"),
        ("[general]\ncooldown_s = 601\n", "general.cooldown_s: Input should be less than or"),
        ("[general]\ncooldown_s = -1\n", "general.cooldown_s: Input should be greater than"),
        ("[general]\nstart_minimised = 'yes'\n", "general.start_minimised"),
        ("[profiles.competitive]\nfps_min = 5\n", "profiles.competitive.fps_min"),
        ("[profiles.immersive]\nfps_max = 30\n", "the FPS ceiling 30 is below the floor 60"),
        ("[profiles.immersive]\npreset = 'epic'\n", "profiles.immersive.preset"),
        ("[[autoswitch.games]]\nname = ''\n", "autoswitch.games.0.name"),
        (
            "[[autoswitch.games]]\nname = 'cs2'\n[[autoswitch.games]]\nname = 'cs2'\n",
            "'cs2' is listed twice",
        ),
    ],
)
def test_invalid_new_settings_give_defaults_and_one_line(
    tmp_path: Path, text: str, named: str
) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    loaded = load_settings(path)
    assert loaded.settings == Settings()
    assert loaded.problem is not None and named in loaded.problem, loaded.problem
    assert path.read_text() == text


def test_a_partial_profile_keeps_the_built_in_values_it_leaves_out(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[profiles.competitive]\nfps_min = 144\n")
    profiles = config.mode_profiles(load_settings(path).settings)
    competitive = profiles[config.PerformanceMode.COMPETITIVE]
    assert (competitive.fps_min, competitive.fps_max, competitive.preset) == (144, None, "medium")
    assert competitive.budget_ms == pytest.approx(1000 / 144)
    assert profiles[config.PerformanceMode.IMMERSIVE].fps_max == 120


# ------------------------------------------------------------------ keeping a bad file


def bad(path: Path, text: str) -> LoadedSettings:
    path.write_text(text)
    return load_settings(path)


def test_a_corrupt_file_is_kept_as_bak_and_the_problem_says_where(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    kept = set_aside(bad(path, "[general\ncooldown_s = 3"))
    backup = tmp_path / "settings.toml.bak"
    assert kept.backup == backup
    assert not path.exists()
    assert backup.read_text() == "[general\ncooldown_s = 3"
    assert kept.problem is not None
    assert "is not valid TOML" in kept.problem
    assert f"the old file is kept as {backup}" in kept.problem
    assert kept.settings == Settings()


def test_an_older_different_backup_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    (tmp_path / "settings.toml.bak").write_text("the first bad file")
    (tmp_path / "settings.toml.bak.1").write_text("the second bad file")
    kept = set_aside(bad(path, "version = 99\n"))
    assert kept.backup == tmp_path / "settings.toml.bak.2"
    assert (tmp_path / "settings.toml.bak").read_text() == "the first bad file"
    assert (tmp_path / "settings.toml.bak.1").read_text() == "the second bad file"
    assert kept.backup.read_text() == "version = 99\n"


def test_the_same_bad_file_twice_reuses_its_backup(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    first = set_aside(bad(path, "[gpu]\nsample_hz = 99\n"))
    second = set_aside(bad(path, "[gpu]\nsample_hz = 99\n"))
    assert first.backup == second.backup == tmp_path / "settings.toml.bak"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.toml.bak"]


def test_a_usable_or_missing_file_stays_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    assert set_aside(load_settings(path)).backup is None
    save_settings(customised(), path)
    assert set_aside(load_settings(path)).backup is None
    assert path.exists() and not (tmp_path / "settings.toml.bak").exists()


def test_a_settings_folder_in_place_of_the_file_is_moved_aside_too(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.mkdir()
    (path / "inside").write_text("kept")
    kept = set_aside(load_settings(path))
    assert kept.problem is not None and "cannot be read" in kept.problem
    assert kept.backup is not None and (kept.backup / "inside").read_text() == "kept"
    save_settings(customised(), path)
    assert load_settings(path).settings == customised()


def test_a_file_that_cannot_be_moved_aside_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    loaded = bad(path, "not toml at all [")
    blocked = LoadedSettings(loaded.settings, tmp_path / "missing" / "settings.toml", loaded.fault)
    with pytest.raises(SettingsError, match="cannot be moved aside"):
        set_aside(blocked)


def test_the_command_line_never_moves_or_writes_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[gpu\n")
    env = {**os.environ, "GEARSHIFT_SETTINGS": str(path), "GEARSHIFT_FAKE_GPU": "rtx4080super"}
    done = subprocess.run(
        [sys.executable, "-m", "gearshift", "gpu", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "is not valid TOML" in done.stderr and "the file is left as it is" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.toml"]
    assert path.read_text() == "[gpu\n"


# --------------------------------------------------------------------- atomic writing


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.toml"
    save_settings(Settings(), path)
    before = path.read_bytes()

    def refuse(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SettingsError, match=r"cannot save the settings to .*No space left"):
        save_settings(customised(), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.toml"]


def test_a_failed_flush_to_disk_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.toml"
    save_settings(Settings(), path)
    before = path.read_bytes()

    def refuse(_descriptor: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", refuse)
    with pytest.raises(SettingsError, match="Input/output error"):
        save_settings(customised(), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.toml"]


def test_the_file_and_then_its_folder_are_flushed_to_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushed: list[str] = []
    real_fsync = os.fsync

    def recording(descriptor: int) -> None:
        flushed.append("folder" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording)
    save_settings(Settings(), tmp_path / "settings.toml")
    assert flushed == ["file", "folder"]


def test_a_save_keeps_the_files_permissions(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    save_settings(Settings(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o640)
    save_settings(customised(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_folder_that_cannot_exist_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SettingsError, match=r"cannot save the settings to .*file/settings.toml"):
        save_settings(Settings(), tmp_path / "file" / "settings.toml")


def test_a_temporary_left_by_a_crash_is_removed_by_a_later_save(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    stale = tmp_path / ".settings.toml.abc123.tmp"
    stale.write_text("half")
    old_s = time.time() - 3600
    os.utime(stale, (old_s, old_s))
    fresh = tmp_path / ".settings.toml.def456.tmp"
    fresh.write_text("someone's save in progress")
    save_settings(Settings(), path)
    assert not stale.exists() and fresh.exists()


CRASH_BEFORE_RENAME = """
import os, signal, sys
from pathlib import Path
from gearshift.config import Settings, save_settings
os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # the crash, mid-save
save_settings(Settings.model_validate({"general": {"cooldown_s": 99.0}}), Path(sys.argv[1]))
"""

SAVE_FOREVER = """
import sys
from pathlib import Path
from gearshift.config import Settings, save_settings
path = Path(sys.argv[1])
games = tuple({"name": f"game{n}", "cmdline": "x" * 500} for n in range(40))
variants = [
    Settings.model_validate({"general": {"cooldown_s": 11.0}}),
    Settings.model_validate({"general": {"cooldown_s": 22.0}, "autoswitch": {"games": games}}),
]
save_settings(variants[0], path)
print("ready", flush=True)
n = 0
while True:
    save_settings(variants[n % 2], path)
    n += 1
"""


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_crash_between_writing_and_renaming_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    save_settings(customised(), path)
    before = path.read_bytes()
    writer = run_python(CRASH_BEFORE_RENAME, str(path))
    _out, errors = writer.communicate(timeout=60)
    assert writer.returncode == -signal.SIGKILL, errors
    assert path.read_bytes() == before
    leftovers = list(tmp_path.glob(".settings.toml.*.tmp"))
    assert len(leftovers) == 1  # the whole new file, never renamed into place
    assert tomllib.loads(leftovers[0].read_text())["general"]["cooldown_s"] == 99.0


@pytest.mark.parametrize("delay_ms", [3, 17, 41, 90])
def test_killing_a_writer_at_any_moment_leaves_a_whole_file(tmp_path: Path, delay_ms: int) -> None:
    path = tmp_path / "settings.toml"
    writer = run_python(SAVE_FOREVER, str(path))
    assert writer.stdout is not None
    ready = writer.stdout.readline()
    time.sleep(delay_ms / 1000)
    writer.send_signal(signal.SIGKILL)
    _out, errors = writer.communicate(timeout=30)
    assert ready == "ready\n", errors
    loaded = load_settings(path)
    assert loaded.problem is None
    assert loaded.settings.general.cooldown_s in (11.0, 22.0)
    assert len(list(tmp_path.glob(".settings.toml.*.tmp"))) <= 1


# ------------------------------------------------------------------------------ store


def test_the_store_saves_the_whole_model_then_tells_its_listeners(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    store = SettingsStore(load_settings(path))
    heard: list[tuple[float, float]] = []
    unsubscribe = store.subscribe(
        lambda old, new: heard.append((old.general.cooldown_s, new.general.cooldown_s))
    )
    store.save(customised())
    assert heard == [(5.0, 42.5)]
    assert load_settings(path).settings == customised()
    unsubscribe()
    store.save(Settings())
    assert heard == [(5.0, 42.5)]


def test_a_store_that_cannot_save_keeps_the_old_settings(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    store = SettingsStore(LoadedSettings(Settings(), tmp_path / "file" / "settings.toml"))
    heard: list[Settings] = []
    store.subscribe(lambda _old, new: heard.append(new))
    with pytest.raises(SettingsError):
        store.save(customised())
    assert store.settings == Settings() and heard == []


def test_a_listener_that_fails_does_not_undo_the_save(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SettingsStore(load_settings(tmp_path / "settings.toml"))

    def broken(_old: Settings, _new: Settings) -> None:
        raise RuntimeError("listener bug")

    store.subscribe(broken)
    store.save(customised())
    assert store.settings == customised()
    assert "a settings listener failed" in caplog.text


def test_an_in_memory_store_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = SettingsStore.in_memory()
    store.save(customised())
    assert store.settings == customised() and list(tmp_path.iterdir()) == []


def test_game_rules_compare_by_value() -> None:
    assert GameRule(name="cs2") == GameRule(name="cs2", path="", cmdline="")
