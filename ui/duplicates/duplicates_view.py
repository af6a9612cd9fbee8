"""The Duplicates view: find exact, perceptual or near duplicates, choose a threshold, keep one per cluster.

A scan (`workbench.duplicates`) runs on a worker with progress and cancel. Its result holds every pair at
least as close as the threshold asked for and each row's nearest neighbour: the histogram shows the
nearest-neighbour scores, and the slider moves the threshold (stricter only) with the cluster count
updated live from the stored pairs, without searching again. Clusters are rows of thumbnails; a click
picks the row to keep. "Keep one, mark the rest" writes `duplicate_of` (`workbench.duplicate_marks`);
"Delete marked…" asks first. A "Most diverse" page picks a representative subset.

The view is bound to the current collection: another collection or database cancels the scan and
clears everything.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

import ui.shared.dialogs as dialogs
from ui.context import AppContext
from ui.duplicates.cluster_list import ClustersModel, ClusterView
from ui.duplicates.diverse_panel import DiversePanel
from ui.inspector.charts import Chart, style_charts
from ui.shared.errors import plain_message
from ui.shared.text import plural
from ui.shared.workers import Task, run_in_background

MODES = (("near", "Near (vectors)"), ("perceptual", "Perceptual (image hashes)"), ("exact", "Exact (same file)"))
STEPS = 1000


def run_scan(backend: Any, collection: str, mode: str, threshold: float, field: str | None) -> Generator[Any, None, Any]:
    """The scan, then the rows marked already (runs on a worker)."""
    from workbench.duplicate_marks import marked_rows
    from workbench.duplicates import scan
    from workbench.settings import CollectionError

    result = yield from scan(backend, collection, mode, threshold=threshold, field=field)
    try:
        marked = marked_rows(backend, collection)
    except CollectionError:
        marked = None  # the collection cannot hold marks: said when marking
    return result, marked, backend.change_token(collection)


def written(work: Any, backend: Any, collection: str) -> Generator[Any, None, Any]:
    """A write (`work` returns a generator or a value), then the collection's change token: the view's own
    write must not make its scan look stale."""
    out = work(backend, collection)
    if isinstance(out, Generator):
        out = yield from out
    return out, backend.change_token(collection)


def modes_for(info: Any) -> dict[str, str | None]:
    """Each mode: None when the collection allows it, else why not."""
    from workbench.templates import existing_fields

    fields = existing_fields(info.description) if info is not None and info.description else {}
    return {"near": None if info is not None and info.vector_paths else "the collection has no vector field",
            "perceptual": None if ("phash" in fields or "path" in fields) else "the collection has no image paths",
            "exact": None if "sha256" in fields else "the collection has no sha256 field"}


class DuplicatesView(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.collection = ""
        self.scan: Any = None
        self.task: Task | None = None
        self.write_task: Task | None = None
        self.stale = False
        self.token: str | None = None  # the collection's change token when the scan (or its own write) ended
        self._bound: tuple[Any, str] = (None, "")

        self.title = QLabel("Duplicates", self)
        self.title.setObjectName("title")
        self.mode_combo = QComboBox(self)
        for key, text in MODES:
            self.mode_combo.addItem(text, key)
        self.mode_combo.currentIndexChanged.connect(lambda _i: self._mode_changed())
        self.field_combo = QComboBox(self)
        self.threshold = QDoubleSpinBox(self)
        self.threshold.setToolTip("Pairs at least this close are collected; the slider can only make it stricter")
        self.find_button = QPushButton("Find duplicates", self)
        self.find_button.setDefault(True)
        self.find_button.clicked.connect(self.start_scan)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(240)
        self.bar.hide()
        self.status = QLabel("", self)
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)

        self.chart = Chart("Nearest-neighbour score of each row", "rows (log10 of 1 + count)", "score")
        self.chart.setMinimumHeight(150)
        self.line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#d9480f", width=2))
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, STEPS)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider_label = QLabel("", self)
        self.slider_label.setObjectName("sliderLabel")
        self._rebuild = QTimer(self)
        self._rebuild.setSingleShot(True)
        self._rebuild.setInterval(150)
        self._rebuild.timeout.connect(self._show_clusters)

        self.model = ClustersModel()
        self.clusters_view = ClusterView(self)
        self.clusters_view.setModel(self.model)
        self.clusters_view.keepChosen.connect(self.model.choose_keep)
        self.clusters_view.selectionModel().selectionChanged.connect(lambda *_: self._enable())
        self.mark_button = QPushButton("Keep one, mark the rest", self)
        self.mark_button.setToolTip("In the selected clusters: keep the framed row, set duplicate_of on the others")
        self.mark_button.clicked.connect(lambda: self.mark(self.clusters_view.selected_rows()))
        self.mark_all_button = QPushButton("Mark all clusters", self)
        self.mark_all_button.clicked.connect(lambda: self.mark(list(range(self.model.rowCount()))))
        self.clear_button = QPushButton("Clear marks", self)
        self.clear_button.clicked.connect(self.clear_marks)
        self.delete_button = QPushButton("Delete marked…", self)
        self.delete_button.clicked.connect(self.delete_marked)

        controls = QHBoxLayout()
        for w in (QLabel("Find", self), self.mode_combo, QLabel("on", self), self.field_combo,
                  QLabel("threshold", self), self.threshold, self.find_button, self.cancel_button, self.bar):
            controls.addWidget(w)
        controls.addStretch(1)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("Stricter →", self))
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.slider_label)
        actions = QHBoxLayout()
        for w in (self.mark_button, self.mark_all_button, self.clear_button, self.delete_button):
            actions.addWidget(w)
        actions.addStretch(1)
        top = QWidget(self)
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.chart, 1)
        tl.addLayout(slider_row)
        bottom = QWidget(self)
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.clusters_view, 1)
        bl.addLayout(actions)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([220, 480])
        page = QWidget(self)
        pl = QVBoxLayout(page)
        pl.addLayout(controls)
        pl.addWidget(self.status)
        pl.addWidget(split, 1)
        self.diverse = DiversePanel(ctx, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(page, "Duplicates")
        self.tabs.addTab(self.diverse, "Most diverse")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(self.title)
        lay.addWidget(self.tabs, 1)
        style_charts(self.chart)
        self.field_combo.currentIndexChanged.connect(lambda _i: self._field_changed())
        ctx.currentCollectionChanged.connect(self.set_collection)
        ctx.databaseOpened.connect(lambda _w: self.set_collection(ctx.current))
        ctx.infoChanged.connect(self._info_changed)
        ctx.dataChanged.connect(self._data_changed)
        self.set_collection(ctx.current)

    # --- binding ---------------------------------------------------------------------
    def set_collection(self, name: str) -> None:
        """Bind to `name`: another collection or database cancels the scan and clears every result."""
        bound = (self.ctx.backend, name)
        if bound != self._bound:
            self._bound = bound
            self.cancel()
            self.write_task = None  # a mark or delete in flight finishes, unseen: its results were for the old one
            self.scan, self.stale = None, False
            self.model.clear()
            self.chart.reset()
            self.slider.setEnabled(False)
            self.slider_label.setText("")
            self.status.setText("")
        self.collection = name
        self.title.setText(f"Duplicates in {name}" if name else "Duplicates")
        self._fill()

    def _info_changed(self) -> None:
        if self.ctx.current != self.collection or self.ctx.backend is not self._bound[0]:
            self.set_collection(self.ctx.current)
        else:
            self._fill()

    def _data_changed(self, name: str) -> None:
        backend = self.ctx.backend
        if name != self.collection or self.scan is None or backend is None:
            return
        seen = self.token

        def check(token: str | None) -> None:
            if self.scan is not None and name == self.collection and (token is None or token != seen):
                self.stale = True
                self.status.setText("The collection changed since this scan: Find duplicates again to see it as "
                                    "it is.")

        run_in_background(lambda: backend.change_token(name), check, parent=self)

    def _fill(self) -> None:
        info = self.ctx.collection(self.collection)
        why = modes_for(info)
        model = self.mode_combo.model()
        for i in range(self.mode_combo.count()):
            item = model.item(i)  # type: ignore[attr-defined]
            reason = why[self.mode_combo.itemData(i)]
            item.setEnabled(reason is None)
            item.setToolTip(reason or "")
        if why.get(self.mode_combo.currentData()) is not None:
            ok = next((i for i in range(self.mode_combo.count()) if why[self.mode_combo.itemData(i)] is None), 0)
            self.mode_combo.setCurrentIndex(ok)
        old = self.field_combo.currentData()
        self.field_combo.blockSignals(True)
        self.field_combo.clear()
        for path in info.vector_paths if info is not None else []:
            self.field_combo.addItem(path, path)
        i = self.field_combo.findData(old)
        if i < 0:
            i = self.field_combo.findData("embedding")
        self.field_combo.setCurrentIndex(max(i, 0))
        self.field_combo.blockSignals(False)
        self._mode_changed(keep_value=True)
        self._enable()

    def _mode_changed(self, keep_value: bool = False) -> None:
        mode = self.mode_combo.currentData()
        self.field_combo.setVisible(mode == "near")
        self.threshold.setEnabled(mode != "exact")
        if mode == "perceptual":
            self.threshold.setDecimals(0)
            self.threshold.setRange(0, 64)
            self.threshold.setSuffix(" bits")
            if not keep_value or self.threshold.value() > 64 or self.threshold.value() < 1:
                self.threshold.setValue(8)
        elif mode == "near":
            self.threshold.setDecimals(3)
            self.threshold.setRange(-1e6, 1e6)
            self.threshold.setSuffix("")
            if not keep_value or self.threshold.value() > 1.0 or self.threshold.value() == 8:
                self.threshold.setValue(0.95)
        else:
            self.threshold.setSuffix("")
        self._field_changed()

    def _field_changed(self) -> None:
        self.diverse.bind(self.collection, self.field_combo.currentData() if self.field_combo.count() else None)

    def _enable(self) -> None:
        running = self.task is not None and self.task.running
        writing = self.write_task is not None and self.write_task.running
        have = self.model.rowCount() > 0 and not writing
        self.find_button.setEnabled(bool(self.collection) and self.ctx.backend is not None and not running)
        self.cancel_button.setEnabled(running)
        self.mark_button.setEnabled(have and bool(self.clusters_view.selected_rows()))
        self.mark_all_button.setEnabled(have)
        self.clear_button.setEnabled(bool(self.model.marked) and not writing)
        self.delete_button.setEnabled(bool(self.model.marked) and not writing)

    # --- scanning --------------------------------------------------------------------
    def start_scan(self) -> Task | None:
        """Scan the collection in the chosen mode (a worker with progress and cancel); replaces any running scan."""
        backend, coll = self.ctx.backend, self.collection
        if backend is None or not coll:
            return None
        self.cancel()
        mode = str(self.mode_combo.currentData())
        threshold: float = int(self.threshold.value()) if mode == "perceptual" else float(self.threshold.value())
        field = self.field_combo.currentData() if mode == "near" else None
        task = Task(f"Find {mode} duplicates in {coll}", lambda: run_scan(backend, coll, mode, threshold, field),
                    generator=True, parent=self)
        task.progress.connect(lambda ev, t=task: self._progress(ev) if t is self.task else None)
        task.succeeded.connect(lambda res, t=task: self._scanned(res) if t is self.task else None)
        task.failed.connect(lambda e, t=task: self._stopped(plain_message(e)) if t is self.task else None)
        task.cancelled.connect(lambda t=task: self._stopped("Cancelled: nothing was written.")
                               if t is self.task else None)  # cancelled from the Jobs panel
        self.task = task
        self.bar.setValue(0)
        self.bar.show()
        self.status.setText("Starting…")
        self.ctx.run(task)
        self._enable()
        return task

    def cancel(self) -> None:
        """Stop the scan in flight (its result, should it still arrive, is dropped)."""
        if self.task is not None and self.task.running:
            self.task.cancel()
            self.status.setText("Cancelled: nothing was written.")
        self.task = None
        self.bar.hide()
        self._enable()

    def _progress(self, ev: Any) -> None:
        self.bar.setMaximum(max(1, ev.total))
        self.bar.setValue(min(ev.done, max(1, ev.total)))
        self.status.setText(f"{ev.phase} {ev.done:,} of {ev.total:,} rows")

    def _stopped(self, text: str) -> None:
        self.task = None
        self.bar.hide()
        self.status.setText(text)
        self._enable()

    def _scanned(self, res: tuple[Any, dict[Any, Any] | None, str | None]) -> None:
        scan, marked, self.token = res
        self.task = None
        self.bar.hide()
        self.scan, self.stale = scan, False
        self.model.set_marked(marked or {})
        self.slider.blockSignals(True)
        self.slider.setValue(0)
        self.slider.setEnabled(scan.mode != "exact" and bool(scan.pairs))
        if scan.mode == "perceptual":
            self.slider.setRange(0, int(scan.threshold))
        else:
            self.slider.setRange(0, STEPS)
        self.slider.blockSignals(False)
        self._draw_histogram()
        self._show_clusters()
        notes = " ".join(scan.notes)
        skipped = f" {plural(len(scan.skipped), 'file')} could not be hashed." if scan.skipped else ""
        self.status.setText(f"{scan.rows_scanned:,} rows scanned in {scan.elapsed_s:.1f} s. {notes}{skipped}".strip())

    # --- threshold ---------------------------------------------------------------------
    def current_threshold(self) -> float:
        """The slider's threshold: the scan's at the left end, the closest pair's at the right."""
        s = self.scan
        if s is None:
            return 0.0
        if s.mode == "perceptual":
            return float(int(s.threshold) - self.slider.value())
        if not s.pairs:
            return float(s.threshold)
        strict = max(p[2] for p in s.pairs) if s.larger_is_closer else min(p[2] for p in s.pairs)
        return float(s.threshold + (strict - s.threshold) * self.slider.value() / STEPS)

    def _slider_moved(self, _v: int) -> None:
        self._update_count()
        self._rebuild.start()  # the clusters follow when the slider rests

    def _update_count(self) -> None:
        s = self.scan
        if s is None:
            return
        t = self.current_threshold()
        n, marked = s.count_at(t)
        text = "identical" if s.mode == "exact" else f"{int(t)} bits" if s.mode == "perceptual" else f"{t:.4f}"
        self.slider_label.setText(f"at {text}: {plural(n, 'cluster')}, {plural(marked, 'row')} to mark")
        self.line.setValue(t)

    def _draw_histogram(self) -> None:
        s = self.scan
        self.chart.reset()
        edges, counts = s.histogram(40)
        if not counts:
            return
        self.chart.clear()
        e = np.asarray(edges)
        self.chart.addItem(pg.BarGraphItem(x0=e[:-1], x1=e[1:], height=np.log10(1 + np.asarray(counts)),
                                           brush="#2b5fd9"))
        self.chart.addItem(self.line)
        self.chart.setLabel("bottom", {"exact": "identical (0)", "perceptual": "bits to the nearest image"}.get(
            s.mode, f"{s.metric} to the nearest row"))
        self.chart.enableAutoRange()

    def _show_clusters(self) -> None:
        s = self.scan
        if s is None:
            return
        t = self.current_threshold()
        self.model.set_clusters(s, s.clusters(t), self.ctx.backend, self.collection)
        self._update_count()
        self._enable()

    # --- marking and deleting ------------------------------------------------------------
    def _write(self, title: str, work: Any, done: Any) -> Task | None:
        backend, coll = self.ctx.backend, self.collection
        if backend is None or not coll:
            return None
        task = Task(title, lambda: written(work, backend, coll), generator=True, parent=self)
        # a write is not cancelled by another collection (it runs to its end), but its result is only shown
        # while the view still shows the collection it wrote to
        task.progress.connect(lambda ev, t=task: self.status.setText(f"{ev.phase} {ev.done:,} of {ev.total:,} rows")
                              if t is self.write_task else None)
        task.succeeded.connect(lambda res, t=task: self._written(done, res, coll) if t is self.write_task
                               else self.ctx.dataChanged.emit(coll))
        task.failed.connect(lambda e, t=task: self.status.setText(plain_message(e)) if t is self.write_task else None)
        task.finished.connect(self._enable)
        self.write_task = task
        self.ctx.run(task)
        self._enable()
        return task

    def _written(self, done: Any, res: Any, collection: str) -> None:
        result, token = res
        if not self.stale:
            self.token = token  # the view's own write: its scan still describes the collection
        done(result)
        self.ctx.dataChanged.emit(collection)
        self._enable()

    def mark(self, rows: list[int]) -> Task | None:
        """Keep the framed row of each cluster in `rows`, mark the others (a worker writes them)."""
        from workbench.duplicate_marks import write_marks

        marks = self.model.marks_for(rows)
        if not marks:
            return None

        def done(report: Any) -> None:
            self.model.set_marked({**self.model.marked, **{k: v for k, v in marks.items()}})
            gone = f"; {len(report.gone)} were gone" if report.gone else ""
            self.status.setText(f"Marked {plural(report.marked, 'row')} (duplicate_of, in the {report.where}){gone}. "
                                "Filter with duplicate_of is null to see one row per cluster.")

        return self._write(f"Mark duplicates in {self.collection}", lambda b, c: write_marks(b, c, marks), done)

    def clear_marks(self) -> Task | None:
        from workbench.duplicate_marks import write_marks

        marks = dict.fromkeys(self.model.marked)

        def done(report: Any) -> None:
            self.model.set_marked({})
            self.status.setText(f"Cleared the marks of {plural(report.cleared, 'row')}.")

        return self._write(f"Clear marks in {self.collection}", lambda b, c: write_marks(b, c, marks), done)

    def delete_marked(self) -> Task | None:
        """Delete the marked rows, after a confirmation."""
        from workbench.duplicate_marks import delete_rows

        ids = sorted(self.model.marked, key=str)
        if not ids or not dialogs.confirm(
                self, "Delete duplicates",
                f"Delete {plural(len(ids), 'row')} marked as duplicates from {self.collection}? The row kept of "
                "each cluster stays. This cannot be undone.", ok="Delete"):
            return None

        def done(n: int) -> None:
            gone = set(ids)
            s = self.scan
            if s is not None:
                s.pairs = [p for p in s.pairs if p[0] not in gone and p[1] not in gone]
                s.nearest = {k: v for k, v in s.nearest.items() if k not in gone}
                s._curve = None
            self.model.set_marked({})
            self._show_clusters()
            self.status.setText(f"Deleted {plural(n, 'row')}.")
            self.ctx.refresh()

        return self._write(f"Delete duplicates in {self.collection}", lambda b, c: delete_rows(b, c, ids), done)

    def shutdown(self) -> None:
        self.cancel()
        self.diverse.cancel()
