"""Moving data between backends and files: copy a collection, export it, import files.

Each dialog runs one `workbench.transfer` job on a worker (a `Task` that drains the job after Cancel,
so a copy or an import drops its temporary collection, leaving the target as it was, and an export removes
its partial files), with a progress bar
(rows done / total, rate, phase), a Cancel button, and the job's report at the end.

    CopyCollectionDialog(backend, "photos", ConnectionStore(), parent).open()
    ExportDialog(backend, "photos", parent).open()
    ImportDialog(backend, parent).open()

Every dialog emits `transferred(report)` when a job ends (done or cancelled) and `taskStarted(task)`
when one starts (for the jobs panel).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ui.connections.connections_dialog import KIND_LABELS
from ui.shared import dialogs
from ui.shared.workers import run_in_background
from ui.transfer.transfer_run import (
    NAME_RE,
    Job,
    TransferDialogBase,
    TransferRun,
    browse_row,
    esc,
    progress_text,
)
from workbench.backends import Backend, BackendSpec, open_backend, scrub
from workbench.connections import ConnectionStore
from workbench.transfer import (
    CancelToken,
    TransferError,
    TransferProgress,
    TransferReport,
    copy_collection,
    export_collection,
    import_collection,
)

__all__ = ["CopyCollectionDialog", "ExportDialog", "ImportDialog", "TransferRun", "progress_text"]


def _same_place(source: Any, kind: str, path: str) -> bool:
    """Whether `kind`/`path` is where `source` already is (opening it twice would lock or clash)."""
    if not path:
        return False
    try:
        p = Path(path).expanduser().resolve()
        if kind == "embedded" and getattr(source, "path", None) is not None:
            return Path(source.path).expanduser().resolve() == p
        spec = getattr(source, "spec", None)
        if kind == "milvus-lite" and spec is not None and spec.kind == "milvus-lite":
            return Path(spec.uri).expanduser().resolve() == p
    except (OSError, TypeError, ValueError):
        return False
    return False


class CopyCollectionDialog(TransferDialogBase):
    """Copy one collection to a saved connection, an embedded folder or a Milvus Lite file."""

    start_text = "Copy"

    def __init__(self, source: Backend, collection: str, store: ConnectionStore,
                 parent: QWidget | None = None) -> None:
        super().__init__("Copy collection", parent)
        self.setObjectName("copyCollectionDialog")
        self.source, self.collection, self.store = source, collection, store
        self.heading.setText(f"Copy <b>{esc(collection)}</b> from {esc(scrub(source.label))}")
        self.target_combo = QComboBox(self)
        try:
            conns = store.list()
        except Exception:
            conns = []
        for c in conns:
            self.target_combo.addItem(f"{c.name} ({KIND_LABELS.get(c.kind, c.kind)})", ("connection", c.name))
        self.target_combo.addItem("An embedded database folder", ("embedded", ""))
        self.target_combo.addItem("A Milvus Lite file", ("milvus-lite", ""))
        self.target_path = QLineEdit(self)
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.clicked.connect(self._browse)
        self.name_edit = QLineEdit(collection, self)
        self.if_exists = QComboBox(self)
        for text, value in (("Stop with an error", "fail"), ("Replace it", "replace"),
                            ("Append (upsert) to it", "append")):
            self.if_exists.addItem(text, value)
        self.verify = QComboBox(self)
        for text, value in (("Row counts and 256 sampled rows", "sample"),
                            ("Row counts and a checksum of every row", "full"), ("Row counts only", "none")):
            self.verify.addItem(text, value)
        self.batch = QSpinBox(self)
        self.batch.setRange(1, 100_000)
        self.batch.setValue(1000)
        self.batch.setSingleStep(100)
        self.batch.setSuffix(" rows")
        self.skip = QCheckBox("Skip fields the target cannot hold (they are listed in the report)", self)
        self.path_label = QLabel("Folder", self)
        self.form.addRow("Copy to", self.target_combo)
        self.form.addRow(self.path_label, browse_row(self.target_path, self.browse_button))
        self.form.addRow("Collection name", self.name_edit)
        self.form.addRow("If it exists", self.if_exists)
        self.form.addRow("Verify", self.verify)
        self.form.addRow("Batch size", self.batch)
        self.form.addRow("", self.skip)
        self.target_combo.currentIndexChanged.connect(self._target_changed)
        self._target_changed()
        self.rows_label = QLabel("", self)
        self.rows_label.setObjectName("hint")
        self.layout().insertWidget(1, self.rows_label)
        run_in_background(lambda: source.count(collection),
                          on_result=lambda n: shiboken6.isValid(self) and self.rows_label.setText(f"{n:,} rows"),
                          parent=None)
        self.resize(640, self.sizeHint().height())

    def _inputs(self) -> list[QWidget]:
        return [self.target_combo, self.target_path, self.browse_button, self.name_edit, self.if_exists,
                self.verify, self.batch, self.skip]

    def target(self) -> tuple[str, str]:
        """("connection", name), ("embedded", folder) or ("milvus-lite", file)."""
        kind, name = self.target_combo.currentData()
        return (kind, name) if kind == "connection" else (kind, self.target_path.text().strip())

    def set_target(self, kind: str, value: str) -> None:
        """Choose a target as the user would: a saved connection's name, or a folder / file path."""
        for i in range(self.target_combo.count()):
            k, name = self.target_combo.itemData(i)
            if k == kind and (kind != "connection" or name == value):
                self.target_combo.setCurrentIndex(i)
                if kind != "connection":
                    self.target_path.setText(value)
                return
        raise KeyError(f"no target {kind} {value!r}")

    def _target_changed(self, *_a: Any) -> None:
        kind, _ = self.target_combo.currentData()
        local = kind != "connection"
        self.form.setRowVisible(1, local)
        self.path_label.setText("Folder" if kind == "embedded" else "File (.db)")
        self.target_path.setPlaceholderText("/path/to/database folder" if kind == "embedded"
                                            else "/path/to/milvus.db")

    def _browse(self) -> None:
        kind, _ = self.target_combo.currentData()
        start = self.target_path.text().strip() or str(Path.home())
        if kind == "embedded":
            path = dialogs.open_folder(self, "Embedded database folder", start)
        else:
            path = dialogs.save_file(self, "Milvus Lite file", start, "Milvus Lite files (*.db);;All files (*)")
        if path:
            self.target_path.setText(path)

    def job(self) -> tuple[str, Job]:
        kind, where = self.target()
        dest = self.name_edit.text().strip()
        if not NAME_RE.fullmatch(dest):
            raise TransferError("a collection name uses letters, digits and underscores, and starts with a "
                                "letter or _")
        if kind != "connection" and not where:
            raise TransferError("choose the folder or file to copy to")
        if kind == "milvus-lite" and not where.endswith(".db"):
            raise TransferError("a Milvus Lite file's name ends in .db")
        same = _same_place(self.source, kind, where)
        if kind == "connection":
            conn = self.store.get(where)
            same = conn.kind != "milvus" and _same_place(self.source, conn.kind, conn.uri)
        if same and dest == self.collection:
            raise TransferError("the target is the source database: give the copy another collection name")
        source, store, name = self.source, self.store, self.collection
        options = {"target_name": dest, "batch_size": self.batch.value(),
                   "if_exists": self.if_exists.currentData(), "verify": self.verify.currentData(),
                   "skip_unsupported": self.skip.isChecked()}
        what = f"connection {where!r}" if kind == "connection" else where

        def job(token: CancelToken) -> Iterator[TransferProgress]:
            yield TransferProgress("opening", 0, None, 0.0, f"opening {what}")
            if same:
                target, own = source, False
            elif kind == "connection":
                target, own = store.open(where), True
            else:
                target, own = open_backend(BackendSpec(kind=kind, uri=where)), True
            try:
                if token.cancelled:
                    yield TransferProgress("cancelled", 0, None, 0.0, "cancelled",
                                           TransferReport("copy", name, cancelled=True))
                    return
                yield from copy_collection(source, target, name, cancel=token, **options)
            finally:
                if own:
                    target.close()

        return f"Copy {name} to {what}", job


