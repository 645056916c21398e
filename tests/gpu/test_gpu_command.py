"""``gearshift gpu`` as a player or a script runs it: a process, its output, its status."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gearshift.control.exitcodes import ExitCode
from gearshift.gpu.fake import MODELS

WORKING = [name for name, machine in MODELS.items() if machine.init_error is None]
BROKEN = [name for name, machine in MODELS.items() if machine.init_error is not None]


def gearshift_gpu(*args: str, fake: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GEARSHIFT_FAKE_GPU"}
    if fake is not None:
        env["GEARSHIFT_FAKE_GPU"] = fake
    return subprocess.run(
        [sys.executable, "-m", "gearshift", "gpu", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize("model", WORKING)
def test_every_fake_model_gives_a_full_report(model: str) -> None:
    run = gearshift_gpu("--json", fake=model)
    assert run.returncode == ExitCode.OK, run.stderr
    assert run.stderr == ""
    report = json.loads(run.stdout)
    assert report["available"] is True
    assert report["followed"] == 0 and report["followed_why"]
    first = report["gpus"][0]
    assert first["state"] == "ok" and first["name"].startswith("NVIDIA ")
    assert {c["key"] for c in first["probe"]["controls"]} >= {"power_limit", "persistence_mode"}
    no = [c for c in first["probe"]["controls"] + first["probe"]["readings"] if not c["supported"]]
    assert all(c["reason"] for c in no)
    presets = first["presets"]
    assert presets["immersive"]["preset"] in ("low", "medium", "high", "ultra")
    assert presets["why"].startswith(first["name"].removeprefix("NVIDIA "))


def test_a_reading_the_card_lacks_is_null_in_json_and_n_a_in_text() -> None:
    report = json.loads(gearshift_gpu("--json", fake="rtx4070-laptop").stdout)
    readings = report["gpus"][0]["readings"]
    assert readings["fan_pct"] is None and readings["temperature_c"] == 42
    text = gearshift_gpu(fake="rtx4070-laptop").stdout
    assert "Fan                    N/A" in text
    assert "laptop GPUs leave the fans to the laptop's own controller" in text
    assert "Power limit              no: not supported on this laptop GPU" in text


def test_a_lost_gpu_is_reported_beside_the_one_that_answers() -> None:
    run = gearshift_gpu("--json", fake="dual-lost")
    assert run.returncode == ExitCode.OK and run.stderr == ""
    first, second = json.loads(run.stdout)["gpus"]
    assert first["state"] == "ok"
    assert second["state"] == "lost" and "fell off the bus" in second["problem"]
    assert second["readings"] is None and second["retry_in_s"] == 1.0
    text = gearshift_gpu(fake="dual-lost").stdout
    assert "GPU 1  (NOT ANSWERING: it fell off the bus" in text


def test_a_mig_card_lists_its_instances() -> None:
    text = gearshift_gpu(fake="a100-mig").stdout
    assert "MIG                      on, 3 instances" in text
    assert "instance 0: NVIDIA A100 80GB PCIe MIG 3g.40gb" in text


def test_a_pin_chooses_the_gpu_followed() -> None:
    report = json.loads(gearshift_gpu("--json", "--pin", "0", fake="dual-lost").stdout)
    assert report["followed_why"] == "pinned with --pin"


@pytest.mark.parametrize("model", BROKEN)
def test_no_telemetry_is_one_line_and_its_own_exit_status(model: str) -> None:
    run = gearshift_gpu(fake=model)
    assert run.returncode == ExitCode.NO_GPU
    assert run.stdout == ""
    assert run.stderr.startswith("gearshift: no GPU telemetry: ")
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    as_json = gearshift_gpu("--json", fake=model)
    assert as_json.returncode == ExitCode.NO_GPU
    assert json.loads(as_json.stdout) == {
        "available": False,
        "reason": run.stderr.removeprefix("gearshift: ").strip(),
    }


def test_this_machine_answers_with_a_report_or_says_why_not() -> None:
    run = gearshift_gpu("--json")
    report = json.loads(run.stdout)
    if report["available"]:
        assert run.returncode == ExitCode.OK and report["gpus"]
    else:
        assert run.returncode == ExitCode.NO_GPU
        assert report["reason"].startswith("no GPU telemetry: ")


def test_an_unknown_fake_model_is_a_usage_error_naming_the_models() -> None:
    run = gearshift_gpu(fake="rtx9999")
    assert run.returncode == ExitCode.USAGE
    assert "GEARSHIFT_FAKE_GPU='rtx9999' names no fake GPU: use one of rtx5080" in run.stderr
    assert run.stderr.count("\n") == 1


@pytest.mark.parametrize("pin", ["2", "foo", "0:00.0"])
def test_a_pin_naming_no_gpu_is_a_usage_error(pin: str) -> None:
    run = gearshift_gpu("--pin", pin, fake="dual-lost")
    assert run.returncode == ExitCode.USAGE and run.stdout == ""
    assert run.stderr.startswith(f"gearshift: --pin {pin!r} names no GPU here: give an index")
    assert run.stderr.count("\n") == 1


@pytest.mark.parametrize("pin", ["", "a\nb", "x" * 100])
def test_a_pin_that_is_no_gpu_name_at_all_is_refused_by_the_command_line(pin: str) -> None:
    run = gearshift_gpu("--pin", pin, fake="dual-lost")
    assert run.returncode == ExitCode.USAGE
    assert "is not a GPU: give its index, UUID or PCI bus id" in run.stderr
    assert run.stderr.count("\n") == 1 and len(run.stderr) < 300


def test_the_settings_pin_is_followed(tmp_path) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text('[gpu]\npin = "1"\n')
    env = {**os.environ, "GEARSHIFT_FAKE_GPU": "dual-lost", "GEARSHIFT_SETTINGS": str(settings)}
    run = subprocess.run(
        [sys.executable, "-m", "gearshift", "gpu", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    report = json.loads(run.stdout)
    assert (report["followed"], report["followed_why"]) == (1, "pinned in the settings")


def test_closed_standard_output_is_one_line_not_a_traceback() -> None:
    run = subprocess.run(
        f"{sys.executable} -m gearshift gpu >&-",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GEARSHIFT_FAKE_GPU": "rtx5080"},
    )
    assert run.returncode == ExitCode.FAILED
    assert run.stderr == "gearshift: standard output is closed: nothing can be printed\n"
