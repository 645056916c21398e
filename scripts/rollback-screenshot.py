"""Render docs/rollback-dialog.png: a real failed switch on the fake machine.

The governor needs the helper and its prompt is dismissed (a fake pkexec exiting 126),
and the platform profile then cannot be put back, so the dialog shows every outcome.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/rollback-screenshot.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import QApplication

from gearshift.core.actions import core_action_builders
from gearshift.core.budget import BudgetMonitor
from gearshift.core.errors import ActionError, ModeTransitionError
from gearshift.core.events import EventBus
from gearshift.core.manager import ModeManager
from gearshift.core.modes import DEFAULT_PROFILES, PerformanceMode
from gearshift.system.builders import system_action_builders
from gearshift.system.sysfs import GOVERNOR, DirectWriter, HelperWriter, SysfsSetting
from gearshift.ui.dialogs import RollbackDialog, recent_log_lines

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for the fake machine

from tests.system.machine import context, make_tree  # noqa: E402

WIDTH = 740


async def failed_switch(folder: Path) -> ModeTransitionError:
    root = make_tree(folder / "root")
    pkexec = folder / "pkexec"
    pkexec.write_text("#!/bin/sh\ncat >/dev/null\nexit 126\n")
    pkexec.chmod(0o755)
    helper = HelperWriter((str(pkexec), "gearshift-helper"))
    direct = DirectWriter(context(root).paths)

    class Writer:
        async def write(self, setting: SysfsSetting, values: Mapping[str, str]) -> None:
            if setting.name == "platform_profile" and "balanced" in values.values():
                raise ActionError(
                    "cannot write 'balanced' to /sys/firmware/acpi/platform_profile: "
                    "Input/output error"
                )
            await (helper if setting is GOVERNOR else direct).write(setting, values)

    machine = replace(context(root), writer=Writer())
    builders = {**system_action_builders(machine), **core_action_builders(BudgetMonitor(16.7))}
    manager = ModeManager(builders, EventBus(), profiles=DEFAULT_PROFILES)
    await manager.start()
    try:
        await manager.set_mode(PerformanceMode.COMPETITIVE)
    except ModeTransitionError as error:
        return error
    raise SystemExit("the switch did not fail")


def main() -> None:
    app = QApplication(["gearshift"])
    with tempfile.TemporaryDirectory() as folder:
        error = asyncio.run(failed_switch(Path(folder)))
    dialog = RollbackDialog(error, log_lines=recent_log_lines())
    dialog.show()
    dialog.setMinimumWidth(WIDTH)
    layout = dialog.layout()
    assert layout is not None
    dialog.resize(WIDTH, layout.totalHeightForWidth(WIDTH))
    app.processEvents()
    dialog.grab().save(str(REPO / "docs" / "rollback-dialog.png"))


if __name__ == "__main__":
    main()
