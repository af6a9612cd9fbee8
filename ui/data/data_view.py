"""Data view: the current collection's entities in a lazily paged table.

Filter bar (validated live), column chooser, thumbnails for image and PDF
collections, a details pane where JSON and struct-array values expand, row
deletion, cell editing (written back as an upsert), "Find similar", and the
selection made in the embedding map as an extra restriction.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

import ui.shared.dialogs as dialogs
from ui.context import AppContext
from ui.data.entity_model import THUMB_ROW_HEIGHT, EntityTableModel, summarize
from ui.shared.filter_edit import FilterBar
from ui.shared.opener import OpenError, open_file
from ui.shared.text import plural
from ui.shared.workers import Task


def fill_value_tree(parent: QTreeWidgetItem, value: Any, depth: int = 0) -> None:
    """Children for a JSON object, list, or struct array (vectors summarised)."""
    if depth > 6:
        return
    items: list[tuple[str, Any]]
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        if value and all(isinstance(x, (int, float)) for x in value) and len(value) > 16:
            return
        items = [(f"[{i}]", v) for i, v in enumerate(value[:500])]
    else:
        return
    for key, v in items:
        is_vec = isinstance(v, list) and len(v) > 16 and all(isinstance(x, (int, float)) for x in v[:16])
        text = f"[{len(v)} floats: " + ", ".join(f"{x:.3f}" for x in v[:4]) + ", …]" if is_vec else \
            ("" if isinstance(v, (dict, list)) and v else summarize(v))
        child = QTreeWidgetItem([key, text])
        if not is_vec and isinstance(v, (dict, list)) and v:
            child.setText(1, f"{{{len(v)} keys}}" if isinstance(v, dict) else f"[{len(v)} items]")
            fill_value_tree(child, v, depth + 1)
        parent.addChild(child)


class DataView(QWidget):
    """Table of entities with filter, columns, details, delete, edit and find-similar."""

    findSimilar = Signal(str, object)  # collection, primary key
    selectionCleared = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model = EntityTableModel(ctx)
        self.collection = ""
        self.user_filter = ""
        self.restriction: list[Any] | None = None

        self.filter_bar = FilterBar(self)
        self.filter_bar.applied.connect(self.apply_filter)
        self.columns_button = QToolButton(self)
        self.columns_button.setText("Columns")
        self.columns_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.columns_menu = QMenu(self)
        self.columns_button.setMenu(self.columns_menu)
        self.similar_button = QPushButton("Find similar", self)
        self.similar_button.setToolTip("Search for rows like the selected one")
        self.similar_button.clicked.connect(self.find_similar_selected)
        self.delete_button = QPushButton("Delete rows…", self)
        self.delete_button.setToolTip("Delete the selected rows (Del)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.count_label = QLabel("", self)
        self.count_label.setObjectName("hint")
        self.restriction_label = QLabel("", self)
        self.restriction_button = QToolButton(self)
        self.restriction_button.setText("Show all rows")
        self.restriction_button.clicked.connect(self.clear_restriction)
        self.restriction_label.hide()
        self.restriction_button.hide()
        self.message = QLabel("", self)
        self.message.setObjectName("error")
        self.message.setWordWrap(True)
        self.message.hide()

        self.table = QTableView(self)
        self.table.setObjectName("entityTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(26)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().currentRowChanged.connect(self._show_details)
        self.table.doubleClicked.connect(self._double_clicked)

        self.details = QTreeWidget(self)
        self.details.setObjectName("rowDetails")
        self.details.setHeaderLabels(["Field", "Value"])
        self.details.setColumnWidth(0, 100)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.table)
        split.addWidget(self.details)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([720, 330])

        top = QHBoxLayout()
        top.addWidget(self.filter_bar, 1, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.columns_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.similar_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.delete_button, 0, Qt.AlignmentFlag.AlignTop)
        info = QHBoxLayout()
        info.addWidget(self.count_label)
        info.addStretch(1)
        info.addWidget(self.restriction_label)
        info.addWidget(self.restriction_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(top)
        lay.addLayout(info)
        lay.addWidget(self.message)
        lay.addWidget(split, 1)

        QShortcut(QKeySequence.StandardKey.Delete, self.table, activated=self.delete_selected)
        self.model.countChanged.connect(self._update_count)
        self.model.loadFailed.connect(self._show_error)
        self.model.editFailed.connect(self._show_error)
        self.model.modelReset.connect(self._after_reset)
        self._bound: tuple[Any, str] = (None, "")
        ctx.currentCollectionChanged.connect(self.show_collection)
        ctx.infoChanged.connect(self._info_changed)
        ctx.dataChanged.connect(self._data_changed)
        self.last_task: Task | None = None
        if ctx.current:
            self.show_collection(ctx.current)

    # --- source ----------------------------------------------------------------------
    def show_collection(self, name: str) -> None:
        """The one place the view is bound to a collection: another collection (or database) starts
        without the last one's filter; the same one again (a new schema) keeps it."""
        info = self.ctx.collection(name)
        bound = (self.ctx.backend, name)
        if bound != self._bound:
            self._bound = bound
            self.filter_bar.set_text("")
        self.collection = name
        self.restriction = None
        self._update_restriction_label()
        self.message.hide()
        if info is None or info.schema is None:
            self.model.clear()
            self.filter_bar.set_schema(None)
            self.count_label.setText(info.error if info is not None and info.error else "No collection selected")
            self._build_columns_menu()
            return
        self.filter_bar.set_schema(info.schema)
        self.user_filter = self.filter_bar.text() if self.filter_bar.error is None else ""
        self.model.set_source(name, info.schema, info.kind, filter=self.user_filter)
        self._build_columns_menu()
        self.count_label.setText(f"{name}: counting rows…")

    def _info_changed(self) -> None:
        info = self.ctx.collection(self.collection)
        if info is None or self.model.schema is None or info.schema is None:
            if self.ctx.current != self.collection or (info is not None and self.model.schema is None):
                self.show_collection(self.ctx.current)
            return
        if info.schema.to_dict() != self.model.schema.to_dict():
            self.show_collection(self.collection)

    def _data_changed(self, name: str) -> None:
        if name == self.collection:
            self.model.reload()

    def _effective(self) -> tuple[str, dict[str, Any] | None]:
        if self.restriction is None:
            return self.user_filter, None
        pk = self.model.schema.primary_field.name
        sel = f"{pk} in {{__selection}}"
        expr = f"({self.user_filter}) and {sel}" if self.user_filter else sel
        return expr, {"__selection": list(self.restriction)}

    def apply_filter(self, expr: str) -> None:
        self.user_filter = expr
        self.message.hide()
        flt, params = self._effective()
        self.model.set_filter(flt, params)

    def restrict_to(self, ids: list[Any] | None) -> None:
        """Show only these primary keys (the embedding map's selection); None shows all."""
        self.restriction = list(ids) if ids is not None else None
        self._update_restriction_label()
        flt, params = self._effective()
        self.model.set_filter(flt, params)

    def clear_restriction(self) -> None:
        self.restrict_to(None)
        self.selectionCleared.emit()

    def _update_restriction_label(self) -> None:
        on = self.restriction is not None
        self.restriction_label.setText(f"Showing the {len(self.restriction or []):,} points selected in the map"
                                       if on else "")
        self.restriction_label.setVisible(on)
        self.restriction_button.setVisible(on)

    # --- columns ---------------------------------------------------------------------
    def _build_columns_menu(self) -> None:
        self.columns_menu.clear()
        visible = {c.name for c in self.model.columns}
        for c in self.model.all_columns:
            a = self.columns_menu.addAction(c.name if c.kind != "preview" else "preview (thumbnail)")
            a.setCheckable(True)
            a.setChecked(c.name in visible)
            a.setData(c.name)
            a.toggled.connect(self._columns_toggled)

    def _columns_toggled(self) -> None:
        names = [a.data() for a in self.columns_menu.actions() if a.isChecked()]
        self.model.set_visible(names)

    def set_columns(self, names: list[str]) -> None:
        for a in self.columns_menu.actions():
            a.blockSignals(True)
            a.setChecked(a.data() in names)
            a.blockSignals(False)
        self._columns_toggled()

    def _after_reset(self) -> None:
        has_thumbs = bool(self.model.columns) and self.model.columns[0].kind == "preview"
        self.table.verticalHeader().setDefaultSectionSize(THUMB_ROW_HEIGHT if has_thumbs else 26)
        if has_thumbs:
            self.table.setColumnWidth(0, THUMB_ROW_HEIGHT + 14)
        self.details.clear()

    def _update_count(self, n: int) -> None:
        flt, _ = self._effective()
        where = f" matching {self.user_filter!r}" if self.user_filter else ""
        self.count_label.setText(f"{self.collection}: {plural(n, 'row')}{where}")

    def _show_error(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    # --- rows ------------------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectionModel().selectedRows()})

    def select_row(self, row: int) -> None:
        idx = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    def _show_details(self, current: QModelIndex, _prev: QModelIndex | None = None) -> None:
        self.details.clear()
        if not current.isValid():
            return
        row = self.model.row_data(current.row())
        if row is None:
            return
        for key, value in row.items():
            if key.startswith("__"):
                continue
            col = next((c for c in self.model.all_columns if c.name == key), None)
            item = QTreeWidgetItem([key, summarize(value, col, limit=60) if col is None or col.kind != "struct"
                                    else summarize(value, limit=60)])
            if isinstance(value, (dict, list)) and value:
                fill_value_tree(item, value)
            self.details.addTopLevelItem(item)

    def expand_field(self, name: str) -> QTreeWidgetItem | None:
        """Expand a JSON / struct value in the details pane (what double-clicking such a cell does)."""
        for i in range(self.details.topLevelItemCount()):
            item = self.details.topLevelItem(i)
            if item.text(0) == name:
                item.setExpanded(True)
                for j in range(item.childCount()):
                    item.child(j).setExpanded(True)
                self.details.scrollToItem(item)
                return item
        return None

    def _double_clicked(self, index: QModelIndex) -> None:
        col = self.model.columns[index.column()]
        if col.kind in ("struct", "json", "dynamic", "array", "vector"):
            self._show_details(index)
            self.expand_field(col.name if col.kind != "dynamic" else "")
        elif col.kind == "preview":
            self.open_file(index.row())

    def open_file(self, row: int) -> bool:
        data = self.model.row_data(row)
        path = (data or {}).get("path")
        if not path:
            return False
        try:
            self.ctx.message.emit(open_file(str(path)))
        except OpenError as e:
            self._show_error(f"Cannot open the file: {e}")
            return False
        return True

    def find_similar_selected(self) -> None:
        rows = self.selected_rows()
        cur = self.table.currentIndex()
        row = rows[0] if rows else (cur.row() if cur.isValid() else -1)
        pk = self.model.pk(row) if row >= 0 else None
        if pk is not None:
            self.findSimilar.emit(self.collection, pk)

    def delete_selected(self) -> Task | None:
        pks = [pk for pk in (self.model.pk(r) for r in self.selected_rows()) if pk is not None]
        if not pks:
            return None
        shown = ", ".join(json.dumps(p) for p in pks[:3]) + (" …" if len(pks) > 3 else "")
        if not dialogs.confirm(self, "Delete rows", f"Delete {plural(len(pks), 'row')} from {self.collection!r} ({shown})? "
                               "This cannot be undone.", "Delete"):
            return None
        backend, coll = self.ctx.backend, self.collection

        def work() -> int:
            backend.delete(coll, ids=pks)
            return len(pks)

        self.last_task = self.ctx.call(f"Delete {plural(len(pks), 'row')} from {coll}", work,
                                       lambda n: self.ctx.message.emit(f"Deleted {plural(n, 'row')} from {coll}"),
                                       refresh=True, changed=coll, owner=self)
        return self.last_task

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        menu = QMenu(self)
        menu.addAction("Find similar", self.find_similar_selected)
        data = self.model.row_data(index.row()) or {}
        if data.get("path"):
            menu.addAction("Open file", lambda: self.open_file(index.row()))
        col = self.model.columns[index.column()]
        if col.editable:
            menu.addAction(f"Edit {col.name}", lambda: self.table.edit(index))
        menu.addSeparator()
        menu.addAction("Delete selected rows…", self.delete_selected)
        menu.popup(self.table.viewport().mapToGlobal(pos))
