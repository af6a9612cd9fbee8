"""Jobs panel: one card per long-running task, with progress, rate, ETA, cancel, and its report.

Ingest jobs end with their report: counts, and each skipped file with the
reason. Index builds, compaction, exports, recall checks and projections show
here too.
"""

from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.shared.errors import plain_message
from ui.shared.text import plural
from ui.shared.workers import Task


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def describe_event(event: Any) -> tuple[int, int, str]:
    """(done, total, text) for the progress events of ingest jobs, index builds and the rest."""
    if event is None:
        return 0, 0, ""
    if hasattr(event, "files_done") and hasattr(event, "phase"):  # workbench.jobs.Progress
        bits = [event.phase]
        if event.files_total:
            bits.append(f"{event.files_done:,}/{event.files_total:,} files")
        if event.rate:
            bits.append(f"{event.rate:.1f} files/s")
        if event.eta_s is not None and event.phase == "ingesting":
            bits.append(f"ETA {fmt_duration(event.eta_s)}")
        if event.errors:
            bits.append(f"{event.errors} skipped")
        if event.message:
            bits.append(event.message)
        return event.files_done, event.files_total, " · ".join(bits)
    if hasattr(event, "segments_total") and hasattr(event, "done"):  # engine BuildProgress
        text = (f"{event.field}: segment {min(event.segments_done + 1, event.segments_total)}/"
                f"{event.segments_total}, {event.done:,}/{event.total:,} vectors")
        total = max(event.total, 1)
        overall = event.segments_done * 1000 + int(1000 * event.done / total)
        return overall, max(event.segments_total, 1) * 1000, text
    if isinstance(event, dict) and "done" in event:
        text = str(event.get("text") or f"{event['done']:,}/{event.get('total', 0):,}")
        return int(event["done"]), int(event.get("total") or 0), text
    if isinstance(event, tuple) and len(event) >= 2:
        return int(event[0]), int(event[1]), str(event[2]) if len(event) > 2 else ""
    return 0, 0, str(event)


def report_text(report: Any) -> str:
    if report is None:
        return ""
    summary = getattr(report, "summary", None)
    if callable(summary):
        return str(summary())
    return str(report)


REPORT_MAX_PX = 420
_BREAK_AFTER = re.compile(r"([/\\_.,:=-])(?=\S)")


def breakable(text: str, longer_than: int = 27) -> str:
    """`text` with zero-width spaces after path separators and the like inside words longer than
    `longer_than` (paths, URIs, collection.field), so a narrow label can wrap them."""
    long_word = re.compile(r"\S{" + str(longer_than + 1) + ",}")
    return long_word.sub(lambda m: _BREAK_AFTER.sub("\\1\u200b", m.group(0)), text)


