"""`EntityTableModel`: a collection's rows, paged lazily over `query(offset, limit)`.

Only the row count is read up front (`count(*)`); each page of rows is fetched
on a worker thread when the view first asks for one of its cells, and at most
`MAX_PAGES` pages are kept. Nothing loads the whole collection.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPixmap

from ui.context import AppContext
from ui.shared.errors import plain_message
from ui.shared.thumbnails import ThumbnailCache, shared_cache, thumbnail_path
from ui.shared.workers import Task

PAGE_SIZE = 100
MAX_PAGES = 30
THUMB_COLUMN = "preview"
RAW_ROLE = Qt.ItemDataRole.UserRole + 10
THUMB_ROW_HEIGHT = 52

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    """A column of the table: a field (or the virtual preview column) and how to show it."""

    name: str
    kind: str  # preview, scalar, vector, json, array, struct, dynamic
    dtype: str = ""
    editable: bool = False
    sub_outputs: tuple[str, ...] = ()  # struct columns: the non-vector sub-fields to fetch

    @property
    def outputs(self) -> list[str]:
        if self.kind == "preview":
            return []
        if self.kind == "struct":
            return [f"{self.name}[{s}]" for s in self.sub_outputs] or [self.name]
        return [self.name]


def columns_for(schema: Any, kind: str | None = None) -> list[Column]:
    """Every column a collection can show, preview first when it has pictures; not the fields a schema
    function fills (`text_sparse` of a Documents collection), which cannot be read."""
    from engine import DataType

    cols: list[Column] = []
    names = {f.name for f in schema.fields}
    if kind in ("images", "pdfs", "products") or "thumbnail" in names or "pages" in names:
        cols.append(Column(THUMB_COLUMN, "preview"))
    for f in schema.fields:
        dtype = f.dtype.name
        if f.is_function_output:  # a BM25 output: the engine, as Milvus, refuses to return it
            continue
        if f.is_vector:
            cols.append(Column(f.name, "vector", dtype))
        elif f.is_struct_array:
            subs = tuple(s.name for s in (f.struct_schema.fields if f.struct_schema else []) if not s.is_vector)
            cols.append(Column(f.name, "struct", "ARRAY<STRUCT>", sub_outputs=subs))
        elif f.dtype == DataType.ARRAY:
            cols.append(Column(f.name, "array", dtype, editable=not f.is_primary))
        elif f.dtype == DataType.JSON:
            cols.append(Column(f.name, "json", dtype, editable=True))
        else:
            cols.append(Column(f.name, "scalar", dtype, editable=not f.is_primary))
    if schema.enable_dynamic_field:
        cols.append(Column("$meta", "dynamic", "JSON"))
    return cols


def default_visible(cols: list[Column]) -> list[str]:
    """Everything but vectors (and the file hash), which are long and rarely read."""
    return [c.name for c in cols if c.kind != "vector" and c.name not in ("sha256", "thumbnail")]


_LATE = ("path", "id")
TIME_FIELDS = ("modified", "created", "updated")


def ordered(cols: list[Column], pk: str) -> list[Column]:
    """Preview and names first; long keys (the primary key, the path) last."""
    late = [c for c in cols if c.name in (*_LATE, pk) and c.kind != "preview"]
    return [c for c in cols if c not in late] + late


def summarize(value: Any, column: Column | None = None, limit: int = 80) -> str:
    """A one-line cell text for any stored value."""
    if value is None:
        return "∅" if column is None or column.kind != "preview" else ""
    if column is not None and column.kind == "vector" and isinstance(value, (list, tuple)):
        head = ", ".join(f"{v:.3f}" for v in value[:3])
        return f"[{len(value)} floats: {head}, …]"
    if column is not None and column.kind == "struct" and isinstance(value, list):
        return f"[{len(value)} element{'s' if len(value) != 1 else ''}] ▸"
    if isinstance(value, float):
        if column is not None and column.name in TIME_FIELDS and 1e8 < value < 1e10:
            import datetime as _dt

            return _dt.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")
        if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=str)
        return (text[: limit - 1] + "…" if len(text) > limit else text) + (" ▸" if value else "")
    text = str(value)
    return text[: limit - 1] + "…" if len(text) > limit else text


def parse_edit(column: Column, text: str) -> Any:
    """The value typed into a cell, converted to the column's type (ValueError when it does not fit)."""
    t = column.dtype
    s = text.strip()
    if s in ("", "∅", "null", "None") and t not in ("VARCHAR",):
        return None
    if t in ("INT8", "INT16", "INT32", "INT64"):
        return int(s)
    if t in ("FLOAT", "DOUBLE"):
        return float(s)
    if t == "BOOL":
        if s.lower() in ("true", "1", "yes"):
            return True
        if s.lower() in ("false", "0", "no"):
            return False
        raise ValueError(f"{text!r} is not true or false")
    if column.kind in ("json", "array"):
        return json.loads(text)
    return text


