"""The running part of the transfer dialogs: a job's progress bar, phase, Cancel, and its report.

`TransferRun` runs one `workbench.transfer` job (a generator of `TransferProgress`) as a `Task` that
drains the job after Cancel, so the job cleans up after itself (a copy or an import drops its temporary
collection and leaves the target as it was, an export removes its partial files) and still hands back its
report.
`TransferDialogBase` is a dialog with a form above a TransferRun and Start / Close buttons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.connections.connections_dialog import one_line
from ui.shared.workers import Task
from workbench.backends import scrub
from workbench.transfer import CancelToken, TransferProgress, TransferReport

Job = Callable[[CancelToken], Iterator[TransferProgress]]
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # use fullmatch: `$` lets "x\n" through
_PHASES = {"opening": "Opening", "planning": "Planning", "creating": "Creating", "copying": "Copying",
           "writing": "Writing", "reading": "Importing", "flushing": "Flushing", "verifying": "Verifying", "appending": "Appending",
           "done": "Done", "cancelled": "Cancelled"}


def progress_text(ev: TransferProgress) -> str:
    """'Copying · 12,000 / 20,000 rows · 5,300 rows/s' (or the phase's own message)."""
    bits = [_PHASES.get(ev.phase, ev.phase.capitalize())]
    if ev.phase in ("copying", "writing", "reading", "appending"):
        bits.append(f"{ev.rows_done:,} / {ev.rows_total:,} rows" if ev.rows_total is not None
                    else f"{ev.rows_done:,} rows")
        if ev.rate:
            bits.append(f"{ev.rate:,.0f} rows/s")
    elif ev.message and ev.phase not in ("done", "cancelled"):
        bits.append(scrub(ev.message))
    return " · ".join(bits)


class TransferRun(QWidget):
    """A job's progress bar, phase line, Cancel button, and its report or error at the end."""

    ended = Signal(object)  # the TransferReport (None when the job failed)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task: Task | None = None
        self.report: TransferReport | None = None
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setTextVisible(True)
        self.bar.setFormat("")
        self.status = QLabel("", self)
        self.status.setObjectName("hint")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.summary = QLabel("", self)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verification = QLabel("", self)
        self.verification.setWordWrap(True)
        self.notes = QLabel("", self)
        self.notes.setObjectName("hint")
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel("", self)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.progress_row = QWidget(self)  # shown once a job starts
        row = QHBoxLayout(self.progress_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        self.progress_row.setVisible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.progress_row)
        for w in (self.status, self.summary, self.verification, self.notes, self.error):
            lay.addWidget(w)
        self._reset()

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.running

    def _reset(self) -> None:
        self.report = None
        for w in (self.summary, self.verification, self.notes, self.error):
            w.setText("")
            w.setVisible(False)
        self.status.setText("")
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setFormat("")

    def start(self, title: str, job: Job) -> Task:
        """Run `job(cancel_token)` on a worker; its last event's report is shown at the end."""
        self._reset()
        token = CancelToken()

        def work() -> Iterator[TransferProgress]:
            last = None
            for ev in job(token):
                last = ev
                yield ev
            return last.report if last is not None else None

        task = Task(title, work, generator=True, on_cancel=token.cancel, drain_on_cancel=True)
        task.progress.connect(lambda ev: shiboken6.isValid(self) and self.show_progress(ev))
        task.finished.connect(lambda: shiboken6.isValid(self) and self._finished(task))
        self.task = task
        self.cancel_button.setEnabled(True)
        self.progress_row.setVisible(True)
        self.status.setText("Starting…")
        self.bar.setRange(0, 0)
        return task.start()

    def cancel(self) -> None:
        if self.running and self.task is not None:
            self.task.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling after the current batch…")

    def show_progress(self, ev: Any) -> None:
        if not isinstance(ev, TransferProgress):
            return
        if ev.rows_total or ev.phase == "done":
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * ev.fraction))
            total = ev.rows_total if ev.rows_total is not None else ev.rows_done
            self.bar.setFormat(f"{ev.rows_done:,} / {total:,} rows")
        elif ev.rows_total == 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(0)
            self.bar.setFormat("no rows")
        else:
            self.bar.setRange(0, 0)  # busy
        if self.task is not None and self.task.is_cancel_requested and ev.phase not in ("done", "cancelled"):
            return
        self.status.setText(progress_text(ev))

    def _finished(self, task: Task) -> None:
        if task is not self.task:
            return
        self.cancel_button.setEnabled(False)
        report = task.result if isinstance(task.result, TransferReport) else None
        self.report = report
        if task.state == "failed" and task.error is not None:
            self.bar.setRange(0, 1000)
            self.bar.setValue(0)
            self.status.setText("Failed")
            self.error.setText(one_line(task.error))
            self.error.setVisible(True)
        elif report is None:
            self.bar.setRange(0, 1000)
            self.status.setText("Cancelled")
            self.summary.setText("<b>Cancelled</b> before any row was written")
            self.summary.setVisible(True)
        else:
            self.show_report(report)
        self.ended.emit(report)

    def show_report(self, report: TransferReport) -> None:
        self.bar.setRange(0, 1000)
        if report.cancelled:
            self.status.setText("Cancelled")
        else:
            self.status.setText(f"Done in {report.elapsed_s:.1f} s")
            self.bar.setValue(1000)
            self.bar.setFormat(f"{report.rows:,} rows")
        head = report.summary().split("; verified", 1)[0].split("; verification", 1)[0]
        self.summary.setText(("<b>Cancelled:</b> " if report.cancelled else "<b>Done:</b> ") + esc(scrub(head)))
        self.summary.setVisible(True)
        v = report.verification
        if v is not None:
            self.verification.setText(("✓ " if v.ok else "✗ ") + esc(v.summary()))
            self.verification.setStyleSheet("color: #1b7f3b;" if v.ok else "color: #b00020;")
            self.verification.setVisible(True)
        notes = list(report.notes)
        if report.files and report.kind == "export":
            shown = report.files[:5]
            notes.append("files: " + ", ".join(shown) + (f" and {len(report.files) - 5} more"
                                                         if len(report.files) > 5 else ""))
        if notes:
            self.notes.setText("\n".join(f"• {scrub(n)}" for n in notes))
            self.notes.setVisible(True)


def esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class TransferDialogBase(QDialog):
    """A form, a TransferRun, and Start / Close buttons."""

    transferred = Signal(object)  # the TransferReport of a job that ended (done or cancelled)
    taskStarted = Signal(object)  # the Task, for the jobs panel

    start_text = "Start"

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.heading = QLabel("", self)
        self.heading.setWordWrap(True)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.run = TransferRun(self)
        self.run.ended.connect(self._ended)
        self.form_error = QLabel("", self)
        self.form_error.setObjectName("error")
        self.form_error.setWordWrap(True)
        self.form_error.setVisible(False)
        self.start_button = QPushButton(self.start_text, self)
        self.start_button.setObjectName("primary")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.close_button = QPushButton("Close", self)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.start_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.heading)
        lay.addLayout(self.form)
        lay.addWidget(self.form_error)
        lay.addSpacing(6)
        lay.addWidget(self.run)
        lay.addStretch(1)
        lay.addLayout(buttons)
        self.setMinimumWidth(600)

    # subclasses ---------------------------------------------------------------------------------
    def job(self) -> tuple[str, Job]:
        """(title, job) from the form; raise TransferError (shown under the form) when it is not valid."""
        raise NotImplementedError

    def _inputs(self) -> list[QWidget]:
        return []

    # running ------------------------------------------------------------------------------------
    def start(self) -> Task | None:
        if self.run.running:
            return None
        self.form_error.setVisible(False)
        try:
            title, job = self.job()
        except Exception as e:
            self.form_error.setText(one_line(e))
            self.form_error.setVisible(True)
            return None
        task = self.run.start(title, job)
        self._set_busy(True)
        self.taskStarted.emit(task)
        return task

    def _set_busy(self, busy: bool) -> None:
        self.start_button.setEnabled(not busy)
        for w in self._inputs():
            w.setEnabled(not busy)

    def _ended(self, report: Any) -> None:
        self._set_busy(False)
        self._after()
        if report is not None:
            self.transferred.emit(report)

    def _after(self) -> None:
        """Hook: re-apply what depends on the form once a job ended."""

    def reject(self) -> None:
        """Close; a running job is cancelled (it cleans up on its worker)."""
        self.run.cancel()
        super().reject()


def browse_row(edit: QLineEdit, *buttons: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    for b in buttons:
        row.addWidget(b)
    return row
