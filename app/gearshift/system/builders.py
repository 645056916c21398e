"""The system actions a profile may list, built for this machine, and their restorers.

``system_action_builders`` gives the mode manager a builder per action kind this
module knows; a builder raises ActionUnavailableError (the switch goes on without the
action, showing why) when the machine lacks the setting, does not offer the value, or
another daemon owns it. ``system_restorers`` gives the journal's restorer per kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from gearshift.core.actions import Action, ActionBuilder, Restorer
from gearshift.core.errors import ActionUnavailableError
from gearshift.core.modes import FPS_LIMIT, PROCESS_PRIORITY, SCRIPTS, ActionSpec, ModeProfile
from gearshift.system import mangohud_limit, procprio
from gearshift.system.mangohud_limit import FpsLimitAction
from gearshift.system.procprio import IO_CLASSES, ProcessPriorityAction
from gearshift.system.scripts import ScriptsAction
from gearshift.system.sysfs import (
    BY_KIND,
    AutoWriter,
    SysfsAction,
    SysfsWriter,
    SystemPaths,
    check_available,
    restorer_for,
)

Owner = Callable[[str], str | None]
"""The daemon that owns an action kind's setting here (e.g. "tuned"), or None."""


def _no_pids() -> Iterable[int]:
    return ()


def _nobody(_kind: str) -> str | None:
    return None


@dataclass(frozen=True)
class SystemContext:
    """What the system actions need to know about this machine and this player.

    Attributes:
        paths: where sysfs is; tests point it at a temporary tree.
        writer: how sysfs files are written; by default directly where the user may,
            else through the privileged helper.
        pids: the game's processes now.
        mangohud_config: MangoHud's config file; by default the one MangoHud reads.
        enter_scripts, leave_scripts, script_timeout_s: the player's commands.
        owner: which daemon owns a kind's setting; its actions are skipped.
    """

    paths: SystemPaths = field(default_factory=SystemPaths)
    writer: SysfsWriter | None = None
    pids: Callable[[], Iterable[int]] = _no_pids
    mangohud_config: Path | None = None
    enter_scripts: Sequence[str] = ()
    leave_scripts: Sequence[str] = ()
    script_timeout_s: float = 10.0
    owner: Owner = _nobody

    def sysfs_writer(self) -> SysfsWriter:
        """The writer for sysfs settings."""
        return self.writer if self.writer is not None else AutoWriter(self.paths)


def system_action_builders(context: SystemContext) -> dict[str, ActionBuilder]:
    """A builder for each action kind this module provides, keyed by kind."""
    writer = context.sysfs_writer()

    def sysfs(spec: ActionSpec, profile: ModeProfile) -> Action:
        setting = BY_KIND[spec.kind]
        owner = context.owner(spec.kind)
        if owner is not None:
            raise ActionUnavailableError(f"{owner} controls the {setting.label}: left to it")
        value = str(spec.params.get("value", ""))
        check_available(context.paths, setting, value)
        return SysfsAction(setting, value, context.paths, writer)

    def priority(spec: ActionSpec, profile: ModeProfile) -> Action:
        params = spec.params
        io_class = params.get("io_class")
        if io_class is not None and io_class not in IO_CLASSES:
            raise ActionUnavailableError(f"unknown I/O class {io_class!r}")
        cpus = params.get("cpus")
        return ProcessPriorityAction(
            context.pids,
            nice=_int_or_none(params.get("nice")),
            io_class=str(io_class) if io_class is not None else None,
            io_level=_int_or_none(params.get("io_level")) or 0,
            cpus=[int(c) for c in cpus] if isinstance(cpus, list | tuple) else None,
        )

    def fps_limit(spec: ActionSpec, profile: ModeProfile) -> Action:
        path = context.mangohud_config or mangohud_limit.default_path(_game_name(context.pids))
        return FpsLimitAction(path, _int_or_none(spec.params.get("fps")) or 0)

    def scripts(spec: ActionSpec, profile: ModeProfile) -> Action:
        if not context.enter_scripts and not context.leave_scripts:
            raise ActionUnavailableError("no enter or leave scripts are set")
        return ScriptsAction(
            context.enter_scripts, context.leave_scripts, context.script_timeout_s
        )

    builders: dict[str, ActionBuilder] = dict.fromkeys(BY_KIND, sysfs)
    builders.update({PROCESS_PRIORITY: priority, FPS_LIMIT: fps_limit, SCRIPTS: scripts})
    return builders


def system_restorers(context: SystemContext) -> dict[str, Restorer]:
    """The journal restorer for each kind this module records, keyed by kind."""
    sysfs = restorer_for(context.sysfs_writer(), context.paths)
    restorers: dict[str, Restorer] = dict.fromkeys(BY_KIND, sysfs)
    restorers.update({PROCESS_PRIORITY: procprio.RESTORER, FPS_LIMIT: mangohud_limit.RESTORER})
    return restorers


def _game_name(pids: Callable[[], Iterable[int]]) -> str | None:
    """The running game's program name, for MangoHud's per-game config; None if none."""
    for pid in sorted(pids()):
        try:
            return str(psutil.Process(pid).name())
        except psutil.Error:
            continue
    return None


def _int_or_none(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ActionUnavailableError(f"{value!r} is not a whole number")
    try:
        return int(value)
    except ValueError:
        raise ActionUnavailableError(f"{value!r} is not a whole number") from None


def merged(*maps: Mapping[str, ActionBuilder]) -> dict[str, ActionBuilder]:
    """Builder maps combined; a later map's kind wins."""
    combined: dict[str, ActionBuilder] = {}
    for builders in maps:
        combined.update(builders)
    return combined
