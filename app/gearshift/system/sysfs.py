"""CPU governor, energy-performance preference and the ACPI platform profile, in sysfs.

Each is a ``SysfsSetting``: which files hold it (one per CPU, or one for the machine),
and which file lists the values the kernel accepts. ``SysfsAction`` reads the current
values, writes the mode's value to every device, reads it back, and on revert writes
back exactly what it read. Writes go through a ``SysfsWriter``: straight to the file
when the user may write it, else through the privileged helper (``helper.py``).

Every path resolves under ``SystemPaths.root``, which tests point at a temporary tree.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gearshift.core.actions import JsonValue, Restorer
from gearshift.core.errors import ActionError, ActionUnavailableError, TransientActionError

_log = logging.getLogger(__name__)

CPU_DEVICE = re.compile(r"cpu(0|[1-9][0-9]{0,3})")
"""A CPU as a device name: ``cpu`` and its index, nothing else (no paths)."""

PLATFORM_DEVICE = "acpi"
"""The one device of the platform profile."""

MAX_VALUE_CHARS = 64
"""No value the kernel lists for these settings is longer."""


@dataclass(frozen=True)
class SystemPaths:
    """Where the machine's files are; tests point ``root`` at a temporary tree."""

    root: Path = Path("/")

    def under(self, relative: str) -> Path:
        """``relative`` (written from /) inside the root."""
        return self.root / relative.lstrip("/")


ROOT_ENV = "GEARSHIFT_SYSTEM_ROOT"
"""Moves the app's (never the helper's) view of / elsewhere: tests that start the app
as a process point it at an empty folder, so no switch touches the real machine."""


def system_paths(env: Mapping[str, str]) -> SystemPaths:
    """The app's SystemPaths: / unless $GEARSHIFT_SYSTEM_ROOT names another root."""
    return SystemPaths(Path(env.get(ROOT_ENV) or "/"))


@dataclass(frozen=True)
class SysfsSetting:
    """A kernel setting Gearshift may change.

    Attributes:
        name: its name in a helper request, e.g. "governor".
        kind: the action kind a profile lists it by, e.g. "cpu_governor".
        label: its name in the player's terms.
        per_cpu: one file per CPU (device ``cpuN``), or one for the machine ("acpi").
        file: the setting's file, relative to the CPU's folder or to /.
        choices_file: the file listing the values the kernel accepts.
    """

    name: str
    kind: str
    label: str
    per_cpu: bool
    file: str
    choices_file: str


CPU_FOLDER = "sys/devices/system/cpu"
GOVERNOR = SysfsSetting(
    "governor",
    "cpu_governor",
    "CPU governor",
    True,
    "cpufreq/scaling_governor",
    "cpufreq/scaling_available_governors",
)
EPP = SysfsSetting(
    "epp",
    "cpu_epp",
    "energy-performance preference",
    True,
    "cpufreq/energy_performance_preference",
    "cpufreq/energy_performance_available_preferences",
)
PLATFORM_PROFILE = SysfsSetting(
    "platform_profile",
    "platform_profile",
    "platform profile",
    False,
    "sys/firmware/acpi/platform_profile",
    "sys/firmware/acpi/platform_profile_choices",
)
SETTINGS: Mapping[str, SysfsSetting] = {s.name: s for s in (GOVERNOR, EPP, PLATFORM_PROFILE)}
"""The settings the helper accepts, by request name; nothing else can be written."""

BY_KIND: Mapping[str, SysfsSetting] = {s.kind: s for s in SETTINGS.values()}


def valid_device(setting: SysfsSetting, device: str) -> bool:
    """True when ``device`` is a plain device name for ``setting`` (never a path)."""
    if setting.per_cpu:
        return CPU_DEVICE.fullmatch(device) is not None
    return device == PLATFORM_DEVICE


def setting_file(paths: SystemPaths, setting: SysfsSetting, device: str) -> Path:
    """The file holding ``setting`` for ``device``; ValueError for a bad device."""
    if not valid_device(setting, device):
        raise ValueError(f"{device!r} is not a device of the {setting.label}")
    if setting.per_cpu:
        return paths.under(f"{CPU_FOLDER}/{device}/{setting.file}")
    return paths.under(setting.file)


def choices_file(paths: SystemPaths, setting: SysfsSetting, device: str) -> Path:
    """The file listing the values ``setting`` accepts on ``device``."""
    if not valid_device(setting, device):
        raise ValueError(f"{device!r} is not a device of the {setting.label}")
    if setting.per_cpu:
        return paths.under(f"{CPU_FOLDER}/{device}/{setting.choices_file}")
    return paths.under(setting.choices_file)


