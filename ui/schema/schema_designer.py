"""Schema designer: a visual form for a new collection (`engine.schema.CollectionSchema`).

Fields get type-specific editors (dim, max_length, element type and capacity,
nullable and default); Array-of-Structs fields have their own sub-fields. The
primary key, auto_id, the dynamic field and extra partitions are options.
The engine's own `validate()` runs as you edit, field by field, and each error
is shown at its field. A code preview shows the same schema as pymilvus code.
Templates: Images, PDF documents, Product with multiple images, Blank.

The collection is created through the open backend (`Backend.create_collection`
with the neutral schema and AUTOINDEX specs). Field kinds the backend cannot hold
(Array of Structs, FLOAT16/BFLOAT16/BINARY vectors on Milvus Lite, ...) are
disabled in the type list with the reason, and so are the templates that need them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.context import AppContext
from ui.schema.schema_drafts import (
    SCALARS,
    STRUCT,
    SUB_TYPES,
    TEMPLATES,
    TOP_TYPES,
    FieldDraft,
    build_schema,
    pymilvus_code,
    schema_errors,
    template_fields,
    vector_paths,
)
from ui.shared.capabilities import gate_combo
from ui.shared.errors import plain_message
from ui.shared.text import plural
from ui.shared.workers import Task

__all__ = ["TEMPLATES", "FieldDraft", "SchemaDesigner", "build_schema", "pymilvus_code", "schema_errors",
           "template_fields", "vector_paths"]
UID_ROLE = Qt.ItemDataRole.UserRole + 1
# The backend feature (workbench.backends.FEATURES) each field kind needs.
TYPE_FEATURES = {STRUCT: "struct_arrays", "FLOAT16_VECTOR": "float16_vectors",
                 "BFLOAT16_VECTOR": "bfloat16_vectors", "BINARY_VECTOR": "binary_vectors"}
TEMPLATE_FEATURES = {"PDF documents": "struct_arrays", "Product with multiple images": "struct_arrays"}


def neutral_schema(fields: list[FieldDraft], dynamic: bool, description: str) -> dict[str, Any]:
    """The drafts as the neutral schema dict that `Backend.create_collection` takes."""
    from workbench.backends import normalize_schema

    return normalize_schema(build_schema(fields, dynamic, description).to_dict())


class SchemaDesigner(QWidget):
    """The form, its live validation, the code preview, and Create."""

    created = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.fields: list[FieldDraft] = []
        self.errors: dict[str, str] = {}
        self.general: list[str] = []
        self._loading = False
        self.last_task: Task | None = None

        self.template_combo = QComboBox(self)
        self.template_combo.addItems(TEMPLATES)
        self.template_combo.setCurrentText("Images")
        self.template_combo.activated.connect(lambda _i: self.load_template(self.template_combo.currentText()))
        self.dim_spin = QSpinBox(self)
        self.dim_spin.setRange(2, 32768)
        self.dim_spin.setValue(512)
        self.dim_spin.setToolTip("Vector size of the model you will use (ViT-B-32: 512, the demo model: 64)")
        self.name_edit = QLineEdit("my_images", self)
        self.name_edit.setObjectName("collectionName")
        self.desc_edit = QLineEdit("", self)
        self.dynamic_check = QCheckBox("Dynamic field (store keys not in the schema)", self)
        self.partitions_edit = QLineEdit("", self)
        self.partitions_edit.setPlaceholderText("extra partitions, comma separated (optional)")
        self.index_check = QCheckBox("Create AUTOINDEX indexes on the vector fields", self)
        self.index_check.setChecked(True)

        self.tree = QTreeWidget(self)
        self.tree.setObjectName("schemaFields")
        self.tree.setHeaderLabels(["Field", "Type", "Problem"])
        self.tree.setColumnWidth(0, 160)
        self.tree.setColumnWidth(1, 170)
        self.tree.currentItemChanged.connect(self._select)
        add = QPushButton("Add field", self)
        add.clicked.connect(self.add_field)
        self.add_sub_button = QPushButton("Add sub-field", self)
        self.add_sub_button.clicked.connect(self.add_subfield)
        remove = QPushButton("Remove", self)
        remove.clicked.connect(self.remove_field)
        up = QPushButton("↑", self)
        up.clicked.connect(lambda: self.move_field(-1))
        down = QPushButton("↓", self)
        down.clicked.connect(lambda: self.move_field(1))

        # field editor
        self.editor = QGroupBox("Field", self)
        self.f_name = QLineEdit(self)
        self.f_name.setObjectName("fieldName")
        self.f_type = QComboBox(self)
        self.f_dim = QSpinBox(self)
        self.f_dim.setRange(1, 262144)
        self.f_maxlen = QSpinBox(self)
        self.f_maxlen.setRange(1, 100000)
        self.f_elem = QComboBox(self)
        self.f_elem.addItems(SCALARS)
        self.f_cap = QSpinBox(self)
        self.f_cap.setRange(1, 10000)
        self.f_nullable = QCheckBox("nullable", self)
        self.f_default = QLineEdit(self)
        self.f_default.setPlaceholderText("(none)")
        self.f_primary = QCheckBox("primary key", self)
        self.f_auto = QCheckBox("auto_id (the database numbers rows)", self)
        self.f_desc = QLineEdit(self)
        self.f_error = QLabel("", self)
        self.f_error.setObjectName("error")
        self.f_error.setWordWrap(True)
        form = QFormLayout(self.editor)
        form.addRow("Name", self.f_name)
        form.addRow("Type", self.f_type)
        form.addRow("dim", self.f_dim)
        form.addRow("max_length", self.f_maxlen)
        form.addRow("element type", self.f_elem)
        form.addRow("max_capacity", self.f_cap)
        form.addRow("", self.f_nullable)
        form.addRow("default", self.f_default)
        form.addRow("", self.f_primary)
        form.addRow("", self.f_auto)
        form.addRow("description", self.f_desc)
        form.addRow(self.f_error)
        self._form = form
        for w in (self.f_name, self.f_default, self.f_desc):
            w.textEdited.connect(self._edited)
        for s in (self.f_dim, self.f_maxlen, self.f_cap):
            s.valueChanged.connect(self._edited)
        for c in (self.f_type, self.f_elem):
            c.currentTextChanged.connect(self._edited)
        for b in (self.f_nullable, self.f_primary, self.f_auto):
            b.toggled.connect(self._edited)

        self.code = QPlainTextEdit(self)
        self.code.setObjectName("codePreview")
        self.code.setReadOnly(True)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.code.setFont(mono)
        copy = QPushButton("Copy code", self)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.code.toPlainText()))
        self.summary = QLabel("", self)
        self.summary.setObjectName("error")
        self.summary.setWordWrap(True)
        self.capability_note = QLabel("", self)  # what the open backend cannot hold, and why
        self.capability_note.setObjectName("hint")
        self.capability_note.setWordWrap(True)
        self.capability_note.hide()
        self.create_button = QPushButton("Create collection", self)
        self.create_button.setObjectName("primary")
        self.create_button.clicked.connect(self.create)

        top = QFormLayout()
        trow = QHBoxLayout()
        trow.addWidget(self.template_combo)
        trow.addWidget(QLabel("vector dim", self))
        trow.addWidget(self.dim_spin)
        trow.addStretch(1)
        top.addRow("Template", trow)
        top.addRow("Collection name", self.name_edit)
        top.addRow("Description", self.desc_edit)
        top.addRow("Partitions", self.partitions_edit)
        opts = QHBoxLayout()
        opts.addWidget(self.dynamic_check)
        opts.addWidget(self.index_check)
        opts.addStretch(1)
        top.addRow("", opts)
        buttons = QHBoxLayout()
        for b in (add, self.add_sub_button, remove, up, down):
            buttons.addWidget(b)
        buttons.addStretch(1)
        left = QWidget(self)
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.tree, 1)
        ll.addLayout(buttons)
        right = QWidget(self)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.editor)
        rl.addStretch(1)
        mid = QSplitter(Qt.Orientation.Horizontal, self)
        mid.addWidget(left)
        mid.addWidget(right)
        mid.setSizes([520, 380])
        code_box = QWidget(self)
        cl = QVBoxLayout(code_box)
        cl.setContentsMargins(0, 0, 0, 0)
        crow = QHBoxLayout()
        crow.addWidget(QLabel("pymilvus code", self))
        crow.addStretch(1)
        crow.addWidget(copy)
        cl.addLayout(crow)
        cl.addWidget(self.code, 1)
        vsplit = QSplitter(Qt.Orientation.Vertical, self)
        vsplit.addWidget(mid)
        vsplit.addWidget(code_box)
        vsplit.setSizes([440, 260])
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.create_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addLayout(top)
        lay.addWidget(self.capability_note)
        lay.addWidget(vsplit, 1)
        lay.addLayout(bottom)

        for w in (self.name_edit, self.desc_edit, self.partitions_edit):
            w.textEdited.connect(lambda _t: self.revalidate())
        self.dynamic_check.toggled.connect(lambda _b: self.revalidate())
        self.index_check.toggled.connect(lambda _b: self.revalidate())
        self.dim_spin.valueChanged.connect(self._dim_changed)
        if ctx.model_choice().kind == "demo":
            self.dim_spin.setValue(64)
        ctx.databaseOpened.connect(lambda _where: self.apply_capabilities())
        self.apply_capabilities(load=False)
        self.load_template("Images")

    # --- what the backend can hold ---------------------------------------------------
    def why_not_type(self, dtype: str) -> str | None:
        """Why the open backend cannot hold a field of kind `dtype` (None when it can)."""
        feature = TYPE_FEATURES.get(dtype)
        if feature is None or self.ctx.backend is None:
            return None
        return self.ctx.why_not(feature)

    def apply_capabilities(self, load: bool = True) -> None:
        """Disable the field kinds and templates the open backend cannot hold, saying why."""
        reasons = {t: self.ctx.why_not(f) if self.ctx.backend is not None else None
                   for t, f in TEMPLATE_FEATURES.items()}
        gate_combo(self.template_combo, reasons)
        missing = {}
        for dtype in TYPE_FEATURES:
            reason = self.why_not_type(dtype)
            if reason:
                missing[dtype] = reason
        if missing:
            kinds = ["Array of Structs" if t == STRUCT else t for t in missing]
            listed = ", ".join(kinds[:-1]) + (" or " if len(kinds) > 1 else "") + kinds[-1]
            templates = [t for t, r in reasons.items() if r]
            self.capability_note.setText(
                f"{self.ctx.capabilities.describe()} cannot hold {listed} fields: they are disabled in the type "
                "list (hover for the reason)" + (f", and so are the templates {' and '.join(templates)}"
                                                 if templates else "") + ".")
            self.capability_note.setToolTip("\n".join(f"{k}: {r}" for k, r in zip(kinds, missing.values())))
        self.capability_note.setVisible(bool(missing))
        if not load:
            return
        if reasons.get(self.template_combo.currentText()):
            self.load_template("Images")
        else:
            self._select()
            self.revalidate()

    # --- templates and structure -----------------------------------------------------
    def load_template(self, name: str) -> None:
        self.template_combo.setCurrentText(name)
        self.fields = template_fields(name, self.dim_spin.value())
        base = {"Blank": "my_collection", "Images": "my_images", "PDF documents": "my_documents",
                "Product with multiple images": "my_products"}[name]
        existing = set(self.ctx.info.collections)
        candidate, i = base, 2
        while candidate in existing:
            candidate, i = f"{base}_{i}", i + 1
        self.name_edit.setText(candidate)
        self.rebuild_tree()
        self.tree.setCurrentItem(self.tree.topLevelItem(0))

    def _dim_changed(self, dim: int) -> None:
        for d in self.fields:
            if d.is_vector and d.dtype != "BINARY_VECTOR":
                d.dim = dim
            for s in d.subs:
                if s.is_vector:
                    s.dim = dim
        self.rebuild_tree()

    def rebuild_tree(self, select: FieldDraft | None = None) -> None:
        current = select or self._current()[0]
        self.tree.blockSignals(True)
        self.tree.clear()
        for d in self.fields:
            item = QTreeWidgetItem([d.name, d.type_text() + ("  · primary key" if d.is_primary else ""), ""])
            item.setData(0, Qt.ItemDataRole.UserRole, d.name)
            item.setData(0, UID_ROLE, id(d))
            for s in d.subs:
                child = QTreeWidgetItem([s.name, s.type_text(), ""])
                child.setData(0, Qt.ItemDataRole.UserRole, f"{d.name}[{s.name}]")
                child.setData(0, UID_ROLE, id(s))
                item.addChild(child)
            self.tree.addTopLevelItem(item)
            item.setExpanded(True)
        self.tree.blockSignals(False)
        if current is not None:
            found = next((it for it in self._items() if it.data(0, UID_ROLE) == id(current)), None)
            if found is not None:
                self.tree.setCurrentItem(found)
        self.revalidate()

    def _items(self) -> list[QTreeWidgetItem]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            it = self.tree.topLevelItem(i)
            out.append(it)
            out.extend(it.child(j) for j in range(it.childCount()))
        return out

    def item_for(self, path: str) -> QTreeWidgetItem | None:
        return next((it for it in self._items() if it.data(0, Qt.ItemDataRole.UserRole) == path), None)

    def select_path(self, path: str) -> None:
        item = self.item_for(path)
        if item is not None:
            self.tree.setCurrentItem(item)

    def current_path(self) -> str:
        it = self.tree.currentItem()
        return str(it.data(0, Qt.ItemDataRole.UserRole)) if it is not None else ""

    def _current(self) -> tuple[FieldDraft | None, FieldDraft | None]:
        """The draft of the selected tree item (by identity: names may be duplicated while editing)."""
        it = self.tree.currentItem()
        uid = it.data(0, UID_ROLE) if it is not None else None
        for d in self.fields:
            if id(d) == uid:
                return d, None
            for s in d.subs:
                if id(s) == uid:
                    return s, d
        return None, None

    def draft_for(self, path: str) -> tuple[FieldDraft | None, FieldDraft | None]:
        """(draft, its struct parent or None)."""
        m = re.fullmatch(r"(.+)\[(.+)\]", path)
        if m:
            parent = next((d for d in self.fields if d.name == m.group(1)), None)
            sub = next((s for s in parent.subs if s.name == m.group(2)), None) if parent else None
            return sub, parent
        return next((d for d in self.fields if d.name == path), None), None

    def add_field(self) -> FieldDraft:
        names = {d.name for d in self.fields}
        n, i = "field", 1
        while f"{n}_{i}" in names:
            i += 1
        d = FieldDraft(f"{n}_{i}", "VARCHAR", dim=self.dim_spin.value(), nullable=True)
        self.fields.append(d)
        self.rebuild_tree(select=d)
        return d

    def add_subfield(self) -> FieldDraft | None:
        d, parent = self._current()
        target = parent or d
        if target is None or not target.is_struct:
            return None
        names = {s.name for s in target.subs}
        i = 1
        while f"sub_{i}" in names:
            i += 1
        s = FieldDraft(f"sub_{i}", "INT32", dim=self.dim_spin.value())
        target.subs.append(s)
        self.rebuild_tree(select=s)
        return s

    def remove_field(self) -> None:
        d, parent = self._current()
        if d is None:
            return
        if parent is not None:
            parent.subs.remove(d)
        else:
            self.fields.remove(d)
        self.rebuild_tree(select=parent)

    def move_field(self, step: int) -> None:
        d, parent = self._current()
        if d is None:
            return
        seq = parent.subs if parent is not None else self.fields
        i = seq.index(d)
        j = max(0, min(len(seq) - 1, i + step))
        seq[i], seq[j] = seq[j], seq[i]
        self.rebuild_tree(select=d)

    # --- editor ----------------------------------------------------------------------
    def _select(self, *_args: Any) -> None:
        d, parent = self._current()
        self._loading = True
        self.editor.setEnabled(d is not None)
        if d is not None:
            self.editor.setTitle(f"Sub-field of {parent.name}" if parent else "Field")
            self.f_type.clear()
            self.f_type.addItems(SUB_TYPES if parent else TOP_TYPES)
            gate_combo(self.f_type, {t: self.why_not_type(t) for t in TOP_TYPES})
            self.f_name.setText(d.name)
            self.f_type.setCurrentText(d.dtype)
            self.f_dim.setValue(d.dim)
            self.f_maxlen.setValue(d.max_length)
            self.f_elem.setCurrentText(d.element_type)
            self.f_cap.setValue(d.max_capacity)
            self.f_nullable.setChecked(d.nullable)
            self.f_default.setText(d.default)
            self.f_primary.setChecked(d.is_primary)
            self.f_auto.setChecked(d.auto_id)
            self.f_desc.setText(d.description)
            self._show_editors(d, parent)
        self.add_sub_button.setEnabled(d is not None and (d.is_struct or parent is not None))
        self._loading = False
        self._show_field_error()

    def _show_editors(self, d: FieldDraft, parent: FieldDraft | None) -> None:
        vis = {
            self.f_dim: d.is_vector,
            self.f_maxlen: d.dtype == "VARCHAR" or (d.dtype == "ARRAY" and d.element_type == "VARCHAR"),
            self.f_elem: d.dtype == "ARRAY",
            self.f_cap: d.dtype == "ARRAY" or d.is_struct,
            self.f_nullable: parent is None and not d.is_vector and not d.is_struct,
            self.f_default: parent is None and not d.is_vector and d.dtype not in ("ARRAY",) and not d.is_struct,
            self.f_primary: parent is None and d.dtype in ("INT64", "VARCHAR"),
            self.f_auto: parent is None and d.is_primary and d.dtype == "INT64",
            self.f_desc: True,
        }
        for w, on in vis.items():
            self._form.setRowVisible(w, on)

    def _edited(self, *_args: Any) -> None:
        if self._loading:
            return
        d, parent = self._current()
        if d is None:
            return
        old_name, old_type = d.name, d.dtype
        d.name = self.f_name.text().strip()
        d.dtype = self.f_type.currentText() or d.dtype
        d.dim = self.f_dim.value()
        d.max_length = self.f_maxlen.value()
        d.element_type = self.f_elem.currentText()
        d.max_capacity = self.f_cap.value()
        d.nullable = self.f_nullable.isChecked()
        d.default = self.f_default.text()
        if self.f_primary.isChecked() and not d.is_primary:
            for other in self.fields:
                other.is_primary = False
                other.auto_id = False
        d.is_primary = self.f_primary.isChecked() and parent is None
        d.auto_id = self.f_auto.isChecked() and d.is_primary and d.dtype == "INT64"
        d.description = self.f_desc.text()
        if d.dtype != old_type:
            self._type_switched(d)
        if d.is_struct and not d.subs:
            d.subs = [FieldDraft("embedding", "FLOAT_VECTOR", dim=self.dim_spin.value(), metric="MAX_SIM_COSINE")]
        item = self.tree.currentItem()
        if item is not None:
            new_path = d.name if parent is None else f"{parent.name}[{d.name}]"
            item.setText(0, d.name)
            item.setText(1, d.type_text() + ("  · primary key" if d.is_primary else ""))
            item.setData(0, Qt.ItemDataRole.UserRole, new_path)
            if parent is None and old_name != d.name:
                for j in range(item.childCount()):
                    ch = item.child(j)
                    ch.setData(0, Qt.ItemDataRole.UserRole, f"{d.name}[{ch.text(0)}]")
            if item.childCount() != len(d.subs):  # sub-fields came (a struct) or went (no longer one)
                self.rebuild_tree(select=d)
                return
        self._loading = True
        self._show_editors(d, parent)
        self._loading = False
        for it, dd in zip([self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())],
                          self.fields):  # the primary flag may have moved
            it.setText(1, dd.type_text() + ("  · primary key" if dd.is_primary else ""))
        self.revalidate()

    def _type_switched(self, d: FieldDraft) -> None:
        """A new type: drop what it cannot have (the controls for it are hidden, so nothing else could)."""
        if not d.is_struct:
            d.subs = []
        if d.is_struct or d.is_vector:
            d.nullable = False
            d.default = ""
        if d.dtype == "ARRAY":
            d.default = ""
        self._loading = True
        self.f_nullable.setChecked(d.nullable)
        self.f_default.setText(d.default)
        self._loading = False

    # --- validation and code ---------------------------------------------------------
    def partitions(self) -> list[str]:
        return [p.strip() for p in self.partitions_edit.text().split(",") if p.strip()]

    def revalidate(self) -> None:
        self.errors, self.general = schema_errors(self.name_edit.text().strip(), self.fields,
                                                  self.dynamic_check.isChecked())
        for d in self.fields:  # what the open backend cannot hold
            for dd, path in [(d, d.name)] + [(s, f"{d.name}[{s.name}]") for s in d.subs]:
                reason = self.why_not_type(dd.dtype)
                if reason:
                    self.errors.setdefault(path, reason)
        from engine.errors import SchemaError
        from engine.schema import check_name

        for p in self.partitions():
            try:
                check_name(p, "partition name")
            except SchemaError as e:
                self.general.append(e.message)
        if self.name_edit.text().strip() in self.ctx.info.collections:
            self.general.append(f"collection {self.name_edit.text().strip()!r} exists already")
        red = QColor("#d32f2f")
        for it in self._items():
            path = str(it.data(0, Qt.ItemDataRole.UserRole))
            msg = self.errors.get(path, "")
            it.setText(2, msg)
            it.setToolTip(2, msg)
            it.setForeground(0, red if msg else self.palette().text().color())
            it.setForeground(2, red)
        problems = len(self.errors) + len(self.general)
        if problems:
            first = self.general[:1] or [f"{k}: {v}" for k, v in list(self.errors.items())[:1]]
            self.summary.setText(f"{plural(problems, 'problem')}. " + first[0])
        else:
            self.summary.setText("")
        self.create_button.setEnabled(problems == 0)
        self.code.setPlainText(pymilvus_code(self.name_edit.text().strip(), self.fields,
                                             self.dynamic_check.isChecked(), self.desc_edit.text(),
                                             self.partitions(), self.index_check.isChecked()))
        self._show_field_error()

    def _show_field_error(self) -> None:
        msg = self.errors.get(self.current_path(), "")
        self.f_error.setText(f"⚠ {msg}" if msg else "")
        self.f_error.setVisible(bool(msg))

    # --- create ----------------------------------------------------------------------
    def create(self) -> Task | None:
        self.revalidate()
        if not self.create_button.isEnabled() or self.ctx.backend is None:
            return None
        name = self.name_edit.text().strip()
        fields = [replace(d, subs=[replace(s) for s in d.subs]) for d in self.fields]
        schema = neutral_schema(fields, self.dynamic_check.isChecked(), self.desc_edit.text())
        parts = self.partitions()
        indexes = [{"field_name": path, "index_type": "AUTOINDEX", "metric_type": metric}
                   for path, metric in vector_paths(fields)] if self.index_check.isChecked() else []
        backend = self.ctx.backend

        def work() -> str:
            backend.create_collection(name, schema, indexes)
            for p in parts:
                backend.create_partition(name, p)
            return name

        def done(n: str) -> None:
            self.ctx.message.emit(f"Created collection {n}")
            self.created.emit(n)

        self.last_task = self.ctx.call(f"Create collection {name}", work, done, refresh=True,
                                       on_error=lambda e: self.summary.setText(plain_message(e)), owner=self)
        return self.last_task
