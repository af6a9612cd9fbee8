"""Segments and index inspector: the segments table, charts, and a recall explorer.

Charts (pyqtgraph): rows per segment, deleted ratio per segment, HNSW level
counts and the layer-0 degree histogram of the chosen field's index. The
recall explorer runs the engine's `recall_check_iter` on a worker (cancellable),
sweeping the search parameter of the field's index type (`ef` for HNSW, `nprobe`
for IVF; an exact index is measured once), on top-level and MAX_SIM fields alike,
and plots recall@k against median latency.

Each part asks the backend's capabilities first: segment listings need
"segments", the level and degree charts "index_internals", the recall explorer
"recall_check". Where the backend lacks one, the part is replaced by the
reason (`capabilities.why_not`) instead of failing.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.context import AppContext
from ui.inspector.charts import Chart, style_charts
from ui.inspector.recall_explorer import RecallExplorer
from ui.shared.errors import plain_message
from ui.shared.text import plural
from ui.shared.workers import Task

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


class Inspector(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.collection = ""
        self.data: dict[str, Any] = {}
        self.task: Task | None = None
        self.loads = 0
        self._bound: tuple[Any, str] = (None, "")

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
        self.rows_chart = Chart("Rows per segment", "rows", "segment")
        self.deleted_chart = Chart("Deleted ratio", "deleted / rows", "segment")
        self.levels_chart = Chart("HNSW level counts", "nodes (log10)", "level")
        self.degree_chart = Chart("Layer-0 degree histogram", "nodes", "neighbours")
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

        self.recall = RecallExplorer(ctx, self)  # the second tab

        self.tabs = QTabWidget(self)
        self.tabs.addTab(seg_page, "Segments && index")
        self.tabs.addTab(self.recall, "Recall explorer")
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
        self.recall.apply_capabilities()

    def theme_changed(self) -> None:
        style_charts(self.rows_chart, self.deleted_chart, self.levels_chart, self.degree_chart, self.recall.recall_plot)

    def _data_changed(self, name: str) -> None:
        if name == self.collection:
            self.refresh()

    def _info_changed(self) -> None:
        if self.ctx.current != self.collection:
            self.set_collection(self.ctx.current)
        else:
            self._fill_fields(keep=True)

    def set_collection(self, name: str) -> None:
        """The one place the inspector is bound to a collection: another collection (or database)
        clears the segments, the charts and the recall explorer's results before reading anew."""
        bound = (self.ctx.backend, name)
        if bound != self._bound:
            self._bound = bound
            self.data = {}
            self.table.setRowCount(0)
            self.summary.setText("")
            self.index_note.setText("")
            for chart in (self.rows_chart, self.deleted_chart, self.levels_chart, self.degree_chart):
                chart.reset()
            self.recall.bind(name)
        self.collection = name
        self.title.setText(f"Segments and indexes of {name}" if name else "Segments and indexes")
        self._fill_fields()
        self.refresh()

    def _fill_fields(self, keep: bool = False) -> None:
        info = self.ctx.collection(self.collection)
        old = self.field_combo.currentData()
        self.field_combo.blockSignals(True)
        self.field_combo.clear()
        if info is not None and info.schema is not None:
            for path in info.vector_paths:
                ix = info.index_for(path)
                if ix is not None:
                    self.field_combo.addItem(f"{path} ({ix.index_type}, {ix.metric})", path)
        if self.field_combo.count() == 0:
            self.field_combo.addItem("(no vector index)", None)
        if keep:
            i = self.field_combo.findData(old)
            if i >= 0:
                self.field_combo.setCurrentIndex(i)
        self.field_combo.blockSignals(False)
        self.recall.fill_fields(info, keep)

    # --- segments ----------------------------------------------------------------------
    def refresh(self) -> Task | None:
        backend, coll = self.ctx.backend, self.collection
        if backend is None or not coll or self.ctx.collection(coll) is None:
            self.table.setRowCount(0)
            return None
        field = self.field_combo.currentData()
        task = Task(f"Inspect {coll}", lambda: gather_segments(backend, coll, field), generator=False,
                    show_in_jobs=False, parent=self)
        task.succeeded.connect(lambda data, t=task: self._show(data) if t is self.task else None)
        task.failed.connect(lambda e, t=task: self.summary.setText(plain_message(e)) if t is self.task else None)
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
            self.summary.setText(f"{plural(len(segs), 'segment')}, {sealed} sealed · {total:,} rows stored, {dead:,} deleted "
                                 f"({100.0 * dead / total if total else 0:.1f} %) · {fmt_size(size)} on disk. "
                                 "Compaction purges deleted rows and merges small segments.")
        else:
            self.summary.setText(f"{plural(len(segs), 'segment')}, {sealed} sealed · {total:,} rows stored. "
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
            self.index_note.setText(f"{data['field']}: {plural(len(stats), 'segment index', 'segment indexes')} ({', '.join(sorted(kinds))}), "
                                    f"{fmt_size(mem)} in memory{extra}." +
                                    ("" if levels else " Level and degree charts are for HNSW indexes."))
        else:
            self.index_note.setText("No built index for this field yet (growing rows are searched exactly; "
                                    "Collection › Flush seals them).")

    def shutdown(self) -> None:
        self.recall.shutdown()
