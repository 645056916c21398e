"""Reading the settings file: defaults when absent, one clear line when it is bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from gearshift.config import Settings, load_settings, settings_path


def test_a_missing_file_means_the_defaults(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path / "settings.toml")
    assert loaded.settings == Settings()
    assert loaded.problem is None
    assert loaded.settings.api.enabled is True
    assert loaded.settings.metrics.enabled is False
    assert loaded.settings.metrics.address == "127.0.0.1"


def test_metrics_settings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[metrics]\nenabled = true\naddress = "192.168.1.20"\nport = 9100\n')
    metrics = load_settings(path).settings.metrics
    assert (metrics.enabled, metrics.address, metrics.port) == (True, "192.168.1.20", 9100)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[metrics\nport = 1", "is not valid TOML"),
        ("[metrics]\nport = 70000\n", "metrics.port"),
        ("[metrics]\nport = 'high'\n", "metrics.port"),
        ('[metrics]\naddress = "my-pc.local"\n', "metrics.address"),
        ("[metrics]\ncolour = 'red'\n", "metrics.colour: not a setting Gearshift knows"),
        ("[api]\nenabled = 'maybe'\n", "api.enabled"),
        ('[gpu]\nenabled = "yes"\n', "gpu.enabled: Input should be a valid boolean (write true"),
        ("[gpu]\nadjust_presets = 0\n", "gpu.adjust_presets"),
        ("[gpu]\nsample_hz = 0\n", "gpu.sample_hz: Input should be greater than or equal to 0.1"),
        ("[gpu]\nsample_hz = 1e-7\n", "gpu.sample_hz"),
        ("[gpu]\nsample_hz = nan\n", "gpu.sample_hz: Input should be a finite number"),
        ("[gpu]\nsample_hz = 50\n", "gpu.sample_hz: Input should be less than or equal to 20"),
        ('[gpu]\nsample_hz = "4"\n', "gpu.sample_hz: Input should be a valid number (write a"),
        ("[gpu]\nsample_hz = true\n", "gpu.sample_hz"),
        ("[gpu]\npin = 1\n", "gpu.pin: Input should be a valid string (write text in quotes"),
        (f'[gpu]\npin = "{"x" * 65}"\n', "gpu.pin: String should have at most 64 characters"),
    ],
)
def test_a_bad_file_gives_defaults_and_one_line_and_is_left_alone(
    tmp_path: Path, text: str, named: str
) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(text)
    loaded = load_settings(path)
    assert loaded.settings == Settings()
    assert loaded.problem is not None and named in loaded.problem
    assert str(path) in loaded.problem and "\n" not in loaded.problem
    assert path.read_text() == text


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_bytes(b"\xff\xfe[metrics]")
    assert "cannot be read" in (load_settings(path).problem or "")


def test_the_path_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEARSHIFT_SETTINGS", str(tmp_path / "mine.toml"))
    assert settings_path() == tmp_path / "mine.toml"
    monkeypatch.delenv("GEARSHIFT_SETTINGS")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert settings_path() == tmp_path / "config" / "gearshift" / "settings.toml"


def test_gpu_settings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[gpu]\npin = "01:00.0"\nsample_hz = 2\nadjust_presets = false\n')
    gpu = load_settings(path).settings.gpu
    assert (gpu.enabled, gpu.pin, gpu.sample_hz, gpu.adjust_presets) == (
        True,
        "01:00.0",
        2.0,
        False,
    )
