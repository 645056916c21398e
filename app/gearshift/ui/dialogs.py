"""The rollback dialog, and a way to await any dialog without blocking the loop."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from gearshift.core.errors import ModeTransitionError


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


class RollbackDialog(QDialog):
    """Says that a switch failed, at which step and why, and what was put back."""

    def __init__(self, error: ModeTransitionError, parent: QWidget | None = None) -> None:
        super().__init__(parent)
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

        restored = ", ".join(report.reverted) if report.reverted else "nothing needed undoing"
        restored_label = QLabel(f"Restored: {restored}")
        restored_label.setObjectName("restoredSteps")
        restored_label.setWordWrap(True)
        layout.addWidget(restored_label)

        if report.not_reverted:
            stuck = "<br>".join(f"{f.step}: {f.reason}" for f in report.not_reverted)
            warning = QLabel(
                f"<b>Could not restore:</b><br>{stuck}<br>Restart Gearshift or undo these "
                "by hand; the log has the details."
            )
            warning.setObjectName("notRestored")
            warning.setWordWrap(True)
            layout.addWidget(warning)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)
