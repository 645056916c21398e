"""``gearshift ctl``: drive the running app from a shell, a script or a shortcut."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from gearshift.control.client import ApiClient, ConnectionLostError, NotRunningError
from gearshift.control.exitcodes import ExitCode
from gearshift.control.protocol import (
    ErrorCode,
    Event,
    FrameStats,
    GpuStatus,
    HealthResult,
    Response,
    StatusResult,
    SwitchResultBody,
)
from gearshift.control.server import default_socket_path
from gearshift.gpu.model import READINGS

EXIT_BY_ERROR = {
    ErrorCode.COOLDOWN: ExitCode.COOLDOWN,
    ErrorCode.BUSY: ExitCode.BUSY,
    ErrorCode.NOT_READY: ExitCode.BUSY,
    ErrorCode.ROLLED_BACK: ExitCode.ROLLED_BACK,
    ErrorCode.RATE_LIMITED: ExitCode.RATE_LIMITED,
    ErrorCode.BAD_JSON: ExitCode.BAD_REQUEST,
    ErrorCode.BAD_REQUEST: ExitCode.BAD_REQUEST,
    ErrorCode.UNSUPPORTED_VERSION: ExitCode.BAD_REQUEST,
    ErrorCode.UNKNOWN_OP: ExitCode.BAD_REQUEST,
    ErrorCode.TOO_LARGE: ExitCode.BAD_REQUEST,
    ErrorCode.INCOMPLETE: ExitCode.BAD_REQUEST,
}
"""The exit status for each error the app can answer with; others exit FAILED."""

NA = "N/A"
SUBSYSTEM_LABELS = {"gpu": "GPU", "control_api": "Control API", "system_actions": "System actions"}
ResultT = TypeVar("ResultT", bound=BaseModel)


def run_ctl(args: argparse.Namespace) -> int:
    """Run one ``gearshift ctl`` command; returns the exit status."""
    path = Path(args.socket) if args.socket else default_socket_path()
    commands: dict[str, Callable[[ApiClient, argparse.Namespace], int]] = {
        "status": _status,
        "switch": _switch,
        "health": _health,
        "watch": _watch,
        "version": _version,
    }
    timeout_s = None if args.ctl_command == "watch" else 30.0
    try:
        with ApiClient(path, timeout_s) as client:
            return commands[args.ctl_command](client, args)
    except NotRunningError as error:
        return _fail(str(error), ExitCode.NOT_RUNNING)
    except ConnectionLostError as error:
        return _fail(str(error), ExitCode.NOT_RUNNING)
    except TimeoutError:
        return _fail(f"Gearshift did not answer on {path} within 30 s", ExitCode.FAILED)
    except PermissionError:
        return _fail(f"not allowed to open {path}: it belongs to another user", ExitCode.FAILED)
    except OSError as error:
        return _fail(
            f"cannot reach Gearshift on {path}: {error.strerror or error}", ExitCode.FAILED
        )


def _status(client: ApiClient, args: argparse.Namespace) -> int:
    response = client.request("status")
    status = _result(response, StatusResult)
    if status is None:
        return _refused(response)
    if args.json:
        _print_json(status)
        return ExitCode.OK
    switching = f" (switching to {status.switching_to})" if status.switching_to else ""
    cooldown = (
        f"{status.cooldown_left_s:.1f} s left of {status.cooldown_s:g} s"
        if status.cooldown_left_s > 0
        else f"ready ({status.cooldown_s:g} s between switches)"
    )
    fps_max = f"-{status.fps_max:g}" if status.fps_max is not None else "+"
    rows = [
        ("Mode", f"{status.mode.capitalize()}{switching}, since {_clock(status.since)}"),
        ("Target", f"{status.fps_min:g}{fps_max} FPS, budget {status.budget_ms:.2f} ms"),
        ("Preset", status.preset + (f" ({status.preset_why})" if status.preset_why else "")),
        ("Applied", ", ".join(status.applied) or "nothing"),
        ("Cooldown", cooldown),
        ("Frames", _frames_line(status.frames)),
        ("GPU", _gpu_line(status.gpu)),
    ]
    _print_rows(rows)
    return ExitCode.OK


def _switch(client: ApiClient, args: argparse.Namespace) -> int:
    response = client.request("switch", mode=args.mode, force=args.force)
    result = _result(response, SwitchResultBody)
    if result is None:
        return _refused(response)
    if args.json:
        _print_json(result)
    elif result.outcome == "switched":
        print(f"Switched to {result.mode.capitalize()} in {result.duration_ms or 0:.1f} ms")
    else:
        print(f"{result.mode.capitalize()} is already active")
    return ExitCode.OK


def _health(client: ApiClient, args: argparse.Namespace) -> int:
    response = client.request("health")
    health = _result(response, HealthResult)
    if health is None:
        return _refused(response)
    if args.json:
        _print_json(health)
        return ExitCode.OK
    rows: list[tuple[str, str]] = [("Overall", health.state)]
    for name, subsystem in health.subsystems.items():
        reason = f": {subsystem.reason}" if subsystem.reason else ""
        label = SUBSYSTEM_LABELS.get(name, name.replace("_", " ").capitalize())
        rows.append((label, f"{subsystem.state}{reason}"))
    _print_rows(rows)
    return ExitCode.OK


def _version(client: ApiClient, args: argparse.Namespace) -> int:
    response = client.request("version")
    if not response.ok or response.result is None:
        return _refused(response)
    if args.json:
        print(json.dumps(response.result))
    else:
        print(f"gearshift {response.result['app']} (protocol {response.result['protocol']})")
    return ExitCode.OK


def _watch(client: ApiClient, args: argparse.Namespace) -> int:
    response = client.request("subscribe", events=args.events, rate_hz=args.rate)
    if not response.ok:
        return _refused(response)
    try:
        for event in client.events():
            print(event.model_dump_json() if args.json else _event_line(event), flush=True)
    except KeyboardInterrupt:
        return ExitCode.OK
    except ConnectionLostError as error:
        return _fail(f"stopped watching: {error}", ExitCode.NOT_RUNNING)
    return ExitCode.OK


def _event_line(event: Event) -> str:
    at = event.at.astimezone().strftime("%H:%M:%S")
    data = event.data
    if event.event == "mode_changed":
        forced = " (forced)" if data["forced"] else ""
        return (
            f"{at} mode {data['previous']} -> {data['current']}{forced} in "
            f"{data['duration_ms']:.1f} ms"
        )
    if event.event == "switch_failed":
        return f"{at} switch to {data['target']} rolled back: {data['message']}"
    return f"{at} frames {_frames_line(FrameStats.model_validate(data))}"


def _frames_line(frames: FrameStats) -> str:
    if frames.frames == 0:
        return f"{NA} (no frames lately from {frames.source})"
    return (
        f"{_reading(frames.avg_fps, '.0f')} FPS avg, 1% low "
        f"{_reading(frames.low1_fps, '.0f')} FPS, p99 {_reading(frames.p99_ms, '.2f')} ms, "
        f"{_reading(frames.over_budget_pct, '.1f')}% over {frames.budget_ms:.2f} ms "
        f"({frames.frames} frames, {frames.source})"
    )


def _gpu_line(gpu: GpuStatus) -> str:
    if not gpu.available:
        return f"{NA}: {gpu.reason}"
    if gpu.index is None:
        return f"{NA}: no NVIDIA GPU answers"
    named = f"GPU {gpu.index} {gpu.name}" if gpu.name else f"GPU {gpu.index}"
    others = [index for index in gpu.lost if index != gpu.index]
    also = f"; GPU {', '.join(map(str, others))} not answering" if others else ""
    if gpu.state == "lost":
        return f"{named} ({gpu.followed_why}): not answering ({gpu.problem}){also}"
    shown = ("utilization_gpu_pct", "temperature_c", "power_w", "clock_graphics_mhz", "fan_pct")
    readings = ", ".join(
        f"{spec.label.lower()} {_reading(gpu.readings.get(spec.key), '.0f')}"
        + (f" {spec.unit}" if gpu.readings.get(spec.key) is not None else "")
        for spec in READINGS
        if spec.key in shown
    )
    return f"{named} ({gpu.followed_why}): {readings}{also}"


def _reading(value: float | None, spec: str) -> str:
    return NA if value is None else format(value, spec)


def _clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _result(response: Response, model: type[ResultT]) -> ResultT | None:
    if not response.ok or response.result is None:
        return None
    try:
        return model.model_validate(response.result)
    except ValidationError as error:
        raise ConnectionLostError(f"Gearshift answered an unexpected result: {error}") from None


def _refused(response: Response) -> int:
    if response.error is None:
        return _fail("Gearshift answered with neither a result nor an error", ExitCode.FAILED)
    return _fail(response.error.message, EXIT_BY_ERROR.get(response.error.code, ExitCode.FAILED))


def _fail(message: str, status: int) -> int:
    print(f"gearshift: {message}", file=sys.stderr)
    return status


def _print_json(model: BaseModel) -> None:
    print(model.model_dump_json(indent=2))


def _print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