def devices(paths: SystemPaths, setting: SysfsSetting) -> list[str]:
    """The devices that have ``setting`` here, CPUs in index order."""
    if not setting.per_cpu:
        return [PLATFORM_DEVICE] if setting_file(paths, setting, PLATFORM_DEVICE).exists() else []
    try:
        names = [entry.name for entry in os.scandir(paths.under(CPU_FOLDER))]
    except OSError:
        return []
    cpus = [n for n in names if CPU_DEVICE.fullmatch(n)]
    cpus.sort(key=lambda n: int(n[3:]))
    return [cpu for cpu in cpus if setting_file(paths, setting, cpu).exists()]


def read_value(path: Path) -> str:
    """A sysfs value, without the newline the kernel ends it with."""
    with path.open("r", encoding="ascii", errors="replace") as file:
        return file.read(MAX_VALUE_CHARS + 1).strip()


def read_choices(paths: SystemPaths, setting: SysfsSetting, device: str) -> list[str]:
    """The values the kernel accepts for ``setting`` on ``device``; [] when unlisted."""
    try:
        return choices_file(paths, setting, device).read_text("ascii", "replace").split()
    except OSError:
        return []


def write_value(path: Path, value: str) -> None:
    """Write one value as ``echo`` would: one write, the whole value and a newline (the
    kernel ignores the newline, and a plain file then reads back as sysfs does).

    Raises:
        TransientActionError: the kernel said busy or try again.
        ActionError: anything else (no permission, a value it refuses).
    """
    try:
        with path.open("w", encoding="ascii") as file:
            file.write(value + "\n")
    except OSError as error:
        reason = f"cannot write {value!r} to {path}: {error.strerror or error}"
        if error.errno in (errno.EBUSY, errno.EAGAIN):
            raise TransientActionError(reason) from error
        raise ActionError(reason) from error


class SysfsWriter(Protocol):
    """Writes values of one setting, a value per device."""

    async def write(self, setting: SysfsSetting, values: Mapping[str, str]) -> None:
        """Write every value, or raise ActionError saying which did not take."""


class DirectWriter:
    """Writes the files itself: for files the user may write, and for test trees."""

    def __init__(self, paths: SystemPaths) -> None:
        self.paths = paths

    async def write(self, setting: SysfsSetting, values: Mapping[str, str]) -> None:
        """Write each value to its device's file."""
        for device, value in values.items():
            write_value(setting_file(self.paths, setting, device), value)


HELPER_COMMAND: tuple[str, ...] = ("pkexec", "gearshift-helper")
"""How the privileged helper is started."""

HELPER_TIMEOUT_S = 60.0
"""How long the helper may take, the password prompt included, in seconds."""

PKEXEC_DISMISSED = 126
PKEXEC_NOT_AUTHORIZED = 127


