"""``gearshift-helper``: the one part of Gearshift that runs as root, kept small.

Gearshift never runs as root. When a mode must write a kernel setting the user may not
write, it starts this helper through pkexec (the polkit policy is
``packaging/io.github.gearshift.helper.policy``) and sends it ONE request on standard
input, JSON, at most ``MAX_REQUEST_BYTES``::

    {"setting": "governor", "values": {"cpu0": "performance", "cpu1": "performance"}}

The request is checked against an allow-list before anything is touched, and refused
whole if any part fails it:

- ``setting``: one of ``governor``, ``epp``, ``platform_profile`` (sysfs.SETTINGS);
- each device: ``cpuN`` (N a plain decimal index) for the CPU settings, ``acpi`` for the
  platform profile; never a path, so ``../``, ``/`` and ``cpu0/..`` cannot get through,
  and the device's file must already exist (nothing is created);
- each value: one the kernel itself lists as available for that device;
- no other key, no shell, no path from the caller.

It answers one JSON object on standard output (``{"ok": true, "written": {...}}`` or
``{"ok": false, "error": "..."}``) and exits 0 (done), 2 (refused) or 3 (the kernel
refused a write; what was written before it is listed).

The root of the tree it writes under is ``/``. For tests, $GEARSHIFT_HELPER_ROOT moves
it, but ONLY when the helper does not run as root and was not started by pkexec: a
user who can set the variable can then only write files that user could write anyway,
so the override gives nobody a privilege. pkexec also clears the environment.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from gearshift.core.errors import ActionError
from gearshift.system.sysfs import (
    SETTINGS,
    SysfsSetting,
    SystemPaths,
    read_choices,
    read_value,
    setting_file,
    valid_device,
    write_value,
)

MAX_REQUEST_BYTES = 16 * 1024
"""Enough for a value per CPU on a 256-thread machine; anything larger is refused."""

MAX_DEVICES = 4096
ROOT_ENV = "GEARSHIFT_HELPER_ROOT"

DONE = 0
REFUSED = 2
WRITE_FAILED = 3


class RequestRefusedError(Exception):
    """The request is outside the allow-list; the message says which part."""


def helper_root(env: Mapping[str, str], euid: int) -> Path:
    """The root to write under: $GEARSHIFT_HELPER_ROOT only for a non-root, non-pkexec
    helper (see the module docstring), ``/`` otherwise."""
    override = env.get(ROOT_ENV)
    if override and euid != 0 and "PKEXEC_UID" not in env:
        return Path(override)
    return Path("/")


def validate(data: bytes, paths: SystemPaths) -> tuple[SysfsSetting, dict[str, str]]:
    """The setting and values of a request within the allow-list; RequestRefusedError otherwise."""
    if len(data) > MAX_REQUEST_BYTES:
        raise RequestRefusedError(f"the request is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        request: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise RequestRefusedError(f"the request is not JSON: {error}") from None
    if not isinstance(request, dict) or set(request) != {"setting", "values"}:
        raise RequestRefusedError(
            'the request must be an object with exactly "setting" and "values"'
        )
    setting = SETTINGS.get(request["setting"]) if isinstance(request["setting"], str) else None
    if setting is None:
        raise RequestRefusedError(f"the setting must be one of {', '.join(SETTINGS)}")
    values = request["values"]
    if not isinstance(values, dict) or not 0 < len(values) <= MAX_DEVICES:
        raise RequestRefusedError(f'"values" must map 1 to {MAX_DEVICES} devices to values')
    for device, value in values.items():
        _check_one(paths, setting, device, value)
    return setting, dict(values)


def _check_one(paths: SystemPaths, setting: SysfsSetting, device: object, value: object) -> None:
    if not isinstance(device, str) or not valid_device(setting, device):
        expected = "cpuN" if setting.per_cpu else "acpi"
        raise RequestRefusedError(
            f"{device!r} is not a device of the {setting.label} (give {expected})"
        )
    path = setting_file(paths, setting, device)
    if not path.is_file() or not _inside(path, paths.under("sys")):
        raise RequestRefusedError(f"{device} has no {setting.label} here")
    if not isinstance(value, str) or value not in read_choices(paths, setting, device):
        raise RequestRefusedError(
            f"{value!r} is not a value the kernel offers for the {setting.label}"
        )


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve(strict=True).relative_to(folder.resolve(strict=True))
    except (OSError, ValueError):
        return False
    return True


def handle(data: bytes, paths: SystemPaths) -> tuple[int, dict[str, Any]]:
    """Check and carry out one request; the exit status and the JSON answer."""
    try:
        setting, values = validate(data, paths)
    except RequestRefusedError as error:
        return REFUSED, {"ok": False, "error": str(error)}
    written: dict[str, str] = {}
    for device, value in values.items():
        path = setting_file(paths, setting, device)
        try:
            write_value(path, value)
            actual = read_value(path)
        except (ActionError, OSError) as error:
            return WRITE_FAILED, {"ok": False, "error": str(error), "written": written}
        if actual != value:
            reason = f"{device} reads {actual!r} after writing {value!r}"
            return WRITE_FAILED, {"ok": False, "error": reason, "written": written}
        written[device] = value
    return DONE, {"ok": True, "written": written}


def read_request(stream: BinaryIO) -> bytes:
    """Standard input, at most one byte more than allowed (so oversize is seen)."""
    return stream.read(MAX_REQUEST_BYTES + 1)


def main() -> int:
    """Read one request, answer it, return the exit status."""
    paths = SystemPaths(helper_root(os.environ, os.geteuid()))
    status, answer = handle(read_request(sys.stdin.buffer), paths)
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