class ExportDialog(TransferDialogBase):
    """Export a collection to Parquet (one file, one per segment, or split) or JSONL."""

    start_text = "Export"

    def __init__(self, backend: Backend, collection: str, parent: QWidget | None = None) -> None:
        super().__init__("Export collection", parent)
        self.setObjectName("exportDialog")
        self.backend, self.collection = backend, collection
        self.heading.setText(f"Export <b>{esc(collection)}</b> from {esc(scrub(backend.label))}")
        self.format_combo = QComboBox(self)
        self.format_combo.addItem("Parquet (pandas, DuckDB, Polars read it)", "parquet")
        self.format_combo.addItem("JSONL (one JSON object per line, schema alongside)", "jsonl")
        self.single = QRadioButton("One file", self)
        self.segments = QRadioButton("One file per segment", self)
        self.split = QRadioButton("Files of at most", self)
        self.rows_per_file = QSpinBox(self)
        self.rows_per_file.setRange(1, 100_000_000)
        self.rows_per_file.setValue(100_000)
        self.rows_per_file.setSingleStep(10_000)
        self.rows_per_file.setSuffix(" rows")
        self.layout_group = QButtonGroup(self)
        for b in (self.single, self.segments, self.split):
            self.layout_group.addButton(b)
        self.single.setChecked(True)
        self.segments_why = QLabel("", self)
        self.segments_why.setObjectName("hint")
        self.segments_why.setWordWrap(True)
        why = backend.capabilities.why_not("segment_export")
        if why:
            self.segments.setEnabled(False)
            self.segments.setToolTip(why)
            self.segments_why.setText(why)
        self.segments_why.setVisible(bool(why))
        self.dest_edit = QLineEdit(self)
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.clicked.connect(self._browse)
        self._auto_dest = True
        self.dest_edit.textEdited.connect(lambda _t: setattr(self, "_auto_dest", False))
        layout_box = QVBoxLayout()
        layout_box.setSpacing(2)
        layout_box.addWidget(self.single)
        layout_box.addWidget(self.segments)
        layout_box.addWidget(self.segments_why)
        split_row = QHBoxLayout()
        split_row.addWidget(self.split)
        split_row.addWidget(self.rows_per_file)
        split_row.addStretch(1)
        layout_box.addLayout(split_row)
        self.form.addRow("Format", self.format_combo)
        self.form.addRow("Files", layout_box)
        self.dest_label = QLabel("File", self)
        self.form.addRow(self.dest_label, browse_row(self.dest_edit, self.browse_button))
        self.format_combo.currentIndexChanged.connect(self._options_changed)
        self.layout_group.buttonToggled.connect(self._options_changed)
        self._options_changed()
        self.resize(640, self.sizeHint().height())

    def _inputs(self) -> list[QWidget]:
        return [self.format_combo, self.single, self.split, self.rows_per_file, self.dest_edit,
                self.browse_button] + ([self.segments] if not self.segments_why.text() else [])

    def _after(self) -> None:
        self._options_changed()

    def fmt(self) -> str:
        return str(self.format_combo.currentData())

    def layout_choice(self) -> str:
        return "segments" if self.segments.isChecked() else "split" if self.split.isChecked() else "single"

    def _options_changed(self, *_a: Any) -> None:
        single = self.layout_choice() == "single"
        ext = ".parquet" if self.fmt() == "parquet" else ".jsonl"
        self.dest_label.setText("File" if single else "Folder")
        self.rows_per_file.setEnabled(self.split.isChecked())
        text = self.dest_edit.text().strip()
        if self._auto_dest or not text:
            base = Path.home() / self.collection
            self.dest_edit.setText(str(base.with_name(base.name + ext)) if single
                                   else str(base.with_name(base.name + "-export")))
            self._auto_dest = True
        elif single and Path(text).suffix.lower() in (".parquet", ".jsonl", ".ndjson"):
            self.dest_edit.setText(str(Path(text).with_suffix(ext)))

    def _browse(self) -> None:
        start = self.dest_edit.text().strip() or str(Path.home())
        if self.layout_choice() == "single":
            filters = "Parquet (*.parquet)" if self.fmt() == "parquet" else "JSON lines (*.jsonl)"
            path = dialogs.save_file(self, "Export to", start, filters)
        else:
            path = dialogs.open_folder(self, "Export into the folder", start)
        if path:
            self.dest_edit.setText(path)
            self._auto_dest = False

    def job(self) -> tuple[str, Job]:
        dest = self.dest_edit.text().strip()
        if not dest:
            raise TransferError("choose where to export to")
        backend, name = self.backend, self.collection
        options = {"fmt": self.fmt(), "layout": self.layout_choice(), "rows_per_file": self.rows_per_file.value()}

        def job(token: CancelToken) -> Iterator[TransferProgress]:
            return export_collection(backend, name, dest, cancel=token, **options)

        return f"Export {name}", job


