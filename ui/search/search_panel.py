"""Search panel: query by text or image, filter, options, and a thumbnail grid of results.

Text is embedded with the collection's CLIP text encoder; an image can be
dropped on the image well, pasted (Ctrl+V) or picked from a file. "Find
similar" searches with a stored row's own vector. The filter editor validates
as you type; limit, the search parameter of the field's index (`ef` for HNSW,
`nprobe` for IVF), partitions and the vector field (including MAX_SIM
struct sub-fields) are options. Double-click a result to open its file.

A Documents collection is searched by words, by meaning or both (the mode control,
`ui.search.mode_control`); its hits are shown as documents with their best paragraphs and
the query's words highlighted (`ui.search.document_results`) instead of the grid.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import (
    QGuiApplication,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import ui.shared.dialogs as dialogs
from ui.context import AppContext
from ui.models.embedder_provider import DEMO_MODEL_WARNING
from ui.search.document_results import DocumentResultsView
from ui.search.image_well import ImageWell
from ui.search.mode_control import SearchModeControl, mode_reasons
from ui.search.results_view import HIT_ROLE, ResultsModel, ResultsView
from ui.search.search_backend import NoModelRecord, SearchRequest, SearchResult, run_search
from ui.search.search_modes_box import SearchModesBox, mode_note
from ui.shared.capabilities import gate_combo
from ui.shared.errors import plain_message
from ui.shared.filter_edit import FilterBar
from ui.shared.opener import OpenError, open_file
from ui.shared.text import plural
from ui.shared.workers import Task
from workbench.search_modes import documents_refusal, products_refusal
from workbench.settings import InputError

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.bmp *.gif *.tif *.tiff)"


class SearchPanel(QWidget):
    """Query, filter, options and the results grid."""

    showInData = Signal(str, object)  # collection, primary key (None: just show the collection)
    modelSettingsRequested = Signal()
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
        self.ef_spin = QSpinBox(self)  # the value of `param_label`'s search parameter
        self.ef_spin.setRange(0, 65536)
        self.ef_spin.setSpecialValueText("default")
        self.param_label = QLabel("ef", self)
        self.search_param = "ef"  # what the chosen field's index takes ("" for an exact search)
        self._default_field = ""
        self.field_combo.currentIndexChanged.connect(lambda _i: self._update_param())
        self.parts_button = QToolButton(self)
        self.parts_button.setText("All partitions")
        self.parts_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.parts_menu = QMenu(self)
        self.parts_button.setMenu(self.parts_menu)
        self.modes_box = SearchModesBox(self)  # the "More" section: hybrid, group by, score range

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
        # the choices for a collection that does not record its model (NoModelRecord)
        self.model_choices = QWidget(self)
        self.model_choices.setObjectName("modelChoices")
        self.use_settings_button = QPushButton("Use the Settings model for this collection", self.model_choices)
        self.use_settings_button.clicked.connect(self.use_settings_model)
        self.settings_button = QPushButton("Settings › Model…", self.model_choices)
        self.settings_button.clicked.connect(self.modelSettingsRequested.emit)
        self.similar_hint_button = QPushButton("Find similar to a stored row", self.model_choices)
        self.similar_hint_button.setToolTip("Pick a row in the Data view, then Find similar (or right-click a result)")
        self.similar_hint_button.clicked.connect(lambda: self.showInData.emit(self.collection, None))
        crow = QHBoxLayout(self.model_choices)
        crow.setContentsMargins(0, 0, 0, 0)
        for b in (self.use_settings_button, self.settings_button, self.similar_hint_button):
            crow.addWidget(b)
        crow.addStretch(1)
        self.model_choices.hide()
        self._settings_model_for: set[tuple[Any, str]] = set()  # collections the user chose that model for

        self.results_model = ResultsModel()
        self.results = ResultsView(self)
        self.results.setModel(self.results_model)
        self.results.doubleClicked.connect(self.open_result)
        self.results.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.results.customContextMenuRequested.connect(self._result_menu)
        self.doc_results = DocumentResultsView(self)
        self.doc_results.setModel(self.results_model)
        self.doc_results.doubleClicked.connect(self.open_result)
        self.doc_results.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.doc_results.customContextMenuRequested.connect(self._result_menu)
        self.results_stack = QStackedWidget(self)
        self.results_stack.addWidget(self.results)
        self.results_stack.addWidget(self.doc_results)
        self.mode_control = SearchModeControl(self)
        self.mode_control.modeChanged.connect(self._mode_changed)
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
        opts.addWidget(QLabel("Mode", self))
        opts.addWidget(self.mode_control)
        opts.addWidget(QLabel("Field", self))
        opts.addWidget(self.field_combo, 1)
        opts.addWidget(QLabel("Limit", self))
        opts.addWidget(self.limit_spin)
        opts.addWidget(self.param_label)
        opts.addWidget(self.ef_spin)
        opts.addWidget(self.parts_button)
        left = QVBoxLayout()
        left.addWidget(self.title)
        left.addLayout(query)
        left.addWidget(self.filter_bar)
        left.addLayout(opts)
        left.addWidget(self.modes_box)
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
        lay.addWidget(self.model_choices)
        lay.addWidget(self.results_stack, 1)
        lay.addLayout(foot)

        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste_image,
                  context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._bound: tuple[Any, str] = (None, "")
        self._last_request: SearchRequest | None = None
        ctx.currentCollectionChanged.connect(self.set_collection)
        ctx.infoChanged.connect(self._info_changed)
        if ctx.current:
            self.set_collection(ctx.current)

    # --- collection ------------------------------------------------------------------
    def _info_changed(self) -> None:
        self.set_collection(self.ctx.current, keep=True)

    def set_collection(self, name: str, keep: bool = False) -> None:
        """The one place the panel is bound to a collection: another collection (or database) clears the
        results, the filter and the messages; a new snapshot of the same one updates what it shows."""
        info = self.ctx.collection(name)
        bound = (self.ctx.backend, name)
        changed = bound != self._bound
        self._bound = bound
        self.collection = name
        if changed:
            if self.task is not None and self.task.running:
                self.task.cancel()
            self.task = None
            self._last_request = None
            self.busy.hide()
            self.error_label.hide()
            self.model_choices.hide()
            self.results_model.set_hits([])
            self.result = None
            self.filter_bar.set_text("")
        self.title.setText(f"Search {name}" if name else "Search")
        current_field = self.field_combo.currentData()
        self.field_combo.clear()
        self.mode_control.configure(mode_reasons(info, self.ctx.why_not("max_sim")), reset=changed)
        if changed:
            self.results_stack.setCurrentWidget(self.doc_results if info is not None and info.kind == "documents"
                                                else self.results)
        if info is None or info.schema is None:
            self.filter_bar.set_schema(None)
            self.demo_warning.hide()
            if changed:
                self.status.setText("Choose a collection, then type a query or drop an image.")
            return
        from workbench.collection_ops import default_anns_field
        from workbench.templates import existing_fields

        try:
            default = default_anns_field(info.kind, existing_fields(info.description), True)
        except Exception:
            default = info.vector_paths[0] if info.vector_paths else ""
        self._default_field = default
        self.field_combo.blockSignals(True)
        self.field_combo.addItem(f"automatic ({default})", None)
        for path in info.stored_vector_paths:  # a BM25 output (text_sparse) is searched by the words mode
            ix = info.index_for(path)
            label = path + (f"  ·  {ix.index_type} {ix.metric}" if ix else "  ·  exact")
            self.field_combo.addItem(label, path)
        maxsim_reason = self.ctx.why_not("max_sim")  # multi-vector (MAX_SIM) search over struct sub-fields
        gate_combo(self.field_combo, {p: maxsim_reason for p in info.stored_vector_paths if "[" in p}, by_data=True)
        if keep and not changed and current_field is not None:
            i = self.field_combo.findData(current_field)
            if i >= 0:
                self.field_combo.setCurrentIndex(i)
        self.field_combo.blockSignals(False)
        if changed or self.modes_box.group_combo.count() == 0:
            from workbench.templates import existing_fields as _fields

            why_not = self.ctx.why_not
            if info.kind in ("documents", "products"):  # every row off, with the reason (as a search would say)
                refusal = documents_refusal(name) if info.kind == "documents" else products_refusal(name)
                why_not = lambda feature: refusal  # noqa: E731
            self.modes_box.set_collection(_fields(info.description), info.vector_paths, why_not)
        self._update_param()
        self._apply_mode()
        self.filter_bar.set_schema(info.schema)
        self.parts_menu.clear()
        for p in info.partitions:
            a = self.parts_menu.addAction(p)
            a.setCheckable(True)
            a.toggled.connect(self._parts_changed)
        self._parts_changed()
        self.demo_warning.setVisible(info.is_demo)
        if self.result is None and self.error_label.isHidden() and (self.task is None or not self.task.running):
            self.status.setText(f"{info.rows_text} in {name}. Type a query or drop an image.")

    def _update_param(self) -> None:
        """Offer the search parameter of the chosen field's index: ef (HNSW), nprobe (IVF), none (exact)."""
        info = self.ctx.collection(self.collection)
        path = self.field_combo.currentData() or self._default_field
        ix = info.index_for(path) if info is not None and path else None
        param = ix.search_param if ix is not None else ""
        self.modes_box.set_metric(ix.metric if ix is not None and ix.metric else
                                  ("MAX_SIM_COSINE" if "[" in (path or "") else "COSINE"))
        if param != self.search_param:
            self.ef_spin.setValue(0)  # an ef is no nprobe: back to the index's default
        self.search_param = param
        self.param_label.setText(param or "exact")
        self.ef_spin.setEnabled(bool(param))
        self.ef_spin.setToolTip({
            "ef": "HNSW search breadth: larger finds more of the true neighbours, slower. It must be at least "
                  "the limit.",
            "nprobe": "IVF clusters scanned per query: more finds more of the true neighbours, slower "
                      f"(the index has nlist = {ix.params.get('nlist', '?') if ix else '?'}).",
        }.get(param, "This field has no approximate index: every search is exact, with nothing to tune."))

    def _mode_changed(self, _mode: str) -> None:
        self._apply_mode()
        if self._last_request is not None and self._last_request.text is not None:
            self.search_again()

    def _apply_mode(self) -> None:
        """Words and both search the fields they need (text_sparse, chunks[emb], page images): the field
        and its index parameter are for meaning alone."""
        mode = self.mode_control.mode() if self.mode_control.applies() else None
        several = mode in ("words", "both")
        self.field_combo.setEnabled(not several)
        self.field_combo.setToolTip(f"The {mode} mode searches the fields it needs; choose a field in the "
                                    "meaning mode." if several else "")
        if several:
            self.ef_spin.setEnabled(False)
            self.ef_spin.setToolTip(f"The {mode} mode searches several fields; ef/nprobe tune one vector index "
                                    "(the meaning mode).")
        else:
            self._update_param()

    def text_mode(self) -> str | None:
        """The mode of a text query: the control's for a Documents collection, None for the others."""
        return self.mode_control.mode() if self.mode_control.applies() else None

    def _parts_changed(self) -> None:
        chosen = self.partitions()
        self.parts_button.setText(", ".join(chosen) if chosen else "All partitions")

    def partitions(self) -> list[str]:
        return [a.text() for a in self.parts_menu.actions() if a.isChecked()]

    # --- queries ---------------------------------------------------------------------
    def _request(self, **kw: Any) -> SearchRequest:
        extra = self.modes_box.extra_fields()
        return SearchRequest(self.collection, anns_field=self.field_combo.currentData(),
                             modes=self.modes_box.modes(), fields=extra if len(extra) > 1 else None,
                             filter=self.filter_bar.text() if self.filter_bar.error is None else "",
                             limit=self.limit_spin.value(),
                             ef=(self.ef_spin.value() or None) if self.search_param else None,
                             search_param=self.search_param or "ef",
                             partitions=self.partitions() or None,
                             model=self.ctx.model_choice() if (self.ctx.backend, self.collection)
                             in self._settings_model_for else None, **kw)

    def search_text(self) -> Task | None:
        text = self.text_edit.text().strip()
        if not text:
            self._error("Type something to search for.")
            return None
        if self.modes_box.combining() and self.well.has_image():  # hybrid: the text and the image, fused
            return self._run_request(text=text, image_path=self.well.image_path, image_bytes=self.well.image_bytes,
                                     mode=self.text_mode())
        return self._run_request(text=text, mode=self.text_mode())

    def search_image(self) -> Task | None:
        if not self.well.has_image():
            return None
        text = self.text_edit.text().strip() if self.modes_box.combining() else ""
        return self._run_request(text=text or None, image_path=self.well.image_path,
                                 image_bytes=self.well.image_bytes)

    def _run_request(self, **kw: Any) -> Task | None:
        """Search with the query in `kw` and the panel's options; a mode that cannot be read is an error."""
        try:
            req = self._request(**kw)
        except InputError as e:
            self._error(str(e))
            return None
        return self.run(req)

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
        return self._run_request(similar_to=pk)

    def find_similar_selected(self) -> Task | None:
        idx = self.current_view().currentIndex()
        hit = idx.data(HIT_ROLE) if idx.isValid() else None
        if hit is None:
            return None
        return self.find_similar(self.collection, hit.id)

    def use_settings_model(self) -> Task | None:
        """The user's choice for a collection without a model record: embed queries with Settings › Model."""
        self._settings_model_for.add((self.ctx.backend, self.collection))
        self.model_choices.hide()
        return self.search_again()

    def search_again(self) -> Task | None:
        if self._last_request is None:
            return None
        r = self._last_request
        return self._run_request(text=r.text, image_path=r.image_path, image_bytes=r.image_bytes,
                                 similar_to=r.similar_to, mode=self.text_mode() if r.text is not None else None)

    def run(self, req: SearchRequest) -> Task | None:
        backend = self.ctx.backend
        if backend is None or not req.collection:
            self._error("Open a database and choose a collection first.")
            return None
        if self.task is not None and self.task.running:
            self.task.cancel()
        self._last_request = req
        self.error_label.hide()
        self.model_choices.hide()
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
        documents = any(h.passages is not None for h in res.hits) or (
            res.request.text is not None and res.request.mode is not None)
        self.results_stack.setCurrentWidget(self.doc_results if documents else self.results)
        r = res.request
        notes = f" ({'; '.join(res.notes)})" if res.notes else ""
        self.status.setText(
            f"{plural(len(res.hits), 'result')} for {r.label} on {res.anns_field} ({res.metric}) in {res.search_ms:.0f} ms"
            + (f" + {res.embed_ms:.0f} ms to embed the query" if r.similar_to is None and res.embed_ms >= 1 else "")
            + notes + mode_note(res)
        )
        self.searchFinished.emit(res)

    def _failed(self, task: Task, e: BaseException) -> None:
        if task is not self.task:
            return
        self.busy.hide()
        self._error(plain_message(e))
        self.model_choices.setVisible(isinstance(e, NoModelRecord))

    def _error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.show()
        self.status.setText("")

    # --- results ---------------------------------------------------------------------
    def current_view(self) -> ResultsView | DocumentResultsView:
        """The results view shown: the document list or the grid."""
        return self.doc_results if self.results_stack.currentWidget() is self.doc_results else self.results

    def open_result(self, index: QModelIndex) -> bool:
        hit = index.data(HIT_ROLE)
        path = hit.fields.get("path") if hit is not None else None
        if not path:
            return False
        try:
            note = open_file(str(path), hit.page)
        except OpenError as e:
            self._error(f"Cannot open the file: {e}")
            return False
        self.ctx.message.emit(note)
        return True

    def _result_menu(self, pos: QPoint) -> None:
        view = self.current_view()
        index = view.indexAt(pos)
        if not index.isValid():
            return
        hit = index.data(HIT_ROLE)
        menu = QMenu(self)
        menu.addAction("Find similar", lambda: self.find_similar(self.collection, hit.id))
        if hit.fields.get("path"):
            menu.addAction("Open file", lambda: self.open_result(index))
        menu.addAction("Show in data view", lambda: self.showInData.emit(self.collection, hit.id))
        menu.popup(view.viewport().mapToGlobal(pos))
