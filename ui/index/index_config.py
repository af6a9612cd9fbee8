"""Index configuration: index type, metric and parameters per vector field, and the build.

Struct vector sub-fields (`struct[sub]`) take MAX_SIM metrics. Every parameter
shows what it does and its valid range (the engine's own limits, from
`engine/index/factory.py`). Only the index types the open backend builds are
offered (`capabilities.index_types`). The build runs on a worker through the
backend's `create_index_iter`; the bar shows the whole build (the engine goes
segment by segment, in chunks of vectors) and Cancel closes the generator, after
which nothing of the unfinished step is committed. The state shown is always the
backend's own (`list_indexes`): an index whose build was cancelled or killed reads
"not built", with the reason and a "Build now" button.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

import ui.shared.dialogs as dialogs
from ui.context import AppContext, CollectionInfo, IndexInfo
from ui.shared.errors import plain_message
from ui.shared.workers import Task

INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class ParamSpec:
    name: str
    low: int
    high: int
    default: int
    help: str


HNSW_PARAMS = (
    ParamSpec("M", 2, 2048, 16, "Links per node on each layer of the graph. More links: higher recall and "
              "more memory; 8–64 is usual."),
    ParamSpec("efConstruction", 1, INT32_MAX, 200, "Candidates kept while inserting a node. Larger builds a "
              "better graph, slowly; 100–500 is usual."),
)
IVF_PARAMS = (
    ParamSpec("nlist", 1, 65536, 128, "Number of k-means clusters. About 4 × √rows is a good start; searches "
              "then visit `nprobe` clusters (default 8)."),
)
INDEX_TYPES: dict[str, tuple[str, tuple[ParamSpec, ...]]] = {
    "AUTOINDEX": ("HNSW with Milvus's own defaults (M=18, efConstruction=240); exact BIN_FLAT for binary "
                  "vectors. The safe choice.", ()),
    "HNSW": ("A graph: fast, high recall, the most memory. Search breadth is `ef` (default 64, at least the "
             "limit).", HNSW_PARAMS),
    "IVF_FLAT": ("Clusters the vectors and scans the nearest `nprobe` clusters. Less memory than HNSW, lower "
                 "recall at the same speed.", IVF_PARAMS),
    "FLAT": ("Exact search over every vector. Perfect recall; fine up to ~100k vectors.", ()),
    "BIN_FLAT": ("Exact search over binary vectors.", ()),
    "BIN_IVF_FLAT": ("Clustered search over binary vectors.", IVF_PARAMS),
    "IVF_SQ8": ("IVF with each vector stored as 8-bit scalars: a quarter of IVF_FLAT's memory, slightly lower "
                "recall (Milvus).", IVF_PARAMS),
    "HNSW_SQ": ("HNSW over 8-bit scalar-quantised vectors: less memory than HNSW, slightly lower recall "
                "(Milvus).", HNSW_PARAMS),
    "SPARSE_INVERTED_INDEX": ("An inverted index over the non-zero dimensions of sparse vectors (Milvus).", ()),
    "SPARSE_WAND": ("An inverted index with WAND pruning for sparse vectors (Milvus).", ()),
}
METRIC_HELP = {
    "COSINE": "cosine similarity, larger is closer (CLIP embeddings)",
    "IP": "inner product, larger is closer (for normalised vectors, the same order as cosine)",
    "L2": "squared Euclidean distance, smaller is closer",
    "HAMMING": "number of differing bits",
    "JACCARD": "1 − |a∧b| / |a∨b|",
    "MAX_SIM_COSINE": "per entity: the sum over query vectors of the best cosine among its elements",
    "MAX_SIM_IP": "as MAX_SIM_COSINE with inner products",
    "MAX_SIM_L2": "as MAX_SIM_COSINE with squared L2 distances (smaller is closer)",
}


def choices_for(info: CollectionInfo, path: str,
                index_types: Iterable[str] | None = None) -> tuple[list[str], list[str]]:
    """(index types, metrics) that fit the field at `path` (and that the backend builds, when
    `index_types` is given: `capabilities.index_types`)."""
    top, sub = info.schema.resolve_vector_path(path)
    if sub is not None:
        types, metrics = ["AUTOINDEX", "HNSW"], ["MAX_SIM_COSINE", "MAX_SIM_IP", "MAX_SIM_L2"]
    elif top.dtype.name == "BINARY_VECTOR":
        types, metrics = ["AUTOINDEX", "BIN_FLAT", "BIN_IVF_FLAT"], ["HAMMING", "JACCARD"]
    elif top.dtype.name == "SPARSE_FLOAT_VECTOR":
        types, metrics = ["AUTOINDEX", "SPARSE_INVERTED_INDEX", "SPARSE_WAND"], ["IP"]
    else:
        types, metrics = ["AUTOINDEX", "HNSW", "IVF_FLAT", "FLAT", "IVF_SQ8", "HNSW_SQ"], ["COSINE", "IP", "L2"]
    if index_types is not None:
        allowed = set(index_types)
        types = [t for t in types if t in allowed]
    else:
        from workbench.backends import ENGINE_INDEX_TYPES

        types = [t for t in types if t in ENGINE_INDEX_TYPES]
    return types, metrics


def state_word(ix: IndexInfo) -> str:
    """"built", "building" or "not built", from the backend's state."""
    if ix.built:
        return "built"
    return "building" if ix.state == "InProgress" else "not built"