class EntityTableModel(QAbstractTableModel):
    """Rows of one collection (optionally filtered), fetched a page at a time."""

    countChanged = Signal(int)
    pageLoaded = Signal(int)
    loadFailed = Signal(str)
    editFailed = Signal(str)
    rowsEdited = Signal()

    def __init__(self, ctx: AppContext, thumbnails: ThumbnailCache | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.thumbs = thumbnails or shared_cache()
        self.thumbs.loaded.connect(self._thumb_loaded)
        self.collection = ""
        self.schema: Any = None
        self.kind: str | None = None
        self.filter = ""
        self.params: dict[str, Any] | None = None
        self.all_columns: list[Column] = []
        self.columns: list[Column] = []
        self._count = 0
        self._pages: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()
        self._inflight: dict[int, Task] = {}
        self._generation = 0
        self._counting: Task | None = None
        self._scaled: dict[str, QPixmap] = {}
        self.error = ""
        self.fetches = 0

    # --- source ----------------------------------------------------------------------
    def set_source(self, collection: str, schema: Any, kind: str | None, visible: list[str] | None = None,
                   filter: str = "", params: dict[str, Any] | None = None) -> None:
        self.beginResetModel()
        self.collection = collection
        self.schema = schema
        self.kind = kind
        self.all_columns = ordered(columns_for(schema, kind), schema.primary_field.name) if schema is not None else []
        names = visible if visible is not None else default_visible(self.all_columns)
        self.columns = [c for c in self.all_columns if c.name in names]
        self.filter = filter
        self.params = params
        self._reset_rows()
        self.endResetModel()
        self._count_rows()

    def set_visible(self, names: list[str]) -> None:
        self.beginResetModel()
        self.columns = [c for c in self.all_columns if c.name in names]
        self._reset_rows(keep_count=True)
        self.endResetModel()

    def set_filter(self, filter: str, params: dict[str, Any] | None = None) -> None:
        self.beginResetModel()
        self.filter = filter
        self.params = params
        self._reset_rows()
        self.endResetModel()
        self._count_rows()

    def reload(self) -> None:
        self.beginResetModel()
        self._reset_rows()
        self.endResetModel()
        self._count_rows()

    def clear(self) -> None:
        self.beginResetModel()
        self.collection = ""
        self.schema = None
        self.columns = []
        self.all_columns = []
        self._reset_rows()
        self.endResetModel()

    def _reset_rows(self, keep_count: bool = False) -> None:
        self._generation += 1
        self._pages.clear()
        self._inflight.clear()
        if not keep_count:
            self._count = 0
        self.error = ""

    @property
    def loading(self) -> bool:
        return bool(self._inflight) or self._counting is not None

    @property
    def total(self) -> int:
        return self._count

    # --- fetching --------------------------------------------------------------------
    def _count_rows(self) -> None:
        backend = self.ctx.backend
        if backend is None or not self.collection:
            return
        gen = self._generation
        coll, flt, params = self.collection, self.filter, self.params

        def work() -> int:
            from workbench.backends.shapes import render_filter

            return int(backend.count(coll, filter=render_filter(flt, params) if params else flt))

        def done(n: int) -> None:
            if gen != self._generation:
                return
            self.beginResetModel()
            self._count = n
            self.endResetModel()
            self.countChanged.emit(n)

        def failed(e: BaseException) -> None:
            if gen == self._generation:
                self.error = plain_message(e)
                self.loadFailed.emit(self.error)

        task = Task(f"Count rows of {coll}", work, generator=False, show_in_jobs=False, parent=self)
        task.succeeded.connect(done)
        task.failed.connect(failed)
        task.finished.connect(lambda: self._count_done(task))
        self._counting = task
        task.start()

    def _count_done(self, task: Task) -> None:
        if self._counting is task:
            self._counting = None

    def outputs(self) -> list[str]:
        pk = self.schema.primary_field.name
        out: list[str] = [pk]
        for c in self.columns:
            for o in c.outputs:
                if o not in out:
                    out.append(o)
        if any(c.kind == "preview" for c in self.columns):
            names = {f.name for f in self.schema.fields}
            for extra in ("thumbnail", "sha256", "path"):
                if extra in names and extra not in out:
                    out.append(extra)
            if "pages" in names and not any(o.startswith("pages") for o in out):
                out.append("pages[thumbnail]")
        return out

    def _request(self, page: int) -> None:
        if page in self._inflight or page in self._pages or self.ctx.backend is None:
            return
        backend, coll = self.ctx.backend, self.collection
        gen, flt, params, outputs = self._generation, self.filter, self.params, self.outputs()
        want_thumbs = any(c.kind == "preview" for c in self.columns)

        def work() -> list[dict[str, Any]]:
            rows = backend.query(coll, filter=flt, output_fields=outputs, limit=PAGE_SIZE, offset=page * PAGE_SIZE,
                                 filter_params=params)
            if want_thumbs:
                for r in rows:
                    r["__thumb"] = thumbnail_path(backend, coll, r)
            return rows

        def done(rows: list[dict[str, Any]]) -> None:
            if gen != self._generation:
                return
            self._pages[page] = rows
            while len(self._pages) > MAX_PAGES:
                self._pages.popitem(last=False)
            first = page * PAGE_SIZE
            last = min(first + PAGE_SIZE, self._count) - 1
            if last >= first and self.columns:
                self.dataChanged.emit(self.index(first, 0), self.index(last, len(self.columns) - 1))
            self.pageLoaded.emit(page)

        def failed(e: BaseException) -> None:
            if gen == self._generation:
                self.error = plain_message(e)
                self.loadFailed.emit(self.error)

        task = Task(f"Read rows {page * PAGE_SIZE}-{(page + 1) * PAGE_SIZE} of {coll}", work, generator=False,
                    show_in_jobs=False, parent=self)
        task.succeeded.connect(done)
        task.failed.connect(failed)
        task.finished.connect(lambda: self._inflight.pop(page, None) if self._inflight.get(page) is task else None)
        self._inflight[page] = task
        self.fetches += 1
        task.start()

    def row_data(self, row: int) -> dict[str, Any] | None:
        """The row's values if its page is loaded (else None, and the page is requested)."""
        if row < 0 or row >= self._count:
            return None
        page = row // PAGE_SIZE
        rows = self._pages.get(page)
        if rows is None:
            self._request(page)
            return None
        self._pages.move_to_end(page)
        i = row - page * PAGE_SIZE
        return rows[i] if i < len(rows) else None

    def pk(self, row: int) -> Any:
        data = self.row_data(row)
        return None if data is None or self.schema is None else data.get(self.schema.primary_field.name)

    def loaded_pages(self) -> list[int]:
        return sorted(self._pages)

    # --- Qt model --------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal \
                    and 0 <= section < len(self.columns):
                c = self.columns[section]
                return f"{c.name}: {c.dtype or c.kind}"
            return None
        if orientation == Qt.Orientation.Horizontal:
            if 0 <= section < len(self.columns):
                c = self.columns[section]
                return "" if c.kind == "preview" else c.name
            return None
        return str(section + 1)

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.isValid() and self.columns[index.column()].editable:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        col = self.columns[index.column()]
        row = self.row_data(index.row())
        if row is None:
            if role == Qt.ItemDataRole.DisplayRole:
                return "…" if col.kind != "preview" else ""
            if role == Qt.ItemDataRole.ForegroundRole:
                return QColor("#8a8f99")
            return None
        value = self._value(row, col)
        if role == Qt.ItemDataRole.DisplayRole:
            return summarize(value, col)
        if role == Qt.ItemDataRole.EditRole:
            if value is None:
                return ""
            return json.dumps(value) if col.kind in ("json", "array") else str(value)
        if role == RAW_ROLE:
            return value
        if role == Qt.ItemDataRole.ToolTipRole:
            if col.kind == "preview":
                return row.get("path") or row.get("__thumb") or ""
            text = json.dumps(value, ensure_ascii=False, default=str, indent=1) if isinstance(value, (dict, list)) \
                else str(value)
            return text[:2000]
        if role == Qt.ItemDataRole.DecorationRole and col.kind == "preview":
            return self._thumbnail(row.get("__thumb"))
        if role == Qt.ItemDataRole.SizeHintRole and col.kind == "preview":
            return QSize(THUMB_ROW_HEIGHT + 8, THUMB_ROW_HEIGHT)
        if role == Qt.ItemDataRole.TextAlignmentRole and col.dtype in (
                "INT8", "INT16", "INT32", "INT64", "FLOAT", "DOUBLE"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and value is None:
            return QColor("#8a8f99")
        return None

    def _value(self, row: dict[str, Any], col: Column) -> Any:
        if col.kind == "dynamic":
            known = {f.name for f in self.schema.fields} | {"__thumb"}
            return {k: v for k, v in row.items() if k not in known} or None
        if col.kind == "preview":
            return None
        return row.get(col.name)

    def _thumbnail(self, path: str | None) -> QPixmap | None:
        if not path:
            return None
        if path in self._scaled:
            return self._scaled[path]
        pm = self.thumbs.get(path)
        if pm is None:
            return None
        scaled = pm.scaled(THUMB_ROW_HEIGHT + 8, THUMB_ROW_HEIGHT - 4, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.SmoothTransformation)
        if len(self._scaled) > 2000:
            self._scaled.clear()
        self._scaled[path] = scaled
        return scaled

    def _thumb_loaded(self, path: str) -> None:
        if not self.columns or self.columns[0].kind != "preview":
            return
        for page, rows in self._pages.items():
            for i, r in enumerate(rows):
                if r.get("__thumb") == path:
                    idx = self.index(page * PAGE_SIZE + i, 0)
                    self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    # --- editing ---------------------------------------------------------------------
    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        col = self.columns[index.column()]
        row = self.row_data(index.row())
        if row is None or not col.editable:
            return False
        try:
            new = parse_edit(col, str(value))
        except (ValueError, TypeError) as e:
            self.editFailed.emit(f"{col.name}: {e}")
            return False
        old = row.get(col.name)
        if new == old:
            return False
        row[col.name] = new
        self.dataChanged.emit(index, index)
        self.upsert_field(row[self.schema.primary_field.name], col.name, new, revert=(row, old, index))
        return True

    def upsert_field(self, pk: Any, field: str, value: Any,
                     revert: tuple[dict[str, Any], Any, Index] | None = None) -> Task | None:
        """Write one changed field back: read the whole row, change it, upsert it (in its partition)."""
        backend, coll = self.ctx.backend, self.collection
        if backend is None:
            return None

        def work() -> None:
            parts = backend.list_partitions(coll)
            where = "_default"
            full = None
            for p in parts:
                got = backend.get(coll, [pk], output_fields=["*"], partitions=[p])
                if got:
                    full, where = got[0], p
                    break
            if full is None:
                raise LookupError(f"row {pk!r} is gone (deleted meanwhile?)")
            full[field] = value
            backend.upsert(coll, [full], partition=where)

        def failed(e: BaseException) -> None:
            if revert is not None:
                r, old, idx = revert
                r[field] = old
                if idx.isValid():
                    self.dataChanged.emit(idx, idx)
            self.editFailed.emit(f"Could not save {field}: {plain_message(e)}")

        task = Task(f"Save {field} of {pk}", work, generator=False, show_in_jobs=False, parent=self)
        task.failed.connect(failed)
        task.succeeded.connect(lambda _r: self.rowsEdited.emit())
        return task.start()
