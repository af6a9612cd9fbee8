"""The "Most diverse" page of the Duplicates view: pick N rows by greedy farthest-point selection.

Runs `workbench.diversity.most_diverse` on a worker (progress, cancel) and shows the picks as a grid of
thumbnails with each pick's distance to the picks before it. The rows' display fields are read on the
same worker.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ui.context import AppContext
from ui.shared.errors import plain_message
from ui.shared.thumbnails import shared_cache, thumbnail_path
from ui.shared.workers import Task

DISPLAY = ("path", "file_name", "thumbnail", "sha256", "name")


def pick_diverse(backend: Any, collection: str, n: int, field: str | None) -> Generator[Any, None, Any]:
    """The selection and the display fields of the picks (runs on a worker)."""
    from workbench.backends import primary_field, vector_paths
    from workbench.diversity import most_diverse
    from workbench.duplicates import main_image

    sel = yield from most_diverse(backend, collection, n, field=field)
    schema = backend.schema(collection)
    pk = str(primary_field(schema)["name"])
    names = {f["name"] for f in schema["fields"]}
    wanted = [f for f in DISPLAY if f in names]
    product = any(p.startswith("images[") for p, _ in vector_paths(schema))  # shown by its main image
    rows: dict[Any, dict[str, Any]] = {}
    if sel.picks:
        for r in backend.get(collection, [p for p, _ in sel.picks], output_fields=[pk, *wanted] + ["images"] * product):
            rows[r[pk]] = {**r, **main_image(r.pop("images", None))} if product else r
    return sel, rows


class DiversePanel(QWidget):
    """N, a Pick button, progress and the picks."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.collection = ""
        self.field: str | None = None
        self.task: Task | None = None
        self.selection: Any = None
        self.rows: dict[Any, dict[str, Any]] = {}
        self.n_spin = QSpinBox(self)
        self.n_spin.setRange(1, 10000)
        self.n_spin.setValue(24)
        self.pick_button = QPushButton("Pick the most diverse", self)
        self.pick_button.clicked.connect(self.pick)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(220)
        self.bar.hide()
        self.status = QLabel("Greedy farthest-point selection: each pick is the row farthest from the picks "
                             "before it, for a small subset that covers the collection.", self)
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.grid = QListWidget(self)
        self.grid.setObjectName("diverseGrid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(112, 112))
        self.grid.setGridSize(QSize(132, 150))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        shared_cache().loaded.connect(self._thumb_loaded)
        top = QHBoxLayout()
        top.addWidget(QLabel("Rows to pick", self))
        top.addWidget(self.n_spin)
        top.addWidget(self.pick_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.bar)
        top.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addWidget(self.grid, 1)

    def bind(self, collection: str, field: str | None) -> None:
        """Another collection or field: cancel and forget the picks."""
        if (collection, field) != (self.collection, self.field):
            self.cancel()
            self.grid.clear()
            self.selection, self.rows = None, {}
        self.collection, self.field = collection, field
        self.pick_button.setEnabled(bool(collection) and field is not None)

    def pick(self) -> Task | None:
        backend, coll, field, n = self.ctx.backend, self.collection, self.field, self.n_spin.value()
        if backend is None or not coll or field is None:
            return None
        self.cancel()
        task = Task(f"Pick {n} most diverse of {coll}", lambda: pick_diverse(backend, coll, n, field), generator=True,
                    parent=self)
        task.progress.connect(lambda ev, t=task: self._progress(ev) if t is self.task else None)
        task.succeeded.connect(lambda res, t=task: self._show(res) if t is self.task else None)
        task.failed.connect(lambda e, t=task: self._done(plain_message(e)) if t is self.task else None)
        task.cancelled.connect(lambda t=task: self._done("Cancelled.") if t is self.task else None)
        self.task = task
        self.cancel_button.setEnabled(True)
        self.bar.show()
        return self.ctx.run(task)

    def cancel(self) -> None:
        """Stop the selection in flight (its result, should it still arrive, is dropped)."""
        if self.task is not None and self.task.running:
            self.task.cancel()
            self.status.setText("Cancelled.")
        self.task = None
        self.cancel_button.setEnabled(False)
        self.bar.hide()

    def _progress(self, ev: Any) -> None:
        self.bar.setMaximum(max(1, ev.total))
        self.bar.setValue(ev.done)
        self.status.setText(f"{ev.phase} {ev.done:,} of {ev.total:,}")

    def _done(self, text: str) -> None:
        self.status.setText(text)
        self.cancel_button.setEnabled(False)
        self.bar.hide()

    def _show(self, res: tuple[Any, dict[Any, dict[str, Any]]]) -> None:
        sel, rows = res
        self.selection, self.rows = sel, rows
        self.grid.clear()
        for i, (pk, d) in enumerate(sel.picks, 1):
            row = rows.get(pk, {})
            item = QListWidgetItem(f"{i}. {row.get('file_name') or row.get('name') or pk}\n{d:.3f}")
            item.setData(Qt.ItemDataRole.UserRole, pk)
            item.setToolTip(f"{row.get('path') or pk}\ndistance to the earlier picks: {d:.4f}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.grid.addItem(item)
        self._thumb_loaded("")
        note = "; ".join(sel.notes)
        self._done(f"{len(sel.picks)} of {sel.rows_total:,} rows picked on {sel.field} ({sel.metric}); the number "
                   "under each is its distance to the picks before it" + (f". Note: {note}" if note else "."))

    def _thumb_loaded(self, _path: str) -> None:
        where, cache = self.ctx.backend, shared_cache()
        for i in range(self.grid.count()):
            item = self.grid.item(i)
            if item.icon().isNull() and where is not None:
                path = thumbnail_path(where, self.collection, self.rows.get(item.data(Qt.ItemDataRole.UserRole), {}))
                pm = cache.get(path)
                if pm is not None:
                    item.setIcon(QIcon(pm))
