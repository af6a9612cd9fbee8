"""Collections browser (a dock): database › collections › partitions, fields, indexes.

Each collection shows its row count and load state; context menus create,
rename, drop (after confirmation), load/release, flush, compact and export to
Parquet. Files dropped on a collection are ingested into it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

import ui.shared.dialogs as dialogs
from ui.context import AppContext, CollectionInfo
from ui.shared.text import plural
from ui.shared.theme import icon
from ui.shared.workers import Task

KIND_ROLE = Qt.ItemDataRole.UserRole
NAME_ROLE = Qt.ItemDataRole.UserRole + 1
COLL_ROLE = Qt.ItemDataRole.UserRole + 2


def type_text(d: dict[str, Any]) -> str:
    """`VARCHAR(64)`, `FLOAT_VECTOR(512)`, `ARRAY<INT64>[16]`, `ARRAY<STRUCT>[10]` from a field dict."""
    from engine import DataType

    t = DataType(int(d["type"]))
    params = d.get("params") or {}
    if t == DataType.VARCHAR:
        return f"VARCHAR({params.get('max_length')})"
    if "dim" in params:
        return f"{t.name}({params['dim']})"
    if t == DataType.ARRAY:
        elem = d.get("element_type")
        ename = DataType(int(elem)).name if elem is not None else "?"
        return f"ARRAY<{ename}>[{params.get('max_capacity')}]"
    return t.name


def field_flags(d: dict[str, Any]) -> str:
    flags = []
    if d.get("is_primary"):
        flags.append("primary key" + (", auto_id" if d.get("auto_id") else ""))
    if d.get("nullable"):
        flags.append("nullable")
    if d.get("default_value") is not None:
        flags.append(f"default {d['default_value']!r}")
    return " · ".join(flags)


def local_paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
    """Local files and folders carried by a drag, if any."""
    md = event.mimeData()
    if md is None or not md.hasUrls():
        return []
    return [u.toLocalFile() for u in md.urls() if u.isLocalFile() and u.toLocalFile()]


def accept_file_drag(event: QDragEnterEvent | QDragMoveEvent) -> None:
    """Accept a drag that carries local files or folders; ignore any other."""
    if local_paths(event):
        event.acceptProposedAction()
    else:
        event.ignore()


class _Tree(QTreeWidget):
    """The tree, accepting file drops on collection items."""

    filesDropped = Signal(list, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setDropIndicatorShown(True)

    def _collection_at(self, pos: QPoint) -> str:
        item = self.itemAt(pos)
        while item is not None:
            name = item.data(0, COLL_ROLE)
            if name:
                return str(name)
            item = item.parent()
        return ""

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accept_file_drag(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        accept_file_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.filesDropped.emit(paths, self._collection_at(event.position().toPoint()))


class CollectionsBrowser(QWidget):
    """The tree of the open database, with context actions."""

    collectionActivated = Signal(str)
    filesDropped = Signal(list, str)  # paths, collection ("" = choose)
    newCollectionRequested = Signal()
    indexConfigRequested = Signal(str, str)  # collection, field path
    inspectRequested = Signal(str)
    importRequested = Signal(str)  # collection
    copyRequested = Signal(str)  # collection: copy it to another backend
    exportRequested = Signal(str)  # collection: the export dialog (formats, layouts)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.tree = _Tree(self)
        self.tree.setObjectName("collectionsTree")
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Name", "Details"])
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.tree.itemClicked.connect(self._clicked)
        self.tree.itemActivated.connect(self._clicked)
        self.tree.filesDropped.connect(self.filesDropped)
        self.tree.setColumnWidth(0, 190)
        self.tree.setUniformRowHeights(True)

        self.status = QLabel("No database open", self)
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        new_btn = QToolButton(self)
        new_btn.setText("New…")
        new_btn.setToolTip("Create a collection (schema designer)")
        new_btn.clicked.connect(self.newCollectionRequested)
        refresh_btn = QToolButton(self)
        refresh_btn.setText("Refresh")
        refresh_btn.setToolTip("Read the database again (F5)")
        refresh_btn.clicked.connect(self.ctx.refresh)
        bar = QHBoxLayout()
        bar.addWidget(new_btn)
        bar.addWidget(refresh_btn)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)

        ctx.infoChanged.connect(self.rebuild)
        ctx.databaseOpened.connect(self._db_opened)
        ctx.currentCollectionChanged.connect(self._select_current)
        self.last_task: Task | None = None

    def _db_opened(self, path: str) -> None:
        self.status.setText(f"Reading {path} …")

    # --- building the tree -------------------------------------------------------------
    def rebuild(self) -> None:
        info = self.ctx.info
        expanded = {self._item_key(it) for it in self._all_items() if it.isExpanded()}
        self.tree.clear()
        title = Path(self.ctx.db_path).name if self.ctx.db_path else (self.ctx.label or info.path)
        db_item = QTreeWidgetItem([title, plural(len(info.collections), "collection")])
        db_item.setIcon(0, icon("database"))
        db_item.setToolTip(0, self.ctx.label or info.path)
        db_item.setData(0, KIND_ROLE, "db")
        self.tree.addTopLevelItem(db_item)
        for coll in info.collections.values():
            db_item.addChild(self._collection_item(coll))
        db_item.setExpanded(True)
        for it in self._all_items():
            key = self._item_key(it)
            if key in expanded or (it.data(0, KIND_ROLE) == "collection" and not expanded):
                it.setExpanded(True)
        self.status.setText(self.ctx.db_path or self.ctx.label or info.path)
        self._select_current(self.ctx.current)

    def _collection_item(self, c: CollectionInfo) -> QTreeWidgetItem:
        if c.error:
            item = QTreeWidgetItem([c.name, f"error: {c.error}"])
            item.setData(0, KIND_ROLE, "collection")
            item.setData(0, COLL_ROLE, c.name)
            item.setData(0, NAME_ROLE, c.name)
            return item
        state = "loaded" if c.loaded else "released"
        item = QTreeWidgetItem([c.name, f"{c.rows_text} · {state}"])
        item.setIcon(0, icon("collection"))
        item.setData(0, KIND_ROLE, "collection")
        item.setData(0, NAME_ROLE, c.name)
        item.setData(0, COLL_ROLE, c.name)
        tip = [f"{c.name}: {c.rows_text}, {state}"]
        if c.kind:
            tip.append(f"kind: {c.kind}")
        if c.model:
            tip.append(f"model: {c.model}")
        item.setToolTip(0, "\n".join(tip))
        item.setToolTip(1, "\n".join(tip))

        parts = self._group(item, f"Partitions ({len(c.partitions)})", "partitions", c.name)
        for p in c.partitions:
            child = QTreeWidgetItem([p, ""])
            child.setIcon(0, icon("partition"))
            child.setData(0, KIND_ROLE, "partition")
            child.setData(0, NAME_ROLE, p)
            child.setData(0, COLL_ROLE, c.name)
            parts.addChild(child)
        fields = self._group(item, f"Fields ({len(c.description.get('fields', []))})", "fields", c.name)
        for d in c.description.get("fields", []):
            f_item = QTreeWidgetItem([d["name"], " · ".join(x for x in (type_text(d), field_flags(d)) if x)])
            is_vec = "dim" in (d.get("params") or {})
            f_item.setIcon(0, icon("vector" if is_vec else ("struct" if d.get("struct_fields") else "field")))
            f_item.setData(0, KIND_ROLE, "field")
            f_item.setData(0, NAME_ROLE, d["name"])
            f_item.setData(0, COLL_ROLE, c.name)
            if d.get("description"):
                f_item.setToolTip(0, d["description"])
            for s in d.get("struct_fields") or []:
                s_item = QTreeWidgetItem([s["name"], type_text(s)])
                s_item.setIcon(0, icon("vector" if "dim" in (s.get("params") or {}) else "field"))
                s_item.setData(0, KIND_ROLE, "subfield")
                s_item.setData(0, NAME_ROLE, f"{d['name']}[{s['name']}]")
                s_item.setData(0, COLL_ROLE, c.name)
                f_item.addChild(s_item)
            fields.addChild(f_item)
        idx = self._group(item, f"Indexes ({len(c.indexes)})", "indexes", c.name)
        for ix in c.indexes:
            progress = ix.progress_text if ix.metric else ""
            detail = " · ".join(x for x in (ix.index_type, ix.metric, progress) if x)
            i_item = QTreeWidgetItem([ix.field, detail])
            i_item.setIcon(0, icon("index"))
            i_item.setData(0, KIND_ROLE, "index")
            i_item.setData(0, NAME_ROLE, ix.name)
            i_item.setData(0, COLL_ROLE, c.name)
            i_item.setToolTip(1, f"index {ix.name!r}: {ix.index_type} {ix.metric} {ix.params}")
            idx.addChild(i_item)
        return item

    @staticmethod
    def _group(parent: QTreeWidgetItem, text: str, kind: str, coll: str) -> QTreeWidgetItem:
        g = QTreeWidgetItem([text, ""])
        g.setData(0, KIND_ROLE, kind)
        g.setData(0, COLL_ROLE, coll)
        parent.addChild(g)
        return g

    def _all_items(self) -> list[QTreeWidgetItem]:
        out: list[QTreeWidgetItem] = []

        def walk(it: QTreeWidgetItem) -> None:
            out.append(it)
            for i in range(it.childCount()):
                walk(it.child(i))

        for i in range(self.tree.topLevelItemCount()):
            walk(self.tree.topLevelItem(i))
        return out

    @staticmethod
    def _item_key(it: QTreeWidgetItem) -> tuple[str, str, str]:
        return (str(it.data(0, KIND_ROLE)), str(it.data(0, COLL_ROLE)), it.text(0))

    def item_for(self, collection: str, kind: str = "collection") -> QTreeWidgetItem | None:
        for it in self._all_items():
            if it.data(0, KIND_ROLE) == kind and it.data(0, COLL_ROLE) == collection:
                return it
        return None

    def _select_current(self, name: str) -> None:
        item = self.item_for(name) if name else None
        if item is not None and self.tree.currentItem() is not item:
            self.tree.setCurrentItem(item)

    def _clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        coll = item.data(0, COLL_ROLE)
        if coll:
            self.ctx.set_current(str(coll))
            self.collectionActivated.emit(str(coll))

    # --- context menu ----------------------------------------------------------------
    def _menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        menu = self.menu_for(item)
        if menu is not None and not menu.isEmpty():
            menu.popup(self.tree.viewport().mapToGlobal(pos))

    def menu_for(self, item: QTreeWidgetItem | None) -> QMenu:
        menu = QMenu(self)
        kind = item.data(0, KIND_ROLE) if item is not None else "db"
        coll = str(item.data(0, COLL_ROLE) or "") if item is not None else ""
        name = str(item.data(0, NAME_ROLE) or "") if item is not None else ""

        menu.setToolTipsVisible(True)

        def add(text: str, slot: Any, enabled: bool = True, why_not: str | None = None) -> QAction:
            a = menu.addAction(text)
            a.triggered.connect(slot)
            a.setEnabled(enabled and not why_not)
            if why_not:
                a.setToolTip(why_not)
                a.setStatusTip(why_not)
            return a

        if kind == "db" or not coll:
            add("New collection…", self.newCollectionRequested.emit)
            add("Refresh", self.ctx.refresh)
            return menu
        info = self.ctx.collection(coll)
        loaded = bool(info and info.loaded)
        add("Import files into this collection…", lambda: self.importRequested.emit(coll))
        menu.addSeparator()
        add("Release" if loaded else "Load", lambda: self.set_loaded(coll, not loaded))
        add("Flush", lambda: self.flush(coll))
        add("Compact", lambda: self.compact(coll), why_not=self.ctx.why_not("compaction"))
        add("Export to Parquet…", lambda: self.export(coll))
        add("Export (Parquet or JSONL, options)…", lambda: self.exportRequested.emit(coll))
        add("Copy to another database or Milvus…", lambda: self.copyRequested.emit(coll))
        menu.addSeparator()
        add("New partition…", lambda: self.create_partition(coll))
        if kind == "partition":
            add(f"Drop partition {name}…", lambda: self.drop_partition(coll, name), name != "_default")
        vec = name if kind in ("field", "subfield") else ""
        if kind == "index" and info is not None:
            ix = next((i for i in info.indexes if i.name == name), None)
            vec = ix.field if ix is not None else ""
        add("Configure index…", lambda: self.indexConfigRequested.emit(coll, vec))
        if kind == "index":
            add(f"Drop index {name}…", lambda: self.drop_index(coll, name))
        add("Inspect segments" if self.ctx.supports("segments") else "Inspect indexes",
            lambda: self.inspectRequested.emit(coll))
        menu.addSeparator()
        add("Rename…", lambda: self.rename(coll))
        add("Drop collection…", lambda: self.drop(coll))
        return menu

    # --- actions ---------------------------------------------------------------------
    def _backend(self) -> Any:
        return self.ctx.backend

    def rename(self, coll: str) -> Task | None:
        new = dialogs.ask_text(self, "Rename collection", f"New name for {coll!r}:", coll)
        if not new or new == coll:
            return None
        backend = self._backend()

        def moved(_r: Any) -> None:
            self.ctx.set_current(new)

        def work() -> None:
            from workbench.templates import check_collection_name, meta_path

            check_collection_name(new)
            backend.rename_collection(coll, new)
            old_meta, new_meta = meta_path(backend, coll), meta_path(backend, new)
            if old_meta.is_file() and not new_meta.exists():
                old_meta.rename(new_meta)

        self.last_task = self.ctx.call(f"Rename {coll} to {new}", work, moved, refresh=True, owner=self)
        return self.last_task

    def drop(self, coll: str) -> Task | None:
        info = self.ctx.collection(coll)
        rows = info.rows_text if info and info.rows is not None else "all its rows"
        if not dialogs.confirm(self, "Drop collection",
                               f"Drop collection {coll!r} and delete {rows}? This cannot be undone.", "Drop"):
            return None
        backend = self._backend()

        def work() -> None:
            import shutil

            from workbench.templates import meta_path, thumbnails_dir

            backend.drop_collection(coll)
            meta_path(backend, coll).unlink(missing_ok=True)
            shutil.rmtree(thumbnails_dir(backend, coll), ignore_errors=True)

        self.last_task = self.ctx.call(f"Drop {coll}", work, refresh=True, owner=self)
        return self.last_task

    def set_loaded(self, coll: str, load: bool) -> Task:
        backend = self._backend()
        fn = (lambda: backend.load(coll)) if load else (lambda: backend.release(coll))
        self.last_task = self.ctx.call(("Load " if load else "Release ") + coll, fn, refresh=True, show=load, owner=self)
        return self.last_task

    def flush(self, coll: str) -> Task:
        backend = self._backend()
        self.last_task = self.ctx.call(f"Flush {coll}", lambda: backend.flush(coll), refresh=True, show=True,
                                       changed=coll, owner=self)
        return self.last_task

    def compact(self, coll: str) -> Task | None:
        reason = self.ctx.why_not("compaction")
        if reason:
            self.ctx.message.emit(f"Compact {coll}: {reason}")
            return None
        backend = self._backend()

        def work() -> str:
            return f"Compacted {coll}: {backend.compact(coll).describe()}"

        self.last_task = self.ctx.call(f"Compact {coll}", work, lambda text: self.ctx.message.emit(text),
                                       refresh=True, show=True, changed=coll, owner=self)
        return self.last_task

    def export(self, coll: str, dest: str | None = None) -> Task | None:
        dest = dest or dialogs.save_file(self, f"Export {coll} to Parquet", f"{coll}.parquet",
                                         "Parquet files (*.parquet)")
        if not dest:
            return None
        backend = self._backend()

        def work() -> int:
            from workbench.transfer import export_to_file

            return int(export_to_file(backend, coll, dest, fmt="parquet").rows)

        self.last_task = self.ctx.call(f"Export {coll} to {Path(dest).name}", work,
                                       lambda n: self.ctx.message.emit(f"Exported {n:,} rows to {dest}"),
                                       show=True, owner=self)
        return self.last_task

    def create_partition(self, coll: str) -> Task | None:
        name = dialogs.ask_text(self, "New partition", f"Partition name in {coll!r}:")
        if not name:
            return None
        backend = self._backend()
        self.last_task = self.ctx.call(f"Create partition {name}", lambda: backend.create_partition(coll, name),
                                       refresh=True, owner=self)
        return self.last_task

    def drop_partition(self, coll: str, part: str) -> Task | None:
        if not dialogs.confirm(self, "Drop partition",
                               f"Drop partition {part!r} of {coll!r} with all its rows?", "Drop"):
            return None
        backend = self._backend()
        self.last_task = self.ctx.call(f"Drop partition {part}", lambda: backend.drop_partition(coll, part),
                                       refresh=True, changed=coll, owner=self)
        return self.last_task

    def drop_index(self, coll: str, index_name: str) -> Task | None:
        embedded = self.ctx.is_embedded
        extra = ("Searches on its field become exact (slower on big collections)." if embedded else
                 "The collection is released while the index is dropped, and cannot be searched until its "
                 "field has an index again.")
        if not dialogs.confirm(self, "Drop index", f"Drop index {index_name!r} of {coll!r}? {extra}", "Drop"):
            return None
        backend = self._backend()
        self.last_task = self.ctx.call(f"Drop index {index_name}", lambda: backend.drop_index(coll, index_name),
                                       refresh=True, owner=self)
        return self.last_task

