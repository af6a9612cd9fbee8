"""The recall explorer: recall@k of an index against exact search, over its search parameter.

`recall_events` runs the backend's `recall_check_iter` on a worker (cancellable): sample queries
are searched exactly and through the index at each value of the parameter the field's index type
takes (`ef` for HNSW, `nprobe` for IVF; an exact index is measured once), on top-level vector fields
and MAX_SIM sub-fields alike. The chart plots recall@k against median latency.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.context import AppContext, CollectionInfo, search_param_for
from ui.inspector.charts import Chart
from ui.shared.errors import plain_message
from ui.shared.workers import Task

RECALL_HELP = ("Sample queries are run exactly and through the index; recall@k is the share of the exact top k "
               "that the index finds.")
SWEEPS = {"ef": "16, 32, 64, 128, 256", "nprobe": "1, 2, 4, 8, 16, 32"}


def label_groups(points: list[Any], xspan: float, yspan: float, near: float = 0.06) -> list[tuple[float, float, str]]:
    """One label per cluster of points that would print over each other: "ef 16, 64" at the first point."""
    out: list[tuple[float, float, list[str], str]] = []
    for p in sorted(points, key=lambda p: (p.p50_ms, p.ef)):
        name = getattr(p, "param", "ef") or ""
        for g in out:
            if g[3] == name and abs(p.p50_ms - g[0]) <= near * xspan and abs(p.recall - g[1]) <= near * yspan:
                g[2].append(str(p.ef))
                break
        else:
            out.append((p.p50_ms, p.recall, [str(p.ef)], name))
    return [(x, y, f"{name} {', '.join(vals)}" if name else "exact") for x, y, vals, name in out]


def recall_events(backend: Any, collection: str, field: str, k: int, efs: tuple[int, ...],
                  n_queries: int) -> Any:
    results: list[Any] = []
    for ev in backend.recall_check_iter(collection, field, k=k, ef_values=efs, n_queries=n_queries):
        if "results" in ev:
            results = list(ev["results"])
        yield {"done": ev["done"], "total": ev["total"], "text": f"{ev['done']}/{ev['total']} queries"}
    return results


class RecallExplorer(QWidget):
    """Field, k, number of queries and the values to sweep; Run, Cancel, the chart and the table."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.collection = ""
        self.recall_results: list[Any] = []
        self.recall_task: Task | None = None
        self.recall_field = QComboBox(self)
        self.recall_field.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.k_spin = QSpinBox(self)
        self.k_spin.setRange(1, 1000)
        self.k_spin.setValue(10)
        self.q_spin = QSpinBox(self)
        self.q_spin.setRange(1, 10000)
        self.q_spin.setValue(50)
        self.ef_edit = QLineEdit(SWEEPS["ef"], self)
        self.ef_edit.setObjectName("efValues")
        self.values_label = QLabel("ef values", self)
        self.recall_field.currentIndexChanged.connect(lambda _i: self._recall_field_changed())
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
        self.recall_plot = Chart("Recall against latency", "recall@k", "median latency (ms)")
        self.recall_plot.setMouseEnabled(x=True, y=True)
        self.recall_table = QTableWidget(0, 5, self)
        self.recall_table.setObjectName("recallTable")
        self.recall_table.setHorizontalHeaderLabels(["ef", "recall@k", "p50 ms", "p95 ms", "QPS"])
        self.sweep_param = "ef"  # the search parameter of the chosen field's index
        self.recall_table.verticalHeader().hide()
        self.recall_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.recall_table.setMaximumHeight(180)
        rp = QVBoxLayout(self)
        controls = QHBoxLayout()
        for w in (QLabel("Field", self), self.recall_field, QLabel("k", self), self.k_spin,
                  QLabel("queries", self), self.q_spin, self.values_label):
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

    def apply_capabilities(self) -> None:
        """Disabled, with the reason, where the backend has no recall check."""
        rec_reason = self.ctx.why_not("recall_check") if self.ctx.backend is not None else None
        for w in (self.run_button, self.recall_field, self.k_spin, self.q_spin, self.ef_edit):
            w.setEnabled(not rec_reason)
            w.setToolTip(rec_reason or "")
        self.recall_note.setText(f"The recall check is not available: {rec_reason}." if rec_reason else "")
        self.recall_note.setVisible(bool(rec_reason))
        for w in (self.recall_bar, self.recall_status, self.recall_plot, self.recall_table, self.cancel_button):
            w.setVisible(not rec_reason)
        if not rec_reason and (self.recall_task is None or not self.recall_task.running):
            self.recall_status.setText(RECALL_HELP)

    def bind(self, name: str) -> None:
        """Another collection (or database): stop a running check and forget the last results."""
        if self.recall_task is not None and self.recall_task.running:
            self.recall_task.cancel()
        self.recall_task = None
        self.collection = name
        self._clear_recall()

    def fill_fields(self, info: CollectionInfo | None, keep: bool = False) -> None:
        """The collection's vector fields, each with the parameter its index sweeps."""
        old = self.recall_field.currentData()
        self.recall_field.blockSignals(True)
        self.recall_field.clear()
        if info is not None and info.schema is not None:
            for path in info.stored_vector_paths:  # a BM25 output has no stored vectors to query with
                ix = info.index_for(path)
                kind = search_param_for(ix.index_type if ix is not None else "FLAT")
                self.recall_field.addItem(f"{path} ({kind or 'exact'})", path)
        if keep:
            j = self.recall_field.findData(old)
            if j >= 0:
                self.recall_field.setCurrentIndex(j)
        self.recall_field.blockSignals(False)
        self._recall_field_changed()

    def _recall_field_changed(self) -> None:
        """Name the parameter the chosen field's index sweeps, with values that suit it."""
        info = self.ctx.collection(self.collection)
        path = self.recall_field.currentData()
        ix = info.index_for(path) if info is not None and path else None
        param = search_param_for(ix.index_type if ix is not None else "FLAT") if path else "ef"
        if param != self.sweep_param:
            self.sweep_param = param
            self.ef_edit.setText(SWEEPS.get(param, ""))
        self.values_label.setText(f"{param} values" if param else "exact index:")
        self.ef_edit.setEnabled(bool(param) and not self.ctx.why_not("recall_check"))
        self.ef_edit.setToolTip("" if param else "An exact index has no search parameter: it is measured once")

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
            self.recall_status.setText("Choose a collection with a vector field.")
            return None
        param = self.sweep_param
        if not efs and param:
            self.recall_status.setText(f"Type one or more {param} values, e.g. {SWEEPS[param]}.")
            return None
        k, nq = self.k_spin.value(), self.q_spin.value()
        if param == "ef":
            efs = tuple(sorted({max(e, k) for e in efs}))  # ef below k is searched as ef = k
        task = Task(f"Recall check of {coll}.{field}", lambda: recall_events(backend, coll, field, k, efs, nq),
                    parent=self)
        task.progress.connect(lambda ev, t=task: self._recall_progress(ev) if t is self.recall_task else None)
        task.succeeded.connect(lambda res, t=task: self._recall_done(res) if t is self.recall_task else None)
        task.failed.connect(lambda e, t=task: self._recall_end(plain_message(e)) if t is self.recall_task else None)
        task.cancelled.connect(lambda t=task: self._recall_end("Cancelled.") if t is self.recall_task else None)
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

    def _clear_recall(self) -> None:
        self.recall_results = []
        self.recall_table.setRowCount(0)
        self.recall_plot.reset()
        self.recall_bar.setRange(0, 1)
        self.recall_bar.setValue(0)
        self.run_button.setEnabled(not self.ctx.why_not("recall_check") if self.ctx.backend is not None else False)
        self.cancel_button.setEnabled(False)
        self.recall_status.setText(RECALL_HELP)

    def _recall_done(self, results: list[Any]) -> None:
        self.recall_results = list(results or [])
        param = getattr(self.recall_results[0], "param", "ef") if self.recall_results else self.sweep_param
        where = f"at {len(self.recall_results)} {param} values" if param else "of the exact index"
        self._recall_end(f"recall@{self.k_spin.value()} {where} ({self.q_spin.value()} sample queries).")
        self.recall_table.setHorizontalHeaderLabels([param or "setting", "recall@k", "p50 ms", "p95 ms", "QPS"])
        self.recall_bar.setValue(self.recall_bar.maximum())
        self.recall_table.setRowCount(len(self.recall_results))
        for r, p in enumerate(self.recall_results):
            for c, v in enumerate((str(p.ef) if param else "exact", f"{p.recall:.3f}", f"{p.p50_ms:.2f}", f"{p.p95_ms:.2f}",
                                   f"{p.qps:,.0f}")):
                self.recall_table.setItem(r, c, QTableWidgetItem(v))
        plot = self.recall_plot
        plot.clear()
        if not self.recall_results:
            return
        xs = [p.p50_ms for p in self.recall_results]
        ys = [p.recall for p in self.recall_results]
        plot.plot(xs, ys, pen=pg.mkPen("#2b5fd9", width=2), symbol="o", symbolBrush="#2b5fd9", symbolSize=9)
        low = min(0.0, min(ys)) if min(ys) < 0.5 else max(0.0, min(ys) - 0.05)
        xspan = max(max(xs) - min(xs), 1e-9)
        right = max(xs) - 0.25 * xspan
        for i, (x, y, text) in enumerate(label_groups(self.recall_results, xspan, 1.02 - low)):
            # alternately above and below the line; towards the right edge, to the left of the point
            label = pg.TextItem(text, anchor=(1.0 if x > right else 0.0, 1 if i % 2 == 0 else 0), color="#888888")
            label.setPos(x, y)
            plot.addItem(label)
        plot.enableAutoRange(x=True)
        plot.setYRange(low, 1.02)

    def shutdown(self) -> None:
        if self.recall_task is not None:
            self.recall_task.cancel()
