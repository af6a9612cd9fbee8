"""Search panel: query by text or image, filter, options, and a thumbnail grid of results.

Text is embedded with the collection's CLIP text encoder; an image can be
dropped on the image well, pasted (Ctrl+V) or picked from a file. "Find
similar" searches with a stored row's own vector. The filter editor validates
as you type; limit, ef, partitions and the vector field (including MAX_SIM
struct sub-fields) are options. Double-click a result to open its file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QModelIndex, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import (
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import ui.dialogs as dialogs
from ui.capabilities import gate_combo
from ui.collections_browser import local_paths
from ui.context import AppContext
from ui.embedder_provider import DEMO_MODEL_WARNING
from ui.errors import plain_message
from ui.filter_edit import FilterBar
from ui.results_view import HIT_ROLE, ResultsModel, ResultsView
from ui.search_backend import SearchRequest, SearchResult, run_search
from ui.thumbnails import shared_cache
from ui.workers import Task

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.bmp *.gif *.tif *.tiff)"


class ImageWell(QLabel):
    """Drop, paste or pick a query image; shows it."""

    imageChosen = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageWell")
        self.setAcceptDrops(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setFixedSize(132, 96)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setWordWrap(True)
        self.image_path: str | None = None
        self.image_bytes: bytes | None = None
        self.clear()
        shared_cache().loaded.connect(self._preview_loaded)

    def clear(self) -> None:
        self.image_path = None
        self.image_bytes = None
        self.setPixmap(QPixmap())
        self.setText("Drop or paste\nan image here")

    def has_image(self) -> bool:
        return self.image_path is not None or self.image_bytes is not None

    def set_path(self, path: str) -> None:
        self.image_path, self.image_bytes = path, None
        self.setPixmap(QPixmap())
        self.setText(Path(path).name)
        self.setToolTip(path)
        self._preview_loaded(path)
        self.imageChosen.emit()

    def _preview_loaded(self, path: str) -> None:
        if path != self.image_path:
            return
        pm = shared_cache().get(path)  # decoded off the UI thread; this slot runs again when it is ready
        if pm is not None:
            self.setPixmap(pm.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation))

    def set_image(self, image: QImage) -> None:
        buf = QBuffer()
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buf, "PNG")
        self.image_bytes = bytes(QByteArray(buf.data()).data())
        self.image_path = None
        self.setPixmap(QPixmap.fromImage(image).scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                       Qt.TransformationMode.SmoothTransformation))
        self.setToolTip("pasted image")
        self.imageChosen.emit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        md = event.mimeData()
        if local_paths(event) or (md is not None and md.hasImage()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event)
        md = event.mimeData()
        if paths:
            self.set_path(paths[0])
        elif md is not None and md.hasImage():
            self.set_image(QImage(md.imageData()))
        else:
            event.ignore()
            return
        event.acceptProposedAction()


class SearchPanel(QWidget):
    """Query, filter, options and the results grid."""

    showInData = Signal(str, object)  # collection, primary key
    searchFinished = Signal(object)  # SearchResult

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.collection = ""
        self.result: SearchResult | None = None
        self.task: Task | None = None
        self.searches = 0

        self.title = QLabel("Search", self)
        self.title.setObjectName("title")
        self.text_edit = QLineEdit(self)
        self.text_edit.setObjectName("searchText")
        self.text_edit.setPlaceholderText("Describe what you are looking for, e.g. “a red circle”")
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.returnPressed.connect(self.search_text)
        self.text_button = QPushButton("Search", self)
        self.text_button.setObjectName("primary")
        self.text_button.clicked.connect(self.search_text)

        self.well = ImageWell(self)
        self.well.imageChosen.connect(self.search_image)
        self.pick_button = QPushButton("Choose image…", self)
        self.pick_button.clicked.connect(self.pick_image)
        self.paste_button = QPushButton("Paste", self)
        self.paste_button.setToolTip("Search with the image on the clipboard (Ctrl+V)")
        self.paste_button.clicked.connect(self.paste_image)

        self.filter_bar = FilterBar(self, button_text="Apply")
        self.filter_bar.applied.connect(lambda _e: self.search_again())

        self.field_combo = QComboBox(self)
        self.field_combo.setObjectName("fieldCombo")
        self.field_combo.setToolTip("The vector field to search; MAX_SIM fields match documents by their best "
                                    "page or crop")
        self.limit_spin = QSpinBox(self)
        self.limit_spin.setRange(1, 1000)
        self.limit_spin.setValue(24)
        self.ef_spin = QSpinBox(self)
        self.ef_spin.setRange(0, 4096)
        self.ef_spin.setSpecialValueText("default")
        self.ef_spin.setToolTip("HNSW search breadth: larger finds more of the true neighbours, slower. "
                                "It must be at least the limit.")
        self.parts_button = QToolButton(self)
        self.parts_button.setText("All partitions")
        self.parts_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.parts_menu = QMenu(self)
        self.parts_button.setMenu(self.parts_menu)

        self.demo_warning = QLabel(DEMO_MODEL_WARNING, self)
        self.demo_warning.setObjectName("warning")
        self.demo_warning.setWordWrap(True)
        self.demo_warning.hide()
        self.busy = QProgressBar(self)
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(6)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.status = QLabel("Choose a collection, then type a query or drop an image.", self)
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.error_label = QLabel("", self)
        self.error_label.setObjectName("error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        self.results_model = ResultsModel()
        self.results = ResultsView(self)
        self.results.setModel(self.results_model)
        self.results.doubleClicked.connect(self.open_result)
        self.results.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.results.customContextMenuRequested.connect(self._result_menu)
        self.similar_button = QPushButton("Find similar", self)
        self.similar_button.setToolTip("Search with the selected result's own vector")
        self.similar_button.clicked.connect(self.find_similar_selected)

        query = QGridLayout()
        query.addWidget(self.text_edit, 0, 0)
        query.addWidget(self.text_button, 0, 1)
        img_buttons = QVBoxLayout()
        img_buttons.addWidget(self.pick_button)
        img_buttons.addWidget(self.paste_button)
        img_buttons.addStretch(1)
        opts = QHBoxLayout()
        opts.addWidget(QLabel("Field", self))
        opts.addWidget(self.field_combo, 1)
        opts.addWidget(QLabel("Limit", self))
        opts.addWidget(self.limit_spin)
        opts.addWidget(QLabel("ef", self))
        opts.addWidget(self.ef_spin)
        opts.addWidget(self.parts_button)
        left = QVBoxLayout()
        left.addWidget(self.title)
        left.addLayout(query)
        left.addWidget(self.filter_bar)
        left.addLayout(opts)
        head = QHBoxLayout()
        head.addLayout(left, 1)
        head.addWidget(self.well)
        head.addLayout(img_buttons)
        foot = QHBoxLayout()
        foot.addWidget(self.status, 1)
        foot.addWidget(self.similar_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addLayout(head)
        lay.addWidget(self.demo_warning)
        lay.addWidget(self.busy)
        lay.addWidget(self.error_label)
        lay.addWidget(self.results, 1)
        lay.addLayout(foot)

        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste_image,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        ctx.currentCollectionChanged.connect(self.set_collection)
        ctx.infoChanged.connect(self._info_changed)
        self._last_request: SearchRequest | None = None
        if ctx.current:
            self.set_collection(ctx.current)

    # --- collection ------------------------------------------------------------------
    def _info_changed(self) -> None:
        self.set_collection(self.ctx.current, keep=True)

    def set_collection(self, name: str, keep: bool = False) -> None:
        info = self.ctx.collection(name)
        changed = name != self.collection
        self.collection = name
        self.title.setText(f"Search {name}" if name else "Search")
        current_field = self.field_combo.currentData()
        self.field_combo.clear()
        if info is None or info.schema is None:
            self.filter_bar.set_schema(None)
            self.demo_warning.hide()
            return
        from workbench.collection_ops import default_anns_field
        from workbench.templates import existing_fields

        try:
            default = default_anns_field(info.kind, existing_fields(info.description), True)
        except Exception:
            default = info.vector_paths[0] if info.vector_paths else ""
        self.field_combo.addItem(f"automatic ({default})", None)
        for path in info.vector_paths:
            ix = info.index_for(path)
            label = path + (f"  ·  {ix.index_type} {ix.metric}" if ix else "  ·  exact")
            self.field_combo.addItem(label, path)
        maxsim_reason = self.ctx.why_not("max_sim")  # multi-vector (MAX_SIM) search over struct sub-fields
        gate_combo(self.field_combo, {p: maxsim_reason for p in info.vector_paths if "[" in p}, by_data=True)
        if keep and not changed and current_field is not None:
            i = self.field_combo.findData(current_field)
            if i >= 0:
                self.field_combo.setCurrentIndex(i)
        self.filter_bar.set_schema(info.schema)
        self.parts_menu.clear()
        for p in info.partitions:
            a = self.parts_menu.addAction(p)
            a.setCheckable(True)
            a.toggled.connect(self._parts_changed)
        self._parts_changed()
        self.demo_warning.setVisible(info.is_demo)
        if changed:
            self.results_model.set_hits([])
            self.result = None
            self.status.setText(f"{info.rows_text} in {name}. Type a query or drop an image.")

    def _parts_changed(self) -> None:
        chosen = self.partitions()
        self.parts_button.setText(", ".join(chosen) if chosen else "All partitions")

    def partitions(self) -> list[str]:
        return [a.text() for a in self.parts_menu.actions() if a.isChecked()]

    # --- queries ---------------------------------------------------------------------
    def _request(self, **kw: Any) -> SearchRequest:
        return SearchRequest(self.collection, anns_field=self.field_combo.currentData(),
                             filter=self.filter_bar.text() if self.filter_bar.error is None else "",
                             limit=self.limit_spin.value(), ef=self.ef_spin.value() or None,
                             partitions=self.partitions() or None, **kw)

    def search_text(self) -> Task | None:
        text = self.text_edit.text().strip()
        if not text:
            self._error("Type something to search for.")
            return None
        return self.run(self._request(text=text))

    def search_image(self) -> Task | None:
        if not self.well.has_image():
            return None
        return self.run(self._request(image_path=self.well.image_path, image_bytes=self.well.image_bytes))

    def pick_image(self) -> None:
        path = dialogs.open_file(self, "Search by image", "", IMAGE_FILTER)
        if path:
            self.well.set_path(path)

    def paste_image(self) -> None:
        cb = QGuiApplication.clipboard()
        md = cb.mimeData()
        if md is not None and md.hasUrls():
            files = [u.toLocalFile() for u in md.urls() if u.isLocalFile()]
            if files:
                self.well.set_path(files[0])
                return
        image = cb.image()
        if image.isNull():
            self._error("The clipboard holds no image.")
            return
        self.well.set_image(image)

    def find_similar(self, collection: str, pk: Any) -> Task | None:
        """Search `collection` with the stored vector of row `pk` (from results or the data view)."""
        if collection and collection != self.collection:
            self.ctx.set_current(collection)
        return self.run(self._request(similar_to=pk))

    def find_similar_selected(self) -> Task | None:
        idx = self.results.currentIndex()
        hit = idx.data(HIT_ROLE) if idx.isValid() else None
        if hit is None:
            return None
        return self.find_similar(self.collection, hit.id)

    def search_again(self) -> Task | None:
        if self._last_request is None:
            return None
        r = self._last_request
        return self.run(self._request(text=r.text, image_path=r.image_path, image_bytes=r.image_bytes,
                                      similar_to=r.similar_to))

    def run(self, req: SearchRequest) -> Task | None:
        backend = self.ctx.backend
        if backend is None or not req.collection:
            self._error("Open a database and choose a collection first.")
            return None
        if self.task is not None and self.task.running:
            self.task.cancel()
        self._last_request = req
        self.error_label.hide()
        self.busy.show()
        info = self.ctx.collection(req.collection)
        first = req.similar_to is None
        self.status.setText(f"Searching {req.label}…" + (" (loading the model the first time)" if first else ""))
        provider = self.ctx.provider
        task = Task(f"Search {req.collection}", lambda: run_search(backend, provider, req), generator=False,
                    show_in_jobs=False, parent=self)
        task.succeeded.connect(lambda res, t=task: self._done(t, res))
        task.failed.connect(lambda e, t=task: self._failed(t, e))
        self.task = task
        self.searches += 1
        _ = info
        return task.start()

    def _done(self, task: Task, res: SearchResult) -> None:
        if task is not self.task:
            return
        self.busy.hide()
        self.result = res
        self.results_model.set_hits(res.hits)
        r = res.request
        notes = f" ({'; '.join(res.notes)})" if res.notes else ""
        self.status.setText(
            f"{len(res.hits)} results for {r.label} on {res.anns_field} ({res.metric}) in {res.search_ms:.0f} ms"
            + (f" + {res.embed_ms:.0f} ms to embed the query" if res.embed_ms > 1 else "") + notes
        )
        self.searchFinished.emit(res)

    def _failed(self, task: Task, e: BaseException) -> None:
        if task is not self.task:
            return
        self.busy.hide()
        self._error(plain_message(e))

    def _error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()
        self.status.setText("")

    # --- results ---------------------------------------------------------------------
    def open_result(self, index: QModelIndex) -> bool:
        hit = index.data(HIT_ROLE)
        path = hit.fields.get("path") if hit is not None else None
        if not path:
            return False
        url = QUrl.fromLocalFile(str(path))
        if hit.page is not None:
            url.setFragment(f"page={hit.page}")
        return bool(QDesktopServices.openUrl(url))

    def _result_menu(self, pos: QPoint) -> None:
        index = self.results.indexAt(pos)
        if not index.isValid():
            return
        hit = index.data(HIT_ROLE)
        menu = QMenu(self)
        menu.addAction("Find similar", lambda: self.find_similar(self.collection, hit.id))
        if hit.fields.get("path"):
            menu.addAction("Open file", lambda: self.open_result(index))
        menu.addAction("Show in data view", lambda: self.showInData.emit(self.collection, hit.id))
        menu.popup(self.results.viewport().mapToGlobal(pos))