class ImportDialog(TransferDialogBase):
    """Import a .parquet / .jsonl file, or a folder of them, into a collection."""

    start_text = "Import"

    def __init__(self, backend: Backend, parent: QWidget | None = None) -> None:
        super().__init__("Import collection", parent)
        self.setObjectName("importDialog")
        self.backend = backend
        self.heading.setText(f"Import Parquet or JSONL files into {esc(scrub(backend.label))}")
        self.src_edit = QLineEdit(self)
        self.src_edit.setPlaceholderText("a .parquet or .jsonl file, or a folder of them")
        self.file_button = QPushButton("File…", self)
        self.file_button.clicked.connect(self._browse_file)
        self.folder_button = QPushButton("Folder…", self)
        self.folder_button.clicked.connect(self._browse_folder)
        self.name_edit = QLineEdit(self)
        self._auto_name = True
        self.name_edit.textEdited.connect(lambda _t: setattr(self, "_auto_name", False))
        self.src_edit.textChanged.connect(self._suggest_name)
        self.mode = QComboBox(self)
        for text, value in (("Create a new collection", "create"), ("Replace the collection", "replace"),
                            ("Append (upsert) to the collection", "append")):
            self.mode.addItem(text, value)
        self.pk_edit = QLineEdit(self)
        self.pk_edit.setPlaceholderText("only for Parquet from other tools (default: id or pk)")
        self.skip = QCheckBox("Skip fields this database cannot hold", self)
        self.form.addRow("From", browse_row(self.src_edit, self.file_button, self.folder_button))
        self.form.addRow("Collection", self.name_edit)
        self.form.addRow("Mode", self.mode)
        self.form.addRow("Primary key", self.pk_edit)
        self.form.addRow("", self.skip)
        self.resize(640, self.sizeHint().height())

    def _inputs(self) -> list[QWidget]:
        return [self.src_edit, self.file_button, self.folder_button, self.name_edit, self.mode, self.pk_edit,
                self.skip]

    def _suggest_name(self, text: str) -> None:
        if not self._auto_name or not text.strip():
            return
        p = Path(text.strip())
        stem = p.name if p.is_dir() or not p.suffix else p.stem
        name = re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_") or "imported"
        self.name_edit.setText(name if re.match(r"[A-Za-z_]", name) else f"c_{name}")

    def _browse_file(self) -> None:
        path = dialogs.open_file(self, "Import file", self.src_edit.text().strip() or str(Path.home()),
                                 "Parquet or JSONL (*.parquet *.jsonl *.ndjson);;All files (*)")
        if path:
            self.src_edit.setText(path)

    def _browse_folder(self) -> None:
        path = dialogs.open_folder(self, "Import the files in", self.src_edit.text().strip() or str(Path.home()))
        if path:
            self.src_edit.setText(path)

    def job(self) -> tuple[str, Job]:
        src = self.src_edit.text().strip()
        name = self.name_edit.text().strip()
        if not src:
            raise TransferError("choose a file or folder to import")
        if not NAME_RE.fullmatch(name):
            raise TransferError("a collection name uses letters, digits and underscores, and starts with a "
                                "letter or _")
        backend = self.backend
        options = {"mode": self.mode.currentData(), "primary_key": self.pk_edit.text().strip() or None,
                   "skip_unsupported": self.skip.isChecked()}

        def job(token: CancelToken) -> Iterator[TransferProgress]:
            return import_collection(backend, src, name, cancel=token, **options)

        return f"Import {Path(src).name} into {name}", job