class HelperWriter:
    """Writes through ``gearshift-helper`` under pkexec: one request, one prompt.

    Args:
        command: the helper's command line; tests run the helper module directly.
        timeout_s: how long the helper and its prompt may take.
    """

    def __init__(
        self, command: Sequence[str] = HELPER_COMMAND, timeout_s: float = HELPER_TIMEOUT_S
    ) -> None:
        self.command = tuple(command)
        self.timeout_s = timeout_s

    async def write(self, setting: SysfsSetting, values: Mapping[str, str]) -> None:
        """Send one request for all the values; raise ActionError with the reason."""
        request = json.dumps({"setting": setting.name, "values": dict(values)}).encode()
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as error:
            raise ActionError(
                f"cannot change the {setting.label}: {self.command[0]} is not installed "
                "(install polkit, or give your user write access to the file)"
            ) from error
        try:
            out, err = await asyncio.wait_for(process.communicate(request), self.timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ActionError(f"the helper did not answer within {self.timeout_s:g} s") from None
        _check_answer(setting, process.returncode, out, err)


def _check_answer(setting: SysfsSetting, status: int | None, out: bytes, err: bytes) -> None:
    if status == PKEXEC_DISMISSED:
        raise ActionError(
            f"cannot change the {setting.label}: the administrator password prompt was dismissed"
        )
    if status == PKEXEC_NOT_AUTHORIZED:
        raise ActionError(
            f"cannot change the {setting.label}: pkexec did not authorize the helper "
            "(is the polkit policy installed? see packaging/install-desktop.sh)"
        )
    try:
        answer = json.loads(out)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no answer"]
        raise ActionError(f"the helper failed (status {status}): {detail[0]}")
    if answer.get("ok") is not True:
        raise ActionError(f"the helper refused: {answer.get('error', 'no reason given')}")


class AutoWriter:
    """Writes directly where the user may, through the helper otherwise."""

    def __init__(self, paths: SystemPaths, helper: SysfsWriter | None = None) -> None:
        self.direct = DirectWriter(paths)
        self.helper = helper or HelperWriter()
        self.paths = paths

    async def write(self, setting: SysfsSetting, values: Mapping[str, str]) -> None:
        """One writer for all the values: the helper as soon as one file needs it."""
        writable = all(
            os.access(setting_file(self.paths, setting, device), os.W_OK) for device in values
        )
        await (self.direct if writable else self.helper).write(setting, values)


class SysfsAction:
    """Sets one sysfs setting on every device that has it; puts back what it read.

    Args:
        setting: which setting.
        value: the value the mode wants.
        paths: where the files are.
        writer: how the files are written.
        timeout_s: how long apply or revert may take (a password prompt included).
    """

    def __init__(
        self,
        setting: SysfsSetting,
        value: str,
        paths: SystemPaths,
        writer: SysfsWriter,
        timeout_s: float = HELPER_TIMEOUT_S,
    ) -> None:
        self.kind = setting.kind
        self.name = f"{setting.label} {value}"
        self.timeout_s = timeout_s
        self._setting = setting
        self._value = value
        self._paths = paths
        self._writer = writer
        self._previous: dict[str, str] | None = None
        self._files: dict[str, Path] = {}

    def record(self) -> Mapping[str, JsonValue]:
        """Read every device's value now: what revert() will put back."""
        self._files = {
            device: setting_file(self._paths, self._setting, device)
            for device in devices(self._paths, self._setting)
        }
        self._previous = {device: read_value(file) for device, file in self._files.items()}
        return {"setting": self._setting.name, "values": dict(self._previous)}

    async def apply(self) -> None:
        """Write the mode's value to the devices that lack it and check that it took.

        The values record() just read tell which devices differ; a retry after a
        failure part-way writes the ones already done again, which is harmless.
        """
        if self._previous is None:
            self.record()
        assert self._previous is not None
        differing = {d: self._value for d, old in self._previous.items() if old != self._value}
        if differing:
            await self._writer.write(self._setting, differing)
        self._verify(dict.fromkeys(self._previous, self._value))

    async def revert(self) -> None:
        """Write back what record() read, and check it."""
        if self._previous is None:
            return
        await write_differing(self._writer, self._paths, self._setting, self._previous)
        self._verify(self._previous)
        self._previous = None

    def _verify(self, wanted: Mapping[str, str]) -> None:
        for device, value in wanted.items():
            actual = read_value(self._files[device])
            if actual != value:
                raise ActionError(
                    f"the {self._setting.label} of {device} is {actual!r} after writing "
                    f"{value!r}: another program may be setting it"
                )


async def write_differing(
    writer: SysfsWriter, paths: SystemPaths, setting: SysfsSetting, wanted: Mapping[str, str]
) -> None:
    """Write only the devices whose value differs: nothing to do means no write (and no
    password prompt), e.g. undoing an apply the helper never carried out."""
    differing = {}
    for device, value in wanted.items():
        try:
            current = read_value(setting_file(paths, setting, device))
        except OSError:
            current = None
        if current != value:
            differing[device] = value
    if differing:
        await writer.write(setting, differing)


def check_available(paths: SystemPaths, setting: SysfsSetting, value: str) -> None:
    """Raise ActionUnavailableError unless every device has ``setting`` and offers
    ``value``."""
    found = devices(paths, setting)
    if not found:
        raise ActionUnavailableError(f"this machine has no {setting.label} to set")
    for device in found:
        offered = read_choices(paths, setting, device)
        if value not in offered:
            shown = ", ".join(offered) or "none listed"
            raise ActionUnavailableError(
                f"the {setting.label} '{value}' is not offered on {device} (offered: {shown})"
            )


def restorer_for(writer: SysfsWriter, paths: SystemPaths) -> Restorer:
    """The journal restorer for every sysfs setting: writes back the recorded values."""

    async def restore(record: Mapping[str, JsonValue]) -> None:
        name = record.get("setting")
        values = record.get("values")
        setting = SETTINGS.get(name) if isinstance(name, str) else None
        if setting is None or not isinstance(values, dict):
            raise ActionError(f"the journal record {dict(record)!r} is not a sysfs setting")
        if not all(isinstance(v, str) for v in values.values()):
            raise ActionError(
                f"the journal record {dict(record)!r} holds a value that is not text"
            )
        wanted = {str(k): str(v) for k, v in values.items()}
        if not all(valid_device(setting, device) for device in wanted):
            raise ActionError(f"the journal record {dict(record)!r} names an unknown device")
        await write_differing(writer, paths, setting, wanted)

    return restore
