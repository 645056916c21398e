"""The rollback dialog: every step with what became of it, Details, Retry."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QTreeWidget
from pytestqt.qtbot import QtBot

from gearshift.core.errors import ModeTransitionError, RollbackReport, StepFailure
from gearshift.core.modes import PerformanceMode
from gearshift.ui.dialogs import NOT_TRIED, RECENT_LOG, RollbackDialog, step_outcomes
from tests.ui.conftest import AppRig

STEPS = (
    "undo frame budget 16.67 ms",
    "frame budget 3.33 ms",
    "CPU governor performance",
    "MangoHud fps_limit off",
    "screensaver inhibit",
)


def report() -> RollbackReport:
    return RollbackReport(
        failed=StepFailure("MangoHud fps_limit off", "cannot write MangoHud.conf: read-only"),
        reverted=("frame budget 3.33 ms", "undo frame budget 16.67 ms"),
        not_reverted=(StepFailure("CPU governor performance", "the prompt was dismissed"),),
        planned=STEPS,
    )


def test_each_step_says_what_became_of_it() -> None:
    assert step_outcomes(report()) == [
        ("undo frame budget 16.67 ms", "applied, then reverted"),
        ("frame budget 3.33 ms", "applied, then reverted"),
        ("CPU governor performance", "applied; could not revert: the prompt was dismissed"),
        ("MangoHud fps_limit off", "failed: cannot write MangoHud.conf: read-only"),
        ("screensaver inhibit", NOT_TRIED),
    ]


def test_a_step_that_failed_part_way_and_could_not_be_undone_says_so() -> None:
    half = RollbackReport(
        failed=StepFailure("CPU governor performance", "cpu3 refused"),
        not_reverted=(StepFailure("part of CPU governor performance", "still refused"),),
        planned=("CPU governor performance",),
    )
    [(_step, outcome)] = step_outcomes(half)
    assert outcome.startswith("failed: cpu3 refused") and "could not be undone" in outcome


def test_the_dialog_lists_the_steps_and_shows_details_on_demand(qtbot: QtBot) -> None:
    error = ModeTransitionError("Immersive", "Competitive", report())
    dialog = RollbackDialog(error, log_lines=["08:00 WARNING switch failed"])
    qtbot.addWidget(dialog)
    dialog.show()

    table = dialog.findChild(QTreeWidget, "steps")
    assert table is not None and table.topLevelItemCount() == len(STEPS)
    assert table.topLevelItem(4).text(1) == NOT_TRIED
    assert not dialog.details.isVisible()
    dialog.details_button.click()
    assert dialog.details.isVisible()
    assert "switch failed" in dialog.details.toPlainText()


def test_recent_log_keeps_gearshift_lines() -> None:
    logging.getLogger("gearshift.core.manager").warning("a line for Details %d", 7)
    assert any("a line for Details 7" in line for line in RECENT_LOG.since(0))


def test_retry_switches_again(rig: AppRig) -> None:
    rig.machine.fail_apply.add("governor=performance")
    rig.app.toggle()
    rig.wait_for(lambda: bool(rig.app.dialogs))
    dialog = rig.app.dialogs[0]
    assert rig.manager.mode is PerformanceMode.IMMERSIVE

    rig.machine.fail_apply.clear()
    dialog.retry_button.click()
    rig.wait_for(lambda: rig.manager.mode is PerformanceMode.COMPETITIVE)
    rig.wait_for(lambda: not rig.app.dialogs)