def _rows_of(backend: Any, collection: str, path: str) -> tuple[int | None, int | None]:
    """(indexed, pending) rows of the index on `path`, as the backend reports them."""
    ix = next((i for i in backend.list_indexes(collection) if i.field_name == path), None)
    if ix is None:
        return None, None
    return ix.indexed_rows, ix.pending_index_rows


def _with_rows(ev: dict[str, Any], indexed: int | None, pending: int | None) -> dict[str, Any]:
    if indexed is not None:
        ev["indexed"], ev["pending"] = int(indexed), int(pending or 0)
    return ev


def build_events(backend: Any, collection: str, path: str, index_type: str, metric: str,
                 params: dict[str, Any], replace: str | None) -> Iterator[dict[str, Any]]:
    """Drop the old index (if asked), record and build the new one; yield progress with indexed/pending rows."""
    if replace:
        yield {"done": 0, "total": 0, "text": f"dropping index {replace}"}
        backend.drop_index(collection, replace)
    spec = {"field_name": path, "index_type": index_type, "metric_type": metric, "params": dict(params)}
    last_poll = 0.0
    indexed: int | None = None
    pending: int | None = None
    yield {"done": 0, "total": 0, "text": "recording the index"}
    for ev in backend.create_index_iter(collection, [spec]):
        if ev.indexed_rows is not None:
            indexed, pending = ev.indexed_rows, ev.pending_rows
        else:
            now = time.monotonic()
            if now - last_poll > 0.3:
                last_poll = now
                indexed, pending = _rows_of(backend, collection, path)
        # the whole build in thousandths: the steps (segments) done plus the share of the current one
        yield _with_rows({"done": round(1000 * ev.fraction), "total": 1000 if ev.total or ev.steps else 0,
                          "text": ev.text}, indexed, pending)
    indexed, pending = _rows_of(backend, collection, path)
    yield _with_rows({"done": 1000, "total": 1000, "text": "built"}, indexed, pending)


