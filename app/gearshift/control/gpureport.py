"""``gearshift gpu``: the GPUs, their live readings, what each supports and its presets.

It reads the card directly (through NVML, or the fake that $GEARSHIFT_FAKE_GPU names),
so it works whether or not the app runs. Every reading the card does not give is N/A.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from gearshift.config import load_settings
from gearshift.control.exitcodes import ExitCode
from gearshift.core.modes import PerformanceMode
from gearshift.gpu.fake import backend_from_env
from gearshift.gpu.model import READINGS, GpuInfo, GpuReadings, GpuSnapshot, GpuState, Telemetry
from gearshift.gpu.presets import PresetAdvisor
from gearshift.gpu.probe import ProbeResult
from gearshift.gpu.telemetry import GpuTelemetry

NA = "N/A"


def run_gpu(args: argparse.Namespace) -> int:
    """Print the GPU report; exit NO_GPU when there is no GPU telemetry here."""
    try:
        backend = backend_from_env(os.environ)
    except ValueError as error:
        print(f"gearshift: {error}", file=sys.stderr)
        return ExitCode.USAGE
    if args.log_level is None:  # the report says what the log would say twice
        logging.getLogger("gearshift.gpu").setLevel(logging.ERROR)
    pin, pinned_why = args.pin, "pinned with --pin"
    if pin is None:
        loaded = load_settings()
        if loaded.problem is not None:
            print(f"gearshift: {loaded.problem}", file=sys.stderr)
        pin, pinned_why = loaded.settings.gpu.pin or None, "pinned in the settings"
    sampler = GpuTelemetry(backend, pin=pin, pinned_why=pinned_why)
    try:
        telemetry = sampler.open()
        report = _report(sampler, telemetry)
    finally:
        sampler.close()

    if args.pin is not None and telemetry.available and telemetry.followed_why != pinned_why:
        print(
            f"gearshift: --pin {args.pin!r} names no GPU here: give an index "
            f"(0 to {len(telemetry.gpus) - 1}), a UUID (8 characters or more) or a PCI bus id",
            file=sys.stderr,
        )
        return ExitCode.USAGE

    if args.json:
        print(json.dumps(report, indent=2))
    elif not telemetry.available:
        print(f"gearshift: {telemetry.reason}", file=sys.stderr)
    else:
        _print_text(report)
    return ExitCode.OK if telemetry.available else ExitCode.NO_GPU


def _report(sampler: GpuTelemetry, telemetry: Telemetry) -> dict[str, Any]:
    if not telemetry.available:
        return {"available": False, "reason": telemetry.reason}
    driver = telemetry.driver
    return {
        "available": True,
        "driver": None if driver is None else vars(driver).copy(),
        "followed": telemetry.followed,
        "followed_why": telemetry.followed_why,
        "gpus": [
            _gpu_report(gpu, sampler.probes.get(gpu.info.index), sampler) for gpu in telemetry.gpus
        ],
    }


def _gpu_report(
    gpu: GpuSnapshot, probe: ProbeResult | None, sampler: GpuTelemetry
) -> dict[str, Any]:
    info = gpu.info
    report: dict[str, Any] = {
        **_info_report(info),
        "state": gpu.state.value,
        "problem": gpu.problem,
        "retry_in_s": None if gpu.retry_in_s is None else round(gpu.retry_in_s, 1),
        "readings": _readings_report(gpu.readings),
        "processes": None,
        "probe": None,
        "presets": None,
    }
    if gpu.state is GpuState.OK:
        report["processes"] = [
            {"pid": p.pid, "kind": p.kind, "used_memory_mib": p.used_memory_mib}
            for p in sampler.processes.get(info.index, ())
        ]
    if probe is not None:
        report["probe"] = {
            "controls": [vars(c).copy() for c in probe.controls],
            "readings": [vars(c).copy() for c in probe.readings],
        }
        report["presets"] = _presets_report(info)
    return report


def _info_report(info: GpuInfo) -> dict[str, Any]:
    return {
        "index": info.index,
        "name": info.name or None,
        "uuid": info.uuid,
        "pci_bus_id": info.pci_bus_id,
        "brand": info.brand,
        "architecture": info.architecture,
        "laptop": info.is_laptop if info.identified else None,
        "memory_total_mib": info.memory_total_mib,
        "power_w": {
            "default": info.power_default_w,
            "limit": info.power_limit_w,
            "min": info.power_min_w,
            "max": info.power_max_w,
        },
        "max_clocks_mhz": {
            "graphics": info.max_graphics_clock_mhz,
            "sm": info.max_sm_clock_mhz,
            "memory": info.max_memory_clock_mhz,
        },
        "display_active": info.display_active,
        "driver_model": info.driver_model,
        "mig": {
            "enabled": info.mig_enabled,
            "known": info.identified,
            "instances": [vars(m).copy() for m in info.mig_instances],
        },
    }


def _readings_report(readings: GpuReadings | None) -> dict[str, Any] | None:
    if readings is None:
        return None
    return {
        **readings.numbers(),
        "performance_state": readings.performance_state,
        "throttle_reasons": (
            None if readings.throttle_reasons is None else list(readings.throttle_reasons)
        ),
        "mig_instances": [vars(m).copy() for m in readings.mig_instances],
    }


def _presets_report(info: GpuInfo) -> dict[str, Any]:
    advisor = PresetAdvisor(clock=lambda: 0.0)
    tier = advisor.use_gpu(info)
    modes = {
        mode.value: {
            "preset": advisor.preset(mode).value,
            "quality_level": advisor.preset(mode).quality_level,
        }
        for mode in PerformanceMode
    }
    return {
        "card_tier": None if tier is None else tier.preset.value,
        "performance_index": None if tier is None or tier.index is None else round(tier.index),
        **modes,
        "why": advisor.explain(),
    }


# ---------------------------------------------------------------------------- text


def _print_text(report: dict[str, Any]) -> None:
    driver = report["driver"] or {}
    print(
        f"Driver {driver.get('driver_version') or NA} "
        f"(NVML {driver.get('nvml_version') or NA}, CUDA {driver.get('cuda_version') or NA})"
    )
    print(f"Followed: GPU {report['followed']} ({report['followed_why']})")
    for gpu in report["gpus"]:
        print()
        _print_gpu(gpu)


def _print_gpu(gpu: dict[str, Any]) -> None:
    state = "OK" if gpu["state"] == "ok" else f"NOT ANSWERING: {gpu['problem']}"
    name = f"  {gpu['name']}" if gpu["name"] else ""
    print(f"GPU {gpu['index']}{name}  ({state})")
    power = gpu["power_w"]
    clocks = gpu["max_clocks_mhz"]
    rows = [
        ("UUID", gpu["uuid"]),
        ("PCI bus", gpu["pci_bus_id"]),
        ("Architecture", _joined(gpu["architecture"], gpu["brand"], gpu["driver_model"])),
        ("Memory", _num(gpu["memory_total_mib"], "MiB")),
        (
            "Power limit",
            f"{_num(power['limit'], 'W', 1)} in force, default {_num(power['default'], 'W', 1)},"
            f" range {_num(power['min'], 'W', 1)} to {_num(power['max'], 'W', 1)}",
        ),
        (
            "Max clocks",
            f"graphics {_num(clocks['graphics'], 'MHz')}, SM {_num(clocks['sm'], 'MHz')}, "
            f"memory {_num(clocks['memory'], 'MHz')}",
        ),
        ("Display", _yes_no(gpu["display_active"], "drives a display", "drives no display")),
        ("MIG", _mig_line(gpu["mig"])),
    ]
    _print_rows(rows, indent=2)
    for instance in gpu["mig"]["instances"]:
        print(
            f"    instance {instance['index']}: {instance['name'] or NA}, GPU instance "
            f"{instance['gpu_instance_id']}, compute instance {instance['compute_instance_id']}"
            f", memory {_num(instance['memory_used_mib'], 'MiB')} of "
            f"{_num(instance['memory_total_mib'], 'MiB')}"
        )
    if gpu["readings"] is not None:
        _print_readings(gpu["readings"])
    if gpu["probe"] is not None:
        _print_probe(gpu["probe"])
        _print_presets(gpu["presets"])


def _print_readings(readings: dict[str, Any]) -> None:
    print("  Readings")
    pstate = readings["performance_state"]
    reasons = readings["throttle_reasons"]
    rows = [(spec.label, _num(readings[spec.key], spec.unit, spec.digits)) for spec in READINGS]
    rows.append(("Performance state", NA if pstate is None else f"P{pstate}"))
    rows.append(("Throttle reasons", NA if reasons is None else ", ".join(reasons) or "none"))
    _print_rows(rows, indent=4)


def _print_probe(probe: dict[str, Any]) -> None:
    print("  Controls a mode may use")
    for control in probe["controls"]:
        verdict = "yes" if control["supported"] else f"no: {control['reason']}"
        print(f"    {control['label']:<24} {verdict}")
    missing = [r for r in probe["readings"] if not r["supported"]]
    if missing:
        print("  Readings this card does not give (shown as N/A)")
        for reading in missing:
            print(f"    {reading['label']:<24} {reading['reason']}")


def _print_presets(presets: dict[str, Any]) -> None:
    print("  Presets")
    for mode in PerformanceMode:
        chosen = presets[mode.value]
        print(f"    {mode.label:<24} {chosen['preset']} (quality level {chosen['quality_level']})")
    print(f"    {'Why':<24} {presets['why']}")


def _print_rows(rows: Sequence[tuple[str, str | None]], indent: int) -> None:
    for label, value in rows:
        print(f"{' ' * indent}{label:<{24 + 2 - indent}} {value or NA}")


def _num(value: float | None, unit: str, digits: int = 0) -> str:
    return NA if value is None else f"{value:.{digits}f} {unit}"


def _yes_no(value: bool | None, yes: str, no: str) -> str:
    return NA if value is None else (yes if value else no)


def _joined(*parts: str | None) -> str:
    return ", ".join(part for part in parts if part) or NA


def _mig_line(mig: dict[str, Any]) -> str:
    if not mig["known"]:
        return NA
    if mig["enabled"] is None:
        return "not supported"
    if not mig["enabled"]:
        return "off"
    return f"on, {len(mig['instances'])} instances"
