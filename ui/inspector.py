"""Segments and index inspector: the segments table, charts, and a recall explorer.

Charts (pyqtgraph): rows per segment, deleted ratio per segment, HNSW level
counts and the layer-0 degree histogram of the chosen field's index. The
recall explorer runs the engine's `recall_check_iter` at several `ef` values on
a worker (cancellable) and plots recall@k against median latency.

Each part asks the backend's capabilities first: segment listings need
"segments", the level and degree charts "index_internals", the recall explorer
"recall_check". Where the backend lacks one, the part is replaced by the
reason (`capabilities.why_not`) instead of failing.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.context import AppContext
from ui.errors import plain_message
from ui.theme import is_dark
from ui.workers import Task

RECALL_HELP = ("Sample queries are run exactly and through the index; recall@k is the share of the exact top k "
               "that the index finds.")
SEGMENT_COLUMNS = ("segment", "partition", "state", "rows", "deleted", "deleted %", "size", "index state",
                   "merged from")


def fmt_size(n: int) -> str:
    f = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if f < 1024 or unit == "GB":
            return f"{f:.0f} {unit}" if unit == "B" else f"{f:.1f} {unit}"
        f /= 1024
    return f"{f:.1f} GB"


def gather_segments(backend: Any, collection: str, field: str | None) -> dict[str, Any]:
    """Segments (where the backend lists them) and, for `field`, per-segment index stats (where the backend
    exposes them); runs on a worker. What the backend cannot tell is left out, with the reason."""
    caps = backend.capabilities
    segs: list[dict[str, Any]] = []
    if caps.supports("segments"):
        segs = [asdict(s) for s in backend.segments(collection)]
    stats: list[dict[str, Any]] = []
    error = ""
    if field and caps.supports("index_internals"):
        try:
            stats = backend.index_stats(collection, field)
        except Exception as e:
            error = plain_message(e)
    return {"segments": segs, "stats": stats, "stats_error": error, "field": field,
            "segments_missing": caps.why_not("segments"), "internals_missing": caps.why_not("index_internals")}


def _n(v: Any) -> int:
    return int(v) if v is not None else 0


def _text(v: Any, fmt: Any = str) -> str:
    return "—" if v is None else fmt(v)


def merge_level_counts(stats: list[dict[str, Any]]) -> list[int]:
    out: list[int] = []
    for s in stats:
        for i, c in enumerate(s.get("level_counts") or []):
            if i >= len(out):
                out.append(0)
            out[i] += int(c)
    return out


def merge_degrees(stats: list[dict[str, Any]]) -> list[int]:
    out: list[int] = []
    for s in stats:
        for i, c in enumerate(s.get("degree_histogram") or []):
            if i >= len(out):
                out.append(0)
            out[i] += int(c)
    return out


def recall_events(backend: Any, collection: str, field: str, k: int, efs: tuple[int, ...],
                  n_queries: int) -> Any:
    results: list[Any] = []
    for ev in backend.recall_check_iter(collection, field, k=k, ef_values=efs, n_queries=n_queries):
        if "results" in ev:
            results = list(ev["results"])
        yield {"done": ev["done"], "total": ev["total"], "text": f"{ev['done']}/{ev['total']} queries"}
    return results


class _Chart(pg.PlotWidget):
    def __init__(self, title: str, left: str, bottom: str) -> None:
        super().__init__()
        self.setTitle(title)
        self.setLabel("left", left)
        self.setLabel("bottom", bottom)
        self.showGrid(x=False, y=True, alpha=0.25)
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)
        self.setMinimumHeight(170)
        for axis in ("left", "bottom"):
            self.getAxis(axis).enableAutoSIPrefix(False)

    def bars(self, xs: list[float], heights: list[float], brush: str, labels: list[str] | None = None,
             log: bool = False, y_range: tuple[float, float] | None = None) -> None:
        self.clear()
        if not xs:
            return
        h = np.asarray(heights, dtype=float)
        if log:
            h = np.log10(np.maximum(h, 1))
        self.addItem(pg.BarGraphItem(x=xs, height=h, width=0.8, brush=brush))
        if labels is not None:
            step = max(1, len(labels) // 12)
            self.getAxis("bottom").setTicks([[(x, lab) for i, (x, lab) in enumerate(zip(xs, labels)) if i % step == 0]])
        else:
            self.getAxis("bottom").setTicks(None)
        self.enableAutoRange()
        if y_range is not None:
            self.setYRange(*y_range, padding=0.05)


class Inspector(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.collection = ""
        self.data: dict[str, Any] = {}
        self.recall_results: list[Any] = []
        self.task: Task | None = None
        self.recall_task: Task | None = None
        self.loads = 0

        self.title = QLabel("Segments and indexes", self)
        self.title.setObjectName("title")
        self.field_combo = QComboBox(self)
        self.field_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        refresh = QPushButton("Refresh", self)
        refresh.clicked.connect(self.refresh)
        self.summary = QLabel("", self)
        self.summary.setObjectName("hint")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(SEGMENT_COLUMNS), self)
        self.table.setObjectName("segmentsTable")
        self.table.setHorizontalHeaderLabels(list(SEGMENT_COLUMNS))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.rows_chart = _Chart("Rows per segment", "rows", "segment")
        self.deleted_chart = _Chart("Deleted ratio", "deleted / rows", "segment")
        self.levels_chart = _Chart("HNSW level counts", "nodes (log10)", "level")
        self.degree_chart = _Chart("Layer-0 degree histogram", "nodes", "neighbours")
        charts = QWidget(self)
        self.charts = charts
        grid = QGridLayout(charts)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.rows_chart, 0, 0)
        grid.addWidget(self.deleted_chart, 0, 1)
        grid.addWidget(self.levels_chart, 1, 0)
        grid.addWidget(self.degree_chart, 1, 1)
        self.index_note = QLabel("", self)
        self.index_note.setObjectName("hint")
        self.index_note.setWordWrap(True)
        self.segments_note = QLabel("", self)  # why segments are not listed, where the backend cannot
        self.segments_note.setObjectName("warning")
        self.segments_note.setAccessibleName("segments explanation")
        self.segments_note.setWordWrap(True)
        self.segments_note.hide()

        seg_page = QWidget(self)
        sp = QVBoxLayout(seg_page)
        row = QHBoxLayout()
        row.addWidget(QLabel("Index of", self))
        row.addWidget(self.field_combo, 1)
        row.addWidget(refresh)
        sp.addLayout(row)
        sp.addWidget(self.summary)
        sp.addWidget(self.segments_note)
        split = QSplitter(Qt.Orientation.Vertical, seg_page)
        split.addWidget(self.table)
        split.addWidget(charts)
        split.setSizes([200, 420])
        self.split = split
        sp.addWidget(split, 1)
        sp.addWidget(self.index_note)
        sp.addStretch(0)  # takes the room when the backend shows neither segments nor index internals

        # recall explorer
        self.recall_field = QComboBox(self)
        self.k_spin = QSpinBox(self)
        self.k_spin.setRange(1, 1000)
        self.k_spin.setValue(10)
        self.q_spin = QSpinBox(self)
        self.q_spin.setRange(1, 10000)
        self.q_spin.setValue(50)
        self.ef_edit = QLineEdit("16, 32, 64, 128, 256", self)
        self.ef_edit.setObjectName("efValues")
        self.run_button = QPushButton("Run recall check", self)
        self.run_button.setObjectName("primary")
        self.run_button.clicked.connect(self.run_recall)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(lambda: self.recall_task.cancel() if self.recall_task else None)
        self.recall_bar = QProgressBar(self)
        self.recall_bar.setRange(0, 1)
        self.recall_status = QLabel(RECALL_HELP, self)
        self.recall_status.setObjectName("hint")
        self.recall_status.setWordWrap(True)
        self.recall_plot = _Chart("Recall against latency", "recall@k", "median latency (ms)")
        self.recall_plot.setMouseEnabled(x=True, y=True)
        self.recall_table = QTableWidget(0, 5, self)
        self.recall_table.setObjectName("recallTable")
        self.recall_table.setHorizontalHeaderLabels(["ef", "recall@k", "p50 ms", "p95 ms", "QPS"])
        self.recall_table.verticalHeader().hide()
        self.recall_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.recall_table.setMaximumHeight(180)
        rec_page = QWidget(self)
        rp = QVBoxLayout(rec_page)
        controls = QHBoxLayout()
        for w in (QLabel("Field", self), self.recall_field, QLabel("k", self), self.k_spin,
                  QLabel("queries", self), self.q_spin, QLabel("ef values", self)):
            controls.addWidget(w)
        controls.addWidget(self.ef_edit, 1)
        controls.addWidget(self.run_button)
        controls.addWidget(self.cancel_button)
        self.recall_note = QLabel("", self)  # why the recall check is not available, where it is not
        self.recall_note.setObjectName("warning")
        self.recall_note.setWordWrap(True)
        self.recall_note.hide()
        rp.addLayout(controls)
        rp.addWidget(self.recall_note)
        rp.addWidget(self.recall_bar)
        rp.addWidget(self.recall_status)
        rp.addWidget(self.recall_plot, 1)
        rp.addWidget(self.recall_table)
        rp.addStretch(0)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(seg_page, "Segments && index")
        self.tabs.addTab(rec_page, "Recall explorer")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(self.title)
        lay.addWidget(self.tabs, 1)
        self.theme_changed()
        ctx.currentCollectionChanged.connect(self.set_collection)
        ctx.dataChanged.connect(self._data_changed)
        ctx.infoChanged.connect(self._info_changed)
        ctx.databaseOpened.connect(lambda _where: self.apply_capabilities())
        self.apply_capabilities()
        self.set_collection(ctx.current)

    def apply_capabilities(self) -> None:
        """Show what the open backend can tell, and the reason in place of what it cannot."""
        seg_reason = self.ctx.why_not("segments") if self.ctx.backend is not None else None
        int_reason = self.ctx.why_not("index_internals") if self.ctx.backend is not None else None
        rec_reason = self.ctx.why_not("recall_check") if self.ctx.backend is not None else None
        self.segments_note.setText(f"Segments are not listed: {seg_reason}." if seg_reason else "")
        self.segments_note.setVisible(bool(seg_reason))
        for w in (self.table, self.rows_chart, self.deleted_chart):
            w.setVisible(not seg_reason)
        for w in (self.levels_chart, self.degree_chart):
            w.setVisible(not int_reason)
        self.charts.setVisible(not (seg_reason and int_reason))
        self.split.setVisible(not (seg_reason and int_reason))
        self.field_combo.setToolTip(f"Per-segment index statistics are not shown: {int_reason}" if int_reason
                                    else "The index whose per-segment statistics are charted")
        for w in (self.run_button, self.recall_field, self.k_spin, self.q_spin, self.ef_edit):
            w.setEnabled(not rec_reason)
            w.setToolTip(rec_reason or "")
        self.recall_note.setText(f"The recall check is not available: {rec_reason}." if rec_reason else "")
        self.recall_note.setVisible(bool(rec_reason))
        for w in (self.recall_bar, self.recall_status, self.recall_plot, self.recall_table, self.cancel_button):
            w.setVisible(not rec_reason)
        if not rec_reason and (self.recall_task is None or not self.recall_task.running):
            self.recall_status.setText(RECALL_HELP)

    def theme_changed(self) -> None:
        bg, fg = ("#17181b", "#d0d0d0") if is_dark() else ("#ffffff", "#30343b")
        for chart in (self.rows_chart, self.deleted_chart, self.levels_chart, self.degree_chart, self.recall_plot):
            chart.setBackground(bg)
            for axis in ("left", "bottom"):
                chart.getAxis(axis).setTextPen(fg)
                chart.getAxis(axis).setPen(fg)
            chart.getPlotItem().titleLabel.setText(chart.getPlotItem().titleLabel.text, color=fg)

    def _data_changed(self, name: str) -> None:
        if name == self.collection:
            self.refresh()

    def _info_changed(self) -> None:
        if self.ctx.current != self.collection:
            self.set_collection(self.ctx.current)
        else:
            self._fill_fields(keep=True)

    def set_collection(self, name: str) -> None:
        self.collection = name
        self.title.setText(f"Segments and indexes of {name}" if name else "Segments and indexes")
        self._fill_fields()
        self.refresh()

    def _fill_fields(self, keep: bool = False) -> None:
        info = self.ctx.collection(self.collection)
        old, old_recall = self.field_combo.currentData(), self.recall_field.currentData()
        self.field_combo.blockSignals(True)
        self.field_combo.clear()
        self.recall_field.clear()
        if info is not None and info.schema is not None:
            for path in info.vector_paths:
                ix = info.index_for(path)
                if ix is not None:
                    self.field_combo.addItem(f"{path} ({ix.index_type}, {ix.metric})", path)
                if "[" not in path:
                    self.recall_field.addItem(path, path)
        if self.field_combo.count() == 0:
            self.field_combo.addItem("(no vector index)", None)
        if keep:
            i = self.field_combo.findData(old)
            if i >= 0:
                self.field_combo.setCurrentIndex(i)
            j = self.recall_field.findData(old_recall)
            if j >= 0:
                self.recall_field.setCurrentIndex(j)
        self.field_combo.blockSignals(False)

    # --- segments ----------------------------------------------------------------------
    def refresh(self) -> Task | None:
        backend, coll = self.ctx.backend, self.collection
        if backend is None or not coll or self.ctx.collection(coll) is None:
            self.table.setRowCount(0)
            return None
        field = self.field_combo.currentData()
        task = Task(f"Inspect {coll}", lambda: gather_segments(backend, coll, field), generator=False,
                    show_in_jobs=False, parent=self)
        task.succeeded.connect(self._show)
        task.failed.connect(lambda e: self.summary.setText(plain_message(e)))
        self.task = task
        return task.start()

    def _show(self, data: dict[str, Any]) -> None:
        self.loads += 1
        self.data = data
        segs = data["segments"]
        self.table.setRowCount(len(segs))
        for r, s in enumerate(segs):
            rows = _n(s["num_rows"])
            deleted = s.get("deleted_rows")
            share = "—" if deleted is None else (f"{100.0 * deleted / rows:.1f}" if rows else "0.0")
            values = [str(s["segment_id"]), _text(s.get("partition")), str(s["state"]), f"{rows:,}",
                      _text(deleted, lambda v: f"{v:,}"), share, _text(s.get("size_bytes"), fmt_size),
                      ", ".join(f"{k}: {v}" for k, v in (s.get("index_states") or {}).items()) or "—",
                      ", ".join(str(x) for x in s.get("compaction_from") or []) or ""]
            for c, v in enumerate(values):
                item = QTableWidgetItem(v)
                if c in (3, 4, 5, 6):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        total = sum(_n(s["num_rows"]) for s in segs)
        dead = sum(_n(s.get("deleted_rows")) for s in segs)
        size = sum(_n(s.get("size_bytes")) for s in segs)
        sealed = sum(1 for s in segs if str(s["state"]) in ("Sealed", "Flushed"))
        if data.get("segments_missing"):
            info = self.ctx.collection(self.collection)
            parts = [f"{self.collection}: {info.rows_text}, {'loaded' if info.loaded else 'released'}"] if info else []
            for ix in info.indexes if info else []:
                parts.append(f"index on {ix.field}: {ix.index_type} {ix.metric} {ix.progress_text}".rstrip())
            self.summary.setText(" · ".join(parts) + ("." if parts else ""))
        elif all(s.get("deleted_rows") is not None for s in segs):
            self.summary.setText(f"{len(segs)} segment(s), {sealed} sealed · {total:,} rows stored, {dead:,} deleted "
                                 f"({100.0 * dead / total if total else 0:.1f} %) · {fmt_size(size)} on disk. "
                                 "Compaction purges deleted rows and merges small segments.")
        else:
            self.summary.setText(f"{len(segs)} segment(s), {sealed} sealed · {total:,} rows stored. "
                                 f"{self.ctx.label} does not report deleted rows or sizes per segment.")
        xs = list(range(len(segs)))
        labels = [str(s["segment_id"]) for s in segs]
        self.rows_chart.bars(xs, [_n(s["num_rows"]) for s in segs], "#2b5fd9", labels)
        self.deleted_chart.bars(xs, [_n(s.get("deleted_rows")) / max(_n(s["num_rows"]), 1) for s in segs],
                                "#d9480f", labels, y_range=(0.0, 1.0))
        stats = data["stats"]
        levels, degrees = merge_level_counts(stats), merge_degrees(stats)
        self.levels_chart.bars(list(range(len(levels))), levels, "#6a3fc7", [str(i) for i in range(len(levels))],
                               log=True)
        self.degree_chart.bars(list(range(len(degrees))), degrees, "#2e8b57")
        if data.get("internals_missing"):
            self.index_note.setText(f"HNSW levels and degrees are not shown: {data['internals_missing']}.")
        elif data.get("stats_error"):
            self.index_note.setText(data["stats_error"])
        elif stats:
            kinds = {str(s.get("index_type") or s.get("class")) for s in stats}
            mem = sum(int(s.get("memory_bytes", 0)) for s in stats)
            mean_deg = [float(s["mean_degree"]) for s in stats if "mean_degree" in s]
            extra = f", mean layer-0 degree {np.mean(mean_deg):.1f}" if mean_deg else ""
            self.index_note.setText(f"{data['field']}: {len(stats)} segment index(es) ({', '.join(sorted(kinds))}), "
                                    f"{fmt_size(mem)} in memory{extra}." +
                                    ("" if levels else " Level and degree charts are for HNSW indexes."))
        else:
            self.index_note.setText("No built index for this field yet (growing rows are searched exactly; "
                                    "Collection › Flush seals them).")

    # --- recall ------------------------------------------------------------------------
    def ef_values(self) -> tuple[int, ...]:
        out = []
        for part in self.ef_edit.text().replace(";", ",").split(","):
            part = part.strip()
            if part.isdigit() and int(part) > 0:
                out.append(int(part))
        return tuple(sorted(set(out)))

    def run_recall(self) -> Task | None:
        backend, coll, field = self.ctx.backend, self.collection, self.recall_field.currentData()
        efs = self.ef_values()
        reason = self.ctx.why_not("recall_check") if backend is not None else None
        if reason:
            self.recall_note.setText(f"The recall check is not available: {reason}.")
            self.recall_note.show()
            return None
        if backend is None or not field:
            self.recall_status.setText("Choose a collection with a top-level vector field.")
            return None
        if not efs:
            self.recall_status.setText("Type one or more ef values, e.g. 16, 32, 64.")
            return None
        k, nq = self.k_spin.value(), self.q_spin.value()
        efs = tuple(max(e, k) for e in efs)
        task = Task(f"Recall check of {coll}.{field}", lambda: recall_events(backend, coll, field, k, efs, nq),
                    parent=self)
        task.progress.connect(self._recall_progress)
        task.succeeded.connect(self._recall_done)
        task.failed.connect(lambda e: self._recall_end(plain_message(e)))
        task.cancelled.connect(lambda: self._recall_end("Cancelled."))
        self.recall_task = task
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.recall_bar.setRange(0, 0)
        self.recall_status.setText("Running…")
        self.ctx.run(task)
        return task

    def _recall_progress(self, ev: dict[str, Any]) -> None:
        self.recall_bar.setRange(0, int(ev["total"]))
        self.recall_bar.setValue(int(ev["done"]))
        self.recall_status.setText(str(ev.get("text", "")))

    def _recall_end(self, text: str) -> None:
        self.run_button.setEnabled(not self.ctx.why_not("recall_check"))
        self.cancel_button.setEnabled(False)
        if self.recall_bar.maximum() == 0:
            self.recall_bar.setRange(0, 1)
        self.recall_status.setText(text)

    def _recall_done(self, results: list[Any]) -> None:
        self.recall_results = list(results or [])
        self._recall_end(f"recall@{self.k_spin.value()} at {len(self.recall_results)} ef values "
                         f"({self.q_spin.value()} sample queries).")
        self.recall_bar.setValue(self.recall_bar.maximum())
        self.recall_table.setRowCount(len(self.recall_results))
        for r, p in enumerate(self.recall_results):
            for c, v in enumerate((str(p.ef), f"{p.recall:.3f}", f"{p.p50_ms:.2f}", f"{p.p95_ms:.2f}",
                                   f"{p.qps:,.0f}")):
                self.recall_table.setItem(r, c, QTableWidgetItem(v))
        plot = self.recall_plot
        plot.clear()
        if not self.recall_results:
            return
        xs = [p.p50_ms for p in self.recall_results]
        ys = [p.recall for p in self.recall_results]
        plot.plot(xs, ys, pen=pg.mkPen("#2b5fd9", width=2), symbol="o", symbolBrush="#2b5fd9", symbolSize=9)
        for p in self.recall_results:
            label = pg.TextItem(f"ef {p.ef}", anchor=(0, 1), color="#888888")
            label.setPos(p.p50_ms, p.recall)
            plot.addItem(label)
        plot.setYRange(min(0.0, min(ys)) if min(ys) < 0.5 else max(0.0, min(ys) - 0.05), 1.02)

    def shutdown(self) -> None:
        if self.recall_task is not None:
            self.recall_task.cancel()