class IndexConfig(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.collection = ""
        self.task: Task | None = None
        self.param_spins: dict[str, QSpinBox] = {}

        self.title = QLabel("Index configuration", self)
        self.title.setObjectName("title")
        self.fields = QListWidget(self)
        self.fields.setObjectName("vectorFields")
        self.fields.currentItemChanged.connect(lambda *_: self._field_changed())
        self.current_label = QLabel("", self)
        self.current_label.setWordWrap(True)
        self.state_label = QLabel("", self)  # the backend's own state of the selected field's index
        self.state_label.setObjectName("indexState")
        self.state_label.setWordWrap(True)
        self.build_now_button = QPushButton("Build now", self)
        self.build_now_button.setObjectName("buildNow")
        self.build_now_button.setToolTip("Build the rows this index does not cover yet, with its own settings")
        self.build_now_button.clicked.connect(self.build_now)
        self.build_now_button.hide()
        self.type_combo = QComboBox(self)
        self.type_combo.setObjectName("indexType")
        self.type_combo.currentTextChanged.connect(self._type_changed)
        self.type_help = QLabel("", self)
        self.type_help.setObjectName("hint")
        self.type_help.setWordWrap(True)
        self.metric_combo = QComboBox(self)
        self.metric_combo.setObjectName("metric")
        self.metric_combo.currentTextChanged.connect(
            lambda m: self.metric_help.setText(METRIC_HELP.get(m, "")))
        self.metric_help = QLabel("", self)
        self.metric_help.setObjectName("hint")
        self.metric_help.setWordWrap(True)
        self.params_box = QGroupBox("Build parameters", self)
        self.params_form = QFormLayout(self.params_box)
        self.build_button = QPushButton("Build index", self)
        self.build_button.setObjectName("primary")
        self.build_button.clicked.connect(self.build)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.progress_label = QLabel("", self)
        self.progress_label.setObjectName("hint")
        self.error_label = QLabel("", self)
        self.error_label.setObjectName("error")
        self.error_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Index type", self.type_combo)
        form.addRow("", self.type_help)
        form.addRow("Metric", self.metric_combo)
        form.addRow("", self.metric_help)
        right = QVBoxLayout()
        right.addWidget(self.current_label)
        state_row = QHBoxLayout()
        state_row.addWidget(self.state_label, 1)
        state_row.addWidget(self.build_now_button)
        right.addLayout(state_row)
        right.addLayout(form)
        right.addWidget(self.params_box)
        brow = QHBoxLayout()
        brow.addWidget(self.build_button)
        brow.addWidget(self.cancel_button)
        brow.addStretch(1)
        right.addLayout(brow)
        right.addWidget(self.bar)
        right.addWidget(self.progress_label)
        right.addWidget(self.error_label)
        right.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(QLabel("Vector fields", self))
        left.addWidget(self.fields, 1)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addLayout(right, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(self.title)
        lay.addLayout(body, 1)
        self._bound: tuple[Any, str] = (None, "")
        ctx.currentCollectionChanged.connect(self.set_collection)
        ctx.infoChanged.connect(self._info_changed)
        ctx.databaseOpened.connect(lambda _where: self.set_collection(self.ctx.current))
        self.set_collection(ctx.current)

    def _info_changed(self) -> None:
        self.set_collection(self.ctx.current, keep=True)

    def info(self) -> CollectionInfo | None:
        return self.ctx.collection(self.collection)

    def set_collection(self, name: str, keep: bool = False) -> None:
        if self.task is not None and self.task.running:
            return
        bound = (self.ctx.backend, name)
        if bound != self._bound:  # another collection or database: nothing of the last one stays
            self._bound = bound
            keep = False
            self.bar.setRange(0, 1)
            self.bar.setValue(0)
            self.progress_label.setText("")
            self.error_label.setText("")
        keep_path = self.current_path() if keep and name == self.collection else ""
        self.collection = name
        self.title.setText(f"Indexes of {name}" if name else "Index configuration")
        self.fields.blockSignals(True)
        self.fields.clear()
        info = self.info()
        for path in (info.vector_paths if info is not None and info.schema is not None else []):
            ix = info.index_for(path)
            text = (f"{path}    {ix.index_type} · {ix.metric} · {state_word(ix)}" if ix
                    else f"{path}    (no index: exact)")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.fields.addItem(item)
        self.fields.blockSignals(False)
        if self.fields.count():
            self.select_field(keep_path or str(self.fields.item(0).data(Qt.ItemDataRole.UserRole)))
        else:
            self._field_changed()

    def select_field(self, path: str) -> None:
        for i in range(self.fields.count()):
            if self.fields.item(i).data(Qt.ItemDataRole.UserRole) == path:
                self.fields.setCurrentRow(i)
                return

    def current_path(self) -> str:
        it = self.fields.currentItem()
        return str(it.data(Qt.ItemDataRole.UserRole)) if it is not None else ""

    def _field_changed(self) -> None:
        info, path = self.info(), self.current_path()
        if info is None or not path:
            self.current_label.setText("No vector field selected.")
            self.build_button.setEnabled(False)
            self._show_state(None)
            return
        caps = self.ctx.capabilities
        types, metrics = choices_for(info, path, caps.index_types if caps is not None else None)
        ix = info.index_for(path)
        if not types:
            self.type_combo.clear()
            self.metric_combo.clear()
            self.current_label.setText(f"<b>{path}</b>: {self.ctx.label} builds none of the index types the "
                                       "workbench knows for this field.")
            self.build_button.setEnabled(False)
            return
        self.type_combo.blockSignals(True)
        self.type_combo.clear()
        self.type_combo.addItems(types)
        self.type_combo.setCurrentText(ix.index_type if ix and ix.index_type in types else types[0])
        self.type_combo.blockSignals(False)
        self.metric_combo.clear()
        self.metric_combo.addItems(metrics)
        if ix and ix.metric in metrics:
            self.metric_combo.setCurrentText(ix.metric)
        self._type_changed(self.type_combo.currentText(), existing=ix.params if ix else None)
        self._show_state(ix)
        if ix:
            self.current_label.setText(
                f"<b>{path}</b> has index <b>{ix.name}</b>: {ix.index_type} · {ix.metric} · params {ix.params}. "
                "Building with other settings replaces it.")
        elif self.ctx.is_embedded:
            self.current_label.setText(f"<b>{path}</b> has no index: it is searched exactly.")
        else:
            self.current_label.setText(f"<b>{path}</b> has no index: {self.ctx.label} cannot load or search the "
                                       "collection until it has one.")
        self.build_button.setEnabled(True)

    def _type_changed(self, index_type: str, existing: dict[str, Any] | None = None) -> None:
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self.param_spins = {}
        help_text, specs = INDEX_TYPES.get(index_type, ("", ()))
        self.type_help.setText(help_text)
        for spec in specs:
            spin = QSpinBox(self.params_box)
            spin.setObjectName(f"param_{spec.name}")
            spin.setRange(spec.low, min(spec.high, INT32_MAX))
            value = spec.default
            if existing and spec.name in existing:
                try:
                    value = int(existing[spec.name])
                except (TypeError, ValueError):
                    pass
            spin.setValue(value)
            hint = QLabel(f"{spec.help} Valid: {spec.low:,}–{spec.high:,}; default {spec.default}.",
                          self.params_box)
            hint.setObjectName("hint")
            hint.setWordWrap(True)
            self.params_form.addRow(spec.name, spin)
            self.params_form.addRow("", hint)
            self.param_spins[spec.name] = spin
        if not specs:
            none = QLabel("No build parameters.", self.params_box)
            none.setObjectName("hint")
            self.params_form.addRow(none)

    def _show_state(self, ix: IndexInfo | None) -> None:
        """The backend's own state of the selected field's index, and the bar at its indexed rows."""
        building = self.task is not None and self.task.running
        self.build_now_button.setVisible(False)
        if ix is None:
            self.state_label.setText("")
            return
        total = (ix.indexed_rows or 0) + (ix.pending_rows or 0) if ix.indexed_rows is not None else None
        rows = f"{ix.indexed_rows:,} of {total:,} rows indexed" if total is not None else ""
        if ix.built:
            text = f"Built{': ' + rows if rows else ''}."
            if ix.pending_rows:
                text += " Rows not yet flushed are searched exactly until they are sealed."
        elif ix.state == "InProgress":
            text = f"Building{': ' + rows if rows else ''}" + ("." if building else " (by another job or process).")
        else:
            reason = ix.reason[:1].upper() + ix.reason[1:] + ". " if ix.reason else ""
            text = (f"Not built ({ix.state}){': ' + rows if rows else ''}. {reason}"
                    "Unindexed rows are searched exactly.")
            self.build_now_button.setVisible(not building)
        self.state_label.setText(text)
        if not building and total:
            self.bar.setRange(0, total)
            self.bar.setValue(ix.indexed_rows or 0)

    def params(self) -> dict[str, int]:
        return {k: s.value() for k, s in self.param_spins.items()}

    def build_now(self) -> Task | None:
        """Build what the selected field's existing index does not cover yet (after a cancel or a kill)."""
        info, path = self.info(), self.current_path()
        ix = info.index_for(path) if info is not None and path else None
        if ix is None or self.ctx.backend is None:
            return None
        return self._start(path, ix.index_type, ix.metric, dict(ix.params), None)

    def build(self) -> Task | None:
        info, path = self.info(), self.current_path()
        if info is None or not path or self.ctx.backend is None:
            return None
        ix = info.index_for(path)
        index_type, metric, params = self.type_combo.currentText(), self.metric_combo.currentText(), self.params()
        if ix is not None and not ix.built and (ix.index_type, ix.metric, ix.params) == (index_type, metric, params):
            return self._start(path, index_type, metric, params, None)  # the same index: build what is missing
        while_text = ("Searches stay correct while it rebuilds." if self.ctx.is_embedded else
                      f"{self.ctx.label} releases the collection to drop the old index; it is loaded again when "
                      "the new one is built.")
        if ix is not None and not dialogs.confirm(
                self, "Replace the index", f"Replace index {ix.name!r} on {path} ({ix.index_type}, {ix.metric})? "
                f"{while_text}", "Replace"):
            return None
        return self._start(path, index_type, metric, params, ix.name if ix else None)

    def _start(self, path: str, index_type: str, metric: str, params: dict[str, Any], replace: str | None) -> Task:
        backend, coll = self.ctx.backend, self.collection
        task = Task(f"Build {index_type} index on {coll}.{path}",
                    lambda: build_events(backend, coll, path, index_type, metric, params, replace), parent=self)
        task.progress.connect(self._progress)
        task.succeeded.connect(lambda _r: self._ended("Index built."))
        task.cancelled.connect(lambda: self._ended("Cancelled: segments built before the cancel stay built; "
                                                   "the rest are searched exactly."))
        task.failed.connect(lambda e: (self._ended(""), self.error_label.setText(plain_message(e))))
        task.finished.connect(self.ctx.refresh)  # the state shown next is the backend's own
        self.task = task
        self.error_label.setText("")
        self.build_button.setEnabled(False)
        self.build_now_button.hide()
        self.cancel_button.setEnabled(True)
        self.bar.setRange(0, 0)
        self.ctx.run(task)
        return task

    def _progress(self, ev: dict[str, Any]) -> None:
        if ev.get("total"):
            self.bar.setRange(0, int(ev["total"]))
            self.bar.setValue(int(ev["done"]))
        rows = ""
        if "indexed" in ev:
            rows = f" · {ev['indexed']:,} rows indexed, {ev['pending']:,} pending"
        self.progress_label.setText(str(ev.get("text", "")) + rows)

    def _ended(self, text: str) -> None:
        """The build ended: the bar and the state wait for the backend's own word (ctx.refresh follows)."""
        self.cancel_button.setEnabled(False)
        self.build_button.setEnabled(True)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.progress_label.setText(text)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.cancel_button.setEnabled(False)

    def shutdown(self) -> None:
        self.cancel()
