"""Import files: the dialog shown after a drop or File › Import, and the ingest task it starts.

The task wraps `workbench.ingest.ingest_job` (a cancellable Job of progress
events) on the open backend, and loads the model first, on the worker thread:
the collection's own model for an existing collection, the model chosen in
Settings for a new one. PDF and multi-view ingestion store Arrays of Structs:
on a backend without them, those choices are disabled with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ui.app_settings import ModelChoice
from ui.context import AppContext
from ui.models.embedder_provider import DEMO_MODEL_WARNING
from ui.shared.capabilities import gate_combo
from ui.shared.errors import plain_message
from ui.shared.text import plural
from ui.shared.workers import JobTask, Task

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # use fullmatch: `$` lets "x\n" through


@dataclass
class IngestRequest:
    paths: list[str]
    collection: str
    new: bool
    kind: str = "auto"  # auto, images, pdfs, products
    multiview: bool = False


def suggest_name(paths: list[str], existing: list[str]) -> str:
    """A valid, unused collection name from the first dropped folder (or file's folder)."""
    p = Path(paths[0]) if paths else Path("images")
    base = p.name if p.is_dir() else (p.parent.name or "images")
    name = re.sub(r"[^A-Za-z0-9_]+", "_", base).strip("_").lower() or "images"
    if not re.match(r"[A-Za-z_]", name):
        name = f"c_{name}"
    out, i = name, 2
    while out in existing:
        out, i = f"{name}_{i}", i + 1
    return out


def collection_holding(backend: Any, folder: str, candidates: list[str]) -> tuple[str, int, list[str]]:
    """(collection, files, problems) of the first collection whose rows come from `folder` (runs on a
    worker); ("", 0, problems) when none does. `problems` names the collections that could not be asked.

    Imports store each file's absolute path in a `path` field; importing the same folder into that
    collection again resumes (unchanged files are skipped)."""
    from workbench.templates import existing_fields

    prefix = str(Path(folder).expanduser().absolute()).rstrip("/") + "/"
    literal = json.dumps(prefix + "%")
    problems: list[str] = []
    for name in candidates:
        try:
            if "path" not in existing_fields(backend.describe_collection(name)):
                continue
            n = int(backend.count(name, filter=f"path like {literal}"))
        except Exception as e:  # said in the dialog; the other collections are still asked
            problems.append(f"{name}: {plain_message(e)}")
            continue
        if n:
            return name, n, problems
    return "", 0, problems


def ingest_task(ctx: AppContext, req: IngestRequest, choice: ModelChoice | None = None) -> JobTask:
    """A JobTask that loads the right model and runs the ingest job (not started)."""
    from workbench.ingest import IngestOptions, ingest_job
    from workbench.jobs import Job, Progress

    db, provider = ctx.backend, ctx.provider
    info = ctx.collection(req.collection)
    use_collection_model = (not req.new) and info is not None and bool(info.meta.get("embedder"))
    model_choice = choice or ctx.model_choice()

    def body(job: Job) -> Iterator[Progress]:
        yield Progress("loading model", message="loading the CLIP model (the first time takes a few seconds)")
        if use_collection_model:
            embedder = provider.for_collection(db, req.collection)
        else:
            embedder = provider.for_choice(model_choice)
        inner = ingest_job(req.paths, db, req.collection, embedder=embedder,
                           options=IngestOptions(kind=req.kind, multiview=req.multiview))
        job.report = None
        try:
            for event in inner:
                if job.cancelled:
                    inner.cancel()
                yield event
        finally:
            job.report = inner.report

    n = len(req.paths)
    what = Path(req.paths[0]).name if n == 1 else f"{n} items"
    return JobTask(Job(body, title=f"Import {what} into {req.collection}"))


class IngestDialog(QDialog):
    """Where dropped files go: an existing collection or a new one, and how."""

    requested = Signal(object)  # IngestRequest

    def __init__(self, ctx: AppContext, paths: list[str], collection: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.paths = list(paths)
        self.setWindowTitle("Import files")
        self.setObjectName("ingestDialog")
        names = list(ctx.info.collections)
        shown = "\n".join(self.paths[:6]) + (f"\n… and {len(self.paths) - 6} more" if len(self.paths) > 6 else "")
        what = QLabel(f"<b>{plural(len(self.paths), 'item')} to import</b>", self)
        files = QLabel(shown, self)
        files.setObjectName("hint")
        files.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.existing_radio = QRadioButton("Into the collection", self)
        self.existing_combo = QComboBox(self)
        self.existing_combo.addItems(names)
        self.new_radio = QRadioButton("Into a new collection named", self)
        self.new_name = QLineEdit(suggest_name(self.paths, names), self)
        self.new_name.setObjectName("newCollectionName")
        group = QButtonGroup(self)
        group.addButton(self.existing_radio)
        group.addButton(self.new_radio)
        if collection and collection in names:
            self.existing_combo.setCurrentText(collection)
            self.existing_radio.setChecked(True)
        else:
            self.new_radio.setChecked(True)
        self.existing_radio.setEnabled(bool(names))
        self.existing_combo.setEnabled(bool(names))

        self.kind_combo = QComboBox(self)
        self.kind_combo.addItem("Detect (images or PDFs)", "auto")
        self.kind_combo.addItem("Images", "images")
        self.kind_combo.addItem("PDF documents", "pdfs")
        self.kind_combo.addItem("Products (a folder per product, or a CSV/JSONL manifest)", "products")
        self.multiview = QCheckBox("Also embed a grid of crops of each image (multi-view: finds small things; "
                                   "10× slower)", self)
        # PDFs (a `pages` Array of Structs) and multi-view images (`views`) need Arrays of Structs
        self.struct_reason = ctx.why_not("struct_arrays") if ctx.backend is not None else None
        gate_combo(self.kind_combo, {"pdfs": self.struct_reason, "products": self.struct_reason}, by_data=True)
        self.capability_note = QLabel(
            f"PDF documents and multi-view images are not available: {self.struct_reason}. Images are."
            if self.struct_reason else "", self)
        self.capability_note.setObjectName("hint")
        self.capability_note.setWordWrap(True)
        self.capability_note.setVisible(bool(self.struct_reason))
        self.model_label = QLabel("", self)
        self.model_label.setWordWrap(True)
        self.model_button = QPushButton("Change…", self)
        self.model_button.clicked.connect(self._change_model)
        self.warning = QLabel(DEMO_MODEL_WARNING, self)
        self.warning.setObjectName("warning")
        self.warning.setWordWrap(True)
        self.error = QLabel("", self)
        self.error.setObjectName("error")

        form = QFormLayout()
        form.addRow(self.existing_radio, self.existing_combo)
        form.addRow(self.new_radio, self.new_name)
        form.addRow("Kind", self.kind_combo)
        form.addRow("", self.multiview)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(self.model_button)
        form.addRow("Model", model_row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setObjectName("primary")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(what)
        lay.addWidget(files)
        lay.addLayout(form)
        lay.addWidget(self.capability_note)
        lay.addWidget(self.warning)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        for sig in (self.existing_radio.toggled, self.new_name.textChanged, self.existing_combo.currentTextChanged):
            sig.connect(self._update)
        self.holder_note = QLabel("", self)  # which collection already holds the folder
        self.holder_note.setObjectName("hint")
        self.holder_note.setWordWrap(True)
        lay.insertWidget(lay.indexOf(self.capability_note), self.holder_note)
        self._chosen_by_user = False
        group.buttonClicked.connect(lambda _b: setattr(self, "_chosen_by_user", True))
        self.lookup: Task | None = None
        self._update()
        if not collection and names and len(self.paths) == 1 and Path(self.paths[0]).is_dir():
            self._find_holder(self.paths[0], names)
        self.resize(560, self.sizeHint().height())

    def _find_holder(self, folder: str, names: list[str]) -> None:
        """Look (on a worker) for the collection that already holds `folder`; make it the default."""
        backend = self.ctx.backend
        self.holder_note.setText(f"Looking for a collection that already holds {Path(folder).name}…")
        task = Task("Find the folder's collection", lambda: collection_holding(backend, folder, names),
                    generator=False, show_in_jobs=False, parent=self)
        task.succeeded.connect(self._holder_found)
        task.failed.connect(lambda e: self.holder_note.setText(f"Could not check the existing collections: "
                                                               f"{plain_message(e)}"))
        self.lookup = task
        task.start()

    def _holder_found(self, found: tuple[str, int, list[str]]) -> None:
        name, n, problems = found
        unasked = f" Could not check {'; '.join(problems)}." if problems else ""
        if not name:
            self.holder_note.setText("No collection holds files of this folder yet." + unasked)
            return
        self.holder_note.setText(f"{name!r} already holds {plural(n, 'file')} of this folder: importing into it "
                                 "again resumes (unchanged files are skipped, new and changed ones are added)."
                                 + unasked)
        if not self._chosen_by_user:
            self.existing_combo.setCurrentText(name)
            self.existing_radio.setChecked(True)

    def _target(self) -> tuple[str, bool]:
        if self.existing_radio.isChecked():
            return self.existing_combo.currentText(), False
        return self.new_name.text().strip(), True

    def _update(self) -> None:
        name, new = self._target()
        err = ""
        if new:
            if not _NAME_RE.fullmatch(name):
                err = "A collection name uses letters, digits and underscores, and starts with a letter or _."
            elif name in self.ctx.info.collections:
                err = f"{name!r} exists already; choose it above or type another name."
        elif not name:
            err = "Choose a collection."
        self.error.setText(err)
        self.error.setVisible(bool(err))
        self.import_button.setEnabled(not err)
        info = self.ctx.collection(name) if not new else None
        if info is not None and info.meta.get("embedder"):
            self.model_label.setText(f"{info.model} (the collection's own model)")
            self.model_button.setEnabled(False)
            demo = info.is_demo
        else:
            choice = self.ctx.model_choice()
            self.model_label.setText(choice.describe())
            self.model_button.setEnabled(True)
            demo = choice.kind == "demo"
        self.multiview.setEnabled(new and not self.struct_reason)
        self.multiview.setToolTip(self.struct_reason or ("Only for a new collection" if not new else ""))
        if self.struct_reason:
            self.multiview.setChecked(False)
        self.warning.setVisible(demo)

    def _change_model(self) -> None:
        from ui.models.model_settings import ModelSettingsDialog

        dlg = ModelSettingsDialog(self.ctx, self)
        dlg.finished.connect(lambda _r: self._update())
        dlg.open()

    def request(self) -> IngestRequest:
        name, new = self._target()
        return IngestRequest(self.paths, name, new, str(self.kind_combo.currentData()),
                             self.multiview.isChecked() and new and not self.struct_reason)

    def accept(self) -> None:
        self._update()
        if not self.import_button.isEnabled():
            return
        self.requested.emit(self.request())
        super().accept()
