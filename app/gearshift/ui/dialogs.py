"""The rollback dialog (with the recent log lines it shows), and a way to await any
dialog without blocking the loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gearshift.core.errors import ModeTransitionError, RollbackReport


async def wait_closed(dialog: QDialog) -> int:
    """Show ``dialog`` without a nested event loop and wait until it is finished.

    ``QDialog.exec()`` would start a second event loop inside the coroutine; this opens
    the dialog and awaits its ``finished`` signal instead. Returns the dialog's result.
    """
    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_finished(result: int) -> None:
        if not done.done():
            done.set_result(result)

    dialog.finished.connect(on_finished)
    dialog.open()
    try:
        return await done
    finally:
        dialog.finished.disconnect(on_finished)


class RecentLog(logging.Handler):
    """Keeps Gearshift's last log lines, for the rollback dialog's Details."""

    def __init__(self, capacity: int = 200) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[tuple[float, str]] = deque(maxlen=capacity)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record, formatted."""
        try:
            self.lines.append((record.created, self.format(record)))
        except Exception:  # a log line must never break the app
            self.handleError(record)

    def since(self, started: float) -> list[str]:
        """The lines logged at or after ``started`` (wall-clock seconds)."""
        return [line for at, line in self.lines if at >= started]


RECENT_LOG = RecentLog()
logging.getLogger("gearshift").addHandler(RECENT_LOG)

DETAILS_WINDOW_S = 120.0
"""How far back Details reaches, in seconds before the dialog opened."""

NOT_TRIED = "not tried"


def step_outcomes(report: RollbackReport) -> list[tuple[str, str]]:
    """Each step of the failed switch with what became of it, in the player's words."""
    stuck = {failure.step: failure.reason for failure in report.not_reverted}
    half = {
        failure.step.removeprefix("part of "): failure.reason
        for failure in report.not_reverted
        if failure.step.startswith("part of ")
    }
    rows: list[tuple[str, str]] = []
    reached_failure = False
    for step in report.planned or (*report.reverted, report.failed.step):
        if step == report.failed.step and not reached_failure:
            reached_failure = True
            outcome = f"failed: {report.failed.reason}"
            if step in half:
                outcome += f"; what it did part-way could not be undone ({half[step]})"
            rows.append((step, outcome))
        elif reached_failure:
            rows.append((step, NOT_TRIED))
        elif step in stuck:
            rows.append((step, f"applied; could not revert: {stuck[step]}"))
        else:
            rows.append((step, "applied, then reverted"))
    return rows


class RollbackDialog(QDialog):
    """Says that a switch failed: every step and what became of it, what the player can
    do, and the log lines of the switch under Details. Retry asks for the switch again.
    """

    RETRY = 2
    """The dialog's result when the player chose Retry."""

    def __init__(
        self,
        error: ModeTransitionError,
        parent: QWidget | None = None,
        log_lines: list[str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.error = error
        self.setWindowTitle(f"Switch to {error.target} rolled back")
        self.setObjectName("rollbackDialog")
        report = error.report

        layout = QVBoxLayout(self)
        heading = QLabel(
            f"<b>Gearshift could not switch to {error.target}.</b> {error.source} is still active."
        )
        heading.setWordWrap(True)
        layout.addWidget(heading)

        failed = QLabel(
            f"Failed step: <b>{report.failed.step}</b><br>Reason: {report.failed.reason}"
        )
        failed.setObjectName("failedStep")
        failed.setWordWrap(True)
        layout.addWidget(failed)

        layout.addWidget(self._steps_table(report))

        restored = ", ".join(report.reverted) if report.reverted else "nothing needed undoing"
        restored_label = QLabel(f"Restored: {restored}")
        restored_label.setObjectName("restoredSteps")
        restored_label.setWordWrap(True)
        layout.addWidget(restored_label)

        if report.not_reverted:
            stuck = "<br>".join(f"{f.step}: {f.reason}" for f in report.not_reverted)
            warning = QLabel(
                f"<b>Could not restore:</b><br>{stuck}<br>Gearshift keeps these in its "
                "journal: quitting Gearshift, starting it again, or running "
                "<tt>gearshift restore</tt> tries again; or set them back by hand."
            )
            warning.setObjectName("notRestored")
            warning.setWordWrap(True)
            layout.addWidget(warning)

        self.details = QPlainTextEdit("\n".join(log_lines or ["(no log lines)"]))
        self.details.setObjectName("details")
        self.details.setReadOnly(True)
        self.details.setVisible(False)
        layout.addWidget(self.details)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.retry_button = buttons.addButton("Retry", QDialogButtonBox.ButtonRole.AcceptRole)
        self.details_button = buttons.addButton("Details", QDialogButtonBox.ButtonRole.ActionRole)
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self.details.setVisible)
        self.retry_button.clicked.connect(lambda: self.done(self.RETRY))
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

    @staticmethod
    def _steps_table(report: RollbackReport) -> QTreeWidget:
        table = QTreeWidget()
        table.setObjectName("steps")
        table.setColumnCount(2)
        table.setHeaderLabels(["Step", "What happened"])
        table.setRootIsDecorated(False)
        for step, outcome in step_outcomes(report):
            item = QTreeWidgetItem([step, outcome])
            item.setToolTip(1, outcome)
            table.addTopLevelItem(item)
        table.resizeColumnToContents(0)
        rows = max(table.topLevelItemCount(), 1)
        height = table.header().sizeHint().height() + rows * table.sizeHintForRow(0)
        table.setFixedHeight(min(height + 2 * table.frameWidth() + 8, 300))
        return table


def recent_log_lines() -> list[str]:
    """The log lines of the last couple of minutes, for a rollback dialog's Details."""
    return RECENT_LOG.since(time.time() - DETAILS_WINDOW_S)