class JobCard(QFrame):
    """Progress bar, rate/ETA line, cancel button and (at the end) the report of one task."""

    def __init__(self, task: Task, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = task
        self.setObjectName("jobCard")
        self.title = QLabel(f"<b>{html.escape(breakable(task.title, 12))}</b>", self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.state = QLabel("running", self)
        self.state.setObjectName("hint")
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(True)
        self.detail = QLabel("", self)
        self.detail.setObjectName("hint")
        self.detail.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setMinimumWidth(self.cancel_button.sizeHint().width())  # never "Cance"
        self.cancel_button.clicked.connect(self.cancel)
        self.bar.setMinimumWidth(40)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.report_toggle = QToolButton(self)
        self.report_toggle.setText("Report ▸")
        self.report_toggle.setCheckable(True)
        self.report_toggle.hide()
        self.report = QPlainTextEdit(self)
        self.report.setReadOnly(True)
        self.report.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.report.hide()
        self.report_toggle.toggled.connect(self.report.setVisible)
        self.report_toggle.toggled.connect(lambda on: self.report_toggle.setText("Report ▾" if on else "Report ▸"))

        head = QHBoxLayout()  # the title alone on its line: a narrow dock wraps it
        head.addWidget(self.title, 1)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.state)
        row.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(3)
        lay.addLayout(head)
        lay.addLayout(row)
        lay.addWidget(self.detail)
        lay.addWidget(self.report_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(self.report)

        task.progress.connect(self.on_progress)
        task.succeeded.connect(self.on_succeeded)
        task.failed.connect(self.on_failed)
        task.cancelled.connect(self.on_cancelled)
        self.events = 0

    def set_detail(self, text: str) -> None:
        """The line under the bar, wrapped at any width (long paths too); the whole text is its tooltip."""
        self.detail.setText(breakable(text))
        self.detail.setToolTip(text if len(text) > 80 else "")

    def set_report(self, text: str) -> None:
        """The report, in a box as tall as its text (up to REPORT_MAX_PX; it scrolls past that)."""
        self.report.setPlainText(text)
        lines = text.count("\n") + 1
        height = lines * self.report.fontMetrics().lineSpacing() + 16
        self.report.setFixedHeight(max(60, min(REPORT_MAX_PX, height)))

    def cancel(self) -> None:
        self.task.cancel()
        self.cancel_button.setEnabled(False)
        self.state.setText("cancelling…")

    def on_progress(self, event: Any) -> None:
        self.events += 1
        done, total, text = describe_event(event)
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            self.bar.setRange(0, 0)
        self.set_detail(text)
        current = getattr(event, "current", None)
        if current:
            self.detail.setToolTip(str(current))

    def _end(self, state: str) -> None:
        self.cancel_button.hide()
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 1)
            self.bar.setValue(1 if state == "done" else 0)
        elif state == "done":
            self.bar.setValue(self.bar.maximum())
        self.state.setText(f"{state} in {fmt_duration(self.task.elapsed_s)}")

    def on_succeeded(self, result: Any) -> None:
        report = getattr(self.task, "job_report", None) or result
        text = report_text(report) if callable(getattr(report, "summary", None)) else ""
        cancelled = bool(getattr(report, "cancelled", False))
        self._end("cancelled" if cancelled else "done")
        skipped = getattr(report, "skipped", None)
        if skipped:
            self.detail.setText(f"{plural(len(skipped), 'file')} skipped; see the report")
            self.detail.setObjectName("error")
            self.detail.style().unpolish(self.detail)
            self.detail.style().polish(self.detail)
        elif isinstance(result, str):
            self.detail.setText(result)
        elif isinstance(result, int) and not isinstance(result, bool):
            self.detail.setText(f"{result:,}")
        elif not text:
            self.detail.setText("finished")
        if text:
            self.set_report(text)
            self.report_toggle.show()
            self.report_toggle.setChecked(bool(skipped))

    def on_failed(self, exc: BaseException) -> None:
        self._end("failed")
        self.detail.setObjectName("error")
        self.detail.style().unpolish(self.detail)
        self.detail.style().polish(self.detail)
        self.set_detail(plain_message(exc))
        report = getattr(self.task, "job_report", None)
        if report is not None:
            self.set_report(report_text(report))
            self.report_toggle.show()

    def on_cancelled(self) -> None:
        self._end("cancelled")
        report = getattr(self.task, "job_report", None)
        if report is not None:
            self.set_report(report_text(report))
            self.report_toggle.show()


class JobsPanel(QWidget):
    """The list of job cards (newest first) and a Clear button."""

    jobAdded = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cards: list[JobCard] = []
        self.empty = QLabel("No jobs yet. Drop files or folders on the window to import them.", self)
        self.empty.setObjectName("hint")
        self.empty.setWordWrap(True)
        self.clear_button = QPushButton("Clear finished", self)
        self.clear_button.clicked.connect(self.clear_finished)
        inner = QWidget()
        self.list_layout = QVBoxLayout(inner)
        self.list_layout.setContentsMargins(0, 0, 0, 0)
        self.list_layout.addWidget(self.empty)
        self.list_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # cards wrap, never clip
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.clear_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(scroll, 1)

    def add(self, task: Task) -> JobCard:
        card = JobCard(task)
        self.cards.insert(0, card)
        self.list_layout.insertWidget(0, card)
        self.empty.hide()
        self.jobAdded.emit(card)
        return card

    def card_for(self, task: Task) -> JobCard | None:
        return next((c for c in self.cards if c.task is task), None)

    def running(self) -> list[JobCard]:
        return [c for c in self.cards if c.task.running]

    def clear_finished(self) -> None:
        for card in [c for c in self.cards if not c.task.running]:
            self.cards.remove(card)
            card.setParent(None)
            card.deleteLater()
        self.empty.setVisible(not self.cards)
